package rules

import (
	"net/netip"
	"strings"
	"testing"

	"lb/internal/config"
)

// fuzzReadFile serves every pattern or map file with the same lines.
func fuzzReadFile(string) ([]byte, error) {
	return []byte("# comment\n10.0.0.0/8 ten\nwww.example.com web\n80:90 http\n\n  a b\n"), nil
}

// FuzzCompile compiles an anonymous ACL ("fetch flags patterns"), a
// set-var expression and a dynamic use_backend format built from the
// input, and evaluates whatever compiles on a stream whose request data
// is the input too. Compile must never panic, only return errors.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"src 10.0.0.0/8 ::1",
		"req.ssl_sni -i -m end .example.com",
		"req.payload(0,3),hex -m beg 1603",
		"dst_port gt 10 lt 3 eq 5 1:2 :3 4:",
		"str(a'b,c'),field(-2,_,0),word(1,/),regsub('(a)','\\1x','gi') -m reg ^a",
		"src,map_ip(f.map,x),lower,json(utf8s) -f p.lst -m str x",
		"req.ssl_ver 3.1:3.3",
		"var(txn.x,1),add(txn.y),div(0),ipmask(24,64) -m int 1",
		"env(X),base64,length,bool,not 1",
		"req.payload_lv(0,1,-1),bytes(1) -m bin 0aff",
		"%[src]-%[dst_port,map_int(f.map)]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if len(in) > 512 {
			return
		}
		words := strings.Fields(in)
		if len(words) == 0 {
			return
		}
		a := &config.ACL{Fetch: words[0]}
		i := 1
		for ; i < len(words) && strings.HasPrefix(words[i], "-"); i++ {
			a.Flags = append(a.Flags, words[i])
			if (words[i] == "-m" || words[i] == "-f" || words[i] == "-u") && i+1 < len(words) {
				i++
				a.Flags = append(a.Flags, words[i])
			} else if words[i] == "-m" || words[i] == "-f" || words[i] == "-u" {
				a.Flags = a.Flags[:len(a.Flags)-1]
			}
		}
		a.Values = words[i:]
		cd := &config.Cond{Terms: []config.CondTerm{{Anon: a}, {Or: true}, {Neg: true, Anon: a}}}
		px := &config.Proxy{Name: "f", Cap: config.CapListen, InspectDelay: 1,
			Servers: []*config.Server{{Name: "s"}},
			TCPRequest: []*config.Rule{
				{Action: "content accept", Cond: cd},
				{Action: "content set-var(txn.x)", Args: []string{words[0]}},
				{Action: "connection accept", Cond: cd},
			},
			TCPResponse: []*config.Rule{{Action: "content close", Cond: cd}},
			UseBackends: []*config.UseBackend{{Backend: in, Dynamic: true}},
			UseServers:  []*config.UseServer{{Server: words[0], Dynamic: true, Cond: cd}},
		}
		cfg := &config.Config{Proxies: []*config.Proxy{px}}
		p, _ := Compile(cfg, px, testEnv(), Options{ReadFile: fuzzReadFile, Getenv: func(string) (string, bool) { return in, true }})
		if p == nil {
			// Compile each rule on its own so that one error does not
			// hide the evaluation of the others.
			px.UseBackends, px.UseServers = nil, nil
			if p, _ = Compile(cfg, px, testEnv(), Options{ReadFile: fuzzReadFile}); p == nil {
				return
			}
		}
		s := newStream()
		for _, final := range []bool{false, true} {
			s.Reset()
			s.Src, s.Dst = netip.MustParseAddrPort("10.1.2.3:1"), netip.MustParseAddrPort("[2001:db8::1]:80")
			s.Req, s.Res, s.ReqFinal, s.ResFinal = []byte(in), []byte(in), final, final
			p.TCPConnection(s)
			p.TCPContent(s)
			p.TCPResponse(s)
			p.UseBackend(s)
			p.UseServer(s)
		}
	})
}

// fuzzProxy is the rule set FuzzEval runs over random request data.
const fuzzProxy = `frontend f
    bind 127.0.0.1:1
    tcp-request inspect-delay 5s
    tcp-request content set-var(txn.sni) req.ssl_sni,lower
    tcp-request content set-var(txn.alpn) req.ssl_alpn
    tcp-request content set-var(txn.ver) req.ssl_ver
    tcp-request content set-var(txn.lv) req.payload_lv(0,2,+1),hex
    tcp-request content reject if { req.payload(0,4) -m bin 00000000 }
    tcp-request content accept if { req.ssl_hello_type 1 } { req.ssl_st_ext ge 0 } || { req.ssl_ec_ext }
    tcp-request content accept if { req.len gt 1000 } || { req.payload(2,0),lower -m sub get }
    use_backend %[var(txn.sni),map(testdata/hosts.map)]
    default_backend be_web
`

// FuzzEval runs content rules, the ClientHello reader and the other
// buffer fetches over random request data, first as partial data then as
// final data, and checks the ClientHello reader's offsets.
func FuzzEval(f *testing.F) {
	hello := clientHello(f, "www.example.com", "h2", "http/1.1")
	f.Add(hello)
	f.Add(hello[:50])
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x30, 0x01, 0x00, 0x00, 0x2c})
	f.Add([]byte{0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10})
	p := compileProxy(f, fuzzProxy, "f")
	f.Fuzz(func(t *testing.T, data []byte) {
		h, st := parseHello(data)
		if st == helloOK {
			if h.sniLen >= 0 && h.sniOff+h.sniLen > len(data) {
				t.Fatalf("SNI %d+%d past %d bytes", h.sniOff, h.sniLen, len(data))
			}
			if h.alpnLen >= 0 && h.alpnOff+h.alpnLen > len(data) {
				t.Fatalf("ALPN %d+%d past %d bytes", h.alpnOff, h.alpnLen, len(data))
			}
		}
		s := newStream()
		s.Req = data
		if v := p.TCPContent(s); v == Wait {
			s.ReqFinal = true
			if v = p.TCPContent(s); v == Wait {
				t.Fatalf("TCPContent on final data = Wait")
			}
		}
		p.UseBackend(s)
	})
}
