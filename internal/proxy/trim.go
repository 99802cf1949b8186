package proxy

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Memory given back after a burst.
//
// A burst of concurrent transactions on the goroutine engine (2000 clients sending at once)
// leaves the Go runtime holding what it needed then: goroutine stacks and buffers, freed but
// kept. The runtime returns such memory to the system only down to its next collection's
// goal, twice the live heap by default, and slowly: measured with 2000 keep-alive clients
// that sent one request each and went idle, lb held 54 MiB of resident memory of which
// 26 MiB free (HAProxy: 28 MiB), and still did 5 s later.
//
// Most of it is not even free yet: the burst's garbage waits for a collection that the heap's
// growth will not call for. So, every trimEvery, the process looks at the number of
// goroutines; once a burst is over (the goroutines fell to a quarter of the most seen in the
// last trimWindow, by at least trimMinDrop) and the runtime holds more than trimMinHeld, it
// collects twice and gives back what is free (trimNow, a few milliseconds for such a heap):
// once per burst, trimGap apart at least. Under steady load nothing
// happens: the goroutine count does not fall.

const (
	trimEvery   = 250 * time.Millisecond
	trimWindow  = 2 * time.Second
	trimGap     = 5 * time.Second
	trimMinDrop = 256
	trimMinHeld = 24 << 20
)

var trimOnce sync.Once

// StartTrimAfterBursts starts, once per process, the watch that gives memory back after a
// burst of transactions.
func StartTrimAfterBursts() {
	trimOnce.Do(func() { go trimLoop(time.NewTicker(trimEvery).C, runtime.NumGoroutine, readHeap, trimNow) })
}

// trimNow collects twice, then gives back what is free: what the burst's connections gave
// back to the sync.Pools (their buffers, httpConns and rules streams, 5 KiB per client gone
// idle) is kept through one collection, as the pools' victims, and freed by the next.
func trimNow() {
	runtime.GC()
	debug.FreeOSMemory()
}

// readHeap returns the bytes the runtime holds from the system: all it mapped, less what it
// gave back.
func readHeap() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64() - s[1].Value.Uint64()
}

// trimLoop is the watch, on the ticks of tick; the other arguments are the runtime's.
func trimLoop(tick <-chan time.Time, goroutines func() int, held func() uint64, trim func()) {
	var w trimWatch
	for now := range tick {
		if w.step(now, goroutines(), held) {
			trim()
		}
	}
}

// trimWatch is the watch's state: the goroutine counts of the last trimWindow, and when it
// last trimmed.
type trimWatch struct {
	seen []trimSample
	last time.Time
}

type trimSample struct {
	at time.Time
	n  int
}

// step takes the goroutine count n seen at now and says whether to trim; held is read
// only when the count says a burst is over.
func (w *trimWatch) step(now time.Time, n int, held func() uint64) bool {
	for len(w.seen) > 0 && now.Sub(w.seen[0].at) > trimWindow {
		w.seen = w.seen[1:]
	}
	w.seen = append(w.seen, trimSample{now, n})
	peak := 0
	for _, s := range w.seen {
		peak = max(peak, s.n)
	}
	if peak-n < trimMinDrop || n > peak/4 || now.Sub(w.last) < trimGap {
		return false
	}
	if held() < trimMinHeld {
		return false
	}
	w.last = now
	w.seen = append(w.seen[:0], trimSample{now, n}) // this burst is done with
	return true
}
