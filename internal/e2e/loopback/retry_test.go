package loopback

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// retryServer answers each request read on a connection, the first
// request it ever gets with first(conn) and the others with a 200; it
// counts the requests.
func retryServer(t *testing.T, n *atomic.Int32, first func(net.Conn)) string {
	return startRawServer(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			for {
				h, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if h == "\r\n" {
					break
				}
			}
			_ = line
			if n.Add(1) == 1 {
				first(c)
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
			return
		}
	})
}

// waitLog waits for a log line of out containing want.
func waitLog(t *testing.T, out *outFile, want string) {
	t.Helper()
	for i := 0; i < 250; i++ {
		if strings.Contains(out.String(), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("no log line with %q in\n%s", want, out)
}

// waitLogRe waits for a log line of out matching re.
func waitLogRe(t *testing.T, out *outFile, re *regexp.Regexp) {
	t.Helper()
	for i := 0; i < 250; i++ {
		if re.MatchString(out.String()) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("no log line matching %q in\n%s", re, out)
}

// TestRetryOn: with "retry-on", a listed failure (a 503, a server closing
// without answering) is sent again on a new connection, the client sees
// only the last response, and %rc counts the retry; without it (HAProxy's
// default, conn-failure), the failure goes to the client (lb and haproxy).
func TestRetryOn(t *testing.T) {
	// The 503 says it closes: haproxy would otherwise try the closed
	// connection again and count one retry more, or not, as it sees the
	// close in time.
	answer503 := func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy")
	}
	closeNow := func(net.Conn) {}
	cases := []struct {
		name, retryOn string
		first         func(net.Conn)
		status        string
		requests      int32
		rc            string
	}{
		{"503", "retry-on 503", answer503, "HTTP/1.1 200 OK", 2, "rc=1"},
		{"empty-response", "retry-on empty-response", closeNow, "HTTP/1.1 200 OK", 2, "rc=1"},
		{"all-retryable-errors", "retry-on all-retryable-errors", answer503, "HTTP/1.1 200 OK", 2, "rc=1"},
		{"503 not listed", "retry-on 404 conn-failure", answer503, "HTTP/1.1 503 Busy", 1, "rc=0"},
		{"default 503", "", answer503, "HTTP/1.1 503 Busy", 1, "rc=0"},
		{"default empty", "", closeNow, "HTTP/1.1 502 Bad Gateway", 1, "rc=0"},
		{"none", "retry-on none", answer503, "HTTP/1.1 503 Busy", 1, "rc=0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := retryServer(t, &n, tc.first)
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    log-format "st=%%ST rc=%%rc ts=%%ts"
    default_backend be
backend be
    retries 3
    %s
    server s1 %s
`, addr, tc.retryOn, srv))
			onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
				n.Store(0)
				c := dialHTTP(t, addr)
				c.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
				head, _ := c.response()
				if got := respStatusLine(head); got != tc.status {
					t.Errorf("status %q, want %q", got, tc.status)
				}
				if got := n.Load(); got != tc.requests {
					t.Errorf("the server got %d requests, want %d", got, tc.requests)
				}
				waitLog(t, out, tc.rc+" ")
			})
		})
	}
}

// TestRetryOnExhausted: a server that always answers 503 gets the request
// 1+retries times and the client the last 503, %rc at retries.
func TestRetryOnExhausted(t *testing.T) {
	var n atomic.Int32
	srv := startRawServer(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			h, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if h == "\r\n" {
				break
			}
		}
		n.Add(1)
		io.WriteString(c, "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy")
	})
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    log-format "st=%%ST rc=%%rc"
    default_backend be
backend be
    retries 2
    retry-on 503
    server s1 %s
`, addr, srv))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		n.Store(0)
		c := dialHTTP(t, addr)
		c.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
		head, _ := c.response()
		if got := respStatusLine(head); got != "HTTP/1.1 503 Busy" {
			t.Errorf("status %q", got)
		}
		if got := n.Load(); got != 3 {
			t.Errorf("the server got %d requests, want 3", got)
		}
		waitLog(t, out, "st=503 rc=2")
	})
}

// TestRedispatchInterval: "option redispatch <interval>" picks which retry of a request
// bound to its server by a persistence cookie goes to another server: the last by default,
// every one with 1, the one before the last with -2. Without persistence, a balancing turn
// (more than one server, no hash) goes elsewhere at the first retry whatever the interval, as
// in HAProxy. The cookie's server refuses; the log line says which server served and after
// how many retries, the same as haproxy's.
func TestRedispatchInterval(t *testing.T) {
	good := startHTTPServer(t, "good", nil)
	dead := refusingPort(t)
	cases := []struct{ opt, cookie, want string }{
		{"option redispatch", "SRV=d", "s=good rc=+3"},
		{"option redispatch 1", "SRV=d", "s=good rc=+1"},
		{"option redispatch -2", "SRV=d", "s=good rc=+2"},
		{"option redispatch -2", "", "s=good rc=+1"},
	}
	for _, tc := range cases {
		t.Run(tc.opt+" "+tc.cookie, func(t *testing.T) {
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			// balance first: the refusing server first, so that a request without the cookie
			// meets it too, and a redispatch from it may only go to the other.
			cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    log-format "s=%%s rc=%%rc"
    default_backend be
backend be
    balance first
    cookie SRV insert indirect
    timeout connect 100ms
    retries 3
    %s
    server dead 127.0.0.1:%d cookie d
    server good %s cookie g
`, addr, tc.opt, dead, good.addr()))
			var lines []string
			onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
				c := dialHTTP(t, addr)
				req := "GET / HTTP/1.1\r\nHost: h\r\n"
				if tc.cookie != "" {
					req += "Cookie: " + tc.cookie + "\r\n"
				}
				c.send(req + "\r\n")
				if head, _ := c.response(); respStatusLine(head) != "HTTP/1.1 200 OK" {
					t.Errorf("answer %q", head)
				}
				waitLog(t, out, "s=good ")
				for _, l := range strings.Split(out.String(), "\n") {
					if strings.HasPrefix(l, "s=good ") {
						lines = append(lines, l)
						break
					}
				}
			})
			for i, l := range lines {
				if l != tc.want {
					t.Errorf("%s logged %q, want %q", []string{"lb", "haproxy"}[i], l, tc.want)
				}
			}
		})
	}
}
