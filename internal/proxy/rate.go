package proxy

import (
	"sync"
	"sync/atomic"
	"time"
)

// ratePeriod is the window of the accept rate limits: they count per second.
const ratePeriod = time.Second

// freqCtr counts events per second against a limit that may change at run time,
// as HAProxy's freq_ctr: the events of the current second plus those of the past
// one weighted by what is left of the current second. max is 0 when there is no
// limit.
type freqCtr struct {
	max atomic.Int64

	mu         sync.Mutex
	start      time.Time // the current second's start
	curr, prev int64
}

// rotate moves the window to now's second. Call with mu held.
func (c *freqCtr) rotate(now time.Time) {
	el := now.Sub(c.start)
	switch {
	case c.start.IsZero() || el >= 2*ratePeriod:
		c.prev, c.curr = 0, 0
		c.start = now
	case el >= ratePeriod:
		c.prev, c.curr = c.curr, 0
		c.start = c.start.Add(ratePeriod)
	}
}

// add counts an event.
func (c *freqCtr) add(now time.Time) {
	c.mu.Lock()
	c.rotate(now)
	c.curr++
	c.mu.Unlock()
}

// remove takes back an event counted by add.
func (c *freqCtr) remove() {
	c.mu.Lock()
	switch {
	case c.curr > 0:
		c.curr--
	case c.prev > 0:
		c.prev--
	}
	c.mu.Unlock()
}

// wait returns how long until one more event is within the limit, 0 if it is
// now (or there is no limit). It never spins: the delay is at least a
// millisecond when not 0.
func (c *freqCtr) wait(now time.Time) time.Duration {
	limit := c.max.Load()
	if limit <= 0 {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rotate(now)
	el := now.Sub(c.start)
	p := float64(ratePeriod)
	// The past second's weight falls linearly to 0 at the end of this one.
	rate := float64(c.curr) + float64(c.prev)*(1-float64(el)/p)
	if rate < float64(limit) {
		return 0
	}
	var d time.Duration
	if c.curr < limit && c.prev > 0 {
		// Within this second: when curr + prev*(1-t/p) falls below limit.
		t := p * (1 - float64(limit-c.curr)/float64(c.prev))
		d = time.Duration(t) - el
	} else {
		// Next second, where curr becomes the weighted past.
		d = ratePeriod - el
		if c.curr > 0 {
			d += time.Duration(p * (1 - float64(limit)/float64(c.curr)))
		}
	}
	return max(d, time.Millisecond)
}

// set changes the limit (0 or less: none).
func (c *freqCtr) set(n int) { c.max.Store(int64(max(n, 0))) }

// get returns the limit, 0 for none.
func (c *freqCtr) get() int { return int(c.max.Load()) }

// rateWait returns how long b's listener must wait before accepting, for the
// global connection and session rates and the frontend's session rate; 0 when
// it may accept now. With no rate limit anywhere it is one atomic load.
func (b *Binding) rateWait() time.Duration {
	e := b.f.eng
	if !e.rated.Load() {
		return 0
	}
	now := time.Now()
	d := max(e.connRate.wait(now), e.sessRate.wait(now), b.f.sessRate.wait(now))
	if b.cfg.TLS != nil {
		d = max(d, e.sslRate.wait(now))
	}
	return d
}

// countAccept counts a connection accepted by b's listener, and the session it
// starts: a session is a connection that passes the tcp-request connection
// rules, counted at once so that the accepting loop sees it, and given back by
// uncountSess when the rules reject it.
func (b *Binding) countAccept() {
	f := b.f
	e := f.eng
	if b.cfg.TLS != nil {
		e.sslConns.Add(1)
	}
	if e.rated.Load() {
		now := time.Now()
		e.connRate.add(now)
		e.sessRate.add(now)
		f.sessRate.add(now)
		if b.cfg.TLS != nil {
			e.sslRate.add(now)
		}
	}
}

// uncountSess gives back the session counted for a connection the tcp-request
// connection rules rejected.
func (f *Frontend) uncountSess() {
	if e := f.eng; e.rated.Load() {
		e.sessRate.remove()
		f.sessRate.remove()
	}
}

// updateRated records whether a rate limit is set anywhere. The frontends'
// limits are fixed at start and noted by ratedFronts.
func (e *Engine) updateRated() {
	e.rated.Store(e.connRate.get() > 0 || e.sessRate.get() > 0 || e.sslRate.get() > 0 || e.ratedFronts.Load() > 0)
}

// SSLRateLimit returns maxsslrate, 0 when none.
func (e *Engine) SSLRateLimit() int { return e.sslRate.get() }

// SetSSLRateLimit changes maxsslrate (0: none).
func (e *Engine) SetSSLRateLimit(n int) {
	e.sslRate.set(n)
	e.updateRated()
}

// SSLCounts returns the connections accepted on listeners with "ssl" and
// the full handshakes (not resumed) completed on them since the start.
func (e *Engine) SSLCounts() (conns, keys uint64) { return e.sslConns.Load(), e.sslKeys.Load() }

// ConnRateLimit returns maxconnrate, 0 when none.
func (e *Engine) ConnRateLimit() int { return e.connRate.get() }

// SessRateLimit returns maxsessrate, 0 when none.
func (e *Engine) SessRateLimit() int { return e.sessRate.get() }

// RateLimitSessions returns the frontend's "rate-limit sessions", 0 when
// none.
func (f *Frontend) RateLimitSessions() int { return f.sessRate.get() }

// SetConnRateLimit changes maxconnrate (0: none). Listeners waiting on the old
// rate look again when their timer fires.
func (e *Engine) SetConnRateLimit(n int) {
	e.connRate.set(n)
	e.updateRated()
}

// SetSessRateLimit changes maxsessrate (0: none).
func (e *Engine) SetSessRateLimit(n int) {
	e.sessRate.set(n)
	e.updateRated()
}

// waitRate waits until the accept rate limits allow one more connection on b;
// it reports false if the binding was stopped meanwhile.
func (b *Binding) waitRate() bool {
	for {
		d := b.rateWait()
		if d == 0 {
			return true
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-b.stop:
			t.Stop()
			return false
		}
	}
}
