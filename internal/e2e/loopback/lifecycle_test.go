package loopback

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// lbConfig is a tcp-mode configuration with a runtime socket exposing its listeners.
func lbConfig(dir string, port int, server string, extraGlobal string) string {
	return fmt.Sprintf(`
global
    stats socket %s/admin.sock mode 600 level admin expose-fd listeners
    log stdout format raw local0
%s
defaults
    mode tcp
    log global
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen app
    bind 127.0.0.1:%d
    server s1 %s
`, dir, extraGlobal, port, server)
}

// load opens a new connection per request against addr until stop is closed, counting
// failures.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startLoad(addr string, workers int) *load {
	l := &load{stop: make(chan struct{})}
	for i := 0; i < workers; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				if _, err := askName(addr); err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.errs) < 10 {
						l.errs = append(l.errs, err.Error())
					}
					l.mu.Unlock()
				} else {
					l.ok.Add(1)
				}
			}
		}()
	}
	return l
}

func (l *load) end() (ok, failed int64, errs []string) {
	close(l.stop)
	l.wg.Wait()
	return l.ok.Load(), l.failed.Load(), l.errs
}

// daemon runs `lb -D …` and returns its exit code and output; -D returns once the daemon
// child accepts.
func daemon(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(lbBinary(t), append([]string{"-D"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		t.Fatal(err)
	}
	return 0, string(out)
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pidfile %s: %v", path, err)
	}
	return pid
}

// killAtEnd makes sure a daemon started by the test is gone when the test ends.
func killAtEnd(t *testing.T, pidfile string) {
	t.Cleanup(func() {
		b, err := os.ReadFile(pidfile)
		if err != nil {
			return
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	})
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie is not alive.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}

func waitGone(t *testing.T, pid int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive after %s", pid, timeout)
		}
		time.Sleep(20 * time.Millisecond) // no signal for another process's exit
	}
}

// listenInode returns the inode of the listening socket on port (from the net/tcp of /proc).
func listenInode(t *testing.T, port int) string {
	t.Helper()
	want := fmt.Sprintf("0100007F:%04X", port)
	// The reading thread's namespace, not /proc/net's (the main thread's): a netns test may
	// leave the main thread, locked and wedged, in a namespace of its own. And the file is no
	// snapshot: read while other tests open and close thousands of sockets, it can miss a
	// line; a listening socket is found again on a second read.
	for try := 0; try < 5; try++ {
		b, err := os.ReadFile("/proc/thread-self/net/tcp")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 9 && f[1] == want && f[3] == "0A" {
				return f[9]
			}
		}
	}
	return ""
}

// TestSeamlessReloadZeroLoss: 50 `-sf` reloads with `-x` under continuous load (a new
// connection per request) lose no request, and the listening socket is the same inode
// throughout (issue 4).
func TestSeamlessReloadZeroLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	s := startNameServer(t, "s1")
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, lbConfig(dir, port, s.addr(), "    hard-stop-after 5s"))
	pidfile := filepath.Join(dir, "lb.pid")
	killAtEnd(t, pidfile)
	if code, out := daemon(t, "-f", cfg, "-p", pidfile); code != 0 {
		t.Fatalf("lb -D exited %d:\n%s", code, out)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	inode := listenInode(t, port)
	if inode == "" {
		t.Fatal("no listening socket found")
	}
	l := startLoad(addr, 4)
	var pids []int
	for i := 0; i < 50; i++ {
		old := readPid(t, pidfile)
		pids = append(pids, old)
		if code, out := daemon(t, "-f", cfg, "-p", pidfile, "-x", dir+"/admin.sock", "-sf", strconv.Itoa(old)); code != 0 {
			l.end()
			t.Fatalf("reload %d exited %d:\n%s", i, code, out)
		}
		if got := listenInode(t, port); got != inode {
			t.Errorf("reload %d: listening inode %s; want %s", i, got, inode)
		}
	}
	time.Sleep(200 * time.Millisecond) // let the load run against the last generation
	ok, failed, errs := l.end()
	if failed != 0 || ok == 0 {
		t.Errorf("requests: %d ok, %d failed over 50 reloads; want 0 failed. first errors: %q", ok, failed, errs)
	}
	for _, pid := range pids {
		waitGone(t, pid, 10*time.Second)
	}
}

// TestPauseResume: SIGTTOU makes a self-bound port refuse connections and lets a second
// process bind it; SIGTTIN restores it (issue 4).
func TestPauseResume(t *testing.T) {
	s := startNameServer(t, "s1")
	port := freePort(t)
	cfg := writeConfig(t, lbConfig(t.TempDir(), port, s.addr(), ""))
	p := startLB(t, "-db", "-f", cfg)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if _, err := askName(addr); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGTTOU)
	p.waitOutput("Paused proxy app", 3*time.Second)
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("connect succeeded while paused; want refused")
	}
	// Another process can bind the port now (SO_REUSEADDR, not SO_REUSEPORT).
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Errorf("second bind while paused: %v", err)
	}
	syscall.Close(fd)
	p.signal(syscall.SIGTTIN)
	p.waitOutput("Resumed proxy app", 3*time.Second)
	if n, err := askName(addr); err != nil || n != "s1" {
		t.Errorf("after resume: %q, %v", n, err)
	}
}

// TestBadConfigReloadKeepsOld: a new process with a bad configuration exits 1 naming
// file:line, and the old one serves on (issue 4).
func TestBadConfigReloadKeepsOld(t *testing.T) {
	s := startNameServer(t, "s1")
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, lbConfig(dir, port, s.addr(), ""))
	p := startLB(t, "-db", "-f", cfg)
	bad := filepath.Join(dir, "bad.cfg")
	os.WriteFile(bad, []byte(lbConfig(dir, port, s.addr(), "")+"    bogus-keyword here\n"), 0o644)
	cmd := exec.Command(lbBinary(t), "-db", "-f", bad, "-x", dir+"/admin.sock", "-sf", strconv.Itoa(p.pid()))
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("new process: %v; want exit 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "bad.cfg:") {
		t.Errorf("output lacks file:line:\n%s", out)
	}
	if n, err := askName(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || n != "s1" {
		t.Errorf("old process after failed reload: %q, %v", n, err)
	}
}

// TestForeignPortGivesUp: a port held by a foreign process makes the new process give up
// after about 2 s and resume (SIGTTIN) the old one (issue 4).
func TestForeignPortGivesUp(t *testing.T) {
	s := startNameServer(t, "s1")
	dir := t.TempDir()
	port, port2 := freePort(t), freePort(t)
	cfg := writeConfig(t, lbConfig(dir, port, s.addr(), ""))
	p := startLB(t, "-db", "-f", cfg)
	foreign, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port2))
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	// The new configuration adds a listener on the foreign port; no -x, so lb binds itself.
	cfg2 := writeConfig(t, lbConfig(dir, port, s.addr(), "")+fmt.Sprintf("listen extra\n    bind 127.0.0.1:%d\n    server s1 %s\n", port2, s.addr()))
	start := time.Now()
	out, err := exec.Command(lbBinary(t), "-db", "-f", cfg2, "-sf", strconv.Itoa(p.pid())).CombinedOutput()
	took := time.Since(start)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("new process: %v; want exit 1\n%s", err, out)
	}
	if took < 1500*time.Millisecond || took > 5*time.Second {
		t.Errorf("gave up after %s; want about 2s", took)
	}
	p.waitOutput("Resumed proxy app", 3*time.Second)
	if n, err := askName(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || n != "s1" {
		t.Errorf("old process after SIGTTIN: %q, %v", n, err)
	}
}

// TestSoftStopDrainsAndHardStopAfter: SIGUSR1 lets an open TCP session finish; with
// hard-stop-after the session is cut at the configured time (issue 4).
func TestSoftStopDrainsAndHardStopAfter(t *testing.T) {
	s := startNameServer(t, "s1")
	for _, tc := range []struct {
		name  string
		extra string
		cut   bool
	}{
		{"session finishes", "", false},
		{"hard-stop-after cuts", "    hard-stop-after 1s", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := freePort(t)
			cfg := writeConfig(t, lbConfig(t.TempDir(), port, s.addr(), tc.extra))
			p := startLB(t, "-db", "-f", cfg)
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r := bufio.NewReader(c)
			if l, err := r.ReadString('\n'); err != nil || l != "s1\n" {
				t.Fatalf("greeting %q, %v", l, err)
			}
			sent := time.Now()
			p.signal(syscall.SIGUSR1)
			p.waitOutput("draining", 3*time.Second)
			// The session still works after the soft stop began.
			io.WriteString(c, "ping\n")
			_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
			if l, err := r.ReadString('\n'); err != nil || l != "ping\n" {
				t.Fatalf("echo during drain: %q, %v", l, err)
			}
			if tc.cut {
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err := r.ReadString('\n')
				cut := time.Since(sent)
				if err == nil || cut < 800*time.Millisecond || cut > 3*time.Second {
					t.Errorf("session cut after %s (%v); want about 1s", cut, err)
				}
				if code := p.wait(5 * time.Second); code != 0 {
					t.Errorf("exit code %d; want 0", code)
				}
				return
			}
			select {
			case <-p.done:
				t.Fatal("lb exited while a session was open")
			case <-time.After(500 * time.Millisecond):
			}
			c.Close()
			if code := p.wait(5 * time.Second); code != 0 {
				t.Errorf("exit code %d; want 0", code)
			}
		})
	}
}

// TestDumpSignals: SIGHUP prints one line per server with its state and counts; SIGQUIT
// prints memory use (issue 4).
func TestDumpSignals(t *testing.T) {
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen app
    bind 127.0.0.1:%d
    server s1 %s
    server s2 %s
`, port, s1.addr(), s2.addr()))
	p := startLB(t, "-db", "-f", cfg)
	askName(fmt.Sprintf("127.0.0.1:%d", port))
	p.signal(syscall.SIGHUP)
	p.waitOutput("Server app/s2 is UP. Conn:", 3*time.Second)
	if !regexp.MustCompile(`Server app/s1 is UP\. Conn: [01] act, 0 pend, 1 tot\.`).MatchString(p.out.String()) {
		t.Errorf("SIGHUP output lacks s1's line with 1 total connection:\n%s", p.out.String())
	}
	p.signal(syscall.SIGQUIT)
	p.waitOutput("Dumping pools usage", 3*time.Second)
	p.waitOutput("heap:", 3*time.Second)
}

// TestSIGUSR2Handover: SIGUSR2 produces a new process serving the same sockets, and the old
// one exits (issue 4).
func TestSIGUSR2Handover(t *testing.T) {
	s := startNameServer(t, "s1")
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, lbConfig(dir, port, s.addr(), ""))
	n := newNotifySocket(t)
	p := startLBNotify(t, n, "-db", "-f", cfg, "-p", filepath.Join(dir, "lb.pid"))
	n.waitFor(t, "READY=1", 10*time.Second)
	inode := listenInode(t, port)
	p.signal(syscall.SIGUSR2)
	msg := n.waitFor(t, "MAINPID=", 10*time.Second)
	var newPid int
	for _, l := range strings.Split(msg, "\n") {
		if strings.HasPrefix(l, "MAINPID=") {
			newPid, _ = strconv.Atoi(strings.TrimPrefix(l, "MAINPID="))
		}
	}
	if newPid == 0 || newPid == p.pid() {
		t.Fatalf("MAINPID=%d after SIGUSR2 (old %d)", newPid, p.pid())
	}
	t.Cleanup(func() { syscall.Kill(newPid, syscall.SIGTERM) })
	if code := p.wait(10 * time.Second); code != 0 {
		t.Errorf("old process exit code %d", code)
	}
	if got := listenInode(t, port); got != inode {
		t.Errorf("listening inode %s after SIGUSR2; want %s", got, inode)
	}
	if n, err := askName(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || n != "s1" {
		t.Errorf("after SIGUSR2: %q, %v", n, err)
	}
	if !alive(newPid) {
		t.Errorf("new process %d is not running", newPid)
	}
	// The runtime socket moved too: its path still answers, from the new process.
	c, err := net.Dial("unix", dir+"/admin.sock")
	if err != nil {
		t.Fatalf("runtime socket after SIGUSR2: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, "show info\n")
	info, _ := io.ReadAll(c)
	if !strings.Contains(string(info), fmt.Sprintf("Pid: %d\n", newPid)) {
		t.Errorf("show info on the runtime socket after SIGUSR2:\n%s", info)
	}
}

// TestFDLimit: with an explicit maxconn above what the hard RLIMIT_NOFILE allows, lb refuses
// to start naming the limit and LimitNOFILE=; without maxconn it derives maxconn from the
// limit, says so, and serves (issue 4). The hard limit is set for the test: 4096.
func TestFDLimit(t *testing.T) {
	s := startNameServer(t, "s1")
	port := freePort(t)
	base := fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen app
    bind 127.0.0.1:%d
    server s1 %s
`, port, s.addr())
	withLimit := func(cfg string) *exec.Cmd {
		return exec.Command("/bin/sh", "-c", `ulimit -Sn 1024 && ulimit -Hn 4096 && exec "$0" -db -f "$1"`, lbBinary(t), cfg)
	}
	out, err := withLimit(writeConfig(t, "global\n    maxconn 5000\n"+base)).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("maxconn 5000 under a hard limit of 4096: %v; want exit 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "4096") || !strings.Contains(string(out), "LimitNOFILE=") {
		t.Errorf("the refusal does not name the limit and LimitNOFILE=:\n%s", out)
	}
	cmd := withLimit(writeConfig(t, base))
	p := startCmd(t, cmd)
	o := p.out
	defer func() { cmd.Process.Signal(syscall.SIGTERM); p.wait(5 * time.Second) }()
	p.waitOutput("derived from the hard limit of open files (4096)", 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n, err := askName(fmt.Sprintf("127.0.0.1:%d", port)); err == nil && n == "s1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lb with a derived maxconn does not serve:\n%s", o.String())
		}
		time.Sleep(20 * time.Millisecond) // the log line above came first; the accept follows
	}
}

// TestControlReloadProtocol plays systemd's part in a reload (ExecReload= runs
// `lb -f CFG -sf $MAINPID -x SOCK` with $MAINPID and $NOTIFY_SOCKET set): the reload process
// must name the new process with MAINPID= and READY=1 and exit 0 only once it serves; the
// old process must then never send STOPPING=1; the new one announces itself only after it
// was named (issue 5, LIFECYCLE.md §2).
func TestControlReloadProtocol(t *testing.T) {
	s := startNameServer(t, "s1")
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, lbConfig(dir, port, s.addr(), ""))
	n := newNotifySocket(t)
	old := startLBNotify(t, n, "-db", "-f", cfg)
	n.waitFor(t, "READY=1", 10*time.Second)

	reload := exec.Command(lbBinary(t), "-f", cfg, "-sf", strconv.Itoa(old.pid()), "-x", dir+"/admin.sock")
	reload.Env = append(os.Environ(), "NOTIFY_SOCKET="+n.path, fmt.Sprintf("MAINPID=%d", old.pid()))
	// A file, not a pipe: the new process inherits the reload process's stdout and stderr.
	out := newOutFile(t)
	reload.Stdout, reload.Stderr = out.f, out.f
	if err := reload.Run(); err != nil {
		t.Fatalf("reload process: %v\n%s", err, out.String())
	}
	msg := n.waitFor(t, "MAINPID=", 5*time.Second)
	if !strings.Contains(msg, "READY=1") {
		t.Errorf("MAINPID= came without READY=1: %q", msg)
	}
	var newPid int
	for _, l := range strings.Split(msg, "\n") {
		if v, ok := strings.CutPrefix(l, "MAINPID="); ok {
			newPid, _ = strconv.Atoi(v)
		}
	}
	if newPid <= 0 || newPid == old.pid() || newPid == reload.Process.Pid {
		t.Fatalf("MAINPID=%d (old %d, reload process %d)", newPid, old.pid(), reload.Process.Pid)
	}
	t.Cleanup(func() { syscall.Kill(newPid, syscall.SIGTERM) })
	if code := old.wait(10 * time.Second); code != 0 {
		t.Errorf("old process exit code %d", code)
	}
	// Everything after MAINPID=: the new process's READY=1 may come; STOPPING=1 must not.
	deadline := time.After(500 * time.Millisecond)
	for done := false; !done; {
		select {
		case m := <-n.msgs:
			if strings.Contains(m, "STOPPING=1") {
				t.Errorf("a notification with STOPPING=1 after the handover: %q", m)
			}
		case <-deadline:
			done = true
		}
	}
	if name, err := askName(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || name != "s1" {
		t.Errorf("after the reload: %q, %v", name, err)
	}
}

// TestSoftStopWaitsForPredecessors: a process stopped softly (SIGUSR1, systemd's stop
// signal for lb.service) while the process it superseded by -sf still drains a session
// exits only after it: under systemd the main process's exit ends the stop, and what is
// left in the unit's cgroup is then killed, the old generation's sessions with it (a
// restart right after a reload cut them).
func TestSoftStopWaitsForPredecessors(t *testing.T) {
	s := startNameServer(t, "s1")
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, lbConfig(dir, port, s.addr(), ""))
	pidfile := filepath.Join(dir, "lb.pid")
	killAtEnd(t, pidfile)
	if code, out := daemon(t, "-f", cfg, "-p", pidfile); code != 0 {
		t.Fatalf("lb -D exited %d:\n%s", code, out)
	}
	old := readPid(t, pidfile)
	t.Cleanup(func() { _ = syscall.Kill(old, syscall.SIGTERM) })
	// A session on the first process, held open across the reload.
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	if l, err := br.ReadString('\n'); err != nil || l != "s1\n" {
		t.Fatalf("first line %q, %v", l, err)
	}
	if code, out := daemon(t, "-f", cfg, "-p", pidfile, "-x", filepath.Join(dir, "admin.sock"), "-sf", strconv.Itoa(old)); code != 0 {
		t.Fatalf("reload exited %d:\n%s", code, out)
	}
	cur := readPid(t, pidfile)
	// The new process stops softly; the old one still holds the session.
	if err := syscall.Kill(cur, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the window in which it must not exit: nothing signals "still there"
	if !alive(cur) {
		t.Fatalf("the new process exited while the one it superseded still drained a session")
	}
	if !alive(old) {
		t.Fatalf("the old process exited with a session open")
	}
	// The session still works, then ends: both go, the old one first.
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		t.Fatal(err)
	}
	if l, err := br.ReadString('\n'); err != nil || l != "ping\n" {
		t.Fatalf("echo %q, %v", l, err)
	}
	c.Close()
	waitGone(t, old, 10*time.Second)
	waitGone(t, cur, 10*time.Second)
}
