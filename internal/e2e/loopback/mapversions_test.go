package loopback

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mapVersionCommands exercise the versions of maps and ACLs ("prepare", "add @<ver>",
// "show @<ver>", "clear @<ver>", "commit"); DIR stands for the pattern files' directory.
var mapVersionCommands = []string{
	"show map", "show acl",
	"prepare map DIR/nets.map", "prepare map DIR/nets.map", "prepare map", "prepare map nope", "prepare map DIR/ips.lst",
	"prepare acl DIR/nets.map", "show map",
	"add map @1 DIR/nets.map 10.9.0.0/16 bk2", "add map @2 DIR/nets.map 10.8.0.0/16 bk1", "add map @9 DIR/nets.map 1.2.3.4 bk1",
	"add map @2 DIR/nets.map 10.7.0.0/16", "add map @2 DIR/nets.map notanip bk1", "add map @x DIR/nets.map 10.6.0.0/16 bk1",
	"show map @1 DIR/nets.map", "show map @2 DIR/nets.map", "show map @9 DIR/nets.map", "show map @x DIR/nets.map",
	"show map @1", "show map DIR/nets.map", "show map",
	"clear map @1 DIR/nets.map", "show map @1 DIR/nets.map", "clear map @1", "clear map @99 DIR/nets.map",
	"add map @2 DIR/nets.map 10.5.0.0/16 bk2",
	"commit map DIR/nets.map", "commit map", "commit map @2", "commit map @3 DIR/nets.map", "commit map @x DIR/nets.map",
	"commit map @1 DIR/ips.lst",
	"commit map @1 DIR/nets.map", "show map DIR/nets.map", "show map",
	"commit map @1 DIR/nets.map", "commit map @2 DIR/nets.map", "show map DIR/nets.map", "show map",
	"prepare map DIR/nets.map", "add map @3 DIR/nets.map 10.4.0.0/16 bk1", "clear map DIR/nets.map",
	"show map @3 DIR/nets.map", "show map DIR/nets.map", "show map",
	"del map @3 DIR/nets.map 10.4.0.0/16", "set map @3 DIR/nets.map 10.4.0.0/16 bk2", "get map @3 DIR/nets.map 10.4.0.1",
	"del map DIR/nets.map 10.4.0.0/16", "show map @3 DIR/nets.map", "show map",
	"prepare acl DIR/ips.lst", "add acl @1 DIR/ips.lst 1.2.3.4", "add acl @3 DIR/ips.lst 1.2.3.4",
	"add acl @1 DIR/ips.lst", "add acl @1 DIR/ips.lst notanip", "show acl @1 DIR/ips.lst", "show acl @1",
	"commit acl @1", "commit acl", "commit acl @2 DIR/ips.lst", "clear acl @1", "show acl",
	"commit acl @1 DIR/ips.lst", "show acl DIR/ips.lst", "show acl",
}

// TestMapVersions: a new version of a map and of an ACL file is filled beside the
// current one and takes over every lookup at its commit, without reload; the replies to
// every command are HAProxy 2.6's (testdata/runtimeapi/mapversions.golden, recorded
// from haproxy with -update-runtime-goldens).
func TestMapVersions(t *testing.T) {
	dir := t.TempDir()
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	for name, text := range map[string]string{
		"ips.lst":  "10.0.0.1\n",
		"nets.map": "10.0.0.0/8 bk2\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	aclAddr, mapAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := filepath.Join(dir, "lb.cfg")
	text := fmt.Sprintf(`global
  stats socket %[1]s/admin.sock level admin
defaults
  mode tcp
  timeout client 5s
  timeout server 5s
  timeout connect 5s
frontend byacl
  bind %[2]s
  acl local src -f %[1]s/ips.lst
  use_backend bk2 if local
  default_backend bk1
frontend bymap
  bind %[3]s
  use_backend %%[src,map_ip(%[1]s/nets.map,bk1)]
  default_backend bk1
backend bk1
  server s1 %[4]s
backend bk2
  server s2 %[5]s
`, dir, aclAddr, mapAddr, s1.addr(), s2.addr())
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "admin.sock")
	golden := filepath.Join("testdata", "runtimeapi", "mapversions.golden")
	onLBAndHAProxy(t, cfg, aclAddr, func(t *testing.T, out *outFile) {
		waitListen(t, mapAddr)
		waitSock(t, sock)
		cmd := func(c string) string { return adminCommand(t, sock, strings.ReplaceAll(c, "DIR", dir)) }
		want := func(addr, server string) {
			t.Helper()
			got, err := askName(addr)
			if err != nil || got != server {
				t.Fatalf("%s answered %q (%v), want %s", addr, got, err, server)
			}
		}
		// The changes are made before the reply: no waiting.
		want(mapAddr, "s1")
		cmd("prepare map DIR/nets.map")
		cmd("add map @1 DIR/nets.map 127.0.0.0/8 bk2")
		want(mapAddr, "s1") // not committed yet
		if r := cmd("commit map @1 DIR/nets.map"); r != "\n" {
			t.Fatalf("commit map: %q", r)
		}
		want(mapAddr, "s2")
		cmd("prepare map DIR/nets.map")
		cmd("commit map @2 DIR/nets.map") // an empty version
		want(mapAddr, "s1")
		want(aclAddr, "s1")
		cmd("prepare acl DIR/ips.lst")
		cmd("add acl @1 DIR/ips.lst 127.0.0.1")
		want(aclAddr, "s1")
		cmd("commit acl @1 DIR/ips.lst")
		want(aclAddr, "s2")
		cmd("prepare acl DIR/ips.lst")
		cmd("commit acl @2 DIR/ips.lst")
		want(aclAddr, "s1")
		for _, c := range []string{"ips.lst", "nets.map"} {
			// Back to the files' contents for the replies below.
			kind := map[string]string{"ips.lst": "acl", "nets.map": "map"}[c]
			cmd("prepare " + kind + " DIR/" + c)
		}
		cmd("add map @3 DIR/nets.map 10.0.0.0/8 bk2")
		cmd("commit map @3 DIR/nets.map")
		cmd("add acl @3 DIR/ips.lst 10.0.0.1")
		cmd("commit acl @3 DIR/ips.lst")

		var b strings.Builder
		for _, c := range mapVersionCommands {
			r := strings.ReplaceAll(cmd(c), dir, "DIR")
			r = entryIDs.ReplaceAllString(r, "0xID")
			var kept []string
			for _, l := range strings.SplitAfter(r, "\n") {
				// HAProxy's internal HTTP client has ACLs of its own; lb has no such client.
				if !strings.Contains(l, "file 'httpclient'") {
					kept = append(kept, l)
				}
			}
			fmt.Fprintf(&b, "=== %s\n%s", c, strings.Join(kept, ""))
		}
		got := b.String()
		if strings.HasSuffix(t.Name(), "/haproxy") && *updateRuntimeGoldens {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		wantText, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(wantText) {
			t.Errorf("replies differ from HAProxy's (%s):\n%s", golden, lineDiff(string(wantText), got))
		}
	})
}
