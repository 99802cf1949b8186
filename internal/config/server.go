package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// newServer returns a server with HAProxy's built-in defaults.
func newServer() *Server {
	return &Server{Inter: 2 * time.Second, Rise: 2, Fall: 3, Weight: 1, PoolMaxConn: -1, Flags: map[string]string{}}
}

// UseSSL is HAProxy's use_ssl, which "show servers state" prints: 1 for
// "ssl", -1 for "no-ssl", 0 when neither was given (the last one wins,
// default-server's included).
func (s *Server) UseSSL() int { return int(s.tls.useSSL) }

func (s *Server) clone() *Server {
	n := *s
	n.Flags = map[string]string{}
	for k, v := range s.Flags {
		n.Flags[k] = v
	}
	n.InitAddr = append([]string(nil), s.InitAddr...)
	n.ResolveNet = append([]netip.Prefix(nil), s.ResolveNet...)
	n.IPs = nil
	return &n
}

// serverOpt is a server keyword: argument count, status and effect.
type serverOpt struct {
	nargs int
	// dflt: also accepted on default-server lines.
	dflt   bool
	status kwStatus
	// missing is the error of a missing value ("" = HAProxy's generic
	// "expects an integer argument").
	missing string
	fn      func(l *loader, s *Server, v string) error
}

// serverOptions is the single table of server/default-server keywords.
var serverOptions map[string]serverOpt

func init() {
	flag := func(set func(s *Server)) serverOpt {
		return serverOpt{dflt: true, fn: func(l *loader, s *Server, v string) error { set(s); return nil }}
	}
	timeOpt := func(name string, set func(s *Server, d time.Duration)) serverOpt {
		return serverOpt{nargs: 1, dflt: true, fn: func(l *loader, s *Server, v string) error {
			d, err := parseTime(v, time.Millisecond)
			if te, ok := err.(*trailingError); ok {
				l.srvWarn(te.Error())
				err = nil
			}
			if err != nil {
				// HAProxy 2.6 names 'agent-inter' whichever interval it
				// was (its srv_parse_check_inter), measured.
				return fmt.Errorf("%v in 'agent-inter' argument of server %s.", err, s.Name)
			}
			if d == 0 {
				return fmt.Errorf("invalid value 0 for argument '%s' of server %s.", name, s.Name)
			}
			set(s, d)
			return nil
		}}
	}
	intOptA := func(name string, min, max int, atoi bool, set func(s *Server, n int)) serverOpt {
		return serverOpt{nargs: 1, dflt: true, fn: func(l *loader, s *Server, v string) error {
			n, err := parseInt(v)
			if atoi {
				// HAProxy 2.6 reads rise and fall with atoi(): "x" is 0,
				// "3x" is 3.
				n, err = atol(v), nil
			}
			if err != nil && min == 0 {
				// HAProxy 2.6 reads maxconn and maxqueue with atol().
				n = atol(v)
				l.warn(l.linePos, "'%s' : '%s' is not a number, read as %d like HAProxy does.", name, v, n)
			} else if err != nil {
				return fmt.Errorf("'%s' expects an integer argument.", name)
			}
			if n < min && min == 1 {
				return fmt.Errorf("'%s' has to be > 0.", name)
			}
			if n < min || n > max {
				return fmt.Errorf("'%s' expects an integer argument between %d and %d, got '%s'", name, min, max, v)
			}
			set(s, n)
			return nil
		}}
	}
	intOpt := func(name string, min, max int, set func(s *Server, n int)) serverOpt {
		return intOptA(name, min, max, false, set)
	}
	str := func(set func(s *Server, v string)) serverOpt {
		return serverOpt{nargs: 1, dflt: true, fn: func(l *loader, s *Server, v string) error { set(s, v); return nil }}
	}
	// miss sets HAProxy's words for a missing value of o.
	miss := func(o serverOpt, words string) serverOpt {
		o.missing = words
		return o
	}
	unsup := func(n int) serverOpt { return serverOpt{nargs: n, dflt: true, status: kwUnsupported} }
	serverOptions = map[string]serverOpt{
		"check":               flag(func(s *Server) { s.Check = true }),
		"no-check":            flag(func(s *Server) { s.Check = false }),
		"backup":              flag(func(s *Server) { s.Backup = true }),
		"no-backup":           flag(func(s *Server) { s.Backup = false }),
		"disabled":            flag(func(s *Server) { s.Disabled = true }),
		"enabled":             flag(func(s *Server) { s.Disabled = false }),
		"send-proxy":          flag(func(s *Server) { s.SendProxy = true }),
		"no-send-proxy":       flag(func(s *Server) { s.SendProxy = false }),
		"send-proxy-v2":       flag(func(s *Server) { s.SendProxyV2 = true }),
		"no-send-proxy-v2":    flag(func(s *Server) { s.SendProxyV2 = false }),
		"check-send-proxy":    flag(func(s *Server) { s.Flags["check-send-proxy"] = "" }),
		"no-check-send-proxy": flag(func(s *Server) { delete(s.Flags, "check-send-proxy") }),
		"inter":               timeOpt("inter", func(s *Server, d time.Duration) { s.Inter = d }),
		"fastinter":           timeOpt("fastinter", func(s *Server, d time.Duration) { s.FastInter = d }),
		"downinter":           timeOpt("downinter", func(s *Server, d time.Duration) { s.DownInter = d }),
		"rise":                intOptA("rise", 1, 1<<30, true, func(s *Server, n int) { s.Rise = n }),
		"fall":                intOptA("fall", 1, 1<<30, true, func(s *Server, n int) { s.Fall = n }),
		"weight": {nargs: 1, dflt: true, fn: func(l *loader, s *Server, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				// HAProxy 2.6 reads the weight with atol(): "" and "x" are 0.
				n = atol(v)
				l.warn(l.linePos, "'weight' : '%s' is not a number, read as %d like HAProxy does.", v, n)
			}
			if n < 0 || n > 256 {
				return fmt.Errorf("weight of server %s is not within 0 and 256 (%s).", s.Name, v)
			}
			s.Weight = n
			return nil
		}},
		"maxconn":  intOpt("maxconn", 0, 1<<30, func(s *Server, n int) { s.Maxconn = n }),
		"maxqueue": intOpt("maxqueue", 0, 1<<30, func(s *Server, n int) { s.Maxqueue = n }),
		"id": {nargs: 1, fn: func(l *loader, s *Server, v string) error {
			n, err := parseInt(v)
			if err != nil || n < 1 {
				return fmt.Errorf("'id' : custom id has to be > 0")
			}
			s.ID = n
			return nil
		}},
		"port": {nargs: 1, dflt: true, missing: "'port' expects a port number as argument.", fn: func(l *loader, s *Server, v string) error {
			n, err := parseInt(v)
			if err != nil || n < 0 || n > 65535 {
				return fmt.Errorf("invalid port '%s'", v)
			}
			s.CheckPort = n
			return nil
		}},
		"addr":   miss(str(func(s *Server, v string) { s.CheckAddr = v }), "'addr' expects <ipv4|ipv6> as argument."),
		"cookie": miss(str(func(s *Server, v string) { s.Cookie = v }), "'cookie' expects <value> as argument."),
		"init-addr": {nargs: 1, dflt: true, fn: func(l *loader, s *Server, v string) error {
			s.InitAddr = nil
			for _, m := range strings.Split(v, ",") {
				switch {
				case m == "last", m == "libc", m == "none":
				case net.ParseIP(m) != nil:
				default:
					return fmt.Errorf("'init-addr' : unknown init-addr method '%s', supported methods are 'libc', 'last', 'none'.", m)
				}
				s.InitAddr = append(s.InitAddr, m)
			}
			return nil
		}},
		// HAProxy 2.6 reads pool-max-conn with atoi(): "x" is 0.
		"pool-max-conn": {nargs: 1, dflt: true, fn: func(l *loader, s *Server, v string) error {
			n := atol(v)
			if n < -1 {
				return fmt.Errorf("'pool-max-conn' must be >= -1")
			}
			s.PoolMaxConn = n
			return nil
		}},
		"pool-purge-delay": {nargs: 1, dflt: true, fn: func(l *loader, s *Server, v string) error {
			d, err := l.timeArg(l.linePos, v, time.Millisecond)
			if err != nil {
				return fmt.Errorf("%v in argument to <pool-purge-delay>.", err)
			}
			s.PoolPurgeDelay = d
			return nil
		}},
		"on-marked-down": {nargs: 1, dflt: true, missing: "'on-marked-down' expects 'shutdown-sessions' but got ''",
			fn: func(l *loader, s *Server, v string) error {
				if v != "shutdown-sessions" {
					return fmt.Errorf("'on-marked-down' expects 'shutdown-sessions' but got '%s'", v)
				}
				s.OnMarkedDown = v
				return nil
			}},
		"on-marked-up": {nargs: 1, dflt: true, missing: "'on-marked-up' expects 'shutdown-backup-sessions' but got ''",
			fn: func(l *loader, s *Server, v string) error {
				if v != "shutdown-backup-sessions" {
					return fmt.Errorf("'on-marked-up' expects 'shutdown-backup-sessions' but got '%s'", v)
				}
				s.OnMarkedUp = v
				return nil
			}},
		"non-stick": flag(func(s *Server) { s.NonStick = true }), "stick": flag(func(s *Server) { s.NonStick = false }),
		"tfo": unsup(0), "no-tfo": unsup(0),
		// HAProxy 2.6's srv_parse_slowstart: milliseconds kept as whole
		// seconds, rounded up; its own words for a bad value (an empty one
		// prints the NUL it found, which cuts the message).
		"slowstart": {nargs: 1, dflt: true, missing: "unexpected character '", fn: func(l *loader, s *Server, v string) error {
			ms, terr := parseTimeIn(v, time.Millisecond)
			switch {
			case terr == nil:
			case terr.trailing != nil:
				l.srvWarn(terr.trailing.Error())
			case terr.over:
				return fmt.Errorf("overflow in argument <%s> to <slowstart> of server %s, maximum value is 2147483647 ms (~24.8 days).", v, s.Name)
			case terr.under:
				return fmt.Errorf("underflow in argument <%s> to <slowstart> of server %s, minimum non-null value is 1 ms.", v, s.Name)
			case terr.char == 0:
				return fmt.Errorf("unexpected character '")
			default:
				return fmt.Errorf("unexpected character '%c' in 'slowstart' argument of server %s.", terr.char, s.Name)
			}
			s.Slowstart = int((ms + 999) / 1000)
			return nil
		}},
		"minconn":   intOpt("minconn", 0, 1<<30, func(s *Server, n int) { s.Minconn = n }),
		"resolvers": str(func(s *Server, v string) { s.Resolvers = v }),
		"resolve-prefer": {nargs: 1, dflt: true, fn: func(l *loader, s *Server, v string) error {
			if v != "ipv4" && v != "ipv6" {
				return fmt.Errorf("'resolve-prefer' expects either ipv4 or ipv6 as argument.")
			}
			s.ResolvePrefer = v
			return nil
		}},
		"resolve-net":  unsup(1),
		"resolve-opts": unsup(1),
		// NPN was replaced by ALPN; crypto/tls does not implement it.
		"npn": unsup(1), "check-proto": unsup(1),
		// crypto/tls sends no early data.
		"allow-0rtt":        unsup(0),
		"send-proxy-v2-ssl": unsup(0), "send-proxy-v2-ssl-cn": unsup(0),
		"no-send-proxy-v2-ssl": unsup(0), "no-send-proxy-v2-ssl-cn": unsup(0),
		"proxy-v2-options": unsup(1),
		"agent-check":      flag(func(s *Server) { s.AgentCheck = true }),
		"no-agent-check":   flag(func(s *Server) { s.AgentCheck = false }),
		"agent-port":       intOpt("agent-port", 1, 65535, func(s *Server, n int) { s.AgentPort = n }),
		"agent-inter":      timeOpt("agent-inter", func(s *Server, d time.Duration) { s.AgentInter = d }),
		"agent-addr":       miss(str(func(s *Server, v string) { s.AgentAddr = v }), "'agent-addr' expects an address as argument."),
		"agent-send":       miss(str(func(s *Server, v string) { s.AgentSend = v }), "'agent-send' expects a string as argument."),
		"observe": {nargs: 1, dflt: true, missing: "'observe' expects <mode> as argument.", fn: func(l *loader, s *Server, v string) error {
			switch v {
			case "none", "layer4":
			case "layer7":
				if l.cur == nil || l.cur.Mode != ModeHTTP {
					// An alert that leaves the configuration valid, and
					// the server unobserved (HAProxy 2.6 measured).
					return &softError{"'layer7' can only be used in http proxies."}
				}
			default:
				return fmt.Errorf("'observe' expects one of 'none', 'layer4', 'layer7' but got '%s'", v)
			}
			s.Observe = v
			return nil
		}},
		// HAProxy 2.6 reads error-limit with atoi(): "3x" is 3.
		"error-limit": {nargs: 1, dflt: true, missing: "'error-limit' expects an integer argument.", fn: func(l *loader, s *Server, v string) error {
			n := atol(v)
			if n <= 0 {
				return fmt.Errorf("error-limit has to be > 0.")
			}
			s.ErrorLimit = n
			return nil
		}},
		"on-error": {nargs: 1, dflt: true, missing: "'on-error' expects one of 'fastinter', 'fail-check', 'sudden-death' or 'mark-down' but got ''",
			fn: func(l *loader, s *Server, v string) error {
				switch v {
				case "fastinter", "fail-check", "sudden-death", "mark-down":
					s.OnError = v
					return nil
				}
				return fmt.Errorf("'on-error' expects one of 'fastinter', 'fail-check', 'sudden-death' or 'mark-down' but got '%s'", v)
			}},
		"track": miss(str(func(s *Server, v string) { s.Track = v }), "'track' expects [<proxy>/]<server> as argument."),
		"redir": miss(str(func(s *Server, v string) { s.Redir = v }), "'redir' expects <prefix> as argument."),
		// "source" is read by kwServer: it takes a variable number of words.
		"source": {nargs: 1, dflt: true},
		"socks4": {nargs: 1, dflt: true, missing: "'socks4' expects <addr>:<port> as argument.", fn: func(l *loader, s *Server, v string) error {
			if _, port := splitSourceAddr(v); port == "" {
				return fmt.Errorf("'socks4 %s' : missing port specification in '%s'", v, v)
			}
			a, err := l.sourceAddr(v)
			if err != nil {
				return fmt.Errorf("'socks4 %s' : %v", v, err)
			}
			s.Socks4 = a
			return nil
		}},
		"check-via-socks4": flag(func(s *Server) { s.CheckViaSocks4 = true }), "namespace": unsup(1), "proto": unsup(1),
		"pool-low-conn": unsup(1), "max-reuse": unsup(1),
		"ws": unsup(1), "log-proto": unsup(1),
		"tcp-ut": {nargs: 1, dflt: true, missing: "'tcp-ut' : missing TCP User Timeout value", fn: func(l *loader, s *Server, v string) error {
			ms, err := parseTCPUserTimeout(v)
			if err != nil {
				return err
			}
			if s.Name == "default-server" {
				// HAProxy 2.6 takes it and does nothing with it: its
				// srv_settings_cpy does not pass tcp_ut on (measured).
				l.warn(l.linePos, "'tcp-ut' on a 'default-server' line is not passed on to the servers, as in HAProxy 2.6: set it on each 'server' line.")
				return nil
			}
			s.TCPUserTimeout = ms
			return nil
		}},
		"usesrc": {nargs: 1, dflt: true, fn: func(l *loader, s *Server, v string) error {
			return fmt.Errorf("'usesrc' only allowed after a 'source' statement")
		}}, "shard": unsup(1),
	}
	serverTLSOptions(serverOptions)
}

// softError is a server keyword's error that HAProxy 2.6 reports as an
// alert without failing the configuration (ERR_ALERT alone): the keyword
// is ignored.
type softError struct{ msg string }

func (e *softError) Error() string { return e.msg }

// atolServerOpts are read with atol() by HAProxy 2.6: a missing or
// non-numeric value is 0, not an error.
var atolServerOpts = map[string]bool{"weight": true, "maxconn": true, "maxqueue": true}

// kwServer parses "server <name> <addr> [opts]" and "default-server [opts]".
func kwServer(c *pctx) error {
	err := serverLine(c)
	var dup *dupServerError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &dup):
		return errors.New(dup.msg) // HAProxy's section parser reports it
	}
	return &srvLineError{err.Error()}
}

// dupServerError is a server name already used in the proxy.
type dupServerError struct{ msg string }

func (e *dupServerError) Error() string { return e.msg }

// serverLine parses a server or default-server line for kwServer.
func serverLine(c *pctx) error {
	p := c.p
	def := c.args[0] == "default-server"
	var s *Server
	var opts []string
	if def {
		s = p.DefaultServer
		opts = c.args[1:]
	} else {
		if len(c.args) < 3 || c.args[1] == "" || c.args[2] == "" {
			return fmt.Errorf("'server' expects <name> and <addr>[:<port>] as arguments.")
		}
		name := c.args[1]
		if bad, ok := validName(name); !ok {
			return fmt.Errorf("character '%c' is not permitted in server name '%s'.", bad, name)
		}
		if o := c.l.srvNames[p][name]; o != nil {
			return &dupServerError{fmt.Sprintf("%s '%s', another server named '%s' was already defined at line %d, please use distinct names.", capName(p.Cap), p.Name, name, o.Pos.Line)}
		}
		s = p.DefaultServer.clone()
		s.Pos, s.Name, s.Addr = c.pos, name, c.args[2]
		if err := c.l.serverAddr(s, c.args[2]); err != nil {
			return fmt.Errorf("'server %s/%s' : %v", p.Name, name, err)
		}
		opts = c.args[3:]
	}
	// HAProxy names the line before a server's errors, not a
	// default-server's, and ends the message of a keyword's parser with a
	// period of its own (display_parser_err): "'rise' has to be > 0.".
	who := fmt.Sprintf("'%s %s/%s' : ", c.args[0], p.Name, s.Name)
	if def {
		// Its messages call the default server "default-server".
		who = ""
		s.Name = "default-server"
		defer func() { s.Name = "" }()
	}
	c.l.srvWho, c.l.srvWarned = who, false
	for i := 0; i < len(opts); i++ {
		o, ok := serverOptions[opts[i]]
		if !ok {
			msg := fmt.Sprintf("unknown keyword '%s'.", opts[i])
			if hint := didYouMean(opts[i], serverOptions); hint != "" {
				msg = fmt.Sprintf("unknown keyword '%s'%s", opts[i], hint)
			}
			if def {
				msg += " Hint: no address was expected for this server."
			}
			return errors.New(who + msg)
		}
		if o.status == kwUnsupported {
			return fmt.Errorf("%s'%s' is not supported by lb yet", who, opts[i])
		}
		if def && !o.dflt {
			return fmt.Errorf("'%s' option is not accepted in default-server sections", opts[i])
		}
		if opts[i] == "source" {
			src, n, err := c.l.parseSource(opts[i:], true)
			if err != nil {
				return fmt.Errorf("%s%v.", who, err)
			}
			s.Source = src
			i += n - 1
			continue
		}
		v := ""
		if o.nargs > 0 {
			switch {
			case i+1 < len(opts) && opts[i+1] != "":
				v = opts[i+1]
			case atolServerOpts[opts[i]]:
				// HAProxy reads a missing value as atol("") = 0.
			case o.missing != "":
				return fmt.Errorf("%s%s.", who, o.missing)
			default:
				return fmt.Errorf("%s'%s' expects an integer argument..", who, opts[i])
			}
		}
		if err := o.fn(c.l, s, v); err != nil {
			var soft *softError
			if !errors.As(err, &soft) {
				return fmt.Errorf("%s%v.", who, err)
			}
			c.l.diags = append(c.l.diags, Diag{Pos: c.l.linePos, Severity: AlertSoft, Msg: who + soft.msg + ".", Bracket: true})
		}
		i += o.nargs
	}
	if !def && s.Track != "" && s.Check {
		return fmt.Errorf("%sunable to enable checks and tracking at the same time!", who)
	}
	// "port" gives the agent its port when agent-port does not.
	if !def && s.AgentCheck && s.AgentPort == 0 && s.CheckPort == 0 {
		return fmt.Errorf("%sserver %s does not have agent port. Agent check has been disabled.", who, s.Name)
	}
	if !def {
		p.Servers = append(p.Servers, s)
		if c.l.srvNames[p] == nil {
			c.l.srvNames[p] = map[string]*Server{}
		}
		c.l.srvNames[p][s.Name] = s
	}
	return nil
}

// serverAddr parses a server address: [ipv4@|ipv6@]host[:port], unix@path,
// /path or abns@name. Host names are resolved later, in the check stage.
func (l *loader) serverAddr(s *Server, orig string) error {
	a := l.envExpand(orig)
	if i := strings.Index(a, "@"); i > 0 {
		pfx, rest := a[:i], a[i+1:]
		switch pfx {
		case "ipv4":
			s.Network, a = "tcp4", rest
		case "ipv6":
			s.Network, a = "tcp6", rest
		case "unix":
			s.Network, s.Path = "unix", rest
			return nil
		case "abns":
			s.Network, s.Path = "abns", rest
			return nil
		case "sockpair", "fd":
			return fmt.Errorf("a file descriptor is not acceptable here in '%s'", orig)
		case "udp", "udp4", "udp6", "quic4", "quic6":
			return fmt.Errorf("'%s@' server addresses are not supported by lb yet", pfx)
		default:
			return fmt.Errorf("unknown address family prefix '%s@' in '%s'", pfx, orig)
		}
	} else if strings.HasPrefix(a, "/") {
		s.Network, s.Path = "unix", a
		return nil
	}
	host, port := a, ""
	if strings.HasPrefix(a, "[") {
		if j := strings.IndexByte(a, ']'); j > 0 {
			host, port = a[1:j], strings.TrimPrefix(a[j+1:], ":")
		}
	} else if i := strings.LastIndexByte(a, ':'); i >= 0 {
		host, port = a[:i], a[i+1:]
	}
	if port != "" {
		sign := port[0] == '+' || port[0] == '-'
		digits := port
		if sign {
			digits = port[1:]
		}
		if digits == "" || !isDigit(digits[0]) {
			return fmt.Errorf("invalid character '%c' in port number '%s' in '%s'", port[0], port, orig)
		}
		if strings.Contains(digits, "-") {
			return fmt.Errorf("port range not permitted here in '%s'", orig)
		}
		n, err := strconv.Atoi(digits)
		if err != nil || n > 65535 || (!sign && n < 1) {
			return fmt.Errorf("invalid port '%s'", port)
		}
		if port[0] == '-' {
			n = -n
		}
		s.Port, s.PortOffset = n, sign
	}
	if host == "*" {
		host = ""
	}
	s.Host = host
	if host == "" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil {
		if s.Network == "tcp4" && ip.To4() == nil || s.Network == "tcp6" && ip.To4() != nil {
			return fmt.Errorf("invalid address: '%s' in '%s'", host, orig)
		}
		s.IPs = []net.IP{ip}
		if s.Network == "" {
			s.Network = "tcp4"
			if ip.To4() == nil {
				s.Network = "tcp6"
			}
		}
	}
	return nil
}
