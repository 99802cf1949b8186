package loopback

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// httpCheckServer answers every request with the status in code.
func httpCheckServer(t *testing.T, code *atomic.Int32) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				r := bufio.NewReader(c)
				for {
					l, err := r.ReadString('\n')
					if err != nil || l == "\r\n" {
						break
					}
				}
				fmt.Fprintf(c, "HTTP/1.0 %d X\r\nContent-Length: 0\r\n\r\n", code.Load())
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln
}

// TestHTTPCheckDisableOn404: with http-check disable-on-404, a server whose check answers
// 404 stays UP but is stopping: it gets no new load-balanced connection, until its check
// answers 200 again. option log-health-checks logs the results that change something.
func TestHTTPCheckDisableOn404(t *testing.T) {
	a, b := startNameServer(t, "a"), startNameServer(t, "b")
	var code atomic.Int32
	code.Store(200)
	chk := httpCheckServer(t, &code)
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 2s
listen app
    bind 127.0.0.1:%d
    option httpchk GET /health
    http-check disable-on-404
    option log-health-checks
    server a %s check port %d inter 100ms
    server b %s
`, port, a.addr(), chk.Addr().(*net.TCPAddr).Port, b.addr()))
	p := startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	code.Store(404)
	p.waitOutput("Server app/a is stopping", 3*time.Second)
	p.waitOutput("Health check for server app/a conditionally succeeded, reason: Layer7 check conditionally passed, code: 404", time.Second)
	before := a.count()
	for i := range 6 {
		if n, err := askName(addr); err != nil || n != "b" {
			t.Fatalf("connection %d while a is stopping went to %q (%v); want b", i, n, err)
		}
	}
	if got := a.count(); got != before {
		t.Errorf("a got %d new connections while stopping; want none", got-before)
	}
	if out := p.out.String(); strings.Contains(out, "app/a is DOWN") {
		t.Errorf("a went DOWN on 404:\n%s", out)
	}
	code.Store(200)
	p.waitOutput("Server app/a is UP", 3*time.Second)
	got := map[string]int{}
	for range 4 {
		n, err := askName(addr)
		if err != nil {
			t.Fatal(err)
		}
		got[n]++
	}
	if got["a"] == 0 {
		t.Errorf("after UP: %v; want a back in the rotation", got)
	}
}

// TestLogHealthChecks: option log-health-checks logs each check result that changes the
// health or the status, in HAProxy's words, and the state change without its reason.
func TestLogHealthChecks(t *testing.T) {
	s := startNameServer(t, "s")
	dead := refusingPort(t)
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 2s
listen app
    bind 127.0.0.1:%d
    option log-health-checks
    server a 127.0.0.1:%d check inter 100ms
    server b %s check inter 100ms backup
`, port, dead, s.addr()))
	p := startLB(t, "-db", "-f", cfg)
	p.waitOutput(`Health check for server app/a failed, reason: Layer4 connection problem, info: "Connection refused", check duration: `, 3*time.Second)
	p.waitOutput("Server app/a is DOWN. 0 active and 1 backup servers left.", time.Second)
	p.waitOutput("Health check for backup server app/b succeeded, reason: Layer4 check passed", 3*time.Second)
	if out := p.out.String(); strings.Count(out, "Health check for backup server app/b") != 1 {
		t.Errorf("steady results of b are logged too:\n%s", out)
	}
}

// TestCheckSendProxy: check-send-proxy sends a PROXY header at the start of each check,
// v2 (the LOCAL command) for a send-proxy-v2 server, even on its check port.
func TestCheckSendProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	heads := make(chan []byte, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				b := make([]byte, 16)
				if _, err := io.ReadFull(c, b); err == nil {
					select {
					case heads <- b:
					default:
					}
				}
			}()
		}
	}()
	s := startNameServer(t, "s")
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 1s
listen app
    bind 127.0.0.1:%d
    option tcp-check
    tcp-check connect
    tcp-check send x
    server a %s check port %d inter 100ms send-proxy-v2 check-send-proxy
`, port, s.addr(), ln.Addr().(*net.TCPAddr).Port))
	startLB(t, "-db", "-f", cfg)
	want := []byte("\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00")
	select {
	case got := <-heads:
		if string(got) != string(want) {
			t.Errorf("check began with %q; want the PROXY v2 LOCAL header %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no check connection")
	}
}
