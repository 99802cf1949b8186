//go:build !linux

package proxy

// Outside Linux there are no event loops: every frontend is served by
// goroutines.

type (
	reactor struct{}
	lbind   struct{}
	rconn   struct{}
)

func (f *Frontend) serveReactor(*Binding) bool { return false }
func (b *Binding) stopReactor()                {}
func (x *rconn) kill()                         {}
func (x *rconn) closeFDs()                     {}
func resume([]*lbind)                          {}

// Close stops the engine's event loops; there are none here.
func (e *Engine) Close() {}

type pauser interface{}

func (x *rconn) dispatched(*Server) {}

// Activity returns nothing: there are no event loops here.
func (e *Engine) Activity() []LoopActivity { return nil }
