package config

import (
	"fmt"
	"net"
	"strings"
)

// missingTimeouts is HAProxy 2.6's warning text, continuation lines included.
const missingTimeouts = "missing timeouts for %s '%s'.\n" +
	"   | While not properly invalid, you will certainly encounter various problems\n" +
	"   | with such a configuration. To fix this, please ensure that all following\n" +
	"   | timeouts are set to a non-zero value: 'client', 'connect', 'server'."

// check runs the semantic checks HAProxy performs after parsing
// (check_config_validity and server address initialisation).
func (l *loader) check() {
	for _, p := range l.cfg.Proxies {
		l.checkProxy(p)
	}
	l.checkGlobalHTTPOnly()
	resolveFailed := false
	for _, p := range l.cfg.Proxies {
		for _, s := range p.Servers {
			if s.Resolvers != "" && l.cfg.Resolvers[s.Resolvers] == nil {
				l.alert(Pos{}, "%s '%s', server '%s': unable to find required resolvers '%s'", capName(p.Cap), p.Name, s.Name, s.Resolvers)
				continue
			}
			if !l.resolveServer(p, s) {
				resolveFailed = true
			}
		}
	}
	if resolveFailed {
		l.alert(Pos{}, MsgInitAddrFailed)
	}
	l.resolveTracks()
	for _, p := range l.cfg.Proxies {
		for _, s := range p.Servers {
			l.buildServerTLS(p, s)
		}
	}
}

func (l *loader) checkProxy(p *Proxy) {
	kind := proxyWord(p.Cap)
	if p.Cap&CapFrontend != 0 && len(p.Binds) == 0 && !p.Disabled {
		l.warn(p.Pos, "%s '%s' has no 'bind' directive. Please declare it as a backend if this was intended.", kind, p.Name)
	}
	if p.Mode == ModeTCP || p.Mode == ModeHTTP {
		t := p.Timeouts
		if (p.Cap&CapFrontend != 0 && t.Client == 0) || (p.Cap&CapBackend != 0 && (t.Connect == 0 || t.Server == 0)) {
			l.warn(p.Pos, missingTimeouts, kind, p.Name)
		}
	}
	// HAProxy resolves these references in every proxy, even where the
	// keyword was "ignored" for lack of the frontend capability.
	if p.DefaultBackend != "" {
		l.checkSwitch(p, p.DefaultBackend, p.Pos, "as its default backend", "default_backend")
	}
	for _, u := range p.UseBackends {
		if !u.Dynamic {
			l.checkSwitch(p, u.Backend, u.Pos, "in a 'use_backend' rule", "use_backend")
		}
	}
	for _, u := range p.UseServers {
		if !u.Dynamic && p.Server(u.Server) == nil {
			l.alert(u.Pos, "%s '%s' : unable to find server '%s' referenced in a 'use-server' rule.", proxyTypeStr(p.Cap), p.Name, u.Server)
		}
	}
	l.checkStickRules(p)
	l.checkHashBalanceFactor(p)
	if p.Cap&CapFrontend != 0 && (p.HTTPLog || p.TCPLog || p.LogFormat != "") && len(p.LogTargets(&l.cfg.Global)) == 0 {
		l.warn(p.Pos, "log format ignored for %s '%s' since it has no log address.", kind, p.Name)
	}
	l.checkRulesUsed(p)
	l.checkSource(p)
	if (len(p.Stats.Auths) > 0 || p.Stats.Realm != "") && len(p.Stats.HTTPRequest) > 0 {
		l.alert(p.Pos, "proxy '%s': stats 'auth'/'realm' and 'http-request' can't be used at the same time.", p.Name)
	}
	l.resolveErrorfiles(p)
	l.checkCacheRules(p)
	l.checkBindTLS(p)
	if p.Mode != ModeHTTP {
		l.checkHTTPOnly(p)
	}
}

// checkSwitch resolves a backend reference of frontend p.
func (l *loader) checkSwitch(p *Proxy, name string, pos Pos, how, kw string) {
	b := l.cfg.Backend(name)
	if b == nil {
		l.alert(pos, "Proxy '%s': unable to find required %s: '%s'.", p.Name, kw, name)
		return
	}
	if b == p {
		l.alert(pos, "Proxy '%s': loop detected for %s: '%s'.", p.Name, kw, name)
		return
	}
	if p.Mode == ModeHTTP && b.Mode != ModeHTTP {
		l.alert(pos, "%s %s '%s' (%s) tries to use incompatible %s backend '%s' (%s) %s (see 'mode').",
			p.Mode, capName(p.Cap), p.Name, p.Pos, b.Mode, b.Name, b.Pos, how)
	}
}

// MsgInitAddrFailed ends the alerts of servers whose address could not be
// resolved. HAProxy resolves them once the configuration is valid and exits
// at this alert, with no "Fatal errors found in configuration." after it.
const MsgInitAddrFailed = "Failed to initialize server(s) addr."

// resolveServer resolves a server's host name following its init-addr
// methods (default "last,libc", and "last,libc,none" with resolvers). It
// reports false on a fatal failure.
func (l *loader) resolveServer(p *Proxy, s *Server) bool {
	if s.Host == "" || len(s.IPs) > 0 || s.Network == "unix" || s.Network == "abns" {
		return true
	}
	methods := s.InitAddr
	switch {
	case len(methods) > 0:
	case s.Resolvers != "":
		// HAProxy 2.6 starts a server resolved at run time even when its
		// name does not resolve yet: without init-addr, it warns and
		// leaves it in maintenance until its resolvers answer.
		methods = []string{"last", "libc", "none"}
	default:
		methods = []string{"last", "libc"}
	}
	// failed says a method tried and failed: HAProxy's srv_iterate_initaddr
	// warns at "none" only then.
	failed := false
	for _, m := range methods {
		switch m {
		case "last":
			// No server-state file is loaded by lb: "last" never yields.
		case "libc":
			ips, err := l.opt.Resolver(s.Host)
			if err == nil {
				ips = filterFamily(ips, s.Network)
			}
			if err == nil && len(ips) > 0 {
				s.IPs = ips
				if s.Network == "" {
					s.Network = "tcp4"
					if ips[0].To4() == nil {
						s.Network = "tcp6"
					}
				}
				return true
			}
			failed = true
		case "none":
			if failed {
				l.serverAddrDiag(Warning, s, "'server %s/%s' : could not resolve address '%s', disabling server.", p.Name, s.Name, s.Host)
			}
			s.Unresolved = true
			return true
		default:
			ip := net.ParseIP(m)
			s.IPs = []net.IP{ip}
			return true
		}
	}
	if l.opt.IgnoreResolveErrors {
		l.serverAddrDiag(Warning, s, "'server %s/%s' : could not resolve address '%s', disabling server.", p.Name, s.Name, s.Host)
		s.Unresolved = true
		return true
	}
	l.serverAddrDiag(Alert, s, "'server %s/%s' : could not resolve address '%s'.", p.Name, s.Name, s.Host)
	return false
}

// serverAddrDiag adds a diagnostic of a server's address resolution, which
// HAProxy makes after parsing: it names the server's line without the word
// "parsing" ("config : [file:line] : 'server be/s' : …").
func (l *loader) serverAddrDiag(sev Severity, s *Server, format string, a ...any) {
	l.add(Pos{}, sev, "["+s.Pos.String()+"] : "+format, a...)
}

// filterFamily keeps the addresses of the requested network ("" = all,
// IPv4 first as HAProxy's default resolve-prefer ipv6 does not apply to
// libc lookups of plain hosts).
func filterFamily(ips []net.IP, network string) []net.IP {
	var out []net.IP
	for _, ip := range ips {
		v4 := ip.To4() != nil
		if network == "tcp4" && !v4 || network == "tcp6" && v4 {
			continue
		}
		out = append(out, ip)
	}
	return out
}

// proxyTypeStr names a proxy kind as HAProxy's proxy_type_str does.
func proxyTypeStr(c Cap) string {
	if c == CapListen {
		return "listener"
	}
	return capName(c)
}

// checkStickRules resolves the tables of p's stick rules: each stores the
// server's id and name (server_id, server_key) from then on, as HAProxy's
// check_config_validity allocates them.
func (l *loader) checkStickRules(p *Proxy) {
	if p.Cap&CapBackend == 0 {
		return
	}
	for _, r := range p.StickRules {
		name := r.Table
		if name == "" {
			name = p.Name
		}
		var t *StickTable
		for _, q := range l.cfg.Proxies {
			if q.Name == name && q.StickTable != nil {
				t = q.StickTable
				break
			}
		}
		if t == nil {
			l.alert(r.Pos, "Proxy '%s': unable to find stick-table '%s'.", p.Name, name)
			continue
		}
		for _, d := range []string{"server_id", "server_key"} {
			if !t.Stores(d) {
				t.Store = append(t.Store, StickData{Name: d})
			}
		}
	}
}

// resolveTracks finds the server each "track" names, as HAProxy 2.6's
// srv_apply_track, in the order of the servers: in the server's own proxy
// when no proxy is named; it must have health checks or an agent, or track
// another server, and the chain it starts, as far as it is resolved, must
// not come back to the server.
func (l *loader) resolveTracks() {
	for _, p := range l.cfg.Proxies {
		for _, s := range p.Servers {
			if s.Track == "" {
				continue
			}
			bad := func(format string, a ...any) {
				l.diags = append(l.diags, Diag{Pos: s.Pos, Severity: Alert, Bracket: true, Late: true,
					Msg: fmt.Sprintf("'server %s/%s' : ", p.Name, s.Name) + fmt.Sprintf(format, a...)})
			}
			pname, sname, ok := strings.Cut(s.Track, "/")
			if !ok {
				pname, sname = p.Name, s.Track
			}
			tp := l.cfg.Backend(pname)
			if tp == nil {
				bad("unable to find required proxy '%s' for tracking.", pname)
				continue
			}
			ts := tp.Server(sname)
			if ts == nil {
				bad("unable to find required server '%s' for tracking.", sname)
				continue
			}
			if !ts.Check && !ts.AgentCheck && ts.Track == "" {
				bad("unable to use %s/%s for tracking as it does not have any check nor agent enabled.", pname, sname)
				continue
			}
			loop := false
			for t := ts; t != nil && !loop; t = t.Tracked {
				loop = t == s
			}
			if loop {
				bad("unable to track %s/%s as it belongs to a tracking chain looping back to %s/%s.", pname, sname, p.Name, s.Name)
				continue
			}
			s.Tracked = ts
		}
	}
}

// checkHashBalanceFactor: hash-balance-factor bounds the loads of consistent
// hashing. HAProxy 2.6 also applies it to "balance random" (its draws are
// consistent-hash lookups), which lb draws otherwise: refused there. Elsewhere
// (map-based hashing, the other algorithms) HAProxy ignores it; lb says so.
func (l *loader) checkHashBalanceFactor(p *Proxy) {
	balanceHashes := map[string]bool{"source": true, "uri": true, "url_param": true, "hdr": true}
	if p.Cap&CapBackend == 0 || p.HashBalanceFactor == 0 {
		return
	}
	algo := p.Balance.Algorithm
	switch {
	case algo == "random" || strings.HasPrefix(algo, "random("):
		l.alert(p.HashBalanceFactorPos, "'hash-balance-factor' with 'balance random' is not supported by lb yet")
	case !balanceHashes[algo] || !strings.HasPrefix(p.HashType, "consistent"):
		l.warn(p.HashBalanceFactorPos, "'hash-balance-factor' has no effect in %s '%s': it bounds the loads of 'hash-type consistent' with a hashing 'balance' only (HAProxy ignores it too).", proxyWord(p.Cap), p.Name)
	}
}
