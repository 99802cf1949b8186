package plane

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"lb/internal/config"
	"lb/internal/health"
	"lb/internal/logs"
	"lb/internal/proxy"
	"lb/internal/rules"
)

// checkSet runs the health checks of every server with "check".
type checkSet struct {
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	n      int
	// mu guards byServer, the checkers by server, for the runtime API, and
	// stopOne, the cancellation of the checks of servers added at run time
	// (addsrv.go), which dyn waits for.
	mu       sync.Mutex
	byServer map[*proxy.Server]*health.Checker
	stopOne  map[*proxy.Server]context.CancelFunc
	dyn      sync.WaitGroup
}

// startChecks starts one checker per checked server, as g.checks. The first checks are
// spread as HAProxy spreads them (firstChecks), so that they do not all fire at once.
// g.checks is set before any checker runs: a check's result may act on the
// server through g (an agent's "drain" reads g.checks).
func startChecks(g *Generation, cfg *config.Config) {
	ctx, cancel := context.WithCancel(context.Background())
	cs := &checkSet{ctx: ctx, cancel: cancel, done: make(chan struct{}), byServer: map[*proxy.Server]*health.Checker{},
		stopOne: map[*proxy.Server]context.CancelFunc{}}
	// The checkers to start, their configurations made first: the first checks are
	// spread over all of them (firstChecks).
	type pending struct {
		px  *config.Proxy
		be  *proxy.Backend
		srv *proxy.Server
		hc  health.Config
	}
	var todo []pending
	for _, px := range cfg.Backends() {
		be := g.backends[px.Name]
		if be == nil {
			continue
		}
		for _, s := range px.Servers {
			if !(s.Check || s.AgentCheck) || s.Unresolved {
				continue
			}
			srv := be.Server(s.Name)
			hc, err := g.healthConfig(cfg, px, s)
			if err != nil {
				g.log.Warn("health check not started", "proxy", px.Name, "server", s.Name, "err", err)
				continue
			}
			hc.Logger = g.log
			hc.NoCheck, hc.Agent = !s.Check, g.agentConfig(px, be, srv, s)
			// A server a state file marked DOWN stays so until its checks bring it up.
			hc.StartDown = hc.StartDown || g.opState(srv) == proxy.StateDown
			todo = append(todo, pending{px, be, srv, hc})
		}
	}
	hcs := make([]*health.Config, len(todo))
	for i := range todo {
		hcs[i] = &todo[i].hc
	}
	firstChecks(hcs)
	var checkers []*health.Checker
	for _, p := range todo {
		c, err := health.New(p.hc, g.onCheck(p.px, p.be, p.srv))
		if err != nil {
			g.log.Warn("health check not started", "proxy", p.px.Name, "server", p.srv.Name(), "err", err)
			continue
		}
		g.movedChecks(p.srv, c)
		if !p.hc.NoCheck {
			// The server's passive check ("observe") gives its verdicts
			// to the health check.
			p.srv.SetAnalyzer(c.Analyze)
		}
		checkers = append(checkers, c)
		cs.byServer[p.srv] = c
	}
	cs.n = len(checkers)
	g.checks.Store(cs)
	go func() {
		defer close(cs.done)
		fin := make(chan struct{}, len(checkers))
		for _, c := range checkers {
			go func(c *health.Checker) { c.Run(ctx); fin <- struct{}{} }(c)
		}
		for range checkers {
			<-fin
		}
	}()
}

// spreadMin is HAProxy's SRV_CHK_INTER_THRES: checks run more often than
// this do not set the span over which the first checks are spread.
const spreadMin = time.Second

// firstChecks spreads the first health and agent checks of all backends as
// HAProxy 2.6's start_checks: the n-th check or agent check configured, in
// the order of the backends and of their servers, a server's health check
// before its agent, starts after n/N of the shortest interval of 1 s or more
// among them (N checks in all); with none that long, all start at once. A
// check's interval at start is fastinter (its health is rise, short of full
// unless fall is 1: inter then), or downinter for a server a state file
// left DOWN; an agent's is agent-inter.
func firstChecks(hcs []*health.Config) {
	var span time.Duration
	n := 0
	consider := func(inter time.Duration) {
		n++
		if inter >= spreadMin && (span == 0 || inter < span) {
			span = inter
		}
	}
	for _, hc := range hcs {
		if !hc.NoCheck {
			consider(hc.StartInter())
		}
		if hc.Agent != nil {
			consider(hc.AgentInter())
		}
	}
	pos := 0
	delay := func() time.Duration {
		d := span * time.Duration(pos) / time.Duration(max(n, 1))
		pos++
		return d
	}
	for _, hc := range hcs {
		if !hc.NoCheck {
			hc.InitialDelay = delay()
		}
		if hc.Agent != nil {
			hc.Agent.InitialDelay = delay()
		}
	}
}

func (c *checkSet) stop() {
	if c == nil {
		return
	}
	c.cancel()
	<-c.done
	c.dyn.Wait()
}

// onCheck applies a check's verdict to the server: DOWN, UP, or NOLB while an http check
// with disable-on-404 answers 404 (no new load-balanced sessions, those established go
// on). It logs the result with option log-health-checks and every state change in
// HAProxy's words, and calls Options.OnServerChange.
func (g *Generation) onCheck(px *config.Proxy, be *proxy.Backend, srv *proxy.Server) func(health.Event) {
	ptype := health.ProxyType(px.Cap&config.CapFrontend != 0, true)
	logHC := px.Check.LogHealthChecks
	return func(ev health.Event) {
		attrs := []any{slog.String("proxy", px.Name), slog.String("server", srv.Name()), slog.String("check_status", ev.Status.String())}
		if logHC && ev.Report {
			g.log.Info(ev.LogLine, attrs...)
		}
		if ev.State == ev.PrevState {
			return
		}
		op := proxy.StateDown
		switch ev.State {
		case health.StateUp:
			op = proxy.StateUp
		case health.StateStopping:
			op = proxy.StateNoLB
		}
		st := srv.Stats()
		// The operational half changes; maintenance and drain stay (serverstate.go).
		v, ok := g.checkVerdict(srv, op)
		if !ok {
			srv.SetState(op)
			v.active, v.backups = be.UsableServers()
		} else if v.state == proxy.StateMaint {
			return // maintenance wins over checks
		}
		// The trackers' changes are logged after the server's own.
		defer g.logTrackNotes(v.notes)
		active, backups := v.active, v.backups
		ss := health.ServerState{
			Proxy: px.Name, Server: srv.Name(), Backup: srv.Config().Backup,
			Active: active, Backups: backups, Sessions: st.Cur, Queued: st.Queue,
		}
		msg, sev := health.TransitionMessage(ss, ev, logHC)
		sevAttrs := append(attrs, slog.Int("severity", sev))
		if sev <= health.SeverityServerDown {
			g.log.Warn(msg, sevAttrs...)
		} else {
			g.log.Info(msg, sevAttrs...)
		}
		if ev.State != health.StateUp && active == 0 && backups == 0 {
			g.log.Error(health.NoServerMessage(ptype, px.Name), noServerAttrs(ptype, px.Name)...)
		}
		if g.onServerChange != nil {
			g.onServerChange()
		}
	}
}

// healthConfig maps a server's check settings to the checker's.
func (g *Generation) healthConfig(cfg *config.Config, px *config.Proxy, s *config.Server) (health.Config, error) {
	host := s.Host
	if len(s.IPs) > 0 {
		host = s.IPs[0].String()
	}
	if s.CheckAddr != "" {
		host = s.CheckAddr
	}
	port := s.Port
	if s.CheckPort > 0 {
		port = s.CheckPort
	}
	if port == 0 {
		return health.Config{}, fmt.Errorf("no port to check (set \"port\" on the server)")
	}
	hc := health.Config{
		Name:           px.Name + "/" + s.Name,
		Addr:           net.JoinHostPort(host, strconv.Itoa(port)),
		Inter:          s.Inter,
		FastInter:      s.FastInter,
		DownInter:      s.DownInter,
		Rise:           s.Rise,
		Fall:           s.Fall,
		ConnectTimeout: px.Timeouts.Connect,
		Timeout:        px.Timeouts.Check,
	}
	hc.Backup, hc.Spread = s.Backup, cfg.Global.SpreadChecks
	switch s.OnError {
	case "fastinter":
		hc.OnError = health.OnErrorFastInter
	case "sudden-death":
		hc.OnError = health.OnErrorSuddenDeath
	case "mark-down":
		hc.OnError = health.OnErrorMarkDown
	}
	// check-ssl, or ssl checked on the traffic port (config.Server.CheckTLS).
	hc.TLS = s.CheckTLS
	if s.Socks4.IsValid() {
		hc.Socks4, hc.ViaSocks4 = s.Socks4.String(), s.CheckViaSocks4
	}
	hc.RuleTLS = s.RuleTLS
	hc.UserTimeout = time.Duration(s.TCPUserTimeout) * time.Millisecond
	src := s.Source
	if src == nil {
		src = px.Source
	}
	if src != nil {
		hc.Source, hc.SourceInterface = src.Addr, src.Interface
	}
	_, checkSendProxy := s.Flags["check-send-proxy"]
	switch health.CheckProxyVersion(checkSendProxy, s.SendProxy, s.SendProxyV2, s.CheckPort > 0 || s.CheckAddr != "") {
	case 1:
		hc.SendProxy = true
	case 2:
		hc.SendProxyV2 = true
	}
	if err := health.ParseCheckOption(&hc, px.Check.Type, px.Check.Args); err != nil && px.Check.Type == "mysql-check" {
		return hc, err
	} else if err != nil {
		// Not available yet (ssl-hello-chk, mysql-check …): a TCP connect still tells a dead
		// server from a live one.
		hc.Kind = health.KindTCP
		g.warnOnce(px.Name, fmt.Sprintf("backend '%s': option %s is not supported by lb yet: servers are checked with a TCP connect", px.Name, px.Check.Type))
	}
	switch hc.Kind {
	case health.KindHTTP:
		hc.HTTP = health.HTTPRequest{Method: px.Check.Method, URI: px.Check.URI, Version: px.Check.Version}
		if v := hc.HTTP.Version; strings.Contains(v, "\r\n") {
			// HAProxy 2.6 still accepts the old "HTTP/1.1\r\nHost:\ x" trick (the lexer
			// already turned the escapes into CR LF).
			parts := strings.Split(v, "\r\n")
			hc.HTTP.Version = parts[0]
			for _, h := range parts[1:] {
				if name, val, ok := strings.Cut(h, ":"); ok {
					hc.HTTP.Headers = append(hc.HTTP.Headers, [2]string{strings.TrimSpace(name), strings.TrimSpace(val)})
				}
			}
		}
		if err := health.ParseHTTPCheckWith(&hc, ruleWords(px.Check.HTTPCheck), checkCompilers(cfg, px, ruleEnv(g.backends), g.ropt, "http-check")); err != nil {
			return hc, fmt.Errorf("http-check: %w", err)
		}
	case health.KindTCPCheck:
		if len(px.Check.TCPCheck) > 0 {
			rs, err := health.ParseTCPCheckWith(ruleWords(px.Check.TCPCheck), checkCompilers(cfg, px, ruleEnv(g.backends), g.ropt, "tcp-check"))
			if err != nil {
				return hc, fmt.Errorf("tcp-check: %w", err)
			}
			hc.TCPCheck = rs
			if slices.ContainsFunc(rs, func(r health.Rule) bool { return r.Evaluates() }) {
				hc.NewRun = func() any { return rules.NewCheckStream() }
			}
		}
	}
	return hc, nil
}

// ruleWords turns config rules back into the words after "http-check"/"tcp-check".
func ruleWords(rules []*config.Rule) [][]string {
	out := make([][]string, 0, len(rules))
	for _, r := range rules {
		out = append(out, append(strings.Fields(r.Action), r.Args...))
	}
	return out
}

// warnOnce logs msg once per key.
func (g *Generation) warnOnce(key, msg string) {
	if _, loaded := g.warned.LoadOrStore(key, true); !loaded {
		g.log.Warn(msg)
	}
}

// noServerAttrs are the attributes of the record of a proxy losing its last usable server:
// the proxy, the syslog severity of the line sent to the log targets, and the line printed
// on stderr, which quotes the name as HAProxy's ha_alert does ("backend 'be' has no
// server available!") where send_log does not.
func noServerAttrs(proxyType, proxy string) []any {
	return []any{slog.String("proxy", proxy), slog.Int("severity", health.SeverityNoServer),
		slog.String(logs.StderrKey, health.NoServerAlert(proxyType, proxy))}
}
