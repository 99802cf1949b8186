package loopback

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestShowActivity: "show activity" has HAProxy 2.6's lines, in its order, with a total
// and one column per thread (nbthread 2), on lb and on haproxy; on lb the event loops'
// counters follow the connections they accepted.
func TestShowActivity(t *testing.T) {
	dir := t.TempDir()
	s1 := startNameServer(t, "s1")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, fmt.Sprintf(`global
    nbthread 2
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
    server s1 %[3]s
`, dir, addr, s1.addr()))
	want := []string{"thread_id", "date_now", "ctxsw", "tasksw", "empty_rq", "long_rq", "loops", "wake_tasks",
		"wake_signal", "poll_io", "poll_exp", "poll_drop_fd", "poll_skip_fd", "conn_dead", "stream_calls", "pool_fail",
		"buf_wait", "cpust_ms_tot", "cpust_ms_1s", "cpust_ms_15s", "avg_loop_us", "accepted", "accq_pushed",
		"accq_full", "accq_ring", "fd_takeover"}
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		const conns = 5
		for i := 0; i < conns; i++ {
			if name, err := askName(addr); err != nil || name != "s1" {
				t.Fatalf("connection %d: %q, %v", i, name, err)
			}
		}
		reply := adminCommand(t, filepath.Join(dir, "user.sock"), "show activity")
		lines := strings.Split(strings.TrimSuffix(reply, "\n\n"), "\n")
		if len(lines) != len(want) {
			t.Fatalf("show activity has %d lines, want %d:\n%s", len(lines), len(want), reply)
		}
		// The thread that serves the command: haproxy's threads take turns on its
		// stats socket (a readiness probe may have had the first one).
		if lines[0] != "thread_id: 1 (1..2)" && lines[0] != "thread_id: 2 (1..2)" {
			t.Errorf("first line %q", lines[0])
		}
		vals := map[string][3]uint64{}
		for i, l := range lines {
			name, v, ok := strings.Cut(l, ": ")
			if !ok || name != want[i] {
				t.Errorf("line %d = %q; want field %s", i+1, l, want[i])
				continue
			}
			if i < 2 {
				continue
			}
			// "N [ a b ]" with N = a + b (avg_loop_us: their average).
			f := strings.Fields(v)
			if len(f) != 5 || f[1] != "[" || f[4] != "]" {
				t.Errorf("line %q: not a total and two columns", l)
				continue
			}
			var n [3]uint64
			for j, k := range []int{0, 2, 3} {
				n[j], _ = strconv.ParseUint(f[k], 10, 64)
			}
			if name != "avg_loop_us" && n[0] != n[1]+n[2] {
				t.Errorf("line %q: total is not the sum", l)
			}
			vals[name] = n
		}
		if strings.HasSuffix(t.Name(), "/lb") {
			if a := vals["accepted"][0]; a != conns {
				t.Errorf("accepted = %d; want %d:\n%s", a, conns, reply)
			}
			if vals["loops"][0] == 0 || vals["poll_io"][0] == 0 {
				t.Errorf("loops and poll_io not counted:\n%s", reply)
			}
		}
	})
}
