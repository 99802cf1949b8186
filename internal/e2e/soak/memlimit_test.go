package soak

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"lb/internal/lbtest"
)

// memCgroup makes a memory cgroup of the v1 hierarchy limited to limit bytes and returns its
// directory, or skips the test where there is none to make (not root, a host without the v1
// memory controller). The cgroup is removed at the end of the test.
func memCgroup(t *testing.T, limit int64) string {
	t.Helper()
	base := "/sys/fs/cgroup/memory"
	if _, err := os.Stat(filepath.Join(base, "memory.limit_in_bytes")); err != nil {
		t.Skip("no v1 memory controller at " + base)
	}
	dir := filepath.Join(base, fmt.Sprintf("lb-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot make a memory cgroup: %v", err)
	}
	t.Cleanup(func() {
		// Its processes are gone by then (lb's cleanup runs first: registered later).
		for i := 0; i < 50 && os.Remove(dir) != nil; i++ {
			time.Sleep(100 * time.Millisecond) // the kernel releases an emptied cgroup lazily
		}
	})
	if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// oomKills reads the cgroup's OOM kill count (v1 memory.oom_control), -1 if not shown.
func oomKills(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "oom_kill "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return -1
}

// TestSoakMemoryLimit: lb in a cgroup limited to 32 MiB (as a unit's MemoryMax=) takes
// more clients than fit. Without a guard the kernel's OOM killer ends lb and every
// connection with it; lb reads the limit at start, pauses its listeners above 90 % of it
// (logged once, no spinning), serves the connections it holds, and accepts again once
// usage fell under 80 %.
func TestSoakMemoryLimit(t *testing.T) {
	if lbtest.Race() {
		t.Skip("the race detector multiplies lb's memory: a limit sized for lb means nothing to it")
	}
	bins := slBuild(t)
	const limit = 32 << 20
	cg := memCgroup(t, limit)
	echo := slEchoServer(t)
	port := slPort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := filepath.Join(t.TempDir(), "lb.cfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global
    maxconn 9000
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
listen echo
    bind %s
    server e1 %s
`, addr, echo)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := slStartLB(t, bins.lb, cfg, "echo $$ > "+filepath.Join(cg, "cgroup.procs"))
	if !strings.Contains(p.output(), "memory limit of 32 MiB") {
		t.Fatalf("lb does not say it found the cgroup's limit:\n%s", p.output())
	}

	// 7000 clients pass the high-water mark with room to spare. More would exhaust this
	// test's own descriptors before lb's memory: it holds each client's socket and, in
	// its echo server, the server side of each of lb's connections (20000 here).
	const clients = 7000
	conns, dialErrs := slHold(addr, clients, "ping\n")
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	const paused = "memory usage near its limit"
	t0 := time.Now()
	if err := slEventually(10*time.Second, func() error {
		if !strings.Contains(p.output(), paused) {
			return fmt.Errorf("no %q in the log", paused)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v after %d clients (%d dials failed) and %s; usage %s", err, len(conns), dialErrs, time.Since(t0).Round(time.Millisecond), readFile(cg, "memory.usage_in_bytes"))
	}
	served := slEchoed(conns, 5*time.Second)
	cpu := slCPUOver(t, p.pid(), time.Second)
	if p.exited() {
		t.Fatalf("lb died under memory pressure (OOM kills: %d):\n%s", oomKills(cg), p.output())
	}
	if n := strings.Count(p.output(), paused); n != 1 {
		t.Errorf("the pause was logged %d times; want once", n)
	}
	if cpu > 0.3 {
		t.Errorf("lb used %.2f CPU while paused; want it idle", cpu)
	}
	if served == 0 || served >= len(conns) {
		t.Errorf("%d of %d held clients served; want some, not all (the rest wait)", served, len(conns))
	}
	if err := slEcho(addr, 300*time.Millisecond); err == nil {
		t.Errorf("a new client was served above the high-water mark")
	}
	usage := readFile(cg, "memory.usage_in_bytes")

	// The clients leave: lb closes their server connections, usage falls, accepting resumes.
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	if err := slEventually(20*time.Second, func() error { return slEcho(addr, time.Second) }); err != nil {
		t.Fatalf("no new client served after the held ones left: %v; usage %s\n%s", err, readFile(cg, "memory.usage_in_bytes"), p.output())
	}
	if !strings.Contains(p.output(), "listeners resumed") {
		t.Errorf("the end of the episode is not logged:\n%s", p.output())
	}
	if p.exited() || oomKills(cg) > 0 {
		t.Errorf("lb exited or was OOM-killed (%d)", oomKills(cg))
	}
	t.Logf("%d clients held (%d dials failed), %d served before the pause, usage %s bytes of %d at the pause, %.3f CPU while paused",
		clients, dialErrs, served, usage, limit, cpu)
	lbtest.SoakTableRow(t, "a 32 MiB memory limit on lb's cgroup (v1 `memory.limit_in_bytes`, as a unit's `MemoryMax=`)",
		fmt.Sprintf("%d TCP clients held open", clients),
		fmt.Sprintf("listeners paused at 90 %% of the limit, logged once; %d clients served, the rest waited in the kernel's queue; %.3f CPU; no OOM kill; accepting resumed once they left", served, cpu),
		"nothing (the clients beyond the limit wait)", slRepro("TestSoakMemoryLimit"))
}

func readFile(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return strings.TrimSpace(string(b))
}

// TestSoakMemMaxFlag: -m caps lb's memory as HAProxy's -m does, with lb's means: HAProxy
// limits its address space, where an allocation beyond fails; lb watches its own (anonymous)
// resident memory and pauses its listeners above 90 % of the cap (a Go process reserves far
// more address space than it uses). show info says Memmax_MB as HAProxy's. 8 MiB: lb starts
// with about 3 MiB of its own and 4000 held sessions take it past 7.2.
func TestSoakMemMaxFlag(t *testing.T) {
	if lbtest.Race() {
		t.Skip("the race detector multiplies lb's memory: a limit sized for lb means nothing to it")
	}
	bins := slBuild(t)
	echo := slEchoServer(t)
	addr := fmt.Sprintf("127.0.0.1:%d", slPort(t))
	sock := filepath.Join(t.TempDir(), "admin.sock")
	cfg := filepath.Join(t.TempDir(), "lb.cfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global
    maxconn 9000
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
listen echo
    bind %s
    server e1 %s
`, sock, addr, echo)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := slStartLBArgs(t, bins.lb, cfg, "true", "-m", "8")
	if !strings.Contains(p.output(), "memory limit of 8 MiB (-m)") {
		t.Fatalf("lb does not say it took -m:\n%s", p.output())
	}
	info := func() string {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintln(c, "show info")
		var b strings.Builder
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Memmax_") {
				b.WriteString(sc.Text() + "\n")
			}
		}
		return b.String()
	}
	if got, want := info(), "Memmax_MB: 8\nMemmax_bytes: 8388608\n"; got != want {
		t.Errorf("show info: %q, want %q", got, want)
	}
	conns, _ := slHold(addr, 4000, "ping\n")
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	const paused = "memory usage near its limit"
	if err := slEventually(10*time.Second, func() error {
		if !strings.Contains(p.output(), paused) {
			return fmt.Errorf("no %q in the log (RssAnon %d KiB)", paused, slStatusKiB(p.pid(), "RssAnon:"))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if p.exited() {
		t.Fatalf("lb exited:\n%s", p.output())
	}
	if err := slEcho(addr, 300*time.Millisecond); err == nil {
		t.Errorf("a new client was served above the high-water mark")
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	if err := slEventually(20*time.Second, func() error { return slEcho(addr, time.Second) }); err != nil {
		t.Fatalf("no new client served after the held ones left: %v (RssAnon %d KiB)\n%s", err, slStatusKiB(p.pid(), "RssAnon:"), p.output())
	}
}
