package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"lb/internal/listener"
)

// A generation of lb hands its listeners to the next one by starting it with the listening
// fds as ExtraFiles and a description of them in envChild. The child answers on a readiness
// pipe: "READY" once every listener accepts, or "ERROR <reason>"; a child that dies first
// closes the pipe. The same mechanism serves -D (the daemon child), the reload process
// started by ExecReload (the new daemon), and SIGUSR2 (the successor of the main process).
const envChild = "LB_CHILD"

// childSpec is the JSON in envChild.
type childSpec struct {
	// FDs describes ExtraFiles in order: fd 3 is FDs[0].
	FDs []passedFD `json:"fds"`
	// ReadyFD is the write end of the readiness pipe.
	ReadyFD int `json:"ready_fd"`
	// WatchdogUsec passes systemd's WatchdogSec= on to the successor (systemd gives
	// WATCHDOG_USEC only to ExecStart).
	WatchdogUsec int64 `json:"watchdog_usec,omitempty"`
	// Daemon tells the child it is the -D daemon (stdio detached, new session).
	Daemon bool `json:"daemon,omitempty"`
	// Worker tells the child it is a worker of a master (-W): it does not talk to
	// systemd, and it serves the commands the master CLI forwards on CtlFD.
	Worker bool `json:"worker,omitempty"`
	// CtlFD is a worker's end of its control socket to the master (see worker.go).
	CtlFD int `json:"ctl_fd,omitempty"`
	// Predecessors are the processes the child supersedes and that will drain once it
	// serves: a soft stop of the child waits for them (waitPredecessors).
	Predecessors []int `json:"predecessors,omitempty"`
	// StartupLogs is what a master printed while it started, which begins
	// its worker's "show startup-logs".
	StartupLogs string `json:"startup_logs,omitempty"`
}

// passedFD identifies one inherited listening socket.
type passedFD struct {
	// Key is the bind address it serves (see listener.Key).
	Key string `json:"key"`
	// Origin is how the first generation got it: self, activated or inherited.
	Origin string `json:"origin"`
}

// passOn returns duplicates of the listening sockets of s for a child generation's
// ExtraFiles, and their description for its childSpec.
func passOn(s *listener.Set) ([]*os.File, []passedFD) {
	files, passed := s.PassOn()
	fds := make([]passedFD, len(passed))
	for i, p := range passed {
		fds[i] = passedFD{Key: p.Key, Origin: p.Origin}
	}
	return files, fds
}

// readyTimeout bounds how long a parent waits for its child's readiness.
const readyTimeout = 60 * time.Second

// childHandle is a started, ready child generation.
type childHandle struct {
	pid  int
	conn *os.File // the parent's end of the readiness socket pair
}

// proceed tells the child it may act as the main process (after MAINPID= was sent, or at
// once when there is no service manager).
func (h *childHandle) proceed() {
	_, _ = io.WriteString(h.conn, "GO\n")
	h.conn.Close()
}

// envTrampoline marks the short-lived middle process of spawnChild's double fork.
const envTrampoline = "LB_TRAMPOLINE"

// abort closes the readiness socket without a go-ahead: the child stops.
func (h *childHandle) abort() { h.conn.Close() }

// spawnChild starts the next generation: the same executable with argv, the listening fds in
// files (described by fds), and waits until it is ready. On failure the child is gone or
// killed and the error says why.
//
// The child is started through a middle process that starts it and exits at once (a double
// fork), so that the child's parent is PID 1 (or the nearest subreaper) before anyone names
// it: systemd then supervises it as its own child after MAINPID= — an "alien" main process,
// one whose parent still lives, is killed at once on stop instead of being left to drain —
// and nothing but PID 1 reaps it.
func spawnChild(argv []string, files []*os.File, fds []passedFD, spec childSpec, stdio bool) (*childHandle, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("spawn: find executable: %w", err)
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("spawn: socketpair: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(pair[0]), "ready"), os.NewFile(uintptr(pair[1]), "ready-child")
	spec.FDs = fds
	spec.ReadyFD = 3 + len(files)
	js, err := json.Marshal(spec)
	if err != nil {
		mine.Close()
		theirs.Close()
		return nil, fmt.Errorf("spawn: %w", err)
	}
	cmd := exec.Command(exe, argv...)
	cmd.Env = append(withoutEnv(os.Environ(), envChild, envTrampoline, "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID"),
		envChild+"="+string(js), envTrampoline+"=1")
	cmd.ExtraFiles = append(append([]*os.File{}, files...), theirs)
	if stdio {
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		mine.Close()
		theirs.Close()
		return nil, fmt.Errorf("spawn: start %s: %w", exe, err)
	}
	theirs.Close()
	// The middle process only starts the child, says its pid and exits.
	if err := cmd.Wait(); err != nil {
		mine.Close()
		return nil, fmt.Errorf("spawn: starting the new process: %w", err)
	}

	type answer struct {
		line string
		err  error
	}
	lines := make(chan answer, 2)
	go func() {
		for {
			line, err := readLine(mine)
			lines <- answer{line, err}
			if err != nil || line != "" && !strings.HasPrefix(line, "PID ") {
				return
			}
		}
	}()
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	pid := 0
	for {
		select {
		case a := <-lines:
			switch {
			case strings.HasPrefix(a.line, "PID "):
				pid, _ = strconv.Atoi(strings.TrimPrefix(a.line, "PID "))
				continue
			case strings.HasPrefix(a.line, "READY "):
				// The child names itself: the middle process's "PID" line may come later.
				if n, err := strconv.Atoi(strings.TrimPrefix(a.line, "READY ")); err == nil && n > 0 {
					return &childHandle{pid: n, conn: mine}, nil
				}
				mine.Close()
				return nil, fmt.Errorf("new process %d: bad readiness line %q", pid, a.line)
			case strings.HasPrefix(a.line, "ERROR "):
				mine.Close()
				return nil, errors.New(strings.TrimPrefix(a.line, "ERROR "))
			default:
				// Closing our end tells a child still starting that it must not serve.
				mine.Close()
				return nil, fmt.Errorf("new process %d exited before it was ready", pid)
			}
		case <-timer.C:
			if pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			mine.Close()
			return nil, fmt.Errorf("new process %d was not ready after %s", pid, readyTimeout)
		}
	}
}

// runTrampoline is the middle process of spawnChild: it starts the real child with the same
// arguments, environment and fds, in a new session, tells the parent its pid on the
// readiness socket, and returns the exit code. It returns false when this process is not a
// trampoline.
func runTrampoline() (bool, int) {
	if os.Getenv(envTrampoline) == "" {
		return false, 0
	}
	os.Unsetenv(envTrampoline)
	var spec childSpec
	if err := json.Unmarshal([]byte(os.Getenv(envChild)), &spec); err != nil || spec.ReadyFD < 3 {
		fmt.Fprintf(os.Stderr, "[ALERT] lb: bad %s: %v\n", envChild, err)
		return true, 1
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "[ALERT] lb: %v\n", err)
		return true, 1
	}
	var files []*os.File
	for fd := 3; fd <= spec.ReadyFD; fd++ {
		files = append(files, os.NewFile(uintptr(fd), "inherited"))
	}
	ready := files[len(files)-1]
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = os.Environ()
	cmd.ExtraFiles = files
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// A new session: the child must survive its parent and not get the terminal's signals.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(ready, "ERROR cannot start %s: %v\n", exe, err)
		return true, 1
	}
	fmt.Fprintf(ready, "PID %d\n", cmd.Process.Pid)
	return true, 0
}

// readLine reads up to a newline, one byte at a time so nothing after it is consumed.
func readLine(f *os.File) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for b.Len() < 4096 {
		n, err := f.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return b.String(), nil
			}
			b.WriteByte(buf[0])
		}
		if err != nil {
			return b.String(), err
		}
	}
	return b.String(), errors.New("line too long")
}

// childFromEnv returns the spec handed down by the parent, or nil when this process was not
// started as a child generation. It unsets envChild so it does not leak further.
func childFromEnv() (*childSpec, error) {
	v, ok := os.LookupEnv(envChild)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(envChild)
	var s childSpec
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return nil, fmt.Errorf("%s: %w", envChild, err)
	}
	return &s, nil
}

// readyReporter is the child's side of the readiness pipe. A nil one does nothing.
type readyReporter struct{ f *os.File }

func newReadyReporter(fd int) *readyReporter {
	if fd <= 0 {
		return nil
	}
	syscall.CloseOnExec(fd)
	_ = syscall.SetNonblock(fd, true) // so that read deadlines work
	return &readyReporter{f: os.NewFile(uintptr(fd), "ready")}
}

func (r *readyReporter) ready() {
	if r == nil || r.f == nil {
		return
	}
	fmt.Fprintf(r.f, "READY %d\n", os.Getpid())
}

// awaitGo waits until the parent says this process may act as the main one ("GO"). It
// returns false when the parent closed the socket without it (it gave up on this process,
// or died) or goTimeout passed.
func (r *readyReporter) awaitGo() bool {
	if r == nil || r.f == nil {
		return true
	}
	_ = r.f.SetReadDeadline(time.Now().Add(goTimeout))
	line, _ := readLine(r.f)
	r.f.Close()
	r.f = nil
	return line == "GO"
}

// goTimeout bounds how long a ready child waits for its parent's go-ahead.
const goTimeout = 30 * time.Second

func (r *readyReporter) fail(err error) {
	if r == nil || r.f == nil {
		return
	}
	_, _ = io.WriteString(r.f, "ERROR "+strings.ReplaceAll(err.Error(), "\n", "; ")+"\n")
	r.f.Close()
	r.f = nil
}

func withoutEnv(env []string, names ...string) []string {
	out := env[:0:0]
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// writePidFile writes pid atomically (temporary file, then rename), so a reader never sees
// a partial file.
func writePidFile(path string, pid int) error {
	if path == "" {
		return nil
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d\n", pid)), 0o644); err != nil {
		return fmt.Errorf("pidfile: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pidfile: %w", err)
	}
	return nil
}

// signalPids sends sig to each pid, ignoring those already gone. It returns how many were
// signalled.
func signalPids(pids []int, sig syscall.Signal) int {
	n := 0
	for _, pid := range pids {
		if pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, sig); err == nil {
			n++
		}
	}
	return n
}

// watchExits returns, for each of pids still running, a channel closed when it exits. It
// watches a pidfd (Linux 5.3 and later; nothing where the kernel lacks pidfd_open), which
// never names another process, unlike a pid, and is closed as soon as its process exits.
func watchExits(pids []int) []<-chan struct{} {
	var chs []<-chan struct{}
	for _, pid := range pids {
		fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
		if err != nil {
			continue
		}
		// A non-blocking descriptor goes to the runtime's poller: waiting for it to be
		// readable (its process exited) takes no thread.
		f := os.NewFile(uintptr(fd), "pidfd")
		rc, err := f.SyscallConn()
		if err != nil {
			f.Close()
			continue
		}
		gone := make(chan struct{})
		go func() {
			defer close(gone)
			defer f.Close()
			_ = rc.Read(func(fd uintptr) bool {
				n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
				return n > 0 || err != nil && err != unix.EINTR
			})
		}()
		chs = append(chs, gone)
	}
	return chs
}
