package loopback

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Cookie persistence ("cookie" in a backend, "cookie" on its servers), through the real
// binary and against HAProxy 2.6 with the same expectations: the Set-Cookie inserted,
// rewritten or prefixed byte for byte, the requests that stick, what the server receives,
// and the cookie states of %tsc in the httplog lines.

// cookieServer answers with its name, then the Cookie fields it received, one a line; with
// ?set=V it sets its own cookie "SRV=V; Path=/", with ?cc=V it sends Cache-Control: V.
func cookieServer(t *testing.T, name string) *httpServer {
	return startHTTPServer(t, name, func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("set"); v != "" {
			w.Header().Add("Set-Cookie", "SRV="+v+"; Path=/")
		}
		if v := r.URL.Query().Get("cc"); v != "" {
			w.Header().Set("Cache-Control", v)
		}
		var b strings.Builder
		b.WriteString(name + "\n")
		for _, v := range r.Header.Values("Cookie") {
			b.WriteString("cookie: " + v + "\n")
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, b.String())
	})
}

// tscRe finds the status and the %tsc field of an httplog line.
var tscRe = regexp.MustCompile(`\] fe be/(\S+) \S+ (\d{3}) \d+ - - (\S{4}) `)

// waitTSC waits for n httplog lines in out and returns "server status tsc" of each.
func waitTSC(t *testing.T, out *outFile, n int) []string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		var got []string
		for _, m := range tscRe.FindAllStringSubmatch(out.String(), -1) {
			got = append(got, m[1]+" "+m[2]+" "+m[3])
		}
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond) // polling a log: there is no other signal
	}
}

// cookieExchange sends a GET of uri with the Cookie field cookie ("" for none) and returns
// the response's Set-Cookie and Cache-Control fields ("name: value" lines) and its body.
func cookieExchange(t *testing.T, c *httpClient, uri, cookie string) (fields []string, body string) {
	t.Helper()
	req := "GET " + uri + " HTTP/1.1\r\nHost: h\r\n"
	if cookie != "" {
		req += "Cookie: " + cookie + "\r\n"
	}
	c.send(req + "\r\n")
	head, body := c.response()
	if respStatusLine(head) != "HTTP/1.1 200 OK" {
		t.Fatalf("%s %q: %q", uri, cookie, head)
	}
	for _, l := range strings.Split(head, "\r\n") {
		k, _, _ := strings.Cut(l, ":")
		if k == "set-cookie" || k == "cache-control" {
			fields = append(fields, l)
		}
	}
	return fields, body
}

// TestCookieInsert: "cookie SRV insert indirect nocache": the first response carries the
// cookie, later requests with it stick to its server, which never sees it; a cookie naming
// a disabled server or no server is replaced; nocache marks a cacheable response private.
func TestCookieInsert(t *testing.T) {
	s1, s2, s3 := cookieServer(t, "s1"), cookieServer(t, "s2"), cookieServer(t, "s3")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    option httplog
    default_backend be
backend be
    option redispatch
    cookie SRV insert indirect nocache
    server s1 %s cookie s1
    server s2 %s cookie s2
    server s3 %s cookie s3 disabled
`, addr, s1.addr(), s2.addr(), s3.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		c := dialHTTP(t, addr)
		steps := []struct {
			uri, cookie string
			server      string // "" for either s1 or s2
			fields      []string
			seen        string // the Cookie the server receives, "" for none
		}{
			{"/", "", "s1", []string{"set-cookie: SRV=s1; path=/"}, ""},
			{"/", "SRV=s2", "s2", nil, ""},
			{"/", "a=1; SRV=s2; b=2", "s2", nil, "a=1; b=2"},
			{"/", "SRV=s2;x=1", "s2", nil, "x=1"},
			{"/?cc=max-age=60", "SRV=s1", "s1", []string{"cache-control: max-age=60"}, ""},
			{"/?cc=max-age=60", "", "", []string{"cache-control: max-age=60", "set-cookie: SRV=%s; path=/", "cache-control: private"}, ""},
			{"/", "SRV=s3", "", []string{"set-cookie: SRV=%s; path=/"}, ""}, // disabled: redispatched
			{"/", "SRV=zz", "", []string{"set-cookie: SRV=%s; path=/"}, ""},
		}
		for i, st := range steps {
			fields, body := cookieExchange(t, c, st.uri, st.cookie)
			name, _, _ := strings.Cut(body, "\n")
			if st.server != "" && name != st.server || st.server == "" && name != "s1" && name != "s2" {
				t.Errorf("step %d (%s): served by %q; want %q", i, st.cookie, name, st.server)
			}
			var want []string
			for _, f := range st.fields {
				if strings.Contains(f, "%s") {
					f = fmt.Sprintf(f, name)
				}
				want = append(want, f)
			}
			if strings.Join(fields, "\n") != strings.Join(want, "\n") {
				t.Errorf("step %d (%s): response fields\n%s\nwant\n%s", i, st.cookie, strings.Join(fields, "\n"), strings.Join(want, "\n"))
			}
			seen := ""
			if _, v, ok := strings.Cut(body, "cookie: "); ok {
				seen = strings.TrimSuffix(v, "\n")
			}
			if seen != st.seen {
				t.Errorf("step %d (%s): the server received Cookie %q; want %q", i, st.cookie, seen, st.seen)
			}
		}
		got := waitTSC(t, out, len(steps))
		want := []string{"s1 200 --NI", "s2 200 --VN", "s2 200 --VN", "s2 200 --VN", "s1 200 --VN", "* 200 --NI", "* 200 --DI", "* 200 --II"}
		if len(got) != len(want) {
			t.Fatalf("log lines %q; want %q", got, want)
		}
		for i := range want {
			if w := want[i]; got[i] != w && !(strings.HasPrefix(w, "* ") && strings.HasSuffix(got[i], w[1:])) {
				t.Errorf("log line %d: %q; want %q", i, got[i], w)
			}
		}
	})
}

// TestCookieRewritePrefix: "rewrite" replaces the value of the server's own cookie with the
// server's, "prefix" prefixes it with "VALUE~", and removes the prefix from requests.
func TestCookieRewritePrefix(t *testing.T) {
	for _, mode := range []string{"rewrite", "prefix"} {
		t.Run(mode, func(t *testing.T) {
			s1, s2 := cookieServer(t, "s1"), cookieServer(t, "s2")
			port := freePort(t)
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    option httplog
    default_backend be
backend be
    cookie SRV %s
    server s1 %s cookie s1
    server s2 %s cookie s2
`, addr, mode, s1.addr(), s2.addr()))
			onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
				c := dialHTTP(t, addr)
				fields, body := cookieExchange(t, c, "/?set=app", "")
				want := "set-cookie: SRV=s1; Path=/"
				if mode == "prefix" {
					want = "set-cookie: SRV=s1~app; Path=/"
				}
				if strings.Join(fields, "\n") != want || !strings.HasPrefix(body, "s1\n") {
					t.Errorf("first: %q %q; want %q from s1", fields, body, want)
				}
				// The cookie brings the client back to s1.
				ck, seen := "SRV=s1", "cookie: SRV=s1\n"
				if mode == "prefix" {
					ck, seen = "SRV=s1~app; o=1", "cookie: SRV=app; o=1\n"
				}
				fields, body = cookieExchange(t, c, "/", ck)
				if len(fields) != 0 || body != "s1\n"+seen {
					t.Errorf("back: %q %q; want no field and %q from s1", fields, body, seen)
				}
				// No cookie set, none changed.
				fields, body = cookieExchange(t, c, "/", "")
				if len(fields) != 0 || !strings.HasPrefix(body, "s2\n") {
					t.Errorf("third: %q %q", fields, body)
				}
				got := waitTSC(t, out, 3)
				wantLog := []string{"s1 200 --NR", "s1 200 --VN", "s2 200 --NN"}
				if strings.Join(got, "|") != strings.Join(wantLog, "|") {
					t.Errorf("log %q; want %q", got, wantLog)
				}
			})
		})
	}
}
