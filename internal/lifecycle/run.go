package lifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"lb/internal/admin"
	"lb/internal/config"
	"lb/internal/listener"
	"lb/internal/plane"
	"lb/internal/proxy"
	"lb/internal/systemd"
)

// defaultHardStopAfter bounds a soft stop when hard-stop-after is unset, so that an old
// generation never lives forever (LIFECYCLE.md §5).
const defaultHardStopAfter = 5 * time.Minute

// abandonDrain bounds how long a generation its parent gave up on lets its few sessions end.
const abandonDrain = 10 * time.Second

// process is one generation of lb: its configuration, listeners and data plane, and the
// lifecycle state owned by the main loop.
type process struct {
	// predecessors are closed when the processes this one superseded with -sf have exited
	// (see waitPredecessors).
	predecessors []<-chan struct{}
	args         *Args
	argv         []string
	cfg          *config.Config
	child        *childSpec
	log          *slog.Logger

	notify *systemd.Notifier
	lns    *listener.Set
	gen    *plane.Generation
	// hardMaxconn is the global maxconn the descriptors were counted for
	// (configured, -n, or derived from the limit of open files).
	hardMaxconn int
	// maxsock is the limit of open files planned for hardMaxconn ("show info"'s Maxsock).
	maxsock uint64
	// cliConns counts the runtime API's connections, on every stats socket.
	cliConns admin.ConnCounters

	// state is the lifecycle state. Only the goroutine that runs run, and then loop, reads
	// or writes it; the others send requests (see loop.go).
	state lifeState
	requests

	// watchdog is systemd's WatchdogSec= (0 = none), read once at start-up: from
	// WATCHDOG_USEC for the first generation, from the parent for the others, so that every
	// successor gets it too.
	watchdog time.Duration

	// stateMu serialises the renewals of the server state handed on (adminChanged).
	stateMu sync.Mutex

	// exitMu guards atExit, run in reverse order when the process ends (log flushes).
	exitMu sync.Mutex
	atExit []func()
}

func (p *process) closeAtExit(f func()) {
	p.exitMu.Lock()
	defer p.exitMu.Unlock()
	p.atExit = append(p.atExit, f)
}

func (p *process) runAtExit() {
	p.exitMu.Lock()
	fs := p.atExit
	p.atExit = nil
	p.exitMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// run is everything after the configuration was read and found valid (LIFECYCLE.md §1
// steps 3 to 11), then the main loop.
func run(args *Args, argv []string, cfg *config.Config, child *childSpec) int {
	if args.PidFile == "" {
		// The global section's pidfile is -p's default: written where and when -p is.
		args.PidFile = cfg.Global.Pidfile
	}
	p := &process{args: args, argv: argv, cfg: cfg, child: child, requests: newRequests()}
	p.log = newLogger(args, cfg)
	p.watchdog, _ = systemd.WatchdogInterval(true)
	if child != nil && child.WatchdogUsec > 0 {
		p.watchdog = time.Duration(child.WatchdogUsec) * time.Microsecond
	}
	globalLogs := plane.NewLogs(&cfg.Global, p.log)
	p.closeAtExit(globalLogs.Close)
	if l := globalLogs.Open(cfg.Global.Logs); l != nil {
		p.log = slog.New(globalLogHandler{p.log.Handler(), l})
	}
	slog.SetDefault(p.log)
	ready := newReadyReporter(0)
	if child != nil {
		ready = newReadyReporter(child.ReadyFD)
		if child.Daemon {
			detachStdio()
		}
	}
	fail := func(err error) int {
		p.log.Error(err.Error())
		if !args.Quiet || child == nil {
			fmt.Fprintf(os.Stderr, "[ALERT] %v\n", err)
		}
		ready.fail(err)
		return 1
	}

	// What lb does about chroot, user, group and daemon itself, and what the systemd unit it
	// runs in does instead (see planPrivileges); the stats sockets it may not create where
	// the configuration says. Said once per start or reload: by the first process only.
	env := currentPrivEnv()
	privs, err := planPrivileges(cfg, env)
	if err != nil {
		return fail(err)
	}
	cfg, placed, err := placeStatsSockets(cfg, env)
	if err != nil {
		return fail(err)
	}
	p.cfg = cfg
	if child == nil {
		for _, w := range append(privs.warnings, placed...) {
			p.log.Warn(w)
		}
	}

	// Step 3: global set-up.
	// One P per event loop (nbthread, else one per CPU), and one more while the loops
	// carry connections (proxy.ManageProcs says why).
	proxy.ManageProcs(cfg.Global.Threads(), func(n int) { runtime.GOMAXPROCS(n) })
	// Step 4: signals. SIGPIPE is ignored by Go for sockets already.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT,
		syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGTTOU, syscall.SIGTTIN)
	signal.Ignore(syscall.SIGPIPE)

	// The notify socket is opened before any chroot. A worker of a master never talks to
	// systemd: its master does.
	if child != nil && child.Worker {
		p.notify, _ = systemd.NewNotifier("")
	} else if p.notify, err = systemd.OpenNotifier(); err != nil {
		p.log.Warn("systemd notify socket unusable", "err", err)
	}

	// Step 5: file descriptor limit.
	hard, err := hardNOFILE()
	if err != nil {
		return fail(err)
	}
	maxconn := cfg.Global.Maxconn
	if args.Maxconn > 0 {
		maxconn = args.Maxconn
	}
	plan, err := planFDs(cfg.Global.UlimitN, maxconn, cfg.Listeners()+len(cfg.Global.StatsSockets)+countChecks(cfg), hard, !cfg.Global.NoStrictLimits)
	if err != nil {
		return fail(err)
	}
	for _, w := range plan.Warnings {
		p.log.Warn(w)
	}
	p.hardMaxconn, p.maxsock = plan.Maxconn, plan.Limit
	if plan.Notice != "" && !args.Quiet {
		p.log.Info(plan.Notice)
	}
	if err := applyFDPlan(plan); err != nil {
		return fail(err)
	}
	// The memory limit, -m's or the cgroup's (the smaller), read before any chroot
	// (memwatch.go).
	ml, _ := findMemLimit("/")
	if args.MemMax > 0 {
		if rl, err := rssLimit(int64(args.MemMax) << 20); err != nil {
			p.log.Warn("-m: " + err.Error())
		} else if ml == nil || rl.limit < ml.limit {
			ml = rl
		}
	}
	if ml != nil {
		ml.start(p.log)
	}
	// What a burst of transactions leaves behind goes back to the system once it is over
	// (proxy/trim.go).
	proxy.StartTrimAfterBursts()

	// Step 6: listeners.
	oldPids := append(append([]int{}, args.SoftStopPids...), args.HardStopPids...)
	p.lns, err = p.obtainListeners(oldPids)
	if err != nil {
		return fail(err)
	}
	resumeOld := func() {
		if p.lns.PausedOld() {
			signalPids(oldPids, syscall.SIGTTIN)
		}
	}

	// A reload started by systemd's ExecReload= (a control process: $MAINPID is set) and -D
	// both hand everything to a new detached process and exit once it serves.
	controlReload := child == nil && p.notify.Enabled() && os.Getenv("MAINPID") != "" && len(oldPids) > 0
	daemon := child == nil && !args.Foreground && (args.Daemon || cfg.Global.Daemon && !privs.noDaemon) && !controlReload
	if controlReload || daemon {
		return p.handOff(controlReload, oldPids, resumeOld)
	}

	// The pidfile lives outside the chroot and may need root: open it first, write it once
	// this process accepts.
	var pidf *os.File
	if child == nil && args.PidFile != "" {
		if pidf, err = os.OpenFile(args.PidFile, os.O_WRONLY|os.O_CREATE, 0o644); err != nil {
			resumeOld()
			return fail(fmt.Errorf("pidfile: %w", err))
		}
	}
	// The data plane reads files when it starts (errorfiles, maps, certificates), which
	// HAProxy reads while parsing, before its chroot: with a chroot it starts first.
	if privs.chroot != "" {
		if _, err = p.startGeneration(); err != nil {
			resumeOld()
			return fail(err)
		}
	}
	// Step 7: chroot, then user and group.
	if err := dropPrivileges(privs); err != nil {
		resumeOld()
		return fail(err)
	}
	// Step 10: CPU affinity.
	if err := applyCPUMap(cfg); err != nil {
		p.log.Warn("cpu-map", "err", err)
	}
	// The processes this one supersedes, opened before they are told to stop (by this
	// process, or by the parent that started it).
	if child != nil {
		p.predecessors = watchExits(child.Predecessors)
	} else {
		p.predecessors = watchExits(args.SoftStopPids)
	}
	// Step 11: start accepting.
	if p.gen == nil {
		if _, err = p.startGeneration(); err != nil {
			resumeOld()
			return fail(err)
		}
	}
	p.serveAdmin()
	// Step 8: tell the old processes, now that this one accepts.
	if child == nil {
		p.lns.TellSuperseded(os.Getpid())
		signalPids(args.SoftStopPids, syscall.SIGUSR1)
		signalPids(args.HardStopPids, syscall.SIGTERM)
		if pidf != nil {
			_ = pidf.Truncate(0)
			if _, err := fmt.Fprintf(pidf, "%d\n", os.Getpid()); err != nil {
				p.log.Warn("pidfile", "err", err)
			}
			pidf.Close()
		}
	}
	ready.ready()
	startupLogs.end()
	if child != nil {
		// The parent answers once this process is the main one (MAINPID= sent): only then
		// may it talk to systemd. A parent that gave up (or died) without a go-ahead
		// reported this start as failed: this process must not serve on.
		if !ready.awaitGo() {
			// Connections it accepted meanwhile finish; new ones stay with the old process.
			p.log.Error("the starting process gave up on this one: exiting")
			p.gen.StopAccepting()
			p.lns.CloseAll()
			ctx, cancel := context.WithTimeout(context.Background(), abandonDrain)
			if err := p.gen.Drain(ctx); err != nil {
				p.gen.CloseAll()
			}
			cancel()
			p.gen.Stop()
			return 1
		}
	}
	// Server state changes seen before this process was the main one are not announced:
	// READY=1 counts the servers up now.
	p.forgetServerChanges()
	p.state.main = true
	p.announceReady()
	if p.notify.Enabled() && child == nil {
		go p.checkUnit()
	}
	go p.signalRelay(sigs)
	code := p.loop()
	p.runAtExit()
	return code
}

// announceReady sends READY=1 with a status, and pushes self-bound listeners to the fd store.
func (p *process) announceReady() {
	if !p.notify.Enabled() {
		return
	}
	if err := p.notify.Ready(p.statusLine("ready")); err != nil {
		p.log.Warn("notify ready", "err", err)
	}
	p.lns.Store()
}

func (p *process) statusLine(state string) string {
	up, total := 0, 0
	if p.gen != nil {
		up, total = p.gen.Snapshot().ServersUp()
	}
	return fmt.Sprintf("%s: %d listeners, %d/%d servers up", state, p.lns.Count(), up, total)
}

func countChecks(cfg *config.Config) int {
	n := 0
	for _, b := range cfg.Backends() {
		for _, s := range b.Servers {
			if s.Check {
				n++
			}
		}
	}
	return n
}

func detachStdio() {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return
	}
	for _, fd := range []int{0, 1, 2} {
		_ = syscall.Dup3(int(null.Fd()), fd, 0)
	}
	null.Close()
}

// checkUnit warns when the unit lb runs in lacks what its lifecycle needs (an fd store,
// NotifyAccess=exec, Type=notify), as read over D-Bus. Without D-Bus it says nothing.
func (p *process) checkUnit() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	warns, err := systemd.UnitCheck(ctx, "")
	if err != nil {
		p.log.Debug("unit check", "err", err)
		return
	}
	for _, w := range warns {
		p.log.Warn(w)
	}
}
