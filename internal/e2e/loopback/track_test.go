package loopback

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTrackAsHAProxy: servers that "track" another follow its state as in
// HAProxy 2.6, through a chain (b2/s2 tracks b3/x, which tracks b1/s1): DOWN
// and UP from its checks, maintenance and drain from the runtime API. Each
// step's "show stat" columns (status, "MAINT (via …)", the tracked column,
// empty check columns), the admin state of "show servers state", and the
// messages, "via" the tracked server and in HAProxy's order (depth first,
// newest tracker first), are haproxy's.
func TestTrackAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	app := startHTTPServer(t, "app", nil)
	chk := &acceptCloser{addr: "127.0.0.1:0"}
	chk.start(t)
	t.Cleanup(chk.stop)
	dir := t.TempDir()
	cols := []string{"status", "weight", "tracked", "check_status", "chkfail"}
	servers := [][2]string{{"b1", "s1"}, {"b2", "s1"}, {"b2", "s2"}, {"b3", "x"}, {"b2", "BACKEND"}}
	msgRe := regexp.MustCompile(`(?m)((?:Backup )?Server b\d/\S+ [^\n]*?\.|backend '\S+' has no server available!)(?: proxy=|$)`)
	type step struct {
		name string
		do   func(t *testing.T, sock string)
		want string // the status of b2/s2 after it
	}
	waitStatus := func(t *testing.T, sock, want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for statRow(t, sock, "b2", "s2", "status")[0] != "status="+want {
			if time.Now().After(deadline) {
				t.Fatalf("b2/s2 not %q within 5s: %q", want, statRow(t, sock, "b2", "s2", "status"))
			}
			time.Sleep(20 * time.Millisecond) // polling the stats: no other signal
		}
	}
	cli := func(cmd string) func(*testing.T, string) {
		return func(t *testing.T, sock string) { adminCommand(t, sock, cmd) }
	}
	steps := []step{
		{"start", func(*testing.T, string) {}, "UP"},
		{"check fails", func(*testing.T, string) { chk.stop() }, "DOWN"},
		{"check passes", func(t *testing.T, _ string) { chk.start(t) }, "UP"},
		{"maint", cli("set server b1/s1 state maint"), "MAINT (via b3/x)"},
		{"ready", cli("set server b1/s1 state ready"), "UP"},
		{"drain", cli("set server b1/s1 state drain"), "DRAIN"},
		{"ready again", cli("set server b1/s1 state ready"), "UP"},
		{"own maint", cli("set server b2/s2 state maint"), "MAINT"},
	}
	rows := map[string][]string{}
	msgs := map[string][]string{}
	for _, name := range []string{"haproxy", "lb"} {
		sock := filepath.Join(dir, name+".sock")
		cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %s level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend b1
    server s1 %s check inter 100 rise 1 fall 1
backend b2
    server s1 %s track b1/s1
    server s2 %s track b3/x
backend b3
    server x %s track b1/s1
`, sock, chk.addr, app.addr(), app.addr(), app.addr()))
		p := startNamed(t, name, hap, cfg, sock)
		// The first check's result, before the first step reads it: either proxy may
		// read the stats before its first check ran (lb once did, "* INI").
		deadline := time.Now().Add(5 * time.Second)
		for statRow(t, sock, "b1", "s1", "check_status")[0] != "check_status=L4OK" {
			if time.Now().After(deadline) {
				t.Fatalf("%s: b1/s1's first check not L4OK within 5s: %q", name, statRow(t, sock, "b1", "s1", "check_status"))
			}
			time.Sleep(20 * time.Millisecond) // polling the stats: no other signal
		}
		for _, st := range steps {
			st.do(t, sock)
			waitStatus(t, sock, st.want)
			row := st.name + ":"
			for _, sv := range servers {
				row += " " + sv[0] + "/" + sv[1] + "[" + strings.Join(statRow(t, sock, sv[0], sv[1], cols...), " ") + "]"
			}
			state := adminCommand(t, sock, "show servers state")
			for _, l := range strings.Split(state, "\n") {
				if f := strings.Fields(l); len(f) > 6 && !strings.HasPrefix(l, "#") {
					row += fmt.Sprintf(" %s/%s:op=%s,admin=%s", f[1], f[3], f[5], f[6])
				}
			}
			rows[name] = append(rows[name], row)
		}
		time.Sleep(200 * time.Millisecond) // the last messages are written after the state changed
		for _, m := range msgRe.FindAllStringSubmatch(p.out.String(), -1) {
			// A real check's duration is timing, not behaviour: 0 or 1 ms on either.
			msgs[name] = append(msgs[name], checkDurRe.ReplaceAllString(m[1], "check duration: Nms"))
		}
	}
	for i := range steps {
		if i >= len(rows["lb"]) || i >= len(rows["haproxy"]) || rows["lb"][i] != rows["haproxy"][i] {
			t.Errorf("step %d differs:\n  lb:      %q\n  haproxy: %q", i, at(rows["lb"], i), at(rows["haproxy"], i))
		}
	}
	// HAProxy's messages come twice (stderr and its log): once each.
	hmsgs := slices.Compact(msgs["haproxy"])
	if !slices.Equal(msgs["lb"], hmsgs) {
		t.Errorf("messages differ:\n  lb:\n    %s\n  haproxy:\n    %s", strings.Join(msgs["lb"], "\n    "), strings.Join(hmsgs, "\n    "))
	}
	if !slices.ContainsFunc(hmsgs, func(m string) bool { return strings.Contains(m, "is DOWN via b3/x") }) {
		t.Errorf("no DOWN via b3/x message: %q", hmsgs)
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}

var checkDurRe = regexp.MustCompile(`check duration: \d+ms`)
