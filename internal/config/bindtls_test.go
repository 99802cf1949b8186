package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a self-signed ECDSA certificate with its key to path.
func selfSigned(t *testing.T, path, cn string, nb, na time.Time) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: nb, NotAfter: na}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(k)
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})...)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBindTLS: the bind line's TLS keywords and the global defaults
// resolve into Bind.TLS, with HAProxy's diagnostics.
func TestBindTLS(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	selfSigned(t, dir+"/site.pem", "site.example.com", now.Add(-time.Hour), now.Add(time.Hour))
	selfSigned(t, dir+"/old.pem", "old.example.com", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))
	pre := "defaults\n    mode %s\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\n" +
		"backend b\n    server s 127.0.0.1:1\nfrontend f\n    default_backend b\n"
	load := func(mode, global, bind string) (*Config, string) {
		text := strings.Replace(pre, "%s", mode, 1) + "    bind 127.0.0.1:8443 " + bind + "\n"
		if global != "" {
			text = "global\n    " + strings.ReplaceAll(global, ";", "\n    ") + "\n" + text
		}
		cfg, diags := loadString(t, text)
		var msgs []string
		for _, d := range diags {
			msgs = append(msgs, d.String())
		}
		return cfg, strings.Join(msgs, "\n")
	}
	tlsOf := func(cfg *Config) *BindTLS {
		for _, p := range cfg.Proxies {
			if p.Name == "f" {
				return p.Binds[0].TLS
			}
		}
		return nil
	}

	// crt-base, the global defaults (ciphers, curves, options), and the
	// bind line's keywords winning over them.
	cfg, diags := load("http", "crt-base "+dir+";ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256;"+
		"ssl-default-bind-curves P-384;ssl-default-bind-options no-tlsv13 no-tls-tickets",
		"ssl crt site.pem alpn h2,http/1.1")
	bt := tlsOf(cfg)
	if bt == nil || !strings.Contains(diags, "h2 is not offered until lb speaks HTTP/2 (offering http/1.1)") {
		t.Fatalf("http: %v\n%s", bt, diags)
	}
	c := bt.Config
	if c.MaxVersion != tls.VersionTLS12 || c.MinVersion != tls.VersionTLS12 || len(c.CipherSuites) != 1 ||
		c.CipherSuites[0] != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 || len(c.CurvePreferences) != 1 ||
		!bt.NoTickets || !c.SessionTicketsDisabled || strings.Join(c.NextProtos, ",") != "http/1.1" || bt.Verify != "none" {
		t.Fatalf("resolved: %+v %+v", bt, c)
	}
	// A handshake shows the default certificate and the resolved settings.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		a, err := ln.Accept()
		if err == nil {
			s := tls.Server(a, c)
			s.Handshake()
			s.Close()
		}
	}()
	cl, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	st := cl.ConnectionState()
	cl.Close()
	if st.PeerCertificates[0].Subject.CommonName != "site.example.com" || st.Version != tls.VersionTLS12 ||
		st.NegotiatedProtocol != "http/1.1" || st.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 {
		t.Fatalf("handshake: %+v", st)
	}

	cfg, diags = load("http", "ssl-default-bind-ciphers FOO", "ssl crt "+dir+"/site.pem ciphers ECDHE-ECDSA-AES256-GCM-SHA384 no-alpn")
	if bt := tlsOf(cfg); bt == nil || len(bt.Config.CipherSuites) != 1 || bt.Config.NextProtos != nil {
		t.Fatalf("override: %v", diags)
	}
	// In mode tcp, h2 stays offered: the bytes are relayed.
	cfg, diags = load("tcp", "", "ssl crt "+dir+"/site.pem alpn h2")
	if bt := tlsOf(cfg); bt == nil || strings.Join(bt.Config.NextProtos, ",") != "h2" || strings.Contains(diags, "h2 is not") {
		t.Fatalf("tcp alpn: %v", diags)
	}

	for _, c := range []struct{ global, bind, want string }{
		{"", "ssl", "Proxy 'f': no SSL certificate specified for bind '127.0.0.1:8443' (use 'crt')."},
		{"", "ssl crt " + dir + "/nope.pem", "'bind 127.0.0.1:8443' in section 'frontend' : unable to stat SSL certificate from file '" + dir + "/nope.pem' : No such file or directory."},
		{"", "ssl crt " + dir + "/old.pem", "t.cfg:10: 'bind 127.0.0.1:8443' : certificate '" + dir + "/old.pem' (CN=old.example.com) expired on 2021-01-01T00:00:00Z."},
		{"", "crt " + dir + "/site.pem", "bind '127.0.0.1:8443' has TLS settings but no 'ssl'"},
		{"", "ssl crt " + dir + "/site.pem verify required", "Proxy 'f': verify is enabled but no CA file specified for bind '127.0.0.1:8443'."},
		{"", "ssl crt " + dir + "/site.pem ciphers FOO", "Proxy 'f': unable to set SSL cipher list to 'FOO' for bind '127.0.0.1:8443'"},
		{"", "ssl crt " + dir + "/site.pem ssl-max-ver TLSv1.1", "Setting the ssl-min-ver to TLSv1.1."},
		{"", "ssl crt " + dir + "/site.pem ssl-min-ver TLSv1.0 no-tlsv11", "no-sslv3/no-tlsv1x are ignored for bind"},
		{"", "ssl crt " + dir + "/site.pem force-sslv3", "Proxy 'f': all SSL/TLS versions are disabled for bind '127.0.0.1:8443'."},
		{"", "ssl crt " + dir + "/site.pem npn h2", "'npn' is not supported by lb yet"},
		{"", "ssl crt " + dir + "/site.pem prefer-client-ciphers", "'prefer-client-ciphers' is not supported by lb yet"},
		{"", "ssl crt " + dir + "/site.pem allow-0rtt", "'allow-0rtt' is not supported by lb yet"},
		{"ssl-default-bind-options prefer-client-ciphers", "ssl crt " + dir + "/site.pem", "'prefer-client-ciphers' (ssl-default-bind-options) is not supported by lb yet"},
		{"ssl-default-bind-options strict-sni", "ssl crt " + dir + "/site.pem", "unknown option 'strict-sni' on global statement 'ssl-default-bind-options'."},
		{"ca-base " + dir, "ssl crt " + dir + "/site.pem ca-file nope.pem verify optional", "'ca-file' : unable to load " + dir + "/nope.pem"},
	} {
		_, diags := load("http", c.global, c.bind)
		if !strings.Contains(diags, c.want) {
			t.Errorf("%q %q:\n%s\nwant %q", c.global, c.bind, diags, c.want)
		}
	}
	// On a stats socket, TLS stays refused.
	if _, diags := loadString(t, "global\n    stats socket /tmp/x.sock ssl\n"); !strings.Contains(diags2(diags), "'ssl' is not supported by lb yet on 'stats socket' lines") {
		t.Errorf("stats socket ssl: %s", diags2(diags))
	}
}

func diags2(ds []Diag) string {
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	return strings.Join(out, "\n")
}

// TestBindTLSMatchesHAProxy: where HAProxy 2.6 has a message, lb's is the
// same (the "at [file:line]" part aside, which lb prints as the position).
func TestBindTLSMatchesHAProxy(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/haproxy"); err != nil {
		t.Skip("no haproxy")
	}
	dir := t.TempDir()
	now := time.Now()
	selfSigned(t, dir+"/site.pem", "site.example.com", now.Add(-time.Hour), now.Add(time.Hour))
	selfSigned(t, dir+"/other.pem", "other.example.com", now.Add(-time.Hour), now.Add(time.Hour))
	site, _ := os.ReadFile(dir + "/site.pem")
	other, _ := os.ReadFile(dir + "/other.pem")
	i, j := strings.Index(string(site), "-----BEGIN EC"), strings.Index(string(other), "-----BEGIN EC")
	os.WriteFile(dir+"/mismatch.pem", append(site[:i:i], other[j:]...), 0o600)
	os.WriteFile(dir+"/nokey.pem", site[:i], 0o600)
	for _, bind := range []string{
		"ssl crt " + dir + "/nope.pem",
		"ssl crt " + dir + "/mismatch.pem",
		"ssl crt " + dir + "/nokey.pem",
		"ssl crt " + dir + "/site.pem tls-ticket-keys " + dir + "/site.pem",
		"ssl crt " + dir + "/site.pem verify maybe",
		"ssl crt " + dir + "/site.pem ssl-min-ver TLSv1.4",
		"ssl crt-list " + dir + "/nope.lst",
	} {
		text := "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\n" +
			"frontend f\n    bind :8443 " + bind + "\n    default_backend b\nbackend b\n    server s 127.0.0.1:1\n"
		path := filepath.Join(dir, "t.cfg")
		os.WriteFile(path, []byte(text), 0o644)
		out, _ := exec.Command("/usr/sbin/haproxy", "-c", "-f", path).CombinedOutput()
		var want string
		for _, line := range strings.Split(string(out), "\n") {
			if k := strings.Index(line, "] : "); strings.Contains(line, "parsing [") && k > 0 {
				want = line[k+4:]
				break
			}
		}
		_, diags := Load([]string{path}, caseOptions("t"))
		got := diags2(diags)
		if want == "" || !strings.Contains(got, want) {
			t.Errorf("%q: haproxy %q; lb:\n%s", bind, want, got)
		}
	}
}
