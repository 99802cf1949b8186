package loopback

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The rules engine in mode tcp (issue 9), driven through the real binary: tcp-request
// connection/session/content rules, use_backend, use-server, tcp-response content.

// rulesDefaults are the defaults of every configuration below: tcplog lines on stdout, so a
// test can see what was logged and what was not.
const rulesDefaults = `
global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 2s
    timeout client 5s
    timeout server 5s
`

// dialFrom connects to addr from the local address src (any 127.0.0.0/8 address works on
// loopback).
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// nameFrom connects to addr from src, sends payload (if any) and returns the first line the
// server sent back; it then closes the connection, so that the session ends and is logged.
func nameFrom(t *testing.T, src, addr string, payload []byte) (string, error) {
	t.Helper()
	c := dialFrom(t, src, addr)
	defer c.Close()
	if len(payload) > 0 {
		if _, err := c.Write(payload); err != nil {
			return "", err
		}
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// readAllFrom reads until EOF or an error and returns what arrived.
func readAllFrom(c net.Conn) ([]byte, error) {
	var buf bytes.Buffer
	_, err := io.Copy(&buf, c)
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return buf.Bytes(), err
}

// clientHello returns the first TLS record a crypto/tls client sends for sni ("" sends no
// server_name extension).
func clientHello(t *testing.T, sni string) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer b.Close()
	go func() {
		c := tls.Client(a, &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
		_ = c.Handshake()
		a.Close()
	}()
	head := make([]byte, 5)
	if _, err := io.ReadFull(b, head); err != nil {
		t.Fatal(err)
	}
	n := int(head[3])<<8 | int(head[4])
	body := make([]byte, n)
	if _, err := io.ReadFull(b, body); err != nil {
		t.Fatal(err)
	}
	return append(head, body...)
}

// TestRulesConnectionReject: a client refused by "tcp-request connection reject" gets no
// byte from any server, is not logged and is counted; another client goes through.
func TestRulesConnectionReject(t *testing.T) {
	s := startNameServer(t, "s1")
	port := freePort(t)
	cfg := writeConfig(t, rulesDefaults+fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:%d
    acl banned src 127.0.0.2 10.0.0.0/8
    tcp-request connection reject if banned
    default_backend be
backend be
    server s1 %s
`, port, s.addr()))
	p := startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	c := dialFrom(t, "127.0.0.2", addr)
	got, _ := readAllFrom(c)
	if len(got) != 0 {
		t.Fatalf("rejected client received %q", got)
	}
	if n, err := nameFrom(t, "127.0.0.1", addr, nil); err != nil || n != "s1" {
		t.Fatalf("allowed client: %q, %v; want s1", n, err)
	}
	if s.count() != 1 {
		t.Errorf("server saw %d connections; want 1 (the rejected client must never reach it)", s.count())
	}
	p.waitOutput("fe be/s1", 5*time.Second)
	if strings.Contains(p.out.String(), "127.0.0.2:") {
		t.Errorf("a connection rejected by tcp-request connection was logged:\n%s", p.out.String())
	}
}

// TestRulesUseBackendDstPort: use_backend by the port the client connected to.
func TestRulesUseBackendDstPort(t *testing.T) {
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	p1, p2 := freePort(t), freePort(t)
	cfg := writeConfig(t, rulesDefaults+fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:%d
    bind 127.0.0.1:%d
    use_backend b2 if { dst_port %d }
    default_backend b1
backend b1
    server s1 %s
backend b2
    server s2 %s
`, p1, p2, p2, s1.addr(), s2.addr()))
	startLB(t, "-db", "-f", cfg)
	for i := 0; i < 2; i++ {
		if n, err := nameFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p1), nil); err != nil || n != "s1" {
			t.Fatalf("port %d: %q, %v; want s1", p1, n, err)
		}
		if n, err := nameFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p2), nil); err != nil || n != "s2" {
			t.Fatalf("port %d: %q, %v; want s2", p2, n, err)
		}
	}
}

// TestRulesUseBackendSrcFile: use_backend by the client's address, matched against a pattern
// file (addresses and networks, comments and blank lines).
func TestRulesUseBackendSrcFile(t *testing.T) {
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	port := freePort(t)
	dir := t.TempDir()
	pat := filepath.Join(dir, "internal.lst")
	if err := os.WriteFile(pat, []byte("# internal clients\n\n10.0.0.0/8\n127.0.0.2\n  127.0.0.64/26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, rulesDefaults+fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:%d
    acl internal src -f %s
    use_backend b2 if internal
    default_backend b1
backend b1
    server s1 %s
backend b2
    server s2 %s
`, port, pat, s1.addr(), s2.addr()))
	startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for src, want := range map[string]string{"127.0.0.1": "s1", "127.0.0.2": "s2", "127.0.0.3": "s1", "127.0.0.70": "s2", "127.0.0.130": "s1"} {
		if n, err := nameFrom(t, src, addr, nil); err != nil || n != want {
			t.Errorf("from %s: %q, %v; want %s", src, n, err, want)
		}
	}
}

// TestRulesUseBackendSNI: TLS passthrough routed by the SNI of a real ClientHello, waiting for
// it with inspect-delay; the default backend when no SNI matches or there is none; the
// ClientHello reaches the server byte for byte.
func TestRulesUseBackendSNI(t *testing.T) {
	a, b, def := startNameServer(t, "a"), startNameServer(t, "b"), startNameServer(t, "def")
	port := freePort(t)
	cfg := writeConfig(t, rulesDefaults+fmt.Sprintf(`
frontend tls
    bind 127.0.0.1:%d
    tcp-request inspect-delay 5s
    tcp-request content accept if { req_ssl_hello_type 1 }
    use_backend be_a if { req_ssl_sni -i a.example.com }
    use_backend be_b if { req.ssl_sni -m end .b.example }
    default_backend be_def
backend be_a
    server a %s
backend be_b
    server b %s
backend be_def
    server def %s
`, port, a.addr(), b.addr(), def.addr()))
	startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for _, tc := range []struct{ sni, want string }{
		{"A.Example.COM", "a"}, {"www.b.example", "b"}, {"c.example.com", "def"}, {"", "def"},
	} {
		hello := clientHello(t, tc.sni)
		c := dialFrom(t, "127.0.0.1", addr)
		// Split the hello in two writes: the rules must wait for the whole record.
		if _, err := c.Write(hello[:7]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // let the first part arrive alone (no signal exists for "not yet")
		if _, err := c.Write(hello[7:]); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		line, err := r.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != tc.want {
			t.Fatalf("sni %q: %q, %v; want %s", tc.sni, line, err, tc.want)
		}
		echo := make([]byte, len(hello))
		if _, err := io.ReadFull(r, echo); err != nil || !bytes.Equal(echo, hello) {
			t.Fatalf("sni %q: the server did not receive the ClientHello intact (%v)", tc.sni, err)
		}
	}
}

// TestRulesUseBackendVar: a variable set by a tcp-request content rule names the backend of a
// dynamic use_backend; no variable falls back to the default backend.
func TestRulesUseBackendVar(t *testing.T) {
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	port := freePort(t)
	cfg := writeConfig(t, rulesDefaults+fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:%d
    tcp-request content set-var(sess.route) str(pool_b) if { src 127.0.0.2 }
    use_backend %%[var(sess.route)] if { var(sess.route) -m found }
    default_backend pool_a
backend pool_a
    server s1 %s
backend pool_b
    server s2 %s
`, port, s1.addr(), s2.addr()))
	startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if n, err := nameFrom(t, "127.0.0.2", addr, nil); err != nil || n != "s2" {
		t.Errorf("from 127.0.0.2: %q, %v; want s2", n, err)
	}
	if n, err := nameFrom(t, "127.0.0.1", addr, nil); err != nil || n != "s1" {
		t.Errorf("from 127.0.0.1: %q, %v; want s1", n, err)
	}
}

// TestRulesInspectDelayExpiry: content rules wait for data up to inspect-delay, then decide
// on what they have: a client that says the word at once goes through at once; one that says
// too little is rejected when the delay expires, not before, logged "PR".
func TestRulesInspectDelayExpiry(t *testing.T) {
	s := startNameServer(t, "s1")
	port := freePort(t)
	const delay = 400 * time.Millisecond
	cfg := writeConfig(t, rulesDefaults+fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:%d
    tcp-request inspect-delay %dms
    tcp-request content accept if { req.payload(0,4) -m str PING }
    tcp-request content reject
    default_backend be
backend be
    server s1 %s
`, port, delay.Milliseconds(), s.addr()))
	p := startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	start := time.Now()
	if n, err := nameFrom(t, "127.0.0.1", addr, []byte("PING\n")); err != nil || n != "s1" {
		t.Fatalf("PING: %q, %v; want s1", n, err)
	}
	if el := time.Since(start); el >= delay {
		t.Errorf("a matching request waited %s: the rules must decide as soon as they can", el)
	}

	c := dialFrom(t, "127.0.0.2", addr)
	start = time.Now()
	if _, err := c.Write([]byte("PI")); err != nil {
		t.Fatal(err)
	}
	got, _ := readAllFrom(c)
	el := time.Since(start)
	if len(got) != 0 {
		t.Fatalf("rejected client received %q", got)
	}
	if el < delay-50*time.Millisecond || el > delay+3*time.Second {
		t.Errorf("rejected after %s; want about the inspect delay of %s", el, delay)
	}
	if s.count() != 1 {
		t.Errorf("server saw %d connections; want 1", s.count())
	}
	p.waitOutput("127.0.0.2:", 5*time.Second)
	for _, l := range strings.Split(p.out.String(), "\n") {
		if strings.Contains(l, "127.0.0.2:") && !strings.Contains(l, " PR ") {
			t.Errorf("content reject logged as %q; want termination state PR", l)
		}
	}
}

// TestRulesExpectProxy: "tcp-request connection expect-proxy layer4" reads a PROXY header from
// the clients it names only; the address it carries is what later rules see.
func TestRulesExpectProxy(t *testing.T) {
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	port := freePort(t)
	cfg := writeConfig(t, rulesDefaults+fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:%d
    tcp-request connection expect-proxy layer4 if { src 127.0.0.2 }
    use_backend b2 if { src 192.0.2.7 }
    default_backend b1
backend b1
    server s1 %s
backend b2
    server s2 %s
`, port, s1.addr(), s2.addr()))
	startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if n, err := nameFrom(t, "127.0.0.2", addr, []byte("PROXY TCP4 192.0.2.7 127.0.0.1 40000 80\r\n")); err != nil || n != "s2" {
		t.Errorf("with a PROXY header for 192.0.2.7: %q, %v; want s2", n, err)
	}
	// A client the rule does not name is not expected to send a header: its bytes are data.
	c := dialFrom(t, "127.0.0.1", addr)
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	if l, err := r.ReadString('\n'); err != nil || strings.TrimSpace(l) != "s1" {
		t.Fatalf("plain client: %q, %v; want s1", l, err)
	}
	if l, err := r.ReadString('\n'); err != nil || l != "hello\n" {
		t.Fatalf("plain client's data: %q, %v; want it echoed", l, err)
	}
}

// TestRulesUseServer: use-server pins matching clients to one server; the others are balanced.
func TestRulesUseServer(t *testing.T) {
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	port := freePort(t)
	cfg := writeConfig(t, rulesDefaults+fmt.Sprintf(`
listen app
    bind 127.0.0.1:%d
    balance roundrobin
    use-server s2 if { src 127.0.0.2 }
    server s1 %s
    server s2 %s
`, port, s1.addr(), s2.addr()))
	startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; i < 4; i++ {
		if n, err := nameFrom(t, "127.0.0.2", addr, nil); err != nil || n != "s2" {
			t.Fatalf("pinned client, try %d: %q, %v; want s2", i, n, err)
		}
	}
	var got []string
	for i := 0; i < 4; i++ {
		n, err := nameFrom(t, "127.0.0.1", addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if strings.Count(strings.Join(got, " "), "s1") != 2 {
		t.Errorf("balanced clients went to %v; want s1 and s2 in turn", got)
	}
}

// TestRulesTCPResponse: tcp-response content rules inspect the server's first bytes: a
// rejected response never reaches the client and is logged "PD"; an accepted one arrives
// whole.
func TestRulesTCPResponse(t *testing.T) {
	bad, good := startNameServer(t, "BAD banner"), startNameServer(t, "GOOD banner")
	p1, p2 := freePort(t), freePort(t)
	cfg := writeConfig(t, rulesDefaults+fmt.Sprintf(`
listen l_bad
    bind 127.0.0.1:%d
    tcp-response inspect-delay 2s
    tcp-response content reject if { res.payload(0,3) -m str BAD }
    server bad %s
listen l_good
    bind 127.0.0.1:%d
    tcp-response inspect-delay 2s
    tcp-response content reject if { res.payload(0,3) -m str BAD }
    server good %s
`, p1, bad.addr(), p2, good.addr()))
	p := startLB(t, "-db", "-f", cfg)
	c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p1))
	if got, _ := readAllFrom(c); len(got) != 0 {
		t.Errorf("client received %q from a rejected response", got)
	}
	if n, err := nameFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p2), nil); err != nil || n != "GOOD banner" {
		t.Errorf("accepted response: %q, %v", n, err)
	}
	p.waitOutput("l_bad l_bad/bad", 5*time.Second)
	for _, l := range strings.Split(p.out.String(), "\n") {
		if strings.Contains(l, "l_bad/bad") && !strings.Contains(l, " PD ") {
			t.Errorf("response reject logged as %q; want termination state PD", l)
		}
	}
}

// TestRulesCheckRefuses: what lb cannot do is refused by "lb -c" with the file and line, never
// accepted and ignored.
func TestRulesCheckRefuses(t *testing.T) {
	cfg := writeConfig(t, rulesDefaults+fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:%d
    acl rdp req.rdp_cookie_cnt gt 0
    tcp-request content reject if rdp
    default_backend be
backend be
    server s1 127.0.0.1:1
`, freePort(t)))
	out, err := exec.Command(lbBinary(t), "-c", "-f", cfg).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("lb -c: %v; want exit 1\n%s", err, out)
	}
	if want := cfg + ":"; !strings.Contains(string(out), want) || !strings.Contains(string(out), "not supported by lb yet") {
		t.Errorf("lb -c said:\n%s\nwant an alert naming %s<line> and 'not supported by lb yet'", out, cfg)
	}
}

// TestRulesHTTPModeL4: a mode http proxy applies its tcp-request rules before any HTTP
// processing: access control is never silently off.
func TestRulesHTTPModeL4(t *testing.T) {
	s := startHTTPServer(t, "s1", nil)
	port := freePort(t)
	cfg := writeConfig(t, rulesDefaults+fmt.Sprintf(`
frontend web
    mode http
    bind 127.0.0.1:%d
    acl white_list src 127.0.0.1
    tcp-request connection reject unless white_list
    default_backend be
backend be
    mode http
    server s1 %s
`, port, s.addr()))
	startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c := dialFrom(t, "127.0.0.2", addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if got, _ := readAllFrom(c); len(got) != 0 {
		t.Fatalf("client outside the white list received %q", got)
	}
	hc := dialHTTP(t, addr)
	hc.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if head, body := hc.response(); !strings.HasPrefix(head, "HTTP/1.1 200") || !strings.HasPrefix(body, "s1 GET /") {
		t.Fatalf("white-listed client: %q %q; want s1's 200", head, body)
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("server saw %d connections; want 1", n)
	}
}

// TestRulesAcceptStops: "accept" ends a rule set: a client accepted by a tcp-request
// connection rule is not rejected by a later one; tcp-request session rules see the PROXY
// header's address, accept or reject on it, and set variables later rules read.
func TestRulesAcceptStops(t *testing.T) {
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	port := freePort(t)
	cfg := writeConfig(t, rulesDefaults+fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:%d
    tcp-request connection accept if { src 127.0.0.3 }
    tcp-request connection reject if { src 127.0.0.3 } || { src 127.0.0.4 }
    tcp-request connection expect-proxy layer4 if { src 127.0.0.2 }
    tcp-request session set-var(sess.origin) src
    tcp-request session accept if { src 192.0.2.1 }
    tcp-request session reject if { src 192.0.2.0/24 }
    use_backend b2 if { var(sess.origin) -m ip 192.0.2.1 }
    default_backend b1
backend b1
    server s1 %s
backend b2
    server s2 %s
`, port, s1.addr(), s2.addr()))
	startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if n, err := nameFrom(t, "127.0.0.3", addr, nil); err != nil || n != "s1" {
		t.Errorf("connection accept: %q, %v; want s1 (a later reject must not run)", n, err)
	}
	c := dialFrom(t, "127.0.0.4", addr)
	if got, _ := readAllFrom(c); len(got) != 0 {
		t.Errorf("connection reject: received %q", got)
	}
	if n, err := nameFrom(t, "127.0.0.2", addr, []byte("PROXY TCP4 192.0.2.1 127.0.0.1 40000 80\r\n")); err != nil || n != "s2" {
		t.Errorf("session accept of 192.0.2.1: %q, %v; want s2", n, err)
	}
	c = dialFrom(t, "127.0.0.2", addr)
	if _, err := c.Write([]byte("PROXY TCP4 192.0.2.9 127.0.0.1 40000 80\r\n")); err != nil {
		t.Fatal(err)
	}
	if got, _ := readAllFrom(c); len(got) != 0 {
		t.Errorf("session reject of 192.0.2.9: received %q", got)
	}
	if got := s1.count() + s2.count(); got != 2 {
		t.Errorf("servers saw %d connections; want 2", got)
	}
}

// TestRulesVars: set-var and unset-var at each step (connection, session, content), read by
// dynamic use_backend rules.
func TestRulesVars(t *testing.T) {
	var srvs [5]*nameServer
	var backends strings.Builder
	for i := 1; i <= 4; i++ {
		srvs[i] = startNameServer(t, fmt.Sprintf("s%d", i))
		fmt.Fprintf(&backends, "backend b%d\n    server s%d %s\n", i, i, srvs[i].addr())
	}
	port := freePort(t)
	cfg := writeConfig(t, rulesDefaults+fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:%d
    tcp-request connection set-var(sess.a) str(b2)
    tcp-request connection unset-var(sess.a) if { src 127.0.0.3 }
    tcp-request session set-var(sess.s) str(b3) if { src 127.0.0.4 }
    tcp-request session unset-var(sess.a) if { src 127.0.0.4 }
    tcp-request content set-var(txn.c) str(b4) if { src 127.0.0.5 }
    tcp-request content unset-var(sess.a) if { src 127.0.0.5 }
    use_backend %%[var(sess.a)] if { var(sess.a) -m found }
    use_backend %%[var(sess.s)] if { var(sess.s) -m found }
    use_backend %%[var(txn.c)] if { var(txn.c) -m found }
    default_backend b1
%s`, port, backends.String()))
	startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for src, want := range map[string]string{"127.0.0.1": "s2", "127.0.0.3": "s1", "127.0.0.4": "s3", "127.0.0.5": "s4"} {
		if n, err := nameFrom(t, src, addr, nil); err != nil || n != want {
			t.Errorf("from %s: %q, %v; want %s", src, n, err, want)
		}
	}
}

// TestRulesSetDst: set-dst and set-dst-port change where a server without an address or port
// connects: 0.0.0.0 takes the (new) destination address, no port the (new) destination port.
func TestRulesSetDst(t *testing.T) {
	on3 := startNameServerOn(t, "on3", "127.0.0.3:0")
	_, p3, _ := net.SplitHostPort(on3.addr())
	s2 := startNameServer(t, "s2")
	_, p2, _ := net.SplitHostPort(s2.addr())
	l1, l2 := freePort(t), freePort(t)
	cfg := writeConfig(t, rulesDefaults+fmt.Sprintf(`
listen by_addr
    bind 127.0.0.1:%d
    tcp-request content set-dst ipv4(127.0.0.3)
    server any 0.0.0.0:%s
listen by_port
    bind 127.0.0.1:%d
    tcp-request content set-dst-port int(%s)
    server here 127.0.0.1
`, l1, p3, l2, p2))
	startLB(t, "-db", "-f", cfg)
	if n, err := nameFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", l1), nil); err != nil || n != "on3" {
		t.Errorf("set-dst: %q, %v; want on3", n, err)
	}
	if n, err := nameFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", l2), nil); err != nil || n != "s2" {
		t.Errorf("set-dst-port: %q, %v; want s2", n, err)
	}
}

// TestRulesResponseClose: tcp-response content rules set and unset a variable on the server's
// first bytes; "close" ends the exchange once they reached the client, although the server
// keeps its side open; "accept" lets the other exchange go on.
func TestRulesResponseClose(t *testing.T) {
	bye, stay := startNameServer(t, "BYE now"), startNameServer(t, "BYE-BUT stay")
	p1, p2 := freePort(t), freePort(t)
	rules := `
    tcp-response inspect-delay 2s
    tcp-response content set-var(res.bye) str(yes) if { res.payload(0,3) -m str BYE }
    tcp-response content unset-var(res.bye) if { res.payload(0,7) -m str BYE-BUT }
    tcp-response content close if { var(res.bye) -m found }
    tcp-response content accept`
	cfg := writeConfig(t, rulesDefaults+fmt.Sprintf(`
listen l_bye
    bind 127.0.0.1:%d%s
    server bye %s
listen l_stay
    bind 127.0.0.1:%d%s
    server stay %s
`, p1, rules, bye.addr(), p2, rules, stay.addr()))
	startLB(t, "-db", "-f", cfg)
	c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p1))
	got, err := readAllFrom(c)
	if string(got) != "BYE now\n" || err != nil {
		t.Errorf("close: client got %q, %v; want the server's line, then the end", got, err)
	}
	c = dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p2))
	r := bufio.NewReader(c)
	if l, err := r.ReadString('\n'); err != nil || l != "BYE-BUT stay\n" {
		t.Fatalf("accept: %q, %v", l, err)
	}
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	if l, err := r.ReadString('\n'); err != nil || l != "ping\n" {
		t.Errorf("accept: the exchange did not go on: %q, %v", l, err)
	}
}

// TestRulesForcePersist: use-server reaches a server in maintenance only when force-persist
// matched; an ignore-persist rule matching first cancels it; otherwise the balancer chooses.
func TestRulesForcePersist(t *testing.T) {
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	port := freePort(t)
	cfg := writeConfig(t, rulesDefaults+fmt.Sprintf(`
listen app
    bind 127.0.0.1:%d
    balance roundrobin
    ignore-persist if { src 127.0.0.3 }
    force-persist if { src 127.0.0.2 } || { src 127.0.0.3 }
    use-server s2 if { src 127.0.0.2 } || { src 127.0.0.3 } || { src 127.0.0.4 }
    server s1 %s
    server s2 %s disabled
`, port, s1.addr(), s2.addr()))
	startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for src, want := range map[string]string{"127.0.0.2": "s2", "127.0.0.3": "s1", "127.0.0.4": "s1"} {
		if n, err := nameFrom(t, src, addr, nil); err != nil || n != want {
			t.Errorf("from %s: %q, %v; want %s", src, n, err, want)
		}
	}
}

// TestRulesBufsize: content rules see at most tune.bufsize less HAProxy's rewrite reserve
// (1024 bytes): with 8192, 7168 bytes. A full buffer makes the data final at once, without
// waiting for the inspect delay.
func TestRulesBufsize(t *testing.T) {
	s := startNameServer(t, "s1")
	p1, p2 := freePort(t), freePort(t)
	rules := `
    tcp-request inspect-delay 5s
    tcp-request content accept if { req.len gt 100000 }`
	cfg := writeConfig(t, strings.Replace(rulesDefaults, "global\n", "global\n    tune.bufsize 8192\n", 1)+fmt.Sprintf(`
listen full_is_7168
    bind 127.0.0.1:%d%s
    tcp-request content reject if { req.len ge 7169 }
    server s1 %s
listen reject_at_7168
    bind 127.0.0.1:%d%s
    tcp-request content reject if { req.len ge 7168 }
    server s1 %s
`, p1, rules, s.addr(), p2, rules, s.addr()))
	startLB(t, "-db", "-f", cfg)
	payload := bytes.Repeat([]byte("x"), 20000)
	start := time.Now()
	if n, err := nameFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p1), payload); err != nil || n != "s1" {
		t.Errorf("7168 bytes inspected: %q, %v; want s1", n, err)
	}
	if el := time.Since(start); el > 4*time.Second {
		t.Errorf("a full buffer waited %s for the inspect delay", el)
	}
	c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p2))
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
	if got, _ := readAllFrom(c); len(got) != 0 {
		t.Errorf("rejected at 7168 bytes: received %q", got)
	}
}
