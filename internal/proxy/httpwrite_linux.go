package proxy

import (
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Reads and writes of the transaction goroutine without the runtime's
// entersyscall.
//
// A write(2) on loopback runs the receiver's TCP processing in the caller's
// system call (and wakes the receiver): tens of microseconds, long enough
// for the runtime's monitor to take the P of the goroutine in the call and
// hand it to another thread, and for the goroutine to find no P when it
// returns. In mode http that was most of lb's context switches: 0.33 per
// keep-alive request against HAProxy's 0.04. A read or a write on a
// non-blocking socket never blocks, so fastIO makes them with RawSyscall
// (as the event loops do), through RawConn.Read and RawConn.Write so that
// the descriptor cannot be closed meanwhile and deadlines hold as for
// net.Conn's Read and Write. A write waits for nothing: what does not fit
// in the socket's buffer is left to the caller, which writes it the usual
// way under its deadline; a write that completes at once needs no deadline,
// so none is set for it.

// fastIO is one goroutine's state for its calls: the bytes, the result,
// and its read and write methods bound once (a closure per call would be
// allocated).
type fastIO struct {
	b        []byte
	n        int
	err      error
	rfn, wfn func(uintptr) bool
}

func (f *fastIO) write(fd uintptr) bool {
	n, _ := writeNB(int(fd), f.b)
	f.n = max(n, 0)
	return true // never wait: the caller does
}

func (f *fastIO) read(fd uintptr) bool {
	for {
		n, err := rawRead(int(fd), f.b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false // wait for the socket to be readable
		case err != nil:
			f.n, f.err = 0, err
		case n == 0:
			f.n, f.err = 0, io.EOF
		default:
			f.n, f.err = n, nil
		}
		return true
	}
}

// to writes to rc what of b the socket takes now, and returns how much: 0
// when rc is nil, past its write deadline or closed.
func (f *fastIO) to(rc syscall.RawConn, b []byte) int {
	if rc == nil || len(b) == 0 {
		return 0
	}
	if f.wfn == nil {
		f.wfn = f.write
	}
	f.b, f.n = b, 0
	_ = rc.Write(f.wfn)
	f.b = nil
	return f.n
}

// from reads into b as c.Read does (c is rc's connection, read the usual
// way when rc is nil): it waits for data under c's read deadline, and
// returns io.EOF at the end of the stream.
func (f *fastIO) from(rc syscall.RawConn, c net.Conn, b []byte) (int, error) {
	if rc == nil || len(b) == 0 {
		return c.Read(b)
	}
	if f.rfn == nil {
		f.rfn = f.read
	}
	f.b, f.n, f.err = b, 0, nil
	if err := rc.Read(f.rfn); err != nil {
		f.b = nil
		return 0, err
	}
	n, err := f.n, f.err
	f.b, f.err = nil, nil
	return n, err
}

// rawConnOf is c's RawConn when c is a plain socket whose bytes are the
// connection's (not TLS, nothing buffered above it), else nil.
func rawConnOf(c net.Conn) syscall.RawConn {
	var sc syscall.Conn
	switch t := c.(type) {
	case *net.TCPConn:
		sc = t
	case *net.UnixConn:
		sc = t
	case *tcpConn:
		return t.rc
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}
