package lifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"lb/internal/config"
	"lb/internal/health"
	"lb/internal/proxy"
)

// checkSet runs the health checks of every server with "check".
type checkSet struct {
	cancel context.CancelFunc
	done   chan struct{}
	n      int
}

// startChecks starts one checker per checked server. The first checks of a backend are
// spread over one interval, as HAProxy does, so that they do not all fire at once.
func startChecks(p *process, cfg *config.Config, d *dataPlane) *checkSet {
	ctx, cancel := context.WithCancel(context.Background())
	cs := &checkSet{cancel: cancel, done: make(chan struct{})}
	var checkers []*health.Checker
	for _, px := range cfg.Backends() {
		be := d.backends[px.Name]
		if be == nil {
			continue
		}
		checked := 0
		for _, s := range px.Servers {
			if s.Check {
				checked++
			}
		}
		i := 0
		for _, s := range px.Servers {
			if !s.Check || s.Unresolved {
				continue
			}
			srv := be.Server(s.Name)
			hc, err := healthConfig(px, s)
			if err != nil {
				p.log.Warn("health check not started", "proxy", px.Name, "server", s.Name, "err", err)
				continue
			}
			if checked > 1 {
				hc.InitialDelay = time.Duration(i) * hc.Inter / time.Duration(checked)
			}
			i++
			hc.Logger = p.log
			c, err := health.New(hc, onCheck(p, px, be, srv))
			if err != nil {
				p.log.Warn("health check not started", "proxy", px.Name, "server", s.Name, "err", err)
				continue
			}
			checkers = append(checkers, c)
		}
	}
	cs.n = len(checkers)
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
	return cs
}

func (c *checkSet) stop() {
	if c == nil {
		return
	}
	c.cancel()
	<-c.done
}

// onCheck applies a check's verdict to the server and logs transitions in HAProxy's words.
func onCheck(p *process, px *config.Proxy, be *proxy.Backend, srv *proxy.Server) func(health.Event) {
	ptype := health.ProxyType(px.Cap&config.CapFrontend != 0, true)
	return func(ev health.Event) {
		if !ev.Changed {
			return
		}
		cur := srv.State()
		if cur == proxy.StateMaint {
			return // maintenance wins over checks
		}
		st := srv.Stats()
		if ev.Up {
			srv.SetState(proxy.StateUp)
		} else {
			srv.SetState(proxy.StateDown)
		}
		active, backups := be.UsableServers()
		ss := health.ServerState{
			Proxy: px.Name, Server: srv.Name(), Backup: srv.Config().Backup,
			Active: active, Backups: backups, Sessions: st.Cur, Queued: st.Queue,
		}
		attrs := []any{slog.String("proxy", px.Name), slog.String("server", srv.Name()), slog.String("check_status", ev.Status.String())}
		if ev.Up {
			p.log.Info(health.ServerUpMessage(ss, ev.Result), attrs...)
		} else {
			p.log.Warn(health.ServerDownMessage(ss, ev.Result), attrs...)
			if active == 0 && backups == 0 {
				p.log.Error(health.NoServerMessage(ptype, px.Name), attrs[:1]...)
			}
		}
		if p.isMain() {
			_ = p.notify.Status(p.statusLine("ready"))
		}
	}
}

// healthConfig maps a server's check settings to the checker's.
func healthConfig(px *config.Proxy, s *config.Server) (health.Config, error) {
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
	_, hc.SendProxy = s.Flags["check-send-proxy"]
	if err := health.ParseOption(&hc, px.Check.Type); err != nil {
		// Not available yet (ssl-hello-chk, mysql-check …): a TCP connect still tells a dead
		// server from a live one.
		hc.Kind = health.KindTCP
		slogWarnOnce(px.Name, fmt.Sprintf("backend '%s': option %s is not supported by lb yet: servers are checked with a TCP connect", px.Name, px.Check.Type))
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
		if err := health.ParseHTTPCheck(&hc, ruleWords(px.Check.HTTPCheck)); err != nil {
			return hc, fmt.Errorf("http-check: %w", err)
		}
	case health.KindTCPCheck:
		if len(px.Check.TCPCheck) > 0 {
			rules, err := health.ParseTCPCheck(ruleWords(px.Check.TCPCheck))
			if err != nil {
				return hc, fmt.Errorf("tcp-check: %w", err)
			}
			hc.TCPCheck = rules
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

var warnedOnce sync.Map

// slogWarnOnce logs msg once per key with the default logger.
func slogWarnOnce(key, msg string) {
	if _, loaded := warnedOnce.LoadOrStore(key, true); !loaded {
		slog.Warn(msg)
	}
}
