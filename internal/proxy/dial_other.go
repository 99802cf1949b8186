//go:build !linux

package proxy

import (
	"net"
	"net/netip"
	"syscall"
	"time"
)

// dialTCP connects to ap within timeout (none when 0) with net.Dialer;
// setup, when not nil, sets options on the socket before it connects.
func dialTCP(ap netip.AddrPort, timeout time.Duration, setup func(fd int)) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, KeepAlive: -1}
	if setup != nil {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) { setup(int(fd)) })
		}
	}
	return d.Dial("tcp", ap.String())
}
