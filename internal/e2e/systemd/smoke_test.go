package systemd_test

import (
	"strings"
	"testing"

	"lb/internal/lbtest/nspawn"
)

// TestHarnessSmoke proves the harness itself: the container boots to running (or degraded),
// runs transient units, and a loadgen run against an in-container backend sees no failure,
// while a run against a closed port counts every request as refused (the counter can fail).
func TestHarnessSmoke(t *testing.T) { forEachRelease(t, testHarnessSmoke) }

func testHarnessSmoke(t *testing.T, rel nspawn.Release) {
	w := mkWorld(t, rel)
	state := strings.TrimSpace(w.run("sh", "-c", "systemctl is-system-running || true"))
	if state != "running" && state != "degraded" {
		t.Fatalf("is-system-running = %q; want running or degraded", state)
	}
	if out := w.run("systemctl", "is-active", "dbus.service"); strings.TrimSpace(out) != "active" {
		t.Errorf("dbus.service: %q; want active", out)
	}
	// Masked before boot: nothing else may answer on the ports lb tests use.
	for _, u := range []string{"haproxy.service", "nginx.service"} {
		if st := w.show(u, "LoadState"); st != "masked" && st != "not-found" {
			t.Errorf("%s LoadState = %q; want masked or not-found", u, st)
		}
	}

	w.startBackend("a", "127.0.0.1:9001")
	for _, tc := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"http", []string{"-addr", "127.0.0.1:9001", "-c", "4", "-d", "1s"}, true},
		{"refused", []string{"-addr", "127.0.0.1:9009", "-n", "5"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := w.in(t)
			r := w.startLoad(tc.ok, tc.args...).wait()
			t.Logf("load: %v", r)
			if tc.ok {
				requireNoFailure(t, tc.name, r)
				return
			}
			if r.Refused != 5 || r.OK != 0 {
				t.Errorf("loadgen against a closed port: %v; want 5 refused", r)
			}
		})
	}
	if err := w.c.CopyIn(repoFile(t, "go.mod"), "/var/lib/lbtest/go.mod"); err != nil {
		t.Fatal(err)
	}
	if out := w.run("head", "-1", "/var/lib/lbtest/go.mod"); !strings.HasPrefix(out, "module lb") {
		t.Errorf("CopyIn: container sees %q", out)
	}
}
