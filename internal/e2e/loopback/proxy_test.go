package loopback

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"lb/internal/proxy"
)

// TestRoundRobinOrder proves the round-robin order across 4 servers (issue 3).
func TestRoundRobinOrder(t *testing.T) {
	var srvs []*nameServer
	var lines []string
	for i := 1; i <= 4; i++ {
		s := startNameServer(t, fmt.Sprintf("s%d", i))
		srvs = append(srvs, s)
		lines = append(lines, fmt.Sprintf("    server s%d %s", i, s.addr()))
	}
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen rr
    bind 127.0.0.1:%d
    balance roundrobin
%s
`, port, strings.Join(lines, "\n")))
	startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var got []string
	for i := 0; i < 8; i++ {
		name, err := askName(addr)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, name)
	}
	want := "s1 s2 s3 s4 s1 s2 s3 s4"
	if g := strings.Join(got, " "); g != want {
		t.Errorf("order = %q; want %q", g, want)
	}
}

// TestHealthDownUpAndBackup: a server killed mid-test is marked DOWN within inter × fall and
// gets no new connections, comes back after rise; when every active server is down, the
// backup takes over without a failed connection (issue 3).
func TestHealthDownUpAndBackup(t *testing.T) {
	a := startNameServer(t, "a")
	bk := startNameServer(t, "backup")
	aAddr := a.addr()
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
global
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen app
    bind 127.0.0.1:%d
    server a %s check inter 200ms fall 2 rise 2
    server bk %s backup
`, port, aAddr, bk.addr()))
	p := startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if n, err := askName(addr); err != nil || n != "a" {
		t.Fatalf("first connection went to %q (%v); want a", n, err)
	}
	// Kill a: close its listener. inter 200ms × fall 2 = 400ms, plus check timeouts.
	killed := time.Now()
	a.ln.Close()
	p.waitOutput("Server app/a is DOWN", 3*time.Second)
	if d := time.Since(killed); d > 2*time.Second {
		t.Errorf("DOWN after %s; want within inter × fall (+ slack)", d)
	}
	for i := 0; i < 5; i++ {
		n, err := askName(addr)
		if err != nil {
			t.Fatalf("connection %d while a is down: %v", i, err)
		}
		if n != "backup" {
			t.Fatalf("connection %d went to %q; want backup", i, n)
		}
	}
	// Bring a back on the same address: UP after rise successful checks.
	ln, err := net.Listen("tcp", aAddr)
	if err != nil {
		t.Skipf("cannot rebind %s: %v", aAddr, err)
	}
	a2 := &nameServer{name: "a", ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "a\n")
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	p.waitOutput("Server app/a is UP", 3*time.Second)
	if n, err := askName(addr); err != nil || n != a2.name {
		t.Errorf("after UP, connection went to %q (%v); want a", n, err)
	}
}

// TestHalfCloseFullResponse: a client that half-closes still gets the full response.
func TestHalfCloseFullResponse(t *testing.T) {
	// The server reads until EOF, then sends 1 MiB back.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	const size = 1 << 20
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				n, _ := io.Copy(io.Discard, c)
				_, _ = c.Write(bytes.Repeat([]byte{'x'}, size))
				fmt.Fprintf(c, "\nread %d\n", n)
			}()
		}
	}()
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen hc
    bind 127.0.0.1:%d
    server s %s
`, port, ln.Addr()))
	startLB(t, "-db", "-f", cfg)
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "hello")
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	body, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read after half-close: %v (got %d bytes)", err, len(body))
	}
	if len(body) < size || !strings.HasSuffix(string(body), "\nread 5\n") {
		t.Errorf("got %d bytes ending %q; want %d bytes then \"read 5\"", len(body), body[max(0, len(body)-20):], size)
	}
}

// TestMaxconnQueueTimeout: with server maxconn 1, a second connection queues, and is closed
// after timeout queue when the first one does not end.
func TestMaxconnQueueTimeout(t *testing.T) {
	s := startNameServer(t, "s")
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    timeout queue 500ms
listen q
    bind 127.0.0.1:%d
    server s %s maxconn 1
`, port, s.addr()))
	startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if line, err := bufio.NewReader(first).ReadString('\n'); err != nil || line != "s\n" {
		t.Fatalf("first connection: %q, %v", line, err)
	}
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	start := time.Now()
	_ = second.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(second)
	waited := time.Since(start)
	if len(b) != 0 && string(b) == "s\n" {
		t.Fatalf("second connection reached the server while the first held its only slot")
	}
	if waited < 400*time.Millisecond || waited > 3*time.Second {
		t.Errorf("queued connection closed after %s (err %v); want about timeout queue (500ms)", waited, err)
	}
	if s.count() != 1 {
		t.Errorf("server saw %d connections; want 1", s.count())
	}
}

// TestProxyProtocol: PROXY v1 and v2 in (accept-proxy) carry the client's addresses through
// to send-proxy / send-proxy-v2 out.
func TestProxyProtocol(t *testing.T) {
	for _, tc := range []struct {
		name, in, out string
	}{
		{"v1 in, v1 out", "v1", "send-proxy"},
		{"v2 in, v2 out", "v2", "send-proxy-v2"},
		{"v1 in, v2 out", "v1", "send-proxy-v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdrs := make(chan proxy.ProxyHeader, 1)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				h, _, err := proxy.ReadProxyHeader(c)
				if err != nil {
					t.Errorf("server: reading PROXY header: %v", err)
				}
				hdrs <- h
				io.WriteString(c, "ok\n")
			}()
			port := freePort(t)
			cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen pp
    bind 127.0.0.1:%d accept-proxy
    server s %s %s
`, port, ln.Addr(), tc.out))
			startLB(t, "-db", "-f", cfg)
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var hdr []byte
			src := mustAddrPort("192.0.2.10:43210")
			dst := mustAddrPort("198.51.100.7:443")
			if tc.in == "v1" {
				hdr = proxy.AppendProxyV1(nil, src, dst)
			} else {
				hdr = proxy.AppendProxyV2(nil, src, dst)
			}
			c.Write(hdr)
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "ok\n" {
				t.Fatalf("reply %q, %v", line, err)
			}
			h := <-hdrs
			if h.Src.String() != src.String() || h.Dst.String() != dst.String() {
				t.Errorf("server got PROXY src=%s dst=%s; want %s %s", h.Src, h.Dst, src, dst)
			}
		})
	}
}

// TestMonitorURI: a mode http frontend with monitor-uri and no backend answers the monitor
// URI with 200 and anything else with 503, as the packaged default configuration needs.
func TestMonitorURI(t *testing.T) {
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend health
    mode http
    bind 127.0.0.1:%d name health
    monitor-uri /healthz
`, port))
	startLB(t, "-db", "-f", cfg)
	for _, tc := range []struct {
		path string
		want int
	}{{"/healthz", 200}, {"/", 503}, {"/healthz", 200}} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, tc.path))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s = %d %q; want %d", tc.path, resp.StatusCode, body, tc.want)
		}
	}
}
