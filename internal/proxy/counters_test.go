package proxy

import (
	"testing"
	"time"
)

// TestTimeStats: the averages are plain ones until 512 samples, HAProxy's sliding sum
// after; the maxima are kept; a session that never connected, or a transaction without a
// response, counts nothing; "clear counters" resets the maxima, "all" the averages too.
func TestTimeStats(t *testing.T) {
	var ts timeStats
	ms := time.Millisecond
	ts.add(-1, 2*ms, 0, 10*ms)
	ts.add(4*ms, 4*ms, 6*ms, 21*ms)
	ts.add(0, -1, 0, 5*ms)    // never connected
	ts.add(0, 1*ms, -1, 5*ms) // no response
	st := ts.stats()
	if st.Avg != [4]uint32{2, 3, 3, 16} || st.Max != [4]uint32{4, 4, 6, 21} {
		t.Fatalf("after 2 samples: %+v", st)
	}
	for range 2000 {
		ts.add(0, 8*ms, 0, 100*ms)
	}
	// The sliding sum converges on the recent samples.
	if st = ts.stats(); st.Avg[1] != 8 || st.Avg[3] < 99 || st.Avg[3] > 101 || st.Max[3] != 100 {
		t.Fatalf("after 2002 samples: %+v", st)
	}
	ts.clear(false)
	if st = ts.stats(); st.Max != [4]uint32{} || st.Avg[1] != 8 {
		t.Fatalf("after clear counters: %+v", st)
	}
	ts.clear(true)
	if st = ts.stats(); st != (TimeStats{}) {
		t.Fatalf("after clear counters all: %+v", st)
	}
}

// BenchmarkTimeStatsAdd is the cost the time averages add to a session's end, on
// one backend from every thread: a loopback session's times (all 0 ms), and one
// with times that change the sums.
func BenchmarkTimeStatsAdd(b *testing.B) {
	for _, c := range []struct {
		name   string
		tc, tt time.Duration
	}{{"zero", 0, 0}, {"moving", time.Millisecond, 7 * time.Millisecond}} {
		b.Run(c.name, func(b *testing.B) {
			var ts timeStats
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ts.add(0, c.tc, 0, c.tt)
				}
			})
		})
	}
}
