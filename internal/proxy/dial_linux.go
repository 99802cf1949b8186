package proxy

import (
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A server connection of the goroutine engines (mode http, and mode tcp
// frontends that read before choosing a server) is dialled here when it
// goes to an IP address with nothing on the way (no source address, no
// SOCKS4 proxy): the system calls HAProxy makes, and a connection that the
// runtime's poller watches as it watches a net.Conn.
//
// Why. net.Dialer.Dial with a timeout, per connection: a deadline context
// and its timer, a context.AfterFunc, the goroutine parked until the
// poller reports the socket writable even when the connect completed in
// the system call (as it does on loopback), then getsockopt(SO_ERROR),
// getpeername and getsockname. Here: socket, setsockopt(TCP_NODELAY),
// connect, then connect again to learn how it went (0 or EISCONN:
// connected, EALREADY: still going, waited for under "timeout connect";
// HAProxy asks the same way), the file's fcntl, the poller's epoll_ctl
// and a getsockname for the local address (logged as %bi:%bp). Dialling and
// closing a loopback connection cost 138 us of CPU with net.Dialer against
// 99 here (a Go benchmark, 20000 dials, 3 runs each, the listener's
// accepts included in both).

// tcpConn is a TCP connection dialled by dialTCP. Its file is registered
// with the runtime's poller, so that Read and Write wait, and deadlines
// hold, as for a *net.TCPConn; its errors are net's (*net.OpError).
type tcpConn struct {
	f             *os.File
	rc            syscall.RawConn
	local, remote *net.TCPAddr // made once: a kept connection is asked for them per request
}

// dialTCP connects to ap within timeout (none when 0); setup, when not nil,
// sets options on the socket before it connects.
func dialTCP(ap netip.AddrPort, timeout time.Duration, setup func(fd int)) (net.Conn, error) {
	domain := unix.AF_INET
	if !ap.Addr().Is4() {
		domain = unix.AF_INET6
	}
	fd, err := unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, dialError(ap, os.NewSyscallError("socket", err))
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if setup != nil {
		setup(fd)
	}
	errno := rawConnect(fd, ap)
	switch errno {
	case 0, unix.EINPROGRESS, unix.EINTR:
	default:
		rawClose(fd)
		return nil, dialError(ap, os.NewSyscallError("connect", errno))
	}
	f := os.NewFile(uintptr(fd), "tcp")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, dialError(ap, err)
	}
	c := &tcpConn{f: f, rc: rc, remote: net.TCPAddrFromAddrPort(ap)}
	if errno == 0 {
		c.local = net.TCPAddrFromAddrPort(sockLocal(fd))
		return c, nil
	}
	if timeout > 0 {
		_ = f.SetWriteDeadline(time.Now().Add(timeout))
	}
	// The first call asks at once: a connect that completed before the
	// poller watched the socket is not reported by it.
	var cerr unix.Errno
	werr := rc.Write(func(fd uintptr) bool {
		switch e := rawConnect(int(fd), ap); e {
		case unix.EALREADY, unix.EINPROGRESS, unix.EINTR:
			return false
		case 0, unix.EISCONN:
		default:
			cerr = e
		}
		return true
	})
	if werr == nil && cerr != 0 {
		werr = os.NewSyscallError("connect", cerr)
	}
	if werr != nil {
		_ = f.Close()
		return nil, dialError(ap, werr)
	}
	if timeout > 0 {
		_ = f.SetWriteDeadline(time.Time{})
	}
	c.local = net.TCPAddrFromAddrPort(sockLocal(fd))
	return c, nil
}

// sockLocal is fd's local address (getsockname), invalid on an error.
func sockLocal(fd int) netip.AddrPort {
	var rsa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	_, _, errno := unix.RawSyscall(unix.SYS_GETSOCKNAME, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)))
	if errno != 0 {
		return netip.AddrPort{}
	}
	return sockaddrAddrPort(&rsa)
}

func dialError(ap netip.AddrPort, err error) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(ap), Err: err}
}

// rawConnect calls connect(2) on fd for ap.
func rawConnect(fd int, ap netip.AddrPort) unix.Errno {
	var errno unix.Errno
	if ap.Addr().Is4() {
		sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ap.Addr().As4()}
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		p[0], p[1] = byte(ap.Port()>>8), byte(ap.Port())
		_, _, errno = unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unix.SizeofSockaddrInet4)
	} else {
		sa := unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ap.Addr().As16()}
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		p[0], p[1] = byte(ap.Port()>>8), byte(ap.Port())
		_, _, errno = unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unix.SizeofSockaddrInet6)
	}
	return errno
}

// opErr turns an error of the file into net's form.
func (c *tcpConn) opErr(op string, err error) error {
	if pe, ok := err.(*os.PathError); ok {
		err = pe.Err
		if _, ok := err.(syscall.Errno); ok {
			err = os.NewSyscallError(op, err)
		}
	}
	if err == os.ErrClosed {
		err = net.ErrClosed
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

func (c *tcpConn) Read(b []byte) (int, error) {
	n, err := c.f.Read(b)
	if err != nil && err != io.EOF {
		err = c.opErr("read", err)
	}
	return n, err
}

func (c *tcpConn) Write(b []byte) (int, error) {
	n, err := c.f.Write(b)
	if err != nil {
		err = c.opErr("write", err)
	}
	return n, err
}

func (c *tcpConn) Close() error {
	if err := c.f.Close(); err != nil {
		return c.opErr("close", err)
	}
	return nil
}

func (c *tcpConn) RemoteAddr() net.Addr { return c.remote }

func (c *tcpConn) LocalAddr() net.Addr { return c.local }

func (c *tcpConn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *tcpConn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *tcpConn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// SyscallConn is the file's RawConn, as syscall.Conn asks.
func (c *tcpConn) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }

// CloseWrite sends a FIN, as net.TCPConn's.
func (c *tcpConn) CloseWrite() error {
	var err error
	if cerr := c.rc.Control(func(fd uintptr) { err = unix.Shutdown(int(fd), unix.SHUT_WR) }); cerr != nil {
		return c.opErr("close", cerr)
	}
	if err != nil {
		return c.opErr("close", os.NewSyscallError("shutdown", err))
	}
	return nil
}

// SetLinger is net.TCPConn's: 0 makes Close reset the connection.
func (c *tcpConn) SetLinger(sec int) error {
	l := unix.Linger{}
	if sec >= 0 {
		l.Onoff, l.Linger = 1, int32(sec)
	}
	var err error
	if cerr := c.rc.Control(func(fd uintptr) { err = unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &l) }); cerr != nil {
		return c.opErr("set", cerr)
	}
	if err != nil {
		return c.opErr("set", os.NewSyscallError("setsockopt", err))
	}
	return nil
}
