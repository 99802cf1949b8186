package health

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Event is what a Checker reports after each check.
type Event struct {
	Result
	// Health is HAProxy's check health counter after this result: from 0
	// (DOWN) to Rise+Fall-1 (fully UP); the server is UP when
	// Health >= Rise.
	Health int
	// Up is the server's state after this result.
	Up bool
	// Changed reports a transition: the server just went UP (Up) or
	// DOWN (!Up).
	Changed bool
	// Report is set when the health counter or the status changed: the
	// results HAProxy logs with option log-health-checks (see
	// HealthCheckMessage).
	Report bool
}

// Checker checks one server periodically and tracks its state the way
// HAProxy does: a server starts UP with health = rise, so its first failed
// check marks it DOWN; once fully UP it needs Fall consecutive failures to
// go DOWN, and once DOWN it needs Rise consecutive successes to come back.
type Checker struct {
	cfg Config
	cb  func(Event)
	log *slog.Logger

	up atomic.Bool // the server's state, readable from any goroutine

	// mu guards last and health, written by the goroutine running Run.
	mu     sync.Mutex
	last   Result
	health int
}

// New returns a Checker for cfg. cb, which may be nil, receives every
// result from the goroutine running Run; it must not block for long, since
// the next check waits for it.
func New(cfg Config, cb func(Event)) (*Checker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Checker{cfg: cfg, cb: cb, log: cfg.Logger, last: Result{Status: StatusInit}}
	if cfg.StartDown {
		c.health = 0
	} else {
		c.health = cfg.Rise
		c.up.Store(true)
	}
	return c, nil
}

// Up reports whether the server is currently UP.
func (c *Checker) Up() bool { return c.up.Load() }

// Last returns the last check result and the health counter.
func (c *Checker) Last() (Result, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.health
}

// Run checks the server until ctx is done. Call it once, in its own
// goroutine.
func (c *Checker) Run(ctx context.Context) {
	t := time.NewTimer(c.cfg.InitialDelay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r := Probe(ctx, c.cfg)
		if ctx.Err() != nil {
			return
		}
		ev := c.record(r)
		c.log.Debug("health check", "server", c.cfg.Name, "status", r.Status.String(),
			"code", r.Code, "info", r.Info, "duration", r.Duration, "health", ev.Health, "up", ev.Up)
		if c.cb != nil {
			c.cb(ev)
		}
		t.Reset(c.jitter(c.interval(ev.Health)))
	}
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

// Force sets the server UP or DOWN regardless of the checks, as the
// runtime API's "set server <b>/<s> health up|down" does: the health
// counter goes to its maximum or to 0. The returned Event (with the last
// result) tells whether the state changed; no callback is called.
func (c *Checker) Force(up bool) Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	if up {
		c.health = c.cfg.Rise + c.cfg.Fall - 1
	} else {
		c.health = 0
	}
	wasUp := c.up.Swap(up)
	return Event{Result: c.last, Health: c.health, Up: up, Changed: up != wasUp}
}

// record applies r to the health counter, as HAProxy's
// set_server_check_status: a failure decrements it and drops it to 0 below
// rise; a success increments it and jumps to rise+fall-1 from rise.
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
		c.health--
		if c.health < c.cfg.Rise {
			c.health = 0
		}
	}
	c.last = r
	wasUp := c.up.Load()
	up := wasUp
	switch {
	case wasUp && c.health == 0:
		up = false
	case !wasUp && c.health >= c.cfg.Rise:
		up = true
	}
	c.up.Store(up)
	return Event{Result: r, Health: c.health, Up: up, Changed: up != wasUp,
		Report: c.health != prevHealth || r.Status != prevStatus}
}

// interval is HAProxy's srv_getinter: inter when fully UP, downinter when
// DOWN, fastinter in between.
func (c *Checker) interval(health int) time.Duration {
	switch {
	case health == c.cfg.Rise+c.cfg.Fall-1:
		return c.cfg.Inter
	case health == 0 && !c.up.Load():
		return c.cfg.DownInter
	}
	return c.cfg.FastInter
}
