package loopback

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestLocalPeerAsHAProxy: HAPROXY_LOCALPEER is the host name, or -L's name, or the global
// localpeer's from that line on, and the configuration expands it, as in HAProxy.
func TestLocalPeerAsHAProxy(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, global string
		args         []string
		want         string
	}{
		{"hostname", "", nil, host},
		{"-L", "", []string{"-L", "edge-1"}, "edge-1"},
		{"localpeer", "    localpeer edge-2\n", nil, "edge-2"},
		{"-L over localpeer", "    localpeer edge-2\n", []string{"-L", "edge-1"}, "edge-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := freePort(t)
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			cfg := writeConfig(t, fmt.Sprintf(`global
%sdefaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %s
    http-request return status 200 hdr x-peer "${HAPROXY_LOCALPEER}"
`, tc.global, addr))
			args := append(append([]string{"-db"}, tc.args...), "-f", cfg)
			check := func(t *testing.T) {
				hc := dialHTTP(t, addr)
				hc.send("GET / HTTP/1.1\r\nhost: x\r\n\r\n")
				head, _ := hc.response()
				if got := respFields(head)["x-peer"]; len(got) != 1 || got[0] != tc.want {
					t.Errorf("x-peer %q; want %q\n%s", got, tc.want, head)
				}
			}
			const ignored = "'localpeer' ignored since it is already set by using the '-L' command line argument."
			warned := func(t *testing.T, out string) {
				if want := tc.global != "" && tc.args != nil; strings.Contains(out, ignored) != want {
					t.Errorf("warning %q: %v, want %v:\n%s", ignored, !want, want, out)
				}
			}
			t.Run("lb", func(t *testing.T) {
				p := startLB(t, args...)
				check(t)
				warned(t, p.out.String())
			})
			t.Run("haproxy", func(t *testing.T) {
				out := startHAProxyArgs(t, addr, args...)
				check(t)
				warned(t, out.String())
			})
		})
	}
}

// TestNoServerVerifyAsHAProxy: -dV makes "verify none" the default of server lines, so a TLS
// server without a CA file passes the check, unless the global section asks for verification
// again; lb -c and haproxy -c agree on each.
func TestNoServerVerifyAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	servers := `defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen app
    bind 127.0.0.1:%d
    server s 127.0.0.1:%d ssl
`
	cfg := writeConfig(t, fmt.Sprintf(servers, freePort(t), freePort(t)))
	required := writeConfig(t, "global\n    ssl-server-verify required\n")
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"-c", "-f", cfg}, 1},
		{[]string{"-c", "-dV", "-f", cfg}, 0},
		{[]string{"-c", "-dV", "-f", required, "-f", cfg}, 1},
	} {
		code := func(bin string) (int, string) {
			out, err := exec.Command(bin, tc.args...).CombinedOutput()
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.ExitCode(), string(out)
			}
			return 0, string(out)
		}
		lbCode, lbOut := code(lbBinary(t))
		haCode, haOut := code(hap)
		if lbCode != tc.want || haCode != tc.want {
			t.Errorf("%v: lb exits %d, haproxy %d; want %d\nlb:\n%s\nhaproxy:\n%s", tc.args, lbCode, haCode, tc.want, lbOut, haOut)
		}
		if tc.want == 1 && !strings.Contains(lbOut, "verify is enabled by default but no CA file specified") {
			t.Errorf("%v: lb does not say why:\n%s", tc.args, lbOut)
		}
	}
}
