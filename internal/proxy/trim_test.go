package proxy

import (
	"testing"
	"time"
)

// TestTrimLoop drives the watch with made-up goroutine counts and heap figures: it trims once
// after a burst, not under steady load, not when the runtime holds little, and not twice
// within trimGap.
func TestTrimLoop(t *testing.T) {
	type step struct {
		n    int
		held uint64
		want bool // a trim at this tick
	}
	const mb = 1 << 20
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"burst then idle", []step{{50, 5 * mb, false}, {2000, 1 * mb, false},
			{2100, 2 * mb, false}, {80, 30 * mb, true}, {70, 30 * mb, false}}},
		{"steady load", []step{{2000, 30 * mb, false}, {1900, 30 * mb, false},
			{2050, 30 * mb, false}, {1980, 30 * mb, false}}},
		{"little held", []step{{2000, 1 * mb, false}, {60, 10 * mb, false}, {60, 23 * mb, false}}},
		{"small burst", []step{{50, 5 * mb, false}, {250, 20 * mb, false}, {40, 20 * mb, false}}},
		{"two bursts within the gap", []step{{2000, 40 * mb, false}, {60, 30 * mb, true},
			{2000, 40 * mb, false}, {60, 30 * mb, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w trimWatch
			t0 := time.Unix(1000, 0)
			for j, st := range tc.steps {
				got := w.step(t0.Add(time.Duration(j)*trimEvery), st.n, func() uint64 { return st.held })
				if got != st.want {
					t.Errorf("tick %d (%d goroutines, %d MiB held): trimmed %v, want %v",
						j, st.n, st.held/mb, got, st.want)
				}
			}
		})
	}
}
