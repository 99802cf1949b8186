package soak

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"lb/internal/lbtest"
)

// slLB is lb running in the foreground (-db), a child of the test, its output in a file.
type slLB struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  string // output file
	done chan struct{}
}

// slStartLB starts `lb -db -f cfg` through sh (so that script, e.g. "ulimit -n 160", runs
// first) and waits for its READY=1 on a notify socket of the test's own.
func slStartLB(t *testing.T, lb, cfg, script string) *slLB {
	t.Helper()
	return slStartLBArgs(t, lb, cfg, script)
}

// slStartLBArgs is slStartLB with more arguments for lb after -db.
func slStartLBArgs(t *testing.T, lb, cfg, script string, extra ...string) *slLB {
	t.Helper()
	dir := t.TempDir()
	nsock := filepath.Join(dir, "notify")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: nsock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		oob := make([]byte, 1024)
		var once sync.Once
		for {
			n, oobn, _, _, err := nc.ReadMsgUnix(buf, oob)
			if err != nil {
				return
			}
			// Close the listeners pushed to the "fd store" (FDSTORE=1): the test keeps none.
			if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, m := range msgs {
					if fds, err := unix.ParseUnixRights(&m); err == nil {
						for _, fd := range fds {
							unix.Close(fd)
						}
					}
				}
			}
			if strings.Contains(string(buf[:n]), "READY=1") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	t.Cleanup(func() { nc.Close() })
	out := filepath.Join(dir, "out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("/bin/sh", append([]string{"-c", script + ` && exec "$0" -db -f "$@"`, lb, cfg}, extra...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+nsock)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &slLB{t: t, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			t.Logf("lb output:\n%s", p.output())
		}
	})
	select {
	case <-ready:
	case <-p.done:
		t.Fatalf("lb exited before READY=1:\n%s", p.output())
	case <-time.After(20 * time.Second):
		t.Fatalf("no READY=1 from lb within 20s:\n%s", p.output())
	}
	return p
}

func (p *slLB) pid() int { return p.cmd.Process.Pid }

func (p *slLB) output() string {
	b, _ := os.ReadFile(p.out)
	return string(b)
}

// exited reports whether lb has exited (a crash, here).
func (p *slLB) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// slCPU is the CPU time pid has used (utime+stime of /proc/PID/stat), in clock ticks of
// 1/100 s (USER_HZ, 100 on Linux).
func slCPU(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("cpu of %d: %v", pid, err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// After the command: state is field 3 of stat(5), utime 14 and stime 15.
	ut, _ := strconv.ParseInt(f[14-3], 10, 64)
	st, _ := strconv.ParseInt(f[15-3], 10, 64)
	return ut + st
}

// slCPUOver returns the share of one CPU pid used over d.
func slCPUOver(t *testing.T, pid int, d time.Duration) float64 {
	t.Helper()
	c0, t0 := slCPU(t, pid), time.Now()
	time.Sleep(d) // the measurement window
	c1 := slCPU(t, pid)
	return float64(c1-c0) / 100 / time.Since(t0).Seconds()
}

// slHold opens n connections to addr, each sending hello (if any), and keeps them open. A
// connection the kernel does not complete (a full accept queue) is retried by TCP itself;
// dial errors are counted, not fatal. It returns the connections once all dials returned.
func slHold(addr string, n int, hello string) (conns []net.Conn, dialErrs int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 3*time.Second)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				dialErrs++
				return
			}
			if hello != "" {
				_, _ = io.WriteString(c, hello)
			}
			conns = append(conns, c)
		}()
	}
	wg.Wait()
	return conns, dialErrs
}

// slEchoed counts the connections (each sent "ping\n") that got their echo within d.
func slEchoed(conns []net.Conn, d time.Duration) int {
	var n atomic.Int32
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(d))
			buf := make([]byte, 5)
			if _, err := io.ReadFull(c, buf); err == nil && string(buf) == "ping\n" {
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(n.Load())
}

// slEcho makes one echo exchange on a new connection to addr.
func slEcho(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "ping\n" {
		return fmt.Errorf("echo %q", line)
	}
	return nil
}

// slGet makes one HTTP request on a new connection to addr and returns the status line.
func slGet(addr string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// slEventually retries f until it succeeds or within passed, and returns its last error.
func slEventually(within time.Duration, f func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond) // the listener's retry timer: nothing to wait on
	}
}

// slLimitsConfig is scenario 4's configuration: a TCP proxy (served by the event loops) and
// an HTTP frontend (served by goroutines) in front of the test's servers.
func slLimitsConfig(tcpPort, httpPort int, echoSrv, httpSrv, global string) string {
	return fmt.Sprintf(`global
%s
defaults
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-request 30s

listen echo
    mode tcp
    bind 127.0.0.1:%d
    server e1 %s

frontend web
    mode http
    bind 127.0.0.1:%d
    default_backend app

backend app
    mode http
    server s1 %s
`, global, tcpPort, echoSrv, httpPort, httpSrv)
}

// emfileLines counts the lines of out that report running out of descriptors.
func emfileLines(out string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "too many open files") {
			n++
		}
	}
	return n
}

// TestSoakFDExhaustion is issue 16's scenario 4 for descriptors, on loopback, in two parts.
//
// Started with a small RLIMIT_NOFILE (ulimit -n 160), lb derives maxconn from it (47) and
// its accept queues (backlog = maxconn): 400 clients held open get 47 served and the others
// queued or refused by the kernel, lb never runs out of descriptors, never spins, and
// serves every new client once the held ones leave.
//
// Then the limit is cut under a running lb (prlimit to its open descriptors + 8, as when
// something else eats them: the case maxconn cannot prevent): with 400 clients held, accept
// fails with EMFILE. lb must log it once (not per accept), pause the listener instead of
// spinning on it (CPU sampled from /proc/PID/stat over 2 s: below 0.3 CPU, where a spinning
// event loop takes a whole one), never crash, and serve new clients once the held ones left.
func TestSoakFDExhaustion(t *testing.T) {
	slSkipShort(t)
	bins := slBuild(t)
	echo, web := slEchoServer(t), slHTTPServer(t)
	held := 400
	window := 2 * time.Second
	if slLong() {
		held, window = 1000, 10*time.Second
	}
	const cpuBound = 0.3

	t.Run("derived_maxconn", func(t *testing.T) {
		tcpPort, httpPort := slPort(t), slPort(t)
		cfg := filepath.Join(t.TempDir(), "lb.cfg")
		os.WriteFile(cfg, []byte(slLimitsConfig(tcpPort, httpPort, echo, web, "")), 0o644)
		p := slStartLB(t, bins.lb, cfg, "ulimit -n 160")
		if !strings.Contains(p.output(), "using 47, derived from the hard limit of open files (160)") {
			t.Errorf("lb does not say it derived maxconn 47 from 160:\n%s", p.output())
		}
		tcpAddr := fmt.Sprintf("127.0.0.1:%d", tcpPort)
		conns, dialErrs := slHold(tcpAddr, held, "ping\n")
		cpu := slCPUOver(t, p.pid(), window)
		fds := slFDs(p.pid())
		served := slEchoed(conns, time.Second)
		for _, c := range conns {
			c.Close()
		}
		t.Logf("%d clients held (%d dials failed), %d served: lb at %.3f CPU, %d fds (limit 160)", len(conns), dialErrs, served, cpu, fds)
		if served != 47 {
			t.Errorf("%d held clients got their echo; want maxconn, 47", served)
		}
		if cpu > cpuBound {
			t.Errorf("lb used %.2f CPU with %d clients held at its maxconn; want < %.1f", cpu, held, cpuBound)
		}
		if fds >= 160 {
			t.Errorf("lb holds %d fds, its limit (160): maxconn did not keep it below", fds)
		}
		if p.exited() {
			t.Fatalf("lb exited")
		}
		if err := slEventually(10*time.Second, func() error { return slEcho(tcpAddr, 2*time.Second) }); err != nil {
			t.Errorf("no echo after the held clients left: %v", err)
		}
		if n := emfileLines(p.output()); n != 0 {
			t.Errorf("%d lines about running out of descriptors with maxconn derived from the limit; want 0", n)
		}
		lbtest.SoakTableRow(t, "RLIMIT_NOFILE 160 at start (loopback)",
			fmt.Sprintf("%d TCP clients held open", held),
			fmt.Sprintf("maxconn derived from the limit: %d served, the rest queued in the kernel; %d fds of 160; %.3f CPU; new clients served once they left", served, fds, cpu),
			"nothing (queued clients wait)",
			slRepro("TestSoakFDExhaustion/derived"))
	})

	t.Run("limit_cut_at_run_time", func(t *testing.T) {
		tcpPort, httpPort := slPort(t), slPort(t)
		cfg := filepath.Join(t.TempDir(), "lb.cfg")
		os.WriteFile(cfg, []byte(slLimitsConfig(tcpPort, httpPort, echo, web, "")), 0o644)
		p := slStartLB(t, bins.lb, cfg, "true")
		tcpAddr := fmt.Sprintf("127.0.0.1:%d", tcpPort)
		httpAddr := fmt.Sprintf("127.0.0.1:%d", httpPort)
		if err := slEcho(tcpAddr, 5*time.Second); err != nil {
			t.Fatalf("echo before the cut: %v", err)
		}
		open := slFDs(p.pid())
		lim := unix.Rlimit{Cur: uint64(open + 8), Max: uint64(open + 8)}
		if err := unix.Prlimit(p.pid(), unix.RLIMIT_NOFILE, &lim, nil); err != nil {
			t.Fatalf("prlimit: %v", err)
		}
		conns, dialErrs := slHold(tcpAddr, held/2, "ping\n")
		more, moreErrs := slHold(httpAddr, held/2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		cpu := slCPUOver(t, p.pid(), window)
		fds := slFDs(p.pid())
		served := slEchoed(conns, time.Second)
		conns = append(conns, more...)
		for _, c := range conns {
			c.Close()
		}
		crashed := p.exited()
		t.Logf("limit %d; %d clients held (%d dials failed), %d TCP ones served: lb at %.3f CPU, %d fds", lim.Cur, len(conns), dialErrs+moreErrs, served, cpu, fds)
		if crashed {
			t.Fatalf("lb exited under descriptor exhaustion")
		}
		if cpu > cpuBound {
			t.Errorf("lb used %.2f CPU while out of descriptors; want < %.1f (a listener it cannot serve must be paused, not polled)", cpu, cpuBound)
		}
		if err := slEventually(10*time.Second, func() error { return slEcho(tcpAddr, 2*time.Second) }); err != nil {
			t.Errorf("tcp: no echo after the held clients left: %v", err)
		}
		if err := slEventually(10*time.Second, func() error {
			st, err := slGet(httpAddr, 2*time.Second)
			if err == nil && !strings.Contains(st, " 200 ") {
				err = fmt.Errorf("status %q", st)
			}
			return err
		}); err != nil {
			t.Errorf("http: no 200 after the held clients left: %v", err)
		}
		out := p.output()
		n := emfileLines(out)
		t.Logf("lines about running out of descriptors: %d", n)
		if n == 0 {
			t.Errorf("lb said nothing about running out of descriptors:\n%s", out)
		}
		if n != 1 {
			t.Errorf("%d lines about running out of descriptors; want one for the episode, not one per accept:\n%s", n, out)
		}
		lbtest.SoakTableRow(t, "RLIMIT_NOFILE cut to the open fds + 8 under a running lb (loopback)",
			fmt.Sprintf("%d clients held open, TCP and HTTP", held),
			fmt.Sprintf("accept fails with EMFILE: %d log line; listeners paused until a connection ends (100 ms at most), %.3f CPU; clients accepted without a descriptor left for their server closed at once (`RC`); no crash; new clients served once the held ones left", n, cpu),
			fmt.Sprintf("the held clients beyond the limit (%d of %d TCP ones served)", served, held/2),
			slRepro("TestSoakFDExhaustion/limit"))
	})
}
