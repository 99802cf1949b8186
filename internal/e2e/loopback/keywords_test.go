package loopback

// Tests that show the effect of configuration keywords the running program carries out
// and no other test covers: internal/config's keyword registry (effects_test.go) names
// them.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// procStatus returns the value of a field of /proc/PID/status ("Uid", "Gid").
func procStatus(t *testing.T, pid int, field string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return ""
}

// adminCommand sends one command on a runtime socket and returns the answer.
func adminCommand(t *testing.T, sock, cmd string) string {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, cmd+"\n")
	b, _ := io.ReadAll(c)
	return string(b)
}

// TestGlobalDaemon: "daemon" puts lb in the background: the command returns 0 once the
// background process serves, and that process is not the one started.
func TestGlobalDaemon(t *testing.T) {
	s := startNameServer(t, "s1")
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, lbConfig(dir, port, s.addr(), "    daemon"))
	pidfile := filepath.Join(dir, "lb.pid")
	killAtEnd(t, pidfile)
	cmd := exec.Command(lbBinary(t), "-f", cfg, "-p", pidfile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("lb with daemon: %v\n%s", err, out)
	}
	pid := readPid(t, pidfile)
	if pid == cmd.Process.Pid || !alive(pid) {
		t.Fatalf("daemon pid %d (started %d) is not a running background process", pid, cmd.Process.Pid)
	}
	if n, err := askName(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || n != "s1" {
		t.Errorf("the daemon does not serve: %q, %v", n, err)
	}
}

// TestGlobalProcessSettings: nbthread sets the number of threads running Go code (show
// info reports it), ulimit-n the limit of open files.
func TestGlobalProcessSettings(t *testing.T) {
	s := startNameServer(t, "s1")
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, lbConfig(dir, port, s.addr(), "    nbthread 3\n    ulimit-n 2048"))
	p := startLB(t, "-db", "-f", cfg)
	if info := adminCommand(t, dir+"/admin.sock", "show info"); !strings.Contains(info, "Nbthread: 3\n") {
		t.Errorf("show info with nbthread 3:\n%s", info)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", p.pid()))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Max open files") {
			if f := strings.Fields(line); len(f) < 5 || f[3] != "2048" {
				t.Errorf("with ulimit-n 2048: %q", line)
			}
		}
	}
}

// TestCPUMap: with nbthread 2 and "cpu-map auto:1/1-2 0-1", lb runs two event loops, each
// pinned to its own CPU (the threads' Cpus_allowed_list), and serves through them.
func TestCPUMap(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs 2 CPUs")
	}
	s := startNameServer(t, "s1")
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, lbConfig(dir, port, s.addr(), "    nbthread 2\n    cpu-map auto:1/1-2 0-1"))
	p := startLB(t, "-db", "-f", cfg)
	for i := 0; i < 4; i++ {
		if n, err := askName(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || n != "s1" {
			t.Fatalf("not served: %q, %v", n, err)
		}
	}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", p.pid()))
	if err != nil {
		t.Fatal(err)
	}
	pinned := map[string]int{}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				pinned[strings.TrimSpace(v)]++
			}
		}
	}
	if pinned["0"] != 1 || pinned["1"] != 1 {
		t.Errorf("threads by CPU set: %v; want one thread on CPU 0 and one on CPU 1", pinned)
	}
}

// TestGlobalPrivileges: after binding, lb enters its chroot and takes the user and group
// given by name (user, group) or by number (uid, gid).
func TestGlobalPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	s := startNameServer(t, "s1")
	for _, tc := range []struct{ name, lines string }{
		{"user group", "    user nobody\n    group nogroup"},
		{"uid gid", "    uid 65534\n    gid 65534"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			port := freePort(t)
			cfg := writeConfig(t, fmt.Sprintf(`
global
    chroot %s
%s
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen app
    bind 127.0.0.1:%d
    server s1 %s
`, root, tc.lines, port, s.addr()))
			p := startLB(t, "-db", "-f", cfg)
			if n, err := askName(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || n != "s1" {
				t.Fatalf("does not serve: %q, %v", n, err)
			}
			for _, f := range []string{"Uid", "Gid"} {
				if ids := strings.Fields(procStatus(t, p.pid(), f)); len(ids) != 4 || ids[0] != "65534" || ids[1] != "65534" {
					t.Errorf("%s: %v; want 65534 everywhere", f, ids)
				}
			}
			if r, err := os.Readlink(fmt.Sprintf("/proc/%d/root", p.pid())); err != nil || r != root {
				t.Errorf("root directory %q (%v); want the chroot %q", r, err, root)
			}
		})
	}
}

// TestGlobalGrace: after SIGUSR1, lb keeps accepting for the grace period, then stops.
func TestGlobalGrace(t *testing.T) {
	s := startNameServer(t, "s1")
	port := freePort(t)
	cfg := writeConfig(t, lbConfig(t.TempDir(), port, s.addr(), "    grace 1s"))
	p := startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	sent := time.Now()
	p.signal(syscall.SIGUSR1)
	time.Sleep(300 * time.Millisecond) // well inside the grace period
	if n, err := askName(addr); err != nil || n != "s1" {
		t.Errorf("during the grace period: %q, %v", n, err)
	}
	if code := p.wait(5 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if d := time.Since(sent); d < 900*time.Millisecond {
		t.Errorf("exited %s after SIGUSR1; want after the 1s grace period", d)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Errorf("still accepting after the grace period and the exit")
	}
}

// TestGlobalStatsTimeout: an idle runtime API connection is closed after stats timeout.
func TestGlobalStatsTimeout(t *testing.T) {
	s := startNameServer(t, "s1")
	dir := t.TempDir()
	cfg := writeConfig(t, lbConfig(dir, freePort(t), s.addr(), "    stats timeout 300ms"))
	startLB(t, "-db", "-f", cfg)
	c, err := net.Dial("unix", dir+"/admin.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 16))
	if d := time.Since(start); !errors.Is(err, io.EOF) || d < 200*time.Millisecond || d > 3*time.Second {
		t.Errorf("idle connection: %v after %s; want EOF after about 300ms", err, d)
	}
}

// TestLogHeaderAndTCPLog: the global log line's format carries log-send-hostname and
// log-tag, and "option tcplog" with "log global" logs each session there.
func TestLogHeaderAndTCPLog(t *testing.T) {
	s := startNameServer(t, "s1")
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
global
    log stdout format rfc3164 local0
    log-tag mylb
    log-send-hostname myhost
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen app
    bind 127.0.0.1:%d
    server s1 %s
`, port, s.addr()))
	p := startLB(t, "-db", "-f", cfg)
	if n, err := askName(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || n != "s1" {
		t.Fatalf("does not serve: %q, %v", n, err)
	}
	p.waitOutput(" app app/s1 ", 3*time.Second)
	for _, line := range strings.Split(p.out.String(), "\n") {
		if strings.Contains(line, " app app/s1 ") {
			if !strings.HasPrefix(line, "<134>") || !strings.Contains(line, fmt.Sprintf(" myhost mylb[%d]: 127.0.0.1:", p.pid())) {
				t.Errorf("tcplog line %q; want <134>DATE myhost mylb[PID]: CLIENT …", line)
			}
			return
		}
	}
}

// TestFrontendKeywords: a frontend sends its connections to its default_backend; a
// disabled frontend does not listen; "enabled" undoes "disabled".
func TestFrontendKeywords(t *testing.T) {
	s := startNameServer(t, "s1")
	p1, p2, p3 := freePort(t), freePort(t), freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend on
    bind 127.0.0.1:%d
    default_backend app
frontend off
    bind 127.0.0.1:%d
    disabled
    default_backend app
frontend back-on
    bind 127.0.0.1:%d
    disabled
    enabled
    default_backend app
backend app
    server s1 %s
`, p1, p2, p3, s.addr()))
	startLB(t, "-db", "-f", cfg)
	for _, port := range []int{p1, p3} {
		if n, err := askName(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || n != "s1" {
			t.Errorf("port %d: %q, %v; want s1 through default_backend", port, n, err)
		}
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p2), time.Second); err == nil {
		c.Close()
		t.Errorf("the disabled frontend accepts connections")
	}
}

// TestServerCheckPortAddrDisabled: "port" and "addr" send a server's checks elsewhere
// than its traffic (here where nothing listens: the server goes DOWN though it serves);
// a disabled server gets no traffic.
func TestServerCheckPortAddrDisabled(t *testing.T) {
	a, b, c, d := startNameServer(t, "a"), startNameServer(t, "b"), startNameServer(t, "c"), startNameServer(t, "d")
	dead := refusingPort(t)
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 1s
    timeout client 10s
    timeout server 10s
listen app
    bind 127.0.0.1:%d
    server a %s check inter 200ms fall 1 port %d
    server b %s check inter 200ms fall 1 addr 127.0.0.2
    server c %s disabled
    server d %s
`, port, a.addr(), dead, b.addr(), c.addr(), d.addr()))
	p := startLB(t, "-db", "-f", cfg)
	p.waitOutput("Server app/a is DOWN", 5*time.Second)
	p.waitOutput("Server app/b is DOWN", 5*time.Second)
	if !strings.Contains(p.out.String(), "Connection refused") {
		t.Errorf("the DOWN reasons are not refused connections:\n%s", p.out.String())
	}
	for i := 0; i < 4; i++ {
		if n, err := askName(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || n != "d" {
			t.Errorf("connection %d: %q, %v; want d (a and b DOWN, c disabled)", i, n, err)
		}
	}
	if c.count() != 0 {
		t.Errorf("the disabled server got %d connections", c.count())
	}
}

// TestTimeoutConnect: a server that never answers the SYN is given up after timeout
// connect (retries 0: one attempt), and the session logs it as a connection timeout.
func TestTimeoutConnect(t *testing.T) {
	// A listening socket with a backlog of 0 whose one accept queue slot is taken: the
	// kernel drops the SYNs that follow, as a server behind a filter would.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	blackhole := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	filler, err := net.DialTimeout("tcp", blackhole, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer filler.Close()
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    retries 0
    timeout connect 400ms
    timeout client 10s
    timeout server 10s
listen app
    bind 127.0.0.1:%d
    server s1 %s
`, port, blackhole))
	p := startLB(t, "-db", "-f", cfg)
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 16))
	if d := time.Since(start); err == nil || d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("closed after %s (%v); want about timeout connect (400ms)", d, err)
	}
	p.waitOutput(" app app/s1 ", 3*time.Second)
	if !strings.Contains(p.out.String(), " sC ") {
		t.Errorf("the session's log line lacks termination state sC:\n%s", p.out.String())
	}
}

// TestGlobalPidfile: without -p, "pidfile" names the file lb writes its pid to once it
// serves, in the foreground as in the background (daemon); -p wins over it.
func TestGlobalPidfile(t *testing.T) {
	s := startNameServer(t, "s1")
	t.Run("foreground", func(t *testing.T) {
		dir := t.TempDir()
		port := freePort(t)
		pidfile := filepath.Join(dir, "global.pid")
		cfg := writeConfig(t, lbConfig(dir, port, s.addr(), "    pidfile "+pidfile))
		p := startLB(t, "-db", "-f", cfg)
		if pid := readPid(t, pidfile); pid != p.pid() {
			t.Errorf("pidfile holds %d; want lb's pid %d", pid, p.pid())
		}
	})
	t.Run("daemon", func(t *testing.T) {
		dir := t.TempDir()
		port := freePort(t)
		pidfile := filepath.Join(dir, "global.pid")
		cfg := writeConfig(t, lbConfig(dir, port, s.addr(), "    daemon\n    pidfile "+pidfile))
		killAtEnd(t, pidfile)
		cmd := exec.Command(lbBinary(t), "-f", cfg)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("lb with daemon: %v\n%s", err, out)
		}
		if pid := readPid(t, pidfile); pid == cmd.Process.Pid || !alive(pid) {
			t.Fatalf("pidfile holds %d (started %d); want the running background process", pid, cmd.Process.Pid)
		}
		if n, err := askName(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || n != "s1" {
			t.Errorf("the daemon does not serve: %q, %v", n, err)
		}
	})
	t.Run("-p wins", func(t *testing.T) {
		dir := t.TempDir()
		port := freePort(t)
		global, flag := filepath.Join(dir, "global.pid"), filepath.Join(dir, "flag.pid")
		cfg := writeConfig(t, lbConfig(dir, port, s.addr(), "    pidfile "+global))
		p := startLB(t, "-db", "-f", cfg, "-p", flag)
		if pid := readPid(t, flag); pid != p.pid() {
			t.Errorf("-p file holds %d; want %d", pid, p.pid())
		}
		if _, err := os.Stat(global); err == nil {
			t.Errorf("the global pidfile was written though -p was given")
		}
	})
}

// TestClientKeepAlive: "option clitcpka" (and tcpka) sets SO_KEEPALIVE on the client
// connections lb accepts; without either they have none, as in HAProxy.
func TestClientKeepAlive(t *testing.T) {
	s := startNameServer(t, "s1")
	for _, opt := range []string{"clitcpka", "tcpka", ""} {
		name, want := opt, 1
		if opt == "" {
			name, want = "none", 0
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			port := freePort(t)
			extra := ""
			if opt != "" {
				extra = "    option " + opt + "\n"
			}
			cfg := writeConfig(t, strings.Replace(lbConfig(dir, port, s.addr(), ""),
				"listen app\n", "listen app\n"+extra, 1))
			p := startLB(t, "-db", "-f", cfg)
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
				t.Fatalf("not served: %v", err)
			}
			on, err := peerSockopt(p.pid(), c, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
			if err != nil {
				t.Skipf("cannot read lb's socket: %v", err)
			}
			if on != want {
				t.Errorf("SO_KEEPALIVE on lb's side of the client connection = %d; want %d", on, want)
			}
		})
	}
}

// peerSockopt reads a socket option of the socket of process pid at the other end of c
// (local and remote addresses swapped), through a copy of its descriptor (pidfd_getfd).
func peerSockopt(pid int, c net.Conn, level, opt int) (int, error) {
	want := [2]string{c.RemoteAddr().String(), c.LocalAddr().String()}
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(pfd)
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, n)); !strings.HasPrefix(l, "socket:") {
			continue
		}
		fd, err := unix.PidfdGetfd(pfd, n, 0)
		if err != nil {
			return 0, err
		}
		la, err1 := unix.Getsockname(fd)
		ra, err2 := unix.Getpeername(fd)
		if err1 == nil && err2 == nil && sockaddrString(la) == want[0] && sockaddrString(ra) == want[1] {
			v, err := unix.GetsockoptInt(fd, level, opt)
			unix.Close(fd)
			return v, err
		}
		unix.Close(fd)
	}
	return 0, fmt.Errorf("no socket of %d from %s to %s", pid, want[0], want[1])
}

func sockaddrString(sa unix.Sockaddr) string {
	if a, ok := sa.(*unix.SockaddrInet4); ok {
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	}
	return ""
}
