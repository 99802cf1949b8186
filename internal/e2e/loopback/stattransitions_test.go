package loopback

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// statStatus returns the status column of backend/server in "show stat".
func statStatus(t *testing.T, sock, backend, server string) string {
	t.Helper()
	out := adminCommand(t, sock, "show stat")
	col := -1
	for _, l := range strings.Split(out, "\n") {
		f := strings.Split(l, ",")
		if strings.HasPrefix(l, "# ") {
			col = slices.Index(f, "status")
			continue
		}
		if col > 0 && len(f) > col && f[0] == backend && f[1] == server {
			return f[col]
		}
	}
	t.Fatalf("no %s/%s in show stat:\n%s", backend, server, out)
	return ""
}

// statusWatch records the successive status words of a server in "show stat".
type statusWatch struct {
	mu   sync.Mutex
	seen []string
}

func (w *statusWatch) add(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.seen); n == 0 || w.seen[n-1] != s {
		w.seen = append(w.seen, s)
	}
}

func (w *statusWatch) last() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.seen) == 0 {
		return ""
	}
	return w.seen[len(w.seen)-1]
}

// take returns the statuses seen so far and starts a new record from the last one.
func (w *statusWatch) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.seen
	if len(s) > 0 {
		w.seen = []string{s[len(s)-1]}
	}
	return s
}

// TestStatStatusTransitionsAsHAProxy: a checked server's status in "show stat" shows
// its health counter on the way, as HAProxy 2.6's: "UP 1/3" after start until its first
// check passes (it starts UP at the health of rise), "UP 2/3", "UP 1/3" then "DOWN" when
// its checks fail, "DOWN 1/2" then "UP" when they pass again. lb and haproxy check the same server,
// and the statuses each shows are recorded as it goes.
func TestStatStatusTransitionsAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	serve := func(ln net.Listener) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}
	go serve(ln)
	t.Cleanup(func() { ln.Close() })
	dir := t.TempDir()
	start := func(name, bin string) (string, *statusWatch) {
		sock := filepath.Join(dir, name+".sock")
		cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend b
    server s %s check inter 300ms rise 2 fall 3
`, sock, addr))
		startNamed(t, name, bin, cfg, sock)
		return sock, &statusWatch{}
	}
	socks, watches := map[string]string{}, map[string]*statusWatch{}
	for _, n := range []string{"haproxy", "lb"} {
		socks[n], watches[n] = start(n, hap)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for n, sock := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond): // a tenth of a check interval
				}
				watches[n].add(statStatus(t, sock, "b", "s"))
			}
		}()
	}
	t.Cleanup(func() { close(stop); wg.Wait() })
	// until waits for both to show want, and returns what each showed.
	until := func(want string) map[string][]string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for watches["lb"].last() != want || watches["haproxy"].last() != want {
			if time.Now().After(deadline) {
				t.Fatalf("no %q after 10s: lb %q, haproxy %q", want, watches["lb"].take(), watches["haproxy"].take())
			}
			time.Sleep(20 * time.Millisecond) // the watchers poll the runtime API
		}
		return map[string][]string{"lb": watches["lb"].take(), "haproxy": watches["haproxy"].take()}
	}
	check := func(step string, got map[string][]string, want []string) {
		t.Helper()
		for _, n := range []string{"haproxy", "lb"} {
			if !slices.Equal(got[n], want) {
				t.Errorf("%s: %s showed %q, want %q", step, n, got[n], want)
			}
		}
	}
	// At start, before its first check, the server shows "UP 1/3"; the first check passed
	// brings it to full health at once. The first check may come before the first look.
	for n, seen := range until("UP") {
		if !slices.Equal(seen, []string{"UP 1/3", "UP"}) && !slices.Equal(seen, []string{"UP"}) {
			t.Errorf("after start: %s showed %q, want \"UP 1/3\" then \"UP\"", n, seen)
		}
	}
	ln.Close()
	check("checks failing", until("DOWN"), []string{"UP", "UP 2/3", "UP 1/3", "DOWN"})
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln2.Close() })
	go serve(ln2)
	check("checks passing again", until("UP"), []string{"DOWN", "DOWN 1/2", "UP"})
}

// statColumns returns, for each server of "show stat", the named columns joined by "|".
func statColumns(t *testing.T, sock string, cols []string) map[string]string {
	t.Helper()
	out := adminCommand(t, sock, "show stat")
	var idx []int
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Split(l, ",")
		if strings.HasPrefix(l, "# ") {
			f[0] = strings.TrimPrefix(f[0], "# ")
			for _, c := range cols {
				idx = append(idx, slices.Index(f, c))
			}
			continue
		}
		if len(f) < 2 || f[1] == "FRONTEND" || f[1] == "BACKEND" {
			continue
		}
		var v []string
		for _, i := range idx {
			if i < 0 || i >= len(f) {
				t.Fatalf("no column among %v in %q", cols, out)
			}
			v = append(v, f[i])
		}
		m[f[0]+"/"+f[1]] = strings.Join(v, "|")
	}
	return m
}

// TestShowStatChecksAsHAProxy: the columns of "show stat" on health and agent checks are
// HAProxy 2.6's, for servers with an agent answering up, drain, down or 50%, an agent
// that refuses connections, agents alone, an HTTP check that passes and one refused,
// and after "set server … state drain" and "disable agent": the status ("DOWN (agent)",
// "DRAIN (agent)"), the weight, check_status, check_code, check_desc, last_chk and
// the agent's columns (their durations left out).
func TestShowStatChecksAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	web := startHTTPServer(t, "web", nil)
	reply := func(line string) int {
		a := startRawServer(t, func(c net.Conn) { fmt.Fprint(c, line); c.Close() })
		return int(mustAddrPort(a).Port())
	}
	up, drain, down, half := reply("up\n"), reply("drain\n"), reply("down\n"), reply("50%\n")
	closed := refusingPort(t)
	dir := t.TempDir()
	cols := []string{"status", "weight", "check_status", "check_code", "check_desc", "last_chk",
		"agent_status", "agent_code", "agent_desc", "last_agt", "agent_rise", "agent_fall", "agent_health",
		"check_rise", "check_fall", "check_health", "chkfail"}
	start := func(name string) string {
		sock := filepath.Join(dir, name+".sock")
		cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %[1]s level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    default-server inter 100ms agent-inter 100ms weight 10
backend b
    option httpchk GET /
    server up %[2]s check agent-check agent-port %[3]d
    server drain %[2]s check agent-check agent-port %[4]d
    server down %[2]s check agent-check agent-port %[5]d
    server half %[2]s check agent-check agent-port %[6]d
    server closed %[2]s check agent-check agent-port %[7]d
    server alone %[2]s agent-check agent-port %[3]d
    server alonedown %[2]s agent-check agent-port %[5]d
    server refused 127.0.0.1:%[7]d check
    server drained %[2]s check
    server noagent %[2]s check agent-check agent-port %[3]d
`, sock, web.addr(), up, drain, down, half, closed))
		startNamed(t, name, hap, cfg, sock)
		return sock
	}
	socks := map[string]string{"haproxy": start("haproxy"), "lb": start("lb")}
	for _, c := range []string{"set server b/drained state drain", "disable agent b/noagent"} {
		for _, sock := range socks {
			adminCommand(t, sock, c)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ha, lb := statColumns(t, socks["haproxy"], cols), statColumns(t, socks["lb"], cols)
		var diff []string
		for k, v := range ha {
			if lb[k] != v {
				diff = append(diff, fmt.Sprintf("%s:\n  haproxy %s\n  lb      %s", k, v, lb[k]))
			}
		}
		if len(diff) == 0 && len(ha) == len(lb) && len(ha) == 10 {
			return
		}
		if time.Now().After(deadline) {
			slices.Sort(diff)
			t.Fatalf("show stat differs (%s):\n%s", strings.Join(cols, "|"), strings.Join(diff, "\n"))
		}
		time.Sleep(50 * time.Millisecond) // polling the runtime API: the state is the signal
	}
}

// pageServerCells returns, for each server row of a statistics page, its cells from the
// status on, the times and durations masked.
func pageServerCells(page string) map[string]string {
	times := regexp.MustCompile(`(<td class=ac>|<td>)(\d+[dhms])+( |</td>)`)
	ms := regexp.MustCompile(` in \d+ms`)
	status := regexp.MustCompile(`<td class=ac>(\d+[dhms])+ |<td class=ac><i>no check`)
	name := regexp.MustCompile(`^(active_[a-z_]+|backup_[a-z_]+|maintain)"><td class=ac><a name="([^"]+)">`)
	m := map[string]string{}
	for _, part := range strings.Split(page, `<tr class="`)[1:] {
		n := name.FindStringSubmatch(part)
		if n == nil {
			continue
		}
		if end := strings.Index(part, "<td class=ac>-</td></tr>"); end >= 0 {
			part = part[:end]
		}
		i := status.FindStringIndex(part)
		if i == nil {
			continue
		}
		row := times.ReplaceAllString(part[i[0]:], "${1}T$3")
		m[n[2]] = n[1] + " " + ms.ReplaceAllString(row, " in Nms")
	}
	return m
}

// TestStatsPageServerCellsAsHAProxy: on the statistics page, a server's status with the
// time since its last change, its last check (or the agent's that set it DOWN) with its
// description in a tip, its weights, and its check failures, DOWN transitions and
// downtime are HAProxy 2.6's, for servers checked and UP, unchecked, DOWN, in
// maintenance, and set DOWN by an agent.
func TestStatsPageServerCellsAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	web := startHTTPServer(t, "web", nil)
	down := startRawServer(t, func(c net.Conn) { fmt.Fprint(c, "down\n"); c.Close() })
	closed := refusingPort(t)
	start := func(name string) string {
		port := freePort(t)
		cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen st
    bind 127.0.0.1:%[1]d
    stats enable
    stats uri /
backend b
    server up %[2]s check inter 200ms
    server nochk %[2]s
    server down 127.0.0.1:%[3]d check inter 200ms
    server maint %[2]s check disabled
    server agent %[2]s agent-check agent-port %[4]d agent-inter 200ms
`, port, web.addr(), closed, mustAddrPort(down).Port()))
		if name == "lb" {
			startLB(t, "-db", "-f", cfg)
		} else {
			startProc(t, hap, "-db", "-f", cfg)
		}
		return fmt.Sprintf("http://127.0.0.1:%d/", port)
	}
	urls := map[string]string{"haproxy": start("haproxy"), "lb": start("lb")}
	page := func(url string) map[string]string {
		resp, err := http.Get(url)
		if err != nil {
			return nil // not listening yet
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return pageServerCells(string(b))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ha, lb := page(urls["haproxy"]), page(urls["lb"])
		var diff []string
		for k, v := range ha {
			if lb[k] != v {
				diff = append(diff, fmt.Sprintf("%s:\n  haproxy %s\n  lb      %s", k, v, lb[k]))
			}
		}
		if len(diff) == 0 && len(ha) == 5 && len(lb) == 5 && strings.Contains(ha["b/down"], "DOWN") && strings.Contains(ha["b/agent"], "DOWN (agent)") {
			return
		}
		if time.Now().After(deadline) {
			slices.Sort(diff)
			t.Fatalf("the pages' server cells differ (%d and %d rows):\n%s", len(ha), len(lb), strings.Join(diff, "\n"))
		}
		time.Sleep(50 * time.Millisecond) // polling the page: the state is the signal
	}
}

// TestDisableFrontendAsHAProxy: "disable frontend" pauses one frontend's listeners (a new
// connection is refused, "show stat" says PAUSED, HAProxy's warning "Paused frontend f."
// or "Paused proxy l." for a listen section) and "enable frontend" resumes them, with
// HAProxy 2.6's replies to each case; the other frontends go on.
func TestDisableFrontendAsHAProxy(t *testing.T) {
	web := startHTTPServer(t, "web", nil)
	sock := filepath.Join(t.TempDir(), "admin.sock")
	fe, lst := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind %[2]s
    default_backend b
listen l
    bind %[3]s
    server s %[4]s
backend b
    server s %[4]s
`, sock, fe, lst, web.addr()))
	get := func(addr string) error {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	onLBAndHAProxy(t, cfg, fe, func(t *testing.T, out *outFile) {
		waitUnix(t, sock)
		run := func(steps ...[2]string) {
			t.Helper()
			for _, step := range steps {
				if got := adminCommand(t, sock, step[0]); got != step[1] {
					t.Errorf("%s: %q, want %q", step[0], got, step[1])
				}
			}
		}
		run([2]string{"disable frontend", "A frontend name is expected.\n\n"},
			[2]string{"disable frontend nope", "No such frontend.\n\n"},
			[2]string{"disable frontend b", "No such frontend.\n\n"},
			[2]string{"disable frontend f", "\n"},
			[2]string{"disable frontend f", "All sockets are already disabled.\n\n"},
			[2]string{"disable frontend l", "\n"})
		for _, a := range []string{fe, lst} {
			if err := get(a); err == nil {
				t.Errorf("%s answered while its frontend is disabled", a)
			}
		}
		if st := statStatus(t, sock, "f", "FRONTEND"); st != "PAUSED" {
			t.Errorf("show stat: f is %q, want PAUSED", st)
		}
		run([2]string{"enable frontend f", "\n"},
			[2]string{"enable frontend f", "All sockets are already enabled.\n\n"},
			[2]string{"enable frontend l", "\n"})
		for _, a := range []string{fe, lst} {
			if err := get(a); err != nil {
				t.Errorf("%s after enable frontend: %v", a, err)
			}
		}
		if st := statStatus(t, sock, "f", "FRONTEND"); st != "OPEN" {
			t.Errorf("show stat: f is %q, want OPEN", st)
		}
		for _, l := range []string{"Paused frontend f.", "Paused proxy l.", "Resumed frontend f.", "Resumed proxy l."} {
			if !strings.Contains(out.String(), "[WARNING]  ") || !strings.Contains(out.String(), l) {
				t.Errorf("no warning %q in:\n%s", l, out.String())
			}
		}
	})
}

// TestCLILevelAsHAProxy: a runtime API session lowers its own level with "operator" and
// "user", never raises it, and "show cli level" says it; a command above it is denied.
// The replies are compared with haproxy's on the same lines.
func TestCLILevelAsHAProxy(t *testing.T) {
	haproxyBin(t)
	sock := filepath.Join(t.TempDir(), "admin.sock")
	fe := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind %s
    default_backend b
backend b
    server s 127.0.0.1:1
`, sock, fe))
	lines := []string{
		"show cli level",
		"operator; show cli level",
		"user; show cli level; operator; show cli level",
		"operator; disable frontend f",
		"user; show cli level foo",
		"help operator",
	}
	replies := map[string][]string{}
	onLBAndHAProxy(t, cfg, fe, func(t *testing.T, _ *outFile) {
		waitUnix(t, sock)
		var got []string
		for _, l := range lines {
			got = append(got, adminCommand(t, sock, l))
		}
		replies[t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]] = got
	})
	if h, l := replies["haproxy"], replies["lb"]; h != nil && l != nil {
		for i := range lines {
			if h[i] != l[i] {
				t.Errorf("%q:\n lb      %q\n haproxy %q", lines[i], l[i], h[i])
			}
		}
	}
}
