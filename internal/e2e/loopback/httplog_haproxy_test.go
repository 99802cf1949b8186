package loopback

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// httplogMask blanks what differs between two runs of the same traffic in an httplog line:
// the client port, the date, the five timers and %ac/%fc (process-wide: they count a
// previous client still being torn down, which varies from run to run in HAProxy too);
// everything else (frontend, backend/server,
// status, bytes, captures, termination state, counters, request line) is compared.
var httplogMask = regexp.MustCompile(`^(\S+):\d+ \[[^]]+\] (\S+ \S+) [-+\d]+/[-\d]+/[-\d]+/[-\d]+/[-+\d]+ (\S+ \S+ \S+ \S+ \S+) \d+/\d+/(.*)$`)

// TestHTTPLogsAsHAProxy runs HAProxy 2.6 and lb on the same mode http configuration and the
// same requests, one client at a time, and compares their "option httplog" lines with the
// port, the date and the timers masked: a plain GET with a query, a POST with a body, a
// chunked response, a deny, a return, a redirect, no server (503), a server answering garbage
// (502), an unparsable request (400), with request and response header captures.
// It is skipped when haproxy is not installed.
func TestHTTPLogsAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	app := startHTTPServer(t, "app", nil)
	garbage := startGarbageServer(t)
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
global
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    timeout http-keep-alive 100ms
frontend fe
    bind 127.0.0.1:%d
    capture request header Host len 20
    capture request header User-Agent len 5
    capture response header Content-Type len 30
    http-request deny if { path /deny }
    http-request return status 200 content-type text/plain string "hi" if { path /ret }
    http-request redirect location /x if { path /redir }
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
	requests := []string{
		"GET /page?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\n\r\n",
		"POST /form HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n\r\nhello=world",
		"POST /chunk HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"GET /deny HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /ret HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /redir HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /nosrv HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /bad HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\r\nHo st: a\r\n\r\n",
	}
	run := func(bin string) []string {
		proc := startProc(t, bin, "-db", "-f", cfg)
		defer proc.stop()
		out := proc.out
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		// The probe of waitListen is logged too: a client that closed before
		// sending a request (CR--, 400).
		waitListen(t, addr)
		for deadline := time.Now().Add(5 * time.Second); len(httplogLines(out.String())) == 0 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond) // polling a log: there is no other signal
		}
		var lines []string
		for i, r := range append([]string{""}, requests...) {
			if i == 0 {
				continue
			}
			c := dialHTTP(t, addr)
			c.send(r)
			readAllFrom(c.c) // the server closes after its timeout or at once
			c.c.Close()
			// Each request's line before the next request, so both logs have one order.
			deadline := time.Now().Add(6 * time.Second)
			for {
				lines = httplogLines(out.String())
				if len(lines) > i || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond) // polling a log: there is no other signal
			}
		}
		return lines
	}
	want := run(hap)
	got := run(lbBinary(t))
	all := append([]string{"(probe)"}, requests...)
	if len(want) != len(all) {
		t.Fatalf("haproxy logged %d lines for %d connections:\n%s", len(want), len(all), strings.Join(want, "\n"))
	}
	for i := range want {
		if i >= len(got) {
			t.Errorf("request %q: lb logged nothing; HAProxy:\n%s", all[i], want[i])
			continue
		}
		if got[i] != want[i] {
			t.Errorf("request %q:\n     lb: %s\nHAProxy: %s", all[i], got[i], want[i])
		}
	}
}

// httplogLines returns the httplog lines of out, masked.
func httplogLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if m := httplogMask.FindStringSubmatch(l); m != nil {
			lines = append(lines, m[1]+":* [*] "+m[2]+" */*/*/*/* "+m[3]+" */*/"+m[4])
		}
	}
	return lines
}
