package health

import (
	"testing"
	"time"
)

// The wanted lines were printed by HAProxy 2.6.12 on loopback (log stdout
// format raw) for the same states.
func TestMessages(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"down refused",
			ServerDownMessage(ServerState{Proxy: "be", Server: "s2", Active: 1, Backups: 1},
				Result{Status: StatusL4Con, Info: "Connection refused"}),
			`Server be/s2 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 1 active and 1 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"down running on backup",
			ServerDownMessage(ServerState{Proxy: "be", Server: "s2", Active: 0, Backups: 1},
				Result{Status: StatusL4Con, Info: "Connection refused"}),
			`Server be/s2 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 0 active and 1 backup servers left. Running on backup. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"backup down",
			ServerDownMessage(ServerState{Proxy: "be", Server: "s3", Backup: true},
				Result{Status: StatusL4Con, Info: "Connection refused"}),
			`Backup Server be/s3 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"down http status",
			ServerDownMessage(ServerState{Proxy: "hb", Server: "h2"},
				Result{Status: StatusL7Sts, Code: 404, Info: "Not Found", Duration: 2 * time.Millisecond}),
			`Server hb/h2 is DOWN, reason: Layer7 wrong status, code: 404, info: "Not Found", check duration: 2ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"down l7 timeout",
			ServerDownMessage(ServerState{Proxy: "hs", Server: "q2", Active: 1},
				Result{Status: StatusL7Tout, Duration: 1001 * time.Millisecond}),
			`Server hs/q2 is DOWN, reason: Layer7 timeout, check duration: 1001ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"down invalid response",
			ServerDownMessage(ServerState{Proxy: "hc", Server: "c2"},
				Result{Status: StatusL7Rsp, Duration: 50 * time.Millisecond}),
			`Server hc/c2 is DOWN, reason: Layer7 invalid response, check duration: 50ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"down tcp-check timeout",
			ServerDownMessage(ServerState{Proxy: "tc", Server: "t2"},
				Result{Status: StatusL7Tout, Info: " at step 2 of tcp-check (expect string 'ok')", Duration: 456 * time.Millisecond}),
			`Server tc/t2 is DOWN, reason: Layer7 timeout, info: " at step 2 of tcp-check (expect string 'ok')", check duration: 456ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"down socket error",
			ServerDownMessage(ServerState{Proxy: "hc", Server: "c1", Active: 1},
				Result{Status: StatusSockErr, Info: "Connection reset by peer", Duration: 50 * time.Millisecond}),
			`Server hc/c1 is DOWN, reason: Socket error, info: "Connection reset by peer", check duration: 50ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"up l4",
			ServerUpMessage(ServerState{Proxy: "be", Server: "s2", Active: 2, Backups: 1}, Result{Status: StatusL4OK}),
			`Server be/s2 is UP, reason: Layer4 check passed, check duration: 0ms. 2 active and 1 backup servers online. 0 sessions requeued, 0 total in queue.`},
		{"up http",
			ServerUpMessage(ServerState{Proxy: "hb", Server: "h1", Active: 1}, Result{Status: StatusL7OK, Code: 200}),
			`Server hb/h1 is UP, reason: Layer7 check passed, code: 200, check duration: 0ms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.`},
		{"up tcp-check",
			ServerUpMessage(ServerState{Proxy: "tc", Server: "t1", Active: 1},
				Result{Status: StatusL7OK, Info: "(tcp-check)", Duration: time.Millisecond}),
			`Server tc/t1 is UP, reason: Layer7 check passed, code: 0, info: "(tcp-check)", check duration: 1ms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.`},
		{"quoted info",
			ServerDownMessage(ServerState{Proxy: "b", Server: "s"},
				Result{Status: StatusL7Rsp, Info: "a\"b\x01"}),
			`Server b/s is DOWN, reason: Layer7 invalid response, info: "a\"b\x01", check duration: 0ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`},
		{"no server backend", NoServerMessage(ProxyType(false, true), "bk"), "backend bk has no server available!"},
		{"no server listen", NoServerMessage(ProxyType(true, true), "hb"), "proxy hb has no server available!"},
		{"no server alert", NoServerAlert("backend", "hs"), "backend 'hs' has no server available!"},
		{"sighup header", SighupHeader("be"), "SIGHUP received, dumping servers states for proxy be."},
		{"sighup server up", SighupServerLine("be", "s1", true, 0, 0, 0), "SIGHUP: Server be/s1 is UP. Conn: 0 act, 0 pend, 0 tot."},
		{"sighup server down", SighupServerLine("be_web", "web1", false, 2, 1, 17), "SIGHUP: Server be_web/web1 is DOWN. Conn: 2 act, 1 pend, 17 tot."},
		{"sighup proxy", SighupProxyLine("be", 1, 1, ProxyConns{}),
			"SIGHUP: Proxy be has 1 active servers and 1 backup servers available. Conn: act(FE+BE): 0+0, 0 pend (0 unass), tot(FE+BE): 0+0."},
		{"sighup proxy none", SighupProxyLine("hs", 0, 0, ProxyConns{}),
			"SIGHUP: Proxy hs has no server available ! Conn: act(FE+BE): 0+0, 0 pend (0 unass), tot(FE+BE): 0+0."},
		{"maint down", MaintDownMessage(ServerState{Proxy: "be", Server: "s1", Active: 1, Backups: 1}),
			"Server be/s1 is going DOWN for maintenance. 1 active and 1 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."},
		{"maint down on backup", MaintDownMessage(ServerState{Proxy: "be", Server: "s2", Backups: 1}),
			"Server be/s2 is going DOWN for maintenance. 0 active and 1 backup servers left. Running on backup. 0 sessions active, 0 requeued, 0 remaining in queue."},
		{"maint up", MaintUpMessage(ServerState{Proxy: "be", Server: "s1"}, true, false),
			"Server be/s1 is UP/READY (leaving forced maintenance)."},
		{"drain", DrainMessage(ServerState{Proxy: "be", Server: "s2", Active: 1, Backups: 1}),
			"Server be/s2 enters drain state. 1 active and 1 backup servers online. 0 sessions requeued, 0 total in queue."},
		{"leave drain", LeaveDrainMessage(ServerState{Proxy: "be", Server: "s2"}, true),
			"Server be/s2 is UP (leaving forced drain)."},
		{"log-health-checks ok", HealthCheckMessage(ServerState{Proxy: "lh", Server: "h1"},
			Event{Result: Result{Status: StatusL4OK}, Health: 4}, 2, 3),
			"Health check for server lh/h1 succeeded, reason: Layer4 check passed, check duration: 0ms, status: 3/3 UP."},
		{"log-health-checks failed up", HealthCheckMessage(ServerState{Proxy: "lh", Server: "h1"},
			Event{Result: Result{Status: StatusL4Con, Info: "Connection refused"}, Health: 3}, 2, 3),
			`Health check for server lh/h1 failed, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms, status: 2/3 UP.`},
		{"log-health-checks failed down", HealthCheckMessage(ServerState{Proxy: "lh", Server: "h1"},
			Event{Result: Result{Status: StatusL4Con, Info: "Connection refused"}, Health: 0}, 2, 3),
			`Health check for server lh/h1 failed, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms, status: 0/2 DOWN.`},
		{"log-health-checks rising", HealthCheckMessage(ServerState{Proxy: "lh", Server: "h1"},
			Event{Result: Result{Status: StatusL4OK}, Health: 1}, 2, 3),
			"Health check for server lh/h1 succeeded, reason: Layer4 check passed, check duration: 0ms, status: 1/2 DOWN."},
		{"down without reason", ServerStateMessage(ServerState{Proxy: "lh", Server: "h1"}, false, ""),
			"Server lh/h1 is DOWN. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."},
		{"up without reason", ServerStateMessage(ServerState{Proxy: "lh", Server: "h1", Active: 1}, true, ""),
			"Server lh/h1 is UP. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."},
		{"cli", ServerStateMessage(ServerState{Proxy: "be", Server: "s", Active: 1}, false, "changed from CLI"),
			"Server be/s is DOWN, changed from CLI. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", tc.got, tc.want)
			}
		})
	}
}

func TestStatusNames(t *testing.T) {
	for _, tc := range []struct {
		s          Status
		code, desc string
		passed     bool
	}{
		{StatusL4OK, "L4OK", "Layer4 check passed", true},
		{StatusL4Con, "L4CON", "Layer4 connection problem", false},
		{StatusL7Sts, "L7STS", "Layer7 wrong status", false},
		{StatusL7OK, "L7OK", "Layer7 check passed", true},
		{StatusSockErr, "SOCKERR", "Socket error", false},
		{Status(99), "UNK", "Unknown", false},
	} {
		if tc.s.String() != tc.code || tc.s.Description() != tc.desc || tc.s.Passed() != tc.passed {
			t.Errorf("Status(%d) = %q, %q, %v; want %q, %q, %v", tc.s, tc.s.String(), tc.s.Description(), tc.s.Passed(), tc.code, tc.desc, tc.passed)
		}
	}
}
