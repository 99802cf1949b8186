package loopback

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// HTTP mode (issue 11), driven through the real binary with raw client sockets, so that the
// bytes on the wire are what is checked. The servers behind lb are net/http servers: they
// are the test's fixtures, not lb's data plane.

// httpServer is a backend that answers every request with its name, the request's method,
// URI and header fields, and counts the connections it accepted.
type httpServer struct {
	name  string
	srv   *http.Server
	ln    net.Listener
	conns atomic.Int32
	mu    sync.Mutex
	last  *http.Request
}

func startHTTPServer(t *testing.T, name string, h http.HandlerFunc) *httpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &httpServer{name: name, ln: ln}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			var b strings.Builder
			fmt.Fprintf(&b, "%s %s %s\nHost: %s\n", name, r.Method, r.RequestURI, r.Host)
			for _, k := range sortedKeys(r.Header) {
				for _, v := range r.Header[k] {
					fmt.Fprintf(&b, "%s: %s\n", k, v)
				}
			}
			if len(body) > 0 {
				fmt.Fprintf(&b, "body: %s\n", body)
			}
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, b.String())
		}
	}
	s.srv = &http.Server{Handler: h, ConnState: func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *httpServer) addr() string { return s.ln.Addr().String() }

func sortedKeys(h http.Header) []string {
	var ks []string
	for k := range h {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

// httpClient is a raw keep-alive client connection.
type httpClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialHTTP(t *testing.T, addr string) *httpClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &httpClient{t: t, c: c, br: bufio.NewReader(c)}
}

func (hc *httpClient) send(raw string) {
	hc.t.Helper()
	if _, err := io.WriteString(hc.c, raw); err != nil {
		hc.t.Fatal(err)
	}
}

// response reads one response: its head as received and its body (by Content-Length,
// chunked, or until the close).
func (hc *httpClient) response() (head string, body string) {
	hc.t.Helper()
	var h strings.Builder
	cl, chunked := -1, false
	for {
		line, err := hc.br.ReadString('\n')
		if err != nil {
			hc.t.Fatalf("response head: %v after %q", err, h.String())
		}
		h.WriteString(line)
		if line == "\r\n" {
			break
		}
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		switch strings.ToLower(k) {
		case "content-length":
			fmt.Sscan(strings.TrimSpace(v), &cl)
		case "transfer-encoding":
			chunked = strings.Contains(strings.ToLower(v), "chunked")
		}
	}
	head = h.String()
	switch {
	case chunked:
		var b bytes.Buffer
		for {
			line, err := hc.br.ReadString('\n')
			if err != nil {
				hc.t.Fatal(err)
			}
			var n int
			fmt.Sscanf(line, "%x", &n)
			if n == 0 {
				hc.br.ReadString('\n')
				break
			}
			buf := make([]byte, n+2)
			if _, err := io.ReadFull(hc.br, buf); err != nil {
				hc.t.Fatal(err)
			}
			b.Write(buf[:n])
		}
		return head, b.String()
	case cl >= 0:
		buf := make([]byte, cl)
		if _, err := io.ReadFull(hc.br, buf); err != nil {
			hc.t.Fatal(err)
		}
		return head, string(buf)
	case strings.HasPrefix(head, "HTTP/1.1 1") || strings.HasPrefix(head, "HTTP/1.1 204") || strings.HasPrefix(head, "HTTP/1.1 304"):
		return head, ""
	}
	b, _ := io.ReadAll(hc.br)
	return head, string(b)
}

// closed reports whether the server closed the connection (EOF) within a second.
func (hc *httpClient) closed() bool {
	_ = hc.c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := hc.br.ReadByte()
	return err == io.EOF
}

const httpDefaults = `
global
    log stdout format raw local0
defaults
    mode http
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
`

// TestHTTPProxying: requests are parsed and forwarded, one server connection serves the
// keep-alive client's requests, option forwardfor adds the client's address, use_backend
// routes on the path, and a client's own X-Forwarded-For is kept, not trusted in place of ours.
func TestHTTPProxying(t *testing.T) {
	app := startHTTPServer(t, "app", nil)
	api := startHTTPServer(t, "api", nil)
	port := freePort(t)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend web
    bind 127.0.0.1:%d
    option forwardfor
    http-request set-header X-Forwarded-Proto http
    use_backend api if { path_beg /api }
    default_backend app
backend app
    server s1 %s
backend api
    server s1 %s
`, port, app.addr(), api.addr()))
	startLB(t, "-db", "-f", cfg)
	c := dialHTTP(t, fmt.Sprintf("127.0.0.1:%d", port))
	for i := 0; i < 3; i++ {
		c.send("GET /page?x=1 HTTP/1.1\r\nHost: example\r\nX-Forwarded-Proto: https\r\n\r\n")
		head, body := c.response()
		if !strings.HasPrefix(head, "HTTP/1.1 200 OK\r\n") {
			t.Fatalf("response %d: %q", i, head)
		}
		for _, want := range []string{"app GET /page?x=1\n", "X-Forwarded-For: 127.0.0.1\n", "X-Forwarded-Proto: http\n", "Host: example\n"} {
			if !strings.Contains(body, want) {
				t.Errorf("response %d: server saw\n%s\nwant %q in it", i, body, want)
			}
		}
		if strings.Contains(body, "https") {
			t.Errorf("the client's X-Forwarded-Proto reached the server:\n%s", body)
		}
	}
	if n := app.conns.Load(); n != 1 {
		t.Errorf("app server accepted %d connections for 3 keep-alive requests; want 1", n)
	}
	c.send("POST /api/v1 HTTP/1.1\r\nHost: example\r\nContent-Length: 5\r\n\r\nhello")
	_, body := c.response()
	if !strings.HasPrefix(body, "api POST /api/v1\n") || !strings.Contains(body, "body: hello\n") {
		t.Errorf("POST /api/v1: server saw\n%s", body)
	}
}

// TestHTTPLocalResponses: deny, return, redirect, the monitor URI, a request lb cannot parse,
// no server and a server answering garbage get the bytes HAProxy 2.6 sends (recorded from
// haproxy 2.6.12 with the same configuration).
func TestHTTPLocalResponses(t *testing.T) {
	app := startHTTPServer(t, "app", nil)
	garbage := startGarbageServer(t)
	port := freePort(t)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:%d
    http-request deny if { path /deny }
    http-request return status 200 content-type text/plain string "hi" if { path /ret }
    http-request redirect location /x if { path /redir }
    monitor-uri /mon
    use_backend bad if { path /bad }
    use_backend nosrv if { path /nosrv }
    default_backend ok
backend ok
    server s1 %s
backend bad
    server s1 %s
backend nosrv
    server s1 127.0.0.1:9 disabled
`, port, app.addr(), garbage))
	startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for _, tc := range []struct{ path, want string }{
		{"/deny", "HTTP/1.1 403 Forbidden\r\ncontent-length: 93\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n"},
		{"/ret", "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nhi"},
		{"/redir", "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /x\r\ncache-control: no-cache\r\n\r\n"},
		{"/mon", "HTTP/1.1 200 OK\r\ncontent-length: 58\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n"},
		{"/bad", "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 107\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete response.\n</body></html>\n"},
		{"/nosrv", "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 107\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"},
	} {
		c := dialHTTP(t, addr)
		c.send("GET " + tc.path + " HTTP/1.1\r\nHost: a\r\n\r\n")
		head, body := c.response()
		if got := head + body; got != tc.want {
			t.Errorf("GET %s:\n got %q\nwant %q", tc.path, got, tc.want)
		}
		// HAProxy keeps the client connection open after these.
		c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		if head, _ := c.response(); !strings.HasPrefix(head, "HTTP/1.1 200 OK") {
			t.Errorf("after GET %s the connection does not serve another request: %q", tc.path, head)
		}
	}
	c := dialHTTP(t, addr)
	c.send("GET / HTTP/1.1\r\nHo st: a\r\n\r\n")
	got, _ := io.ReadAll(c.br)
	want := "HTTP/1.1 400 Bad request\r\nContent-length: 90\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"
	if string(got) != want {
		t.Errorf("invalid header name:\n got %q\nwant %q", got, want)
	}
}

// startGarbageServer starts a server that answers every request with a line that is not
// HTTP, and returns its address.
func startGarbageServer(t *testing.T) string {
	t.Helper()
	return startRawServer(t, func(c net.Conn) {
		defer c.Close()
		c.Read(make([]byte, 4096))
		io.WriteString(c, "garbage\r\n\r\n")
	})
}

// TestHTTPBodiesAndPipelining: chunked bodies both ways, pipelined requests answered in
// order, Expect: 100-continue, and Connection: close honoured.
func TestHTTPBodiesAndPipelining(t *testing.T) {
	srv := startHTTPServer(t, "s", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length: chunked
			io.WriteString(w, "part1,")
			w.(http.Flusher).Flush()
			io.WriteString(w, "part2")
			return
		}
		if r.URL.Path == "/slow" {
			time.Sleep(100 * time.Millisecond)
		}
		fmt.Fprintf(w, "%s %s len=%d body=%s", r.Method, r.URL.Path, len(body), body)
	})
	port := freePort(t)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
listen web
    bind 127.0.0.1:%d
    server s1 %s
`, port, srv.addr()))
	startLB(t, "-db", "-f", cfg)
	c := dialHTTP(t, fmt.Sprintf("127.0.0.1:%d", port))

	c.send("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
	if _, body := c.response(); body != "POST /up len=11 body=hello world" {
		t.Errorf("chunked request body: %q", body)
	}
	c.send("GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n")
	if head, body := c.response(); body != "part1,part2" || !strings.Contains(strings.ToLower(head), "transfer-encoding: chunked") {
		t.Errorf("chunked response: %q %q", head, body)
	}
	// Three pipelined requests in one write.
	c.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nPOST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
	for i, want := range []string{"GET /1 len=0 body=", "GET /2 len=0 body=", "POST /3 len=3 body=abc"} {
		if _, body := c.response(); body != want {
			t.Errorf("pipelined response %d: %q, want %q", i+1, body, want)
		}
	}
	// A request sent while the one before it is at the server (after lb read that one):
	// answered after it (lb waits for the next request from before it writes a response,
	// and this one came before that wait began).
	c.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(30 * time.Millisecond)
	c.send("GET /after HTTP/1.1\r\nHost: a\r\n\r\n")
	for i, want := range []string{"GET /slow len=0 body=", "GET /after len=0 body="} {
		if _, body := c.response(); body != want {
			t.Errorf("pipelined behind a slow response %d: %q, want %q", i+1, body, want)
		}
	}
	// 100-continue: the body is sent only after the interim response.
	c.send("POST /cont HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	head, _ := c.response()
	if !strings.HasPrefix(head, "HTTP/1.1 100 Continue\r\n") {
		t.Fatalf("want 100 Continue first, got %q", head)
	}
	c.send("data")
	if _, body := c.response(); body != "POST /cont len=4 body=data" {
		t.Errorf("after 100-continue: %q", body)
	}
	c.send("GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	head, _ = c.response()
	if !strings.Contains(strings.ToLower(head), "connection: close\r\n") {
		t.Errorf("response to Connection: close does not say close: %q", head)
	}
	if !c.closed() {
		t.Errorf("connection still open after Connection: close")
	}
}

// TestHTTPUpgrade: a WebSocket-style upgrade becomes a tunnel both ways.
func TestHTTPUpgrade(t *testing.T) {
	srv := startHTTPServer(t, "s", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "no upgrade", 400)
			return
		}
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		line, _ := brw.ReadString('\n')
		io.WriteString(conn, "echo:"+line)
	})
	port := freePort(t)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
listen web
    bind 127.0.0.1:%d
    timeout tunnel 10s
    server s1 %s
`, port, srv.addr()))
	startLB(t, "-db", "-f", cfg)
	c := dialHTTP(t, fmt.Sprintf("127.0.0.1:%d", port))
	c.send("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	head, _ := c.response()
	if !strings.HasPrefix(head, "HTTP/1.1 101 ") {
		t.Fatalf("upgrade: %q", head)
	}
	c.send("ping\n")
	line, err := c.br.ReadString('\n')
	if err != nil || line != "echo:ping\n" {
		t.Errorf("through the tunnel: %q, %v", line, err)
	}
}

// TestHTTPHashBalance: balance uri, url_param and hdr send each key to the same server as
// HAProxy 2.6 does with the same configuration (map-based and consistent hashing, weighted
// servers); without haproxy installed, each key still sticks to one server.
func TestHTTPHashBalance(t *testing.T) {
	var srvs []*httpServer
	for _, n := range []string{"s1", "s2", "s3", "s4"} {
		srvs = append(srvs, startHTTPServer(t, n, nil))
	}
	servers := ""
	for i, s := range srvs {
		servers += fmt.Sprintf("    server s%d %s weight %d\n", i+1, s.addr(), 10*(i+1))
	}
	conf := func(ports [3]int) string {
		return httpDefaults + fmt.Sprintf(`
listen uri
    bind 127.0.0.1:%d
    balance uri
%s
listen param
    bind 127.0.0.1:%d
    balance url_param id
    hash-type consistent
%s
listen hdr
    bind 127.0.0.1:%d
    balance hdr(X-Key)
    hash-type map-based djb2
%s
`, ports[0], servers, ports[1], servers, ports[2], servers)
	}
	three := func() [3]int { return [3]int{freePort(t), freePort(t), freePort(t)} }
	lbPorts := three()
	startLB(t, "-db", "-f", writeConfig(t, conf(lbPorts)))
	ask := func(port int, path, key string) string {
		c := dialHTTP(t, fmt.Sprintf("127.0.0.1:%d", port))
		c.send("GET " + path + " HTTP/1.1\r\nHost: a\r\nX-Key: " + key + "\r\nConnection: close\r\n\r\n")
		_, body := c.response()
		name, _, _ := strings.Cut(body, " ")
		return name
	}
	var haPorts [3]int
	if hap, ok := haproxyPath(); ok {
		haPorts = three()
		startProc(t, hap, "-db", "-f", writeConfig(t, conf(haPorts)))
		for _, p := range haPorts {
			waitListen(t, fmt.Sprintf("127.0.0.1:%d", p))
		}
	}
	for i := 0; i < 40; i++ {
		key := fmt.Sprintf("k%d", i*7919)
		for j, path := range []string{"/" + key + "/x?y=1", "/p?a=1&id=" + key, "/h"} {
			got := ask(lbPorts[j], path, key)
			if again := ask(lbPorts[j], path, key); again != got || got == "" {
				t.Fatalf("%s key %s: %q then %q", path, key, got, again)
			}
			if haPorts[0] != 0 {
				if want := ask(haPorts[j], path, key); want != got {
					t.Errorf("%s key %s: lb chose %s, HAProxy %s", path, key, got, want)
				}
			}
		}
	}
}

// TestHTTPErrorFiles: errorfile replaces HAProxy's page for its status, in a frontend or a
// backend (the backend's wins for its requests), sent as HAProxy 2.6 sends it: parsed, field
// names lowered, Connection dropped, an HTTP/1.0 file without length closing the connection;
// a request lb cannot parse still gets the built-in 400 (the H1 layer answers it).
func TestHTTPErrorFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f503 := write("503.http", "HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<h1>down</h1>\n")
	f403 := write("403.http", "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nX-Custom: Yes\r\n\r\nno\n")
	f400 := write("400.http", "HTTP/1.1 400 Bad\r\nContent-Length: 4\r\n\r\nbad\n")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    errorfile 403 %s
    errorfile 400 %s
    http-request deny if { path /deny }
    use_backend be403 if { path /be }
    default_backend nosrv
backend nosrv
    errorfile 503 %s
    server s1 127.0.0.1:9 disabled
backend be403
    errorfile 403 %s
    http-request deny
    server s1 127.0.0.1:9 disabled
`, addr, f403, f400, f503, f503))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		for _, tc := range []struct{ req, want string }{
			{"GET /x HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.0 503 Service Unavailable\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<h1>down</h1>\n"},
			{"GET /deny HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 3\r\nx-custom: Yes\r\n\r\nno\n"},
			{"GET /be HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.0 503 Service Unavailable\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<h1>down</h1>\n"},
			{"GET / HTTP/1.1\r\nHo st: a\r\n\r\n", "HTTP/1.1 400 Bad request\r\nContent-length: 90\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"},
		} {
			c := dialHTTP(t, addr)
			c.send(tc.req + "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
			got, _ := io.ReadAll(c.br)
			if !strings.HasPrefix(string(got), tc.want) {
				t.Errorf("%q:\n got %q\nwant %q", tc.req, got, tc.want)
			}
		}
	})
}

// TestHTTPUniqueID: unique-id-format makes an id per request, unique-id-header sends it to the
// server, and %ID logs it; each request of a keep-alive connection is a stream of its own with
// its own %rt, as in HAProxy 2.6 (run on both).
func TestHTTPUniqueID(t *testing.T) {
	srv := startHTTPServer(t, "s", nil)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`
global
    log stdout format raw local0
defaults
    mode http
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen l
    bind %s
    unique-id-format %%{+X}o\ %%ci:%%cp_%%fi:%%fp_%%rt
    unique-id-header X-Unique-ID
    log-format "id=%%ID %%HP"
    server s1 %s
`, addr, srv.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		c := dialHTTP(t, addr)
		la := c.c.LocalAddr().(*net.TCPAddr)
		_, port, _ := net.SplitHostPort(addr)
		var p int
		fmt.Sscan(port, &p)
		prefix := fmt.Sprintf("7F000001:%04X_7F000001:%04X_", la.Port, p)
		var rts []int
		for _, path := range []string{"/one", "/two"} {
			c.send("GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n")
			_, body := c.response()
			var id string
			for _, l := range strings.Split(body, "\n") {
				if v, ok := strings.CutPrefix(l, "X-Unique-Id: "); ok {
					id = v
				}
			}
			rest, ok := strings.CutPrefix(id, prefix)
			var rt int
			if _, err := fmt.Sscanf(rest, "%X", &rt); !ok || err != nil {
				t.Fatalf("%s: unique id %q; want %s<rt>", path, id, prefix)
			}
			rts = append(rts, rt)
			want := "id=" + id + " " + path
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(out.String(), want) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond) // polling a log: there is no other signal
			}
			if !strings.Contains(out.String(), want) {
				t.Errorf("log has no %q:\n%s", want, out.String())
			}
		}
		// Each request has a number of its own (another connection's stream, such as
		// the readiness probe's, may take the one between).
		if rts[1] <= rts[0] {
			t.Errorf("%%rt of two requests on one connection: %d, %d; want increasing", rts[0], rts[1])
		}
	})
}

// TestHTTPStatsInFrontend: a statistics page enabled in a frontend that has a backend (from a
// defaults section, as real configurations often have it) answers its URI before the backend
// is chosen; other requests go to the backend (lb and haproxy).
func TestHTTPStatsInFrontend(t *testing.T) {
	app := startHTTPServer(t, "app", nil)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
    stats enable
    stats uri /st
frontend fe
    bind %s
    default_backend be
backend be
    server s1 %s
`, addr, app.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		c := dialHTTP(t, addr)
		c.send("GET /st;csv HTTP/1.1\r\nHost: h\r\n\r\n")
		head, body := c.response()
		if !strings.HasPrefix(head, "HTTP/1.1 200") || !strings.HasPrefix(body, "# pxname,svname,") || !strings.Contains(body, "\nfe,FRONTEND,") {
			t.Errorf("GET /st;csv: %q\n%s", head, body)
		}
		c.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
		if _, body := c.response(); !strings.HasPrefix(body, "app GET /x") {
			t.Errorf("GET /x did not reach the backend: %q", body)
		}
	})
}

// TestHTTPCookieRedispatch: a request sent to its cookie's server, which refuses the
// connection (not yet marked DOWN: no checks), goes to another server on the last retry with
// option redispatch, as in HAProxy (lb and haproxy).
func TestHTTPCookieRedispatch(t *testing.T) {
	s2 := startHTTPServer(t, "s2", nil)
	dead := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
listen l
    bind %s
    timeout connect 500ms
    retries 1
    option redispatch
    cookie SRV insert indirect
    server s1 %s cookie c1
    server s2 %s cookie c2
`, addr, dead, s2.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		c := dialHTTP(t, addr)
		c.send("GET /x HTTP/1.1\r\nHost: h\r\nCookie: SRV=c1\r\n\r\n")
		head, body := c.response()
		if !strings.HasPrefix(head, "HTTP/1.1 200") || !strings.HasPrefix(body, "s2 GET /x") {
			t.Errorf("cookie of a refusing server: %q %q; want s2's answer", head, body)
		}
		if !strings.Contains(strings.ToLower(head), "set-cookie: srv=c2") {
			t.Errorf("no new cookie for s2: %q", head)
		}
	})
}

// TestHTTPVarScopes: on a keep-alive connection, txn variables end with their request and
// sess variables last as long as the connection, as do the counters a tcp-request rule
// tracks, across a request that comes after the client was parked, silent, between two
// requests (lb and haproxy).
func TestHTTPVarScopes(t *testing.T) {
	srv := startHTTPServer(t, "s", nil)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
listen l
    bind %s
    stick-table type ip size 10 store http_req_cnt
    tcp-request connection track-sc0 src
    http-request set-var(txn.a) str(x) if { path /set }
    http-request set-var(sess.b) str(y) if { path /set }
    http-response set-header X-A "%%[var(txn.a)]"
    http-response set-header X-B "%%[var(sess.b)]"
    http-response set-header X-N "%%[sc0_http_req_cnt]"
    server s1 %s
`, addr, srv.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		c := dialHTTP(t, addr)
		// The count goes on from what the harness's own requests left (HAProxy's start
		// is awaited with one).
		n0 := -1
		for i, tc := range []struct{ path, a, b string }{{"/set", "x", "y"}, {"/next", "", "y"}, {"/later", "", "y"}} {
			if tc.path == "/later" {
				// Silent long enough to be parked (lb waits 50 ms on the goroutine first).
				time.Sleep(300 * time.Millisecond)
			}
			c.send("GET " + tc.path + " HTTP/1.1\r\nHost: h\r\n\r\n")
			head, _ := c.response()
			h := strings.ToLower(head)
			if n0 < 0 {
				if _, v, ok := strings.Cut(h, "x-n: "); ok {
					fmt.Sscan(v, &n0)
				}
			}
			if !strings.Contains(h, "x-a: "+tc.a+"\r\n") || !strings.Contains(h, "x-b: "+tc.b+"\r\n") ||
				n0 < 1 || !strings.Contains(h, fmt.Sprintf("x-n: %d\r\n", n0+i)) {
				t.Errorf("%s: want x-a %q, x-b %q and x-n %d in\n%s", tc.path, tc.a, tc.b, n0+i, head)
			}
		}
	})
}

// TestHTTPConnect: a CONNECT request is forwarded, and the server's 2xx turns the connection
// into a tunnel both ways (lb and haproxy).
func TestHTTPConnect(t *testing.T) {
	srv := startRawServer(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			l, err := br.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		line, _ := br.ReadString('\n')
		io.WriteString(c, "tunnel:"+line)
	})
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
listen l
    bind %s
    timeout tunnel 10s
    server s1 %s
`, addr, srv))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		c := dialHTTP(t, addr)
		c.send("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
		var head string
		for {
			l, err := c.br.ReadString('\n')
			if err != nil {
				t.Fatalf("CONNECT response: %v after %q", err, head)
			}
			if head += l; l == "\r\n" {
				break
			}
		}
		if !strings.HasPrefix(head, "HTTP/1.1 200 ") {
			t.Fatalf("CONNECT: %q", head)
		}
		c.send("hello\n")
		if line, err := c.br.ReadString('\n'); err != nil || line != "tunnel:hello\n" {
			t.Errorf("through the tunnel: %q, %v", line, err)
		}
	})
}
