package loopback

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The health and state columns of "show stat", on lb and HAProxy 2.6 with the same
// expectations: check_status, check_code, check_desc, check_health, chkfail, chkdown,
// lastchg and downtime of servers, and chkdown, lastchg and downtime of backends.

// waitStat polls "show stat" until the fields of line px/sv read want (statFields'
// form), and returns them.
func waitStat(t *testing.T, sock, line, want string, names ...string) string {
	t.Helper()
	var got string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = statFields(adminCommand(t, sock, "show stat"), names...)[line]; got == want {
			return got
		}
	}
	t.Fatalf("show stat %s = %q; want %q", line, got, want)
	return ""
}

// statInt returns field name of line px/sv as a number.
func statInt(t *testing.T, sock, px, sv, name string) int {
	t.Helper()
	v := statNamed(t, sock, px, sv, name)
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("show stat %s/%s %s = %q; want a number", px, sv, name, v)
	}
	return n
}

// TestShowStatCheckColumns: a server refusing connections is DOWN after one check with
// L4CON, one failed check and one down transition, and its downtime runs; a server
// passing its checks is fully healthy with no failure; a backend whose only server is
// DOWN counts a down transition; maintenance counts one too, empties the check's own
// columns and stops the downtime of neither; "disable health" empties them all; an
// HTTP check shows its code.
func TestShowStatCheckColumns(t *testing.T) {
	dir := t.TempDir()
	s1 := startNameServer(t, "s1")
	app := startHTTPServer(t, "app", nil)
	dead := fmt.Sprintf("127.0.0.1:%d", refusingPort(t))
	fe, li, h := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s/admin.sock level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %[2]s
    default_backend be
backend be
    server s1 %[5]s check inter 100ms
    server s2 %[6]s check inter 100ms
listen li
    bind %[3]s
    server t1 %[6]s check inter 100ms rise 1 fall 1
listen h
    mode http
    bind %[4]s
    option httpchk GET /
    server h1 %[7]s check inter 100ms
    server h2 %[7]s
`, dir, fe, li, h, s1.addr(), dead, app.addr()))
	cols := []string{"status", "check_status", "check_code", "check_desc", "check_health", "chkfail", "chkdown"}
	onLBAndHAProxy(t, cfg, fe, func(t *testing.T, _ *outFile) {
		sock := filepath.Join(dir, "admin.sock")
		waitSock(t, sock)
		waitStat(t, sock, "be/s2", "status=DOWN check_status=L4CON check_code= check_desc=Layer4 connection problem check_health=0 chkfail=1 chkdown=1", cols...)
		waitStat(t, sock, "be/s1", "status=UP check_status=L4OK check_code= check_desc=Layer4 check passed check_health=4 chkfail=0 chkdown=0", cols...)
		waitStat(t, sock, "h/h1", "status=UP check_status=L7OK check_code=200 check_desc=Layer7 check passed check_health=4 chkfail=0 chkdown=0", cols...)
		waitStat(t, sock, "h/h2", "status=no check check_status= check_code= check_desc= check_health= chkfail= chkdown=", cols...)
		waitStat(t, sock, "li/t1", "status=DOWN check_status=L4CON check_code= check_desc=Layer4 connection problem check_health=0 chkfail=1 chkdown=1", cols...)
		// t1 was li's only server: li lost it once, be kept s1.
		waitStat(t, sock, "li/BACKEND", "status=DOWN chkdown=1", "status", "chkdown")
		waitStat(t, sock, "be/BACKEND", "status=UP chkdown=0 downtime=0", "status", "chkdown", "downtime")
		waitStat(t, sock, "be/s1", "downtime=0", "downtime")
		// An unchecked server shows lastchg but neither downtime nor chkdown.
		waitStat(t, sock, "h/h2", "chkdown= downtime=", "chkdown", "downtime")
		if lc := statInt(t, sock, "h", "h2", "lastchg"); lc < 0 || lc > 10 {
			t.Errorf("h/h2 lastchg = %d; want the seconds since the start", lc)
		}

		// A DOWN server's downtime runs with its lastchg, its failures stop counting.
		start := time.Now()
		for statInt(t, sock, "be", "s2", "downtime") < 1 {
			if time.Since(start) > 3*time.Second {
				t.Fatal("be/s2 downtime stays 0")
			}
			time.Sleep(100 * time.Millisecond)
		}
		if dt, lc := statInt(t, sock, "be", "s2", "downtime"), statInt(t, sock, "be", "s2", "lastchg"); dt < lc-1 || dt > lc+1 {
			t.Errorf("be/s2 downtime = %d, lastchg = %d; want the same seconds", dt, lc)
		}
		waitStat(t, sock, "be/s2", "chkfail=1 chkdown=1", "chkfail", "chkdown")

		// Maintenance: a down transition for the server and, s1 being be's last usable
		// server, for be; the check's own columns go empty, the counters stay.
		adminCommand(t, sock, "disable server be/s1")
		waitStat(t, sock, "be/s1", "status=MAINT check_status= check_code= check_desc= check_health= chkfail=0 chkdown=1", cols...)
		waitStat(t, sock, "be/BACKEND", "status=DOWN chkdown=1", "status", "chkdown")
		if lc := statInt(t, sock, "be", "s1", "lastchg"); lc > 1 {
			t.Errorf("be/s1 lastchg = %d after entering maintenance; want 0 or 1", lc)
		}
		adminCommand(t, sock, "enable server be/s1")
		waitStat(t, sock, "be/s1", "status=UP check_status=L4OK chkdown=1", "status", "check_status", "chkdown")
		waitStat(t, sock, "be/BACKEND", "status=UP chkdown=1", "status", "chkdown")

		// "disable health": no check column at all.
		adminCommand(t, sock, "disable health be/s2")
		waitStat(t, sock, "be/s2", "check_status= check_desc= check_health= chkfail= chkdown= downtime=",
			"check_status", "check_desc", "check_health", "chkfail", "chkdown", "downtime")
		if v := statNamed(t, sock, "be", "s2", "lastchg"); v == "" {
			t.Error("be/s2 lastchg is empty with its checks disabled")
		}
	})
}

// TestShowStatLBTotal: lbtot counts the connections load balancing sent to each server
// and to the backend, not those use-server sent, on lb and HAProxy 2.6.
func TestShowStatLBTotal(t *testing.T) {
	dir := t.TempDir()
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	rr, use, ready := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s/admin.sock level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen rr
    bind %[2]s
    server s1 %[5]s
    server s2 %[6]s
listen use
    bind %[3]s
    use-server s1 if TRUE
    server s1 %[5]s
    server s2 %[6]s
listen ready
    bind %[4]s
    server s1 %[5]s
`, dir, rr, use, ready, s1.addr(), s2.addr()))
	cols := []string{"stot", "lbtot"}
	onLBAndHAProxy(t, cfg, ready, func(t *testing.T, _ *outFile) {
		sock := filepath.Join(dir, "admin.sock")
		waitSock(t, sock)
		for range 4 {
			for _, a := range []string{rr, use} {
				if _, err := askName(a); err != nil {
					t.Fatal(err)
				}
			}
		}
		waitStat(t, sock, "rr/s1", "stot=2 lbtot=2", cols...)
		waitStat(t, sock, "rr/s2", "stot=2 lbtot=2", cols...)
		waitStat(t, sock, "rr/BACKEND", "stot=4 lbtot=4", cols...)
		waitStat(t, sock, "use/s1", "stot=4 lbtot=0", cols...)
		waitStat(t, sock, "use/s2", "stot=0 lbtot=0", cols...)
		waitStat(t, sock, "use/BACKEND", "stot=4 lbtot=0", cols...)
	})
}

// TestShowStatFeatureColumns: in a configuration with HTTP, compression and a server
// with TLS, the columns of the features that cannot count lb prints as HAProxy 2.6
// prints them (0), and leaves the others to HAProxy: every field lb fills is HAProxy's.
func TestShowStatFeatureColumns(t *testing.T) {
	dir := t.TempDir()
	s1 := startNameServer(t, "s1")
	app := startHTTPServer(t, "app", nil)
	h, z, li := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s/admin.sock level admin
defaults
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen h
    mode http
    bind %[2]s
    server a %[5]s
    server tls %[5]s ssl verify none
listen z
    mode http
    bind %[3]s
    compression algo gzip
    server a %[5]s
listen li
    mode tcp
    bind %[4]s
    server t1 %[6]s
`, dir, h, z, li, app.addr(), s1.addr()))
	replies := map[string]string{}
	onLBAndHAProxy(t, cfg, li, func(t *testing.T, _ *outFile) {
		sock := filepath.Join(dir, "admin.sock")
		waitSock(t, sock)
		engine := t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]
		if engine == "lb" {
			// HAProxy's start was awaited with a connection through li: one for lb too.
			if _, err := askName(li); err != nil {
				t.Fatal(err)
			}
		}
		waitStatIdle(t, sock)
		replies[engine] = adminCommand(t, sock, "show stat")
	})
	if replies["lb"] == "" || replies["haproxy"] == "" {
		t.Skip("no HAProxy to compare with")
	}
	compareStatCSV(t, "show stat", maskVolatile(replies["lb"]), maskVolatile(replies["haproxy"]))
	// lb fills them: 0 where they cannot count.
	got := statFields(replies["lb"], "comp_in", "ssl_sess", "h2_open_connections", "h1_total_connections")
	for line, want := range map[string]string{
		"h/FRONTEND":  "comp_in=0 ssl_sess=0 h2_open_connections=0 h1_total_connections=",
		"h/BACKEND":   "comp_in=0 ssl_sess= h2_open_connections=0 h1_total_connections=",
		"h/a":         "comp_in= ssl_sess=0 h2_open_connections= h1_total_connections=",
		"h/tls":       "comp_in= ssl_sess= h2_open_connections= h1_total_connections=",
		"li/FRONTEND": "comp_in=0 ssl_sess=0 h2_open_connections=0 h1_total_connections=",
	} {
		if got[line] != want {
			t.Errorf("show stat %s = %q; want %q", line, got[line], want)
		}
	}
}
