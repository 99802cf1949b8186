package health

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

func TestProbeDisableOn404(t *testing.T) {
	s404 := "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"
	tests := []struct {
		name       string
		cfg        Config
		serverDown bool
		status     Status
		code       int
		info       string
	}{
		// HAProxy 2.6.12: "conditionally succeeded, reason: Layer7 check
		// conditionally passed, code: 404, check duration: 1ms" (no info).
		{"up", Config{DisableOn404: true}, false, StatusL7OKC, 404, ""},
		{"over expect", Config{DisableOn404: true, Expect: Expect{Match: MatchStatus, Codes: []CodeRange{{200, 200}}}},
			false, StatusL7OKC, 404, ""},
		// "a stopped server will stay stopped even if it replies 404s"
		{"down", Config{DisableOn404: true}, true, StatusL7Sts, 404, "Not Found"},
		{"without the option", Config{}, false, StatusL7Sts, 404, "Not Found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Kind = KindHTTP
			cfg.Addr = serve(t, httpReply(s404))
			r := probe(context.Background(), cfg.withDefaults(), tc.serverDown)
			if r.Status != tc.status || r.Code != tc.code || r.Info != tc.info {
				t.Errorf("probe = %v %d %q; want %v %d %q", r.Status, r.Code, r.Info, tc.status, tc.code, tc.info)
			}
		})
	}
}

// TestRecordStopping follows the states HAProxy 2.6.12 went through with
// http-check disable-on-404 (rise 2, fall 3): 200 brings the server UP,
// 404 makes it stopping, 200 UP again, failures DOWN from either.
func TestRecordStopping(t *testing.T) {
	tests := []struct {
		name   string
		seq    string // o = L7OK, c = L7OKC, f = L7STS
		states string // U, S (stopping) or D after each result
		health string
	}{
		{"stop and come back", "occo", "USSU", "4444"},
		{"down from stopping", "cfff", "SSSD", "4320"},
		{"failures do not end stopping", "cffc", "SSSS", "4324"},
		{"rise to up", "fooo", "DDUU", "0144"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{Addr: "127.0.0.1:1", Rise: 2, Fall: 3, DisableOn404: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var states, health []byte
			prev := c.State()
			for _, r := range tc.seq {
				res := Result{Status: StatusL7Sts, Code: 503}
				switch r {
				case 'o':
					res = Result{Status: StatusL7OK, Code: 200}
				case 'c':
					res = Result{Status: StatusL7OKC, Code: 404}
				}
				ev := c.record(res)
				if ev.PrevState != prev || ev.State != c.State() || ev.Up != (ev.State != StateDown) ||
					ev.Changed != ((ev.State == StateDown) != (prev == StateDown)) {
					t.Errorf("%s: event %+v inconsistent with previous state %v", tc.seq, ev, prev)
				}
				prev = ev.State
				states = append(states, "DUS"[ev.State])
				health = append(health, byte('0'+ev.Health))
			}
			if string(states) != tc.states {
				t.Errorf("%s: states %s; want %s", tc.seq, states, tc.states)
			}
			if string(health) != tc.health {
				t.Errorf("%s: health %s; want %s", tc.seq, health, tc.health)
			}
		})
	}
}

// TestCheckerDisableOn404 runs the checks against a server whose answer
// changes: an UP server answering 404 becomes stopping and 200 brings it
// back; once DOWN, its 404s keep it DOWN. Every event carries its
// log-health-checks line.
func TestCheckerDisableOn404(t *testing.T) {
	var answer atomic.Value
	answer.Store("200 OK")
	addr := serve(t, func(c net.Conn) {
		readHead(c)
		io.WriteString(c, "HTTP/1.0 "+answer.Load().(string)+"\r\nContent-Length: 0\r\n\r\n")
	})
	events := make(chan Event, 256)
	c, err := New(Config{Name: "hc/h", Addr: addr, Kind: KindHTTP, DisableOn404: true,
		Inter: 20 * time.Millisecond, Rise: 2, Fall: 2}, func(ev Event) { events <- ev })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	// wait returns the first event in state st, checking the lines of
	// those before it.
	wait := func(st State) Event {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case ev := <-events:
				if ev.LogLine != healthCheckLine("hc/h", false, ev, 2, 2) || ev.LogLine == "" {
					t.Fatalf("event %+v has LogLine %q", ev.Result, ev.LogLine)
				}
				if ev.State == st {
					return ev
				}
			case <-timeout:
				t.Fatalf("no event in state %v within 5s", st)
			}
		}
	}
	wait(StateUp)
	answer.Store("404 Not Found")
	ev := wait(StateStopping)
	if ev.Status != StatusL7OKC || ev.PrevState != StateUp || !ev.Up || ev.Changed {
		t.Errorf("stopping event = %+v", ev)
	}
	if want := "Health check for server hc/h conditionally succeeded, reason: Layer7 check conditionally passed, code: 404, check duration: 0ms, status: 2/2 UP."; ev.Duration < time.Millisecond && ev.LogLine != want {
		t.Errorf("LogLine = %q; want %q", ev.LogLine, want)
	}
	answer.Store("200 OK")
	wait(StateUp)
	answer.Store("503 Service Unavailable")
	wait(StateDown)
	answer.Store("404 Not Found")
	for range 3 {
		if ev := <-events; ev.State != StateDown || ev.Status != StatusL7Sts || ev.Code != 404 {
			t.Fatalf("DOWN server answering 404: event %v %d in state %v; want L7STS 404, DOWN", ev.Status, ev.Code, ev.State)
		}
	}
}
