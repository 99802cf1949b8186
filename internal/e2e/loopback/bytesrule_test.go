package loopback

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
)

// TestBytesReadAfterResponseRulesAsHAProxy: %B counts the response head as it came from
// the server, before the http-response rules changed it (fields added, removed or
// rewritten are not counted, or still counted), as HAProxy 2.6 does: lb logs the same %B
// as haproxy for the same exchange, and the client receives as many bytes.
func TestBytesReadAfterResponseRulesAsHAProxy(t *testing.T) {
	srv := startRawServer(t, func(c net.Conn) {
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
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Drop: 1\r\n\r\nok")
	})
	cases := []struct{ name, rule string }{
		{"none", ""},
		{"set-header", "http-response set-header X-Added some-value"},
		{"del-header", "http-response del-header X-Drop"},
		{"del-absent", "http-response del-header X-None"},
		{"set-existing", "http-response set-header X-Drop 12345"},
		{"add-header", "http-response add-header X-Added some-value"},
		{"set-del", "http-response set-header X-Added some-value\n    http-response del-header X-Drop"},
		{"replace-value", "http-response replace-value X-Drop 1 2"},
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
    log-format "B=%%B"
    %s
    default_backend be
backend be
    server s1 %s
`, ready, addr, tc.rule, srv))
			got := map[string]string{}
			// The harness's readiness probe goes to another frontend, logged nowhere.
			onLBAndHAProxy(t, cfg, ready, func(t *testing.T, out *outFile) {
				c := dialHTTP(t, addr)
				c.send("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
				b, _ := io.ReadAll(c.br)
				waitLog(t, out, "B=")
				var logged string
				for _, l := range strings.Split(out.String(), "\n") {
					if strings.HasPrefix(l, "B=") {
						logged = l
					}
				}
				engine := t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]
				got[engine] = fmt.Sprintf("%s received=%d", logged, len(b))
			})
			if got["haproxy"] == "" {
				t.Skip("no HAProxy to compare with")
			}
			if got["lb"] != got["haproxy"] {
				t.Errorf("lb %q; haproxy %q", got["lb"], got["haproxy"])
			} else {
				t.Log(got["lb"])
			}
		})
	}
}
