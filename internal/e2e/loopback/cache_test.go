package loopback

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestHTTPCache: "cache" sections with http-request cache-use and
// http-response cache-store, the same requests to lb and to haproxy: what
// the cache answers (the body says how many times the server saw the
// URL), the Age field of a hit, what it refuses to store or to serve,
// and the log line of a hit.
func TestHTTPCache(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method+r.URL.Path]++
		n := seen[r.Method+r.URL.Path]
		mu.Unlock()
		for _, h := range r.URL.Query()["h"] {
			k, v, _ := strings.Cut(h, ":")
			w.Header().Add(k, v)
		}
		if r.URL.Query().Get("big") != "" {
			fmt.Fprint(w, strings.Repeat("x", 3000))
		}
		fmt.Fprintf(w, "n=%d", n)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
    option httplog
cache c
    total-max-size 1
    max-object-size 2000
    max-age 60
listen fe
    bind %s
    http-request cache-use c
    http-response add-header X-Before b
    http-response cache-store c
    http-response add-header X-After a
    server s1 %s
`, addr, ln.Addr()))
	cc := "h=Cache-Control:max-age%3D30"
	steps := []struct {
		name, method, path, hdr string
		want                    string // body suffix
		age                     bool   // an Age field (a hit)
	}{
		{"first", "GET", "/a?" + cc, "", "n=1", false},
		{"hit", "GET", "/a?" + cc, "", "n=1", true},
		{"head hit", "HEAD", "/a?" + cc, "", "", true},
		{"no-cache request", "GET", "/a?" + cc, "Cache-Control: no-cache", "n=2", false},
		{"authorization", "GET", "/a?" + cc, "Authorization: x", "n=3", false},
		{"post invalidates", "POST", "/a?" + cc, "", "n=1", false},
		{"after post", "GET", "/a?" + cc, "", "n=4", false},
		{"hit again", "GET", "/a?" + cc, "", "n=4", true},
		{"private", "GET", "/p?h=Cache-Control:private", "", "n=1", false},
		{"private again", "GET", "/p?h=Cache-Control:private", "", "n=2", false},
		{"no freshness", "GET", "/f", "", "n=1", false},
		{"no freshness again", "GET", "/f", "", "n=2", false},
		{"etag", "GET", "/e?h=ETag:x", "", "n=1", false},
		{"etag hit", "GET", "/e?h=ETag:x", "", "n=1", true},
		{"vary", "GET", "/v?h=Vary:accept-encoding&" + cc, "", "n=1", false},
		{"vary again", "GET", "/v?h=Vary:accept-encoding&" + cc, "", "n=2", false},
		{"too big", "GET", "/b?big=1&" + cc, "", "n=1", false},
		{"too big again", "GET", "/b?big=1&" + cc, "", "n=2", false},
	}
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		mu.Lock()
		clear(seen)
		mu.Unlock()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for _, s := range steps {
			req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: h\r\n", s.method, s.path)
			if s.hdr != "" {
				req += s.hdr + "\r\n"
			}
			if s.method == "POST" {
				req += "Content-Length: 0\r\n"
			}
			if _, err := c.Write([]byte(req + "\r\n")); err != nil {
				t.Fatal(err)
			}
			res, err := http.ReadResponse(br, &http.Request{Method: s.method})
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			var b strings.Builder
			_, _ = bufio.NewReader(res.Body).WriteTo(&b)
			res.Body.Close()
			if !strings.HasSuffix(b.String(), s.want) {
				t.Errorf("%s: body %q; want suffix %q", s.name, b.String(), s.want)
			}
			if _, hit := res.Header["Age"]; hit != s.age {
				t.Errorf("%s: Age field %v; want %v", s.name, hit, s.age)
			}
			if s.age {
				// The stored head has X-Before only; the rules run again
				// on a hit.
				if g := res.Header.Values("X-Before"); len(g) != 2 {
					t.Errorf("%s: X-Before %q; want two", s.name, g)
				}
				if g := res.Header.Values("X-After"); len(g) != 1 {
					t.Errorf("%s: X-After %q; want one", s.name, g)
				}
			}
		}
		line := waitLineWith(t, out, "fe/<CACHE>")
		// A hit is served by no server: Tw and Tc are 0, not -1. Tr and
		// Ta are the cache's own time, a few ms under -race.
		if !cacheHitTimers.MatchString(line) || !strings.Contains(line, " LR-- ") {
			t.Errorf("hit log line %q; want Tq/0/0/Tr/Ta 200 … LR--", line)
		}
	})
}

var cacheHitTimers = regexp.MustCompile(` \d+/0/0/\d+/\d+ 200 `)
