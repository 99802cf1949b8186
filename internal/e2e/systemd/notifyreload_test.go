package systemd_test

import (
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"lb/internal/lbtest/nspawn"
)

// The drop-in shipped for systemd >= 253, where the test installs it.
const notifyReloadDropIn = "/etc/systemd/system/lb.service.d/notify-reload.conf"

// TestIssue15ReloadUnits measures `systemctl reload lb` under load with the shipped unit
// (ExecReload= hand-over) on each release, and, where systemd knows Type=notify-reload (>= 253),
// with the shipped drop-in packaging/systemd/notify-reload.conf: 20 reloads under load with no
// failed request and no lb process left over (one lb after the old ones drained), then a
// broken configuration, which that mode reports as a successful reload while lb keeps serving,
// says "reload failed" in its status text and logs at priority err.
func TestIssue15ReloadUnits(t *testing.T) { forEachRelease(t, testReloadUnits) }

func testReloadUnits(t *testing.T, rel nspawn.Release) {
	bin := t.TempDir()
	lb, lbctl := buildLB(t, bin, "0.0.0-e2e")
	w := mkWorld(t, rel)
	w.installLB(lb, lbctl)
	w.startBackend("a", "127.0.0.1:9001")
	w.startBackend("b", "127.0.0.1:9002")
	w.dumpOnFailure(unitSvc, unitSock)
	version := systemdVersion(w)

	t.Run("shipped_unit_ExecReload", func(t *testing.T) {
		w := w.in(t)
		w.journalOnFailure(unitSvc)
		w.ensureSocketService()
		d := w.reloadsUnderLoad(10)
		t.Logf("systemd %d, shipped lb.service (ExecReload= hand-over): reload %s", version, d)
	})

	t.Run("notify_reload_dropin", func(t *testing.T) {
		w := w.in(t)
		if version < 253 {
			t.Skipf("systemd %d does not know Type=notify-reload (253 and later): the drop-in is not for it", version)
		}
		w.journalOnFailure(unitSvc)
		if err := w.c.CopyIn(repoFile(t, "packaging/systemd/notify-reload.conf"), notifyReloadDropIn); err != nil {
			t.Fatal(err)
		}
		w.run("systemctl", "daemon-reload")
		w.run("systemctl", "restart", unitSvc)
		w.requireActive(unitSvc)
		if ty := w.show(unitSvc, "Type"); ty != "notify-reload" {
			t.Fatalf("lb.service Type=%s with the drop-in; want notify-reload", ty)
		}
		if ex := w.show(unitSvc, "ExecReload"); ex != "" {
			t.Errorf("lb.service ExecReload=%q with the drop-in; want it cleared", ex)
		}
		d := w.reloadsUnderLoad(20)
		t.Logf("systemd %d, Type=notify-reload drop-in: reload %s", version, d)
		if ps := w.lbProcesses(); countLines(ps) != 1 {
			t.Errorf("after 20 reloads: %d lb processes; want 1:\n%s", countLines(ps), ps)
		}

		// A broken configuration: systemd cannot fail this reload; lb says so otherwise.
		load := w.startLoad(true, loadArgs...)
		old := w.mainPID(unitSvc)
		w.writeFile("/etc/lb/lb.cfg", lifecycleCfg+brokenTail, 0o644)
		out, err := w.reload()
		w.writeFile("/etc/lb/lb.cfg", lifecycleCfg, 0o644)
		if err != nil {
			t.Logf("systemctl reload with a broken configuration failed (%v): systemd now reports it\n%s", err, out)
		} else {
			t.Logf("systemctl reload with a broken configuration exited 0, as documented in the drop-in")
		}
		if now := w.mainPID(unitSvc); now != old {
			t.Errorf("MainPID changed from %d to %d on a failed reload", old, now)
		}
		w.requireActive(unitSvc)
		if st := w.show(unitSvc, "StatusText"); !strings.Contains(st, "reload failed") {
			t.Errorf("StatusText after the failed reload = %q; want it to say reload failed", st)
		}
		_, _ = w.c.Exec("journalctl", "--sync")
		if j := w.run("journalctl", "--no-pager", "-o", "cat", "-p", "err", "-u", unitSvc); !strings.Contains(j, "reload failed") {
			t.Errorf("journal at priority err lacks the failed reload:\n%s", tail(j, 2000))
		}
		time.Sleep(300 * time.Millisecond)
		requireNoFailure(t, "broken reload (notify-reload)", load.stop())
		if out, err := w.reload(); err != nil {
			t.Errorf("reload after restoring the configuration: %v\n%s", err, out)
		}
		if now := w.mainPID(unitSvc); now == old {
			t.Errorf("the reload after restoring the configuration kept MainPID %d", now)
		}
	})
}

// reloadsUnderLoad reloads lb.service n times under load, each one succeeding with a new main
// process and the old one gone, and returns the time `systemctl reload` took (median, max).
func (w *world) reloadsUnderLoad(n int) reloadTimes {
	t := w.t
	t.Helper()
	load := w.startLoad(true, loadArgs...)
	var took []time.Duration
	for i := 0; i < n; i++ {
		old := w.mainPID(unitSvc)
		start := time.Now()
		out, err := w.reload()
		took = append(took, time.Since(start))
		if err != nil {
			load.stop()
			t.Fatalf("reload %d: %v\n%s", i+1, err, out)
		}
		if now := w.mainPID(unitSvc); now == 0 || now == old {
			t.Errorf("reload %d: MainPID %d -> %d; want a new one", i+1, old, now)
		}
		w.waitExit(old, 35*time.Second)
	}
	requireNoFailure(t, "reloads", load.stop())
	if j := w.sh("journalctl --no-pager -o cat -u lb.service | grep -E 'reception only permitted|Supervising process|mismatches' || true"); strings.TrimSpace(j) != "" {
		t.Errorf("systemd refused notifications or supervises an alien main process:\n%s", j)
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	return reloadTimes{median: took[len(took)/2], max: took[len(took)-1], n: n}
}

type reloadTimes struct {
	median, max time.Duration
	n           int
}

func (r reloadTimes) String() string {
	return "median " + r.median.Round(time.Millisecond).String() + ", max " + r.max.Round(time.Millisecond).String() +
		" over " + strconv.Itoa(r.n) + " reloads under load"
}
