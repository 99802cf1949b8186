package loopback

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestHTTPBufferRequest: "option http-buffer-request" waits for the body
// before the http-request rules, so that req.body and req.body_len see it
// (the payload without chunk framing, a match spanning two chunks), and the
// request is then forwarded whole; a backend's option waits before the
// backend's rules; a client that stalls in its body gets a 408; "balance
// url_param NAME check_post" hashes the parameter found in a POST body.
// Each check runs on lb and on HAProxy.
func TestHTTPBufferRequest(t *testing.T) {
	app := startHTTPServer(t, "app", nil)
	var servers string
	for _, n := range []string{"s1", "s2", "s3", "s4"} {
		servers += fmt.Sprintf("    server %s %s\n", n, startHTTPServer(t, n, nil).addr())
	}
	fe, stall, beOpt, post := freePort(t), freePort(t), freePort(t), freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", fe)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    option http-buffer-request
    http-request deny if { req.body -m sub forbidden }
    http-request set-header X-Len %%[req.body_len]
    default_backend app
frontend stall
    bind 127.0.0.1:%d
    timeout http-request 300ms
    option http-buffer-request
    default_backend app
frontend beopt
    bind 127.0.0.1:%d
    default_backend buffered
frontend post
    bind 127.0.0.1:%d
    default_backend byparam
backend app
    server app %s
backend buffered
    option http-buffer-request
    http-request set-header X-Len2 %%[req.body_len]
    server app %s
backend byparam
    balance url_param id check_post
%s`, addr, stall, beOpt, post, app.addr(), app.addr(), servers))

	// Each request's head goes first, its body a moment later: the rules
	// must wait for it.
	ask := func(t *testing.T, c *httpClient, head, body string) (string, string) {
		t.Helper()
		c.send(head)
		time.Sleep(50 * time.Millisecond)
		c.send(body)
		return c.response()
	}
	status := func(head string) string {
		_, rest, _ := strings.Cut(head, " ")
		code, _, _ := strings.Cut(rest, " ")
		return code
	}
	chosen := map[string][]string{}
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		c := dialHTTP(t, addr)
		cl := "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n"
		te := "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
		// Allowed bodies, on one keep-alive connection: nothing lost or
		// sent twice.
		for i := 0; i < 2; i++ {
			head, body := ask(t, c, fmt.Sprintf(cl, 11), "hello world")
			if status(head) != "200" || !strings.Contains(body, "X-Len: 11\n") || !strings.Contains(body, "body: hello world\n") {
				t.Fatalf("content-length body: %q %q", head, body)
			}
			head, body = ask(t, c, te+"5\r\nhello\r\n", "6\r\n world\r\n0\r\n\r\n")
			if status(head) != "200" || !strings.Contains(body, "X-Len: 11\n") || !strings.Contains(body, "body: hello world\n") {
				t.Fatalf("chunked body: %q %q", head, body)
			}
		}
		// Denied bodies.
		if head, _ := ask(t, dialHTTP(t, addr), fmt.Sprintf(cl, 14), "abc forbidden!"); status(head) != "403" {
			t.Errorf("content-length forbidden: %q", head)
		}
		if head, _ := ask(t, dialHTTP(t, addr), te+"5\r\nforbi\r\n", "4\r\ndden\r\n0\r\n\r\n"); status(head) != "403" {
			t.Errorf("chunked forbidden across chunks: %q", head)
		}
		// A body larger than the buffer: the rules see what fits (the
		// figures are HAProxy 2.6's at tune.bufsize 16384), the server
		// gets it all.
		big := strings.Repeat("x", 40000)
		head, body := ask(t, dialHTTP(t, addr), fmt.Sprintf(cl, len(big)), big)
		if status(head) != "200" || !strings.Contains(body, "body: "+big+"\n") || !strings.Contains(body, "X-Len: 15213\n") {
			t.Errorf("large body: %q", head)
		}
		// Chunked, the framing not counted.
		head, body = ask(t, dialHTTP(t, addr), te, fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(big), big))
		if status(head) != "200" || !strings.Contains(body, "body: "+big+"\n") || !strings.Contains(body, "X-Len: 15200\n") {
			t.Errorf("large chunked body: %q", head)
		}
		// A client that stalls in its body.
		sc := dialHTTP(t, fmt.Sprintf("127.0.0.1:%d", stall))
		sc.send(fmt.Sprintf(cl, 40) + "abc")
		if head, _ := sc.response(); status(head) != "408" {
			t.Errorf("stalled body: %q", head)
		}
		// The backend's option.
		head, body = ask(t, dialHTTP(t, fmt.Sprintf("127.0.0.1:%d", beOpt)), fmt.Sprintf(cl, 11), "hello world")
		if status(head) != "200" || !strings.Contains(body, "X-Len2: 11\n") {
			t.Errorf("backend option: %q %q", head, body)
		}
		// check_post: the same key to the same server, each time.
		var got []string
		for i := 0; i < 30; i++ {
			kv := fmt.Sprintf("a=1&id=k%d&b=2", i*7919)
			pc := dialHTTP(t, fmt.Sprintf("127.0.0.1:%d", post))
			head, body := ask(t, pc, "POST /p HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"+fmt.Sprintf("Content-Length: %d\r\n\r\n", len(kv)), kv)
			name, _, _ := strings.Cut(body, " ")
			if status(head) != "200" {
				t.Fatalf("check_post: %q", head)
			}
			got = append(got, name)
		}
		chosen[t.Name()] = got
	})
	lb, ha := chosen[t.Name()+"/lb"], chosen[t.Name()+"/haproxy"]
	if ha != nil && strings.Join(lb, " ") != strings.Join(ha, " ") {
		t.Errorf("check_post: lb chose %v, HAProxy %v", lb, ha)
	}
	if lb != nil {
		seen := map[string]bool{}
		for _, s := range lb {
			seen[s] = true
		}
		if len(seen) < 2 {
			t.Errorf("check_post: every key went to %v", lb)
		}
	}
}
