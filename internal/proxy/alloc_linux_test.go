package proxy

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestPeekAndBuffersAllocateNothing: what every keep-alive request does twice, peeking at
// a socket and taking then giving back a small buffer, allocates nothing (each allocation
// there showed as a collection cycle every few thousand requests).
func TestPeekAndBuffersAllocateNothing(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if !idleFD(fds[0]) {
		t.Fatal("idleFD: an empty socket is not idle")
	}
	if n := testing.AllocsPerRun(100, func() { idleFD(fds[0]) }); n != 0 {
		t.Errorf("idleFD: %v allocations per call", n)
	}
	if n := testing.AllocsPerRun(100, func() { putSized(getSmall()) }); n != 0 {
		t.Errorf("getSmall and putSized: %v allocations per round", n)
	}
	if _, err := unix.Write(fds[1], []byte("x")); err != nil {
		t.Fatal(err)
	}
	if idleFD(fds[0]) {
		t.Error("idleFD: a socket with data to read is idle")
	}
}
