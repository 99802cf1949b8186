package loopback

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lb/internal/srvstate"
)

// stateLines returns the server lines of "show servers state", without the
// fields that change with time (srv_time_since_last_change) or that lb does not
// track (the check columns): be_id be_name srv_id srv_name srv_addr op admin uweight
// iweight and srv_port.
func stateLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 20 || strings.HasPrefix(l, "#") {
			continue
		}
		lines = append(lines, strings.Join(append(f[:9:9], f[18]), " "))
	}
	return lines
}

// serverStateFile is a state file for backend app (id 2 in HAProxy and lb: the runtime
// API's own proxy takes id 1). The global file matches by name only.
func serverStateFile(admin1, weight2 int, s1, s2 string) string {
	h1, p1, _ := strings.Cut(s1, ":")
	h2, p2, _ := strings.Cut(s2, ":")
	return fmt.Sprintf(`1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
1 app 1 s1 %s 2 %d 1 1 5 0 0 0 0 0 0 0 - %s - 0 0 - - 0
1 app 2 s2 %s 2 0 %d 1 5 0 0 0 0 0 0 0 - %s - 0 0 - - 0
1 app 3 gone 127.0.0.1 2 1 1 1 5 0 0 0 0 0 0 0 - 1 - 0 0 - - 0
`, h1, admin1, p1, h2, weight2, p2)
}

// TestServerStateSurvivesReloads: a server put in maintenance by a server-state-file at
// the first start stays in maintenance, and another's weight stays what was set, after a
// -sf -x reload and after SIGUSR2, with the file gone: the state travels from process to
// process. Traffic never reaches the server in maintenance.
func TestServerStateSurvivesReloads(t *testing.T) {
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	dir := t.TempDir()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	sock := filepath.Join(dir, "admin.sock")
	state := filepath.Join(dir, "state")
	if err := os.WriteFile(state, []byte(serverStateFile(1, 7, s1.addr(), s2.addr())), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %s mode 600 level admin expose-fd listeners
    server-state-base %s
    server-state-file state
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    load-server-state-from-file global
listen app
    bind 127.0.0.1:%d
    server s1 %s
    server s2 %s
`, sock, dir, port, s1.addr(), s2.addr()))

	h1, p1, _ := strings.Cut(s1.addr(), ":")
	h2, p2, _ := strings.Cut(s2.addr(), ":")
	want := []string{
		fmt.Sprintf("2 app 1 s1 %s 0 1 1 1 %s", h1, p1),
		fmt.Sprintf("2 app 2 s2 %s 2 0 7 1 %s", h2, p2),
	}
	check := func(when string) {
		t.Helper()
		got := stateLines(adminCommand(t, sock, "show servers state"))
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: show servers state:\n%s\nwant:\n%s", when, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for i := 0; i < 6; i++ {
			name, err := askName(addr)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if name != "s2" {
				t.Errorf("%s: connection %d went to %s, in maintenance", when, i, name)
			}
		}
	}

	old := startLB(t, "-db", "-f", cfg)
	check("first start, from the state file")
	if out := old.out.String(); strings.Contains(out, "can't find server") {
		t.Errorf("a global state file warns of a server it does not have:\n%s", out)
	}

	// The file goes: what follows comes from the old process only.
	if err := os.Remove(state); err != nil {
		t.Fatal(err)
	}
	next, n := reloadSfX(t, old, cfg, sock)
	next.waitOutput("Can't open global server state file", 5*time.Second)
	check("after a -sf -x reload")

	child := reloadUSR2(t, next, n)
	check("after SIGUSR2")

	// The control: a process started afresh has the configuration's state.
	if err := syscall.Kill(child, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitGone(t, child, 10*time.Second)
	startLB(t, "-db", "-f", cfg)
	got := stateLines(adminCommand(t, sock, "show servers state"))
	if len(got) != 2 || !strings.Contains(got[0], " s1 ") || strings.Fields(got[0])[6] != "0" {
		t.Errorf("afresh: show servers state %q; want s1 out of maintenance", got)
	}
}

// TestServerStateFileAsHAProxy feeds the same state files to HAProxy and to lb and
// compares "show servers state" after start, and the warnings.
func TestServerStateFileAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	s1 := startNameServer(t, "s1")
	host, sport, _ := strings.Cut(s1.addr(), ":")
	line := func(be, id, srv, rest string) string {
		return fmt.Sprintf("%s %s %s %s %s %s\n", id, be, "1", srv, host, rest)
	}
	files := map[string]string{
		"global": "1\n" +
			line("app", "2", "m", "2 1 1 1 10 0 0 0 0 0 0 0 - "+sport+" - 0 0 - - 0") +
			line("app", "2", "w", "2 0 5 10 10 0 0 0 0 0 0 0 - "+sport+" - 0 0 - - 0") +
			line("app", "2", "d", "2 8 1 1 10 0 0 0 0 0 0 0 - "+sport+" - 0 0 - - 0") +
			line("app", "2", "c", "2 0 1 1 10 0 0 0 0 0 0 0 - "+sport+" - 0 0 - - 0") +
			line("app", "2", "x", "2 9 1 1 10 0 0 0 0 0 0 0 - "+sport+" - 0 0 - - 0") +
			line("app", "2", "o", "0 0 1 1 10 0 0 0 0 0 0 0 - "+sport+" - 0 0 - - 0") +
			line("app", "2", "nosuch", "2 1 1 1 10 0 0 0 0 0 0 0 - "+sport+" - 0 0 - - 0"),
		"b2file": "1\n" +
			line("b2", "3", "m", "2 1 1 1 10 0 0 0 0 0 0 0 - "+sport+" - 0 0 - - 0") +
			line("b2", "7", "idmm", "2 1 1 1 10 0 0 0 0 0 0 0 - "+sport+" - 0 0 - - 0") +
			line("bX", "3", "namemm", "2 1 1 1 10 0 0 0 0 0 0 0 - "+sport+" - 0 0 - - 0"),
		"b3": "1\n" + line("b3", "4", "m", "2 1 1 1 10 0 0 0 0 0 0 0 - "+sport+" - 0 0 - - 0") + "3 b3 1 m short\n",
		"b4": "",
	}
	run := func(name string, start func(cfg, sock string) func() string) (string, string) {
		dir := t.TempDir()
		for f, text := range files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		sock := filepath.Join(dir, "admin.sock")
		port := freePort(t)
		cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %[1]s mode 600 level admin
    server-state-base %[2]s
    server-state-file global
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen app
    bind 127.0.0.1:%[3]d
    load-server-state-from-file global
    server m %[4]s
    server w %[4]s weight 10
    server d %[4]s
    server c %[4]s disabled
    server x %[4]s
    server o %[4]s
backend b2
    load-server-state-from-file local
    server-state-file-name b2file
    server m %[4]s
backend b3
    load-server-state-from-file local
    server m %[4]s
backend b4
    load-server-state-from-file local
    server m %[4]s
backend b5
    load-server-state-from-file local
    server m %[4]s
`, sock, dir, port, s1.addr()))
		out := start(cfg, sock)
		return adminCommand(t, sock, "show servers state"), strings.ReplaceAll(out(), dir, "DIR")
	}
	haLines, haOut := run("haproxy", func(cfg, sock string) func() string {
		o := startProc(t, hap, "-db", "-f", cfg).out
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := os.Stat(sock); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond) // no readiness signal from haproxy -db
		}
		return o.String
	})
	lbLines, lbOut := run("lb", func(cfg, sock string) func() string {
		return startLB(t, "-db", "-f", cfg).out.String
	})
	if d := stateDiff(haLines, lbLines); d != "" {
		t.Errorf("show servers state differs:%s\nhaproxy:\n%s\nlb:\n%s", d, haLines, lbLines)
	}
	for _, l := range strings.Split(haOut, "\n") {
		_, msg, ok := strings.Cut(l, "config : ")
		if !ok || !strings.Contains(l, "WARNING") {
			continue
		}
		// lb's log line carries the message with its own prefix.
		if !strings.Contains(lbOut, msg) {
			t.Errorf("lb does not warn as HAProxy does: %q\nlb's output:\n%s", msg, lbOut)
		}
	}
}

// TestRuntimeChangesSurviveReloads: "disable server", "set weight" and "set server … state
// drain" made over the runtime API survive a -sf -x reload and SIGUSR2, with no state file;
// a change made after the first reload travels too.
func TestRuntimeChangesSurviveReloads(t *testing.T) {
	s1, s2, s3 := startNameServer(t, "s1"), startNameServer(t, "s2"), startNameServer(t, "s3")
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
    server s2 %s
    server s3 %s
`, sock, port, s1.addr(), s2.addr(), s3.addr()))
	cmd := func(c string) {
		t.Helper()
		if out := adminCommand(t, sock, c); strings.TrimSpace(out) != "" {
			t.Fatalf("%s: %q", c, out)
		}
	}
	// fields: srv_name, srv_admin_state, srv_uweight.
	check := func(when, want string, avoid ...string) {
		t.Helper()
		var got []string
		for _, l := range stateLines(adminCommand(t, sock, "show servers state app")) {
			f := strings.Fields(l)
			got = append(got, f[3]+" "+f[6]+" "+f[7])
		}
		if strings.Join(got, ", ") != want {
			t.Errorf("%s: servers %q, want %q", when, strings.Join(got, ", "), want)
		}
		for i := 0; i < 6; i++ {
			name, err := askName(addr)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			for _, a := range avoid {
				if name == a {
					t.Errorf("%s: connection %d went to %s", when, i, name)
				}
			}
		}
	}
	old := startLB(t, "-db", "-f", cfg)
	cmd("disable server app/s1")
	cmd("set weight app/s2 7")
	check("before", "s1 1 1, s2 0 7, s3 0 1", "s1")

	next, n := reloadSfX(t, old, cfg, sock)
	check("after a -sf -x reload", "s1 1 1, s2 0 7, s3 0 1", "s1")

	cmd("set server app/s3 state drain")
	reloadUSR2(t, next, n)
	check("after SIGUSR2", "s1 1 1, s2 0 7, s3 8 1", "s1", "s3")
}

// stateFields returns the server lines of a "show servers state" reply, split in
// fields; the header, the version and the empty line are left out.
func stateFields(out string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 20 && !strings.HasPrefix(l, "#") {
			rows = append(rows, f)
		}
	}
	return rows
}

// stateDiff compares two "show servers state" replies: every field of every server
// line, but srv_time_since_last_change, which may differ by a second (the two
// processes' clocks tick apart, and their checks are not run at the same moments).
// It returns "" when they agree, else the lines that differ.
func stateDiff(ha, lb string) string {
	h, l := stateFields(ha), stateFields(lb)
	if len(h) != len(l) {
		return fmt.Sprintf("%d server lines, haproxy %d", len(l), len(h))
	}
	var d strings.Builder
	for i := range h {
		same := len(h[i]) == len(l[i])
		for j := 0; same && j < len(h[i]); j++ {
			if j == 9 {
				a, _ := strconv.Atoi(h[i][j])
				b, _ := strconv.Atoi(l[i][j])
				same = b-a <= 1 && a-b <= 1
				continue
			}
			same = h[i][j] == l[i][j]
		}
		if !same {
			fmt.Fprintf(&d, "\nhaproxy %s\nlb      %s", strings.Join(h[i], " "), strings.Join(l[i], " "))
		}
	}
	return d.String()
}

// waitSameState asks both processes for "show servers state" until their replies agree
// (stateDiff), and fails the test when they still do not after 15 s: checks run every
// 100 ms, a dump may catch one in progress in one process and not in the other.
func waitSameState(t *testing.T, haSock, lbSock, when string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ha := adminCommand(t, haSock, "show servers state")
		lb := adminCommand(t, lbSock, "show servers state")
		d := stateDiff(ha, lb)
		if d == "" {
			if !strings.HasPrefix(lb, "1\n"+srvstate.Header+"\n") || !strings.HasSuffix(lb, "\n\n") || strings.HasSuffix(lb, "\n\n\n") {
				t.Fatalf("%s: lb's reply is not laid out as HAProxy's:\n%q", when, lb)
			}
			return lb
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: show servers state differs:%s\nhaproxy:\n%s\nlb:\n%s", when, d, ha, lb)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServersStateColumnsAsHAProxy runs HAProxy and lb side by side on the same servers and
// compares every column of "show servers state" (the time since the last change within a
// second): the checks' status, result, health and state bits, the agent's state bits, the
// check and agent addresses and ports, srv_use_ssl and srv_fqdn, for servers checked or
// not, up, down, in maintenance from "disabled", with an agent, with a check in progress;
// then after "disable health", "disable agent", "disable server", drain, "enable server" of
// a "disabled" server and "set server … check-port"; then after both restart from the state
// file each wrote with "show servers state", with HAProxy's warnings.
func TestServersStateColumnsAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	web := startHTTPServer(t, "web", nil)
	_, wport, _ := strings.Cut(web.addr(), ":")
	reply := func(line string) int {
		a := startRawServer(t, func(c net.Conn) { io.WriteString(c, line); c.Close() })
		return int(mustAddrPort(a).Port())
	}
	agentUp, agentReady := reply("up\n"), reply("ready up\n")
	// slow accepts and never answers: its check stays in progress (timeout check 30s).
	var held []net.Conn
	var heldMu sync.Mutex
	slow := startRawServer(t, func(c net.Conn) { heldMu.Lock(); held = append(held, c); heldMu.Unlock() })
	t.Cleanup(func() {
		heldMu.Lock()
		defer heldMu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	closed := refusingPort(t)
	dir := t.TempDir()
	config := func(name string) (cfg, sock, state string) {
		sock, state = filepath.Join(dir, name+".sock"), filepath.Join(dir, name+".state")
		cfg = writeConfig(t, fmt.Sprintf(`
global
    stats socket %[1]s level admin
    server-state-file %[2]s
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 30s
    load-server-state-from-file global
    default-server inter 100ms agent-inter 100ms
backend b
    option httpchk GET /
    server up %[3]s check
    server down 127.0.0.1:%[5]d check
    server nochk %[3]s
    server maint %[3]s check disabled
    server dis %[3]s disabled
    server ag %[3]s check agent-check agent-port %[5]d
    server agup %[3]s agent-check agent-addr 127.0.0.1 agent-port %[6]d
    server agready %[3]s disabled agent-check agent-port %[7]d
    server slow %[8]s check
    server hc %[3]s check rise 3 fall 2
backend t
    mode tcp
    server tup %[3]s check
    server portaddr %[3]s check port %[4]s addr 127.0.0.2
    server portonly %[3]s port %[4]s
    server ssl %[3]s ssl verify none
    server nossl %[3]s no-ssl
    server fq localhost:%[4]s check
    server u %[9]s
    server-template tp 2 %[3]s check
    server ida %[3]s id 42 weight 7
`, sock, state, web.addr(), wport, closed, agentUp, agentReady, slow, filepath.Join(dir, "u.sock")))
		return cfg, sock, state
	}
	haCfg, haSock, haState := config("haproxy")
	lbCfg, lbSock, lbState := config("lb")
	// Both start at once: their servers' last changes are the same second, or the
	// next.
	startBoth := func() (*lbProc, *lbProc) {
		ha := startProc(t, hap, "-db", "-f", haCfg)
		lb := startLB(t, "-db", "-f", lbCfg)
		waitUnix(t, haSock)
		return ha, lb
	}
	ha, lb := startBoth()
	waitSameState(t, haSock, lbSock, "at start")

	for _, c := range []string{
		"disable health b/up", "disable agent b/ag", "disable server b/nochk", "disable server b/down",
		"set server b/hc state drain", "set server b/hc check-port " + wport, "enable server b/maint",
		"enable server b/dis", "disable server t/tup", "disable health t/tup", "enable server t/tup",
		"set server t/ida state maint", "enable agent b/nochk", "enable health b/nochk",
	} {
		if h, l := adminCommand(t, haSock, c), adminCommand(t, lbSock, c); h != l {
			t.Errorf("%s: lb answers %q, haproxy %q", c, l, h)
		}
	}
	waitSameState(t, haSock, lbSock, "after the runtime commands")

	// Each saves its state, and starts again from it.
	for _, s := range []struct{ sock, file string }{{haSock, haState}, {lbSock, lbState}} {
		if err := os.WriteFile(s.file, []byte(adminCommand(t, s.sock, "show servers state")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ha.stop()
	lb.stop()
	ha, lb = startBoth()
	waitSameState(t, haSock, lbSock, "after a restart from the state file")
	for _, l := range strings.Split(ha.out.String(), "\n") {
		_, msg, ok := strings.Cut(l, "config : ")
		if ok && strings.Contains(l, "WARNING") && !strings.Contains(lb.out.String(), msg) {
			t.Errorf("lb does not warn as HAProxy does: %q\nlb's output:\n%s", msg, lb.out.String())
		}
	}
}
