package config

import "fmt"

// lb serves mode http proxies as TCP tunnels until its HTTP data plane
// exists; in a proxy that is not in mode http, the HTTP keywords have no
// effect in HAProxy either. HAProxy warns about most of them and drops
// them; lb gives the same warnings, and its own, in the same words, for
// those HAProxy ignores silently, so that none is accepted without a word.

// httpOptions are the options HAProxy 2.6 drops with a warning from a
// proxy that is not in mode http, in the order it reports them.
var httpOptions = []string{"checkcache", "http-buffer-request", "http-ignore-probes",
	"idle-close-on-response", "prefer-last-server", "accept-invalid-http-request",
	"accept-invalid-http-response", "http-use-proxy-header", "http-pretend-keepalive",
	"http-no-delay", "disable-h2-upgrade"}

// quietHTTPOptions are HTTP options HAProxy ignores without a word outside
// mode http: lb warns when a proxy sets them itself.
var quietHTTPOptions = map[string]bool{"http-keep-alive": true, "http-server-close": true,
	"httpclose": true, "h1-case-adjust-bogus-client": true, "h1-case-adjust-bogus-server": true,
	"persist": true}

// quietHTTPKeywords are the proxy keywords HAProxy ignores without a word
// outside mode http; the timeouts are in quietHTTPTimeouts.
var quietHTTPKeywords = map[string]bool{"errorfile": true, "compression": true, "capture": true,
	"unique-id-header": true, "http-reuse": true, "monitor": true, "http-send-name-header": true,
	"max-keep-alive-queue": true}

var quietHTTPTimeouts = map[string]bool{"http-request": true, "http-keep-alive": true, "tarpit": true}

// httpOnlyUse is an HTTP keyword written in a proxy section, for the
// warning if the proxy is not in mode http.
type httpOnlyUse struct {
	pos  Pos
	what string // "option httpclose", "timeout http-request", "errorfile" …
}

// noteHTTPOnly records a quiet HTTP keyword written in a frontend, backend
// or listen section (not one inherited from defaults, which may serve
// proxies of both modes).
func (c *pctx) noteHTTPOnly(what string) {
	if !c.isDefaults() {
		c.p.httpOnly = append(c.p.httpOnly, httpOnlyUse{pos: c.pos, what: what})
	}
}

// checkHTTPOnly warns about the HTTP keywords of p, which is not in mode
// http, and drops them, as HAProxy does.
func (l *loader) checkHTTPOnly(p *Proxy) {
	kind := proxyWord(p.Cap)
	if p.Cookie != nil && p.Cap&CapBackend != 0 {
		l.warn(p.Pos, "cookie will be ignored for %s '%s' (needs 'mode http').", kind, p.Name)
		p.Cookie = nil
	}
	if p.MonitorURI != "" && p.Cap&CapFrontend != 0 {
		l.warn(p.Pos, "monitor-uri will be ignored for %s '%s' (needs 'mode http').", kind, p.Name)
		p.MonitorURI = ""
	}
	if p.Cap&CapBackend != 0 && p.Balance.IsHTTP() {
		l.warn(p.Pos, "Layer 7 hash not possible for %s '%s' (needs 'mode http'). Falling back to round robin.", kind, p.Name)
		p.Balance = Balance{Pos: p.Balance.Pos, Algorithm: "roundrobin"}
	}
	if p.HTTPLog && p.Cap&CapFrontend != 0 {
		opt := "httplog"
		if p.HTTPSLog {
			opt = "httpslog"
		}
		l.warn(p.httpLogPos, "'option %s' not usable with %s '%s' (needs 'mode http'). Falling back to 'option tcplog'.", opt, kind, p.Name)
		p.HTTPLog, p.HTTPLogCLF, p.HTTPSLog, p.TCPLog = false, false, false, true
	}
	if p.Stats.Enabled {
		l.warn(p.Pos, "'stats' statement ignored for %s '%s' as it requires HTTP mode.", kind, p.Name)
		p.Stats = StatsPage{}
	}
	for _, rs := range []struct {
		name  string
		rules *[]*Rule
	}{{"http-request", &p.HTTPRequest}, {"http-response", &p.HTTPResponse},
		{"http-after-response", &p.HTTPAfterResponse}, {"redirect", &p.Redirects}} {
		if len(*rs.rules) > 0 {
			l.warn(p.Pos, "'%s' rules ignored for %s '%s' as they require HTTP mode.", rs.name, kind, p.Name)
			*rs.rules = nil
		}
	}
	if p.Forwardfor != nil {
		l.warn(p.Pos, "'option forwardfor' ignored for %s '%s' as it requires HTTP mode.", kind, p.Name)
		p.Forwardfor = nil
	}
	if p.Originalto != nil {
		l.warn(p.Pos, "'option originalto' ignored for %s '%s' as it requires HTTP mode.", kind, p.Name)
		p.Originalto = nil
	}
	p.MonitorFail = nil
	for _, o := range httpOptions {
		if p.Options[o] && p.Cap&proxyOptions[o].cap != 0 {
			l.warn(p.Pos, "'option %s' ignored for %s '%s' as it requires HTTP mode.", o, kind, p.Name)
			delete(p.Options, o)
		}
	}
	for _, u := range p.httpOnly {
		l.warn(u.pos, "'%s' ignored for %s '%s' as it requires HTTP mode.", u.what, kind, p.Name)
	}
	for o := range quietHTTPOptions {
		delete(p.Options, o)
	}
	p.Timeouts.HTTPRequest, p.Timeouts.HTTPKeepAlive, p.Timeouts.Tarpit = 0, 0, 0
	p.ErrorFiles, p.ErrorLocs, p.ErrorReplies = map[int]string{}, nil, nil
	p.Compression, p.Captures, p.UniqueIDHeader, p.SendNameHeader = Compression{}, nil, "", ""
	for _, s := range p.Servers {
		if s.Cookie != "" {
			l.warn(s.Pos, "%s '%s' : ignoring cookie for server '%s' as HTTP mode is disabled.", kind, p.Name, s.Name)
			s.Cookie = ""
		}
		if s.Redir != "" {
			// An error of HAProxy's checks after reading, with no place.
			l.diags = append(l.diags, Diag{Severity: Alert, Late: true,
				Msg: fmt.Sprintf("%s '%s' : server cannot have cookie or redirect prefix in non-HTTP mode.", kind, p.Name)})
		}
	}
}

// checkGlobalHTTPOnly warns about the global keywords that only act on
// HTTP connections when no proxy is in mode http.
func (l *loader) checkGlobalHTTPOnly() {
	g := &l.cfg.Global
	if g.CloseSpreadTime == 0 {
		return
	}
	for _, p := range l.cfg.Proxies {
		if p.Mode == ModeHTTP {
			return
		}
	}
	l.warn(g.closeSpreadPos, "'close-spread-time' ignored as it requires a proxy in HTTP mode.")
}
