package proxy

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// FIN watching. After a short read, a copier that trusts the read to have
// drained its source can wait for the next readiness edge instead of
// reading again until EAGAIN: one read(2) less per request and direction,
// as HAProxy, whose poller reports EPOLLRDHUP. The danger is a FIN that
// arrived together with the data: its edge merges with the data's in the
// runtime poller, which does not report EPOLLRDHUP, so the copier would
// wait for an edge that never comes. Measured on loopback, that merge is
// the common case for write-then-shutdown.
//
// So a copier that waits first has its source registered, one-shot, in a
// private epoll set for EPOLLRDHUP only (data arrival does not wake it:
// the kernel filters wake-ups by the registered events). When the peer's
// FIN (or an error or hang-up) arrives, the watcher sets the side's rdhup
// flag and pokes the copier with a past read deadline; the copier reads
// on, sees EOF and forwards the FIN, microseconds later. A copier checks
// the flag after each short read and reads to EAGAIN once it is set.
//
// Why no FIN is lost: the flag is stored before the poke. A copier that
// found the flag clear waits; the poke, later, makes that wait (or the
// next one) end with os.ErrDeadlineExceeded, after which the run loop
// resets the session's deadline and reads before it waits again. A past
// deadline is lost only if another goroutine sets a future read deadline
// on the same conn after it: only shutOne does, and it re-pokes a side
// whose flag is set. abort's past deadlines need no care.
//
// Registration costs one epoll_ctl per direction, so it is done only once
// a direction has shown keep-alive behaviour (waitAfter), and the watcher
// goroutine wakes only on FINs, not on data. A private set that cannot be
// created leaves every copier reading until EAGAIN, as before.

const (
	// waitAfter is how many consecutive short reads followed by an empty
	// re-read switch a direction to waiting first: a connection carrying
	// one request, or data then FIN, reads until EAGAIN.
	waitAfter = 2
)

// finWatcher is the process-wide set of watched sources.
type finWatcher struct {
	set    *epollSet
	mu     sync.Mutex // guards subs, nextID
	subs   map[uint64]*Side
	nextID uint64
}

var (
	finOnce sync.Once
	finW    *finWatcher // nil when the epoll set could not be created
	// finPokes counts the FINs reported by the watcher, for tests.
	finPokes atomic.Int64
)

func getFinWatcher() *finWatcher {
	finOnce.Do(func() {
		w := &finWatcher{subs: make(map[uint64]*Side)}
		if w.set = newEpollSet("lb-fin-epoll", w.poke); w.set != nil {
			finW = w
		}
	})
	return finW
}

// poke reports the FIN of the side registered as id: its flag first, then the wake-up.
func (w *finWatcher) poke(id uint64) {
	w.mu.Lock()
	sd := w.subs[id]
	w.mu.Unlock()
	if sd != nil {
		finPokes.Add(1)
		sd.rdhup.Store(true)
		poke(sd.Conn)
	}
}

// watch registers sd, whose descriptor is fd, and reports whether it did.
// A FIN already received is reported at once.
func (w *finWatcher) watch(sd *Side, fd int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.nextID++
	id := w.nextID
	w.subs[id] = sd
	if err := w.set.add(fd, unix.EPOLLRDHUP|unix.EPOLLONESHOT, id); err != nil {
		delete(w.subs, id)
		return false
	}
	sd.watchID, sd.watchFD = id, fd
	return true
}

// unwatch removes sd; its descriptor must still be open.
func (w *finWatcher) unwatch(sd *Side) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.subs, sd.watchID)
	w.set.del(sd.watchFD)
	sd.watchID = 0
}
