package proxy

import (
	"sync"
	"sync/atomic"
	"time"
)

// The runtime's Ps (GOMAXPROCS). An event loop blocks in epoll_wait on its
// own thread and keeps its P there (reactor_linux.go's loop.run): with no P
// idle, the runtime's monitor takes it from the system call after 20 us and
// then wakes every 20 us, which doubled lb's context switches. Loops that
// carry connections therefore get one P more than there are loops. Loops
// that carry none (a mode http frontend's connections run on goroutines;
// its idle clients wait in the idle poller, not in a loop) block for good,
// give their P up once, and a spare P then only lets the goroutines run on
// more threads than nbthread, against the load generator and the servers
// for the machine's CPUs.
//
// Measured at nbthread 1 and 2, a mode tcp and a mode http frontend in one
// configuration, wrk -c64 (3 alternated 4 s rounds, one request per
// connection and keep-alive, with nbthread and nbthread + 1 Ps):
// - HTTP keep-alive, nbthread 1: 29.4 k, 25.9 k, 23.4 k requests/s and a
//   p99 of 4.2, 4.3, 5.7 ms with 1 P against 25.6 k, 23.6 k, 22.5 k and
//   4.8, 7.2, 7.4 ms with 2; nbthread 2: 26.3 k, 26.3 k, 22.9 k against
//   24.1 k, 25.3 k, 21.0 k with 3, p99 4.8, 4.5, 8.0 against 5.1, 4.7, 9.5.
// - HTTP, a connection per request: 8.0 k, 6.1 k, 8.0 k against 7.0 k,
//   6.1 k, 7.5 k at nbthread 1.
// - TCP keep-alive, nbthread 2: 24.0 k, 26.9 k, 24.0 k with 2 Ps against
//   32.2 k, 30.3 k, 31.2 k with 3 (the loops carry it).
// So the spare P is given while the loops are busy and taken back once they
// have been quiet for a second.

// procNoSpare says that the loops have no spare P: they then wait in the
// runtime's poller rather than in epoll_wait (loopwait_linux.go).
var procNoSpare atomic.Bool

// procCtl sets the number of Ps for the process's loops (ManageProcs).
var procCtl struct {
	mu      sync.Mutex
	set     func(int) // nil: Ps not managed (tests, tools)
	base    int
	loops   []*loop
	running bool
	gen     int // counts ManageProcs calls: a watcher of an older one stops
}

// ManageProcs sets the Ps to base (nbthread) now, through set (normally
// runtime.GOMAXPROCS), and lets the event loops add one while they carry
// connections. Without it, or with a nil set, the Ps are left alone.
func ManageProcs(base int, set func(int)) {
	procCtl.mu.Lock()
	procCtl.base, procCtl.set = base, set
	procCtl.loops, procCtl.running = nil, false
	procCtl.gen++
	procCtl.mu.Unlock()
	procNoSpare.Store(set != nil)
	if set != nil {
		set(base)
	}
}

const (
	// procTick is how often the loops' activity is looked at.
	procTick = 50 * time.Millisecond
	// procBusy is the number of a loop's iterations in a tick from which it
	// counts as busy (an idle loop makes none: it blocks until an event).
	procBusy = 5
	// procQuiet is the number of quiet ticks after which the spare P goes.
	procQuiet = 20
)

// spareState decides, tick after tick, whether the spare P is wanted: at
// once when a loop is busy, no longer after procQuiet quiet ticks.
type spareState struct {
	spare bool
	quiet int
}

// tick takes whether a loop was busy in the last tick and reports whether
// the spare P is now wanted and whether that changed.
func (s *spareState) tick(busy bool) (spare, changed bool) {
	switch {
	case busy:
		s.quiet = 0
		if !s.spare {
			s.spare = true
			return true, true
		}
	case s.spare:
		s.quiet++
		if s.quiet >= procQuiet {
			s.spare, s.quiet = false, 0
			return false, true
		}
	}
	return s.spare, false
}
