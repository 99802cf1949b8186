package proxy

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The goroutine engine's copier on Linux (the event loops have their own,
// rconn_linux.go). Each direction runs on its own goroutine and
// drives the raw file descriptors through syscall.RawConn, so that:
//
//   - a buffer is taken from a pool only while bytes are in flight: an idle
//     connection holds no buffer;
//   - the bytes just read are written at once with a non-blocking write;
//     only a short write parks the goroutine waiting for the destination;
//   - a direction that fills its buffer twice in a row is moving bulk data
//     and switches to splice(2) through a pooled pipe, so the bytes never
//     cross into user space.
//
// Why this engine (issue 3). Measured with the shared compare.sh in tcp mode
// against HAProxy 2.6 (nbthread 1) on the 2-core test machine, which other
// jobs kept busy (load average 6 to 10): ratios lb/HAProxy, medians of 5
// alternated rounds of `MODES=tcp DUR=3 compare.sh BINARY 1`, each round
// running HAProxy then the candidate back to back:
//
//	engine                                   keepalive  close  bulk   rss
//	io.Copy per direction (splice), P=1      0.65       0.49   1.66   1.33
//	read/write with pooled 16K buffers, P=1  0.72       0.73   1.25   1.89
//	raw fds (this file), P=1                 1.11       0.74   1.70   1.38
//	raw fds, P=2                             1.64       0.99   2.77   1.29
//	raw fds + idle parking, P=1              1.26       0.75   2.61   1.01
//	raw fds + idle parking, P=2              1.21       0.80   1.92   1.02
//
// In lb itself (make bench, 7 alternated rounds of 4 s, same session, quieter machine):
//
//	version                                  keepalive  close  bulk   rss
//	read until EAGAIN after a short read     0.83       0.69   2.22   1.22
//	EPOLLRDHUP watcher (finwatch_linux.go)   0.92       0.70   2.03   1.18
//	watcher + RawSyscall read/write          1.05       0.76   2.17   1.22
//
// P is GOMAXPROCS. Absolute numbers moved by 3x between rounds, so only the
// ordering is trustworthy: the raw engine beats the io.Copy and buffered
// ones on requests, splice gives the bulk margin (HAProxy copies through
// its buffers without "option splice-*"), and parking (idle_linux.go)
// brings 2000 idle connections from 4000 goroutines to none. GOMAXPROCS 1
// and 2 are within noise of each other for requests.
//
// Connections are never closed while a copier may use their descriptor:
// aborting sets past deadlines, which wakes both copiers, and the session
// closes the sockets after both returned.

// rawFD is a connection's raw descriptor with its RawConn for waiting.
type rawFD struct {
	rc syscall.RawConn
	fd int
}

func rawOf(c net.Conn) (rawFD, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return rawFD{}, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return rawFD{}, false
	}
	r := rawFD{rc: rc, fd: -1}
	if err := rc.Control(func(fd uintptr) { r.fd = int(fd) }); err != nil || r.fd < 0 {
		return rawFD{}, false
	}
	return r, true
}

// spliceable reports whether splice(2) may be used between the two conns.
func spliceable(a, b net.Conn) bool {
	if noSplice.Load() {
		return false
	}
	return isTCP(a) && isTCP(b)
}

// isTCP reports whether c is a plain TCP connection (not TLS).
func isTCP(c net.Conn) bool {
	switch c.(type) {
	case *net.TCPConn, *tcpConn:
		return true
	}
	return false
}

// pipe is a pipe(2) pair used as splice's intermediate buffer.
type pipe struct{ r, w int }

// pipePool keeps empty pipes for reuse; pipes holding data are closed.
var pipePool struct {
	mu   sync.Mutex // guards free
	free []*pipe
}

const (
	pipePoolMax = 64
	// pipeSize is the capacity requested with F_SETPIPE_SZ: 256 KiB
	// moves more per splice than the default 64 KiB.
	pipeSize = 256 << 10
	// spliceMax is the length asked of each splice(2) call.
	spliceMax = 1 << 20
)

func getPipe() *pipe {
	pipePool.mu.Lock()
	if n := len(pipePool.free); n > 0 {
		p := pipePool.free[n-1]
		pipePool.free = pipePool.free[:n-1]
		pipePool.mu.Unlock()
		return p
	}
	pipePool.mu.Unlock()
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return nil
	}
	// Best effort: an unprivileged process may be capped by
	// /proc/sys/fs/pipe-max-size and keep the default size.
	_, _ = unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, pipeSize)
	return &pipe{r: fds[0], w: fds[1]}
}

func putPipe(p *pipe, inPipe int) {
	if inPipe == 0 {
		pipePool.mu.Lock()
		if len(pipePool.free) < pipePoolMax {
			pipePool.free = append(pipePool.free, p)
			pipePool.mu.Unlock()
			return
		}
		pipePool.mu.Unlock()
	}
	_ = unix.Close(p.r)
	_ = unix.Close(p.w)
}

// rawRead and rawWrite are read(2) and write(2) on non-blocking sockets
// without the runtime's entersyscall/exitsyscall: a call that cannot
// block never needs its P handed off.
func rawRead(fd int, b []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func rawWrite(fd int, b []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// writeNB writes b to fd without blocking; it returns what was written and
// unix.EAGAIN when the socket buffer is full.
func writeNB(fd int, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := rawWrite(fd, b[n:])
		if m > 0 {
			n += m
		}
		switch err {
		case nil:
		case unix.EINTR:
			continue
		default:
			return n, err
		}
	}
	return n, nil
}

// dirState is one direction's copy state.
type dirState struct {
	o        CopyOwner
	src, dst *Side
	sr, dr   rawFD
	total    int64
	buf      *[]byte // nil while idle
	pend     []byte  // read but not yet written, within *buf
	p        *pipe   // non-nil while splicing data
	inPipe   int     // bytes held in p
	fulls    int     // consecutive full-buffer reads
	splice   bool    // may switch to splice
	splicing bool    // switched to splice; d.p is taken while data flows
	rerr     error
	werr     error
	eof      bool
	// drained counts consecutive short reads whose re-read found the
	// source empty; watched is set once the source is registered with
	// the FIN watcher and short reads are trusted (finwatch_linux.go).
	drained int
	watched bool
	// limited says left counts the bytes still to copy: nothing is read
	// beyond them.
	limited bool
	left    int64
	end     CopyEnd
}

func copyDir(o CopyOwner, src, dst *Side, limit int64) (int64, CopyEnd) {
	sr, ok1 := rawOf(src.Conn)
	dr, ok2 := rawOf(dst.Conn)
	if !ok1 || !ok2 {
		return copyGeneric(o, src, dst, limit)
	}
	d := dirState{o: o, src: src, dst: dst, sr: sr, dr: dr, splice: spliceable(src.Conn, dst.Conn),
		limited: limit > 0, left: limit, end: CopyFailed}
	d.run()
	if d.watched {
		finW.unwatch(src)
	}
	if d.buf != nil {
		bufPool.Put(d.buf)
	}
	if d.p != nil {
		putPipe(d.p, d.inPipe)
	}
	return d.total, d.end
}

// run copies until the end; d.end says which. It stays CopyFailed unless
// the source ended or the limit was reached.
func (d *dirState) run() {
	o := d.o
	readFn := d.readable
	for {
		if len(d.pend) > 0 || d.inPipe > 0 {
			if !d.flush() {
				return
			}
		}
		if d.limited && d.left == 0 {
			d.end = CopyLimit
			return
		}
		d.rerr, d.werr, d.eof = nil, nil, false
		err := d.sr.rc.Read(readFn)
		switch {
		case o.Dead():
			return
		case d.werr != nil:
			o.Fail(errClass(o, d.dst, d.werr))
			return
		case d.rerr != nil:
			o.Fail(errClass(o, d.src, d.rerr))
			return
		case err != nil:
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if exp, dl := expired(o, d.src); !exp {
					_ = d.src.Conn.SetReadDeadline(dl)
					continue
				}
				o.Fail(d.src.TimeoutCode)
				return
			}
			o.Fail(d.src.AbortCode)
			return
		case d.eof:
			d.end = CopyEOF
			o.EndOfStream(d.dst)
			return
		}
		// Otherwise bytes are pending for dst, or the limit was
		// reached: flush them and look again.
	}
}

// readable is called by RawConn.Read with the source descriptor. It
// returns false to wait for the source to become readable, true to leave
// with d.eof, d.rerr, d.werr or bytes pending for the destination.
func (d *dirState) readable(fd uintptr) bool {
	reread := false // this read follows a short read
	for {
		if d.o.Dead() || d.limited && d.left == 0 {
			return true
		}
		if d.splicing {
			if d.p == nil {
				d.p = getPipe()
			}
			if d.p != nil {
				return d.spliceIn(int(fd))
			}
			d.splicing = false // out of pipes: copy through a buffer
		}
		if d.buf == nil {
			d.buf = bufPool.Get().(*[]byte)
		}
		buf := *d.buf
		if d.limited && int64(len(buf)) > d.left {
			buf = buf[:d.left]
		}
		n, err := rawRead(int(fd), buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			bufPool.Put(d.buf)
			d.buf = nil
			if reread {
				d.drained++
			}
			return false
		case err != nil:
			d.rerr = err
			return true
		case n == 0:
			d.eof = true
			return true
		}
		reread = false
		d.src.Touch()
		d.left -= int64(n)
		w, err := writeNB(d.dr.fd, buf[:n])
		d.total += int64(w)
		if w > 0 {
			d.dst.Touch()
		}
		if err != nil && err != unix.EAGAIN {
			d.werr = err
			return true
		}
		if w < n {
			d.pend = buf[w:n]
			return true
		}
		if n < len(buf) {
			// A short read is not trusted to have drained the socket:
			// a FIN that came with the data shows only on the next
			// read, and its poller edge may have merged with the one
			// that woke us. Read again until EAGAIN, unless the FIN
			// watcher covers that case (finwatch_linux.go): then wait
			// for the next edge or the watcher's poke, unless the
			// watcher already saw the FIN.
			d.fulls = 0
			if !d.src.rdhup.Load() && (d.watched || d.drained >= waitAfter && d.watch(int(fd))) {
				bufPool.Put(d.buf)
				d.buf = nil
				return false
			}
			reread = true
			continue
		}
		d.fulls++
		d.drained = 0
		if d.splice && d.fulls >= 2 {
			d.splicing = true
			bufPool.Put(d.buf)
			d.buf = nil
		}
	}
}

// watch registers the source with the FIN watcher and reports whether
// short reads may now be trusted.
func (d *dirState) watch(fd int) bool {
	w := getFinWatcher()
	if w == nil || !w.watch(d.src, fd) {
		d.drained = 0 // try again later, not on every read
		return false
	}
	d.watched = true
	return true
}

// spliceIn moves bytes from the source socket into the pipe and on to the
// destination, both with splice(2).
func (d *dirState) spliceIn(fd int) bool {
	for {
		if d.o.Dead() || d.limited && d.left == 0 {
			return true
		}
		ask := spliceMax
		if d.limited && d.left < spliceMax {
			ask = int(d.left)
		}
		n, err := unix.Splice(fd, nil, d.p.w, nil, ask, unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			// Unlike read(2), a short splice is not trusted to have
			// drained the socket: only EAGAIN parks the goroutine. The
			// pipe is empty here (it is drained before each read): give
			// it back, so that idle connections hold no pipe and the
			// per-user pipe budget (fs.pipe-user-pages-soft) goes to
			// active transfers.
			putPipe(d.p, 0)
			d.p = nil
			return false
		case err != nil:
			d.rerr = err
			return true
		case n == 0:
			d.eof = true
			return true
		}
		d.src.Touch()
		d.left -= n
		d.inPipe += int(n)
		if !d.spliceOut() {
			return true
		}
	}
}

// spliceOut drains the pipe into the destination without blocking and
// reports whether it emptied it (false also on error, see d.werr).
func (d *dirState) spliceOut() bool {
	for d.inPipe > 0 {
		m, err := unix.Splice(d.p.r, nil, d.dr.fd, nil, d.inPipe, unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
		if m > 0 {
			splicedBytes.Add(m)
			d.inPipe -= int(m)
			d.total += m
			d.dst.Touch()
		}
		switch err {
		case nil:
			if m == 0 {
				d.werr = unix.EPIPE
				return false
			}
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			d.werr = err
			return false
		}
	}
	return true
}

// flush writes the pending bytes (buffer or pipe) to the destination,
// waiting for it to drain under its timeout. It reports false when the
// session failed.
func (d *dirState) flush() bool {
	o := d.o
	for {
		if t := o.Timeout(d.dst); t > 0 {
			_ = d.dst.Conn.SetWriteDeadline(time.Now().Add(t))
		}
		d.werr = nil
		err := d.dr.rc.Write(func(fd uintptr) bool {
			if o.Dead() {
				return true
			}
			if d.p != nil {
				if d.spliceOut() {
					return true
				}
				return d.werr != nil
			}
			w, err := writeNB(int(fd), d.pend)
			d.total += int64(w)
			if w > 0 {
				d.dst.Touch()
			}
			d.pend = d.pend[w:]
			if err == unix.EAGAIN {
				return false
			}
			d.werr = err
			return true
		})
		switch {
		case o.Dead():
			return false
		case d.werr != nil:
			o.Fail(errClass(o, d.dst, d.werr))
			return false
		case err != nil:
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if exp, _ := expired(o, d.dst); !exp {
					continue
				}
				o.Fail(d.dst.TimeoutCode)
				return false
			}
			o.Fail(d.dst.AbortCode)
			return false
		}
		if len(d.pend) == 0 && d.inPipe == 0 {
			d.pend = nil
			if d.buf != nil {
				bufPool.Put(d.buf)
				d.buf = nil
			}
			return true
		}
	}
}
