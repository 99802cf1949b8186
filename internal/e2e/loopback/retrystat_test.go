package loopback

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// statFields returns, by "proxy/server", the named fields of a "show stat" CSV reply.
func statFields(csv string, names ...string) map[string]string {
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) == 0 {
		return nil
	}
	col := map[string]int{}
	for i, h := range strings.Split(strings.TrimPrefix(lines[0], "# "), ",") {
		col[h] = i
	}
	m := map[string]string{}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if len(f) < 2 {
			continue
		}
		var vals []string
		for _, n := range names {
			v := ""
			if i, ok := col[n]; ok && i < len(f) {
				v = f[i]
			}
			vals = append(vals, n+"="+v)
		}
		m[f[0]+"/"+f[1]] = strings.Join(vals, " ")
	}
	return m
}

// TestRetryCountersAsHAProxy: "show stat" counts the retries (wretr) and redispatches
// (wredis) of failed connections, on the server that failed and on its backend, as
// HAProxy 2.6: a retry to the same server is a retry, one sent to another server a
// redispatch instead, a "retry-on" retry a retry; and econ counts the requests that gave
// up, not each failed attempt; in mode http and in mode tcp. The harness's readiness probe
// goes to another frontend, counted nowhere in be.
func TestRetryCountersAsHAProxy(t *testing.T) {
	good := startHTTPServer(t, "good", nil)
	dead := refusingPort(t)
	var n atomic.Int32
	busy := retryServer(t, &n, func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy")
	})
	cases := []struct {
		name, mode, backend, cookie string
		requests                    int
	}{
		{"redispatch on the last retry", "http", `
    balance first
    cookie SRV insert indirect
    retries 3
    option redispatch
    server dead 127.0.0.1:%[1]d cookie d
    server good %[2]s cookie g`, "SRV=d", 1},
		{"redispatch at once", "http", `
    balance roundrobin
    retries 2
    option redispatch
    server dead 127.0.0.1:%[1]d
    server good %[2]s`, "", 1},
		{"no redispatch", "http", `
    retries 2
    server dead 127.0.0.1:%[1]d
    server good 127.0.0.1:%[1]d`, "", 2},
		{"tcp", "tcp", `
    balance roundrobin
    retries 2
    option redispatch
    server dead 127.0.0.1:%[1]d
    server good %[2]s`, "", 1},
		{"tcp no redispatch", "tcp", `
    retries 2
    server dead 127.0.0.1:%[1]d`, "", 1},
		{"retry-on", "http", `
    retries 3
    retry-on 503
    server good %[3]s`, "", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			ready := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %s/admin.sock level admin
defaults
    mode %s
    timeout connect 100ms
    timeout client 5s
    timeout server 5s
frontend ready
    bind %s
    tcp-request connection reject
frontend fe
    bind %s
    default_backend be
backend be`, dir, tc.mode, ready, addr)+fmt.Sprintf(tc.backend, dead, good.addr(), busy)+"\n")
			got := map[string]map[string]string{}
			onLBAndHAProxy(t, cfg, ready, func(t *testing.T, out *outFile) {
				n.Store(0)
				sock := filepath.Join(dir, "admin.sock")
				waitSock(t, sock)
				for range tc.requests {
					c := dialHTTP(t, addr)
					req := "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
					if tc.cookie != "" {
						req += "Cookie: " + tc.cookie + "\r\n"
					}
					c.send(req + "\r\n")
					// The answer, or the close: the counters are updated before.
					_, _ = io.ReadAll(c.br)
					c.c.Close()
				}
				engine := t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]
				got[engine] = statFields(adminCommand(t, sock, "show stat"), "econ", "wretr", "wredis")
			})
			lb, hap := got["lb"], got["haproxy"]
			if hap == nil {
				t.Skip("no HAProxy to compare with")
			}
			for _, k := range []string{"be/BACKEND", "be/dead", "be/good"} {
				if lb[k] != hap[k] {
					t.Errorf("%s: lb %q; haproxy %q", k, lb[k], hap[k])
				} else {
					t.Logf("%s: %s", k, lb[k])
				}
			}
		})
	}
}
