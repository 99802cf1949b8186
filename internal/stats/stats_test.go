package stats

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// sample is a frontend, a backend with an active, a backup and a disabled
// server, and a listen section with one server.
func sample() *Snapshot {
	return &Snapshot{PID: 42, Uptime: 17 * time.Second, Sessions: 1, Proxies: []Proxy{
		{Name: "fe", ID: 1, Mode: "http", Algo: "roundrobin", Frontend: &Frontend{Cur: 0, Max: 2, Limit: 9990, Total: 1, BytesIn: 82, BytesOut: 520,
			Requests: 6, SessRate: Rate{1, 3}, ConnRate: Rate{2, 4}, ReqRate: Rate{5, 7}, RateLimit: 10,
			HTTP: HTTP{Rsp: [6]uint64{1, 0, 5, 0, 1, 0}, Intercepted: 2, CompIn: 100, CompOut: 40, CompRsp: 1}}},
		{Name: "be", ID: 2, Mode: "http", Algo: "roundrobin", Backend: &Backend{Total: 1, LBTotal: 1, BytesIn: 82, BytesOut: 520, SessRate: Rate{1, 8},
			CliAborts: 3, SrvAborts: 4, RespErrors: 5, Max: 1, Connects: 1, LastSess: 4,
			HTTP:  HTTP{Rsp: [6]uint64{0, 0, 4, 0, 1, 1}, Requests: 6, CacheLookups: 2, CacheHits: 1, CompIn: 100, CompOut: 40, CompRsp: 1},
			Times: Times{Avg: [4]uint32{0, 1, 12, 30}, Max: [4]uint32{0, 3, 40, 90}}, Servers: []Server{
				{Name: "s1", ID: 1, Addr: "127.0.0.1:18090", Weight: 1, Max: 1, Total: 1, LBTotal: 1, BytesIn: 82, BytesOut: 520, SessRate: Rate{1, 9},
					CliAborts: 2, SrvAborts: 3, RespErrors: 4, Connects: 3, Reuses: 2, LastSess: 4,
					HTTP:  HTTP{Rsp: [6]uint64{0, 0, 4, 0, 0, 1}, Requests: 5},
					Times: Times{Avg: [4]uint32{0, 1, 12, 30}, Max: [4]uint32{0, 3, 40, 90}},
					Idle:  Idle{Unsafe: 1, Safe: 2, Used: 1, NeedEst: 3, Limit: 5, Limited: true}},
				{Name: "s2", ID: 2, Addr: "127.0.0.1:18091", Weight: 1, Backup: true, LastSess: -1},
				{Name: "s3", ID: 3, Addr: "127.0.0.1:18092", Weight: 1, State: Maint, LastSess: -1},
			}}},
		{Name: "st", ID: 3, Mode: "http", Algo: "roundrobin", Frontend: &Frontend{Cur: 1, Total: 2, DeniedReq: 3, DeniedConn: 4, DeniedSess: 5, DeniedResp: 6, FailedReq: 8},
			Backend: &Backend{Servers: []Server{{Name: "web", ID: 1, Addr: "127.0.0.1:18090", Weight: 2, Checked: true, Rise: 2, Fall: 3,
				Limit: 10, QueueLimit: 5, Failed: 7, DeniedResp: 9, LastChange: 9, Downtime: 5, DownTrans: 1,
				Check: &Check{Status: "L4OK", Running: true, Duration: 3 * time.Millisecond, Done: true,
					Desc: "Layer4 check passed", Health: 4, Failed: 2}}}}},
	}}
}

// TestCSV: the header line as HAProxy 2.6 prints it, the rows in its order
// with its status words, the fields lb counts filled and the others empty.
func TestCSV(t *testing.T) {
	got := string(CSV(sample(), &Options{}))
	want := CSVHeader +
		"fe,FRONTEND,,,0,2,9990,1,82,520,0,0,0,,,,,OPEN,,,,,,,,,1,1,0,,,,0,1,10,3,,,,0,5,0,1,0,1,,5,7,6,,,100,40,0,1,,,,,,,,,,,,,,,,,,,,,http,,2,4,1,2,0,0,0,,,0,0,,,,,,,0,,,,,,,,,-,,,,,,,,,,,,,,,,,,,,,,,,,\n" +
		"be,s1,0,0,0,1,,1,82,520,,0,,0,4,0,0,no check,1,1,0,,,0,,,1,2,1,,1,,2,1,,9,,,,0,4,0,0,1,0,,,,5,2,3,,,,,4,,,0,1,12,30,,,,,,,,,,,,,,http,,,,,,,,0,3,2,,,3,5,0,3,40,90,0,1,2,1,3,1,,,,-,,,,,,,,,,,,,,,,,,,,,,,,,\n" +
		"be,s2,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,1,0,1,,,0,,,1,2,2,,0,,2,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,0,1,,,,-,,,,,,,,,,,,,,,,,,,,,,,,,\n" +
		"be,s3,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1,1,0,,,0,,,1,2,3,,0,,2,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,0,1,,,,-,,,,,,,,,,,,,,,,,,,,,,,,,\n" +
		"be,BACKEND,0,0,0,1,,1,82,520,0,0,,0,5,0,0,UP,1,1,1,,0,0,0,,1,2,0,,1,,1,1,,8,,,,0,4,0,1,1,0,,,,6,3,4,100,40,0,1,4,,,0,1,12,30,,,,,,,,,,,,,,http,,,,,,,,0,4,2,2,1,,,0,3,40,90,0,,,,,1,0,0,0,-,,,,,,,,,,,,,,,,,,,,,,,,,\n" +
		"st,FRONTEND,,,1,0,,2,0,0,3,6,8,,,,,OPEN,,,,,,,,,1,3,0,,,,0,0,0,0,,,,0,0,0,0,0,0,,0,0,0,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,http,,0,0,2,0,4,5,0,,,0,0,,,,,,,0,,,,,,,,,-,,,,,,,,,,,,,,,,,,,,,,,,,\n" +
		"st,web,0,0,0,0,10,0,0,0,,9,,7,0,0,0,UP,2,1,0,2,1,9,5,5,1,3,1,,0,,2,0,,0,* L4OK,,3,0,0,0,0,0,0,,,,0,0,0,,,,,0,,,0,0,0,0,,,,Layer4 check passed,,2,3,4,,,,,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,0,2,,,,-,,,,,,,,,,,,,,,,,,,,,,,,,\n" +
		"st,BACKEND,0,0,0,0,,0,0,0,0,0,,7,0,0,0,UP,2,1,0,,0,0,0,,1,3,0,,0,,1,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,0,0,0,0,0,,,0,0,0,0,,,,,,,,,,,,,,http,,,,,,,,0,0,0,0,0,,,0,0,0,0,0,,,,,2,0,0,0,-,,,,,,,,,,,,,,,,,,,,,,,,,\n"
	if got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Errorf("line %d:\n got %s\nwant %s", i, gl[i], wl[i])
			}
		}
		if len(gl) != len(wl) {
			t.Errorf("%d lines, want %d", len(gl), len(wl))
		}
	}
	for _, r := range Rows(sample(), &Options{}) {
		if len(r) != 128 {
			t.Fatalf("%d fields, want HAProxy 2.6's 128", len(r))
		}
	}
}

// TestCSVOptions: show-legends adds addresses and algorithms; scope, ";up"
// and ";no-maint" leave lines out.
func TestCSVOptions(t *testing.T) {
	rows := Rows(sample(), &Options{ShowLegends: true, Scope: []string{"."}, Self: "be"})
	if len(rows) != 4 || rows[0].Get("addr") != "127.0.0.1:18090" || rows[3].Get("algo") != "roundrobin" {
		t.Errorf("show-legends, scope .: %v", rows)
	}
	rows = Rows(sample(), &Options{Scope: []string{"st", "fe"}})
	if len(rows) != 4 || rows[0].Get("pxname") != "fe" || rows[1].Get("pxname") != "st" || rows[0].Get("addr") != "" {
		t.Errorf("scope st fe: %v", rows)
	}
	s := sample()
	s.Proxies[1].Backend.Servers[0].State = Down
	s.Proxies[1].Backend.Servers[0].Checked = true
	var names []string
	for _, r := range Rows(s, &Options{HideDown: true, Scope: []string{"be"}}) {
		names = append(names, r.Get("svname"))
	}
	if strings.Join(names, " ") != "s2 BACKEND" {
		t.Errorf(";up: %v", names)
	}
	// s1 down, the backup takes over: the backend's weight is the backup's.
	if r := Rows(s, &Options{Scope: []string{"be"}}); r[0].Get("status") != "DOWN" || r[3].Get("weight") != "1" || r[3].Get("act") != "0" || r[3].Get("bck") != "1" {
		t.Errorf("down: %v", r)
	}
	names = nil
	for _, r := range Rows(s, &Options{HideMaint: true, Scope: []string{"be"}}) {
		names = append(names, r.Get("svname"))
	}
	if strings.Join(names, " ") != "s1 s2 BACKEND" {
		t.Errorf(";no-maint: %v", names)
	}
	// Every server down: the backend is DOWN; drain keeps the weight (HAProxy 2.6's
	// cur_eweight).
	s.Proxies[1].Backend.Servers[1].State = Drain
	if r := Rows(s, &Options{Scope: []string{"be"}}); r[3].Get("status") != "DOWN" || r[1].Get("status") != "DRAIN" || r[1].Get("weight") != "1" || r[1].Get("uweight") != "1" {
		t.Errorf("all down: %v", r)
	}
}

func basic(up string) []byte { return []byte("Basic " + base64.StdEncoding.EncodeToString([]byte(up))) }

// TestServe: the page's HTTP answers as HAProxy 2.6 gives them.
func TestServe(t *testing.T) {
	p := NewPage(Config{URI: "/stats", Auths: []string{"admin:pw"}, Refresh: 5 * time.Second, Self: "st", Version: "1.2.3"})
	snap := func() *Snapshot { return sample() }
	serve := func(method, uri string, auth []byte, closing bool) string {
		return string(p.Serve(method, uri, auth, closing, snap))
	}
	unauth := "HTTP/1.1 401 Unauthorized\r\ncontent-length: 112\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n" +
		"www-authenticate: Basic realm=\"HAProxy Statistics\"\r\n\r\n" + unauthorizedBody
	if len(unauthorizedBody) != 112 {
		t.Errorf("401 body %d bytes, HAProxy's has 112", len(unauthorizedBody))
	}
	for _, auth := range [][]byte{nil, basic("admin:no"), basic("root:pw"), []byte("Bearer x"), []byte("Basic !!")} {
		if got := serve("GET", "/stats", auth, false); got != unauth {
			t.Errorf("auth %q: %q", auth, got)
		}
	}
	if got := serve("GET", "/stats", nil, true); !strings.HasSuffix(strings.SplitN(got, "\r\n\r\n", 2)[0], "\r\nconnection: close") {
		t.Errorf("closing: %q", got)
	}
	// Not the page's: other methods, other URIs.
	for _, r := range [][2]string{{"PUT", "/stats"}, {"OPTIONS", "/stats"}, {"GET", "/stat"}, {"GET", "/"}, {"GET", "http://h/x/stats"}} {
		if got := p.Serve(r[0], r[1], nil, false, snap); got != nil {
			t.Errorf("%s %s answered: %q", r[0], r[1], got)
		}
	}
	ok := basic("admin:pw")
	csv := serve("GET", "/stats;csv", ok, false)
	body := string(CSV(sample(), &Options{Self: "st"}))
	wantHead := "HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: text/plain\r\nrefresh: 5\r\ncontent-length: " + itoa(len(body)) + "\r\n\r\n"
	if csv != wantHead+body {
		t.Errorf("csv:\n%q\nwant\n%q", csv[:min(len(csv), 200)], wantHead)
	}
	// ";norefresh", an absolute URI, a prefix match ("/statsfoo" is the
	// page in HAProxy), connection: close.
	if got := serve("GET", "http://lb:80/statsfoo;csv;norefresh", ok, true); !strings.HasPrefix(got,
		"HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: ") {
		t.Errorf("norefresh: %q", got[:min(len(got), 200)])
	}
	html := serve("GET", "/stats", ok, false)
	head, page, _ := strings.Cut(html, "\r\n\r\n")
	if !strings.HasPrefix(head, "HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nrefresh: 5\r\ncontent-length: ") ||
		!strings.Contains(page, "<h2>Statistics Report for pid 42</h2>") {
		t.Errorf("html: %q", html[:min(len(html), 300)])
	}
	if got := serve("HEAD", "/stats", ok, false); got != head+"\r\n\r\n" {
		t.Errorf("HEAD: %q", got)
	}
	want303 := "HTTP/1.1 303 See Other\r\ncache-control: no-cache\r\ncontent-type: text/plain\r\ncontent-length: 0\r\nlocation: /stats;st=DENY\r\n\r\n"
	if got := serve("POST", "/stats", ok, false); got != want303 {
		t.Errorf("POST: %q", got)
	}
	if got := serve("POST", "/stats", nil, false); got != unauth {
		t.Errorf("POST without credentials: %q", got)
	}
	if got := serve("GET", "/stats;typed", ok, false); !strings.HasPrefix(got, "HTTP/1.1 501 ") {
		t.Errorf(";typed: %q", got)
	}
	if got := serve("GET", "/stats;json", ok, false); !strings.HasPrefix(got, "HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: application/json\r\n") {
		t.Errorf(";json: %q", got[:min(len(got), 200)])
	}
	if got := serve("GET", "/stats;json-schema", ok, false); !strings.HasSuffix(got, "\r\n\r\n"+JSONSchema) {
		t.Errorf(";json-schema: %q", got[:min(len(got), 200)])
	}
	// Defaults: no authentication, HAProxy's URI; a realm.
	d := NewPage(Config{})
	if got := d.Serve("GET", "/haproxy?stats;csv", nil, false, snap); !strings.Contains(string(got), "\r\n\r\n"+CSVHeader) {
		t.Errorf("default page: %q", got)
	}
	r := NewPage(Config{Auths: []string{"a:b:c"}, Realm: "My Realm"})
	if got := string(r.Serve("GET", "/haproxy?stats", nil, false, snap)); !strings.Contains(got, "www-authenticate: Basic realm=\"My Realm\"\r\n") {
		t.Errorf("realm: %q", got)
	}
	if got := string(r.Serve("GET", "/haproxy?stats", basic("a:b:c"), false, snap)); !strings.HasPrefix(got, "HTTP/1.1 200 OK") {
		t.Errorf("password with a colon: %q", got[:40])
	}
}

// TestHTML: HAProxy's title lines and table per proxy; hide-version,
// show-node, show-desc, show-legends, scope and the DENY verdict.
func TestHTML(t *testing.T) {
	page := string(HTML(sample(), &Options{}, &PageInfo{URI: "/stats", Refresh: true, Version: "1.2.3"}))
	for _, want := range []string{
		"<title>Statistics Report for HAProxy</title>",
		"<h1>lb version 1.2.3</h1>",
		"<h2>Statistics Report for pid 42</h2>",
		"<b>uptime = </b> 0d 0h00m17s<br>",
		`<th colspan=3>Queue</th><th colspan=3>Session rate</th><th colspan=6>Sessions</th><th colspan=2>Bytes</th><th colspan=2>Denied</th><th colspan=3>Errors</th><th colspan=2>Warnings</th><th colspan=9>Server</th>`,
		`<a class=px href="#fe">fe</a>`,
		`<tr class="frontend"><td class=ac><a name="fe/Frontend"></a><a class=lfsb href="#fe/Frontend">Frontend</a></td><td colspan=3></td><td>1</td><td>3</td><td>10</td><td>0</td><td>2</td><td>9990</td><td><u title="- HTTP 1xx responses: 0&#10;- HTTP 2xx responses: 5&#10;- HTTP 3xx responses: 0&#10;- HTTP 4xx responses: 1&#10;- HTTP 5xx responses: 0&#10;- other responses: 1&#10;Intercepted requests: 2&#10;Cache lookups: 0&#10;Cache hits: 0&#10;Compressed responses: 1">1</u></td><td></td><td></td><td>82</td><td>520</td><td>0</td><td>0</td><td>0</td>`,
		// A server's total: its responses and times in a tip; its LbTot.
		`- HTTP 2xx responses: 4&#10;- HTTP 3xx responses: 0&#10;- HTTP 4xx responses: 0&#10;- HTTP 5xx responses: 1&#10;- other responses: 0&#10;Max queue time: 0 ms&#10;Max connect time: 3 ms&#10;Max response time: 40 ms&#10;Max total time: 90 ms&#10;Avg over last 1024 success. conn.&#10;- Queue time: 0 ms&#10;- Connect time: 1 ms&#10;- Response time: 12 ms&#10;- Total time: 30 ms">1</u></td><td>1</td><td>4s</td>`,
		`<td></td><td>9</td><td></td><td>7</td><td><u title="Connection resets during transfers: 0 client, 0 server">0</u></td>`,
		`<tr class="active_no_check"><td class=ac><a name="be/s1"></a>`,
		`<tr class="backup_no_check"><td class=ac><a name="be/s2"></a>`,
		`<tr class="maintain"><td class=ac><a name="be/s3"></a>`,
		`<tr class="active_up"><td class=ac><a name="st/web"></a>`,
		// Status with its last change, last check (in progress), check failures, as HAProxy's.
		`<td class=ac>9s UP</td><td class=ac><u> * L4OK in 3ms<div class=tips>Layer4 check passed</div></u></td><td class=ac>2/2</td><td class=ac>Y</td><td class=ac>-</td><td><u>2<div class=tips>Failed Health Checks</div></u></td><td>1</td><td>5s</td><td class=ac>-</td></tr>`,
		`<td class=ac><i>no check</i></td><td></td><td class=ac>1/1</td><td class=ac>Y</td><td class=ac>-</td><td colspan=3></td><td class=ac>-</td></tr>`,
		`<td class=ac><i>no check</i></td>`,
		`<a name="be/Backend"></a>`,
		`<a href="/stats;norefresh">Disable refresh</a>`,
		`<a href="/stats;csv;norefresh">CSV export</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, "Action denied") || strings.Contains(page, "title=\"127.0.0.1") {
		t.Error("page has a verdict or legends it was not asked for")
	}
	page = string(HTML(sample(), &Options{ShowLegends: true, Scope: []string{"be"}},
		&PageInfo{URI: "/", HideVersion: true, Version: "1.2.3", Node: "mynode", Desc: "my desc", Status: "DENY"}))
	for _, want := range []string{
		"<title>Statistics Report for HAProxy on mynode</title>",
		"<h1>lb</h1>",
		"<h2>Statistics Report for pid 42 on mynode: my desc</h2>",
		"<b>Action denied.</b>",
		`title="127.0.0.1:18090, id: 1"`,
		`title="id: 2, mode: http, algo: roundrobin"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, "1.2.3") || strings.Contains(page, `href="#fe"`) || strings.Contains(page, "Disable refresh") {
		t.Error("hidden version, out of scope proxy or refresh link shown")
	}
}

// TestHumanTime: ages as HAProxy's human_time prints them.
func TestHumanTime(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{{-1, "?"}, {0, "0s"}, {59, "59s"}, {60, "1m"}, {61, "1m1s"}, {3600, "1h"}, {3601, "1h1s"}, {3661, "1h1m"}, {90061, "1d1h"}, {86401, "1d1s"}} {
		if got := humanTime(tc.in); got != tc.want {
			t.Errorf("humanTime(%d) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// TestServerStatusTransitions: the status word shows the health counter between the
// states, and the agent's verdict, as HAProxy 2.6's srv_hlt_st (rise 2, fall 3: full
// health 4); the HTML row's class follows from it as on HAProxy 2.6's page.
func TestServerStatusTransitions(t *testing.T) {
	for _, tc := range []struct {
		state  State
		health int // -1: no check shown (unchecked or "disable health")
		agent  int // -1: no agent check, else its health
		weight int
		backup bool
		want   string
		class  string
	}{
		{Up, 4, -1, 1, false, "UP", "active_up"},
		{Up, 4, -1, 0, false, "UP", "active_draining"},
		{Up, 3, -1, 1, false, "UP 2/3", "active_going_down"},
		{Up, 2, -1, 1, true, "UP 1/3", "backup_going_down"},
		{Up, -1, -1, 1, false, "no check", "active_no_check"},
		{Up, -1, 1, 1, false, "no check", "active_no_check"},
		{Down, 0, -1, 1, false, "DOWN", "active_down"},
		{Down, 0, -1, 1, true, "DOWN", "backup_down"},
		{Down, 1, -1, 1, false, "DOWN 1/2", "active_going_up"},
		{Down, -1, -1, 1, false, "DOWN", "active_down"},
		{Down, 4, 0, 1, false, "DOWN (agent)", "active_down"},
		{Down, -1, 0, 1, false, "DOWN (agent)", "active_down"},
		{Drain, 4, -1, 1, false, "DRAIN", "active_draining"},
		{Drain, 3, -1, 1, false, "DRAIN 2/3", "active_going_down"},
		{Drain, 4, 1, 1, false, "DRAIN (agent)", "active_up"},
		{Drain, 4, 1, 0, false, "DRAIN (agent)", "active_draining"},
		{NoLB, 4, -1, 1, false, "NOLB", "active_nolb"},
		{NoLB, 3, -1, 1, false, "NOLB 2/3", "active_going_down"},
		{Maint, 0, -1, 1, false, "MAINT", "maintain"},
	} {
		s := Server{State: tc.state, Checked: tc.health >= 0, Rise: 2, Fall: 3, Weight: tc.weight, Backup: tc.backup}
		if tc.health >= 0 {
			s.Check = &Check{Health: tc.health}
		}
		if tc.agent >= 0 {
			s.Agent = &Check{Health: tc.agent}
		}
		if got := s.status(); got != tc.want {
			t.Errorf("%+v: status %q, want %q", tc, got, tc.want)
		}
		if got := serverClass(&s); got != tc.class {
			t.Errorf("%+v: class %q, want %q", tc, got, tc.class)
		}
	}
	// In maintenance for want of a DNS answer.
	s := Server{State: Maint, MaintResolution: true, Checked: true, Rise: 2, Fall: 3, Weight: 1, Check: &Check{Paused: true}}
	if got := s.status(); got != "MAINT (resolution)" {
		t.Errorf("RMAINT: status %q", got)
	}
	var b strings.Builder
	serverHTML(&b, &Proxy{Name: "be"}, &s, &Options{}, false)
	if !strings.Contains(b.String(), "<td class=ac colspan=3>resolution</td>") || serverClass(&s) != "maintain" {
		t.Errorf("RMAINT row: %s", b.String())
	}
}
