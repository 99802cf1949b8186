package loopback

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestShowResolversAsHAProxy: "show resolvers" counts, per nameserver, the questions sent
// and the answers by kind, in HAProxy 2.6's layout. The names are asked once ("hold valid"
// of an hour): s1's A record (resolve-prefer ipv4), the template's name first as AAAA (no
// record: any_err), then as A; a name that does not exist (nx).
func TestShowResolversAsHAProxy(t *testing.T) {
	dns := startDNSServer(t)
	dns.set("app.test", "127.0.0.1")
	dns.set("web.test", "127.0.0.11", "127.0.0.12")
	dir := t.TempDir()
	sock := dir + "/admin.sock"
	fe := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s level user
resolvers dns
    nameserver ns1 %[2]s
    timeout resolve 100ms
    hold valid 1h
resolvers other
    nameserver a %[2]s
    nameserver b 127.0.0.1:1
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %[3]s
    default_backend app
backend app
    default-server init-addr none
    server s1 app.test:80 resolvers dns resolve-prefer ipv4
    server s2 nx.test:80 resolvers dns resolve-prefer ipv4
    server-template web 2 web.test:80 resolvers dns
`, sock, dns.addr(), fe))
	replies := map[string][]string{}
	onLBAndHAProxy(t, cfg, fe, func(t *testing.T, out *outFile) {
		deadline := time.Now().Add(15 * time.Second)
		for {
			st := adminCommand(t, sock, "show servers state app")
			if strings.Contains(st, " s1 127.0.0.1 ") && strings.Count(st, " 127.0.0.1") == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("show servers state:\n%s", st)
			}
			time.Sleep(50 * time.Millisecond)
		}
		var got []string
		for _, cmd := range []string{"show resolvers", "show resolvers dns", "show resolvers nope"} {
			r := adminCommand(t, sock, cmd)
			// HAProxy adds a "default" section of the host's /etc/resolv.conf, lb does not.
			if i := strings.Index(r, "Resolvers section default\n"); i >= 0 {
				r = r[:i] + "\n"
			}
			got = append(got, r)
		}
		replies[t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]] = got
		t.Logf("%q", got)
	})
	if h, l := replies["haproxy"], replies["lb"]; h != nil && l != nil {
		for i := range h {
			if h[i] != l[i] {
				t.Errorf("reply %d:\n--- lb\n%s--- haproxy\n%s", i, l[i], h[i])
			}
		}
	}
}
