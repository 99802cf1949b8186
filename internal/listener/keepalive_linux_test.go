package listener

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// TestAcceptWithoutKeepAlive: a TCP listener hands out connections with TCP keep-alive off,
// as HAProxy's, without a system call per connection to turn it off (the standard
// library's listener is told not to turn it on). This test failing after a Go upgrade
// means the listener's layout changed: the frontends then turn keep-alive off themselves,
// at five system calls per connection.
func TestAcceptWithoutKeepAlive(t *testing.T) {
	l := mustBind(t, Spec{Network: "tcp4", Addr: "127.0.0.1:0"})
	if !l.NoKeepAlive() {
		t.Fatal("NoKeepAlive() = false: the listener accepts with Go's default keep-alive")
	}
	cli, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ka int
	var gerr error
	if err := rc.Control(func(fd uintptr) { ka, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE) }); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	if ka != 0 {
		t.Errorf("SO_KEEPALIVE = %d on an accepted connection; want 0", ka)
	}
}
