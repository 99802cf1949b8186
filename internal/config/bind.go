package config

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

func fileMode(m uint64) os.FileMode { return os.FileMode(m & 0o7777) }

// bindOpt is a bind keyword: its argument count and how it applies.
type bindOpt struct {
	nargs  int
	status kwStatus
	// tls marks the TLS keywords (refused on stats sockets).
	tls bool
	// missing is the error of a missing value ("" = "missing value").
	missing string
	fn      func(l *loader, b *Bind, v []string) error
}

// bindOptions is the single table of bind keywords (HAProxy 2.6 manual
// §5.1). kwUnsupported entries are known to HAProxy but not to lb.
var bindOptions map[string]bindOpt

func init() {
	flag := func(set func(b *Bind)) bindOpt {
		return bindOpt{fn: func(l *loader, b *Bind, v []string) error { set(b); return nil }}
	}
	intOpt := func(name string, min int, set func(b *Bind, n int)) bindOpt {
		return bindOpt{nargs: 1, fn: func(l *loader, b *Bind, v []string) error {
			n, err := parseInt(v[0])
			if err != nil {
				// HAProxy 2.6 reads these with atol(): garbage is 0.
				n = atol(v[0])
				l.warn(l.linePos, "'%s' : '%s' is not a number, read as %d like HAProxy does.", name, v[0], n)
			}
			if n < min {
				return fmt.Errorf("'%s' : invalid value %s, must be >= %d", name, v[0], min)
			}
			set(b, n)
			return nil
		}}
	}
	str := func(set func(b *Bind, s string)) bindOpt {
		return bindOpt{nargs: 1, fn: func(l *loader, b *Bind, v []string) error { set(b, v[0]); return nil }}
	}
	unsup := func(n int) bindOpt { return bindOpt{nargs: n, status: kwUnsupported} }
	bindOptions = map[string]bindOpt{
		"name":         str(func(b *Bind, s string) { b.Name = s }),
		"id":           intOpt("id", 1, func(b *Bind, n int) { b.ID = n }),
		"backlog":      intOpt("backlog", 0, func(b *Bind, n int) { b.Backlog = n }),
		"maxconn":      intOpt("maxconn", 0, func(b *Bind, n int) { b.Maxconn = n }),
		"transparent":  flag(func(b *Bind) { b.Transparent = true }),
		"defer-accept": flag(func(b *Bind) { b.DeferAccept = true }),
		"tfo":          flag(func(b *Bind) { b.Tfo = true }),
		"v4v6":         flag(func(b *Bind) { b.V4V6 = true }),
		"v6only":       flag(func(b *Bind) { b.V6Only = true }),
		"accept-proxy": flag(func(b *Bind) { b.AcceptProxy = true }),
		"interface":    str(func(b *Bind, s string) { b.Interface = s }),
		"tcp-ut": {nargs: 1, missing: "missing TCP User Timeout value", fn: func(l *loader, b *Bind, v []string) error {
			ms, err := parseTCPUserTimeout(v[0])
			b.TCPUserTimeout = ms
			return err
		}},
		"user": {nargs: 1, fn: func(l *loader, b *Bind, v []string) error {
			uid, err := l.lookupUser(v[0])
			if err != nil {
				return fmt.Errorf("'user' : unknown user name '%s'", v[0])
			}
			b.User, b.UID = v[0], uid
			return nil
		}},
		"group": {nargs: 1, fn: func(l *loader, b *Bind, v []string) error {
			gid, err := l.lookupGroup(v[0])
			if err != nil {
				return fmt.Errorf("'group' : unknown group name '%s'", v[0])
			}
			b.Group, b.GID = v[0], gid
			return nil
		}},
		"uid": intOpt("uid", 0, func(b *Bind, n int) { b.UID = n }),
		"gid": intOpt("gid", 0, func(b *Bind, n int) { b.GID = n }),
		"mode": {nargs: 1, fn: func(l *loader, b *Bind, v []string) error {
			m, err := strconv.ParseUint(v[0], 8, 32)
			if err != nil || m > 0o7777 {
				return fmt.Errorf("'mode' : missing or invalid mode '%s' (octal integer expected)", v[0])
			}
			b.Mode = fileMode(m)
			return nil
		}},
		"level": {nargs: 1, fn: func(l *loader, b *Bind, v []string) error {
			switch v[0] {
			case "user", "operator", "admin":
				b.Level = v[0]
				return nil
			}
			return fmt.Errorf("'level' only supports 'user', 'operator', and 'admin' (got '%s')", v[0])
		}},
		"expose-fd": {nargs: 1, fn: func(l *loader, b *Bind, v []string) error {
			if v[0] != "listeners" {
				return fmt.Errorf("'expose-fd' only supports 'listeners' (got '%s')", v[0])
			}
			b.ExposeFDListeners = true
			return nil
		}},
		// TLS (bindtls.go): what crypto/tls cannot do stays refused.
		"npn": unsup(1), "sigalgs": unsup(1), "client-sigalgs": unsup(1), "ca-ignore-err": unsup(1),
		"crt-ignore-err": unsup(1), "ca-sign-file": unsup(1), "ca-sign-pass": unsup(1), "ca-verify-file": unsup(1),
		"prefer-client-ciphers": unsup(0), "allow-0rtt": unsup(0),
		"generate-certificates": unsup(0),
		"severity-output":       unsup(1), "process": unsup(1), "shards": unsup(1),
		"thread": unsup(1), "namespace": unsup(1), "mss": unsup(1), "nice": unsup(1),
		"proto": unsup(1), "accept-netscaler-cip": unsup(1), "quic-force-retry": unsup(0),
		"quic-cc-algo": unsup(1), "label": unsup(1),
	}
	for k, o := range bindTLSOptions() {
		bindOptions[k] = o
	}
}

// maxBindAddrs bounds the addresses one bind line expands to.
const maxBindAddrs = 65535

// parseBind parses a bind line's address spec and its options. what is the
// keyword for messages ("bind" or "stats socket"); section is the section
// kind ("frontend", "listen", "global").
func (l *loader) parseBind(pos Pos, spec string, opts []string, what string, stats bool) (*Bind, error) {
	b := &Bind{Pos: pos, Spec: spec, UID: -1, GID: -1}
	addrs, err := l.parseBindAddrs(spec, what, stats)
	if err != nil {
		return nil, err
	}
	b.Addrs = addrs
	if len(addrs) > 0 && addrs[0].Network == "unix" {
		// unix-bind gives the defaults of unix sockets' ownership and mode.
		ub := l.cfg.Global.UnixBind
		b.Mode, b.User, b.Group, b.UID, b.GID = ub.Mode, ub.User, ub.Group, ub.UID, ub.GID
	}
	sec := l.sec
	for i := 0; i < len(opts); i++ {
		o, ok := bindOptions[opts[i]]
		if !ok {
			if hint := didYouMean(opts[i], bindOptions); hint != "" {
				return nil, fmt.Errorf("'%s %s' in section '%s': unknown keyword '%s'%s", what, spec, sec, opts[i], hint)
			}
			return nil, fmt.Errorf("'%s %s' in section '%s': unknown keyword '%s'.", what, spec, sec, opts[i])
		}
		if o.status == kwUnsupported {
			return nil, fmt.Errorf("'%s' is not supported by lb yet", opts[i])
		}
		if stats && o.tls {
			return nil, fmt.Errorf("'%s' is not supported by lb yet on 'stats socket' lines", opts[i])
		}
		if i+o.nargs >= len(opts) || o.missing != "" && opts[i+1] == "" {
			if o.missing != "" {
				return nil, fmt.Errorf("'%s %s' in section '%s' : '%s' : %s", what, spec, sec, opts[i], o.missing)
			}
			return nil, fmt.Errorf("'%s %s' in section '%s' : '%s' : missing value", what, spec, sec, opts[i])
		}
		if err := o.fn(l, b, opts[i+1:i+1+o.nargs]); err != nil {
			if stats {
				return nil, fmt.Errorf("'%s' : '%v'", what, err)
			}
			return nil, fmt.Errorf("'%s %s' in section '%s' : %v", what, spec, sec, err)
		}
		i += o.nargs
	}
	return b, nil
}

// envExpand replaces $NAME and ${NAME} anywhere in s (unset = empty), as
// HAProxy's env_expand() does on addresses whatever the quoting.
func (l *loader) envExpand(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			out.WriteByte(s[i])
			continue
		}
		j := i + 1
		brace := j < len(s) && s[j] == '{'
		if brace {
			j++
		}
		k := j
		for k < len(s) && (isAlnum(s[k]) || s[k] == '_') {
			k++
		}
		if k == j || (brace && (k >= len(s) || s[k] != '}')) {
			out.WriteByte(s[i])
			continue
		}
		v, _ := l.env(s[j:k])
		out.WriteString(v)
		if brace {
			k++
		}
		i = k - 1
	}
	return out.String()
}

// parseBindAddrs expands a bind spec: a comma list of addresses, each
// possibly a port range, a unix path, abns@, fd@ or sockpair@.
func (l *loader) parseBindAddrs(spec, what string, stats bool) ([]BindAddr, error) {
	if spec == "" {
		return nil, fmt.Errorf("'%s' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments.", what)
	}
	var out []BindAddr
	for _, item := range strings.Split(spec, ",") {
		a, err := l.parseOneBindAddr(item, what)
		if err != nil {
			return nil, err
		}
		out = append(out, a...)
		if len(out) > maxBindAddrs {
			// One socket per port: more than a port space per line is a
			// mistake, and would exhaust file descriptors anyway.
			return nil, fmt.Errorf("'%s' : too many addresses in '%s' (more than %d)", what, spec, maxBindAddrs)
		}
	}
	if stats && len(out) > 1 {
		return nil, fmt.Errorf("'%s' : port ranges and address lists are not supported in '%s'", what, spec)
	}
	return out, nil
}

func (l *loader) parseOneBindAddr(orig, what string) ([]BindAddr, error) {
	s := l.envExpand(orig)
	family := ""
	if i := strings.Index(s, "@"); i > 0 {
		pfx := s[:i]
		rest := s[i+1:]
		switch pfx {
		case "ipv4", "tcp4":
			family, s = "tcp4", rest
		case "ipv6", "tcp6":
			family, s = "tcp6", rest
		case "tcp":
			s = rest
		case "unix":
			return []BindAddr{{Network: "unix", Path: l.unixPath(rest)}}, nil
		case "abns":
			return []BindAddr{{Network: "abns", Path: rest}}, nil
		case "fd", "sockpair":
			n, err := strconv.Atoi(rest)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("'%s' : file descriptor '%s' is not a valid integer in '%s'", what, rest, orig)
			}
			if !l.opt.SkipFDCheck {
				if err := checkFD(n); err != nil {
					return nil, fmt.Errorf("'%s' : cannot use file descriptor '%d' : %s.", what, n, errText(err))
				}
			}
			return []BindAddr{{Network: pfx, FD: n}}, nil
		case "udp", "udp4", "udp6", "quic4", "quic6", "uxdg", "uxst", "stream+ipv4", "stream+ipv6":
			return nil, fmt.Errorf("'%s' : '%s@' addresses are not supported by lb yet in '%s'", what, pfx, orig)
		default:
			return nil, fmt.Errorf("'%s' : invalid address: '%s@' in '%s'", what, pfx, orig)
		}
	} else if strings.HasPrefix(s, "/") {
		return []BindAddr{{Network: "unix", Path: l.unixPath(s)}}, nil
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return nil, fmt.Errorf("'%s' : missing port specification in '%s'", what, orig)
	}
	host, port := s[:i], s[i+1:]
	if port == "" {
		return nil, fmt.Errorf("'%s' : missing port specification in '%s'", what, orig)
	}
	if !isDigit(port[0]) {
		return nil, fmt.Errorf("'%s' : invalid character '%c' in port number '%s' in '%s'", what, port[0], port, orig)
	}
	lo, hi, err := parseRange(port)
	if err != nil {
		return nil, fmt.Errorf("'%s' : invalid port '%s'", what, port)
	}
	if lo < 1 || lo > 65535 {
		return nil, fmt.Errorf("'%s' : invalid port '%d'", what, lo)
	}
	if hi < 1 || hi > 65535 {
		return nil, fmt.Errorf("'%s' : invalid port '%d'", what, hi)
	}
	if lo > hi {
		return nil, fmt.Errorf("'%s' : invalid port range '%s'", what, port)
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
		if family == "" {
			family = "tcp6"
		}
	}
	var ip net.IP
	switch host {
	case "", "*":
		host = ""
		if family == "tcp6" {
			host = "::"
		}
	default:
		ip = net.ParseIP(host)
		if ip == nil {
			ips, err := l.opt.Resolver(host)
			if err != nil || len(ips) == 0 {
				return nil, fmt.Errorf("'%s' : invalid address: '%s' in '%s'", what, host, orig)
			}
			ip = ips[0]
			for _, c := range ips {
				if (c.To4() != nil) == (family != "tcp6") {
					ip = c
					break
				}
			}
		}
		host = ip.String()
	}
	if family == "" {
		family = "tcp4"
		if ip != nil && ip.To4() == nil {
			family = "tcp6"
		}
	}
	if ip != nil && (ip.To4() != nil) != (family == "tcp4") {
		return nil, fmt.Errorf("'%s' : invalid address: '%s' in '%s'", what, host, orig)
	}
	out := make([]BindAddr, 0, hi-lo+1)
	for p := lo; p <= hi; p++ {
		out = append(out, BindAddr{Network: family, Host: host, Port: p})
	}
	return out, nil
}

// unixPath applies the global unix-bind prefix.
func (l *loader) unixPath(p string) string {
	if l.cfg.Global.UnixBind.Prefix != "" {
		return l.cfg.Global.UnixBind.Prefix + p
	}
	return p
}

// parseTCPUserTimeout reads the value of "tcp-ut" on a bind or server line, in
// milliseconds by default, with HAProxy 2.6's words for what it refuses
// (bind_parse_tcp_ut, srv_parse_tcp_ut).
func parseTCPUserTimeout(v string) (int, error) {
	ms, terr := parseTimeIn(v, time.Millisecond)
	switch {
	case terr == nil:
		return int(ms), nil
	case terr.over:
		return 0, fmt.Errorf("timer overflow in argument '%s' to 'tcp-ut' (maximum value is 2147483647 ms or ~24.8 days)", v)
	case terr.under:
		return 0, fmt.Errorf("timer underflow in argument '%s' to 'tcp-ut' (minimum non-null value is 1 ms)", v)
	}
	return 0, fmt.Errorf("'tcp-ut' : expects a positive delay in milliseconds")
}
