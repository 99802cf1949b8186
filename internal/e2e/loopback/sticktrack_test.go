package loopback

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Stick counters tracked by the tcp-request session and content rules and by the
// http-response rules, each counted as HAProxy 2.6 counts them, on lb and on haproxy.

// stickHead begins the configurations of the stick tests: an admin socket at sock,
// defaults of mode, and a frontend fe bound to addr, whose lines the test adds (from
// the next line on).
func stickHead(mode, sock, addr string) string {
	return fmt.Sprintf(`
global
    stats socket %s level admin
defaults
    mode %s
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind %s`, sock, mode, addr)
}

// checkTable reports an error unless "show table NAME" (masked) reads want within 5s.
func checkTable(t *testing.T, sock, name, want string) {
	t.Helper()
	if got := waitTable(t, sock, name, want); got != want {
		t.Errorf("show table %s = %q; want %q", name, got, want)
	}
}

// checkTableKey is checkTable for the entry of key alone, the header's entry count masked
// ("used:N"): the readiness probe's entry may be there too.
func checkTableKey(t *testing.T, sock, name, key, want string) {
	t.Helper()
	used := regexp.MustCompile(`used:\d+`)
	var got string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got = used.ReplaceAllString(maskTableReply(adminCommand(t, sock, "show table "+name+" key "+key)), "used:N")
		if got == want || time.Now().After(deadline) {
			break
		}
	}
	if got != want {
		t.Errorf("show table %s key %s = %q; want %q", name, key, got, want)
	}
}

// waitTable reads "show table NAME" (masked) until it reads want or 5s passed, and
// returns the last reply: a connection's counters are released once it is closed,
// which the client may see first, and no signal tells when.
func waitTable(t *testing.T, sock, name, want string) string {
	t.Helper()
	var show string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		show = maskTableReply(adminCommand(t, sock, "show table "+name))
		if show == want || time.Now().After(deadline) {
			return show
		}
	}
}

// clearTables empties the tables named before a test's traffic: the connection that
// tells the test haproxy listens is tracked too. It waits for that connection's entry to
// be released (an entry in use is not cleared).
func clearTables(t *testing.T, sock string, names ...string) {
	t.Helper()
	for _, name := range names {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			adminCommand(t, sock, "clear table "+name)
			show := adminCommand(t, sock, "show table "+name)
			if strings.Contains(show, "used:0\n") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("clear table %s: %q", name, show)
			}
		}
	}
}

// echoOnce connects to addr from 127.0.0.2, sends one byte and reads it back, then
// closes. The source is not the readiness probe's (127.0.0.1), which haproxy may track a
// moment after it closed.
func echoOnce(t *testing.T, addr string) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("echo through %s: %v", addr, err)
	}
}

// TestStickTrackSessionContent: "tcp-request session track-sc0" and "tcp-request content
// track-sc1" (mode tcp), with sc-set-gpt0 and sc-inc-gpc0 in the same rule sets: both
// count the connections (conn_cnt, conn_cur back to 0 once closed), only the session's
// counter counts the session (sess_cnt), and the content rules' gpc0 follows each
// connection.
func TestStickTrackSessionContent(t *testing.T) {
	echo := startRawServer(t, func(c net.Conn) {
		defer c.Close()
		_, _ = io.Copy(c, c)
	})
	dir := t.TempDir()
	sock := dir + "/admin.sock"
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, stickHead("tcp", sock, addr)+fmt.Sprintf(`
    stick-table type ip size 10 store conn_cnt,conn_cur,sess_cnt,gpt0
    tcp-request session track-sc0 src
    tcp-request session sc-set-gpt0(0) 5
    tcp-request content track-sc1 src table content
    tcp-request content sc-inc-gpc0(1)
    default_backend be
backend be
    server s1 %s
backend content
    stick-table type ip size 10 store conn_cnt,conn_cur,sess_cnt,gpc0
`, echo))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		clearTables(t, sock, "fe", "content")
		echoOnce(t, addr)
		echoOnce(t, addr)
		for _, tc := range []struct{ table, want string }{
			{"fe", "# table: fe, type: ip, size:10, used:N\n" +
				"<ptr>: key=127.0.0.2 use=0 exp=<ms> gpt0=5 conn_cnt=2 conn_cur=0 sess_cnt=2\n\n"},
			{"content", "# table: content, type: ip, size:10, used:N\n" +
				"<ptr>: key=127.0.0.2 use=0 exp=<ms> gpc0=2 conn_cnt=2 conn_cur=0 sess_cnt=0\n\n"},
		} {
			checkTableKey(t, sock, tc.table, "127.0.0.2", tc.want)
		}
	})
}

// TestStickTrackHTTPResponse: "http-response track-sc2 res.hdr(x-user)" in a backend
// tracks the user the server names: the rule counts the request (http_req_cnt) and, for
// a 4xx, the error (http_err_cnt) once, as HAProxy's http-response rules do.
func TestStickTrackHTTPResponse(t *testing.T) {
	srv := startHTTPServer(t, "s1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-User", "alice")
		if r.URL.Path == "/missing" {
			w.WriteHeader(404)
		}
		io.WriteString(w, "ok")
	})
	dir := t.TempDir()
	sock := dir + "/admin.sock"
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, stickHead("http", sock, addr)+fmt.Sprintf(`
    default_backend be
backend be
    stick-table type string size 10 store http_req_cnt,http_err_cnt,conn_cnt
    http-response track-sc2 res.hdr(x-user)
    server s1 %s
`, srv.ln.Addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		clearTables(t, sock, "be")
		var got []string
		for _, p := range []string{"/", "/missing", "/"} {
			got = append(got, stickStatus(t, addr, p))
		}
		if got[1] != "HTTP/1.1 404 Not Found" {
			t.Errorf("statuses = %q; want a 404 second", got)
		}
		want := "# table: be, type: string, size:10, used:1\n" +
			"<ptr>: key=alice use=0 exp=<ms> conn_cnt=3 http_req_cnt=3 http_err_cnt=1\n\n"
		checkTable(t, sock, "be", want)
	})
}
