package proxy

import (
	"testing"
	"time"
)

// warpWarmup moves s's slow start back so that it began elapsed seconds and
// 1 ms ago (lastChange included), away from a second's boundary.
func warpWarmup(t *testing.T, s *Server, elapsed int64) {
	t.Helper()
	for time.Now().UnixNano()%1e9 < 20e6 {
		time.Sleep(25 * time.Millisecond)
	}
	b := s.be
	b.mu.Lock()
	defer b.mu.Unlock()
	if !s.starting {
		t.Fatal("the server does not warm up")
	}
	s.warmAt = time.Now().UnixNano() - elapsed*1e9 - 1e6
	s.lastChange = s.warmAt / 1e9
}

// TestSlowstart: a server coming back from maintenance or DOWN warms up as
// HAProxy 2.6's (server_recalc_eweight, srv_dynamic_maxconn,
// server_throttle_rate): with roundrobin, weight 10 and slowstart 8s, its
// eweight is 10 × (16 × elapsed + 8) / 8, its throttle and shown weight
// those HAProxy shows (6 % and 1 at first, 31 % and 4 after 2 s, measured),
// its maxconn ramps up, and load balancing follows; it keeps its eweight
// when it goes DOWN meanwhile; at start-up no server warms up.
func TestSlowstart(t *testing.T) {
	for _, algo := range []string{"roundrobin", "static-rr"} {
		be, err := NewBackend(BackendConfig{Name: "be", Balance: algo, Servers: []ServerConfig{
			{Name: "a", Addr: "127.0.0.1:1", Weight: 10},
			{Name: "b", Addr: "127.0.0.1:2", Weight: 10, Maxconn: 50, Slowstart: 8},
		}})
		if err != nil {
			t.Fatal(err)
		}
		a, b := be.Servers()[0], be.Servers()[1]
		if st := b.Stats(); st.Starting || st.EWeight != 160 || st.Throttle != -1 {
			t.Fatalf("%s: at start %+v; want running", algo, st)
		}
		b.SetState(StateMaint)
		b.SetState(StateUp)
		dyn := algo == "roundrobin"
		for _, c := range []struct {
			elapsed              int64
			ew, throttle, maxcon int
			picksB               int // of 170 choices (roundrobin)
		}{
			{0, 10, 6, 1, 10},
			{2, 50, 31, 12, 50},
			{5, 110, 68, 31, 110},
		} {
			warpWarmup(t, b, c.elapsed)
			st := b.Stats()
			wantEW, wantThr := c.ew, c.throttle
			if !dyn {
				wantEW, wantThr = 160, 100 // static: the weight stays, the throttle shows it
			}
			if !st.Starting || st.EWeight != wantEW || st.Throttle != wantThr {
				t.Errorf("%s after %ds: starting %v eweight %d throttle %d; want true %d %d", algo, c.elapsed, st.Starting, st.EWeight, st.Throttle, wantEW, wantThr)
			}
			be.mu.Lock()
			if m := b.dynMaxconnLocked(); m != c.maxcon {
				t.Errorf("%s after %ds: maxconn %d; want %d", algo, c.elapsed, m, c.maxcon)
			}
			n := 0
			for range 160 + c.picksB {
				if i := be.pickLocked(0, nil); i == 1 {
					n++
				}
			}
			be.mu.Unlock()
			// Smooth round-robin gives each its eweight's share of a round,
			// give or take the scores the round started from.
			if dyn && (n < c.picksB-1 || n > c.picksB+1) {
				t.Errorf("%s after %ds: b chosen %d times of %d; want %d", algo, c.elapsed, n, 160+c.picksB, c.picksB)
			}
		}
		// DOWN while warming up: the eweight stays as it was.
		warpWarmup(t, b, 2)
		b.SetState(StateDown)
		if st := b.Stats(); st.Starting || dyn && st.EWeight != 50 || st.Throttle != -1 {
			t.Errorf("%s: DOWN while starting: %+v; want eweight 50 kept", algo, st)
		}
		// Back UP: from a sixteenth again; over after its 8 s.
		b.SetState(StateUp)
		if st := b.Stats(); !st.Starting || dyn && st.EWeight != 10 {
			t.Errorf("%s: UP again: %+v; want starting, eweight 10", algo, st)
		}
		warpWarmup(t, b, 8)
		be.mu.Lock()
		m, warming := b.dynMaxconnLocked(), be.warming
		be.mu.Unlock()
		if st := b.Stats(); st.Starting || st.EWeight != 160 || st.Throttle != -1 || m != 50 || warming != 0 {
			t.Errorf("%s: after 8 s: %+v maxconn %d warming %d; want running", algo, st, m, warming)
		}
		if st := a.Stats(); st.Starting || st.EWeight != 160 {
			t.Errorf("%s: a without slowstart: %+v", algo, st)
		}
	}
}
