package proxy

import "golang.org/x/sys/unix"

// silentFD makes fd close without a word, as HAProxy 2.6's
// tcp_exec_action_silent_drop does: no lingering (the close is an RST,
// never a FIN), then TCP_REPAIR, under which the kernel sends nothing at
// all when the socket closes (it needs CAP_NET_ADMIN); without it, a TTL
// of 1 so that the RST dies at the first router (no effect on a local
// network, where the client sees the RST).
func silentFD(fd int) {
	// What the client sent is read first (HAProxy's conn_sock_drain), so
	// that it is acknowledged and the close finds nothing unread.
	var buf [4096]byte
	for i := 0; i < 64; i++ {
		n, _, err := unix.Recvfrom(fd, buf[:], unix.MSG_DONTWAIT)
		if n <= 0 || err != nil {
			break
		}
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
	_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	if unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_REPAIR, 1) == nil {
		return
	}
	if unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, 1) != nil {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, 1)
	}
}

func (x *rconn) fd() int { return x.cli.fd }
