package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"lb/internal/config"
	"lb/internal/listener"
	"lb/internal/srvstate"
	"lb/internal/systemd"
	"lb/internal/version"
)

// Master-worker mode (-W, -Ws, "master-worker"), as HAProxy 2.6's: a master process holds
// the listening sockets and the master CLI (-S) and starts a worker that serves. On SIGUSR2
// (or SIGHUP, or the master CLI's "reload") the master re-executes itself with the same
// arguments: the new image reads the configuration again and starts a new worker with the
// sockets; once it serves, the former workers get SIGUSR1 and finish their connections (as
// -sf). When the new configuration does not load, the new image keeps the former worker
// serving and says why ("Loading failure!"). The master's pid never changes, so under
// systemd it stays the unit's MAINPID: with -Ws it sends RELOADING=1 at each start and
// READY=1 with MAINPID= once a worker serves, as HAProxy does.
//
// What survives the re-execution travels in envMaster: the sockets (descriptors kept
// open across exec), the workers and their control sockets, the reload counters.

// envMaster carries the master's state to its next image.
const envMaster = "LB_MASTER"

// masterEnv is the JSON in envMaster.
type masterEnv struct {
	// Exe is the executable the first image was started from: a reload runs the file
	// now at that path (a binary upgrade takes effect at the next reload, as HAProxy's).
	Exe string `json:"exe"`
	// Start is when the first image started (Unix nanoseconds): show proc's uptime.
	Start   int64 `json:"start"`
	Reloads int   `json:"reloads"`
	Failed  int   `json:"failed"`
	// LastFailed says that the last reload failed (the CLI prompt says so).
	LastFailed bool `json:"last_failed,omitempty"`
	// Listeners are the listening sockets handed to each new worker.
	Listeners []keptFD `json:"listeners"`
	// CLI are the master CLI's sockets; Key is the -S argument.
	CLI     []keptFD      `json:"cli"`
	Workers []workerState `json:"workers"`
}

// keptFD is a descriptor kept open across the re-execution.
type keptFD struct {
	FD     int    `json:"fd"`
	Key    string `json:"key"`
	Origin string `json:"origin,omitempty"`
}

// workerState is a worker as the next image of the master knows it.
type workerState struct {
	PID     int    `json:"pid"`
	Ctl     int    `json:"ctl"`
	Reloads int    `json:"reloads"`
	Start   int64  `json:"start"`
	Version string `json:"version"`
	Current bool   `json:"current,omitempty"`
}

// worker is a worker process of the master.
type worker struct {
	pid     int
	reloads int
	start   time.Time
	version string
	// current: the worker of the last configuration that loaded. The others are leaving.
	current bool

	// ctlFile is the master's end of the control socket, kept for the re-execution;
	// ctl is the same socket as a connection. ctlMu serialises what is sent on it.
	ctlFile *os.File
	ctlMu   sync.Mutex
	ctl     *net.UnixConn
}

// master is the master process.
type master struct {
	args   *Args
	argv   []string
	exe    string
	log    *slog.Logger
	notify *systemd.Notifier
	start  time.Time

	// lnFiles are the listening sockets (and the memfds that travel with them) each new
	// worker gets, described by lnPassed. Only the main loop changes them.
	lnFiles  []*os.File
	lnPassed []listener.Passed

	cli []*masterCLI

	// mu guards the fields below, which the CLI's goroutines read.
	mu         sync.Mutex
	workers    []*worker
	reloads    int
	failed     int
	lastFailed bool

	// reloadC asks the main loop for a reload (the CLI's "reload").
	reloadC chan struct{}

	// daemon reports to the command that started this master in the background (-W -D)
	// that a worker serves; nil otherwise.
	daemon *daemonMaster
	// background: this master runs in the background; its workers detach their stdio.
	background bool
}

// masterMain runs the master: first (state == nil) after the configuration was read and
// found valid, or as the new image after a reload, which reads the configuration itself.
func masterMain(args *Args, argv []string, cfg *config.Config, state *masterEnv) int {
	daemon, daemonized := takeDaemonMaster()
	if state == nil && !daemonized && !args.Systemd && !args.Foreground && (args.Daemon || cfg != nil && cfg.Global.Daemon) {
		return startDaemonMaster(argv)
	}
	m := &master{args: args, argv: argv, log: newLogger(args, cfg), start: time.Now(),
		reloadC: make(chan struct{}, 1), daemon: daemon}
	slog.SetDefault(m.log)
	var err error
	if args.Systemd {
		if m.notify, err = systemd.OpenNotifier(); err != nil {
			m.log.Warn("systemd notify socket unusable", "err", err)
		}
	} else {
		m.notify, _ = systemd.NewNotifier("")
	}
	// SIGCHLD is watched before anything is started, and the loop reaps what exited
	// before it, from the previous image too.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP, syscall.SIGTERM,
		syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTTOU, syscall.SIGTTIN, syscall.SIGCHLD)
	signal.Ignore(syscall.SIGPIPE)
	// HAProxy's master says RELOADING=1 at every start of an image, the first one too.
	_ = m.notify.Send("RELOADING=1")

	if state == nil {
		return m.first(cfg, sigs)
	}
	return m.next(state, sigs)
}

// first is the start of the first image: a failure exits 1.
func (m *master) first(cfg *config.Config, sigs chan os.Signal) int {
	fail := func(err error) int {
		m.log.Error(err.Error())
		return 1
	}
	m.exe, _ = os.Executable()
	if err := m.openCLI(nil); err != nil {
		return fail(err)
	}
	cfg, err := m.prepare(cfg)
	if err != nil {
		return fail(err)
	}
	oldPids := append(append([]int{}, m.args.SoftStopPids...), m.args.HardStopPids...)
	opts := listener.Options{NoReusePort: m.args.NoReusePort, Logger: m.log,
		Activated: systemd.ListenFDs(), OldSocket: m.args.OldSocket}
	if len(oldPids) > 0 {
		opts.PauseOld = func() bool { return signalPids(oldPids, syscall.SIGTTOU) > 0 }
		opts.ResumeOld = func() { signalPids(oldPids, syscall.SIGTTIN) }
	}
	set, err := listener.Acquire(cfg, opts)
	if err != nil {
		return fail(err)
	}
	m.keepListeners(set)
	if m.args.PidFile != "" {
		if err := writePidFile(m.args.PidFile, os.Getpid()); err != nil {
			m.log.Warn("pidfile", "err", err)
		}
	}
	if err := m.startWorker(nil); err != nil {
		if set.PausedOld() {
			signalPids(oldPids, syscall.SIGTTIN)
		}
		return fail(err)
	}
	set.TellSuperseded(os.Getpid())
	signalPids(m.args.SoftStopPids, syscall.SIGUSR1)
	signalPids(m.args.HardStopPids, syscall.SIGTERM)
	m.log.Info("Loading success.")
	_ = m.notify.Send(fmt.Sprintf("READY=1\nMAINPID=%d", os.Getpid()))
	m.daemon.ready()
	return m.loop(sigs)
}

// next is the start of a new image after a reload: the configuration is read again; when
// it does not load, or its worker does not start, the workers of the previous image serve
// on and the master waits for the next reload.
func (m *master) next(st *masterEnv, sigs chan os.Signal) int {
	m.restore(st)
	failed := func(why string) int {
		if why != "" {
			m.log.Error(why)
		}
		m.log.Warn("Loading failure!")
		m.mu.Lock()
		m.failed++
		m.lastFailed = true
		m.mu.Unlock()
		_ = m.notify.Send(fmt.Sprintf("READY=1\nMAINPID=%d", os.Getpid()))
		return m.loop(sigs)
	}
	cfg, code := loadConfig(m.args, startupLogs)
	if code == 2 {
		return failed("No enabled listener found (check for 'bind' directives) ! Exiting.")
	}
	if code != 0 {
		return failed("")
	}
	cfg, err := m.prepare(cfg)
	if err != nil {
		return failed(err.Error())
	}
	files := make([]*os.File, 0, len(m.lnFiles))
	for _, f := range m.lnFiles {
		d, err := dupCloexec(f)
		if err != nil {
			closeFiles(files)
			return failed(err.Error())
		}
		files = append(files, d)
	}
	set, err := listener.Inherit(cfg, files, m.lnPassed, listener.Options{NoReusePort: m.args.NoReusePort,
		Logger: m.log, BindMissing: true})
	if err != nil {
		return failed(err.Error())
	}
	old := m.lnFiles
	m.keepListeners(set)
	closeFiles(old)
	// What operators changed in the serving worker goes on in the new one, as with -x.
	if err := m.startWorker(m.currentState()); err != nil {
		return failed(err.Error())
	}
	m.log.Info("Loading success.")
	m.mu.Lock()
	m.lastFailed = false
	var leaving []int
	for _, w := range m.workers {
		if !w.current {
			leaving = append(leaving, w.pid)
		}
	}
	m.mu.Unlock()
	// The former workers finish their connections, as with -sf.
	signalPids(leaving, syscall.SIGUSR1)
	_ = m.notify.Send(fmt.Sprintf("READY=1\nMAINPID=%d", os.Getpid()))
	return m.loop(sigs)
}

// prepare is what the master does with a configuration before binding: the stats sockets
// placed where lb may create them, and the warnings about what the unit does instead of
// lb, said once per load. The worker drops privileges itself; the master keeps them, as
// HAProxy's, so that it can bind and re-execute.
func (m *master) prepare(cfg *config.Config) (*config.Config, error) {
	if m.args.PidFile == "" {
		m.args.PidFile = cfg.Global.Pidfile
	}
	// A master in the background (-W -D, or "daemon") gets there before it reads a
	// configuration (masterMain); its workers leave the caller's terminal as it does.
	m.background = !m.args.Systemd && !m.args.Foreground && (m.args.Daemon || cfg.Global.Daemon)
	env := currentPrivEnv()
	privs, err := planPrivileges(cfg, env)
	if err != nil {
		return nil, err
	}
	cfg, placed, err := placeStatsSockets(cfg, env)
	if err != nil {
		return nil, err
	}
	for _, w := range append(privs.warnings, placed...) {
		m.log.Warn(w)
	}
	return cfg, nil
}

// keepListeners makes the sockets of set those the next workers get. The set itself is
// closed: the master does not accept, and its copies are shared, so closing them neither
// closes the sockets nor unlinks a unix socket's path.
func (m *master) keepListeners(set *listener.Set) {
	m.lnFiles, m.lnPassed = set.PassOn()
	set.CloseAll()
}

// logVersion says which binary runs, as HAProxy's master does after a re-execution.
func (m *master) logVersion() {
	m.log.Info("haproxy version is " + version.Version)
	m.log.Info("path to executable is " + m.exe)
}

// restore takes the state of the previous image over.
func (m *master) restore(st *masterEnv) {
	m.exe = st.Exe
	m.start = time.Unix(0, st.Start)
	m.reloads, m.failed, m.lastFailed = st.Reloads, st.Failed, st.LastFailed
	for _, k := range st.Listeners {
		unix.CloseOnExec(k.FD)
		m.lnFiles = append(m.lnFiles, os.NewFile(uintptr(k.FD), k.Key))
		m.lnPassed = append(m.lnPassed, listener.Passed{Key: k.Key, Origin: k.Origin})
	}
	for _, ws := range st.Workers {
		unix.CloseOnExec(ws.Ctl)
		w := &worker{pid: ws.PID, reloads: ws.Reloads, start: time.Unix(0, ws.Start),
			version: ws.Version, current: ws.Current, ctlFile: os.NewFile(uintptr(ws.Ctl), "worker-ctl")}
		if c, err := net.FileConn(w.ctlFile); err == nil {
			w.ctl, _ = c.(*net.UnixConn)
		}
		m.workers = append(m.workers, w)
	}
	if err := m.openCLI(st.CLI); err != nil {
		m.log.Error(err.Error())
	}
}

// currentState asks the current worker for the state operators changed at run time
// (worker.go, ctlServerState). It returns nil when there is none, or when the worker does
// not answer within ctlStateTimeout: the new worker then starts from its configuration.
func (m *master) currentState() []byte {
	m.mu.Lock()
	var w *worker
	for _, x := range m.workers {
		if x.current {
			w = x
		}
	}
	m.mu.Unlock()
	if w == nil || w.ctl == nil {
		return nil
	}
	b, err := w.askState()
	if err != nil {
		m.log.Warn(fmt.Sprintf("the server state of worker (%d) is not carried over: %v", w.pid, err))
		return nil
	}
	return b
}

// ctlStateTimeout bounds the exchange of the server state on a control socket.
const ctlStateTimeout = 2 * time.Second

// askState reads the server state of w over its control socket.
func (w *worker) askState() ([]byte, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	w.ctlMu.Lock()
	_, _, err = w.ctl.WriteMsgUnix([]byte{ctlServerState}, unix.UnixRights(pair[1]), nil)
	w.ctlMu.Unlock()
	unix.Close(pair[1])
	f := os.NewFile(uintptr(pair[0]), "server-state")
	defer f.Close()
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	_ = f.SetReadDeadline(time.Now().Add(ctlStateTimeout))
	b, err := io.ReadAll(io.LimitReader(f, maxCtlState))
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

// maxCtlState bounds the server state read from a worker.
const maxCtlState = 64 << 20

// startWorker starts a worker with the listening sockets and waits until it serves. The
// worker becomes the current one; the previous current one is leaving from then on.
// state, when not nil, is the server state the worker applies (the previous worker's).
func (m *master) startWorker(state []byte) error {
	ctl, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("worker: socketpair: %w", err)
	}
	ctlMine, ctlTheirs := os.NewFile(uintptr(ctl[0]), "worker-ctl"), os.NewFile(uintptr(ctl[1]), "master-ctl")
	defer ctlTheirs.Close()
	rdy, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		ctlMine.Close()
		return fmt.Errorf("worker: socketpair: %w", err)
	}
	rdyMine, rdyTheirs := os.NewFile(uintptr(rdy[0]), "ready"), os.NewFile(uintptr(rdy[1]), "ready-worker")
	defer rdyMine.Close()
	defer rdyTheirs.Close()

	fds := make([]passedFD, len(m.lnPassed))
	for i, p := range m.lnPassed {
		fds[i] = passedFD{Key: p.Key, Origin: p.Origin}
	}
	files := append([]*os.File{}, m.lnFiles...)
	if state != nil {
		// In the sealed memfd a child generation inherits it in (listener.Inherit).
		sf, err := srvstate.Seal(state)
		if err != nil {
			m.log.Warn("server state will not survive a reload", "err", err)
		} else {
			defer sf.Close()
			files = append(files, sf)
			fds = append(fds, passedFD{Key: srvstate.Name})
		}
	}
	spec := childSpec{FDs: fds, Worker: true, CtlFD: 3 + len(files), ReadyFD: 4 + len(files),
		StartupLogs: startupLogs.String(), Daemon: m.background}
	js, err := json.Marshal(spec)
	if err != nil {
		ctlMine.Close()
		return err
	}
	// /proc/self/exe is this image's binary, even when the file was replaced since.
	cmd := exec.Command("/proc/self/exe", m.argv...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(withoutEnv(os.Environ(), envChild, envMaster, envTrampoline, "LISTEN_FDS",
		"LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID"), envChild+"="+string(js))
	cmd.ExtraFiles = append(files, ctlTheirs, rdyTheirs)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		ctlMine.Close()
		return fmt.Errorf("worker: start: %w", err)
	}
	// The worker has what the master printed while starting: the master's
	// own start-up is over.
	startupLogs.end()
	pid := cmd.Process.Pid
	// The main loop reaps it by pid (wait4), in this image or the next.
	_ = cmd.Process.Release()
	ctlTheirs.Close()
	rdyTheirs.Close()
	w := &worker{pid: pid, start: time.Now(), version: version.Version, ctlFile: ctlMine}
	if c, err := net.FileConn(ctlMine); err == nil {
		w.ctl, _ = c.(*net.UnixConn)
	}
	m.mu.Lock()
	m.workers = append(m.workers, w)
	m.mu.Unlock()
	m.log.Info(fmt.Sprintf("New worker (%d) forked", pid))

	_ = rdyMine.SetReadDeadline(time.Now().Add(readyTimeout))
	line, _ := readLine(rdyMine)
	switch {
	case strings.HasPrefix(line, "READY "):
	case strings.HasPrefix(line, "ERROR "):
		return fmt.Errorf("worker (%d) failed to start: %s", pid, strings.TrimPrefix(line, "ERROR "))
	default:
		_ = syscall.Kill(pid, syscall.SIGKILL)
		return fmt.Errorf("worker (%d) exited before it was ready", pid)
	}
	if _, err := rdyMine.WriteString("GO\n"); err != nil {
		return fmt.Errorf("worker (%d) exited before it was ready", pid)
	}
	m.mu.Lock()
	for _, o := range m.workers {
		o.current = o == w
	}
	m.mu.Unlock()
	return nil
}

// loop is the master's main loop: signals, reloads asked by the CLI, workers that exit.
func (m *master) loop(sigs chan os.Signal) int {
	m.logVersion()
	// A worker that exited while no handler watched SIGCHLD (during the re-execution) is
	// reaped at once; the ticker is a safety net for a lost signal.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	stopping := false
	exitCode := -1
	reap := func() (int, bool) {
		for _, r := range m.reap() {
			kind, alert := "Former worker", r.code != 0
			if r.current {
				kind = "Current worker"
			}
			msg := fmt.Sprintf("%s (%d) exited with code %d (%s)", kind, r.pid, r.code, exitText(r.code))
			if alert {
				m.log.Error(msg)
			} else {
				m.log.Warn(msg)
			}
			if r.current && !stopping {
				// HAProxy 2.6 does so with "master-worker no-exit-on-failure" too.
				if r.code != 0 && r.code != 130 && r.code != 143 {
					m.log.Error("exit-on-failure: killing every processes with SIGTERM")
					m.signalWorkers(syscall.SIGTERM)
				}
			}
			if r.current && exitCode < 0 && r.code != 0 && r.code != 143 {
				exitCode = r.code
			}
		}
		m.mu.Lock()
		n := len(m.workers)
		m.mu.Unlock()
		if n == 0 {
			code := max(exitCode, 0)
			m.log.Warn(fmt.Sprintf("All workers exited. Exiting... (%d)", code))
			return code, true
		}
		return 0, false
	}
	if code, done := reap(); done {
		return code
	}
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case syscall.SIGCHLD:
			case syscall.SIGUSR2, syscall.SIGHUP:
				if !stopping {
					m.reexec()
				}
			case syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1:
				if !stopping {
					m.log.Warn("Exiting Master process...")
					stopping = true
				}
				m.signalWorkers(sig.(syscall.Signal))
			case syscall.SIGTTOU, syscall.SIGTTIN:
				m.signalWorkers(sig.(syscall.Signal))
			case syscall.SIGQUIT:
				(&process{log: m.log}).dumpMemory()
			}
		case <-m.reloadC:
			if !stopping {
				m.reexec()
			}
		case <-tick.C:
		}
		if code, done := reap(); done {
			return code
		}
	}
}

// exitText is HAProxy's word for an exit code: "Exit", or the signal's name above 128.
func exitText(code int) string {
	if code > 128 && code < 128+65 {
		s := syscall.Signal(code - 128).String()
		if s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return "Exit"
}

type reaped struct {
	pid, code int
	current   bool
}

// reap collects the workers that exited.
func (m *master) reap() []reaped {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []reaped
	kept := m.workers[:0]
	for _, w := range m.workers {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(w.pid, &ws, syscall.WNOHANG, nil)
		if pid == 0 || err != nil && !errors.Is(err, syscall.ECHILD) {
			kept = append(kept, w)
			continue
		}
		code := ws.ExitStatus()
		if ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		if w.ctl != nil {
			w.ctl.Close()
		}
		w.ctlFile.Close()
		out = append(out, reaped{pid: w.pid, code: code, current: w.current})
	}
	m.workers = kept
	return out
}

// signalWorkers sends sig to every worker.
func (m *master) signalWorkers(sig syscall.Signal) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, w := range m.workers {
		_ = syscall.Kill(w.pid, sig)
	}
}

// reexec re-executes the master with its arguments and the state that must survive. It
// returns only when the execution failed: the master then goes on as it was.
func (m *master) reexec() {
	m.log.Info("Reloading HAProxy")
	_ = m.notify.Send("RELOADING=1")
	m.mu.Lock()
	m.reloads++
	st := masterEnv{Exe: m.exe, Start: m.start.UnixNano(), Reloads: m.reloads, Failed: m.failed,
		LastFailed: m.lastFailed}
	var keep []int
	for _, w := range m.workers {
		w.reloads++
		fd := int(w.ctlFile.Fd())
		keep = append(keep, fd)
		st.Workers = append(st.Workers, workerState{PID: w.pid, Ctl: fd, Reloads: w.reloads,
			Start: w.start.UnixNano(), Version: w.version, Current: w.current})
	}
	m.mu.Unlock()
	for i, f := range m.lnFiles {
		fd := int(f.Fd())
		keep = append(keep, fd)
		st.Listeners = append(st.Listeners, keptFD{FD: fd, Key: m.lnPassed[i].Key, Origin: m.lnPassed[i].Origin})
	}
	for _, c := range m.cli {
		fd := int(c.file.Fd())
		keep = append(keep, fd)
		st.CLI = append(st.CLI, keptFD{FD: fd, Key: c.arg})
	}
	js, err := json.Marshal(st)
	if err == nil {
		for _, fd := range keep {
			_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0)
		}
		env := append(withoutEnv(os.Environ(), envMaster, envChild), envMaster+"="+string(js))
		err = syscall.Exec(m.exe, append([]string{os.Args[0]}, m.argv...), env)
		for _, fd := range keep {
			unix.CloseOnExec(fd)
		}
	}
	m.log.Error(fmt.Sprintf("Cannot re-execute %s: %v", m.exe, err))
	m.log.Warn("Loading failure!")
	m.mu.Lock()
	m.failed++
	m.lastFailed = true
	m.mu.Unlock()
	_ = m.notify.Send(fmt.Sprintf("READY=1\nMAINPID=%d", os.Getpid()))
}

// masterFromEnv returns the state a previous image of the master left, or nil.
func masterFromEnv() (*masterEnv, error) {
	v, ok := os.LookupEnv(envMaster)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(envMaster)
	var st masterEnv
	if err := json.Unmarshal([]byte(v), &st); err != nil {
		return nil, fmt.Errorf("%s: %w", envMaster, err)
	}
	return &st, nil
}

func dupCloexec(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dup: %w", err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}
