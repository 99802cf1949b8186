//go:build !linux

package proxy

import (
	"syscall"
	"time"
)

// apply leaves the system's timings outside Linux.
func (t TCPKeepAlive) apply(int) {}

// setUserTimeout: TCP_USER_TIMEOUT is Linux's.
func setUserTimeout(int, time.Duration) {}

// userTimeoutControl: TCP_USER_TIMEOUT is Linux's; elsewhere the system's applies.
func userTimeoutControl(ctl func(network, address string, c syscall.RawConn) error, _ time.Duration) func(network, address string, c syscall.RawConn) error {
	return ctl
}
