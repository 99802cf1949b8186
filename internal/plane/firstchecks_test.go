package plane

import (
	"testing"
	"time"

	"lb/internal/health"
)

// TestFirstChecks: the first checks are spread as HAProxy 2.6's start_checks spreads
// them, over the shortest interval of a second or more, a server's health check
// before its agent, counted across all backends.
func TestFirstChecks(t *testing.T) {
	s := time.Second
	agent := func(inter time.Duration) *health.Agent { return &health.Agent{Inter: inter} }
	for _, tc := range []struct {
		name  string
		hcs   []health.Config
		check []time.Duration // each config's first health check (-1: none)
		agent []time.Duration // and agent check (-1: none)
	}{
		{"HAProxy's run: 6 checks over 4 s", []health.Config{
			{Inter: 4 * s}, {Inter: 4 * s, Agent: agent(4 * s)}, {Inter: 4 * s}, {NoCheck: true, Agent: agent(4 * s)}, {Inter: 4 * s},
		}, []time.Duration{0, 667 * time.Millisecond, 2 * s, -1, 3333 * time.Millisecond},
			[]time.Duration{-1, 1333 * time.Millisecond, -1, 2667 * time.Millisecond, -1}},
		{"intervals under a second spread nothing", []health.Config{
			{Inter: 100 * time.Millisecond}, {Inter: 100 * time.Millisecond, Agent: agent(100 * time.Millisecond)},
		}, []time.Duration{0, 0}, []time.Duration{-1, 0}},
		{"the shortest of a second or more: fastinter at start", []health.Config{
			{Inter: 10 * s, FastInter: 2 * s}, {Inter: 500 * time.Millisecond}, {Inter: 3 * s, Agent: agent(0)},
		}, []time.Duration{0, 500 * time.Millisecond, 1 * s}, []time.Duration{-1, -1, 1500 * time.Millisecond}},
		{"fall 1 starts at full health: inter", []health.Config{
			{Inter: 2 * s, FastInter: 1200 * time.Millisecond, Fall: 1}, {Inter: 2 * s},
		}, []time.Duration{0, 1 * s}, []time.Duration{-1, -1}},
		{"default inter with an agent alone", []health.Config{
			{NoCheck: true, Agent: agent(0)}, {NoCheck: true, Agent: agent(0)},
		}, []time.Duration{-1, -1}, []time.Duration{0, 1 * s}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ps []*health.Config
			for i := range tc.hcs {
				ps = append(ps, &tc.hcs[i])
			}
			firstChecks(ps)
			for i, hc := range tc.hcs {
				if want := tc.check[i]; want >= 0 && hc.InitialDelay.Round(time.Millisecond) != want {
					t.Errorf("config %d: first check after %v, want %v", i, hc.InitialDelay, want)
				}
				if want := tc.agent[i]; want >= 0 && hc.Agent.InitialDelay.Round(time.Millisecond) != want {
					t.Errorf("config %d: first agent check after %v, want %v", i, hc.Agent.InitialDelay, want)
				}
			}
		})
	}
}
