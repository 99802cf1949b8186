package health

import (
	"syscall"

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
