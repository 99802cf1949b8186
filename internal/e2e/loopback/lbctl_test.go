package loopback

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"lb/internal/lbtest"
)

var (
	lbctlOnce sync.Once
	lbctlBin  string
	lbctlErr  error
)

// lbctlBinary builds lbctl once for the package's tests.
func lbctlBinary(t *testing.T) string {
	t.Helper()
	lbctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lbctl-e2e-")
		if err != nil {
			lbctlErr = err
			return
		}
		lbctlBin, lbctlErr = lbtest.Build(dir, "./cmd/lbctl", "")
	})
	if lbctlErr != nil {
		t.Fatal(lbctlErr)
	}
	return lbctlBin
}

// TestLbctlRuntimeCommands: lbctl drives the runtime API of a running lb over its stats
// socket: tables and JSON of the counters and servers, a server put in maintenance and given
// a weight, and a refused change that exits 1 with lb's reason.
func TestLbctlRuntimeCommands(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %s mode 600 level admin
defaults
    mode tcp
    timeout client 5s
    timeout server 5s
    timeout connect 2s
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    server s1 127.0.0.1:9
    server s2 127.0.0.1:9
`, sock, port))
	startLB(t, "-db", "-f", cfg)
	lbctl := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(lbctlBinary(t), append([]string{"--socket", sock}, args...)...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	out, _, code := lbctl("show", "stat")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) < 4 || !strings.HasPrefix(lines[0], "pxname") || !strings.Contains(out, "be  ") {
		t.Fatalf("show stat: %d\n%s", code, out)
	}
	if _, errs, code := lbctl("disable", "server", "be/s1"); code != 0 {
		t.Fatalf("disable server: %d %s", code, errs)
	}
	if _, errs, code := lbctl("set", "weight", "be/s2", "50"); code != 0 {
		t.Fatalf("set weight: %d %s", code, errs)
	}
	out, _, _ = lbctl("--json", "show", "servers", "be")
	var servers []map[string]string
	if err := json.Unmarshal([]byte(out), &servers); err != nil || len(servers) != 2 {
		t.Fatalf("show servers --json: %v\n%s", err, out)
	}
	if s := servers[0]; s["srv_name"] != "s1" || s["srv_admin_state"] != "1" {
		t.Errorf("s1 after disable server: %v", s)
	}
	if s := servers[1]; s["srv_name"] != "s2" || s["srv_uweight"] != "50" {
		t.Errorf("s2 after set weight: %v", s)
	}
	out, _, _ = lbctl("--json", "show", "stat")
	var stats []map[string]string
	if err := json.Unmarshal([]byte(out), &stats); err != nil {
		t.Fatalf("show stat --json: %v\n%s", err, out)
	}
	found := false
	for _, r := range stats {
		if r["pxname"] == "be" && r["svname"] == "s1" {
			found = true
			if r["status"] != "MAINT" {
				t.Errorf("s1's status in show stat: %q", r["status"])
			}
		}
	}
	if !found {
		t.Errorf("no be/s1 row in show stat --json:\n%s", out)
	}
	if _, errs, code := lbctl("disable", "server", "be/nope"); code != 1 || !strings.Contains(errs, "No such server.") {
		t.Errorf("disable of an unknown server: exit %d, %q", code, errs)
	}
	if _, errs, code := lbctl("frobnicate", "server"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: exit %d, %q", code, errs)
	}
}
