package plane

import (
	"net/url"
	"strconv"
	"strings"
	"sync"

	"lb/internal/config"
	"lb/internal/proxy"
	"lb/internal/rules"
	"lb/internal/stats"
)

// "stats admin { if | unless } <cond>": the statistics page's admin forms and
// the POSTs they send, as HAProxy 2.6's stats_process_http_post carries them
// out, through Control.
//
// The page offers the actions of HAProxy's form that lb carries out:
// set state to READY, DRAIN or MAINT, disable or enable the health checks,
// kill the sessions. It does not offer, and a POST of them changes nothing
// and is answered "invalid parameters" (ERRP): the actions forcing a
// server's health UP, NOLB or DOWN ("hrunn", "hnolb", "hdown": Control
// has no such change), those of agent checks ("dagent", "eagent",
// "arunn", "adown": lb has no agent checks), and the older names HAProxy
// still takes ("disable", "enable", "stop", "start").

// statsActions are the choices of the page's action list: HAProxy's, in
// its order, but those lb does not carry out.
var statsActions = []stats.Action{
	{Value: "", Label: ""},
	{Value: "ready", Label: "Set state to READY"},
	{Value: "drain", Label: "Set state to DRAIN"},
	{Value: "maint", Label: "Set state to MAINT"},
	{Value: "dhlth", Label: "Health: disable checks"},
	{Value: "ehlth", Label: "Health: enable checks"},
	{Value: "shutdown", Label: "Kill Sessions"},
}

// statsAdmin returns what "stats admin" of px gives a request of its page,
// nil when px has none. The condition is compiled on first use, against
// the generation's backends, with px's ACLs.
func (g *Generation) statsAdmin(cfg *config.Config, px *config.Proxy) func(proxy.AppletTxn) func() *stats.Admin {
	if px.Stats.Admin == nil {
		return nil
	}
	var (
		once sync.Once
		rp   *rules.Proxy
	)
	return func(txn proxy.AppletTxn) func() *stats.Admin {
		return func() *stats.Admin {
			once.Do(func() {
				r, errs := rules.Compile(cfg, px, ruleEnv(g.backends), g.ropt)
				if len(errs) == 0 {
					rp = r
				}
			})
			a := &stats.Admin{Allowed: rp != nil && rp.StatsAdmin(txn.Stream()), Actions: statsActions}
			a.Post = func() (string, bool) {
				body, complete, ok := txn.Body()
				if !ok {
					return "", true
				}
				if !complete {
					return "EXCD", false
				}
				return g.statsPost(cfg, string(body)), false
			}
			return a
		}
	}
}

// statsPost carries out a POST of the admin form and returns HAProxy's
// verdict. As HAProxy, it reads the parameters from the last: the last "b"
// (backend, by name or "#id") and "action" count, and every "s" (server)
// is acted on once both are known.
func (g *Generation) statsPost(cfg *config.Config, body string) string {
	params := strings.Split(body, "&")
	be, action := "", ""
	var bpx *config.Proxy
	total, altered := 0, 0
	pending := -1 // the first "s" met before the backend and the action
	for i := len(params) - 1; i >= 0; i-- {
		p := params[i]
		if len(p) >= 2048 { // HAProxy's key buffer
			return "ERRP"
		}
		k, v, _ := strings.Cut(p, "=")
		key, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			break
		}
		switch {
		case bpx == nil && key == "b":
			if bpx = statsBackend(cfg, value); bpx == nil || g.backends[bpx.Name] == nil {
				return "ERRP"
			}
			be = bpx.Name
		case action == "" && key == "action":
			if !statsKnownAction(value) {
				return "ERRP"
			}
			action = value
		case key == "s":
			if bpx == nil || action == "" {
				if pending < 0 {
					pending = i
				}
			} else if done, known := g.statsAct(be, value, action); done {
				total++
				altered++
			} else if !known {
				total++
			}
		}
		if pending >= 0 && bpx != nil && action != "" {
			i, pending = pending+1, -1
		}
	}
	switch {
	case total == 0:
		return "NONE"
	case altered == 0:
		return "ERRP"
	case altered == total:
		return "DONE"
	}
	return "PART"
}

// statsKnownAction reports whether lb carries out the form's action a.
func statsKnownAction(a string) bool {
	for _, x := range statsActions {
		if x.Value == a && a != "" {
			return true
		}
	}
	return false
}

// statsBackend finds the backend of a form's "b": its name, or "#" and its
// id, as HAProxy's proxy_be_by_name.
func statsBackend(cfg *config.Config, name string) *config.Proxy {
	ids := proxyIDs(cfg)
	for _, px := range cfg.Proxies {
		if px.Disabled || px.Cap&config.CapBackend == 0 {
			continue
		}
		if px.Name == name || strings.HasPrefix(name, "#") && name[1:] == strconv.Itoa(ids[px]) {
			return px
		}
	}
	return nil
}

// statsAct carries out action on server name of backend be. As in
// HAProxy, done says the server counts as changed: a state change always
// does, the health checks' only on a server that has some, a kill of the
// sessions always. known is false for a server the backend does not have,
// which counts as not changed; a server known and not changed does not
// count.
func (g *Generation) statsAct(be, name, action string) (done, known bool) {
	_, srv, err := g.server(be, name)
	if err != nil {
		return false, false
	}
	switch action {
	case "ready":
		return g.SetServerAdmin(be, name, AdminReady) == nil, true
	case "drain":
		return g.SetServerAdmin(be, name, AdminDrain) == nil, true
	case "maint":
		return g.SetServerAdmin(be, name, AdminMaint) == nil, true
	case "dhlth", "ehlth":
		g.admMu.Lock()
		rt := g.rtBySrv[srv]
		checked := rt != nil && rt.cfg.Check
		g.admMu.Unlock()
		if !checked {
			return false, true
		}
		return g.SetServerChecks(be, name, action == "ehlth") == nil, true
	case "shutdown":
		_, err := g.ShutdownServerSessions(be, name)
		return err == nil, true
	}
	return false, true
}
