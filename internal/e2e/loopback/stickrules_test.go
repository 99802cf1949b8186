package loopback

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Stick rules ("stick on|match|store-request|store-response"): a key stored with the
// server that served it sends the next streams with that key to the same server, on lb
// and on haproxy with the same traffic.

// namedServer is a raw server that writes its name and closes.
func namedServer(t *testing.T, name string) string {
	t.Helper()
	return startRawServer(t, func(c net.Conn) {
		defer c.Close()
		io.WriteString(c, name)
	})
}

// readName connects to addr from 127.0.0.2 and returns what the server wrote. The source
// is not the readiness probe's (127.0.0.1), which haproxy may track, and store, a moment
// after it closed.
func readName(t *testing.T, addr string) string {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read from %s: %v", addr, err)
	}
	return string(b)
}

// otherServer is the other of s1 and s2.
func otherServer(name string) string {
	if name == "s1" {
		return "s2"
	}
	return "s1"
}

// TestStickOnTCP: "stick on src" in a round-robin backend (mode tcp): every connection of
// the client goes to the server of its first; once that server is in maintenance the next
// goes to the other one, which is stored instead and kept after the first comes back.
// "show table" shows server_id and server_key (the server's name), which HAProxy 2.6
// stores by default.
func TestStickOnTCP(t *testing.T) {
	s1, s2 := namedServer(t, "s1"), namedServer(t, "s2")
	sock := t.TempDir() + "/admin.sock"
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, stickHead("tcp", sock, addr)+fmt.Sprintf(`
    default_backend be
backend be
    balance roundrobin
    stick-table type ip size 10 expire 30s
    stick on src
    server s1 %s
    server s2 %s
`, s1, s2))
	showWant := func(name string) string {
		return "# table: be, type: ip, size:10, used:N\n" +
			"<ptr>: key=127.0.0.2 use=0 exp=<ms> server_id=" + name[1:] + " server_key=" + name + "\n\n"
	}
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		first := readName(t, addr)
		if first != "s1" && first != "s2" {
			t.Fatalf("first connection served by %q", first)
		}
		for i := 0; i < 3; i++ {
			if got := readName(t, addr); got != first {
				t.Errorf("connection %d served by %q; want %q (stuck)", i+2, got, first)
			}
		}
		checkTableKey(t, sock, "be", "127.0.0.2", showWant(first))
		adminCommand(t, sock, "disable server be/"+first)
		other := otherServer(first)
		if got := readName(t, addr); got != other {
			t.Errorf("with %s in maintenance: served by %q; want %q", first, got, other)
		}
		adminCommand(t, sock, "enable server be/"+first)
		for i := 0; i < 2; i++ {
			if got := readName(t, addr); got != other {
				t.Errorf("after %s is back: served by %q; want %q (stuck to the new one)", first, got, other)
			}
		}
		checkTableKey(t, sock, "be", "127.0.0.2", showWant(other))
	})
}

// TestStickStoreResponseHTTP: "stick store-response res.hdr(x-session)" with "stick match
// req.hdr(x-session)" (mode http, a string table): the session a server hands out brings
// the client's requests back to it, while requests without one are balanced.
func TestStickStoreResponseHTTP(t *testing.T) {
	mk := func(name string) *httpServer {
		return startHTTPServer(t, name, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/login" {
				w.Header().Set("X-Session", "sess-"+name)
			}
			io.WriteString(w, name)
		})
	}
	s1, s2 := mk("s1"), mk("s2")
	sock := t.TempDir() + "/admin.sock"
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, stickHead("http", sock, addr)+fmt.Sprintf(`
    default_backend be
backend be
    balance roundrobin
    stick-table type string len 16 size 10
    stick store-response res.hdr(x-session)
    stick match req.hdr(x-session)
    server s1 %s
    server s2 %s
`, s1.ln.Addr(), s2.ln.Addr()))
	get := func(t *testing.T, path, session string) string {
		t.Helper()
		c := dialHTTP(t, addr)
		h := ""
		if session != "" {
			h = "X-Session: " + session + "\r\n"
		}
		c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n" + h + "Connection: close\r\n\r\n")
		_, body := c.response()
		return body
	}
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		first := get(t, "/login", "")
		if first != "s1" && first != "s2" {
			t.Fatalf("/login served by %q", first)
		}
		var got []string
		for i := 0; i < 4; i++ {
			got = append(got, get(t, "/", "sess-"+first))
		}
		if want := strings.Repeat(first+" ", 4); strings.Join(got, " ")+" " != want {
			t.Errorf("with the session: served by %q; want %q each time", got, first)
		}
		// Without a session, round robin goes on alternating.
		a, b := get(t, "/", ""), get(t, "/", "")
		if a == b {
			t.Errorf("without a session: served by %q then %q; want both servers", a, b)
		}
		want := "# table: be, type: string, size:10, used:1\n" +
			"<ptr>: key=sess-" + first + " use=0 exp=<ms> server_id=" + first[1:] + " server_key=" + first + "\n\n"
		checkTable(t, sock, "be", want)
	})
}
