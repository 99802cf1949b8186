package tlsconf_test

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"net"
	"strings"
	"testing"

	"lb/internal/tlsconf"
	"lb/internal/tlsconf/tlstest"
)

func TestMethodsRange(t *testing.T) {
	type res struct {
		min, max  uint16
		ignoredNo bool
		hole      string
		ok        bool
	}
	for _, c := range []struct {
		name string
		m    tlsconf.Methods
		want res
	}{
		{"none", tlsconf.Methods{}, res{tls.VersionTLS10, tls.VersionTLS13, false, "", true}},
		{"min", tlsconf.Methods{Min: tls.VersionTLS12}, res{tls.VersionTLS12, tls.VersionTLS13, false, "", true}},
		{"max", tlsconf.Methods{Max: tls.VersionTLS11}, res{tls.VersionTLS10, tls.VersionTLS11, false, "", true}},
		{"force", tlsconf.Methods{Min: tls.VersionTLS12, Max: tls.VersionTLS12}, res{tls.VersionTLS12, tls.VersionTLS12, false, "", true}},
		{"no-tlsv12 no-tlsv13", tlsconf.Methods{No: tlsconf.VersionBit(tls.VersionTLS12) | tlsconf.VersionBit(tls.VersionTLS13)},
			res{tls.VersionTLS10, tls.VersionTLS11, false, "", true}},
		{"hole", tlsconf.Methods{No: tlsconf.VersionBit(tls.VersionTLS11)}, res{tls.VersionTLS10, tls.VersionTLS13, false, "TLSv1.1", true}},
		{"ignored no", tlsconf.Methods{No: tlsconf.VersionBit(tls.VersionTLS13), Max: tls.VersionTLS13, Min: tls.VersionTLS12},
			res{tls.VersionTLS12, tls.VersionTLS13, true, "", true}},
		{"sslv3 only", tlsconf.Methods{Min: 0x0300, Max: 0x0300}, res{0, 0, false, "", false}},
		{"min above max", tlsconf.Methods{Min: tls.VersionTLS13, Max: tls.VersionTLS12}, res{0, 0, false, "", false}},
	} {
		var r res
		r.min, r.max, r.ignoredNo, r.hole, r.ok = c.m.Range()
		if r != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, r, c.want)
		}
	}
}

func TestHostMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, host string
		want          bool
	}{
		{"www.example.com", "WWW.Example.com", true},
		{"*.example.com", "www.example.com", true},
		{"*.example.com", "a.b.example.com", false},
		{"*.example.com", "example.com", false},
		{"w*.example.com", "www.example.com", true},
		{"*w.example.com", "www.example.com", true},
		{"x*.example.com", "www.example.com", false},
		{"ww*ww.example.com", "www.example.com", false},
		{"*", "localhost", false},
		{"a.*.com", "a.b.com", false},
		{"**.example.com", "ab.example.com", false},
	} {
		if got := tlsconf.HostMatch(c.pattern, c.host); got != c.want {
			t.Errorf("HostMatch(%q, %q) = %v", c.pattern, c.host, got)
		}
	}
}

// handshake connects a client with cfg (its ServerName set to sni) to a
// server presenting cert, and returns the client's error.
func handshake(t *testing.T, cfg *tls.Config, sni string, srv *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	done := make(chan error, 1)
	go func() {
		s := tls.Server(b, srv)
		done <- s.Handshake()
		if s.ConnectionState().HandshakeComplete {
			s.Write([]byte("x"))
		}
		s.Close()
	}()
	cfg = cfg.Clone()
	cfg.ServerName = sni
	c := tls.Client(a, cfg)
	err = c.Handshake()
	if err == nil {
		// Read the server's write so that a TLS 1.3 ticket is received.
		buf := make([]byte, 1)
		c.Read(buf)
	}
	c.Close()
	<-done
	return c.ConnectionState(), err
}

func TestVerifyServer(t *testing.T) {
	ca := tlstest.NewCA(t, pkix.Name{CommonName: "ca"})
	other := tlstest.NewCA(t, pkix.Name{CommonName: "other"})
	san := ca.Issue(t, tlstest.Template{Subject: pkix.Name{CommonName: "ignored"}, DNSNames: []string{"*.example.com"}, Serial: 10})
	cnOnly := ca.Issue(t, tlstest.Template{Subject: pkix.Name{CommonName: "srv"}, Serial: 11})
	foreign := other.Issue(t, tlstest.Template{Subject: pkix.Name{CommonName: "srv"}})
	dir := t.TempDir()
	crlNone := tlstest.Write(t, dir, "crl0.pem", ca.CRL(t))
	crlRevoked := tlstest.Write(t, dir, "crl1.pem", ca.CRL(t, 11))
	load := func(p string) *tlsconf.ServerOptions {
		crls, err := tlsconf.LoadCRLFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return &tlsconf.ServerOptions{CRLs: crls}
	}
	for _, c := range []struct {
		name       string
		cert       *tlstest.Cert
		verifyHost string
		sni        string
		crl        string
		want       string // "" = success; else a substring of the error, or HAProxy's check info
	}{
		{"chain only", cnOnly, "", "", "", ""},
		{"other CA", foreign, "", "", "", "SSL handshake failure"},
		{"verifyhost by CN", cnOnly, "srv", "", "", ""},
		{"verifyhost mismatch", cnOnly, "nope", "", "", "different from the configured one"},
		{"sni wins over verifyhost", cnOnly, "nope", "srv", "", ""},
		{"sni mismatch", cnOnly, "srv", "nope", "", "different from the expected one"},
		{"wildcard SAN", san, "", "www.example.com", "", ""},
		{"SAN present: CN still read", san, "ignored", "", "", ""},
		{"CRL without the serial", cnOnly, "", "", crlNone, ""},
		{"revoked", cnOnly, "", "", crlRevoked, "SSL handshake failure"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := tlsconf.ServerOptions{Verify: true, Roots: ca.Pool(), VerifyHost: c.verifyHost}
			if c.crl != "" {
				o.CRLs = load(c.crl).CRLs
			}
			_, err := handshake(t, tlsconf.ClientConfig(o), c.sni, &tls.Config{Certificates: []tls.Certificate{c.cert.TLS()}})
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("handshake failed: %v", err)
			case c.want != "" && err == nil:
				t.Fatalf("handshake passed, want %q", c.want)
			case c.want != "" && !strings.Contains(tlsconf.CheckInfo(err), c.want):
				t.Fatalf("got %v (%q), want %q", err, tlsconf.CheckInfo(err), c.want)
			}
		})
	}
	// verify none: whatever the certificate.
	if _, err := handshake(t, tlsconf.ClientConfig(tlsconf.ServerOptions{}), "x", &tls.Config{Certificates: []tls.Certificate{foreign.TLS()}}); err != nil {
		t.Fatalf("verify none: %v", err)
	}
}

// TestClientConfig shows the settings on real handshakes: versions,
// suites, ALPN, the client certificate, and session resumption.
func TestClientConfig(t *testing.T) {
	ca := tlstest.NewCA(t, pkix.Name{CommonName: "ca"})
	srv := ca.Issue(t, tlstest.Template{Subject: pkix.Name{CommonName: "srv"}})
	cli := ca.Issue(t, tlstest.Template{Subject: pkix.Name{CommonName: "client"}, Client: true})
	server := &tls.Config{Certificates: []tls.Certificate{srv.TLS()}, NextProtos: []string{"h2", "http/1.1"},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool(), MinVersion: tls.VersionTLS10}

	c := cli.TLS()
	o := tlsconf.ServerOptions{Certificate: &c, ALPN: []string{"http/1.1"}, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}}
	cfg := tlsconf.ClientConfig(o)
	st, err := handshake(t, cfg, "srv", server)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != tls.VersionTLS12 || st.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 || st.NegotiatedProtocol != "http/1.1" {
		t.Errorf("got version %x suite %x alpn %q", st.Version, st.CipherSuite, st.NegotiatedProtocol)
	}
	if st.DidResume {
		t.Error("first handshake resumed")
	}
	if st, _ := handshake(t, cfg, "srv", server); !st.DidResume {
		t.Error("second handshake did not resume (ssl-reuse is the default)")
	}
	// Without a client certificate the server refuses.
	o.Certificate = nil
	if _, err := handshake(t, tlsconf.ClientConfig(o), "srv", server); err == nil {
		t.Error("no client certificate: handshake passed")
	}
	o.Certificate = &c
	for _, noResume := range []tlsconf.ServerOptions{{NoReuse: true}, {NoTickets: true}} {
		noResume.Certificate = &c
		cfg := tlsconf.ClientConfig(noResume)
		handshake(t, cfg, "srv", server)
		if st, err := handshake(t, cfg, "srv", server); err != nil || st.DidResume {
			t.Errorf("%+v: resumed=%v err=%v", noResume, st.DidResume, err)
		}
	}
	// TLS 1.3 by default, ssl-max-ver TLSv1.1 gives TLS 1.1.
	if st, err := handshake(t, tlsconf.ClientConfig(tlsconf.ServerOptions{Certificate: &c}), "srv", server); err != nil || st.Version != tls.VersionTLS13 {
		t.Errorf("default: %x %v", st.Version, err)
	}
	if st, err := handshake(t, tlsconf.ClientConfig(tlsconf.ServerOptions{Certificate: &c, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}), "srv", server); err != nil || st.Version != tls.VersionTLS11 {
		t.Errorf("max TLSv1.1: %x %v", st.Version, err)
	}
}

func TestLoadFiles(t *testing.T) {
	ca := tlstest.NewCA(t, pkix.Name{CommonName: "ca"})
	cli := ca.Issue(t, tlstest.Template{Subject: pkix.Name{CommonName: "client"}, Client: true})
	other := ca.Issue(t, tlstest.Template{Subject: pkix.Name{CommonName: "other"}, Client: true})
	dir := t.TempDir()
	both := tlstest.Write(t, dir, "both.pem", cli.CertPEM(), cli.KeyPEM(t))
	certOnly := tlstest.Write(t, dir, "cert.pem", cli.CertPEM())
	mismatch := tlstest.Write(t, dir, "mismatch.pem", cli.CertPEM(), other.KeyPEM(t))
	split := tlstest.Write(t, dir, "split.pem", cli.CertPEM())
	tlstest.Write(t, dir, "split.pem.key", cli.KeyPEM(t))
	if _, err := tlsconf.LoadClientCert(both); err != nil {
		t.Error(err)
	}
	if _, err := tlsconf.LoadClientCert(split); err != nil {
		t.Error(err)
	}
	for p, want := range map[string]string{
		dir + "/nope.pem": "unable to stat SSL certificate from file '" + dir + "/nope.pem' : No such file or directory.",
		certOnly:          "No Private Key found in '" + certOnly + ".key'.",
		mismatch:          "inconsistencies between private key and certificate loaded '" + mismatch + "'.",
		tlstest.Write(t, dir, "garbage", []byte("garbage\n")): "unable to load certificate from file '" + dir + "/garbage'.",
	} {
		if _, err := tlsconf.LoadClientCert(p); err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %q", p, err, want)
		}
	}
	if _, err := tlsconf.LoadCAPool(dir + "/nope.pem"); err == nil || err.Error() != "Couldn't open the ca-file '"+dir+"/nope.pem' (No such file or directory)." {
		t.Errorf("ca-file: %v", err)
	}
	if _, err := tlsconf.LoadCAPool(dir + "/split.pem.key"); err == nil || !strings.Contains(err.Error(), "(no certificate or crl found)") {
		t.Errorf("ca-file of a key: %v", err)
	}
}
