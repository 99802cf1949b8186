package loopback

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listenFile returns a listening TCP socket on 127.0.0.1 as a file to pass to lb, and its port.
func listenFile(t *testing.T) (*os.File, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // f is a dup: the socket stays open and listening
	t.Cleanup(func() { f.Close() })
	return f, ln.Addr().(*net.TCPAddr).Port
}

// TestSocketActivation starts the real binary as systemd would: sockets as fds 3… with
// LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES. A socket named like a bind line's `name` is used
// for it even at another address, a stored one (lb's fd store name) is matched by address,
// and one no bind line claims is warned about (issue 5).
func TestSocketActivation(t *testing.T) {
	s := startNameServer(t, "s1")
	web, webPort := listenFile(t)
	stored, storedPort := listenFile(t)
	stray, strayPort := listenFile(t)
	namedPort := freePort(t) // the bind line's own address: the named socket wins
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen web
    bind 127.0.0.1:%d name web
    server s1 %s
listen other
    bind 127.0.0.1:%d
    server s1 %s
`, namedPort, s.addr(), storedPort, s.addr()))
	n := newNotifySocket(t)
	// LISTEN_PID must be lb's own pid: a shell sets it, then becomes lb.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" -db -f "$1"`, lbBinary(t), cfg)
	cmd.ExtraFiles = []*os.File{web, stored, stray}
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+n.path, "LISTEN_FDS=3",
		"LISTEN_FDNAMES=web:lbstored-tcp4-127.0.0.1_"+fmt.Sprint(storedPort)+":leftover")
	p := startCmd(t, cmd)
	out := p.out
	defer func() { cmd.Process.Signal(syscall.SIGTERM); p.wait(5 * time.Second) }()
	n.waitFor(t, "READY=1", 10*time.Second)

	for _, port := range []int{webPort, storedPort} {
		if name, err := askName(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || name != "s1" {
			t.Errorf("through the passed socket on port %d: %q, %v\n%s", port, name, err, out.String())
		}
	}
	if _, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", namedPort), time.Second); err == nil {
		t.Errorf("lb bound the bind line's own address %d although systemd passed a socket named web", namedPort)
	}
	if !strings.Contains(out.String(), "claimed by no bind line") || !strings.Contains(out.String(), fmt.Sprint(strayPort)) {
		t.Errorf("no warning about the unclaimed socket on port %d:\n%s", strayPort, out.String())
	}
	// The stray socket was closed by lb, but the test still holds its copy: it listens.
	_ = stray
}
