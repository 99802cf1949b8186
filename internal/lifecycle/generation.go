package lifecycle

import (
	"lb/internal/listener"
	"lb/internal/plane"
)

// startGeneration starts the data plane of the configuration on the listeners obtained
// (LIFECYCLE.md §1 step 11) and makes it p.gen. Its traffic log targets are closed at exit, once no session
// logs any more.
func (p *process) startGeneration() (*plane.Generation, error) {
	logs := plane.NewLogs(&p.cfg.Global, p.log)
	p.closeAtExit(logs.Close)
	carried, from := p.lns.ServerState()
	// The engine enforces the maxconn the descriptors were counted for (step 5): the
	// configured one, -n, or the one derived from the limit of open files, without which
	// a process started under a small limit would run out of descriptors instead of
	// leaving clients in the accept queue.
	maxconn := p.hardMaxconn
	if maxconn == 0 {
		maxconn = p.args.Maxconn
	}
	gen, err := plane.Start(p.cfg, planeListeners(p.lns), plane.Options{
		Logger:         p.log,
		Maxconn:        maxconn,
		ProxyMaxconn:   p.args.ProxyMaxconn,
		OnServerChange: p.serversChanged,
		OnAdminChange:  p.adminChanged,
		FrontendPaused: p.lns.FrontendPaused,
		CarriedState:   carried,
		CarriedFrom:    from,
		Logs:           logs,
		TicketKeys:     p.lns.TicketKeys(),
		NoSplice:       p.args.NoSplice,
		ProcessInfo:    p.infoNumbers,
	})
	if err != nil {
		return nil, err
	}
	// What this generation hands on from now: the state it started with. p.gen is set
	// under stateMu: the checks started above may already call adminChanged.
	p.stateMu.Lock()
	p.gen = gen
	p.lns.SetServerState(gen.CarriedState())
	p.stateMu.Unlock()
	return gen, nil
}

// adminChanged is the data plane's callback for an operator's change of a server (plane
// Generation.SetServerAdmin, SetServerWeight): the state handed to the next process is
// renewed at once, for -x and a child generation, and the main loop re-stores it in
// systemd's fd store. It never blocks on the loop.
func (p *process) adminChanged() {
	p.stateMu.Lock()
	if p.gen != nil {
		p.lns.SetServerState(p.gen.CarriedState())
	}
	p.stateMu.Unlock()
	select {
	case p.adminC <- struct{}{}:
	default:
	}
}

// planeListeners are the frontends' listeners of s, as the data plane serves them.
func planeListeners(s *listener.Set) []plane.Listener {
	var out []plane.Listener
	for _, e := range s.Frontends() {
		out = append(out, plane.Listener{Frontend: e.Frontend, Bind: e.Bind, L: e.Listener})
	}
	return out
}
