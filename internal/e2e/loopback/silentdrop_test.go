package loopback

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// silentlyDropped reports how a connection the proxy dropped looked to the client: it must
// get no byte. As root the socket is closed under TCP_REPAIR and the client hears nothing
// at all, neither FIN nor RST, until its own timeout (what HAProxy does); without the
// privilege both fall back to a reset.
func silentlyDropped(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(time.Second)) // the silence is what is checked
	b := make([]byte, 64)
	n, err := c.Read(b)
	if n > 0 {
		t.Fatalf("the client got %q", b[:n])
	}
	if os.Geteuid() == 0 {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("read: %v; want a timeout (nothing sent)", err)
		}
		return
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read: %v; want a reset", err)
	}
}

// TestSilentDrop: "http-request silent-drop", "tcp-request connection silent-drop" and
// "tcp-request content silent-drop" leave the client without a response, a FIN or an RST,
// logged as HAProxy logs them ("PR--" with no status, "PR"); a request the rule does not
// match is served. lb and haproxy on the same traffic.
func TestSilentDrop(t *testing.T) {
	app := startHTTPServer(t, "app", nil)
	fe, ft, ftc := freePort(t), freePort(t), freePort(t)
	addr := func(p int) string { return fmt.Sprintf("127.0.0.1:%d", p) }
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    option httplog
    http-request silent-drop if { path /drop }
    default_backend be
frontend ft
    mode tcp
    bind %s
    tcp-request connection silent-drop if { src 127.0.0.1 }
    default_backend bt
frontend ftc
    mode tcp
    option tcplog
    bind %s
    tcp-request inspect-delay 2s
    tcp-request content silent-drop if { req.len gt 0 }
    default_backend bt
backend be
    server s %s
backend bt
    mode tcp
    server s %[4]s
`, addr(fe), addr(ft), addr(ftc), app.addr()))
	onLBAndHAProxy(t, cfg, addr(fe), func(t *testing.T, out *outFile) {
		waitListen(t, addr(ftc))
		c := dialHTTP(t, addr(fe))
		c.send("GET /drop HTTP/1.1\r\nHost: x\r\n\r\n")
		silentlyDropped(t, c.c)
		waitLog(t, out, "fe fe/<NOSRV> -1/-1/-1/-1/")
		waitLog(t, out, ` -1 0 - - PR-- `)

		ok := dialHTTP(t, addr(fe))
		ok.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
		if head, _ := ok.response(); respStatusLine(head) != "HTTP/1.1 200 OK" {
			t.Errorf("a request the rule does not match: %q", head)
		}

		tc, err := net.Dial("tcp", addr(ft))
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		silentlyDropped(t, tc)

		cc, err := net.Dial("tcp", addr(ftc))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		io.WriteString(cc, "hello")
		silentlyDropped(t, cc)
		// Tt is timing: haproxy counted 1 ms once under load.
		waitLogRe(t, out, regexp.MustCompile(`ftc ftc/<NOSRV> -1/-1/\d+ 0 PR `))
	})
}
