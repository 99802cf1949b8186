package lifecycle

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// A master in the background (-W -D, or "master-worker" with "daemon"), as HAProxy 2.6's:
// the command starts the master detached (a new session, stdio on /dev/null) and exits 0
// once the master's first worker serves, 1 when the master fails before that. The pidfile
// names the master, which stays the one to signal (SIGUSR2 reloads, SIGTERM stops).
//
// The master learns that it was started this way from envMasterDaemon, the number of the
// descriptor on which it reports that a worker serves; it drops the variable at once, so
// that neither its workers nor its next images (reloads re-execute it with the same
// arguments, -D included) start another one.

// envMasterDaemon is the descriptor of the pipe to the command that started the master.
const envMasterDaemon = "LB_MASTER_DAEMON_FD"

// daemonMaster reports what a master started in the background must: nil when it was not.
type daemonMaster struct{ w *os.File }

// takeDaemonMaster reads and clears envMasterDaemon.
func takeDaemonMaster() (*daemonMaster, bool) {
	v, ok := os.LookupEnv(envMasterDaemon)
	if !ok {
		return nil, false
	}
	os.Unsetenv(envMasterDaemon)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, true
	}
	syscall.CloseOnExec(fd)
	return &daemonMaster{w: os.NewFile(uintptr(fd), "daemon-ready")}, true
}

// ready tells the starting command that the master serves, once.
func (d *daemonMaster) ready() {
	if d == nil || d.w == nil {
		return
	}
	// From now on the master writes to its log targets only, as HAProxy's in the
	// background: its standard output and error leave the caller's terminal or pipe.
	if null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
		_ = unix.Dup2(int(null.Fd()), 1)
		_ = unix.Dup2(int(null.Fd()), 2)
		null.Close()
	}
	_, _ = d.w.Write([]byte{1})
	d.w.Close()
	d.w = nil
}

// startDaemonMaster runs this command again as a master in the background and waits for
// its word: 0 once its worker serves, 1 when it exits or gives up before that.
func startDaemonMaster(argv []string) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "[ALERT] cannot start the master in the background: %v\n", err)
		return 1
	}
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(os.Stderr, "[ALERT] cannot start the master in the background: %v\n", err)
		return 1
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "[ALERT] cannot start the master in the background: %v\n", err)
		return 1
	}
	defer null.Close()
	cmd := exec.Command(exe, argv...)
	cmd.Args[0] = os.Args[0]
	// The master's startup messages go where the command's went until it is ready (a
	// failure to bind is seen by whoever ran the command); the configuration's
	// warnings, printed once already by this command, are not repeated.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, os.Stderr
	cmd.ExtraFiles = []*os.File{w}
	cmd.Env = append(withoutEnv(os.Environ(), envMasterDaemon, envMaster, envChild), envMasterDaemon+"=3")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "[ALERT] cannot start the master in the background: %v\n", err)
		return 1
	}
	w.Close()
	var b [1]byte
	n, _ := io.ReadFull(r, b[:])
	r.Close()
	if n == 1 {
		// The master lives on; its exit is for init to collect.
		_ = cmd.Process.Release()
		return 0
	}
	// The master exited (or closed the pipe) before its worker served.
	_ = cmd.Wait()
	return 1
}
