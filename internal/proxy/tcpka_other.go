//go:build !linux

package proxy

// apply leaves the system's timings outside Linux.
func (t TCPKeepAlive) apply(int) {}
