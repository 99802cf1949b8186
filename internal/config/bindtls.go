package config

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"lb/internal/tlsconf"
)

// bindTLSOptions are the TLS keywords of bind lines lb carries out (HAProxy
// 2.6 manual §5.1). Certificates and CA files load while parsing, as in
// HAProxy; the tls.Config is built by the checks (checkBindTLS), when the
// proxy's mode is known.
func bindTLSOptions() map[string]bindOpt {
	tb := func(l *loader, b *Bind) *tlsconf.Bind {
		if b.tls == nil {
			b.tls = &tlsconf.Bind{}
		}
		return b.tls
	}
	flag := func(set func(l *loader, b *Bind)) bindOpt {
		return bindOpt{tls: true, fn: func(l *loader, b *Bind, v []string) error { set(l, b); return nil }}
	}
	setting := func(kw string) bindOpt {
		n := tlsconf.SSLBindConfArgs[kw]
		return bindOpt{nargs: n, tls: true, fn: func(l *loader, b *Bind, v []string) error {
			return tb(l, b).Settings.Set(kw, v, l.tlsBases())
		}}
	}
	version := func(kw string) bindOpt {
		return bindOpt{nargs: 1, tls: true, fn: func(l *loader, b *Bind, v []string) error {
			x, ok := tlsconf.ParseVersion(v[0])
			if !ok {
				return fmt.Errorf("'%s' : unknown ssl/tls version", v[0])
			}
			if kw == "ssl-min-ver" {
				tb(l, b).Versions.Min = x
			} else {
				tb(l, b).Versions.Max = x
			}
			return nil
		}}
	}
	m := map[string]bindOpt{
		"ssl": flag(func(l *loader, b *Bind) {
			b.ssl = true
			// HAProxy takes the global defaults when it reads "ssl".
			t, d := tb(l, b), l.cfg.Global.SSLDefaultBind
			if t.Ciphers == "" {
				t.Ciphers = d.Ciphers
			}
			if t.Ciphersuites == "" {
				t.Ciphersuites = d.Ciphersuites
			}
			if t.Curves == "" {
				t.Curves = d.Curves
			}
		}),
		"crt": {nargs: 1, tls: true, fn: func(l *loader, b *Bind, v []string) error {
			path := l.tlsBases().CrtPath(v[0])
			certs, warns, err := tlsconf.LoadCrt(path, l.now())
			if err != nil {
				return err
			}
			for _, w := range warns {
				l.warn(l.linePos, "'bind %s' : %s", b.Spec, w)
			}
			t := tb(l, b)
			// A directory is a crt-list of its files for the runtime API,
			// as in HAProxy.
			list := ""
			if fi, err := os.Stat(path); err == nil && fi.IsDir() {
				list = path
				addList(t, list, tlsconf.ListFile{Dir: true})
			}
			for _, c := range certs {
				t.Entries = append(t.Entries, tlsconf.Entry{Cert: c, List: list})
			}
			return nil
		}},
		"crt-list": {nargs: 1, tls: true, fn: func(l *loader, b *Bind, v []string) error {
			path := l.tlsBases().CrtPath(v[0])
			entries, lines, warns, err := tlsconf.LoadCrtList(path, l.tlsBases(), l.now())
			if err != nil {
				return err
			}
			for _, w := range warns {
				l.warn(l.linePos, "'bind %s' : %s", b.Spec, w)
			}
			addList(tb(l, b), path, tlsconf.ListFile{Lines: lines})
			tb(l, b).Entries = append(tb(l, b).Entries, entries...)
			return nil
		}},
		"strict-sni":     flag(func(l *loader, b *Bind) { tb(l, b).StrictSNI = true }),
		"no-tls-tickets": flag(func(l *loader, b *Bind) { tb(l, b).NoTickets = true }),
		"tls-ticket-keys": {nargs: 1, tls: true, fn: func(l *loader, b *Bind, v []string) error {
			keys, err := tlsconf.LoadTicketKeys(v[0])
			if err != nil {
				return err
			}
			tb(l, b).TicketKeys = keys
			return nil
		}},
		"ssl-min-ver": version("ssl-min-ver"),
		"ssl-max-ver": version("ssl-max-ver"),
	}
	for _, kw := range []string{"alpn", "no-alpn", "ca-file", "crl-file", "verify", "no-ca-names",
		"ciphers", "ciphersuites", "curves", "ecdhe"} {
		m[kw] = setting(kw)
	}
	for _, v := range []string{"sslv3", "tlsv10", "tlsv11", "tlsv12", "tlsv13"} {
		for _, pfx := range []string{"no-", "force-"} {
			w := pfx + v
			m[w] = flag(func(l *loader, b *Bind) { tb(l, b).Versions.Word(w) })
		}
	}
	return m
}

// tlsBases are the global crt-base and ca-base.
// addList records a crt-list or crt directory of t, for the runtime API.
func addList(t *tlsconf.Bind, name string, lf tlsconf.ListFile) {
	if t.Lists == nil {
		t.Lists = map[string]tlsconf.ListFile{}
	}
	t.Lists[name] = lf
}

func (l *loader) tlsBases() tlsconf.Bases {
	return tlsconf.Bases{Crt: l.cfg.Global.CRTBase, CA: l.cfg.Global.CABase}
}

// now is the clock of the certificate validity warnings.
func (l *loader) now() time.Time {
	if l.opt.Now != nil {
		return l.opt.Now()
	}
	return time.Now()
}

// defaultBindOptions reads the global ssl-default-bind-options: the
// version words, no-tls-tickets, and the words lb refuses on an "ssl"
// bind line (prefer-client-ciphers: crypto/tls chooses the suite by its
// own order).
func defaultBindOptions(words []string) (v tlsconf.Versions, noTickets bool, refused string) {
	for i := 0; i < len(words); i++ {
		switch w := words[i]; w {
		case "no-tls-tickets":
			noTickets = true
		case "prefer-client-ciphers":
			refused = w
		case "ssl-min-ver", "ssl-max-ver":
			if i+1 < len(words) {
				x, _ := tlsconf.ParseVersion(words[i+1])
				if w == "ssl-min-ver" {
					v.Min = x
				} else {
					v.Max = x
				}
				i++
			}
		default:
			v.Word(w)
		}
	}
	return v, noTickets, refused
}

// checkBindTLS builds the TLS configuration of p's "ssl" bind lines, as
// HAProxy prepares its SSL contexts after parsing, with its messages.
func (l *loader) checkBindTLS(p *Proxy) {
	for _, b := range p.Binds {
		if b.tls == nil {
			continue
		}
		t := b.tls
		if !b.ssl {
			// HAProxy loads the files and runs the line in clear.
			l.warn(b.Pos, "Proxy '%s': bind '%s' has TLS settings but no 'ssl': they are not used, the line accepts plain TCP (as in HAProxy).", p.Name, b.Spec)
			continue
		}
		if len(t.Entries) == 0 {
			l.alert(b.Pos, "Proxy '%s': no SSL certificate specified for bind '%s' (use 'crt').", p.Name, b.Spec)
			continue
		}
		dv, noTickets, refused := defaultBindOptions(l.cfg.Global.SSLDefaultBind.Options)
		if refused != "" {
			l.alert(b.Pos, "'%s' (ssl-default-bind-options) is not supported by lb yet", refused)
			continue
		}
		t.Versions.Inherit(dv)
		t.NoTickets = t.NoTickets || noTickets
		vr, err := t.Versions.Resolve()
		if err == nil {
			if vr.IgnoredNo {
				l.warn(b.Pos, "Proxy '%s': no-sslv3/no-tlsv1x are ignored for bind '%s'. Use only 'ssl-min-ver' and 'ssl-max-ver' to fix.", p.Name, b.Spec)
			}
			if vr.AmbiguousMin != "" {
				l.warn(b.Pos, "Proxy '%s': Ambiguous configuration for bind '%s': the ssl-min-ver value is not configured and the ssl-max-ver value is lower than the default ssl-min-ver value (TLSv1.2). Setting the ssl-min-ver to %s. Use 'ssl-min-ver' to fix this.", p.Name, b.Spec, vr.AmbiguousMin)
			}
		}
		t.Proxy, t.Spec, t.Pos = p.Name, b.Spec, b.Pos.String()
		if p.Mode == ModeHTTP {
			t.NoH2 = true
			l.dropH2(p, b, &t.Settings)
			for _, e := range t.Entries {
				if e.Conf != nil {
					l.dropH2(p, b, e.Conf)
				}
			}
		}
		cfg, err := t.Build()
		if err != nil {
			msg, why := err.Error(), ""
			if e, ok := err.(*tlsconf.Error); ok {
				msg, why = e.Msg, e.Why
			}
			if why != "" {
				why = ": " + why
			}
			l.alert(b.Pos, "Proxy '%s': %s for bind '%s'%s.", p.Name, msg, b.Spec, why)
			continue
		}
		verify := t.Verify
		if verify == "" {
			verify = "none"
		}
		b.TLS = &BindTLS{Config: cfg, NoTickets: t.NoTickets, TicketKeys: t.TicketKeys, Verify: verify,
			StrictSNI: t.StrictSNI, Bind: t}
	}
}

// dropH2 removes "h2" from an ALPN list in mode http: lb's HTTP plane
// speaks HTTP/1.x only. (In mode tcp the bytes are relayed, and h2 stays
// offered for the server to speak.)
func (l *loader) dropH2(p *Proxy, b *Bind, s *tlsconf.Settings) {
	if !slices.Contains(s.ALPN, "h2") {
		return
	}
	s.ALPN = slices.DeleteFunc(slices.Clone(s.ALPN), func(x string) bool { return x == "h2" })
	rest := strings.Join(s.ALPN, ",")
	if rest == "" {
		rest = "none"
	}
	l.warn(b.Pos, "Proxy '%s': 'alpn' of bind '%s': h2 is not offered until lb speaks HTTP/2 (offering %s).", p.Name, b.Spec, rest)
}
