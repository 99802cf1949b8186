package loopback

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMaxKeepAliveQueueAsHAProxy: with "option prefer-last-server" and "http-reuse
// never", a keep-alive client's next request waits in its last server's queue when that
// server is full (maxconn), unless "max-keep-alive-queue" says that queue is too long: 0
// never queues it, and the request is balanced to another server at once. Server one
// (maxconn 1, "balance first") is kept busy by another client's request it holds. Both
// proxies answer the same.
func TestMaxKeepAliveQueueAsHAProxy(t *testing.T) {
	hap, haveHAP := haproxyPath()
	arrived, release := make(chan struct{}, 4), make(chan struct{})
	one := startRawServer(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if req.URL.Path == "/hold" {
				arrived <- struct{}{}
				<-release
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\none")
		}
	})
	two := serveHTTP(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "two") })
	dir := t.TempDir()
	ports := map[string]int{"unlimited": freePort(t), "zero": freePort(t)}
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %s/admin.sock level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    timeout queue 10s
    balance first
    option prefer-last-server
    http-reuse never
listen unlimited
    bind 127.0.0.1:%d
    server one %s maxconn 1
    server two %s
listen zero
    bind 127.0.0.1:%d
    max-keep-alive-queue 0
    server one %s maxconn 1
    server two %s
`, dir, ports["unlimited"], one, two, ports["zero"], one, two))
	names := []string{"lb"}
	if haveHAP {
		names = append(names, "haproxy")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			sock := filepath.Join(dir, "admin.sock")
			startNamed(t, name, hap, cfg, sock)
			for _, px := range []string{"unlimited", "zero"} {
				addr := fmt.Sprintf("127.0.0.1:%d", ports[px])
				dial := func() (net.Conn, *bufio.Reader) {
					c, err := net.DialTimeout("tcp", addr, 2*time.Second)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { c.Close() })
					_ = c.SetDeadline(time.Now().Add(10 * time.Second))
					return c, bufio.NewReader(c)
				}
				get := func(c net.Conn, br *bufio.Reader, path string) string {
					io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
					res, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Fatalf("%s: GET %s: %v", px, path, err)
					}
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					return string(b)
				}
				a, abr := dial()
				if got := get(a, abr, "/"); got != "one" {
					t.Fatalf("%s: the first request went to %s; want one (balance first)", px, got)
				}
				// The first transaction has left one (lb's goroutine ends it
				// after the response reached the client).
				waitStatRow(t, sock, px, "one", "scur=0")
				// Another client's request keeps one busy.
				b, bbr := dial()
				io.WriteString(b, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
				select {
				case <-arrived:
				case <-time.After(5 * time.Second):
					_ = b.SetDeadline(time.Now().Add(time.Second))
					line, _ := bbr.ReadString('\n')
					t.Fatalf("%s: the held request did not reach server one (%q); %v", px, line, statRow(t, sock, px, "one", "scur", "qcur", "stot"))
				}
				if px == "zero" {
					if got := get(a, abr, "/"); got != "two" {
						t.Errorf("%s: the keep-alive request went to %s while one was full; want two", px, got)
					}
				} else {
					io.WriteString(a, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
					waitStatRow(t, sock, px, "one", "qcur=1")
				}
				release <- struct{}{}
				if res, err := http.ReadResponse(bbr, nil); err != nil {
					t.Fatalf("%s: the held request: %v", px, err)
				} else {
					res.Body.Close()
				}
				if px == "unlimited" {
					res, err := http.ReadResponse(abr, nil)
					if err != nil {
						t.Fatalf("%s: the queued request: %v", px, err)
					}
					body, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if string(body) != "one" {
						t.Errorf("%s: the queued keep-alive request went to %s; want one", px, body)
					}
				}
			}
		})
	}
}

// waitStatRow polls "show stat" until server's row in proxy px has the field want
// ("name=value").
func waitStatRow(t *testing.T, sock, px, server, want string) {
	t.Helper()
	name, _, _ := strings.Cut(want, "=")
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := statRow(t, sock, px, server, name)[0]
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s: %s after 5s; want %s", px, server, got, want)
		}
		time.Sleep(20 * time.Millisecond) // polling the stats: no other signal
	}
}

// TestMaxKeepAliveQueueMessagesAsHAProxy: lb -c says what haproxy -c says of
// max-keep-alive-queue's values, and of it in a frontend.
func TestMaxKeepAliveQueueMessagesAsHAProxy(t *testing.T) {
	haproxyBin(t)
	for _, v := range []string{"", "abc", "-1", "0", "5", "0x10", "010", "1x", "-7"} {
		cfg := writeConfig(t, fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
listen a
    bind 127.0.0.1:%d
    max-keep-alive-queue %s
    server s 127.0.0.1:1
frontend f
    bind 127.0.0.1:%d
    max-keep-alive-queue 3
    default_backend a
`, freePort(t), v, freePort(t)))
		lbCode, lbOut, haCode, haOut := checkBoth(t, cfg)
		if lbCode != haCode || haproxyLines(lbOut) != haproxyLines(haOut) {
			t.Errorf("%q: lb -c exits %d:\n%s\nhaproxy -c exits %d:\n%s", v, lbCode, lbOut, haCode, haOut)
		}
	}
}
