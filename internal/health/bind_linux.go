package health

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// bindToDevice binds a check's socket to the device iface
// (SO_BINDTODEVICE), as a "source … interface" asks.
func bindToDevice(iface string) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = unix.BindToDevice(int(fd), iface) }); err != nil {
			return err
		}
		return serr
	}
}

// delayAck wraps ctl (nil for none) to turn TCP_QUICKACK off on the socket before it
// connects: the ACK of the server's SYN-ACK then waits for the check's first data, or,
// for a check that only connects, is never sent, the reset going in its place, so that
// the server never accepts it (HAProxy's CONNECT_DELACK_ALWAYS).
func delayAck(ctl func(network, address string, c syscall.RawConn) error) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		if ctl != nil {
			if err := ctl(network, address, c); err != nil {
				return err
			}
		}
		var serr error
		if err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 0) }); err != nil {
			return err
		}
		return serr
	}
}

// userTimeout wraps ctl (nil for none) to set TCP_USER_TIMEOUT to d on the
// socket before it connects ("tcp-ut" on the server line).
func userTimeout(ctl func(network, address string, c syscall.RawConn) error, d time.Duration) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		if ctl != nil {
			if err := ctl(network, address, c); err != nil {
				return err
			}
		}
		// Errors are ignored, as HAProxy ignores them.
		return c.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d.Milliseconds()))
		})
	}
}
