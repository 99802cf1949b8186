package listener

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDetachLeavesRuntimePoller: a Listener's file is out of the runtime poller's set from
// the start and its ln in it until Detach; after Detach, Accept fails, a connection is
// accepted from File() by a poller of the caller's own, and Close still works.
func TestDetachLeavesRuntimePoller(t *testing.T) {
	l := mustBind(t, Spec{Network: "tcp4", Addr: "127.0.0.1:0"})
	defer l.Close()
	var fileFD, lnFD int
	if err := control(l.file, func(fd int) error { fileFD = fd; return nil }); err != nil {
		t.Fatal(err)
	}
	rc, err := l.ln.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Control(func(fd uintptr) { lnFD = int(fd) }); err != nil {
		t.Fatal(err)
	}
	ep, err := runtimeEpoll(lnFD)
	if err != nil {
		t.Fatalf("runtime poller: %v", err)
	}
	watched := func(fd int) bool {
		info, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(ep))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(info), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "tfd:" && f[1] == strconv.Itoa(fd) {
				return true
			}
		}
		return false
	}
	if watched(fileFD) {
		t.Errorf("file (fd %d) is in the runtime poller's set", fileFD)
	}
	if !watched(lnFD) {
		t.Fatalf("ln (fd %d) is not in the runtime poller's set (epoll fd %d)", lnFD, ep)
	}

	if err := l.Detach(); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	if watched(lnFD) {
		t.Errorf("ln (fd %d) is still in the runtime poller's set after Detach", lnFD)
	}
	if _, err := l.Accept(); !errors.Is(err, errDetached) {
		t.Errorf("Accept after Detach = %v; want errDetached", err)
	}

	// A poller of the caller's own sees the connection and accepts it.
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	own, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(own)
	if err := unix.EpollCtl(own, unix.EPOLL_CTL_ADD, fileFD, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fileFD)}); err != nil {
		t.Fatal(err)
	}
	ev := make([]unix.EpollEvent, 1)
	if n, err := unix.EpollWait(own, ev, 5000); n != 1 || err != nil {
		t.Fatalf("epoll_wait on the detached socket = %d, %v; want its connection", n, err)
	}
	nfd, _, err := unix.Accept4(fileFD, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
	if err != nil {
		t.Fatalf("accept4 on the detached socket: %v", err)
	}
	unix.Close(nfd)

	if err := l.Close(); err != nil {
		t.Errorf("Close after Detach: %v", err)
	}
	if err := l.Detach(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Detach after Close = %v; want net.ErrClosed", err)
	}
}
