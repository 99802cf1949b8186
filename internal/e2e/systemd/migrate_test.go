package systemd_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lb/internal/lbtest/nspawn"
)

// migrateTail is what the migration adds to Debian's haproxy.cfg: a frontend and a backend
// (Debian's file has neither). Its defaults make them HTTP with httplog.
const migrateTail = `
frontend web
	bind 127.0.0.1:8080
	default_backend app

backend app
	server a 127.0.0.1:9001
`

// The warnings lb gives, once each, for the lines of Debian's haproxy.cfg the unit takes over.
var migrateWarnings = []string{
	"'chroot /var/lib/haproxy' is left to the unit",
	"'user haproxy' is left to the unit: lb runs as its User= (lb)",
	"'group haproxy' is left to the unit: lb runs as its Group= (lb)",
	"'daemon' is left to the unit",
	"'stats socket /run/haproxy/admin.sock' is at /run/lb/admin.sock",
}

// TestIssue14MigrateDebianConfig proves issue 14: Debian's own /etc/haproxy/haproxy.cfg
// (chroot, user, group, daemon, a stats socket in /run/haproxy, log /dev/log, errorfiles in
// /etc/haproxy/errors) plus a frontend, copied to /etc/lb/lb.cfg, starts under the shipped
// lb.service, serves, logs through /dev/log, says once what the unit does instead of each
// line, and reloads.
func TestIssue14MigrateDebianConfig(t *testing.T) { forEachRelease(t, testIssue14Migrate) }

func testIssue14Migrate(t *testing.T, rel nspawn.Release) {
	skipShort(t)
	bin := t.TempDir()
	lb, lbctl := buildLB(t, bin, "0.0.0-e2e")
	w := mkWorld(t, rel)
	w.installLB(lb, lbctl)
	w.dumpOnFailure(unitSvc)

	// Debian's haproxy package: the container's own when its root has it (the machine's root
	// does), else the machine's file, error pages and user, as the package would put them.
	if _, err := os.Stat(w.c.Path("/etc/haproxy/haproxy.cfg")); err != nil {
		files, _ := filepath.Glob("/etc/haproxy/errors/*.http")
		if _, err := os.Stat("/etc/haproxy/haproxy.cfg"); err != nil || len(files) == 0 {
			t.Skip("needs Debian's haproxy package on this machine (/etc/haproxy)")
		}
		for _, f := range append(files, "/etc/haproxy/haproxy.cfg") {
			if err := w.c.CopyIn(f, f); err != nil {
				t.Fatal(err)
			}
		}
		w.sh("getent passwd haproxy >/dev/null || useradd --system --user-group --no-create-home --home-dir /var/lib/haproxy --shell /usr/sbin/nologin haproxy")
	}
	debian, err := os.ReadFile(w.c.Path("/etc/haproxy/haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"chroot /var/lib/haproxy", "user haproxy", "group haproxy", "daemon", "stats socket /run/haproxy/admin.sock", "log /dev/log", "errorfile 503 /etc/haproxy/errors/503.http"} {
		if !strings.Contains(string(debian), line) {
			t.Fatalf("Debian's haproxy.cfg has no %q: not the file this test is about", line)
		}
	}
	w.writeFile("/etc/lb/lb.cfg", string(debian)+migrateTail, 0o644)
	w.startBackend("a", "127.0.0.1:9001")

	w.run("systemctl", "start", unitSvc)
	w.requireActive(unitSvc)
	requireNoFailure(t, "after start", w.startLoad(true, "-addr", frontAddr, "-c", "2", "-n", "50").wait())

	// Once each in lb's own journal stream, and once in each of the configuration's two
	// syslog targets (log /dev/log local0, and local1 notice), as every message of lb's.
	counts := w.journalCounts(unitSvc, migrateWarnings)
	for _, want := range migrateWarnings {
		for _, facility := range []string{"", "16", "17"} {
			if n := counts[facility][want]; n != 1 {
				t.Errorf("journal has %q %d times (SYSLOG_FACILITY=%q); want once", want, n, facility)
			}
		}
	}
	if out, err := w.c.Exec("test", "-S", "/run/lb/admin.sock"); err != nil {
		t.Errorf("no stats socket at /run/lb/admin.sock: %v %s", err, out)
	}
	// log /dev/log: the requests' httplog lines reach the journal (facility local0 = 16).
	_, _ = w.c.Exec("journalctl", "--sync")
	if logs := w.run("journalctl", "--no-pager", "-o", "cat", "SYSLOG_FACILITY=16"); !strings.Contains(logs, "web app/a") {
		t.Errorf("no httplog line through /dev/log in the journal:\n%s", tail(logs, 2000))
	}

	// Without "expose-fd listeners" a reload cannot take the listeners over: the new process
	// binds its own, and replaces the old one's in systemd's fd store (left there, it would
	// listen on with nobody to accept). The requests after the reload all succeed.
	if out, err := w.reload(); err != nil {
		t.Fatalf("systemctl reload lb without expose-fd: %v\n%s", err, out)
	}
	requireNoFailure(t, "after a reload without expose-fd", w.startLoad(true, "-addr", frontAddr, "-c", "2", "-n", "100").wait())
	if n := w.show(unitSvc, "NFileDescriptorStore"); n != "1" {
		t.Errorf("NFileDescriptorStore = %s after a reload that bound its listener anew; want 1", n)
	}

	// A reload hands the listeners over through the stats socket ExecReload= names (-x
	// /run/lb/admin.sock), which needs "expose-fd listeners" on that socket's line, as
	// HAProxy's -x does: the one edit the migration makes for reloads.
	edited := strings.Replace(string(debian), "level admin", "level admin expose-fd listeners", 1)
	w.writeFile("/etc/lb/lb.cfg", edited+migrateTail, 0o644)
	w.run("systemctl", "restart", unitSvc)
	w.requireActive(unitSvc)
	pid := w.mainPID(unitSvc)
	load := w.startLoad(true, loadArgs...)
	out, err := w.reload()
	time.Sleep(time.Second) // serve a while after the reload
	rep := load.stop()
	if err != nil {
		t.Fatalf("systemctl reload lb: %v\n%s", err, out)
	}
	requireNoFailure(t, "reload", rep)
	w.requireActive(unitSvc)
	if now := w.mainPID(unitSvc); now == pid || now == 0 {
		t.Errorf("MainPID %d after reload; want a new one (was %d)", now, pid)
	}
	w.waitExit(pid, 30*time.Second)
	requireNoFailure(t, "after reload", w.startLoad(true, "-addr", frontAddr, "-c", "2", "-n", "50").wait())
}

// journalCounts counts, in unit's journal, the entries whose message contains each of wants,
// by the entry's SYSLOG_FACILITY ("" for lb's own journal entries).
func (w *world) journalCounts(unit string, wants []string) map[string]map[string]int {
	w.t.Helper()
	_, _ = w.c.Exec("journalctl", "--sync")
	out := w.run("journalctl", "--no-pager", "-o", "json", "--output-fields=MESSAGE,SYSLOG_FACILITY", "-u", unit)
	counts := map[string]map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		var e struct {
			Message  any    `json:"MESSAGE"`
			Facility string `json:"SYSLOG_FACILITY"`
		}
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		msg, _ := e.Message.(string)
		for _, want := range wants {
			if strings.Contains(msg, want) {
				if counts[e.Facility] == nil {
					counts[e.Facility] = map[string]int{}
				}
				counts[e.Facility][want]++
			}
		}
	}
	return counts
}
