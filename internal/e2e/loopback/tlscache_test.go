package loopback

import (
	"crypto/tls"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTLSSessionCacheAsHAProxy: a bind line with "no-tls-tickets" still resumes TLS 1.3
// sessions from the session cache, unless "tune.ssl.cachesize 0", on lb as on HAProxy 2.6;
// on lb, TLS 1.2 ones too (by a ticket that only names the cached session; HAProxy resumes
// them by session ID, which Go's client does not offer). The certificate is RSA: its
// handshakes sign through OpenSSL's libcrypto where lb is built with cgo.
func TestTLSSessionCacheAsHAProxy(t *testing.T) {
	ca := newTestCA(t, "lb test CA")
	dir := t.TempDir()
	c, k := ca.issue(t, "cache.test", nil, false, true)
	crt := writeFile(t, dir, "rsa.pem", c, k)
	for _, tc := range []struct {
		name, global string
		resume       bool
	}{
		{"default", "", true},
		{"100", "    tune.ssl.cachesize 100\n", true},
		{"off", "    tune.ssl.cachesize 0\n", false},
	} {
		port := freePort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		cfg := writeConfig(t, fmt.Sprintf(`
global
%sdefaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind %s ssl crt %s no-tls-tickets
    http-request return status 200 content-type text/plain string ok
`, tc.global, addr, crt))
		checkLB(t, cfg)
		resumed := func(t *testing.T, version uint16) bool {
			t.Helper()
			cc := &tls.Config{InsecureSkipVerify: true, ServerName: "cache.test", MaxVersion: version,
				ClientSessionCache: tls.NewLRUClientSessionCache(4)}
			var did []bool
			for range 3 {
				code, body, cs, err := tlsGet(t, addr, cc, "/")
				if err != nil || code != 200 || body != "ok" {
					t.Fatalf("GET: %d %q %v", code, body, err)
				}
				did = append(did, cs.DidResume)
			}
			if did[0] {
				t.Fatalf("the first handshake resumed")
			}
			if did[1] != did[2] {
				t.Fatalf("resumed %v", did)
			}
			return did[1]
		}
		t.Run(tc.name, func(t *testing.T) {
			onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
				if got := resumed(t, tls.VersionTLS13); got != tc.resume {
					t.Errorf("%q: TLS 1.3 resumed %v; want %v", tc.global, got, tc.resume)
				}
				if !strings.HasSuffix(t.Name(), "/lb") {
					return
				}
				if got := resumed(t, tls.VersionTLS12); got != tc.resume {
					t.Errorf("%q: TLS 1.2 resumed %v; want %v", tc.global, got, tc.resume)
				}
			})
		})
	}
}

// TestRSASignedByOpenSSL: lb built where gcc is (as make builds it, and as these tests
// build it) signs RSA handshakes with the system's libcrypto, and says so in -vv.
func TestRSASignedByOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc: lb is built without cgo")
	}
	out, err := exec.Command(lbBinary(t), "-vv").CombinedOutput()
	if err != nil {
		t.Fatalf("lb -vv: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^RSA signatures by : OpenSSL 3\.\S+ .*\(libcrypto\.so\.3\)$`).Match(out) {
		t.Errorf("lb -vv does not name OpenSSL for RSA signatures:\n%s", out)
	}
}

// TestTLSLifetimeAsHAProxy: "tune.ssl.lifetime" bounds how long a session resumes, by
// ticket as from the session cache, in TLS 1.3 and 1.2, on lb as on HAProxy 2.6. The wait
// is the behaviour under test: a session of a 1 s lifetime is refused 2.2 s later (OpenSSL
// counts whole seconds).
func TestTLSLifetimeAsHAProxy(t *testing.T) {
	ca := newTestCA(t, "lb test CA")
	dir := t.TempDir()
	c, k := ca.issue(t, "life.test", nil, false, false)
	crt := writeFile(t, dir, "ec.pem", c, k)
	tickets, cache := freePort(t), freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
global
    tune.ssl.lifetime 1
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind 127.0.0.1:%d ssl crt %s
    bind 127.0.0.1:%d ssl crt %s no-tls-tickets
    http-request return status 200 content-type text/plain string ok
`, tickets, crt, cache, crt))
	checkLB(t, cfg)
	onLBAndHAProxy(t, cfg, fmt.Sprintf("127.0.0.1:%d", tickets), func(t *testing.T, out *outFile) {
		type client struct {
			name string
			addr string
			cc   *tls.Config
		}
		var clients []client
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			for _, p := range []int{tickets, cache} {
				if v == tls.VersionTLS12 && p == cache && strings.HasSuffix(t.Name(), "/haproxy") {
					continue // HAProxy resumes these by session ID, which Go's client does not offer
				}
				clients = append(clients, client{fmt.Sprintf("TLS %x on port %d", v, p), fmt.Sprintf("127.0.0.1:%d", p),
					&tls.Config{InsecureSkipVerify: true, ServerName: "life.test", MaxVersion: v,
						ClientSessionCache: tls.NewLRUClientSessionCache(4)}})
			}
		}
		get := func(c client) bool {
			code, _, cs, err := tlsGet(t, c.addr, c.cc, "/")
			if err != nil || code != 200 {
				t.Fatalf("%s: %d %v", c.name, code, err)
			}
			return cs.DidResume
		}
		// A fresh session resumes: asked up to three times, each with a new session, as
		// a second's lifetime leaves little room to a test machine that stalls (a -race
		// run saw haproxy's TLS 1.3 session not resume once).
		for _, c := range clients {
			ok := false
			for try := 0; try < 3 && !ok; try++ {
				c.cc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
				get(c)
				if ok = get(c); !ok {
					t.Logf("%s: a fresh session did not resume (try %d)", c.name, try+1)
				}
			}
			if !ok {
				t.Errorf("%s: a fresh session did not resume", c.name)
			}
		}
		time.Sleep(2200 * time.Millisecond)
		for _, c := range clients {
			if get(c) {
				t.Errorf("%s: a session resumed past its lifetime", c.name)
			}
		}
	})
}

// TestTimeValuesAsHAProxy: "lb -c" says what "haproxy -c" says about tune.ssl.lifetime's
// values (parse_time_err in seconds) and about characters after a valid unit, which
// HAProxy 2.6 warns of without naming the line.
func TestTimeValuesAsHAProxy(t *testing.T) {
	haproxyBin(t)
	for _, c := range []struct{ global, client string }{
		{"tune.ssl.lifetime", "5s"},
		{"tune.ssl.lifetime x", "5s"},
		{"tune.ssl.lifetime 5x", "5s"},
		{"tune.ssl.lifetime 5sx", "5s"},
		{"tune.ssl.lifetime 500ms", "5s"},
		{"tune.ssl.lifetime 2147483648", "5s"},
		{"tune.ssl.lifetime 70000d", "5s"},
		{"tune.ssl.lifetime 1m5", "5s"},
		{"tune.ssl.lifetime 0", "5s"},
		{"tune.ssl.lifetime 1 2", "5s"},
		{"tune.ssl.cachesize -1", "5s"},
		{"tune.ssl.cachesize", "5s"},
		{"tune.ssl.cachesize 10", "5sx"},
	} {
		t.Run(c.global+" "+c.client, func(t *testing.T) {
			cfg := writeConfig(t, fmt.Sprintf(`global
    %s
defaults
    mode http
    timeout connect 1s
    timeout client %s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    http-request return status 200
`, c.global, c.client, freePort(t)))
			lbCode, lbOut, haCode, haOut := checkBoth(t, cfg)
			if lbCode != haCode || haproxyLines(lbOut) != haproxyLines(haOut) {
				t.Errorf("lb -c exits %d:\n%s\nhaproxy -c exits %d:\n%s", lbCode, lbOut, haCode, haOut)
			}
		})
	}
}
