package config

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lb/internal/tlsconf"
	"lb/internal/tlsconf/tlstest"
)

// TestServerTLS shows what the server TLS keywords resolve to: the
// traffic's tls.Config (Server.TLS), the checks' (Server.CheckTLS), with
// default-server and the global ssl-default-server-* lines, and HAProxy's
// diagnostics.
func TestServerTLS(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, pkix.Name{CommonName: "ca"})
	cli := ca.Issue(t, tlstest.Template{Subject: pkix.Name{CommonName: "client"}, Client: true})
	tlstest.Write(t, dir, "ca.pem", ca.CertPEM())
	tlstest.Write(t, dir, "crl.pem", ca.CRL(t))
	tlstest.Write(t, dir, "client.pem", cli.CertPEM(), cli.KeyPEM(t))
	load := func(t *testing.T, global, lines string) (*Config, string) {
		t.Helper()
		cfg, diags := loadString(t, "global\n    ca-base "+dir+"\n    crt-base "+dir+"\n"+global+
			"defaults\n    mode tcp\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\nbackend b\n"+lines)
		var msgs []string
		for _, d := range diags {
			msgs = append(msgs, d.String())
		}
		return cfg, strings.Join(msgs, "\n")
	}
	server := func(t *testing.T, cfg *Config, name string) *Server {
		t.Helper()
		s := cfg.Backend("b").Server(name)
		if s == nil {
			t.Fatalf("no server %s", name)
		}
		return s
	}
	ok := func(t *testing.T, global, lines string) *Config {
		t.Helper()
		cfg, msgs := load(t, global, lines)
		if ExitCode(cfg, nil) == 1 || strings.Contains(msgs, "ALERT") {
			t.Fatalf("refused:\n%s", msgs)
		}
		return cfg
	}
	t.Run("ssl", func(t *testing.T) {
		cfg := ok(t, "", "    server s 127.0.0.1:443 ssl ca-file ca.pem crl-file crl.pem crt client.pem verifyhost srv sni str(x) alpn h2,http/1.1 ciphers ECDHE-ECDSA-AES128-GCM-SHA256 ssl-min-ver TLSv1.2 check\n")
		s := server(t, cfg, "s")
		c := s.TLS.Config
		if s.TLS == nil || c.VerifyConnection == nil || !c.InsecureSkipVerify || c.ServerName != "" || s.TLS.SNI != "str(x)" ||
			len(c.Certificates) != 1 || c.MinVersion != tls.VersionTLS12 || c.MaxVersion != tls.VersionTLS13 ||
			len(c.CipherSuites) != 1 || strings.Join(c.NextProtos, ",") != "h2,http/1.1" || c.ClientSessionCache == nil {
			t.Fatalf("got %+v", s.TLS)
		}
		// Checks go to the traffic port: over TLS too, with the server's
		// ALPN, without resumption.
		if s.CheckTLS == nil || strings.Join(s.CheckTLS.NextProtos, ",") != "h2,http/1.1" || s.CheckTLS.ClientSessionCache != nil {
			t.Fatalf("check: %+v", s.CheckTLS)
		}
	})
	t.Run("check-ssl", func(t *testing.T) {
		cfg := ok(t, "", "    server a 127.0.0.1:443 ssl verify none port 80 check\n"+
			"    server b 127.0.0.1:443 ssl verify none addr 127.0.0.2 check\n"+
			"    server c 127.0.0.1:443 ssl verify none port 80 check check-ssl check-sni chk.example check-alpn http/1.1\n"+
			"    server d 127.0.0.1:80 check-ssl verify none check\n"+
			"    server e 127.0.0.1:443 ssl verify none no-check-ssl check\n")
		if server(t, cfg, "a").CheckTLS != nil || server(t, cfg, "b").CheckTLS != nil || server(t, cfg, "e").CheckTLS != nil {
			t.Error("port/addr/no-check-ssl: checks over TLS")
		}
		c := server(t, cfg, "c")
		if c.CheckTLS == nil || c.CheckTLS.ServerName != "chk.example" || c.CheckSNI != "chk.example" || c.CheckTLS.NextProtos[0] != "http/1.1" {
			t.Errorf("check-ssl: %+v", c.CheckTLS)
		}
		if d := server(t, cfg, "d"); d.TLS != nil || d.CheckTLS == nil {
			t.Errorf("check-ssl without ssl: %+v %+v", d.TLS, d.CheckTLS)
		}
	})
	t.Run("default-server", func(t *testing.T) {
		cfg := ok(t, "", "    default-server ssl verify none no-ssl-reuse no-tls-tickets force-tlsv12\n"+
			"    server a 127.0.0.1:443\n"+
			"    server b 127.0.0.1:443 no-ssl\n"+
			"    server c 127.0.0.1:443 ssl-reuse tls-tickets ssl-max-ver TLSv1.3 ssl-min-ver TLSv1.3\n")
		a := server(t, cfg, "a")
		if a.TLS == nil || !a.TLS.NoReuse || a.TLS.Config.ClientSessionCache != nil || !a.TLS.Config.SessionTicketsDisabled ||
			a.TLS.Config.MinVersion != tls.VersionTLS12 || a.TLS.Config.MaxVersion != tls.VersionTLS12 || a.TLS.Config.VerifyConnection != nil {
			t.Errorf("a: %+v", a.TLS)
		}
		if server(t, cfg, "b").TLS != nil {
			t.Error("b: no-ssl")
		}
		c := server(t, cfg, "c").TLS
		if c.NoReuse || c.Config.ClientSessionCache == nil || c.Config.MinVersion != tls.VersionTLS13 {
			t.Errorf("c: %+v", c)
		}
	})
	t.Run("global", func(t *testing.T) {
		cfg := ok(t, "    ssl-server-verify none\n    ssl-default-server-options ssl-max-ver TLSv1.2 no-tls-tickets\n"+
			"    ssl-default-server-ciphers ECDHE-ECDSA-AES256-GCM-SHA384\n    ssl-default-server-ciphersuites TLS_AES_128_GCM_SHA256\n",
			"    server a 127.0.0.1:443 ssl\n    server b 127.0.0.1:443 ssl ca-file ca.pem verify required ciphers ECDHE-RSA-AES128-GCM-SHA256\n")
		a := server(t, cfg, "a").TLS.Config
		if a.VerifyConnection != nil || a.MaxVersion != tls.VersionTLS12 || !a.SessionTicketsDisabled ||
			len(a.CipherSuites) != 1 || a.CipherSuites[0] != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 {
			t.Errorf("a: %+v", a)
		}
		b := server(t, cfg, "b").TLS.Config
		if b.VerifyConnection == nil || b.CipherSuites[0] != tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 {
			t.Errorf("b: %+v", b)
		}
	})
	for _, c := range []struct{ name, global, line, want string }{
		{"verify without CA", "", "server s 127.0.0.1:443 ssl", "t.cfg:10: 'server b/s' : " + verifyNoCA},
		{"check-ssl without CA", "", "server s 127.0.0.1:443 check-ssl check", "'server b/s' : verify is enabled by default"},
		{"missing ca-file", "", "server s 127.0.0.1:443 ssl ca-file nope.pem", "'server b/s' : Couldn't open the ca-file '" + dir + "/nope.pem' (No such file or directory)."},
		{"absolute crt", "", "server s 127.0.0.1:443 ssl verify none crt /nonexistent.pem", "unable to stat SSL certificate from file '/nonexistent.pem' : No such file or directory."},
		{"verify method", "", "server s 127.0.0.1:443 ssl verify optional", "'verify' : unknown verify method 'optional', only 'none' and 'required' are supported."},
		{"missing sni", "", "server s 127.0.0.1:443 ssl verify none sni", "'sni' : missing sni expression."},
		{"version", "", "server s 127.0.0.1:443 ssl verify none ssl-min-ver TLSv1.4", "'TLSv1.4' : unknown ssl/tls version."},
		{"all disabled", "", "server s 127.0.0.1:443 ssl verify none force-sslv3", "proxy 'b': all SSL/TLS versions are disabled for server 's'."},
		{"hole", "", "server s 127.0.0.1:443 ssl verify none no-tlsv11", "t.cfg:10: 'server b/s' : proxy 'b': SSL/TLS versions range not contiguous for server 's'. Hole find for TLSv1.1."},
		{"no-tlsv1x on default-server", "", "default-server no-tlsv12", "'no-tlsv12' option is not accepted in default-server sections"},
		{"cipher seclevel", "", "server s 127.0.0.1:443 ssl verify none ciphers HIGH:@SECLEVEL=2", "unable to set SSL cipher list to 'HIGH:@SECLEVEL=2'."},
		{"no cipher", "", "server s 127.0.0.1:443 ssl verify none ciphers FOO-BAR", "unable to set SSL cipher list to 'FOO-BAR'."},
		{"some TLS 1.3 suites", "", "server s 127.0.0.1:443 ssl verify none ciphersuites TLS_AES_128_GCM_SHA256", "'ciphersuites TLS_AES_128_GCM_SHA256' is not supported by lb yet"},
		{"npn", "", "server s 127.0.0.1:443 ssl verify none npn http/1.1", "'npn' is not supported by lb yet"},
		{"allow-0rtt", "", "server s 127.0.0.1:443 ssl verify none allow-0rtt", "'allow-0rtt' is not supported by lb yet"},
		{"no-verifyhost", "", "server s 127.0.0.1:443 ssl verify none no-verifyhost", "unknown keyword 'no-verifyhost'"},
		{"ssl-server-verify", "    ssl-server-verify maybe\n", "server s 127.0.0.1:443", "'ssl-server-verify' expects 'none' or 'required' as argument."},
		{"ssl-default-server-options", "    ssl-default-server-options strict-sni\n", "server s 127.0.0.1:443", "unknown option 'strict-sni' on global statement 'ssl-default-server-options'."},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, msgs := load(t, c.global, "    "+c.line+"\n")
			if !strings.Contains(msgs, c.want) {
				t.Errorf("got:\n%s\nwant %q", msgs, c.want)
			}
		})
	}
	t.Run("alpn h2 in mode http", func(t *testing.T) {
		cfg, diags := loadString(t, "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\nbackend b\n    server s 127.0.0.1:443 ssl verify none alpn h2,http/1.1\n")
		if ExitCode(cfg, diags) != 1 || !strings.Contains(diags[len(diags)-1].String(), "'alpn h2,http/1.1' is not supported by lb yet") {
			t.Errorf("got %v", diags)
		}
	})
}

// TestServerCiphersOpenSSLSyntax: a server's "ciphers" reads OpenSSL's cipher strings as bind
// lines do: keywords and operators select among the suites crypto/tls implements.
func TestServerCiphersOpenSSLSyntax(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.cfg")
	text := "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n" +
		"backend b\n    server s 127.0.0.1:443 ssl verify none ciphers ECDHE+AESGCM:!aNULL ssl-max-ver TLSv1.2\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := Load([]string{path}, Options{})
	if ExitCode(cfg, diags) == 1 {
		t.Fatalf("refused: %v", diags)
	}
	ids := cfg.Backends()[0].Servers[0].TLS.Config.CipherSuites
	if len(ids) == 0 {
		t.Fatal("no suite")
	}
	for _, id := range ids {
		if n := tlsconf.CipherName(id); !strings.HasPrefix(n, "ECDHE-") || !strings.Contains(n, "GCM") {
			t.Errorf("suite %s selected by ECDHE+AESGCM", n)
		}
	}
}
