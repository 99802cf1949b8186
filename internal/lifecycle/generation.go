package lifecycle

import (
	"lb/internal/listener"
	"lb/internal/plane"
)

// startGeneration starts the data plane of the configuration on the listeners obtained
// (LIFECYCLE.md §1 step 11). Its traffic log targets are closed at exit, once no session
// logs any more.
func (p *process) startGeneration() (*plane.Generation, error) {
	logs := plane.NewLogs(&p.cfg.Global, p.log)
	p.closeAtExit(logs.Close)
	return plane.Start(p.cfg, planeListeners(p.lns), plane.Options{
		Logger:         p.log,
		Maxconn:        p.args.Maxconn,
		ProxyMaxconn:   p.args.ProxyMaxconn,
		OnServerChange: p.serversChanged,
		Logs:           logs,
		TicketKeys:     p.lns.TicketKeys(),
	})
}

// planeListeners are the frontends' listeners of s, as the data plane serves them.
func planeListeners(s *listener.Set) []plane.Listener {
	var out []plane.Listener
	for _, e := range s.Frontends() {
		out = append(out, plane.Listener{Frontend: e.Frontend, Bind: e.Bind, L: e.Listener})
	}
	return out
}
