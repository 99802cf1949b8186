package loopback

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHTTPErrorReplies: "http-error" lines in every form answer the errors lb sends
// itself (no server, deny without payload, return default-errorfiles), the backend's
// before the frontend's, in the order written against errorfile lines; "deny" and
// "return" with errorfile/errorfiles send the file; a deny with fields and no payload
// is an empty response. Each answer is compared byte for byte with haproxy's.
func TestHTTPErrorReplies(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ef503 := write("ef503.http", "HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\nX-EF: 1\r\n\r\n<h1>ef503</h1>\n")
	ef403 := write("ef403.http", "HTTP/1.1 403 Forbidden\r\ncontent-length: 6\r\nX-F: errf\r\n\r\nnope!\n")
	body := write("body.txt", "body from file\n")
	lfBody := write("body.lf", "lf file %[path]\n")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
http-errors myerrs
    errorfile 503 %[2]s
    errorfile 403 %[3]s
frontend fe
    bind %[1]s
    option httplog
    http-error status 503 content-type text/plain string "fe down" hdr X-A "a %%[path]" hdr X-B b
    http-error status 404 content-type text/plain lf-string "nf %%[path]" hdr X-P "%%[path]"
    http-error status 400 errorfile %[2]s
    http-error status 500 errorfiles myerrs
    http-error status 502 default-errorfiles
    http-error status 429 content-type text/plain file %[4]s
    http-error status 410 content-type text/plain lf-file %[5]s
    http-error status 401
    http-error status 405 content-type text/plain string "overridden"
    errorfile 405 %[3]s
    http-request deny deny_status 404 if { path /nf }
    http-request deny deny_status 429 if { path /tmr }
    http-request deny deny_status 410 if { path /gone }
    http-request deny deny_status 401 if { path /401 }
    http-request deny deny_status 500 if { path /500 }
    http-request deny deny_status 502 if { path /502 }
    http-request deny deny_status 405 if { path /405 }
    http-request deny deny_status 403 errorfile %[3]s if { path /def }
    http-request deny deny_status 403 errorfiles myerrs if { path /defs }
    http-request deny hdr X-D d if { path /denyhdr }
    http-request return status 503 errorfiles myerrs if { path /rets }
    http-request return status 404 default-errorfiles if { path /retdef }
    http-request return status 200 errorfile %[3]s if { path /ret200 }
    http-request return status 200 content-type text/plain string hi hdr X-R r if { path /ret }
    use_backend beown if { path_beg /own/ }
    use_backend befall if { path_beg /fall/ }
    default_backend fedown
backend fedown
backend beown
    http-error status 503 content-type text/plain lf-string "be down %%[path]" hdr X-BE b
backend befall
    http-error status 503 content-type text/plain string "never"
    http-error status 503 default-errorfiles
`, addr, ef503, ef403, body, lfBody))
	const (
		ef503Out = "HTTP/1.0 503 Service Unavailable\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nx-ef: 1\r\n\r\n<h1>ef503</h1>\n"
		ef403Out = "HTTP/1.1 403 Forbidden\r\ncontent-length: 6\r\nx-f: errf\r\n\r\nnope!\n"
	)
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		for _, tc := range []struct{ path, want string }{
			{"/x", "HTTP/1.1 503 Service Unavailable\r\nx-a: a /x\r\nx-b: b\r\ncontent-length: 7\r\ncontent-type: text/plain\r\n\r\nfe down"},
			{"/own/x", "HTTP/1.1 503 Service Unavailable\r\nx-be: b\r\ncontent-length: 14\r\ncontent-type: text/plain\r\n\r\nbe down /own/x"},
			{"/fall/x", "HTTP/1.1 503 Service Unavailable\r\nx-a: a /fall/x\r\nx-b: b\r\ncontent-length: 7\r\ncontent-type: text/plain\r\n\r\nfe down"},
			{"/nf", "HTTP/1.1 404 Not Found\r\nx-p: /nf\r\ncontent-length: 6\r\ncontent-type: text/plain\r\n\r\nnf /nf"},
			{"/tmr", "HTTP/1.1 429 Too Many Requests\r\ncontent-length: 15\r\ncontent-type: text/plain\r\n\r\nbody from file\n"},
			{"/gone", "HTTP/1.1 410 Gone\r\ncontent-length: 14\r\ncontent-type: text/plain\r\n\r\nlf file /gone\n"},
			{"/401", "HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n"},
			{"/500", "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 97\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>500 Internal Server Error</h1>\nAn internal server error occurred.\n</body></html>\n"},
			{"/502", "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 107\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete response.\n</body></html>\n"},
			{"/405", ef403Out},
			{"/def", ef403Out},
			{"/defs", ef403Out},
			{"/denyhdr", "HTTP/1.1 403 Forbidden\r\nx-d: d\r\ncontent-length: 0\r\n\r\n"},
			{"/retdef", "HTTP/1.1 404 Not Found\r\nx-p: /retdef\r\ncontent-length: 10\r\ncontent-type: text/plain\r\n\r\nnf /retdef"},
			{"/ret200", ef403Out},
			{"/ret", "HTTP/1.1 200 OK\r\nx-r: r\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nhi"},
			{"/rets", ef503Out},
		} {
			c := dialHTTP(t, addr)
			c.send("GET " + tc.path + " HTTP/1.1\r\nHost: x\r\n\r\n")
			head, body := c.response()
			if head+body != tc.want {
				t.Errorf("%s: got %q, want %q", tc.path, head+body, tc.want)
			}
			c.c.Close()
		}
		// The 503 of the http-error line is logged as the 503 it is.
		deadline := time.Now().Add(5 * time.Second)
		re := regexp.MustCompile(` 503 \d+ - - SC-- .*"GET /x HTTP/1.1"`)
		for !re.MatchString(out.String()) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !re.MatchString(out.String()) {
			t.Errorf("no log line of /x with status 503:\n%s", out.String())
		}
	})
}

// TestHTTPErrorRefusals: "http-error" and the errorfile forms of deny/return are
// checked as haproxy checks them.
func TestHTTPErrorRefusals(t *testing.T) {
	for _, tc := range []struct{ name, line, want string }{
		{"no status", "http-error content-type text/plain string x", "expects at least a <status> as arguments"},
		{"unhandled status", "http-error status 302", "status code '302' not handled"},
		{"no content type", "http-error status 503 string x", "a content type must be defined"},
		{"two payloads", "http-error status 503 content-type a/b string x string y", "unexpected 'string' argument, 'string' already defined"},
		{"unknown word", "http-error status 503 foo", "unknown keyword 'foo'"},
		{"unknown section", "http-request deny errorfiles nosuch", "unknown http-errors section 'nosuch'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeConfig(t, httpDefaults+fmt.Sprintf("frontend fe\n    bind 127.0.0.1:%d\n    ", freePort(t))+tc.line+"\n")
			out, err := exec.Command(lbBinary(t), "-c", "-f", cfg).CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Errorf("lb -c: err %v, output %q; want an error with %q", err, out, tc.want)
			}
			if hap, err := exec.LookPath("haproxy"); err == nil {
				if out, err := exec.Command(hap, "-c", "-f", cfg).CombinedOutput(); err == nil {
					t.Errorf("haproxy -c accepts it:\n%s", out)
				}
			}
		})
	}
}

// TestHTTPCaptureRules: "declare capture", "http-request capture … len|id" and
// "http-response capture … id" fill the frontend's capture slots after those of "capture
// request|response header", in declaration order; the capture.* fetches read them and
// the request line; %hr and %hs print them. Compared with haproxy on the same traffic.
func TestHTTPCaptureRules(t *testing.T) {
	app := startHTTPServer(t, "app", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-S", "served-by-srv")
		w.Header().Set("X-R", "resp-value")
		fmt.Fprintf(w, "x-cap1=%s\n", r.Header.Get("X-Cap1"))
	})
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    option httplog
    capture request header Host len 10
    declare capture request len 8
    http-request capture req.hdr(x-a) len 4
    capture response header X-S len 20
    declare capture response len 5
    http-request capture path id 1
    http-response capture res.hdr(x-r) id 1
    http-request set-header X-Cap1 "%%[capture.req.hdr(1)]|%%[capture.req.hdr(2)]|%%[capture.req.method]|%%[capture.req.uri]|%%[capture.req.ver]"
    http-response set-header X-Cap2 "%%[capture.res.hdr(0)]|%%[capture.res.hdr(1)]|%%[capture.res.ver]"
    default_backend be
backend be
    server s %s
`, addr, app.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		c := dialHTTP(t, addr)
		c.send("GET /p/q?x=1 HTTP/1.1\r\nHost: example.com.long\r\nX-A: abcdefg\r\n\r\n")
		head, body := c.response()
		if got, want := respFields(head)["x-cap2"], "served-by-srv|resp-|HTTP/1.1"; len(got) != 1 || got[0] != want {
			t.Errorf("x-cap2 %q; want %q", got, want)
		}
		if want := "x-cap1=/p/q|abcd|GET|/p/q?x=1|HTTP/1.1\n"; body != want {
			t.Errorf("server saw %q; want %q", body, want)
		}
		want := `{example.co|/p/q|abcd} {served-by-srv|resp-} "GET /p/q?x=1 HTTP/1.1"`
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(out.String(), want) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond) // polling a log: there is no other signal
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("no log line with %s:\n%s", want, out.String())
		}
	})
}
