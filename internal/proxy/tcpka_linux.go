package proxy

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// apply sets t's timings on the socket fd, whose keep-alive is on. Errors are
// ignored, as HAProxy ignores them (a negative count is refused by the kernel).
func (t TCPKeepAlive) apply(fd int) {
	if t.Count != 0 {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, t.Count)
	}
	if t.Idle > 0 {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, int(t.Idle.Seconds()))
	}
	if t.Interval > 0 {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, int(t.Interval.Seconds()))
	}
}

// setUserTimeout sets TCP_USER_TIMEOUT to d on the socket fd ("tcp-ut"); an
// error is ignored, as HAProxy ignores it.
func setUserTimeout(fd int, d time.Duration) {
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d.Milliseconds()))
}

// userTimeoutControl wraps a dialer's Control (nil for none) to set
// TCP_USER_TIMEOUT to d on the socket before it connects.
func userTimeoutControl(ctl func(network, address string, c syscall.RawConn) error, d time.Duration) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		if ctl != nil {
			if err := ctl(network, address, c); err != nil {
				return err
			}
		}
		return c.Control(func(fd uintptr) { setUserTimeout(int(fd), d) })
	}
}
