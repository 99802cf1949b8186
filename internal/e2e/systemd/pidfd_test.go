package systemd_test

import (
	"strconv"
	"strings"
	"testing"

	"lb/internal/lbtest"
	"lb/internal/lbtest/nspawn"
	lbsd "lb/internal/systemd"
)

// TestIssue15MainPIDFDID proves the hand-over message lb sends (MAINPID= with MAINPIDFDID=,
// systemd.MainPIDFields) against the container's systemd: a test service names its child the
// main process with the child's own pidfd id, then, in a second unit, with a wrong one. systemd
// 257 takes the first and refuses the second (the main process stays the service itself);
// systemd 252 does not know MAINPIDFDID= and takes MAINPID= alone in both cases.
func TestIssue15MainPIDFDID(t *testing.T) { forEachRelease(t, testMainPIDFDID) }

func testMainPIDFDID(t *testing.T, rel nspawn.Release) {
	if _, ok, err := lbsd.PidfdID(1); err != nil || !ok {
		t.Skipf("this kernel has no pidfd ids (pidfs, Linux >= 6.9): lb sends MAINPID= alone")
	}
	bin := t.TempDir()
	helper := lbtest.MustBuild(t, bin, "./internal/lbtest/mainpidfd", "")
	w := mkWorld(t, rel)
	const helperPath = toolDir + "/mainpidfd"
	if err := w.c.CopyIn(helper, helperPath); err != nil {
		t.Fatal(err)
	}
	version := systemdVersion(w)
	checks := version >= 257
	t.Logf("systemd %d in the container: MAINPIDFDID= %s", version, map[bool]string{true: "checked", false: "ignored"}[checks])

	for _, tc := range []struct {
		id        string
		childMain bool // the child becomes the main process
	}{
		{"right", true},
		{"wrong", !checks},
	} {
		t.Run(tc.id, func(t *testing.T) {
			w := w.in(t)
			unit := "lbtest-mainpidfd-" + tc.id + ".service"
			w.dumpOnFailure(unit)
			w.run("systemd-run", "--unit="+unit, "-p", "Type=notify", "-p", "NotifyAccess=main", "--",
				helperPath, "-id", tc.id)
			main := w.mainPID(unit)
			comm := strings.TrimSpace(w.run("cat", "/proc/"+strconv.Itoa(main)+"/comm"))
			j := w.c.Journal(unit)
			t.Logf("MainPID %d (%s); journal:\n%s", main, comm, tail(j, 1500))
			if got := comm == "sleep"; got != tc.childMain {
				t.Errorf("MainPID %d is %q; want the child (sleep) as main = %v", main, comm, tc.childMain)
			}
			refused := strings.Contains(j, "mismatches with received MAINPIDFDID=")
			if want := checks && tc.id == "wrong"; refused != want {
				t.Errorf("systemd logged a PIDFD ID mismatch = %v; want %v", refused, want)
			}
			w.run("systemctl", "stop", unit)
		})
	}
}

// systemdVersion is the container's systemd version (the number of `systemctl --version`).
func systemdVersion(w *world) int {
	w.t.Helper()
	f := strings.Fields(w.run("systemctl", "--version"))
	if len(f) < 2 {
		w.t.Fatalf("systemctl --version: %q", f)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		w.t.Fatalf("systemctl --version: %q: %v", f[1], err)
	}
	return n
}
