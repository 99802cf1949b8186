package proxy

import (
	"net"
	"time"
)

// TCPKeepAlive are the timings of the TCP keep-alive probes on a socket whose
// keep-alive is on ("clitcpka-cnt|idle|intvl", "srvtcpka-…"); a zero field
// leaves the system's, as HAProxy sets only those that are not zero.
type TCPKeepAlive struct {
	Count          int           // TCP_KEEPCNT
	Idle, Interval time.Duration // TCP_KEEPIDLE, TCP_KEEPINTVL, whole seconds
}

// dialer is t as a net.Dialer's keep-alive, on: Go's -1 leaves the system's
// value where t has none (Go's 0 would mean its own 15 s).
func (t TCPKeepAlive) dialer() net.KeepAliveConfig {
	kc := net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1}
	if t.Idle > 0 {
		kc.Idle = t.Idle
	}
	if t.Interval > 0 {
		kc.Interval = t.Interval
	}
	if t.Count != 0 {
		kc.Count = t.Count
	}
	return kc
}
