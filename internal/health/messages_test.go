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

// The wanted lines and severities were logged by HAProxy 2.6.12 (log
// stdout format rfc3164, option log-health-checks where logHC is set) for
// mysql-check and disable-on-404 servers.
func TestCheckLogLines(t *testing.T) {
	ms := time.Millisecond
	okc := Result{Status: StatusL7OKC, Code: 404, Duration: ms}
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"mysql greeting",
			healthCheckLine("m1/greet", false, Event{Result: Result{Status: StatusL7OK, Info: "5.7.99-fake"}, Health: 3}, 2, 2),
			`Health check for server m1/greet succeeded, reason: Layer7 check passed, code: 0, info: "5.7.99-fake", check duration: 0ms, status: 2/2 UP.`},
		{"mysql error greeting",
			healthCheckLine("m1/errg", false, Event{Result: Result{Status: StatusL7Sts, Code: 1130,
				Info: "Host '127.0.0.1' is not allowed to connect to this MySQL server"}}, 2, 2),
			`Health check for server m1/errg failed, reason: Layer7 wrong status, code: 1130, info: "Host '127.0.0.1' is not allowed to connect to this MySQL server", check duration: 0ms, status: 0/2 DOWN.`},
		{"mysql closed",
			healthCheckLine("m1/close", false, Event{Result: Result{Status: StatusL7Rsp, Info: "TCPCHK got an empty response at step 2", Duration: ms}}, 2, 2),
			`Health check for server m1/close failed, reason: Layer7 invalid response, info: "TCPCHK got an empty response at step 2", check duration: 1ms, status: 0/2 DOWN.`},
		{"mysql login denied",
			healthCheckLine("m2/autherr", false, Event{Result: Result{Status: StatusL7Sts, Code: 1045,
				Info: "#28000Access denied for user 'bad'@'localhost' (using password: NO)", Duration: 44 * ms}}, 2, 2),
			`Health check for server m2/autherr failed, reason: Layer7 wrong status, code: 1045, info: "#28000Access denied for user 'bad'@'localhost' (using password: NO)", check duration: 44ms, status: 0/2 DOWN.`},
		{"mysql timeout",
			healthCheckLine("m1/silent", false, Event{Result: Result{Status: StatusL7Tout, Duration: 1000 * ms}}, 2, 2),
			`Health check for server m1/silent failed, reason: Layer7 timeout, check duration: 1000ms, status: 0/2 DOWN.`},
		{"404 conditionally",
			healthCheckLine("hc/h", false, Event{Result: okc, Health: 4}, 2, 3),
			`Health check for server hc/h conditionally succeeded, reason: Layer7 check conditionally passed, code: 404, check duration: 1ms, status: 3/3 UP.`},
		{"failure while stopping",
			healthCheckLine("hc/h", false, Event{Result: Result{Status: StatusL7Sts, Code: 503, Info: "Service Unavailable", Duration: ms}, Health: 3}, 2, 3),
			`Health check for server hc/h failed, reason: Layer7 wrong status, code: 503, info: "Service Unavailable", check duration: 1ms, status: 2/3 UP.`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", tc.got, tc.want)
			}
		})
	}
}

func TestTransitionMessage(t *testing.T) {
	ms := time.Millisecond
	okc := Result{Status: StatusL7OKC, Code: 404, Duration: ms}
	s503 := Result{Status: StatusL7Sts, Code: 503, Info: "Service Unavailable", Duration: 2 * ms}
	tests := []struct {
		name     string
		st       ServerState
		ev       Event
		logHC    bool
		want     string
		severity int // <129> alert, <133> notice in the rfc3164 lines
	}{
		{"stopping", ServerState{Proxy: "hc", Server: "h", Backups: 1},
			Event{Result: okc, State: StateStopping, PrevState: StateUp}, false,
			`Server hc/h is stopping, reason: Layer7 check conditionally passed, code: 404, check duration: 1ms. 0 active and 1 backup servers online. Running on backup. 0 sessions requeued, 0 total in queue.`, 5},
		{"backup stopping", ServerState{Proxy: "hc", Server: "h2", Backup: true},
			Event{Result: Result{Status: StatusL7OKC, Code: 404}, State: StateStopping, PrevState: StateUp}, false,
			`Backup Server hc/h2 is stopping, reason: Layer7 check conditionally passed, code: 404, check duration: 0ms. 0 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.`, 5},
		{"stopping with log-health-checks", ServerState{Proxy: "hc", Server: "h"},
			Event{Result: okc, State: StateStopping, PrevState: StateUp}, true,
			`Server hc/h is stopping. 0 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.`, 5},
		{"up from stopping with log-health-checks", ServerState{Proxy: "hc", Server: "h", Active: 1},
			Event{Result: Result{Status: StatusL7OK, Code: 200}, State: StateUp, PrevState: StateStopping, Up: true}, true,
			`Server hc/h is UP. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.`, 5},
		{"down from stopping is a notice", ServerState{Proxy: "hc", Server: "h"},
			Event{Result: s503, State: StateDown, PrevState: StateStopping}, false,
			`Server hc/h is DOWN, reason: Layer7 wrong status, code: 503, info: "Service Unavailable", check duration: 2ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`, 5},
		{"down from up is an alert", ServerState{Proxy: "m1", Server: "errg", Active: 5}, Event{Result: Result{Status: StatusL7Sts, Code: 1130},
			State: StateDown, PrevState: StateUp}, true,
			`Server m1/errg is DOWN. 5 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`, 1},
		{"up", ServerState{Proxy: "hc", Server: "h", Active: 1},
			Event{Result: Result{Status: StatusL7OK, Code: 200}, State: StateUp, PrevState: StateDown, Up: true, Changed: true}, false,
			`Server hc/h is UP, reason: Layer7 check passed, code: 200, check duration: 0ms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.`, 5},
		{"no change", ServerState{Proxy: "hc", Server: "h"}, Event{State: StateUp, PrevState: StateUp}, false, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, sev := TransitionMessage(tc.st, tc.ev, tc.logHC)
			if msg != tc.want || sev != tc.severity {
				t.Errorf("TransitionMessage = %d %q\nwant %d %q", sev, msg, tc.severity, tc.want)
			}
		})
	}
}

// TestStatusNums: HAProxy 2.6's numbers of the statuses and results (enum
// healthcheck_status, enum chk_result), which "show servers state" prints, and back.
func TestStatusNums(t *testing.T) {
	for _, tc := range []struct {
		s           Status
		num, result int
	}{
		{StatusUnknown, 0, ResultUnknown},
		{StatusInit, 1, ResultUnknown},
		{StatusChecked, 3, ResultNeutral},
		{StatusHANA, 4, ResultFailed},
		{StatusSockErr, 5, ResultFailed},
		{StatusL4OK, 6, ResultPassed},
		{StatusL4Tout, 7, ResultFailed},
		{StatusL4Con, 8, ResultFailed},
		{StatusL6OK, 9, ResultPassed},
		{StatusL6Tout, 10, ResultFailed},
		{StatusL6Rsp, 11, ResultFailed},
		{StatusL7Tout, 12, ResultFailed},
		{StatusL7Rsp, 13, ResultFailed},
		{StatusL7OK, 15, ResultPassed},
		{StatusL7OKC, 16, ResultCondPass},
		{StatusL7Sts, 17, ResultFailed},
	} {
		if tc.s.Num() != tc.num || tc.s.ResultNum() != tc.result {
			t.Errorf("%s: %d %d; want %d %d", tc.s, tc.s.Num(), tc.s.ResultNum(), tc.num, tc.result)
		}
		if s, ok := StatusOfNum(tc.num); tc.num != 0 && (!ok || s != tc.s) {
			t.Errorf("StatusOfNum(%d) = %s, %v", tc.num, s, ok)
		}
	}
	for _, n := range []int{0, 2, 14, 18, 19, 20, 21} {
		if s, ok := StatusOfNum(n); ok {
			t.Errorf("StatusOfNum(%d) = %s", n, s)
		}
	}
}
