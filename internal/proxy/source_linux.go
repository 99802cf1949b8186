package proxy

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// sourceControl sets up a socket before it is bound to its source, as
// HAProxy's tcp_bind_socket: SO_REUSEADDR when a port is given (a client's
// port may be in use towards another server), IP_TRANSPARENT for a foreign
// address, IP_FREEBIND when that is refused, and SO_BINDTODEVICE.
func sourceControl(foreign, port bool, iface string) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			s := int(fd)
			if port {
				_ = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			}
			if foreign {
				v6 := network == "tcp6"
				if v6 {
					serr = unix.SetsockoptInt(s, unix.SOL_IPV6, unix.IPV6_TRANSPARENT, 1)
				} else {
					serr = unix.SetsockoptInt(s, unix.SOL_IP, unix.IP_TRANSPARENT, 1)
				}
				if serr != nil {
					if v6 {
						serr = unix.SetsockoptInt(s, unix.SOL_IPV6, unix.IPV6_FREEBIND, 1)
					} else {
						serr = unix.SetsockoptInt(s, unix.SOL_IP, unix.IP_FREEBIND, 1)
					}
				}
				if serr != nil {
					return
				}
			}
			if iface != "" {
				serr = unix.BindToDevice(s, iface)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}
