package health

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestConnectOnlyCheckNeverAccepted: a check that only connects resets the connection
// before acknowledging the server's SYN-ACK, as HAProxy's, so that the server never
// accepts it (no log line, no TIME_WAIT there); a check whose server speaks first (an
// agent without agent-send) acknowledges at once, and the server accepts it.
func TestConnectOnlyCheckNeverAccepted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tl := ln.(*net.TCPListener)
	// acceptNow accepts what the listener's queue holds, without waiting: the
	// listening socket is non-blocking.
	acceptNow := func() error {
		rc, err := tl.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var aerr error
		if err := rc.Control(func(fd uintptr) {
			nfd, _, err := unix.Accept4(int(fd), unix.SOCK_CLOEXEC)
			if err == nil {
				unix.Close(nfd)
			}
			aerr = err
		}); err != nil {
			t.Fatal(err)
		}
		return aerr
	}
	r := Probe(context.Background(), Config{Addr: ln.Addr().String(), Inter: 5 * time.Second})
	if r.Status != StatusL4OK {
		t.Fatalf("check: %v %s", r.Status, r.Info)
	}
	// The reset went inline on loopback: the queue holds nothing.
	if err := acceptNow(); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("the server accepted the check's connection (accept: %v)", err)
	}

	// An agent speaks first: its connection is acknowledged and accepted.
	got := make(chan error, 1)
	go func() {
		_ = tl.SetDeadline(time.Now().Add(5 * time.Second))
		c, err := tl.Accept()
		if err == nil {
			_, err = c.Write([]byte("up\n"))
			c.Close()
		}
		got <- err
	}()
	line, r, ok := agentProbe(context.Background(), Config{Inter: 5 * time.Second, Agent: &Agent{Addr: ln.Addr().String(), Inter: 5 * time.Second}})
	if !ok || line != "up" {
		t.Fatalf("agent: %q %v %s", line, r.Status, r.Info)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}
