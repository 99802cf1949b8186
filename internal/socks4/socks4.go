// Package socks4 opens a stream through a SOCKS4 proxy ("server … socks4
// <addr>") with the bytes HAProxy 2.6 sends.
package socks4

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"time"
)

// userID is the USERID field HAProxy sends (conn_send_socks4_proxy_request).
const userID = "HAProxy"

// Errors, with HAProxy's connection error texts (CO_ER_SOCKS4_*).
var (
	ErrSend  = errors.New("SOCKS4 Proxy write error during handshake")
	ErrRecv  = errors.New("SOCKS4 Proxy read error during handshake")
	ErrDeny  = errors.New("SOCKS4 Proxy deny the request")
	ErrAbort = errors.New("SOCKS4 Proxy handshake aborted by server")
	// ErrNotIPv4: SOCKS4 reaches IPv4 addresses only.
	ErrNotIPv4 = errors.New("SOCKS4 reaches IPv4 addresses only")
)

// Request is the CONNECT request for dst: VN 4, CD 1, the port and the
// address in network order, then "HAProxy" and a NUL.
func Request(dst netip.AddrPort) ([]byte, error) {
	a := dst.Addr().Unmap()
	if !a.Is4() {
		return nil, ErrNotIPv4
	}
	ip := a.As4()
	b := []byte{4, 1, byte(dst.Port() >> 8), byte(dst.Port()), ip[0], ip[1], ip[2], ip[3]}
	return append(append(b, userID...), 0), nil
}

// Connect asks the proxy at the other end of c for a stream to dst and
// reads its 8-byte reply, all before deadline (zero: none). The stream to
// dst follows on c when it returns nil; c's deadline is then cleared.
func Connect(c net.Conn, dst netip.AddrPort, deadline time.Time) error {
	req, err := Request(dst)
	if err != nil {
		return err
	}
	_ = c.SetDeadline(deadline)
	if _, err := c.Write(req); err != nil {
		return errors.Join(ErrSend, err)
	}
	var rep [8]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return ErrAbort
		}
		return errors.Join(ErrRecv, err)
	}
	// VN 0, CD 90: request granted.
	if rep[0] != 0 || rep[1] != 90 {
		return ErrDeny
	}
	_ = c.SetDeadline(time.Time{})
	return nil
}
