package loopback

import (
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Stick tables as real configurations use them for rate limiting and abuse control,
// each run through lb and HAProxy 2.6 with the same traffic and the same expectations.

// stickStatus sends one request on a new connection and returns the response's status
// line.
func stickStatus(t *testing.T, addr, path string) string {
	t.Helper()
	c := dialHTTP(t, addr)
	c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	head, _ := c.response()
	return respStatusLine(head)
}

// maskTable hides what differs between two processes in "show table" replies: entry
// addresses and the milliseconds before expiry.
var maskTable = regexp.MustCompile(`0x[0-9a-f]+:|exp=[0-9]+`)

func maskTableReply(s string) string {
	return maskTable.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "exp=") {
			return "exp=<ms>"
		}
		return "<ptr>:"
	})
}

// TestStickTableRateLimit: "http-request track-sc0 src" with "deny deny_status 429 if {
// sc_http_req_rate(0) gt 3 }": the fourth request within the period is denied, and the
// denials count as errors; gpc0 marks a client (sc-inc-gpc0) and blocks it afterwards;
// the table reads the same on the runtime API (show, set, clear table) in both.
func TestStickTableRateLimit(t *testing.T) {
	dir := t.TempDir()
	port, port2 := freePort(t), freePort(t)
	addr, addr2 := fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", port2)
	sock := dir + "/admin.sock"
	cfg := writeConfig(t, stickHead("http", sock, addr)+fmt.Sprintf(`
    stick-table type ip size 100 expire 30s store http_req_rate(10s),http_req_cnt,http_err_cnt,conn_cnt,conn_cur
    http-request track-sc0 src
    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 3 }
    http-request return status 200 content-type text/plain string ok
frontend marks
    bind %s
    http-request track-sc1 src table abuse
    http-request sc-inc-gpc0(1) if { path /bad }
    http-request deny if { sc1_get_gpc0 gt 0 }
    http-request return status 200 content-type text/plain lf-string "cnt=%%[table_cnt(abuse)] avl=%%[table_avl(abuse)] gpc0=%%[src,table_gpc0(abuse)]"
backend abuse
    stick-table type ip size 10 store gpc0,gpt0
`, addr2))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		var got []string
		for i := 0; i < 5; i++ {
			got = append(got, stickStatus(t, addr, "/"))
		}
		want := []string{"HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK",
			"HTTP/1.1 429 Too Many Requests", "HTTP/1.1 429 Too Many Requests"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("statuses = %q; want %q", got, want)
		}
		wantShow := "# table: fe, type: ip, size:100, used:1\n" +
			"<ptr>: key=127.0.0.1 use=0 exp=<ms> conn_cnt=5 conn_cur=0 http_req_cnt=5 http_req_rate(10000)=5 http_err_cnt=2\n\n"
		// A transaction's counters are released once its response is sent, which
		// the client may see first: no signal tells when, so the table is read
		// again until it settles.
		var show string
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			show = maskTableReply(adminCommand(t, sock, "show table fe"))
			if show == wantShow || time.Now().After(deadline) {
				break
			}
		}
		if show != wantShow {
			t.Errorf("show table fe = %q; want %q", show, wantShow)
		}
		for _, tc := range []struct{ cmd, want string }{
			{"show table", "# table: abuse, type: ip, size:10, used:0\n# table: fe, type: ip, size:100, used:1\n\n"},
			{"show table fe data.http_err_cnt gt 2", "# table: fe, type: ip, size:100, used:1\n\n"},
			{"show table nope", "No such table\n\n"},
			{"show table fe data.gpc0 gt 1", "Filter entry #1: Data type not stored in this table\n\n"},
			{"set table abuse key 10.0.0.1 data.gpt0 7", "\n"},
			{"show table abuse key 10.0.0.1", "# table: abuse, type: ip, size:10, used:1\n<ptr>: key=10.0.0.1 use=0 exp=<ms> gpt0=7 gpc0=0\n\n"},
			{"set table abuse key 10.0.0.1 data.http_req_cnt 1", "Data type not stored in this table\n\n"},
			{"clear table abuse key 10.0.0.1", "\n"},
			{"show table abuse", "# table: abuse, type: ip, size:10, used:0\n\n"},
		} {
			if got := maskTableReply(adminCommand(t, sock, tc.cmd)); got != tc.want {
				t.Errorf("%s = %q; want %q", tc.cmd, got, tc.want)
			}
		}
		// Clearing the frontend's table lets the client in again.
		adminCommand(t, sock, "clear table fe")
		if got := stickStatus(t, addr, "/"); got != "HTTP/1.1 200 OK" {
			t.Errorf("after clear table: %q; want 200", got)
		}

		c := dialHTTP(t, addr2)
		c.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		head, body := c.response()
		if respStatusLine(head) != "HTTP/1.1 200 OK" || body != "cnt=1 avl=9 gpc0=0" {
			t.Errorf("marks / = %q %q; want 200 %q", respStatusLine(head), body, "cnt=1 avl=9 gpc0=0")
		}
		if got := stickStatus(t, addr2, "/bad"); got != "HTTP/1.1 403 Forbidden" {
			t.Errorf("marks /bad = %q; want 403", got)
		}
		if got := stickStatus(t, addr2, "/"); got != "HTTP/1.1 403 Forbidden" {
			t.Errorf("marks / after /bad = %q; want 403", got)
		}
	})
}

// TestStickTableConnCur: "tcp-request connection reject if { src_conn_cur ge 2 }" after
// "tcp-request connection track-sc0 src": a third concurrent connection is refused, and
// once one closes a new one is taken again (conn_cur follows the connections).
func TestStickTableConnCur(t *testing.T) {
	echo := startRawServer(t, func(c net.Conn) {
		defer c.Close()
		_, _ = io.Copy(c, c)
	})
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind %s
    stick-table type ip size 10 store conn_cur,conn_rate(10s)
    tcp-request connection track-sc0 src
    tcp-request connection reject if { sc0_conn_cur gt 2 }
    default_backend be
backend be
    server s1 %s
`, addr, echo))
	// served reports whether a connection is proxied: its byte comes back.
	// A rejected connection may also be reset before the dial returns. It comes from
	// 127.0.0.2: the readiness probe's connection (from 127.0.0.1) may still count in
	// haproxy's conn_cur a moment after it closed.
	served := func(t *testing.T) (net.Conn, bool) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return &net.TCPConn{}, false
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("x")); err != nil {
			return c, false
		}
		b := make([]byte, 1)
		_, err = io.ReadFull(c, b)
		return c, err == nil
	}
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		c1, ok1 := served(t)
		_, ok2 := served(t)
		_, ok3 := served(t)
		if !ok1 || !ok2 || ok3 {
			t.Fatalf("three connections served: %v %v %v; want true true false", ok1, ok2, ok3)
		}
		c1.Close()
		// The close reaches the proxy asynchronously: the next connection is
		// taken once it did.
		deadline := time.Now().Add(5 * time.Second)
		for {
			c, ok := served(t)
			if ok {
				break
			}
			c.Close()
			if time.Now().After(deadline) {
				t.Fatal("no connection served after one closed")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// TestStickTableSetGPT0: "http-request sc-set-gpt0(N)" sets the tracked entry's gpt0 to an
// integer or a sample's value, which sc_get_gpt0 and table_gpt0 read back: a client that
// asked for /block is denied afterwards, on lb and on haproxy.
func TestStickTableSetGPT0(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind %s
    stick-table type ip size 10 store gpt0
    http-request track-sc0 src
    http-request sc-set-gpt0(0) 7 if { path /block }
    http-request sc-set-gpt0(0) int(0) if { path /unblock }
    http-request deny deny_status 403 if { sc_get_gpt0(0) eq 7 } !{ path /unblock }
    http-request return status 200 content-type text/plain lf-string "gpt0=%%[src,table_gpt0(fe)]"
`, addr))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		var got []string
		for _, p := range []string{"/", "/block", "/", "/unblock", "/"} {
			got = append(got, stickStatus(t, addr, p))
		}
		want := []string{"HTTP/1.1 200 OK", "HTTP/1.1 403 Forbidden", "HTTP/1.1 403 Forbidden", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("statuses = %q; want %q", got, want)
		}
	})
}
