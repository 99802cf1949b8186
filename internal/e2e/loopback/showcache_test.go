package loopback

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// maskShowCache hides what differs between two processes in "show cache":
// the addresses and the seconds left, which depend on when it is asked.
func maskShowCache(s string) string {
	s = regexp.MustCompile(`(^|\n|shctx:)0x[0-9a-f]+`).ReplaceAllString(s, "${1}PTR")
	return regexp.MustCompile(`expire:-?\d+`).ReplaceAllString(s, "expire:N")
}

// TestShowCache: "show cache" after the same requests to lb and to haproxy
// prints the same sections and objects (hash, secondary key, size, blocks),
// only the addresses and the seconds left masked; it is an admin command.
func TestShowCache(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Date"] = []string{"Mon, 30 Nov 2026 10:00:00 GMT"}
		h.Set("Cache-Control", "max-age=30")
		switch r.URL.Path {
		case "/gz":
			h.Set("Vary", "accept-encoding")
			h.Set("Content-Encoding", "gzip")
		case "/id":
			h.Set("Vary", "accept-encoding")
		case "/chunked":
			// One write for the head and the whole body: one HTX data
			// block in HAProxy, whatever the timing.
			h.Set("Transfer-Encoding", "chunked")
		}
		io.WriteString(w, "body of "+r.URL.Path)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	dir := t.TempDir()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	global := fmt.Sprintf("global\n    stats socket %s level admin\n    stats socket %s level operator\n",
		filepath.Join(dir, "admin.sock"), filepath.Join(dir, "oper.sock"))
	cfg := writeConfig(t, strings.Replace(httpDefaults, "global\n", global, 1)+fmt.Sprintf(`
cache plain
    total-max-size 1
    max-age 60
cache vary
    total-max-size 2
    max-object-size 4000
    process-vary on
cache unused
    total-max-size 3
frontend fe
    bind %s
    use_backend bv if { path_beg /gz /id }
    default_backend bp
backend bp
    http-request cache-use plain
    http-response cache-store plain
    server s1 %s
backend bv
    http-request cache-use vary
    http-response cache-store vary
    server s1 %s
`, addr, ln.Addr(), ln.Addr()))
	reqs := []struct{ path, hdr string }{
		{"/a", ""}, {"/b?x=1", ""}, {"/chunked", ""}, {"/gz", "Accept-Encoding: gzip"}, {"/id", ""},
		{"/a", ""}, // a hit: no new object
	}
	var got [2]string
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		waitSock(t, filepath.Join(dir, "admin.sock"))
		empty := adminCommand(t, filepath.Join(dir, "admin.sock"), "show cache")
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for _, r := range reqs {
			req := "GET " + r.path + " HTTP/1.1\r\nHost: h\r\n"
			if r.hdr != "" {
				req += r.hdr + "\r\n"
			}
			if _, err := io.WriteString(c, req+"\r\n"); err != nil {
				t.Fatal(err)
			}
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%s: %v", r.path, err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		full := adminCommand(t, filepath.Join(dir, "admin.sock"), "show cache")
		denied := adminCommand(t, filepath.Join(dir, "oper.sock"), "show cache")
		i := 0
		if strings.HasSuffix(t.Name(), "/haproxy") {
			i = 1
		}
		got[i] = empty + "----\n" + full + "----\n" + denied
		t.Logf("show cache:\n%s", got[i])
	})
	if got[1] == "" {
		t.Skip("no HAProxy")
	}
	if lb, hap := maskShowCache(got[0]), maskShowCache(got[1]); lb != hap {
		t.Errorf("show cache: lb and haproxy differ:\n%s", lineDiff(hap, lb))
	}
}
