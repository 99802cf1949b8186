package loopback

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// HTTP keywords checked on lb and on HAProxy with the same expectations:
// connection reuse and idle pools, and more.

// connServer is an HTTP server that counts the connections it accepted and
// those still open; a request for a path ending in /slow is answered after
// 300ms.
type connServer struct {
	ln          net.Listener
	srv         *http.Server
	opened, cur atomic.Int32
}

func startConnServer(t *testing.T) *connServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &connServer{ln: ln}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if strings.HasSuffix(r.URL.Path, "/slow") {
			time.Sleep(300 * time.Millisecond)
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
	}), ConnState: func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.opened.Add(1)
			s.cur.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.cur.Add(-1)
		}
	}}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *connServer) addr() string { return s.ln.Addr().String() }

// TestHTTPReuseClosedIdle: a server that closes its keep-alive connections after 50 ms
// idle (no "Connection: close": the close comes later, unannounced) gets every request on
// a connection it still holds open, when a client took the dead idle connection within
// the second lb trusts a pooled connection unchecked (http.go, trustIdle): a GET, a POST
// whose body came with its head (sent again whole on a new connection), and a POST whose
// body comes later (never sent on a connection found closed). Each answered 200, on lb as
// on HAProxy.
func TestHTTPReuseClosedIdle(t *testing.T) {
	s := startConnServer(t)
	s.srv.SetKeepAlivesEnabled(true)
	idle := &http.Server{Handler: s.srv.Handler, ConnState: s.srv.ConnState, IdleTimeout: 50 * time.Millisecond}
	s.srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln, s.srv = ln, idle
	go idle.Serve(ln)
	t.Cleanup(func() { idle.Close() })

	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, fmt.Sprintf("%s\nfrontend fe\n    bind %s\n    default_backend be\nbackend be\n    http-reuse always\n    server s %s\n", httpDefaults, addr, s.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		s.opened.Store(0)
		steps := []struct{ name, head, body string }{
			{"GET", "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", ""},
			{"POST whole", "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", ""},
			{"POST body later", "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", "hello"},
		}
		for i, st := range steps {
			a := dialHTTP(t, addr)
			a.get("/a")
			pause() // a's connection is idle in the pool, then closed by the server
			bc := dialHTTP(t, addr)
			bc.send(st.head)
			if st.body != "" {
				time.Sleep(50 * time.Millisecond)
				bc.send(st.body)
			}
			if head, _ := bc.response(); !strings.HasPrefix(head, "HTTP/1.1 200") {
				t.Errorf("%s on a connection the server closed idle: %q", st.name, head)
			}
			if n, want := s.opened.Load(), int32(2*(i+1)); n != want {
				t.Errorf("%s: %d server connections, want %d", st.name, n, want)
			}
			a.c.Close()
			bc.c.Close()
			pause() // b's connection too is closed by the server
		}
	})
}

// get sends a keep-alive GET for path and checks the 200.
func (hc *httpClient) get(path string) {
	hc.t.Helper()
	hc.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
	head, _ := hc.response()
	if !strings.HasPrefix(head, "HTTP/1.1 200") {
		hc.t.Fatalf("GET %s: %q", path, head)
	}
}

// pause lets a finished transaction's server connection reach its
// server's idle pool: HAProxy puts it there at once, lb once the client is
// idle.
func pause() { time.Sleep(200 * time.Millisecond) }

// TestHTTPReuseModes: which idle server connection a request may take
// under each "http-reuse" mode, by the connections the servers accept
// (one server per mode and scenario):
//   - unsafe: client A's request, then B's first: only "always" gives B
//     the connection A left idle (it served one request only);
//   - safe: A's two requests, then B's first: "aggressive" and "always"
//     give B A's connection, which served two;
//   - private: A's request, then A leaves: its connection stays open in
//     its server's pool but with "never", where it was A's own.
func TestHTTPReuseModes(t *testing.T) {
	modes := []string{"never", "safe", "aggressive", "always"}
	scenarios := []string{"unsafe", "safe", "private"}
	want := map[string][]int32{ // per scenario, by mode
		"unsafe":  {2, 2, 2, 1}, // connections accepted
		"safe":    {2, 2, 1, 1},
		"private": {0, 1, 1, 1}, // connections still open after A left
	}
	srvs := map[string]*connServer{}
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nfrontend fe\n    bind %s\n", httpDefaults, addr)
	for _, m := range modes {
		for _, sc := range scenarios {
			fmt.Fprintf(&b, "    use_backend %s-%s if { path_beg /%s/%s/ }\n", m, sc, m, sc)
		}
	}
	for _, m := range modes {
		for _, sc := range scenarios {
			s := startConnServer(t)
			srvs[m+"-"+sc] = s
			fmt.Fprintf(&b, "backend %s-%s\n    http-reuse %s\n    server s %s\n", m, sc, m, s.addr())
		}
	}
	cfg := writeConfig(t, b.String())
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		for _, s := range srvs {
			s.opened.Store(0)
		}
		for i, m := range modes {
			t.Run(m, func(t *testing.T) {
				p := "/" + m + "/"
				// unsafe
				a, bc := dialHTTP(t, addr), dialHTTP(t, addr)
				a.get(p + "unsafe/1")
				pause()
				bc.get(p + "unsafe/2")
				if n := srvs[m+"-unsafe"].opened.Load(); n != want["unsafe"][i] {
					t.Errorf("unsafe: %d server connections, want %d", n, want["unsafe"][i])
				}
				// safe
				a, bc = dialHTTP(t, addr), dialHTTP(t, addr)
				a.get(p + "safe/1")
				a.get(p + "safe/2")
				pause()
				bc.get(p + "safe/3")
				if n := srvs[m+"-safe"].opened.Load(); n != want["safe"][i] {
					t.Errorf("safe: %d server connections, want %d", n, want["safe"][i])
				}
				// private
				a = dialHTTP(t, addr)
				a.get(p + "private/1")
				pause()
				a.c.Close()
				time.Sleep(300 * time.Millisecond)
				if n := srvs[m+"-private"].cur.Load(); n != want["private"][i] {
					t.Errorf("private: %d server connections open after the client left, want %d", n, want["private"][i])
				}
			})
		}
	})
}

// TestHTTPPoolMaxConn: "pool-max-conn 0" keeps no idle connection (even
// for the same client's next request) but with "http-reuse never", where
// the connection is the session's own; "pool-max-conn 1" keeps one of two
// connections that went idle together.
func TestHTTPPoolMaxConn(t *testing.T) {
	zero, zeroNever, one, dflt := startConnServer(t), startConnServer(t), startConnServer(t), startConnServer(t)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    use_backend zero if { path_beg /zero/ }
    use_backend zeronever if { path_beg /zeronever/ }
    use_backend one if { path_beg /one/ }
    default_backend dflt
backend zero
    server s %s pool-max-conn 0
backend zeronever
    http-reuse never
    server s %s pool-max-conn 0
backend one
    default-server pool-max-conn 1
    server s %s
backend dflt
    server s %s
`, addr, zero.addr(), zeroNever.addr(), one.addr(), dflt.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		for _, s := range []*connServer{zero, zeroNever, one, dflt} {
			s.opened.Store(0)
		}
		a := dialHTTP(t, addr)
		a.get("/zero/1")
		a.get("/zero/2")
		if n := zero.opened.Load(); n != 2 {
			t.Errorf("pool-max-conn 0: %d server connections for two requests of a client, want 2", n)
		}
		a = dialHTTP(t, addr)
		a.get("/zeronever/1")
		a.get("/zeronever/2")
		if n := zeroNever.opened.Load(); n != 1 {
			t.Errorf("pool-max-conn 0, http-reuse never: %d server connections for two requests of a client, want 1", n)
		}
		for _, p := range []string{"/one/", "/dflt/"} {
			a, b := dialHTTP(t, addr), dialHTTP(t, addr)
			var wg sync.WaitGroup
			for _, c := range []*httpClient{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c.send("GET " + p + "slow HTTP/1.1\r\nHost: x\r\n\r\n")
				}()
			}
			wg.Wait()
			a.response()
			b.response()
			pause()
			a.c.Close()
			b.c.Close()
			time.Sleep(300 * time.Millisecond)
		}
		if n, o := one.cur.Load(), one.opened.Load(); n != 1 || o != 2 {
			t.Errorf("pool-max-conn 1: %d of %d server connections still open, want 1 of 2", n, o)
		}
		if n, o := dflt.cur.Load(), dflt.opened.Load(); n != 2 || o != 2 {
			t.Errorf("no pool-max-conn: %d of %d server connections still open, want 2 of 2", n, o)
		}
	})
}

// TestHTTPPoolPurgeDelay: an idle server connection is closed after
// "pool-purge-delay" (a purge or two of it in HAProxy), and not before the
// default 5s.
func TestHTTPPoolPurgeDelay(t *testing.T) {
	short, dflt := startConnServer(t), startConnServer(t)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    use_backend short if { path_beg /short/ }
    default_backend dflt
backend short
    server s %s pool-purge-delay 300ms
backend dflt
    server s %s
`, addr, short.addr(), dflt.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		for _, p := range []string{"/short/", "/dflt/"} {
			a := dialHTTP(t, addr)
			a.get(p)
			pause()
			a.c.Close()
		}
		deadline := time.Now().Add(3 * time.Second)
		for short.cur.Load() != 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // the purge has no signal but the close
		}
		if n := short.cur.Load(); n != 0 {
			t.Errorf("pool-purge-delay 300ms: %d idle server connections still open after 3s", n)
		}
		if n := dflt.cur.Load(); n != 1 {
			t.Errorf("default pool-purge-delay: %d idle server connections open, want 1", n)
		}
	})
}

// TestHTTPOriginalTo: "option originalto" adds the address the client
// connected to, after the client's own field, unless that address is in
// the frontend's or the backend's "except" network; the backend's field
// name wins over the frontend's.
func TestHTTPOriginalTo(t *testing.T) {
	app := startHTTPServer(t, "app", nil)
	port, port2 := freePort(t), freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:%d
    bind 127.0.0.2:%d
    option originalto except 127.0.0.2
    use_backend named if { path_beg /named }
    default_backend plain
frontend fe2
    bind 127.0.0.1:%d
    option originalto header X-FE
    use_backend named if { path_beg /named }
    default_backend plain
backend plain
    server s %s
backend named
    option originalto header X-BE except 127.0.0.3/32
    server s %s
`, port, port, port2, app.addr(), app.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		for _, tc := range []struct {
			addr, path string
			want       []string // the fields the server sees, in order
		}{
			{addr, "/", []string{"X-Original-To: mine", "X-Original-To: 127.0.0.1"}},
			{fmt.Sprintf("127.0.0.2:%d", port), "/", []string{"X-Original-To: mine"}},
			{addr, "/named", []string{"X-Be: 127.0.0.1", "X-Original-To: mine"}},
			{fmt.Sprintf("127.0.0.2:%d", port), "/named", []string{"X-Original-To: mine"}},
			{fmt.Sprintf("127.0.0.1:%d", port2), "/", []string{"X-Fe: 127.0.0.1", "X-Original-To: mine"}},
			{fmt.Sprintf("127.0.0.1:%d", port2), "/named", []string{"X-Be: 127.0.0.1", "X-Original-To: mine"}},
		} {
			c := dialHTTP(t, tc.addr)
			c.send("GET " + tc.path + " HTTP/1.1\r\nHost: x\r\nX-Original-To: mine\r\n\r\n")
			_, body := c.response()
			var got []string
			for _, l := range strings.Split(body, "\n") {
				if strings.HasPrefix(l, "X-") {
					got = append(got, l)
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("%s%s: the server saw %q, want %q", tc.addr, tc.path, got, tc.want)
			}
		}
	})
}

// TestHTTPMonitorFail: the monitor-uri answers HAProxy's 200 page, or its
// 503 page when a "monitor fail" condition holds (if or unless), neither
// logged.
func TestHTTPMonitorFail(t *testing.T) {
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    option httplog
    monitor-uri /mon
    monitor fail if { req.hdr(x-fail) -m found }
    monitor fail unless { req.hdr(host) -m str x }
    http-request return status 204
`, addr))
	const ok = "HTTP/1.1 200 OK\r\ncontent-length: 58\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n" +
		"<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n"
	const fail = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 107\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n" +
		"<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		c := dialHTTP(t, addr)
		for _, tc := range []struct{ req, want string }{
			{"GET /mon HTTP/1.1\r\nHost: x\r\n\r\n", ok},
			{"GET /mon HTTP/1.1\r\nHost: x\r\nX-Fail: 1\r\n\r\n", fail},
			{"GET /mon HTTP/1.1\r\nHost: y\r\n\r\n", fail},
			{"GET /mon HTTP/1.1\r\nHost: x\r\n\r\n", ok},
		} {
			c.send(tc.req)
			head, body := c.response()
			if head+body != tc.want {
				t.Errorf("%q: got %q, want %q", tc.req, head+body, tc.want)
			}
		}
		c.send("GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
		if head, _ := c.response(); !strings.HasPrefix(head, "HTTP/1.1 204") {
			t.Errorf("GET /other: %q", head)
		}
		time.Sleep(200 * time.Millisecond) // the log line of /other
		if s := out.String(); strings.Contains(s, "/mon") || !strings.Contains(s, "GET /other") {
			t.Errorf("want /other logged and no /mon request:\n%s", s)
		}
	})
}

// TestHTTPTarpit: "http-request tarpit" holds the request for "timeout
// tarpit" (else "timeout connect", the rule's proxy's), then answers
// HAProxy's 500 page (deny_status, content options as deny); the
// connection serves the next request; the log says PT, no %TR, the hold
// as %Tw.
func TestHTTPTarpit(t *testing.T) {
	app := startHTTPServer(t, "app", nil)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    option httplog
    timeout tarpit 500ms
    http-request tarpit if { path /t }
    http-request tarpit deny_status 429 if { path /t429 }
    http-request tarpit deny_status 403 content-type text/plain string hello if { path /tc }
    use_backend be if { path /be }
    default_backend app
backend app
    server s %s
backend be
    timeout connect 300ms
    http-request tarpit
    server s %s
`, addr, app.addr(), app.addr()))
	page := func(status, reason, text string) string {
		body := "<html><body><h1>" + status + " " + reason + "</h1>\n" + text + "\n</body></html>\n"
		return fmt.Sprintf("HTTP/1.1 %s %s\r\ncontent-length: %d\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n%s",
			status, reason, len(body), body)
	}
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		c := dialHTTP(t, addr)
		for _, tc := range []struct {
			path, want string
			hold       time.Duration
		}{
			{"/t", page("500", "Internal Server Error", "An internal server error occurred."), 500 * time.Millisecond},
			{"/t429", page("429", "Too Many Requests", "You have sent too many requests in a given amount of time."), 500 * time.Millisecond},
			{"/tc", "HTTP/1.1 403 Forbidden\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n\r\nhello", 500 * time.Millisecond},
			{"/be", page("500", "Internal Server Error", "An internal server error occurred."), 300 * time.Millisecond},
		} {
			t0 := time.Now()
			c.send("GET " + tc.path + " HTTP/1.1\r\nHost: x\r\n\r\n")
			head, body := c.response()
			if d := time.Since(t0); d < tc.hold || d > tc.hold+400*time.Millisecond {
				t.Errorf("%s: answered after %v, want %v", tc.path, d, tc.hold)
			}
			if head+body != tc.want {
				t.Errorf("%s: got %q, want %q", tc.path, head+body, tc.want)
			}
		}
		c.get("/")
		time.Sleep(200 * time.Millisecond) // the last log line
		logs := out.String()
		re := regexp.MustCompile(`-1/(\d+)/-1/-1/(\d+) (\d+) (\d+) - - PT-- .*"GET (\S+) HTTP/1.1"`)
		got := map[string]string{}
		for _, m := range re.FindAllStringSubmatch(logs, -1) {
			tw, _ := strconv.Atoi(m[1])
			ta, _ := strconv.Atoi(m[2])
			if tw < ta || tw > ta+25 || ta < 300 { // a loaded machine delays the log a few ms
				t.Errorf("%s: Tw %d, Ta %d: want the hold in both, Tw a little more", m[5], tw, ta)
			}
			got[m[5]] = m[3] + " " + m[4]
		}
		want := map[string]string{"/t": "500 208", "/t429": "429 225", "/tc": "403 83", "/be": "500 208"}
		for p, w := range want {
			if got[p] != w {
				t.Errorf("%s: logged status and bytes %q, want %q:\n%s", p, got[p], w, logs)
			}
		}
	})
}

// TestHTTPErrorLocAndErrorfiles: "errorloc", "errorloc302" and
// "errorloc303" answer an error with a redirect (logged with the error's
// status); "errorfiles" takes the errorfile lines of an "http-errors"
// section (declared before or after), all of them or the listed statuses;
// for a status, the last of these lines and "errorfile" wins.
func TestHTTPErrorLocAndErrorfiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	he503 := write("he-503.http", "HTTP/1.0 503 Busy\r\nContent-Type: text/plain\r\nX-From: he1\r\n\r\nbusy from he1\n")
	he403 := write("he-403.http", "HTTP/1.0 403 Nope\r\nContent-Type: text/plain\r\n\r\nforbidden he1\n")
	own503 := write("own-503.http", "HTTP/1.0 503 Busy2\r\nContent-Type: text/plain\r\n\r\nbusy own\n")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nhttp-errors early\n    errorfile 403 %s\nfrontend fe\n    bind %s\n    option httplog\n", httpDefaults, he403, addr)
	backends := []struct{ name, lines string }{
		{"loc", "errorloc 503 http://example.com/sorry"},
		{"loc302", "errorloc302 503 /sorry302"},
		{"loc303", "errorloc303 503 /sorry303"},
		{"files", "errorfiles he1"},
		{"early", "errorfiles early"},
		{"fileslast", "errorfiles he1\n    errorfile 503 " + own503},
		{"locfirst", "errorloc 503 /loc\n    errorfiles he1"},
		{"loclast", "errorfiles he1\n    errorloc 503 /loc"},
		{"some", "errorfiles he1 403"},
	}
	for _, be := range backends {
		fmt.Fprintf(&b, "    use_backend %s if { path_beg /%s/ }\n", be.name, be.name)
	}
	for _, be := range backends {
		fmt.Fprintf(&b, "backend %s\n    %s\n    http-request deny deny_status 503 if { path_end /503 }\n    http-request deny\n    server s 127.0.0.1:1\n", be.name, be.lines)
	}
	fmt.Fprintf(&b, "http-errors he1\n    errorfile 503 %s\n    errorfile 403 %s\n", he503, he403)
	cfg := writeConfig(t, b.String())
	redirect := func(code, reason, loc string) string {
		return "HTTP/1.1 " + code + " " + reason + "\r\ncache-control: no-cache\r\ncontent-length: 0\r\nlocation: " + loc + "\r\n\r\n"
	}
	const (
		busyHe1  = "HTTP/1.0 503 Busy\r\ncontent-type: text/plain\r\nx-from: he1\r\n\r\nbusy from he1\n"
		busyOwn  = "HTTP/1.0 503 Busy2\r\ncontent-type: text/plain\r\n\r\nbusy own\n"
		nopeHe1  = "HTTP/1.0 403 Nope\r\ncontent-type: text/plain\r\n\r\nforbidden he1\n"
		builtin  = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 107\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"
		builtin4 = "HTTP/1.1 403 Forbidden\r\ncontent-length: 93\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n"
	)
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		for _, tc := range []struct{ path, want string }{
			{"/loc/503", redirect("302", "Found", "http://example.com/sorry")},
			{"/loc/x", builtin4},
			{"/loc302/503", redirect("302", "Found", "/sorry302")},
			{"/loc303/503", redirect("303", "See Other", "/sorry303")},
			{"/files/503", busyHe1},
			{"/files/x", nopeHe1},
			{"/early/x", nopeHe1},
			{"/early/503", builtin},
			{"/fileslast/503", busyOwn},
			{"/locfirst/503", busyHe1},
			{"/loclast/503", redirect("302", "Found", "/loc")},
			{"/some/x", nopeHe1},
			{"/some/503", builtin},
		} {
			c := dialHTTP(t, addr)
			c.send("GET " + tc.path + " HTTP/1.1\r\nHost: x\r\n\r\n")
			head, body := c.response()
			if head+body != tc.want {
				t.Errorf("%s: got %q, want %q", tc.path, head+body, tc.want)
			}
		}
		time.Sleep(200 * time.Millisecond) // the log lines
		if !regexp.MustCompile(` 503 90 - - PR-- .*"GET /loc302/503 HTTP/1.1"`).MatchString(out.String()) {
			t.Errorf("no log line of /loc302/503 with status 503 and 90 bytes:\n%s", out.String())
		}
	})
}
