package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// bufSize is the copy buffer size, HAProxy's default tune.bufsize.
const bufSize = 16384

// noSplice is EngineConfig.NoSplice: splice(2) is not used.
var noSplice atomic.Bool

// splicedBytes counts the bytes moved by splice(2), for tests and stats.
var splicedBytes atomic.Int64

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// poke wakes a goroutine waiting to read c with a past read deadline; the
// copiers then check the session's own deadline and set it again.
func poke(c net.Conn) { _ = c.SetReadDeadline(time.Unix(1, 0)) }

// closeWriter is implemented by *net.TCPConn and *net.UnixConn.
type closeWriter interface{ CloseWrite() error }

// closeWrite forwards a FIN; conns without half-close are left open until
// the session ends.
func closeWrite(c net.Conn) {
	if cw, ok := c.(closeWriter); ok {
		_ = cw.CloseWrite()
	}
}

// Side is one end of an exchange as the copier sees it: a connection,
// its inactivity timeouts, its last activity and the termination letters
// it ends with. The owner fills in the exported fields before copying; the
// rest is the copier's.
type Side struct {
	// Conn is the connection.
	Conn net.Conn
	// Timeout and FinTimeout are the inactivity timeouts before and after
	// either direction is shut (0: none). The copier does not read them:
	// its owner's Timeout and Deadline do.
	Timeout, FinTimeout time.Duration
	// TimeoutCode and AbortCode are the termination letters passed to
	// CopyOwner.Fail when this side times out or fails.
	TimeoutCode, AbortCode byte

	// last is the UnixNano time of the last read or write on this side:
	// writing to a side refreshes its read timeout too, as HAProxy does
	// without "option independent-streams".
	last atomic.Int64
	// rdhup is set when the FIN watcher (finwatch_linux.go) saw the
	// peer shut its side; watchID (0: not watched) and watchFD are owned
	// by the copier reading this side.
	rdhup   atomic.Bool
	watchID uint64
	watchFD int
}

// Touch records activity on sd now.
func (sd *Side) Touch() { sd.last.Store(time.Now().UnixNano()) }

// LastActive returns the time of the last read or write on sd, as
// UnixNano.
func (sd *Side) LastActive() int64 { return sd.last.Load() }

// CopyOwner is what the copier needs from the exchange it copies for (the
// TCP session; an HTTP transaction's body or tunnel): its timeouts, its
// abort state, and what to do on a failure or an end of stream.
type CopyOwner interface {
	// Dead reports whether the exchange was aborted. The copier checks it
	// between reads and after every wake-up, so it must be cheap.
	Dead() bool
	// Timeout returns the inactivity timeout in force on sd (0: none);
	// it bounds each wait to write to sd.
	Timeout(sd *Side) time.Duration
	// Deadline returns when sd expires given its last activity (zero:
	// never); the copier waits to read sd until then, and fails with
	// sd.TimeoutCode once it passed.
	Deadline(sd *Side) time.Time
	// Fail ends the exchange abnormally with termination letter code (0
	// when it was aborted already). It must wake whatever else copies on
	// the same sockets, with past deadlines.
	Fail(code byte)
	// EndOfStream is called when src ended cleanly (before the limit):
	// pass it on to dst, with a FIN, as the exchange requires.
	EndOfStream(dst *Side)
}

// CopyEnd says how a Copy ended.
type CopyEnd uint8

const (
	// CopyEOF: the source ended cleanly; EndOfStream was called.
	CopyEOF CopyEnd = iota
	// CopyLimit: the limit was reached; nothing was read beyond it and
	// both sides are left as they are.
	CopyLimit
	// CopyFailed: an error, a timeout or an abort; Fail was called
	// unless the owner was dead already.
	CopyFailed
)

// Copy copies src to dst until the source ends, limit bytes were copied
// (limit <= 0: no limit) or the exchange fails, and returns the bytes
// written to dst. It blocks; run one Copy per direction on its own
// goroutine. Sockets that expose their descriptor are driven raw, with
// splice(2) for bulk data (copy_linux.go); others with plain reads and
// writes. The copier never closes a connection.
func Copy(o CopyOwner, src, dst *Side, limit int64) (int64, CopyEnd) {
	return copyDir(o, src, dst, limit)
}

// expired reports whether sd has been idle past its deadline; when not, it
// returns the deadline to wait for next.
func expired(o CopyOwner, sd *Side) (bool, time.Time) {
	dl := o.Deadline(sd)
	if dl.IsZero() {
		return false, dl
	}
	return !time.Now().Before(dl), dl
}

// errClass maps a copy error on sd to its termination letter: a deadline
// the owner did not set to abort is a timeout.
func errClass(o CopyOwner, sd *Side, err error) byte {
	if o.Dead() {
		return 0
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return sd.TimeoutCode
	}
	return sd.AbortCode
}

// copyGeneric copies src to dst with blocking reads and writes, for
// connections that do not expose a file descriptor. It returns the bytes
// written to dst.
func copyGeneric(o CopyOwner, src, dst *Side, limit int64) (int64, CopyEnd) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var total int64
	for {
		if limit > 0 {
			left := limit - total
			if left == 0 {
				return total, CopyLimit
			}
			if int64(len(buf)) > left {
				buf = buf[:left]
			}
		}
		nr, err := src.Conn.Read(buf)
		if nr > 0 {
			src.Touch()
			if t := o.Timeout(dst); t > 0 {
				_ = dst.Conn.SetWriteDeadline(time.Now().Add(t))
			}
			nw, werr := dst.Conn.Write(buf[:nr])
			total += int64(nw)
			dst.Touch()
			if werr != nil {
				o.Fail(errClass(o, dst, werr))
				return total, CopyFailed
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			o.EndOfStream(dst)
			return total, CopyEOF
		case errors.Is(err, os.ErrDeadlineExceeded) && !o.Dead():
			if exp, dl := expired(o, src); !exp {
				_ = src.Conn.SetReadDeadline(dl)
				continue
			}
			o.Fail(src.TimeoutCode)
			return total, CopyFailed
		default:
			o.Fail(errClass(o, src, err))
			return total, CopyFailed
		}
	}
}
