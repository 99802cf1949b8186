package proxy

import (
	"net"
	"net/netip"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"lb/internal/balance"
	"lb/internal/rules"
)

// rconn is a TCP session driven by an event loop (reactor_linux.go): the
// same HAProxy semantics as the goroutine session (session.go), as a state
// machine. Everything in it but the embedded Conn's shared fields is owned
// by its loop.
type rconn struct {
	Conn
	l        *loop
	cli, srv rside
	c2s, s2c rdir
	tally
	dst    netip.AddrPort // the address the server is reached for (PROXY header, addr from dst)
	key    uint64         // balancing hash
	state  uint8
	queued bool // in l.runq
	// cliReg says the client socket is in the epoll set; connected that a
	// server connection was established (Td is logged).
	cliReg, connected bool
	halfShut          bool
	// local says the last connect attempt failed here, for want of
	// descriptors or memory (socket(2)), not at the server.
	local         bool
	attempts      int
	tunnel        int64 // ns; 0: none
	t1, attemptAt int64 // first and current connect attempts (UnixNano)
	retryAt       int64 // end of the turn-around wait
	timerAt       int64 // due time while in the loop's timer heap
	tidx          int32 // index in the heap + 1; 0: not in it
	// w is x's place in a queue while stQueued, queuedAt when it entered.
	w        *waiter
	queuedAt int64
	// forced is the server use-server named (never redispatched).
	forced *Server
}

const (
	stNew        uint8 = iota // accepted, prologue and server choice
	stQueued                  // waiting in a backend or server queue
	stConnecting              // connect(2) in progress
	stTurnaround              // waiting to retry a refused connect
	stCopying                 // both sockets up, copying
	stDone                    // ended
	stHanded                  // handed to the goroutine engine
)

// rside is one socket of an rconn.
type rside struct {
	fd int
	// readable and writable are what the last edges and system calls
	// said; rdhup that the peer shut its side (EPOLLRDHUP or EPOLLHUP),
	// failed that the socket has an error pending (EPOLLERR).
	readable, writable, rdhup, failed bool
	// shutWanted says a FIN is to be sent (loop.shutq).
	shutWanted          bool
	last                int64 // UnixNano of the last read or write
	timeout, finTimeout int64 // ns
	tcode, acode        byte  // termination letters on timeout, on failure
}

// rdir is one direction's copy state.
type rdir struct {
	buf      *[]byte // holds pend; nil while nothing waits
	pend     []byte  // read, not yet written
	p        *pipe   // while splicing with bytes in the pipe
	inPipe   int
	fulls    int  // consecutive full reads
	splicing bool // switched to splice(2)
	done     bool // the source ended and its end was passed on
	total    int64
}

// pumpBudget bounds the reads one direction does per turn, so that a bulk
// transfer does not starve the loop's other connections: 16 reads of 16
// KiB, or 16 splices of up to 1 MiB.
const pumpBudget = 16

func rawClose(fd int) { _, _, _ = unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0) }

// newConn registers a connection just accepted from lb's listener, on
// loop t (l itself, or a loop with fewer connections), and starts it
// there: at once on l, through t's mailbox otherwise. It is counted in the
// engine from here, so that Engine.Wait never misses one in a mailbox.
func (l *loop) newConn(lb *lbind, fd int, peer netip.AddrPort, t *loop) {
	b := lb.b
	f := b.f
	x := &rconn{l: t}
	c := &x.Conn
	c.f, c.bind, c.accept, c.id, c.rx = f, b, time.Now(), f.eng.sessions.Add(1)-1, x
	c.client, c.local = peer, lb.local
	c.src.Store(&peer)
	if !c.local.IsValid() {
		c.local = l.localAddr(fd)
	}
	x.cli.fd, x.srv.fd = fd, -1
	x.cli.writable = true
	if f.cfg.ClientKeepAlive {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
		f.cfg.ClientKeepAliveTimings.apply(fd)
	}
	f.eng.add(c)
	t.load.Add(1)
	raiseMax(&f.maxCur, f.cur.Add(1))
	f.total.Add(1)
	if t != l {
		t.post(loopMsg{kind: msgConn, x: x})
		return
	}
	x.start()
}

// start runs the connection's prologue and server choice on its loop and
// starts connecting, or hands it to the goroutine engine when it needs
// what the loop does not do (a PROXY header to read, a backend with
// content or response rules).
func (x *rconn) start() {
	c := &x.Conn
	b := c.bind
	f := b.f
	x.l.nconns++
	if !c.connRules() {
		x.endPrologue()
		return
	}
	if c.needsProxyHeader() {
		x.handoff(true)
		return
	}
	if !c.sessionRules() {
		x.endPrologue()
		return
	}
	x.lg = setupLog{tw: -1, tc: -1}
	x.phase = '-'
	x.dst = c.local
	var be *Backend
	if fr := f.cfg.Rules; fr != nil {
		be = c.useBackendFinal(fr)
		x.dst = c.st.Dst
	}
	if be == nil {
		// The loop's ConnInfo: a chooser does not keep it, and one on the
		// stack would escape through the function value.
		x.l.info = ConnInfo{Client: c.client, Local: x.dst, Bind: b.cfg.Name}
		be = f.cfg.Backend(&x.l.info)
	}
	if be == nil {
		x.phase = 'R'
		c.SetTerm(TermProxy)
		x.end()
		return
	}
	if !be.fast.Load() {
		x.handoff(false)
		return
	}
	if c.client.IsValid() {
		x.key = balance.HashAddr(c.client.Addr())
	}
	x.enter(be, f) // before the rules, which may read be_conn
	if br := be.rules; br != nil {
		// use-server, force-persist, ignore-persist: the backend's rules
		// need no data here (Backend.fast).
		if c.st == nil {
			c.st = streamPool.Get().(*rules.Stream)
			c.st.Src, c.st.Dst, c.st.BindName, c.st.Frontend = c.client, x.dst, b.cfg.Name, f
		}
		c.st.Backend = &be.view
		if name, _ := br.UseServer(c.st); name != "" {
			x.forced = be.Server(name)
		}
	}
	var srv *Server
	var err error
	if x.forced != nil {
		srv = x.forced
		var qi queueInfo
		x.w = &waiter{x: x}
		if srv, qi = be.acquireServerOrQueue(srv, x.w); srv == nil {
			c.releaseRules()
			x.wait(qi)
			return
		}
		x.w = nil
	} else {
		srv, err = be.tryAcquire(x.key, nil)
	}
	c.releaseRules()
	if err == errWouldQueue {
		// Every candidate is full: wait in the queue (HAProxy's pendconn)
		// unless a slot freed meanwhile.
		x.w = &waiter{key: x.key, x: x}
		var qi queueInfo
		srv, qi, _, err = be.acquireOrQueue(x.w, x.key, nil)
		if err == nil && srv == nil {
			x.wait(qi)
			return
		}
		x.w = nil
	}
	if err != nil { // no usable server: HAProxy logs SC with <NOSRV>, counts econ
		x.phase = 'C'
		c.SetTerm(TermServerAbort)
		be.noServer.Add(1)
		x.end()
		return
	}
	c.srv.Store(srv)
	x.lg.server = srv
	x.t1 = x.l.now
	x.connect()
}

// enter counts x in backend be and takes its timeouts.
func (x *rconn) enter(be *Backend, f *Frontend) {
	x.be = be
	raiseMax(&be.maxCur, be.cur.Add(1))
	be.total.Add(1)
	if be.eng.Load() == nil {
		be.eng.CompareAndSwap(nil, f.eng)
	}
	bc := &be.cfg
	x.cli.timeout, x.cli.finTimeout = int64(f.cfg.TimeoutClient), int64(f.cfg.TimeoutClientFin)
	x.cli.tcode, x.cli.acode = TermClientTimeout, TermClientAbort
	x.srv.timeout, x.srv.finTimeout = int64(bc.TimeoutServer), int64(bc.TimeoutServerFin)
	x.srv.tcode, x.srv.acode = TermServerTimeout, TermServerAbort
	x.tunnel = int64(bc.TimeoutTunnel)
	x.lg.tw = 0
}

// wait puts x in the queued state, its waiter in a queue already.
func (x *rconn) wait(qi queueInfo) {
	x.state = stQueued
	x.queuedAt = x.l.now
	x.lg.srvQueue, x.lg.beQueue = int32(qi.srvQueue), int32(qi.beQueue)
	x.arm()
}

// dispatched is called, under the backend's lock, when a queued x got a
// slot on s: x's loop takes it from there.
func (x *rconn) dispatched(s *Server) { x.l.post(loopMsg{kind: msgServer, x: x, srv: s}) }

// onServer connects a queued x to the server it was given, or gives the
// slot back when x left the queue meanwhile (killed, or timed out as the
// slot came).
func (x *rconn) onServer(s *Server) {
	if x.state != stQueued {
		s.be.release(s)
		return
	}
	x.w = nil
	x.lg.tw = time.Duration(x.l.now - x.queuedAt)
	x.Conn.srv.Store(s)
	x.lg.server = s
	x.t1 = x.l.now
	x.connect()
}

// leaveQueue takes a queued x out of its queue. When a server was given
// to it already, the slot comes back through onServer, which releases it.
func (x *rconn) leaveQueue() {
	if x.w != nil {
		x.be.cancelWait(x.w)
		x.w = nil
	}
	x.lg.tw = time.Duration(x.l.now - x.queuedAt)
	x.phase = 'Q'
}

// endPrologue ends a connection refused before a backend was chosen.
func (x *rconn) endPrologue() {
	c := &x.Conn
	x.state = stDone
	x.l.nconns--
	x.l.load.Add(-1)
	c.logPrologue()
	c.closeConns()
	c.End()
}

// handoff gives the connection to the goroutine engine: rest says the
// PROXY header and session rules are still to run, else the handler's
// Serve runs (which chooses the backend again, from the same data).
func (x *rconn) handoff(rest bool) {
	c := &x.Conn
	fd := x.cli.fd
	x.cli.fd = -1
	x.state = stHanded
	x.l.nconns--
	x.l.load.Add(-1)
	file := os.NewFile(uintptr(fd), "")
	nc, err := net.FileConn(file)
	_ = file.Close()
	c.mu.Lock()
	c.rx = nil
	c.killCh = make(chan struct{})
	if err == nil {
		c.c = nc
	}
	if c.dead.Load() {
		c.once.Do(func() { close(c.killCh) })
	}
	c.mu.Unlock()
	if err != nil {
		c.f.log.Warn("accept", "frontend", c.f.cfg.Name, "error", err)
		c.SetTerm(TermProxy)
		c.closeConns()
		c.End()
		return
	}
	go func() {
		if rest && !c.proxySession() {
			c.logPrologue()
			c.closeConns()
			c.End()
			return
		}
		c.f.handler.Serve(c)
	}()
}

// connect starts a connection attempt to the server c holds a slot on.
func (x *rconn) connect() {
	l, c := x.l, &x.Conn
	srv := c.srv.Load()
	bc := &x.be.cfg
	ap := srv.fastAddr(x.dst)
	x.lg.serverAddr, x.lg.serverLocal = ap, netip.AddrPort{}
	x.state = stConnecting
	x.attemptAt = l.now
	if !x.cliReg {
		if err := l.register(x.cli.fd, x, sideClient); err != nil {
			c.SetTerm(TermProxy)
			x.phase = 'C'
			x.end()
			return
		}
		x.cliReg = true
	}
	domain := unix.AF_INET
	if !ap.Addr().Is4() {
		domain = unix.AF_INET6
	}
	fd, err := unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		// Out of descriptors or memory: retried at once, without the
		// turn-around wait, which is for a server that refused (HAProxy's
		// back_try_conn_req), then HAProxy's "RC". Waiting would hold the
		// client's descriptor for seconds when descriptors are short.
		x.local = isResourceError(err)
		x.connectFailed(false)
		x.local = false
		return
	}
	x.srv.fd = fd
	srv.connects.Add(1)
	x.srv.readable, x.srv.writable, x.srv.rdhup, x.srv.failed = false, false, false, false
	// Nagle off, as HAProxy and Go's net do: small writes of a
	// request-response exchange must not wait for an ACK. No TCP
	// keep-alive unless "option srvtcpka".
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if bc.ServerKeepAlive {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
		bc.ServerKeepAliveTimings.apply(fd)
	}
	if bc.NoLinger {
		_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	}
	if ut := srv.cfg.UserTimeout; ut > 0 {
		setUserTimeout(fd, ut)
	}
	errno := rawConnect(fd, ap)
	if errno != 0 && errno != unix.EINPROGRESS {
		x.connectFailed(false)
		return
	}
	if err := l.register(fd, x, sideServer); err != nil {
		x.connectFailed(false)
		return
	}
	x.arm()
}

// connectFailed handles a failed attempt (timeout says it timed out):
// retry, redispatch or give up, as Backend.Connect does.
func (x *rconn) connectFailed(timeout bool) {
	c := &x.Conn
	srv := c.srv.Load()
	if x.srv.fd >= 0 {
		x.l.forget(x.srv.fd)
		rawClose(x.srv.fd)
		x.srv.fd = -1
	}
	if !x.local && !c.Dead() {
		srv.observe(hanaL4Err)
	}
	bc := &x.be.cfg
	if x.attempts >= bc.Retries || !bc.RetryOn.connFailure() || c.Dead() {
		// econ counts the sessions that gave up, not each attempt.
		srv.failed.Add(1)
		x.phase = 'C'
		switch {
		case timeout:
			c.SetTerm(TermServerTimeout)
		case x.local:
			c.SetTerm(TermResource)
		default:
			c.SetTerm(TermServerAbort)
		}
		x.end()
		return
	}
	x.attempts++
	x.lg.retries++
	if bc.Redispatch && x.forced == nil &&
		(redispatchNow(x.attempts, bc.Retries, bc.RedispatchInterval) || x.be.redispatchAny(srv, false)) {
		c.ReleaseServer()
		ns, err := x.be.tryAcquire(x.key, srv)
		if err != nil {
			x.phase = 'C'
			c.SetTerm(TermServerAbort)
			x.be.noServer.Add(1)
			x.end()
			return
		}
		x.be.countReassign(srv, ns)
		c.srv.Store(ns)
		x.lg.server = ns
		x.lg.redispatch = true
		x.connect()
		return
	}
	x.be.countRetry(srv)
	if !timeout && !x.local {
		// HAProxy waits MIN(1s, timeout connect) before retrying a
		// refused connection on the same server ("turn-around").
		wait := time.Second
		if bc.TimeoutConnect > 0 && bc.TimeoutConnect < wait {
			wait = bc.TimeoutConnect
		}
		x.state = stTurnaround
		x.retryAt = x.l.now + int64(wait)
		x.arm()
		return
	}
	x.connect()
}

// onConnected starts copying once the server accepted the connection.
func (x *rconn) onConnected() {
	l, c := x.l, &x.Conn
	x.state = stCopying
	x.connected = true
	x.lg.tc = time.Duration(l.now - x.t1)
	if c.f.cfg.Log != nil {
		x.lg.serverLocal = l.localAddr(x.srv.fd)
	}
	srv := c.srv.Load()
	srv.observe(hanaL4OK)
	if srv.cfg.SendProxy != SendProxyNone {
		var head []byte
		buf := bufPool.Get().(*[]byte)
		if srv.cfg.SendProxy == SendProxyV1 {
			head = AppendProxyV1((*buf)[:0], c.client, x.dst)
		} else {
			head = AppendProxyV2((*buf)[:0], c.client, x.dst)
		}
		// A fresh socket's buffer takes a PROXY header whole.
		n, err := writeNB(x.srv.fd, head)
		bufPool.Put(buf)
		if err != nil || n < len(head) {
			x.phase = 'C'
			c.SetTerm(TermServerAbort)
			x.end()
			return
		}
	}
	x.cli.last, x.srv.last = l.now, l.now
	x.run()
}

// onEvent handles an epoll event on x's side.
func (x *rconn) onEvent(side uint8, ev uint32) {
	sd := &x.cli
	if side == sideServer {
		sd = &x.srv
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		sd.readable = true
	}
	if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP) != 0 {
		sd.rdhup = true
	}
	if ev&unix.EPOLLERR != 0 {
		sd.failed = true
	}
	if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		sd.writable = true
	}
	switch x.state {
	case stConnecting:
		if side != sideServer {
			return
		}
		if ev&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			x.connectFailed(false)
			return
		}
		if ev&unix.EPOLLOUT != 0 {
			x.onConnected()
		}
	case stCopying:
		x.run()
	}
}

// onTimer handles x's timer falling due.
func (x *rconn) onTimer() {
	at, code := x.deadline()
	if at == 0 {
		return
	}
	if at > x.l.now {
		x.arm()
		return
	}
	switch x.state {
	case stQueued:
		// "timeout queue": HAProxy's sQ.
		x.leaveQueue()
		x.Conn.SetTerm(TermServerTimeout)
		x.end()
	case stConnecting:
		x.connectFailed(true)
	case stTurnaround:
		x.connect()
	case stCopying:
		x.fail(code)
	}
}

// timeoutOf returns the inactivity timeout in force on sd, as
// session.Timeout.
func (x *rconn) timeoutOf(sd *rside) int64 {
	if x.halfShut && sd.finTimeout > 0 {
		return sd.finTimeout
	}
	if x.tunnel > 0 {
		return x.tunnel
	}
	return sd.timeout
}

// expiry returns when sd expires given its last activity (0: never), as
// session.Deadline: under timeout tunnel only when both sides are idle.
func (x *rconn) expiry(sd *rside) int64 {
	t := x.timeoutOf(sd)
	if t <= 0 {
		return 0
	}
	last := sd.last
	if x.tunnel > 0 && !(x.halfShut && sd.finTimeout > 0) {
		last = max(x.cli.last, x.srv.last)
	}
	return last + t
}

// deadline returns x's next due time (0: none) and the termination letter
// it ends with if nothing happens until then.
func (x *rconn) deadline() (int64, byte) {
	switch x.state {
	case stQueued:
		// "timeout queue", else "timeout connect", as Backend.Connect.
		t := x.be.cfg.TimeoutQueue
		if t == 0 {
			t = x.be.cfg.TimeoutConnect
		}
		if t > 0 {
			return x.queuedAt + int64(t), TermServerTimeout
		}
		return 0, 0
	case stConnecting:
		if t := x.be.cfg.TimeoutConnect; t > 0 {
			return x.attemptAt + int64(t), TermServerTimeout
		}
		return 0, 0
	case stTurnaround:
		return x.retryAt, 0
	case stCopying:
		var at int64
		var code byte
		// A side is watched while it is read from or written to.
		if !x.c2s.done || x.s2c.pending() {
			if t := x.expiry(&x.cli); t > 0 {
				at, code = t, x.cli.tcode
			}
		}
		if !x.s2c.done || x.c2s.pending() {
			if t := x.expiry(&x.srv); t > 0 && (at == 0 || t < at) {
				at, code = t, x.srv.tcode
			}
		}
		return at, code
	}
	return 0, 0
}

func (d *rdir) pending() bool { return len(d.pend) > 0 || d.inPipe > 0 }

// arm makes sure x's timer falls due no later than its deadline. A later
// deadline (activity) leaves it as it is: when it falls due, onTimer looks
// again. So the heap moves only when a deadline comes closer.
func (x *rconn) arm() {
	if at, _ := x.deadline(); at != 0 {
		x.l.timerSet(x, at)
	}
}

// run moves what can be moved both ways, then ends x or arms its timer.
func (x *rconn) run() {
	if !x.pump(&x.c2s, &x.cli, &x.srv, &x.s2c) || !x.pump(&x.s2c, &x.srv, &x.cli, &x.c2s) {
		return
	}
	if x.c2s.done && x.s2c.done {
		x.end()
		return
	}
	x.arm()
}

// pump copies src to dst for direction d until a side would block, the
// source ends or the budget is spent (then x is queued for another turn).
// It reports false when x ended.
func (x *rconn) pump(d *rdir, src, dst *rside, other *rdir) bool {
	l := x.l
	for i := 0; i < pumpBudget; i++ {
		if d.inPipe > 0 || len(d.pend) > 0 {
			if !dst.writable {
				return true
			}
			if !x.flush(d, dst) {
				return false
			}
			if d.pending() {
				return true
			}
		}
		if d.done || !src.readable {
			return true
		}
		if d.splicing {
			if d.p == nil {
				d.p = getPipe()
			}
			if d.p != nil {
				n, err := unix.Splice(src.fd, nil, d.p.w, nil, spliceMax, unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
				switch {
				case err == unix.EINTR:
					continue
				case err == unix.EAGAIN:
					// The pipe is empty: give it back, so that idle
					// connections hold none.
					src.readable = false
					putPipe(d.p, 0)
					d.p = nil
					return true
				case err != nil:
					x.fail(src.acode)
					return false
				case n == 0:
					return x.eof(d, dst, other, false)
				}
				src.last = l.now
				d.inPipe += int(n)
				continue
			}
			d.splicing = false // out of pipes: copy through a buffer
		}
		buf := *l.scratch
		n, err := rawRead(src.fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			src.readable = false
			return true
		case err != nil:
			x.fail(src.acode)
			return false
		case n == 0:
			return x.eof(d, dst, other, false)
		}
		src.last = l.now
		// The source's last bytes: its FIN came with them (see below).
		// They go out corked (MSG_MORE) and the FIN follows at once, so
		// that the kernel sends both in one segment, as HAProxy does:
		// two segments fewer per connection (the FIN alone and its ACK).
		last := n < len(buf) && src.rdhup && !src.failed
		var w int
		if last {
			w, err = sendMore(dst.fd, buf[:n])
		} else {
			w, err = writeNB(dst.fd, buf[:n])
		}
		if w > 0 {
			d.total += int64(w)
			dst.last = l.now
		}
		if err != nil && err != unix.EAGAIN {
			x.fail(dst.acode)
			return false
		}
		if w < n {
			// The destination is full: this direction keeps the bytes
			// (and the buffer), the loop takes a fresh one.
			d.buf, d.pend = l.scratch, buf[w:n]
			l.scratch = bufPool.Get().(*[]byte)
			dst.writable = false
			return true
		}
		if n < len(buf) {
			// A short read drained the socket: new data brings a new
			// edge. Only a peer's FIN that came with this data gives no
			// edge of its own, and EPOLLRDHUP told us about it: as TCP
			// queues a FIN after all the data before it, the socket then
			// holds nothing more, and the end is known without the read
			// that would return 0 (HAProxy pays that read). An error
			// pending is read, to be reported as such.
			d.fulls = 0
			if !src.rdhup {
				src.readable = false
				return true
			}
			if last {
				return x.eof(d, dst, other, true)
			}
			if !src.failed {
				return x.eof(d, dst, other, false)
			}
			continue
		}
		d.fulls++
		if d.fulls >= 2 && !noSplice.Load() {
			// Bulk: move it with splice(2), the bytes never cross into
			// user space.
			d.splicing = true
		}
	}
	if !x.queued {
		x.queued = true
		l.runq = append(l.runq, x)
	}
	return true
}

// flush writes d's pending bytes to dst without blocking; it reports false
// when x ended.
func (x *rconn) flush(d *rdir, dst *rside) bool {
	if d.inPipe > 0 {
		for d.inPipe > 0 {
			m, err := unix.Splice(d.p.r, nil, dst.fd, nil, d.inPipe, unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
			if m > 0 {
				splicedBytes.Add(m)
				d.inPipe -= int(m)
				d.total += m
				dst.last = x.l.now
			}
			switch {
			case err == nil && m == 0:
				x.fail(dst.acode)
				return false
			case err == unix.EINTR, err == nil:
			case err == unix.EAGAIN:
				dst.writable = false
				return true
			default:
				x.fail(dst.acode)
				return false
			}
		}
		return true
	}
	w, err := writeNB(dst.fd, d.pend)
	if w > 0 {
		d.total += int64(w)
		dst.last = x.l.now
		d.pend = d.pend[w:]
	}
	switch {
	case err == unix.EAGAIN:
		dst.writable = false
	case err != nil:
		x.fail(dst.acode)
		return false
	}
	if len(d.pend) == 0 {
		d.pend = nil
		bufPool.Put(d.buf)
		d.buf = nil
	}
	return true
}

// eof passes the end of d's source on: a FIN to dst while the other
// direction still runs (the fin timeouts then apply), nothing when both
// ended, as the close sends it.
//
// now says the source's last bytes went out corked (sendMore): the FIN
// follows them at once, which also sends them, in one segment. A FIN that
// comes on its own is sent by the loop after its next epoll_wait
// (loop.shutq), not at once: a client that closes as soon as it has its
// response (HTTP with "Connection: close") has usually done so by then,
// and the session ends with two closes and no shutdown(2), as in HAProxy,
// whose tasks run after the poller too.
func (x *rconn) eof(d *rdir, dst *rside, other *rdir, now bool) bool {
	d.done = true
	if other.done {
		return true
	}
	x.halfShut = true
	if now {
		shutWrite(dst.fd)
	} else {
		dst.shutWanted = true
		x.l.shutq = append(x.l.shutq, x)
	}
	return true
}

func shutWrite(fd int) { _, _, _ = unix.RawSyscall(unix.SYS_SHUTDOWN, uintptr(fd), unix.SHUT_WR, 0) }

// sendMore writes b to fd without blocking, corked (MSG_MORE): the caller
// shuts the socket or closes it next.
func sendMore(fd int, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[n])), uintptr(len(b)-n),
			unix.MSG_MORE|unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
		switch {
		case e == unix.EINTR:
			continue
		case e != 0:
			return n, e
		}
		n += int(r)
	}
	return n, nil
}

// sendFINs sends the FINs eof deferred, if x still runs.
func (x *rconn) sendFINs() {
	if x.state != stCopying {
		return
	}
	for _, sd := range [2]*rside{&x.cli, &x.srv} {
		if sd.shutWanted {
			sd.shutWanted = false
			shutWrite(sd.fd)
		}
	}
}

// fail ends x with termination letter code (0: recorded already, as by a
// kill).
func (x *rconn) fail(code byte) {
	if code != 0 {
		x.Conn.SetTerm(code)
	}
	switch x.state {
	case stQueued:
		x.leaveQueue()
	case stConnecting, stTurnaround:
		x.phase = 'C'
	}
	x.end()
}

// end accounts, logs and closes x, and frees what it holds.
func (x *rconn) end() {
	if x.state == stDone || x.state == stHanded {
		return
	}
	x.state = stDone
	x.l.timerDel(x)
	for _, d := range [2]*rdir{&x.c2s, &x.s2c} {
		if d.buf != nil {
			bufPool.Put(d.buf)
			d.buf, d.pend = nil, nil
		}
		if d.p != nil {
			putPipe(d.p, d.inPipe)
			d.p = nil
		}
	}
	x.tally.up, x.tally.down = x.c2s.total, x.s2c.total
	x.l.nconns--
	x.l.load.Add(-1)
	x.tally.finish(&x.Conn, x.connected)
}

// kill asks x's loop to end x, killed (Conn.Kill).
func (x *rconn) kill() { x.l.post(loopMsg{kind: msgKill, x: x}) }

// closeFDs closes x's sockets, which takes them out of the epoll set.
func (x *rconn) closeFDs() {
	for _, sd := range [2]*rside{&x.cli, &x.srv} {
		if sd.fd >= 0 {
			x.l.forget(sd.fd)
			rawClose(sd.fd)
			sd.fd = -1
		}
	}
}
