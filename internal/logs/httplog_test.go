package logs

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// sampleHTTPLog is an HTTP transaction with every field set: accepted at
// 12:19:37.254, idle 3ms, head received in 2ms, queued 1ms, connected in
// 4ms, answered in 10ms, done 30ms after the request started.
func sampleHTTPLog() TCPLog {
	return TCPLog{
		Client: netip.MustParseAddrPort("192.0.2.7:41864"), Local: netip.MustParseAddrPort("127.0.0.1:8080"),
		ServerLocal: netip.MustParseAddrPort("127.0.0.1:40000"), ServerAddr: netip.MustParseAddrPort("10.0.0.1:80"),
		Accept:   time.Date(2026, 11, 25, 12, 19, 37, 254e6, time.UTC),
		Frontend: "fe", Backend: "be", Server: "s1",
		Th: 0, Tw: time.Millisecond, Tc: 4 * time.Millisecond, Tt: 33 * time.Millisecond,
		Bytes: 145, BytesIn: 80, Term: "--", ActConn: 3, FeConn: 2, BeConn: 1, SrvConn: 1,
		SessionID: 17, LogCount: 4, UniqueID: []byte("id-17"), BindID: 1,
		HTTP: HTTPLog{
			Set: true, Request: []byte("GET /a/b?x=1 HTTP/1.1"), Status: 200,
			Ti: 3 * time.Millisecond, TR: 2 * time.Millisecond, Tr: 10 * time.Millisecond,
			ReqCaptures: [][]byte{[]byte("www.example.com"), nil},
			ResCaptures: [][]byte{[]byte("text/html")},
		},
	}
}

func TestHTTPLogFormats(t *testing.T) {
	caps := LogFormatOptions{HTTP: true, ReqCaptures: 2, ResCaptures: 1}
	noCaps := LogFormatOptions{HTTP: true}
	tests := []struct {
		name   string
		format string
		opt    LogFormatOptions
		edit   func(*TCPLog)
		want   string
	}{
		{"httplog", DefaultHTTPLogFormat, caps, nil,
			`192.0.2.7:41864 [25/Nov/2026:12:19:37.257] fe be/s1 2/1/4/10/30 200 145 - - ---- 3/2/1/1/0 0/0 {www.example.com|} {text/html} "GET /a/b?x=1 HTTP/1.1"`},
		{"httplog without captures", DefaultHTTPLogFormat, noCaps, nil,
			`192.0.2.7:41864 [25/Nov/2026:12:19:37.257] fe be/s1 2/1/4/10/30 200 145 - - ---- 3/2/1/1/0 0/0 "GET /a/b?x=1 HTTP/1.1"`},
		{"clf", CLFHTTPLogFormat, caps, nil,
			`192.0.2.7 - - [25/Nov/2026:12:19:37 +0000] "GET /a/b?x=1 HTTP/1.1" 200 145 "" "" 41864 254 "fe" "be" "s1" 2 1 4 10 30 ---- 3 2 1 1 0 0 0 "" "" "www.example.com" "" "text/html"`},
		{"timers", "%Th|%Ti|%TR|%Tq|%Tw|%Tc|%Tr|%Td|%Ta|%Tt|%Tu", noCaps, nil,
			"0|3|2|5|1|4|10|13|30|33|30"},
		{"timers with handshake", "%Th|%Ti|%TR|%Tq|%Ta|%Tt|%Tu|%t|%tr", noCaps,
			func(r *TCPLog) { r.Th = 5 * time.Millisecond; r.Tt += 5 * time.Millisecond },
			"5|3|2|10|30|38|35|25/Nov/2026:12:19:37.254|25/Nov/2026:12:19:37.262"},
		{"no response", "%ST|%Tr|%Td|%Ta|%tsc", noCaps,
			func(r *TCPLog) { r.HTTP.Status, r.HTTP.Tr, r.Term = 0, -1, "CH" },
			"-1|-1|-1|30|CH--"},
		{"request date", "%tr|%trg|%trl|%t|%ms", noCaps,
			func(r *TCPLog) {
				r.Accept = r.Accept.In(time.FixedZone("X", 3600))
				r.HTTP.Date = time.Date(2026, 11, 25, 12, 19, 38, 9e6, time.FixedZone("X", 3600))
			},
			"25/Nov/2026:12:19:38.009|25/Nov/2026:11:19:38 +0000|25/Nov/2026:12:19:38 +0100|25/Nov/2026:13:19:37.254|254"},
		{"request parts", "%HM|%HU|%HP|%HPO|%HQ|%HV", noCaps, nil, "GET|/a/b?x=1|/a/b|/a/b|?x=1|HTTP/1.1"},
		{"quoted parts", "%{+Q}HM|%{+Q}HQ|%{+Q}r", noCaps,
			func(r *TCPLog) { r.HTTP.Request = []byte("GET / HTTP/1.1") },
			`"GET"|""|"GET / HTTP/1.1"`},
		{"no query", "%HQ|%{-M}HQ|%{+Q}HQ.", noCaps,
			func(r *TCPLog) { r.HTTP.Request = []byte("GET /x HTTP/1.1") }, `||"".`},
		{"absolute uri", "%HU|%HP|%HPO|%HQ", noCaps,
			func(r *TCPLog) { r.HTTP.Request = []byte("GET http://h:81/p/q?z HTTP/1.1") },
			"http://h:81/p/q?z|http://h:81/p/q|/p/q|?z"},
		{"authority", "%HU|%HP|%HPO|%HV", noCaps,
			func(r *TCPLog) { r.HTTP.Request = []byte("CONNECT h:443 HTTP/1.1") }, "h:443|h:443||HTTP/1.1"},
		{"asterisk", "%HU|%HPO.", noCaps,
			func(r *TCPLog) { r.HTTP.Request = []byte("OPTIONS * HTTP/1.1") }, "*|."},
		{"absolute without path", "%HPO.|%HP", noCaps,
			func(r *TCPLog) { r.HTTP.Request = []byte("GET http://h?q HTTP/1.1") }, ".|http://h"},
		{"http/0.9", "%HM|%HU|%HV", noCaps,
			func(r *TCPLog) { r.HTTP.Request = []byte("GET /old") }, "GET|/old|HTTP/0.9"},
		{"method alone", "%HM|%HU|%HP|%HPO|%HQ|%HV|%r", noCaps,
			func(r *TCPLog) { r.HTTP.Request = []byte("GET") },
			"<BADREQ>|<BADREQ>|<BADREQ>|<BADREQ>||<BADREQ>|GET"},
		{"tabs and spaces", "%HM|%HU|%HV", noCaps,
			func(r *TCPLog) { r.HTTP.Request = []byte("GET \t /x  HTTP/1.1") }, "GET|/x|HTTP/1.1"},
		{"escaped request", `%r|%{+E}r|%{+Q,+E}HU`, noCaps,
			func(r *TCPLog) { r.HTTP.Request = []byte("GET /\"#\\]{|}\x01\x7f\xc3\xa9 HTTP/1.1") },
			`GET /#22#23\]{|}#01#7F#C3#A9 HTTP/1.1|GET /#22#23\\\]{|}#01#7F#C3#A9 HTTP/1.1|"/#22#23\\\]{|}#01#7F#C3#A9"`},
		{"request cut", "%r", noCaps,
			func(r *TCPLog) { r.HTTP.Request = []byte("GET /" + strings.Repeat("a", 2000) + " HTTP/1.1") },
			"GET /" + strings.Repeat("a", 1018)},
		{"request with nul", "%r", noCaps,
			func(r *TCPLog) { r.HTTP.Request = []byte("GET /a\x00b HTTP/1.1") }, "GET /a"},
		{"captures", `%hr|%hrl|%hs|%hsl|%{+Q}hr|%{+Q}hrl|%{+E}hr`, caps,
			func(r *TCPLog) { r.HTTP.ReqCaptures = [][]byte{[]byte(`a"\]{|}#` + "\x01\xff"), {}} },
			`{a#22\]#7B#7C#7D#23#01#FF|}|a#22\]#7B#7C#7D#23#01#FF |{text/html}|text/html|"{a#22\]#7B#7C#7D#23#01#FF|}"|"a#22\]#7B#7C#7D#23#01#FF" ""|{a#22\\\]#7B#7C#7D#23#01#FF|}`},
		{"absent captures", `%hr|%hrl|%{+Q}hrl|%hs`, caps,
			func(r *TCPLog) { r.HTTP.ReqCaptures, r.HTTP.ResCaptures = nil, [][]byte{nil} },
			`{|}|- -|"" ""|{}`},
		{"cookies", "%tsc|%CC|%CS|%{+Q}CC|%{-M}CS.", noCaps,
			func(r *TCPLog) { r.HTTP.CookieCli, r.HTTP.CookieSrv = 'N', 'I' }, `--NI|-|-|""|.`},
		{"unique id", "%ID|%{+Q}ID", noCaps, nil, `id-17|"id-17"`},
		{"bytes", "%B|%U|%ST", noCaps, nil, "145|80|200"},
		// A request the multiplexer refused: HAProxy logs it without a
		// stream, whatever lb's record holds.
		{"no stream", DefaultHTTPLogFormat, caps,
			func(r *TCPLog) {
				r.HTTP.Request, r.HTTP.Status, r.Term = nil, 400, "PR"
				r.Backend, r.Server = "fe", ""
				r.Tw, r.Tc, r.Tt = -1, -1, 7*time.Millisecond
				r.HTTP.CookieCli = 'N'
			},
			`192.0.2.7:41864 [25/Nov/2026:12:19:37.257] fe fe/<NOSRV> -1/-1/-1/-1/4 400 0 - - PR-- 3/2/1/1/0 0/0 "<BADREQ>"`},
		{"no stream, every variable", "%B|%U|%ID|%TR|%Tq|%Tw|%Tc|%Tr|%Td|%hr|%hrl|%hs|%hsl|%HM|%HQ|%{+Q}HV|%tsc", caps,
			func(r *TCPLog) { r.HTTP.Request, r.HTTP.Status, r.Term = nil, 408, "cR" },
			`0|0|-|-1|-1|-1|-1|-1|-1|||||<BADREQ>|<BADREQ>|"<BADREQ>"|cR--`},
		{"no stream spacing", "%ST %hr %hs %r", caps,
			func(r *TCPLog) { r.HTTP.Request, r.HTTP.Status = nil, 400 }, `400 <BADREQ>`},
		// A TCP session's record (no HTTP part) prints what HAProxy
		// prints without a transaction.
		{"tcp session", "%ST|%Ti|%TR|%Tq|%Tr|%Ta|%Tu|%Td|%r|%HM|%HQ|%tsc|%hr|%tr", caps,
			func(r *TCPLog) { r.HTTP = HTTPLog{}; r.Td = 28 * time.Millisecond },
			"0|-1|-1|-1|-1|33|33|28|<BADREQ>|<BADREQ>|<BADREQ>|----|{|}|25/Nov/2026:12:19:37.254"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lf, err := CompileLogFormat(tc.format, tc.opt)
			if err != nil {
				t.Fatalf("CompileLogFormat(%q) = %v", tc.format, err)
			}
			r := sampleHTTPLog()
			if tc.edit != nil {
				tc.edit(&r)
			}
			if got := string(lf.AppendFormat(nil, &r)); got != tc.want {
				t.Errorf("%s\n got %s\nwant %s", tc.format, got, tc.want)
			}
		})
	}
}

// TestHTTPVarsByMode: mode http accepts every HTTP variable of HAProxy 2.6,
// mode tcp refuses each in HAProxy's words.
func TestHTTPVarsByMode(t *testing.T) {
	for name := range httpVars {
		if _, err := CompileLogFormat("%"+name, LogFormatOptions{HTTP: true}); err != nil {
			t.Errorf("mode http: %%%s: %v", name, err)
		}
		_, err := CompileLogFormat("%{+Q}"+name, LogFormatOptions{})
		if want := "format variable '" + name + "' is reserved for HTTP mode"; err == nil || err.Error() != want {
			t.Errorf("mode tcp: %%%s: %v; want %q", name, err, want)
		}
	}
	for _, f := range []string{DefaultHTTPLogFormat, CLFHTTPLogFormat} {
		if _, err := CompileLogFormat(f, LogFormatOptions{}); err == nil {
			t.Errorf("mode tcp accepted %q", f)
		}
	}
}

// TestHTTPUniqueIDLimit: a unique id stops at 127 bytes, without cutting
// an escape of the request line in two.
func TestHTTPUniqueIDLimit(t *testing.T) {
	uf, err := CompileLogFormat(strings.Repeat("x", 120)+"%HU", LogFormatOptions{HTTP: true, UniqueID: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ uri, want string }{
		{"/abcdefghij", "/abcdef"},
		{"/abcde#fgh", "/abcde"},
		{"/abcd#efgh", "/abcd"},
		{"/abc#defgh", "/abc#23"},
	} {
		r := sampleHTTPLog()
		r.HTTP.Request = []byte("GET " + tc.uri + " HTTP/1.1")
		uf.GenerateUniqueID(&r, nil)
		if got := strings.TrimLeft(string(r.UniqueID), "x"); got != tc.want {
			t.Errorf("%s: id ends %q; want %q", tc.uri, got, tc.want)
		}
	}
}

func TestShouldLogHTTP(t *testing.T) {
	for _, tc := range []struct {
		dontLogNull bool
		request     string
		bytes       int64
		want        bool
	}{
		{false, "", 0, true},
		{true, "", 0, false},
		{true, "", 12, true},
		{true, "GET / HTTP/1.1", 40, true},
	} {
		if got := ShouldLogHTTP(tc.dontLogNull, []byte(tc.request), tc.bytes); got != tc.want {
			t.Errorf("ShouldLogHTTP(%v, %q, %d) = %v", tc.dontLogNull, tc.request, tc.bytes, got)
		}
	}
}

func TestHTXSize(t *testing.T) {
	// HTTP/1.1 200 OK, Content-Type: text/plain, Content-Length: 6, "hello\n":
	// what HAProxy 2.6 logs as %B.
	if got := HTXSize(len("HTTP/1.1")+len("200")+len("OK"), len("Content-Type")+len("text/plain")+len("Content-Length")+len("6"), 6, false); got != 77 {
		t.Errorf("HTXSize = %d; want 77", got)
	}
	if got := HTXSize(0, 0, 0, true); got != 22 {
		t.Errorf("HTXSize(chunked) = %d; want 22", got)
	}
}
