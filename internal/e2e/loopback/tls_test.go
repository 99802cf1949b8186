package loopback

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TLS end-to-end: certificates are made by the test, lb runs on them, and real
// crypto/tls clients and servers talk to it on loopback.

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
}

var serial int64 = time.Now().UnixNano()

func nextSerial() *big.Int { serial++; return big.NewInt(serial) }

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"lb tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a certificate for cn and dns names signed by ca, with an ECDSA
// P-256 key, or an RSA-2048 one when rsaKey. It returns the PEM of the
// certificate and of the key.
func (ca *testCA) issue(t *testing.T, cn string, dns []string, client, rsaKey bool) (certPEM, keyPEM []byte) {
	t.Helper()
	var key crypto.Signer
	var err error
	if rsaKey {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"lb tests"}, Country: []string{"FR"}},
		DNSNames:     dns,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// writeFile writes the concatenation of parts to dir/name and returns its path.
func writeFile(t *testing.T, dir, name string, parts ...[]byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(strings.Join(func() []string {
		var s []string
		for _, b := range parts {
			s = append(s, string(b))
		}
		return s
	}(), "")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkLB fails the test unless "lb -c" accepts cfg.
func checkLB(t *testing.T, cfg string) {
	t.Helper()
	if b, err := exec.Command(lbBinary(t), "-c", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("lb -c: %v\n%s", err, b)
	}
}

// tlsGet sends one HTTP/1.1 request over TLS to addr with cfg and returns the
// response's status code and body, and the connection's state.
func tlsGet(t *testing.T, addr string, cfg *tls.Config, path string) (int, string, tls.ConnectionState, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 3 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return 0, "", tls.ConnectionState{}, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", c.ConnectionState(), err
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), c.ConnectionState(), nil
}

// TestTLSSNIDirectoryAndCrtList: SNI picks the certificate of its name, from a
// "crt" directory and from a "crt-list"; a name none has gets the default
// (first) certificate; "strict-sni" refuses it; ALPN offers http/1.1.
func TestTLSSNIDirectoryAndCrtList(t *testing.T) {
	ca := newTestCA(t, "lb test CA")
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	if err := os.Mkdir(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		c, k := ca.issue(t, n+".example.test", []string{n + ".example.test"}, false, false)
		writeFile(t, certs, "0"+n+".pem", c, k)
	}
	wc, wk := ca.issue(t, "wild", []string{"*.wild.test"}, false, false)
	wild := writeFile(t, dir, "wild.pem", wc, wk)
	lc, lk := ca.issue(t, "listed", []string{"listed.test"}, false, false)
	listed := writeFile(t, dir, "listed.pem", lc, lk)
	list := writeFile(t, dir, "list.txt", []byte(fmt.Sprintf("# a crt-list\n%s [alpn http/1.1] other.name\n%s\n", listed, wild)))
	p1, p2 := freePort(t), freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend dir
    bind 127.0.0.1:%d ssl crt %s alpn h2,http/1.1
    http-request return status 200 content-type text/plain lf-string "dir %%[ssl_fc_sni]"
frontend list
    bind 127.0.0.1:%d ssl crt-list %s strict-sni
    http-request return status 200 content-type text/plain lf-string "list %%[ssl_fc_sni]"
`, p1, certs, p2, list))
	checkLB(t, cfg)
	startLB(t, "-db", "-f", cfg)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	// served returns the common name of the certificate served for sni, and
	// the protocol ALPN chose.
	served := func(addr, sni string) (string, string, error) {
		var got string
		cfg := &tls.Config{RootCAs: pool, ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"},
			VerifyConnection: func(cs tls.ConnectionState) error {
				got = cs.PeerCertificates[0].Subject.CommonName
				return nil
			}}
		code, body, cs, err := tlsGet(t, addr, cfg, "/")
		if err != nil {
			return "", "", err
		}
		if code != 200 || body != strings.Fields(body)[0]+" "+sni {
			t.Errorf("%s %s: %d %q", addr, sni, code, body)
		}
		return got, cs.NegotiatedProtocol, nil
	}
	a1 := fmt.Sprintf("127.0.0.1:%d", p1)
	a2 := fmt.Sprintf("127.0.0.1:%d", p2)
	for _, c := range []struct{ addr, sni, want, alpn string }{
		// "alpn h2,http/1.1": lb does not speak h2, http/1.1 is chosen.
		{a1, "a.example.test", "a.example.test", "http/1.1"},
		{a1, "b.example.test", "b.example.test", "http/1.1"},
		{a1, "unknown.test", "a.example.test", "http/1.1"}, // the default: the first loaded
		{a2, "other.name", "listed", "http/1.1"},           // the crt-list line's SNI filter and alpn
		{a2, "x.wild.test", "wild", ""},                    // no alpn on that line nor the bind
	} {
		got, alpn, err := served(c.addr, c.sni)
		if err != nil {
			t.Errorf("%s: %v", c.sni, err)
			continue
		}
		if got != c.want || alpn != c.alpn {
			t.Errorf("SNI %s on %s: certificate %q ALPN %q, want %q and %q", c.sni, c.addr, got, alpn, c.want, c.alpn)
		}
	}
	// A crt-list line with SNI filters serves those names only (not its
	// certificate's), and strict-sni has no default.
	for _, sni := range []string{"listed.test", "unknown.test"} {
		if got, _, err := served(a2, sni); err == nil {
			t.Errorf("strict-sni served %q to %s", got, sni)
		}
	}
}

// TestTLSMinVersionAndMutual: "ssl-min-ver TLSv1.3" refuses a TLS 1.2 client;
// "verify required" refuses a client without a certificate and shows the
// subject of one that has one to the rules (ssl_c_s_dn) and the server.
func TestTLSMinVersionAndMutual(t *testing.T) {
	ca := newTestCA(t, "lb test CA")
	dir := t.TempDir()
	sc, sk := ca.issue(t, "server.test", []string{"server.test"}, false, false)
	crt := writeFile(t, dir, "server.pem", sc, sk)
	caFile := writeFile(t, dir, "ca.pem", ca.pem)
	srv := startHTTPServer(t, "srv", nil)
	p1, p2 := freePort(t), freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend v13
    bind 127.0.0.1:%d ssl crt %s ssl-min-ver TLSv1.3
    http-request return status 200 content-type text/plain lf-string "%%[ssl_fc_protocol]"
frontend mtls
    bind 127.0.0.1:%d ssl crt %s ca-file %s verify required
    http-request set-header X-Client-DN %%[ssl_c_s_dn]
    http-request set-header X-Client-Used %%[ssl_c_used]
    default_backend be
backend be
    server s1 %s
`, p1, crt, p2, crt, caFile, srv.addr()))
	checkLB(t, cfg)
	startLB(t, "-db", "-f", cfg)
	a1 := fmt.Sprintf("127.0.0.1:%d", p1)
	a2 := fmt.Sprintf("127.0.0.1:%d", p2)
	if _, _, _, err := tlsGet(t, a1, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12}, "/"); err == nil {
		t.Error("a TLS 1.2 client was served by ssl-min-ver TLSv1.3")
	}
	code, body, _, err := tlsGet(t, a1, &tls.Config{InsecureSkipVerify: true}, "/")
	if err != nil || code != 200 || body != "TLSv1.3" {
		t.Errorf("TLS 1.3 client: %d %q %v", code, body, err)
	}
	if code, _, _, err := tlsGet(t, a2, &tls.Config{InsecureSkipVerify: true}, "/"); err == nil {
		t.Errorf("a client without a certificate got %d from verify required", code)
	}
	cc, ck := ca.issue(t, "client one", nil, true, false)
	pair, err := tls.X509KeyPair(cc, ck)
	if err != nil {
		t.Fatal(err)
	}
	code, body, _, err = tlsGet(t, a2, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{pair}}, "/")
	if err != nil || code != 200 {
		t.Fatalf("client with a certificate: %d %v", code, err)
	}
	if !strings.Contains(body, "X-Client-Dn: /C=FR/O=lb tests/CN=client one\n") || !strings.Contains(body, "X-Client-Used: 1\n") {
		t.Errorf("the server saw:\n%s", body)
	}
	// A certificate of another CA is refused.
	other := newTestCA(t, "other CA")
	oc, ok := other.issue(t, "intruder", nil, true, false)
	opair, _ := tls.X509KeyPair(oc, ok)
	if code, _, _, err := tlsGet(t, a2, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{opair}}, "/"); err == nil {
		t.Errorf("a certificate of another CA got %d", code)
	}
}

// TestTLSOffloadTCPAndOrigination: in mode tcp lb terminates TLS and passes the
// bytes on in clear; toward a TLS server with "verify required" it checks the
// server's certificate against ca-file (and the name sent by sni), and refuses
// a server whose CA is not that one.
func TestTLSOffloadTCPAndOrigination(t *testing.T) {
	ca := newTestCA(t, "lb test CA")
	dir := t.TempDir()
	fc, fk := ca.issue(t, "front.test", []string{"front.test"}, false, false)
	crt := writeFile(t, dir, "front.pem", fc, fk)
	caFile := writeFile(t, dir, "ca.pem", ca.pem)

	echo := startRawServer(t, func(c net.Conn) {
		defer c.Close()
		_, _ = io.Copy(c, c)
	})
	// TLS backends: one with a certificate of ca, one of another CA.
	tlsBackend := func(ca *testCA) string {
		c, k := ca.issue(t, "backend.test", []string{"backend.test"}, false, false)
		pair, err := tls.X509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		s := startHTTPServer(t, "tls-"+ca.cert.Subject.CommonName, nil)
		s.srv.Close()
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "tls backend, sni %s", r.TLS.ServerName)
		})}
		go hs.Serve(ln)
		t.Cleanup(func() { hs.Close() })
		return ln.Addr().String()
	}
	good := tlsBackend(ca)
	bad := tlsBackend(newTestCA(t, "other CA"))

	pt, ph := freePort(t), freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    timeout client 5s
    timeout server 5s
    timeout connect 2s
listen offload
    mode tcp
    bind 127.0.0.1:%d ssl crt %s
    server echo %s
frontend origin
    mode http
    bind 127.0.0.1:%d
    use_backend bad if { path /bad }
    default_backend good
backend good
    mode http
    server s1 %s ssl verify required ca-file %s sni str(backend.test)
backend bad
    mode http
    server s1 %s ssl verify required ca-file %s sni str(backend.test)
`, pt, crt, echo, ph, good, caFile, bad, caFile))
	checkLB(t, cfg)
	startLB(t, "-db", "-f", cfg)

	c, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", pt), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := strings.Repeat("offloaded bytes ", 4096)
	go func() { _, _ = io.WriteString(c, msg); _ = c.CloseWrite() }()
	got, err := io.ReadAll(c)
	c.Close()
	if string(got) != msg {
		t.Errorf("mode tcp offload echoed %d bytes of %d (%v)", len(got), len(msg), err)
	}

	hc := dialHTTP(t, fmt.Sprintf("127.0.0.1:%d", ph))
	hc.send("GET /good HTTP/1.1\r\nHost: x\r\n\r\n")
	head, body := hc.response()
	if !strings.HasPrefix(head, "HTTP/1.1 200") || body != "tls backend, sni backend.test" {
		t.Errorf("verified backend: %q %q", head, body)
	}
	hc.send("GET /bad HTTP/1.1\r\nHost: x\r\n\r\n")
	head, _ = hc.response()
	if !strings.HasPrefix(head, "HTTP/1.1 503") {
		t.Errorf("a backend of another CA answered %q, want 503", head)
	}
}

// TestTLSHandshakeFailureLog: a failed handshake is logged as HAProxy logs it,
// "client [date] frontend/listener: reason", on lb and on HAProxy alike.
func TestTLSHandshakeFailureLog(t *testing.T) {
	ca := newTestCA(t, "lb test CA")
	dir := t.TempDir()
	c, k := ca.issue(t, "x.test", []string{"x.test"}, false, false)
	crt := writeFile(t, dir, "x.pem", c, k)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, fmt.Sprintf(`
global
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    timeout client 1s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind 127.0.0.1:%d ssl crt %s name tlsbind
    http-request return status 200 content-type text/plain string ok
`, port, crt))
	checkLB(t, cfg)
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		// Plain HTTP to a TLS port: not a handshake.
		pc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(pc, "GET / HTTP/1.0\r\n\r\n")
		_, _ = io.ReadAll(pc)
		pc.Close()
		line := waitLine(t, out, "127.0.0.1:"+strings.Split(pc.LocalAddr().String(), ":")[1]+" ")
		re := regexp.MustCompile(`^127\.0\.0\.1:\d+ \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] fe/tlsbind: SSL handshake failure$`)
		if !re.MatchString(line) {
			t.Errorf("handshake failure logged as %q", line)
		}
		// A silent client times out (timeout client).
		sc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		line = waitLine(t, out, "127.0.0.1:"+strings.Split(sc.LocalAddr().String(), ":")[1]+" ")
		if !strings.HasSuffix(line, "] fe/tlsbind: Timeout during SSL handshake") {
			t.Errorf("silent client logged as %q", line)
		}
		// A TLS request is logged by httplog with "fe~".
		code, _, _, err := tlsGet(t, addr, &tls.Config{InsecureSkipVerify: true}, "/")
		if err != nil || code != 200 {
			t.Fatalf("TLS request: %d %v", code, err)
		}
		line = waitLineWith(t, out, `"GET / HTTP/1.1"`)
		if !strings.Contains(line, "] fe~ fe/<NOSRV> ") {
			t.Errorf("TLS request logged as %q", line)
		}
	})
}

// TestTLSServerSessionReuse: lb resumes its TLS sessions toward a server (ssl-reuse, the
// default, with tickets), and does not with "no-ssl-reuse" or "no-tls-tickets".
func TestTLSServerSessionReuse(t *testing.T) {
	ca := newTestCA(t, "lb test CA")
	c, k := ca.issue(t, "backend.test", []string{"backend.test"}, false, false)
	pair, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	resumed := map[string][]bool{}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		resumed[r.URL.Path] = append(resumed[r.URL.Path], r.TLS.DidResume)
		mu.Unlock()
		io.WriteString(w, "ok")
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode http
    option httpclose
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind 127.0.0.1:%d
    use_backend noreuse if { path /noreuse }
    use_backend notickets if { path /notickets }
    default_backend reuse
backend reuse
    server s %s ssl verify none
backend noreuse
    server s %s ssl verify none no-ssl-reuse
backend notickets
    server s %s ssl verify none no-tls-tickets
`, port, ln.Addr(), ln.Addr(), ln.Addr()))
	checkLB(t, cfg)
	startLB(t, "-db", "-f", cfg)
	for _, path := range []string{"/reuse", "/noreuse", "/notickets"} {
		for i := 0; i < 4; i++ {
			hc := dialHTTP(t, fmt.Sprintf("127.0.0.1:%d", port))
			hc.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
			if head, _ := hc.response(); !strings.HasPrefix(head, "HTTP/1.1 200") {
				t.Fatalf("%s: %q", path, head)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if r := resumed["/reuse"]; len(r) != 4 || r[0] || !r[1] || !r[2] || !r[3] {
		t.Errorf("ssl-reuse: resumed %v, want [false true true true]", r)
	}
	for _, path := range []string{"/noreuse", "/notickets"} {
		if r := resumed[path]; len(r) != 4 || r[0] || r[1] || r[2] || r[3] {
			t.Errorf("%s: resumed %v, want none", path, r)
		}
	}
}

// TestTLSTicketKeysFile: two listeners with the same "tls-ticket-keys" file resume each
// other's sessions (the keys are the file's, not the process's); one with other keys does
// not, nor does one with "no-tls-tickets".
func TestTLSTicketKeysFile(t *testing.T) {
	ca := newTestCA(t, "lb test CA")
	dir := t.TempDir()
	c, k := ca.issue(t, "x.test", []string{"x.test"}, false, false)
	crt := writeFile(t, dir, "x.pem", c, k)
	keyFile := func(name string) string {
		var lines []byte
		for i := 0; i < 3; i++ {
			b := make([]byte, 48)
			if _, err := rand.Read(b); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, base64.StdEncoding.EncodeToString(b)+"\n"...)
		}
		return writeFile(t, dir, name, lines)
	}
	keys, other := keyFile("keys"), keyFile("other")
	p1, p2, p3, p4 := freePort(t), freePort(t), freePort(t), freePort(t)
	// No session cache: with it, the no-tls-tickets line resumes from it
	// (TestTLSSessionCacheAsHAProxy).
	cfg := writeConfig(t, fmt.Sprintf(`
global
    tune.ssl.cachesize 0
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind 127.0.0.1:%d ssl crt %s tls-ticket-keys %s
    bind 127.0.0.1:%d ssl crt %s tls-ticket-keys %s
    bind 127.0.0.1:%d ssl crt %s tls-ticket-keys %s
    bind 127.0.0.1:%d ssl crt %s no-tls-tickets
    http-request return status 200 content-type text/plain string ok
`, p1, crt, keys, p2, crt, keys, p3, crt, other, p4, crt))
	startLB(t, "-db", "-f", cfg)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		resumes := func(first, then int) bool {
			cc := &tls.Config{InsecureSkipVerify: true, ServerName: "x.test", MaxVersion: v,
				ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			if _, _, _, err := tlsGet(t, fmt.Sprintf("127.0.0.1:%d", first), cc, "/"); err != nil {
				t.Fatal(err)
			}
			_, _, cs, err := tlsGet(t, fmt.Sprintf("127.0.0.1:%d", then), cc, "/")
			if err != nil {
				t.Fatal(err)
			}
			return cs.DidResume
		}
		if !resumes(p1, p2) {
			t.Errorf("TLS %x: a session of one listener did not resume on another with the same keys file", v)
		}
		if resumes(p1, p3) {
			t.Errorf("TLS %x: a session resumed on a listener with other keys", v)
		}
		if resumes(p4, p4) {
			t.Errorf("TLS %x: a session resumed on a listener with no-tls-tickets", v)
		}
	}
}

// waitLineWith waits for a line of out containing sub and returns it.
func waitLineWith(t *testing.T, out *outFile, sub string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.Contains(l, sub) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line with %q; output:\n%s", sub, out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a log: there is no other signal
	}
}

// TestTLSKeyTypeChoice: with an RSA and an ECDSA certificate for the same name (two crt
// lines, names in the CN only), a client that supports ECDSA gets the ECDSA one and a client
// that supports RSA only gets the RSA one, on lb as on HAProxy.
func TestTLSKeyTypeChoice(t *testing.T) {
	ca := newTestCA(t, "lb test CA")
	dir := t.TempDir()
	rc, rk := ca.issue(t, "multi.test", nil, false, true)
	ec, ek := ca.issue(t, "multi.test", nil, false, false)
	rsaFile := writeFile(t, dir, "rsa.pem", rc, rk)
	ecFile := writeFile(t, dir, "ecdsa.pem", ec, ek)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind %s ssl crt %s crt %s
    http-request return status 200 content-type text/plain string ok
`, addr, rsaFile, ecFile))
	checkLB(t, cfg)
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		keyOf := func(cc *tls.Config) string {
			cc.InsecureSkipVerify, cc.ServerName = true, "multi.test"
			_, _, cs, err := tlsGet(t, addr, cc, "/")
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("%T", cs.PeerCertificates[0].PublicKey)
		}
		if k := keyOf(&tls.Config{}); k != "*ecdsa.PublicKey" {
			t.Errorf("a client supporting ECDSA got %s", k)
		}
		rsaOnly := &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}
		if k := keyOf(rsaOnly); k != "*rsa.PublicKey" {
			t.Errorf("an RSA-only client got %s", k)
		}
	})
}

// TestTLSLogVars: %ft, %sslv and %sslc, and the ssl_fc fetches in a log-format, print what
// HAProxy prints for the same handshake.
func TestTLSLogVars(t *testing.T) {
	ca := newTestCA(t, "lb test CA")
	dir := t.TempDir()
	c, k := ca.issue(t, "x.test", []string{"x.test"}, false, false)
	crt := writeFile(t, dir, "x.pem", c, k)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, fmt.Sprintf(`
global
    log stdout format raw local0
defaults
    mode http
    log global
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind %s ssl crt %s
    log-format "line %%ft %%sslv %%sslc %%[ssl_fc] %%[ssl_fc_protocol] %%[ssl_fc_cipher] %%[ssl_fc_sni] %%[ssl_fc_has_sni] %%[ssl_c_used]"
    http-request return status 200 content-type text/plain string ok
`, addr, crt))
	checkLB(t, cfg)
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		cc := &tls.Config{InsecureSkipVerify: true, ServerName: "x.test", MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
		if _, _, _, err := tlsGet(t, addr, cc, "/"); err != nil {
			t.Fatal(err)
		}
		got := waitLineWith(t, out, "line ")
		want := "line fe~ TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256 1 TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256 x.test 1 0"
		if got != want {
			t.Errorf("log line\n got %q\nwant %q", got, want)
		}
	})
}

// TestTLSRedirectScheme: the usual "redirect scheme https unless { ssl_fc }" sends a plain
// request to https and serves a TLS one, on lb as on HAProxy.
func TestTLSRedirectScheme(t *testing.T) {
	ca := newTestCA(t, "lb test CA")
	dir := t.TempDir()
	c, k := ca.issue(t, "x.test", []string{"x.test"}, false, false)
	crt := writeFile(t, dir, "x.pem", c, k)
	plain, secure := freePort(t), freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind 127.0.0.1:%d
    bind 127.0.0.1:%d ssl crt %s
    http-request redirect scheme https code 301 unless { ssl_fc }
    http-request return status 200 content-type text/plain string secure
`, plain, secure, crt))
	checkLB(t, cfg)
	onLBAndHAProxy(t, cfg, fmt.Sprintf("127.0.0.1:%d", plain), func(t *testing.T, out *outFile) {
		hc := dialHTTP(t, fmt.Sprintf("127.0.0.1:%d", plain))
		hc.send("GET /a?b HTTP/1.1\r\nHost: x.test\r\n\r\n")
		head, _ := hc.response()
		if f := respFields(head); !strings.HasPrefix(head, "HTTP/1.1 301") || len(f["location"]) != 1 || f["location"][0] != "https://x.test/a?b" {
			t.Errorf("plain request: %q", head)
		}
		code, body, _, err := tlsGet(t, fmt.Sprintf("127.0.0.1:%d", secure), &tls.Config{InsecureSkipVerify: true}, "/a")
		if err != nil || code != 200 || body != "secure" {
			t.Errorf("TLS request: %d %q %v", code, body, err)
		}
	})
}

// TestTLSKeepAliveParked: a TLS keep-alive client that stays silent between two requests
// (parked on its socket, with no goroutine) is served its next request, and the soft stop
// closes it at once.
func TestTLSKeepAliveParked(t *testing.T) {
	ca := newTestCA(t, "lb test CA")
	dir := t.TempDir()
	c, k := ca.issue(t, "x.test", []string{"x.test"}, false, false)
	crt := writeFile(t, dir, "x.pem", c, k)
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode http
    timeout client 30s
    timeout server 5s
    timeout connect 2s
    timeout http-keep-alive 30s
frontend fe
    bind 127.0.0.1:%d ssl crt %s
    http-request return status 200 content-type text/plain string ok
`, port, crt))
	checkLB(t, cfg)
	p := startLB(t, "-db", "-f", cfg)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		tc, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{InsecureSkipVerify: true, MaxVersion: v})
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(tc)
		for i := 0; i < 3; i++ {
			fmt.Fprintf(tc, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("TLS %x request %d: %v", v, i, err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(body) != "ok" {
				t.Fatalf("TLS %x request %d: %d %q", v, i, resp.StatusCode, body)
			}
			// Silent long enough to be parked (lb waits 50 ms on the goroutine first).
			time.Sleep(150 * time.Millisecond)
		}
		if v == tls.VersionTLS13 {
			p.signal(syscall.SIGUSR1)
			start := time.Now()
			if _, err := br.ReadByte(); err == nil {
				t.Error("the soft stop sent data to an idle TLS client")
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("the soft stop closed an idle TLS client after %v", d)
			}
		}
	}
	if code := p.wait(5 * time.Second); code != 0 {
		t.Errorf("exit code %d after the soft stop", code)
	}
}
