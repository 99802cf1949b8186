package tlsconf

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Settings are the TLS settings of a bind line, or of one crt-list line
// (its [sslbindconf]), where unset fields fall back on the bind line's.
type Settings struct {
	// ALPN are the protocols offered ("alpn"), nil = unset; NoALPN is
	// "no-alpn" (none offered, overriding the bind line's).
	ALPN   []string
	NoALPN bool
	// CA is "ca-file", CRL "crl-file" (nil = unset).
	CA, CRL *CAFile
	// Verify is "verify": "none", "optional", "required" ("" = unset,
	// none).
	Verify string
	// NoCANames is "no-ca-names": the CA names are not sent with the
	// certificate request.
	NoCANames bool
	// Ciphers, Ciphersuites and Curves are the OpenSSL strings of
	// "ciphers", "ciphersuites", "curves" ("" = unset); Ecdhe is "ecdhe",
	// used when Curves is unset.
	Ciphers, Ciphersuites, Curves, Ecdhe string
	// Versions are ssl-min-ver/ssl-max-ver on a crt-list line (0 =
	// unset), which replace the bind line's bounds as in HAProxy.
	MinVer, MaxVer int
}

// Entry is one certificate of a bind line with its SNI filters and, from
// a crt-list line, its own settings.
type Entry struct {
	Cert *Cert
	// Filters are a crt-list line's SNI filters as written ("a.com",
	// "*.a.com", "!b.a.com"); with any filter, the certificate's own names
	// are not used (HAProxy).
	Filters []string
	// Conf is the crt-list line's [sslbindconf] (nil = none).
	Conf *Settings
	// List is the crt-list file, or the "crt" directory, the entry comes
	// from, as named in the configuration ("" = a "crt" file); Line is
	// its line in the list (0 in a directory; an entry added at run time
	// takes the list's next number).
	List string
	Line int
	// Opts is the line's [sslbindconf] as HAProxy prints it back in "show
	// ssl crt-list" (" [alpn h2\x00 ssl-min-ver TLSv1.2]", "" = none).
	Opts string
}

// ListFile is a crt-list file or a "crt" directory a bind line loaded.
type ListFile struct {
	// Lines is the number of lines of the file (0 for a directory).
	Lines int
	// Dir is set for a "crt" directory.
	Dir bool
}

// Bind is everything a bind line's "ssl" resolves from.
type Bind struct {
	Settings
	// Entries are the certificates in the order loaded ("crt", "crt-list"
	// lines); the first one is the default certificate.
	Entries []Entry
	// StrictSNI is "strict-sni": no default certificate.
	StrictSNI bool
	// Versions are the bind line's version keywords, global defaults
	// inherited.
	Versions Versions
	// NoTickets is "no-tls-tickets"; TicketKeys the keys of
	// "tls-ticket-keys" (encrypting key first, nil = random ones).
	NoTickets  bool
	TicketKeys [][32]byte
	// Now is the clock of the CRL checks (nil = time.Now).
	Now func() time.Time
	// Lists are the crt-list files and "crt" directories of Entries, by
	// name (nil = none), for the runtime API.
	Lists map[string]ListFile
	// Proxy, Spec and Pos name the bind line in the runtime API's
	// messages: its proxy, its address as written, its "file:line"
	// ("" = unnamed).
	Proxy, Spec, Pos string
	// NoH2 drops "h2" from the ALPN of crt-list lines added at run time
	// (mode http: lb speaks HTTP/1.x), as the configuration's loading
	// does for the file's lines.
	NoH2 bool

	// srv is what Build made, for the certificate store (store.go).
	srv *server
}

// Error is a Build failure: HAProxy's message (Msg, as in "Proxy 'x':
// <Msg> for bind 'y'") and, when lb's reason differs, Why.
type Error struct{ Msg, Why string }

func (e *Error) Error() string {
	if e.Why == "" {
		return e.Msg
	}
	return e.Msg + " (" + e.Why + ")"
}

// entryConf is an entry's settings resolved into a template.
type entryConf struct {
	tmpl *tls.Config
	alpn []string
}

// server is a built bind: the selection state behind the Config. The
// certificates and the names index are in idx, replaced as a whole when
// the runtime API commits a certificate (store.go): a handshake reads
// them with one atomic load, no lock.
type server struct {
	base   *tls.Config
	idx    atomic.Pointer[sniIndex]
	strict bool
	// vr and now are what the entries' settings were resolved with, for
	// the entries added at run time.
	vr  VersionRange
	now func() time.Time
}

// sniIndex is the entries with their resolved settings and certificate,
// and the SNI names index.
type sniIndex struct {
	entries     []Entry
	confs       []*entryConf
	certs       []*Cert
	exact, wild map[string][]int
	// negatives are each entry's excluded names ("!name" filters).
	negatives []map[string]bool
}

// index builds the names index of the entries with their settings and
// certs (one each): a crt-list line's filters, or else its certificate's
// names.
func index(entries []Entry, confs []*entryConf, certs []*Cert) *sniIndex {
	ix := &sniIndex{entries: entries, confs: confs, certs: certs, exact: map[string][]int{}, wild: map[string][]int{}}
	for i, e := range entries {
		positive, negatives := map[string]bool{}, map[string]bool{}
		names := certs[i].Names
		if len(e.Filters) > 0 {
			names = e.Filters
		}
		for _, n := range names {
			n = strings.ToLower(n)
			neg := strings.HasPrefix(n, "!")
			n = strings.TrimPrefix(n, "!")
			wild := strings.HasPrefix(n, "*")
			n = strings.TrimPrefix(n, "*")
			key := n
			if wild {
				key = "*" + n
			}
			switch {
			case n == "" || (neg && wild):
				// "!*" filters are no-ops in HAProxy.
			case neg:
				negatives[n] = true
			case positive[key]:
				// a duplicate on the same line
			case wild:
				positive[key] = true
				ix.wild[n] = append(ix.wild[n], i)
			default:
				positive[key] = true
				ix.exact[n] = append(ix.exact[n], i)
			}
		}
		ix.negatives = append(ix.negatives, negatives)
	}
	return ix
}

// Build resolves b into a server-side tls.Config: the certificate is
// chosen per client hello by SNI as HAProxy does (exact name, then
// wildcard of the first label, then the first certificate unless
// strict-sni), and among a name's certificates of several key types by
// what the client supports (ECDSA first, then RSA). A crt-list line's
// settings apply to the handshakes that select it (GetConfigForClient).
// Session tickets are keyed with TicketKeys, or random keys, so that the
// per-line configurations share them; the process may replace them with
// SetSessionTicketKeys on the returned Config.
func (b *Bind) Build() (*tls.Config, error) {
	if len(b.Entries) == 0 {
		return nil, &Error{Msg: "no SSL certificate specified"}
	}
	vr, err := b.Versions.Resolve()
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	now := b.Now
	if now == nil {
		now = time.Now
	}
	s := &server{strict: b.StrictSNI, vr: vr, now: now}
	baseConf, err := b.template(&b.Settings, nil, vr, now)
	if err != nil {
		return nil, err
	}
	certs := make([]*Cert, 0, len(b.Entries))
	confs := make([]*entryConf, 0, len(b.Entries))
	for _, e := range b.Entries {
		ec := baseConf
		if e.Conf != nil {
			ec, err = b.template(&b.Settings, e.Conf, vr, now)
			if err != nil {
				return nil, err
			}
		}
		confs = append(confs, ec)
		certs = append(certs, e.Cert)
	}
	s.idx.Store(index(slices.Clone(b.Entries), confs, certs))
	s.base = baseConf.tmpl.Clone()
	s.base.NextProtos = baseConf.alpn
	s.base.SessionTicketsDisabled = b.NoTickets
	keys := b.TicketKeys
	if keys == nil {
		var k [32]byte
		if _, err := rand.Read(k[:]); err != nil {
			return nil, &Error{Msg: "unable to generate session ticket keys", Why: err.Error()}
		}
		keys = [][32]byte{k}
	}
	s.base.SetSessionTicketKeys(keys)
	s.base.GetCertificate = s.getCertificate
	s.base.GetConfigForClient = s.getConfigForClient
	b.srv = s
	return s.base, nil
}

// template resolves the bind's settings, overridden by line's (nil = none).
func (b *Bind) template(bind, line *Settings, vr VersionRange, now func() time.Time) (*entryConf, error) {
	pick := func(f func(*Settings) string) string {
		if line != nil && f(line) != "" {
			return f(line)
		}
		return f(bind)
	}
	c := &tls.Config{MinVersion: vr.Min, MaxVersion: vr.Max}
	if c.MinVersion < tls.VersionTLS10 {
		c.MinVersion = tls.VersionTLS10
	}
	if line != nil && line.MinVer != 0 {
		c.MinVersion = max(versionIDs[line.MinVer], tls.VersionTLS10)
	}
	if line != nil && line.MaxVer != 0 {
		if line.MaxVer == SSLv3 {
			return nil, &Error{Msg: "all SSL/TLS versions are disabled"}
		}
		c.MaxVersion = versionIDs[line.MaxVer]
	}
	if c.MinVersion > c.MaxVersion {
		return nil, &Error{Msg: "all SSL/TLS versions are disabled"}
	}
	if s := pick(func(s *Settings) string { return s.Ciphers }); s != "" {
		ids, err := Ciphers(s)
		if err != nil {
			return nil, &Error{Msg: fmt.Sprintf("unable to set SSL cipher list to '%s'", s), Why: err.Error()}
		}
		c.CipherSuites = ids
	}
	if s := pick(func(s *Settings) string { return s.Ciphersuites }); s != "" && c.MaxVersion >= tls.VersionTLS13 {
		if err := Ciphersuites(s); err != nil {
			return nil, &Error{Msg: fmt.Sprintf("unable to set TLS 1.3 cipher suites to '%s'", s), Why: err.Error()}
		}
	}
	if s := pick(func(s *Settings) string { return s.Curves }); s != "" {
		ids, err := Curves(s)
		if err != nil {
			return nil, &Error{Msg: fmt.Sprintf("unable to set SSL curves list to '%s'", s), Why: err.Error()}
		}
		c.CurvePreferences = ids
	} else if s := pick(func(s *Settings) string { return s.Ecdhe }); s != "" {
		ids, err := Curves(s)
		if err != nil {
			return nil, &Error{Msg: fmt.Sprintf("unable to set elliptic named curve to '%s'", s), Why: err.Error()}
		}
		c.CurvePreferences = ids
	}
	alpn := bind.ALPN
	if bind.NoALPN {
		alpn = nil
	}
	if line != nil && line.NoALPN {
		alpn = nil
	} else if line != nil && line.ALPN != nil {
		alpn = line.ALPN
	}
	ca, crl := bind.CA, bind.CRL
	if line != nil && line.CA != nil {
		ca = line.CA
	}
	if line != nil && line.CRL != nil {
		crl = line.CRL
	}
	noNames := bind.NoCANames || (line != nil && line.NoCANames)
	switch pick(func(s *Settings) string { return s.Verify }) {
	case "", "none":
	case "optional", "required":
		if ca == nil {
			return nil, &Error{Msg: "verify is enabled but no CA file specified"}
		}
		required := pick(func(s *Settings) string { return s.Verify }) == "required"
		var crls []*x509.RevocationList
		if crl != nil {
			crls = append(append(crls, crl.CRLs...), ca.CRLs...)
		}
		setVerify(c, ca, crl != nil, crls, required, noNames, now)
	}
	return &entryConf{tmpl: c, alpn: alpn}, nil
}

// setVerify sets client certificate verification. Without no-ca-names,
// crypto/tls verifies against ClientCAs (and sends their names); with it,
// the chain is verified here against the same roots, with the same
// rules, and no names are sent. With a crl-file, every verified chain is
// checked against the CRLs (CheckCRL).
func setVerify(c *tls.Config, ca *CAFile, withCRL bool, crls []*x509.RevocationList, required, noNames bool, now func() time.Time) {
	pool := ca.Pool()
	crlCheck := func(chains [][]*x509.Certificate) error {
		if !withCRL || len(chains) == 0 {
			return nil
		}
		var first error
		for _, ch := range chains {
			err := CheckCRL(ch, crls, now())
			if err == nil {
				return nil
			}
			if first == nil {
				first = err
			}
		}
		return first
	}
	if !noNames {
		c.ClientCAs = pool
		c.ClientAuth = tls.VerifyClientCertIfGiven
		if required {
			c.ClientAuth = tls.RequireAndVerifyClientCert
		}
		c.VerifyPeerCertificate = func(_ [][]byte, chains [][]*x509.Certificate) error { return crlCheck(chains) }
		return
	}
	c.ClientAuth = tls.RequestClientCert
	if required {
		c.ClientAuth = tls.RequireAnyClientCert
	}
	c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return nil
		}
		var certs []*x509.Certificate
		for _, r := range raw {
			x, err := x509.ParseCertificate(r)
			if err != nil {
				return fmt.Errorf("tls: failed to parse client certificate: %w", err)
			}
			certs = append(certs, x)
		}
		inter := x509.NewCertPool()
		for _, x := range certs[1:] {
			inter.AddCert(x)
		}
		chains, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
			CurrentTime: now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		if err != nil {
			return fmt.Errorf("tls: failed to verify client certificate: %w", err)
		}
		return crlCheck(chains)
	}
}

// ErrNoSNIMatch fails a strict-sni handshake without a matching name.
var ErrNoSNIMatch = errors.New("tls: no certificate matches the server name (strict-sni)")

// choose returns the index read, and the entry and chain for a client
// hello.
func (s *server) choose(h *tls.ClientHelloInfo) (*sniIndex, int, *tls.Certificate, error) {
	ix := s.idx.Load()
	name := strings.ToLower(h.ServerName)
	if name != "" {
		if i, c := ix.pick(h, ix.exact[name], ""); c != nil {
			return ix, i, c, nil
		}
		if dot := strings.IndexByte(name, '.'); dot >= 0 {
			if i, c := ix.pick(h, ix.wild[name[dot:]], name); c != nil {
				return ix, i, c, nil
			}
		}
	}
	if s.strict {
		return ix, 0, nil, ErrNoSNIMatch
	}
	return ix, 0, ix.chainFor(h, []int{0}), nil
}

// pick chooses among the candidate entries of one level; name, for a
// wildcard level, drops the entries whose line excludes it ("!name").
func (ix *sniIndex) pick(h *tls.ClientHelloInfo, cands []int, name string) (int, *tls.Certificate) {
	var ok []int
	for _, i := range cands {
		if name != "" && ix.negatives[i][name] {
			continue
		}
		ok = append(ok, i)
	}
	if len(ok) == 0 {
		return 0, nil
	}
	c := ix.chainFor(h, ok)
	for _, i := range ok {
		if slices.Contains(ix.certs[i].Chains, c) {
			return i, c
		}
	}
	return ok[0], c
}

// chainFor chooses by key type, as HAProxy: an ECDSA certificate when the
// client supports it, else an RSA one it supports, else any it supports,
// else the first. The candidates already answer for the name the client
// asked (or are the default): SupportsCertificate is asked about the rest
// only (versions, suites, signature schemes, curves), since its own name
// check knows neither a certificate's CN nor a crt-list's filters.
func (ix *sniIndex) chainFor(h *tls.ClientHelloInfo, cands []int) *tls.Certificate {
	hn := *h
	hn.ServerName = ""
	h = &hn
	var all []*tls.Certificate
	for _, i := range cands {
		all = append(all, ix.certs[i].Chains...)
	}
	for _, want := range []func(*tls.Certificate) bool{
		keyIsECDSA,
		keyIsRSA,
		func(c *tls.Certificate) bool { return true },
	} {
		for _, c := range all {
			if want(c) && h.SupportsCertificate(c) == nil {
				return c
			}
		}
	}
	return all[0]
}

func (s *server) getCertificate(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
	_, _, c, err := s.choose(h)
	return c, err
}

// getConfigForClient returns nil (the base Config) when the chosen entry
// has the bind line's settings and ALPN needs no adjustment; otherwise a
// clone of the base (sharing its ticket keys) with the entry's settings.
// When the client's ALPN protocols share none with the offered ones, the
// handshake goes on without ALPN, as OpenSSL's callback answers NOACK
// (crypto/tls would fail it).
func (s *server) getConfigForClient(h *tls.ClientHelloInfo) (*tls.Config, error) {
	ix, i, c, err := s.choose(h)
	if err != nil {
		return nil, err
	}
	ec := ix.confs[i]
	alpn := ec.alpn
	if len(h.SupportedProtos) > 0 && len(alpn) > 0 && !slices.ContainsFunc(alpn, func(p string) bool {
		return slices.Contains(h.SupportedProtos, p)
	}) {
		alpn = nil
	}
	if ix.entries[i].Conf == nil && slices.Equal(alpn, s.base.NextProtos) {
		return nil, nil
	}
	cfg := s.base.Clone()
	cfg.GetConfigForClient, cfg.GetCertificate = nil, nil
	cfg.Certificates = []tls.Certificate{*c}
	t := ec.tmpl
	cfg.MinVersion, cfg.MaxVersion = t.MinVersion, t.MaxVersion
	cfg.CipherSuites, cfg.CurvePreferences = t.CipherSuites, t.CurvePreferences
	cfg.ClientAuth, cfg.ClientCAs, cfg.VerifyPeerCertificate = t.ClientAuth, t.ClientCAs, t.VerifyPeerCertificate
	cfg.NextProtos = alpn
	return cfg, nil
}

// lineConf resolves the settings of an entry added at run time to b (a
// built bind), with HAProxy's message on failure.
func (b *Bind) lineConf(e *Entry) (*entryConf, error) {
	line := e.Conf
	if b.NoH2 && line != nil && slices.Contains(line.ALPN, "h2") {
		c := *line
		c.ALPN = slices.DeleteFunc(slices.Clone(line.ALPN), func(x string) bool { return x == "h2" })
		line = &c
	}
	if line == nil {
		return b.template(&b.Settings, nil, b.srv.vr, b.srv.now)
	}
	return b.template(&b.Settings, line, b.srv.vr, b.srv.now)
}
