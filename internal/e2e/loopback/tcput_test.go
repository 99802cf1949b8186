package loopback

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestTCPUserTimeoutAsHAProxy: "tcp-ut" on a bind line sets TCP_USER_TIMEOUT on the
// listening socket, which the connections it accepts inherit, and on a server line on
// the connections to that server and on its health checks'; in mode tcp (the event
// loops) and mode http (goroutines) alike; milliseconds by default. Without it, the
// sockets keep the system's (0). On a default-server line it reaches no server, as in
// HAProxy 2.6 (lb warns). The same option is read on haproxy's sockets.
func TestTCPUserTimeoutAsHAProxy(t *testing.T) {
	hap, haveHAP := haproxyPath()
	srvConns := make(chan net.Conn, 16)
	server := startSocketServer(t, srvConns)
	// The health check's server accepts and says nothing: the check waits
	// for a string that never comes, its connection open meanwhile.
	checkConns := make(chan net.Conn, 16)
	checked := startRawServer(t, func(c net.Conn) {
		checkConns <- c
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	})
	dir := t.TempDir()
	a := [4]string{}
	for i := range a {
		a[i] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	}
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s/admin.sock level admin
defaults
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    timeout check 10s
listen tcp
    mode tcp
    bind %[2]s tcp-ut 1500
    server s %[5]s tcp-ut 2s
listen http
    mode http
    bind %[3]s tcp-ut 3s
    server s %[5]s tcp-ut 4000
listen off
    mode tcp
    bind %[4]s
    server s %[5]s
listen dflt
    mode http
    bind %[7]s
    default-server tcp-ut 5s
    server s %[5]s
backend checked
    option tcp-check
    tcp-check expect string never
    server c %[6]s check inter 60s tcp-ut 7s
`, dir, a[0], a[1], a[2], server, checked, a[3]))
	// want: per listen section, TCP_USER_TIMEOUT on the client side and the server side.
	want := map[string][2]int{"tcp": {1500, 2000}, "http": {3000, 4000}, "off": {0, 0}, "dflt": {0, 0}}
	names := []string{"lb"}
	if haveHAP {
		names = append(names, "haproxy")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			p := startNamed(t, name, hap, cfg, filepath.Join(dir, "admin.sock"))
			if name == "lb" {
				p.waitOutput("'tcp-ut' on a 'default-server' line is not passed on to the servers, as in HAProxy 2.6", 5*time.Second)
			}
			read := func(c net.Conn) int {
				t.Helper()
				v, err := peerSockopt(p.pid(), c, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT)
				if err != nil {
					t.Skipf("cannot read %s's socket: %v", name, err)
				}
				return v
			}
			for i, px := range []string{"tcp", "http", "off", "dflt"} {
				c, sc := proxiedPair(t, a[i], px == "http" || px == "dflt", srvConns)
				if got := [2]int{read(c), read(sc)}; got != want[px] {
					t.Errorf("%s: TCP_USER_TIMEOUT on the client and server sides = %v; want %v", px, got, want[px])
				}
			}
			select {
			case cc := <-checkConns:
				if got := read(cc); got != 7000 {
					t.Errorf("health check: TCP_USER_TIMEOUT = %d; want 7000", got)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no health check connection")
			}
		})
	}
}

// TestTCPUserTimeoutMessagesAsHAProxy: lb -c says what haproxy -c says of tcp-ut's
// values on bind and server lines: missing, not a delay, trailing characters, a
// fraction, overflow.
func TestTCPUserTimeoutMessagesAsHAProxy(t *testing.T) {
	haproxyBin(t)
	for _, v := range []string{"", "abc", "5x", "1.5s", "0x10", "-1", "4294967296", "25d", "1us", "0", "2d"} {
		t.Run(v, func(t *testing.T) {
			cfg := writeConfig(t, fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
listen a
    bind 127.0.0.1:%d tcp-ut %s
    server s 127.0.0.1:1 tcp-ut %s
listen b
    bind 127.0.0.1:%d
    default-server tcp-ut %s
    server s 127.0.0.1:1
`, freePort(t), v, v, freePort(t), v))
			lbCode, lbOut, haCode, haOut := checkBoth(t, cfg)
			// lb's one warning more, on a valid value: the default-server's is
			// not passed on.
			var lines []string
			warned := false
			for _, l := range strings.Split(lbOut, "\n") {
				if strings.Contains(l, "'tcp-ut' on a 'default-server' line is not passed on") {
					warned = true
					continue
				}
				if warned && l == "Warnings were found." {
					continue
				}
				lines = append(lines, l)
			}
			if lbCode != haCode || haproxyLines(strings.Join(lines, "\n")) != haproxyLines(haOut) {
				t.Errorf("lb -c exits %d:\n%s\nhaproxy -c exits %d:\n%s", lbCode, lbOut, haCode, haOut)
			}
			if valid := lbCode == 0; warned != valid {
				t.Errorf("lb -c exits %d and warns of default-server's tcp-ut: %v\n%s", lbCode, warned, lbOut)
			}
		})
	}
}
