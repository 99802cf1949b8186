package rules

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lb/internal/config"
	"lb/internal/http1"
)

// hdrs builds a header table from "Name: value" lines.
func hdrs(lines ...string) http1.Header {
	var h http1.Header
	for _, l := range lines {
		n, v, _ := strings.Cut(l, ":")
		h.Fields = append(h.Fields, http1.Field{Name: []byte(n), Value: []byte(strings.TrimSpace(v))})
	}
	return h
}

// showHdrs renders a header table as "Name: value|Name: value".
func showHdrs(h *http1.Header) string {
	var out []string
	for _, f := range h.Fields {
		out = append(out, string(f.Name)+": "+string(f.Value))
	}
	return strings.Join(out, "|")
}

func testRequest() *http1.Message {
	return &http1.Message{Method: []byte("GET"), URI: []byte("/a/b.php?x=1&y=2&x=3;z=4#frag"), Minor: 1,
		Header: hdrs("Host: www.Example.com", "X-F: a", `X-F: "b,c", d`, "x-f: e", "Cookie: s=1; t=2",
			"Cookie: s=3, u = v ", "X-IP: 10.0.0.1:80", "X-IP6: ::1", "X-Num: 42abc", "X-Bad: nope, 192.0.2.9")}
}

func testResponse() *http1.Message {
	return &http1.Message{Status: 404, Reason: []byte("Not Found"), Minor: 0,
		Header: hdrs("Set-Cookie: sid=abc; Path=/; Expires=Wed, 09 Jun 2021 10:18:14 GMT",
			"Set-Cookie: o=1", "Server: x", "X-Up: 10.9.8.7")}
}

// httpCompiler is a compiler for a mode http frontend.
func httpCompiler(t testing.TB) *compiler {
	cfg := loadCfg(t, httpDefaults+"frontend f\n    mode http\n    bind 127.0.0.1:1\n    default_backend be_web\n")
	px := cfg.Frontend("f")
	p, errs := Compile(cfg, px, testEnv(), Options{})
	if errs != nil {
		t.Fatal(errs)
	}
	return &compiler{cfg: cfg, px: px, p: p, env: testEnv(), acls: map[string]*acl{}}
}

// TestHTTPFetches checks each HTTP fetch as a sample expression (last
// occurrence by default) on hand-built messages.
func TestHTTPFetches(t *testing.T) {
	c := httpCompiler(t)
	tests := []struct {
		expr, want string
		resp       bool // evaluate in response rules
	}{
		{expr: "method", want: "str:GET"},
		{expr: "path", want: "str:/a/b.php"},
		{expr: "pathq", want: "str:/a/b.php?x=1&y=2&x=3;z=4"},
		{expr: "query", want: "str:x=1&y=2&x=3;z=4#frag"},
		{expr: "url", want: "str:/a/b.php?x=1&y=2&x=3;z=4#frag"},
		{expr: "base", want: "str:www.Example.com/a/b.php"},
		{expr: "baseq", want: "str:www.Example.com/a/b.php?x=1&y=2&x=3;z=4#frag"},
		{expr: "url_param(x)", want: "str:1"},
		{expr: "urlp(y)", want: "str:2"},
		{expr: "urlp(z)", want: "str:4#frag"},
		{expr: "urlp(nope)", want: "<none>"},
		{expr: "urlp", want: "str:1"},
		{expr: "urlp_val(y)", want: "int:2"},
		{expr: "hdr(host)", want: "str:www.Example.com"},
		{expr: "req.hdr(x-f)", want: "str:e"},
		{expr: "req.hdr(x-f,1)", want: "str:a"},
		{expr: "req.hdr(x-f,2)", want: `str:"b,c"`},
		{expr: "req.hdr(x-f,3)", want: "str:d"},
		{expr: "req.hdr(x-f,-2)", want: "str:d"},
		{expr: "req.hdr(x-f,5)", want: "<none>"},
		{expr: "req.hdr(x-f,-11)", want: "<none>"},
		{expr: "req.fhdr(x-f)", want: "str:e"},
		{expr: "req.fhdr(x-f,2)", want: `str:"b,c", d`},
		{expr: "hdr_cnt(x-f)", want: "int:4"},
		{expr: "req.hdr_cnt", want: "int:13"},
		{expr: "req.fhdr_cnt(x-f)", want: "int:3"},
		{expr: "hdr_cnt(none)", want: "int:0"},
		{expr: "hdr_ip(x-ip)", want: "ipv4:10.0.0.1"},
		{expr: "req.hdr_ip(x-ip6)", want: "ipv6:::1"},
		{expr: "hdr_ip(x-bad)", want: "ipv4:192.0.2.9"},
		{expr: "hdr_ip(x-bad,1)", want: "<none>"},
		{expr: "hdr_val(x-num)", want: "int:42"},
		{expr: "req.cook(s)", want: "str:3"},
		{expr: "cook(t)", want: "str:2"},
		{expr: "cook(u)", want: "str:v"},
		{expr: "cook", want: "str:1"},
		{expr: "cook_cnt(s)", want: "int:2"},
		{expr: "cook_cnt", want: "int:4"},
		{expr: "cook_val(s)", want: "int:3"},
		{expr: "req.ver", want: "str:1.1"},
		{expr: "req.body", want: "bin:7061796c6f6164"},
		{expr: "req.body_len", want: "int:7"},
		{expr: "status", want: "<none>"},
		{expr: "res.hdr(server)", want: "<none>"},

		{expr: "status", want: "int:404", resp: true},
		{expr: "res.ver", want: "str:1.0", resp: true},
		{expr: "res.hdr(set-cookie)", want: "str:o=1", resp: true},
		{expr: "res.hdr(set-cookie,2)", want: "str:09 Jun 2021 10:18:14 GMT", resp: true},
		{expr: "shdr(server)", want: "str:x", resp: true},
		{expr: "res.fhdr(set-cookie,1)", want: "str:sid=abc; Path=/; Expires=Wed, 09 Jun 2021 10:18:14 GMT", resp: true},
		{expr: "res.hdr_cnt(set-cookie)", want: "int:3", resp: true},
		{expr: "res.fhdr_cnt(set-cookie)", want: "int:2", resp: true},
		{expr: "res.hdr_ip(x-up)", want: "ipv4:10.9.8.7", resp: true},
		{expr: "res.cook(sid)", want: "str:abc", resp: true},
		{expr: "scook(o)", want: "str:1", resp: true},
		{expr: "res.cook(Path)", want: "<none>", resp: true},
		{expr: "res.cook_cnt", want: "int:2", resp: true},
		// The request head is gone in response rules, except the method.
		{expr: "method", want: "str:GET", resp: true},
		{expr: "path", want: "<none>", resp: true},
		{expr: "hdr(host)", want: "<none>", resp: true},
	}
	for _, tt := range tests {
		e, err := c.parseExpr(tt.expr)
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		s := newStream()
		s.HTTP = &HTTPTxn{Req: testRequest(), ReqBody: []byte("payload")}
		if tt.resp {
			s.HTTP.Res = testResponse()
		}
		ev := &evalCtx{s: s, p: c.p, final: true, resp: tt.resp}
		if got := render(e.eval(ev)); got != tt.want {
			t.Errorf("%s (resp %v) = %s; want %s", tt.expr, tt.resp, got, tt.want)
		}
	}
}

// TestHTTPPaths checks path and friends on the request target forms.
func TestHTTPPaths(t *testing.T) {
	c := httpCompiler(t)
	tests := []struct{ uri, path, query, base string }{
		{"/", "str:/", "<none>", "str:h/"},
		{"/x?", "str:/x", "str:", "str:h/x"},
		{"http://host:8080/p/q?a=b", "str:/p/q", "str:a=b", "str:h/p/q"},
		{"http://host", "str:", "<none>", "str:h"},
		{"*", "<none>", "<none>", "str:h"},
		{"host:443", "str:", "<none>", "str:h"},
	}
	for _, tt := range tests {
		for _, x := range []struct{ expr, want string }{{"path", tt.path}, {"query", tt.query}, {"base", tt.base}} {
			s := newStream()
			s.HTTP = &HTTPTxn{Req: &http1.Message{Method: []byte("GET"), URI: []byte(tt.uri), Header: hdrs("Host: h")}}
			e, err := c.parseExpr(x.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := render(e.eval(&evalCtx{s: s, p: c.p, final: true})); got != x.want {
				t.Errorf("%s on %q = %s; want %s", x.expr, tt.uri, got, x.want)
			}
		}
	}
}

// httpDefaults makes the test backends that follow mode http.
const httpDefaults = "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\n"

// httpProxy compiles a mode http frontend "f" with the given lines.
func httpProxy(t testing.TB, lines string) *Proxy {
	t.Helper()
	return compileProxy(t, httpDefaults+"frontend f\n    mode http\n    bind 127.0.0.1:1\n    default_backend be_web\n"+lines, "f")
}

func reqTxn() *Stream {
	s := newStream()
	s.HTTP = &HTTPTxn{Req: testRequest()}
	return s
}

// TestHTTPACLs checks the ACL keywords and the iteration of multi-valued
// fetches in conditions: "http-request deny if <cond>".
func TestHTTPACLs(t *testing.T) {
	tests := []struct {
		cond string
		want bool
	}{
		{"{ path_beg /a/ }", true},
		{"{ path_beg /b }", false},
		{"{ path_end .php }", true},
		{"{ path_sub b.p }", true},
		{"{ path_dir b.php }", true},
		{"{ path_dir a }", true},
		{"{ path_reg ^/a/[a-z]+\\.php$ }", true},
		{"{ path_len 8 }", true},
		{"{ path /a/b.php }", true},
		{"{ path -m beg /a }", true},
		{"{ url_beg /a/b.php?x }", true},
		{"{ url_sub frag }", true},
		{"{ base_dom example.com }", false},
		{"{ base_dom -i example.com }", true},
		{"{ hdr(host) -i www.example.com }", true},
		{"{ hdr_dom(host) -i example.com }", true},
		{"{ hdr_beg(host) www. }", true},
		{"{ hdr_end(host) .com }", true},
		{"{ hdr_len(host) 15 }", true},
		{"{ hdr(x-f) d }", true}, // every value is tried
		{"{ hdr(x-f) a }", true},
		{"{ hdr(x-f,2) d }", false},
		{"{ hdr(x-f,3) d }", true},
		{"{ hdr(x-f) b }", false},
		{"{ hdr_sub(x-f) b,c }", true},
		{"{ req.fhdr(x-f) d }", false},
		{"{ req.fhdr(x-f) -m sub d }", true},
		{"{ hdr_cnt(x-f) 4 }", true},
		{"{ hdr_cnt(x-f) gt 4 }", false},
		{"{ hdr_ip(x-bad) 192.0.2.0/24 }", true},
		{"{ hdr_ip(x-ip) 10.0.0.0/8 }", true},
		{"{ hdr_val(x-num) ge 40 }", true},
		{"{ method GET }", true},
		{"{ method POST PUT }", false},
		{"{ method -i get }", false}, // a well-known method only matches exactly
		{"{ cook(s) 1 }", true},
		{"{ cook(s) 3 }", true},
		{"{ cook(s) 2 }", false},
		{"{ cook_beg(u) v }", true},
		{"{ cook_cnt(s) 2 }", true},
		{"{ urlp(x) 3 }", true}, // every value is tried
		{"{ urlp(x) 1 }", true},
		{"{ urlp(z) 4 }", false}, // the fragment is part of the last value, as in HAProxy
		{"{ urlp(y) 2 }", true},
		{"{ urlp_reg(y) ^[0-9]$ }", true},
		{"{ req_ver 1.1 }", true},
		{"{ req.ver 1.0 }", false},
		{"{ req.body_len 0 }", true},
		{"METH_GET", true},
		{"HTTP_1.1", true},
		{"HTTP_URL_SLASH", true},
		{"HTTP_URL_ABS", false},
		{"HTTP_CONTENT", false},
		{"HTTP", true},
		{"{ shdr(server) x }", false}, // no response in a request
	}
	for _, tt := range tests {
		p := httpProxy(t, "    http-request deny if "+tt.cond+"\n")
		res := p.HTTPRequest(reqTxn())
		if got := res.Verdict == Reject; got != tt.want {
			t.Errorf("deny if %s: %v; want %v", tt.cond, got, tt.want)
		}
	}
}

// TestHTTPRequestActions checks the http-request actions' effects on the
// request head.
func TestHTTPRequestActions(t *testing.T) {
	tests := []struct {
		rules     string
		uri, hdrs string // the expected URI; the expected header fields ("" = unchanged)
		method    string
		verdict   Verdict
	}{
		{rules: "http-request set-header X-F %[src]", hdrs: "Host: www.Example.com|Cookie: s=1; t=2|Cookie: s=3, u = v|X-IP: 10.0.0.1:80|X-IP6: ::1|X-Num: 42abc|X-Bad: nope, 192.0.2.9|X-F: 10.1.2.3"},
		{rules: "http-request add-header X-New \"a %[hdr(host),lower] b\"", hdrs: "+X-New: a www.example.com b"},
		{rules: "http-request set-header X-Copy %[req.hdr(x-f,1)]", hdrs: "+X-Copy: a"},
		{rules: "http-request del-header x-f", hdrs: "Host: www.Example.com|Cookie: s=1; t=2|Cookie: s=3, u = v|X-IP: 10.0.0.1:80|X-IP6: ::1|X-Num: 42abc|X-Bad: nope, 192.0.2.9"},
		{rules: "http-request del-header x-ip -m beg", hdrs: "Host: www.Example.com|X-F: a|X-F: \"b,c\", d|x-f: e|Cookie: s=1; t=2|Cookie: s=3, u = v|X-Num: 42abc|X-Bad: nope, 192.0.2.9"},
		{rules: "http-request del-header OOKIE -m sub", hdrs: "Host: www.Example.com|X-F: a|X-F: \"b,c\", d|x-f: e|X-IP: 10.0.0.1:80|X-IP6: ::1|X-Num: 42abc|X-Bad: nope, 192.0.2.9"},
		{rules: "http-request del-header -IP6 -m end", hdrs: "Host: www.Example.com|X-F: a|X-F: \"b,c\", d|x-f: e|Cookie: s=1; t=2|Cookie: s=3, u = v|X-IP: 10.0.0.1:80|X-Num: 42abc|X-Bad: nope, 192.0.2.9"},
		{rules: "http-request del-header ^X-[A-Z]+$ -m reg", hdrs: "Host: www.Example.com|x-f: e|Cookie: s=1; t=2|Cookie: s=3, u = v|X-IP6: ::1|X-Num: 42abc|X-Bad: nope, 192.0.2.9"},
		{rules: "http-request replace-header Host ^www\\.(.*)$ \\1:80", hdrs: "Host: Example.com:80|X-F: a|X-F: \"b,c\", d|x-f: e|Cookie: s=1; t=2|Cookie: s=3, u = v|X-IP: 10.0.0.1:80|X-IP6: ::1|X-Num: 42abc|X-Bad: nope, 192.0.2.9"},
		{rules: "http-request replace-header X-F ^(.)$ <\\1>", hdrs: "Host: www.Example.com|X-F: <a>|X-F: \"b,c\", d|x-f: <e>|Cookie: s=1; t=2|Cookie: s=3, u = v|X-IP: 10.0.0.1:80|X-IP6: ::1|X-Num: 42abc|X-Bad: nope, 192.0.2.9"},
		{rules: "http-request replace-value X-F ^(.)$ <\\1>", hdrs: "Host: www.Example.com|X-F: <a>|X-F: \"b,c\", <d>|x-f: <e>|Cookie: s=1; t=2|Cookie: s=3, u = v|X-IP: 10.0.0.1:80|X-IP6: ::1|X-Num: 42abc|X-Bad: nope, 192.0.2.9"},
		{rules: "http-request replace-value X-Bad ^nope$ \\x41%[str(b)]", hdrs: "Host: www.Example.com|X-F: a|X-F: \"b,c\", d|x-f: e|Cookie: s=1; t=2|Cookie: s=3, u = v|X-IP: 10.0.0.1:80|X-IP6: ::1|X-Num: 42abc|X-Bad: Ab, 192.0.2.9"},
		{rules: "http-request set-path /new%[path]", uri: "/new/a/b.php?x=1&y=2&x=3;z=4#frag"},
		{rules: "http-request set-pathq /p?q", uri: "/p?q"},
		{rules: "http-request set-query a=%[urlp(y)]", uri: "/a/b.php?a=2"},
		{rules: "http-request set-query \"\"", uri: "/a/b.php?"},
		{rules: "http-request set-uri /x\nhttp-request set-query v=1", uri: "/x?v=1"},
		{rules: "http-request set-uri /x\nhttp-request set-query %[hdr(none)]", uri: "/x"},
		{rules: "http-request set-uri http://user@other:81/z", uri: "http://user@other:81/z", hdrs: "X-F: a|X-F: \"b,c\", d|x-f: e|Cookie: s=1; t=2|Cookie: s=3, u = v|X-IP: 10.0.0.1:80|X-IP6: ::1|X-Num: 42abc|X-Bad: nope, 192.0.2.9|Host: other:81"},
		{rules: "http-request replace-path ^/a/(.*) /b/\\1", uri: "/b/b.php?x=1&y=2&x=3;z=4#frag"},
		{rules: "http-request replace-path /b /c", uri: "/c?x=1&y=2&x=3;z=4#frag"}, // the whole path is replaced
		{rules: "http-request replace-path ^/zzz /c", uri: "/a/b.php?x=1&y=2&x=3;z=4#frag"},
		{rules: "http-request replace-pathq ^([^?]*)\\?.* \\1", uri: "/a/b.php"},
		{rules: "http-request replace-uri ^/(.*)$ /v2/\\1", uri: "/v2/a/b.php?x=1&y=2&x=3;z=4#frag"},
		{rules: "http-request set-method %[str(POST)]", method: "POST"},
		{rules: "http-request set-header X-A 1 if { path_beg /zz }", hdrs: ""},
		{rules: "http-request set-header X-A 1 unless { path_beg /zz }", hdrs: "+X-A: 1"},
		{rules: "http-request allow\nhttp-request set-header X-A 1", verdict: Accept},
		{rules: "http-request set-header X-A 1\nhttp-request deny\nhttp-request set-header X-B 1", hdrs: "+X-A: 1", verdict: Reject},
		{rules: "http-request set-header X-A %[hdr(x-a)]x\nhttp-request set-header X-A %[hdr(x-a)]y", hdrs: "+X-A: xy"},
		{rules: "http-request set-header X-Inj %[bin(610d0a42)]", hdrs: "+X-Inj: a%0D%0AB"},
	}
	orig := testRequest()
	for _, tt := range tests {
		p := httpProxy(t, "    "+strings.ReplaceAll(tt.rules, "\n", "\n    ")+"\n")
		s := reqTxn()
		res := p.HTTPRequest(s)
		if res.Verdict != tt.verdict {
			t.Errorf("%q: verdict %v; want %v", tt.rules, res.Verdict, tt.verdict)
		}
		m := s.HTTP.Req
		wantURI := tt.uri
		if wantURI == "" {
			wantURI = string(orig.URI)
		}
		if string(m.URI) != wantURI {
			t.Errorf("%q: URI %q; want %q", tt.rules, m.URI, wantURI)
		}
		wantHdrs := tt.hdrs
		switch {
		case wantHdrs == "":
			wantHdrs = showHdrs(&orig.Header)
		case wantHdrs[0] == '+':
			wantHdrs = showHdrs(&orig.Header) + "|" + wantHdrs[1:]
		}
		if got := showHdrs(&m.Header); got != wantHdrs {
			t.Errorf("%q: headers\n%s\nwant\n%s", tt.rules, got, wantHdrs)
		}
		wantMethod := tt.method
		if wantMethod == "" {
			wantMethod = "GET"
		}
		if string(m.Method) != wantMethod {
			t.Errorf("%q: method %q; want %q", tt.rules, m.Method, wantMethod)
		}
	}
}

// TestHTTPReplies checks deny, return and redirect results.
func TestHTTPReplies(t *testing.T) {
	dir := t.TempDir()
	body := filepath.Join(dir, "body.txt")
	if err := os.WriteFile(body, []byte("from file %[path]"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rules string
		want  string // Status|Location|ContentType|Body|Headers|DefaultBody
	}{
		{"http-request deny", "403|||||true"},
		{"http-request deny deny_status 429", "429|||||true"},
		{"http-request deny status 400 content-type text/plain string nope hdr X-Why %[path]", "400||text/plain|nope|X-Why: /a/b.php|false"},
		{"http-request return", "200|||||false"},
		{"http-request return status 503 content-type text/html lf-string \"<p>%[hdr(host)]</p>\" hdr A 1 hdr B %[method]", "503||text/html|<p>www.Example.com</p>|A: 1,B: GET|false"},
		{"http-request return content-type text/plain file " + body, "200||text/plain|from file %[path]||false"},
		{"http-request return content-type text/plain lf-file " + body, "200||text/plain|from file /a/b.php||false"},
		{"http-request return content-type text/plain string \"\"", "200||text/plain|||false"},
		{"http-request redirect location /login", "302|/login|||Cache-Control: no-cache|false"},
		{"http-request redirect location https://%[hdr(host)]%[path] code 301", "301|https://www.Example.com/a/b.php|||||false"[:0] + "301|https://www.Example.com/a/b.php||||false"},
		{"http-request redirect prefix /v2 code 308", "308|/v2/a/b.php?x=1&y=2&x=3;z=4#frag||||false"},
		{"http-request redirect prefix / drop-query append-slash", "302|/a/b.php/|||Cache-Control: no-cache|false"},
		{"http-request redirect prefix https://x.example drop-query", "302|https://x.example/a/b.php|||Cache-Control: no-cache|false"},
		{"http-request redirect scheme https code 301 drop-query", "301|https://www.Example.com/a/b.php||||false"},
		{"http-request redirect scheme https set-cookie SEEN=1 code 303", "303|https://www.Example.com/a/b.php?x=1&y=2&x=3;z=4#frag|||Cache-Control: no-cache,Set-Cookie: SEEN=1; path=/;|false"},
		{"http-request redirect location /x code 307 clear-cookie SEEN=", "307|/x|||Cache-Control: no-cache,Set-Cookie: SEEN=; path=/; Max-Age=0;|false"},
		{"http-request redirect location %[hdr(none)] ignore-empty\nhttp-request deny", "403|||||true"},
		{"redirect location /old-style-%[path] code 301", "301|/old-style-%[path]||||false"},
		{"redirect prefix / append-slash code 301", "301|/a/b.php?x=1&y=2&x=3;z=4#frag/||||false"},
		// http-request rules come before the redirect lines; allow does
		// not skip them.
		{"redirect location /r\nhttp-request deny", "403|||||true"},
		{"redirect location /r\nhttp-request allow", "302|/r|||Cache-Control: no-cache|false"},
		{"redirect location /r if { path_beg /zz }\nredirect location /s", "302|/s|||Cache-Control: no-cache|false"},
	}
	for _, tt := range tests {
		p := httpProxy(t, "    "+strings.ReplaceAll(tt.rules, "\n", "\n    ")+"\n")
		res := p.HTTPRequest(reqTxn())
		var hs []string
		for _, f := range res.Headers {
			hs = append(hs, string(f.Name)+": "+string(f.Value))
		}
		got := fmt.Sprintf("%d|%s|%s|%s|%s|%v", res.Status, res.Location, res.ContentType, res.Body, strings.Join(hs, ","), res.DefaultBody)
		if got != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.rules, got, tt.want)
		}
		if res.Verdict != Reject {
			t.Errorf("%q: verdict %v", tt.rules, res.Verdict)
		}
	}
}

// TestHTTPResponseActions checks http-response and http-after-response.
func TestHTTPResponseActions(t *testing.T) {
	tests := []struct {
		rules, want string // want: verdict|status reason|headers
		after       bool
	}{
		{rules: "http-response set-header X-S %[status]", want: "0|404 Not Found|+X-S: 404"},
		{rules: "http-response set-status 503", want: "0|503 Service Unavailable|"},
		{rules: "http-response set-status 299 reason \"Fine Thanks\"", want: "0|299 Fine Thanks|"},
		{rules: "http-response del-header set-cookie", want: "0|404 Not Found|Server: x|X-Up: 10.9.8.7"},
		{rules: "http-response replace-value Set-Cookie ^(o)=1$ \\1=2", want: "0|404 Not Found|Set-Cookie: sid=abc; Path=/; Expires=Wed, 09 Jun 2021 10:18:14 GMT|Set-Cookie: o=2|Server: x|X-Up: 10.9.8.7"},
		{rules: "http-response deny if { status 404 }", want: "2|404 Not Found|"},
		{rules: "http-response allow\nhttp-response set-header X 1", want: "1|404 Not Found|"},
		{rules: "http-response set-header X-P %[path]", want: "0|404 Not Found|+X-P: "},
		{rules: "http-response set-header X-M %[method]", want: "0|404 Not Found|+X-M: GET"},
		{rules: "http-after-response set-header X-A %[res.cook(sid)]", want: "0|404 Not Found|+X-A: abc", after: true},
		{rules: "http-after-response set-status 500 if { shdr(server) x }", want: "0|500 Internal Server Error|", after: true},
		{rules: "http-after-response allow\nhttp-after-response set-header X 1", want: "1|404 Not Found|", after: true},
	}
	orig := testResponse()
	for _, tt := range tests {
		p := httpProxy(t, "    "+strings.ReplaceAll(tt.rules, "\n", "\n    ")+"\n")
		s := reqTxn()
		s.HTTP.Res = testResponse()
		var res HTTPResult
		if tt.after {
			res = p.HTTPAfterResponse(s)
		} else {
			res = p.HTTPResponse(s)
		}
		m := s.HTTP.Res
		h := showHdrs(&m.Header)
		want := tt.want
		if i := strings.LastIndex(want, "|"); want[i+1:] == "" || strings.HasPrefix(want[i+1:], "+") {
			// only the last part may be short-handed
		}
		parts := strings.SplitN(want, "|", 3)
		switch {
		case parts[2] == "":
			parts[2] = showHdrs(&orig.Header)
		case parts[2][0] == '+':
			parts[2] = showHdrs(&orig.Header) + "|" + parts[2][1:]
		}
		got := fmt.Sprintf("%d|%d %s|%s", res.Verdict, m.Status, m.Reason, h)
		if want = strings.Join(parts, "|"); got != want {
			t.Errorf("%q:\n got %s\nwant %s", tt.rules, got, want)
		}
	}
	// deny's default status is 502 in http-response.
	p := httpProxy(t, "    http-response deny\n")
	s := reqTxn()
	s.HTTP.Res = testResponse()
	if res := p.HTTPResponse(s); res.Status != 502 || !res.DefaultBody {
		t.Errorf("http-response deny = %+v", res)
	}
}

// TestHTTPVarsLogLevel checks set-var, unset-var and set-log-level, which
// the configuration parser may not pass yet: the rules are added to the
// parsed proxy by hand.
func TestHTTPVarsLogLevel(t *testing.T) {
	cfg := loadCfg(t, httpDefaults+"frontend f\n    mode http\n    bind 127.0.0.1:1\n    http-request set-header X-Host %[var(txn.host)]\n    default_backend be_web\n")
	px := cfg.Frontend("f")
	pos := px.HTTPRequest[0].Pos
	px.HTTPRequest = append([]*config.Rule{
		{Pos: pos, Action: "set-var(txn.host)", Args: []string{"req.hdr(host),lower"}},
		{Pos: pos, Action: "set-log-level", Args: []string{"silent"}},
	}, px.HTTPRequest...)
	px.HTTPResponse = []*config.Rule{
		{Pos: pos, Action: "set-header", Args: []string{"X-Host", "%[var(txn.host)]"}},
		{Pos: pos, Action: "unset-var(txn.host)"},
		{Pos: pos, Action: "set-header", Args: []string{"X-Gone", "%[var(txn.host)]"}},
		{Pos: pos, Action: "set-log-level", Args: []string{"debug"}},
	}
	p, errs := Compile(cfg, px, testEnv(), Options{})
	if errs != nil {
		t.Fatal(errs)
	}
	s := reqTxn()
	res := p.HTTPRequest(s)
	if got, _ := s.HTTP.Req.Header.Get("X-Host"); string(got) != "www.example.com" || res.LogLevel != LogLevelSilent {
		t.Errorf("X-Host %q, log level %d", got, res.LogLevel)
	}
	s.HTTP.Res = testResponse()
	res = p.HTTPResponse(s)
	h := &s.HTTP.Res.Header
	if got, _ := h.Get("X-Host"); string(got) != "www.example.com" {
		t.Errorf("response X-Host %q", got)
	}
	if got, _ := h.Get("X-Gone"); string(got) != "" {
		t.Errorf("X-Gone %q", got)
	}
	if res.LogLevel != 8 || s.HTTP.LogLevel != 8 {
		t.Errorf("log level %d", res.LogLevel)
	}
	s.Reset()
	if s.HTTP != nil {
		t.Error("Reset kept the transaction")
	}
}

// TestHTTPSwitching checks use_backend and use-server conditions on HTTP
// fetches.
func TestHTTPSwitching(t *testing.T) {
	p := compileProxy(t, httpDefaults+`frontend f
    mode http
    bind 127.0.0.1:1
    use_backend be_api if { path_beg /api/ }
    use_backend %[req.hdr(x-be)] if { hdr(x-be) -m found }
    default_backend be_web
backend be_srv
    mode http
    use-server w2 if { hdr(x-srv) w2 }
    server w1 127.0.0.1:1
    server w2 127.0.0.1:2
`, "f")
	for _, tt := range []struct {
		uri, hdr, want string
	}{
		{"/api/x", "", "be_api"},
		{"/web", "", ""},
		{"/web", "X-Be: be_web", "be_web"},
	} {
		s := newStream()
		s.HTTP = &HTTPTxn{Req: &http1.Message{Method: []byte("GET"), URI: []byte(tt.uri)}}
		if tt.hdr != "" {
			s.HTTP.Req.Header = hdrs(tt.hdr)
		}
		be, ok, _ := p.UseBackend(s)
		got := ""
		if ok {
			got = be.Name()
		}
		if got != tt.want {
			t.Errorf("%s %s: backend %q; want %q", tt.uri, tt.hdr, got, tt.want)
		}
	}
}

// TestHTTPCompileErrors checks that what lb does not do is refused with
// its file and line.
func TestHTTPCompileErrors(t *testing.T) {
	tests := []struct{ mode, rule, want string }{
		{"http", "http-request auth if { http_auth(nosuch) }", ":12: invalid args in fetch method 'http_auth' : unable to find userlist 'nosuch'"},
		{"http", "http-request deny errorfile /nonexistent", ":12: error detected in frontend 'f' while parsing 'http-request deny' rule : error opening file '/nonexistent'."},
		{"http", "http-request return errorfiles x", ":12: error detected in frontend 'f' while parsing 'http-request return' rule : unknown http-errors section 'x' referenced by an http reply ."},
		{"http", "http-response redirect prefix /x", "'http-response redirect prefix' is not supported by lb yet"},
		{"http", "http-request deny if { http_auth_group(u) g }", "invalid args in fetch method 'http_auth_group' : unable to find userlist 'u'"},
		{"http", "http-request deny if { url32 1 }", ":12: 'url32' is not supported by lb yet"},
		{"http", "http-request set-header X %[req.body_param(x)]", ":12: 'req.body_param' is not supported by lb yet"},
		{"http", "http-request return string x", "a content type must be defined"},
		{"http", "http-request replace-path (?<=x) y", "is not supported by lb yet"},
		{"tcp", "tcp-request content reject if { path_beg /x }", ":12: 'path_beg' is not supported by lb yet"},
		{"tcp", "tcp-request content reject if { req.hdr(host) x }", ":12: 'req.hdr' is not supported by lb yet"},
		{"tcp", "use_backend %[path]", ":12: 'path' is not supported by lb yet"},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			cfg := loadCfg(t, "defaults\n    mode "+tt.mode+"\n"+"frontend f\n    mode "+tt.mode+"\n    bind 127.0.0.1:1\n    default_backend be_web\n    "+tt.rule+"\n")
			_, errs := Compile(cfg, cfg.Frontend("f"), nil, Options{})
			if len(errs) == 0 || !strings.Contains(errs[0].Error(), tt.want) {
				t.Errorf("Compile(%q) = %v; want %q", tt.rule, errs, tt.want)
			}
		})
	}
	// Actions the configuration parser passes are refused by the rules
	// engine all the same when it does not carry them out.
	cfg := loadCfg(t, httpDefaults+"frontend f\n    mode http\n    bind 127.0.0.1:1\n    default_backend be_web\n")
	px := cfg.Frontend("f")
	px.HTTPRequest = []*config.Rule{{Pos: config.Pos{File: "x.cfg", Line: 3}, Action: "set-nice", Args: []string{"1"}}}
	px.HTTPRequest = append(px.HTTPRequest, &config.Rule{Pos: config.Pos{File: "x.cfg", Line: 5}, Action: "use-service", Args: []string{"lua.x"}})
	px.HTTPAfterResponse = []*config.Rule{{Pos: config.Pos{File: "x.cfg", Line: 4}, Action: "deny"}}
	_, errs := Compile(cfg, px, nil, Options{})
	if len(errs) != 3 || errs[0].Error() != "x.cfg:3: 'http-request set-nice' is not supported by lb yet" ||
		errs[1].Error() != "x.cfg:5: 'http-request use-service lua.x' is not supported by lb yet" ||
		errs[2].Error() != "x.cfg:4: 'http-after-response deny' is not supported by lb yet" {
		t.Errorf("errors = %v", errs)
	}
}

// TestHTTPNoAllocs checks that a set-header under a path_beg ACL, and the
// common fetches, allocate nothing once the buffers have grown.
func TestHTTPNoAllocs(t *testing.T) {
	p := httpProxy(t, `    acl api path_beg /api/ /v2/
    http-request set-header X-Forwarded-Host %[req.hdr(host)] if api
    http-request set-header X-Client %[src]
    http-request del-header x-secret
    http-request set-path /v1%[path] if { hdr_dom(host) -i example.com } !{ method POST }
    http-request deny if { cook(block) 1 } || { urlp(debug) -m found }
    http-response set-header X-Status %[status]
    use_backend be_api if { path_beg /v1/ }
`)
	req := &http1.Message{Method: []byte("GET"), URI: []byte("/api/users?id=3"),
		Header: hdrs("Host: www.example.com", "Cookie: a=1; block=0", "X-Secret: s")}
	res := &http1.Message{Status: 200, Header: hdrs("Server: x")}
	s := newStream()
	txn := &HTTPTxn{}
	run := func() {
		s.Reset()
		s.Src = netip.MustParseAddrPort("10.1.2.3:40000")
		// The handler's header tables keep their storage from one
		// message to the next.
		txn.Req.Header.Reset()
		txn.Req.Header.Fields = append(txn.Req.Header.Fields, req.Header.Fields...)
		txn.Req.URI = req.URI
		txn.Req.Method = req.Method
		txn.Res.Header.Reset()
		txn.Res.Header.Fields = append(txn.Res.Header.Fields, res.Header.Fields...)
		s.HTTP = txn
		if r := p.HTTPRequest(s); r.Verdict != Continue {
			t.Fatalf("HTTPRequest = %+v", r)
		}
		if be, ok, _ := p.UseBackend(s); !ok || be.Name() != "be_api" {
			t.Fatal("UseBackend")
		}
		if r := p.HTTPResponse(s); r.Verdict != Continue {
			t.Fatalf("HTTPResponse = %+v", r)
		}
	}
	txn.Req, txn.Res = &http1.Message{}, &http1.Message{}
	run()
	if got := string(txn.Req.URI); got != "/v1/api/users?id=3" {
		t.Fatalf("URI %q", got)
	}
	if got := showHdrs(&txn.Req.Header); got != "Host: www.example.com|Cookie: a=1; block=0|X-Forwarded-Host: www.example.com|X-Client: 10.1.2.3" {
		t.Fatalf("headers %s", got)
	}
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("%v allocations per transaction", n)
	}
}

func BenchmarkHTTPRequest(b *testing.B) {
	p := httpProxy(b, "    http-request set-header X-Forwarded-Host %[req.hdr(host)] if { path_beg /api/ }\n")
	req := hdrs("Host: www.example.com", "Accept: */*")
	s := newStream()
	m := &http1.Message{Method: []byte("GET"), URI: []byte("/api/users")}
	s.HTTP = &HTTPTxn{Req: m}
	b.ReportAllocs()
	for b.Loop() {
		m.Header.Reset()
		m.Header.Fields = append(m.Header.Fields, req.Fields...)
		p.HTTPRequest(s)
	}
}

// FuzzURLParam checks that url_param's scanner never panics and that
// every value it returns is a delimiter-free slice of the query that
// follows name=, and that its resume point moves forward.
func FuzzURLParam(f *testing.F) {
	for _, s := range []string{"x=1&y=2&x=3;z=4", "&&==&x", "x", "x=", "=1", "a=b=c;;x=&x=9", "x=1?x=2"} {
		f.Add(s, "x", byte('?'))
		f.Add(s, "", byte(';'))
	}
	f.Fuzz(func(t *testing.T, q, name string, delim byte) {
		pos := 0
		for n := 0; n < len(q)+2; n++ {
			v, next, ok := urlParam([]byte(q), pos, name, delim)
			if !ok {
				return
			}
			if next < pos || next > len(q) {
				t.Fatalf("urlParam(%q, %d, %q) next %d", q, pos, name, next)
			}
			for _, c := range v {
				if isParamDelim(c, delim) {
					t.Fatalf("urlParam(%q, %q) = %q: holds a delimiter", q, name, v)
				}
			}
			if name != "" && !strings.Contains(q, name+"="+string(v)) {
				t.Fatalf("urlParam(%q, %q) = %q: not after name=", q, name, v)
			}
			if next == pos && len(v) == 0 && next == len(q) {
				return
			}
			pos = next
		}
	})
}

// FuzzCookie checks the cookie scanners of request and response fields:
// no panic, every value a part of a field, the iteration ending.
func FuzzCookie(f *testing.F) {
	for _, s := range []string{"s=1; t=2", `a="x;y", b = c ,d=`, "$Version=1; s=2", "=;=,;", "s", "sid=abc; Path=/; Expires=Wed, 09 Jun 2021 10:18:14 GMT"} {
		f.Add(s, "s")
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, value, name string) {
		for _, res := range []bool{false, true} {
			h := "Cookie"
			if res {
				h = "Set-Cookie"
			}
			fields := hdrs(h+": "+value, "Other: x", h+": "+value).Fields
			pos, n := 0, 0
			for {
				v, next, ok := nextCookie(fields, res, name, pos)
				if !ok {
					break
				}
				if !strings.Contains(value, string(v)) {
					t.Fatalf("cookie %q of %q: not in the field", v, value)
				}
				if next <= pos {
					t.Fatalf("cookie scan of %q did not advance (%d -> %d)", value, pos, next)
				}
				pos = next
				if n++; n > 2*len(value)+4 {
					t.Fatalf("cookie scan of %q does not end", value)
				}
			}
		}
	})
}
