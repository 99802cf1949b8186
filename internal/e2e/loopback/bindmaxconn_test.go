package loopback

import (
	"fmt"
	"testing"
	"time"
)

// TestBindMaxconnAsHAProxy: a bind line's maxconn holds that listener's further
// clients in its backlog while as many connections of its own are served, and lets the
// next one in when one ends; the frontend's other listeners accept meanwhile. In mode
// tcp (the event loops) and mode http (goroutines), on lb and haproxy alike.
func TestBindMaxconnAsHAProxy(t *testing.T) {
	s1 := startNameServer(t, "s1")
	app := startHTTPServer(t, "app", nil)
	var a [3]string
	for i := range a {
		a[i] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	}
	cfg := writeConfig(t, fmt.Sprintf(`defaults
    timeout connect 1s
    timeout client 10s
    timeout server 10s
frontend fe
    mode tcp
    maxconn 10
    bind %[1]s maxconn 2
    bind %[2]s
    default_backend be
backend be
    mode tcp
    server s1 %[4]s
frontend web
    mode http
    bind %[3]s maxconn 1
    default_backend app
backend app
    mode http
    server app %[5]s
`, a[0], a[1], a[2], s1.addr(), app.addr()))
	onLBAndHAProxy(t, cfg, a[1], func(t *testing.T, _ *outFile) {
		c1 := dialMaxconn(t, a[0])
		c1.served(t, "first on the limited listener")
		c2 := dialMaxconn(t, a[0])
		c2.served(t, "second on the limited listener")
		c3 := dialMaxconn(t, a[0])
		c3.waiting(t, "third on the limited listener (maxconn 2)")
		o := dialMaxconn(t, a[1])
		o.served(t, "the other listener, while the first is at its limit")
		c1.c.Close()
		c3.served(t, "third on the limited listener, one closed")

		// mode http: the second client's request waits for the first client to leave.
		h1 := dialHTTP(t, a[2])
		h1.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
		if head, _ := h1.response(); !httpOK(head) {
			t.Fatalf("first http client: %q", head)
		}
		h2 := dialHTTP(t, a[2])
		h2.send("GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
		_ = h2.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := h2.br.Peek(1); err == nil {
			t.Fatalf("second http client answered while the first holds the listener's only slot")
		}
		_ = h2.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		h1.c.Close()
		if head, _ := h2.response(); !httpOK(head) {
			t.Fatalf("second http client, the first gone: %q", head)
		}
	})
}

func httpOK(head string) bool { return len(head) > 12 && head[9:12] == "200" }
