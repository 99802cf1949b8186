package loopback

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// mapsCommands are the map and ACL commands whose replies are compared with HAProxy's;
// DIR stands for the directory of the pattern files.
var mapsCommands = []string{
	"show map", "show acl", "show map #0", "show map DIR/hosts.map", "show map #9", "show acl DIR/ips.lst",
	"show acl #2", "show acl #3", "show acl #4", "show acl #99", "show acl foo",
	"get map DIR/hosts.map a.example", "get map DIR/hosts.map zz", "get map #9 10.1.2.3", "get map #9 10.2.2.3",
	"get map #9 nonip", "get acl DIR/ips.lst 192.168.3.4", "get acl DIR/ips.lst 10.0.0.1", "get acl #3 1.2.3.4",
	"get acl #4 /a/x", "get acl #4 /c", "get acl #5 4", "get acl #5 x", "get acl #2 1.2.3.4", "get acl", "get acl #0",
	"get map DIR/hosts.map",
	"add acl #0 1.1.1.1", "add acl #0 notanip", "add acl #0", "add acl", "add acl #5 x", "add acl #6 x",
	"add acl DIR/hosts.map x", "add map DIR/hosts.map c.example", "add map DIR/hosts.map c.example be1",
	"add map DIR/hosts.map c.example be3", "add map #9 1.2.3.4 foo", "add map #9 1.2.3.4/40 foo",
	"add map #9 nonip foo", "show map DIR/hosts.map", "get map DIR/hosts.map c.example",
	"set map DIR/hosts.map c.example be2", "set map DIR/hosts.map zzz be2", "set map DIR/hosts.map #0x1 be2",
	"set map DIR/hosts.map #0xzz be2", "set map DIR/hosts.map", "set map DIR/hosts.map a", "set map #0 a b",
	"set map #99 a b", "show map DIR/hosts.map", "del map DIR/hosts.map c.example", "del map DIR/hosts.map c.example",
	"del map DIR/hosts.map #0x12", "del map DIR/hosts.map #0xq", "del map DIR/hosts.map", "del map", "del acl",
	"del acl #0 1.1.1.1", "del acl #0 1.1.1.1", "del acl #9 a", "del map #0 a", "show acl #0", "clear acl #3",
	"show acl #3", "clear acl", "clear acl #99", "clear map #0", "clear map #9", "show map", "show acl",
}

var entryIDs = regexp.MustCompile(`0x[0-9a-f]+`)

// TestMapsACLsRuntime checks the map and ACL commands of the runtime API: a switching
// rule on "src -f" and one on a map follow "add acl", "del acl", "add map", "set map" and
// "clear map" at once, without reload; and the replies to every command are HAProxy's.
func TestMapsACLsRuntime(t *testing.T) {
	dir := t.TempDir()
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	files := map[string]string{
		"ips.lst":   "10.0.0.1\n# c\n\n192.168.0.0/16\n",
		"hosts.map": "a.example be1\nb.example  be2\n/api apiback\n",
		"nets.map":  "10.0.0.0/8 bk2\n10.1.0.0/16 bk1\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	aclAddr, mapAddr, httpPort := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t)), freePort(t)
	cfg := filepath.Join(dir, "lb.cfg")
	text := fmt.Sprintf(`global
  stats socket %[1]s/admin.sock level admin
defaults
  timeout client 5s
  timeout server 5s
  timeout connect 5s
frontend byacl
  mode tcp
  bind %[2]s
  acl local src -f %[1]s/ips.lst
  use_backend bk2 if local
  default_backend bk1
frontend http
  mode http
  bind 127.0.0.1:%[5]d
  acl loc2 src 1.2.3.4 5.6.7.8
  acl p path_beg /a /b
  acl n req.hdr_cnt(x) 3:5
  http-request set-header X-B %%[req.hdr(host),map(%[1]s/hosts.map,none)]
  use_backend %%[req.hdr(host),map_str(%[1]s/hosts.map)] if p
  use_backend bkh if loc2 LOCALHOST n
  default_backend bkh
frontend bymap
  mode tcp
  bind %[3]s
  use_backend %%[src,map_ip(%[1]s/nets.map,bk1)]
  default_backend bk1
backend bk1
  mode tcp
  server s1 %[4]s
backend bk2
  mode tcp
  server s2 %[6]s
backend bkh
  mode http
  server h 127.0.0.1:%[5]d
`, dir, aclAddr, mapAddr, s1.addr(), httpPort, s2.addr())
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "admin.sock")
	golden := filepath.Join("testdata", "runtimeapi", "maps.golden")
	onLBAndHAProxy(t, cfg, aclAddr, func(t *testing.T, out *outFile) {
		waitListen(t, mapAddr)
		cmd := func(c string) string { return adminCommand(t, sock, strings.ReplaceAll(c, "DIR", dir)) }
		want := func(addr, server string) {
			t.Helper()
			deadline := time.Now().Add(2 * time.Second)
			for {
				got, err := askName(addr)
				if err == nil && got == server {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s answered %q (%v), want %s", addr, got, err, server)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		want(aclAddr, "s1")
		if r := cmd("add acl DIR/ips.lst 127.0.0.1"); r != "\n" {
			t.Fatalf("add acl: %q", r)
		}
		want(aclAddr, "s2")
		cmd("del acl DIR/ips.lst 127.0.0.1")
		want(aclAddr, "s1")
		want(mapAddr, "s1")
		cmd("add map DIR/nets.map 127.0.0.0/8 bk2")
		want(mapAddr, "s2")
		cmd("set map DIR/nets.map 127.0.0.0/8 bk1")
		want(mapAddr, "s1")
		cmd("set map DIR/nets.map 127.0.0.0/8 bk2")
		want(mapAddr, "s2")
		cmd("del map DIR/nets.map 127.0.0.0/8")
		want(mapAddr, "s1")

		var b strings.Builder
		for _, c := range mapsCommands {
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
