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

// copyGeneric copies src to dst with blocking reads and writes, for
// connections that do not expose a file descriptor. It returns the bytes
// written to dst.
func (s *session) copyGeneric(src, dst *side) int64 {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var total int64
	for {
		nr, err := src.c.Read(buf)
		if nr > 0 {
			src.touch()
			if t := s.timeoutFor(dst); t > 0 {
				_ = dst.c.SetWriteDeadline(time.Now().Add(t))
			}
			nw, werr := dst.c.Write(buf[:nr])
			total += int64(nw)
			dst.touch()
			if werr != nil {
				s.fail(s.errClass(dst, werr))
				return total
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			s.forwardFIN(dst.c)
			return total
		case errors.Is(err, os.ErrDeadlineExceeded) && !s.aborted():
			if exp, dl := s.expired(src); !exp {
				_ = src.c.SetReadDeadline(dl)
				continue
			}
			s.fail(src.timeoutCode)
			return total
		default:
			s.fail(s.errClass(src, err))
			return total
		}
	}
}
