package plane

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lb/internal/proxy"
	"lb/internal/srvstate"
)

// stateLine is the line of "show servers state" of server name, without the time since
// the last change.
func stateLine(t *testing.T, w *world, name string) string {
	t.Helper()
	for _, s := range w.gen.StateServers("") {
		if s.Name == name {
			s.SinceChange = 0
			var b strings.Builder
			if err := srvstate.Write(&b, []srvstate.Server{s}); err != nil {
				t.Fatal(err)
			}
			l := strings.Split(b.String(), "\n")[2]
			f := strings.Fields(l)
			return strings.Join(append(f[:9:9], f[10:]...), " ")
		}
	}
	t.Fatalf("no server %s", name)
	return ""
}

// TestDisabledServer: "disabled" is HAProxy's CMAINT|FMAINT (admin 5), and pauses the
// checks (CHK_ST_PAUSED) even of a server without any; "enable server" clears FMAINT only:
// the server is in service, admin 4, its checks enabled run again. The next generation
// keeps it so, and a line of an older lb, which printed "disabled" as CMAINT alone and no
// check columns, keeps it in maintenance.
func TestDisabledServer(t *testing.T) {
	text := `defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
backend be
    server first 127.0.0.1:1 check inter 1h
    server c 127.0.0.1:1 check inter 1h disabled
    server n 127.0.0.1:1 disabled
    server u 127.0.0.1:1
`
	// first's checks run first: c's first check would run half an hour later.
	w := mkWorld(t, text, Options{})
	for name, want := range map[string]string{
		"c": "1 be 2 c 127.0.0.1 0 5 1 1 1 0 0 14 0 0 0 - 1 - 0 0 - - 0",
		"n": "1 be 3 n 127.0.0.1 0 5 1 1 1 0 0 8 0 0 0 - 1 - 0 0 - - 0",
		"u": "1 be 4 u 127.0.0.1 2 0 1 1 1 0 2 0 0 0 0 - 1 - 0 0 - - 0",
	} {
		if got := stateLine(t, w, name); got != want {
			t.Errorf("%s: %s\nwant %s", name, got, want)
		}
	}
	if w.gen.CarriedState() != nil {
		t.Error("state carried with no change")
	}
	for _, name := range []string{"c", "n"} {
		if err := w.gen.SetServerAdmin("be", name, AdminReady); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.gen.SetServerAdmin("be", "u", AdminMaint); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		// Health is rise again: the checks are enabled; not without checks.
		"c": "1 be 2 c 127.0.0.1 2 4 1 1 1 0 2 6 0 0 0 - 1 - 0 0 - - 0",
		"n": "1 be 3 n 127.0.0.1 2 4 1 1 1 0 0 8 0 0 0 - 1 - 0 0 - - 0",
		"u": "1 be 4 u 127.0.0.1 0 1 1 1 1 0 0 0 0 0 0 - 1 - 0 0 - - 0",
	}
	for name, want := range want {
		if got := stateLine(t, w, name); got != want {
			t.Errorf("%s: %s\nwant %s", name, got, want)
		}
	}
	srv := func(w *world, name string) *proxy.Server { return w.gen.backends["be"].Server(name) }
	if st := srv(w, "c").State(); st != proxy.StateUp {
		t.Errorf("c is %v after enable server", st)
	}
	st := w.gen.CarriedState()
	next := mkWorld(t, text, Options{CarriedState: st, CarriedFrom: "test"})
	for name, want := range want {
		if got := stateLine(t, next, name); got != want {
			t.Errorf("next generation, %s: %s\nwant %s", name, got, want)
		}
	}
	old := "1\n1 be 2 c 127.0.0.1 0 4 1 1 0 0 0 0 0 0 0 0 - 1 - 0 0 - - 0\n"
	prev := mkWorld(t, text, Options{CarriedState: []byte(old), CarriedFrom: "test"})
	if got := stateLine(t, prev, "c"); !strings.HasPrefix(got, "1 be 2 c 127.0.0.1 0 5 ") {
		t.Errorf("from an older lb: %s", got)
	}
}

// TestStateFileChecks: of a state file's check columns, lb applies what HAProxy's
// srv_state_srv_update does: the status and result until the first check, the health
// counter from the operational state, "disable health" and "disable agent", the checks'
// and the agent's address and port when these are enabled (a warning otherwise), the time
// since the last change; the "disable health" of the file survives into the next
// generation.
func TestStateFileChecks(t *testing.T) {
	dir := t.TempDir()
	state := "1\n" +
		"1 be 1 a 127.0.0.1 2 0 1 1 100 15 3 4 2 0 0 0 - 1 - 0 0 - - 0\n" +
		"1 be 2 b 127.0.0.1 2 0 1 1 100 8 2 0 6 18 0 0 - 1 - 0 0 - 127.0.0.3 9\n" +
		"1 be 3 c 127.0.0.1 1 0 1 1 100 6 3 7 6 0 0 0 - 1 - 0 2 127.0.0.4 - 0\n" +
		"1 be 4 n 127.0.0.1 2 0 1 1 100 16 4 0 0 0 0 0 - 1 - 0 5 - - 0\n" +
		"1 be 5 x 127.0.0.1 3 0 1 1 100 17 2 4 6 22 0 0 - 1 - 0 0 - 127.0.0.5 7\n"
	if err := os.WriteFile(filepath.Join(dir, "state"), []byte(state), 0o644); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`global
    server-state-file %s
defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
    load-server-state-from-file global
backend be
    server a 127.0.0.1:1 check inter 1h
    server b 127.0.0.1:1 check inter 1h agent-check agent-port 8 agent-inter 1h
    server c 127.0.0.1:1 check inter 1h
    server n 127.0.0.1:1
    server x 127.0.0.1:1 check inter 1h agent-check agent-port 8 agent-inter 1h
`, filepath.Join(dir, "state"))
	w := mkWorld(t, text, Options{})
	for name, want := range map[string]string{
		"a": "1 be 1 a 127.0.0.1 2 0 1 1 15 3 4 2 0 0 0 - 1 - 0 0 - - 0",
		// Agent disabled: its address and port are not applied.
		"b": "1 be 2 b 127.0.0.1 2 0 1 1 8 2 4 6 18 0 0 - 1 - 0 0 - - 8",
		// STARTING with rise 2: health rise-1.
		"c": "1 be 3 c 127.0.0.1 2 0 1 1 6 3 1 6 0 0 0 - 1 - 0 2 127.0.0.4 - 0",
		"n": "1 be 4 n 127.0.0.1 2 0 1 1 16 4 4 0 0 0 0 - 1 - 0 0 - - 0",
		// STOPPING with health 4, past rise+fall-2: health rise.
		"x": "1 be 5 x 127.0.0.1 3 0 1 1 17 2 2 6 22 0 0 - 1 - 0 0 - 127.0.0.5 7",
	} {
		if got := stateLine(t, w, name); got != want {
			t.Errorf("%s: %s\nwant %s", name, got, want)
		}
	}
	for _, s := range w.gen.StateServers("be") {
		if s.SinceChange < 100 || s.SinceChange > 101 {
			t.Errorf("%s: %d s since the last change, want 100", s.Name, s.SinceChange)
		}
	}
	for _, msg := range []string{
		"server-state partially applied for server 'be/b', agent checks are not enabled on this server",
		"server-state partially applied for server 'be/n', health checks are not enabled on this server",
		"Server be/x is stopping, changed from server-state after a reload.",
	} {
		if !strings.Contains(w.log.String(), msg) {
			t.Errorf("no warning %q in:\n%s", msg, w.log.String())
		}
	}
	if err := w.gen.SetServerCheckPort("be", "a", 3); err != ErrNoCheck {
		t.Errorf("check-port with the checks disabled: %v", err)
	}
	next := mkWorld(t, strings.Replace(text, "load-server-state-from-file global", "", 1),
		Options{CarriedState: w.gen.CarriedState(), CarriedFrom: "test"})
	if got := stateLine(t, next, "a"); !strings.Contains(got, " 2 0 0 0 - 1 ") {
		t.Errorf("next generation, a: %s; want its checks disabled", got)
	}
}
