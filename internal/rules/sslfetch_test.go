package rules

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lb/internal/tlsconf/tlstest"
)

// serverState makes a real TLS handshake over 127.0.0.1, the client
// presenting cert (nil: none), and returns the server side's state.
func serverState(t *testing.T, ca *tlstest.Cert, srv, cli *tlstest.Cert, sni string, alpn []string, maxVer uint16) *tls.ConnectionState {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan tls.ConnectionState, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(ch)
			return
		}
		defer c.Close()
		s := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{srv.TLS()}, ClientAuth: tls.VerifyClientCertIfGiven,
			ClientCAs: ca.Pool(), NextProtos: []string{"h2", "http/1.1"}})
		s.Handshake()
		ch <- s.ConnectionState()
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cfg := &tls.Config{RootCAs: ca.Pool(), ServerName: sni, NextProtos: alpn, MaxVersion: maxVer,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}}
	if sni == "" {
		cfg.InsecureSkipVerify = true
	}
	if cli != nil {
		cfg.Certificates = []tls.Certificate{cli.TLS()}
	}
	c := tls.Client(conn, cfg)
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	st := <-ch
	return &st
}

// TestSSLFetches evaluates the ssl_fc* and ssl_c_* fetches on the state
// of real handshakes, with the formats HAProxy prints: OpenSSL's one-line
// DN, RFC 2253, "YYMMDDhhmmssZ" dates, OpenSSL's names.
func TestSSLFetches(t *testing.T) {
	ca := tlstest.NewCA(t, pkix.Name{Country: []string{"FR"}, Organization: []string{"Org"}, CommonName: "Test CA"})
	srv := ca.Issue(t, tlstest.Template{Subject: pkix.Name{CommonName: "srv"}, DNSNames: []string{"srv.example"}})
	subject := pkix.Name{Country: []string{"US"}, Province: []string{"CA"}, Organization: []string{"Acme, Inc."},
		OrganizationalUnit: []string{"Ops"}, CommonName: "client one",
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "ops@example.com"}}}
	nb := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	na := time.Date(2051, 6, 7, 8, 9, 10, 0, time.UTC)
	cli := ca.Issue(t, tlstest.Template{Subject: subject, Serial: 0x1234abcd, NotBefore: nb, NotAfter: na, Client: true})

	cfg := loadCfg(t, "")
	px := cfg.Proxies[0]
	eval := func(t *testing.T, st *tls.ConnectionState, expr string) (string, bool) {
		t.Helper()
		sm, err := CompileSample(cfg, px, nil, Options{}, expr, LogFormat)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		s := newStream()
		s.TLS = st
		out, ok := sm.AppendString(nil, s)
		return string(out), ok
	}

	st := serverState(t, ca, srv, cli, "srv.example", []string{"h2"}, tls.VersionTLS12)
	for expr, want := range map[string]string{
		"ssl_fc":                 "1",
		"ssl_fc_sni":             "srv.example",
		"ssl_fc_has_sni":         "1",
		"ssl_fc_protocol":        "TLSv1.2",
		"ssl_fc_cipher":          "ECDHE-ECDSA-AES256-GCM-SHA384",
		"ssl_fc_alpn":            "h2",
		"ssl_fc_is_resumed":      "0",
		"ssl_fc_use_keysize":     "256",
		"ssl_fc_alg_keysize":     "256",
		"ssl_fc_has_crt":         "1",
		"ssl_c_used":             "1",
		"ssl_c_verify":           "0",
		"ssl_c_s_dn":             "/C=US/ST=CA/O=Acme, Inc./OU=Ops/CN=client one/emailAddress=ops@example.com",
		"ssl_c_i_dn":             "/C=FR/O=Org/CN=Test CA",
		"ssl_c_s_dn(CN)":         "client one",
		"ssl_c_s_dn(ou)":         "Ops",
		"ssl_c_s_dn(2.5.4.3)":    "client one",
		"ssl_c_i_dn(O)":          "Org",
		"ssl_c_s_dn(,0,rfc2253)": `emailAddress=ops@example.com,CN=client one,OU=Ops,O=Acme\, Inc.,ST=CA,C=US`,
		"ssl_c_i_dn(,0,rfc2253)": "CN=Test CA,O=Org,C=FR",
		"ssl_c_serial,hex":       "1234ABCD",
		"ssl_c_notbefore":        "240102030405Z",
		"ssl_c_notafter":         "510607080910Z",
		"ssl_c_version":          "3",
		"ssl_c_sig_alg":          "ecdsa-with-SHA256",
		"ssl_c_key_alg":          "id-ecPublicKey",
		"ssl_c_sha1,hex,length":  "40",
		"ssl_c_der,hex":          "",
		"fc_err":                 "0",
		"fc_err_str":             "Success",
		"ssl_fc_err,hex":         "0000000000000000",
		"ssl_c_err":              "0",
		"ssl_c_ca_err":           "0",
		"ssl_c_ca_err_depth":     "0",
	} {
		got, ok := eval(t, st, expr)
		if expr == "ssl_c_der,hex" {
			want = strings.ToUpper(hex.EncodeToString(cli.Cert.Raw))
		}
		if !ok || got != want {
			t.Errorf("%s = %q (%v), want %q", expr, got, ok, want)
		}
	}

	// TLS 1.3 without SNI nor ALPN nor client certificate.
	st = serverState(t, ca, srv, nil, "", nil, 0)
	for expr, want := range map[string]string{
		"ssl_fc": "1", "ssl_fc_protocol": "TLSv1.3", "ssl_fc_has_sni": "0", "ssl_c_used": "0",
		"ssl_fc_has_crt": "0", "ssl_c_verify": "0", "ssl_fc_use_keysize": "",
	} {
		got, ok := eval(t, st, expr)
		if expr == "ssl_fc_use_keysize" {
			if !ok || (got != "128" && got != "256") {
				t.Errorf("%s = %q (%v)", expr, got, ok)
			}
			continue
		}
		if !ok || got != want {
			t.Errorf("TLS 1.3: %s = %q (%v), want %q", expr, got, ok, want)
		}
	}
	for _, expr := range []string{"ssl_fc_sni", "ssl_fc_alpn", "ssl_c_s_dn", "ssl_c_serial", "ssl_c_notafter"} {
		if got, ok := eval(t, st, expr); ok {
			t.Errorf("TLS 1.3 without them: %s = %q, want nothing", expr, got)
		}
	}
	// Not TLS: ssl_fc is false, the others find nothing.
	if got, ok := eval(t, nil, "ssl_fc"); !ok || got != "0" {
		t.Errorf("plain: ssl_fc = %q %v", got, ok)
	}
	// HAProxy: ssl_fc_is_resumed is false there too, and fc_err is the
	// connection's, TLS or not.
	for expr, want := range map[string]string{"ssl_fc_is_resumed": "0", "fc_err": "0", "fc_err_str": "Success"} {
		if got, ok := eval(t, nil, expr); !ok || got != want {
			t.Errorf("plain: %s = %q %v, want %q", expr, got, ok, want)
		}
	}
	for _, expr := range []string{"ssl_fc_protocol", "ssl_fc_has_sni", "ssl_c_used", "ssl_c_verify",
		"ssl_fc_err", "ssl_fc_err_str", "ssl_c_err", "ssl_c_ca_err", "ssl_c_ca_err_depth"} {
		if got, ok := eval(t, nil, expr); ok {
			t.Errorf("plain: %s = %q, want nothing", expr, got)
		}
	}

	// The formats are OpenSSL's: compare with its command line tool.
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("no openssl to compare with")
	}
	pemFile := filepath.Join(t.TempDir(), "c.pem")
	os.WriteFile(pemFile, cli.CertPEM(), 0o600)
	out, err := exec.Command(openssl, "x509", "-in", pemFile, "-noout", "-subject", "-issuer", "-serial", "-nameopt", "compat").Output()
	if err != nil {
		t.Fatal(err)
	}
	oneS, _ := eval(t, st0(t, ca, srv, cli), "ssl_c_s_dn")
	oneI, _ := eval(t, st0(t, ca, srv, cli), "ssl_c_i_dn")
	serial, _ := eval(t, st0(t, ca, srv, cli), "ssl_c_serial,hex")
	if want := "subject=" + oneS + "\nissuer=" + oneI + "\nserial=" + serial + "\n"; string(out) != want {
		t.Errorf("openssl says\n%s\nlb says\n%s", out, want)
	}
	out, err = exec.Command(openssl, "x509", "-in", pemFile, "-noout", "-subject", "-nameopt", "RFC2253").Output()
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := eval(t, st0(t, ca, srv, cli), "ssl_c_s_dn(,0,rfc2253)"); string(out) != "subject="+r+"\n" {
		t.Errorf("openssl says %q, lb says %q", out, r)
	}
}

func st0(t *testing.T, ca, srv, cli *tlstest.Cert) *tls.ConnectionState {
	return serverState(t, ca, srv, cli, "srv.example", nil, tls.VersionTLS12)
}

// TestSSLFetchesDNOccurrences: the <occ> argument of the DN fetches
// counts the attributes of multi-valued RDNs one by one (crypto/x509
// puts two OUs in one RDN), and HAProxy's one-line form gives each its
// '/'.
func TestSSLFetchesDNOccurrences(t *testing.T) {
	ca := tlstest.NewCA(t, pkix.Name{CommonName: "ca"})
	srv := ca.Issue(t, tlstest.Template{Subject: pkix.Name{CommonName: "srv"}, DNSNames: []string{"srv.example"}})
	cli := ca.Issue(t, tlstest.Template{Subject: pkix.Name{OrganizationalUnit: []string{"Ops", "Web"}, CommonName: "c"}, Client: true})
	cfg := loadCfg(t, "")
	st := st0(t, ca, srv, cli)
	for expr, want := range map[string]string{
		"ssl_c_s_dn":             "/OU=Ops/OU=Web/CN=c",
		"ssl_c_s_dn(OU)":         "Ops",
		"ssl_c_s_dn(OU,2)":       "Web",
		"ssl_c_s_dn(OU,-1)":      "Web",
		"ssl_c_s_dn(OU,-2)":      "Ops",
		"ssl_c_s_dn(,0,rfc2253)": "CN=c,OU=Web+OU=Ops",
	} {
		sm, err := CompileSample(cfg, cfg.Proxies[0], nil, Options{}, expr, LogFormat)
		if err != nil {
			t.Fatal(err)
		}
		s := newStream()
		s.TLS = st
		if got, ok := sm.AppendString(nil, s); !ok || string(got) != want {
			t.Errorf("%s = %q (%v), want %q", expr, got, ok, want)
		}
	}
	for _, expr := range []string{"ssl_c_s_dn(OU,3)", "ssl_c_s_dn(OU,0)", "ssl_c_s_dn(L)"} {
		sm, _ := CompileSample(cfg, cfg.Proxies[0], nil, Options{}, expr, LogFormat)
		s := newStream()
		s.TLS = st
		if got, ok := sm.AppendString(nil, s); ok {
			t.Errorf("%s = %q, want nothing", expr, got)
		}
	}
}
