package systemd_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"lb/internal/lbtest"
	"lb/internal/lbtest/nspawn"
)

// Issue 16, scenario 1 under a real systemd: reloads by `systemctl reload`, restarts and
// crash restarts under continuous HTTP and TCP load. Short variant: 10 reloads, 1 restart,
// 1 crash; LB_SOAK=1: 100, 5 and 5 (the other 100 reloads of the 200 are the
// loopback -sf -x ones, internal/e2e/soak).

// soakCfg serves HTTP on lb.socket's 127.0.0.1:8080 ("web") and TCP on 127.0.0.1:8081,
// which lb binds itself and keeps in systemd's fd store.
const soakCfg = `global
    stats socket /run/lb/admin.sock mode 600 level admin expose-fd listeners
    hard-stop-after 30s

defaults
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-request 5s
    timeout http-keep-alive 5s

frontend web
    mode http
    bind 127.0.0.1:8080 name web
    default_backend app

backend app
    mode http
    balance roundrobin
    server a 127.0.0.1:9001
    server b 127.0.0.1:9002

listen echo
    mode tcp
    bind 127.0.0.1:8081 name echo
    server e1 127.0.0.1:9101
`

const soakEchoAddr = "127.0.0.1:8081"

// soakLong reports whether the long variant runs (LB_SOAK=1).
func soakLong() bool { return os.Getenv("LB_SOAK") == "1" }

// soakReport is loadgen's report with the keep-alive counters.
type soakReport struct {
	Report
	Conns   int64 `json:"conns"`
	Retried int64 `json:"retried"`
}

// soakStop stops l and reads its report with the keep-alive counters too.
func soakStop(l *loadRun) soakReport {
	l.t.Helper()
	r := l.stop()
	var s soakReport
	s.Report = r
	l.mu.Lock()
	last := l.lines[len(l.lines)-1]
	l.mu.Unlock()
	_ = json.Unmarshal([]byte(last), &s)
	return s
}

// soakLoads starts the scenario's four loads: HTTP and TCP, each with a new connection per
// request and on kept connections (HTTP keep-alive, TCP sessions of 20 exchanges).
func (w *world) soakLoads() map[string]*loadRun {
	common := []string{"-c", "2", "-rate", "100", "-timeout", "5s"}
	return map[string]*loadRun{
		"http":            w.startLoad(true, append([]string{"-addr", frontAddr}, common...)...),
		"http keep-alive": w.startLoad(true, append([]string{"-addr", frontAddr, "-keepalive", "100"}, common...)...),
		"tcp":             w.startLoad(true, append([]string{"-addr", soakEchoAddr, "-mode", "tcp"}, common...)...),
		"tcp sessions":    w.startLoad(true, append([]string{"-addr", soakEchoAddr, "-mode", "tcp", "-keepalive", "20"}, common...)...),
	}
}

// procSample reads the RSS (KiB) and the number of open fds of the container's process pid.
func (w *world) procSample(pid int) (rss int64, fds int) {
	w.t.Helper()
	out, err := w.c.Exec("sh", "-c", fmt.Sprintf("awk '/^VmRSS:/{print $2}' /proc/%d/status; ls /proc/%d/fd | wc -l", pid, pid))
	f := strings.Fields(out)
	if err != nil || len(f) != 2 {
		w.t.Fatalf("sample of %d: %v %q", pid, err, out)
	}
	rss, _ = strconv.ParseInt(f[0], 10, 64)
	fds, _ = strconv.Atoi(f[1])
	return rss, fds
}

// unitProcs lists the processes in lb.service's cgroup (pid and command line).
func (w *world) unitProcs() []string {
	w.t.Helper()
	out, _ := w.c.Exec("sh", "-c", `for f in /proc/[0-9]*/cgroup; do grep -q '/lb\.service$' $f 2>/dev/null && p=${f%/cgroup} && echo "${p#/proc/} $(tr '\0' ' ' < $p/cmdline)"; done; true`)
	var ps []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			ps = append(ps, l)
		}
	}
	return ps
}

// waitNewMain waits until lb.service is active again with a MainPID other than old after
// NRestarts moved from restarts.
func (w *world) waitNewMain(old int, restarts string, within time.Duration) int {
	w.t.Helper()
	deadline := time.Now().Add(within)
	for {
		if w.show(unitSvc, "NRestarts") != restarts && w.show(unitSvc, "ActiveState") == "active" {
			if pid := w.mainPID(unitSvc); pid != 0 && pid != old {
				return pid
			}
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("lb.service did not restart within %v after kill -9 of %d", within, old)
		}
		time.Sleep(50 * time.Millisecond) // systemd's state, polled: no event reaches the test
	}
}

// soakRepro is the command that reproduces the variant that ran of the test named run.
func soakRepro(run string) string {
	env := ""
	if soakLong() {
		env = "LB_SOAK=1 "
	}
	return "`" + env + "go test -count=1 -run '" + run + "' ./internal/e2e/systemd/`"
}

// TestSoakSystemdReloadsRestarts is issue 16's scenario 1 in the container, on each
// release: under four continuous loads (HTTP and TCP, new connections and kept ones),
// `systemctl reload` again and again, then `systemctl restart`s: no request may fail (a
// keep-alive request finding its idle connection closed by the leaving process is sent
// again, as clients do, and counted). Then crash restarts (kill -9 of the main process;
// lb.socket and the fd store keep the listeners): no connection refused, only the requests
// the killed process had in hand may fail, at most one per load worker. At the end one lb
// process is left in the unit's cgroup, holding the fds the first one held when quiet, and
// the RSS of the successive main processes does not grow with their number.
func TestSoakSystemdReloadsRestarts(t *testing.T) {
	forEachRelease(t, testSoakSystemdReloadsRestarts)
}

func testSoakSystemdReloadsRestarts(t *testing.T, rel nspawn.Release) {
	reloads, restartsN, crashes := 10, 1, 1
	if soakLong() {
		reloads, restartsN, crashes = 100, 5, 5
	}
	bin := t.TempDir()
	lb, lbctl := buildLB(t, bin, "0.0.0-soak")
	w := mkWorld(t, rel)
	w.installLB(lb, lbctl)
	w.writeFile("/etc/lb/lb.cfg", soakCfg, 0o644)
	w.run("systemd-run", "--unit=lbtest-backend-a", "-p", "Type=notify", "--", backendPath, "-name", "a", "-http", "127.0.0.1:9001", "-echo", "127.0.0.1:9101")
	w.startBackend("b", "127.0.0.1:9002")
	w.dumpOnFailure(unitSvc, unitSock)
	w.journalOnFailure(unitSvc)
	w.ensureSocketService()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if n, _ := strconv.Atoi(w.show(unitSvc, "NFileDescriptorStore")); n >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the self-bound listener %s is not in the fd store 5s after the start", soakEchoAddr)
		}
	}
	first := w.mainPID(unitSvc)
	// The quiet count is the least of a few samples: a process just started may still hold
	// a descriptor of its start-up.
	_, fdsQuiet := w.procSample(first)
	for i := 0; i < 4; i++ {
		time.Sleep(50 * time.Millisecond) // sampling; no event says start-up is over
		_, f := w.procSample(first)
		fdsQuiet = min(fdsQuiet, f)
	}

	var rss []float64
	var fdsLoaded []int
	pids := []int{first}
	sample := func(pid int) {
		r, f := w.procSample(pid)
		rss, fdsLoaded = append(rss, float64(r)), append(fdsLoaded, f)
	}
	loads := w.soakLoads()
	start := time.Now()
	for i := 0; i < reloads; i++ {
		time.Sleep(300 * time.Millisecond) // each generation serves the load a while
		old := pids[len(pids)-1]
		sample(old)
		if out, err := w.reload(); err != nil {
			for _, l := range loads {
				l.stop()
			}
			t.Fatalf("reload %d: %v\n%s", i+1, err, out)
		}
		now := w.mainPID(unitSvc)
		if now == 0 || now == old {
			t.Fatalf("reload %d: MainPID %d -> %d; want a new one", i+1, old, now)
		}
		pids = append(pids, now)
	}
	reloadTook := time.Since(start)
	for i := 0; i < restartsN; i++ {
		time.Sleep(300 * time.Millisecond)
		old := pids[len(pids)-1]
		sample(old)
		w.resetFailed() // restarts faster than StartLimitBurst= allows are the test's, not a crash loop
		if out, err := w.c.Exec("systemctl", "restart", unitSvc); err != nil {
			t.Errorf("restart %d: %v\n%s", i+1, err, out)
		}
		now := w.mainPID(unitSvc)
		if now == 0 || now == old {
			t.Fatalf("restart %d: MainPID %d -> %d; want a new one", i+1, old, now)
		}
		pids = append(pids, now)
	}
	time.Sleep(300 * time.Millisecond)
	var total, failed, retried int64
	for name, l := range loads {
		r := soakStop(l)
		t.Logf("reloads and restarts: load %s: %v (retried %d on %d connections)", name, r.Report, r.Retried, r.Conns)
		total, failed, retried = total+r.Total, failed+r.Failed, retried+r.Retried
		if r.OK == 0 || r.Failed != 0 {
			t.Errorf("load %s across %d reloads and %d restarts: %d ok, %d failed; want none failed: %v", name, reloads, restartsN, r.OK, r.Failed, r.Errors)
		}
	}

	// Crash restarts, under loads of their own: what the killed process had accepted dies
	// with it; nothing is refused.
	crashLoads := w.soakLoads()
	var workers int64 = 8 // 4 loads of 2 workers: at most one request in hand each
	for i := 0; i < crashes; i++ {
		time.Sleep(300 * time.Millisecond)
		old := pids[len(pids)-1]
		sample(old)
		w.resetFailed()
		n := w.show(unitSvc, "NRestarts")
		w.run("kill", "-KILL", strconv.Itoa(old))
		pids = append(pids, w.waitNewMain(old, n, 30*time.Second))
	}
	time.Sleep(300 * time.Millisecond)
	last := pids[len(pids)-1]
	sample(last)
	var crashTotal, crashFailed, refused int64
	for name, l := range crashLoads {
		r := soakStop(l)
		t.Logf("crash restarts: load %s: %v", name, r.Report)
		crashTotal, crashFailed, refused = crashTotal+r.Total, crashFailed+r.Failed, refused+r.Refused
		if r.OK == 0 {
			t.Errorf("crash restarts: load %s: no request succeeded", name)
		}
		if other := r.Failed - r.Reset - r.EOF; other != 0 {
			t.Errorf("crash restarts: load %s: %d failures other than connections reset or closed by the killed process: %v", name, other, r.Errors)
		}
	}
	if refused != 0 {
		t.Errorf("crash restarts: %d connections refused; want 0 (lb.socket and the fd store hold the listeners)", refused)
	}
	if crashFailed > int64(crashes)*workers {
		t.Errorf("crash restarts: %d requests failed over %d kills; want at most %d, those in hand when killed", crashFailed, crashes, int64(crashes)*workers)
	}

	// Nothing left behind.
	for _, pid := range pids[:len(pids)-1] {
		w.waitExit(pid, 35*time.Second)
	}
	procs := w.unitProcs()
	if len(procs) != 1 || !strings.HasPrefix(procs[0], strconv.Itoa(last)+" ") {
		t.Errorf("processes in lb.service's cgroup: %q; want only MainPID %d", procs, last)
	}
	if ps := w.lbProcesses(); strings.Count(ps, "\n") != 0 {
		t.Errorf("lb processes in the container:\n%s\nwant one", ps)
	}
	_, fdsEnd := w.procSample(last)
	for deadline := time.Now().Add(5 * time.Second); fdsEnd != fdsQuiet && time.Now().Before(deadline); _, fdsEnd = w.procSample(last) {
		time.Sleep(100 * time.Millisecond) // the loads' connections closing: no event for it
	}
	if fdsEnd != fdsQuiet {
		t.Errorf("fds of the last main process, quiet: %d; the first held %d", fdsEnd, fdsQuiet)
	}
	// The slope is fitted over the generations made by reloads (hand-overs); a restarted
	// process starts afresh, and its RSS is reported beside.
	slope, se := lbtest.Slope(rss[:reloads+1])
	t.Logf("%d reloads in %v, %d restarts, %d crash restarts; requests %d, failed %d, retried %d; crash phase: requests %d, failed %d (in hand when killed), refused %d",
		reloads, reloadTook.Round(time.Millisecond), restartsN, crashes, total, failed, retried, crashTotal, crashFailed, refused)
	t.Logf("RSS per main process (KiB): %v; slope over the %d reloads %.1f ± %.1f KiB per generation", rss, reloads, slope, se)
	t.Logf("fds per main process under load: %v; quiet: first %d, last %d", fdsLoaded, fdsQuiet, fdsEnd)
	// Each generation is a new process; what it takes over (listeners, server state, ticket
	// keys) does not grow with the reloads. The bound is 64 KiB per generation plus twice
	// the slope's standard error (the garbage collector's timing moves a generation's RSS by
	// a few MiB): a leak of a few hundred KiB per hand-over shows within the short variant.
	if bound := 64 + 2*se; slope > bound {
		t.Errorf("RSS grows %.1f KiB per reload (bound %.1f): %v", slope, bound, rss)
	}
	lbtest.SoakTableRow(t, fmt.Sprintf("%d × `systemctl reload`, %d × `systemctl restart` (%s)", reloads, restartsN, rel),
		"HTTP on lb.socket and TCP in the fd store, new connections and kept ones, 400 req/s",
		fmt.Sprintf("each reload named a new MainPID and the old process drained and exited; %d keep-alive requests met their idle connection closed and were sent again; fds quiet %d → %d; RSS slope %.1f ± %.1f KiB per reload; one process left in the cgroup", retried, fdsQuiet, fdsEnd, slope, se),
		fmt.Sprintf("%d of %d requests", failed, total),
		soakRepro("TestSoakSystemdReloadsRestarts"))
	lbtest.SoakTableRow(t, fmt.Sprintf("%d × `kill -9` of MainPID, crash restart (%s)", crashes, rel),
		"the same loads",
		"systemd restarted lb (Restart=on-failure) with the listeners of lb.socket and the fd store; no connection refused",
		fmt.Sprintf("%d of %d requests: those the killed process had in hand (at most one per load worker)", crashFailed, crashTotal),
		soakRepro("TestSoakSystemdReloadsRestarts"))
}
