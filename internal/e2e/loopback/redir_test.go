package loopback

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestServerRedirAsHAProxy: a server's "redir <prefix>" answers GET and
// HEAD requests with HAProxy 2.6's 302 (its fields, the path with the query
// after the prefix, the http-after-response rules, then the connection
// closes), logged with the server and "LC"; "redir /" keeps the path alone;
// other methods go to the server. The bytes, the httplog lines and the
// server's counters are haproxy's.
func TestServerRedirAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	app := startHTTPServer(t, "app", nil)
	dir := t.TempDir()
	exchanges := []struct {
		port int // 0: the frontend of backend b, 1: of backend c
		req  string
	}{
		{0, "GET /a/b?c=d HTTP/1.1\r\nHost: h\r\n\r\n"},
		{0, "HEAD http://h/x?y HTTP/1.1\r\nHost: h\r\n\r\n"},
		{0, "GET /z HTTP/1.0\r\n\r\n"},
		{0, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"},
		{1, "GET /keep?q HTTP/1.1\r\nHost: h\r\n\r\n"},
	}
	// A log line without the client's port, the date, the timers (those
	// that are not -1) and the connection counts (%ac/%fc/%bc/%sc/%rc: a
	// harness probe may still be counted, seen under -race).
	logLine := regexp.MustCompile(`^127\.0\.0\.1:\d+ \[[^]]+\] (\S+ \S+) (\S+) (.*)$`)
	counts := regexp.MustCompile(` \d+/\d+/\d+/\d+/\d+ `)
	timer := regexp.MustCompile(`(^|/)\d+`)
	got := map[string][]string{}
	for _, name := range []string{"haproxy", "lb"} {
		sock := filepath.Join(dir, name+".sock")
		ports := []int{freePort(t), freePort(t)}
		cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %s level admin
defaults
    mode http
    log stdout format raw local0
    option httplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    http-after-response set-header X-After 1
    default_backend b
frontend g
    bind 127.0.0.1:%d
    default_backend c
backend b
    server s1 %s redir http://new.example
backend c
    server s2 %s redir /
`, sock, ports[0], ports[1], app.addr(), app.addr()))
		p := startNamed(t, name, hap, cfg, sock)
		for _, x := range exchanges {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[x.port]))
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, x.req); err != nil {
				t.Fatal(err)
			}
			// Every answer closes the connection: a redirect always, the
			// POST by its own "Connection: close".
			b, err := io.ReadAll(bufio.NewReader(c))
			c.Close()
			if err != nil {
				t.Fatalf("%s: %q: %v", name, x.req, err)
			}
			resp := string(b)
			if i := strings.Index(resp, "\r\n\r\n"); i >= 0 && strings.HasPrefix(resp, "HTTP/1.1 200") {
				// The app's answer: its head without its date and length.
				resp = regexp.MustCompile(`(?i)\r\n(content-length|date): [^\r]*`).ReplaceAllString(resp[:i], "") + " (body)"
			}
			got[name] = append(got[name], resp)
		}
		row := statRow(t, sock, "b", "s1", "stot", "lbtot", "connect", "hrsp_3xx")
		got[name] = append(got[name], strings.Join(row, " "))
		deadline := time.Now().Add(5 * time.Second)
		var lines []string
		for len(lines) < len(exchanges) && time.Now().Before(deadline) {
			lines = lines[:0]
			for _, l := range strings.Split(p.out.String(), "\n") {
				if m := logLine.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
					lines = append(lines, m[1]+" "+timer.ReplaceAllString(m[2], "${1}N")+" "+counts.ReplaceAllString(m[3], " ac/fc/bc/sc/rc "))
				}
			}
			time.Sleep(20 * time.Millisecond) // the log lines follow the answers
		}
		slices.Sort(lines)
		got[name] = append(got[name], lines...)
	}
	for _, want := range []string{
		"HTTP/1.1 302 Found\r\ncache-control: no-cache\r\ncontent-length: 0\r\nlocation: http://new.example/a/b?c=d\r\nx-after: 1\r\nconnection: close\r\n\r\n",
		"HTTP/1.1 302 Found\r\ncache-control: no-cache\r\ncontent-length: 0\r\nlocation: /keep?q\r\nconnection: close\r\n\r\n",
	} {
		if !slices.Contains(got["lb"], want) {
			t.Errorf("lb: no answer %q in %q", want, got["lb"])
		}
	}
	if !slices.Equal(got["lb"], got["haproxy"]) {
		t.Errorf("lb and haproxy differ:\n  lb:      %q\n  haproxy: %q", got["lb"], got["haproxy"])
	}
}
