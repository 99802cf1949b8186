package health

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRecord(t *testing.T) {
	// rise 2, fall 3: health runs from 0 to 4, UP from 2.
	tests := []struct {
		name      string
		startDown bool
		seq       string // s = success, f = failure
		health    string // health after each result
		changes   string // U or D on a transition, . otherwise
		reports   string // r when Event.Report (log-health-checks logs it)
	}{
		{"first failure marks down", false, "f", "0", "D", "r"},
		{"success from start", false, "sf", "43", "..", "rr"},
		{"fall 3 from fully up", false, "sfff", "4320", "...D", "rrrr"},
		{"a success resets the fall", false, "sffsff", "432432", "......", "rrrrrr"},
		{"rise 2 to come back", false, "fss", "014", "D.U", "rrr"},
		{"a failure resets the rise", false, "fsfss", "01014", "D...U", "rrrrr"},
		{"start down", true, "ss", "14", ".U", "rr"},
		{"steady results are not reported", false, "sssffff", "4443200", ".....D.", "r..rrr."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{Addr: "127.0.0.1:1", Rise: 2, Fall: 3, StartDown: tc.startDown}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var health, changes, reports []byte
			for _, r := range tc.seq {
				st := StatusL4Con
				if r == 's' {
					st = StatusL4OK
				}
				ev := c.record(Result{Status: st})
				health = append(health, byte('0'+ev.Health))
				if ev.Report {
					reports = append(reports, 'r')
				} else {
					reports = append(reports, '.')
				}
				switch {
				case ev.Changed && ev.Up:
					changes = append(changes, 'U')
				case ev.Changed:
					changes = append(changes, 'D')
				default:
					changes = append(changes, '.')
				}
				if ev.Up != c.Up() {
					t.Errorf("event Up = %v, Checker.Up = %v", ev.Up, c.Up())
				}
			}
			if string(health) != tc.health || string(changes) != tc.changes || string(reports) != tc.reports {
				t.Errorf("%s: health %s changes %s reports %s; want %s %s %s", tc.seq, health, changes, reports, tc.health, tc.changes, tc.reports)
			}
		})
	}
}

func TestInterval(t *testing.T) {
	c, err := New(Config{Addr: "127.0.0.1:1", Inter: time.Second, FastInter: 200 * time.Millisecond,
		DownInter: 3 * time.Second, Rise: 2, Fall: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		ok   bool
		want time.Duration
	}{
		{true, time.Second},             // fully up
		{false, 200 * time.Millisecond}, // going down
		{false, 200 * time.Millisecond}, // going down
		{false, 3 * time.Second},        // down
		{true, 200 * time.Millisecond},  // coming up
		{true, time.Second},             // up again
	}
	for i, s := range steps {
		st := StatusL4Con
		if s.ok {
			st = StatusL4OK
		}
		ev := c.record(Result{Status: st})
		if got := c.interval(ev.Health); got != s.want {
			t.Errorf("step %d (health %d): interval = %v; want %v", i, ev.Health, got, s.want)
		}
	}
	// Defaults: fastinter and downinter follow inter.
	d, _ := New(Config{Addr: "127.0.0.1:1", Inter: 700 * time.Millisecond}, nil)
	if d.cfg.FastInter != 700*time.Millisecond || d.cfg.DownInter != 700*time.Millisecond || d.cfg.Rise != 2 || d.cfg.Fall != 3 {
		t.Errorf("defaults = %v %v rise %d fall %d", d.cfg.FastInter, d.cfg.DownInter, d.cfg.Rise, d.cfg.Fall)
	}
}

// toggler is a TCP server that can be stopped and restarted on its port.
type toggler struct {
	t    *testing.T
	addr string
	mu   sync.Mutex // guards ln
	ln   net.Listener
}

func newToggler(t *testing.T) *toggler {
	tg := &toggler{t: t}
	tg.start("127.0.0.1:0")
	tg.addr = tg.ln.Addr().String()
	t.Cleanup(tg.stop)
	return tg
}

func (tg *toggler) start(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tg.t.Fatal(err)
	}
	tg.mu.Lock()
	tg.ln = ln
	tg.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
}

func (tg *toggler) stop() {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.ln != nil {
		tg.ln.Close()
		tg.ln = nil
	}
}

// run starts a Checker for cfg and returns its event stream.
func run(t *testing.T, cfg Config) <-chan Event {
	t.Helper()
	events := make(chan Event, 256)
	c, err := New(cfg, func(ev Event) { events <- ev })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return events
}

// next waits for the next event.
func next(t *testing.T, events <-chan Event) Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no check event within 5s")
	}
	return Event{}
}

// until collects events up to and including the first transition.
func until(t *testing.T, events <-chan Event) []Event {
	t.Helper()
	var evs []Event
	for {
		ev := next(t, events)
		evs = append(evs, ev)
		if ev.Changed {
			return evs
		}
	}
}

func TestCheckerFallRise(t *testing.T) {
	const inter = 40 * time.Millisecond
	tg := newToggler(t)
	events := run(t, Config{Name: "be/srv", Addr: tg.addr, Inter: inter, Rise: 2, Fall: 3})

	if ev := next(t, events); !ev.Up || ev.Status != StatusL4OK || ev.Changed || ev.Health != 4 {
		t.Fatalf("first event = %+v; want UP, L4OK, health 4", ev)
	}
	tg.stop()
	died := time.Now()
	evs := until(t, events)
	elapsed := time.Since(died)
	var fails int
	for _, ev := range evs {
		if !ev.Status.Passed() {
			fails++
		}
	}
	last := evs[len(evs)-1]
	if last.Up || fails != 3 || last.Status != StatusL4Con || last.Info != "Connection refused" {
		t.Errorf("went DOWN after %d failures with %v %q (up %v); want 3, L4CON, Connection refused", fails, last.Status, last.Info, last.Up)
	}
	if max := inter*4 + 500*time.Millisecond; elapsed > max {
		t.Errorf("DOWN %v after the server died; want within inter×(fall+1) + slack = %v", elapsed, max)
	}

	tg.start(tg.addr)
	evs = until(t, events)
	var oks int
	for _, ev := range evs {
		if ev.Status.Passed() {
			oks++
		}
	}
	if last := evs[len(evs)-1]; !last.Up || oks != 2 {
		t.Errorf("came back UP=%v after %d successes; want UP after 2", last.Up, oks)
	}
}

// TestCheckerFirstFailure: HAProxy starts a checked server UP with health
// = rise, so the very first failure marks it DOWN, whatever fall says.
func TestCheckerFirstFailure(t *testing.T) {
	events := run(t, Config{Addr: closedAddr(t), Inter: 20 * time.Millisecond, Rise: 2, Fall: 5})
	if ev := next(t, events); ev.Up || !ev.Changed || ev.Status != StatusL4Con {
		t.Errorf("first event = %+v; want a transition to DOWN", ev)
	}
}

func TestCheckerIntervals(t *testing.T) {
	const (
		inter     = 300 * time.Millisecond
		fastInter = 20 * time.Millisecond
		downInter = 600 * time.Millisecond
	)
	tg := newToggler(t)
	events := run(t, Config{Addr: tg.addr, Inter: inter, FastInter: fastInter, DownInter: downInter, Rise: 2, Fall: 3})
	next(t, events) // UP and stable
	tg.stop()
	// From the first failure to DOWN: two fastinter intervals, not inter.
	for ev := next(t, events); ev.Status.Passed(); ev = next(t, events) {
	}
	firstFail := time.Now()
	evs := until(t, events)
	if got := time.Since(firstFail); len(evs) != 2 || got > inter-100*time.Millisecond {
		t.Errorf("DOWN %d checks and %v after the first failure; want 2 checks about fastinter %v apart", len(evs), got, fastInter)
	}
	// Measure the next interval while DOWN: downinter, not fastinter.
	start := time.Now()
	next(t, events)
	if got := time.Since(start); got < downInter-100*time.Millisecond {
		t.Errorf("next check %v after DOWN; want about downinter %v", got, downInter)
	}
	// Measure the transitional fastinter: restart the server, wait for the
	// first success (health 1), then the second (UP) must come fast.
	tg.start(tg.addr)
	for {
		ev := next(t, events)
		if ev.Status.Passed() {
			break
		}
	}
	start = time.Now()
	ev := next(t, events)
	if got := time.Since(start); !ev.Up || got > inter-100*time.Millisecond {
		t.Errorf("second success after %v (up %v); want about fastinter %v", got, ev.Up, fastInter)
	}
}

func TestCheckerHTTP(t *testing.T) {
	var code atomic.Int32
	code.Store(200)
	addr := serve(t, func(c net.Conn) {
		readHead(c)
		if code.Load() == 200 {
			io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\n")
		} else {
			io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\n\r\n")
		}
	})
	events := run(t, Config{Name: "be/web", Addr: addr, Kind: KindHTTP, Inter: 20 * time.Millisecond, Rise: 1, Fall: 2})
	if ev := next(t, events); !ev.Up || ev.Status != StatusL7OK || ev.Code != 200 {
		t.Fatalf("first event = %+v; want UP L7OK 200", ev)
	}
	code.Store(503)
	evs := until(t, events)
	last := evs[len(evs)-1]
	msg := ServerDownMessage(ServerState{Proxy: "be", Server: "web"}, Result{Status: last.Status, Code: last.Code, Info: last.Info})
	want := `Server be/web is DOWN, reason: Layer7 wrong status, code: 503, info: "Service Unavailable", check duration: 0ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`
	if msg != want {
		t.Errorf("message = %s\nwant %s", msg, want)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no addr", Config{}},
		{"tcp-check regex without regexp", Config{Addr: "127.0.0.1:1", Kind: KindTCPCheck,
			TCPCheck: []Rule{{Action: ActExpect, Match: MatchRString}}}},
		{"tcp-check expect without match", Config{Addr: "127.0.0.1:1", Kind: KindTCPCheck,
			TCPCheck: []Rule{{Action: ActExpect}}}},
		{"http rstatus without regexp", Config{Addr: "127.0.0.1:1", Kind: KindHTTP, Expect: Expect{Match: MatchRStatus}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg, nil); err == nil {
				t.Errorf("New(%+v) = nil error; want an error", tc.cfg)
			}
		})
	}
}

func TestForce(t *testing.T) {
	c, err := New(Config{Addr: "127.0.0.1:1", Rise: 2, Fall: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev := c.Force(false); ev.Up || !ev.Changed || ev.Health != 0 || c.Up() {
		t.Errorf("Force(false) = %+v; want a change to DOWN, health 0", ev)
	}
	if ev := c.Force(false); ev.Changed {
		t.Errorf("Force(false) again = %+v; want no change", ev)
	}
	if ev := c.Force(true); !ev.Up || !ev.Changed || ev.Health != 4 || !c.Up() {
		t.Errorf("Force(true) = %+v; want a change to UP, health 4", ev)
	}
	// Fully up: fall failures are needed again.
	for i, want := range []bool{true, true, false} {
		if ev := c.record(Result{Status: StatusL4Con}); ev.Up != want {
			t.Errorf("failure %d after Force(true): up = %v; want %v", i+1, ev.Up, want)
		}
	}
}

func TestJitter(t *testing.T) {
	c, _ := New(Config{Addr: "127.0.0.1:1", Spread: 10}, nil)
	lo, hi := time.Hour, time.Duration(0)
	for range 1000 {
		d := c.jitter(time.Second)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 900*time.Millisecond || hi > 1100*time.Millisecond || hi-lo < 150*time.Millisecond {
		t.Errorf("jitter of 1s with spread 10%% ranged %v..%v; want within and across 0.9s..1.1s", lo, hi)
	}
	if d := (&Checker{}).jitter(time.Second); d != time.Second {
		t.Errorf("jitter without spread = %v; want 1s", d)
	}
}

// TestCancelDuringCheck: cancelling stops a check waiting for a silent
// server at once, not after the check timeout.
func TestCancelDuringCheck(t *testing.T) {
	accepted := make(chan struct{}, 1)
	addr := serve(t, func(c net.Conn) {
		accepted <- struct{}{}
		silent(c)
	})
	c, err := New(Config{Addr: addr, Kind: KindHTTP, Inter: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	<-accepted
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run still checking 2s after cancel")
	}
}

// TestCheckerMaint: SetMaint stops the health checks as maintenance does in HAProxy
// (CHK_ST_PAUSED), apart from SetPaused ("disable health"); neither stops the agent, which
// SetAgentPaused stops. Stat reports the checks in progress and the results recorded.
func TestCheckerMaint(t *testing.T) {
	const inter = 20 * time.Millisecond
	var checks, agents atomic.Int32
	addr := serve(t, func(c net.Conn) { checks.Add(1) })
	agent := serve(t, func(c net.Conn) { agents.Add(1); io.WriteString(c, "up\n") })
	events := make(chan Event, 1024)
	// The health check sends a PROXY header, so that the server accepts it and counts
	// it: a check that only connects resets before the server accepts.
	c, err := New(Config{Name: "be/srv", Addr: addr, Inter: inter, Rise: 2, Fall: 3, SendProxy: true,
		Agent: &Agent{Addr: agent, Inter: inter}}, func(ev Event) { events <- ev })
	if err != nil {
		t.Fatal(err)
	}
	if !c.HasCheck() || !c.HasAgent() {
		t.Fatal("HasCheck or HasAgent false")
	}
	c.SetMaint(true)
	c.SetHealth(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	// quiet waits until the agent ran n more times, and returns the health checks
	// run meanwhile.
	quiet := func(n int32) int32 {
		t.Helper()
		a, h := agents.Load(), checks.Load()
		deadline := time.Now().Add(5 * time.Second)
		for agents.Load() < a+n {
			if time.Now().After(deadline) {
				t.Fatal("the agent check does not run")
			}
			time.Sleep(inter)
		}
		return checks.Load() - h
	}
	if n := quiet(3); n != 0 {
		t.Errorf("%d health checks in maintenance", n)
	}
	if st := c.Stat(); st.Health != 0 || st.Results != 0 || st.Last.Status != StatusInit {
		t.Errorf("in maintenance: %+v", st)
	}
	c.SetMaint(false)
	if n := quiet(3); n == 0 {
		t.Error("no health check out of maintenance")
	}
	c.SetPaused(true)
	quiet(1) // a check in progress ends
	if n := quiet(3); n != 0 {
		t.Errorf("%d health checks after SetPaused", n)
	}
	// The health checks, running again, are the clock while the agent is paused.
	c.SetPaused(false)
	c.SetAgentPaused(true)
	ran := func(n int32) {
		t.Helper()
		h := checks.Load()
		deadline := time.Now().Add(5 * time.Second)
		for checks.Load() < h+n {
			if time.Now().After(deadline) {
				t.Fatal("the health checks do not run")
			}
			time.Sleep(inter)
		}
	}
	ran(2) // an agent check in progress ends
	a := agents.Load()
	ran(4)
	if n := agents.Load() - a; n != 0 {
		t.Errorf("%d agent checks after SetAgentPaused", n)
	}
	if st := c.Stat(); st.Results == 0 || st.AgentRunning {
		t.Errorf("after the checks: %+v", st)
	}
}

// TestCheckerRestore: the status a state file gives is the last one until a check ends.
func TestCheckerRestore(t *testing.T) {
	c, err := New(Config{Addr: "127.0.0.1:1", Rise: 2, Fall: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Restore(StatusL7OK)
	c.SetHealth(9)
	if st := c.Stat(); st.Last.Status != StatusL7OK || st.Results != 0 || st.Health != 4 {
		t.Errorf("restored: %+v", st)
	}
	c.record(Result{Status: StatusL4Con})
	if st := c.Stat(); st.Last.Status != StatusL4Con || st.Results != 1 || st.Health != 3 {
		t.Errorf("after a check: %+v", st)
	}
}

// TestAnalyze: a passive check's verdict moves the health counter as on-error says
// (HAProxy's health_adjust), and with fastinter set brings the next check forward to it;
// without fastinter, or with on-error fastinter, the counter does not move.
func TestAnalyze(t *testing.T) {
	for _, tc := range []struct {
		name    string
		onError OnError
		health  []int // the health after each verdict, from fully UP (4 with rise 2, fall 3)
		down    bool  // DOWN after them
	}{
		{"fail-check", OnErrorFailCheck, []int{3, 2, 0}, true},
		{"sudden-death", OnErrorSuddenDeath, []int{2, 0}, true},
		{"mark-down", OnErrorMarkDown, []int{0}, true},
		{"fastinter", OnErrorFastInter, []int{4, 4}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var events []Event
			c, err := New(Config{Addr: "127.0.0.1:1", Rise: 2, Fall: 3, OnError: tc.onError}, func(ev Event) { events = append(events, ev) })
			if err != nil {
				t.Fatal(err)
			}
			c.Force(true)
			for i, want := range tc.health {
				c.Analyze("Detected 10 consecutive errors")
				if _, h := c.Last(); h != want {
					t.Errorf("verdict %d: health %d, want %d", i+1, h, want)
				}
			}
			if c.Up() == tc.down {
				t.Errorf("up %v after the verdicts, want %v", c.Up(), !tc.down)
			}
			if tc.onError == OnErrorFastInter {
				if len(events) != 0 {
					t.Errorf("on-error fastinter reported %d results", len(events))
				}
				return
			}
			last := events[len(events)-1]
			if last.Status != StatusHANA || last.Info != "Detected 10 consecutive errors" || last.Duration >= 0 {
				t.Errorf("last result %+v, want HANA with the verdict's words and no duration", last.Result)
			}
		})
	}
	t.Run("fastinter brings the next check forward", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		checks := make(chan Event, 4)
		c, err := New(Config{Addr: ln.Addr().String(), Inter: time.Hour, FastInter: 50 * time.Millisecond,
			OnError: OnErrorFastInter}, func(ev Event) { checks <- ev })
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { c.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		<-checks // the first check, at once; the next one is an hour away
		c.Analyze("Detected 10 consecutive errors")
		select {
		case ev := <-checks:
			if ev.Status != StatusL4OK {
				t.Errorf("the check brought forward: %v", ev.Status)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no check within fastinter of the verdict")
		}
	})
}
