package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Source is a "source" setting, of a backend (or defaults) or of a server:
// the address the connections to servers leave from.
type Source struct {
	// Addr is the local address bound before connecting; its port is 0
	// when the system chooses one.
	Addr netip.AddrPort
	// UseSrc is what "usesrc" asks (transparent proxying): "" for none,
	// "client" (the client's address and port), "clientip" (its address),
	// "addr" (UseAddr) or "hdr_ip" (the address in header Hdr, occurrence
	// Occ: 0 the last one as in HAProxy, negative counted from the end).
	UseSrc  string
	UseAddr netip.AddrPort
	Hdr     string
	Occ     int
	// Interface is "interface": the device the connections are bound to.
	Interface string
}

// parseSource reads "source <addr>[:<port>] [usesrc …] [interface …]"
// from args (args[0] is "source"). server says a server line is read,
// whose messages differ, as HAProxy's. It returns how many arguments were
// read.
func (l *loader) parseSource(args []string, server bool) (*Source, int, error) {
	if len(args) < 2 || args[1] == "" {
		if server {
			return nil, 0, fmt.Errorf("'source' expects <addr>[:<port>[-<port>]], and optionally 'usesrc' <addr>, and 'interface' <name> as argument.")
		}
		return nil, 0, fmt.Errorf("'source' expects <addr>[:<port>], and optionally 'usesrc' <addr>, and 'interface' <name>.")
	}
	src := &Source{}
	if _, port := splitSourceAddr(args[1]); server && strings.Contains(port, "-") {
		return nil, 0, fmt.Errorf("'source %s' : source port ranges are not supported by lb yet", args[1])
	}
	a, err := l.sourceAddr(args[1])
	if err != nil {
		return nil, 0, fmt.Errorf("'source %s' : %v", args[1], err)
	}
	src.Addr = a
	i := 2
	for i < len(args) && args[i] != "" {
		switch args[i] {
		case "usesrc":
			if i+1 >= len(args) || args[i+1] == "" {
				if server {
					return nil, 0, fmt.Errorf("'usesrc' expects <addr>[:<port>], 'client', 'clientip', or 'hdr_ip(name,#)' as argument.")
				}
				return nil, 0, fmt.Errorf("'usesrc' expects <addr>[:<port>], 'client', or 'clientip' as argument.")
			}
			v := args[i+1]
			src.UseSrc, src.UseAddr, src.Hdr, src.Occ = "", netip.AddrPort{}, "", 0
			switch {
			case v == "client" || v == "clientip":
				src.UseSrc = v
			case strings.HasPrefix(v, "hdr_ip(") && strings.HasSuffix(v, ")"):
				name, occ, _ := strings.Cut(v[len("hdr_ip("):len(v)-1], ",")
				if name == "" {
					return nil, 0, fmt.Errorf("'usesrc hdr_ip(name,#)' requires a header name.")
				}
				src.UseSrc, src.Hdr = "hdr_ip", name
				if occ != "" {
					n, err := strconv.Atoi(occ)
					if err != nil {
						return nil, 0, fmt.Errorf("'usesrc hdr_ip(name,#)' : invalid occurrence '%s'.", occ)
					}
					src.Occ = n
				}
			default:
				ua, err := l.sourceAddr(v)
				if err != nil {
					return nil, 0, fmt.Errorf("'usesrc %s' : %v", v, err)
				}
				src.UseSrc, src.UseAddr = "addr", ua
			}
			i += 2
		case "interface":
			if i+1 >= len(args) || args[i+1] == "" {
				return nil, 0, fmt.Errorf("'interface' : missing interface name.")
			}
			src.Interface = args[i+1]
			i += 2
		default:
			if server {
				return src, i, nil
			}
			return nil, 0, fmt.Errorf("'source' only supports optional keywords 'interface' and 'usesrc'.")
		}
	}
	return src, i, nil
}

// sourceAddr reads <addr>[:<port>], resolving a host name as HAProxy does
// while parsing.
func (l *loader) sourceAddr(v string) (netip.AddrPort, error) {
	if pfx, rest, ok := strings.Cut(v, "@"); ok {
		switch pfx {
		case "ipv4", "ipv6":
			v = rest
		case "unix", "abns":
			return netip.AddrPort{}, fmt.Errorf("'%s@' addresses are not supported by lb yet here", pfx)
		default:
			return netip.AddrPort{}, fmt.Errorf("unknown address family prefix '%s@' in '%s'", pfx, v)
		}
	}
	host, port := splitSourceAddr(v)
	var p uint64
	if port != "" {
		if strings.Contains(port, "-") {
			return netip.AddrPort{}, fmt.Errorf("port range not permitted here in '%s'", v)
		}
		var err error
		if p, err = strconv.ParseUint(port, 10, 16); err != nil {
			return netip.AddrPort{}, fmt.Errorf("invalid port '%s' in '%s'", port, v)
		}
	}
	if host == "" || host == "*" {
		host = "0.0.0.0"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		ips, rerr := l.opt.Resolver(host)
		if rerr != nil || len(ips) == 0 {
			return netip.AddrPort{}, fmt.Errorf("could not resolve address '%s'", host)
		}
		ip = ipAddr(ips)
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(p)), nil
}

// splitSourceAddr splits <addr>[:<port>] ("[v6]:port", or a bare IPv6
// address with no port).
func splitSourceAddr(v string) (host, port string) {
	host = v
	if strings.HasPrefix(v, "[") {
		if j := strings.IndexByte(v, ']'); j > 0 {
			host, port = v[1:j], strings.TrimPrefix(v[j+1:], ":")
		}
	} else if strings.Count(v, ":") == 1 {
		host, port, _ = strings.Cut(v, ":")
	}
	return host, port
}

// ipAddr is the first IPv4 address of ips, else the first one.
func ipAddr(ips []net.IP) netip.Addr {
	for _, x := range ips {
		if v4 := x.To4(); v4 != nil {
			a, _ := netip.AddrFromSlice(v4)
			return a
		}
	}
	a, _ := netip.AddrFromSlice(ips[0])
	return a
}

// checkSource gives HAProxy's warnings about p's sources: a header's
// address is used in mode http only.
func (l *loader) checkSource(p *Proxy) {
	if p.Mode == ModeHTTP {
		return
	}
	if p.Source != nil && p.Source.UseSrc == "hdr_ip" {
		l.warn(p.Pos, "proxy '%s' : ignoring use of header %s as source IP in non-HTTP mode.", p.Name, p.Source.Hdr)
	}
	for _, s := range p.Servers {
		if s.Source != nil && s.Source.UseSrc == "hdr_ip" {
			l.warn(Pos{}, "proxy '%s' : server %s cannot use header %s as source IP in non-HTTP mode.", p.Name, s.Name, s.Source.Hdr)
		}
	}
}

// kwSource parses a proxy's "source" line.
func kwSource(c *pctx) error {
	src, _, err := c.l.parseSource(c.args, false)
	if err != nil {
		return err
	}
	c.p.Source = src
	return nil
}

// kwDispatch parses "dispatch <address>:<port>": the backend sends every
// connection there, whatever servers it has (as HAProxy 2.6 does).
func kwDispatch(c *pctx) error {
	if len(c.args) < 2 || c.args[1] == "" {
		return fmt.Errorf("'dispatch' expects <addr>:<port> as argument.")
	}
	v := c.args[1]
	i := strings.LastIndexByte(v, ':')
	if i < 0 || i == len(v)-1 {
		return fmt.Errorf("'dispatch' : missing port specification in '%s'", v)
	}
	a, err := c.l.sourceAddr(v)
	if err != nil {
		return fmt.Errorf("'dispatch' : %v", err)
	}
	if a.Port() == 0 {
		return fmt.Errorf("'dispatch' : missing port specification in '%s'", v)
	}
	c.p.Dispatch = a
	return tooMany(c.args, 2)
}
