package balance

// roundRobin is HAProxy's default "balance roundrobin", implemented as the
// smooth weighted round-robin of nginx: each pick adds every candidate's
// weight to its current score, takes the highest score (the first one on a
// tie) and subtracts the total weight from it. The order is deterministic,
// interleaves heavy servers with light ones (weights 5,1,1 give
// a a b a c a a) and follows weight changes at once.
type roundRobin struct {
	opt Options
	// cur holds each server's current score, by index in srvs. It is
	// guarded by the caller's backend lock, as the whole Algorithm is.
	cur []int64
}

// resize makes r.cur one score per server, resetting it on a size change.
func (r *roundRobin) resize(n int) {
	if len(r.cur) == n {
		return
	}
	if cap(r.cur) >= n {
		r.cur = r.cur[:n]
		clear(r.cur)
		return
	}
	r.cur = make([]int64, n)
}

func (r *roundRobin) Pick(srvs []Server, _ uint64) int {
	t, ok := selectTier(srvs, r.opt.AllBackups)
	if !ok {
		return -1
	}
	r.resize(len(srvs))
	return r.pickLocked(srvs, t)
}

// pickLocked runs one round of smooth weighted round-robin over the
// candidates of t that are not full.
func (r *roundRobin) pickLocked(srvs []Server, t tier) int {
	best := -1
	var total int64
	for i := range srvs {
		if !t.has(srvs, i) {
			// A server leaving the candidate set starts afresh when it
			// comes back instead of bursting with an old score.
			r.cur[i] = 0
			continue
		}
		if srvs[i].full() {
			continue
		}
		// The eweight: sixteen times the weight, less during a slow
		// start; scaling every weight alike changes no choice.
		w := srvs[i].ew()
		r.cur[i] += w
		total += w
		if best < 0 || r.cur[i] > r.cur[best] {
			best = i
		}
	}
	if best >= 0 {
		r.cur[best] -= total
	}
	return best
}

// staticRR is "balance static-rr": the same interleaved order as
// roundrobin, but computed from a fixed map that is rebuilt (the scores
// reset) only when the candidate set or a weight changes, as HAProxy's
// map-based algorithm does. HAProxy refuses run-time weight changes other
// than 0% and 100% for static algorithms; enforcing that is the caller's job.
type staticRR struct {
	roundRobin
	// sig fingerprints the candidate set the scores were built for.
	sig uint64
}

func (s *staticRR) Pick(srvs []Server, _ uint64) int {
	t, ok := selectTier(srvs, s.opt.AllBackups)
	if !ok {
		return -1
	}
	s.resize(len(srvs))
	sig := uint64(len(srvs))
	for i := range srvs {
		if t.has(srvs, i) {
			sig = mix64(sig ^ uint64(i)<<32 ^ uint64(srvs[i].Weight))
		}
	}
	if sig != s.sig {
		s.sig = sig
		clear(s.cur)
	}
	return s.pickLocked(srvs, t)
}

// leastConn is "balance leastconn": the candidate with the fewest
// connections relative to its weight wins. As in HAProxy 2.6, a server with
// no connection ranks first and otherwise the key is (conns+1)/weight; ties
// are broken in round-robin order, starting after the last server picked.
type leastConn struct {
	opt  Options
	last int // index of the last server picked, -1 before the first pick
}

// lcLess reports whether a is less loaded than b.
func lcLess(a, b *Server) bool {
	switch {
	case a.Conns == 0 || b.Conns == 0:
		return a.Conns == 0 && b.Conns != 0
	}
	return int64(a.Conns+1)*b.ew() < int64(b.Conns+1)*a.ew()
}

func (l *leastConn) Pick(srvs []Server, _ uint64) int {
	t, ok := selectTier(srvs, l.opt.AllBackups)
	if !ok {
		return -1
	}
	n := len(srvs)
	start := l.last + 1
	if start >= n || start < 0 {
		start = 0
	}
	best := -1
	for k := 0; k < n; k++ {
		i := start + k
		if i >= n {
			i -= n
		}
		if !t.has(srvs, i) || srvs[i].full() {
			continue
		}
		if best < 0 || lcLess(&srvs[i], &srvs[best]) {
			best = i
		}
	}
	if best >= 0 {
		l.last = best
	}
	return best
}

// first is "balance first": the candidate with the lowest ID that still
// has a free connection slot (Maxconn 0 means unlimited, so such a server
// takes everything), which lets extra servers be powered down when idle.
type first struct{ opt Options }

func (f *first) Pick(srvs []Server, _ uint64) int {
	t, ok := selectTier(srvs, f.opt.AllBackups)
	if !ok {
		return -1
	}
	best := -1
	for i := range srvs {
		if !t.has(srvs, i) || srvs[i].full() {
			continue
		}
		if best < 0 || srvs[i].ID < srvs[best].ID {
			best = i
		}
	}
	return best
}

// random is "balance random(<draws>)": draw Draws candidates at random in
// proportion to their weights and keep the one with the fewest connections
// relative to its weight (the power of N choices). Unlike HAProxy, full
// servers are not drawn.
type random struct{ opt Options }

func (r *random) Pick(srvs []Server, _ uint64) int {
	t, ok := selectTier(srvs, r.opt.AllBackups)
	if !ok {
		return -1
	}
	var total int64
	for i := range srvs {
		if t.has(srvs, i) && !srvs[i].full() {
			total += srvs[i].ew()
		}
	}
	if total == 0 {
		return -1
	}
	best := -1
	for d := 0; d < r.opt.Draws; d++ {
		x := int64(bounded(r.opt.Rand.Uint64(), int(total)))
		cur := -1
		for i := range srvs {
			if !t.has(srvs, i) || srvs[i].full() {
				continue
			}
			x -= srvs[i].ew()
			if x < 0 {
				cur = i
				break
			}
		}
		// HAProxy keeps the previous choice when the new one serves more
		// per unit of weight (backend.c get_server_rnd).
		if best < 0 || int64(srvs[cur].Conns)*srvs[best].ew() < int64(srvs[best].Conns)*srvs[cur].ew() {
			best = cur
		}
	}
	return best
}
