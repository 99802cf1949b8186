package proxy

import (
	"io"
	"net"
	"syscall"
	"time"

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
	// sendRecv's state: the bytes to write, how many went, when the last
	// went, and its callback bound once.
	out    []byte
	sent   int
	sentAt time.Time
	sfn    func(uintptr) bool
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

// put writes what of b the socket fd takes now, and returns how much: for
// a RawConn callback.
func (f *fastIO) put(fd uintptr, b []byte) int {
	n, _ := writeNB(int(fd), b)
	return max(n, 0)
}

// sendRecv writes out to rc's socket and then reads its peer's reply into
// in, waiting under rc's read deadline, in one RawConn.Read: it returns how
// much of out went, and the read's result when all of it did. A reply
// never comes before the bytes it answers, so it needs no read(2) before
// the wait: the wait begins (the runtime forgets the socket's readiness
// when RawConn.Read begins) before the write, and readiness that came
// after counts. Keep-alive, that read found nothing on nearly every
// request (it asked the server for a response it was still writing): 1 of
// lb's 6.8 system calls per request, against HAProxy's 4.7, which only
// reads what epoll said is there. What out does not fit in the socket's
// buffer is the caller's to write, and to read after. Bytes the peer sent
// before the call are read with the first that come after it: a server
// that wrote to an idle connection unasked and then answers nothing is
// waited for until the read deadline (a peer's close, or the reset a write
// to a closed connection brings, ends the wait).
func (f *fastIO) sendRecv(rc syscall.RawConn, out, in []byte) (sent, n int, err error) {
	if f.sfn == nil {
		f.sfn = f.sendThenRead
	}
	f.out, f.sent, f.b, f.n, f.err = out, -1, in, 0, nil
	rerr := rc.Read(f.sfn)
	sent, n, err = max(f.sent, 0), f.n, f.err
	f.out, f.b, f.err = nil, nil, nil
	if sent == len(out) && rerr != nil {
		return sent, 0, rerr
	}
	return sent, n, err
}

// sendThenRead is sendRecv's callback: it writes on its first call, and
// reads on the next ones.
func (f *fastIO) sendThenRead(fd uintptr) bool {
	if f.sent < 0 {
		f.sent = f.put(fd, f.out)
		f.sentAt = time.Now()
		return f.sent < len(f.out) // short: the caller writes the rest
	}
	return f.read(fd)
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
