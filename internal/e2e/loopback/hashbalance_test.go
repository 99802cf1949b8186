package loopback

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHashBalanceFactorAsHAProxy: "hash-balance-factor" bounds the loads of consistent
// hashing. Every connection from 127.0.0.1 has the same "balance source" key; held open one
// after another, they go to the key's server until it serves its share of factor% of the
// average load (by weight), then along the ring to the next server within its own. The
// servers chosen, connection after connection, are HAProxy's; without the factor they all
// go to the key's server.
func TestHashBalanceFactorAsHAProxy(t *testing.T) {
	hap, haveHAP := haproxyPath()
	var srv [4]*nameServer
	for i := range srv {
		srv[i] = startNameServer(t, fmt.Sprintf("s%d", i+1))
	}
	dir := t.TempDir()
	bounded, plain := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	servers := fmt.Sprintf(`    server s1 %s weight 1
    server s2 %s weight 2
    server s3 %s weight 1
    server s4 %s weight 3
`, srv[0].addr(), srv[1].addr(), srv[2].addr(), srv[3].addr())
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %s/admin.sock level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    balance source
    hash-type consistent
listen bounded
    bind %s
    hash-balance-factor 150
%slisten plain
    bind %s
%s`, dir, bounded, servers, plain, servers))
	const n = 14
	sequence := func(t *testing.T, addr string) []string {
		t.Helper()
		var got []string
		for range n {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			name, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				t.Fatalf("%s: connection %d not served: %v", addr, len(got)+1, err)
			}
			got = append(got, strings.TrimSpace(name))
		}
		return got
	}
	results := map[string][]string{}
	names := []string{"lb"}
	if haveHAP {
		names = append(names, "haproxy")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			startNamed(t, name, hap, cfg, filepath.Join(dir, "admin.sock"))
			got := sequence(t, bounded)
			results[name] = got
			plainGot := sequence(t, plain)
			for _, s := range plainGot {
				if s != plainGot[0] {
					t.Errorf("without hash-balance-factor, the connections went to %v: want one server", plainGot)
					break
				}
			}
			// The key's server takes the first; then none serves more than
			// its bound (1.5 times its weight's share of the load, rounded
			// up, at least one).
			if got[0] != plainGot[0] {
				t.Errorf("the first connection went to %s, the key's server is %s", got[0], plainGot[0])
			}
			count := map[string]int{}
			for _, s := range got {
				count[s]++
			}
			if len(count) < 2 {
				t.Errorf("%d connections went to %v: the load is not spread", n, got)
			}
			t.Logf("%s: %v", name, got)
		})
	}
	if lb, ha := results["lb"], results["haproxy"]; haveHAP && strings.Join(lb, " ") != strings.Join(ha, " ") {
		t.Errorf("servers chosen, in order:\n lb      %v\n haproxy %v", lb, ha)
	}
}

// TestHashBalanceFactorMessages: lb -c says what haproxy -c says of hash-balance-factor's
// values; lb refuses it with "balance random" and warns where it has no effect.
func TestHashBalanceFactorMessages(t *testing.T) {
	cfg := func(balance, hashType, factor string) string {
		return writeConfig(t, fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
listen a
    bind 127.0.0.1:%d
    balance %s
    hash-type %s
    hash-balance-factor %s
    server s 127.0.0.1:1
`, freePort(t), balance, hashType, factor))
	}
	if _, ok := haproxyPath(); ok {
		for _, v := range []string{"", "50", "100", "-5", "101", "150", "0"} {
			lbCode, lbOut, haCode, haOut := checkBoth(t, cfg("source", "consistent", v))
			if lbCode != haCode || haproxyLines(lbOut) != haproxyLines(haOut) {
				t.Errorf("%q: lb -c exits %d:\n%s\nhaproxy -c exits %d:\n%s", v, lbCode, lbOut, haCode, haOut)
			}
		}
	}
	for _, c := range []struct{ balance, hashType, want string }{
		{"random", "consistent", ":10] : 'hash-balance-factor' with 'balance random' is not supported by lb yet"},
		{"random(3)", "map-based", ":10] : 'hash-balance-factor' with 'balance random' is not supported by lb yet"},
		{"source", "map-based", ":10] : 'hash-balance-factor' has no effect in proxy 'a'"},
		{"roundrobin", "consistent", ":10] : 'hash-balance-factor' has no effect in proxy 'a'"},
	} {
		out, err := exec.Command(lbBinary(t), "-c", "-f", cfg(c.balance, c.hashType, "150")).CombinedOutput()
		refused := strings.Contains(c.want, "not supported")
		if (err != nil) != refused || !strings.Contains(string(out), c.want) {
			t.Errorf("balance %s, hash-type %s: lb -c %v\n%s\nwant %q", c.balance, c.hashType, err, out, c.want)
		}
	}
}
