package proxy

import (
	"crypto/tls"
	"syscall"
)

// dropSilently prepares the client socket of a "silent-drop" rule so that
// closing it sends the client nothing, as HAProxy's silent-drop does: the
// client is left with a connection that looks alive and has to time out.
// Closing is the caller's, as for any rejected connection.
func (c *Conn) dropSilently() {
	if c.rx != nil {
		silentFD(c.rx.fd())
		return
	}
	conn := c.c
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { silentFD(int(fd)) })
}
