package plane

import (
	"weak"

	"lb/internal/config"
	"lb/internal/proxy"
)

// ErrorCaptures is what "show errors" reads: the last request and the last
// response each proxy could not parse.
type ErrorCaptures interface {
	// InvalidMessages returns every enabled proxy in the configuration's
	// order with its last invalid request (a frontend's) and response (a
	// backend's), nil where none.
	InvalidMessages() []ProxyErrors
}

var _ ErrorCaptures = (*Generation)(nil)

// LoopActivity is an event loop's counters (proxy.LoopActivity).
type LoopActivity = proxy.LoopActivity

// ProxyErrors is a proxy's last invalid messages.
type ProxyErrors struct {
	// Name and ID are the proxy's name and HAProxy's proxy id (iid).
	Name string
	ID   int
	// Request and Response are nil when none was captured.
	Request, Response *proxy.ErrorSnapshot
}

// InvalidMessages implements ErrorCaptures.
func (g *Generation) InvalidMessages() []ProxyErrors {
	v, ok := statsStates.Load(weak.Make(g))
	if !ok {
		return nil
	}
	st := v.(*statsState)
	ids := proxyIDs(st.cfg)
	var out []ProxyErrors
	for _, px := range st.cfg.Proxies {
		if px.Disabled {
			continue
		}
		pe := ProxyErrors{Name: px.Name, ID: ids[px]}
		if px.Cap&config.CapFrontend != 0 {
			st.mu.Lock()
			wf := st.fronts[px]
			st.mu.Unlock()
			if f := wf.Value(); f != nil {
				pe.Request = f.LastInvalidRequest()
			}
		}
		if px.Cap&config.CapBackend != 0 {
			if be := g.backends[px.Name]; be != nil {
				pe.Response = be.LastInvalidResponse()
			}
		}
		out = append(out, pe)
	}
	return out
}

// ActivityView is what "show activity" reads of the event loops.
type ActivityView interface {
	// Activity returns each event loop's counters, none before a frontend
	// is served on the loops.
	Activity() []proxy.LoopActivity
}

var _ ActivityView = (*Generation)(nil)

// Activity implements ActivityView.
func (g *Generation) Activity() []proxy.LoopActivity { return g.eng.Activity() }
