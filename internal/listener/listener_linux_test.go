package listener

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// withFD runs fn on f's descriptor.
func withFD(t *testing.T, f *os.File, fn func(fd int)) {
	t.Helper()
	if err := control(f, func(fd int) error { fn(fd); return nil }); err != nil {
		t.Fatalf("control %s: %v", f.Name(), err)
	}
}

func sockopt(t *testing.T, f *os.File, level, opt int) int {
	t.Helper()
	var v int
	withFD(t, f, func(fd int) {
		var err error
		if v, err = unix.GetsockoptInt(fd, level, opt); err != nil {
			t.Fatalf("getsockopt(%d, %d): %v", level, opt, err)
		}
	})
	return v
}

func mustBind(t *testing.T, spec Spec) *Listener {
	t.Helper()
	l, err := Bind(spec)
	if err != nil {
		t.Fatalf("Bind(%+v) = %v", spec, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func portOf(t *testing.T, l *Listener) int {
	t.Helper()
	a, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("Addr() = %T; want *net.TCPAddr", l.Addr())
	}
	return a.Port
}

// inode returns the inode of the socket behind f (fstat).
func inode(t *testing.T, f *os.File) uint64 {
	t.Helper()
	var st unix.Stat_t
	withFD(t, f, func(fd int) {
		if err := unix.Fstat(fd, &st); err != nil {
			t.Fatalf("fstat: %v", err)
		}
	})
	return st.Ino
}

// TestBindOptions reads every option back with getsockopt.
// Transparent needs CAP_NET_ADMIN: these tests run as root and check that
// IP_TRANSPARENT itself is set (the fallback is TestTransparentFallback).
// TCP_DEFER_ACCEPT reads back as the kernel rounds it (only "set" is
// checked; the value is logged).
// The backlog is read from TCP_INFO, whose tcpi_sacked holds
// sk_max_ack_backlog for a listening socket.
func TestBindOptions(t *testing.T) {
	type want struct {
		reuseport, transparent, freebind int
		deferAccept                      bool
		iface                            string
		tfo                              int
		linger                           unix.Linger
		v6only                           int // -1: not a v6 socket
		backlog                          int
	}
	def := somaxconn()
	tests := []struct {
		name string
		spec Spec
		want want
	}{
		{"tcp4 defaults", Spec{Network: "tcp4", Addr: "127.0.0.1:0"},
			want{reuseport: 1, v6only: -1, backlog: def}},
		{"noreuseport", Spec{Network: "tcp4", Addr: "127.0.0.1:0", NoReusePort: true},
			want{v6only: -1, backlog: def}},
		{"transparent", Spec{Network: "tcp4", Addr: "127.0.0.1:0", Transparent: true},
			want{reuseport: 1, transparent: 1, v6only: -1, backlog: def}},
		{"defer-accept", Spec{Network: "tcp4", Addr: "127.0.0.1:0", DeferAccept: true},
			want{reuseport: 1, deferAccept: true, v6only: -1, backlog: def}},
		{"interface lo", Spec{Network: "tcp4", Addr: "127.0.0.1:0", Interface: "lo"},
			want{reuseport: 1, iface: "lo", v6only: -1, backlog: def}},
		{"tfo with backlog", Spec{Network: "tcp4", Addr: "127.0.0.1:0", Tfo: true, Backlog: 100},
			want{reuseport: 1, tfo: 100, v6only: -1, backlog: 100}},
		{"nolinger", Spec{Network: "tcp4", Addr: "127.0.0.1:0", Nolinger: true},
			want{reuseport: 1, linger: unix.Linger{Onoff: 1}, v6only: -1, backlog: def}},
		{"backlog", Spec{Network: "tcp4", Addr: "127.0.0.1:0", Backlog: 17},
			want{reuseport: 1, v6only: -1, backlog: 17}},
		// Binding ::1 (any specific IPv6 address) forces IPV6_V6ONLY to 1;
		// TestV6OnlyOption reads the option before bind().
		{"tcp6 v4v6 on ::1", Spec{Network: "tcp6", Addr: "[::1]:0", V4V6: true},
			want{reuseport: 1, v6only: 1, backlog: def}},
		{"tcp6 transparent", Spec{Network: "tcp6", Addr: "[::1]:0", Transparent: true},
			want{reuseport: 1, transparent: 1, v6only: 1, backlog: def}},
	}
	if v6onlyDefault() {
		t.Fatalf("net.ipv6.bindv6only=1 on this machine; the table assumes Debian's default 0")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := mustBind(t, tt.spec)
			f := l.File()
			if l.Origin() != Self {
				t.Errorf("Origin() = %v; want self", l.Origin())
			}
			var got want
			withFD(t, f, func(fd int) {
				geti := func(level, opt int) int {
					v, err := unix.GetsockoptInt(fd, level, opt)
					if err != nil {
						t.Fatalf("getsockopt(%d, %d): %v", level, opt, err)
					}
					return v
				}
				if v := geti(unix.SOL_SOCKET, unix.SO_REUSEADDR); v != 1 {
					t.Errorf("SO_REUSEADDR = %d; want 1", v)
				}
				if v := geti(unix.SOL_SOCKET, unix.SO_ACCEPTCONN); v != 1 {
					t.Errorf("SO_ACCEPTCONN = %d; want 1", v)
				}
				if v := geti(unix.SOL_SOCKET, unix.SO_TYPE); v != unix.SOCK_STREAM {
					t.Errorf("SO_TYPE = %d; want SOCK_STREAM", v)
				}
				if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); fl&unix.O_NONBLOCK == 0 {
					t.Errorf("O_NONBLOCK not set")
				}
				if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC == 0 {
					t.Errorf("FD_CLOEXEC not set")
				}
				got.reuseport = geti(unix.SOL_SOCKET, unix.SO_REUSEPORT)
				if tt.spec.Network == "tcp6" {
					got.transparent = geti(unix.IPPROTO_IPV6, unix.IPV6_TRANSPARENT)
					got.v6only = geti(unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
				} else {
					got.transparent = geti(unix.IPPROTO_IP, unix.IP_TRANSPARENT)
					got.v6only = -1
				}
				got.freebind = geti(unix.IPPROTO_IP, unix.IP_FREEBIND)
				da := geti(unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT)
				got.deferAccept = da > 0
				if tt.want.deferAccept {
					t.Logf("TCP_DEFER_ACCEPT set to 1 reads back %d", da)
				}
				got.iface, _ = unix.GetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE)
				got.tfo = geti(unix.IPPROTO_TCP, unix.TCP_FASTOPEN)
				lg, err := unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER)
				if err != nil {
					t.Fatalf("SO_LINGER: %v", err)
				}
				got.linger = *lg
				ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
				if err != nil {
					t.Fatalf("TCP_INFO: %v", err)
				}
				got.backlog = int(ti.Sacked)
			})
			if got != tt.want {
				t.Errorf("Bind(%+v) options = %+v; want %+v", tt.spec, got, tt.want)
			}
			// The socket serves.
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatalf("dial %s: %v", l.Addr(), err)
			}
			c.Close()
		})
	}
}

// TestV6OnlyOption reads IPV6_V6ONLY back from the socket Bind would bind,
// before bind(): binding "::" itself would listen beyond loopback.
func TestV6OnlyOption(t *testing.T) {
	if v6onlyDefault() {
		t.Fatalf("net.ipv6.bindv6only=1 on this machine; the table assumes Debian's default 0")
	}
	tests := []struct {
		name string
		spec Spec
		want int
	}{
		{"default is the kernel's dual stack", Spec{Network: "tcp6"}, 0},
		{"v6only", Spec{Network: "tcp6", V6Only: true}, 1},
		{"v4v6", Spec{Network: "tcp6", V4V6: true}, 0},
		{"v6only wins over v4v6", Spec{Network: "tcp6", V6Only: true, V4V6: true}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fd, err := tcpSocket(&tt.spec, unix.AF_INET6, func(msg string, err error) { t.Errorf("%s: %v", msg, err) })
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			if v, err := unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY); err != nil || v != tt.want {
				t.Errorf("IPV6_V6ONLY = %d, %v; want %d", v, err, tt.want)
			}
		})
	}
}

// TestTransparentFallback: when IP_TRANSPARENT is refused (no
// CAP_NET_ADMIN; simulated by failing that one setsockopt), IP_FREEBIND is
// set instead, and by effect the socket binds an address this machine does
// not have.
func TestTransparentFallback(t *testing.T) {
	for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
		t.Run(strconv.Itoa(family), func(t *testing.T) {
			fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			var refused []int
			set := func(fd, level, opt, v int) error {
				if opt == unix.IP_TRANSPARENT || opt == unix.IPV6_TRANSPARENT {
					refused = append(refused, opt)
					return unix.EPERM
				}
				return unix.SetsockoptInt(fd, level, opt, v)
			}
			if err := makeForeign(fd, family, set); err != nil {
				t.Fatalf("makeForeign = %v; want nil", err)
			}
			if len(refused) != 1 {
				t.Errorf("transparent tried %d times; want 1", len(refused))
			}
			if v, _ := unix.GetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_FREEBIND); v != 1 {
				t.Errorf("IP_FREEBIND = %d; want 1", v)
			}
			var sa unix.Sockaddr = &unix.SockaddrInet4{Addr: [4]byte{192, 0, 2, 1}}
			if family == unix.AF_INET6 {
				sa = &unix.SockaddrInet6{Addr: [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}}
			}
			if err := unix.Bind(fd, sa); err != nil {
				t.Errorf("bind to a foreign address with IP_FREEBIND: %v", err)
			}
			if !isForeign(fd, family) {
				t.Errorf("isForeign = false; want true")
			}
		})
	}
}

// TestNolingerInherited: SO_LINGER {1,0} on the listener is inherited by
// the accepted socket (read back with getsockopt), and by effect closing it
// resets the client.
func TestNolingerInherited(t *testing.T) {
	l := mustBind(t, Spec{Network: "tcp4", Addr: "127.0.0.1:0", Nolinger: true})
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	sf, err := s.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	var lg *unix.Linger
	withFD(t, sf, func(fd int) { lg, err = unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER) })
	sf.Close()
	if err != nil || *lg != (unix.Linger{Onoff: 1}) {
		t.Errorf("accepted SO_LINGER = %+v, %v; want {1 0}", lg, err)
	}
	s.Close()
	_, err = c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("client read after server close = %v; want ECONNRESET", err)
	}
}

// TestKernelPauseFacts records what this kernel does with the two ways
// HAProxy takes a listener out of LISTEN state.
func TestKernelPauseFacts(t *testing.T) {
	tests := []struct {
		name  string
		pause func(t *testing.T, fd int)
	}{
		{"connect AF_UNSPEC (HAProxy 2.6.12)", func(t *testing.T, fd int) {
			if err := disconnect(fd); err != nil {
				t.Errorf("connect(AF_UNSPEC) on a listener = %v; want nil", err)
			}
		}},
		{"shutdown sequence (HAProxy 2.6.0)", func(t *testing.T, fd int) {
			if err := unix.Shutdown(fd, unix.SHUT_WR); err != nil {
				t.Errorf("shutdown(SHUT_WR) on a listener = %v; want nil", err)
			}
			if v, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); v != 1 {
				t.Errorf("after shutdown(SHUT_WR): SO_ACCEPTCONN = 0; want 1 (no-op on Linux)")
			}
			if err := unix.Listen(fd, 8); err != nil {
				t.Errorf("listen again = %v", err)
			}
			if err := unix.Shutdown(fd, unix.SHUT_RD); err != nil {
				t.Errorf("shutdown(SHUT_RD) on a listener = %v; want nil", err)
			}
		}},
	}
	for _, tt := range tests {
		for _, explicit := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s explicit port %v", tt.name, explicit), func(t *testing.T) {
				fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer unix.Close(fd)
				unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
				sa := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
				if explicit {
					ap := netip.MustParseAddrPort(freePort(t))
					sa.Port = int(ap.Port())
				}
				if err := unix.Bind(fd, sa); err != nil {
					t.Fatal(err)
				}
				if err := unix.Listen(fd, 8); err != nil {
					t.Fatal(err)
				}
				before, _ := unix.Getsockname(fd)
				port := before.(*unix.SockaddrInet4).Port
				acc := func() int { v, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); return v }

				tt.pause(t, fd)
				if acc() != 0 {
					t.Errorf("after pause: SO_ACCEPTCONN = 1; want 0")
				}
				if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); !errors.Is(err, syscall.ECONNREFUSED) {
					if c != nil {
						c.Close()
					}
					t.Errorf("dial while paused = %v; want ECONNREFUSED", err)
				}
				if err := unix.Listen(fd, 8); err != nil || acc() != 1 {
					t.Errorf("listen after pause = %v, SO_ACCEPTCONN = %d; want nil, 1", err, acc())
				}
				after, _ := unix.Getsockname(fd)
				kept := after.(*unix.SockaddrInet4).Port == port
				// An explicit port stays bound (SOCK_BINDPORT_LOCK); an
				// ephemeral one is released and listen() picks another,
				// which is why relisten binds the old address first.
				if kept != explicit {
					t.Errorf("port kept across pause = %v; want %v", kept, explicit)
				}
			})
		}
	}
}

// freePort returns 127.0.0.1:N for a port that was free a moment ago (bound
// with port 0, then closed), for the cases that need a port named in
// advance.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type acceptResult struct {
	c   net.Conn
	err error
}

func acceptAsync(l *Listener) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := l.Accept()
		ch <- acceptResult{c, err}
	}()
	return ch
}

// reuseAddrSocket binds a second socket to addr with SO_REUSEADDR only, as
// another process without SO_REUSEPORT would.
func reuseAddrSocket(t *testing.T, port int) (int, error) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// TestPauseSelf: a self-bound TCP listener leaves LISTEN state on Pause
// (connects refused, another socket can bind and serve the port) and an
// Accept blocked meanwhile returns the first connection after Resume, not
// an error.
//
// Production binds name their port, which the kernel keeps bound while the
// socket is disconnected; a port-0 bind loses its ephemeral port on pause
// and Resume binds it again. Both are covered.
func TestPauseSelf(t *testing.T) {
	tests := []struct {
		name     string
		origin   Origin
		explicit bool
	}{
		{"self explicit port", Self, true},
		{"self port 0", Self, false},
		{"handed explicit port", Handed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if tt.explicit {
				addr = freePort(t)
			}
			l := mustBind(t, Spec{Network: "tcp4", Addr: addr, NoReusePort: true})
			l.origin = tt.origin // a handed-over socket pauses like an own one
			port := portOf(t, l)
			addr = l.Addr().String()
			accepted := acceptAsync(l)

			if fd, err := reuseAddrSocket(t, port); !errors.Is(err, syscall.EADDRINUSE) {
				unix.Close(fd)
				t.Fatalf("second bind before pause = %v; want EADDRINUSE", err)
			}
			if err := l.Pause(); err != nil {
				t.Fatalf("Pause() = %v", err)
			}
			if !l.Paused() {
				t.Errorf("Paused() = false after Pause")
			}
			if v := sockopt(t, l.File(), unix.SOL_SOCKET, unix.SO_ACCEPTCONN); v != 0 {
				t.Errorf("paused SO_ACCEPTCONN = %d; want 0", v)
			}
			if c, err := net.Dial("tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
				if c != nil {
					c.Close()
				}
				t.Errorf("dial while paused = %v; want ECONNREFUSED", err)
			}

			// Another process takes the port while we are paused.
			fd2, err := reuseAddrSocket(t, port)
			if err != nil {
				t.Fatalf("second bind while paused = %v; want nil", err)
			}
			if err := unix.Listen(fd2, 8); err != nil {
				t.Fatalf("second listen while paused = %v", err)
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("dial the second socket: %v", err)
			}
			nfd, _, err := unix.Accept(fd2)
			if err != nil {
				t.Fatalf("accept on the second socket: %v", err)
			}
			unix.Close(nfd)
			c.Close()
			unix.Close(fd2)

			select {
			case r := <-accepted:
				t.Fatalf("Accept returned during pause: %v, %v", r.c, r.err)
			default:
			}
			if err := l.Resume(); err != nil {
				t.Fatalf("Resume() = %v", err)
			}
			if v := sockopt(t, l.File(), unix.SOL_SOCKET, unix.SO_ACCEPTCONN); v != 1 {
				t.Errorf("resumed SO_ACCEPTCONN = %d; want 1", v)
			}
			c, err = net.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("dial after resume: %v", err)
			}
			defer c.Close()
			r := <-accepted
			if r.err != nil {
				t.Fatalf("Accept across pause = %v; want the connection", r.err)
			}
			if r.c.RemoteAddr().String() != c.LocalAddr().String() {
				t.Errorf("accepted %v; want %v", r.c.RemoteAddr(), c.LocalAddr())
			}
			r.c.Close()
		})
	}
}

// TestPauseResumeTaken: Resume reports a port taken during the pause and
// stays paused; it succeeds once the port is free again.
func TestPauseResumeTaken(t *testing.T) {
	for _, explicit := range []bool{true, false} {
		t.Run(fmt.Sprintf("explicit port %v", explicit), func(t *testing.T) {
			addr := "127.0.0.1:0"
			if explicit {
				addr = freePort(t)
			}
			testPauseResumeTaken(t, addr)
		})
	}
}

func testPauseResumeTaken(t *testing.T, addr string) {
	l := mustBind(t, Spec{Network: "tcp4", Addr: addr, NoReusePort: true})
	if err := l.Pause(); err != nil {
		t.Fatal(err)
	}
	fd2, err := reuseAddrSocket(t, portOf(t, l))
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd2, 8); err != nil {
		t.Fatal(err)
	}
	if err := l.Resume(); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("Resume() with the port taken = %v; want EADDRINUSE", err)
	}
	if !l.Paused() {
		t.Errorf("Paused() = false after a failed Resume")
	}
	unix.Close(fd2)
	if err := l.Resume(); err != nil {
		t.Errorf("Resume() = %v", err)
	}
}

// listeningSocket makes a listening socket the way systemd would and
// returns it with a duplicate that stands for PID 1's copy.
func listeningSocket(t *testing.T) (f *os.File, held int, port int) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 16); err != nil {
		t.Fatal(err)
	}
	held, err = unix.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(held) })
	sa, _ := unix.Getsockname(fd)
	return os.NewFile(uintptr(fd), "activated"), held, sa.(*unix.SockaddrInet4).Port
}

// TestPauseShared: activated, stored and inherited sockets stay in LISTEN
// state while paused (connections queue), an Accept blocked meanwhile
// returns the queued connection after Resume, and Close never shuts the
// shared socket down.
func TestPauseShared(t *testing.T) {
	for _, origin := range []Origin{Activated, Stored, Inherited} {
		t.Run(origin.String(), func(t *testing.T) {
			f, held, port := listeningSocket(t)
			l, err := FromFile(f, origin)
			if err != nil {
				t.Fatalf("FromFile = %v", err)
			}
			defer l.Close()
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			if l.Addr().String() != addr {
				t.Errorf("Addr() = %v; want %v", l.Addr(), addr)
			}
			accepted := acceptAsync(l)
			if err := l.Pause(); err != nil {
				t.Fatalf("Pause() = %v", err)
			}
			if v := sockopt(t, l.File(), unix.SOL_SOCKET, unix.SO_ACCEPTCONN); v != 1 {
				t.Errorf("paused SO_ACCEPTCONN = %d; want 1", v)
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("dial while paused = %v; want a queued connection", err)
			}
			defer c.Close()
			if _, err := c.Write([]byte("q")); err != nil {
				t.Fatal(err)
			}
			// Nothing signals "Accept did not happen"; give it a moment.
			select {
			case r := <-accepted:
				t.Fatalf("Accept returned during pause: %v, %v", r.c, r.err)
			case <-time.After(100 * time.Millisecond):
			}
			if err := l.Resume(); err != nil {
				t.Fatalf("Resume() = %v", err)
			}
			r := <-accepted
			if r.err != nil {
				t.Fatalf("Accept across pause = %v", r.err)
			}
			b := make([]byte, 1)
			if _, err := io.ReadFull(r.c, b); err != nil || b[0] != 'q' {
				t.Errorf("read queued connection = %q, %v; want \"q\"", b, err)
			}
			r.c.Close()

			// Close while paused: the blocked Accept returns ErrClosed and
			// PID 1's copy still listens.
			if err := l.Pause(); err != nil {
				t.Fatal(err)
			}
			accepted = acceptAsync(l)
			if err := l.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			if r := <-accepted; !errors.Is(r.err, net.ErrClosed) {
				t.Errorf("Accept after Close = %v; want net.ErrClosed", r.err)
			}
			if v, _ := unix.GetsockoptInt(held, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); v != 1 {
				t.Errorf("shared copy SO_ACCEPTCONN after Close = %d; want 1", v)
			}
			c2, err := net.Dial("tcp", addr)
			if err != nil {
				t.Errorf("dial the shared socket after Close: %v", err)
			} else {
				c2.Close()
			}
		})
	}
}

// TestCloseWakesAccept: Close makes a blocked Accept return net.ErrClosed.
func TestCloseWakesAccept(t *testing.T) {
	l := mustBind(t, Spec{Network: "tcp4", Addr: "127.0.0.1:0"})
	accepted := acceptAsync(l)
	l.Close()
	if r := <-accepted; !errors.Is(r.err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v; want net.ErrClosed", r.err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept on a closed listener = %v; want net.ErrClosed", err)
	}
	if err := l.Pause(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Pause on a closed listener = %v; want net.ErrClosed", err)
	}
}

// TestUnixAtomicReplace: rebinding a unix path swaps the socket with
// rename(); a concurrent lstat loop never sees the path missing, the
// replaced listener's Close does not unlink the new socket, and the
// ownership and mode are applied.
func TestUnixAtomicReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "admin.sock")
	spec := Spec{Network: "unix", Addr: path, Mode: 0o600, UID: 1234, GID: 5678}
	l, err := Bind(spec)
	if err != nil {
		t.Fatalf("Bind = %v", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK || st.Mode&0o777 != 0o600 || st.Uid != 1234 || st.Gid != 5678 {
		t.Errorf("socket file mode %o uid %d gid %d; want socket 600 1234 5678", st.Mode, st.Uid, st.Gid)
	}
	if l.Addr().String() != path {
		t.Errorf("Addr() = %v; want %v", l.Addr(), path)
	}

	var stop atomic.Bool
	var missing, stats atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var st unix.Stat_t
		for !stop.Load() {
			if err := unix.Lstat(path, &st); err != nil {
				missing.Add(1)
			}
			stats.Add(1)
		}
	}()
	for i := 0; i < 50; i++ {
		l2, err := Bind(Spec{Network: "unix", Addr: path, UID: -1, GID: -1})
		if err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("rebind %d: %v", i, err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		l = l2
	}
	stop.Store(true)
	wg.Wait()
	defer l.Close()
	if missing.Load() != 0 {
		t.Errorf("path missing in %d of %d lstat calls during replacement", missing.Load(), stats.Load())
	}
	if err := unix.Lstat(path, &st); err != nil || st.Ino != l.unixIno {
		t.Fatalf("path inode %d, %v; want the last listener's %d", st.Ino, err, l.unixIno)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	s.Close()
	c.Close()
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %q; want only admin.sock (no .tmp/.bak left)", names)
	}

	// Exported: Close keeps the path for the successor.
	l.Export()
	l.Close()
	if err := unix.Lstat(path, &st); err != nil {
		t.Errorf("exported socket path after Close: %v; want kept", err)
	}
	l3 := mustBind(t, Spec{Network: "unix", Addr: path, UID: -1, GID: -1})
	l3.Close()
	if err := unix.Lstat(path, &st); !errors.Is(err, unix.ENOENT) {
		t.Errorf("own socket path after Close: %v; want removed", err)
	}
}

// TestAbns: an abns socket is bound with the full sun_path length, so a
// peer must use the same padded address (as HAProxy does).
func TestAbns(t *testing.T) {
	name := fmt.Sprintf("lb-listener-test-%d", os.Getpid())
	l := mustBind(t, Spec{Network: "abns", Addr: name})
	withFD(t, l.File(), func(fd int) {
		_, n, err := rawSockname(fd)
		if err != nil || n != int(unsafe.Sizeof(unix.RawSockaddrUnix{})) {
			t.Errorf("getsockname length = %d, %v; want %d", n, err, unsafe.Sizeof(unix.RawSockaddrUnix{}))
		}
	})
	if got := l.Addr().String(); got != "@"+name {
		t.Errorf("Addr() = %q; want %q", got, "@"+name)
	}
	// A short abstract address is another name.
	if c, err := net.Dial("unix", "@"+name); err == nil {
		c.Close()
		t.Errorf("dial the unpadded name succeeded; want refused")
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	rsa, _ := abnsSockaddr(name)
	if _, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), unsafe.Sizeof(rsa)); e != 0 {
		t.Fatalf("connect to the padded name: %v", e)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestStripTmp(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/run/lb/admin.sock", "/run/lb/admin.sock"},
		{"/run/lb/admin.sock.1234.tmp", "/run/lb/admin.sock"},
		{"/run/lb/admin.sock.tmp", "/run/lb/admin.sock.tmp"},
		{"/run/lb/admin.sock.12a.tmp", "/run/lb/admin.sock.12a.tmp"},
		{"/run/lb/admin.sock..tmp", "/run/lb/admin.sock..tmp"},
	}
	for _, tt := range tests {
		if got := stripTmp(tt.in); got != tt.want {
			t.Errorf("stripTmp(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestMatch pairs specs with real sockets by what the sockets report.
func TestMatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.sock")
	abns := fmt.Sprintf("lb-match-%d", os.Getpid())
	plain := mustBind(t, Spec{Network: "tcp4", Addr: "127.0.0.1:0"})
	port := portOf(t, plain)
	// A UDP socket on the same port comes first: SO_TYPE must rule it out.
	udp, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	udpf, err := udp.(*net.UDPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer udpf.Close()
	transp := mustBind(t, Spec{Network: "tcp4", Addr: "127.0.0.1:0", Transparent: true})
	iface := mustBind(t, Spec{Network: "tcp4", Addr: "127.0.0.1:0", Interface: "lo"})
	v6only := mustBind(t, Spec{Network: "tcp6", Addr: "[::1]:0", V6Only: true})
	v4v6 := mustBind(t, Spec{Network: "tcp6", Addr: "[::1]:0", V4V6: true})
	ux := mustBind(t, Spec{Network: "unix", Addr: path, UID: -1, GID: -1})
	ab := mustBind(t, Spec{Network: "abns", Addr: abns})
	cands := []*os.File{udpf, plain.File(), transp.File(), iface.File(), v6only.File(), v4v6.File(), ux.File(), ab.File()}
	p := func(l *Listener) string { return strconv.Itoa(portOf(t, l)) }
	// A v6 candidate may have got the v4 plain socket's port (the families' ports are
	// apart): then it, not the v4 socket, is what a tcp6 spec of that port matches.
	v6ForPlain := -1
	switch p(plain) {
	case p(v6only):
		v6ForPlain = 4
	case p(v4v6):
		v6ForPlain = 5
	}

	tests := []struct {
		name string
		spec Spec
		want int
	}{
		{"plain", Spec{Network: "tcp4", Addr: "127.0.0.1:" + p(plain)}, 1},
		{"plain wanted transparent", Spec{Network: "tcp4", Addr: "127.0.0.1:" + p(plain), Transparent: true}, -1},
		{"plain wanted interface", Spec{Network: "tcp4", Addr: "127.0.0.1:" + p(plain), Interface: "lo"}, -1},
		{"other address", Spec{Network: "tcp4", Addr: "127.0.0.2:" + p(plain)}, -1},
		{"tcp6 for a v4 socket", Spec{Network: "tcp6", Addr: "[::1]:" + p(plain)}, v6ForPlain},
		{"transparent", Spec{Network: "tcp4", Addr: "127.0.0.1:" + p(transp), Transparent: true}, 2},
		{"transparent not wanted", Spec{Network: "tcp4", Addr: "127.0.0.1:" + p(transp)}, -1},
		{"interface", Spec{Network: "tcp4", Addr: "127.0.0.1:" + p(iface), Interface: "lo"}, 3},
		{"interface not wanted", Spec{Network: "tcp4", Addr: "127.0.0.1:" + p(iface)}, -1},
		{"v6only", Spec{Network: "tcp6", Addr: "[::1]:" + p(v6only), V6Only: true}, 4},
		{"v6only wins", Spec{Network: "tcp6", Addr: "[::1]:" + p(v6only), V6Only: true, V4V6: true}, 4},
		// On ::1 the kernel forces IPV6_V6ONLY, so it is not compared.
		{"v6only on ::1, default wanted", Spec{Network: "tcp6", Addr: "[::1]:" + p(v6only)}, 4},
		{"v4v6", Spec{Network: "tcp6", Addr: "[::1]:" + p(v4v6), V4V6: true}, 5},
		{"v4v6 on ::1, v6only wanted", Spec{Network: "tcp6", Addr: "[::1]:" + p(v4v6), V6Only: true}, 5},
		{"unix path (socket reports .PID.tmp)", Spec{Network: "unix", Addr: path}, 6},
		{"other unix path", Spec{Network: "unix", Addr: path + "2"}, -1},
		{"abns", Spec{Network: "abns", Addr: abns}, 7},
		{"other abns", Spec{Network: "abns", Addr: abns + "x"}, -1},
		{"port 0", Spec{Network: "tcp4", Addr: "127.0.0.1:0"}, -1},
		{"bad network", Spec{Network: "udp", Addr: "127.0.0.1:" + p(plain)}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Match(tt.spec, cands); got != tt.want {
				t.Errorf("Match(%+v) = %d; want %d", tt.spec, got, tt.want)
			}
		})
	}
}

// TestCompatibleV6Only covers the IPV6_V6ONLY rule for "::", which the
// tests cannot bind (it would listen beyond loopback).
func TestCompatibleV6Only(t *testing.T) {
	any6 := netip.MustParseAddrPort("[::]:80")
	lo6 := netip.MustParseAddrPort("[::1]:80")
	tests := []struct {
		name      string
		at        netip.AddrPort
		want, got bool
		match     bool
	}{
		{":: v6only wanted and set", any6, true, true, true},
		{":: dual stack wanted and set", any6, false, false, true},
		{":: v6only wanted, dual stack socket", any6, true, false, false},
		{":: dual stack wanted, v6only socket", any6, false, true, false},
		{"::1 dual stack wanted, kernel-forced v6only", lo6, false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := sockInfo{family: unix.AF_INET6, inet: tt.at, v6only: tt.want}
			g := sockInfo{family: unix.AF_INET6, inet: tt.at, v6only: tt.got}
			if m := compatible(w, g); m != tt.match {
				t.Errorf("compatible(v6only want %v, got %v at %v) = %v; want %v", tt.want, tt.got, tt.at, m, tt.match)
			}
		})
	}
}

// TestFromFD adopts a descriptor number as fd@N does, calling listen() on
// a socket that was only bound, and Adopt applies the bind line's options.
func TestFromFD(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	l, err := FromFD(fd, Spec{Network: "tcp4", Backlog: 33, Nolinger: true, DeferAccept: true})
	if err != nil {
		t.Fatalf("FromFD(%d) = %v", fd, err)
	}
	defer l.Close()
	if l.Origin() != Inherited {
		t.Errorf("Origin() = %v; want inherited", l.Origin())
	}
	withFD(t, l.File(), func(fd int) {
		ti, _ := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		if ti == nil || ti.Sacked != 33 {
			t.Errorf("backlog = %v; want 33", ti)
		}
		if lg, _ := unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER); lg == nil || lg.Onoff != 1 {
			t.Errorf("SO_LINGER = %v; want on", lg)
		}
		if v, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT); v == 0 {
			t.Errorf("TCP_DEFER_ACCEPT = 0; want set")
		}
		if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); fl&unix.O_NONBLOCK == 0 {
			t.Errorf("O_NONBLOCK not set on the adopted socket")
		}
	})
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	// A transferred socket from a configuration that had the options,
	// claimed by a bind line that no longer does: they are reset.
	f := l.File()
	var dupfd int
	withFD(t, f, func(fd int) { dupfd, _ = unix.Dup(fd) })
	l2, err := Adopt(os.NewFile(uintptr(dupfd), "stored"), Stored, Spec{Network: "tcp4"})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	withFD(t, l2.File(), func(fd int) {
		if lg, _ := unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER); lg == nil || lg.Onoff != 0 {
			t.Errorf("SO_LINGER = %v; want reset", lg)
		}
		if v, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT); v != 0 {
			t.Errorf("TCP_DEFER_ACCEPT = %d; want reset", v)
		}
	})
}

func TestFromFileRejectsDatagram(t *testing.T) {
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	f, err := udp.(*net.UDPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	if l, err := FromFile(f, Activated); !errors.Is(err, errNotStream) {
		if l != nil {
			l.Close()
		}
		t.Errorf("FromFile(udp) = %v; want errNotStream", err)
	}
}

// TestPauseUnix: a unix listener only stops accepting (the path keeps
// listening and connections queue); the blocked Accept gets the queued
// connection after Resume.
func TestPauseUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	l := mustBind(t, Spec{Network: "unix", Addr: path, UID: -1, GID: -1})
	accepted := acceptAsync(l)
	if err := l.Pause(); err != nil {
		t.Fatalf("Pause() = %v", err)
	}
	if v := sockopt(t, l.File(), unix.SOL_SOCKET, unix.SO_ACCEPTCONN); v != 1 {
		t.Errorf("paused SO_ACCEPTCONN = %d; want 1", v)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial while paused = %v; want a queued connection", err)
	}
	defer c.Close()
	// Nothing signals "Accept did not happen"; give it a moment.
	select {
	case r := <-accepted:
		t.Fatalf("Accept returned during pause: %v, %v", r.c, r.err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := l.Resume(); err != nil {
		t.Fatalf("Resume() = %v", err)
	}
	r := <-accepted
	if r.err != nil {
		t.Fatalf("Accept across pause = %v", r.err)
	}
	r.c.Close()
}

// TestBindErrors: the lead's bind retry relies on errors.Is(err,
// syscall.EADDRINUSE); bad specs fail without touching the file system.
func TestBindErrors(t *testing.T) {
	taken := mustBind(t, Spec{Network: "tcp4", Addr: "127.0.0.1:0", NoReusePort: true})
	long := filepath.Join(t.TempDir(), strings.Repeat("x", 100))
	tests := []struct {
		name string
		spec Spec
		is   error // nil: any error
	}{
		{"port in use", Spec{Network: "tcp4", Addr: taken.Addr().String(), NoReusePort: true}, syscall.EADDRINUSE},
		{"port in use, reuseport only on our side", Spec{Network: "tcp4", Addr: taken.Addr().String()}, syscall.EADDRINUSE},
		{"unknown network", Spec{Network: "udp4", Addr: "127.0.0.1:0"}, nil},
		{"host name", Spec{Network: "tcp4", Addr: "localhost:0"}, nil},
		{"v6 address for tcp4", Spec{Network: "tcp4", Addr: "[::1]:0"}, errFamily},
		{"v4 address for tcp6", Spec{Network: "tcp6", Addr: "127.0.0.1:0"}, errFamily},
		{"bad port", Spec{Network: "tcp4", Addr: "127.0.0.1:http"}, nil},
		{"unix path too long", Spec{Network: "unix", Addr: long, UID: -1, GID: -1}, nil},
		{"abns name too long", Spec{Network: "abns", Addr: strings.Repeat("x", 108)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Bind(tt.spec)
			if err == nil {
				l.Close()
				t.Fatalf("Bind(%+v) = nil error; want one", tt.spec)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Bind(%+v) = %v; want errors.Is %v", tt.spec, err, tt.is)
			}
		})
	}
}
