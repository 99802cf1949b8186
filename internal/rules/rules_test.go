package rules

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// render formats a sample for comparison: "type:value".
func render(smp sample, ok bool) string {
	if !ok {
		if smp.mayChange {
			return "<wait>"
		}
		return "<none>"
	}
	switch smp.t {
	case tBool:
		return fmt.Sprintf("bool:%d", smp.i)
	case tInt:
		return fmt.Sprintf("int:%d", smp.i)
	case tIPv4, tIPv6:
		return fmt.Sprintf("%s:%s", smp.t, smp.ip)
	case tStr:
		return "str:" + string(smp.b)
	case tBin:
		return "bin:" + hex.EncodeToString(smp.b)
	}
	return "?"
}

// exprCompiler is a compiler for the backend be_web of an empty
// configuration.
func exprCompiler(t testing.TB) *compiler {
	cfg := loadCfg(t, "")
	px := cfg.Backend("be_web")
	p, errs := Compile(cfg, px, testEnv(), Options{})
	if errs != nil {
		t.Fatal(errs)
	}
	return &compiler{cfg: cfg, px: px, p: p, env: testEnv(), acls: map[string]*acl{}, opt: Options{
		Getenv: func(n string) (string, bool) { return map[string]string{"LB_TEST": "hello"}[n], n == "LB_TEST" },
	}}
}

func evalString(t *testing.T, c *compiler, text string, s *Stream, final bool) string {
	t.Helper()
	e, err := c.parseExpr(text)
	if err != nil {
		return "error: " + err.Error()
	}
	ev := &evalCtx{s: s, p: c.p, final: final}
	return render(e.eval(ev))
}

// TestFetches checks each fetch's value on a stream from 10.1.2.3:40000
// to 192.0.2.1:443.
func TestFetches(t *testing.T) {
	c := exprCompiler(t)
	hello := clientHello(t, "www.example.com", "h2", "http/1.1")
	tests := []struct {
		expr, want string
		req        []byte
	}{
		{"src", "ipv4:10.1.2.3", nil},
		{"src_port", "int:40000", nil},
		{"dst", "ipv4:192.0.2.1", nil},
		{"dst_port", "int:443", nil},
		{"so_name", "str:tls", nil},
		{"fe_name", "str:fe", nil},
		{"fe_conn", "int:7", nil},
		{"be_name", "str:be_web", nil},
		{"nbsrv", "int:2", nil},
		{"nbsrv(be_api)", "int:0", nil},
		{"connslots(be_api)", "int:-1", nil},
		{"be_conn(be_web)", "int:3", nil},
		{"be_conn", "int:3", nil},
		{"srv_is_up(be_web/w1)", "bool:1", nil},
		{"srv_is_up(be_web/w2)", "bool:0", nil},
		{"srv_is_up(w1)", "bool:1", nil},
		{"always_true", "bool:1", nil},
		{"always_false", "bool:0", nil},
		{"env(LB_TEST)", "str:hello", nil},
		{"env(LB_NOPE)", "<none>", nil},
		{"int(-12)", "int:-12", nil},
		{"str(a,b)", "error: fetch method 'str' expects 1 argument(s) in expression 'str(a,b)'", nil},
		{`str("a,b")`, "str:a,b", nil},
		{"bool(3)", "bool:1", nil},
		{"bin(0aff)", "bin:0aff", nil},
		{"ipv4(192.0.2.7)", "ipv4:192.0.2.7", nil},
		{"ipv6(2001:db8::1)", "ipv6:2001:db8::1", nil},
		{"var(txn.nope)", "<none>", nil},
		{"var(txn.nope,dflt)", "str:dflt", nil},
		{"req.len", "int:5", []byte("hello")},
		{"req_len", "int:0", nil},
		{"req.payload(1,3)", "bin:656c6c", []byte("hello")},
		{"payload(0,0)", "bin:68656c6c6f", []byte("hello")},
		{"req.payload(3,3)", "<wait>", []byte("hello")},
		{"req.payload(16380,10)", "<none>", []byte("hello")},
		{"req.payload_lv(0,1)", "bin:6162", []byte("\x02ab")},
		{"req.payload_lv(0,1)", "<wait>", []byte("\x05ab")},
		{"req.payload_lv(0,2,+1)", "bin:62", []byte("\x00\x01ab")},
		{"req.ssl_sni", "str:www.example.com", hello},
		{"req_ssl_sni,upper", "str:WWW.EXAMPLE.COM", hello},
		{"req.ssl_alpn", "str:h2", hello},
		{"req.ssl_hello_type", "int:1", hello},
		{"req_ssl_hello_type", "<wait>", hello[:20]},
		{"req.ssl_ver", "int:196611", hello}, // 3.3: client_version of a TLS 1.3 ClientHello
		{"req.ssl_ec_ext", "bool:1", hello},
		{"req.ssl_sni", "<wait>", hello[:len(hello)-1]},
		{"req.ssl_sni", "<none>", []byte("GET / HTTP/1.1\r\n")},
		{"req.ssl_sni", "<wait>", nil},
		{"res.len", "int:0", nil},
		{"hdr(host)", "error: 'hdr' is not supported by lb yet", nil},
		{"nosuch", "error: unknown fetch method 'nosuch' in expression 'nosuch'", nil},
		{"nbsrv(nope)", "error: invalid args in fetch method 'nbsrv' : unable to find backend 'nope' in expression 'nbsrv(nope)'", nil},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			s := newStream()
			s.Req = tt.req
			if got := evalString(t, c, tt.expr, s, false); got != tt.want {
				t.Errorf("eval(%q) = %s; want %s", tt.expr, got, tt.want)
			}
		})
	}
}

// TestFinal checks that content fetches stop reporting "wait" once the
// data is final.
func TestFinal(t *testing.T) {
	c := exprCompiler(t)
	hello := clientHello(t, "a.example")
	for _, expr := range []string{"req.ssl_sni", "req.payload(0,10)", "req.ssl_ver"} {
		s := newStream()
		s.Req = hello[:8]
		if got := evalString(t, c, expr, s, true); got != "<none>" {
			t.Errorf("eval(%q) on final truncated data = %s; want <none>", expr, got)
		}
	}
}

// TestConverters checks converters against the manual's examples where it
// gives them (field, word, regsub) and HAProxy's code otherwise.
func TestConverters(t *testing.T) {
	c := exprCompiler(t)
	tests := []struct{ expr, want string }{
		{"str(AbC),lower", "str:abc"},
		{"str(AbC),upper", "str:ABC"},
		{"str(hello),length", "int:5"},
		{"str(AB),hex", "str:4142"},
		{"str(hello),base64", "str:aGVsbG8="},
		{"str(hello),bytes(1,3)", "bin:656c6c"},
		{"int(3),bool", "bool:1"},
		{"int(0),not", "bool:1"},
		{"int(3),odd", "bool:1"},
		{"int(3),even", "bool:0"},
		{"int(5),add(3)", "int:8"},
		{"int(5),sub(7)", "int:-2"},
		{"int(5),mul(-3)", "int:-15"},
		{"int(9223372036854775807),add(1)", "int:9223372036854775807"},
		{"int(7),div(2)", "int:3"},
		{"int(7),div(0)", "int:9223372036854775807"},
		{"int(7),mod(4)", "int:3"},
		{"int(7),mod(0)", "int:0"},
		{"int(6),and(3)", "int:2"},
		{"int(6),or(3)", "int:7"},
		{"int(6),xor(3)", "int:5"},
		{"int(6),neg", "int:-6"},
		{"int(5),add(x)", "error: invalid args in converter 'add' : expects an integer or a variable name in expression 'int(5),add(x)'"},
		{"src,ipmask(24)", "ipv4:10.1.2.0"},
		{"src,ipmask(255.255.0.0)", "ipv4:10.1.0.0"},
		{"ipv6(2001:db8::1),ipmask(24)", "<none>"},
		{"ipv6(2001:db8:1::1),ipmask(24,32)", "ipv6:2001:db8::"},
		{`str('a"b/\c'),json`, `str:a\"b\/\\c`},
		{"str(f1_f2_f3__f5),field(5,_)", "str:f5"},
		{"str(f1_f2_f3__f5),field(2,_,0)", "str:f2_f3__f5"},
		{"str(f1_f2_f3__f5),field(2,_,2)", "str:f2_f3"},
		{"str(f1_f2_f3__f5),field(-2,_,3)", "str:f2_f3_"},
		{"str(f1_f2_f3__f5),field(-3,_,0)", "str:f1_f2_f3"},
		{"str(f1_f2_f3__f5),word(4,_)", "str:f5"},
		{"str(f1_f2_f3__f5),word(2,_,0)", "str:f2_f3__f5"},
		{"str(f1_f2_f3__f5),word(3,_,2)", "str:f3__f5"},
		{"str(f1_f2_f3__f5),word(-2,_,3)", "str:f1_f2_f3"},
		{"str(f1_f2_f3__f5),word(-3,_,0)", "str:f1_f2"},
		{"str(/f1/f2/f3/f4),word(1,/)", "str:f1"},
		{"str(/////a///b/c/xzxyz/),regsub('/+','/','g')", "str:/a/b/c/xzxyz/"},
		{"str(?a=1),regsub([?;&]*,'')", "str:a=1"},
		{`str(ab-cd),regsub('(\w+)-(\w+)','\2-\1')`, "str:cd-ab"},
		{"str(AAA),regsub(a,b,gi)", "str:bbb"},
		{"str(www.example.com),map(testdata/hosts.map)", "str:be_web"},
		{"str(nope),map(testdata/hosts.map)", "<none>"},
		{"str(nope),map(testdata/hosts.map,be_dflt)", "str:be_dflt"},
		{"str(api.example.com),map_str(testdata/hosts.map)", "str:be_api"},
		{"str(www.ex),map_beg(testdata/hosts.map)", "<none>"},
		{"str(www.example.com.evil),map_beg(testdata/hosts.map)", "str:be_web"},
		{"src,map_ip(testdata/nets.map)", "str:ten-one"},
		{"ipv4(10.9.9.9),map_ip(testdata/nets.map)", "str:ten"},
		{"ipv4(192.0.2.9),map_ip(testdata/nets.map)", "str:mapped"},
		{"dst_port,map_int(testdata/ports.map)", "str:https"},
		{"int(8080),map_int(testdata/ports.map)", "str:alt"},
		{"str(x),map(testdata/nope.map)", "error: invalid args in converter 'map' : failed to open pattern file <testdata/nope.map> in expression 'str(x),map(testdata/nope.map)'"},
		{"str(x),sha1", "error: 'sha1' is not supported by lb yet"},
		{"str(x),nosuch", "error: unknown converter 'nosuch' in expression 'str(x),nosuch'"},
		{"always_true,lower", "str:1"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			expr := strings.ReplaceAll(tt.expr, "testdata/", "testdata/")
			if got := evalString(t, c, expr, newStream(), true); got != tt.want {
				t.Errorf("eval(%q) = %s; want %s", tt.expr, got, tt.want)
			}
		})
	}
}

// contentAccept compiles "tcp-request content accept if COND" in a
// frontend and reports the verdict on s.
func contentVerdict(t *testing.T, acls, cond string, s *Stream) Verdict {
	t.Helper()
	p := compileProxy(t, "frontend f\n    bind 127.0.0.1:1\n    tcp-request inspect-delay 5s\n"+acls+
		"    tcp-request content accept if "+cond+"\n    tcp-request content reject\n    default_backend be_web\n", "f")
	return p.TCPContent(s)
}

// TestMatch checks the match methods, flags and pattern syntaxes.
func TestMatch(t *testing.T) {
	hello := clientHello(t, "Mail.example.com", "h2", "http/1.1")
	tests := []struct {
		acl  string
		want bool
	}{
		{"src 10.1.2.3", true},
		{"src 10.0.0.0/8", true},
		{"src 10.1.0.0/255.255.0.0", true},
		{"src 11.0.0.0/8 10.1.2.4", false},
		{"src ::ffff:10.1.2.3", true},
		{"src ::ffff:10.0.0.0/104", true},
		{"src -f testdata/blocklist.lst", true},
		{"dst -f testdata/blocklist.lst", false},
		{"src,ipmask(16) 10.1.0.0", true},
		{"dst_port 443", true},
		{"dst_port 400:500", true},
		{"dst_port 444:", false},
		{"dst_port :443", true},
		{"dst_port gt 442", true},
		{"dst_port lt 443", false},
		{"dst_port ge 443", true},
		{"dst_port le 442", false},
		{"dst_port eq 80 443", true},
		{"dst_port 80 8080", false},
		{"src_port -m int 40000", true},
		{"so_name tls", true},
		{"so_name -m beg tl", true},
		{"so_name -m end ls", true},
		{"so_name -m sub l", true},
		{"so_name -m len 3", true},
		{"so_name -m len 4:", false},
		{"so_name -m reg ^t.s$", true},
		{"so_name -m found", true},
		{"so_name -m str TLS", false},
		{"so_name -i -m str TLS", true},
		{"so_name -i -m beg TL", true},
		{"so_name -m reg -i ^T", true},
		{"str(/a/b/c) -m dir b", true},
		{"str(/a/bc/d) -m dir b", false},
		{"str(www.example.com) -m dom example", true},
		{"str(www.example.com) -m dom exam", false},
		{"req.ssl_sni -i mail.example.com", true},
		{"req.ssl_sni mail.example.com", false},
		{"req.ssl_sni -i -f testdata/sni.lst", true},
		{"req_ssl_sni -m end .example.com", true},
		{"req.ssl_alpn http/1.1", true}, // the second ALPN name matches too
		{"req.ssl_ver 3.3", true},
		{"req_ssl_ver 3.1:3.3", true},
		{"req_ssl_ver gt 3.3", false},
		{"req.ssl_hello_type 1", true},
		{"req.payload(0,1) -m bin 16", true},
		{"req.payload(0,3),hex -m beg 1603", true},
		{"req.len gt 100", true},
		{"always_true", true},
		{"always_false", false},
		{"env(LB_TEST) hello", true},
		{"int(3),mul(2) 6", true},
		{"int(1) -m bool", true},
		{"int(0) -m bool", false},
		{"var(txn.nope) -m found", false},
		{"str(x) -- -x", false},
	}
	for _, tt := range tests {
		t.Run(tt.acl, func(t *testing.T) {
			s := newStream()
			s.Req, s.ReqFinal = hello, true
			got := contentVerdict(t, "", "{ "+tt.acl+" }", s) == Accept
			if got != tt.want {
				t.Errorf("match(%q) = %v; want %v", tt.acl, got, tt.want)
			}
		})
	}
}

// TestConditions checks named and anonymous ACLs, "!", "||"/"or",
// implicit AND, "unless" and ACLs declared on several lines.
func TestConditions(t *testing.T) {
	acls := `    acl local src 10.0.0.0/8
    acl https dst_port 443
    acl web dst_port 80
    acl web dst_port 443
    acl TRUE always_false
`
	tests := []struct {
		cond string
		want bool
	}{
		{"local", true},
		{"!local", false},
		{"! local", false},
		{"!!local", true},
		{"local https", true},
		{"local !https", false},
		{"!local || https", true},
		{"!local or !https", false},
		{"!local OR https", true},
		{"web", true}, // the second line of "web" matches
		{"{ src 10.1.2.3 } { dst_port 443 }", true},
		{"!{ src 10.1.2.3 } || { always_false }", false},
		{"TRUE", false}, // an ACL of the proxy hides the predefined one
		{"FALSE || LOCALHOST", false},
		{"REQ_CONTENT", false},
		{"WAIT_END", true},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			s := newStream()
			s.ReqFinal = true
			if got := contentVerdict(t, acls, tt.cond, s) == Accept; got != tt.want {
				t.Errorf("cond %q = %v; want %v", tt.cond, got, tt.want)
			}
		})
	}
	s := newStream()
	p := compileProxy(t, "frontend f\n    bind 127.0.0.1:1\n    tcp-request connection reject unless { src 10.0.0.0/8 }\n"+
		"    tcp-request connection accept\n    default_backend be_web\n", "f")
	if v := p.TCPConnection(s); v != Accept {
		t.Errorf("unless: TCPConnection = %v; want Accept", v)
	}
	s.Src = netip.MustParseAddrPort("192.0.2.9:1")
	if v := p.TCPConnection(s); v != Reject {
		t.Errorf("unless: TCPConnection = %v; want Reject", v)
	}
}

// TestWait checks the content rules' waiting: a rule whose condition needs
// more data returns Wait while the data is not final and is evaluated
// again from the same rule; once final the condition is false.
func TestWait(t *testing.T) {
	p := compileProxy(t, `frontend f
    bind 127.0.0.1:1
    tcp-request inspect-delay 5s
    tcp-request content set-var(txn.n) var(txn.n,0),add(1)
    tcp-request content reject if { src 192.0.2.0/24 }
    tcp-request content accept if { req.ssl_hello_type 1 }
    tcp-request content reject
    default_backend be_web
`, "f")
	hello := clientHello(t, "a.example")
	s := newStream()
	s.Req = hello[:3]
	if v := p.TCPContent(s); v != Wait {
		t.Fatalf("TCPContent(3 bytes) = %v; want Wait", v)
	}
	s.Req = hello[:40]
	if v := p.TCPContent(s); v != Wait {
		t.Fatalf("TCPContent(40 bytes) = %v; want Wait", v)
	}
	s.Req = hello
	if v := p.TCPContent(s); v != Accept {
		t.Fatalf("TCPContent(hello) = %v; want Accept", v)
	}
	// The set-var rule before the waiting rule ran once.
	v, err := (&compiler{p: p}).varRef("txn.n")
	if err != nil {
		t.Fatal(err)
	}
	if got := render(v.get(&evalCtx{s: s, p: p})); got != "int:1" {
		t.Errorf("var(txn.n) = %s; want int:1 (rules before the waiting one run once)", got)
	}
	s.Reset()
	s.Src = netip.MustParseAddrPort("10.0.0.1:1")
	s.Req, s.ReqFinal = hello[:40], true
	if v := p.TCPContent(s); v != Reject {
		t.Errorf("TCPContent(final, truncated) = %v; want Reject", v)
	}
	// Layer-4 conditions never wait.
	s.Reset()
	s.Src = netip.MustParseAddrPort("192.0.2.1:1")
	if v := p.TCPContent(s); v != Reject {
		t.Errorf("TCPContent(no data, L4 reject) = %v; want Reject", v)
	}
	// Without inspect-delay the data is final at once.
	q := compileProxy(t, "frontend g\n    bind 127.0.0.1:1\n    tcp-request content accept if { req.len gt 0 }\n    tcp-request content reject\n    default_backend be_web\n", "g")
	s.Reset()
	if v := q.TCPContent(s); v != Reject {
		t.Errorf("TCPContent(no inspect-delay) = %v; want Reject", v)
	}
}

// TestActions checks set-var/unset-var (with conditions), set-dst,
// set-dst-port, expect-proxy and tcp-response close.
func TestActions(t *testing.T) {
	p := compileProxy(t, `listen l
    bind 127.0.0.1:1
    tcp-request connection expect-proxy layer4 if { src 10.0.0.0/8 }
    tcp-request connection set-var(sess.src) src
    tcp-request session set-var(txn.port) dst_port
    tcp-request content set-var(txn.name) str(first)
    tcp-request content set-var(txn.name,ifnotexists) str(second)
    tcp-request content set-var(txn.big,ifgt) int(5)
    tcp-request content set-var(proc.seen) str(yes)
    tcp-request content unset-var(txn.port) if { var(txn.port) -m int 443 }
    tcp-request content set-dst ipv4(192.0.2.77)
    tcp-request content set-dst-port int(8443)
    tcp-response content close if { res.len gt 3 }
    server s1 127.0.0.1:9
`, "l")
	s := newStream()
	if v := p.TCPConnection(s); v != Continue || !s.ExpectProxy {
		t.Errorf("TCPConnection = %v, ExpectProxy %v; want Continue, true", v, s.ExpectProxy)
	}
	p.TCPSession(s)
	if v := p.TCPContent(s); v != Continue {
		t.Errorf("TCPContent = %v; want Continue", v)
	}
	if got := s.Dst.String(); got != "192.0.2.77:8443" {
		t.Errorf("Dst = %s; want 192.0.2.77:8443", got)
	}
	ev := &evalCtx{s: s, p: p, final: true}
	c := &compiler{p: p}
	for name, want := range map[string]string{"sess.src": "ipv4:10.1.2.3", "txn.name": "str:first",
		"txn.port": "<none>", "proc.seen": "str:yes", "txn.big": "int:5"} {
		v, err := c.varRef(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := render(v.get(ev)); got != want {
			t.Errorf("var(%s) = %s; want %s", name, got, want)
		}
	}
	s.Res = []byte("abcd")
	if v := p.TCPResponse(s); v != Close {
		t.Errorf("TCPResponse = %v; want Close", v)
	}
	s.Reset()
	if s.ExpectProxy || s.Src.IsValid() || len(s.Req) != 0 {
		t.Errorf("Reset left %+v", s)
	}
}

// TestSwitching checks use_backend (static and dynamic), use-server and
// force-persist.
func TestSwitching(t *testing.T) {
	p := compileProxy(t, `frontend f
    bind 127.0.0.1:1
    use_backend be_api if { dst_port 8443 }
    use_backend %[req.ssl_sni,lower,map(testdata/hosts.map)] if { req.ssl_sni -m found }
    use_backend %[str(nosuch)] if { dst_port 9999 }
    default_backend be_web
`, "f")
	s := newStream()
	if be, ok, v := p.UseBackend(s); be != nil || ok || v != Continue {
		t.Errorf("UseBackend(no match) = %v, %v, %v; want nil, false, Continue", be, ok, v)
	}
	s.Req = clientHello(t, "API.example.com")
	if be, ok, _ := p.UseBackend(s); !ok || be == nil || be.Name() != "be_api" {
		t.Errorf("UseBackend(sni) = %v, %v; want be_api", be, ok)
	}
	s.Reset()
	s.Dst = netip.MustParseAddrPort("192.0.2.1:8443")
	if be, ok, _ := p.UseBackend(s); !ok || be.Name() != "be_api" {
		t.Errorf("UseBackend(port) = %v, %v; want be_api", be, ok)
	}
	s.Dst = netip.MustParseAddrPort("192.0.2.1:9999")
	if be, ok, _ := p.UseBackend(s); ok || be != nil {
		t.Errorf("UseBackend(unknown dynamic name) = %v, %v; want nil, false (default backend)", be, ok)
	}

	b := compileProxy(t, `frontend f2
    bind 127.0.0.1:2
    default_backend be_web
backend be_sw
    force-persist if { src 10.9.0.0/16 }
    use-server w2 if { dst_port 443 }
    use-server %[str(w1)] if { dst_port 443 }
    server w1 127.0.0.1:1
    server w2 127.0.0.1:2
`, "be_sw")
	s.Reset()
	s.Src = netip.MustParseAddrPort("10.1.2.3:1")
	s.Dst = netip.MustParseAddrPort("192.0.2.1:443")
	s.Backend = testEnv()["be_web"] // w1 up, w2 down
	if srv, force := b.UseServer(s); srv != "w1" || force {
		t.Errorf("UseServer = %q, %v; want w1 (w2 is down), false", srv, force)
	}
	s.Src = netip.MustParseAddrPort("10.9.1.1:1")
	if srv, force := b.UseServer(s); srv != "w2" || !force {
		t.Errorf("UseServer(force-persist) = %q, %v; want w2, true", srv, force)
	}
}

// TestCompileErrors checks that what lb lacks is refused with its line.
func TestCompileErrors(t *testing.T) {
	tests := []struct{ rule, want string }{
		{"tcp-request content accept if { hdr(host) x }", ":9: 'hdr' is not supported by lb yet"},
		{"tcp-request content accept if METH_GET", ":9: 'METH_GET' is not supported by lb yet"},
		{"tcp-request content accept if { str(x),sha1 -m found }", ":9: 'sha1' is not supported by lb yet"},
		{"tcp-request content accept if { var(txn.x) foo }", ":9: matching method must be specified first (using '-m') when using a sample fetch of this type ('var')"},
		{"tcp-request content accept if { str(x) -m reg (?<=x) }", "is not supported by lb yet"},
		{"tcp-request connection set-var(txn.x) req.len", ":9: fetch method 'set-var(txn.x)' extracts information from 'request buffer', none of which is available here"},
		{"tcp-request content set-var(foo) src", ":9: 'tcp-request content set-var(foo)': invalid variable name 'foo'"},
		{"use_backend %[src]%H", "'log-format variable %H' is not supported by lb yet"},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			cfg := loadCfg(t, "frontend f\n    bind 127.0.0.1:1\n    default_backend be_web\n"+"    "+tt.rule+"\n")
			_, errs := Compile(cfg, cfg.Frontend("f"), nil, Options{})
			if len(errs) == 0 || !strings.Contains(errs[0].Error(), tt.want) {
				t.Errorf("Compile(%q) = %v; want %q", tt.rule, errs, tt.want)
			}
		})
	}
}

// TestWarnings checks that an ACL whose fetch is unavailable where it is
// used is reported and never matches.
func TestWarnings(t *testing.T) {
	p := compileProxy(t, "frontend f\n    bind 127.0.0.1:1\n    tcp-request connection reject if { req.len gt 0 }\n    default_backend be_web\n", "f")
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "anonymous acl will never match in 'tcp-request connection' because it uses keyword 'req.len'") {
		t.Errorf("Warnings = %q", p.Warnings)
	}
	s := newStream()
	s.Req = []byte("data")
	if v := p.TCPConnection(s); v != Continue {
		t.Errorf("TCPConnection = %v; want Continue", v)
	}
}

// TestHelloGarbage feeds mutations of a real ClientHello to the parser.
func TestHelloGarbage(t *testing.T) {
	hello := clientHello(t, "www.example.com", "h2")
	for i := range hello {
		for _, b := range []byte{0, 0xff, hello[i] + 1} {
			m := append([]byte(nil), hello...)
			m[i] = b
			parseHello(m)
			parseHello(m[:i])
		}
	}
	h, st := parseHello(hello)
	if st != helloOK || string(hello[h.sniOff:h.sniOff+h.sniLen]) != "www.example.com" {
		t.Errorf("parseHello = %+v, %v", h, st)
	}
}
