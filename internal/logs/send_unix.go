//go:build unix

package logs

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// fdWriter writes messages to a file descriptor from its own goroutine, so
// that a slow pipe or terminal never blocks the caller: the queue is
// bounded and a full queue drops. The fd is not owned and never closed
// (stdout, stderr or an inherited fd@N).
//
// The queue is never closed: sessions still finishing on other goroutines may log while the
// process stops, and a send on a closed channel would panic. close signals stop instead, and
// the writer drains what is queued at that moment.
type fdWriter struct {
	fd    int
	queue chan []byte
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newFDWriter(fd, n int) *fdWriter {
	w := &fdWriter{fd: fd, queue: make(chan []byte, n), stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// send copies b into the queue.
func (w *fdWriter) send(b []byte) error {
	select {
	case w.queue <- append([]byte(nil), b...):
		return nil
	default:
		return errQueueFull
	}
}

// run writes each message with one write(2), which is atomic on pipes up
// to PIPE_BUF, as HAProxy does for fd targets.
func (w *fdWriter) run() {
	defer close(w.done)
	for {
		select {
		case b := <-w.queue:
			w.write(b)
		case <-w.stop:
			for {
				select {
				case b := <-w.queue:
					w.write(b)
				default:
					return
				}
			}
		}
	}
}

func (w *fdWriter) write(b []byte) {
	for len(b) > 0 {
		n, err := unix.Write(w.fd, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n <= 0 {
			return
		}
		b = b[n:]
	}
}

func (w *fdWriter) close() {
	w.once.Do(func() { close(w.stop) })
	select {
	case <-w.done:
	case <-time.After(time.Second):
	}
}

// dgram is a connected datagram socket to a syslog server, written with
// MSG_DONTWAIT so that a full socket buffer drops the message instead of
// blocking. Unix paths are (re)connected lazily, at most once a second.
type dgram struct {
	network, addr string
	redial        bool

	conn atomic.Pointer[dgramConn] // nil while disconnected

	mu       sync.Mutex // guards lastDial and serialises redials
	lastDial time.Time
}

func dialDgram(network, addr string, lazy bool) (send func([]byte) error, stop func(), err error) {
	d := &dgram{network: network, addr: addr, redial: lazy}
	if err := d.dial(); err != nil && !lazy {
		return nil, nil, err
	}
	return d.send, d.close, nil
}

// dgramConn is a connected socket with its raw access, fetched once since
// SyscallConn allocates.
type dgramConn struct {
	c  net.Conn
	rc syscall.RawConn
}

func (d *dgram) dial() error {
	d.lastDial = time.Now()
	c, err := net.Dial(d.network, d.addr)
	if err != nil {
		return err
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		c.Close()
		return errNotConnected
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		c.Close()
		return err
	}
	d.conn.Store(&dgramConn{c: c, rc: rc})
	return nil
}

var errNotConnected = errors.New("log socket not connected")

func (d *dgram) send(b []byte) error {
	cp := d.conn.Load()
	if cp == nil {
		if !d.redial {
			return errNotConnected
		}
		d.mu.Lock()
		if d.conn.Load() == nil && time.Since(d.lastDial) >= time.Second {
			d.dial()
		}
		d.mu.Unlock()
		if cp = d.conn.Load(); cp == nil {
			return errNotConnected
		}
	}
	err := sendNoWait(cp.rc, b)
	if err != nil && d.redial && (errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.ENOTCONN) || errors.Is(err, unix.ENOENT)) {
		// The syslog daemon went away (restarted): reconnect later.
		if d.conn.CompareAndSwap(cp, nil) {
			cp.c.Close()
		}
	}
	return err
}

func (d *dgram) close() {
	if cp := d.conn.Swap(nil); cp != nil {
		cp.c.Close()
	}
}

// sendNoWait sends one datagram without ever parking the goroutine.
func sendNoWait(rc syscall.RawConn, b []byte) error {
	var serr error
	err := rc.Write(func(fd uintptr) bool {
		for {
			serr = unix.Send(int(fd), b, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
			if serr != unix.EINTR {
				return true // never wait for writability: EAGAIN drops
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}
