package loopback

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// httpslogMask replaces what differs from run to run in a log line: the
// client's port, the date and the timers.
var httpslogMask = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`^127\.0\.0\.1:\d+ \[[^\]]+\] `), "C [D] "},
	{regexp.MustCompile(` -?\d+/-?\d+/-?\d+/-?\d+/-?\d+ (\d{3}) `), " T $1 "},
	// The TLS 1.3 suite: crypto/tls has no order for them and picks AES-128-GCM for a
	// client with AES hardware, where OpenSSL's server order picks AES-256-GCM.
	{regexp.MustCompile(`/TLSv1\.3/TLS_AES_(128_GCM_SHA256|256_GCM_SHA384)$`), "/TLSv1.3/TLS_AES_GCM"},
}

// clientPair makes a client certificate for cn signed by ca, valid from nb to na.
func clientPair(t *testing.T, ca *testCA, cn string, nb, na time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    nb,
		NotAfter:     na,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// tlsRequest sends "GET /" over TLS to addr with cc, reads the response and returns the
// connection's local address (how its log line is found), with the first error.
func tlsRequest(addr string, cc *tls.Config) (net.Addr, error) {
	return tlsRequestPath(addr, cc, "/")
}

func tlsRequestPath(addr string, cc *tls.Config, path string) (net.Addr, error) {
	raw, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
	c := tls.Client(raw, cc)
	if err := c.Handshake(); err != nil {
		return raw.LocalAddr(), err
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		// TLS 1.3: a refused client certificate shows after the handshake.
		return raw.LocalAddr(), err
	}
	_, _ = io.ReadAll(resp.Body)
	return raw.LocalAddr(), nil
}

func maskHTTPSLog(line string) string {
	for _, m := range httpslogMask {
		line = m.re.ReplaceAllString(line, m.with)
	}
	return line
}

// TestHTTPSLog: "option httpslog" logs the same lines on lb and on HAProxy for the same
// TLS requests (without and with SNI, full and resumed handshakes in TLS 1.3 and 1.2, a
// verified client certificate), a plain request, and client certificates that fail
// (the connection's error line); the fetches of its format print, in a log-format, what
// HAProxy prints for a session.
func TestHTTPSLog(t *testing.T) {
	ca := newTestCA(t, "lb test CA")
	other := newTestCA(t, "other CA")
	dir := t.TempDir()
	c, k := ca.issue(t, "x.test", []string{"x.test"}, false, false)
	crt := writeFile(t, dir, "x.pem", c, k)
	caFile := writeFile(t, dir, "ca.pem", ca.pem)
	good := clientPair(t, ca, "good", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	expired := clientPair(t, ca, "expired", time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))
	unknown := clientPair(t, other, "unknown", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	tlsPort, plainPort, fetchPort := freePort(t), freePort(t), freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", tlsPort)
	cfg := writeConfig(t, fmt.Sprintf(`
global
    log stdout format raw local0
defaults
    mode http
    log global
    option httpslog
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind 127.0.0.1:%d ssl crt %s ca-file %s verify optional
    bind 127.0.0.1:%d
    http-request return status 200 content-type text/plain string ok
frontend fetches
    bind 127.0.0.1:%d ssl crt %s
    log-format "fetches %%HU %%[fc_err]/%%[fc_err_str]/%%[ssl_fc_err]/%%[ssl_fc_err_str]/%%[ssl_c_err]/%%[ssl_c_ca_err]/%%[ssl_c_ca_err_depth]/%%[ssl_fc_is_resumed]"
    http-request return status 200 content-type text/plain string ok
`, tlsPort, crt, caFile, plainPort, fetchPort, crt))
	checkLB(t, cfg)
	got := map[string][]string{}
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		var lines []string
		// logged waits for the line of the connection from local address la.
		logged := func(la net.Addr) {
			t.Helper()
			_, port, _ := net.SplitHostPort(la.String())
			lines = append(lines, maskHTTPSLog(waitLine(t, out, "127.0.0.1:"+port+" ")))
		}
		request := func(name string, cc *tls.Config) {
			t.Helper()
			cc.InsecureSkipVerify = true
			la, err := tlsRequest(addr, cc)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			logged(la)
		}
		request("no SNI", &tls.Config{})
		tls13 := tls.NewLRUClientSessionCache(4)
		request("SNI, TLS 1.3", &tls.Config{ServerName: "x.test", ClientSessionCache: tls13})
		request("SNI, TLS 1.3, resumed", &tls.Config{ServerName: "x.test", ClientSessionCache: tls13})
		tls12 := tls.NewLRUClientSessionCache(4)
		request("TLS 1.2", &tls.Config{MaxVersion: tls.VersionTLS12, ClientSessionCache: tls12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})
		request("TLS 1.2, resumed", &tls.Config{MaxVersion: tls.VersionTLS12, ClientSessionCache: tls12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})
		request("client certificate", &tls.Config{Certificates: []tls.Certificate{good}})
		for _, bad := range []tls.Certificate{expired, unknown} {
			// GetClientCertificate sends the certificate whatever CAs the server names.
			la, err := tlsRequest(addr, &tls.Config{InsecureSkipVerify: true,
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &bad, nil }})
			if err == nil {
				t.Errorf("a client certificate of %s was accepted", bad.Leaf.Subject.CommonName)
			}
			logged(la)
		}
		hc := dialHTTP(t, fmt.Sprintf("127.0.0.1:%d", plainPort))
		hc.send("GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		hc.response()
		hc.c.Close()
		logged(hc.c.LocalAddr())
		fc := tls.NewLRUClientSessionCache(4)
		for i := range 2 {
			cc := &tls.Config{InsecureSkipVerify: true, ClientSessionCache: fc}
			if _, err := tlsRequestPath(fmt.Sprintf("127.0.0.1:%d", fetchPort), cc, fmt.Sprintf("/%d", i)); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, waitLineWith(t, out, fmt.Sprintf("fetches /%d ", i)))
		}
		got[t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]] = lines
	})
	want := []string{
		`C [D] fe~ fe/<NOSRV> T 200 73 - - LR-- 1/1/0/0/0 0/0 "GET / HTTP/1.1" 0/0000000000000000/0/0/0 -/TLSv1.3/TLS_AES_GCM`,
		`C [D] fe~ fe/<NOSRV> T 200 73 - - LR-- 1/1/0/0/0 0/0 "GET / HTTP/1.1" 0/0000000000000000/0/0/0 x.test/TLSv1.3/TLS_AES_GCM`,
		`C [D] fe~ fe/<NOSRV> T 200 73 - - LR-- 1/1/0/0/0 0/0 "GET / HTTP/1.1" 0/0000000000000000/0/0/1 x.test/TLSv1.3/TLS_AES_GCM`,
		`C [D] fe~ fe/<NOSRV> T 200 73 - - LR-- 1/1/0/0/0 0/0 "GET / HTTP/1.1" 0/0000000000000000/0/0/0 -/TLSv1.2/ECDHE-ECDSA-AES128-GCM-SHA256`,
		`C [D] fe~ fe/<NOSRV> T 200 73 - - LR-- 1/1/0/0/0 0/0 "GET / HTTP/1.1" 0/0000000000000000/0/0/1 -/TLSv1.2/ECDHE-ECDSA-AES128-GCM-SHA256`,
		`C [D] fe~ fe/<NOSRV> T 200 73 - - LR-- 1/1/0/0/0 0/0 "GET / HTTP/1.1" 0/0000000000000000/0/0/0 -/TLSv1.3/TLS_AES_GCM`,
		// A failed handshake is not a session: HAProxy 2.6 logs the connection's error
		// line, not the log-format.
		`C [D] fe/1: SSL client certificate not trusted`,
		`C [D] fe/1: SSL client certificate not trusted`,
		`C [D] fe fe/<NOSRV> T 200 73 - - LR-- 1/1/0/0/0 0/0 "GET /plain HTTP/1.1" 0/-/-/-/0 -/-/-`,
		`fetches /0 0/Success/0/-/0/0/0/0`,
		`fetches /1 0/Success/0/-/0/0/0/1`,
	}
	for name, lines := range got {
		if g, w := strings.Join(lines, "\n"), strings.Join(want, "\n"); g != w {
			t.Errorf("%s logged (masked)\n%s\nwant\n%s", name, g, w)
		}
	}
}
