package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"
)

// The lifecycle state of a process has one owner: the goroutine that runs run, which
// becomes the main loop (loop) once the process serves. Other goroutines never read or
// write it: the signal relay, the reload in progress, the runtime socket and the health
// checks send the loop requests, as cloudflare/tableflip's upgrader does. The loop answers
// every request at once and never waits for the work it starts (a soft stop drains, a
// reload starts a process, in goroutines of their own), so a request is never stuck behind
// another one.

// lifeState is the lifecycle state, owned by the main loop.
type lifeState struct {
	// main is set while this process is the one systemd knows as the unit's main process
	// (a child generation becomes it only once its parent sent MAINPID=); superseded is set
	// once a successor took over. Only a main, not superseded process talks to systemd.
	main, superseded bool
	// stopping is set when a soft or hard stop begins; stopBegun is closed then.
	stopping bool
	// paused is set between SIGTTOU and SIGTTIN.
	paused bool
	// reloading is set while a reload started by SIGUSR2 runs: one at a time.
	reloading bool
}

// requests are the channels the main loop receives requests on. A request carries the
// channel its answer goes to (nil: accepted; else why it was refused).
type requests struct {
	softStopC chan chan<- error // SIGUSR1, or the successor this process started serves
	hardStopC chan os.Signal    // SIGTERM, SIGINT: not answered, the process ends
	reloadC   chan chan<- error // SIGUSR2: start a successor
	pauseC    chan chan<- error // SIGTTOU
	resumeC   chan chan<- error // SIGTTIN
	// takeOverC asks whether the successor this process's reload started may take over:
	// granted unless a stop began, and then this process is superseded.
	takeOverC chan chan<- error
	// supersededC says that a process started by someone else took over (-x).
	supersededC chan chan<- error
	// reloadDoneC says that the reload in progress ended, whatever its outcome.
	reloadDoneC chan struct{}
	// serversC says that a health check changed a server's state (see serversChanged).
	serversC chan struct{}
	// adminC says that an operator changed a server (see adminChanged).
	adminC chan struct{}

	// stopBegun is closed by the main loop when a stop begins: the one piece of the
	// lifecycle state other goroutines may observe (show info, the runtime socket).
	stopBegun chan struct{}
	// exited is closed when the main loop returns: requests are refused from then on.
	exited chan struct{}
}

func newRequests() requests {
	return requests{
		softStopC:   make(chan chan<- error),
		hardStopC:   make(chan os.Signal),
		reloadC:     make(chan chan<- error),
		pauseC:      make(chan chan<- error),
		resumeC:     make(chan chan<- error),
		takeOverC:   make(chan chan<- error),
		supersededC: make(chan chan<- error),
		reloadDoneC: make(chan struct{}, 1), // one reload at a time: a send never blocks
		serversC:    make(chan struct{}, 1), // changes coalesce: the status is read when sent
		adminC:      make(chan struct{}, 1), // changes coalesce: the state is read when stored
		stopBegun:   make(chan struct{}),
		exited:      make(chan struct{}),
	}
}

var (
	errStopping   = errors.New("a stop began")
	errSuperseded = errors.New("a successor took over")
	errReloading  = errors.New("a reload is in progress")
	errExited     = errors.New("the main loop has ended")
)

// request sends a request on c to the main loop and returns its answer. Once the loop has
// ended it returns errExited; before the loop runs, it waits for it.
func (r *requests) request(c chan chan<- error) error {
	answer := make(chan error, 1)
	select {
	case c <- answer:
	case <-r.exited:
		return errExited
	}
	return <-answer
}

// stopped reports whether a stop began.
func (r *requests) stopped() bool {
	select {
	case <-r.stopBegun:
		return true
	default:
		return false
	}
}

// isMain reports whether this process may talk to systemd as the unit's main process.
// Only the owner of the lifecycle state calls it.
func (p *process) isMain() bool { return p.state.main && !p.state.superseded }

// loop is the main loop: the owner of the lifecycle state from the moment the process
// serves until it ends. It returns the exit code.
func (p *process) loop() int {
	defer close(p.exited)
	stopped := make(chan int, 1)
	// The watchdog pings systemd at half of WatchdogSec=, whether this process got
	// WATCHDOG_USEC from systemd or from its predecessor, until a successor took over.
	var watchdog <-chan time.Time
	if p.watchdog > 0 && p.notify.Enabled() {
		t := time.NewTicker(p.watchdog / 2)
		defer t.Stop()
		watchdog = t.C
	}
	for {
		select {
		case code := <-stopped:
			return code
		case answer := <-p.softStopC:
			answer <- p.beginSoftStop(stopped)
		case sig := <-p.hardStopC:
			p.beginStop()
			return p.hardStop(sig)
		case answer := <-p.reloadC:
			answer <- p.beginReload()
		case <-p.reloadDoneC:
			p.state.reloading = false
		case answer := <-p.takeOverC:
			if p.state.stopping {
				answer <- errStopping
				continue
			}
			p.state.superseded = true
			answer <- nil
		case answer := <-p.supersededC:
			p.state.superseded = true
			answer <- nil
		case answer := <-p.pauseC:
			answer <- p.setPaused(true)
		case answer := <-p.resumeC:
			answer <- p.setPaused(false)
		case <-p.adminC:
			if p.isMain() && p.notify.Enabled() {
				p.lns.StoreServerState()
			}
		case <-p.serversC:
			if p.isMain() {
				_ = p.notify.Status(p.statusLine("ready"))
			}
		case <-watchdog:
			if p.state.superseded {
				watchdog = nil // the successor pings now
				continue
			}
			if p.isMain() {
				_ = p.notify.Watchdog()
			}
		}
	}
}

// signalRelay turns the signals lb handles into requests to the main loop; the two that
// only dump state (SIGQUIT, SIGHUP) it answers itself. A request the loop refuses (a
// second SIGUSR1, SIGUSR2 while stopping) is ignored, as HAProxy ignores such signals.
func (p *process) signalRelay(sigs <-chan os.Signal) {
	for {
		var sig os.Signal
		select {
		case sig = <-sigs:
		case <-p.exited:
			return
		}
		switch sig {
		case syscall.SIGUSR1:
			_ = p.request(p.softStopC)
		case syscall.SIGTERM, syscall.SIGINT:
			select {
			case p.hardStopC <- sig:
			case <-p.exited:
			}
		case syscall.SIGQUIT:
			p.dumpMemory()
		case syscall.SIGHUP:
			p.dumpState()
		case syscall.SIGTTOU:
			_ = p.request(p.pauseC)
		case syscall.SIGTTIN:
			_ = p.request(p.resumeC)
		case syscall.SIGUSR2:
			if p.isWorker() {
				// The master reloads; a worker has nothing to do.
				continue
			}
			_ = p.request(p.reloadC)
		}
	}
}

// serversChanged is the data plane's callback for a server state change, on a health
// checker's goroutine: the main loop updates the status line systemd shows. It never
// blocks; changes that come while one is pending are counted with it.
func (p *process) serversChanged() {
	select {
	case p.serversC <- struct{}{}:
	default:
	}
}

// forgetServerChanges drops a server state change not yet announced.
func (p *process) forgetServerChanges() {
	select {
	case <-p.serversC:
	default:
	}
}

// beginStop records that a stop began.
func (p *process) beginStop() {
	if !p.state.stopping {
		p.state.stopping = true
		close(p.stopBegun)
	}
}

// beginSoftStop starts a soft stop (SIGUSR1) in a goroutine that sends the exit code on
// stopped once it is over.
func (p *process) beginSoftStop(stopped chan<- int) error {
	if p.state.stopping {
		return errStopping
	}
	p.beginStop()
	if p.isMain() {
		_ = p.notify.Stopping("stopping: draining connections")
	}
	go func() { stopped <- p.softStop() }()
	return nil
}

// softStop is SIGUSR1: after grace, stop accepting, let sessions finish, cut the rest at
// hard-stop-after, exit 0.
func (p *process) softStop() int {
	g := p.cfg.Global
	if g.Grace > 0 {
		p.log.Info("soft stop: grace period", "grace", g.Grace)
		time.Sleep(g.Grace)
	}
	p.gen.StopAccepting()
	p.lns.CloseAll()
	bound := g.HardStopAfter
	if bound <= 0 {
		bound = defaultHardStopAfter
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	n := p.gen.ActiveSessions()
	p.log.Info("soft stop: listeners closed, draining", "sessions", n, "hard-stop-after", bound)
	if err := p.gen.Drain(ctx); err != nil {
		left := p.gen.ActiveSessions()
		p.log.Warn("soft-stop running for too long, performing a hard-stop", "remaining", left)
		p.gen.CloseAll()
	}
	p.gen.Stop()
	p.waitPredecessors(ctx)
	p.log.Info("soft stop complete")
	return 0
}

// waitPredecessors waits, until ctx is done, for the processes this one superseded (-sf) to
// finish draining. Under systemd the main process's exit ends the unit's stop, and systemd
// then kills what is left in its cgroup (KillMode=mixed): a stop or restart right after a
// reload would cut the sessions the previous generation still serves. The main process
// leaves last.
func (p *process) waitPredecessors(ctx context.Context) {
	for _, gone := range p.predecessors {
		select {
		case <-gone:
		case <-ctx.Done():
			return
		}
	}
}

// hardStop is SIGTERM/SIGINT: close everything now.
func (p *process) hardStop(sig os.Signal) int {
	if p.isMain() {
		_ = p.notify.Stopping("stopping")
	}
	p.log.Info("hard stop", "signal", sig.String())
	p.gen.StopAccepting()
	p.lns.CloseAll()
	p.gen.CloseAll()
	p.gen.Stop()
	if s, ok := sig.(syscall.Signal); ok && p.isWorker() {
		// A worker of a master exits as HAProxy's: 128 + the signal (143 on SIGTERM,
		// 130 on SIGINT), which its master reads as a normal stop.
		return 128 + int(s)
	}
	return 0
}

// isWorker reports whether this process is a worker of a master (-W).
func (p *process) isWorker() bool { return p.child != nil && p.child.Worker }

// masterGone is called when a worker's control socket to its master ends: the master is
// gone, and the worker stops at once rather than serve unsupervised.
func (p *process) masterGone(err error) {
	if p.stopped() {
		return
	}
	p.log.Error("exiting: " + err.Error())
	select {
	case p.hardStopC <- syscall.SIGTERM:
	case <-p.exited:
	}
}

// beginReload starts a reload by handover (SIGUSR2) in a goroutine, unless a stop began, a
// successor took over already, or a reload is in progress.
func (p *process) beginReload() error {
	switch {
	case p.state.stopping:
		return errStopping
	case p.state.superseded:
		return errSuperseded
	case p.state.reloading:
		return errReloading
	}
	p.state.reloading = true
	go func() {
		defer func() { p.reloadDoneC <- struct{}{} }()
		p.reloadFromInside()
	}()
	return nil
}

// setPaused is SIGTTOU (pause) and SIGTTIN (resume). Neither does anything once a stop
// began, nor when the listeners are already so.
func (p *process) setPaused(pause bool) error {
	if p.state.stopping {
		return errStopping
	}
	if p.state.paused == pause {
		return nil
	}
	p.state.paused = pause
	p.lns.SetPaused(pause)
	if p.isMain() {
		state := "ready"
		if pause {
			state = "paused"
		}
		_ = p.notify.Status(p.statusLine(state))
	}
	return nil
}

// dumpMemory is SIGQUIT: memory and pool use to the log, then free memory back to the OS.
func (p *process) dumpMemory() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	lines := []string{
		"Dumping pools usage. Use SIGQUIT to flush them.",
		fmt.Sprintf("  heap: %d bytes in use, %d idle, %d released, %d objects", m.HeapInuse, m.HeapIdle, m.HeapReleased, m.HeapObjects),
		fmt.Sprintf("  stacks: %d bytes in use; goroutines: %d", m.StackInuse, runtime.NumGoroutine()),
		fmt.Sprintf("  total obtained from the OS: %d bytes; GC cycles: %d", m.Sys, m.NumGC),
	}
	for _, l := range lines {
		p.log.Info(l)
	}
	debug.FreeOSMemory()
	runtime.ReadMemStats(&m)
	p.log.Info(fmt.Sprintf("Total: %d bytes obtained from the OS, %d released after flush.", m.Sys, m.HeapReleased))
}

// dumpState is SIGHUP: one line per server with its state and counts, HAProxy's words.
func (p *process) dumpState() {
	for _, l := range p.gen.Snapshot().StateLines() {
		p.log.Info(l)
	}
}
