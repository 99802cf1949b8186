package systemd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lb/internal/lbtest"
	"lb/internal/lbtest/nspawn"
)

// TestIssue14HAProxyUnitDrivesLB proves issue 14's drop-in point: Debian's own
// haproxy.service (ExecStart= haproxy -Ws -f $CONFIG -p $PIDFILE -S /run/haproxy-master.sock,
// ExecReload= haproxy -c then kill -USR2 $MAINPID, Type=notify, KillMode=mixed), with
// /usr/sbin/haproxy replaced by lb in the container only, starts lb's master and its worker,
// survives ten reloads under load without a failed request, keeps the master as MainPID, and
// stops cleanly.
func TestIssue14HAProxyUnitDrivesLB(t *testing.T) { forEachRelease(t, testHAProxyUnit) }

func testHAProxyUnit(t *testing.T, rel nspawn.Release) {
	skipShort(t)
	const unit = "haproxy.service"
	bin := t.TempDir()
	lb, _ := buildLB(t, bin, "0.0.0-e2e")
	clisend := lbtest.MustBuild(t, bin, "./internal/lbtest/clisend", "")
	w := mkWorld(t, rel)
	if err := w.c.CopyIn(clisend, clisendPath); err != nil {
		t.Fatal(err)
	}
	w.dumpOnFailure(unit)

	// Debian's haproxy package as the container has it (the machine's root does), else the
	// machine's unit, configuration and error pages, as the package puts them.
	files := []string{"/lib/systemd/system/haproxy.service", "/etc/haproxy/haproxy.cfg"}
	errorPages, _ := filepath.Glob("/etc/haproxy/errors/*.http")
	for _, f := range append(files, errorPages...) {
		if _, err := os.Stat(w.c.Path(f)); err == nil {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			t.Skip("needs Debian's haproxy package on this machine")
		}
		if err := w.c.CopyIn(f, f); err != nil {
			t.Fatal(err)
		}
	}
	w.sh("getent passwd haproxy >/dev/null || useradd --system --user-group --no-create-home --home-dir /var/lib/haproxy --shell /usr/sbin/nologin haproxy")
	w.sh("mkdir -p /var/lib/haproxy/dev /run/haproxy && chown haproxy:haproxy /run/haproxy")
	// lb in haproxy's place, in the container's overlay only.
	if err := w.c.CopyIn(lb, "/usr/sbin/haproxy"); err != nil {
		t.Fatal(err)
	}
	debian, err := os.ReadFile(w.c.Path("/etc/haproxy/haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	w.writeFile("/etc/haproxy/haproxy.cfg", string(debian)+migrateTail, 0o644)
	if err := w.c.Unmask(unit); err != nil {
		t.Fatal(err)
	}
	w.run("systemctl", "daemon-reload")
	w.startBackend("a", "127.0.0.1:9001")

	w.run("systemctl", "start", unit)
	w.requireActive(unit)
	master := w.mainPID(unit)
	if v := w.run("/usr/sbin/haproxy", "-v"); !strings.Contains(v, "lb") {
		t.Fatalf("/usr/sbin/haproxy is not lb in the container: %s", v)
	}
	proc := w.masterCLI("show proc")
	if !strings.Contains(proc, fmt.Sprintf("%-15d %-15s", master, "master")) || !strings.Contains(proc, "# workers\n") {
		t.Fatalf("show proc on the master CLI:\n%s", proc)
	}

	load := w.startLoad(true, loadArgs...)
	for i := 1; i <= 10; i++ {
		if out, err := w.c.Exec("systemctl", "reload", unit); err != nil {
			load.stop()
			t.Fatalf("reload %d: %v\n%s", i, err, out)
		}
		// kill -USR2 returns at once: the reload is done when the master counts it and
		// the unit is active again (READY=1 after RELOADING=1).
		want := fmt.Sprintf("%d [failed: 0]", i)
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(w.masterCLI("show proc"), want) || w.show(unit, "ActiveState") != "active" {
			if time.Now().After(deadline) {
				load.stop()
				t.Fatalf("reload %d: no %q in show proc:\n%s", i, want, w.masterCLI("show proc"))
			}
			time.Sleep(50 * time.Millisecond) // the unit's reload is asynchronous (kill -USR2)
		}
		if pid := w.mainPID(unit); pid != master {
			t.Errorf("reload %d: MainPID %d; want the master, %d", i, pid, master)
		}
	}
	time.Sleep(time.Second) // serve a while after the last reload
	requireNoFailure(t, "10 reloads of haproxy.service driving lb", load.stop())
	w.requireActive(unit)

	w.run("systemctl", "stop", unit)
	if st := w.show(unit, "ActiveState"); st != "inactive" {
		t.Errorf("%s is %q after stop; want inactive (Result=%s)", unit, st, w.show(unit, "Result"))
	}
	left, _ := w.c.Exec("sh", "-c", `for p in /proc/[0-9]*; do [ "$(readlink $p/exe 2>/dev/null)" = /usr/sbin/haproxy ] && echo "${p#/proc/}"; done; true`)
	if strings.TrimSpace(left) != "" {
		t.Errorf("processes of /usr/sbin/haproxy left after stop: %s", left)
	}
}

// clisendPath is where the test's CLI client lives in the container.
const clisendPath = toolDir + "/clisend"

// masterCLI sends cmd to the master CLI of haproxy.service (-S /run/haproxy-master.sock)
// from inside the container and returns the answer.
func (w *world) masterCLI(cmd string) string {
	w.t.Helper()
	out, _ := w.c.Exec(clisendPath, "/run/haproxy-master.sock", cmd)
	return out
}
