package loopback

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The HTTP keywords of the configuration, each shown through the real binary with real
// traffic: the http-request and http-response actions, the connection modes, the HTTP
// timeouts, the accept-invalid options, and the captures in the httplog line. Each test runs
// lb, then HAProxy 2.6 when it is installed, on the same configuration and with the same
// expectations, so that what is checked is HAProxy's behaviour.

// onLBAndHAProxy runs check against lb started on cfg, then against HAProxy when it is installed
// (addr is a frontend address of cfg, to know when HAProxy listens). out is the process's
// standard output and error.
func onLBAndHAProxy(t *testing.T, cfg, addr string, check func(t *testing.T, out *outFile)) {
	t.Helper()
	t.Run("lb", func(t *testing.T) {
		p := startLB(t, "-db", "-f", cfg)
		check(t, p.out)
	})
	t.Run("haproxy", func(t *testing.T) {
		out := startHAProxyArgs(t, addr, "-db", "-f", cfg)
		check(t, out)
	})
}

// respFields returns the header fields of a response head by lower-case name.
func respFields(head string) map[string][]string {
	m := map[string][]string{}
	for _, l := range strings.Split(head, "\r\n")[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			k = strings.ToLower(k)
			m[k] = append(m[k], strings.TrimSpace(v))
		}
	}
	return m
}

// respStatusLine is the first line of a response head.
func respStatusLine(head string) string {
	l, _, _ := strings.Cut(head, "\r\n")
	return l
}

// TestHTTPRequestActions: each http-request action changes what the server receives (or
// answers in its place), selected by the client's X-T field; the redirect lines too.
func TestHTTPRequestActions(t *testing.T) {
	app := startHTTPServer(t, "app", nil)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    http-request add-header X-Add added if { req.hdr(x-t) -m str add }
    http-request set-header X-Set set if { req.hdr(x-t) -m str set }
    http-request del-header X-Del if { req.hdr(x-t) -m str del }
    http-request replace-header X-Rh ^(.*)$ <\1> if { req.hdr(x-t) -m str replace-header }
    http-request replace-value X-Rv ^a$ z if { req.hdr(x-t) -m str replace-value }
    http-request set-path /new%%[path] if { req.hdr(x-t) -m str set-path }
    http-request set-pathq /pq?z=1 if { req.hdr(x-t) -m str set-pathq }
    http-request set-query y=2 if { req.hdr(x-t) -m str set-query }
    http-request set-uri /u2?k=v if { req.hdr(x-t) -m str set-uri }
    http-request replace-path ^/rp/(.*) /x/\1 if { req.hdr(x-t) -m str replace-path }
    http-request replace-pathq ^/rpq/(.*) /y/\1&more if { req.hdr(x-t) -m str replace-pathq }
    http-request replace-uri ^/ru/(.*) /z/\1 if { req.hdr(x-t) -m str replace-uri }
    http-request set-method PUT if { req.hdr(x-t) -m str set-method }
    http-request allow if { req.hdr(x-t) -m str allow }
    http-request deny deny_status 429 if { req.hdr(x-t) -m str allow deny }
    http-request return status 200 content-type text/plain string returned hdr X-R 1 if { req.hdr(x-t) -m str return }
    http-request redirect location /elsewhere code 301 if { req.hdr(x-t) -m str location }
    http-request redirect prefix /v2 if { req.hdr(x-t) -m str prefix }
    http-request redirect scheme https if { req.hdr(x-t) -m str scheme }
    redirect location /legacy if { req.hdr(x-t) -m str legacy }
    default_backend be
backend be
    http-request set-header X-Be be
    server s1 %s
`, addr, app.addr()))
	forwarded := []struct {
		test, uri, extra string
		want             []string // lines of what the server received
		not              string   // what it must not have received
	}{
		{"add", "/a", "X-Add: client\r\n", []string{"app GET /a\n", "X-Add: client\nX-Add: added\n"}, ""},
		{"set", "/a", "X-Set: client\r\n", []string{"X-Set: set\n"}, "client"},
		{"del", "/a", "X-Del: client\r\n", []string{"app GET /a\n"}, "X-Del"},
		{"replace-header", "/a", "X-Rh: a, b\r\n", []string{"X-Rh: <a, b>\n"}, ""},
		{"replace-value", "/a", "X-Rv: a, b\r\n", []string{"X-Rv: z, b\n"}, ""},
		{"set-path", "/p?q=1", "", []string{"app GET /new/p?q=1\n"}, ""},
		{"set-pathq", "/p?q=1", "", []string{"app GET /pq?z=1\n"}, ""},
		{"set-query", "/p?x=1", "", []string{"app GET /p?y=2\n"}, ""},
		{"set-uri", "/p?x=1", "", []string{"app GET /u2?k=v\n"}, ""},
		{"replace-path", "/rp/abc?q", "", []string{"app GET /x/abc?q\n"}, ""},
		{"replace-pathq", "/rpq/a?b=1", "", []string{"app GET /y/a?b=1&more\n"}, ""},
		{"replace-uri", "/ru/q", "", []string{"app GET /z/q\n"}, ""},
		{"set-method", "/a", "", []string{"app PUT /a\n"}, ""},
		{"allow", "/a", "", []string{"app GET /a\n", "X-Be: be\n"}, ""}, // the frontend's allow: the backend's rules still run
		{"none", "/a", "X-Set: client\r\nX-Del: client\r\n", []string{"app GET /a\n", "X-Set: client\n", "X-Del: client\n"}, "added"},
	}
	answered := []struct {
		test, uri string
		status    string
		fields    map[string]string
		body      string
	}{
		{"deny", "/a", "HTTP/1.1 429 Too Many Requests", nil, ""},
		{"return", "/a", "HTTP/1.1 200 OK", map[string]string{"content-type": "text/plain", "x-r": "1"}, "returned"},
		{"location", "/a", "HTTP/1.1 301 Moved Permanently", map[string]string{"location": "/elsewhere"}, ""},
		{"prefix", "/a/b?c", "HTTP/1.1 302 Found", map[string]string{"location": "/v2/a/b?c"}, ""},
		{"scheme", "/s?q", "HTTP/1.1 302 Found", map[string]string{"location": "https://h.example/s?q"}, ""},
		{"legacy", "/a", "HTTP/1.1 302 Found", map[string]string{"location": "/legacy"}, ""},
	}
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		c := dialHTTP(t, addr)
		for _, tc := range forwarded {
			c.send("GET " + tc.uri + " HTTP/1.1\r\nHost: h.example\r\nX-T: " + tc.test + "\r\n" + tc.extra + "\r\n")
			head, body := c.response()
			if respStatusLine(head) != "HTTP/1.1 200 OK" {
				t.Errorf("%s: %q", tc.test, head)
				continue
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s: the server received\n%s\nwant %q in it", tc.test, body, w)
				}
			}
			if tc.not != "" && strings.Contains(body, tc.not) {
				t.Errorf("%s: the server received\n%s\nwant no %q in it", tc.test, body, tc.not)
			}
		}
		for _, tc := range answered {
			c.send("GET " + tc.uri + " HTTP/1.1\r\nHost: h.example\r\nX-T: " + tc.test + "\r\n\r\n")
			head, body := c.response()
			if got := respStatusLine(head); got != tc.status {
				t.Errorf("%s: status %q; want %q", tc.test, got, tc.status)
			}
			f := respFields(head)
			for k, v := range tc.fields {
				if got := strings.Join(f[k], ","); got != v {
					t.Errorf("%s: %s %q; want %q (head %q)", tc.test, k, got, v, head)
				}
			}
			if tc.body != "" && body != tc.body {
				t.Errorf("%s: body %q; want %q", tc.test, body, tc.body)
			}
			if strings.HasPrefix(body, "app ") {
				t.Errorf("%s: the server answered", tc.test)
			}
		}
	})
}

// TestHTTPResponseActions: each http-response action changes what the client receives of
// the server's response, selected by the X-T field the server copies from the request.
func TestHTTPResponseActions(t *testing.T) {
	srv := startHTTPServer(t, "srv", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-T", r.Header.Get("X-T"))
		h.Set("X-Set", "server")
		h.Set("X-Del", "server")
		h.Set("X-Rh", "a, b")
		h.Set("X-Rv", "a, b")
		h.Set("Content-Type", "text/plain")
		io.WriteString(w, "from the server")
	})
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    default_backend be
backend be
    http-response set-header X-Set set
    http-response add-header X-Add added
    http-response del-header X-Del
    http-response replace-header X-Rh ^(.*)$ <\1>
    http-response replace-value X-Rv ^a$ z
    http-response set-status 299 reason Fine if { res.hdr(x-t) -m str status }
    http-response deny deny_status 403 if { res.hdr(x-t) -m str deny }
    http-response deny if { res.hdr(x-t) -m str deny-default }
    http-response return status 200 content-type text/plain string replaced if { res.hdr(x-t) -m str return }
    http-response redirect location /moved if { res.hdr(x-t) -m str redirect }
    http-response allow if { res.hdr(x-t) -m str allow }
    http-response set-header X-Late late
    server s1 %s
`, addr, srv.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		c := dialHTTP(t, addr)
		get := func(test string) (string, map[string][]string, string) {
			c.send("GET /a HTTP/1.1\r\nHost: h\r\nX-T: " + test + "\r\n\r\n")
			head, body := c.response()
			return respStatusLine(head), respFields(head), body
		}
		status, f, body := get("fields")
		if status != "HTTP/1.1 200 OK" || body != "from the server" {
			t.Errorf("fields: %q %q", status, body)
		}
		for k, want := range map[string]string{"x-set": "set", "x-add": "added", "x-del": "",
			"x-rh": "<a, b>", "x-rv": "z, b", "x-late": "late"} {
			if got := strings.Join(f[k], ","); got != want {
				t.Errorf("fields: %s %q; want %q", k, got, want)
			}
		}
		if status, _, _ := get("status"); status != "HTTP/1.1 299 Fine" {
			t.Errorf("set-status: %q", status)
		}
		if status, f, _ := get("allow"); status != "HTTP/1.1 200 OK" || len(f["x-late"]) != 0 || len(f["x-set"]) != 1 {
			t.Errorf("allow: %q %v; want 200, the rules before allow applied and none after", status, f)
		}
		for _, tc := range []struct{ test, status, field, value, body string }{
			{"deny", "HTTP/1.1 403 Forbidden", "", "", ""},
			{"deny-default", "HTTP/1.1 502 Bad Gateway", "", "", ""},
			{"return", "HTTP/1.1 200 OK", "content-type", "text/plain", "replaced"},
			{"redirect", "HTTP/1.1 302 Found", "location", "/moved", ""},
		} {
			// A rule that answers in the server's place: on a connection of its own, as
			// whether the client connection stays open after it is not what is checked.
			c = dialHTTP(t, addr)
			status, f, body := get(tc.test)
			if status != tc.status {
				t.Errorf("%s: status %q; want %q", tc.test, status, tc.status)
			}
			if tc.field != "" && strings.Join(f[tc.field], ",") != tc.value {
				t.Errorf("%s: %s %v; want %q", tc.test, tc.field, f[tc.field], tc.value)
			}
			if tc.body != "" && body != tc.body {
				t.Errorf("%s: body %q; want %q", tc.test, body, tc.body)
			}
			if body == "from the server" {
				t.Errorf("%s: the server's body reached the client", tc.test)
			}
		}
	})
}

// TestHTTPAfterResponseActions: the http-after-response actions change the response the
// client receives, the server's and lb's own (a deny) alike; the backend's rules run before
// the frontend's; allow stops the rules after it.
func TestHTTPAfterResponseActions(t *testing.T) {
	srv := startHTTPServer(t, "srv", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-T", r.Header.Get("X-T"))
		h.Set("X-Set", "server")
		h.Set("X-Del", "server")
		h.Set("X-Rh", "a, b")
		h.Set("X-Rv", "a, b")
		io.WriteString(w, "from the server")
	})
	addr, allowAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    http-request deny if { req.hdr(x-t) -m str deny }
    http-after-response set-header X-Fe fe
    http-after-response set-header X-Order fe-saw-%%[res.hdr(x-set)]
    default_backend be
backend be
    http-after-response set-header X-Set set
    http-after-response add-header X-Add added
    http-after-response del-header X-Del
    http-after-response replace-header X-Rh ^(.*)$ <\1>
    http-after-response replace-value X-Rv ^a$ z
    http-after-response set-status 298 if { res.hdr(x-t) -m str status }
    http-after-response set-header X-Late late
    server s1 %s
listen l_allow
    bind %s
    http-after-response set-header X-Set set
    http-after-response allow if { res.hdr(x-t) -m str allow }
    http-after-response set-header X-Late late
    server s1 %s
`, addr, srv.addr(), allowAddr, srv.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		c := dialHTTP(t, addr)
		get := func(test string) (string, map[string][]string, string) {
			c.send("GET /a HTTP/1.1\r\nHost: h\r\nX-T: " + test + "\r\n\r\n")
			head, body := c.response()
			return respStatusLine(head), respFields(head), body
		}
		fieldsAre := func(test string, f map[string][]string, want map[string]string) {
			for k, v := range want {
				if got := strings.Join(f[k], ","); got != v {
					t.Errorf("%s: %s %q; want %q", test, k, got, v)
				}
			}
		}
		status, f, body := get("fields")
		if status != "HTTP/1.1 200 OK" || body != "from the server" {
			t.Errorf("fields: %q %q", status, body)
		}
		fieldsAre("fields", f, map[string]string{"x-set": "set", "x-add": "added", "x-del": "",
			"x-rh": "<a, b>", "x-rv": "z, b", "x-late": "late", "x-fe": "fe", "x-order": "fe-saw-set"})
		if status, _, _ := get("status"); !strings.HasPrefix(status, "HTTP/1.1 298 ") {
			t.Errorf("set-status: %q", status)
		}
		status, f, _ = get("deny")
		if status != "HTTP/1.1 403 Forbidden" {
			t.Errorf("deny: %q", status)
		}
		fieldsAre("deny", f, map[string]string{"x-fe": "fe", "x-set": ""})
		// allow stops the rules of its section. (In a backend, HAProxy still runs the
		// frontend's rules after it, which lb does not: lb refuses that case, see
		// internal/plane.TestCheckHTTPRefuses.)
		c = dialHTTP(t, allowAddr)
		for _, tc := range []struct{ test, late string }{{"allow", ""}, {"other", "late"}} {
			status, f, _ = get(tc.test)
			if status != "HTTP/1.1 200 OK" {
				t.Errorf("%s: %q", tc.test, status)
			}
			fieldsAre(tc.test, f, map[string]string{"x-set": "set", "x-late": tc.late})
		}
	})
}

// TestHTTPConnectionModes: option http-server-close closes the server connection after each
// response and keeps the client's; option httpclose closes both; option http-keep-alive, set
// in the proxies over a defaults section's httpclose, keeps both.
func TestHTTPConnectionModes(t *testing.T) {
	sc, cl, ka := startHTTPServer(t, "sc", nil), startHTTPServer(t, "cl", nil), startHTTPServer(t, "ka", nil)
	p1, p2, p3 := freePort(t), freePort(t), freePort(t)
	a1, a2, a3 := fmt.Sprintf("127.0.0.1:%d", p1), fmt.Sprintf("127.0.0.1:%d", p2), fmt.Sprintf("127.0.0.1:%d", p3)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe_sc
    bind %s
    option http-server-close
    default_backend be_sc
backend be_sc
    server s1 %s
frontend fe_close
    bind %s
    option httpclose
    default_backend be_close
backend be_close
    server s1 %s
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    option httpclose
frontend fe_ka
    bind %s
    option http-keep-alive
    default_backend be_ka
backend be_ka
    option http-keep-alive
    server s1 %s
`, a1, sc.addr(), a2, cl.addr(), a3, ka.addr()))
	onLBAndHAProxy(t, cfg, a1, func(t *testing.T, _ *outFile) {
		twice := func(addr string) *httpClient {
			c := dialHTTP(t, addr)
			for i := 0; i < 2; i++ {
				c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
				head, _ := c.response()
				if respStatusLine(head) != "HTTP/1.1 200 OK" {
					t.Fatalf("%s request %d: %q", addr, i, head)
				}
				if i == 0 && strings.Contains(strings.ToLower(head), "connection: close") {
					return c
				}
			}
			return c
		}
		before := sc.conns.Load()
		c := twice(a1)
		if n := sc.conns.Load() - before; n != 2 {
			t.Errorf("http-server-close: the server accepted %d connections for 2 requests; want 2", n)
		}
		if c.closed() {
			t.Error("http-server-close: the client connection was closed")
		}

		c = dialHTTP(t, a2)
		c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		head, _ := c.response()
		if respStatusLine(head) != "HTTP/1.1 200 OK" || !strings.Contains(strings.ToLower(head), "connection: close") {
			t.Errorf("httpclose: %q; want a 200 with connection: close", head)
		}
		if !c.closed() {
			t.Error("httpclose: the client connection stayed open")
		}

		before = ka.conns.Load()
		c = twice(a3)
		if n := ka.conns.Load() - before; n != 1 {
			t.Errorf("http-keep-alive: the server accepted %d connections for 2 requests; want 1", n)
		}
		if c.closed() {
			t.Error("http-keep-alive: the client connection was closed")
		}
	})
}

// TestHTTPTimeouts: timeout http-request answers a client that does not finish its request
// head in time with 408; timeout http-keep-alive closes a client connection idle after a
// response. Both are far shorter than timeout client (5s), which would otherwise apply.
func TestHTTPTimeouts(t *testing.T) {
	app := startHTTPServer(t, "app", nil)
	p1, p2 := freePort(t), freePort(t)
	a1, a2 := fmt.Sprintf("127.0.0.1:%d", p1), fmt.Sprintf("127.0.0.1:%d", p2)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe_req
    bind %s
    timeout http-request 300ms
    default_backend be
frontend fe_ka
    bind %s
    timeout http-keep-alive 300ms
    default_backend be
backend be
    server s1 %s
`, a1, a2, app.addr()))
	onLBAndHAProxy(t, cfg, a1, func(t *testing.T, _ *outFile) {
		c := dialHTTP(t, a1)
		start := time.Now()
		c.send("GET / HTTP/1.1\r\nHost: h\r\n")
		got, _ := io.ReadAll(c.br)
		if !strings.HasPrefix(string(got), "HTTP/1.1 408 ") {
			t.Errorf("timeout http-request: got %q; want a 408", got)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("timeout http-request: answered after %s", d)
		}

		c = dialHTTP(t, a2)
		c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		if head, _ := c.response(); respStatusLine(head) != "HTTP/1.1 200 OK" {
			t.Fatalf("timeout http-keep-alive: %q", head)
		}
		if !c.closed() { // within a second
			t.Error("timeout http-keep-alive: the idle client connection was not closed within a second")
		}
	})
}

// rawHeadServer is a backend that reads one request head and answers 200 with it as the body,
// with the extra response field lines, then closes.
func rawHeadServer(t *testing.T, extra string) string {
	t.Helper()
	return startRawServer(t, func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		var head strings.Builder
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(l)
			if l == "\r\n" {
				break
			}
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n%s", head.Len(), extra, head.String())
	})
}

// TestHTTPAcceptInvalid: option accept-invalid-http-request lets a request with an invalid
// header name through (a 400 without it); option accept-invalid-http-response lets a
// response with one through (a 502 without it).
func TestHTTPAcceptInvalid(t *testing.T) {
	good, bad := rawHeadServer(t, ""), rawHeadServer(t, "X[Bad]: 1\r\n")
	p := [4]int{freePort(t), freePort(t), freePort(t), freePort(t)}
	var a [4]string
	for i := range p {
		a[i] = fmt.Sprintf("127.0.0.1:%d", p[i])
	}
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe_invalid
    bind %s
    option accept-invalid-http-request
    default_backend be_good
frontend fe_strict
    bind %s
    default_backend be_good
backend be_good
    server s1 %s
listen l_invalid
    bind %s
    option accept-invalid-http-response
    server s1 %s
listen l_strict
    bind %s
    server s1 %s
`, a[0], a[1], good, a[2], bad, a[3], bad))
	onLBAndHAProxy(t, cfg, a[0], func(t *testing.T, _ *outFile) {
		for _, tc := range []struct {
			addr, req, status, body, field string
		}{
			{a[0], "X[Bad]: 1\r\n", "HTTP/1.1 200 OK", "x[bad]: 1\r\n", ""},
			{a[1], "X[Bad]: 1\r\n", "HTTP/1.1 400 Bad request", "", ""},
			{a[2], "", "HTTP/1.1 200 OK", "", "x[bad]"},
			{a[3], "", "HTTP/1.1 502 Bad Gateway", "", ""},
		} {
			c := dialHTTP(t, tc.addr)
			c.send("GET / HTTP/1.1\r\nHost: h\r\n" + tc.req + "\r\n")
			head, body := c.response()
			if respStatusLine(head) != tc.status {
				t.Errorf("%s: %q; want %q", tc.addr, head, tc.status)
			}
			if tc.body != "" && !strings.Contains(strings.ToLower(body), tc.body) {
				t.Errorf("%s: the server received\n%s\nwant %q in it", tc.addr, body, tc.body)
			}
			if tc.field != "" && len(respFields(head)[tc.field]) != 1 {
				t.Errorf("%s: head %q; want its %s field", tc.addr, head, tc.field)
			}
		}
	})
}

// TestHTTPLogCaptures: option httplog prints HAProxy's HTTP log line, with the request and
// response fields "capture request header" and "capture response header" name, cut at their
// length, between braces.
func TestHTTPLogCaptures(t *testing.T) {
	app := startHTTPServer(t, "app", nil)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    option httplog
    capture request header Host len 8
    capture request header X-None len 8
    capture response header Content-Type len 20
    default_backend be
backend be
    server s1 %s
`, addr, app.addr()))
	line := regexp.MustCompile(`(?m)^127\.0\.0\.1:\d+ \[[^]]+\] fe be/s1 \d+/\d+/\d+/\d+/\d+ 200 \d+ - - ---- \d+/\d+/\d+/\d+/0 0/0 \{capture\.\|\} \{text/plain\} "GET /cap HTTP/1\.1"$`)
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		c := dialHTTP(t, addr)
		c.send("GET /cap HTTP/1.1\r\nHost: capture.example\r\n\r\n")
		if head, _ := c.response(); respStatusLine(head) != "HTTP/1.1 200 OK" {
			t.Fatalf("%q", head)
		}
		deadline := time.Now().Add(3 * time.Second)
		for !line.MatchString(out.String()) {
			if time.Now().After(deadline) {
				t.Fatalf("no httplog line with the captures; output:\n%s", out.String())
			}
			time.Sleep(20 * time.Millisecond) // polling a log: there is no other signal
		}
	})
}

// TestHTTPBackendAllow: an "allow" in a backend's http-response or http-after-response rules
// stops that backend's rules only: the frontend's rules of the same set still run after it,
// in HAProxy 2.6.12 as in lb. Also set-var in http-request and set-log-level silent.
func TestHTTPBackendAllow(t *testing.T) {
	srv := startHTTPServer(t, "s", nil)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    http-request set-var(txn.p) path
    http-response set-header X-Fe-Res %%[var(txn.p)]
    http-after-response set-header X-Fe-After fe
    default_backend be
backend be
    http-response allow
    http-response set-header X-Be-Late late
    http-after-response allow
    http-after-response set-header X-Be-Late-After late
    server s1 %s
`, addr, srv.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		c := dialHTTP(t, addr)
		c.send("GET /v HTTP/1.1\r\nHost: h\r\n\r\n")
		head, _ := c.response()
		h := strings.ToLower(head)
		for _, want := range []string{"x-fe-res: /v\r\n", "x-fe-after: fe\r\n"} {
			if !strings.Contains(h, want) {
				t.Errorf("response lacks %q (the frontend's rules after the backend's allow):\n%s", want, head)
			}
		}
		if strings.Contains(h, "x-be-late") {
			t.Errorf("the backend's rules ran after its allow:\n%s", head)
		}
	})
}

// TestHTTPVarsAndLogLevel: set-var and unset-var in each HTTP rule set, read back by later
// rules, and set-log-level in http-request and http-response (2.6 has none in
// http-after-response): "silent" drops the request's log line, a level sets its priority
// (local0 + err = <131> in the rfc3164 header).
func TestHTTPVarsAndLogLevel(t *testing.T) {
	srv := startHTTPServer(t, "s", nil)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`
global
    log stdout format rfc3164 local0
defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen l
    bind %s
    http-request set-var(txn.a) str(x)
    http-request set-var(txn.p) path
    http-request unset-var(txn.a) if { path /unset }
    http-request set-log-level silent if { path /quiet }
    http-request set-log-level err if { path /err }
    http-response set-var(txn.ct) res.hdr(content-type)
    http-response unset-var(txn.ct) if { var(txn.p) -m str /unset }
    http-response set-header X-A "%%[var(txn.a)]"
    http-response set-log-level err if { var(txn.p) -m str /rerr }
    http-after-response set-var(txn.z) str(zz)
    http-after-response unset-var(txn.z) if { var(txn.p) -m str /unset }
    http-after-response set-header X-Ct "%%[var(txn.ct)]"
    http-after-response set-header X-Z "%%[var(txn.z)]"
    server s1 %s
`, addr, srv.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		get := func(path string) string {
			c := dialHTTP(t, addr)
			c.send("GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n")
			head, _ := c.response()
			return strings.ToLower(head)
		}
		h := get("/keep")
		for _, want := range []string{"x-a: x\r\n", "x-ct: text/plain\r\n", "x-z: zz\r\n"} {
			if !strings.Contains(h, want) {
				t.Errorf("/keep: no %q in\n%s", want, h)
			}
		}
		h = get("/unset")
		for _, want := range []string{"x-a: \r\n", "x-ct: \r\n", "x-z: \r\n"} {
			if !strings.Contains(h, want) {
				t.Errorf("/unset: no %q in\n%s", want, h)
			}
		}
		for _, p := range []string{"/quiet", "/err", "/rerr", "/last"} {
			get(p)
		}
		// Every line expected, not the last request's only: haproxy's threads
		// may write them out of order.
		logged := func() bool {
			s := out.String()
			return strings.Contains(s, "GET /last ") && strings.Contains(s, "GET /err ") && strings.Contains(s, "GET /rerr ")
		}
		deadline := time.Now().Add(5 * time.Second)
		for !logged() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond) // polling a log: there is no other signal
		}
		log := out.String()
		if strings.Contains(log, "GET /quiet ") {
			t.Errorf("set-log-level silent: /quiet was logged:\n%s", log)
		}
		for _, p := range []string{"/err", "/rerr"} {
			found := false
			for _, l := range strings.Split(log, "\n") {
				if strings.Contains(l, "GET "+p+" ") {
					found = true
					if !strings.HasPrefix(l, "<131>") {
						t.Errorf("set-log-level err for %s: %q; want priority <131>", p, l)
					}
				}
			}
			if !found {
				t.Errorf("%s not logged:\n%s", p, log)
			}
		}
	})
}
