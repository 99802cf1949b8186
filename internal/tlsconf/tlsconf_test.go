package tlsconf

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestLoadCertFile(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	now := time.Now()

	full := write(t, dir+"/full.pem", ca.leafPEM(t, "ecdsa", "full.example.com"))
	c, w, err := LoadCertFile(full, now)
	if err != nil || len(w) != 0 || len(c.Chains) != 1 || !slices.Equal(c.Names, []string{"full.example.com"}) {
		t.Fatalf("full: %v %v %+v", err, w, c)
	}

	// The key in FILE.key.
	cp, kp, _ := ca.issue(t, "rsa", "split", []string{"split.example.com", "*.Split.example.com"}, false, now.Add(-time.Hour), now.Add(time.Hour))
	split := write(t, dir+"/split.pem", cp)
	write(t, split+".key", kp)
	c, _, err = LoadCertFile(split, now)
	if err != nil || !slices.Equal(c.Names, []string{"split.example.com", "*.split.example.com", "split"}) {
		t.Fatalf("split: %v %+v", err, c)
	}

	// No key at all: HAProxy's message names FILE.key.
	nokey := write(t, dir+"/nokey.pem", cp)
	if _, _, err := LoadCertFile(nokey, now); err == nil || err.Error() != "No Private Key found in '"+nokey+".key'." {
		t.Fatalf("nokey: %v", err)
	}
	// A key of another certificate.
	_, otherKey, _ := ca.issue(t, "rsa", "other", nil, false, now, now.Add(time.Hour))
	mis := write(t, dir+"/mis.pem", append(slices.Clone(cp), otherKey...))
	if _, _, err := LoadCertFile(mis, now); err == nil || err.Error() != "inconsistencies between private key and certificate loaded '"+mis+"'." {
		t.Fatalf("mismatch: %v", err)
	}
	// No certificate.
	empty := write(t, dir+"/empty.pem", nil)
	if _, _, err := LoadCertFile(empty, now); err == nil || err.Error() != "unable to load certificate from file '"+empty+"'." {
		t.Fatalf("empty: %v", err)
	}
	// Missing file, as HAProxy 2.6 words it.
	if _, _, err := LoadCrt(dir+"/x.pem", now); err == nil || err.Error() != "unable to stat SSL certificate from file '"+dir+"/x.pem' : No such file or directory." {
		t.Fatalf("missing: %v", err)
	}
	// Expired and not yet valid: loaded, with a warning naming subject and date.
	ec, ek, _ := ca.issue(t, "ecdsa", "old.example.com", nil, false, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))
	old := write(t, dir+"/old.pem", append(ec, ek...))
	if _, w, err := LoadCertFile(old, now); err != nil || len(w) != 1 || !strings.Contains(w[0], "CN=old.example.com") || !strings.Contains(w[0], "expired on 2021-01-01T00:00:00Z") {
		t.Fatalf("expired: %v %v", err, w)
	}
	fc, fk, _ := ca.issue(t, "ecdsa", "future", nil, false, now.Add(time.Hour), now.Add(2*time.Hour))
	fut := write(t, dir+"/fut.pem", append(fc, fk...))
	if _, w, err := LoadCertFile(fut, now); err != nil || len(w) != 1 || !strings.Contains(w[0], "not valid before") {
		t.Fatalf("future: %v %v", err, w)
	}

	// .ocsp without an issuer is refused as by HAProxy; with the chain's
	// issuer it is stapled; a non-successful response is refused.
	write(t, full+".ocsp", []byte{0x30, 0x03, 0x0a, 0x01, 0x00})
	if _, _, err := LoadCertFile(full, now); err == nil || !strings.Contains(err.Error(), "impossible to compute the OCSP certificate ID") {
		t.Fatalf("ocsp without issuer: %v", err)
	}
	write(t, full+".issuer", ca.pem)
	if c, _, err := LoadCertFile(full, now); err != nil || len(c.Chains[0].OCSPStaple) != 5 {
		t.Fatalf("ocsp: %v", err)
	}
	write(t, full+".ocsp", []byte{0x30, 0x03, 0x0a, 0x01, 0x01})
	if _, _, err := LoadCertFile(full, now); err == nil || !strings.Contains(err.Error(), "not successful") {
		t.Fatalf("ocsp status: %v", err)
	}
	os.Remove(full + ".ocsp")
	// .sctl: the SCTs are sent.
	write(t, full+".sctl", []byte{0, 7, 0, 2, 'a', 'b', 0, 1, 'c'})
	if c, _, err := LoadCertFile(full, now); err != nil || len(c.Chains[0].SignedCertificateTimestamps) != 2 {
		t.Fatalf("sctl: %v", err)
	}
}

func TestLoadCrtDirectory(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	write(t, dir+"/b.pem", ca.leafPEM(t, "ecdsa", "b"))
	write(t, dir+"/a.pem", ca.leafPEM(t, "ecdsa", "a"))
	cp, kp, _ := ca.issue(t, "ecdsa", "c", nil, false, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	write(t, dir+"/c.crt", cp)
	write(t, dir+"/c.crt.key", kp)            // companion: skipped
	write(t, dir+"/c.crt.issuer", ca.pem)     // companion: skipped
	write(t, dir+"/c.crt.sctl", []byte{0, 0}) // companion: skipped
	write(t, dir+"/.hidden", []byte("x"))     // dotfile: skipped
	os.Mkdir(dir+"/sub", 0o700)               // not a regular file: skipped
	write(t, dir+"/d.pem.rsa", ca.leafPEM(t, "rsa", "d"))
	write(t, dir+"/d.pem.ecdsa", ca.leafPEM(t, "ecdsa", "d"))
	certs, _, err := LoadCrt(dir+"/", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range certs {
		got = append(got, filepath.Base(c.Path))
	}
	if !slices.Equal(got, []string{"a.pem", "b.pem", "c.crt", "d.pem"}) || len(certs[3].Chains) != 2 {
		t.Fatalf("directory order: %v", got)
	}
}

func TestBundleByKeyType(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	write(t, dir+"/site.pem.rsa", ca.leafPEM(t, "rsa", "rsa", "site.example.com"))
	write(t, dir+"/site.pem.ecdsa", ca.leafPEM(t, "ecdsa", "ecdsa", "site.example.com"))
	certs, _, err := LoadCrt(dir+"/site.pem", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b := &Bind{Entries: []Entry{{Cert: certs[0]}}}
	cfg, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	// A TLS 1.2 client offering only RSA suites gets the RSA certificate.
	cl := clientFor(ca, "site.example.com")
	cl.MaxVersion = tls.VersionTLS12
	cl.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
	st, cerr, serr := handshake(t, cfg, cl)
	if cerr != nil || serr != nil || peerCN(st) != "rsa" {
		t.Fatalf("RSA-only client: %v %v %q", cerr, serr, peerCN(st))
	}
	// An ECDSA-capable client gets the ECDSA one (also without SNI).
	for _, name := range []string{"site.example.com", ""} {
		cl = clientFor(ca, name)
		if name == "" {
			cl.InsecureSkipVerify = true
		}
		st, cerr, serr = handshake(t, cfg, cl)
		if cerr != nil || serr != nil || peerCN(st) != "ecdsa" {
			t.Fatalf("ECDSA client %q: %v %v %q", name, cerr, serr, peerCN(st))
		}
	}
}

func TestSNISelection(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	load := func(name, cn string, dns ...string) *Cert {
		c, _, err := LoadCertFile(write(t, dir+"/"+name, ca.leafPEM(t, "ecdsa", cn, dns...)), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	def := load("def.pem", "default.example.org")
	wild := load("wild.pem", "wild", "*.example.com")
	exact := load("exact.pem", "www.example.com") // CN only, no SAN
	for _, strict := range []bool{false, true} {
		b := &Bind{Entries: []Entry{{Cert: def}, {Cert: wild}, {Cert: exact}}, StrictSNI: strict}
		cfg, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]string{
			"www.example.com": "www.example.com", // exact before wildcard
			"WWW.Example.COM": "www.example.com", // case-insensitive
			"api.example.com": "wild",            // one label
			"a.b.example.com": "default.example.org",
			"example.com":     "default.example.org",
			"other.net":       "default.example.org",
		} {
			cl := clientFor(ca, name)
			cl.InsecureSkipVerify = true
			st, cerr, serr := handshake(t, cfg, cl)
			if strict && want == "default.example.org" {
				if serr == nil || cerr == nil {
					t.Errorf("strict-sni %q: handshake succeeded with %q", name, peerCN(st))
				}
				continue
			}
			if cerr != nil || serr != nil || peerCN(st) != want {
				t.Errorf("strict=%v %q: got %q (%v %v), want %q", strict, name, peerCN(st), cerr, serr, want)
			}
		}
	}
}

func TestCrtList(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	write(t, dir+"/first.pem", ca.leafPEM(t, "ecdsa", "first", "first.example.com"))
	write(t, dir+"/wild.pem", ca.leafPEM(t, "ecdsa", "wild", "*.example.com"))
	write(t, dir+"/alt.pem", ca.leafPEM(t, "ecdsa", "alt", "alt.example.org"))
	write(t, dir+"/ca.pem", ca.pem)
	list := write(t, dir+"/list", []byte(`# comment

first.pem
wild.pem [alpn http/1.1] *.example.com !secret.example.com
alt.pem [verify required ca-file ca.pem ssl-max-ver TLSv1.2] other.example.net *.alt.example.net
`))
	entries, _, _, err := LoadCrtList(list, Bases{Crt: dir, CA: dir}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || entries[0].Conf != nil || entries[1].Conf == nil || !slices.Equal(entries[1].Conf.ALPN, []string{"http/1.1"}) {
		t.Fatalf("entries: %+v", entries)
	}
	cfg, err := (&Bind{Entries: entries, Settings: Settings{ALPN: []string{"x-bind"}}}).Build()
	if err != nil {
		t.Fatal(err)
	}
	try := func(name string, cl *tls.Config) (tls.ConnectionState, error) {
		if cl == nil {
			cl = clientFor(ca, name)
		}
		cl.InsecureSkipVerify = true
		cl.NextProtos = []string{"http/1.1", "x-bind"}
		st, cerr, serr := handshake(t, cfg, cl)
		if cerr == nil {
			cerr = serr
		}
		return st, cerr
	}
	// The filters replace the certificate's names; the negation excludes
	// a name from the line's wildcard; each line's settings apply.
	if st, err := try("x.example.com", nil); err != nil || peerCN(st) != "wild" || st.NegotiatedProtocol != "http/1.1" {
		t.Fatalf("wildcard line: %v %q %q", err, peerCN(st), st.NegotiatedProtocol)
	}
	if st, err := try("secret.example.com", nil); err != nil || peerCN(st) != "first" || st.NegotiatedProtocol != "x-bind" {
		t.Fatalf("negated name: %v %q %q", err, peerCN(st), st.NegotiatedProtocol)
	}
	if st, err := try("alt.example.org", nil); err != nil || peerCN(st) != "first" {
		t.Fatalf("the filters replace the cert's own names: %v %q", err, peerCN(st))
	}
	// The alt line requires a client certificate, and caps at TLS 1.2.
	if _, err := try("other.example.net", nil); err == nil {
		t.Fatal("alt line without a client certificate: handshake succeeded")
	}
	cc, ck, _ := ca.issue(t, "ecdsa", "client", nil, true, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	pair, _ := tls.X509KeyPair(cc, ck)
	cl := clientFor(ca, "a.alt.example.net")
	cl.Certificates = []tls.Certificate{pair}
	if st, err := try("a.alt.example.net", cl); err != nil || peerCN(st) != "alt" || st.Version != tls.VersionTLS12 {
		t.Fatalf("alt line with a client certificate: %v %q %x", err, peerCN(st), st.Version)
	}

	// Refusals and errors.
	for body, want := range map[string]string{
		"first.pem [npn h2]\n":       "'npn' is not supported by lb yet",
		"first.pem [allow-0rtt]\n":   "'allow-0rtt' is not supported by lb yet",
		"first.pem [bogus x]\n":      "unknown ssl keyword bogus",
		"nope.pem\n":                 "unable to stat SSL certificate from file '" + dir + "/nope.pem' : No such file or directory.",
		"  # x\n":                    "unable to stat SSL certificate from file '" + dir + "/#'",
		"first.pem [verify maybe]\n": "unknown verify method 'maybe'",
	} {
		_, _, _, err := LoadCrtList(write(t, dir+"/bad", []byte(body)), Bases{Crt: dir}, time.Now())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
	if _, _, _, err := LoadCrtList(dir+"/none", Bases{}, time.Now()); err == nil || err.Error() != "'crt-list' : cannot open file '"+dir+"/none' : No such file or directory" {
		t.Errorf("missing list: %v", err)
	}
}

func TestVersions(t *testing.T) {
	v := func(words ...string) Versions {
		var x Versions
		for i := 0; i < len(words); i++ {
			switch words[i] {
			case "min", "max":
				n, ok := ParseVersion(words[i+1])
				if !ok {
					t.Fatalf("version %q", words[i+1])
				}
				if words[i] == "min" {
					x.Min = n
				} else {
					x.Max = n
				}
				i++
			default:
				if !x.Word(words[i]) {
					t.Fatalf("word %q", words[i])
				}
			}
		}
		return x
	}
	for _, c := range []struct {
		in       Versions
		min, max uint16
		ignored  bool
		ambig    string
		err      bool
	}{
		{in: v(), min: tls.VersionTLS12, max: tls.VersionTLS13},
		{in: v("no-tlsv12"), min: tls.VersionTLS13, max: tls.VersionTLS13},
		{in: v("no-tlsv13"), min: tls.VersionTLS12, max: tls.VersionTLS12},
		{in: v("no-tlsv10", "no-tlsv11"), min: tls.VersionTLS12, max: tls.VersionTLS13},
		{in: v("no-tlsv12", "no-tlsv13"), err: true},
		{in: v("min", "TLSv1.0", "no-tlsv11"), min: tls.VersionTLS10, max: tls.VersionTLS13, ignored: true},
		{in: v("max", "TLSv1.1"), min: tls.VersionTLS11, max: tls.VersionTLS11, ambig: "TLSv1.1"},
		{in: v("min", "SSLv3"), min: tls.VersionTLS10, max: tls.VersionTLS13},
		{in: v("force-tlsv12"), min: tls.VersionTLS12, max: tls.VersionTLS12},
		{in: v("force-tlsv12", "min", "TLSv1.0"), min: tls.VersionTLS10, max: tls.VersionTLS12},
		{in: v("force-sslv3"), err: true},
		{in: v("min", "TLSv1.3", "max", "TLSv1.2"), err: true},
	} {
		r, err := c.in.Resolve()
		if (err != nil) != c.err || (err == nil && (r.Min != c.min || r.Max != c.max || r.IgnoredNo != c.ignored || r.AmbiguousMin != c.ambig)) {
			t.Errorf("%+v: %+v %v", c.in, r, err)
		}
	}
	// Inherit: the global no-* add up, bounds apply when unset.
	x := v("no-tlsv13")
	x.Inherit(v("no-tlsv12", "min", "TLSv1.1"))
	if !x.No[TLSv12] || !x.No[TLSv13] || x.Min != TLSv11 {
		t.Errorf("inherit: %+v", x)
	}

	// The effect: a TLS 1.3 client meets a bind capped at TLS 1.2.
	ca := newCA(t)
	c, _, _ := LoadCertFile(write(t, t.TempDir()+"/c.pem", ca.leafPEM(t, "ecdsa", "v", "v.example.com")), time.Now())
	cfg, err := (&Bind{Entries: []Entry{{Cert: c}}, Versions: v("no-tlsv13")}).Build()
	if err != nil {
		t.Fatal(err)
	}
	if st, cerr, _ := handshake(t, cfg, clientFor(ca, "v.example.com")); cerr != nil || st.Version != tls.VersionTLS12 {
		t.Fatalf("no-tlsv13: %v %x", cerr, st.Version)
	}
	cl := clientFor(ca, "v.example.com")
	cl.MaxVersion = tls.VersionTLS11
	cl.MinVersion = tls.VersionTLS10
	if _, cerr, _ := handshake(t, cfg, cl); cerr == nil {
		t.Fatal("a TLS 1.1 client was accepted by the default TLS 1.2 minimum")
	}
}

func TestCiphers(t *testing.T) {
	names := func(ids []uint16) string {
		var out []string
		for _, id := range ids {
			out = append(out, CipherName(id))
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	for in, want := range map[string]string{
		"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256",
		"ECDHE+AESGCM": "ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384",
		"HIGH:!aNULL:!kRSA:!SHA1:!SHA256:!SHA384": "ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305 ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305",
		"AES128-SHA:-ALL:AES256-SHA":              "AES256-SHA",
		"!AES128-SHA:ALL:AES128-SHA":              "AES128-GCM-SHA256 AES128-SHA256 AES256-GCM-SHA384 AES256-SHA ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES128-SHA ECDHE-ECDSA-AES128-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-AES256-SHA ECDHE-ECDSA-CHACHA20-POLY1305 ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-SHA ECDHE-RSA-AES128-SHA256 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-AES256-SHA ECDHE-RSA-CHACHA20-POLY1305",
		"kRSA+SHA1 @STRENGTH":                     "AES128-SHA AES256-SHA",
		"FOO:ECDHE-RSA-AES256-SHA":                "ECDHE-RSA-AES256-SHA",
	} {
		got, err := Ciphers(in)
		if err != nil || names(got) != want {
			t.Errorf("%q: %q %v, want %q", in, names(got), err, want)
		}
	}
	for _, in := range []string{"FOO", "DHE-RSA-AES128-GCM-SHA256", "DES-CBC3-SHA:RC4-SHA", "ALL:@SECLEVEL=1", "SUITEB128"} {
		if _, err := Ciphers(in); err == nil {
			t.Errorf("%q: accepted", in)
		}
	}

	// The same sets as OpenSSL's, restricted to what crypto/tls implements.
	if _, err := exec.LookPath("openssl"); err == nil {
		ours := map[string]bool{}
		for _, e := range enabled {
			ours[CipherName(e.id)] = true
		}
		for _, in := range []string{"ALL", "HIGH", "DEFAULT", "HIGH:!aNULL:!MD5", "ECDHE:!SHA1", "aRSA", "kRSA",
			"ECDSA+AES256", "TLSv1.2", "TLSv1.0", "SSLv3", "SHA256", "SHA384:SHA1", "FIPS", "AES128:-SHA1",
			"EECDH+AESGCM:EDH+AESGCM", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384",
		} {
			out, err := exec.Command("openssl", "ciphers", "-tls1_2", "-s", in).Output()
			if err != nil {
				t.Fatalf("openssl ciphers %q: %v", in, err)
			}
			var want []string
			for _, n := range strings.Split(strings.TrimSpace(string(out)), ":") {
				if ours[n] {
					want = append(want, n)
				}
			}
			sort.Strings(want)
			got, err := Ciphers(in)
			if err != nil || names(got) != strings.Join(want, " ") {
				t.Errorf("%q: lb %q %v; openssl %q", in, names(got), err, strings.Join(want, " "))
			}
		}
	}

	// TLS 1.3: all of crypto/tls's three suites, or a refusal naming the
	// missing one.
	if err := Ciphersuites("TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256"); err != nil {
		t.Error(err)
	}
	if err := Ciphersuites("TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"); err == nil || !strings.Contains(err.Error(), "TLS_CHACHA20_POLY1305_SHA256") {
		t.Errorf("missing chacha: %v", err)
	}

	// The effect: a client offering only a suite left out fails.
	ca := newCA(t)
	c, _, _ := LoadCertFile(write(t, t.TempDir()+"/c.pem", ca.leafPEM(t, "ecdsa", "c", "c.example.com")), time.Now())
	cfg, err := (&Bind{Entries: []Entry{{Cert: c}}, Settings: Settings{Ciphers: "ECDHE-ECDSA-AES256-GCM-SHA384"}}).Build()
	if err != nil {
		t.Fatal(err)
	}
	cl := clientFor(ca, "c.example.com")
	cl.MaxVersion = tls.VersionTLS12
	cl.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
	if _, cerr, _ := handshake(t, cfg, cl); cerr == nil {
		t.Error("a suite outside 'ciphers' was negotiated")
	}
	cl.CipherSuites = append(cl.CipherSuites, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)
	if st, cerr, _ := handshake(t, cfg, cl); cerr != nil || st.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 {
		t.Errorf("ciphers: %v %x", cerr, st.CipherSuite)
	}
	if _, err := (&Bind{Entries: []Entry{{Cert: c}}, Settings: Settings{Ciphersuites: "TLS_AES_128_GCM_SHA256"}}).Build(); err == nil {
		t.Error("ciphersuites leaving out suites was accepted")
	}
	if _, err := (&Bind{Entries: []Entry{{Cert: c}}, Settings: Settings{Ciphersuites: "TLS_AES_128_GCM_SHA256"}, Versions: Versions{Max: TLSv12}}).Build(); err != nil {
		t.Errorf("ciphersuites without TLS 1.3: %v", err)
	}
}

func TestCurves(t *testing.T) {
	if got, err := Curves("X25519:prime256v1:X448"); err != nil || !slices.Equal(got, []tls.CurveID{tls.X25519, tls.CurveP256}) {
		t.Errorf("%v %v", got, err)
	}
	for _, in := range []string{"FOO", "X25519:FOO", "X448"} {
		if _, err := Curves(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	ca := newCA(t)
	c, _, _ := LoadCertFile(write(t, t.TempDir()+"/c.pem", ca.leafPEM(t, "ecdsa", "c", "c.example.com")), time.Now())
	cfg, err := (&Bind{Entries: []Entry{{Cert: c}}, Settings: Settings{Curves: "P-384"}}).Build()
	if err != nil {
		t.Fatal(err)
	}
	cl := clientFor(ca, "c.example.com")
	cl.CurvePreferences = []tls.CurveID{tls.X25519}
	if _, cerr, _ := handshake(t, cfg, cl); cerr == nil {
		t.Error("X25519 negotiated with curves P-384")
	}
	cl.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP384}
	if st, cerr, serr := handshake(t, cfg, cl); cerr != nil || st.CurveID != tls.CurveP384 {
		t.Errorf("P-384: %v %v %v", cerr, serr, st.CurveID)
	}
	// "ecdhe" applies without "curves"; "curves" wins over it.
	if _, err := (&Bind{Entries: []Entry{{Cert: c}}, Settings: Settings{Ecdhe: "FOO"}}).Build(); err == nil || !strings.Contains(err.Error(), "elliptic named curve") {
		t.Errorf("ecdhe: %v", err)
	}
}

func TestClientVerification(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	srv, _, _ := LoadCertFile(write(t, dir+"/s.pem", ca.leafPEM(t, "ecdsa", "s", "s.example.com")), time.Now())
	caFile, err := LoadCAFile(write(t, dir+"/ca.pem", ca.pem))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	goodC, goodK, _ := ca.issue(t, "ecdsa", "good", nil, true, now.Add(-time.Hour), now.Add(time.Hour))
	badC, badK, bad := ca.issue(t, "ecdsa", "revoked", nil, true, now.Add(-time.Hour), now.Add(time.Hour))
	other := newCA(t)
	strC, strK, _ := other.issue(t, "ecdsa", "stranger", nil, true, now.Add(-time.Hour), now.Add(time.Hour))
	crlDER, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1),
		ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: bad.SerialNumber, RevocationTime: now}}},
		ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	crlFile, err := LoadCAFile(write(t, dir+"/crl.pem", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crlDER})))
	if err != nil {
		t.Fatal(err)
	}
	pair := func(c, k []byte) []tls.Certificate {
		p, err := tls.X509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{p}
	}
	for _, c := range []struct {
		verify  string
		crl     bool
		noNames bool
		client  []tls.Certificate
		ok      bool
	}{
		{"required", false, false, nil, false},
		{"required", false, false, pair(goodC, goodK), true},
		{"required", false, false, pair(strC, strK), false},
		{"optional", false, false, nil, true},
		{"optional", false, false, pair(strC, strK), false},
		{"optional", false, false, pair(goodC, goodK), true},
		{"required", true, false, pair(goodC, goodK), true},
		{"required", true, false, pair(badC, badK), false},
		{"optional", true, false, pair(badC, badK), false},
		{"required", true, true, pair(badC, badK), false},
		{"required", true, true, pair(goodC, goodK), true},
		{"required", false, true, pair(strC, strK), false},
		{"none", false, false, pair(strC, strK), true},
	} {
		s := Settings{CA: caFile, Verify: c.verify, NoCANames: c.noNames}
		if c.crl {
			s.CRL = crlFile
		}
		cfg, err := (&Bind{Entries: []Entry{{Cert: srv}}, Settings: s}).Build()
		if err != nil {
			t.Fatal(err)
		}
		var names int
		cl := clientFor(ca, "s.example.com")
		cl.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			names = len(cri.AcceptableCAs)
			if c.client == nil {
				return &tls.Certificate{}, nil
			}
			return &c.client[0], nil
		}
		_, cerr, serr := handshake(t, cfg, cl)
		if (serr == nil) != c.ok {
			t.Errorf("%+v: server %v client %v", c, serr, cerr)
		}
		if c.verify != "none" && (names == 0) != c.noNames {
			t.Errorf("%+v: %d CA names sent", c, names)
		}
	}
	// Without the CRL of the chain's issuer, verification fails (OpenSSL's
	// CRL_CHECK_ALL).
	if err := CheckCRL([]*x509.Certificate{bad, ca.cert}, nil, now); err == nil {
		t.Error("no CRL: accepted")
	}
	if _, err := (&Bind{Entries: []Entry{{Cert: srv}}, Settings: Settings{Verify: "required"}}).Build(); err == nil || err.Error() != "verify is enabled but no CA file specified" {
		t.Errorf("verify without ca-file: %v", err)
	}
	if _, err := LoadCAFile(write(t, dir+"/junk", []byte("junk"))); err == nil || !strings.Contains(err.Error(), "no certificate or crl found") {
		t.Errorf("junk ca-file: %v", err)
	}
}

func TestTicketKeys(t *testing.T) {
	dir := t.TempDir()
	key := func(n int, b byte) string {
		return base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(rune(b)), n)))
	}
	lines := []string{key(48, 'a'), key(48, 'b'), key(48, 'c'), key(48, 'd')}
	keys, err := LoadTicketKeys(write(t, dir+"/k", []byte(strings.Join(lines, "\n")+"\n")))
	if err != nil || len(keys) != 3 {
		t.Fatal(keys, err)
	}
	want, _ := LoadTicketKeys(write(t, dir+"/one", []byte(key(48, 'c')+"\n"+key(48, 'c')+"\n"+key(48, 'c')+"\n")))
	if keys[0] != want[0] {
		t.Error("the penultimate key does not encrypt")
	}
	for body, msg := range map[string]string{
		key(48, 'a') + "\n":                                             "please supply at least 3 keys in the tls-tickets-file",
		key(48, 'a') + "\n" + key(80, 'b') + "\n":                       "wrong sized key on line 2",
		key(48, 'a') + "\n!!!\n":                                        "unable to decode base64 key on line 2",
		key(80, 'a') + "\n" + key(80, 'b') + "\n" + key(80, 'c') + "\n": "",
	} {
		_, err := LoadTicketKeys(write(t, dir+"/x", []byte(body)))
		if (msg == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), msg)) {
			t.Errorf("%q: %v, want %q", body, err, msg)
		}
	}
	if _, err := LoadTicketKeys(dir + "/none"); err == nil || err.Error() != "'"+dir+"/none' : unable to load ssl tickets keys file" {
		t.Error(err)
	}

	// The effect: a session resumes on a second Config built from the
	// same file (another process), and not with other keys.
	ca := newCA(t)
	c, _, _ := LoadCertFile(write(t, dir+"/c.pem", ca.leafPEM(t, "ecdsa", "c", "c.example.com")), time.Now())
	build := func(k [][32]byte, off bool) *tls.Config {
		cfg, err := (&Bind{Entries: []Entry{{Cert: c}}, TicketKeys: k, NoTickets: off}).Build()
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	cl := clientFor(ca, "c.example.com")
	cl.MaxVersion = tls.VersionTLS12
	cl.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	if _, cerr, _ := handshake(t, build(keys, false), cl); cerr != nil {
		t.Fatal(cerr)
	}
	if st, cerr, _ := handshake(t, build(keys, false), cl); cerr != nil || !st.DidResume {
		t.Errorf("same keys: resumed %v %v", st.DidResume, cerr)
	}
	if st, _, _ := handshake(t, build(nil, false), cl); st.DidResume {
		t.Error("resumed with other keys")
	}
	cl.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	handshake(t, build(keys, true), cl)
	if st, _, _ := handshake(t, build(keys, true), cl); st.DidResume {
		t.Error("no-tls-tickets: resumed")
	}
}
