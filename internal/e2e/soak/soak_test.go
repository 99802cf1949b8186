// Package soak holds lb's fault tests: the real lb binary (and HAProxy 2.6 on the same
// configuration, where the outcome is compared) under continuous load on loopback while its
// servers, clients and its own process are made to fail.
//
// Each test has a short variant of a few seconds that runs in the default `go test ./...`
// (skipped with -short), and a long one under `make soak` (LB_SOAK=1). Each test appends its
// row of the README's "Faults" table (| fault | load | what happened | lost | reproduce |) to
// the file named by LB_SOAK_TABLE when it is set; `make soak` prints that file at the end.
package soak

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
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
	binDir    string
	lbBin     string
	backBin   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// build compiles cmd/lb and the test backend once per test run.
func build(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "lb-soak-")
		if buildErr != nil {
			return
		}
		if lbBin, buildErr = lbtest.Build(binDir, "./cmd/lb", ""); buildErr != nil {
			return
		}
		backBin, buildErr = lbtest.Build(binDir, "./internal/lbtest/backend", "")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// long says whether the long variants run (LB_SOAK=1, as `make soak` sets).
func long() bool { return os.Getenv("LB_SOAK") == "1" }

// skipShort skips the test under -short (make test-unit): even the short variants take
// seconds.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() && !long() {
		t.Skip("a fault test under load: skipped with -short")
	}
}

// pick returns short in the default run and long under LB_SOAK=1.
func pick[T any](short, long_ T) T {
	if long() {
		return long_
	}
	return short
}

// newRand returns the test's random source, seeded by $LB_SOAK_SEED when set (to replay a
// run), else by the clock; the seed is logged.
func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed, err := strconv.ParseUint(os.Getenv("LB_SOAK_SEED"), 10, 64)
	if err != nil {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("random seed %d (LB_SOAK_SEED=%d replays it)", seed, seed)
	return rand.New(rand.NewPCG(seed, 0))
}

// haproxyBin is HAProxy's binary; the test is skipped when it is not installed.
func haproxyBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy"
	}
	t.Skip("haproxy is not installed")
	return ""
}

// freePort returns a TCP port on 127.0.0.1 reserved for the whole test (lbtest.ReservePort).
func freePort(t *testing.T) int { return lbtest.ReservePort(t) }

func freeAddr(t *testing.T) string { return fmt.Sprintf("127.0.0.1:%d", freePort(t)) }

// writeConfig writes text to a file in a fresh directory and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lb.cfg")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// row appends a row of the README's "Faults" table to $LB_SOAK_TABLE, when set, and logs it.
func row(t *testing.T, fault, load, happened, lost, reproduce string) {
	t.Helper()
	line := fmt.Sprintf("| %s | %s | %s | %s | `%s` |\n", fault, load, happened, lost, reproduce)
	t.Log("row: " + strings.TrimSpace(line))
	path := os.Getenv("LB_SOAK_TABLE")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("rows file: %v", err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		t.Errorf("rows file: %v", err)
	}
}

// proc is a proxy process (lb or haproxy) of the test's own, its output in a file.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *os.File
	done chan struct{}
}

// output is everything the process wrote so far.
func (p *proc) output() string {
	b, _ := os.ReadFile(p.out.Name())
	return string(b)
}

// start starts bin with args, output to a file, and stops it (SIGTERM, then SIGKILL) at the
// end of the test. env is added to the environment.
func start(t *testing.T, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), name)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, out: f, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
		// What the race detector prints when the binaries are built with -race.
		if strings.Contains(p.output(), "WARNING: DATA RACE") {
			t.Errorf("%s found a data race", name)
		}
		if t.Failed() {
			out := p.output()
			if len(out) > 20000 {
				out = "…" + out[len(out)-20000:]
			}
			t.Logf("%s output:\n%s", name, out)
		}
		f.Close()
	})
	return p
}

// startLB starts lb in the foreground on cfg and waits for its READY=1 on a notify socket
// of the test's own.
func startLB(t *testing.T, cfg string) *proc {
	t.Helper()
	build(t)
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
	// Open until the end: lb sends more than READY=1 (FDSTORE=1 with its listeners).
	t.Cleanup(func() { c.Close() })
	p := start(t, "lb", lbBin, []string{"NOTIFY_SOCKET=" + path}, "-db", "-f", cfg)
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("lb sent no READY=1: %v\n%s", err, p.output())
		}
		if strings.Contains(string(buf[:n]), "READY=1") {
			return p
		}
	}
}

// startHAProxy starts haproxy in the foreground on cfg and waits until addr accepts (it
// has no readiness signal outside master-worker mode; the probe is logged as a client that
// sent nothing).
func startHAProxy(t *testing.T, cfg, addr string) *proc {
	t.Helper()
	p := start(t, "haproxy", haproxyBin(t), nil, "-db", "-f", cfg)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy does not accept on %s: %v\n%s", addr, err, p.output())
		}
		time.Sleep(20 * time.Millisecond) // no readiness signal from haproxy -db
	}
}

// startProxy starts lb or haproxy (kind) on cfg whose first frontend binds addr.
func startProxy(t *testing.T, kind, cfg, addr string) *proc {
	t.Helper()
	if kind == "haproxy" {
		return startHAProxy(t, cfg, addr)
	}
	return startLB(t, cfg)
}

// adminCommand sends one runtime API command to the unix socket sock and returns the reply.
func adminCommand(sock, cmd string) (string, error) {
	c, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// backend is a process of the test backend (lbtest/backend): an HTTP responder and a TCP
// echo server, which the test kills, stops and restarts on the same addresses.
type backend struct {
	t              *testing.T
	name           string
	httpAt, echoAt string
	mu             sync.Mutex // guards cmd and done
	cmd            *exec.Cmd
	done           chan struct{}
}

// startBackend starts a backend process named name on two fresh ports and waits for it to
// listen; it is killed at the end of the test.
func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	build(t)
	b := &backend{t: t, name: name, httpAt: freeAddr(t), echoAt: freeAddr(t)}
	if err := b.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.kill() })
	return b
}

// start runs the process and waits for its "ready" line.
func (b *backend) start() error {
	cmd := exec.Command(backBin, "-name", b.name, "-http", b.httpAt, "-echo", b.echoAt)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start backend %s: %w", b.name, err)
	}
	done := make(chan struct{})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if sc.Text() == "ready" && !ok {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
		_ = cmd.Wait()
		close(done)
	}()
	if !<-ready {
		<-done
		return fmt.Errorf("backend %s exited before listening (%s)", b.name, cmd.ProcessState)
	}
	b.mu.Lock()
	b.cmd, b.done = cmd, done
	b.mu.Unlock()
	return nil
}

// signal sends sig to the running process.
func (b *backend) signal(sig syscall.Signal) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return errors.New("backend " + b.name + " is not running")
	}
	return b.cmd.Process.Signal(sig)
}

// kill kills the process (stopped or not) and waits for it to exit.
func (b *backend) kill() {
	b.mu.Lock()
	cmd, done := b.cmd, b.done
	b.cmd = nil
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}
