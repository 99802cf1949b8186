package proxy

import (
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
	f.log.Warn("accept", "frontend", f.cfg.Name, "bind", bind, "error", err,
		"then", "listeners paused until a connection ends (100ms at most); not logged again until 10s without this error")
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
