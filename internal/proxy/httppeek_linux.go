package proxy

import (
	"net"
	"syscall"
)

// stillOpen reports whether an idle server connection may carry a request:
// the server neither closed it nor sent anything unasked (a peek that
// would block). A connection without a descriptor is trusted.
func stillOpen(c net.Conn) bool {
	if t, ok := c.(*tlsServerConn); ok {
		// A TLS connection is probed on its socket: anything the server
		// sent unasked (an alert, close_notify) makes it unusable too.
		c = t.raw
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	_ = rc.Read(func(fd uintptr) bool {
		open = idleFD(int(fd))
		return true
	})
	return open
}
