// Package loopback holds lb's end-to-end tests on loopback: each starts the real lb binary
// on a configuration, with small servers and clients of the test's own on 127.0.0.1.
package loopback

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lb/internal/lbtest"
)

var (
	buildOnce sync.Once
	lbBin     string
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// lbBinary builds cmd/lb once per test run.
func lbBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "lb-e2e-")
		if buildErr == nil {
			lbBin, buildErr = lbtest.Build(binDir, "./cmd/lb", "")
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return lbBin
}

// freePort returns a TCP port on 127.0.0.1 reserved for the whole test (lbtest.ReservePort). lb
// binds it itself, as a user's configuration would.
func freePort(t *testing.T) int { return lbtest.ReservePort(t) }

// refusingPort returns a port on 127.0.0.1 where connections are refused for the whole test:
// a socket is bound to it without listening, so no other test can take it meanwhile (a
// port from freePort can be reused by a parallel test before lb connects to it).
func refusingPort(t *testing.T) int { return lbtest.RefusingPort(t) }

// notifySocket is a fake NOTIFY_SOCKET: a real unixgram socket collecting messages.
type notifySocket struct {
	path string
	conn *net.UnixConn
	msgs chan string
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	dir, err := os.MkdirTemp("", "lbn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifySocket{path: path, conn: c, msgs: make(chan string, 256)}
	go func() {
		buf := make([]byte, 65536)
		oob := make([]byte, 4096)
		for {
			k, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
			if err != nil {
				close(n.msgs)
				return
			}
			// Close fds passed with FDSTORE=1 so they do not pile up in the test.
			if msgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, m := range msgs {
					if fds, err := syscall.ParseUnixRights(&m); err == nil {
						for _, fd := range fds {
							syscall.Close(fd)
						}
					}
				}
			}
			n.msgs <- string(buf[:k])
		}
	}()
	t.Cleanup(func() { c.Close() })
	return n
}

// waitFor waits for a message containing want.
func (n *notifySocket) waitFor(t *testing.T, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-n.msgs:
			if !ok {
				t.Fatalf("notify socket closed while waiting for %q", want)
			}
			if strings.Contains(m, want) {
				return m
			}
		case <-deadline:
			t.Fatalf("no %q notification within %s", want, timeout)
		}
	}
}

// lbProc is a running lb.
type lbProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    *outFile
	done   chan struct{}
	status error
}

// outFile collects a process's output in a file rather than a pipe: a successor that
// inherits stdout/stderr (SIGUSR2) must not keep the test's Wait from returning.
type outFile struct{ f *os.File }

func newOutFile(t *testing.T) *outFile {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &outFile{f: f}
}

func (o *outFile) String() string {
	b, _ := os.ReadFile(o.f.Name())
	return string(b)
}

// writeConfig writes text to a file in a fresh directory and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lb.cfg")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startLB starts lb in the foreground with args and waits for READY=1 on a fake notify
// socket.
func startLB(t *testing.T, args ...string) *lbProc {
	t.Helper()
	n := newNotifySocket(t)
	p := startLBNotify(t, n, args...)
	n.waitFor(t, "READY=1", 15*time.Second)
	return p
}

func startLBNotify(t *testing.T, n *notifySocket, args ...string) *lbProc {
	t.Helper()
	cmd := exec.Command(lbBinary(t), args...)
	out := newOutFile(t)
	cmd.Stdout, cmd.Stderr = out.f, out.f
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+n.path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &lbProc{t: t, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { p.status = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-p.done
			}
		}
		if strings.Contains(out.String(), lbtest.RaceReport) {
			t.Errorf("lb %v found a data race", args)
		}
		if t.Failed() {
			t.Logf("lb %v output:\n%s", args, out.String())
		}
	})
	return p
}

// haproxyBin returns the path of HAProxy, and skips the test when it is not installed.
func haproxyBin(t *testing.T) string {
	t.Helper()
	hap, ok := haproxyPath()
	if !ok {
		t.Skip("haproxy is not installed")
	}
	return hap
}

// haproxyPath returns the path of HAProxy and whether it is installed.
func haproxyPath() (string, bool) {
	if hap, err := exec.LookPath("haproxy"); err == nil {
		return hap, true
	}
	const hap = "/usr/sbin/haproxy"
	if _, err := exec.LookPath(hap); err != nil {
		return "", false
	}
	return hap, true
}

// startProc starts bin (lb or HAProxy) with args; see startCmd.
func startProc(t *testing.T, bin string, args ...string) *lbProc {
	t.Helper()
	return startCmd(t, exec.Command(bin, args...))
}

// startCmd starts cmd with its standard output and error in an outFile. The process is
// ended by stop, or at the test's cleanup at the latest, which logs its output when the
// test failed.
func startCmd(t *testing.T, cmd *exec.Cmd) *lbProc {
	t.Helper()
	out := newOutFile(t)
	cmd.Stdout, cmd.Stderr = out.f, out.f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &lbProc{t: t, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { p.status = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%v output:\n%s", cmd.Args, out.String())
		}
	})
	return p
}

// startHAProxyArgs starts HAProxy with args and waits for addr to listen; it skips the test
// when HAProxy is not installed.
func startHAProxyArgs(t *testing.T, addr string, args ...string) *outFile {
	t.Helper()
	p := startProc(t, haproxyBin(t), args...)
	waitListen(t, addr)
	// HAProxy listens on its TCP sockets before it binds its unix stats sockets: a
	// test's first command may find no socket yet.
	for i, a := range args {
		if a == "-f" && i+1 < len(args) {
			for _, sock := range statsSocketPaths(t, args[i+1]) {
				waitUnix(t, sock)
			}
		}
	}
	return p.out
}

// statsSocketPaths returns the unix paths of the "stats socket" lines of the configuration
// file cfg.
func statsSocketPaths(t *testing.T, cfg string) []string {
	t.Helper()
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "stats" && f[1] == "socket" && strings.HasPrefix(f[2], "/") {
			paths = append(paths, f[2])
		}
	}
	return paths
}

// waitUnix waits until a unix socket accepts at path.
func waitUnix(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing accepts on %s: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond) // a process of another's making: no readiness signal
	}
}

// stop ends the process with SIGTERM, unless it has exited, and waits for it.
func (p *lbProc) stop() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		<-p.done
	}
}

func (p *lbProc) pid() int { return p.cmd.Process.Pid }

func (p *lbProc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *lbProc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("lb did not exit within %s; output:\n%s", timeout, p.out.String())
	}
	if p.status == nil {
		return 0
	}
	if ee, ok := p.status.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// waitOutput waits until the output contains want.
func (p *lbProc) waitOutput(want string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.out.String(), want) {
		if time.Now().After(deadline) {
			p.t.Fatalf("output has no %q after %s:\n%s", want, timeout, p.out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a log: there is no other signal
	}
}

// nameServer is a backend that writes its name to every connection, then echoes.
type nameServer struct {
	name string
	ln   net.Listener
	mu   sync.Mutex
	n    int
}

func startNameServer(t *testing.T, name string) *nameServer {
	t.Helper()
	return startNameServerOn(t, name, "127.0.0.1:0")
}

// startNameServerOn is startNameServer listening on addr (any 127.0.0.0/8 address).
func startNameServerOn(t *testing.T, name, addr string) *nameServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &nameServer{name: name, ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.n++
			s.mu.Unlock()
			go func() {
				defer c.Close()
				io.WriteString(c, name+"\n")
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *nameServer) addr() string { return s.ln.Addr().String() }

func (s *nameServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// startRawServer runs handle, which owns the connection, on each connection accepted on a
// fresh loopback listener (closed at the end of the test), and returns its address.
func startRawServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return ln.Addr().String()
}

// askName connects to addr and returns the first line the server sent.
func askName(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read from %s: %w", addr, err)
	}
	return strings.TrimSpace(line), nil
}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// reloadSfX reloads old as an init script does: a new lb on cfg takes the listeners (and
// what travels with them) over the stats socket sock (-x) and tells old to finish (-sf). It
// returns the new process, ready, once old exited, and the notify socket it reports to.
func reloadSfX(t *testing.T, old *lbProc, cfg, sock string) (*lbProc, *notifySocket) {
	t.Helper()
	n := newNotifySocket(t)
	next := startLBNotify(t, n, "-db", "-f", cfg, "-x", sock, "-sf", strconv.Itoa(old.pid()))
	n.waitFor(t, "READY=1", 15*time.Second)
	if code := old.wait(15 * time.Second); code != 0 {
		t.Errorf("old process exit code %d", code)
	}
	return next, n
}

// reloadUSR2 reloads p (reporting to n) from inside with SIGUSR2 and returns the pid of the
// child generation that took over, once p exited; the child is stopped at the test's end.
func reloadUSR2(t *testing.T, p *lbProc, n *notifySocket) int {
	t.Helper()
	p.signal(syscall.SIGUSR2)
	child := mainPid(n.waitFor(t, "MAINPID=", 15*time.Second))
	if child == 0 || child == p.pid() {
		t.Fatalf("MAINPID=%d after SIGUSR2 (old %d)", child, p.pid())
	}
	t.Cleanup(func() { syscall.Kill(child, syscall.SIGTERM) })
	if code := p.wait(15 * time.Second); code != 0 {
		t.Errorf("process reloaded by SIGUSR2: exit code %d", code)
	}
	return child
}

// startNamed starts lb, or haproxy (binary hap) when name is not "lb", in
// the foreground on cfg, and waits for its stats socket sock unless "".
func startNamed(t *testing.T, name, hap, cfg, sock string) *lbProc {
	t.Helper()
	var p *lbProc
	if name == "lb" {
		p = startLB(t, "-db", "-f", cfg)
	} else {
		p = startProc(t, hap, "-db", "-f", cfg)
	}
	if sock != "" {
		waitUnix(t, sock)
	}
	return p
}

// acceptCloser accepts connections on a fixed port and closes them, for
// health checks that pass while it listens and fail once it stopped.
type acceptCloser struct {
	addr string
	ln   net.Listener
}

func (a *acceptCloser) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", a.addr)
	if err != nil {
		t.Fatal(err)
	}
	a.ln, a.addr = ln, ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

func (a *acceptCloser) stop() { a.ln.Close() }
