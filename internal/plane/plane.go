package plane

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"lb/internal/balance"
	"lb/internal/config"
	"lb/internal/health"
	"lb/internal/proxy"
)

// Start builds the backends and frontends of cfg, starts serving every frontend on its
// listeners in lns, and starts the health checks. On error, what was started is stopped:
// the frontends stop accepting.
func Start(cfg *config.Config, lns []Listener, opts Options) (*Generation, error) {
	maxconn := cfg.Global.Maxconn
	if opts.Maxconn > 0 {
		maxconn = opts.Maxconn
	}
	g := &Generation{log: opts.Logger, onServerChange: opts.OnServerChange, onAdminChange: opts.OnAdminChange,
		frontendPaused: opts.FrontendPaused, logs: opts.Logs, backends: map[string]*proxy.Backend{},
		ptypes: map[string]string{}}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.logs == nil {
		g.logs, g.ownLogs = NewLogs(&cfg.Global, g.log), true
	}
	threads := cfg.Global.Threads()
	g.eng = proxy.NewEngine(proxy.EngineConfig{Maxconn: maxconn, MaxConnRate: cfg.Global.MaxConnRate, MaxSessRate: cfg.Global.MaxSessRate, MaxSSLRate: cfg.Global.MaxSSLRate, Logger: g.log, BufSize: cfg.Global.TuneBufsize,
		Threads: threads, CPUs: cfg.Global.ThreadCPUs(threads), NoSplice: cfg.Global.NoSplice || opts.NoSplice})
	g.ticketKeys = opts.TicketKeys
	g.processInfo = opts.ProcessInfo
	g.ropt = ruleOptions(cfg)
	ropt := g.ropt
	full := fullconns(cfg, maxconn, opts.ProxyMaxconn)
	g.maxconn, g.fullconn = maxconn, full
	for _, px := range cfg.Backends() {
		bc := backendConfig(px)
		bc.Fullconn = full[px.Name]
		for i, s := range px.Servers {
			if err := serverTLS(cfg, px, s, ruleEnv(g.backends), ropt, &bc.Servers[i]); err != nil {
				return nil, err
			}
		}
		bc.HTTP = httpBackend(cfg, px)
		bc.HTTP.Applet = g.statsApplet(cfg, px)
		bc.BalanceArgs = px.Balance.Args
		cookieBackend(px, &bc)
		ht, err := balance.ParseHashType(px.HashType)
		if err != nil {
			return nil, fmt.Errorf("%s: backend %q: %w", px.Pos, px.Name, err)
		}
		bc.BalanceOptions.HashType = ht
		bc.BalanceOptions.HashBalanceFactor = px.HashBalanceFactor
		bc.OnWarmedUp = g.warmedUp
		be, err := proxy.NewBackend(bc)
		if err != nil {
			return nil, fmt.Errorf("%s: backend %q: %w", px.Pos, px.Name, err)
		}
		g.backends[px.Name] = be
		g.ptypes[px.Name] = health.ProxyType(px.Cap&config.CapFrontend != 0, true)
		g.order = append(g.order, be)
	}
	// Server state from files and from the previous process, before any
	// traffic or check.
	g.initServers(cfg)
	g.loadStateFiles(cfg)
	if opts.CarriedState != nil {
		g.ApplyCarried(opts.CarriedState, opts.CarriedFrom)
	}
	g.inheritAll() // the trackers follow the states loaded
	if err := g.startFrontends(cfg, lns, opts.ProxyMaxconn); err != nil {
		g.abort()
		return nil, err
	}
	g.startRates(g.statsState(cfg)) // for "show stat"
	startChecks(g, cfg)
	g.startAddedChecks()
	g.resolvers = startResolvers(g, cfg)
	return g, nil
}

// startFrontends is the per-frontend assembly: for every enabled frontend of cfg, a
// proxy.Frontend with its backend choice (router), its HTTP settings in mode http, and its
// log hook, serving on the frontend's listeners in lns.
// proxyMaxconn is the maxconn of a frontend that sets none (0: none).
func (g *Generation) startFrontends(cfg *config.Config, lns []Listener, proxyMaxconn int) error {
	if errs := CheckHTTP(cfg); len(errs) > 0 {
		return errs[0]
	}
	if errs := CheckServerTLS(cfg); len(errs) > 0 {
		return errs[0]
	}
	if errs := CheckHealthRules(cfg); len(errs) > 0 {
		return errs[0]
	}
	ropt := g.ropt
	feRules, err := compileRules(cfg, g.backends, ropt)
	if err != nil {
		return err
	}
	logger := newTrafficLogger(g, cfg)
	for _, fe := range cfg.Frontends() {
		if fe.Disabled {
			continue
		}
		fmts, errs := compileFormats(cfg, fe, ruleEnv(g.backends), ropt)
		if len(errs) > 0 {
			return errs[0]
		}
		fc := proxy.FrontendConfig{
			Name:                   fe.Name,
			Maxconn:                fe.Maxconn,
			RateLimitSessions:      fe.RateLimitSessions,
			TimeoutClient:          fe.Timeouts.Client,
			TimeoutClientFin:       fe.Timeouts.ClientFin,
			Backend:                g.router(fe),
			Rules:                  feRules[fe],
			Log:                    logger.forFrontend(fe, fmts),
			ClientKeepAlive:        fe.Options["clitcpka"] || fe.Options["tcpka"],
			ClientKeepAliveTimings: proxy.TCPKeepAlive(fe.CliTCPKA),
		}
		fc.LogStream = fc.Log != nil && fmts.samples()
		if fe.Mode == config.ModeHTTP {
			fc.HTTP = httpFrontend(cfg, fe)
			fc.HTTP.UniqueID = uniqueIDHook(fmts.uid)
			fc.HTTP.Prometheus = g.prometheus(cfg)
			fc.HTTP.Caches = g.caches(cfg)
			if fe.Cap&config.CapBackend == 0 {
				fc.HTTP.Applet = g.statsApplet(cfg, fe) // a listen's is its backend's
			}
		}
		fc.Backend = g.statsRoute(cfg, fe, fc.Backend)
		if fc.Maxconn == 0 && proxyMaxconn > 0 {
			fc.Maxconn = proxyMaxconn
		}
		f, err := g.eng.NewFrontend(fc)
		if err != nil {
			return fmt.Errorf("%s: frontend %q: %w", fe.Pos, fe.Name, err)
		}
		g.statsFrontend(cfg, fe, f)
		g.recordFrontend(cfg, fe, f)
		rank := 0
		for _, b := range lns {
			if b.Frontend != fe {
				continue
			}
			rank++
			id := b.Bind.ID
			if id == 0 {
				id = rank
			}
			g.serving = append(g.serving, f.Serve(b.L, proxy.BindConfig{Name: b.Bind.Name, ID: id, AcceptProxy: b.Bind.AcceptProxy, Maxconn: b.Bind.Maxconn,
				TLS: g.bindTLS(cfg, b.Bind)}))
		}
	}
	return nil
}

// router returns the frontend's backend when no use_backend rule chose one: default_backend,
// or the listen section's own backend. In mode tcp the rules (compileRules) run use_backend;
// a mode http proxy, served as a TCP tunnel, still takes its first unconditional use_backend.
func (g *Generation) router(fe *config.Proxy) func(*proxy.ConnInfo) *proxy.Backend {
	var be *proxy.Backend
	if fe.Cap&config.CapBackend != 0 {
		be = g.backends[fe.Name]
	}
	if fe.DefaultBackend != "" {
		be = g.backends[fe.DefaultBackend]
	}
	if fe.Mode == config.ModeHTTP {
		for _, ub := range fe.UseBackends {
			if ub.Cond == nil && !ub.Dynamic {
				if b := g.backends[ub.Backend]; b != nil {
					be = b
					break
				}
			}
		}
	}
	return func(*proxy.ConnInfo) *proxy.Backend { return be }
}

// fullconns is every backend's fullconn: its own, else HAProxy's default (proxy.c
// proxy_adjust_all_maxconn): 10% (rounded up, at least 1) of the sum of the maxconn of the
// frontends that may send connections to it, by default_backend, by a use_backend rule
// naming it (once per frontend), or as a listen section's own. A frontend's maxconn is its
// own, else proxyMaxconn (-N), else the process's maxconn.
func fullconns(cfg *config.Config, maxconn, proxyMaxconn int) map[string]int {
	tot := map[string]int{}
	for _, fe := range cfg.Frontends() {
		if fe.Disabled {
			continue
		}
		mc := fe.Maxconn
		if mc == 0 {
			mc = proxyMaxconn
		}
		if mc == 0 {
			mc = maxconn
		}
		switch {
		case fe.DefaultBackend != "":
			tot[fe.DefaultBackend] += mc
		case fe.Cap&config.CapBackend != 0:
			tot[fe.Name] += mc
		}
		seen := map[string]bool{fe.DefaultBackend: true}
		for _, ub := range fe.UseBackends {
			if !ub.Dynamic && !seen[ub.Backend] {
				seen[ub.Backend] = true
				tot[ub.Backend] += mc
			}
		}
	}
	out := map[string]int{}
	for _, px := range cfg.Backends() {
		out[px.Name] = px.Fullconn
		if px.Fullconn == 0 {
			out[px.Name] = max((tot[px.Name]+9)/10, 1)
		}
	}
	return out
}

func backendConfig(px *config.Proxy) proxy.BackendConfig {
	bc := proxy.BackendConfig{
		Name:                   px.Name,
		Balance:                px.Balance.Algorithm,
		BalanceOptions:         balance.Options{AllBackups: px.Options["allbackups"]},
		TimeoutConnect:         px.Timeouts.Connect,
		TimeoutServer:          px.Timeouts.Server,
		TimeoutServerFin:       px.Timeouts.ServerFin,
		TimeoutTunnel:          px.Timeouts.Tunnel,
		TimeoutQueue:           px.Timeouts.Queue,
		Retries:                px.Retries,
		RetryOn:                proxy.ParseRetryOn(px.RetryOn),
		Redispatch:             px.Options["redispatch"],
		RedispatchInterval:     px.RedispatchInterval,
		ServerKeepAlive:        px.Options["srvtcpka"] || px.Options["tcpka"],
		ServerKeepAliveTimings: proxy.TCPKeepAlive(px.SrvTCPKA),
		NoLinger:               px.Options["nolinger"],
	}
	if px.Balance.Algorithm == "random" && len(px.Balance.Args) > 0 {
		if n, err := strconv.Atoi(px.Balance.Args[0]); err == nil {
			bc.BalanceOptions.Draws = n
		}
	}
	for _, s := range px.Servers {
		bc.Servers = append(bc.Servers, serverConfig(s))
	}
	bc.Source = sourceConfig(px.Source)
	bc.Dispatch = px.Dispatch
	return bc
}

// sourceConfig converts a "source" line; nil stays nil.
func sourceConfig(s *config.Source) *proxy.Source {
	if s == nil {
		return nil
	}
	ps := &proxy.Source{Addr: s.Addr, UseAddr: s.UseAddr, Header: s.Hdr, Occ: s.Occ, Interface: s.Interface}
	switch s.UseSrc {
	case "client":
		ps.Use = proxy.SourceClient
	case "clientip":
		ps.Use = proxy.SourceClientIP
	case "addr":
		ps.Use = proxy.SourceAddr
	case "hdr_ip":
		ps.Use = proxy.SourceHeader
	}
	return ps
}

// serverConfig converts a server line.
func serverConfig(s *config.Server) proxy.ServerConfig {
	sc := proxy.ServerConfig{
		Name:        s.Name,
		ID:          s.ID,
		Weight:      s.Weight,
		Backup:      s.Backup,
		Maxconn:     s.Maxconn,
		Maxqueue:    s.Maxqueue,
		Minconn:     s.Minconn,
		Slowstart:   s.Slowstart,
		UserTimeout: time.Duration(s.TCPUserTimeout) * time.Millisecond,
		Redir:       s.Redir,
		NonStick:    s.NonStick,
		Disabled:    s.Disabled || s.Unresolved,
	}
	// HAProxy turns a minconn above maxconn into the maxconn.
	if s.Minconn > s.Maxconn {
		sc.Maxconn = s.Minconn
	}
	switch {
	case s.Network == "unix":
		sc.Network, sc.Addr = "unix", s.Path
	case len(s.IPs) > 0:
		sc.Addr = net.JoinHostPort(s.IPs[0].String(), strconv.Itoa(s.Port))
	default:
		sc.Addr = net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	}
	switch {
	case s.SendProxyV2:
		sc.SendProxy = proxy.SendProxyV2
	case s.SendProxy:
		sc.SendProxy = proxy.SendProxyV1
	}
	sc.ShutdownOnDown = s.OnMarkedDown == "shutdown-sessions"
	sc.ShutdownBackupsOnUp = s.OnMarkedUp == "shutdown-backup-sessions"
	switch s.Observe {
	case "layer4":
		sc.Observe = proxy.ObserveLayer4
	case "layer7":
		sc.Observe = proxy.ObserveLayer7
	}
	sc.ErrorLimit = s.ErrorLimit
	sc.Source = sourceConfig(s.Source)
	sc.Socks4 = s.Socks4
	sc.PoolMax, sc.NoIdlePool, sc.PoolPurge = max(s.PoolMaxConn, 0), s.PoolMaxConn == 0, s.PoolPurgeDelay
	if s.Network != "unix" {
		// A server at 0.0.0.0 connects to the client's destination (as
		// set-dst may change it), a port of 0 or +N/-N to its port.
		sc.AddrFromDst = s.Host == "" || s.Host == "0.0.0.0" || s.Host == "*"
		sc.PortFromDst = s.Port == 0 || s.PortOffset
		if s.PortOffset {
			sc.PortOffset = s.Port
		}
	}
	return sc
}

// ActiveSessions returns the number of sessions being served.
func (g *Generation) ActiveSessions() int { return g.eng.ActiveSessions() }

// StopAccepting stops every frontend accepting. Call it before the listeners close: the
// event loops watch the listeners' descriptors and let go of them before it returns (an
// accept loop on a listener without deadlines ends when its listener closes; Drain waits
// for that).
func (g *Generation) StopAccepting() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, b := range g.serving {
		b.Stop()
	}
}

// Drain waits until every session ended, or ctx is done (then it returns ctx's error).
// The caller has closed the listeners first: Drain waits for every accept loop to end, so
// that a connection accepted at the last moment is counted before it waits for the
// sessions.
func (g *Generation) Drain(ctx context.Context) error {
	g.mu.Lock()
	for _, b := range g.serving {
		b.Stop()
		<-b.Done()
	}
	g.mu.Unlock()
	// Keep-alive HTTP clients waiting for a request close now, the others
	// after their current response, as in HAProxy's soft stop.
	g.eng.CloseIdle()
	return g.eng.Wait(ctx)
}

// CloseAll cuts every session now ("hard-stop" in their log lines).
func (g *Generation) CloseAll() {
	g.eng.CloseAll("hard-stop")
}

// Stop stops the health checks and waits for them to end, and closes the log targets the
// generation opened itself (see Options.Logs). Call it last: after Drain or CloseAll.
func (g *Generation) Stop() {
	g.stopRates()
	g.eng.Close()
	for _, be := range g.backends {
		be.CloseIdleConns()
	}
	g.checks.Load().stop()
	g.resolvers.stop()
	if g.ownLogs {
		g.logs.Close()
	}
}

// abort undoes a Start that failed: the frontends started so far stop accepting.
func (g *Generation) abort() {
	g.stopRates()
	for _, b := range g.serving {
		b.Stop()
	}
	g.eng.Close()
	if g.ownLogs {
		g.logs.Close()
	}
}
