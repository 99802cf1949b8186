package proxy

import (
	"strings"
	"testing"
	"time"

	"lb/internal/http1"
)

// cookieBackend is a backend with servers s1 (cookie s1), s2 (cookie s2)
// and s3 (no cookie), and cookie c.
func cookieBackend(t testing.TB, c *CookieConfig) *Backend {
	t.Helper()
	b, err := NewBackend(BackendConfig{Name: "be", Servers: []ServerConfig{
		{Name: "s1", Addr: "127.0.0.1:1", Cookie: "s1", Weight: 1},
		{Name: "s2", Addr: "127.0.0.1:2", Cookie: "s2", Weight: 1},
		{Name: "s3", Addr: "127.0.0.1:3", Weight: 1},
	}, HTTP: HTTPBackendConfig{Enabled: true, Cookie: c}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cookieReq is a request with the given Cookie fields.
func cookieReq(method string, cookies ...string) *http1.Message {
	m := &http1.Message{Method: []byte(method), URI: []byte("/"), Minor: 1}
	m.Header.Add("Host", []byte("h"))
	for _, c := range cookies {
		m.Header.Add("Cookie", []byte(c))
	}
	return m
}

func fieldValues(h *http1.Header, name string) []string {
	var vs []string
	for _, f := range h.Fields {
		if http1.EqualFold(f.Name, name) {
			vs = append(vs, string(f.Value))
		}
	}
	return vs
}

// TestCookieRequestParsing: the Cookie fields as HAProxy 2.6 parses and edits them: the
// server chosen, the client-side letter, and what the server receives.
func TestCookieRequestParsing(t *testing.T) {
	insInd := &CookieConfig{Name: "SRV", Insert: true, Indirect: true}
	prefix := &CookieConfig{Name: "SRV", Prefix: true}
	insert := &CookieConfig{Name: "SRV", Insert: true}
	tests := []struct {
		name    string
		c       *CookieConfig
		cookies []string
		srv     string // "" for none
		letter  byte
		fwd     []string // the Cookie fields forwarded
	}{
		{"none", insInd, nil, "", 'N', nil},
		{"other cookies", insInd, []string{"a=1; b=2"}, "", 'N', []string{"a=1; b=2"}},
		{"alone", insInd, []string{"SRV=s2"}, "s2", 'V', nil},
		{"middle", insInd, []string{"a=1; SRV=s2; b=2"}, "s2", 'V', []string{"a=1; b=2"}},
		{"last no space", insInd, []string{"a=1;SRV=s2"}, "s2", 'V', []string{"a=1"}},
		{"first", insInd, []string{"SRV=s2 ; b=2"}, "s2", 'V', []string{"b=2"}},
		{"two fields", insInd, []string{"SRV=s1", "x=1"}, "s1", 'V', []string{"x=1"}},
		{"dollar attributes go with it", insInd, []string{"$Version=1; SRV=s1; $Path=/; x=1"}, "s1", 'V',
			[]string{"$Version=1; x=1"}},
		{"no equal signs", insInd, []string{"a ; SRV=s2 ;  b"}, "s2", 'V', []string{"a; b"}},
		{"spaces around equal", insInd, []string{"a = 1; SRV = s1"}, "s1", 'V', []string{"a=1"}},
		{"invalid", insInd, []string{"SRV=zz"}, "", 'I', nil},
		{"empty value", insInd, []string{"SRV="}, "", 'I', nil},
		{"no indirect keeps it", insert, []string{"a=1; SRV=s2"}, "s2", 'V', []string{"a=1; SRV=s2"}},
		{"name is case sensitive", insInd, []string{"srv=s1"}, "", 'N', []string{"srv=s1"}},
		{"second occurrence ignored", insInd, []string{"SRV=s1; SRV=s2"}, "s1", 'V', nil},
		{"quoted value", insInd, []string{`a="x;y"; SRV=s1`}, "s1", 'V', []string{`a="x;y"`}},
		{"comma delimits", insInd, []string{"a=1, SRV=s2"}, "s2", 'V', []string{"a=1"}},
		{"dated, no maxidle", insert, []string{"SRV=s1|AAAAB"}, "s1", 'V', []string{"SRV=s1|AAAAB"}},
		{"prefix", prefix, []string{"SRV=s2~abc; x=1"}, "s2", 'V', []string{"SRV=abc; x=1"}},
		{"prefix without delimiter", prefix, []string{"SRV=abc"}, "", 'I', []string{"SRV=abc"}},
		{"prefix unknown", prefix, []string{"SRV=zz~abc"}, "", 'I', []string{"SRV=abc"}},
		{"server without cookie", insInd, []string{"SRV=s3"}, "", 'I', nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := cookieBackend(t, tt.c)
			req := cookieReq("GET", tt.cookies...)
			srv, letter := persistRequest(b, req)
			name := ""
			if srv != nil {
				name = srv.Name()
			}
			if name != tt.srv || letter != tt.letter {
				t.Errorf("server %q letter %c; want %q %c", name, letter, tt.srv, tt.letter)
			}
			if got := fieldValues(&req.Header, "cookie"); strings.Join(got, "|") != strings.Join(tt.fwd, "|") {
				t.Errorf("forwarded %q; want %q", got, tt.fwd)
			}
		})
	}
}

// TestCookieRequestServerStates: a cookie naming a server that is DOWN or in maintenance is
// not used (D, balanced as usual); a draining one is.
func TestCookieRequestServerStates(t *testing.T) {
	for _, tc := range []struct {
		st     State
		use    bool
		letter byte
	}{{StateDown, false, 'D'}, {StateMaint, false, 'D'}, {StateDrain, true, 'V'}, {StateNoLB, true, 'V'}} {
		b := cookieBackend(t, &CookieConfig{Name: "SRV", Insert: true})
		b.Server("s1").SetState(tc.st)
		srv, letter := persistRequest(b, cookieReq("GET", "SRV=s1"))
		if (srv != nil) != tc.use || letter != tc.letter {
			t.Errorf("%s: server %v letter %c; want used %v, %c", tc.st, srv, letter, tc.use, tc.letter)
		}
		// force-persist uses it all the same.
		var tx cookieTxn
		tx.force = true
		if s := b.cookieRequest(cookieReq("GET", "SRV=s1"), nil, &tx, time.Now()); s == nil || tx.cli != tc.letter {
			t.Errorf("%s forced: server %v letter %c", tc.st, s, tx.cli)
		}
	}
	// use-server assigned the server: the cookie is unused (U), yet edited.
	b := cookieBackend(t, &CookieConfig{Name: "SRV", Prefix: true})
	var tx cookieTxn
	req := cookieReq("GET", "SRV=s1~v")
	if s := b.cookieRequest(req, b.Server("s2"), &tx, time.Now()); s != nil || tx.cli != 'U' {
		t.Errorf("assigned: server %v letter %c; want none, U", s, tx.cli)
	}
	if got := fieldValues(&req.Header, "cookie"); len(got) != 1 || got[0] != "SRV=v" {
		t.Errorf("assigned: forwarded %q", got)
	}
}

// TestCookieDates: maxidle and maxlife against the dates the cookie carries, and the dates
// lb writes (HAProxy's base64 of the date in 4-second units).
func TestCookieDates(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	enc := func(sec int64) string { return string(s30tob64(nil, int32(sec>>2))) }
	c := &CookieConfig{Name: "SRV", Insert: true, MaxIdle: 60, MaxLife: 3600}
	b := cookieBackend(t, c)
	for _, tc := range []struct {
		cookie string
		letter byte
	}{
		{"SRV=s1|" + enc(now.Unix()-30) + "|" + enc(now.Unix()-100), 'V'},
		{"SRV=s1|" + enc(now.Unix()-120) + "|" + enc(now.Unix()-100), 'E'},
		{"SRV=s1|" + enc(now.Unix()-30) + "|" + enc(now.Unix()-7200), 'O'},
		{"SRV=s1|" + enc(now.Unix()+2*86400), 'E'},
	} {
		var tx cookieTxn
		b.cookieRequest(cookieReq("GET", tc.cookie), nil, &tx, now)
		if tx.cli != tc.letter {
			t.Errorf("%s: letter %c; want %c", tc.cookie, tx.cli, tc.letter)
		}
	}
	// A valid cookie is refreshed: the last date is now, the first kept.
	var tx cookieTxn
	first := enc(now.Unix() - 100)
	srv := b.cookieRequest(cookieReq("GET", "SRV=s1|"+enc(now.Unix()-30)+"|"+first), nil, &tx, now)
	res := &http1.Message{Status: 200, Minor: 1}
	if l := b.cookieResponse(res, srv, &tx, now); l != 'U' {
		t.Errorf("refresh letter %c; want U", l)
	}
	want := "SRV=s1|" + enc(now.Unix()+3) + "|" + first + "; path=/"
	if got := fieldValues(&res.Header, "set-cookie"); len(got) != 1 || got[0] != want {
		t.Errorf("refresh %q; want %q", got, want)
	}
	if v := b64tos30([]byte(enc(now.Unix()))); int64(v)<<2 != now.Unix()&^3 {
		t.Errorf("b64tos30 round trip %d", v)
	}
}

// TestCookieResponse: the Set-Cookie lb adds, removes, rewrites or prefixes, byte for byte
// as HAProxy 2.6 writes them (the e2e test holds them to the real HAProxy), and the letter.
func TestCookieResponse(t *testing.T) {
	full := &CookieConfig{Name: "SRV", Insert: true, HTTPOnly: true, Secure: true,
		Domains: []string{".a.com", ".b.com"}, Attrs: []string{"SameSite=Lax", "x=y"}}
	tests := []struct {
		name   string
		c      *CookieConfig
		method string
		req    []string // the client's cookies
		srv    string   // the server answering
		set    []string // the server's Set-Cookie fields
		extra  []string // other response fields, "Name: value"
		want   []string // Set-Cookie and Cache-control values sent, in order
		letter byte
	}{
		{"insert", &CookieConfig{Name: "SRV", Insert: true}, "GET", nil, "s1", nil, nil,
			[]string{"set-cookie: SRV=s1; path=/"}, 'I'},
		{"insert all attributes", full, "GET", nil, "s1", nil, nil,
			[]string{"set-cookie: SRV=s1; path=/; domain=.a.com; domain=.b.com; HttpOnly; Secure; SameSite=Lax; x=y"}, 'I'},
		{"valid cookie: nothing", &CookieConfig{Name: "SRV", Insert: true}, "GET", []string{"SRV=s1"}, "s1", nil, nil, nil, 'N'},
		{"dated cookie refreshed", &CookieConfig{Name: "SRV", Insert: true}, "GET", []string{"SRV=s1|AAAAB"}, "s1", nil, nil,
			[]string{"set-cookie: SRV=s1; path=/"}, 'U'},
		{"server without cookie", &CookieConfig{Name: "SRV", Insert: true}, "GET", nil, "s3", nil, nil,
			[]string{"set-cookie: SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/"}, 'I'},
		{"insert removes the server's", &CookieConfig{Name: "SRV", Insert: true}, "GET", nil, "s1",
			[]string{"SRV=app; Path=/", "o=1"}, nil, []string{"set-cookie: o=1", "set-cookie: SRV=s1; path=/"}, 'I'},
		{"insert removes, direct", &CookieConfig{Name: "SRV", Insert: true}, "GET", []string{"SRV=s1"}, "s1",
			[]string{"SRV=app"}, nil, nil, 'D'},
		{"preserve", &CookieConfig{Name: "SRV", Insert: true, Preserve: true}, "GET", nil, "s1",
			[]string{"SRV=app; Path=/"}, nil, []string{"set-cookie: SRV=app; Path=/"}, 'P'},
		{"nocache, fresh", &CookieConfig{Name: "SRV", Insert: true, NoCache: true}, "GET", nil, "s1", nil,
			[]string{"Cache-Control: max-age=10"},
			[]string{"cache-control: max-age=10", "set-cookie: SRV=s1; path=/", "cache-control: private"}, 'I'},
		{"nocache, nothing to cache", &CookieConfig{Name: "SRV", Insert: true, NoCache: true}, "GET", nil, "s1", nil, nil,
			[]string{"set-cookie: SRV=s1; path=/"}, 'I'},
		{"nocache, etag", &CookieConfig{Name: "SRV", Insert: true, NoCache: true}, "GET", nil, "s1", nil,
			[]string{`ETag: "x"`}, []string{"set-cookie: SRV=s1; path=/", "cache-control: private"}, 'I'},
		{"nocache, private", &CookieConfig{Name: "SRV", Insert: true, NoCache: true}, "GET", nil, "s1", nil,
			[]string{"Cache-Control: private, max-age=10"}, []string{"cache-control: private, max-age=10", "set-cookie: SRV=s1; path=/"}, 'I'},
		{"nocache, POST", &CookieConfig{Name: "SRV", Insert: true, NoCache: true}, "POST", nil, "s1", nil,
			[]string{"Cache-Control: max-age=10"}, []string{"cache-control: max-age=10", "set-cookie: SRV=s1; path=/"}, 'I'},
		{"postonly GET", &CookieConfig{Name: "SRV", Insert: true, PostOnly: true}, "GET", nil, "s1", nil, nil, nil, 'N'},
		{"postonly POST", &CookieConfig{Name: "SRV", Insert: true, PostOnly: true}, "POST", nil, "s1", nil, nil,
			[]string{"set-cookie: SRV=s1; path=/"}, 'I'},
		{"rewrite", &CookieConfig{Name: "SRV", Rewrite: true}, "GET", nil, "s2", []string{"SRV = abc ; Path=/"}, nil,
			[]string{"set-cookie: SRV=s2 ; Path=/"}, 'R'},
		{"rewrite, no cookie set", &CookieConfig{Name: "SRV", Rewrite: true}, "GET", nil, "s2", nil, nil, nil, 'N'},
		{"rewrite, server without cookie", &CookieConfig{Name: "SRV", Rewrite: true}, "GET", nil, "s3", []string{"SRV=abc"}, nil,
			[]string{"set-cookie: SRV=abc"}, 'P'},
		{"prefix", &CookieConfig{Name: "SRV", Prefix: true}, "GET", nil, "s1", []string{"SRV=abc; Path=/"}, nil,
			[]string{"set-cookie: SRV=s1~abc; Path=/"}, 'R'},
		{"indirect, direct", &CookieConfig{Name: "SRV", Indirect: true}, "GET", []string{"SRV=s1"}, "s1", []string{"SRV=s1"}, nil, nil, 'D'},
		{"indirect, balanced", &CookieConfig{Name: "SRV", Indirect: true}, "GET", nil, "s1", []string{"SRV=abc"}, nil,
			[]string{"set-cookie: SRV=abc"}, 'P'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := cookieBackend(t, tt.c)
			var tx cookieTxn
			b.cookieRequest(cookieReq(tt.method, tt.req...), nil, &tx, time.Now())
			res := &http1.Message{Status: 200, Minor: 1}
			for _, f := range tt.extra {
				k, v, _ := strings.Cut(f, ": ")
				res.Header.Add(k, []byte(v))
			}
			for _, v := range tt.set {
				res.Header.Add("Set-Cookie", []byte(v))
			}
			letter := b.cookieResponse(res, b.Server(tt.srv), &tx, time.Now())
			var got []string
			for _, f := range res.Header.Fields {
				n := strings.ToLower(string(f.Name))
				if n == "set-cookie" || n == "cache-control" {
					got = append(got, n+": "+string(f.Value))
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") || letter != tt.letter {
				t.Errorf("sent\n%s\nletter %c; want\n%s\nletter %c", strings.Join(got, "\n"), letter,
					strings.Join(tt.want, "\n"), tt.letter)
			}
		})
	}
}

// TestCookieLogLetters: a backend without a cookie, or with a passive one, logs '-'.
func TestCookieLogLetters(t *testing.T) {
	b := cookieBackend(t, nil)
	if _, l := persistRequest(b, cookieReq("GET", "SRV=s1")); l != '-' {
		t.Errorf("no cookie: %c", l)
	}
	if l := b.persistResponseTxn(&http1.Message{Status: 200}, b.Server("s1"), &cookieTxn{cli: '-', srv: '-', cacheable: true}); l != '-' {
		t.Errorf("no cookie: %c", l)
	}
	b = cookieBackend(t, &CookieConfig{Name: "SRV"})
	srv, l := persistRequest(b, cookieReq("GET", "SRV=s2"))
	if l != '-' || srv == nil || srv.Name() != "s2" {
		t.Errorf("passive: %v %c", srv, l)
	}
}

// FuzzCookieHeader: any Cookie field value parses without a panic, and what is forwarded
// is never longer than what came.
func FuzzCookieHeader(f *testing.F) {
	for _, s := range []string{"SRV=s1", "a=1; SRV=s2; b=2", "$Version=1; SRV=s1; $Path=/", `a="x;\"y"; SRV = s1 ,c`,
		"SRV=s1|AAAAB|AAAAC", "SRV=s2~v", ";;= ;", "SRV", " SRV=\t", "a=1;SRV=s1;SRV=s2"} {
		f.Add(s)
	}
	modes := []*CookieConfig{
		{Name: "SRV", Insert: true, Indirect: true, MaxIdle: 10, MaxLife: 20},
		{Name: "SRV", Prefix: true},
		{Name: "SRV", Rewrite: true},
	}
	backends := make([]*Backend, len(modes))
	for i, c := range modes {
		backends[i] = cookieBackend(f, c)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, b := range backends {
			req := cookieReq("GET", v)
			var tx cookieTxn
			b.cookieRequest(req, nil, &tx, time.Now())
			if !strings.ContainsRune("NIDVEOU", rune(tx.cli)) {
				t.Fatalf("letter %q", tx.cli)
			}
			got := fieldValues(&req.Header, "cookie")
			if len(got) > 1 || len(got) == 1 && len(got[0]) > len(v) {
				t.Fatalf("%q forwarded as %q", v, got)
			}
			res := &http1.Message{Status: 200}
			res.Header.Add("Set-Cookie", []byte(v))
			b.cookieResponse(res, b.Server("s1"), &tx, time.Now())
		}
	})
}

// TestCookieTxnHooks: the hooks with the transaction's state: use-server's server keeps the
// cookie unused (U) and gets no cookie, postonly inserts on a POST only.
func TestCookieTxnHooks(t *testing.T) {
	b := cookieBackend(t, &CookieConfig{Name: "SRV", Insert: true, PostOnly: true})
	var tx cookieTxn
	srv, l := b.persistRequestTxn(cookieReq("GET", "SRV=s1"), b.Server("s2"), false, &tx)
	res := &http1.Message{Status: 200}
	if srv != nil || l != 'U' || b.persistResponseTxn(res, b.Server("s2"), &tx) != 'N' || res.Header.Len() != 0 {
		t.Errorf("use-server: %v %c %q", srv, l, fieldValues(&res.Header, "set-cookie"))
	}
	_, l = b.persistRequestTxn(cookieReq("POST"), nil, false, &tx)
	if l != 'N' || b.persistResponseTxn(res, b.Server("s1"), &tx) != 'I' {
		t.Errorf("POST: %c %q", l, fieldValues(&res.Header, "set-cookie"))
	}
	b.Server("s1").SetState(StateDown)
	srv, l = b.persistRequestTxn(cookieReq("GET", "SRV=s1"), nil, true, &tx)
	if srv == nil || l != 'D' {
		t.Errorf("force-persist: %v %c", srv, l)
	}
}

// persistRequest runs the request side of b's cookie for a transaction no
// rule assigned, and returns the server chosen and the client letter.
func persistRequest(b *Backend, req *http1.Message) (*Server, byte) {
	var t cookieTxn
	return b.persistRequestTxn(req, nil, false, &t)
}
