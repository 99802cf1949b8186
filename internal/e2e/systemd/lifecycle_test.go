package systemd_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"lb/internal/lbtest"
	"lb/internal/lbtest/nspawn"
)

// The configuration of the issue 5 scenarios: one TCP frontend named "web" (the name of the
// socket lb.socket passes) in front of two test backends.
const lifecycleCfg = `global
    stats socket /run/lb/admin.sock mode 600 level admin expose-fd listeners
    hard-stop-after 30s

defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s

frontend web
    bind 127.0.0.1:8080 name web
    default_backend app

backend app
    balance roundrobin
    server a 127.0.0.1:9001
    server b 127.0.0.1:9002
`

// brokenLine is the line of lifecycleCfg+brokenTail that holds the error.
var brokenLine = strings.Count(lifecycleCfg, "\n") + 1

const brokenTail = "    no-such-keyword here\n"

// The drop-in that makes lb.socket hold the test's listener under the name "web".
const socketDropIn = `[Socket]
ListenStream=
ListenStream=127.0.0.1:8080
FileDescriptorName=web
`

const (
	frontAddr = "127.0.0.1:8080"
	unitSvc   = "lb.service"
	unitSock  = "lb.socket"
)

// loadArgs is the continuous load of the scenarios: a new connection per request, 4 workers,
// 400 requests per second in all.
var loadArgs = []string{"-addr", frontAddr, "-c", "4", "-rate", "400", "-timeout", "5s"}

// buildLB builds lb and lbctl as the release does (static, stripped, with a version).
func buildLB(t *testing.T, dir, version string) (lb, lbctl string) {
	t.Helper()
	ld := "-s -w -X lb/internal/version.Version=" + version
	var err error
	if lb, err = lbtest.Build(dir, "./cmd/lb", ld); err != nil {
		t.Fatalf("lb does not build yet: %v", err)
	}
	if lbctl, err = lbtest.Build(dir, "./cmd/lbctl", ld); err != nil {
		t.Fatalf("lbctl does not build yet: %v", err)
	}
	return lb, lbctl
}

// installLB puts lb, lbctl, the shipped units (packaging/systemd) and lifecycleCfg into the
// container, as the package would but without it, and creates the lb user.
func (w *world) installLB(lb, lbctl string) {
	w.t.Helper()
	for src, dst := range map[string]string{
		lb:    "/usr/sbin/lb",
		lbctl: "/usr/bin/lbctl",
		repoFile(w.t, "packaging/systemd/lb.service"): "/lib/systemd/system/lb.service",
		repoFile(w.t, "packaging/systemd/lb.socket"):  "/lib/systemd/system/lb.socket",
	} {
		if err := w.c.CopyIn(src, dst); err != nil {
			w.t.Fatal(err)
		}
	}
	w.writeFile("/etc/lb/lb.cfg", lifecycleCfg, 0o644)
	w.writeFile("/etc/systemd/system/lb.socket.d/lbtest.conf", socketDropIn, 0o644)
	w.sh("getent passwd lb >/dev/null || useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin lb")
	if err := w.c.Unmask(unitSvc, unitSock); err != nil {
		w.t.Fatal(err)
	}
	w.run("systemctl", "daemon-reload")
}

// reload runs `systemctl reload lb` and returns its error (nil on success) and output.
func (w *world) reload() (string, error) {
	return w.c.Exec("systemctl", "reload", unitSvc)
}

// requireActive fails unless unit is active.
func (w *world) requireActive(unit string) {
	w.t.Helper()
	if st := w.show(unit, "ActiveState"); st != "active" {
		w.t.Fatalf("%s is %q; want active\n%s", unit, st, tail(w.c.Journal(unit), 3000))
	}
}

// ensureSocketService starts lb.socket and lb.service (the state most scenarios start from).
func (w *world) ensureSocketService() {
	w.t.Helper()
	w.run("systemctl", "start", unitSock, unitSvc)
	w.requireActive(unitSock)
	w.requireActive(unitSvc)
}

// TestIssue5Systemd proves issue 5's end-to-end acceptance points (a)–(g) in one container,
// in an order where each scenario starts from the state the previous one left (each also
// establishes what it needs). Every scenario runs under continuous load from inside the
// container and asserts zero failed requests unless it says otherwise. It runs on each
// release (forEachRelease).
func TestIssue5Systemd(t *testing.T) { forEachRelease(t, testIssue5Systemd) }

func testIssue5Systemd(t *testing.T, rel nspawn.Release) {
	skipShort(t)
	bin := t.TempDir()
	lb, lbctl := buildLB(t, bin, "0.0.0-e2e")
	w := mkWorld(t, rel)
	w.installLB(lb, lbctl)
	w.startBackend("a", "127.0.0.1:9001")
	w.startBackend("b", "127.0.0.1:9002")
	w.dumpOnFailure(unitSvc, unitSock)

	for _, sc := range []struct {
		name string
		run  func(w *world)
	}{
		{"a_SocketActivation_FirstConnectionStartsService", scenarioActivation},
		{"b_Reload20Times_NewMainPIDOldExits", scenarioReload20},
		{"c_BrokenConfigReload_FailsWithFileLine_KeepsServing", scenarioBrokenReload},
		{"f_Lbctl_ReloadAndStatusShowNewMainPID", scenarioLbctl},
		{"e_Kill9Main_RestartOnFailure_NoRefused", scenarioKill9Socket},
		{"g_Stop_DrainsSessions_NoProcessLeft", scenarioStopDrains},
		{"d_RestartSelfBound_FDStoreNeverRefuses", scenarioRestartFDStore},
		{"h_TLSCertificateRenewedOnReload_SessionsResumeAcrossRestart", scenarioTLSRenewal},
		{"i_RuntimeChangesSurviveReloadAndRestart", scenarioRuntimeChangesSurvive},
	} {
		t.Run(sc.name, func(t *testing.T) {
			w := w.in(t)
			w.journalOnFailure(unitSvc)
			sc.run(w)
		})
	}
}

// (a) lb.socket holds the port, lb.service is not running; the first connection starts it.
func scenarioActivation(w *world) {
	t := w.t
	w.run("systemctl", "stop", unitSvc, unitSock)
	w.run("systemctl", "start", unitSock)
	if st := w.show(unitSvc, "ActiveState"); st != "inactive" {
		t.Fatalf("before the first connection lb.service is %q; want inactive", st)
	}
	if !w.listening(frontAddr) {
		t.Fatalf("lb.socket does not listen on %s", frontAddr)
	}
	load := w.startLoad(true, loadArgs...)
	w.requireActive(unitSvc)
	time.Sleep(time.Second) // keep the load on the started service for a while
	requireNoFailure(t, "activation", load.stop())
	if pid := w.mainPID(unitSvc); pid == 0 {
		t.Errorf("lb.service has no MainPID after activation")
	}
	// Activated sockets are never put in the fd store (systemd would pass them twice).
	if n := w.show(unitSvc, "NFileDescriptorStore"); n != "0" {
		t.Errorf("NFileDescriptorStore = %s with every listener from lb.socket; want 0", n)
	}
}

// (b) 20 reloads under load: each one succeeds, MainPID changes, the old process exits.
func scenarioReload20(w *world) {
	t := w.t
	w.ensureSocketService()
	load := w.startLoad(true, loadArgs...)
	for i := 0; i < 20; i++ {
		old := w.mainPID(unitSvc)
		if out, err := w.reload(); err != nil {
			load.stop()
			t.Fatalf("reload %d: %v\n%s", i+1, err, out)
		}
		now := w.mainPID(unitSvc)
		if now == 0 || now == old {
			t.Errorf("reload %d: MainPID %d -> %d; want a new one", i+1, old, now)
		}
		w.waitExit(old, 35*time.Second)
		if st := w.show(unitSvc, "ActiveState"); st != "active" {
			t.Errorf("reload %d: lb.service is %q; want active", i+1, st)
		}
	}
	requireNoFailure(t, "20 reloads", load.stop())
	// No process but the main one (or the running ExecReload=) ever spoke to systemd: a
	// refused notification means a child spoke before it was named, or an old process after.
	if j := w.sh("journalctl --no-pager -o cat -u lb.service | grep -E 'reception only permitted|Supervising process' || true"); strings.TrimSpace(j) != "" {
		t.Errorf("systemd refused notifications or supervises an alien main process:\n%s", j)
	}
}

// (c) A reload with a broken file fails (non-zero), the journal names file:line, the old
// process keeps serving with the old configuration.
func scenarioBrokenReload(w *world) {
	t := w.t
	w.ensureSocketService()
	load := w.startLoad(true, loadArgs...)
	old := w.mainPID(unitSvc)
	w.writeFile("/etc/lb/lb.cfg", lifecycleCfg+brokenTail, 0o644)
	out, err := w.reload()
	w.writeFile("/etc/lb/lb.cfg", lifecycleCfg, 0o644)
	if err == nil {
		t.Errorf("systemctl reload with a broken configuration succeeded; want a failure\n%s", out)
	}
	if now := w.mainPID(unitSvc); now != old {
		t.Errorf("MainPID changed from %d to %d on a failed reload", old, now)
	}
	w.requireActive(unitSvc)
	want := fmt.Sprintf("lb.cfg:%d", brokenLine)
	if j := w.c.Journal(unitSvc); !strings.Contains(j, want) {
		t.Errorf("journal of lb.service lacks %q:\n%s", want, tail(j, 3000))
	}
	time.Sleep(500 * time.Millisecond) // serve a while after the failed reload
	requireNoFailure(t, "broken reload", load.stop())
	// And the good file reloads again.
	if out, err := w.reload(); err != nil {
		t.Errorf("reload after restoring the configuration: %v\n%s", err, out)
	}
}

// (f) lbctl reload and lbctl status, over D-Bus, show the new MainPID.
func scenarioLbctl(w *world) {
	t := w.t
	w.ensureSocketService()
	load := w.startLoad(true, loadArgs...)
	old := w.mainPID(unitSvc)
	out, err := w.c.Exec("lbctl", "reload")
	if err != nil {
		load.stop()
		t.Fatalf("lbctl reload: %v\n%s", err, out)
	}
	now := w.mainPID(unitSvc)
	if now == old || now == 0 {
		t.Errorf("lbctl reload: MainPID %d -> %d; want a new one", old, now)
	}
	if !hasField(out, "MainPID", strconv.Itoa(now)) {
		t.Errorf("lbctl reload output lacks the new MainPID %d:\n%s", now, out)
	}
	st := w.run("lbctl", "status")
	if !hasField(st, "MainPID", strconv.Itoa(now)) {
		t.Errorf("lbctl status lacks MainPID %d:\n%s", now, st)
	}
	t.Logf("lbctl reload:\n%s\nlbctl status:\n%s", out, st)
	w.waitExit(old, 35*time.Second)
	requireNoFailure(t, "lbctl reload", load.stop())
}

// hasField reports whether a "Key: value ..." line has value as its first word.
func hasField(out, key, value string) bool {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+":"); ok {
			if f := strings.Fields(v); len(f) > 0 && f[0] == value {
				return true
			}
		}
	}
	return false
}

// (e) kill -9 of the main process with Restart=on-failure and lb.socket: no connection is
// refused; only requests the killed process had accepted may fail (counted).
func scenarioKill9Socket(w *world) {
	w.kill9(true)
}

// kill9 kills the main process and checks the restart under load. With lb.socket, or with
// the fd store, the listening socket stays open, so no connection may be refused.
func (w *world) kill9(socket bool) {
	t := w.t
	if r := w.show(unitSvc, "Restart"); r != "on-failure" && r != "always" {
		t.Errorf("lb.service Restart=%s; the shipped unit must restart on failure", r)
	}
	if socket {
		w.ensureSocketService()
	}
	w.resetFailed() // see restartUnderLoad
	load := w.startLoad(true, loadArgs...)
	old := w.mainPID(unitSvc)
	restarts := w.show(unitSvc, "NRestarts")
	w.run("kill", "-KILL", strconv.Itoa(old))
	// Wait for the restart: systemd counts it in NRestarts, then a new MainPID is active.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if w.show(unitSvc, "NRestarts") != restarts && w.show(unitSvc, "ActiveState") == "active" {
			if pid := w.mainPID(unitSvc); pid != 0 && pid != old {
				break
			}
		}
		if time.Now().After(deadline) {
			load.stop()
			t.Fatalf("lb.service did not restart within 30s after kill -9 of %d", old)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // serve a while after the restart
	r := load.stop()
	t.Logf("kill -9: load %v", r)
	t.Logf("kill -9: %d requests failed that the killed process had accepted (reset %d, eof %d)", r.Reset+r.EOF, r.Reset, r.EOF)
	if r.Refused != 0 {
		t.Errorf("kill -9: %d connections refused; want 0", r.Refused)
	}
	if other := r.Failed - r.Reset - r.EOF; other != 0 {
		t.Errorf("kill -9: %d failures other than reset/eof of accepted requests: %v", other, r)
	}
	if r.OK == 0 {
		t.Errorf("kill -9: no request succeeded")
	}
}

// (g) systemctl stop waits for open sessions to end, then no lb process is left.
func scenarioStopDrains(w *world) {
	t := w.t
	w.ensureSocketService()
	const sessions = 5
	load := w.startLoad(false, "-addr", frontAddr, "-path", "/sleep?ms=3000", "-c", strconv.Itoa(sessions),
		"-n", strconv.Itoa(sessions), "-timeout", "20s")
	// The sessions are open once lb has connected each to a backend.
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, _ := w.c.Exec("ss", "-Htn", "state", "established", "( dport = :9001 or dport = :9002 )")
		if countLines(out) >= sessions {
			break
		}
		if time.Now().After(deadline) {
			load.stop()
			t.Fatalf("the %d sessions did not reach the backends within 15s", sessions)
		}
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Now()
	out, err := w.c.Exec("systemctl", "stop", unitSock, unitSvc)
	took := time.Since(start)
	if err != nil {
		t.Errorf("systemctl stop: %v\n%s", err, out)
	}
	r := load.wait()
	t.Logf("stop took %v; sessions: %v", took, r)
	if r.OK != sessions || r.Failed != 0 {
		t.Errorf("open sessions across stop: %d ok, %d failed; want %d ok (drained)", r.OK, r.Failed, sessions)
	}
	if ps := w.lbProcesses(); ps != "" {
		t.Errorf("lb processes left after stop:\n%s", ps)
	}
	if w.listening(frontAddr) {
		t.Errorf("something still listens on %s after stop", frontAddr)
	}
	if st := w.show(unitSvc, "ActiveState"); st != "inactive" {
		t.Errorf("lb.service is %q after stop; want inactive", st)
	}
}

// (d) Without lb.socket, lb binds the port itself and keeps it in the fd store: restarts and
// kill -9 never refuse. The contrast run, without FileDescriptorStoreMax=, does refuse.
func scenarioRestartFDStore(w *world) {
	t := w.t
	w.run("systemctl", "stop", unitSock, unitSvc)
	w.run("systemctl", "mask", "--runtime", unitSock)
	defer func() {
		_, _ = w.c.Exec("systemctl", "unmask", "--runtime", unitSock)
		_, _ = w.c.Exec("rm", "-f", noStoreDropIn)
		_, _ = w.c.Exec("systemctl", "daemon-reload")
	}()
	w.run("systemctl", "start", unitSvc)
	// lb pushes its listener to the store (FDSTORE=1) right after READY=1, which ends
	// `systemctl start`: on a loaded machine systemd may answer the query in between.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n, _ := strconv.Atoi(w.show(unitSvc, "NFileDescriptorStore"))
		if n >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("NFileDescriptorStore = %d 5s after the start with a self-bound listener; want >= 1", n)
			break
		}
	}

	t.Run("with_fd_store", func(t *testing.T) {
		requireNoFailure(t, "restart with the fd store", w.in(t).restartUnderLoad("fd store"))
	})
	t.Run("e_Kill9Main_FDStore_NoRefused", func(t *testing.T) {
		w.in(t).kill9(false)
	})
	t.Run("contrast_without_fd_store_refuses", func(t *testing.T) {
		w := w.in(t)
		w.run("systemctl", "stop", unitSvc) // empties the store
		w.resetFailed()
		w.writeFile(noStoreDropIn, "[Service]\nFileDescriptorStoreMax=0\n", 0o644)
		w.run("systemctl", "daemon-reload")
		w.run("systemctl", "start", unitSvc)
		r := w.restartUnderLoad("no fd store")
		t.Logf("without the fd store, %d restarts: %d connections refused (load %v)", restarts, r.Refused, r)
		if r.Refused == 0 {
			t.Errorf("without FileDescriptorStoreMax= no connection was refused across %d restarts: the contrast shows nothing", restarts)
		}
	})
}

// noStoreDropIn turns the fd store off for the contrast run of (d).
const noStoreDropIn = "/etc/systemd/system/lb.service.d/lbtest-nostore.conf"

// restarts is how many times restartUnderLoad restarts lb.service.
const restarts = 5

// restartUnderLoad restarts lb.service several times under load and returns the load's report.
func (w *world) restartUnderLoad(what string) Report {
	t := w.t
	t.Helper()
	load := w.startLoad(true, loadArgs...)
	for i := 0; i < restarts; i++ {
		old := w.mainPID(unitSvc)
		// The test restarts faster than StartLimitBurst= allows (5 starts in 10s): that
		// limit is for crash loops, not for this.
		w.resetFailed()
		if out, err := w.c.Exec("systemctl", "restart", unitSvc); err != nil {
			t.Errorf("%s: restart %d: %v\n%s", what, i+1, err, out)
		}
		if now := w.mainPID(unitSvc); now == old || now == 0 {
			t.Errorf("%s: restart %d: MainPID %d -> %d", what, i+1, old, now)
		}
	}
	time.Sleep(300 * time.Millisecond) // serve a while after the last restart
	return load.stop()
}

// countLines counts the non-empty lines of out.
func countLines(out string) int {
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n
}

// resetFailed resets lb.service's start-limit counter. It fails when the unit is not loaded
// (after a stop it may be unloaded): nothing to reset then.
func (w *world) resetFailed() {
	_, _ = w.c.Exec("systemctl", "reset-failed", unitSvc)
}
