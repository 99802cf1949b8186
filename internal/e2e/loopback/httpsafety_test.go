package loopback

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// smugglingVectors are requests a proxy must not forward as they are: ambiguous framing,
// invalid names and characters, bad chunk sizes, oversized heads, and a few that are valid,
// for contrast. Each one is sent alone on a fresh connection.
var smugglingVectors = []struct{ name, req string }{
	{"valid GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"valid chunked POST", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
	{"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"two different CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
	{"two equal CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"},
	{"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\nabcd"},
	{"CL sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc"},
	{"CL not a number", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3a\r\n\r\nabc"},
	{"TE not ending in chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"},
	{"TE unknown coding then chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
	{"TE chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"},
	{"TE identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n"},
	{"TE with space before colon", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"},
	{"bad chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
	{"chunk size overflow", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nabc\r\n0\r\n\r\n"},
	{"invalid name char", "GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n"},
	{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n"},
	{"CR without LF", "GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n"},
	{"control char in URI", "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"space in URI", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n"},
	{"two different Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
	{"obs-fold first line", "GET / HTTP/1.1\r\n X: 1\r\nHost: a\r\n\r\n"},
	{"bare LF lines", "GET / HTTP/1.1\nHost: a\n\n"},
	{"head too large", "GET /" + strings.Repeat("a", 20000) + " HTTP/1.1\r\nHost: a\r\n\r\n"},
	{"too many fields", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-F: v\r\n", 110) + "\r\n"},
}

// statusOf sends req alone and returns the status line answered, or "(closed)".
func statusOf(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		return "(closed)"
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "(closed)"
	}
	return strings.TrimSpace(line)
}

// TestHTTPRefusalsAsHAProxy sends every vector to haproxy 2.6 and to lb with the same
// configuration and expects the same status line from both (the server behind answers 200 to
// what is forwarded). Skipped when haproxy is not installed.
func TestHTTPRefusalsAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	app := startHTTPServer(t, "app", nil)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
    timeout http-request 2s
listen l
    bind %s
    server s1 %s
`, addr, app.addr()))
	run := func(bin string) []string {
		defer startProc(t, bin, "-db", "-f", cfg).stop()
		waitListen(t, addr)
		var got []string
		for _, v := range smugglingVectors {
			got = append(got, statusOf(t, addr, v.req))
		}
		return got
	}
	want := run(hap)
	got := run(lbBinary(t))
	for i, v := range smugglingVectors {
		if got[i] != want[i] {
			t.Errorf("%s: lb %q, HAProxy %q", v.name, got[i], want[i])
		}
	}
}
