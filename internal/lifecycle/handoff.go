package lifecycle

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"lb/internal/systemd"
)

// handOff starts the generation that will serve (the -D daemon, or the new main process of
// a reload run by ExecReload=), waits until it accepts, then finishes the start-up on its
// behalf: pidfile, MAINPID= and READY=1 to systemd, SIGUSR1/SIGTERM to the old pids. It
// returns the exit code of this process: 0 only when the new generation serves.
func (p *process) handOff(controlReload bool, oldPids []int, resumeOld func()) int {
	files, fds := passOn(p.lns)
	spec := childSpec{Daemon: !controlReload, WatchdogUsec: p.watchdog.Microseconds(), Predecessors: p.args.SoftStopPids}
	if controlReload && spec.WatchdogUsec == 0 {
		// systemd gives WATCHDOG_USEC to ExecStart only: ask it.
		spec.WatchdogUsec = unitWatchdogUsec()
	}
	h, err := spawnChild(p.argv, files, fds, spec, controlReload)
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		resumeOld()
		msg := fmt.Sprintf("the new process failed to start: %v", err)
		fmt.Fprintf(os.Stderr, "[ALERT] %s\n", msg)
		p.log.Error(msg)
		return 1
	}
	if err := writePidFile(p.args.PidFile, h.pid); err != nil {
		p.log.Warn("pidfile", "err", err)
	}
	if controlReload {
		// This process is systemd's control process (ExecReload=): NotifyAccess=exec lets it
		// name the new main process, by pid and, where the kernel has them, by pidfd id
		// (MAINPIDFDID=, which systemd 257 checks and 252 ignores). The barrier makes sure systemd processed MAINPID=
		// before the old process is told to stop and before this one exits.
		p.lns.UnstoreDropped()
		if err := p.notify.MainPIDReady(h.pid, p.statusLine("reloaded")); err != nil {
			p.log.Error("notify MAINPID", "err", err)
		}
		if err := p.notify.Barrier(); err != nil {
			p.log.Warn("notify barrier", "err", err)
		}
	}
	p.lns.TellSuperseded(h.pid)
	h.proceed()
	signalPids(p.args.SoftStopPids, syscall.SIGUSR1)
	signalPids(p.args.HardStopPids, syscall.SIGTERM)
	return 0
}

// reloadFromInside is SIGUSR2, run by beginReload: the main process starts its successor
// with its listeners, announces it to systemd with MAINPID=, then stops softly. A
// configuration that does not load, or a successor that does not start, leaves this
// process serving as before.
func (p *process) reloadFromInside() {
	_ = p.notify.Reloading("reloading")
	fail := func(err error) {
		p.log.Error("reload failed, the running configuration keeps serving", "err", err)
		_ = p.notify.Send("READY=1\nSTATUS=" + oneLine(p.statusLine("reload failed: "+err.Error())))
	}
	if p.cfg.Global.Chroot != "" {
		// The configuration files and the executable are outside the chroot.
		fail(fmt.Errorf("SIGUSR2 reload is not possible in a chroot: reload with -sf/-x from outside"))
		return
	}
	cfg, code := loadConfig(p.args, logWriter{p.log})
	if code != 0 {
		fail(fmt.Errorf("configuration check exited with %d", code))
		return
	}
	next, err := p.lns.ForSuccessor(cfg)
	if err != nil {
		fail(err)
		return
	}
	files, fds := passOn(next)
	spec := childSpec{WatchdogUsec: p.watchdog.Microseconds(), Predecessors: []int{os.Getpid()}}
	h, err := spawnChild(p.argv, files, fds, spec, true)
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		next.Discard()
		fail(err)
		return
	}
	// The successor shares the fresh sockets now; this process has no use for its copies.
	defer next.Discard()
	// From here on this process is superseded, unless a stop began while the successor
	// started: then the successor must not take over (closing the readiness socket without
	// a go-ahead makes it exit), and this process stops.
	if err := p.request(p.takeOverC); err != nil {
		h.abort()
		p.log.Warn("reload abandoned: a stop began meanwhile")
		return
	}
	p.lns.UnstoreDroppedFor(next)
	if err := p.notify.MainPIDReady(h.pid, p.statusLine("reloaded")); err != nil {
		p.log.Error("notify MAINPID", "err", err)
	}
	_ = p.notify.Barrier()
	if err := writePidFile(p.args.PidFile, h.pid); err != nil {
		p.log.Warn("pidfile", "err", err)
	}
	h.proceed()
	p.log.Info("reload: new process serves, soft-stopping", "pid", h.pid)
	_ = p.request(p.softStopC)
}

// logWriter turns diagnostics printed by loadConfig into log lines.
type logWriter struct {
	log interface{ Info(string, ...any) }
}

func (w logWriter) Write(b []byte) (int, error) {
	w.log.Info(string(trimNL(b)))
	return len(b), nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func oneLine(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c == '\n' || c == '\r' {
			out[i] = ' '
		}
	}
	return string(out)
}

// unitWatchdogUsec reads WatchdogSec= of this process's unit over D-Bus (0 when unknown).
func unitWatchdogUsec() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	unit := systemd.OwnUnit()
	if unit == "" {
		return 0
	}
	bus, err := systemd.DialBus(ctx)
	if err != nil {
		return 0
	}
	defer bus.Close()
	st, err := bus.UnitStatus(ctx, unit)
	if err != nil {
		return 0
	}
	return int64(st.WatchdogUSec)
}
