package plane

import (
	"weak"

	"lb/internal/config"
	"lb/internal/proxy"
	"lb/internal/stats"
)

// The runtime API's "show stat" reads the same counters as the statistics page, whether
// or not the configuration has a page.

// recordFrontend records f, the running frontend of fe, for "show stat".
func (g *Generation) recordFrontend(cfg *config.Config, fe *config.Proxy, f *proxy.Frontend) {
	st := g.statsState(cfg)
	st.mu.Lock()
	st.fronts[fe] = weak.Make(f)
	st.mu.Unlock()
}

// Stats returns the counters of every enabled proxy, as the statistics page shows them.
func (g *Generation) Stats() *stats.Snapshot {
	v, ok := statsStates.Load(weak.Make(g))
	if !ok {
		return &stats.Snapshot{}
	}
	return g.statsSnapshot(v.(*statsState))
}
