package loopback

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// names asks addr n times which server answers and counts them.
func names(t *testing.T, addr string, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := 0; i < n; i++ {
		name, err := askName(addr)
		if err != nil {
			t.Fatal(err)
		}
		got[name]++
	}
	return got
}

// TestAddDelServer: a server added at run time gets no traffic until enabled, then its
// share; one with a connection cannot be deleted; once deleted it gets none; on lb and
// on HAProxy alike.
func TestAddDelServer(t *testing.T) {
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen app
    bind %s
    server s1 %s
`, sock, addr, s1.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		cmd := func(c, want string) {
			t.Helper()
			if out := adminCommand(t, sock, c); strings.TrimSpace(out) != want {
				t.Fatalf("%s: %q, want %q", c, out, want)
			}
		}
		cmd("add server app/s2 "+s2.addr()+" weight 1", "New server registered.")
		if got := names(t, addr, 4); got["s2"] != 0 {
			t.Errorf("added server in maintenance got traffic: %v", got)
		}
		if !strings.Contains(adminCommand(t, sock, "show stat"), "app,s2,") {
			t.Error("show stat has no row for the added server")
		}
		cmd("enable server app/s2", "")
		if got := names(t, addr, 4); got["s1"] != 2 || got["s2"] != 2 {
			t.Errorf("after enable server: %v, want 2 each", got)
		}
		// A connection held on s2 (round robin: the next one goes there).
		var held net.Conn
		for i := 0; i < 2 && held == nil; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			if strings.TrimSpace(line) == "s2" {
				held = c
			} else {
				c.Close()
			}
		}
		if held == nil {
			t.Fatal("no connection went to s2")
		}
		cmd("disable server app/s2", "")
		cmd("del server app/s2", "Server still has connections attached to it, cannot remove it.")
		held.Close()
		deadline := time.Now().Add(5 * time.Second)
		for {
			out := strings.TrimSpace(adminCommand(t, sock, "del server app/s2"))
			if out == "Server deleted." {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("del server app/s2: %q", out)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got := names(t, addr, 4); got["s1"] != 4 {
			t.Errorf("after del server: %v, want s1 only", got)
		}
		if strings.Contains(adminCommand(t, sock, "show stat"), "app,s2,") {
			t.Error("show stat still has a row for the deleted server")
		}
		cmd("del server app/s2", "No such server.")
	})
}

// TestAddedServerSurvivesReloads: a server added at run time, enabled, with its weight
// changed, is still there and gets its traffic after a -sf -x reload and after SIGUSR2;
// HAProxy carries no added server, lb's acceptance asks it.
func TestAddedServerSurvivesReloads(t *testing.T) {
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	dir := t.TempDir()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	sock := filepath.Join(dir, "admin.sock")
	cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %s mode 600 level admin expose-fd listeners
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen app
    bind 127.0.0.1:%d
    server s1 %s
`, sock, port, s1.addr()))
	check := func(when, want string) {
		t.Helper()
		var got []string
		for _, l := range stateLines(adminCommand(t, sock, "show servers state app")) {
			f := strings.Fields(l)
			got = append(got, f[3]+" "+f[6]+" "+f[7])
		}
		if strings.Join(got, ", ") != want {
			t.Errorf("%s: servers %q, want %q", when, strings.Join(got, ", "), want)
		}
		if got := names(t, addr, 4); got["s2"] != 3 {
			t.Errorf("%s: %v, want 3 of 4 on s2", when, got)
		}
	}
	old := startLB(t, "-db", "-f", cfg)
	for _, c := range []string{"add server app/s2 " + s2.addr(), "enable server app/s2", "set weight app/s2 3"} {
		if out := strings.TrimSpace(adminCommand(t, sock, c)); out != "" && out != "New server registered." {
			t.Fatalf("%s: %q", c, out)
		}
	}
	check("before", "s1 0 1, s2 0 3")

	next, n := reloadSfX(t, old, cfg, sock)
	check("after a -sf -x reload", "s1 0 1, s2 0 3")

	reloadUSR2(t, next, n)
	check("after SIGUSR2", "s1 0 1, s2 0 3")
}
