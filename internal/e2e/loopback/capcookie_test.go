package loopback

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHTTPCaptureCookie: "capture cookie" logs the first request cookie and the first
// Set-Cookie whose name starts with the configured one, as name=value cut to the length
// (%CC, %CS of option httplog and of a log-format), for requests that reach the backend
// and denied ones, not for those a return answers; the same log lines from lb and HAProxy.
func TestHTTPCaptureCookie(t *testing.T) {
	srv := startHTTPServer(t, "s", func(w http.ResponseWriter, r *http.Request) {
		for _, v := range r.Header.Values("X-SC") {
			w.Header().Add("Set-Cookie", v)
		}
		fmt.Fprint(w, "ok")
	})
	a1 := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	a2 := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    option httplog
    capture cookie SESS len 12
    http-request deny if { path /deny }
    http-request return status 200 if { path /ret }
    default_backend be
frontend fe2
    bind %s
    log-format "CC=%%{+Q}CC CS=%%CS E=%%{+E}CC"
    capture cookie A len 63
    default_backend be
backend be
    server s1 %s
`, a1, a2, srv.addr()))
	type req struct{ addr, path, cookie, setCookie string }
	reqs := []req{
		{a1, "/", "", ""},
		{a1, "/", "other=1; SESSIONID=abcdefghijkl; SESS=2", "x=1; Path=/"},
		{a1, "/", "SESS = spaced ; $Path=/", "SESSID=srv123456789; Path=/; HttpOnly"},
		{a1, "/", "novalue; SESS=v", "SES=short"},
		{a1, "/deny", "SESS=denied", ""},
		{a1, "/ret", "SESS=returned", ""},
		{a2, "/", `A="q\"x]"`, "AB=1, C=2"},
	}
	want := []string{
		`127.0.0.1:* [*] fe be/s1 */*/*/*/* 200 * - - ---- */*/*/*/* 0/0 "GET / HTTP/1.1"`,
		`127.0.0.1:* [*] fe be/s1 */*/*/*/* 200 * SESSIONID=ab - ---- */*/*/*/* 0/0 "GET / HTTP/1.1"`,
		`127.0.0.1:* [*] fe be/s1 */*/*/*/* 200 * SESS=spaced SESSID=srv12 ---- */*/*/*/* 0/0 "GET / HTTP/1.1"`,
		`127.0.0.1:* [*] fe be/s1 */*/*/*/* 200 * SESS=v - ---- */*/*/*/* 0/0 "GET / HTTP/1.1"`,
		`127.0.0.1:* [*] fe fe/<NOSRV> */*/*/*/* 403 * SESS=denied - PR-- */*/*/*/* 0/0 "GET /deny HTTP/1.1"`,
		// waitListen's probe: a connection without a request.
		`127.0.0.1:* [*] fe fe/<NOSRV> */*/*/*/* 200 * - - LR-- */*/*/*/* 0/0 "GET /ret HTTP/1.1"`,
		`CC="" CS=- E=-`,
		`CC="A="q\"x]"" CS=AB=1 E=A=\"q\\\"x\]\"`,
	}
	onLBAndHAProxy(t, cfg, a1, func(t *testing.T, out *outFile) {
		waitListen(t, a2)
		// The log lines so far: the httplog ones in order, then the log-format ones.
		lines := func() (all []string, httplog, cc int) {
			var got, ccs []string
			for _, l := range httplogLines(out.String()) {
				if !strings.Contains(l, "<BADREQ>") {
					got = append(got, maskBytes(l))
				}
			}
			for _, l := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(l, "CC=") {
					ccs = append(ccs, l)
				}
			}
			return append(got, ccs...), len(got), len(ccs)
		}
		var got []string
		for i, r := range reqs {
			c := dialHTTP(t, r.addr)
			raw := "GET " + r.path + " HTTP/1.1\r\nHost: h\r\n"
			if r.cookie != "" {
				raw += "Cookie: " + r.cookie + "\r\n"
			}
			if r.setCookie != "" {
				raw += "X-SC: " + r.setCookie + "\r\n"
			}
			c.send(raw + "\r\n")
			c.response()
			c.c.Close()
			// One request at a time: its line is logged before the next connection opens,
			// so the lines come in order and the connection counts are the same each run.
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
				var httplog, cc int
				got, httplog, cc = lines()
				// a2's lines are the log-format ones; waitListen's probe made one too.
				if r.addr == a1 && httplog > i || r.addr == a2 && cc >= 2 {
					break
				}
				time.Sleep(10 * time.Millisecond) // polling a log: there is no other signal
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("log lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// maskBytes replaces %B of a masked httplog line (the server's response size varies with
// its Date field).
func maskBytes(l string) string {
	f := strings.SplitN(l, " ", 8)
	if len(f) == 8 {
		f[6] = "*"
	}
	// The connection counts (%ac/%fc/%bc/%sc/%rc) depend on what else the proxy holds at
	// that moment (haproxy's health checks, the previous connection not yet released).
	return connCounts.ReplaceAllString(strings.Join(f, " "), " */*/*/*/* ")
}

var connCounts = regexp.MustCompile(` [*0-9]+/[*0-9]+/\d+/\d+/\d+ `)
