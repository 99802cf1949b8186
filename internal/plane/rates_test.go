package plane

import (
	"testing"
	"time"

	"lb/internal/stats"
)

// TestLastSess: the age of a server's last session is read from the sampler's ticks:
// -1 before any, 0 while one came since the last tick, and else the whole seconds
// since the middle of the period in which a tick saw the total move.
func TestLastSess(t *testing.T) {
	snap := func(total uint64) *stats.Snapshot {
		return &stats.Snapshot{Proxies: []stats.Proxy{{Name: "be", Backend: &stats.Backend{Total: total,
			Servers: []stats.Server{{Name: "s", Total: total}}}}}}
	}
	t0 := time.Unix(1700000000, 0)
	r := newRateSampler()
	r.tick(t0, snap(0), 0, 0)
	r.tick(t0.Add(time.Second), snap(2), 0, 0)
	r.tick(t0.Add(2*time.Second), snap(2), 0, 0)
	for _, tc := range []struct {
		name  string
		total uint64
		at    time.Duration
		want  int64
	}{
		{"none", 0, 2 * time.Second, -1},
		{"since the last tick", 3, 2500 * time.Millisecond, 0},
		{"seen by a tick", 2, 3600 * time.Millisecond, 3},
		{"just seen", 2, 2 * time.Second, 1},
	} {
		s := snap(tc.total)
		r.fill(t0.Add(tc.at), s, 0, 0)
		b := s.Proxies[0].Backend
		if b.LastSess != tc.want || b.Servers[0].LastSess != tc.want {
			t.Errorf("%s: lastsess %d, server's %d; want %d", tc.name, b.LastSess, b.Servers[0].LastSess, tc.want)
		}
	}
}
