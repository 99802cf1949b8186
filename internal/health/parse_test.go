package health

import (
	"bytes"
	"slices"
	"testing"
)

func TestParseTCPCheck(t *testing.T) {
	rules, err := ParseTCPCheck([][]string{
		{"comment", "x"},
		{"connect", "port", "6379"},
		{"send", "PING\r\n"},
		{"expect", "string", "+PONG"},
		{"send-binary", "50494e47"},
		{"expect", "!", "binary", "4552"},
		{"expect", "min-recv", "2", "rstring", "^\\+OK"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 6 {
		t.Fatalf("got %d rules; want 6", len(rules))
	}
	if r := rules[0]; r.Action != ActConnect || r.Port != 6379 {
		t.Errorf("rule 1 = %+v; want connect port 6379", r)
	}
	if r := rules[1]; r.Action != ActSend || string(r.Data) != "PING\r\n" {
		t.Errorf("rule 2 = %+v", r)
	}
	if r := rules[2]; r.Action != ActExpect || r.Match != MatchString || string(r.Data) != "+PONG" {
		t.Errorf("rule 3 = %+v", r)
	}
	if r := rules[3]; r.Action != ActSend || string(r.Data) != "PING" {
		t.Errorf("rule 4 = %+v; want send PING", r)
	}
	if r := rules[4]; r.Match != MatchBinary || !r.Negate || !bytes.Equal(r.Data, []byte("ER")) {
		t.Errorf("rule 5 = %+v; want ! binary ER", r)
	}
	if r := rules[5]; r.Match != MatchRString || r.Regexp == nil || !r.Regexp.MatchString("+OK") || r.MinRecv != 2 {
		t.Errorf("rule 6 = %+v; want rstring with min-recv 2", r)
	}
	// Steps count the comment, as HAProxy's.
	if rules[0].Step != 2 || rules[5].Step != 7 {
		t.Errorf("steps %d, %d; want 2, 7", rules[0].Step, rules[5].Step)
	}
	opts, err := ParseTCPCheck([][]string{
		{"connect", "addr", "10.0.0.1", "port", "80", "ssl", "sni", "h", "alpn", "h2,http/1.1", "send-proxy", "via-socks4", "linger", "comment", "c"},
		{"expect", "string", "ok", "ok-status", "L6OK", "error-status", "L4CON", "tout-status", "L6TOUT", "on-success", "yes", "on-error", "no", "comment", "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, e := opts[0], opts[1]
	if c.Addr != "10.0.0.1" || c.Port != 80 || !c.SSL || c.SNI != "h" || len(c.ALPN) != 2 || !c.SendProxy || !c.ViaSocks4 || c.Comment != "c" {
		t.Errorf("connect = %+v", c)
	}
	if e.OKStatus != StatusL6OK || e.ErrStatus != StatusL4Con || e.ToutStatus != StatusL6Tout || e.OnSuccess != "yes" || e.OnError != "no" || e.Comment != "x" || e.MinRecv != -1 {
		t.Errorf("expect = %+v", e)
	}
	for _, bad := range [][]string{
		{"send-lf", "x"}, {"expect", "status", "200"}, {"expect", "string"}, {"connect", "bogus"}, {"connect", "port"},
		{"expect", "string", "x", "error-status", "L9"}, {"expect", "string", "x", "status-code", "1"},
		{"send-binary", "zz"}, {"expect", "rstring", "("},
	} {
		if _, err := ParseTCPCheck([][]string{bad}); err == nil {
			t.Errorf("ParseTCPCheck(%q) = nil error; want an error", bad)
		}
	}
}

func TestParseHTTPCheck(t *testing.T) {
	var cfg Config
	if err := ParseOption(&cfg, "httpchk"); err != nil {
		t.Fatal(err)
	}
	err := ParseHTTPCheck(&cfg, [][]string{
		{"send", "meth", "GET", "uri", "/health", "ver", "HTTP/1.1", "hdr", "Host", "example.org"},
		{"expect", "!", "status", "500-599"},
		{"disable-on-404"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.HTTP
	if cfg.Kind != KindHTTP || h.Method != "GET" || h.URI != "/health" || h.Version != "HTTP/1.1" ||
		!slices.Equal(h.Headers, [][2]string{{"Host", "example.org"}}) {
		t.Errorf("HTTP = %+v", h)
	}
	if e := cfg.Expect; e.Match != MatchStatus || !e.Negate || len(e.Codes) != 1 || e.Codes[0] != (CodeRange{500, 599}) {
		t.Errorf("Expect = %+v", e)
	}
	// http-check connect port N checks another port of the server.
	c := Config{Addr: "192.0.2.1:80"}
	if err := ParseHTTPCheck(&c, [][]string{{"connect", "port", "8080", "ssl", "comment", "admin port"}}); err != nil || c.HTTPConnect == nil ||
		c.HTTPConnect.Port != 8080 || !c.HTTPConnect.SSL {
		t.Errorf("connect port 8080 ssl: %+v, %v", c.HTTPConnect, err)
	}
	// Several exchanges: the rules in order, an implicit expect after the last send.
	seq := Config{Addr: "192.0.2.1:80", HTTP: HTTPRequest{Method: "GET", URI: "/x"}}
	if err := ParseHTTPCheck(&seq, [][]string{{"connect"}, {"send", "uri", "/a"}, {"expect", "status", "200"},
		{"connect", "port", "81"}, {"send", "uri", "/b"}}); err != nil {
		t.Fatal(err)
	}
	if st := seq.HTTPSteps; len(st) != 6 || st[1].Send.Method != "GET" || st[1].Send.URI != "/a" ||
		st[4].Send.Method != "OPTIONS" || st[4].Send.URI != "/b" || st[3].Connect.Port != 81 || st[5].Expect == nil {
		t.Errorf("steps = %+v", st)
	}
	for _, bad := range [][][]string{
		{{"connect", "bogus"}},
		{{"connect", "port", "x"}},
		{{"send-state"}},
		{{"expect", "binary", "4f4b"}},
		{{"send", "hdr", "Host"}},
		{{"set-var(check.x)", "1"}},
	} {
		var c Config
		if err := ParseHTTPCheck(&c, bad); err == nil {
			t.Errorf("ParseHTTPCheck(%q) = nil error; want an error", bad)
		}
	}
}

func TestParseOption(t *testing.T) {
	for _, tc := range []struct {
		option string
		kind   Kind
		rules  int
		err    bool
	}{
		{"", KindTCP, 0, false},
		{"httpchk", KindHTTP, 0, false},
		{"tcp-check", KindTCPCheck, 0, false},
		{"redis-check", KindRedis, 0, false},
		{"ldap-check", KindLDAP, 0, false},
		{"smtpchk", KindSMTP, 0, false},
		{"ssl-hello-chk", KindSSLHello, 0, false},
		{"mysql-check", KindMySQL, 0, false},
		{"pgsql-check", KindTCP, 0, true},
		{"spop-check", KindTCP, 0, true},
	} {
		var cfg Config
		err := ParseOption(&cfg, tc.option)
		if (err != nil) != tc.err || cfg.Kind != tc.kind || len(cfg.TCPCheck) != tc.rules {
			t.Errorf("ParseOption(%q) = kind %v, %d rules, %v; want %v, %d, error %v", tc.option, cfg.Kind, len(cfg.TCPCheck), err, tc.kind, tc.rules, tc.err)
		}
	}
}
