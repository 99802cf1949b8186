package config

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Resolvers is a "resolvers" section: the DNS servers lb asks, at run time, for
// the addresses of the servers that name it ("resolvers <name>"), and how
// long each kind of answer is kept (HAProxy's configuration.txt §5.3.2).
type Resolvers struct {
	Pos         Pos
	Name        string
	Nameservers []Nameserver
	// AcceptedPayloadSize is "accepted_payload_size" (512 when unset): the
	// EDNS0 payload size announced, and the largest answer read.
	AcceptedPayloadSize int
	// ResolveRetries is "resolve_retries" (3 when unset): the queries sent
	// before a resolution gives up.
	ResolveRetries int
	// TimeoutResolve is "timeout resolve" (1s): how often the resolutions
	// are looked at; TimeoutRetry is "timeout retry" (1s): how long an
	// answer is waited for before the query is sent again.
	TimeoutResolve, TimeoutRetry time.Duration
	// Hold are the "hold" periods: Valid (10s) is how long an answer is
	// used before the name is asked again; NX, Refused, Timeout and Other
	// (30s each) how long the last valid answer survives such errors;
	// Obsolete (0) how long an address missing from the answers is kept.
	HoldValid, HoldNX, HoldRefused, HoldTimeout, HoldOther, HoldObsolete time.Duration
}

// Nameserver is a "nameserver <id> <ip:port>" line (UDP).
type Nameserver struct {
	Pos  Pos
	ID   string
	Addr netip.AddrPort
}

// newResolvers is a resolvers section with HAProxy's defaults.
func newResolvers(pos Pos, name string) *Resolvers {
	return &Resolvers{Pos: pos, Name: name, AcceptedPayloadSize: 512, ResolveRetries: 3,
		TimeoutResolve: time.Second, TimeoutRetry: time.Second, HoldValid: 10 * time.Second,
		HoldNX: 30 * time.Second, HoldRefused: 30 * time.Second, HoldTimeout: 30 * time.Second, HoldOther: 30 * time.Second}
}

// startResolvers opens a "resolvers" section (cfg_parse_resolvers).
func (l *loader) startResolvers(pos Pos, args []string) {
	if len(args) < 2 || args[1] == "" {
		l.alert(pos, "missing name for resolvers section.")
		l.skipSec = true
		return
	}
	if bad, ok := validName(args[1]); !ok {
		l.alert(pos, "character '%c' is not permitted in 'resolvers' name '%s'.", bad, args[1])
		l.skipSec = true
		return
	}
	if r := l.cfg.Resolvers[args[1]]; r != nil {
		l.bare(pos, Alert, "Parsing [%s:%d]: resolvers '%s' has same name as another resolvers (declared at %s:%d).", pos.File, pos.Line, args[1], r.Pos.File, r.Pos.Line)
		l.skipSec = true
		return
	}
	if l.cfg.Resolvers == nil {
		l.cfg.Resolvers = map[string]*Resolvers{}
	}
	l.resolvers = newResolvers(pos, args[1])
	l.cfg.Resolvers[args[1]] = l.resolvers
	l.cfg.ResolversOrder = append(l.cfg.ResolversOrder, args[1])
}

// resolversLine parses one line of a "resolvers" section.
func (l *loader) resolversLine(pos Pos, args []string) {
	r := l.resolvers
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch args[0] {
	case "nameserver":
		if arg(1) == "" || arg(2) == "" {
			l.alert(pos, "'%s' expects <name> and <addr>[:<port>] as arguments.", args[0])
			return
		}
		for _, ns := range r.Nameservers {
			if ns.ID == args[1] {
				l.bare(pos, Alert, "Parsing [%s:%d]: nameserver '%s' has same name as another nameserver (declared at %s:%d).", pos.File, pos.Line, args[1], ns.Pos.File, ns.Pos.Line)
				return
			}
		}
		a := l.envExpand(args[2])
		if pfx, rest, ok := strings.Cut(a, "@"); ok {
			switch pfx {
			case "udp", "udp4", "udp6", "ipv4", "ipv6":
				a = rest
			default:
				l.alert(pos, "'%s %s' : '%s@' nameservers are not supported by lb yet", args[0], args[1], pfx)
				return
			}
		}
		host, port := a, ""
		if i := strings.LastIndexByte(a, ':'); i >= 0 {
			host, port = strings.Trim(a[:i], "[]"), a[i+1:]
		}
		if port == "" {
			l.alert(pos, "'%s %s' : missing port specification in '%s'", args[0], args[1], args[2])
			return
		}
		ip, err := netip.ParseAddr(host)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil || n < 1 || n > 65535 {
			l.alert(pos, "'%s %s' : invalid address: '%s'", args[0], args[1], args[2])
			return
		}
		r.Nameservers = append(r.Nameservers, Nameserver{Pos: pos, ID: args[1], Addr: netip.AddrPortFrom(ip, uint16(n))})
	case "parse-resolv-conf":
		l.parseResolvConf(pos, r)
	case "accepted_payload_size":
		n, err := strconv.Atoi(arg(1))
		if err != nil || n < 512 || n > 65535 {
			l.alert(pos, "'%s' must be between 512 and 65535 inclusive (was %s).", args[0], arg(1))
			return
		}
		r.AcceptedPayloadSize = n
	case "resolve_retries":
		n, err := strconv.Atoi(arg(1))
		if arg(1) == "" {
			l.alert(pos, "'%s' expects <nb> as argument.", args[0])
			return
		}
		if err != nil || n < 1 {
			l.alert(pos, "'%s' expects a number greater than 0 (was %s).", args[0], arg(1))
			return
		}
		r.ResolveRetries = n
	case "timeout":
		var dst *time.Duration
		switch arg(1) {
		case "resolve":
			dst = &r.TimeoutResolve
		case "retry":
			dst = &r.TimeoutRetry
		default:
			l.alert(pos, "'%s' expects 'retry' or 'resolve' and <time> as arguments got '%s'.", args[0], arg(1))
			return
		}
		if arg(2) == "" {
			l.alert(pos, "'%s %s' expects <time> as argument.", args[0], args[1])
			return
		}
		d, err := l.timeArg(pos, args[2], time.Millisecond)
		if err != nil {
			l.alert(pos, "%v in argument to <%s %s>.", err, args[0], args[1])
			return
		}
		if d == 0 {
			l.alert(pos, "'%s %s' : value must be greater than 0.", args[0], args[1])
			return
		}
		*dst = d
	case "hold":
		if arg(1) == "" || arg(2) == "" {
			l.alert(pos, "'%s' expects an <event> and a <time> as arguments.", args[0])
			l.alert(Pos{}, "<event> can be either 'valid', 'nx', 'refused', 'timeout', or 'other'")
			return
		}
		dst := map[string]*time.Duration{"valid": &r.HoldValid, "nx": &r.HoldNX, "refused": &r.HoldRefused,
			"timeout": &r.HoldTimeout, "other": &r.HoldOther, "obsolete": &r.HoldObsolete}[args[1]]
		if dst == nil {
			l.alert(pos, "'%s' unknown <event>: '%s', expects either 'nx', 'timeout', 'valid', 'obsolete' or 'other'.", args[0], args[1])
			return
		}
		d, err := l.timeArg(pos, args[2], time.Millisecond)
		if err != nil {
			l.alert(pos, "%v in argument to <%s>.", err, args[0])
			return
		}
		*dst = d
	default:
		l.alert(pos, "unknown keyword '%s' in 'resolvers' section", args[0])
	}
}

// serverTemplate expands "server-template <prefix> <num | range> <fqdn>[:<port>]
// [params…]" into the server lines it stands for: <prefix>1 … <prefix><num>, or
// <prefix><low> … <prefix><high>, all at the same address.
func serverTemplate(c *pctx) error {
	if len(c.args) < 4 || c.args[1] == "" || c.args[2] == "" || c.args[3] == "" {
		return fmt.Errorf("'server-template' expects <prefix> <nb | range> <addr>[:<port>] as arguments.")
	}
	low, high := 1, 0
	rng := c.args[2]
	var err error
	if a, b, ok := strings.Cut(rng, "-"); ok {
		low, err = strconv.Atoi(a)
		if err == nil {
			high, err = strconv.Atoi(b)
		}
	} else {
		high, err = strconv.Atoi(rng)
	}
	if err != nil || low < 1 || high < low {
		return fmt.Errorf("Wrong server-template number or range arg '%s'.", rng)
	}
	for n := low; n <= high; n++ {
		args := append([]string{"server", c.args[1] + strconv.Itoa(n), c.args[3]}, c.args[4:]...)
		sub := *c
		sub.args = args
		if err := kwServer(&sub); err != nil {
			return err
		}
	}
	return nil
}

// resolvConf is the file "parse-resolv-conf" reads, as HAProxy: always this one.
const resolvConf = "/etc/resolv.conf"

func (l *loader) readResolvConf() ([]byte, error) {
	if l.opt.ReadResolvConf != nil {
		return l.opt.ReadResolvConf()
	}
	return os.ReadFile(resolvConf)
}

// implicitResolvers adds HAProxy 2.6's implicit "default" resolvers section
// when the configuration declares none of that name: the nameservers of
// /etc/resolv.conf, read silently (a line left out is not reported; no
// readable file, no section). Servers may name it ("resolvers default").
func (l *loader) implicitResolvers() {
	if l.cfg.Resolvers["default"] != nil {
		return
	}
	data, err := l.readResolvConf()
	if err != nil {
		return
	}
	r := newResolvers(Pos{File: "<internal>"}, "default")
	addResolvConf(r, data) // its warnings unsaid
	if l.cfg.Resolvers == nil {
		l.cfg.Resolvers = map[string]*Resolvers{}
	}
	l.cfg.Resolvers["default"] = r
	l.cfg.ResolversOrder = append(l.cfg.ResolversOrder, "default")
}

// parseResolvConf adds the nameservers of /etc/resolv.conf to r, as HAProxy
// 2.6 does: each "nameserver ADDR" line, on port 53, named after its
// address; a line without an address, an address that is not an IP, or one
// already named so is left out with a warning, all of them in one
// warning on the keyword's line.
func (l *loader) parseResolvConf(pos Pos, r *Resolvers) {
	data, err := l.readResolvConf()
	if err != nil {
		l.raw(pos, Alert, false, "failed to open %s.", resolvConf)
		return
	}
	switch warns := addResolvConf(r, data); len(warns) {
	case 0:
	case 1:
		l.raw(pos, Warning, false, "%s", warns[0])
	default:
		// HAProxy's indent_msg: one line each, after a line break.
		l.raw(pos, Warning, false, "\n        %s", strings.Join(warns, "\n        "))
	}
}

// addResolvConf adds to r the nameservers of the text of /etc/resolv.conf,
// and returns HAProxy's warnings for the lines it leaves out.
func addResolvConf(r *Resolvers, data []byte) (warns []string) {
	for n, line := range strings.SplitAfter(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "nameserver")
		if !ok {
			continue
		}
		// strtok(rest, whitespace): a word right after "nameserver" is not
		// this keyword ("nameservers …").
		addr := strings.TrimLeft(rest, " \t\n\r")
		if addr != "" && len(addr) == len(rest) {
			continue
		}
		if i := strings.IndexAny(addr, " \t\n\r"); i >= 0 {
			addr = addr[:i]
		}
		at := Pos{File: resolvConf, Line: n + 1}
		if addr == "" {
			warns = append(warns, fmt.Sprintf("parsing [%s] : nameserver line is missing address.", at))
			continue
		}
		dup := false
		for _, ns := range r.Nameservers {
			if ns.ID == addr {
				warns = append(warns, fmt.Sprintf("Parsing [%s] : generated name for %s nameserver '%s' conflicts with another nameserver (declared at %s), it appears to be a duplicate and will be excluded.", at, resolvConf, addr, ns.Pos))
				dup = true
			}
		}
		if dup {
			continue
		}
		ip, err := netip.ParseAddr(addr)
		if err != nil {
			warns = append(warns, fmt.Sprintf("parsing [%s] : address '%s' could not be recognized, nameserver will be excluded.", at, addr))
			continue
		}
		r.Nameservers = append(r.Nameservers, Nameserver{Pos: at, ID: addr, Addr: netip.AddrPortFrom(ip, 53)})
	}
	return warns
}
