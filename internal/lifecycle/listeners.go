package lifecycle

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"lb/internal/listener"
	"lb/internal/systemd"
)

// obtainListeners gets a socket for every listener of the configuration (LIFECYCLE.md §1
// step 6): a child generation inherits them all from its parent; the first generation takes
// them from systemd, from fd@N, from the old process (-x), or binds them, pausing the old
// processes (SIGTTOU) while an address is taken.
func (p *process) obtainListeners(oldPids []int) (*listener.Set, error) {
	opts := listener.Options{NoReusePort: p.args.NoReusePort, FDStore: p.notify, Logger: p.log}
	if p.child != nil {
		files := make([]*os.File, len(p.child.FDs))
		passed := make([]listener.Passed, len(p.child.FDs))
		for i, fd := range p.child.FDs {
			files[i] = os.NewFile(uintptr(3+i), fd.Key)
			unix.CloseOnExec(3 + i)
			passed[i] = listener.Passed{Key: fd.Key, Origin: fd.Origin}
		}
		return listener.Inherit(p.cfg, files, passed, opts)
	}
	opts.Activated = systemd.ListenFDs()
	opts.OldSocket = p.args.OldSocket
	if len(oldPids) > 0 {
		opts.PauseOld = func() bool { return signalPids(oldPids, syscall.SIGTTOU) > 0 }
		opts.ResumeOld = func() { signalPids(oldPids, syscall.SIGTTIN) }
	}
	return listener.Acquire(p.cfg, opts)
}
