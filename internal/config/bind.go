package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func fileMode(m uint64) os.FileMode { return os.FileMode(m & 0o7777) }

// bindOpt is a bind keyword: its argument count and how it applies.
type bindOpt struct {
	nargs  int
	status kwStatus
	fn     func(l *loader, b *Bind, v []string) error
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
	sslStr := func(name string) bindOpt {
		return bindOpt{nargs: 1, fn: func(l *loader, b *Bind, v []string) error {
			sslOf(b).Other[name] = v[0]
			return nil
		}}
	}
	sslFlag := func(name string) bindOpt {
		return bindOpt{fn: func(l *loader, b *Bind, v []string) error {
			s := sslOf(b)
			s.NoTLS = append(s.NoTLS, name)
			return nil
		}}
	}
	bindOptions = map[string]bindOpt{
		"name":         str(func(b *Bind, s string) { b.Name = s }),
		"id":           intOpt("id", 1, func(b *Bind, n int) { b.ID = n }),
		"maxconn":      intOpt("maxconn", 0, func(b *Bind, n int) { b.Maxconn = n }),
		"backlog":      intOpt("backlog", 0, func(b *Bind, n int) { b.Backlog = n }),
		"transparent":  flag(func(b *Bind) { b.Transparent = true }),
		"defer-accept": flag(func(b *Bind) { b.DeferAccept = true }),
		"tfo":          flag(func(b *Bind) { b.Tfo = true }),
		"v4v6":         flag(func(b *Bind) { b.V4V6 = true }),
		"v6only":       flag(func(b *Bind) { b.V6Only = true }),
		"accept-proxy": flag(func(b *Bind) { b.AcceptProxy = true }),
		"interface":    str(func(b *Bind, s string) { b.Interface = s }),
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
		"severity-output": {nargs: 1, fn: func(l *loader, b *Bind, v []string) error {
			switch v[0] {
			case "none", "number", "string":
				return nil
			}
			return fmt.Errorf("'severity-output' only supports 'none', 'number', and 'string'")
		}},
		"expose-fd": {nargs: 1, fn: func(l *loader, b *Bind, v []string) error {
			if v[0] != "listeners" {
				return fmt.Errorf("'expose-fd' only supports 'listeners' (got '%s')", v[0])
			}
			b.ExposeFDListeners = true
			return nil
		}},
		"alpn": {nargs: 1, fn: func(l *loader, b *Bind, v []string) error {
			b.ALPN = strings.Split(v[0], ",")
			return nil
		}},
		"process": {nargs: 1, fn: func(l *loader, b *Bind, v []string) error {
			if v[0] != "1" && v[0] != "all" && v[0] != "odd" && !strings.HasPrefix(v[0], "1/") {
				return fmt.Errorf("'process' : '%s' is not a valid number/range. It supports numbers from 1 to 1.", v[0])
			}
			return nil
		}},
		"ssl": {fn: func(l *loader, b *Bind, v []string) error { sslOf(b); return nil }},
		"crt": {nargs: 1, fn: func(l *loader, b *Bind, v []string) error {
			p := v[0]
			if l.cfg.Global.CRTBase != "" && !filepath.IsAbs(p) {
				p = filepath.Join(l.cfg.Global.CRTBase, p)
			}
			if _, err := l.opt.Stat(p); err != nil {
				return fmt.Errorf("unable to stat SSL certificate from file '%s' : %s.", p, errText(err))
			}
			s := sslOf(b)
			s.Crts = append(s.Crts, p)
			return nil
		}},
		"crt-list": {nargs: 1, fn: func(l *loader, b *Bind, v []string) error {
			if _, err := l.opt.Stat(v[0]); err != nil {
				return fmt.Errorf("'crt-list' : unable to open file '%s' : %s.", v[0], errText(err))
			}
			sslOf(b).CrtList = v[0]
			return nil
		}},
		"ca-file": {nargs: 1, fn: func(l *loader, b *Bind, v []string) error {
			p := v[0]
			if l.cfg.Global.CABase != "" && !filepath.IsAbs(p) {
				p = filepath.Join(l.cfg.Global.CABase, p)
			}
			if _, err := l.opt.Stat(p); err != nil {
				return fmt.Errorf("'ca-file' : unable to load %s", p)
			}
			sslOf(b).CAFile = p
			return nil
		}},
		"verify": {nargs: 1, fn: func(l *loader, b *Bind, v []string) error {
			switch v[0] {
			case "none", "optional", "required":
				sslOf(b).Verify = v[0]
				return nil
			}
			return fmt.Errorf("'verify' : unknown verify method '%s', only 'none', 'optional', and 'required' are supported", v[0])
		}},
		"ciphers":               str(func(b *Bind, s string) { sslOf(b).Ciphers = s }),
		"ssl-min-ver":           str(func(b *Bind, s string) { sslOf(b).MinVer = s }),
		"ssl-max-ver":           str(func(b *Bind, s string) { sslOf(b).MaxVer = s }),
		"strict-sni":            flag(func(b *Bind) { sslOf(b).StrictSNI = true }),
		"ciphersuites":          sslStr("ciphersuites"),
		"curves":                sslStr("curves"),
		"ecdhe":                 sslStr("ecdhe"),
		"crl-file":              sslStr("crl-file"),
		"npn":                   sslStr("npn"),
		"sigalgs":               sslStr("sigalgs"),
		"client-sigalgs":        sslStr("client-sigalgs"),
		"ca-ignore-err":         sslStr("ca-ignore-err"),
		"crt-ignore-err":        sslStr("crt-ignore-err"),
		"ca-sign-file":          sslStr("ca-sign-file"),
		"ca-sign-pass":          sslStr("ca-sign-pass"),
		"ca-verify-file":        sslStr("ca-verify-file"),
		"tls-ticket-keys":       sslStr("tls-ticket-keys"),
		"no-sslv3":              sslFlag("no-sslv3"),
		"no-tlsv10":             sslFlag("no-tlsv10"),
		"no-tlsv11":             sslFlag("no-tlsv11"),
		"no-tlsv12":             sslFlag("no-tlsv12"),
		"no-tlsv13":             sslFlag("no-tlsv13"),
		"force-sslv3":           sslFlag("force-sslv3"),
		"force-tlsv10":          sslFlag("force-tlsv10"),
		"force-tlsv11":          sslFlag("force-tlsv11"),
		"force-tlsv12":          sslFlag("force-tlsv12"),
		"force-tlsv13":          sslFlag("force-tlsv13"),
		"no-tls-tickets":        sslFlag("no-tls-tickets"),
		"prefer-client-ciphers": sslFlag("prefer-client-ciphers"),
		"allow-0rtt":            sslFlag("allow-0rtt"),
		"no-ca-names":           sslFlag("no-ca-names"),
		"no-alpn":               sslFlag("no-alpn"),
		"generate-certificates": sslFlag("generate-certificates"),
		"shards":                {nargs: 1, status: kwUnsupported},
		"thread":                {nargs: 1, status: kwUnsupported},
		"namespace":             {nargs: 1, status: kwUnsupported},
		"mss":                   {nargs: 1, status: kwUnsupported},
		"tcp-ut":                {nargs: 1, status: kwUnsupported},
		"nice":                  {nargs: 1, status: kwUnsupported},
		"proto":                 {nargs: 1, status: kwUnsupported},
		"accept-netscaler-cip":  {nargs: 1, status: kwUnsupported},
		"quic-force-retry":      {status: kwUnsupported},
		"quic-cc-algo":          {nargs: 1, status: kwUnsupported},
		"label":                 {nargs: 1, status: kwUnsupported},
	}
}

// maxBindAddrs bounds the addresses one bind line expands to.
const maxBindAddrs = 65535

func sslOf(b *Bind) *SSLBind {
	if b.SSL == nil {
		b.SSL = &SSLBind{Other: map[string]string{}}
	}
	return b.SSL
}

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
			return nil, fmt.Errorf("'%s %s' in section '%s': unknown keyword '%s'.", what, spec, sec, opts[i])
		}
		if o.status == kwUnsupported {
			return nil, fmt.Errorf("'%s' is not supported by lb yet", opts[i])
		}
		if i+o.nargs >= len(opts) {
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
	if b.SSL != nil && len(b.SSL.Crts) == 0 && b.SSL.CrtList == "" && containsWord(opts, "ssl") {
		return nil, fmt.Errorf("'%s %s' in section '%s' : 'ssl' requires at least one certificate ('crt' or 'crt-list').", what, spec, sec)
	}
	if containsWord(opts, "ssl") {
		return nil, fmt.Errorf("'ssl' on '%s' lines is not supported by lb yet", what)
	}
	return b, nil
}

func containsWord(list []string, w string) bool { return contains(list, w) }

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
