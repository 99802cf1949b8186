package lbtest

import (
	"testing"

	"golang.org/x/sys/unix"
)

// ReservePort returns a TCP port on 127.0.0.1 that stays reserved for the
// whole test: a socket with SO_REUSEADDR is bound to it and never listens.
//
// A port read from a closed ":0" listener can be handed to a parallel test
// (as its own ":0" listener, or as the local port of an outgoing connection)
// before the process under test binds it. The reservation prevents both: the
// kernel skips bound ports when it picks an ephemeral one, for bind and for
// connect alike. The process under test can still bind and listen there,
// because Linux lets two SO_REUSEADDR sockets share a port while at most one
// of them listens (lb and haproxy both set SO_REUSEADDR on listeners, as does
// Go's net.Listen).
func ReservePort(t testing.TB) int {
	t.Helper()
	return bindPort(t, true)
}

// RefusingPort returns a TCP port on 127.0.0.1 where connections are refused
// for the whole test: a socket is bound to it without listening and without
// SO_REUSEADDR, so that nothing else can listen there meanwhile, not even a
// parallel test that read the same number from a closed ":0" listener before
// (its bind fails).
func RefusingPort(t testing.TB) int {
	t.Helper()
	return bindPort(t, false)
}

// bindPort binds a socket to a port of 127.0.0.1 the kernel picks, with
// SO_REUSEADDR when reuse, closed at the end of the test, and returns the port.
func bindPort(t testing.TB, reuse bool) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if reuse {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return sa.(*unix.SockaddrInet4).Port
}
