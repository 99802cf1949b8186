package proxy

import (
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Idle parking. A session whose client has sent nothing yet when the server
// connection is up (a pool of pre-opened connections, a server that speaks
// first, a client that is simply slow) does not get its two copier
// goroutines at once: both sockets are registered, one-shot, in a private
// epoll set and the session costs no goroutine and no stack until either
// side becomes readable, a timeout is due or the session is killed. The
// private epoll descriptor is itself watched by the runtime's poller, so no
// thread blocks in epoll_wait.
//
// Measured on the benchmark's 2000 idle client connections, parking takes
// the process from about 27 MiB RSS (4000 goroutines parked in the runtime
// poller, 2 KiB of stack each plus their g) to about 15 MiB.
//
// Parking belongs to the Conn, not to the session: it registers one or two
// descriptors under one id and calls a resume function when any of them is
// readable, the due time passes or the Conn is killed. The TCP session
// parks both its sockets and resumes by starting its copiers; Conn.Park
// parks the client socket alone, for a keep-alive client between requests.

// idlePoller is the process-wide set of parked connections.
type idlePoller struct {
	set *epollSet
	// mu guards conns and serialises registration against wake-up, so
	// that a wake-up never runs between the EPOLL_CTL_ADDs of a
	// connection.
	mu     sync.Mutex
	conns  map[uint64]*Conn
	nextID uint64
}

var (
	idleOnce sync.Once
	idle     *idlePoller // nil when the epoll set could not be created
)

func getIdlePoller() *idlePoller {
	idleOnce.Do(func() {
		p := &idlePoller{conns: make(map[uint64]*Conn)}
		if p.set = newEpollSet("lb-idle-epoll", p.wake); p.set != nil {
			idle = p
		}
	})
	return idle
}

// wake unparks the connection registered as id.
func (p *idlePoller) wake(id uint64) {
	p.mu.Lock()
	c := p.conns[id]
	p.mu.Unlock()
	if c != nil {
		c.unpark()
	}
}

// tryPark parks s if its client has nothing to read yet. It reports false
// when the copiers must start now.
func (s *session) tryPark() bool {
	p := getIdlePoller()
	if p == nil {
		return false
	}
	cr, ok1 := rawOf(s.cli.Conn)
	sr, ok2 := rawOf(s.srvs.Conn)
	if !ok1 || !ok2 {
		return false
	}
	if !idleFD(cr.fd) {
		return false // data, EOF or an error: let the copiers see it
	}
	// Wake up when the first timeout is due, so that the copiers find it
	// expired and end the session as usual.
	var due time.Time
	for _, sd := range []*Side{&s.cli, &s.srvs} {
		if dl := s.Deadline(sd); !dl.IsZero() && (due.IsZero() || dl.Before(due)) {
			due = dl
		}
	}
	return s.c.park(p, [2]int{cr.fd, sr.fd}, 2, due, s.startCopiers)
}

// canPark reports whether parkClient may take c, but for what its client
// sends meanwhile: there is an idle poller, and a socket of c's own.
func (c *Conn) canPark() bool {
	if getIdlePoller() == nil {
		return false
	}
	s := c.c
	if c.sock != nil {
		s = c.sock // see tls.go
	}
	_, ok := rawOf(s)
	return ok
}

// parkClient parks c's client socket alone: a keep-alive client between
// two requests has no server connection.
func (c *Conn) parkClient(due time.Time, resume func()) bool {
	p := getIdlePoller()
	if p == nil {
		return false
	}
	s := c.c
	if c.sock != nil {
		s = c.sock // see tls.go
	}
	r, ok := rawOf(s)
	if !ok || !idleFD(r.fd) {
		return false
	}
	return c.park(p, [2]int{r.fd}, 1, due, resume)
}

// idleFD reports whether the socket fd has nothing to read: no data, no
// end of stream, no error. It peeks with recvfrom(2) itself: unix.Recvfrom
// allocates the peer's address on each call (twice per keep-alive request:
// the client's wait, the idle server connection's check), and without the
// runtime's entersyscall, as a peek that does not wait cannot block.
func idleFD(fd int) bool {
	var b [1]byte
	_, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), 1,
		unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	return errno == unix.EAGAIN
}

// park registers the first n of fds for c in p until one is readable, due
// passes (zero: never) or c is killed; then resume runs once. It reports
// false, resume not called, when the registration failed.
func (c *Conn) park(p *idlePoller, fds [2]int, n int, due time.Time, resume func()) bool {
	if !c.register(p, fds, n, due, resume) {
		return false
	}
	if c.dead.Load() {
		// Killed while parking: abort's unpark may have run before
		// parked was set.
		c.unpark()
	}
	return true
}

// register adds c to p, taking p.mu, and reports whether it did.
func (c *Conn) register(p *idlePoller, fds [2]int, n int, due time.Time, resume func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextID++
	id := p.nextID
	c.parkID = id
	c.resume = resume
	p.conns[id] = c
	c.parked.Store(true)
	const events = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT
	for i, fd := range fds[:n] {
		if err := p.set.add(fd, events, id); err != nil {
			for _, added := range fds[:i] {
				p.set.del(added)
			}
			delete(p.conns, id)
			c.parked.Store(false)
			c.resume = nil
			return false
		}
	}
	c.parkFDs, c.parkN = fds, n
	if !due.IsZero() {
		// Through the id, as the epoll events: a timer that fires late,
		// after c was resumed and parked again, finds nothing to wake.
		c.parkTimer = time.AfterFunc(time.Until(due), func() { p.wake(id) })
	}
	return true
}

// unpark ends the parking of c, if parked, and calls its resume function.
// Safe from any goroutine; only the first caller acts.
func (c *Conn) unpark() {
	if !c.parked.CompareAndSwap(true, false) {
		return
	}
	p := idle
	p.mu.Lock()
	if c.parkTimer != nil {
		c.parkTimer.Stop()
		c.parkTimer = nil
	}
	delete(p.conns, c.parkID)
	for _, fd := range c.parkFDs[:c.parkN] {
		p.set.del(fd)
	}
	resume := c.resume
	c.resume = nil
	p.mu.Unlock()
	resume()
}

// parkedSessions returns how many connections are parked (for tests).
func parkedSessions() int {
	p := getIdlePoller()
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}
