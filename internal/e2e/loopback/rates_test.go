package loopback

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The measured rates of "show info" and "show stat", and the SSL accept rate limit
// ("maxsslrate", "set rate-limit ssl-sessions global").

// statNamed returns field name of the "show stat" line of proxy px and server sv.
func statNamed(t *testing.T, sock, px, sv, name string) string {
	t.Helper()
	lines := strings.Split(adminCommand(t, sock, "show stat"), "\n")
	cols := strings.Split(strings.TrimPrefix(lines[0], "# "), ",")
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if len(f) < len(cols) || f[0] != px || f[1] != sv {
			continue
		}
		for i, c := range cols {
			if c == name {
				return f[i]
			}
		}
	}
	t.Fatalf("no %s of %s/%s in show stat", name, px, sv)
	return ""
}

// inRange fails t unless the number v is within [lo, hi].
func inRange(t *testing.T, what, v string, lo, hi int) {
	t.Helper()
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		t.Errorf("%s = %q; want %d..%d", what, v, lo, hi)
	}
}

// TestMeasuredRates: 30 connections over 1.5 s (20 per second) give a connection and a
// session rate of about 20 in "show info" and in the rate columns of "show stat" for the
// frontend, the backend and the server, the maxima stay, the totals count them, and 2 s
// of idleness bring the rates back to 0; on lb and haproxy.
func TestMeasuredRates(t *testing.T) {
	dir := t.TempDir()
	s1 := startNameServer(t, "s1")
	sock := filepath.Join(dir, "admin.sock")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s
    rate-limit sessions 1000
    default_backend be
backend be
    server s1 %s
`, sock, addr, s1.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		waitSock(t, sock)
		// haproxy's readiness probe is a connection of its own.
		base, _ := strconv.Atoi(statNamed(t, sock, "fe", "FRONTEND", "conn_tot"))
		const n = 30
		for i := range n {
			if name, err := askName(addr); err != nil || name != "s1" {
				t.Fatalf("connection %d: %q %v", i, name, err)
			}
			time.Sleep(50 * time.Millisecond) // pacing: 20 per second
		}
		for _, f := range []string{"ConnRate", "SessRate"} {
			inRange(t, f, infoField(t, sock, f), 14, 26)
			inRange(t, "Max"+f, infoField(t, sock, "Max"+f), 14, n)
		}
		for _, c := range []struct{ px, sv, name string }{
			{"fe", "FRONTEND", "rate"}, {"fe", "FRONTEND", "conn_rate"},
			{"be", "BACKEND", "rate"}, {"be", "s1", "rate"},
		} {
			inRange(t, c.px+"/"+c.sv+" "+c.name, statNamed(t, sock, c.px, c.sv, c.name), 14, 26)
		}
		inRange(t, "fe conn_rate_max", statNamed(t, sock, "fe", "FRONTEND", "conn_rate_max"), 14, n)
		inRange(t, "be rate_max", statNamed(t, sock, "be", "BACKEND", "rate_max"), 14, n)
		if got := statNamed(t, sock, "fe", "FRONTEND", "conn_tot"); got != strconv.Itoa(base+n) {
			t.Errorf("fe conn_tot = %s; want %d", got, base+n)
		}
		if got := statNamed(t, sock, "fe", "FRONTEND", "rate_lim"); got != "1000" {
			t.Errorf("fe rate_lim = %s; want 1000", got)
		}
		// Idle: within two seconds every rate is back to 0 (the past second's
		// events weigh less and less, then nothing).
		deadline := time.Now().Add(3 * time.Second)
		for infoField(t, sock, "ConnRate") != "0" {
			if time.Now().After(deadline) {
				t.Fatalf("ConnRate still %s 3 s after the last connection", infoField(t, sock, "ConnRate"))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got := statNamed(t, sock, "be", "s1", "rate"); got != "0" {
			t.Errorf("s1 rate after idle = %s; want 0", got)
		}
		inRange(t, "MaxConnRate after idle", infoField(t, sock, "MaxConnRate"), 14, n)
	})
}

// TestSSLRateLimit: with "maxsslrate 3", TLS clients beyond 3 per second wait (connected,
// none refused) while a plain listener of the same frontend serves at once; "set
// rate-limit ssl-sessions global 0" lets the waiting ones in; "show info" shows the limit
// and the SSL rates (every TLS connection counts, resumed or not, as HAProxy counts
// them). On lb and haproxy, with one thread: haproxy's threads each take the
// remaining rate when they race to accept, so that it lets up to twice the limit in.
func TestSSLRateLimit(t *testing.T) {
	ca := newTestCA(t, "lb test CA")
	dir := t.TempDir()
	crt := writeFile(t, dir, "site.pem", ca.issueJoined(t, "site.example.com"))
	s1 := startNameServer(t, "s1")
	sock := filepath.Join(dir, "admin.sock")
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	plain := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %s level admin
    maxsslrate 3
    nbthread 1
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s
    bind %s ssl crt %s
    default_backend be
backend be
    server s1 %s
`, sock, plain, tlsAddr, crt, s1.addr()))
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	client := &tls.Config{RootCAs: pool, ServerName: "site.example.com"}
	onLBAndHAProxy(t, cfg, plain, func(t *testing.T, _ *outFile) {
		waitSock(t, sock)
		if got := infoField(t, sock, "SslRateLimit"); got != "3" {
			t.Errorf("SslRateLimit = %s; want 3", got)
		}
		const clients = 10
		var served, failed atomic.Int32
		done := make(chan struct{}, clients)
		start := time.Now()
		for range clients {
			c, err := net.DialTimeout("tcp", tlsAddr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			go func() {
				defer func() { done <- struct{}{} }()
				tc := tls.Client(c, client)
				_ = tc.SetDeadline(time.Now().Add(6 * time.Second))
				l, err := bufio.NewReader(tc).ReadString('\n')
				if err != nil || strings.TrimSpace(l) != "s1" {
					failed.Add(1)
					return
				}
				served.Add(1)
			}()
		}
		// The plain listener is not limited.
		for i := range 5 {
			if name, err := askName(plain); err != nil || name != "s1" {
				t.Fatalf("plain connection %d: %q %v", i, name, err)
			}
		}
		if el := time.Since(start); el > 400*time.Millisecond {
			t.Errorf("5 plain connections took %v beside the limited TLS ones", el)
		}
		time.Sleep(500 * time.Millisecond)
		if n := served.Load(); n < 2 || n > 5 {
			t.Errorf("TLS clients served in 0.5 s at 3 per second = %d; want about 3", n)
		}
		if n := failed.Load(); n != 0 {
			t.Fatalf("%d TLS clients failed; want them to wait", n)
		}
		inRange(t, "SslRate at the limit", infoField(t, sock, "SslRate"), 1, 5)
		if got := adminCommand(t, sock, "set rate-limit ssl-sessions global 0"); got != "\n" {
			t.Fatalf("set rate-limit ssl-sessions global 0 = %q", got)
		}
		if got := infoField(t, sock, "SslRateLimit"); got != "0" {
			t.Errorf("SslRateLimit = %s; want 0", got)
		}
		deadline := time.After(3 * time.Second)
		for range clients {
			select {
			case <-done:
			case <-deadline:
				t.Fatalf("%d of %d TLS clients served 3 s after the limit was removed", served.Load(), clients)
			}
		}
		if n := failed.Load(); n != 0 {
			t.Fatalf("%d TLS clients failed", n)
		}
		inRange(t, "MaxSslRate", infoField(t, sock, "MaxSslRate"), 3, clients)
		inRange(t, "SslFrontendMaxKeyRate", infoField(t, sock, "SslFrontendMaxKeyRate"), 3, clients)
		if got := adminCommand(t, sock, "set rate-limit ssl-sessions global 2"); got != "\n" {
			t.Fatalf("set rate-limit ssl-sessions global 2 = %q", got)
		}
		if got := infoField(t, sock, "SslRateLimit"); got != "2" {
			t.Errorf("SslRateLimit = %s; want 2", got)
		}
	})
}
