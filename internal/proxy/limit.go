package proxy

import (
	"math"
	"sync/atomic"
)

// noLimit is a slots limit that is never reached.
const noLimit = math.MaxInt64

// slots counts the connections holding a maxconn slot against a limit that may
// change at run time. Lowering the limit below the count stops the taking until
// the count falls below it; raising it lets waiting clients in at once (the
// engine resumes its waiting listeners).
type slots struct {
	n   atomic.Int64 // slots taken, plus takes being undone
	max atomic.Int64 // the limit, noLimit when none
}

func (s *slots) init(limit int) {
	if limit > 0 {
		s.max.Store(int64(limit))
	} else {
		s.max.Store(noLimit)
	}
}

// take takes a slot. When it fails, the caller undoes the count with put.
func (s *slots) take() bool { return s.n.Add(1) <= s.max.Load() }

// put gives a slot back and reports whether one is free after it.
func (s *slots) put() bool { return s.n.Add(-1) < s.max.Load() }

// free reports whether a slot is free.
func (s *slots) free() bool { return s.n.Load() < s.max.Load() }

// limit returns the limit and whether there is one.
func (s *slots) limit() (int, bool) {
	m := s.max.Load()
	return int(m), m != noLimit
}

// trySlots takes a listener, a frontend and a global maxconn slot without
// waiting.
func (b *Binding) trySlots() bool {
	f, e := b.f, b.f.eng
	if !b.slots.take() {
		if b.slots.put() && f.slots.free() && e.slots.free() {
			e.slotFreed()
		}
		return false
	}
	if !f.slots.take() {
		b.slots.put()
		// Only a take being undone elsewhere can make a slot look
		// taken: wake the waiting listeners if one is free after all.
		if f.slots.put() && e.slots.free() {
			e.slotFreed()
		}
		return false
	}
	if !e.slots.take() {
		b.slots.put()
		f.slots.put()
		if e.slots.put() {
			e.slotFreed()
		}
		return false
	}
	return true
}

// putSlots gives back the listener, frontend and global slots of an ended
// connection of b, and resumes the waiting listeners when a global slot is free:
// a listener waiting for its own or a frontend slot needs a global one too, and
// one waiting for a global slot may be of another frontend.
func (e *Engine) putSlots(b *Binding) {
	b.slots.put()
	b.f.slots.put()
	if e.slots.put() {
		e.slotFreed()
	}
}

// slotsFree reports whether b, its frontend and the engine have a maxconn slot
// free.
func (b *Binding) slotsFree() bool {
	return b.slots.free() && b.f.slots.free() && b.f.eng.slots.free()
}

// takeSlots takes a frontend and a global maxconn slot, waiting for them; it
// reports false if the binding was stopped meanwhile.
func (b *Binding) takeSlots() bool {
	e := b.f.eng
	for !b.trySlots() {
		e.pmu.Lock()
		e.npaused.Add(1)
		ch := e.wake
		e.pmu.Unlock()
		// A slot freed between the failed take and now would not have
		// seen this loop waiting: look again.
		if b.slotsFree() {
			continue
		}
		select {
		case <-ch:
		case <-b.stop:
			return false
		}
	}
	return true
}

// slotFreed resumes the listeners waiting for a maxconn slot.
func (e *Engine) slotFreed() {
	if e.npaused.Load() == 0 {
		return
	}
	e.pmu.Lock()
	ps := e.paused
	e.paused = nil
	e.npaused.Store(0)
	close(e.wake)
	e.wake = make(chan struct{})
	e.pmu.Unlock()
	resume(ps)
}

// Maxconn returns the global connection limit and whether there is one.
func (e *Engine) Maxconn() (int, bool) { return e.slots.limit() }

// SetMaxconn changes the global connection limit (0 or less: none). Clients
// waiting for a slot are let in at once when the limit rises; when it falls
// below the connections being served, no more is accepted until they end below
// it.
func (e *Engine) SetMaxconn(n int) {
	e.slots.init(n)
	if e.slots.free() {
		e.slotFreed()
	}
}

// Maxconn returns the frontend's connection limit and whether there is one.
func (f *Frontend) Maxconn() (int, bool) { return f.slots.limit() }

// SetMaxconn changes the frontend's connection limit: 0 accepts no connection,
// a negative n removes the limit. Waiting clients are let in, or held, as by the
// engine's SetMaxconn.
func (f *Frontend) SetMaxconn(n int) {
	if n < 0 {
		f.slots.max.Store(noLimit)
	} else {
		f.slots.max.Store(int64(n))
	}
	if f.slots.free() && f.eng.slots.free() {
		f.eng.slotFreed()
	}
}
