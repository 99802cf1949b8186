package listener

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// unixPair returns the two ends of a connected unix stream socketpair.
func unixPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "pair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

func closeAll(socks []Exported) {
	for _, s := range socks {
		if s.File != nil {
			s.File.Close()
		}
	}
}

// TestHandoverRoundTrip hands 300 listeners (two batches, one ack) from an
// lb side to an lb side and checks that the same sockets (inodes) arrive in
// order with their names, and that a received one serves after Adopt.
func TestHandoverRoundTrip(t *testing.T) {
	const n = 300
	var ls []*Listener
	var exp []Exported
	for i := 0; i < n; i++ {
		spec := Spec{Network: "tcp4", Addr: "127.0.0.1:0"}
		if i%7 == 0 {
			spec.Interface = "lo"
		}
		l := mustBind(t, spec)
		ls = append(ls, l)
		e := l.Export()
		if i%11 == 0 {
			e.Namespace = "ns" + strconv.Itoa(i)
		}
		exp = append(exp, e)
	}
	oldSide, newSide := unixPair(t)
	served := make(chan error, 1)
	go func() {
		cmd := make([]byte, len(GetSocksCommand))
		if _, err := oldSide.Read(cmd); err != nil || string(cmd) != GetSocksCommand {
			served <- fmt.Errorf("read command %q: %v", cmd, err)
			return
		}
		served <- ServeGetSocks(oldSide, exp)
	}()
	got, err := FetchSocketsConn(newSide)
	if err != nil {
		t.Fatalf("FetchSocketsConn = %v", err)
	}
	defer closeAll(got)
	if err := <-served; err != nil {
		t.Fatalf("ServeGetSocks = %v", err)
	}
	if len(got) != n {
		t.Fatalf("received %d sockets; want %d", len(got), n)
	}
	for i := range got {
		if g, w := inode(t, got[i].File), inode(t, ls[i].File()); g != w {
			t.Errorf("socket %d: inode %d; want %d", i, g, w)
		}
		if got[i].Interface != exp[i].Interface || got[i].Namespace != exp[i].Namespace {
			t.Errorf("socket %d: names %q/%q; want %q/%q", i, got[i].Namespace, got[i].Interface, exp[i].Namespace, exp[i].Interface)
		}
		if fl, _ := unix.FcntlInt(uintptr(sockFD(t, got[i].File)), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC == 0 {
			t.Errorf("socket %d: received without FD_CLOEXEC", i)
		}
	}

	// The new side claims one by its bind line and serves on it.
	spec := Spec{Network: "tcp4", Addr: ls[1].Addr().String()}
	files := make([]*os.File, len(got))
	for i := range got {
		files[i] = got[i].File
	}
	i := Match(spec, files)
	if i != 1 {
		t.Fatalf("Match(%v) = %d; want 1", spec.Addr, i)
	}
	l, err := Adopt(got[i].File, Handed, spec)
	got[i].File = nil // owned (and already closed) by Adopt
	if err != nil {
		t.Fatalf("Adopt = %v", err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", spec.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept on the handed socket: %v", err)
	}
	s.Close()
}

func sockFD(t *testing.T, f *os.File) int {
	var n int
	withFD(t, f, func(fd int) { n = fd })
	return n
}

// TestHandoverEmpty: lb sends a count of 0 when it has nothing; an old
// process that closes without a count is an error (HAProxy without
// expose-fd listeners does that).
func TestHandoverEmpty(t *testing.T) {
	t.Run("count 0", func(t *testing.T) {
		a, b := unixPair(t)
		go func() {
			buf := make([]byte, len(GetSocksCommand))
			a.Read(buf)
			ServeGetSocks(a, nil)
		}()
		got, err := FetchSocketsConn(b)
		if err != nil || len(got) != 0 {
			t.Errorf("FetchSocketsConn = %d sockets, %v; want 0, nil", len(got), err)
		}
	})
	t.Run("refused in words", func(t *testing.T) {
		// A socket without "expose-fd listeners" answers in words and closes: the
		// words are no count, and no panic follows (lb did, on a reload under systemd).
		for _, reply := range []string{"Permission denied\n\n", "Perm", "\x05\x00\x00\x00junk"} {
			a, b := unixPair(t)
			go func() {
				buf := make([]byte, len(GetSocksCommand))
				a.Read(buf)
				io.WriteString(a, reply)
				a.Close()
			}()
			if got, err := FetchSocketsConn(b); err == nil {
				t.Errorf("%q: FetchSocketsConn = %d sockets, nil; want an error", reply, len(got))
			}
		}
	})
	t.Run("no answer", func(t *testing.T) {
		a, b := unixPair(t)
		go func() {
			buf := make([]byte, len(GetSocksCommand))
			a.Read(buf)
			a.Close()
		}()
		if _, err := FetchSocketsConn(b); !errors.Is(err, errNoSockets) {
			t.Errorf("FetchSocketsConn = %v; want errNoSockets", err)
		}
	})
}

// haproxyBin returns the HAProxy 2.6 binary the interop tests run.
func haproxyBin(t *testing.T) string {
	t.Helper()
	const bin = "/usr/sbin/haproxy"
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("%s not installed: %v", bin, err)
	}
	return bin
}

// startHAProxy runs haproxy -db with cfg and stops it (by its pid) at the
// end of the test. It returns once path accepts connections.
func startHAProxy(t *testing.T, cfg string, ready string, args ...string) *exec.Cmd {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(haproxyBin(t), append([]string{"-db", "-f", cfgPath}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("haproxy output:\n%s", out.String())
		}
	})
	// Readiness: haproxy's unix socket accepts connections once it is up.
	deadline := time.Now().Add(5 * time.Second)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		c, err := net.Dial("unix", ready)
		if err == nil {
			c.Close()
			return cmd
		}
		select {
		case err := <-exited:
			t.Fatalf("haproxy exited: %v\n%s", err, out.String())
		case <-time.After(delay):
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy not ready on %s: %v\n%s", ready, err, out.String())
		}
	}
}

// procSocketInodes returns the socket inodes open in process pid.
func procSocketInodes(t *testing.T, pid int) map[uint64]bool {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	inos := map[uint64]bool{}
	for _, e := range ents {
		var st unix.Stat_t
		if unix.Stat(filepath.Join(dir, e.Name()), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK {
			inos[st.Ino] = true
		}
	}
	return inos
}

// listenInodes returns the inodes of the TCP sockets listening on
// 127.0.0.1:port, from /proc/net/tcp.
func listenInodes(t *testing.T, port int) []uint64 {
	t.Helper()
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := fmt.Sprintf("0100007F:%04X", port)
	var inos []uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 9 && fs[1] == want && fs[3] == "0A" { // 0A: TCP_LISTEN
			ino, _ := strconv.ParseUint(fs[9], 10, 64)
			inos = append(inos, ino)
		}
	}
	return inos
}

// TestFetchFromHAProxy: lb is the new process, a real HAProxy 2.6 the old
// one. The sockets received are haproxy's own (same inodes), with the
// addresses of its bind and stats socket lines.
func TestFetchFromHAProxy(t *testing.T) {
	dir := t.TempDir()
	admin := filepath.Join(dir, "admin.sock")
	addr := freePort(t)
	cfg := fmt.Sprintf(`global
    stats socket %s mode 600 level admin expose-fd listeners
defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind %s
    default_backend be
backend be
    server s1 127.0.0.1:9 disabled
`, admin, addr)
	cmd := startHAProxy(t, cfg, admin)

	got, err := FetchSockets(admin)
	if err != nil {
		t.Fatalf("FetchSockets(%q) = %v", admin, err)
	}
	defer closeAll(got)
	if len(got) != 2 {
		t.Fatalf("received %d sockets; want 2 (frontend and stats socket)", len(got))
	}
	files := []*os.File{got[0].File, got[1].File}
	fe := Match(Spec{Network: "tcp4", Addr: addr}, files)
	st := Match(Spec{Network: "unix", Addr: admin}, files)
	if fe < 0 || st < 0 || fe == st {
		t.Fatalf("Match: frontend %d, stats socket %d; want 0 and 1 in some order", fe, st)
	}
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	ino := inode(t, files[fe])
	if li := listenInodes(t, port); len(li) != 1 || li[0] != ino {
		t.Errorf("received frontend inode %d; the listeners on %s are %v", ino, addr, li)
	}
	inos := procSocketInodes(t, cmd.Process.Pid)
	for i, f := range files {
		if !inos[inode(t, f)] {
			t.Errorf("socket %d (inode %d) is not one of haproxy's", i, inode(t, f))
		}
	}
	if got[fe].Interface != "" || got[fe].Namespace != "" {
		t.Errorf("frontend names %q/%q; want none", got[fe].Namespace, got[fe].Interface)
	}
}

// TestHAProxyFetchesFromLB: lb is the old process, a real HAProxy 2.6
// started with -x the new one. HAProxy must take lb's listening socket
// (same inode) for its bind line instead of binding its own.
func TestHAProxyFetchesFromLB(t *testing.T) {
	dir := t.TempDir()
	l := mustBind(t, Spec{Network: "tcp4", Addr: freePort(t)})
	lbSock := filepath.Join(dir, "lb.sock")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: lbSock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ul.AcceptUnix()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != GetSocksCommand {
			served <- fmt.Errorf("command %q, %v", line, err)
			return
		}
		served <- ServeGetSocks(c, []Exported{l.Export()})
	}()
	haSock := filepath.Join(dir, "ha.sock")
	cfg := fmt.Sprintf(`global
    stats socket %s mode 600 level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind %s
    default_backend be
backend be
    server s1 127.0.0.1:9 disabled
`, haSock, l.Addr())
	cmd := startHAProxy(t, cfg, haSock, "-x", lbSock)
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("ServeGetSocks = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("haproxy never asked for the sockets")
	}
	ino := inode(t, l.File())
	if !procSocketInodes(t, cmd.Process.Pid)[ino] {
		t.Errorf("haproxy does not hold lb's listening socket (inode %d)", ino)
	}
	if li := listenInodes(t, portOf(t, l)); len(li) != 1 || li[0] != ino {
		t.Errorf("listeners on %v have inodes %v; want only lb's %d (haproxy bound its own)", l.Addr(), li, ino)
	}
}
