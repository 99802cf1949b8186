package proxy

import "golang.org/x/sys/unix"

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
