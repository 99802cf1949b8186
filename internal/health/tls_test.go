package health

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"net"
	"testing"
	"time"

	"lb/internal/tlsconf"
	"lb/internal/tlsconf/tlstest"
)

// TestProbeTLS checks servers over TLS (server check-ssl, or ssl on the
// traffic port), with HAProxy 2.6.12's statuses and info texts: L6OK once
// the handshake is done, L6RSP "SSL handshake failure" or the name
// mismatches, L6TOUT for a server that never answers, and layer 7 checks
// over the TLS connection.
func TestProbeTLS(t *testing.T) {
	ca := tlstest.NewCA(t, pkix.Name{CommonName: "ca"})
	cert := ca.Issue(t, tlstest.Template{Subject: pkix.Name{CommonName: "srv"}})
	sawSNI, sawALPN := make(chan string, 10), make(chan string, 10)
	srvCfg := &tls.Config{Certificates: []tls.Certificate{cert.TLS()}, NextProtos: []string{"http/1.1"},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			sawSNI <- h.ServerName
			alpn := ""
			if len(h.SupportedProtos) > 0 {
				alpn = h.SupportedProtos[0]
			}
			sawALPN <- alpn
			return nil, nil
		}}
	tlsAddr := serve(t, func(c net.Conn) {
		tc := tls.Server(c, srvCfg)
		if tc.Handshake() != nil {
			return
		}
		br := bufio.NewReader(tc)
		if line, err := br.ReadString('\n'); err == nil && line == "OPTIONS / HTTP/1.0\r\n" {
			tc.Write([]byte("HTTP/1.0 200 OK\r\n\r\n"))
		}
		tc.Close()
	})
	plainAddr := serve(t, func(c net.Conn) {
		c.Read(make([]byte, 512))
		c.Write([]byte("HTTP/1.0 400 Bad request\r\n\r\n"))
	})
	silentAddr := serve(t, func(c net.Conn) { time.Sleep(time.Second) })

	verify := func(host string) *tls.Config {
		return tlsconf.ClientConfig(tlsconf.ServerOptions{Verify: true, Roots: ca.Pool(), VerifyHost: host, NoReuse: true})
	}
	withSNI := func(c *tls.Config, sni string, alpn ...string) *tls.Config {
		c.ServerName, c.NextProtos = sni, alpn
		return c
	}
	for _, c := range []struct {
		name   string
		addr   string
		kind   Kind
		tls    *tls.Config
		status Status
		info   string
		sni    string
		alpn   string
	}{
		{"L6OK", tlsAddr, KindTCP, verify(""), StatusL6OK, "", "", ""},
		{"verifyhost", tlsAddr, KindTCP, verify("srv"), StatusL6OK, "", "", ""},
		{"verifyhost mismatch", tlsAddr, KindTCP, verify("nope"), StatusL6Rsp,
			"Server presented an SSL certificate different from the configured one", "", ""},
		{"check-sni mismatch", tlsAddr, KindTCP, withSNI(verify(""), "nope.example"), StatusL6Rsp,
			"Server presented an SSL certificate different from the expected one", "nope.example", ""},
		{"check-sni and check-alpn sent", tlsAddr, KindTCP, withSNI(verify("nope"), "srv", "http/1.1"), StatusL6OK, "", "srv", "http/1.1"},
		{"unknown CA", tlsAddr, KindTCP, tlsconf.ClientConfig(tlsconf.ServerOptions{Verify: true, Roots: tlstest.NewCA(t, pkix.Name{CommonName: "x"}).Pool()}),
			StatusL6Rsp, "SSL handshake failure", "", ""},
		{"plain server", plainAddr, KindTCP, tlsconf.ClientConfig(tlsconf.ServerOptions{}), StatusL6Rsp, "SSL handshake failure", "", ""},
		{"silent server", silentAddr, KindTCP, tlsconf.ClientConfig(tlsconf.ServerOptions{}), StatusL6Tout, "", "", ""},
		{"httpchk over TLS", tlsAddr, KindHTTP, verify("srv"), StatusL7OK, "", "", ""},
		{"plain check of a TLS server", tlsAddr, KindTCP, nil, StatusL4OK, "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			for len(sawSNI) > 0 {
				<-sawSNI
				<-sawALPN
			}
			cfg := Config{Addr: c.addr, Kind: c.kind, Inter: 300 * time.Millisecond, TLS: c.tls,
				HTTP: HTTPRequest{Method: "OPTIONS", URI: "/", Version: "HTTP/1.0"}}
			r := Probe(context.Background(), cfg)
			if r.Status != c.status || r.Info != c.info {
				t.Fatalf("got %s %q, want %s %q", r.Status, r.Info, c.status, c.info)
			}
			if c.status == StatusL6Tout && r.Duration > 600*time.Millisecond {
				t.Errorf("handshake not bounded by the connect timeout: %v", r.Duration)
			}
			if c.tls != nil && c.addr == tlsAddr {
				if sni, alpn := <-sawSNI, <-sawALPN; sni != c.sni || alpn != c.alpn {
					t.Errorf("server saw SNI %q ALPN %q, want %q %q", sni, alpn, c.sni, c.alpn)
				}
			}
		})
	}
}
