package loopback

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
)

// TestHTTP10ConnectionHeaderAsHAProxy: the Connection header of the response to an
// HTTP/1.0 client, and whether the connection stays open, as HAProxy 2.6: for each
// request and server answer, lb's response has the same Connection field (or none) as
// haproxy's, and so for lb's own responses.
func TestHTTP10ConnectionHeaderAsHAProxy(t *testing.T) {
	answer := func(res string) string {
		return startRawServer(t, func(c net.Conn) {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == "\r\n" {
					break
				}
			}
			io.WriteString(c, res)
		})
	}
	h11 := answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	h11close := answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	h10 := answer("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
	h10ka := answer("HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
	h10eof := answer("HTTP/1.0 200 OK\r\n\r\nok")
	cases := []struct{ name, req, srv string }{
		{"1.0 client", "GET / HTTP/1.0\r\n\r\n", h11},
		{"1.0 client keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", h11},
		{"1.0 client, server close", "GET / HTTP/1.0\r\n\r\n", h11close},
		{"1.0 client keep-alive, server close", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", h11close},
		{"1.0 client, 1.0 server", "GET / HTTP/1.0\r\n\r\n", h10},
		{"1.0 client keep-alive, 1.0 server", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", h10},
		{"1.0 client keep-alive, 1.0 server keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", h10ka},
		{"1.0 client keep-alive, 1.0 server until close", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", h10eof},
		{"1.1 client, 1.0 server", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", h10},
		{"1.1 client, 1.0 server until close", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", h10eof},
		{"1.0 client, return", "GET /ret HTTP/1.0\r\n\r\n", h11},
		{"1.0 client keep-alive, return", "GET /ret HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", h11},
		{"1.0 client, deny", "GET /deny HTTP/1.0\r\n\r\n", h11},
		{"1.0 client keep-alive, deny", "GET /deny HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", h11},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			ready := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend ready
    bind %s
    no log
    tcp-request connection reject
frontend fe
    bind %s
    http-request return status 200 content-type text/plain string ok if { path /ret }
    http-request deny if { path /deny }
    default_backend be
backend be
    server s1 %s
`, ready, addr, tc.srv))
			got := map[string]string{}
			onLBAndHAProxy(t, cfg, ready, func(t *testing.T, out *outFile) {
				c := dialHTTP(t, addr)
				c.send(tc.req)
				head, body := c.response()
				f := respFields(head)
				engine := t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]
				got[engine] = fmt.Sprintf("%s connection=%q body=%q", strings.SplitN(head, "\r\n", 2)[0], f["connection"], body)
			})
			if got["haproxy"] == "" {
				t.Skip("no HAProxy to compare with")
			}
			if got["lb"] != got["haproxy"] {
				t.Errorf("lb %s; haproxy %s", got["lb"], got["haproxy"])
			} else {
				t.Log(got["lb"])
			}
		})
	}
}
