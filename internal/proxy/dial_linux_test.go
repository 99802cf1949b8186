package proxy

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestDialTCP: dialTCP's connection behaves as a *net.TCPConn where lb uses one: its
// addresses (asked per request of a kept connection, so made once), reads and writes,
// CloseWrite's FIN, deadlines; a refused connect and one that times out fail as net's do.
func TestDialTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	c, err := dialTCP(ap, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if got := addrPort(c.RemoteAddr()); got != ap {
		t.Errorf("RemoteAddr %v; want %v", got, ap)
	}
	if got, want := addrPort(c.LocalAddr()), addrPort(peer.RemoteAddr()); got != want {
		t.Errorf("LocalAddr %v; want %v", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = addrPort(c.LocalAddr()), addrPort(c.RemoteAddr()) }); n != 0 {
		t.Errorf("the addresses: %v allocations per call", n)
	}
	if rawConnOf(c) == nil || !isTCP(c) {
		t.Error("the fast reads and writes and splice do not take the connection as TCP")
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(peer, b); err != nil || string(b) != "ping" {
		t.Fatalf("peer read %q, %v", b, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Read(b); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past the deadline: %v; want os.ErrDeadlineExceeded", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Read(b); err != io.EOF {
		t.Errorf("peer read after CloseWrite: %v; want EOF", err)
	}
	_, _ = peer.Write([]byte("pong"))
	peer.Close()
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "pong" {
		t.Errorf("read %q, %v", b, err)
	}
	if _, err := c.Read(b); err != io.EOF {
		t.Errorf("read after the peer closed: %v; want EOF", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(b); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Close: %v; want net.ErrClosed", err)
	}

	// Refused: the port of a socket bound and not listening.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	refused := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sa.(*syscall.SockaddrInet4).Port))
	if _, err := dialTCP(refused, time.Second, nil); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial to a closed port: %v; want ECONNREFUSED", err)
	}

	// Timed out: a listener with a backlog of 0 whose one slot is taken drops the SYNs.
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	filler, err := net.DialTimeout("tcp", refused.String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer filler.Close()
	start := time.Now()
	_, err = dialTCP(refused, 200*time.Millisecond, nil)
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("dial to a full listener: %v; want a timeout", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("dial timed out after %v; want about 200ms", d)
	}
}
