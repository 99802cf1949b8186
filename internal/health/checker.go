package health

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// State is a server's state as its checks see it, HAProxy's srv_state.
type State int

const (
	// StateDown is a server that failed its checks (SRV_ST_STOPPED).
	StateDown State = iota
	// StateUp is a server that takes traffic (SRV_ST_RUNNING).
	StateUp
	// StateStopping is a server that passes its checks but asked, with a
	// 404 to an http check with disable-on-404, to take no new sessions
	// from load balancing (SRV_ST_STOPPING, "NOLB" in the statistics).
	StateStopping
)

// String returns "DOWN", "UP" or "NOLB", as the statistics show them.
func (s State) String() string {
	switch s {
	case StateUp:
		return "UP"
	case StateStopping:
		return "NOLB"
	}
	return "DOWN"
}

// Event is what a Checker reports after each check.
type Event struct {
	Result
	// Health is HAProxy's check health counter after this result: from 0
	// (DOWN) to Rise+Fall-1 (fully UP); the server is UP when
	// Health >= Rise.
	Health int
	// Up is the server's state after this result: State != StateDown.
	Up bool
	// Changed reports an UP/DOWN transition: the server just went UP (Up)
	// or DOWN (!Up). A move between StateUp and StateStopping changes
	// State only.
	Changed bool
	// State and PrevState are the server's state after and before this
	// result; TransitionMessage words a change.
	State, PrevState State
	// Report is set when the health counter or the status changed: the
	// results HAProxy logs with option log-health-checks.
	Report bool
	// Agent marks a result of the agent check (Config.Agent); its
	// LogLine starts with "Agent check".
	Agent bool
	// LogLine is the line option log-health-checks logs (at notice) for
	// this result, set for every result: "Health check for server be/srv
	// failed, reason: Layer4 connection problem, info: "Connection
	// refused", check duration: 0ms, status: 0/2 DOWN.". HAProxy logs it
	// when Report is set, not for steady results.
	LogLine string
}

// Checker checks one server periodically and tracks its state the way
// HAProxy does: a server starts UP with health = rise, so its first failed
// check marks it DOWN; once fully UP it needs Fall consecutive failures to
// go DOWN, and once DOWN it needs Rise consecutive successes to come back.
type Checker struct {
	cfg Config
	cb  func(Event)
	log *slog.Logger

	state  atomic.Int32 // the server's State, readable from any goroutine
	paused atomic.Bool  // SetPaused: no health check runs
	maint  atomic.Bool  // SetMaint: no health check runs either
	// agentPaused is SetAgentPaused: no agent check runs.
	agentPaused atomic.Bool
	// running is set while a check runs, for the "* " the statistics put
	// before its status (HAProxy's CHK_ST_INPROGRESS); agentRunning while
	// an agent check runs.
	running, agentRunning atomic.Bool
	// addr replaces cfg.Addr once SetAddr was called (the server moved),
	// agentAddr the agent's Addr once SetAgentAddr was.
	addr, agentAddr atomic.Pointer[string]

	// cbMu serializes the results of the health and agent checks, from
	// recording to the callback's return.
	cbMu sync.Mutex
	// mu guards last, health and the agent's, written by the goroutines
	// running Run.
	mu          sync.Mutex
	last        Result
	health      int
	failed      uint64 // failed checks that lowered health (chkfail)
	results     uint64 // results recorded
	agentLast   Result
	agentHealth int // 0 (DOWN) or 1: an agent's rise and fall are 1

	// fastSet says "fastinter" was set: a passive check's verdict then
	// brings the next check forward to it, through hurry (Analyze).
	fastSet bool
	hurry   chan struct{}
}

// New returns a Checker for cfg. cb, which may be nil, receives every
// result from the goroutine running Run; it must not block for long, since
// the next check waits for it.
func New(cfg Config, cb func(Event)) (*Checker, error) {
	fastSet := cfg.FastInter > 0
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Checker{cfg: cfg, cb: cb, log: cfg.Logger, last: Result{Status: StatusInit},
		agentLast: Result{Status: StatusInit}, agentHealth: 1, fastSet: fastSet, hurry: make(chan struct{}, 1)}
	if cfg.StartDown {
		c.health = 0
	} else {
		c.health = cfg.Rise
		c.state.Store(int32(StateUp))
	}
	return c, nil
}

// Up reports whether the server is currently UP (StateUp or
// StateStopping).
func (c *Checker) Up() bool { return c.State() != StateDown }

// State returns the server's current state.
func (c *Checker) State() State { return State(c.state.Load()) }

// Last returns the last check result and the health counter.
func (c *Checker) Last() (Result, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.health
}

// Stat is what the statistics show of a server's checks.
type Stat struct {
	// Last is the last result (StatusInit before the first), Health the
	// health counter after it.
	Last   Result
	Health int
	// Failed counts the failed checks that lowered the health counter,
	// HAProxy's failed_checks (chkfail): not those of a server already
	// DOWN.
	Failed uint64
	// Running reports a health check in progress, AgentRunning an agent
	// check.
	Running, AgentRunning bool
	// Results counts the health checks' results recorded (Restore's is
	// not one).
	Results uint64
	// AgentLast is the agent check's last result (StatusInit before the
	// first), AgentHealth its health counter: 0 (DOWN) or 1.
	AgentLast   Result
	AgentHealth int
}

// Stable runs fn while no check result is being applied: a result changes
// the health counter, then the server's state through the callback, and a
// reader of both in fn sees them agree (show stat printed "DOWN 4/2" when it
// read the state before a passing check and the counter after).
func (c *Checker) Stable(fn func()) {
	c.cbMu.Lock()
	defer c.cbMu.Unlock()
	fn()
}

// Stat returns what the statistics show of the checks.
func (c *Checker) Stat() Stat {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stat{Last: c.last, Health: c.health, Failed: c.failed, Running: c.running.Load(),
		AgentRunning: c.agentRunning.Load(), Results: c.results, AgentLast: c.agentLast, AgentHealth: c.agentHealth}
}

// HasCheck reports whether the checker runs health checks (Config.NoCheck
// unset), HasAgent whether it runs an agent check (Config.Agent).
func (c *Checker) HasCheck() bool { return !c.cfg.NoCheck }
func (c *Checker) HasAgent() bool { return c.cfg.Agent != nil }

// Run checks the server until ctx is done. Call it once, in its own
// goroutine.
func (c *Checker) Run(ctx context.Context) {
	if c.cfg.Agent != nil {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() { defer close(done); c.runAgent(ctx) }()
	}
	if c.cfg.NoCheck {
		<-ctx.Done()
		return
	}
	t := time.NewTimer(c.cfg.InitialDelay)
	defer t.Stop()
	next := time.Now().Add(c.cfg.InitialDelay)
	reset := func(d time.Duration) {
		t.Reset(d)
		next = time.Now().Add(d)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.hurry:
			// A passive check's verdict: the next check within
			// fastinter, as HAProxy's health_adjust requeues it.
			if time.Until(next) > c.cfg.FastInter {
				reset(c.cfg.FastInter) // Reset drops a pending tick (Go 1.23 timers)
			}
			continue
		case <-t.C:
		}
		if c.paused.Load() || c.maint.Load() {
			reset(c.cfg.Inter)
			continue
		}
		cfg := c.cfg
		if a := c.addr.Load(); a != nil {
			cfg.Addr = *a
		}
		c.running.Store(true)
		r := probe(ctx, cfg, c.State() == StateDown)
		if ctx.Err() != nil {
			return
		}
		if c.maint.Load() {
			// The server went into maintenance meanwhile: its health
			// counter was reset, the result counts for nothing.
			c.running.Store(false)
			reset(c.cfg.Inter)
			continue
		}
		c.cbMu.Lock()
		ev := c.record(r)
		c.running.Store(false)
		ev.LogLine = healthCheckLine(c.cfg.Name, c.cfg.Backup, ev, c.cfg.Rise, c.cfg.Fall)
		c.log.Debug("health check", "server", c.cfg.Name, "status", r.Status.String(),
			"code", r.Code, "info", r.Info, "duration", r.Duration, "health", ev.Health, "up", ev.Up)
		if c.cb != nil {
			c.cb(ev)
		}
		c.cbMu.Unlock()
		reset(c.jitter(c.interval(ev.Health)))
	}
}

// OnError is what a passive check's verdict does to a server with health
// checks ("on-error").
type OnError uint8

const (
	// OnErrorFailCheck counts it as a failed check ("fail-check", the
	// default).
	OnErrorFailCheck OnError = iota
	// OnErrorFastInter only brings the next check forward
	// ("fastinter").
	OnErrorFastInter
	// OnErrorSuddenDeath counts it as the failed check that leaves a
	// fully UP server one failure from DOWN ("sudden-death").
	OnErrorSuddenDeath
	// OnErrorMarkDown marks the server DOWN at once ("mark-down").
	OnErrorMarkDown
)

// Analyze applies a passive check's verdict, info saying why ("Detected 10
// consecutive errors, last one was: L4 unsuccessful connection"), as
// HAProxy 2.6's health_adjust: as Config.OnError says, then the next check
// within fastinter when it is set. The verdict is a result of status HANA
// with no duration (-1 ms, as HAProxy's -1); the callback receives it as
// any check's. A server without health checks, or in maintenance, is left
// as it is.
func (c *Checker) Analyze(info string) {
	if c.cfg.NoCheck || c.maint.Load() {
		return
	}
	if c.cfg.OnError != OnErrorFastInter {
		c.cbMu.Lock()
		ev := c.recordHANA(Result{Status: StatusHANA, Info: info, Duration: -time.Millisecond})
		ev.LogLine = healthCheckLine(c.cfg.Name, c.cfg.Backup, ev, c.cfg.Rise, c.cfg.Fall)
		if c.cb != nil {
			c.cb(ev)
		}
		c.cbMu.Unlock()
	}
	if c.fastSet {
		select {
		case c.hurry <- struct{}{}:
		default:
		}
	}
}

// recordHANA records r, a passive check's verdict, after moving the health
// counter as on-error says.
func (c *Checker) recordHANA(r Result) Event {
	c.mu.Lock()
	switch c.cfg.OnError {
	case OnErrorSuddenDeath:
		if c.health > c.cfg.Rise {
			c.health = c.cfg.Rise + 1
		}
	case OnErrorMarkDown:
		c.health = c.cfg.Rise
	}
	c.mu.Unlock()
	return c.record(r)
}

// jitter applies Config.Spread as HAProxy's spread-checks does: ±spread%.
func (c *Checker) jitter(d time.Duration) time.Duration {
	if c.cfg.Spread <= 0 {
		return d
	}
	rv := int64(d) * int64(c.cfg.Spread) / 100
	if rv <= 0 {
		return d
	}
	return d + time.Duration(rand.Int64N(2*rv+1)-rv)
}

// SetAddr makes the next checks go to addr ("host:port") instead of
// Config.Addr: the server moved, or its check port changed, at run time.
func (c *Checker) SetAddr(addr string) { c.addr.Store(&addr) }

// Addr returns the "host:port" checked.
func (c *Checker) Addr() string {
	if a := c.addr.Load(); a != nil {
		return *a
	}
	return c.cfg.Addr
}

// SetPaused stops the health checks (true) or starts them again (false), as the runtime
// API's "disable health" and "enable health": a paused checker runs no health check and
// reports nothing; the server keeps the state it had. The agent check goes on
// (SetAgentPaused).
func (c *Checker) SetPaused(paused bool) { c.paused.Store(paused) }

// Paused reports whether SetPaused stopped the checks.
func (c *Checker) Paused() bool { return c.paused.Load() }

// SetMaint stops the health checks (true) while the server is in maintenance, or lets
// them run again (false), as HAProxy's CHK_ST_PAUSED: apart from SetPaused, which is
// the operator's. The agent check goes on. A check in progress when maintenance starts
// counts for nothing.
func (c *Checker) SetMaint(on bool) { c.maint.Store(on) }

// SetAgentPaused stops the agent check (true) or starts it again (false), as the
// runtime API's "disable agent" and "enable agent".
func (c *Checker) SetAgentPaused(paused bool) { c.agentPaused.Store(paused) }

// AgentPaused reports whether SetAgentPaused stopped the agent check.
func (c *Checker) AgentPaused() bool { return c.agentPaused.Load() }

// SetAgentAddr makes the next agent checks go to addr ("host:port") instead of the
// Agent's Addr.
func (c *Checker) SetAgentAddr(addr string) { c.agentAddr.Store(&addr) }

// SetHealth sets the health counter, clamped to 0..Rise+Fall-1, without changing the
// server's state: HAProxy zeroes it when a server enters maintenance, and a server
// state file restores it.
func (c *Checker) SetHealth(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.health = max(0, min(n, c.cfg.Rise+c.cfg.Fall-1))
}

// Restore makes st the last check's status, with no code, duration or
// information, until the first check ends: a server state file carries the
// status of the previous process's last check.
func (c *Checker) Restore(st Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = Result{Status: st}
}

// Reset makes the server UP with health = rise, as HAProxy does when a server leaves
// maintenance: it is UP at once, and its next failed check counts from there.
func (c *Checker) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.health = c.cfg.Rise
	c.state.Store(int32(StateUp))
}

// Force sets the server UP or DOWN regardless of the checks, as the
// runtime API's "set server <b>/<s> health up|down" does: the health
// counter goes to its maximum or to 0. The returned Event (with the last
// result) tells whether the state changed; no callback is called.
func (c *Checker) Force(up bool) Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := StateDown
	if up {
		c.health = c.cfg.Rise + c.cfg.Fall - 1
		st = StateUp
	} else {
		c.health = 0
	}
	prev := State(c.state.Swap(int32(st)))
	return Event{Result: c.last, Health: c.health, Up: up, Changed: up != (prev != StateDown),
		State: st, PrevState: prev}
}

// record applies r to the health counter, as HAProxy's
// set_server_check_status: a failure decrements it and drops it to 0 below
// rise; a success increments it and jumps to rise+fall-1 from rise. Then,
// as its check_notify_*: a server whose health fell to 0 goes DOWN; one
// with health >= rise goes UP on a success, or stopping on L7OKC.
func (c *Checker) record(r Result) Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	max := c.cfg.Rise + c.cfg.Fall - 1
	prevHealth, prevStatus := c.health, c.last.Status
	if r.Status.Passed() {
		if c.health < max {
			c.health++
			if c.health >= c.cfg.Rise {
				c.health = max
			}
		}
	} else if c.health > 0 {
		c.failed++
		c.health--
		if c.health < c.cfg.Rise {
			c.health = 0
		}
	}
	c.last = r
	c.results++
	prev := c.State()
	st := prev
	switch {
	case !r.Status.Passed():
		if c.health == 0 {
			st = StateDown
		}
	case c.health < c.cfg.Rise || c.agentHealth == 0:
	case r.Status == StatusL7OKC:
		st = StateStopping
	default:
		st = StateUp
	}
	c.state.Store(int32(st))
	up, wasUp := st != StateDown, prev != StateDown
	return Event{Result: r, Health: c.health, Up: up, Changed: up != wasUp, State: st, PrevState: prev,
		Report: c.health != prevHealth || r.Status != prevStatus}
}

// interval is HAProxy's srv_getinter: inter when fully UP, downinter when
// DOWN, fastinter in between.
func (c *Checker) interval(health int) time.Duration {
	switch {
	case health == c.cfg.Rise+c.cfg.Fall-1:
		return c.cfg.Inter
	case health == 0 && c.State() == StateDown:
		return c.cfg.DownInter
	}
	return c.cfg.FastInter
}

// runAgent runs the agent check until ctx is done.
func (c *Checker) runAgent(ctx context.Context) {
	inter := c.cfg.AgentInter()
	t := time.NewTimer(c.cfg.Agent.InitialDelay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(inter)
		if c.agentPaused.Load() {
			continue
		}
		cfg := c.cfg
		cfg.Agent = &Agent{Addr: c.cfg.Agent.Addr, Inter: inter, Send: c.cfg.Agent.Send}
		if a := c.agentAddr.Load(); a != nil {
			cfg.Agent.Addr = *a
		}
		c.agentRunning.Store(true)
		line, r, ok := agentProbe(ctx, cfg)
		if ctx.Err() != nil {
			return
		}
		c.cbMu.Lock()
		c.agentRunning.Store(false)
		if ok {
			d := r.Duration
			r = agentResult(ParseAgentReply(line), c.cfg.Agent.OnReply)
			r.Duration = d
		}
		ev := c.recordAgent(r)
		if ev.Report {
			ev.LogLine = "Agent" + strings.TrimPrefix(healthCheckLine(c.cfg.Name, c.cfg.Backup, ev, 1, 1), "Health")
		}
		c.log.Debug("agent check", "server", c.cfg.Name, "status", r.Status.String(),
			"info", r.Info, "duration", r.Duration, "health", ev.Health, "up", ev.Up)
		if c.cb != nil {
			c.cb(ev)
		}
		c.cbMu.Unlock()
	}
}

// recordAgent applies an agent's result as HAProxy does: "up" (L7OK)
// sets the agent's health to 1, and brings the server UP if its health
// check agrees and it is not stopping; "down", "stopped" and "fail"
// (L7STS) set it to 0 and the server DOWN; other results (a reply without
// a health word, an agent that cannot be reached) change no health. The
// result is reported (log-health-checks) when its status changed.
func (c *Checker) recordAgent(r Result) Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	prevStatus := c.agentLast.Status
	c.agentLast = r
	prev := c.State()
	st := prev
	switch r.Status {
	case StatusL7OK:
		c.agentHealth = 1
		if prev == StateDown && (c.cfg.NoCheck || c.health >= c.cfg.Rise) {
			st = StateUp
		}
	case StatusL7Sts:
		c.agentHealth = 0
		st = StateDown
	}
	c.state.Store(int32(st))
	up := st != StateDown
	return Event{Result: r, Health: c.agentHealth, Up: up, Changed: up != (prev != StateDown), State: st,
		PrevState: prev, Agent: true, Report: r.Status != prevStatus && r.Status != StatusChecked}
}
