package loopback

import (
	"fmt"
	"strings"
	"testing"
)

// postStats sends the admin form's POST (body url-encoded as a browser
// sends it) to uri and returns the response head.
func postStats(t *testing.T, addr, uri, body string) string {
	t.Helper()
	c := dialHTTP(t, addr)
	c.send(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: lb\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", uri, len(body), body))
	head, _ := c.response()
	return head
}

// TestStatsAdmin: "stats admin if LOCALHOST" gives the page HAProxy's admin
// form, and the form's POSTs change the servers and answer HAProxy's 303 to
// the page with the verdict (DONE, NONE, PART, ERRP), which the page then
// shows; "stats admin unless LOCALHOST" denies them. lb and haproxy serve
// the same configuration and must give the same answers and states.
func TestStatsAdmin(t *testing.T) {
	app := startHTTPServer(t, "app", nil)
	port, port2 := freePort(t), freePort(t)
	addr, addr2 := fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", port2)
	cfg := writeConfig(t, fmt.Sprintf(`defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 1s
listen st
    bind %s
    stats enable
    stats uri /stats
    stats admin if LOCALHOST
    server web %s
backend be
    server s1 %s
    server s2 %s check inter 1h
listen ro
    bind %s
    stats enable
    stats uri /stats
    stats admin unless LOCALHOST
    server r1 %s
`, addr, app.addr(), app.addr(), app.addr(), addr2, app.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		waitListen(t, addr2)
		_, page := getStats(t, port, "GET", "/stats", "")
		for _, want := range []string{
			`<form method="post"><table class="tbl" width="100%">`,
			`<input class='be-checkbox' type="checkbox" name="s" value="s1">`,
			`<input class='st-checkbox' type="checkbox" name="s" value="web">`,
			`<option value="maint">Set state to MAINT</option>`,
			`<input type="hidden" name="b" value="#2">&nbsp;<input type="submit" value="Apply"></form><p>`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		status := func(sv string) string {
			_, csv := getStats(t, port, "GET", "/stats;csv", "")
			for _, l := range strings.Split(csv, "\n") {
				if f := strings.Split(l, ","); len(f) > 17 && f[0] == "be" && f[1] == sv {
					return f[17]
				}
			}
			return "?"
		}
		for _, c := range []struct{ uri, body, loc, s1 string }{
			{"/stats", "s=s1&action=maint&b=%232", "/stats;st=DONE", "MAINT"},
			{"/stats;up", "s=s1&action=ready&b=be", "/stats;st=DONE;up", "no check"},
			{"/stats", "s=s1&s=nosuch&action=drain&b=be", "/stats;st=PART", "DRAIN"},
			{"/stats", "b=be&action=ready&s=s1", "/stats;st=DONE", "no check"},
			{"/stats", "s=nosuch&action=ready&b=be", "/stats;st=ERRP", "no check"},
			{"/stats", "s=s1&action=&b=be", "/stats;st=ERRP", "no check"},
			{"/stats", "s=s1&action=bogus&b=be", "/stats;st=ERRP", "no check"},
			{"/stats", "s=s1&action=maint&b=nosuch", "/stats;st=ERRP", "no check"},
			{"/stats", "s=s1&action=maint", "/stats;st=NONE", "no check"},
			{"/stats", "action=maint&b=be", "/stats;st=NONE", "no check"},
			{"/stats", "s=s1&action=dhlth&b=be", "/stats;st=NONE", "no check"}, // no check to disable
			{"/stats", "s=s2&action=dhlth&b=be", "/stats;st=DONE", "no check"},
			{"/stats", "s=s1&action=shutdown&b=be", "/stats;st=DONE", "no check"},
		} {
			head := postStats(t, addr, c.uri, c.body)
			if !strings.HasPrefix(head, "HTTP/1.1 303 See Other\r\n") || !strings.Contains(head, "\r\nlocation: "+c.loc+"\r\n") {
				t.Errorf("POST %s: %q, want location %s", c.body, head, c.loc)
			}
			if got := status("s1"); got != c.s1 {
				t.Errorf("after %s: s1 %q, want %q", c.body, got, c.s1)
			}
		}
		if _, page := getStats(t, port, "GET", "/stats;st=DONE", ""); !strings.Contains(page, `<p><div class=active_up><a class=lfsb href="/stats" title="Remove this message">[X]</a> Action processed successfully.</div>`) {
			t.Errorf("no DONE message")
		}
		// Without admin rights: no form, every POST denied.
		if _, page := getStats(t, port2, "GET", "/stats", ""); strings.Contains(page, "<form method=\"post\">") {
			t.Errorf("form without admin rights")
		}
		if head := postStats(t, addr2, "/stats", "s=r1&action=maint&b=ro"); !strings.Contains(head, "\r\nlocation: /stats;st=DENY\r\n") {
			t.Errorf("POST without admin rights: %q", head)
		}
	})
}
