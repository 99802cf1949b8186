package loopback

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// "show errors": the requests and responses lb cannot parse are captured per proxy and
// shown in HAProxy 2.6's layout, with the positions, parser states and flags haproxy
// reports for the same bytes. The replies are compared with a golden file recorded from
// haproxy (-update-runtime-goldens), masking dates and client ports.

// badRequests are sent one by one to the frontend; "show errors fe" follows each.
var badRequests = []struct{ name, raw string }{
	{"invalid field name", "GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n"},
	{"invalid content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12x\r\n\r\n"},
	{"two content-lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"},
	{"after content-length and close", "POST / HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\nBad Name: x\r\n\r\n"},
	{"HTTP/1.0", "GET / HTTP/1.0\r\nBad Name: x\r\n\r\n"},
	{"method", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"URI", "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"version character", "GET / HTTP/1.x\r\nHost: a\r\n\r\n"},
	{"version", "GET / HTXP/1.1\r\nHost: a\r\n\r\n"},
	{"HTTP/0.9", "GET /\r\n\r\n"},
	{"CR without LF", "GET / HTTP/1.1\r\nHost: a\rX\r\n\r\n"},
	{"CR without LF in the request line", "GET / HTTP/1.1\rX\r\n\r\n"},
	{"empty field name", "GET / HTTP/1.1\r\n: x\r\n\r\n"},
	{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
	{"host and authority", "GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n"},
	{"transfer-encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"},
	{"chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n"},
	{"upgrade and chunked", "GET / HTTP/1.1\r\nConnection: upgrade, keep-alive\r\nUpgrade: x\r\nTransfer-Encoding: chunked\r\nBad Name: x\r\n\r\n"},
	{"start", "\x01GET / HTTP/1.1\r\n\r\n"},
	{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"},
	{"long lines and escapes", "GET /" + strings.Repeat("a", 120) + " HTTP/1.1\r\nX-A: \t\x1b\\\x7f\xfe" + strings.Repeat("b", 90) + "\r\nBad Name: x\r\n\r\n"},
	{"101 fields", "GET / HTTP/1.1\r\n" + manyFields(101) + "\r\n"},
	{"102 fields", "GET / HTTP/1.1\r\n" + manyFields(102) + "\r\n"},
}

func manyFields(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "X%d: y\r\n", i)
	}
	return b.String()
}

// exchange sends raw on a new connection to addr and returns the status line of the
// reply, read until the proxy closes: the error was captured by then.
func exchange(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, raw)
	b, _ := io.ReadAll(c)
	line, _, _ := strings.Cut(string(b), "\r\n")
	return line
}

// badServer answers each request head with the response its path names, then holds the
// connection until the proxy closes it (a close seen with the response changes HAProxy's
// stream flags).
func badServer(t *testing.T) string {
	return startRawServer(t, func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(c)
		line, _ := r.ReadString('\n')
		for {
			l, err := r.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		switch {
		case strings.HasPrefix(line, "GET /field "):
			io.WriteString(c, "HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 0\r\n\r\n")
		case strings.HasPrefix(line, "GET /status "):
			io.WriteString(c, "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n")
		}
		_, _ = io.Copy(io.Discard, r)
	})
}

func TestShowErrors(t *testing.T) {
	dir := t.TempDir()
	bad := badServer(t)
	good := startHTTPServer(t, "s2", nil)
	fe, li := freePort(t), freePort(t)
	addr, liAddr := fmt.Sprintf("127.0.0.1:%d", fe), fmt.Sprintf("127.0.0.1:%d", li)
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s/admin.sock level admin
    stats socket %[1]s/user.sock level user
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %[2]s
    default_backend be
backend be
    server s1 %[3]s
listen li
    bind %[4]s
    server s2 %[5]s
`, dir, addr, bad, liAddr, good.addr()))
	golden := filepath.Join("testdata", "runtimeapi", "errors.golden")
	dates := regexp.MustCompile(`\[\d\d/[A-Z][a-z][a-z]/\d{4}:\d\d:\d\d:\d\d\.\d{3}\]`)
	ports := regexp.MustCompile(`src 127\.0\.0\.1:\d+`)
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		waitListen(t, liAddr)
		var b strings.Builder
		cmd := func(sock, c string) {
			r := adminCommand(t, filepath.Join(dir, sock+".sock"), c)
			fmt.Fprintf(&b, "=== %s: %s\n%s", sock, c, ports.ReplaceAllString(dates.ReplaceAllString(r, "[date]"), "src 127.0.0.1:port"))
		}
		cmd("admin", "show errors")
		for _, r := range badRequests {
			fmt.Fprintf(&b, "--- %s: %s\n", r.name, exchange(t, addr, r.raw))
			cmd("admin", "show errors fe request")
		}
		fmt.Fprintf(&b, "--- field in a response: %s\n", exchange(t, addr, "GET /field HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
		cmd("admin", "show errors be")
		fmt.Fprintf(&b, "--- status in a response: %s\n", exchange(t, addr, "GET /status HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
		cmd("admin", "show errors be response")
		// A keep-alive connection's second request.
		fmt.Fprintf(&b, "--- second request: %s\n", exchange(t, liAddr, "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nBad Name: x\r\n\r\n"))
		for _, c := range []string{"show errors", "show errors fe", "show errors fe response", "show errors 3 request",
			"show errors 4", "show errors li response", "show errors nope", "show errors 99", "show errors -1 response",
			"show errors be foo"} {
			cmd("admin", c)
		}
		cmd("user", "show errors")
		got := b.String()
		if strings.HasSuffix(t.Name(), "/haproxy") && *updateRuntimeGoldens {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("replies differ from HAProxy's (%s):\n%s", golden, lineDiff(string(want), got))
		}
		if !bytes.Contains([]byte(got), []byte("H1 msg state")) {
			t.Errorf("no capture shown:\n%s", got)
		}
	})
}
