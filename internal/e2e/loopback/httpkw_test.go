package loopback

import (
	"fmt"
	"io"
	"net"
	"net/http"
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
