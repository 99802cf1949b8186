package listener

import (
	"net"
	"reflect"
	"unsafe"
)

// Connections accepted without TCP keep-alive.
//
// Go enables TCP keep-alive on every connection a *net.TCPListener accepts unless the
// listener was made by a net.ListenConfig whose KeepAlive is negative: four setsockopt
// calls per connection (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT), and a
// fifth to turn it off again, since HAProxy leaves it off unless "option clitcpka" asks.
// lb's listeners come from descriptors (net.FileListener: bound here, received with -x or
// from systemd), which have no ListenConfig to set. disableKeepAlive sets the listener's
// own one, found by name (TCPListener.lc), and reports whether it could: with another
// layout of the standard library it leaves the listener as it is, and the caller turns
// keep-alive off on each connection as before. Measured under a connection per request:
// 7 setsockopt calls per connection before, 2 after (TCP_NODELAY on each side).
func disableKeepAlive(ln net.Listener) bool {
	tl, ok := ln.(*net.TCPListener)
	if !ok || tl == nil {
		return false
	}
	f := reflect.ValueOf(tl).Elem().FieldByName("lc")
	if !f.IsValid() || f.Type() != reflect.TypeOf(net.ListenConfig{}) || !f.CanAddr() {
		return false
	}
	lc := (*net.ListenConfig)(unsafe.Pointer(f.UnsafeAddr()))
	lc.KeepAlive = -1
	lc.KeepAliveConfig = net.KeepAliveConfig{}
	return true
}

// NoKeepAlive reports whether the connections l accepts come with TCP keep-alive off
// (disableKeepAlive); when false they come with Go's default, on.
func (l *Listener) NoKeepAlive() bool { return l.noKeepAlive }
