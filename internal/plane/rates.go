package plane

import (
	"runtime"
	"sync"
	"time"

	"lb/internal/stats"
)

// The rates of "show info", "show stat", the statistics page and the exporter are
// sampled from the cumulative counters the data plane keeps anyway: once a second a
// sampler notes every total; a rate is then read as HAProxy reads its freq counters,
// the events since the last tick plus those of the second before it weighted by what
// is left of the current second. The age of the last session of a backend or a
// server (lastsess) is read from the same samples: the tick that saw its total move
// dates it, within the period. The hot path pays nothing for them.

// ratePeriod is the sampling period: rates count per second.
const ratePeriod = time.Second

// rateKind tells apart the counters of one object.
type rateKind uint8

const (
	rateFeSess rateKind = iota
	rateFeConn
	rateFeReq
	rateBackend
	rateServer
	rateConn // the process's
	rateSess
	rateSSL
	rateSSLKey
	rateBytesOut // the bytes the proxies sent
	rateCompIn   // the bytes given to the compressor
	rateCompOut  // the bytes it produced
	rateCPU      // the microseconds of processor time the process used
)

// rateKey names a counter: its kind, its proxy and its server ("" for the process's).
type rateKey struct {
	kind          rateKind
	proxy, server string
}

// rateCtr is what the sampler keeps of one counter.
type rateCtr struct {
	tick uint64 // the total at the last tick
	prev uint64 // the events of the period that ended at the last tick
	max  int    // the highest rate seen
	// seen dates the last event: the middle of the period in which a tick
	// saw the total move, the tick itself for events before the first.
	seen time.Time
}

// rateSampler keeps the counters' samples.
type rateSampler struct {
	// mu guards at and ctrs.
	mu   sync.Mutex
	at   time.Time // the last tick
	ctrs map[rateKey]*rateCtr
	stop chan struct{} // closed to end the ticker
}

func newRateSampler() *rateSampler {
	return &rateSampler{ctrs: map[rateKey]*rateCtr{}, stop: make(chan struct{})}
}

// rateTotals calls fn with every cumulative total of s that has a rate.
func rateTotals(s *stats.Snapshot, ssl, sslKeys uint64, fn func(rateKey, uint64)) {
	var conns, sess, compIn, compOut uint64
	for i := range s.Proxies {
		p := &s.Proxies[i]
		if f := p.Frontend; f != nil {
			fn(rateKey{rateFeSess, p.Name, ""}, f.Total-f.DeniedConn)
			fn(rateKey{rateFeConn, p.Name, ""}, f.Total)
			fn(rateKey{rateFeReq, p.Name, ""}, f.Requests)
			conns += f.Total
			sess += f.Total - f.DeniedConn
			// A compressed response counts once in its frontend, as once
			// in HAProxy's global comp_bps_in and comp_bps_out.
			compIn += f.HTTP.CompIn
			compOut += f.HTTP.CompOut
		}
		if b := p.Backend; b != nil {
			fn(rateKey{rateBackend, p.Name, ""}, b.Total)
			for j := range b.Servers {
				fn(rateKey{rateServer, p.Name, b.Servers[j].Name}, b.Servers[j].Total)
			}
		}
	}
	fn(rateKey{kind: rateConn}, conns)
	fn(rateKey{kind: rateSess}, sess)
	fn(rateKey{kind: rateSSL}, ssl)
	fn(rateKey{kind: rateSSLKey}, sslKeys)
	fn(rateKey{kind: rateBytesOut}, s.BytesOut())
	fn(rateKey{kind: rateCompIn}, compIn)
	fn(rateKey{kind: rateCompOut}, compOut)
	fn(rateKey{kind: rateCPU}, uint64(s.CPU.Microseconds()))
}

// tick records the totals of s taken at now: the events since the last tick become
// the past period's. A counter that went back ("clear counters") restarts from its
// new total. Counters of objects gone (a deleted server) are dropped.
func (r *rateSampler) tick(now time.Time, s *stats.Snapshot, ssl, sslKeys uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Over two periods since the last tick (a stalled process), the past
	// period's events are not known: HAProxy's counters forget them too.
	stale := !r.at.IsZero() && now.Sub(r.at) >= 2*ratePeriod
	seen := make(map[rateKey]bool, len(r.ctrs))
	rateTotals(s, ssl, sslKeys, func(k rateKey, total uint64) {
		seen[k] = true
		c := r.ctrs[k]
		if c == nil {
			r.ctrs[k] = &rateCtr{tick: total, seen: now}
			return
		}
		if total != c.tick {
			c.seen = now
			if !r.at.IsZero() {
				c.seen = r.at.Add(now.Sub(r.at) / 2)
			}
		}
		c.prev = 0
		if total >= c.tick && !stale {
			c.prev = total - c.tick
		}
		c.tick = total
		c.max = max(c.max, int(min(c.prev, 1<<31-1)))
	})
	for k := range r.ctrs {
		if !seen[k] {
			delete(r.ctrs, k)
		}
	}
	r.at = now
}

// fill sets the rates of s, whose totals were taken at now, and the process's.
func (r *rateSampler) fill(now time.Time, s *stats.Snapshot, ssl, sslKeys uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	el := now.Sub(r.at)
	read := func(k rateKey, total uint64) stats.Rate { return r.readLocked(k, total, el, 1<<31-1) }
	rateTotals(s, ssl, sslKeys, func(k rateKey, total uint64) {
		switch k.kind {
		case rateConn:
			s.Rates.Conn = read(k, total)
		case rateSess:
			s.Rates.Sess = read(k, total)
		case rateSSL:
			s.Rates.SSL = read(k, total)
		case rateSSLKey:
			s.Rates.SSLKey = read(k, total)
		case rateBytesOut:
			// A u64 in "show info": not capped as the event rates are.
			s.Rates.BytesOut = r.readLocked(k, total, el, 1<<63-1)
		case rateCompIn:
			s.Rates.CompIn = r.readLocked(k, total, el, 1<<63-1)
		case rateCompOut:
			s.Rates.CompOut = r.readLocked(k, total, el, 1<<63-1)
		case rateCPU:
			// Microseconds of processor time per second, out of a million per
			// thread that could run.
			busy := r.readLocked(k, total, el, 1<<63-1).Cur
			s.Rates.Idle = 100 - min(100, busy/(10000*runtime.GOMAXPROCS(0)))
		}
	})
	for i := range s.Proxies {
		p := &s.Proxies[i]
		if f := p.Frontend; f != nil {
			f.SessRate = read(rateKey{rateFeSess, p.Name, ""}, f.Total-f.DeniedConn)
			f.ConnRate = read(rateKey{rateFeConn, p.Name, ""}, f.Total)
			f.ReqRate = read(rateKey{rateFeReq, p.Name, ""}, f.Requests)
		}
		if b := p.Backend; b != nil {
			k := rateKey{rateBackend, p.Name, ""}
			b.SessRate, b.LastSess = read(k, b.Total), r.lastSessLocked(k, b.Total, now)
			for j := range b.Servers {
				sv := &b.Servers[j]
				k := rateKey{rateServer, p.Name, sv.Name}
				sv.SessRate, sv.LastSess = read(k, sv.Total), r.lastSessLocked(k, sv.Total, now)
			}
		}
	}
}

// lastSessLocked returns the whole seconds since the last event of counter k,
// whose total is now total at now: -1 without any, 0 when one came since the last
// tick. Caller must hold r.mu.
func (r *rateSampler) lastSessLocked(k rateKey, total uint64, now time.Time) int64 {
	if total == 0 {
		return -1
	}
	c := r.ctrs[k]
	if c == nil || total != c.tick {
		return 0
	}
	return max(int64(now.Sub(c.seen)/time.Second), 0)
}

// readLocked returns the rate of counter k, whose total is now total, el after the
// last tick, capped at limit. Caller must hold r.mu.
func (r *rateSampler) readLocked(k rateKey, total uint64, el time.Duration, limit uint64) stats.Rate {
	c := r.ctrs[k]
	if c == nil || r.at.IsZero() {
		return stats.Rate{}
	}
	var cur uint64
	if total >= c.tick {
		cur = total - c.tick
	}
	// The past period weighs what is left of the current one.
	if el < ratePeriod {
		cur += c.prev * uint64(ratePeriod-el) / uint64(ratePeriod)
	}
	v := int(min(cur, limit))
	c.max = max(c.max, v)
	return stats.Rate{Cur: v, Max: c.max}
}

// run ticks every period with sample's totals until stop is closed.
func (r *rateSampler) run(sample func() (*stats.Snapshot, uint64, uint64)) {
	t := time.NewTicker(ratePeriod)
	defer t.Stop()
	s, ssl, keys := sample()
	r.tick(time.Now(), s, ssl, keys)
	for {
		select {
		case <-t.C:
			s, ssl, keys := sample()
			r.tick(time.Now(), s, ssl, keys)
		case <-r.stop:
			return
		}
	}
}
