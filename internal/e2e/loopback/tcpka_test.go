package loopback

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestTCPKeepAliveTimingsAsHAProxy: "clitcpka-cnt|idle|intvl" and "srvtcpka-…" set the
// keep-alive probes' count, idle time and interval (seconds by default, inherited from
// defaults) on the sockets that "option clitcpka", "srvtcpka" or "tcpka" turn keep-alive
// on for, in mode tcp (the event loops) and mode http (goroutines) alike; a value not
// given leaves the system's; without the option they do nothing. The same options are
// read on haproxy's sockets.
func TestTCPKeepAliveTimingsAsHAProxy(t *testing.T) {
	hap, haveHAP := haproxyPath()
	srvConns := make(chan net.Conn, 16)
	server := startSocketServer(t, srvConns)
	var sys [3]int // the system's count, idle and interval
	{
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range []int{unix.TCP_KEEPCNT, unix.TCP_KEEPIDLE, unix.TCP_KEEPINTVL} {
			sys[i], _ = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, o)
		}
		unix.Close(fd)
	}
	dir := t.TempDir()
	a := [3]string{}
	for i := range a {
		a[i] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	}
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s/admin.sock level admin
defaults
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    clitcpka-idle 77
    srvtcpka-intvl 13
listen tcp
    mode tcp
    bind %[2]s
    option tcpka
    clitcpka-cnt 4
    clitcpka-intvl 1m
    srvtcpka-cnt 0x6
    srvtcpka-idle 2m
    server s %[5]s
listen http
    mode http
    bind %[3]s
    option clitcpka
    option srvtcpka
    clitcpka-cnt 3
    srvtcpka-idle 99
    server s %[5]s
listen off
    mode tcp
    bind %[4]s
    clitcpka-cnt 5
    srvtcpka-cnt 5
    server s %[5]s
`, dir, a[0], a[1], a[2], server))
	// want: per listen section, the client side's and the server side's keep-alive,
	// count, idle and interval (-1: the system's).
	want := map[string][2][4]int{
		"tcp":  {{1, 4, 77, 60}, {1, 6, 120, 13}},
		"http": {{1, 3, 77, -1}, {1, -1, 99, 13}},
		"off":  {{0, -1, -1, -1}, {0, -1, -1, -1}},
	}
	names := []string{"lb"}
	if haveHAP {
		names = append(names, "haproxy")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			p := startNamed(t, name, hap, cfg, filepath.Join(dir, "admin.sock"))
			for i, px := range []string{"tcp", "http", "off"} {
				c, sc := proxiedPair(t, a[i], px == "http", srvConns)
				for side, conn := range []net.Conn{c, sc} {
					var got [4]int
					for j, o := range [][2]int{{unix.SOL_SOCKET, unix.SO_KEEPALIVE},
						{unix.IPPROTO_TCP, unix.TCP_KEEPCNT}, {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
						{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL}} {
						v, err := peerSockopt(p.pid(), conn, o[0], o[1])
						if err != nil {
							t.Skipf("cannot read %s's socket: %v", name, err)
						}
						got[j] = v
					}
					w := want[px][side]
					for j := 1; j < 4; j++ {
						if w[j] == -1 {
							w[j] = sys[j-1]
						}
					}
					if got != w {
						t.Errorf("%s, %s side: keep-alive, count, idle, interval = %v; want %v",
							px, []string{"client", "server"}[side], got, w)
					}
				}
			}
		})
	}
}

// TestTCPKeepAliveMessagesAsHAProxy: lb -c says what haproxy -c says of the
// keep-alive timings' values and places: missing and bad numbers, units, overflow,
// trailing characters, and a side the proxy does not have.
func TestTCPKeepAliveMessagesAsHAProxy(t *testing.T) {
	haproxyBin(t)
	for _, c := range []struct{ fe, be string }{
		{"clitcpka-cnt", ""},
		{"clitcpka-cnt 0x10", "srvtcpka-cnt -3"},
		{"clitcpka-cnt 12abc", ""},
		{"clitcpka-idle 1ms", "srvtcpka-idle 2d"},
		{"clitcpka-idle 10x", ""},
		{"clitcpka-intvl 99999999999", ""},
		{"clitcpka-intvl 5sx", "srvtcpka-intvl"},
		{"srvtcpka-cnt 5", "clitcpka-idle 5"},
	} {
		t.Run(c.fe+"|"+c.be, func(t *testing.T) {
			cfg := writeConfig(t, fmt.Sprintf(`defaults
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend f
    bind 127.0.0.1:%d
    %s
    default_backend b
backend b
    %s
    server s 127.0.0.1:1
`, freePort(t), c.fe, c.be))
			lbCode, lbOut, haCode, haOut := checkBoth(t, cfg)
			if lbCode != haCode || haproxyLines(lbOut) != haproxyLines(haOut) {
				t.Errorf("lb -c exits %d:\n%s\nhaproxy -c exits %d:\n%s", lbCode, lbOut, haCode, haOut)
			}
		})
	}
}

// startSocketServer starts a server whose connections are sent to conns (their
// sockets' options are read) and which answers each request head with a 200 and
// echoes the other lines (a mode tcp client's "ping").
func startSocketServer(t *testing.T, conns chan<- net.Conn) string {
	t.Helper()
	return startRawServer(t, func(c net.Conn) {
		conns <- c
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				c.Close()
				return
			}
			if line == "\r\n" {
				io.WriteString(c, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
			} else if !strings.Contains(line, ":") && !strings.HasPrefix(line, "GET") {
				io.WriteString(c, line)
			}
		}
	})
}

// proxiedPair connects to the proxy at addr, sends a request head (http) or a line, reads
// the answer's first line and returns the client connection (closed at the end of the test)
// and the server's side of the connection the proxy made (from startSocketServer's conns).
func proxiedPair(t *testing.T, addr string, http bool, conns <-chan net.Conn) (client, server net.Conn) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if http {
		io.WriteString(c, "GET / HTTP/1.1\r\nhost: x\r\n\r\n")
	} else {
		io.WriteString(c, "ping\n")
	}
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		t.Fatalf("%s: not served: %v", addr, err)
	}
	select {
	case sc := <-conns:
		return c, sc
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no server connection", addr)
	}
	return nil, nil
}
