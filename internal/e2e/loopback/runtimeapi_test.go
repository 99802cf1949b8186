package loopback

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The runtime API commands, sent over the real unix socket to lb and to HAProxy 2.6 with
// the same configuration: the replies are compared with golden files recorded from
// HAProxy (go test -run TestRuntimeAPIReplies -update-runtime-goldens), masking only
// what must differ (pids, versions).

var updateRuntimeGoldens = flag.Bool("update-runtime-goldens", false, "record the runtime API goldens from HAProxy")

// runtimeConfig has a backend be of two servers (s1 weight 10, s2 checked), a static
// backend zz and a listen section li with a backup server.
func runtimeConfig(t *testing.T, dir string, s1, s2 string) (cfg, addr string) {
	fe, li := freePort(t), freePort(t)
	addr = fmt.Sprintf("127.0.0.1:%d", fe)
	cfg = writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s/admin.sock level admin
    stats socket %[1]s/oper.sock level operator
    stats socket %[1]s/user.sock level user
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %[2]s
    default_backend be
backend be
    server s1 %[3]s weight 10
    server s2 %[4]s weight 10 check inter 200ms
backend zz
    balance source
    server a 127.0.0.1:1
listen li
    bind 127.0.0.1:%[5]d
    server b 127.0.0.1:1 backup
`, dir, addr, s1, s2, li))
	return cfg, addr
}

// runtimeCases are the commands whose replies are compared, by socket, in order.
var runtimeCases = []struct{ sock, cmd string }{
	{"admin", "show version"},
	{"admin", "show backend"},
	{"admin", "show env NO_SUCH_VARIABLE_HERE"},
	{"admin", "show servers state nope"},
	{"admin", "show stat nope -1 -1"},
	{"admin", "get weight be/s1"},
	{"admin", "get weight be/x"},
	{"admin", "get weight x/s1"},
	{"admin", "get weight fe/s1"},
	{"admin", "get weight"},
	{"admin", "get weight be"},
	{"admin", "set weight be/s1"},
	{"admin", "set weight be/s1 50%"},
	{"admin", "get weight be/s1"},
	{"admin", "set weight be/s1 300"},
	{"admin", "set weight be/s1 -1"},
	{"admin", "set weight be/s1 abc"},
	{"admin", "set weight be/s1 5x"},
	{"admin", "set weight be/s1 -5%"},
	{"admin", "set weight be/s1 +7"},
	{"admin", "get weight be/s1"},
	{"admin", "set weight zz/a 50"},
	{"admin", "set weight zz/a 0"},
	{"admin", "set weight zz/a 100%"},
	{"admin", "set server"},
	{"admin", "set server be"},
	{"admin", "set server x/s1 state ready"},
	{"admin", "set server be/s1 state"},
	{"admin", "set server be/s1 state foo"},
	{"admin", "set server be/s1 weight"},
	{"admin", "set server be/s1 weight 10"},
	{"admin", "set server be/s1 state maint"},
	{"admin", "set server be/s1 state drain"},
	{"admin", "set server be/s1 state ready"},
	{"admin", "disable server be/s1"},
	{"admin", "enable server be/s1"},
	{"admin", "disable server be/x"},
	{"admin", "disable server x/s1"},
	{"admin", "disable server"},
	{"admin", "disable health be/s2"},
	{"admin", "enable health be/s2"},
	{"admin", "disable health be/s1"},
	{"admin", "enable health be/s1"},
	{"admin", "enable health"},
	{"admin", "shutdown sessions server be/s1"},
	{"admin", "shutdown sessions server be/x"},
	{"admin", "show version;get weight be/s1"},
	{"oper", "get weight be/s1"},
	{"oper", "set weight be/s1 5"},
	{"oper", "disable server be/s1"},
	{"oper", "set server be/s1 state ready"},
	{"oper", "disable health be/s2"},
	{"oper", "shutdown sessions server be/s1"},
	{"oper", "show env NO_SUCH_VARIABLE_HERE"},
	{"user", "show env NO_SUCH_VARIABLE_HERE"},
	{"user", "get weight be/s1"},
	{"user", "set server be/s1 state ready"},
	{"user", "show version"},
	{"user", "show cli sockets"},
	{"user", "set timeout"},
	{"user", "set timeout foo 3"},
	{"user", "set timeout cli"},
	{"user", "set timeout cli x"},
	{"user", "set timeout cli 0"},
	{"user", "set timeout cli 500ms"},
	{"user", "set timeout cli 5sx"},
	{"user", "set timeout cli 1d"},
	{"admin", "set server zz/a addr 127.0.0.2"},
	{"admin", "set server zz/a addr 127.0.0.2"},
	{"admin", "set server zz/a addr 127.0.0.3 port 81"},
	{"admin", "set server zz/a addr foo"},
	{"admin", "set server zz/a addr"},
	{"admin", "set server zz/a addr ::1 port x"},
	{"admin", "set server zz/a addr 127.0.0.1 port 1"},
	{"admin", "set server zz/a addr 127.0.0.9 port -5"},
	{"admin", "set server zz/a addr 127.0.0.1 port +5"},
	{"admin", "set server zz/a addr 127.0.0.1 port 1"},
	{"admin", "set server x/a addr 127.0.0.1"},
	{"admin", "set server zz/x addr 127.0.0.1"},
	{"admin", "set server zz/a check-port 81"},
	{"admin", "set server be/s2 check-port x"},
	{"admin", "set server be/s2 check-port 70000"},
	{"admin", "set server be/s2 check-port"},
	{"oper", "set server zz/a addr 127.0.0.2"},
	{"admin", "set maxconn server be/s1"},
	{"admin", "set maxconn server be/s1 x"},
	{"admin", "set maxconn server be/s1 5x"},
	{"admin", "set maxconn server be/x 5"},
	{"admin", "set maxconn server x/s1 5"},
	{"admin", "set maxconn server be"},
	{"admin", "set maxconn server be/s1 5"},
	{"admin", "set maxconn server be/s1 0"},
	{"oper", "set maxconn server be/s1 5"},
	{"admin", "clear counters"},
	{"admin", "clear counters all"},
	{"oper", "clear counters"},
	{"oper", "clear counters all"},
	{"user", "clear counters"},
	{"admin", "clear counters foo"},
	{"admin", "show servers conn zz"},
	{"admin", "show servers conn li"},
	{"admin", "show servers conn nope"},
	{"admin", "show sess 0x7fffffff"},
	{"admin", "shutdown session"},
	{"admin", "shutdown session 0x7fffffff"},
	{"admin", "shutdown session foo"},
	{"oper", "shutdown session 0x7fffffff"},
	{"user", "show sess"},
	{"admin", "add server"},
	{"admin", "add server be"},
	{"admin", "add server be/n1"},
	{"admin", "add server nope/n1 127.0.0.1:1"},
	{"admin", "add server zz/n1 127.0.0.1:1"},
	{"admin", "add server be/s1 127.0.0.1:1"},
	{"admin", "add server be/x/y 127.0.0.1:1"},
	{"admin", "add server be/n1 127.0.0.1:1-5"},
	{"admin", "add server be/n1 127.0.0.1:1 cookie c1"},
	{"admin", "add server be/n1 127.0.0.1:1 foo"},
	{"admin", "add server be/n1 127.0.0.1:1 weight 300"},
	{"oper", "add server be/n1 127.0.0.1:1"},
	{"admin", "add server be/n1 127.0.0.1:1 weight 5 maxconn 10"},
	{"admin", "add server be/n1 127.0.0.1:1"},
	{"admin", "add server be/n2 127.0.0.1:2 disabled"},
	{"admin", "get weight be/n1"},
	{"admin", "del server"},
	{"admin", "del server be"},
	{"admin", "del server nope/n1"},
	{"admin", "del server be/nope"},
	{"admin", "del server be/s1"},
	{"admin", "enable server be/n1"},
	{"admin", "del server be/n1"},
	{"admin", "disable server be/n1"},
	{"oper", "del server be/n1"},
	{"admin", "del server be/n1"},
	{"admin", "del server be/n1"},
	{"admin", "del server be/n2"},
	{"admin", "add server li/n3 127.0.0.1:3"},
	{"admin", "del server li/n3"},
	{"admin", "set maxconn frontend"},
	{"admin", "set maxconn frontend nope 5"},
	{"admin", "set maxconn frontend be 5"},
	{"admin", "set maxconn frontend fe"},
	{"admin", "set maxconn frontend fe -1"},
	{"admin", "set maxconn frontend fe 2147483648"},
	{"admin", "set maxconn frontend fe 4294967301"},
	{"admin", "set maxconn frontend fe x"},
	{"admin", "set maxconn frontend fe 5x"},
	{"admin", "set maxconn frontend li 100"},
	{"oper", "set maxconn frontend fe 5"},
	{"user", "set maxconn frontend fe 5"},
	{"admin", "set maxconn global"},
	{"admin", "set maxconn global 2000000000"},
	{"admin", "set maxconn global x"},
	{"admin", "set maxconn global -1"},
	{"admin", "set maxconn global 50"},
	{"admin", "set maxconn global 0"},
	{"oper", "set maxconn global 5"},
	{"admin", "set rate-limit"},
	{"admin", "set rate-limit foo 5"},
	{"admin", "set rate-limit connections"},
	{"admin", "set rate-limit connections foo 5"},
	{"admin", "set rate-limit connections global"},
	{"admin", "set rate-limit connections global -1"},
	{"admin", "set rate-limit connections global x"},
	{"admin", "set rate-limit connections global 5x"},
	{"admin", "set rate-limit sessions"},
	{"admin", "set rate-limit sessions global"},
	{"admin", "set rate-limit sessions global -3"},
	{"admin", "set rate-limit sessions global 9"},
	{"oper", "set rate-limit sessions global 5"},
	{"admin", "set rate-limit sessions global 0"},
	{"admin", "set rate-limit ssl-sessions"},
	{"admin", "set rate-limit ssl-sessions local 5"},
	{"admin", "set rate-limit ssl-sessions global"},
	{"admin", "set rate-limit ssl-sessions global -2"},
	{"admin", "set rate-limit ssl-sessions global 7"},
	{"oper", "set rate-limit ssl-sessions global 5"},
	{"admin", "set rate-limit ssl-sessions global 0"},
	{"admin", "set rate-limit connections global 0"},
}

// maskReply hides what differs between lb and HAProxy by nature.
func maskReply(cmd, reply string) string {
	if strings.HasPrefix(cmd, "show version") {
		reply = regexp.MustCompile(`(?m)^[0-9][^\n]*$`).ReplaceAllString(reply, "<version>")
	}
	if cmd == "show cli sockets" {
		reply = regexp.MustCompile(`(?m)^unix@\S*/`).ReplaceAllString(reply, "unix@<dir>/")
	}
	return reply
}

func TestRuntimeAPIReplies(t *testing.T) {
	dir := t.TempDir()
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	cfg, addr := runtimeConfig(t, dir, s1.addr(), s2.addr())
	golden := filepath.Join("testdata", "runtimeapi", "replies.golden")
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		var b strings.Builder
		for _, c := range runtimeCases {
			fmt.Fprintf(&b, "=== %s: %s\n%s", c.sock, c.cmd, maskReply(c.cmd, adminCommand(t, filepath.Join(dir, c.sock+".sock"), c.cmd)))
		}
		got := b.String()
		if strings.HasSuffix(t.Name(), "/haproxy") && *updateRuntimeGoldens {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("replies differ from HAProxy's (%s):\n%s", golden, lineDiff(string(want), got))
		}
	})
}

// lineDiff shows the first lines that differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	n := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
			if n++; n > 15 {
				break
			}
		}
	}
	return b.String()
}

// TestRuntimeAPIHelp: lb's help lists only lb's commands, each in HAProxy's words and in
// HAProxy's order, and ends as HAProxy's.
func TestRuntimeAPIHelp(t *testing.T) {
	dir := t.TempDir()
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	cfg, addr := runtimeConfig(t, dir, s1.addr(), s2.addr())
	var lb, hap string
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		waitSock(t, filepath.Join(dir, "user.sock")) // haproxy may bind it after the frontend
		h := adminCommand(t, filepath.Join(dir, "user.sock"), "help")
		if strings.HasSuffix(t.Name(), "/lb") {
			lb = h
		} else {
			hap = h
		}
	})
	if hap == "" {
		t.Skip("no HAProxy")
	}
	pos := 0
	for _, l := range strings.SplitAfter(lb, "\n") {
		i := strings.Index(hap[pos:], l)
		if i < 0 {
			t.Errorf("lb's help line %q is not in HAProxy's help, or not in its order", l)
			continue
		}
		pos += i + len(l)
	}
}

// TestRuntimeAPITraffic: a server put in maintenance gets no traffic, and comes back
// when made ready; weights change the distribution; the changes show in "show servers
// state" and "show stat".
func TestRuntimeAPITraffic(t *testing.T) {
	dir := t.TempDir()
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	cfg, addr := runtimeConfig(t, dir, s1.addr(), s2.addr())
	sock := filepath.Join(dir, "admin.sock")
	count := func(t *testing.T, n int) map[string]int {
		m := map[string]int{}
		for i := 0; i < n; i++ {
			name, err := askName(addr)
			if err != nil {
				t.Fatal(err)
			}
			m[name]++
		}
		return m
	}
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		if got := adminCommand(t, sock, "disable server be/s1"); got != "\n" {
			t.Fatalf("disable server = %q", got)
		}
		if m := count(t, 10); m["s1"] != 0 || m["s2"] != 10 {
			t.Errorf("with s1 in maintenance: %v", m)
		}
		state := adminCommand(t, sock, "show servers state be")
		if !regexp.MustCompile(`(?m)^\d+ be 1 s1 127\.0\.0\.1 0 1 10 10 `).MatchString(state) {
			t.Errorf("show servers state be with s1 in maintenance:\n%s", state)
		}
		if st := adminCommand(t, sock, "show stat be 4 -1"); !strings.Contains(st, "\nbe,s1,") || !strings.Contains(st, ",MAINT,") {
			t.Errorf("show stat with s1 in maintenance:\n%s", st)
		}
		adminCommand(t, sock, "enable server be/s1")
		if m := count(t, 10); m["s1"] != 5 || m["s2"] != 5 {
			t.Errorf("s1 back: %v", m)
		}
		adminCommand(t, sock, "set weight be/s2 30")
		if m := count(t, 40); m["s1"] != 10 || m["s2"] != 30 {
			t.Errorf("weights 10 and 30: %v", m)
		}
		adminCommand(t, sock, "set server be/s2 state drain")
		if m := count(t, 6); m["s1"] != 6 {
			t.Errorf("with s2 draining: %v", m)
		}
		time.Sleep(300 * time.Millisecond)
		if o := out.String(); !strings.Contains(o, "Server be/s1 is going DOWN for maintenance. 1 active and 0 backup servers left.") ||
			!strings.Contains(o, "Server be/s1 is UP/READY (leaving forced maintenance).") ||
			!strings.Contains(o, "Server be/s2 enters drain state.") {
			t.Errorf("state changes not logged as HAProxy does:\n%s", o)
		}
	})
}

// TestCLISetTimeoutAsHAProxy: "set timeout cli <delay>" changes how long the session
// waits for its next command: after "set timeout cli 1" an interactive session left idle
// is closed within about a second, where "stats timeout" keeps it for 30, on lb as on
// haproxy.
func TestCLISetTimeoutAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	for _, name := range []string{"lb", "haproxy"} {
		t.Run(name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "cli.sock")
			cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %s level admin
    stats timeout 30s
defaults
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:%d
    server s 127.0.0.1:1
`, sock, freePort(t)))
			startNamed(t, name, hap, cfg, sock)
			c, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			io.WriteString(c, "prompt\nset timeout cli 1\n")
			r := bufio.NewReader(c)
			// The prompt after "prompt", then the empty answer and the prompt.
			for got := ""; !strings.HasSuffix(got, "> \n> "); {
				b, err := r.ReadByte()
				if err != nil {
					t.Fatalf("reading the answers: %v (%q)", err, got)
				}
				got += string(b)
			}
			start := time.Now()
			if _, err := r.ReadByte(); err != io.EOF {
				t.Fatalf("idle session: %v, want the end of the connection", err)
			}
			d := time.Since(start)
			t.Logf("closed after %s", d.Round(time.Millisecond))
			if d < 500*time.Millisecond || d > 5*time.Second {
				t.Errorf("idle session closed after %s, want about 1s", d.Round(time.Millisecond))
			}
		})
	}
}

// TestGetVarAsHAProxy: "get var" shows a process-wide variable set by the rules as
// HAProxy 2.6 does, its type and its value as text, a non-printable byte as a dot, and
// the answer without the empty line that ends the others (a quirk of HAProxy's, kept);
// an unknown variable, a missing name and the user level get HAProxy's replies.
func TestGetVarAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	cmds := []struct{ sock, cmd string }{
		{"admin", "get var proc.s"}, {"admin", "get var proc.i"}, {"admin", "get var proc.b"},
		{"admin", "get var proc.ip"}, {"admin", "get var proc.bin"}, {"admin", "get var proc.neg"},
		{"admin", "get var proc.ipv6"}, {"admin", "get var proc.never"}, {"admin", "get var txn.x"},
		{"admin", "get var x"}, {"admin", "get var"}, {"admin", "get var proc.s extra"},
		{"admin", "get var proc.i; show cli level"}, {"oper", "get var proc.i"}, {"user", "get var proc.i"},
	}
	got := map[string]string{}
	for _, name := range []string{"lb", "haproxy"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			port := freePort(t)
			cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s/admin.sock level admin
    stats socket %[1]s/oper.sock level operator
    stats socket %[1]s/user.sock level user
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%[2]d
    http-request set-var(proc.s) str(hello\ world)
    http-request set-var(proc.i) int(42)
    http-request set-var(proc.b) bool(1)
    http-request set-var(proc.ip) src
    http-request set-var(proc.bin) bin(6162ff)
    http-request set-var(proc.neg) int(-7)
    http-request set-var(proc.ipv6) str(::1),ipmask(24,128)
    http-request set-var(proc.never) str(x) if FALSE
    http-request return status 200
`, dir, port))
			if name == "lb" {
				startLB(t, "-db", "-f", cfg)
			} else {
				startProc(t, hap, "-db", "-f", cfg)
			}
			for _, s := range []string{"admin", "oper", "user"} {
				waitUnix(t, filepath.Join(dir, s+".sock"))
			}
			waitListen(t, fmt.Sprintf("127.0.0.1:%d", port))
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var b strings.Builder
			for _, c := range cmds {
				fmt.Fprintf(&b, "=== %s: %s\n%s", c.sock, c.cmd, adminCommand(t, filepath.Join(dir, c.sock+".sock"), c.cmd))
			}
			got[name] = b.String()
		})
	}
	if got["lb"] != got["haproxy"] {
		t.Errorf("get var differs from HAProxy's:\n%s", lineDiff(got["haproxy"], got["lb"]))
	}
	if !strings.Contains(got["haproxy"], "proc.bin: type=bin value=<ab.>\n=== ") {
		t.Errorf("haproxy's reply to get var is not as recorded here:\n%s", got["haproxy"])
	}
}
