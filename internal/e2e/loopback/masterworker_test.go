package loopback

import (
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
)

// Master-worker mode (-W, -Ws) and the master CLI (-S), compared with HAProxy 2.6 where
// it is installed.

// masterCLI sends cmd to the master CLI at sock and returns the whole answer.
func masterCLI(t *testing.T, sock, cmd string) string {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	return cliExchange(c, cmd)
}

// cliExchange sends cmd on c, reads the reply until c closes, and closes c.
func cliExchange(c net.Conn, cmd string) string {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, cmd+"\n")
	b, _ := io.ReadAll(c)
	return string(b)
}

// haproxyMasterCLI is masterCLI for haproxy's master, whose socket refused a connection
// for a moment in a CI run, after it had answered "show proc": the dial is tried again
// for up to 2 s.
func haproxyMasterCLI(t *testing.T, sock, cmd string) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			return cliExchange(c, cmd)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // HAProxy gives no readiness signal with -W
	}
}

// procLine is a line of "show proc": pid, type, reloads.
type procLine struct {
	pid     int
	kind    string
	reloads string
	section string
}

// showProc parses "show proc" into its process lines, each with the section it is in
// ("" for the master, "workers", "old workers").
func showProc(t *testing.T, reply string) []procLine {
	t.Helper()
	var out []procLine
	section := ""
	for _, l := range strings.Split(reply, "\n") {
		switch {
		case strings.HasPrefix(l, "# "):
			section = strings.TrimPrefix(l, "# ")
		case l == "" || strings.HasPrefix(l, "#"):
		default:
			if len(l) < 64 {
				t.Fatalf("show proc line too short: %q", l)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(l[:16]))
			if err != nil {
				t.Fatalf("show proc line %q: %v", l, err)
			}
			out = append(out, procLine{pid: pid, kind: strings.TrimSpace(l[16:32]),
				reloads: strings.TrimSpace(l[32:48]), section: section})
		}
	}
	return out
}

// workers returns the pids of the workers of a section of "show proc".
func workersIn(procs []procLine, section string) []int {
	var pids []int
	for _, p := range procs {
		if p.section == section {
			pids = append(pids, p.pid)
		}
	}
	return pids
}

// maskShowProc keeps the layout of "show proc" and masks what differs between two runs:
// pids, uptimes and versions, each field keeping its column.
func maskShowProc(reply string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(reply, "\n") {
		if l == "" || l[0] < '0' || l[0] > '9' || len(l) < 65 {
			b.WriteString(l)
			continue
		}
		nl := strings.HasSuffix(l, "\n")
		l = strings.TrimSuffix(l, "\n")
		fmt.Fprintf(&b, "%-15s %s%s%-15s %-15s", "PID", l[16:32], l[32:48], "UPTIME", "VERSION")
		if nl {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// startHAProxyMW runs HAProxy 2.6 with args in master-worker mode, when installed, and
// waits until its master CLI at sock shows a worker. It returns the process, or nil.
func startHAProxyMW(t *testing.T, sock string, args ...string) *exec.Cmd {
	t.Helper()
	hap, ok := haproxyPath()
	if !ok {
		return nil
	}
	proc := startProc(t, hap, args...)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			if strings.Contains(masterCLI(t, sock, "show proc"), "worker") {
				return proc.cmd
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy's master CLI did not show a worker:\n%s", proc.out.String())
		}
		time.Sleep(20 * time.Millisecond) // HAProxy gives no readiness signal with -W
	}
}

// TestMasterWorkerCLI: lb -Ws starts a master and a worker; the master is MAINPID; its CLI
// answers help, show proc, unknown commands and prefixes as HAProxy 2.6's (pids, uptimes
// and versions masked), and forwards "@1 show info" and "@!<pid> show info" to the worker.
func TestMasterWorkerCLI(t *testing.T) {
	s := startNameServer(t, "s1")
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, lbConfig(dir, port, s.addr(), ""))
	sock := filepath.Join(dir, "master.sock")
	n := newNotifySocket(t)
	p := startLBNotify(t, n, "-Ws", "-S", sock+",mode,600", "-f", cfg)
	ready := n.waitFor(t, "READY=1", 15*time.Second)
	if mainPid(ready) != p.pid() {
		t.Errorf("READY=1 came with %q; want MAINPID=%d (the master)", ready, p.pid())
	}
	if got, err := askName(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || got != "s1" {
		t.Fatalf("through the worker: %q, %v", got, err)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("master CLI socket: %v, %v; want mode 0600", fi, err)
	}

	procs := showProc(t, masterCLI(t, sock, "show proc"))
	if len(procs) != 2 || procs[0].kind != "master" || procs[0].pid != p.pid() || procs[1].section != "workers" {
		t.Fatalf("show proc: %+v", procs)
	}
	worker := procs[1].pid
	info := masterCLI(t, sock, "@1 show info")
	if !strings.Contains(info, fmt.Sprintf("\nPid: %d\n", worker)) || !strings.HasSuffix(info, "\n\n") {
		t.Errorf("@1 show info:\n%s", info)
	}
	if info := masterCLI(t, sock, fmt.Sprintf("@!%d show info", worker)); !strings.Contains(info, fmt.Sprintf("\nPid: %d\n", worker)) {
		t.Errorf("@!%d show info:\n%s", worker, info)
	}
	if v := masterCLI(t, sock, "show version; @master show version; @ show version"); strings.Count(v, "\n\n") != 3 {
		t.Errorf("show version three times:\n%q", v)
	}
	if got := masterCLI(t, sock, "show cli level; operator; show cli level"); got != "admin\n\noperator\n\n" {
		t.Errorf("levels: %q", got)
	}

	cmds := []string{"help", "show proc", "foo", "", "show", "@2 show info", "@!1 show info", "@!abc show info"}
	lbReplies := map[string]string{}
	for _, c := range cmds {
		lbReplies[c] = maskShowProc(masterCLI(t, sock, c))
	}
	hdir := t.TempDir()
	hsock := filepath.Join(hdir, "master.sock")
	hcfg := writeConfig(t, lbConfig(hdir, freePort(t), s.addr(), ""))
	if startHAProxyMW(t, hsock, "-W", "-S", hsock, "-f", hcfg) == nil {
		t.Skip("haproxy is not installed: no comparison")
	}
	for _, c := range cmds {
		if want := maskShowProc(haproxyMasterCLI(t, hsock, c)); lbReplies[c] != want {
			t.Errorf("%q: lb answers\n%q\nHAProxy\n%q", c, lbReplies[c], want)
		}
	}
}

// TestMasterWorkerReloadUnderLoad: ten reloads of lb -Ws by SIGUSR2 and one by the master
// CLI's "reload", under continuous load (a new connection per request), fail no request;
// the master stays MAINPID, each reload starts a new worker on the same listening socket,
// and the former workers finish and exit 0. SIGTERM to the master then stops everything:
// the worker exits 143, the master 0, as HAProxy's.
func TestMasterWorkerReloadUnderLoad(t *testing.T) {
	s := startNameServer(t, "s1")
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, lbConfig(dir, port, s.addr(), "    hard-stop-after 5s"))
	sock := filepath.Join(dir, "master.sock")
	pidfile := filepath.Join(dir, "lb.pid")
	n := newNotifySocket(t)
	p := startLBNotify(t, n, "-Ws", "-S", sock, "-f", cfg, "-p", pidfile)
	n.waitFor(t, "READY=1", 15*time.Second)
	if got := readPid(t, pidfile); got != p.pid() {
		t.Errorf("pidfile has %d; want the master, %d", got, p.pid())
	}
	inode := listenInode(t, port)
	l := startLoad(fmt.Sprintf("127.0.0.1:%d", port), 4)
	var former []int
	for i := 0; i < 11; i++ {
		before := workersIn(showProc(t, masterCLI(t, sock, "show proc")), "workers")
		former = append(former, before...)
		if i < 10 {
			p.signal(syscall.SIGUSR2)
		} else if got := masterCLI(t, sock, "reload"); got != "" {
			t.Errorf("reload answered %q; want nothing", got)
		}
		n.waitFor(t, "RELOADING=1", 15*time.Second)
		if msg := n.waitFor(t, "READY=1", 15*time.Second); mainPid(msg) != p.pid() {
			t.Errorf("reload %d: %q; want MAINPID=%d", i, msg, p.pid())
		}
		procs := showProc(t, masterCLI(t, sock, "show proc"))
		now := workersIn(procs, "workers")
		if len(now) != 1 || len(before) != 1 || now[0] == before[0] {
			t.Fatalf("reload %d: workers %v, before %v", i, now, before)
		}
		if want := fmt.Sprintf("%d [failed: 0]", i+1); procs[0].reloads != want {
			t.Errorf("reload %d: master reloads %q; want %q", i, procs[0].reloads, want)
		}
		if got := listenInode(t, port); got != inode {
			t.Errorf("reload %d: listening inode %s; want %s", i, got, inode)
		}
	}
	time.Sleep(200 * time.Millisecond) // let the load run against the last worker
	ok, failed, errs := l.end()
	if failed != 0 || ok == 0 {
		t.Errorf("requests: %d ok, %d failed over 11 reloads; want 0 failed. first errors: %q", ok, failed, errs)
	}
	for _, pid := range former {
		waitGone(t, pid, 10*time.Second)
		p.waitOutput(fmt.Sprintf("Former worker (%d) exited with code 0 (Exit)", pid), 5*time.Second)
	}
	last := workersIn(showProc(t, masterCLI(t, sock, "show proc")), "workers")
	p.signal(syscall.SIGTERM)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Errorf("master exit code on SIGTERM: %d; want 0", code)
	}
	p.waitOutput(fmt.Sprintf("Current worker (%d) exited with code 143 (Terminated)", last[0]), time.Second)
	p.waitOutput("All workers exited. Exiting... (0)", time.Second)
	waitGone(t, last[0], 5*time.Second)
}

// TestMasterWorkerBrokenReload: a reload with a configuration that does not load keeps
// the worker serving; the master says why, counts the failure in show proc and answers
// READY=1; the next reload with a fixed configuration works.
func TestMasterWorkerBrokenReload(t *testing.T) {
	s := startNameServer(t, "s1")
	dir := t.TempDir()
	port := freePort(t)
	good := lbConfig(dir, port, s.addr(), "")
	cfg := writeConfig(t, good)
	sock := filepath.Join(dir, "master.sock")
	n := newNotifySocket(t)
	p := startLBNotify(t, n, "-Ws", "-S", sock, "-f", cfg)
	n.waitFor(t, "READY=1", 15*time.Second)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	worker := workersIn(showProc(t, masterCLI(t, sock, "show proc")), "workers")

	if err := os.WriteFile(cfg, []byte(good+"    bogus_kw foo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGUSR2)
	n.waitFor(t, "READY=1", 15*time.Second)
	p.waitOutput("unknown keyword 'bogus_kw' in 'listen' section", time.Second)
	p.waitOutput("Loading failure!", time.Second)
	procs := showProc(t, masterCLI(t, sock, "show proc"))
	if procs[0].reloads != "1 [failed: 1]" {
		t.Errorf("master reloads %q; want \"1 [failed: 1]\"", procs[0].reloads)
	}
	if now := workersIn(procs, "workers"); len(now) != 1 || now[0] != worker[0] {
		t.Errorf("workers after a failed reload: %v; want %v", now, worker)
	}
	if got, err := askName(addr); err != nil || got != "s1" {
		t.Errorf("after a failed reload: %q, %v", got, err)
	}
	if got := masterCLI(t, sock, "prompt\nquit"); got != "master[ReloadFailed]> " {
		t.Errorf("prompt after a failed reload: %q", got)
	}

	if err := os.WriteFile(cfg, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGUSR2)
	n.waitFor(t, "READY=1", 15*time.Second)
	procs = showProc(t, masterCLI(t, sock, "show proc"))
	if now := workersIn(procs, "workers"); len(now) != 1 || now[0] == worker[0] {
		t.Errorf("workers after a good reload: %v (before %v)", now, worker)
	}
	if procs[0].reloads != "2 [failed: 1]" {
		t.Errorf("master reloads %q; want \"2 [failed: 1]\"", procs[0].reloads)
	}
	if got := masterCLI(t, sock, "prompt\nquit"); got != "master> " {
		t.Errorf("prompt after a good reload: %q", got)
	}
	if got, err := askName(addr); err != nil || got != "s1" {
		t.Errorf("after the good reload: %q, %v", got, err)
	}
}

// TestMasterWorkerExitCodes: the master's exit code and messages on SIGINT and when its
// worker dies are HAProxy's: SIGINT reaches the worker, which exits 130, and the master
// exits 130; a worker killed makes the master stop and exit with its code (137).
func TestMasterWorkerExitCodes(t *testing.T) {
	s := startNameServer(t, "s1")
	for _, c := range []struct {
		name   string
		worker bool
		sig    syscall.Signal
		code   int
		says   string
	}{
		{"SIGINT", false, syscall.SIGINT, 130, "exited with code 130 (Interrupt)"},
		{"worker killed", true, syscall.SIGKILL, 137, "exit-on-failure: killing every processes with SIGTERM"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeConfig(t, lbConfig(dir, freePort(t), s.addr(), ""))
			sock := filepath.Join(dir, "master.sock")
			p := startLB(t, "-Ws", "-S", sock, "-f", cfg)
			w := workersIn(showProc(t, masterCLI(t, sock, "show proc")), "workers")
			if c.worker {
				syscall.Kill(w[0], c.sig)
			} else {
				p.signal(c.sig)
			}
			if code := p.wait(10 * time.Second); code != c.code {
				t.Errorf("master exit code %d; want %d", code, c.code)
			}
			p.waitOutput(c.says, time.Second)
			p.waitOutput(fmt.Sprintf("All workers exited. Exiting... (%d)", c.code), time.Second)
			waitGone(t, w[0], 5*time.Second)
		})
	}
}

// TestMasterWorkerKeyword: "master-worker" in the global section is -W: lb started with
// -db runs a master, whose CLI shows a worker other than itself.
func TestMasterWorkerKeyword(t *testing.T) {
	s := startNameServer(t, "s1")
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, lbConfig(dir, port, s.addr(), "    master-worker no-exit-on-failure"))
	sock := filepath.Join(dir, "master.sock")
	p := startLBNotify(t, newNotifySocket(t), "-db", "-S", sock, "-f", cfg)
	deadline := time.Now().Add(15 * time.Second)
	var w []int
	for len(w) == 0 {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			w = workersIn(showProc(t, masterCLI(t, sock, "show proc")), "workers")
		}
		if len(w) == 0 && time.Now().After(deadline) {
			t.Fatalf("no worker in show proc:\n%s", p.out.String())
		}
		time.Sleep(20 * time.Millisecond) // without -Ws there is no readiness message
	}
	if w[0] == p.pid() {
		t.Errorf("the worker is the process started (%d)", w[0])
	}
	if got, err := askName(fmt.Sprintf("127.0.0.1:%d", port)); err != nil || got != "s1" {
		t.Errorf("through the worker: %q, %v", got, err)
	}
}

// TestMasterWorkerReloadKeepsOperatorState: what an operator changes in the worker through
// the master CLI (maintenance, drain, a weight, an added server) is still there in the
// worker a reload of the master starts, as over a -sf -x reload (HAProxy 2.6 loses it
// without a server-state-file); connections keep away from the server in maintenance.
func TestMasterWorkerReloadKeepsOperatorState(t *testing.T) {
	s1, s2, s3, s4 := startNameServer(t, "s1"), startNameServer(t, "s2"), startNameServer(t, "s3"), startNameServer(t, "s4")
	dir := t.TempDir()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, fmt.Sprintf(`
global
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen app
    bind 127.0.0.1:%d
    server s1 %s
    server s2 %s
    server s3 %s
`, port, s1.addr(), s2.addr(), s3.addr()))
	sock := filepath.Join(dir, "master.sock")
	n := newNotifySocket(t)
	startLBNotify(t, n, "-Ws", "-S", sock, "-f", cfg)
	n.waitFor(t, "READY=1", 15*time.Second)
	for _, c := range []string{"@1 set server app/s1 state maint", "@1 set weight app/s2 7",
		"@1 set server app/s3 state drain", "@1 add server app/s4 " + s4.addr(), "@1 enable server app/s4"} {
		if out := masterCLI(t, sock, c); strings.TrimSpace(out) != "" && !strings.Contains(out, "New server registered") {
			t.Fatalf("%s: %q", c, out)
		}
	}
	// fields: srv_name, srv_admin_state, srv_uweight.
	state := func() string {
		var got []string
		for _, l := range stateLines(masterCLI(t, sock, "@1 show servers state app")) {
			f := strings.Fields(l)
			got = append(got, f[3]+" "+f[6]+" "+f[7])
		}
		return strings.Join(got, ", ")
	}
	const want = "s1 1 1, s2 0 7, s3 8 1, s4 0 1"
	if got := state(); got != want {
		t.Fatalf("before the reload: servers %q; want %q", got, want)
	}
	before := workersIn(showProc(t, masterCLI(t, sock, "show proc")), "workers")
	for i := 0; i < 2; i++ {
		if got := masterCLI(t, sock, "reload"); got != "" {
			t.Errorf("reload answered %q; want nothing", got)
		}
		n.waitFor(t, "RELOADING=1", 15*time.Second)
		n.waitFor(t, "READY=1", 15*time.Second)
		now := workersIn(showProc(t, masterCLI(t, sock, "show proc")), "workers")
		if len(now) != 1 || now[0] == before[0] {
			t.Fatalf("reload %d: workers %v, before %v", i, now, before)
		}
		before = now
		if got := state(); got != want {
			t.Errorf("after reload %d: servers %q; want %q", i, got, want)
		}
		for j := 0; j < 6; j++ {
			name, err := askName(addr)
			if err != nil {
				t.Fatalf("after reload %d: %v", i, err)
			}
			if name == "s1" || name == "s3" {
				t.Errorf("after reload %d: connection %d went to %s", i, j, name)
			}
		}
	}
}

// TestMasterCLIPayload: a command forwarded by the master CLI takes its payload ("<<",
// then lines up to an empty one) to the worker: "@1 add map M <<" adds the payload's
// entries, and a map rule routes by them at once. Every reply, errors included, is
// HAProxy 2.6's for the same lines (entry ids masked).
func TestMasterCLIPayload(t *testing.T) {
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	cases := []string{
		"@1 add map DIR/nets.map <<\n127.0.0.0/8 bk2\n",
		"@1 add map DIR/str.map <<\nb 2\nc  3 4 \n\tf\t6\n",
		"@1 add map DIR/str.map <<\n",
		"@1 add map DIR/str.map <<\nd\n",
		"@1 add map DIR/str.map k1 v1 <<\nk2 v2\nk3\nk4 v4\nk5   \n",
		"@1 add map DIR/str.map <<; show cli level\nzz 1\n",
		"@1 add map DIR/nomap <<\nk v\n",
		"@1 add map DIR/nets.map <<\nnot-an-ip x\n",
		"add map str.map <<\nh 8\n",
		"prompt\nadd map str.map <<\nh 8\n\nquit",
		"prompt\n@1 add map DIR/str.map <<\nh9 8\n\nquit",
		"@1 show map DIR/str.map",
		"@1 show map DIR/nets.map",
	}
	run := func(t *testing.T, start func(dir, cfg, sock string) string) []string {
		dir := t.TempDir()
		for name, text := range map[string]string{"nets.map": "10.0.0.0/8 bk2\n", "str.map": "a 1\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cfg := writeConfig(t, fmt.Sprintf(`
defaults
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend bymap
    mode tcp
    bind 127.0.0.1:%[1]d
    use_backend %%[src,map_ip(%[2]s/nets.map,bk1)]
frontend http
    mode http
    bind 127.0.0.1:%[5]d
    http-request set-header X-M %%[path,map(%[2]s/str.map)]
    default_backend bkh
backend bk1
    mode tcp
    server s1 %[3]s
backend bk2
    mode tcp
    server s2 %[4]s
backend bkh
    mode http
    server h 127.0.0.1:%[5]d
`, freePort(t), dir, s1.addr(), s2.addr(), freePort(t)))
		sock := filepath.Join(dir, "master.sock")
		addr := start(dir, cfg, sock)
		if got, err := askName(addr); err != nil || got != "s1" {
			t.Fatalf("before: %q, %v; want s1", got, err)
		}
		var out []string
		for i, c := range cases {
			r := masterCLIPayload(t, sock, strings.ReplaceAll(c, "DIR", dir))
			out = append(out, entryIDs.ReplaceAllString(strings.ReplaceAll(r, dir, "DIR"), "0xID"))
			if i == 0 {
				// The entry routes the next connection at once.
				if got, err := askName(addr); err != nil || got != "s2" {
					t.Errorf("after %q: %q, %v; want s2", c, got, err)
				}
			}
		}
		return out
	}
	bymap := func(cfg string) string {
		b, _ := os.ReadFile(cfg)
		_, rest, _ := strings.Cut(string(b), "frontend bymap\n    mode tcp\n    bind ")
		a, _, _ := strings.Cut(rest, "\n")
		return a
	}
	lb := run(t, func(dir, cfg, sock string) string {
		n := newNotifySocket(t)
		startLBNotify(t, n, "-Ws", "-S", sock, "-f", cfg)
		n.waitFor(t, "READY=1", 15*time.Second)
		return bymap(cfg)
	})
	var hap []string
	t.Run("haproxy", func(t *testing.T) {
		hap = run(t, func(dir, cfg, sock string) string {
			if startHAProxyMW(t, sock, "-W", "-S", sock, "-f", cfg) == nil {
				t.Skip("haproxy is not installed: no comparison")
			}
			return bymap(cfg)
		})
	})
	if hap == nil {
		return
	}
	for i, c := range cases {
		if lb[i] != hap[i] {
			t.Errorf("%q: lb answers\n%q\nHAProxy\n%q", c, lb[i], hap[i])
		}
	}
}

// masterCLIPayload is masterCLI ending the connection's sending side after cmd: HAProxy's
// master keeps a connection that sent a payload open until then.
func masterCLIPayload(t *testing.T, sock, cmd string) string {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, cmd+"\n")
	c.(*net.UnixConn).CloseWrite()
	b, _ := io.ReadAll(c)
	return string(b)
}
