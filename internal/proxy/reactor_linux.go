package proxy

import (
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The event loops ("threads", HAProxy's nbthread). A frontend of the TCP
// handler whose connections need no data before a server is chosen (no
// accept-proxy, no tcp-request content rules) is served here instead of by
// goroutines: each loop is one goroutine locked to its OS thread (pinned by
// cpu-map when asked), with its own edge-triggered epoll set, a min-heap of
// timers and a mailbox. A connection is a state machine (rconn_linux.go)
// that costs no goroutine, no stack and no buffer while idle: one object of
// 816 bytes (its Conn included), against a goroutine-per-direction
// engine's two stacks. With 2000 idle connections (make bench) the process
// holds 13.3 to 15 MB RSS, HAProxy 2.6 21.5 MB, the goroutine engine 29 to 32 MB.
//
// Why. With goroutines on Go's poller, a connection-per-request cost 30.5
// system calls (strace -c) and about 1.3 times HAProxy's CPU: keep-alive
// setsockopts on every accepted socket, getsockname/getpeername twice,
// the poller's EPOLL_CTL_ADD/DEL pairs, a blocking dial through the
// resolver's code path, deadlines (runtime timers) set and cleared per
// read, and goroutine hand-offs between the accept loop, the set-up worker
// and two copiers. Here a connection costs accept4, socket, setsockopt
// (TCP_NODELAY, which accepted sockets inherit from their listener),
// connect, two EPOLL_CTL_ADDs, the reads and writes, a shutdown and two
// closes: 14 system calls with a request and a response (HAProxy 2.6:
// 17.7). Timeouts are timestamps, checked when a connection's heap entry
// falls due.
//
// What that bought, measured by CPU time per request of the proxy alone
// (same load, loopback, nbthread 1): a connection per request 86 us with
// goroutines, 68 us here, HAProxy 65 to 68 us; most of it is the kernel's
// TCP work, which the proxy cannot shed (95 % of lb's samples under perf).
//
// All loops watch every listener (EPOLLEXCLUSIVE when there are several):
// the kernel wakes one loop per incoming connection, which then owns it to
// the end. A connection is only ever touched by its loop; other goroutines
// (kills, binding stops, freed maxconn slots) post messages to it.

// loopMsg is a request posted to a loop by another goroutine.
type loopMsg struct {
	kind uint8
	x    *rconn
	lb   *lbind
	ack  chan struct{}
	srv  *Server // msgServer
}

const (
	msgKill   uint8 = iota // x was killed (Conn.Kill): end it
	msgListen              // start watching lb's listener
	msgStop                // stop watching lb's listener for good; close ack
	msgResume              // a maxconn slot freed: watch lb's listener again
	msgQuit                // exit once no connection and no listener is left
	msgConn                // start x, accepted by another loop
	msgServer              // queued x got a slot on srv
)

// fdEntry maps a registered descriptor to what owns it; gen tells a stale
// event (a descriptor closed and reused within one epoll_wait batch) from
// a current one.
type fdEntry struct {
	x    *rconn
	lb   *lbind
	gen  uint32
	side uint8 // sideClient or sideServer for x
}

const (
	sideClient uint8 = iota
	sideServer
)

// lbTimer is a listener's wake-up after a resource error.
type lbTimer struct {
	at int64
	lb *lbind
}

// loop is one event loop.
type loop struct {
	e    *Engine
	id   int
	epfd int
	evfd int
	cpus *unix.CPUSet // nil: no affinity
	// act is what "show activity" shows of the loop: written by the
	// loop, read by the runtime API.
	act loopActivity
	// exited is set when run returns (procs.go stops watching the loop).
	exited atomic.Bool
	// park is how the loop waits without the spare P (loopwait_linux.go);
	// nil: it always blocks in epoll_wait.
	park *loopPark

	mu    sync.Mutex // guards inbox
	inbox []loopMsg

	fds []fdEntry
	gen uint32
	// timers is a min-heap of the connections with a due time, each in
	// it once (rconn.tidx); lbTimers the listeners to watch again.
	timers   []*rconn
	lbTimers []lbTimer
	runq     []*rconn // connections with work left after their budget
	runq2    []*rconn // runq's spare, swapped in while runq runs
	events   []unix.EpollEvent
	// shutq are connections with a FIN to send (rconn.eof); those queued
	// before an epoll_wait send it after.
	shutq   []*rconn
	now     int64   // UnixNano, refreshed after each epoll_wait
	scratch *[]byte // read buffer; a blocked direction takes it over
	nconns  int
	// load is the loop's connections, those posted to it included, read
	// by the other loops to spread new connections.
	load   atomic.Int32
	nbinds int
	quit   bool

	// Scratch space for raw system calls and the backend chooser, owned
	// by the loop goroutine.
	rsa  unix.RawSockaddrAny
	rlen uint32
	info ConnInfo
}

// lbind is one listener as one loop watches it.
type lbind struct {
	l     *loop
	b     *Binding
	fd    int
	local netip.AddrPort // the listener's address when it is not a wildcard
	// watched says fd is in the loop's epoll set; paused that it was taken
	// out for want of a maxconn slot (msgResume puts it back) or after a
	// resource error (a timer does); stopped is final.
	watched, paused, stopped bool
}

// reactor is an engine's set of loops, started with its first eligible
// frontend.
type reactor struct {
	loops []*loop
	once  sync.Once
	err   error
}

func (e *Engine) startReactor() error {
	r := &e.rx
	r.once.Do(func() {
		n := e.cfg.Threads
		if n <= 0 {
			n = runtime.NumCPU()
		}
		for i := 0; i < n; i++ {
			l, err := newLoop(e, i)
			if err != nil {
				r.err = err
				for _, l := range r.loops {
					l.post(loopMsg{kind: msgQuit})
				}
				r.loops = nil
				return
			}
			if i < len(e.cfg.CPUs) && len(e.cfg.CPUs[i]) > 0 {
				var set unix.CPUSet
				for _, c := range e.cfg.CPUs[i] {
					set.Set(c)
				}
				l.cpus = &set
			}
			r.loops = append(r.loops, l)
			go l.run()
		}
		manageProcs(r.loops)
	})
	return r.err
}

func newLoop(e *Engine, id int) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	l := &loop{e: e, id: id, epfd: epfd, evfd: evfd, scratch: bufPool.Get().(*[]byte), events: make([]unix.EpollEvent, 256)}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(evfd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	l.entry(evfd) // reserve the slot
	l.park = newLoopPark()
	return l, nil
}

// post queues m for l and wakes it.
func (l *loop) post(m loopMsg) {
	l.mu.Lock()
	first := len(l.inbox) == 0
	l.inbox = append(l.inbox, m)
	l.mu.Unlock()
	if first {
		one := uint64(1)
		_, _ = unix.Write(l.evfd, (*[8]byte)(unsafe.Pointer(&one))[:])
	}
}

// entry returns fd's slot, growing the table as needed.
func (l *loop) entry(fd int) *fdEntry {
	if fd >= len(l.fds) {
		n := max(2*len(l.fds), fd+1, 64)
		fds := make([]fdEntry, n)
		copy(fds, l.fds)
		l.fds = fds
	}
	return &l.fds[fd]
}

// register adds fd to the epoll set for x's side, edge-triggered for reads,
// writes and the peer's shutdown.
func (l *loop) register(fd int, x *rconn, side uint8) error {
	l.gen++
	en := l.entry(fd)
	*en = fdEntry{x: x, gen: l.gen, side: side}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd), Pad: int32(l.gen)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		*en = fdEntry{}
		return err
	}
	return nil
}

// forget clears fd's slot; closing fd takes it out of the epoll set.
func (l *loop) forget(fd int) {
	if fd >= 0 && fd < len(l.fds) {
		l.fds[fd] = fdEntry{}
	}
}

// watch adds lb's listener to the epoll set, level-triggered: a loop that
// leaves connections in the backlog is woken again.
func (l *loop) watch(lb *lbind) {
	if lb.watched || lb.stopped {
		return
	}
	l.gen++
	en := l.entry(lb.fd)
	*en = fdEntry{lb: lb, gen: l.gen}
	events := uint32(unix.EPOLLIN)
	if len(l.e.rx.loops) > 1 {
		events |= unix.EPOLLEXCLUSIVE
	}
	ev := unix.EpollEvent{Events: events, Fd: int32(lb.fd), Pad: int32(l.gen)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, lb.fd, &ev); err != nil {
		*en = fdEntry{}
		l.e.log.Warn("listener", "bind", lb.b.cfg.Name, "error", os.NewSyscallError("epoll_ctl", err))
		return
	}
	lb.watched, lb.paused = true, false
}

// unwatch takes lb's listener out of the epoll set.
func (l *loop) unwatch(lb *lbind) {
	if !lb.watched {
		return
	}
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, lb.fd, nil)
	if lb.fd < len(l.fds) && l.fds[lb.fd].lb == lb {
		l.fds[lb.fd] = fdEntry{}
	}
	lb.watched = false
}

// timerSet puts x in the heap due at at, or moves it earlier.
func (l *loop) timerSet(x *rconn, at int64) {
	if x.tidx == 0 {
		l.timers = append(l.timers, x)
		x.tidx = int32(len(l.timers))
	} else if at >= x.timerAt {
		return
	}
	x.timerAt = at
	l.timerUp(int(x.tidx) - 1)
}

// timerDel takes x out of the heap.
func (l *loop) timerDel(x *rconn) {
	if x.tidx == 0 {
		return
	}
	i, n := int(x.tidx)-1, len(l.timers)-1
	x.tidx = 0
	if i != n {
		l.timers[i] = l.timers[n]
		l.timers[i].tidx = int32(i + 1)
	}
	l.timers[n] = nil
	l.timers = l.timers[:n]
	if i != n {
		l.timerDown(i)
		l.timerUp(i)
	}
}

func (l *loop) timerSwap(i, j int) {
	h := l.timers
	h[i], h[j] = h[j], h[i]
	h[i].tidx, h[j].tidx = int32(i+1), int32(j+1)
}

func (l *loop) timerUp(i int) {
	h := l.timers
	for i > 0 {
		p := (i - 1) / 2
		if h[p].timerAt <= h[i].timerAt {
			return
		}
		l.timerSwap(i, p)
		i = p
	}
}

func (l *loop) timerDown(i int) {
	h := l.timers
	n := len(h)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && h[c+1].timerAt < h[c].timerAt {
			c++
		}
		if h[i].timerAt <= h[c].timerAt {
			return
		}
		l.timerSwap(i, c)
		i = c
	}
}

// nextDue returns the earliest due time, 0 when nothing is due.
func (l *loop) nextDue() int64 {
	var at int64
	if len(l.timers) > 0 {
		at = l.timers[0].timerAt
	}
	for _, t := range l.lbTimers {
		if at == 0 || t.at < at {
			at = t.at
		}
	}
	return at
}

// expire runs what fell due.
func (l *loop) expire() {
	for len(l.timers) > 0 && l.timers[0].timerAt <= l.now {
		x := l.timers[0]
		l.timerDel(x)
		if x.state != stDone && x.state != stHanded {
			x.onTimer()
		}
	}
	if len(l.lbTimers) > 0 {
		keep := l.lbTimers[:0]
		for _, t := range l.lbTimers {
			switch {
			case t.at > l.now:
				keep = append(keep, t)
			case t.lb.paused && !t.lb.stopped:
				l.watch(t.lb)
			}
		}
		l.lbTimers = keep
	}
}

// run is the loop's goroutine, locked to its OS thread (pinned there by
// cpu-map) and blocking in epoll_wait itself, as HAProxy's threads do.
//
// Measured under keep-alive load (3 s runs, GOMAXPROCS one more than the
// loops): a loop that parks its goroutine in the runtime's poller when its
// set is empty, instead of blocking, wakes through another thread and ran
// 5 % slower with 30 % more context switches; unlocked, it ran as fast but
// moved between threads. Blocking needs the spare P that busy loops get
// (procs.go): with none idle, the runtime's monitor takes the P of any
// system call longer than 20 us, and keeps waking every 20 us to do so
// (twice HAProxy's context switches, 10 % of the request rate).
func (l *loop) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if l.cpus != nil {
		if err := unix.SchedSetaffinity(0, l.cpus); err != nil {
			l.e.log.Warn("cpu-map", "thread", l.id+1, "error", err)
		}
	}
	var sched int64
	for {
		if l.now-sched >= schedEvery {
			// Through the scheduler (see schedEvery).
			sched = l.now
			runtime.Gosched()
		}
		wait := -1
		if !l.idle() {
			wait = 0
		} else if at := l.nextDue(); at != 0 {
			d := at - time.Now().UnixNano()
			wait = int(max(0, min((d+999_999)/1_000_000, 60_000)))
		}
		if l.iterate(wait) {
			_ = unix.Close(l.epfd)
			l.exit()
			l.exited.Store(true)
			return
		}
	}
}

// schedEvery is how often a loop goes through the runtime's scheduler
// (runtime.Gosched). A loop that only ever comes back from its system calls
// to the P it had never does, and the runtime's monitor then sees one
// goroutine running for more than 10 ms (forcePreemptNS): it takes the P
// from the loop's next system call, every 10 ms, and each time it does, it
// goes back to waking every 20 us for a while. Measured under a connection
// per request at nbthread 2 (3 s runs): the monitor woke 1900 times a
// second and took 3% of a CPU; with the loops through the scheduler every
// 5 ms, 150 times, and the CPU per connection went from 74.4 to 69.6 us
// (medians of 5 alternated runs; keep-alive 13.5 to 13.1 us a request).
// At nbthread 1 (medians of 4 alternated rounds, without and with):
// CPU per closed connection 72.2 and 70.9 us, keep-alive 47.4 k and 49.1 k
// requests/s, p99 2.15 and 1.93 ms. A turn through the scheduler costs a
// locked goroutine two thread wake-ups: the loop stands still for 100 to
// 125 us on average (2.7 ms at most seen, on this loaded 2-CPU machine)
// while another thread takes its P and hands it back; every 9 ms measured
// the same as every 5, and an unlocked loop stood still 36 us (but a loop
// must stay on its thread for cpu-map).
const schedEvery = 5 * int64(time.Millisecond)

// idle reports whether the loop has no work queued of its own.
func (l *loop) idle() bool { return len(l.runq) == 0 && len(l.shutq) == 0 }

// iterate waits for events up to wait ms (-1: no limit, 0: none), handles
// them, then the connections queued, the FINs deferred before the wait
// and the timers due. It reports whether the loop is to exit (quit, with
// no connection and no listener left).
func (l *loop) iterate(wait int) bool {
	shutMark := len(l.shutq)
	var n int
	var err error
	if wait != 0 && l.park != nil && procNoSpare.Load() {
		n, err = l.park.wait(l, wait)
	} else {
		n, err = unix.EpollWait(l.epfd, l.events, wait)
	}
	l.act.loops.Add(1)
	switch {
	case n > 0:
		l.act.pollIO.Add(1)
	case n == 0 && wait > 0:
		l.act.pollExp.Add(1)
	}
	if err != nil && err != unix.EINTR {
		l.e.log.Error("epoll_wait", "thread", l.id+1, "error", err)
		time.Sleep(10 * time.Millisecond) // never spin on a broken poller
	}
	l.now = time.Now().UnixNano()
	for i := 0; i < n; i++ {
		ev := &l.events[i]
		fd := int(ev.Fd)
		if fd == l.evfd {
			l.drainInbox()
			continue
		}
		if fd >= len(l.fds) {
			continue
		}
		en := &l.fds[fd]
		if en.gen != uint32(ev.Pad) {
			continue // stale: closed and reused since
		}
		switch {
		case en.x != nil:
			en.x.onEvent(en.side, ev.Events)
		case en.lb != nil:
			l.accept(en.lb)
		}
	}
	if shutMark > 0 {
		for _, x := range l.shutq[:shutMark] {
			x.sendFINs()
		}
		k := copy(l.shutq, l.shutq[shutMark:])
		clear(l.shutq[k:])
		l.shutq = l.shutq[:k]
	}
	if len(l.runq) > 0 {
		// Swap: a connection run now may queue itself again.
		q := l.runq
		l.runq, l.runq2 = l.runq2[:0], q
		for i, x := range q {
			q[i] = nil
			x.queued = false
			if x.state == stCopying {
				x.run()
			}
		}
	}
	l.expire()
	return l.quit && l.nconns == 0 && l.nbinds == 0
}

// exit frees what the loop holds but its epoll descriptor, which the
// caller closes.
func (l *loop) exit() {
	_ = unix.Close(l.evfd)
	if l.park != nil {
		l.park.close()
	}
	bufPool.Put(l.scratch)
	l.scratch = nil
}

func (l *loop) drainInbox() {
	var b [8]byte
	_, _ = unix.Read(l.evfd, b[:])
	l.mu.Lock()
	in := l.inbox
	l.inbox = nil
	l.mu.Unlock()
	for _, m := range in {
		switch m.kind {
		case msgKill:
			if m.x.l == l && m.x.state != stDone {
				m.x.fail(0)
			}
		case msgListen:
			l.nbinds++
			l.watch(m.lb)
		case msgStop:
			if !m.lb.stopped {
				l.unwatch(m.lb)
				m.lb.stopped = true
				l.nbinds--
			}
			close(m.ack)
		case msgResume:
			if m.lb.paused && !m.lb.stopped {
				l.watch(m.lb)
			}
		case msgQuit:
			l.quit = true
		case msgConn:
			m.x.start()
		case msgServer:
			m.x.onServer(m.srv)
		}
	}
}

// serveReactor serves b on the engine's loops when its frontend and
// listener allow it, and reports whether it did.
func (f *Frontend) serveReactor(b *Binding) bool {
	if _, ok := f.handler.(tcpHandler); !ok || b.cfg.AcceptProxy || b.cfg.TLS != nil || f.eng.cfg.Goroutines {
		return false
	}
	if r := f.cfg.Rules; r != nil && r.NeedsContent() {
		return false
	}
	ta, ok := b.ln.Addr().(*net.TCPAddr)
	if !ok {
		return false
	}
	var rc syscall.RawConn
	var err error
	switch ln := b.ln.(type) {
	case *net.TCPListener:
		rc, err = ln.SyscallConn()
	case interface{ File() *os.File }: // listener.Listener
		rc, err = ln.File().SyscallConn()
	default:
		return false
	}
	if err != nil {
		return false
	}
	fd := -1
	if rc.Control(func(s uintptr) { fd = int(s) }) != nil || fd < 0 {
		return false
	}
	b.pz, _ = b.ln.(pauser)
	if err := f.eng.startReactor(); err != nil {
		f.log.Warn("event loops unavailable, serving with goroutines", "frontend", f.cfg.Name, "error", err)
		return false
	}
	// The loops accept from the socket: the runtime poller stops watching it,
	// or each connection would also wake one of the runtime's threads.
	if d, ok := b.ln.(interface{ Detach() error }); ok {
		if err := d.Detach(); err != nil {
			f.log.Debug("listener still watched by the runtime poller", "frontend", f.cfg.Name, "error", err)
		}
	}
	// Accepted sockets inherit TCP_NODELAY from their listener (as Go's
	// accept sets it on each): one setsockopt here instead of one per
	// connection.
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	var local netip.AddrPort
	if !ta.IP.IsUnspecified() {
		local = ta.AddrPort()
	}
	for _, l := range f.eng.rx.loops {
		lb := &lbind{l: l, b: b, fd: fd, local: local}
		b.lbs = append(b.lbs, lb)
		l.post(loopMsg{kind: msgListen, lb: lb})
	}
	return true
}

// stopReactor stops b's loops watching its listener and waits until they
// did.
func (b *Binding) stopReactor() {
	for _, lb := range b.lbs {
		ack := make(chan struct{})
		lb.l.post(loopMsg{kind: msgStop, lb: lb, ack: ack})
		<-ack
	}
	b.f.eng.unpause(b)
}

// pauser is a listener that can be paused (listener.Listener: SIGTTOU):
// the loops stop accepting from it until it resumes.
type pauser interface {
	Paused() bool
	Resumed() <-chan struct{}
}

// waitResume takes lb's listener out of the epoll set while it is paused,
// and puts it back when it resumes.
func (l *loop) waitResume(lb *lbind) {
	l.unwatch(lb)
	lb.paused = true
	ch := lb.b.pz.Resumed()
	if ch == nil {
		l.post(loopMsg{kind: msgResume, lb: lb})
		return
	}
	go func() {
		<-ch
		l.post(loopMsg{kind: msgResume, lb: lb})
	}()
}

// Close stops the engine's event loops once their connections ended and
// their listeners were stopped. Call it last, after Wait or CloseAll.
func (e *Engine) Close() {
	for _, l := range e.rx.loops {
		l.post(loopMsg{kind: msgQuit})
	}
}

// pause records lb as waiting for a maxconn slot.
func (e *Engine) pause(lb *lbind) {
	e.pmu.Lock()
	e.paused = append(e.paused, lb)
	e.npaused.Add(1)
	e.pmu.Unlock()
	// A slot freed between the failed take and now would not have seen
	// lb: look again.
	if lb.b.slotsFree() {
		e.slotFreed()
	}
}

// resume puts back the listeners paused for want of a maxconn slot.
func resume(ps []*lbind) {
	for _, lb := range ps {
		lb.l.post(loopMsg{kind: msgResume, lb: lb})
	}
}

// unpause forgets b's paused listeners.
func (e *Engine) unpause(b *Binding) {
	e.pmu.Lock()
	ps := e.paused[:0]
	for _, lb := range e.paused {
		if lb.b != b {
			ps = append(ps, lb)
		}
	}
	e.paused = ps
	e.npaused.Store(int32(len(ps)))
	e.pmu.Unlock()
}

// acceptBudget bounds the connections a loop accepts per wake-up, so that
// one busy listener does not starve the loop's established connections.
const acceptBudget = 32

// accept takes connections from lb's listener.
func (l *loop) accept(lb *lbind) {
	b := lb.b
	if b.pz != nil && b.pz.Paused() {
		l.waitResume(lb)
		return
	}
	for i := 0; i < acceptBudget; i++ {
		if d := b.rateWait(); d > 0 {
			// At an accept rate limit the listener leaves the epoll set
			// until the rate allows one more connection.
			l.unwatch(lb)
			lb.paused = true
			l.lbTimers = append(l.lbTimers, lbTimer{at: l.now + int64(d), lb: lb})
			return
		}
		if memPressure(l.now) {
			// Near the memory limit: as out of descriptors (exhaust.go).
			l.e.resourceError(b.f, b.cfg.Name, errMemoryPressure)
			l.unwatch(lb)
			lb.paused = true
			l.lbTimers = append(l.lbTimers, lbTimer{at: l.now + int64(resRetry), lb: lb})
			return
		}
		if !b.trySlots() {
			// At the limit, the listener leaves the epoll set and further
			// clients wait in the kernel's backlog, as behind HAProxy's
			// limited listeners.
			l.unwatch(lb)
			lb.paused = true
			l.e.pause(lb)
			return
		}
		l.rlen = unix.SizeofSockaddrAny
		r, _, errno := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(lb.fd), uintptr(unsafe.Pointer(&l.rsa)),
			uintptr(unsafe.Pointer(&l.rlen)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		if errno != 0 {
			b.f.eng.putSlots(b)
			switch errno {
			case unix.EAGAIN:
				return
			case unix.EINTR, unix.ECONNABORTED, unix.EPROTO, unix.EPERM:
				continue
			case unix.EINVAL: // paused since the check above: out of LISTEN state
				if b.pz != nil && b.pz.Paused() {
					l.waitResume(lb)
					return
				}
			}
			// Out of descriptors or memory: report once per episode and
			// leave the listener alone until a connection ends or 100 ms
			// passed, so the loop never spins on a listener it cannot
			// serve (exhaust.go).
			if isResourceError(errno) {
				l.e.resourceError(b.f, b.cfg.Name, os.NewSyscallError("accept4", errno))
			}
			l.unwatch(lb)
			lb.paused = true
			l.lbTimers = append(l.lbTimers, lbTimer{at: l.now + int64(resRetry), lb: lb})
			if isResourceError(errno) {
				l.e.waitResources(lb)
			}
			return
		}
		b.countAccept()
		l.act.accepted.Add(1)
		// A loop with fewer connections takes this one, so that they
		// spread over the threads even when one loop wins every wake-up
		// of the listener (a burst of clients).
		t := l.target()
		if t != l {
			l.act.accqPushed.Add(1)
		}
		l.newConn(lb, int(r), sockaddrAddrPort(&l.rsa), t)
	}
}

// target returns the loop a new connection goes to: this one, unless
// another has at least two connections fewer (hysteresis: a connection's
// trip through a mailbox costs an eventfd write and a wake-up).
func (l *loop) target() *loop {
	loops := l.e.rx.loops
	if len(loops) == 1 {
		return l
	}
	best, least := l, l.load.Load()-1
	for _, o := range loops {
		if n := o.load.Load(); n < least {
			best, least = o, n
		}
	}
	return best
}

// sockaddrAddrPort converts a raw socket address, as Go's net package
// would (an IPv4-mapped address stays in its 16-byte form).
func sockaddrAddrPort(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		pb := (*[2]byte)(unsafe.Pointer(&p.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(p.Addr), uint16(pb[0])<<8|uint16(pb[1]))
	case unix.AF_INET6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		pb := (*[2]byte)(unsafe.Pointer(&p.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(p.Addr), uint16(pb[0])<<8|uint16(pb[1]))
	}
	return netip.AddrPort{}
}

// localAddr returns fd's local address (getsockname).
func (l *loop) localAddr(fd int) netip.AddrPort { return sockLocal(fd) }

// Activity implements the event loops' part of "show activity": one entry
// per loop, none before the first frontend served on the loops.
func (e *Engine) Activity() []LoopActivity {
	loops := e.rx.loops
	out := make([]LoopActivity, len(loops))
	for i, l := range loops {
		a := &l.act
		out[i] = LoopActivity{Loops: a.loops.Load(), PollIO: a.pollIO.Load(), PollExp: a.pollExp.Load(),
			Accepted: a.accepted.Load(), AccqPushed: a.accqPushed.Load()}
	}
	return out
}

// manageProcs adds loops to those whose activity sets the Ps (procs.go),
// when ManageProcs was called, and starts watching them.
func manageProcs(loops []*loop) {
	procCtl.mu.Lock()
	defer procCtl.mu.Unlock()
	if procCtl.set == nil {
		return
	}
	procCtl.loops = append(procCtl.loops, loops...)
	if !procCtl.running {
		procCtl.running = true
		go watchProcs(procCtl.gen)
	}
}

// watchProcs gives the spare P while a loop is busy (procs.go), until no
// loop is left or ManageProcs is called again (gen is procCtl's when it
// started).
func watchProcs(gen int) {
	t := time.NewTicker(procTick)
	defer t.Stop()
	var s spareState
	last := map[*loop]uint64{}
	for range t.C {
		procCtl.mu.Lock()
		if procCtl.gen != gen { // managed anew (tests)
			procCtl.mu.Unlock()
			return
		}
		busy := false
		keep := procCtl.loops[:0]
		for _, l := range procCtl.loops {
			n := l.act.loops.Load()
			if n-last[l] >= procBusy {
				busy = true
			}
			last[l] = n
			if l.exited.Load() {
				delete(last, l)
				continue
			}
			keep = append(keep, l)
		}
		clear(procCtl.loops[len(keep):])
		procCtl.loops = keep
		spare, changed := s.tick(busy)
		if len(keep) == 0 {
			procCtl.running = false
			spare, changed = false, s.spare
		}
		if changed {
			n := procCtl.base
			if spare {
				n++
			}
			// Loops wait in the runtime's poller before their P goes,
			// and block again once it is there.
			if !spare {
				procNoSpare.Store(true)
			}
			procCtl.set(n)
			if spare {
				procNoSpare.Store(false)
			}
		}
		running := procCtl.running
		procCtl.mu.Unlock()
		if !running {
			return
		}
	}
}
