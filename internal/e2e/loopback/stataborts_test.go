package loopback

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The abort and response error columns of "show stat" (cli_abrt, srv_abrt, eresp), on
// lb and HAProxy 2.6 with the same traffic and the same expectations.

// startEchoServer starts a server that sends back what it reads until the client
// closes, and returns its address.
func startEchoServer(t *testing.T) string {
	t.Helper()
	return startRawServer(t, func(c net.Conn) {
		defer c.Close()
		_, _ = io.Copy(c, c)
	})
}

// startResetServer starts a server that answers the first bytes it reads with reply,
// then resets the connection, and returns its address.
func startResetServer(t *testing.T, reply string) string {
	t.Helper()
	return startRawServer(t, func(c net.Conn) {
		if _, err := c.Read(make([]byte, 4096)); err == nil {
			_, _ = io.WriteString(c, reply)
		}
		_ = c.(*net.TCPConn).SetLinger(0)
		_ = c.Close()
	})
}

// talk connects to addr, sends req and reads until the connection ends or, with
// reset, until the first reply, then resets the connection.
func talk(t *testing.T, addr, req string, reset bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	if reset {
		if _, err := c.Read(make([]byte, 4096)); err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		_ = c.(*net.TCPConn).SetLinger(0)
		return
	}
	_, _ = io.Copy(io.Discard, c)
}

// startCloseServer starts a server that answers the first bytes it reads with reply,
// then closes the connection (FIN), and returns its address.
func startCloseServer(t *testing.T, reply string) string {
	t.Helper()
	return startRawServer(t, func(c net.Conn) {
		if _, err := c.Read(make([]byte, 4096)); err == nil {
			_, _ = io.WriteString(c, reply)
		}
		_ = c.Close()
	})
}

// startSinkServer starts a server that reads until the client closes and never
// answers, and returns its address.
func startSinkServer(t *testing.T) string {
	t.Helper()
	return startRawServer(t, func(c net.Conn) {
		defer c.Close()
		_, _ = io.Copy(io.Discard, c)
	})
}

// TestShowStatAborts: in mode tcp, a client resetting or timing out during the transfer
// counts a client abort on the server and the backend, a server resetting a server
// abort and a response error, a server timing out a server abort; in mode http, a
// response that does not parse or a server closing before its response counts a
// response error (502), twice when it resets (HAProxy counts the socket error too), a
// server ending within the response body a server abort.
func TestShowStatAborts(t *testing.T) {
	dir := t.TempDir()
	const get = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	const cut = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"
	cases := []struct {
		name, mode, srv, req string
		reset                bool   // the client resets once answered
		timeout              string // the proxy's extra timeout line
		want                 string
	}{
		{"tcprst", "tcp", startResetServer(t, ""), "hello", false, "", "cli_abrt=0 srv_abrt=1 eresp=1"},
		{"tcpfin", "tcp", startCloseServer(t, "x"), "hello", false, "", "cli_abrt=0 srv_abrt=0 eresp=0"},
		{"tcpcli", "tcp", startEchoServer(t), "hello", true, "", "cli_abrt=1 srv_abrt=0 eresp=0"},
		{"tcpcto", "tcp", startEchoServer(t), "", false, "timeout client 100ms", "cli_abrt=1 srv_abrt=0 eresp=0"},
		{"tcpsto", "tcp", startEchoServer(t), "", false, "timeout server 100ms", "cli_abrt=0 srv_abrt=1 eresp=0"},
		{"garbage", "http", startGarbageServer(t), get, false, "", "cli_abrt=0 srv_abrt=0 eresp=1"},
		{"nofin", "http", startCloseServer(t, ""), get, false, "", "cli_abrt=0 srv_abrt=0 eresp=1"},
		{"norst", "http", startResetServer(t, ""), get, false, "", "cli_abrt=0 srv_abrt=0 eresp=2"},
		{"cutfin", "http", startCloseServer(t, cut), get, false, "", "cli_abrt=0 srv_abrt=1 eresp=1"},
		{"cutrst", "http", startResetServer(t, cut), get, false, "", "cli_abrt=0 srv_abrt=1 eresp=1"},
		{"sto", "http", startSinkServer(t), get, false, "timeout server 100ms", "cli_abrt=0 srv_abrt=0 eresp=1"},
	}
	ready := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var b strings.Builder
	fmt.Fprintf(&b, `global
    stats socket %s/admin.sock level admin
defaults
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen ready
    mode tcp
    bind %s
    server s %s
`, dir, ready, startNameServer(t, "s").addr())
	addrs := map[string]string{}
	for _, c := range cases {
		addrs[c.name] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		fmt.Fprintf(&b, "listen %s\n    mode %s\n    bind %s\n    %s\n    server s %s\n", c.name, c.mode, addrs[c.name], c.timeout, c.srv)
	}
	cfg := writeConfig(t, b.String())
	cols := []string{"cli_abrt", "srv_abrt", "eresp"}
	onLBAndHAProxy(t, cfg, ready, func(t *testing.T, _ *outFile) {
		sock := filepath.Join(dir, "admin.sock")
		waitSock(t, sock)
		for _, c := range cases {
			talk(t, addrs[c.name], c.req, c.reset)
		}
		for _, c := range cases {
			for _, line := range []string{"/s", "/BACKEND"} {
				if got := waitStatOr(t, sock, c.name+line, c.want, cols...); got != c.want {
					t.Errorf("%s: show stat %s = %q; want %q", c.name, c.name+line, got, c.want)
				}
			}
		}
	})
}

// waitStatOr polls "show stat" as waitStat does, but returns what it read last
// instead of failing.
func waitStatOr(t *testing.T, sock, line, want string, names ...string) string {
	t.Helper()
	var got string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = statFields(adminCommand(t, sock, "show stat"), names...)[line]; got == want {
			break
		}
	}
	return got
}

// TestShowStatDeniedAndErrors: a response denied by an http-response rule, of the
// frontend or of the backend, or by a tcp-response rule counts in dresp of the
// frontend, the backend and the server; a request that does not parse, or a client
// that half-closes within its request head, counts in the frontend's ereq; wrew and
// eint stay 0.
func TestShowStatDeniedAndErrors(t *testing.T) {
	dir := t.TempDir()
	app := startHTTPServer(t, "app", nil)
	name := startNameServer(t, "s")
	var a [5]string
	for i := range a {
		a[i] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	}
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s/admin.sock level admin
defaults
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen ready
    mode tcp
    bind %[2]s
    server s %[8]s
listen lh
    mode http
    bind %[3]s
    http-response deny
    server s %[7]s
frontend fb
    mode http
    bind %[4]s
    http-response deny
    default_backend bb
backend bb
    mode http
    server s %[7]s
listen lt
    mode tcp
    bind %[5]s
    tcp-response content reject
    server s %[8]s
listen le
    mode http
    bind %[6]s
    server s %[7]s
`, dir, a[0], a[1], a[2], a[3], a[4], app.addr(), name.addr()))
	cols := []string{"dreq", "dresp", "ereq", "wrew", "eint"}
	onLBAndHAProxy(t, cfg, a[0], func(t *testing.T, _ *outFile) {
		sock := filepath.Join(dir, "admin.sock")
		waitSock(t, sock)
		get := "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
		talk(t, a[1], get, false)
		talk(t, a[2], get, false)
		talk(t, a[3], "", false)
		talk(t, a[4], "GET\x01 / HTTP/1.1\r\n\r\n", false)
		halfClose(t, a[4], "GET / HTTP/1.1\r\nHost: x\r\n")
		const denied = "dreq= dresp=1 ereq= wrew=0 eint=0"
		for line, want := range map[string]string{
			"lh/FRONTEND": "dreq=0 dresp=1 ereq=0 wrew=0 eint=0",
			"lh/BACKEND":  "dreq=0 dresp=1 ereq= wrew=0 eint=0",
			"lh/s":        denied,
			"fb/FRONTEND": "dreq=0 dresp=1 ereq=0 wrew=0 eint=0",
			"bb/BACKEND":  "dreq=0 dresp=1 ereq= wrew=0 eint=0",
			"bb/s":        denied,
			"lt/FRONTEND": "dreq=0 dresp=1 ereq=0 wrew=0 eint=0",
			"lt/BACKEND":  "dreq=0 dresp=1 ereq= wrew=0 eint=0",
			"lt/s":        denied,
			"le/FRONTEND": "dreq=0 dresp=0 ereq=2 wrew=0 eint=0",
			"le/BACKEND":  "dreq=0 dresp=0 ereq= wrew=0 eint=0",
			"le/s":        "dreq= dresp=0 ereq= wrew=0 eint=0",
		} {
			if got := waitStatOr(t, sock, line, want, cols...); got != want {
				t.Errorf("show stat %s = %q; want %q", line, got, want)
			}
		}
	})
}

// halfClose connects to addr, sends req, shuts its side down and reads until the
// connection ends.
func halfClose(t *testing.T, addr, req string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	_, _ = io.Copy(io.Discard, c)
}

// TestShowStatConnects: connect counts the connection attempts to a server (a
// retried one twice), reuse the requests sent on a connection kept from an earlier
// request; smax is the most sessions at once on frontends, backends and servers.
// One thread: with two, HAProxy's frontend smax may count a connection its other
// thread has reserved for an accept that then found none (listener_accept's
// speculative feconn), one more than were ever open at once.
func TestShowStatConnects(t *testing.T) {
	dir := t.TempDir()
	app := startHTTPServer(t, "app", nil)
	echo := startEchoServer(t)
	refused := fmt.Sprintf("127.0.0.1:%d", refusingPort(t))
	var a [4]string
	for i := range a {
		a[i] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	}
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s/admin.sock level admin
    nbthread 1
defaults
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen ready
    mode tcp
    bind %[2]s
    server s %[6]s
listen t
    mode tcp
    bind %[3]s
    server s %[6]s
listen h
    mode http
    bind %[4]s
    server s %[7]s
listen r
    mode tcp
    bind %[5]s
    retries 1
    server s %[8]s
`, dir, a[0], a[1], a[2], a[3], echo, app.addr(), refused))
	cols := []string{"smax", "connect", "reuse"}
	onLBAndHAProxy(t, cfg, a[0], func(t *testing.T, _ *outFile) {
		sock := filepath.Join(dir, "admin.sock")
		waitSock(t, sock)
		// Two sessions at once through t, then one more.
		var held []net.Conn
		for range 3 {
			held = append(held, echoed(t, a[1]))
			if len(held) == 2 {
				for _, c := range held {
					c.Close()
				}
				waitStat(t, sock, "t/FRONTEND", "scur=0", "scur")
			}
		}
		held[2].Close()
		// Three requests on one client connection, then one on another.
		c, err := net.DialTimeout("tcp", a[2], 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		br := bufio.NewReader(c)
		for range 3 {
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		c.Close()
		waitStat(t, sock, "h/FRONTEND", "scur=0", "scur")
		talk(t, a[2], "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false)
		talk(t, a[3], "", false)
		for line, want := range map[string]string{
			"t/FRONTEND": "smax=2 connect= reuse=",
			"t/BACKEND":  "smax=2 connect=3 reuse=0",
			"t/s":        "smax=2 connect=3 reuse=0",
			// Not smax: under load, HAProxy may count two sessions at once
			// on h though the first client was gone.
			"h/BACKEND": "connect=2 reuse=2",
			"h/s":       "connect=2 reuse=2",
			"r/BACKEND": "smax=1 connect=2 reuse=0",
			"r/s":       "smax=1 connect=2 reuse=0",
		} {
			cols := cols
			if !strings.HasPrefix(want, "smax=") {
				cols = cols[1:]
			}
			if got := waitStatOr(t, sock, line, want, cols...); got != want {
				t.Errorf("show stat %s = %q; want %q", line, got, want)
			}
		}
	})
}

// echoed connects to addr, a proxy to an echo server, and returns the connection once
// a byte went through both ways.
func echoed(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestShowStatLastSess: lastsess is -1 on a server and a backend that never had a
// session, and the seconds since the last one, 0 or 1 right after it, on the others.
func TestShowStatLastSess(t *testing.T) {
	dir := t.TempDir()
	name := startNameServer(t, "s")
	used, unused := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s/admin.sock level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen u
    bind %[2]s
    server s %[4]s
listen n
    bind %[3]s
    server s %[4]s
`, dir, used, unused, name.addr()))
	onLBAndHAProxy(t, cfg, used, func(t *testing.T, _ *outFile) {
		sock := filepath.Join(dir, "admin.sock")
		waitSock(t, sock)
		if _, err := askName(used); err != nil {
			t.Fatal(err)
		}
		got := statFields(adminCommand(t, sock, "show stat"), "lastsess")
		for line, want := range map[string][]string{
			"u/s": {"lastsess=0", "lastsess=1"}, "u/BACKEND": {"lastsess=0", "lastsess=1"},
			"n/s": {"lastsess=-1"}, "n/BACKEND": {"lastsess=-1"},
		} {
			if !slices.Contains(want, got[line]) {
				t.Errorf("show stat %s = %q; want one of %q", line, got[line], want)
			}
		}
	})
}
