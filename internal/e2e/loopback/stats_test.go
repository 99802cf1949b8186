package loopback

import (
	"encoding/base64"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// statsConfig is a listen section with a statistics page, a frontend and a
// backend with an active, a backup and a disabled server, and a frontend
// with a page and no backend, on the given ports.
func statsConfig(ports [3]int, web, app string) string {
	return fmt.Sprintf(`defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 1s
listen st
    bind 127.0.0.1:%d
    stats enable
    stats uri /stats
    stats auth admin:pw
    stats refresh 5s
    server web %s
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    server s1 %s
    server s2 %s backup
    server s3 %s disabled
frontend pages
    bind 127.0.0.1:%d
    stats enable
    stats uri /s
`, ports[0], web, ports[1], app, app, app, ports[2])
}

// getStats sends one request with the given credentials ("" = none) and
// returns the response.
func getStats(t *testing.T, port int, method, uri, cred string) (string, string) {
	t.Helper()
	c := dialHTTP(t, fmt.Sprintf("127.0.0.1:%d", port))
	auth := ""
	if cred != "" {
		auth = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(cred)) + "\r\n"
	}
	c.send(method + " " + uri + " HTTP/1.1\r\nHost: lb\r\n" + auth + "\r\n")
	if method != "HEAD" {
		return c.response()
	}
	var h strings.Builder
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			t.Fatalf("HEAD response: %v after %q", err, h.String())
		}
		h.WriteString(line)
		if line == "\r\n" {
			return h.String(), ""
		}
	}
}

// csvLines returns the lines of a CSV export by "pxname/svname", in order,
// each as the given fields.
func csvLines(t *testing.T, body string, fields ...string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	cols := map[string]int{}
	for i, n := range strings.Split(strings.TrimPrefix(lines[0], "# "), ",") {
		cols[n] = i
	}
	var out []string
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		var b strings.Builder
		for _, name := range fields {
			i, ok := cols[name]
			if !ok || i >= len(f) {
				t.Fatalf("no field %s in %q", name, l)
			}
			b.WriteString(name + "=" + f[i] + " ")
		}
		out = append(out, strings.TrimSpace(b.String()))
	}
	return out
}

// settledCSV fetches the CSV of the page on port until the request that
// went through backend be is accounted: the response reaches the client
// before the proxy's own thread (HAProxy) or goroutine (lb) ends the
// transaction, and a CI run once read the page in between (be/s1 scur=1,
// bin=0). It fails the test when the request is never accounted.
func settledCSV(t *testing.T, port int) (string, string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		head, csv := getStats(t, port, "GET", "/stats;csv", "admin:pw")
		settled := true
		for _, l := range csvLines(t, csv, "pxname", "svname", "scur", "stot", "bin") {
			if strings.HasPrefix(l, "pxname=be svname=s1 ") || strings.HasPrefix(l, "pxname=be svname=BACKEND ") {
				settled = settled && strings.Contains(l, " scur=0 stot=1 ") && !strings.HasSuffix(l, " bin=0")
			}
		}
		if settled || time.Now().After(deadline) {
			return head, csv
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStatsPage drives the statistics page of the real binary: 401 without
// (or with wrong) credentials with HAProxy's realm, 200 with them with the
// refresh header, the CSV naming every proxy and server with its status
// after a request went through, HEAD, the POST denied without stats admin,
// requests outside the URI going to the servers, and a frontend without
// backend answering its page and a 503 elsewhere. When haproxy is
// installed, it serves the same configuration and its CSV header line, row
// order and the fields lb fills must be the same.
func TestStatsPage(t *testing.T) {
	web := startHTTPServer(t, "web", nil)
	app := startHTTPServer(t, "app", nil)
	ports := [3]int{freePort(t), freePort(t), freePort(t)}
	startLB(t, "-db", "-f", writeConfig(t, statsConfig(ports, web.addr(), app.addr())))

	head, body := getStats(t, ports[0], "GET", "/stats", "")
	want401 := "HTTP/1.1 401 Unauthorized\r\ncontent-length: 112\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nwww-authenticate: Basic realm=\"HAProxy Statistics\"\r\n\r\n"
	if head != want401 || !strings.Contains(body, "401 Unauthorized") {
		t.Errorf("without credentials: %q %q", head, body)
	}
	if head, _ := getStats(t, ports[0], "GET", "/stats;csv", "admin:nope"); head != want401 {
		t.Errorf("wrong password: %q", head)
	}
	// Requests outside the page go to the servers.
	if _, body := getStats(t, ports[0], "GET", "/other", ""); !strings.HasPrefix(body, "web GET /other\n") {
		t.Errorf("/other: %q", body)
	}
	if _, body := getStats(t, ports[1], "GET", "/x", ""); !strings.HasPrefix(body, "app GET /x\n") {
		t.Errorf("fe /x: %q", body)
	}
	head, page := getStats(t, ports[0], "GET", "/stats", "admin:pw")
	if !strings.HasPrefix(head, "HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nrefresh: 5\r\ncontent-length: ") ||
		!strings.Contains(page, "<h2>Statistics Report for pid ") || !strings.Contains(page, `<a name="be/s1">`) {
		t.Errorf("page: %q\n%.300s", head, page)
	}
	noLength := func(h string) string { return h[:strings.Index(h, "content-length: ")] }
	if h, b := getStats(t, ports[0], "HEAD", "/stats", "admin:pw"); noLength(h) != noLength(head) || b != "" {
		t.Errorf("HEAD: %q %q; GET head %q", h, b, head)
	}
	if h, _ := getStats(t, ports[0], "POST", "/stats", "admin:pw"); !strings.HasPrefix(h, "HTTP/1.1 303 See Other\r\n") || !strings.Contains(h, "location: /stats;st=DENY\r\n") {
		t.Errorf("POST: %q", h)
	}
	head, csv := settledCSV(t, ports[0])
	if !strings.HasPrefix(head, "HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: text/plain\r\nrefresh: 5\r\n") {
		t.Errorf("csv head: %q", head)
	}
	got := csvLines(t, csv, "pxname", "svname", "status", "weight", "act", "bck", "pid", "iid", "sid", "type", "mode")
	want := []string{
		"pxname=st svname=FRONTEND status=OPEN weight= act= bck= pid=1 iid=1 sid=0 type=0 mode=http",
		"pxname=st svname=web status=no check weight=1 act=1 bck=0 pid=1 iid=1 sid=1 type=2 mode=http",
		"pxname=st svname=BACKEND status=UP weight=1 act=1 bck=0 pid=1 iid=1 sid=0 type=1 mode=http",
		"pxname=fe svname=FRONTEND status=OPEN weight= act= bck= pid=1 iid=2 sid=0 type=0 mode=http",
		"pxname=be svname=s1 status=no check weight=1 act=1 bck=0 pid=1 iid=3 sid=1 type=2 mode=http",
		"pxname=be svname=s2 status=no check weight=1 act=0 bck=1 pid=1 iid=3 sid=2 type=2 mode=http",
		"pxname=be svname=s3 status=MAINT weight=1 act=1 bck=0 pid=1 iid=3 sid=3 type=2 mode=http",
		"pxname=be svname=BACKEND status=UP weight=1 act=1 bck=1 pid=1 iid=3 sid=0 type=1 mode=http",
		"pxname=pages svname=FRONTEND status=OPEN weight= act= bck= pid=1 iid=4 sid=0 type=0 mode=http",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("csv lines:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The request that went through fe is counted on fe, be and s1.
	counts := csvLines(t, csv, "pxname", "svname", "stot", "bin")
	for _, i := range []int{1, 3, 4, 7} {
		if strings.Contains(counts[i], "stot=0 ") || strings.HasSuffix(counts[i], "bin=0") {
			t.Errorf("no traffic counted: %s", counts[i])
		}
	}
	if !strings.HasPrefix(counts[5], "pxname=be svname=s2 stot=0 ") {
		t.Errorf("backup server counted traffic: %s", counts[5])
	}
	// ;norefresh drops the header.
	if h, _ := getStats(t, ports[0], "GET", "/stats;csv;norefresh", "admin:pw"); strings.Contains(h, "refresh:") {
		t.Errorf("norefresh: %q", h)
	}
	// A frontend with a page and no backend: the page, no authentication,
	// and HAProxy's 503 elsewhere.
	if h, b := getStats(t, ports[2], "GET", "/s;csv", ""); !strings.HasPrefix(h, "HTTP/1.1 200 OK\r\n") || !strings.HasPrefix(b, "# pxname,") || strings.Contains(h, "refresh") {
		t.Errorf("frontend page: %q %.80q", h, b)
	}
	if h, _ := getStats(t, ports[2], "GET", "/x", ""); !strings.HasPrefix(h, "HTTP/1.1 503 Service Unavailable\r\n") {
		t.Errorf("frontend without backend, /x: %q", h)
	}

	hap, ok := haproxyPath()
	if !ok {
		t.Log("haproxy is not installed: the CSV is not compared with HAProxy's")
		return
	}
	ha := [3]int{freePort(t), freePort(t), freePort(t)}
	startProc(t, hap, "-db", "-f", writeConfig(t, statsConfig(ha, web.addr(), app.addr())))
	for _, p := range ha {
		waitListen(t, fmt.Sprintf("127.0.0.1:%d", p))
	}
	getStats(t, ha[1], "GET", "/x", "")
	hhead, hcsv := settledCSV(t, ha[0])
	if !strings.HasPrefix(hhead, "HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: text/plain\r\nrefresh: 5\r\n") {
		t.Errorf("haproxy's csv head %q: the test's expectation is stale", hhead)
	}
	lbHeader, _, _ := strings.Cut(csv, "\n")
	haHeader, _, _ := strings.Cut(hcsv, "\n")
	if lbHeader != haHeader {
		t.Errorf("CSV header line:\n lb      %s\n haproxy %s", lbHeader, haHeader)
	}
	if h, _ := getStats(t, ha[0], "GET", "/stats", ""); h != want401 {
		t.Errorf("haproxy's 401 %q differs from lb's", h)
	}
	hgot := csvLines(t, hcsv, "pxname", "svname", "status", "weight", "act", "bck", "pid", "iid", "sid", "type", "mode")
	if strings.Join(hgot, "\n") != strings.Join(got, "\n") {
		t.Errorf("csv lines:\n lb\n%s\n haproxy\n%s", strings.Join(got, "\n"), strings.Join(hgot, "\n"))
	}
	// The fields lb counts agree with HAProxy's for the proxied request's
	// backend and servers. lb does not count its own stats requests out of
	// the listen section's, and the frontends counted the test's probes of
	// haproxy's ports: they are left out.
	fields := []string{"pxname", "svname", "qcur", "qmax", "scur", "stot", "dreq", "econ"}
	lbc, hac := csvLines(t, csv, fields...), csvLines(t, hcsv, fields...)
	for _, i := range []int{4, 5, 6, 7} {
		if lbc[i] != hac[i] {
			t.Errorf("line %d: lb %s, haproxy %s", i, lbc[i], hac[i])
		}
	}
}

// TestStatsRefused: what of the page lb does not carry out is refused by
// lb -c, by name and line: stats http-request. (A page in a
// frontend that switches to a backend is served: TestHTTPStatsInFrontend.)
func TestStatsRefused(t *testing.T) {
	base := "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\nbackend b\n    server s 127.0.0.1:2\n"
	for _, c := range []struct{ conf, want string }{
		{"listen st\n    bind 127.0.0.1:1\n    stats enable\n    stats http-request deny\n", ":11: 'stats http-request' is not supported by lb yet"},
	} {
		out, err := exec.Command(lbBinary(t), "-c", "-f", writeConfig(t, base+c.conf)).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: lb -c %v\n%s\nwant %q", c.conf, err, out, c.want)
		}
	}
	out, err := exec.Command(lbBinary(t), "-c", "-f", writeConfig(t, base+"listen st\n    bind 127.0.0.1:1\n    stats enable\n    stats uri /s\n    stats auth a:b\n    stats realm R\n    stats refresh 5s\n    stats hide-version\n    stats show-legends\n    stats show-node\n    stats show-desc d\n    stats scope .\n    stats admin if LOCALHOST\n")).CombinedOutput()
	if err != nil {
		t.Errorf("a page lb carries out: %v\n%s", err, out)
	}
}
