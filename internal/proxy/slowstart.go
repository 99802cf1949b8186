package proxy

import "time"

// A server's slow start ("slowstart <time>"), as HAProxy 2.6's. A server
// that comes back from DOWN or maintenance is STARTING for Slowstart seconds
// from that change (lastChange, whole seconds). Meanwhile:
//   - with a dynamic algorithm (balance.Dynamic), its eweight
//     (server_recalc_eweight) is its weight × (16 × elapsed + slowstart) /
//     slowstart sixteenths: a sixteenth at first, the whole weight at the
//     end;
//   - its maxconn (srv_dynamic_maxconn) is maxconn × (100 × elapsed /
//     slowstart) / 100, at least 1.
//
// HAProxy's warmup task recomputes the eweight, and ends STARTING, once a
// second from the change (server_warmup): lb reads both as of the last of
// those ticks (warmTick), so that the weights and throttles it shows and
// balances by are HAProxy's at the same moment. The maxconn is read from
// the clock, as HAProxy reads it. A ticker hands the queued connections to
// the server as its limit rises, as the task does (pendconn_grab_from_px).
// A server that goes out while starting keeps, and shows, the eweight it
// had: HAProxy recomputes it no more. Servers start running at start-up,
// checked or not (measured), and "show servers state" says STARTING (1)
// while one warms up.

// warmLocked starts or ends s's slow start as its state goes from old to st
// at now (UnixNano), before lastChange moves. Caller must hold s.be.mu.
func (s *Server) warmLocked(old, st State, now int64) {
	switch {
	case out(st) && !out(old):
		s.ewOut = 0
		if s.startingLocked(now) {
			s.ewOut = s.eweightLocked(now)
			s.stopWarmLocked()
		}
	case out(old) && !out(st):
		s.ewOut = 0
		s.startWarmLocked(now)
	}
}

// startWarmLocked makes s STARTING, with a ticker for its queue. Caller
// must hold s.be.mu.
func (s *Server) startWarmLocked(now int64) {
	if s.cfg.Slowstart <= 0 || s.starting {
		return
	}
	s.starting, s.warmed, s.warmAt = true, false, now
	s.warmGen++
	s.be.warming++
	go s.warmup(s.warmGen)
}

// warmTick is the time, in Unix seconds, of the last tick of HAProxy's
// warmup task at now (UnixNano): every second from the start of the slow
// start. Caller must hold s.be.mu.
func (s *Server) warmTick(now int64) int64 {
	if now < s.warmAt {
		return now / 1e9
	}
	return (s.warmAt + (now-s.warmAt)/1e9*1e9) / 1e9
}

// stopWarmLocked ends s's slow start. Caller must hold s.be.mu.
func (s *Server) stopWarmLocked() {
	if s.starting {
		s.starting = false
		s.be.warming--
	}
}

// startingLocked reports whether s is STARTING at now (UnixNano), ending
// its slow start at the first tick after its time is over (or when the
// clock went back before it). Caller must hold s.be.mu.
func (s *Server) startingLocked(now int64) bool {
	if !s.starting {
		return false
	}
	if t := s.warmTick(now); t < s.lastChange || t >= s.lastChange+int64(s.cfg.Slowstart) {
		s.stopWarmLocked()
		s.warmed = true
	}
	return s.starting
}

// eweightLocked is s's eweight at now (UnixNano), in sixteenths of a
// weight unit (HAProxy's cur_eweight, BE_WEIGHT_SCALE 16), as of the last
// tick. Caller must hold s.be.mu.
func (s *Server) eweightLocked(now int64) int {
	if out(s.state) && s.ewOut > 0 {
		return s.ewOut
	}
	if !s.be.dynWeights || !s.startingLocked(now) {
		return s.weight * 16
	}
	ss := int64(s.cfg.Slowstart)
	return s.weight * int((16*(s.warmTick(now)-s.lastChange)+ss)/ss)
}

// warmMaxconnLocked is limit m ramped up by the slow start at now
// (UnixNano), read from the clock. Caller must hold s.be.mu.
func (s *Server) warmMaxconnLocked(m int, now int64) int {
	sec := now / 1e9
	if !s.startingLocked(now) || sec < s.lastChange || sec >= s.lastChange+int64(s.cfg.Slowstart) {
		return m
	}
	ratio := 100 * (sec - s.lastChange) / int64(s.cfg.Slowstart)
	return max(1, int(int64(m)*ratio/100))
}

// warmup hands queued connections to s every second while its slow start
// number gen goes on,
// and once more when its slow start ends; then, if it ended with the
// server up, HAProxy says the server is UP (srv_update_status, as the
// state goes from STARTING to RUNNING): OnWarmedUp.
func (s *Server) warmup(gen int) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	b := s.be
	for range t.C {
		b.mu.Lock()
		if s.warmGen != gen {
			b.mu.Unlock()
			return // a slow start of its own follows a newer one
		}
		starting := s.startingLocked(time.Now().UnixNano())
		before := s.cur
		b.dispatchLocked()
		took := s.cur - before
		warmed := !starting && s.warmed && !out(s.state)
		s.warmed = false
		b.mu.Unlock()
		if starting {
			continue
		}
		if warmed && b.cfg.OnWarmedUp != nil {
			b.cfg.OnWarmedUp(s, took)
		}
		return
	}
}

// ResumeWarmup makes s STARTING again when it is up and its last change,
// restored from a server state file or the previous process, is less
// than its slowstart ago: HAProxy carries the STARTING state over.
func (s *Server) ResumeWarmup() {
	b := s.be
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now().UnixNano()
	if sec := now / 1e9; s.cfg.Slowstart > 0 && !out(s.state) && sec >= s.lastChange && sec < s.lastChange+int64(s.cfg.Slowstart) {
		s.startWarmLocked(now)
	}
}

// warmStatsLocked returns what the statistics show of s's slow start at
// now (UnixNano): its eweight, its throttle in percent (HAProxy's
// server_throttle_rate; -1 when not STARTING) and whether it is STARTING.
// Caller must hold s.be.mu.
func (s *Server) warmStatsLocked(now int64) (ew, throttle int, starting bool) {
	ew, throttle = s.eweightLocked(now), -1
	if s.startingLocked(now) {
		starting = true
		throttle = 100
		if s.weight > 0 {
			throttle = (100*ew + 15) / (16 * s.weight)
		}
	}
	return ew, throttle, starting
}

// Starting reports whether s warms up after a slow start: HAProxy's
// SRV_ST_STARTING.
func (s *Server) Starting() bool {
	s.be.mu.Lock()
	defer s.be.mu.Unlock()
	return s.startingLocked(time.Now().UnixNano())
}
