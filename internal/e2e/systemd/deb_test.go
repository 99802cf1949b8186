package systemd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"lb/internal/lbtest"
	"lb/internal/lbtest/nspawn"
)

// The versions of the package the test installs, then upgrades to. The first is the one the
// README's install section names.
const (
	debV1 = "0.1.0"
	debV2 = "0.1.1"
)

// buildDeb builds lb and lbctl with version and packs them with scripts/deb.sh (nfpm.yaml)
// into dir; it returns the path of lb_VERSION_amd64.deb.
func buildDeb(t *testing.T, dir, version string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin-"+version)
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	buildLB(t, bin, version)
	goCmd, err := lbtest.GoTool()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(repoFile(t, "scripts/deb.sh"), version, bin, dir)
	cmd.Env = append(os.Environ(), "GO="+goCmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/deb.sh %s: %v\n%s", version, err, out)
	}
	deb := filepath.Join(dir, "lb_"+version+"_amd64.deb")
	if _, err := os.Stat(deb); err != nil {
		t.Fatalf("scripts/deb.sh %s made no %s: %v", version, deb, err)
	}
	return deb
}

// TestIssue6Lintian checks the package with lintian: no error, no warning (the overrides
// shipped in the package say why they exist).
func TestIssue6Lintian(t *testing.T) {
	skipShort(t)
	if _, err := exec.LookPath("lintian"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("lintian not installed (apt-get install lintian)")
		}
		t.Skip("lintian not installed")
	}
	deb := buildDeb(t, t.TempDir(), debV1)
	out, _ := exec.Command("lintian", "--pedantic", "-I", deb).CombinedOutput()
	t.Logf("lintian --pedantic -I %s:\n%s", filepath.Base(deb), out)
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
			t.Errorf("lintian: %s", line)
		}
	}
}

// The configuration an administrator writes after installing: the shipped health frontend and
// a TCP service in front of two servers.
const debEditedCfg = `global
    stats socket /run/lb/admin.sock mode 600 level admin expose-fd listeners
    hard-stop-after 30s

defaults
    mode tcp
    timeout connect 5s
    timeout client  30s
    timeout server  30s

frontend health
    mode http
    bind 127.0.0.1:8404 name health
    monitor-uri /healthz

frontend web
    bind 127.0.0.1:8080 name web
    default_backend app

backend app
    server a 127.0.0.1:9001
    server b 127.0.0.1:9002
`

const healthAddr = "127.0.0.1:8404"

// TestIssue6Deb proves issue 6's end-to-end acceptance, from a system without lb:
// apt install → active units and a request served through the default configuration → edit
// and reload under load, zero failures → upgrade to a higher version under load, zero
// failures and a new MainPID → apt remove leaves no process and no listener → apt purge
// leaves no user, no configuration and no unit. It runs on each release (forEachRelease).
func TestIssue6Deb(t *testing.T) { forEachRelease(t, testIssue6Deb) }

func testIssue6Deb(t *testing.T, rel nspawn.Release) {
	skipShort(t)
	dir := t.TempDir()
	deb1 := buildDeb(t, dir, debV1)
	deb2 := buildDeb(t, dir, debV2)
	w := mkWorld(t, rel)
	w.dumpOnFailure(unitSvc, unitSock)
	// A system without lb: the container copies the host, which may have lb installed.
	w.sh("if dpkg -s lb >/dev/null 2>&1; then dpkg --purge lb; fi")
	// A booted system: build machines and container images often carry a policy-rc.d that
	// forbids starting services from maintainer scripts (exit 101); a real system has none.
	if out := w.sh("if [ -e /usr/sbin/policy-rc.d ]; then rm -f /usr/sbin/policy-rc.d; echo removed; fi"); out != "" {
		t.Logf("removed /usr/sbin/policy-rc.d inherited from the host (in the container only)")
	}
	// man-db's trigger takes seconds per apt run and proves nothing here.
	w.run("rm", "-f", "/var/lib/man-db/auto-update")
	if err := w.c.Unmask(unitSvc, unitSock); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{deb1, deb2} {
		if err := w.c.CopyIn(d, "/var/lib/lbtest/"+filepath.Base(d)); err != nil {
			t.Fatal(err)
		}
	}
	w.startBackend("a", "127.0.0.1:9001")
	w.startBackend("b", "127.0.0.1:9002")

	t.Run("Install_UnitsActive_DefaultConfigServes", func(t *testing.T) {
		w := w.in(t)
		// The README's install command (with -y: no terminal here).
		out := w.sh("cd /var/lib/lbtest && apt install -y ./lb_" + debV1 + "_amd64.deb 2>&1")
		t.Logf("apt install:\n%s", tail(out, 2000))
		w.run("systemctl", "is-active", unitSock, unitSvc)
		if w.sh("getent passwd lb | cut -d: -f7") != "/usr/sbin/nologin\n" {
			t.Errorf("user lb missing or with a login shell")
		}
		r := w.startLoad(false, "-addr", healthAddr, "-path", "/healthz", "-n", "3").wait()
		if r.OK != 3 {
			t.Errorf("GET /healthz through the default configuration: %v; want 3 ok", r)
		}
		if sec, err := w.c.Exec("systemd-analyze", "security", "--no-pager", unitSvc); err == nil {
			t.Logf("systemd-analyze security lb.service (installed):\n%s", lastLines(sec, 3))
		}
	})

	t.Run("EditConfigAndReload_UnderLoad_NoFailure", func(t *testing.T) {
		w := w.in(t)
		w.requireActive(unitSvc)
		load := w.startLoad(true, "-addr", healthAddr, "-path", "/healthz", "-c", "4", "-rate", "400")
		old := w.mainPID(unitSvc)
		w.writeFile("/etc/lb/lb.cfg", debEditedCfg, 0o644)
		if out, err := w.reload(); err != nil {
			load.stop()
			t.Fatalf("systemctl reload lb after editing /etc/lb/lb.cfg: %v\n%s", err, out)
		}
		if now := w.mainPID(unitSvc); now == old {
			t.Errorf("MainPID unchanged (%d) by the reload", now)
		}
		web := w.startLoad(true, "-addr", frontAddr, "-n", "20")
		if r := web.wait(); r.OK != 20 {
			t.Errorf("the frontend added by the edit: %v; want 20 ok", r)
		}
		requireNoFailure(t, "edit + reload", load.stop())
	})

	t.Run("Upgrade_UnderLoad_NoFailure_NewMainPID", func(t *testing.T) {
		w := w.in(t)
		w.requireActive(unitSvc)
		health := w.startLoad(true, "-addr", healthAddr, "-path", "/healthz", "-c", "2", "-rate", "200")
		web := w.startLoad(true, "-addr", frontAddr, "-c", "2", "-rate", "200")
		old := w.mainPID(unitSvc)
		out, err := w.c.Exec("sh", "-c", "cd /var/lib/lbtest && apt install -y ./lb_"+debV2+"_amd64.deb 2>&1")
		t.Logf("apt install (upgrade):\n%s", tail(out, 2000))
		if err != nil {
			t.Errorf("upgrade: %v", err)
		}
		now := w.mainPID(unitSvc)
		if now == old || now == 0 {
			t.Errorf("upgrade: MainPID %d -> %d; want a new one", old, now)
		}
		if v := strings.TrimSpace(w.run("dpkg-query", "-W", "-f", "${Version}", "lb")); v != debV2 {
			t.Errorf("installed version %q; want %q", v, debV2)
		}
		// The new main process runs the new binary, not the deleted old one.
		if exe := strings.TrimSpace(w.run("readlink", "/proc/"+strconv.Itoa(now)+"/exe")); exe != "/usr/sbin/lb" {
			t.Errorf("MainPID %d runs %q; want /usr/sbin/lb of the new package", now, exe)
		}
		if v := w.run("/usr/sbin/lb", "-v"); !strings.Contains(v, debV2) {
			t.Errorf("lb -v = %q; want version %s", v, debV2)
		}
		w.waitExit(old, 35*time.Second)
		requireNoFailure(t, "upgrade (health)", health.stop())
		requireNoFailure(t, "upgrade (web)", web.stop())
		w.requireActive(unitSock)
		w.requireActive(unitSvc)
	})

	// The postinst checks the new binary against the installed configuration before it
	// reloads: with a broken file the installation fails and the running lb is untouched;
	// once the file is fixed, running the postinst again (dpkg --configure) reloads.
	t.Run("ReinstallWithBrokenConfig_Refused_OldKeepsServing_ThenConfigureReloads", func(t *testing.T) {
		w := w.in(t)
		w.requireActive(unitSvc)
		web := w.startLoad(true, "-addr", frontAddr, "-c", "2", "-rate", "200")
		old := w.mainPID(unitSvc)
		w.writeFile("/etc/lb/lb.cfg", debEditedCfg+"    no-such-keyword here\n", 0o644)
		out, err := w.c.Exec("sh", "-c", "cd /var/lib/lbtest && apt install --reinstall -y ./lb_"+debV2+"_amd64.deb 2>&1")
		if err == nil {
			t.Errorf("reinstall with a broken /etc/lb/lb.cfg succeeded; want the postinst to refuse:\n%s", tail(out, 2000))
		}
		if !strings.Contains(out, "lb.cfg") {
			t.Errorf("the failed installation does not name the configuration file:\n%s", tail(out, 2000))
		}
		if now := w.mainPID(unitSvc); now != old {
			t.Errorf("MainPID changed from %d to %d although the configuration was refused", old, now)
		}
		w.writeFile("/etc/lb/lb.cfg", debEditedCfg, 0o644)
		if out, err := w.c.Exec("dpkg", "--configure", "-a"); err != nil {
			t.Errorf("dpkg --configure -a after fixing the file: %v\n%s", err, out)
		}
		if now := w.mainPID(unitSvc); now == old {
			t.Errorf("dpkg --configure -a did not reload (MainPID still %d)", now)
		}
		if st := strings.TrimSpace(w.run("dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "lb")); st != "ii" {
			t.Errorf("package state %q after dpkg --configure -a; want ii", st)
		}
		requireNoFailure(t, "refused reinstall + configure", web.stop())
	})

	t.Run("Remove_NoProcessNoListener", func(t *testing.T) {
		w := w.in(t)
		out := w.sh("apt remove -y lb 2>&1")
		t.Logf("apt remove:\n%s", tail(out, 1500))
		if ps := w.lbProcesses(); ps != "" {
			t.Errorf("lb processes left after apt remove:\n%s", ps)
		}
		for _, a := range []string{healthAddr, frontAddr} {
			if w.listening(a) {
				t.Errorf("something still listens on %s after apt remove", a)
			}
		}
		for _, u := range []string{unitSock, unitSvc} {
			if st := w.show(u, "ActiveState"); st == "active" {
				t.Errorf("%s still active after apt remove", u)
			}
		}
	})

	t.Run("Purge_NoUserNoConfigNoUnit", func(t *testing.T) {
		w := w.in(t)
		out := w.sh("apt purge -y lb 2>&1")
		t.Logf("apt purge:\n%s", tail(out, 1500))
		if _, err := w.c.Exec("getent", "passwd", "lb"); err == nil {
			t.Errorf("user lb still exists after purge")
		}
		if _, err := w.c.Exec("getent", "group", "lb"); err == nil {
			t.Errorf("group lb still exists after purge")
		}
		if _, err := w.c.Exec("dpkg", "-s", "lb"); err == nil {
			t.Errorf("dpkg still knows lb after purge")
		}
		left := w.sh(`for p in /etc/lb /var/lib/lb /run/lb /lib/systemd/system/lb.service /lib/systemd/system/lb.socket \
			/etc/systemd/system/lb.service /etc/systemd/system/lb.socket \
			/etc/systemd/system/*.wants/lb.* /var/lib/systemd/deb-systemd-helper-enabled/lb.* \
			/var/lib/systemd/deb-systemd-helper-enabled/*.wants/lb.* /var/lib/systemd/deb-systemd-helper-masked/lb.*; do
			[ -e "$p" ] || [ -L "$p" ] && echo "$p"; done; true`)
		if strings.TrimSpace(left) != "" {
			t.Errorf("left after purge:\n%s", left)
		}
		for _, u := range []string{unitSock, unitSvc} {
			if st := w.show(u, "LoadState"); st != "not-found" {
				t.Errorf("%s LoadState = %q after purge; want not-found", u, st)
			}
		}
	})
}

var exposure = regexp.MustCompile(`(?m)^.*Overall exposure level.*$`)

// lastLines returns the exposure line of systemd-analyze security, or the last n lines.
func lastLines(s string, n int) string {
	if m := exposure.FindString(s); m != "" {
		return m
	}
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}
