package proxy

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Running out of descriptors or memory in accept (EMFILE, ENFILE, ENOBUFS, ENOMEM).
//
// A listener whose accept fails so stops being accepted from: the event loops take it out
// of their epoll set (level-triggered, it would wake them again at once: the classic spin on
// EMFILE), the goroutine accept loops stop calling Accept. It is tried again as soon as a
// connection ends, since that freed descriptors (HAProxy resumes its listeners the same
// way), and after 100 ms at most, for what else frees them. The clients wait in the kernel's
// accept queue meanwhile.
//
// The first failure is logged; then nothing until accepts went resEpisode without failing
// so: under exhaustion every accept fails, or every other as connections end, and a line
// each would flood the log when it is least wanted.

// resEpisode is how long accepts must go without running out of resources for the next
// failure to be logged again.
const resEpisode = 10 * time.Second

// resRetry is how long a listener paused for want of resources waits at most.
const resRetry = 100 * time.Millisecond

// resourceError reports err, a failed accept on f's listener bind for want of resources,
// once per episode.
func (e *Engine) resourceError(f *Frontend, bind string, err error) {
	now := time.Now().UnixNano()
	if last := e.resErr.Swap(now); last != 0 && now-last < int64(resEpisode) {
		f.log.Debug("accept", "frontend", f.cfg.Name, "bind", bind, "error", err)
		return
	}
	then := "listeners paused until a connection ends (100ms at most); not logged again until 10s without this error"
	if err == errMemoryPressure {
		then = "listeners paused while memory stays above the high-water mark; not logged again until 10s without this"
	}
	f.log.Warn("accept", "frontend", f.cfg.Name, "bind", bind, "error", err, "then", then)
}

// waitResources records lb, paused after a resource error, to be resumed when a
// connection ends.
func (e *Engine) waitResources(lb *lbind) {
	e.rmu.Lock()
	if e.rwait == nil {
		e.rwait = map[*lbind]struct{}{}
	}
	e.rwait[lb] = struct{}{}
	e.nrwait.Store(1)
	e.rmu.Unlock()
}

// resourceWake returns a channel closed when the next connection ends, for a goroutine
// accept loop paused after a resource error.
func (e *Engine) resourceWake() <-chan struct{} {
	e.rmu.Lock()
	defer e.rmu.Unlock()
	e.nrwait.Store(1)
	return e.rwake
}

// resourcesFreed resumes the listeners paused after a resource error: a connection ended.
func (e *Engine) resourcesFreed() {
	if e.nrwait.Load() == 0 {
		return
	}
	e.rmu.Lock()
	ps := make([]*lbind, 0, len(e.rwait))
	for lb := range e.rwait {
		ps = append(ps, lb)
	}
	clear(e.rwait)
	e.nrwait.Store(0)
	close(e.rwake)
	e.rwake = make(chan struct{})
	e.rmu.Unlock()
	resume(ps)
}

// Memory pressure.
//
// Under a memory limit (a unit's MemoryMax=, any cgroup's), running out is not an error that
// accept returns: the kernel's OOM killer ends the whole process instead, every connection
// with it. So, when lifecycle found such a limit (WatchMemory), the accept paths read the
// cgroup's usage (at most once a millisecond: a flood of clients is accepted thousands a
// second, each costing a few KiB) and, above the high-water mark, stop accepting as for
// EMFILE: the connections already accepted go on, new clients wait in the kernel's accept
// queue, the episode is logged once, and accepting resumes (the paused listeners look again
// every 100 ms) once usage fell back under the low-water mark.

// memWatch is the process's memory limit and how to read its usage.
type memWatch struct {
	high, low int64                 // bytes
	read      func() (int64, error) // the cgroup's current usage
	log       func(msg string)
	last      atomic.Int64 // when usage was last read (UnixNano)
	mu        sync.Mutex   // one reader at a time
	freed     int64        // when memory was last given back to the system (UnixNano), under mu
}

// memFreeEvery is how often, while usage is above the low-water mark, the memory the Go
// runtime holds unused is given back to the system: it would keep it for minutes, counted in
// the usage that must fall for accepting to resume.
const memFreeEvery = int64(time.Second)

// memCheckEvery is how often the accept paths read the usage at most.
const memCheckEvery = int64(time.Millisecond)

var (
	mem     atomic.Pointer[memWatch]
	memHigh atomic.Bool // usage above high, until it falls under low
)

// errMemoryPressure is what the listeners report when they pause for memory.
var errMemoryPressure = errors.New("memory usage near its limit")

// WatchMemory makes every engine of the process stop accepting while read reports a usage
// at or above high bytes, until it is under low. log reports the end of an episode.
func WatchMemory(high, low int64, read func() (int64, error), log func(string)) {
	mem.Store(&memWatch{high: high, low: low, read: read, log: log})
}

// memPressure reports whether accepting must pause for memory; now is UnixNano.
func memPressure(now int64) bool {
	w := mem.Load()
	if w == nil {
		return false
	}
	if now-w.last.Load() < memCheckEvery || !w.mu.TryLock() {
		return memHigh.Load()
	}
	defer w.mu.Unlock()
	w.last.Store(now)
	u, err := w.read()
	if err != nil {
		return memHigh.Load()
	}
	if memHigh.Load() && u >= w.low && now-w.freed >= memFreeEvery {
		w.freed = now
		go debug.FreeOSMemory()
	}
	switch {
	case !memHigh.Load() && u >= w.high:
		memHigh.Store(true)
	case memHigh.Load() && u < w.low:
		memHigh.Store(false)
		w.log(fmt.Sprintf("memory usage back to %d MiB: listeners resumed", u>>20))
	}
	return memHigh.Load()
}
