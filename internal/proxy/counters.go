package proxy

import (
	"sync/atomic"
	"time"
)

// httpCounters are a proxy's HTTP counters: the responses by status class
// (hrsp_1xx … hrsp_5xx, hrsp_other at 0), and for a backend the
// transactions that ended with a status (req_tot); the requests lb answered
// itself at the frontend's stage (intercepted); the cache's lookups and
// hits; and the compression's bytes in, out and bypassed, and its
// responses (comp_in, comp_out, comp_byp, comp_rsp).
type httpCounters struct {
	rsp                             [6]atomic.Uint64
	reqs                            atomic.Uint64
	intercepted                     atomic.Uint64
	cacheLookups, cacheHits         atomic.Uint64
	compIn, compOut, compByp, compN atomic.Uint64
}

// statusClass is HAProxy's index of a status in its rsp counters: the
// hundreds, 0 for what is not 1xx to 5xx.
func statusClass(status int) int {
	if n := status / 100; n >= 1 && n <= 5 {
		return n
	}
	return 0
}

// countStatus counts a response with status.
func (h *httpCounters) countStatus(status int) { h.rsp[statusClass(status)].Add(1) }

// HTTPStats is a snapshot of httpCounters.
type HTTPStats struct {
	// Rsp are the responses by status class, [0] for the others.
	Rsp [6]uint64
	// Requests are the transactions a backend or a server counted
	// (req_tot); a frontend's are FrontendStats.Requests.
	Requests                            uint64
	Intercepted                         uint64
	CacheLookups, CacheHits             uint64
	CompIn, CompOut, CompByp, CompResps uint64
}

func (h *httpCounters) stats() HTTPStats {
	var st HTTPStats
	for i := range h.rsp {
		st.Rsp[i] = h.rsp[i].Load()
	}
	st.Requests, st.Intercepted = h.reqs.Load(), h.intercepted.Load()
	st.CacheLookups, st.CacheHits = h.cacheLookups.Load(), h.cacheHits.Load()
	st.CompIn, st.CompOut, st.CompByp, st.CompResps = h.compIn.Load(), h.compOut.Load(), h.compByp.Load(), h.compN.Load()
	return st
}

func (h *httpCounters) clear() {
	for i := range h.rsp {
		h.rsp[i].Store(0)
	}
	for _, c := range []*atomic.Uint64{&h.reqs, &h.intercepted, &h.cacheLookups, &h.cacheHits,
		&h.compIn, &h.compOut, &h.compByp, &h.compN} {
		c.Store(0)
	}
}

// timeSamples is the window of HAProxy's time averages (TIME_STATS_SAMPLES).
const timeSamples = 512

// timeStats are a backend's or a server's time averages and maxima in
// milliseconds, as HAProxy keeps them (stream_update_time_stats): the
// queue, connect, response and total times of the sessions (mode tcp) or
// transactions (mode http) that reached a server, each a sliding sum over
// the last 512 (swrate_add_dynamic: a plain sum until then), read as its
// average over that window.
type timeStats struct {
	n          atomic.Uint64 // the samples added
	sum, peaks [4]atomic.Uint32
}

// add adds one session's or transaction's times; a negative time (a
// session that was never queued or never reached its server) is not
// counted, as HAProxy skips those.
func (t *timeStats) add(tw, tc, tr, tt time.Duration) {
	if tc < 0 || tr < 0 {
		return
	}
	n := t.n.Add(1)
	win := uint32(0)
	if n > timeSamples {
		win = timeSamples
	}
	for i, d := range [4]time.Duration{max(tw, 0), tc, tr, tt} {
		v := uint32(min(d.Milliseconds(), 1<<31))
		s := &t.sum[i]
		for {
			old := s.Load()
			nw := old + v
			if win != 0 {
				nw -= (old + win - 1) / win
			}
			if nw == old || s.CompareAndSwap(old, nw) {
				break
			}
		}
		p := &t.peaks[i]
		for {
			old := p.Load()
			if v <= old || p.CompareAndSwap(old, v) {
				break
			}
		}
	}
}

// TimeStats are the averages and maxima of timeStats, in milliseconds:
// queue, connect, response and total times (qtime, ctime, rtime, ttime
// and their _max).
type TimeStats struct {
	Avg, Max [4]uint32
}

func (t *timeStats) stats() TimeStats {
	var st TimeStats
	win := uint64(timeSamples)
	if n := t.n.Load(); n > 0 && n < timeSamples {
		win = n
	}
	for i := range t.sum {
		st.Avg[i] = uint32((uint64(t.sum[i].Load()) + win - 1) / win)
		st.Max[i] = t.peaks[i].Load()
	}
	return st
}

// clear resets the maxima, and with all the averages too.
func (t *timeStats) clear(all bool) {
	for i := range t.peaks {
		t.peaks[i].Store(0)
		if all {
			t.sum[i].Store(0)
		}
	}
	if all {
		t.n.Store(0)
	}
}
