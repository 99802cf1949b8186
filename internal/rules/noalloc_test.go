package rules

import (
	"net/netip"
	"sync"
	"testing"
)

// realistic is a frontend as lb users write them: an address block list,
// ports, SNI routing through a map, variables.
const realistic = `frontend f
    bind 127.0.0.1:1 name tls
    tcp-request inspect-delay 5s
    acl blocked src -f testdata/blocklist.lst
    acl tls_port dst_port 443 8443
    acl known_sni req.ssl_sni -i -f testdata/sni.lst
    tcp-request connection reject if blocked
    tcp-request connection set-var(sess.net) src,ipmask(16)
    tcp-request content reject if !tls_port
    tcp-request content set-var(txn.sni) req.ssl_sni,lower if { req.ssl_hello_type 1 }
    tcp-request content set-var(txn.port) dst_port
    tcp-request content set-var(proc.last) var(txn.sni)
    tcp-request content accept if known_sni { var(txn.port) -m int 8443 }
    tcp-request content accept if { var(txn.sni) -m end .example.com } { var(txn.port) -m int 443 }
    tcp-request content reject
    use_backend be_api if { var(sess.net) -m ip 10.9.0.0 }
    use_backend %[var(txn.sni),map(testdata/hosts.map,be_web)]
    default_backend be_web
`

// TestNoAllocs checks that a stream's rules, from the connection rules to
// switching, allocate nothing once the stream's buffers have grown.
func TestNoAllocs(t *testing.T) {
	p := compileProxy(t, realistic, "f")
	hello := clientHello(t, "WWW.example.com", "h2")
	s := newStream()
	src := netip.MustParseAddrPort("198.51.100.7:40000")
	run := func() {
		s.Reset()
		s.Src, s.Dst, s.BindName = src, netip.MustParseAddrPort("192.0.2.1:443"), "tls"
		if v := p.TCPConnection(s); v != Continue {
			t.Fatalf("TCPConnection = %v", v)
		}
		s.Req = hello[:30]
		if v := p.TCPContent(s); v != Wait {
			t.Fatalf("TCPContent(partial) = %v", v)
		}
		s.Req = hello
		if v := p.TCPContent(s); v != Accept {
			t.Fatalf("TCPContent = %v", v)
		}
		be, ok, _ := p.UseBackend(s)
		if !ok || be.Name() != "be_web" {
			t.Fatalf("UseBackend = %v, %v", be, ok)
		}
	}
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("allocations per stream = %v; want 0", n)
	}
}

// TestConcurrent runs one compiled Proxy on many streams at once, with a
// shared proc variable (run with -race).
func TestConcurrent(t *testing.T) {
	p := compileProxy(t, realistic, "f")
	hello := clientHello(t, "api.example.com")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := newStream()
			for i := 0; i < 200; i++ {
				s.Reset()
				s.Src, s.Dst = netip.MustParseAddrPort("198.51.100.7:1"), netip.MustParseAddrPort("192.0.2.1:443")
				s.Req, s.ReqFinal = hello, true
				p.TCPConnection(s)
				p.TCPContent(s)
				if be, ok, _ := p.UseBackend(s); !ok || be.Name() != "be_api" {
					t.Errorf("UseBackend = %v, %v; want be_api", be, ok)
					return
				}
			}
		}()
	}
	wg.Wait()
}
