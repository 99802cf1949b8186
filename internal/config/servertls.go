package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"

	"lb/internal/tlsconf"
)

// serverTLSSpec is what a server or default-server line's TLS keywords
// said, files already read; the check stage turns it into Server.TLS and
// Server.CheckTLS (buildServerTLS). A server starts with a copy of its
// default-server's.
type serverTLSSpec struct {
	ssl bool
	// useSSL: 1 "ssl", -1 "no-ssl", 0 neither (HAProxy's use_ssl).
	useSSL int8
	// checkSSL: 1 "check-ssl", -1 "no-check-ssl", 0 neither.
	checkSSL int8
	// verify is "none", "required" or "" (ssl-server-verify decides).
	verify string
	// caFile, crlFile, crt are the paths as resolved (ca-base, crt-base),
	// with what they hold.
	caFile, crlFile, crt string
	roots                *x509.CertPool
	crls                 []*x509.RevocationList
	cert                 *tls.Certificate
	sni, verifyHost      string
	alpn, checkALPN      []string
	checkSNI             string
	// ciphers and ciphersuites are as written ("" = the global defaults).
	ciphers, ciphersuites string
	methods               tlsconf.Methods
	noReuse               bool
	// tickets: 1 "tls-tickets", -1 "no-tls-tickets", 0 neither.
	tickets int8
}

// noPeriod drops the period that ends err's message: the server line
// adds HAProxy's own (kwServer).
func noPeriod(err error) error {
	return errors.New(strings.TrimSuffix(err.Error(), "."))
}

// serverTLSOptions adds the TLS keywords of server lines to opts.
func serverTLSOptions(opts map[string]serverOpt) {
	flag := func(dflt bool, set func(t *serverTLSSpec)) serverOpt {
		return serverOpt{dflt: dflt, fn: func(l *loader, s *Server, v string) error { set(&s.tls); return nil }}
	}
	arg := func(missing string, fn func(l *loader, s *Server, v string) error) serverOpt {
		return serverOpt{nargs: 1, dflt: true, missing: missing, fn: fn}
	}
	version := func(set func(m *tlsconf.Methods, v uint16)) func(l *loader, s *Server, v string) error {
		return func(l *loader, s *Server, v string) error {
			ver, ok := tlsconf.VersionID(v)
			if !ok {
				return fmt.Errorf("'%s' : unknown ssl/tls version", v)
			}
			set(&s.tls.methods, ver)
			return nil
		}
	}
	noVersion := func(v uint16) serverOpt {
		// HAProxy: "Supported in default-server: No".
		return flag(false, func(t *serverTLSSpec) { t.methods.No |= tlsconf.VersionBit(v) })
	}
	force := func(v uint16) serverOpt {
		return flag(true, func(t *serverTLSSpec) { t.methods.Min, t.methods.Max = v, v })
	}
	alpn := func(set func(t *serverTLSSpec, p []string)) func(l *loader, s *Server, v string) error {
		return func(l *loader, s *Server, v string) error {
			p, err := tlsconf.ParseALPN(v)
			if err != nil {
				return noPeriod(err)
			}
			set(&s.tls, p)
			return nil
		}
	}
	for k, o := range map[string]serverOpt{
		"ssl":            flag(true, func(t *serverTLSSpec) { t.ssl, t.useSSL = true, 1 }),
		"no-ssl":         flag(true, func(t *serverTLSSpec) { t.ssl, t.useSSL = false, -1 }),
		"check-ssl":      flag(true, func(t *serverTLSSpec) { t.checkSSL = 1 }),
		"no-check-ssl":   flag(true, func(t *serverTLSSpec) { t.checkSSL = -1 }),
		"ssl-reuse":      flag(true, func(t *serverTLSSpec) { t.noReuse = false }),
		"no-ssl-reuse":   flag(true, func(t *serverTLSSpec) { t.noReuse = true }),
		"tls-tickets":    flag(true, func(t *serverTLSSpec) { t.tickets = 1 }),
		"no-tls-tickets": flag(true, func(t *serverTLSSpec) { t.tickets = -1 }),
		"verify": arg("'verify' : missing verify method", func(l *loader, s *Server, v string) error {
			if v != "none" && v != "required" {
				return fmt.Errorf("'verify' : unknown verify method '%s', only 'none' and 'required' are supported", v)
			}
			s.tls.verify = v
			return nil
		}),
		"ca-file": arg("'ca-file' : missing CAfile path", func(l *loader, s *Server, v string) error {
			path := basePath(l.cfg.Global.CABase, v)
			pool, err := tlsconf.LoadCAPool(path)
			if err != nil {
				l.after = append(l.after, Diag{Severity: Alert, Msg: fmt.Sprintf("'ca-file' : unable to load %s.", path)})
				return noPeriod(err)
			}
			s.tls.caFile, s.tls.roots = path, pool
			return nil
		}),
		"crl-file": arg("'crl-file' : missing CRLfile path", func(l *loader, s *Server, v string) error {
			path := basePath(l.cfg.Global.CABase, v)
			crls, err := tlsconf.LoadCRLFile(path)
			if err != nil {
				return noPeriod(err)
			}
			if crls == nil {
				crls = []*x509.RevocationList{}
			}
			s.tls.crlFile, s.tls.crls = path, crls
			return nil
		}),
		"crt": arg("'crt' : missing certificate file path", func(l *loader, s *Server, v string) error {
			path := basePath(l.cfg.Global.CRTBase, v)
			c, err := tlsconf.LoadClientCert(path)
			if err != nil {
				return noPeriod(err)
			}
			s.tls.crt, s.tls.cert = path, &c
			return nil
		}),
		"sni": arg("'sni' : missing sni expression", func(l *loader, s *Server, v string) error {
			s.tls.sni = v
			return nil
		}),
		"verifyhost": arg("'verifyhost' : missing hostname to verify against", func(l *loader, s *Server, v string) error {
			s.tls.verifyHost = v
			return nil
		}),
		"check-sni": arg("'check-sni' : missing SNI", func(l *loader, s *Server, v string) error {
			s.tls.checkSNI = v
			return nil
		}),
		"alpn":       arg("'alpn' : missing the comma-delimited ALPN protocol suite", alpn(func(t *serverTLSSpec, p []string) { t.alpn = p })),
		"check-alpn": arg("'check-alpn' : missing the comma-delimited ALPN protocol suite", alpn(func(t *serverTLSSpec, p []string) { t.checkALPN = p })),
		"ciphers": arg("'ciphers' : missing cipher suite", func(l *loader, s *Server, v string) error {
			s.tls.ciphers = v
			return nil
		}),
		"ciphersuites": arg("'ciphersuites' : missing cipher suite", func(l *loader, s *Server, v string) error {
			s.tls.ciphersuites = v
			return nil
		}),
		"ssl-min-ver":  arg("'ssl-min-ver' : missing the ssl/tls version", version(func(m *tlsconf.Methods, v uint16) { m.Min = v })),
		"ssl-max-ver":  arg("'ssl-max-ver' : missing the ssl/tls version", version(func(m *tlsconf.Methods, v uint16) { m.Max = v })),
		"no-sslv3":     noVersion(0x0300),
		"no-tlsv10":    noVersion(tls.VersionTLS10),
		"no-tlsv11":    noVersion(tls.VersionTLS11),
		"no-tlsv12":    noVersion(tls.VersionTLS12),
		"no-tlsv13":    noVersion(tls.VersionTLS13),
		"force-sslv3":  force(0x0300),
		"force-tlsv10": force(tls.VersionTLS10),
		"force-tlsv11": force(tls.VersionTLS11),
		"force-tlsv12": force(tls.VersionTLS12),
		"force-tlsv13": force(tls.VersionTLS13),
	} {
		opts[k] = o
	}
}

// basePath applies ca-base or crt-base to a relative path, as HAProxy:
// paths starting with '/' or '@' are kept.
func basePath(base, p string) string {
	if base == "" || strings.HasPrefix(p, "/") || strings.HasPrefix(p, "@") {
		return p
	}
	return base + "/" + p
}

// verifyNoCA is HAProxy 2.6's alert for a verified server without CAs.
const verifyNoCA = "verify is enabled by default but no CA file specified. If you're running on a LAN where you're certain to trust the server's certificate, please set an explicit 'verify none' statement on the 'server' line, or use 'ssl-server-verify none' in the global section to disable server-side verifications by default."

// buildServerTLS turns the TLS keywords of server s (with the global
// ssl-default-server-* lines) into s.TLS and s.CheckTLS, reporting what
// HAProxy's ssl_sock_prepare_srv_ctx reports, and refusing by name what
// crypto/tls cannot carry out.
func (l *loader) buildServerTLS(p *Proxy, s *Server) {
	t := &s.tls
	useCheck := t.checkSSL == 1 || (t.checkSSL == 0 && t.ssl && s.CheckPort == 0 && s.CheckAddr == "")
	// "tcp-check connect ssl" or "http-check connect ssl": HAProxy checks
	// the server's TLS settings for them too.
	ruleSSL := p.Check.connectSSL()
	if !t.ssl && !useCheck && !ruleSSL {
		return
	}
	who := fmt.Sprintf("'server %s/%s' : ", p.Name, s.Name)
	g := &l.cfg.Global
	fail := func(format string, a ...any) { l.alert(s.Pos, who+format, a...) }
	o := tlsconf.ServerOptions{Roots: t.roots, CRLs: t.crls, VerifyHost: t.verifyHost, Certificate: t.cert,
		ALPN: t.alpn, NoReuse: t.noReuse}

	verify := t.verify
	if verify == "" {
		verify = g.SSLServerVerify
	}
	if verify != "none" {
		if t.roots == nil {
			fail("%s", verifyNoCA)
			return
		}
		o.Verify = true
	}

	// Versions: the server's own, else the global defaults.
	m := t.methods
	gm, gTickets, err := globalServerMethods(g.SSLDefaultServer.Options)
	if err != nil {
		fail("%v", err)
		return
	}
	m.No |= gm.No
	if m.Min == 0 {
		m.Min = gm.Min
	}
	if m.Max == 0 {
		m.Max = gm.Max
	}
	min, max, ignoredNo, hole, ok := m.Range()
	if ignoredNo {
		l.warn(s.Pos, "%sno-sslv3/no-tlsv1x are ignored for this server. Use only 'ssl-min-ver' and 'ssl-max-ver' to fix.", who)
	}
	if !ok {
		fail("proxy '%s': all SSL/TLS versions are disabled for server '%s'.", p.Name, s.Name)
		return
	}
	if hole != "" {
		l.warn(s.Pos, "%sproxy '%s': SSL/TLS versions range not contiguous for server '%s'. Hole find for %s. Use only 'ssl-min-ver' and 'ssl-max-ver' to fix.", who, p.Name, s.Name, hole)
	}
	o.MinVersion, o.MaxVersion = min, max
	o.NoTickets = t.tickets == -1 || (t.tickets == 0 && gTickets)

	ciphers := t.ciphers
	if ciphers == "" {
		ciphers = g.SSLDefaultServer.Ciphers
	}
	if ciphers != "" && min < tls.VersionTLS13 {
		// The same reading of OpenSSL's cipher strings as bind lines' (keywords,
		// "!", "-", "+", aliases, over the suites crypto/tls implements).
		ids, err := tlsconf.Ciphers(ciphers)
		if err != nil {
			fail("unable to set SSL cipher list to '%s'.", ciphers) // HAProxy's words
			return
		}
		o.CipherSuites = ids
	}
	suites13 := t.ciphersuites
	if suites13 == "" {
		suites13 = g.SSLDefaultServer.Ciphersuites
	}
	if suites13 != "" && max >= tls.VersionTLS13 {
		all, missing, err := tlsconf.CipherSuites13(suites13)
		var ce *tlsconf.CipherError
		switch {
		case errors.As(err, &ce):
			fail("'ciphersuites' : '%s' is not supported by lb yet (lb reads lists of suite names)", ce.Element)
			return
		case err != nil:
			fail("unable to set TLS 1.3 cipher suites to '%s'.", suites13)
			return
		case !all:
			fail("'ciphersuites %s' is not supported by lb yet: its TLS library offers all of TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and TLS_CHACHA20_POLY1305_SHA256 (limit TLS 1.3 with 'ssl-max-ver TLSv1.2' instead)", suites13)
			return
		}
		if len(missing) > 0 {
			l.warn(s.Pos, "%s'ciphersuites' : lb's TLS library does not implement %s, left out of the list.", who, quoteList(missing))
		}
	}
	if p.Mode == ModeHTTP {
		// lb speaks HTTP/1.1 to servers: a server choosing another
		// protocol by ALPN would get HTTP/1.1 from lb.
		for _, set := range []struct {
			kw    string
			proto []string
		}{{"alpn", t.alpn}, {"check-alpn", t.checkALPN}} {
			for _, pr := range set.proto {
				if pr != "http/1.1" && pr != "http/1.0" {
					fail("'%s %s' is not supported by lb yet: lb speaks HTTP/1.x to servers", set.kw, strings.Join(set.proto, ","))
					return
				}
			}
		}
	}

	cfg := tlsconf.ClientConfig(o)
	if t.ssl {
		s.TLS = &ServerTLS{Config: cfg, SNI: t.sni, NoReuse: t.noReuse}
	}
	if useCheck || ruleSSL {
		co := o
		// The checks make their own handshakes, without resumption.
		co.NoReuse = true
		if t.checkALPN != nil {
			co.ALPN = t.checkALPN
		}
		c := tlsconf.ClientConfig(co)
		c.ServerName = t.checkSNI
		if useCheck {
			s.CheckTLS, s.CheckSNI = c, t.checkSNI
		}
		if ruleSSL {
			s.RuleTLS = c.Clone()
		}
	}
}

// connectSSL reports whether a check rule of h connects with "ssl".
func (h *HealthCheck) connectSSL() bool {
	for _, r := range append(append([]*Rule(nil), h.TCPCheck...), h.HTTPCheck...) {
		if r.Action == "connect" && slices.Contains(r.Args, "ssl") {
			return true
		}
	}
	return false
}

// globalServerMethods reads ssl-default-server-options (already
// validated by checkSSLServerOptions).
func globalServerMethods(opts []string) (m tlsconf.Methods, noTickets bool, err error) {
	for i := 0; i < len(opts); i++ {
		w := opts[i]
		switch {
		case w == "no-tls-tickets":
			noTickets = true
		case w == "ssl-min-ver" || w == "ssl-max-ver":
			if i+1 >= len(opts) {
				return m, false, fmt.Errorf("'ssl-default-server-options' : missing the version argument of '%s'.", w)
			}
			v, _ := tlsconf.VersionID(opts[i+1])
			if w == "ssl-min-ver" {
				m.Min = v
			} else {
				m.Max = v
			}
			i++
		case strings.HasPrefix(w, "no-"):
			m.No |= tlsconf.VersionBit(optVersion(w[3:]))
		case strings.HasPrefix(w, "force-"):
			v := optVersion(w[6:])
			m.Min, m.Max = v, v
		}
	}
	return m, noTickets, nil
}

// optVersion maps the suffix of no-*/force-* ("tlsv12") to its version.
func optVersion(s string) uint16 {
	switch s {
	case "sslv3":
		return 0x0300
	case "tlsv10":
		return tls.VersionTLS10
	case "tlsv11":
		return tls.VersionTLS11
	case "tlsv12":
		return tls.VersionTLS12
	case "tlsv13":
		return tls.VersionTLS13
	}
	return 0
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return strings.Join(q, ", ")
}
