package plane

import (
	"net/netip"
	"os"
	"runtime"
	"sync"
	"time"
	"weak"

	"lb/internal/config"
	"lb/internal/health"
	"lb/internal/http1"
	"lb/internal/proxy"
	"lb/internal/stats"
	"lb/internal/version"

	"golang.org/x/sys/unix"
)

// The statistics page ("stats enable" in a mode http proxy). A backend or a
// listen section with a page gets an applet (statsApplet) that answers the
// requests under the page's URI after the http-request rules, as HAProxy's
// stats_check_uri does; a frontend with a page and no backend to switch to
// gets a backend of its own without servers carrying that applet
// (statsRoute), so that its other requests get a 503 as in HAProxy. A
// frontend with a page that switches to a backend is refused by CheckHTTP:
// HAProxy answers the page before switching, lb's applets are on backends.

// processStart is when the process started, for the page's uptime.
var processStart = time.Now()

// statsState is what a generation's pages read besides its backends: its
// configuration and its frontends. It is found from the generation through
// statsStates, keyed by a weak pointer so that a generation that is done can
// be collected; for the same reason it holds its frontends weakly (a served
// frontend is held by the generation's bindings).
type statsState struct {
	cfg *config.Config
	// rates samples the counters of the generation's snapshots (rates.go).
	rates    *rateSampler
	stopOnce sync.Once // closes rates.stop
	mu       sync.Mutex
	fronts   map[*config.Proxy]weak.Pointer[proxy.Frontend]
}

// statsStates maps weak.Pointer[Generation] to *statsState.
var statsStates sync.Map

// hasStats reports whether a proxy of cfg has a statistics page.
func hasStats(cfg *config.Config) bool {
	for _, px := range cfg.Proxies {
		if px.Stats.Enabled && px.Mode == config.ModeHTTP && !px.Disabled {
			return true
		}
	}
	return false
}

// statsState returns the generation's statsState, made on first use.
func (g *Generation) statsState(cfg *config.Config) *statsState {
	k := weak.Make(g)
	if v, ok := statsStates.Load(k); ok {
		return v.(*statsState)
	}
	st := &statsState{cfg: cfg, rates: newRateSampler(), fronts: map[*config.Proxy]weak.Pointer[proxy.Frontend]{}}
	if v, loaded := statsStates.LoadOrStore(k, st); loaded {
		return v.(*statsState)
	}
	runtime.AddCleanup(g, func(k weak.Pointer[Generation]) { statsStates.Delete(k) }, k)
	return st
}

// usesPrometheus reports whether a proxy of cfg has an "http-request
// use-service prometheus-exporter" rule (the only service the
// configuration lets through).
func usesPrometheus(cfg *config.Config) bool {
	for _, px := range cfg.Proxies {
		if px.Disabled || px.Mode != config.ModeHTTP {
			continue
		}
		for _, r := range px.HTTPRequest {
			if r.Action == "use-service" {
				return true
			}
		}
	}
	return false
}

// prometheus returns the exporter of the generation's "http-request
// use-service prometheus-exporter" rules, nil when cfg has none: HAProxy's
// metrics rendered from the snapshot the pages show.
func (g *Generation) prometheus(cfg *config.Config) func([]byte) ([]byte, bool) {
	if !usesPrometheus(cfg) {
		return nil
	}
	st := g.statsState(cfg)
	threads := cfg.Global.Threads()
	return func(target []byte) ([]byte, bool) {
		o, ok := stats.ParsePromQuery(string(target))
		if !ok {
			return nil, false
		}
		info := stats.PromInfo{Version: version.Version, Threads: threads, Stopping: g.eng.Stopping(), Start: processStart}
		if g.processInfo != nil {
			info.Fields = g.processInfo(g)
		}
		return stats.Prometheus(g.statsSnapshot(st), &info, &o), true
	}
}

// statsFrontend records f, the running frontend of fe, for the pages'
// FRONTEND lines and the exporter's frontend metrics.
func (g *Generation) statsFrontend(cfg *config.Config, fe *config.Proxy, f *proxy.Frontend) {
	if !hasStats(cfg) && !usesPrometheus(cfg) {
		return
	}
	st := g.statsState(cfg)
	st.mu.Lock()
	st.fronts[fe] = weak.Make(f)
	st.mu.Unlock()
}

// statsRoute returns the backend chooser of frontend fe: next, or for a mode
// http frontend with a page and no backend, a backend of its own, named
// after it, whose applet is the page.
func (g *Generation) statsRoute(cfg *config.Config, fe *config.Proxy, next func(*proxy.ConnInfo) *proxy.Backend) func(*proxy.ConnInfo) *proxy.Backend {
	if !fe.Stats.Enabled || fe.Mode != config.ModeHTTP || fe.Cap&config.CapBackend != 0 ||
		fe.DefaultBackend != "" || len(fe.UseBackends) > 0 {
		return next
	}
	bc := proxy.BackendConfig{Name: fe.Name, HTTP: httpBackend(cfg, fe)}
	bc.HTTP.Applet = g.statsApplet(cfg, fe)
	be, err := proxy.NewBackend(bc)
	if err != nil {
		return next
	}
	return func(*proxy.ConnInfo) *proxy.Backend { return be }
}

// statsApplet returns the applet of px's page, nil when px has none.
func (g *Generation) statsApplet(cfg *config.Config, px *config.Proxy) proxy.Applet {
	if !px.Stats.Enabled || px.Mode != config.ModeHTTP {
		return nil
	}
	st := g.statsState(cfg)
	page := stats.NewPage(statsConfig(cfg, px))
	admin := g.statsAdmin(cfg, px) // statsadmin.go
	return func(req *http1.Message, _ netip.AddrPort, closing bool, txn proxy.AppletTxn) []byte {
		auth, _ := req.Header.Get("authorization")
		var adm func() *stats.Admin
		if admin != nil {
			adm = admin(txn)
		}
		return page.ServeAdmin(string(req.Method), string(req.URI), auth, closing, func() *stats.Snapshot {
			return g.statsSnapshot(st)
		}, adm)
	}
}

// statsConfig converts px's "stats" lines.
func statsConfig(cfg *config.Config, px *config.Proxy) stats.Config {
	s := &px.Stats
	c := stats.Config{URI: s.URI, Realm: s.Realm, Auths: s.Auths, Refresh: s.Refresh,
		HideVersion: s.HideVersion, ShowLegends: s.ShowLegends, Node: s.ShowNode, Desc: s.ShowDesc,
		Scope: s.Scope, Self: px.Name, Version: version.Version}
	if c.Node == "(hostname)" {
		c.Node = cfg.Global.Node
		if c.Node == "" {
			c.Node, _ = os.Hostname()
		}
	}
	return c
}

// proxyIDs returns HAProxy's proxy ids (iid) of cfg's proxies: with a stats
// socket, the runtime API's own proxy takes the first automatic id (see
// stateProxyIDs; measured: "show stat" and "show errors" number a first
// frontend 2 then).
func proxyIDs(cfg *config.Config) map[*config.Proxy]int { return stateProxyIDs(cfg) }

// statsSnapshot reads the counters of every enabled proxy of the
// generation for its pages, and their rates.
func (g *Generation) statsSnapshot(st *statsState) *stats.Snapshot {
	s := g.counters(st)
	ssl, keys := g.eng.SSLCounts()
	st.rates.fill(time.Now(), s, ssl, keys)
	s.Rates.ConnLimit, s.Rates.SessLimit, s.Rates.SSLLimit = g.eng.ConnRateLimit(), g.eng.SessRateLimit(), g.eng.SSLRateLimit()
	return s
}

// startRates starts sampling the generation's counters for their rates, until
// stopRates.
func (g *Generation) startRates(st *statsState) {
	go st.rates.run(func() (*stats.Snapshot, uint64, uint64) {
		ssl, keys := g.eng.SSLCounts()
		return g.counters(st), ssl, keys
	})
}

// stopRates ends the sampling of the generation's counters, if it started.
func (g *Generation) stopRates() {
	if v, ok := statsStates.Load(weak.Make(g)); ok {
		st := v.(*statsState)
		st.stopOnce.Do(func() { close(st.rates.stop) })
	}
}

// counters reads the counters of every enabled proxy of the generation.
func (g *Generation) counters(st *statsState) *stats.Snapshot {
	cfg := st.cfg
	s := &stats.Snapshot{PID: os.Getpid(), Uptime: time.Since(processStart),
		Sessions: g.eng.ActiveSessions(), Maxconn: cfg.Global.Maxconn, CPU: processCPU()}
	if n, ok := g.eng.Maxconn(); ok {
		s.Maxconn = n // as the runtime API may have set it
	}
	ids := proxyIDs(cfg)
	noComp, noHTTP := true, true
	for _, px := range cfg.Proxies {
		if !px.Disabled {
			noComp = noComp && len(px.Compression.Algos) == 0
			noHTTP = noHTTP && px.Mode != config.ModeHTTP
		}
	}
	for _, px := range cfg.Proxies {
		if px.Disabled {
			continue
		}
		p := stats.Proxy{Name: px.Name, ID: ids[px], Mode: string(px.Mode), Algo: px.Balance.Algorithm}
		if p.Mode == "" {
			p.Mode = string(config.ModeTCP)
		}
		if p.Algo == "" {
			p.Algo = "roundrobin"
		}
		if px.Cap&config.CapFrontend != 0 {
			f := &stats.Frontend{Limit: px.Maxconn, Off: stats.Off{Comp: noComp, SSL: !bindsTLS(px),
				H1: noHTTP, H2: true}}
			if f.Limit == 0 {
				// HAProxy gives a frontend without maxconn the process's,
				// derived from the limit of open files when not set.
				f.Limit = g.maxconn
			}
			f.Paused = g.frontendPaused != nil && g.frontendPaused(px.Name)
			st.mu.Lock()
			wf := st.fronts[px]
			st.mu.Unlock()
			if fr := wf.Value(); fr != nil {
				if n, ok := fr.Maxconn(); ok {
					f.Limit = n // as the runtime API may have set it
				}
				fs := fr.Stats()
				f.Cur, f.Total, f.BytesIn, f.BytesOut = fs.Cur, fs.Total, fs.BytesIn, fs.BytesOut
				f.Requests, f.RateLimit = fs.Requests, fr.RateLimitSessions()
				f.DeniedReq, f.DeniedConn, f.DeniedSess = fs.DeniedReq, fs.DeniedConn, fs.DeniedSess
				f.DeniedResp, f.FailedReq, f.Max = fs.DeniedResp, fs.FailedReq, fs.Max
				f.HTTP = httpStats(&fs.HTTP)
			}
			p.Frontend = f
		}
		if px.Cap&config.CapBackend != 0 {
			p.Backend = g.backendStats(px, g.backends[px.Name])
			p.Backend.Limit = g.fullconn[px.Name]
			p.Backend.Off.Comp, p.Backend.Off.H2 = noComp, true
			p.Backend.Off.H1 = noHTTP && !httpChecks(px)
		}
		s.Proxies = append(s.Proxies, p)
	}
	g.trackStats(s)
	return s
}

// trackStats fills the tracking servers' "tracked" column, and points each at
// the end of its chain, whose checks its status shows.
func (g *Generation) trackStats(s *stats.Snapshot) {
	byName := map[string]*stats.Server{}
	for i := range s.Proxies {
		if b := s.Proxies[i].Backend; b != nil {
			for j := range b.Servers {
				byName[s.Proxies[i].Name+"/"+b.Servers[j].Name] = &b.Servers[j]
			}
		}
	}
	g.admMu.Lock()
	defer g.admMu.Unlock()
	for _, rt := range g.rts {
		if rt.track == nil {
			continue
		}
		sv := byName[rt.px.Name+"/"+rt.cfg.Name]
		if sv == nil {
			continue
		}
		sv.Tracked = rt.track.px.Name + "/" + rt.track.cfg.Name
		sv.MaintVia = rt.imaint && !rt.fmaint && !rt.rmaint
		ref := rt.track
		for ref.track != nil {
			ref = ref.track
		}
		sv.Ref = byName[ref.px.Name+"/"+ref.cfg.Name]
	}
}

// bindsTLS reports whether a bind line of px has "ssl".
func bindsTLS(px *config.Proxy) bool {
	for _, b := range px.Binds {
		if b.TLS != nil {
			return true
		}
	}
	return false
}

// httpChecks reports whether px's health checks may speak HTTP: option
// httpchk, or tcp-check rules (which may connect with "proto h1").
func httpChecks(px *config.Proxy) bool {
	return px.Check.Type == "httpchk" || len(px.Check.HTTPCheck) > 0 || len(px.Check.TCPCheck) > 0
}

// processCPU returns the processor time the process used so far, user and system
// (0 when unknown): one system call, made once a second by the rate sampler and at each
// read of the counters.
func processCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendStats reads be, the running backend of px.
func (g *Generation) backendStats(px *config.Proxy, be *proxy.Backend) *stats.Backend {
	b := &stats.Backend{AllBackups: px.Options["allbackups"]}
	if be == nil {
		return b
	}
	bs := be.Stats()
	b.Cur, b.Queue, b.MaxQueue, b.Total = bs.Cur, bs.Queue, bs.MaxQueue, bs.Total
	b.BytesIn, b.BytesOut, b.DeniedReq, b.DeniedResp = bs.BytesIn, bs.BytesOut, bs.DeniedReq, bs.DeniedResp
	b.Retries, b.Redispatches, b.NoServer = bs.Retries, bs.Redispatches, bs.NoServer
	b.CliAborts, b.SrvAborts, b.RespErrors = bs.CliAborts, bs.SrvAborts, bs.RespErrors
	b.Max, b.Connects = bs.Max, bs.Connects
	b.HTTP, b.Times = httpStats(&bs.HTTP), stats.Times(bs.Times)
	now := time.Now().Unix()
	b.Off.SSL = true
	b.LastChange, b.Downtime, b.DownTrans, b.LBTotal = now-bs.LastChange, bs.Downtime(now), bs.DownTrans, bs.LBTotal
	for _, rt := range g.backendRTs(be) {
		srv, cs := rt.srv, rt.cfg
		c := g.checker(srv)
		var ss proxy.ServerStats
		var st health.Stat
		if c != nil {
			c.Stable(func() { ss, st = srv.Stats(), c.Stat() })
		} else {
			ss = srv.Stats()
		}
		g.admMu.Lock()
		chkOff := rt.chkOff // "disable health": "no check", as HAProxy
		agentOn := rt.agentEnabled()
		rmaint := rt.rmaint
		g.admMu.Unlock()
		sv := stats.Server{Name: cs.Name, ID: srv.ID(), Addr: srvAddrString(srv), Checked: cs.Check && !cs.Unresolved && !chkOff,
			Rise: cs.Rise, Fall: cs.Fall, Backup: cs.Backup, Weight: ss.Weight,
			Cur: ss.Cur, Max: ss.Max, Limit: max(srv.Maxconn(), 0), Queue: ss.Queue, MaxQueue: ss.MaxQueue, QueueLimit: cs.Maxqueue,
			Total: ss.Total, BytesIn: ss.BytesIn, BytesOut: ss.BytesOut, Failed: ss.Failed,
			Retries: ss.Retries, Redispatches: ss.Redispatches,
			CliAborts: ss.CliAborts, SrvAborts: ss.SrvAborts, RespErrors: ss.RespErrors, DeniedResp: ss.DeniedResp,
			Connects: ss.Connects, Reuses: ss.Reuses,
			LastChange: now - ss.LastChange, Downtime: ss.Downtime(now), DownTrans: ss.DownTrans, LBTotal: ss.LBTotal}
		sv.EWeight, sv.Throttle = ss.EWeight, max(ss.Throttle, 0)
		sv.NoSSL = cs.TLS == nil && cs.CheckTLS == nil
		sv.Observe, sv.HANAFail = cs.Observe == "layer4" || cs.Observe == "layer7", srv.HANAFailed()
		sv.HTTP, sv.Times = httpStats(&ss.HTTP), stats.Times(ss.Times)
		cn := srv.ConnStats()
		sv.Idle = stats.Idle{Unsafe: cn.Unsafe, Safe: cn.Safe, Used: cn.Used, NeedEst: cn.NeedEst,
			Limit: cn.IdleLim, Limited: cn.IdleLim >= 0}
		b.Off.SSL = b.Off.SSL && sv.NoSSL
		if c != nil {
			if sv.Checked && !c.Paused() {
				sv.Check = checkStats(st, ss.State == proxy.StateMaint)
			}
			if agentOn && c.HasAgent() {
				sv.Agent = agentStats(st)
			}
		}
		switch ss.State {
		case proxy.StateDown:
			sv.State = stats.Down
		case proxy.StateMaint:
			sv.State = stats.Maint
			sv.MaintResolution = rmaint
		case proxy.StateDrain:
			sv.State = stats.Drain
		case proxy.StateNoLB:
			sv.State = stats.NoLB
		}
		b.Servers = append(b.Servers, sv)
	}
	return b
}

// httpStats converts the engine's HTTP counters for the stats.
func httpStats(h *proxy.HTTPStats) stats.HTTP {
	return stats.HTTP{Rsp: h.Rsp, Requests: h.Requests, Intercepted: h.Intercepted,
		CacheLookups: h.CacheLookups, CacheHits: h.CacheHits,
		CompIn: h.CompIn, CompOut: h.CompOut, CompByp: h.CompByp, CompRsp: h.CompResps}
}

// checkStats converts a checker's state for the check columns; paused: the
// server is in maintenance.
func checkStats(st health.Stat, paused bool) *stats.Check {
	r := st.Last
	return &stats.Check{Paused: paused, Status: r.Status.String(), Running: st.Running,
		Code: r.Code, HasCode: r.Status.HasCode(), Duration: r.Duration, Done: r.Status > health.StatusInit,
		Desc: r.Status.Description(), Info: r.Info, Health: st.Health, Failed: st.Failed}
}

// agentStats converts a checker's agent state for the agent columns.
func agentStats(st health.Stat) *stats.Check {
	r := st.AgentLast
	return &stats.Check{Status: r.Status.String(), Running: st.AgentRunning,
		Code: r.Code, HasCode: r.Status.HasCode(), Duration: r.Duration, Done: r.Status > health.StatusInit,
		Desc: r.Status.Description(), Info: r.Info, Health: st.AgentHealth}
}
