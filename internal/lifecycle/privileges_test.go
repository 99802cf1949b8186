package lifecycle

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lb/internal/config"
)

// debianGlobal is the part of Debian's /etc/haproxy/haproxy.cfg planPrivileges acts on.
const debianGlobal = `global
	log /dev/log	local0
	chroot /var/lib/haproxy
	stats socket /run/haproxy/admin.sock mode 660 level admin
	stats timeout 30s
	user haproxy
	group haproxy
	daemon

defaults
	mode http
	timeout connect 5000
	timeout client  50000
	timeout server  50000

frontend web
	bind 127.0.0.1:8080
	default_backend app

backend app
	server a 127.0.0.1:9001
`

// Ids of the test's users: lb (the unit's User=), haproxy (the configuration's user).
const (
	idLB      = 998
	idHAProxy = 110
)

func loadPrivCfg(t *testing.T, text string) (*config.Config, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lb.cfg")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load([]string{path}, config.Options{
		LookupUser:  func(name string) (int, error) { return lookupID(name) },
		LookupGroup: func(name string) (int, error) { return lookupID(name) },
	})
	if config.ExitCode(cfg, diags) != 0 {
		t.Fatalf("config: %v", diags)
	}
	return cfg, path
}

func lookupID(name string) (int, error) {
	switch name {
	case "lb":
		return idLB, nil
	case "haproxy":
		return idHAProxy, nil
	case "root":
		return 0, nil
	}
	return 0, errors.New("unknown")
}

func testEnv(root, systemd bool) privEnv {
	e := privEnv{
		systemd:     systemd,
		canChroot:   root,
		canSetID:    root,
		uid:         idLB,
		gid:         idLB,
		lookupUser:  func(n string) (int, int, error) { id, err := lookupID(n); return id, id, err },
		lookupGroup: lookupID,
		lookupUserName: func(id int) string {
			return map[int]string{0: "root", idLB: "lb", idHAProxy: "haproxy"}[id]
		},
		lookupGroupName: func(id int) string {
			return map[int]string{0: "root", idLB: "lb", idHAProxy: "haproxy"}[id]
		},
		writable: func(dir string) bool { return dir == "/tmp" },
	}
	if root {
		e.uid, e.gid = 0, 0
	}
	if systemd {
		e.runtimeDir = "/run/lb"
	}
	return e
}

func TestPlanPrivileges(t *testing.T) {
	cfg, path := loadPrivCfg(t, debianGlobal)
	at := func(line int) string { return path + ":" + string(rune('0'+line)) + ": " }

	t.Run("root", func(t *testing.T) {
		for _, systemd := range []bool{false, true} {
			plan, err := planPrivileges(cfg, testEnv(true, systemd))
			if err != nil {
				t.Fatal(err)
			}
			if plan.chroot != "/var/lib/haproxy" || plan.uid != idHAProxy || plan.gid != idHAProxy {
				t.Errorf("systemd=%v: plan %+v; want chroot, then uid and gid of haproxy", systemd, plan)
			}
			// Under systemd "daemon" is the unit's even for root (Type=notify).
			if want := 0; systemd {
				want = 1
				if len(plan.warnings) != want || !plan.noDaemon {
					t.Errorf("systemd: warnings %q, noDaemon %v; want the daemon one only", plan.warnings, plan.noDaemon)
				}
			} else if len(plan.warnings) != want || plan.noDaemon {
				t.Errorf("no systemd: warnings %q; want none", plan.warnings)
			}
		}
	})

	t.Run("unprivileged_under_systemd", func(t *testing.T) {
		plan, err := planPrivileges(cfg, testEnv(false, true))
		if err != nil {
			t.Fatal(err)
		}
		if plan.chroot != "" || plan.uid != -1 || plan.gid != -1 || !plan.noDaemon {
			t.Errorf("plan %+v; want everything left to the unit", plan)
		}
		want := []string{
			at(3) + "'chroot /var/lib/haproxy' is left to the unit",
			at(6) + "'user haproxy' is left to the unit: lb runs as its User= (lb)",
			at(7) + "'group haproxy' is left to the unit: lb runs as its Group= (lb)",
			at(8) + "'daemon' is left to the unit",
		}
		if len(plan.warnings) != len(want) {
			t.Fatalf("warnings:\n%s\nwant %d", strings.Join(plan.warnings, "\n"), len(want))
		}
		for i, w := range want {
			if !strings.HasPrefix(plan.warnings[i], w) {
				t.Errorf("warning %d = %q; want it to start with %q", i, plan.warnings[i], w)
			}
		}
		if !strings.Contains(plan.warnings[0], "RootDirectory=") || !strings.Contains(plan.warnings[3], "Type=notify") {
			t.Errorf("warnings name no unit setting: %q", plan.warnings)
		}
	})

	t.Run("unprivileged_outside_systemd", func(t *testing.T) {
		_, err := planPrivileges(cfg, testEnv(false, false))
		if err == nil || !strings.HasPrefix(err.Error(), at(3)+"'chroot /var/lib/haproxy' needs root") ||
			!strings.Contains(err.Error(), "run lb as root, or remove the line") {
			t.Errorf("err = %v; want the chroot line named, and what to do", err)
		}
		noChroot, path := loadPrivCfg(t, strings.Replace(debianGlobal, "chroot /var/lib/haproxy", "#", 1))
		_, err = planPrivileges(noChroot, testEnv(false, false))
		if err == nil || !strings.HasPrefix(err.Error(), path+":6: 'user haproxy' needs root") {
			t.Errorf("err = %v; want the user line named", err)
		}
	})

	t.Run("already_that_user", func(t *testing.T) {
		text := strings.NewReplacer("chroot /var/lib/haproxy", "#", "user haproxy", "user lb", "group haproxy", "group lb", "\tdaemon\n", "").Replace(debianGlobal)
		own, _ := loadPrivCfg(t, text)
		for _, systemd := range []bool{false, true} {
			plan, err := planPrivileges(own, testEnv(false, systemd))
			if err != nil || plan.uid != -1 || plan.gid != -1 || len(plan.warnings) != 0 {
				t.Errorf("systemd=%v: plan %+v, err %v; want nothing to do", systemd, plan, err)
			}
		}
	})

	t.Run("uid_gid", func(t *testing.T) {
		text := strings.NewReplacer("user haproxy", "uid 110", "group haproxy", "gid 110").Replace(debianGlobal)
		num, _ := loadPrivCfg(t, text)
		plan, err := planPrivileges(num, testEnv(false, true))
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.warnings) != 4 || !strings.Contains(plan.warnings[1], ":6: 'uid 110' is left") ||
			!strings.Contains(plan.warnings[2], ":7: 'gid 110' is left") {
			t.Errorf("warnings %q; want uid and gid named with their lines", plan.warnings)
		}
	})
}

func TestPlaceStatsSockets(t *testing.T) {
	cfg, path := loadPrivCfg(t, debianGlobal)

	got, warns, err := placeStatsSockets(cfg, testEnv(false, true))
	if err != nil {
		t.Fatal(err)
	}
	if p := got.Global.StatsSockets[0].Addr.Path; p != "/run/lb/admin.sock" {
		t.Errorf("socket at %q; want /run/lb/admin.sock", p)
	}
	if cfg.Global.StatsSockets[0].Addr.Path != "/run/haproxy/admin.sock" {
		t.Errorf("the loaded configuration was changed")
	}
	if len(warns) != 1 || !strings.HasPrefix(warns[0], path+":4: 'stats socket /run/haproxy/admin.sock' is at /run/lb/admin.sock") {
		t.Errorf("warnings %q", warns)
	}

	// Outside systemd, or where lb may write, the socket stays where it is.
	for _, env := range []privEnv{testEnv(false, false), testEnv(true, false)} {
		if got, warns, _ := placeStatsSockets(cfg, env); got != cfg || warns != nil {
			t.Errorf("outside systemd: moved (%q)", warns)
		}
	}
	tmp, _ := loadPrivCfg(t, strings.Replace(debianGlobal, "/run/haproxy/admin.sock", "/tmp/admin.sock", 1))
	if got, _, _ := placeStatsSockets(tmp, testEnv(false, true)); got != tmp {
		t.Errorf("a socket in a writable directory was moved")
	}

	// Two sockets meeting at one path are an error naming the line.
	two, path := loadPrivCfg(t, strings.Replace(debianGlobal, "\tstats timeout", "\tstats socket /run/lb/admin.sock\n\tstats timeout", 1))
	if _, _, err := placeStatsSockets(two, testEnv(false, true)); err == nil || !strings.HasPrefix(err.Error(), path+":4: ") {
		t.Errorf("err = %v; want the clash named at line 4", err)
	}
}
