package lifecycle

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
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
		if !p.superseded.Load() {
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
	switch px.Check.Type {
	case "httpchk":
		hc.Kind = health.KindHTTP
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
		for _, r := range px.Check.HTTPCheck {
			if err := applyHTTPCheck(&hc, r); err != nil {
				return hc, fmt.Errorf("%s: %w", r.Pos, err)
			}
		}
	case "tcp-check":
		hc.Kind = health.KindTCPCheck
		for _, r := range px.Check.TCPCheck {
			rule, ok, err := tcpCheckRule(r)
			if err != nil {
				return hc, fmt.Errorf("%s: %w", r.Pos, err)
			}
			if ok {
				hc.TCPCheck = append(hc.TCPCheck, rule)
			}
		}
	}
	return hc, nil
}

// applyHTTPCheck folds one "http-check" rule into the check (send, expect).
func applyHTTPCheck(hc *health.Config, r *config.Rule) error {
	a := r.Args
	switch r.Action {
	case "send":
		for i := 0; i+1 < len(a); i += 2 {
			switch a[i] {
			case "meth":
				hc.HTTP.Method = a[i+1]
			case "uri":
				hc.HTTP.URI = a[i+1]
			case "ver":
				hc.HTTP.Version = a[i+1]
			case "hdr":
				if i+2 < len(a) {
					hc.HTTP.Headers = append(hc.HTTP.Headers, [2]string{a[i+1], a[i+2]})
					i++
				}
			case "body":
				hc.HTTP.Body = a[i+1]
			}
		}
	case "expect":
		e := health.Expect{}
		if len(a) > 0 && a[0] == "!" {
			e.Negate = true
			a = a[1:]
		}
		if len(a) < 2 {
			return fmt.Errorf("http-check expect: missing pattern")
		}
		switch a[0] {
		case "status":
			codes, err := health.ParseStatusCodes(a[1])
			if err != nil {
				return err
			}
			e.Match, e.Codes = health.MatchStatus, codes
		case "rstatus":
			re, err := regexp.Compile(a[1])
			if err != nil {
				return fmt.Errorf("http-check expect rstatus: %w", err)
			}
			e.Match, e.Regexp = health.MatchRStatus, re
		case "string":
			e.Match, e.String = health.MatchString, a[1]
		case "rstring":
			re, err := regexp.Compile(a[1])
			if err != nil {
				return fmt.Errorf("http-check expect rstring: %w", err)
			}
			e.Match, e.Regexp = health.MatchRString, re
		default:
			return fmt.Errorf("http-check expect %q is not supported by lb yet", a[0])
		}
		hc.Expect = e
	}
	return nil
}

// tcpCheckRule maps one "tcp-check" rule; comments and options lb ignores give ok=false.
func tcpCheckRule(r *config.Rule) (health.Rule, bool, error) {
	a := r.Args
	switch r.Action {
	case "connect":
		rule := health.Rule{Action: health.ActConnect}
		for i := 0; i+1 < len(a); i++ {
			if a[i] == "port" {
				n, err := strconv.Atoi(a[i+1])
				if err != nil {
					return rule, false, fmt.Errorf("tcp-check connect port %q", a[i+1])
				}
				rule.Port = n
			}
		}
		return rule, true, nil
	case "send":
		if len(a) < 1 {
			return health.Rule{}, false, fmt.Errorf("tcp-check send: missing data")
		}
		return health.Rule{Action: health.ActSend, Data: []byte(a[0])}, true, nil
	case "send-binary":
		if len(a) < 1 {
			return health.Rule{}, false, fmt.Errorf("tcp-check send-binary: missing data")
		}
		b, err := hex.DecodeString(a[0])
		if err != nil {
			return health.Rule{}, false, fmt.Errorf("tcp-check send-binary: %w", err)
		}
		return health.Rule{Action: health.ActSend, Data: b}, true, nil
	case "expect":
		rule := health.Rule{Action: health.ActExpect}
		if len(a) > 0 && a[0] == "!" {
			rule.Negate = true
			a = a[1:]
		}
		if len(a) < 2 {
			return rule, false, fmt.Errorf("tcp-check expect: missing pattern")
		}
		switch a[0] {
		case "string":
			rule.Match, rule.Data = health.MatchString, []byte(a[1])
		case "binary":
			b, err := hex.DecodeString(a[1])
			if err != nil {
				return rule, false, fmt.Errorf("tcp-check expect binary: %w", err)
			}
			rule.Match, rule.Data = health.MatchBinary, b
		case "rstring", "rbinary":
			re, err := regexp.Compile(a[1])
			if err != nil {
				return rule, false, fmt.Errorf("tcp-check expect %s: %w", a[0], err)
			}
			rule.Regexp = re
			rule.Match = health.MatchRString
			if a[0] == "rbinary" {
				rule.Match = health.MatchRBinary
			}
		default:
			return rule, false, fmt.Errorf("tcp-check expect %q is not supported by lb yet", a[0])
		}
		return rule, true, nil
	}
	return health.Rule{}, false, nil
}
