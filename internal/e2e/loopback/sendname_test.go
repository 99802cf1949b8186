package loopback

import (
	"fmt"
	"strings"
	"testing"
)

// TestSendNameHeaderAsHAProxy: "http-send-name-header" removes every field of its name
// the client sent and appends one with the name of the server chosen, after the fields
// lb adds itself (X-Forwarded-For), in the backend's requests only, inherited from
// defaults; a request redispatched after a refused connection carries the name of the
// server that took it. The heads the servers receive are compared with haproxy's.
func TestSendNameHeaderAsHAProxy(t *testing.T) {
	echo := rawHeadServer(t, "")
	refused := fmt.Sprintf("127.0.0.1:%d", refusingPort(t))
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    http-send-name-header X-Inherited
frontend fe
    bind %[1]s
    option forwardfor
    use_backend named if { path_beg /named }
    use_backend redisp if { path_beg /redisp }
    default_backend inherits
backend named
    http-send-name-header X-Srv extra words
    balance roundrobin
    server alpha %[2]s
    server beta %[2]s
backend redisp
    http-send-name-header X-Srv
    retries 1
    option redispatch
    balance roundrobin
    server down %[3]s
    server up %[2]s
backend inherits
    server gamma %[2]s
`, addr, echo, refused))
	heads := map[string][]string{}
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		var got []string
		for _, path := range []string{"/named", "/named", "/redisp", "/inherits"} {
			c := dialHTTP(t, addr)
			c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\nX-Srv: spoofed\r\nAccept: */*\r\nx-srv: again\r\nX-Inherited: spoofed\r\n\r\n")
			_, body := c.response()
			got = append(got, body)
		}
		heads[t.Name()] = got
		want := []string{
			"x-srv: alpha\r\n\r\n", "x-srv: beta\r\n\r\n", "x-srv: up\r\n\r\n", "x-inherited: gamma\r\n\r\n",
		}
		for i, h := range got {
			if !strings.HasSuffix(h, want[i]) {
				t.Errorf("request %d: the server saw\n%s\nwant it to end with %q", i, h, want[i])
			}
			if n := strings.Count(strings.ToLower(h), strings.ToLower(strings.SplitN(want[i], ":", 2)[0])+":"); n != 1 {
				t.Errorf("request %d: %d fields of the name, want 1:\n%s", i, n, h)
			}
		}
	})
	lb, hap := heads["TestSendNameHeaderAsHAProxy/lb"], heads["TestSendNameHeaderAsHAProxy/haproxy"]
	if hap == nil {
		return // no haproxy here
	}
	for i := range lb {
		if lb[i] != hap[i] {
			t.Errorf("request %d: lb's server saw\n%s\nhaproxy's\n%s", i, lb[i], hap[i])
		}
	}
}
