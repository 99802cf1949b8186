package systemd

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// unitDir holds the shipped unit files.
const unitDir = "../../packaging/systemd"

// parseUnit reads the Section.Key=value lines of a unit file; repeated keys
// keep every value in order.
func parseUnit(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kv := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: line %q is no assignment", path, line)
			}
			key := section + "." + strings.TrimSpace(k)
			kv[key] = append(kv[key], strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kv
}

// TestUnitContract checks the directives the rest of lb relies on
// (LIFECYCLE.md §2).
func TestUnitContract(t *testing.T) {
	svc := parseUnit(t, filepath.Join(unitDir, "lb.service"))
	sock := parseUnit(t, filepath.Join(unitDir, "lb.socket"))
	tests := []struct {
		unit map[string][]string
		key  string
		want string
	}{
		{svc, "Service.Type", "notify"},
		{svc, "Service.NotifyAccess", "exec"},
		{svc, "Service.ExecStartPre", "/usr/sbin/lb -c -q -f /etc/lb/lb.cfg"},
		{svc, "Service.ExecStart", "/usr/sbin/lb -db -f /etc/lb/lb.cfg"},
		{svc, "Service.ExecReload", "/usr/sbin/lb -f /etc/lb/lb.cfg -sf $MAINPID -x /run/lb/admin.sock"},
		{svc, "Service.KillSignal", "SIGUSR1"},
		{svc, "Service.RestartKillSignal", "SIGUSR1"},
		{svc, "Service.KillMode", "mixed"},
		{svc, "Service.Restart", "on-failure"},
		{svc, "Service.User", "lb"},
		{svc, "Service.RuntimeDirectory", "lb"},
		{svc, "Service.RuntimeDirectoryPreserve", "restart"},
		{svc, "Service.SystemCallErrorNumber", "EPERM"},
		{svc, "Install.WantedBy", "multi-user.target"},
		{sock, "Socket.ListenStream", "127.0.0.1:8404"},
		{sock, "Socket.FileDescriptorName", "health"},
		{sock, "Socket.Service", "lb.service"},
		{sock, "Socket.Accept", "no"},
		{sock, "Install.WantedBy", "sockets.target"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := tt.unit[tt.key]; len(got) != 1 || got[0] != tt.want {
				t.Errorf("%s = %q; want [%q]", tt.key, got, tt.want)
			}
		})
	}
	t.Run("FileDescriptorStoreMax", func(t *testing.T) {
		v := svc["Service.FileDescriptorStoreMax"]
		if n, err := strconv.Atoi(strings.Join(v, "")); err != nil || n <= 0 {
			t.Errorf("FileDescriptorStoreMax = %q; want a positive number", v)
		}
	})
	t.Run("no notify-reload in the base unit", func(t *testing.T) {
		// 252 would turn it into Type=simple and warn about ReloadSignal=.
		if _, ok := svc["Service.ReloadSignal"]; ok {
			t.Error("ReloadSignal= in lb.service; it belongs to the >= 253 drop-in")
		}
	})
}

// stageUnits copies the units into a temporary directory with the lb binary
// path pointing at a stub executable there: systemd-analyze verify insists
// that ExecStart= binaries exist, and /usr/sbin/lb is not installed on a
// build machine.
func stageUnits(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	stub := filepath.Join(dir, "lb")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"lb.service", "lb.socket"} {
		b, err := os.ReadFile(filepath.Join(unitDir, name))
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.ReplaceAll(string(b), "/usr/sbin/lb", stub))
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	return p
}

// TestUnitsVerify fails on any message of `systemd-analyze verify`.
func TestUnitsVerify(t *testing.T) {
	sa := systemdAnalyze(t)
	dir := stageUnits(t)
	cmd := exec.Command(sa, "verify", "--man=no",
		filepath.Join(dir, "lb.service"), filepath.Join(dir, "lb.socket"))
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for lb\.service: ([0-9.]+)`)

// TestUnitSecurity keeps `systemd-analyze security` at "OK" or better.
func TestUnitSecurity(t *testing.T) {
	sa := systemdAnalyze(t)
	dir := stageUnits(t)
	cmd := exec.Command(sa, "security", "--offline=yes", "--no-pager", filepath.Join(dir, "lb.service"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := exposureRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure level in:\n%s", out)
	}
	level, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil || level > 4.0 {
		t.Errorf("exposure level %s; want at most 4.0 (OK)\n%s", m[1], out)
	}
	t.Logf("exposure level %.1f", level)
}
