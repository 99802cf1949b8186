package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"lb/internal/http1"
	"lb/internal/rules"
)

// httpHandler serves a mode http frontend's connections.
type httpHandler struct {
	f   *Frontend
	cfg HTTPFrontendConfig
}

// Serve implements Handler: it runs transactions on the set-up worker until
// the client has to be waited for, then parks it.
func (h *httpHandler) Serve(c *Conn) {
	hc := hcPool.Get().(*httpConn)
	hc.h, hc.c, hc.cli = h, c, c.c
	hc.idleSince = c.accept
	hc.takeBufs()
	if b := c.Buffered(); len(b) > 0 {
		hc.w = copy(hc.buf, b)
	}
	hc.run()
}

var hcPool = sync.Pool{New: func() any {
	return new(httpConn)
}}

// httpConn is one client connection in mode http, between and during its
// transactions.
type httpConn struct {
	h   *httpHandler
	c   *Conn
	cli net.Conn
	rc  syscall.RawConn // cli's, once waitReadable needed it
	// readyFn is hc.ready, bound once; waited is its state. nextFn is
	// hc.next, bound once.
	readyFn func(uintptr) bool
	waited  bool
	nextFn  func(uintptr) bool
	// fio reads and writes for this goroutine without entersyscall
	// (httpwrite_linux.go) on cliRC, cli's RawConn (cliRCSet once looked
	// up), and on scRC, that of scRCOf (the server connection it was looked
	// up for).
	fio      fastIO
	cliRC    syscall.RawConn
	cliRCSet bool
	scRC     syscall.RawConn
	scRCOf   net.Conn

	// buf holds the client's data, buf[r:w] not yet consumed (the rest of
	// a request body, pipelined requests); sbuf the server's, likewise.
	buf, sbuf []byte
	r, w      int
	sr, sw    int
	// pre says the response's first read was made with the request's write
	// (sendRecv): preN bytes at sbuf's start, or preErr.
	pre    bool
	preN   int
	preErr error
	// deferred: the response's last bytes (hc.out) wait for run to write
	// them in the call that then waits for the client's next request
	// (waitNext), and the transaction for its log (dlog).
	deferred bool
	dlog     struct {
		start       time.Time
		tr, trs, ta time.Duration
	}
	// lastFn is hc.lastWrite, bound once; wrote is how much of hc.out it
	// wrote (-1: not called).
	lastFn func(uintptr) bool
	wrote  int

	req, res http1.Message
	txn      rules.HTTPTxn
	out      []byte
	body     []byte // a local response's body
	reqLine  []byte
	caps     [][]byte           // request then response captures
	chunks   http1.ChunkScanner // the response body's
	rchunks  http1.ChunkScanner // the request body's (upload runs beside the response)

	// nreq counts the transactions served; idleSince is when the last one
	// ended (the accept for the first).
	nreq      int
	idleSince time.Time

	// The current transaction.
	be     *Backend
	sc     net.Conn
	reused bool
	// fresh asks connect for a new connection, not an idle one: a reused one just
	// failed under the request, and another idle one to the same server may be as
	// dead (a server killed closes them all at once).
	fresh   bool
	ts      [2]byte // termination state, "--" while normal
	up      int64   // request bytes received
	down    int64   // response bytes sent
	status  int
	closing bool // the client connection closes after this transaction
	upload  chan uploadResult
	// uploadStop is set by stopUpload before it wakes the uploader with a
	// past read deadline: the uploader, which sets its own deadline before
	// each read, checks it after, so that the wake-up is never overwritten.
	uploadStop atomic.Bool
	lg         setupLog
	stats      bool // answered by the backend's applet
	service    bool // answered by a use-service rule's applet
	cached     bool // answered from the cache (a cache-use hit)
	// headerIPFn and reuseFn are hc.headerIP and hc.reuse, bound once;
	// choice is the transaction's reuse choice (connect).
	headerIPFn func(string, int) (netip.Addr, bool)
	reuseFn    func(*Server) net.Conn
	choice     idleChoice
	// ci is what the default backend's chooser reads (a field: passed to a
	// function value, a local would be allocated per request).
	ci ConnInfo
	// feCache: the cache-use rule ran at the frontend's stage, whose
	// counters count the lookup (HAProxy's fe_counters, be_counters else).
	feCache bool
	store   *cacheStore // the response a cache-store rule stores; nil: none
	// Body payload bytes forwarded (Content-Length or until-close bodies;
	// chunked ones are counted by their scanners), and tunnel bytes, for
	// the sizes HAProxy logs.
	reqBodyN, resBodyN   int64
	tunnelUp, tunnelDown int64
	// ownResp: the response is lb's own (hc.res, body in hc.body).
	ownResp bool
	// redirected: the server chosen redirects the request (its "redir");
	// redir is the location of that 302 while local builds it, nil else.
	redirected bool
	redir      []byte
	// beCounted: the transaction counts in be's current connections.
	beCounted bool
	// kept is the server connection of the last transaction, kept for
	// the next request to the same server (keptSrv).
	kept     net.Conn
	keptSrv  *Server
	keptSafe bool // kept served more than one request
	// cookieCli and cookieSrv are the persistence cookie letters of %tsc.
	cookieCli, cookieSrv byte
	// capCli and capSrv are the cookies "capture cookie" took (nil:
	// none), in capCliBuf and capSrvBuf.
	capCli, capSrv, capCliBuf, capSrvBuf []byte
	// comp is the compression algorithm chosen for the request (0:
	// none, compress.go); compressing says the response is compressed,
	// compN counts its compressed payload.
	comp        CompAlgo
	compressing bool
	compN       int64
	// resHead is the size HAProxy logs for the response head as the
	// server sent it, before the http-response rules, compression or
	// cookie insertion changed it (0: no response read from the server).
	resHead int64
	// chunkN and chunkDone are what the scan of a chunked request body
	// found in the bytes read with its head.
	chunkN    int
	chunkDone bool
	// buffered: the body was waited for (httpbody.go), reqBody its payload.
	buffered bool
	// appletStart is the transaction's start while an applet runs
	// (AppletTxn.Body waits from it); appletGone says the wait ended the
	// transaction.
	appletStart time.Time
	appletGone  bool
	reqBody     []byte
	// ck is the transaction's persistence cookie state (httpcookie.go);
	// persisted says the server was chosen by the cookie.
	ck        cookieTxn
	persisted bool
	// forced is the server chosen for the transaction before balancing
	// (use-server or cookie), retryable says the request went out in one
	// write and can be sent again ("retry-on").
	forced    *Server
	retryable bool
	// rid is the transaction's number (%rt) once ridSet, uid its unique
	// id once uidMade (makeUniqueID).
	rid     uint64
	ridSet  bool
	uid     []byte
	uidMade bool
}

// requestID returns the transaction's number (%rt): the connection's for
// its first request; every later request is a stream of its own in
// HAProxy, with a number of its own from the same counter.
func (hc *httpConn) requestID() uint64 {
	if !hc.ridSet {
		hc.rid, hc.ridSet = hc.c.id, true
		if hc.nreq > 0 {
			hc.rid = hc.h.f.eng.sessions.Add(1) - 1
		}
	}
	return hc.rid
}

// leaveBackend stops counting the transaction in its backend's current
// connections (once).
func (hc *httpConn) leaveBackend() {
	if hc.beCounted {
		hc.beCounted = false
		hc.be.cur.Add(-1)
	}
}

// uploadResult is how the rest of a request body went, sent by upload.
type uploadResult struct {
	n    int64
	term [2]byte // zero: fine
}

// run serves transactions until the client must be waited for (then it
// parks c and returns; the wake-up runs it again) or the connection ends.
func (hc *httpConn) run() {
	hc.takeBufs()
	for {
		if !hc.transaction() {
			hc.finish()
			return
		}
		eng := hc.h.f.eng
		now := time.Now()
		dl := time.Time{}
		if t := hc.keepAliveTimeout(); t > 0 {
			dl = now.Add(t)
		}
		// A client that sends its next request at once (most keep-alive
		// clients under load) is read by this goroutine: parking costs
		// two epoll_ctl calls and a new goroutine per request. One still
		// silent after spinWait is parked.
		spin := now.Add(spinWait)
		if !dl.IsZero() && dl.Before(spin) {
			spin = dl
		}
		var n int
		var err error
		waited := false
		if hc.deferred {
			if !eng.stopping.Load() && hc.r >= hc.w {
				hc.r, hc.w = 0, 0
				first := now.Add(lateWait)
				if spin.Before(first) {
					first = spin
				}
				_ = hc.cli.SetReadDeadline(first)
				n, err, waited = hc.waitNext()
				if waited && n == 0 && first.Before(spin) && errors.Is(err, os.ErrDeadlineExceeded) && !hc.c.aborted() {
					// Silent so far: a read, for a request that came
					// before the wait began, then readNext's wait.
					waited, err = false, nil
				}
			}
			if hc.deferred && !hc.flushDeferred() {
				hc.finish()
				return
			}
		}
		hc.nreq++
		hc.idleSince = now
		if st := hc.c.st; st != nil {
			st.EndTxn()
		}
		if !waited {
			if eng.stopping.Load() {
				hc.finish() // soft stop: see Engine.CloseIdle
				return
			}
			if hc.r < hc.w {
				continue // a pipelined request is already here
			}
			hc.r, hc.w = 0, 0
			_ = hc.cli.SetReadDeadline(spin)
			n, err = hc.readNext()
		}
		if n > 0 {
			hc.w = n
			continue
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) || hc.c.aborted() || !dl.IsZero() && !time.Now().Before(dl) {
			hc.finish() // gone, killed or timed out between requests: no log
			return
		}
		c := hc.c
		c.httpIdle.Store(true)
		hc.parkKept()
		// An idle client holds no buffer (2000 idle keep-alive clients
		// would otherwise pin 64 MiB), and, where it can be parked, no
		// httpConn and no rules stream either (3.5 KiB more each): what
		// the next transaction needs waits in an httpPark.
		hc.dropBufs()
		if c.canPark() {
			p := hc.release()
			if c.Park(dl, p.resume) {
				if eng.stopping.Load() {
					c.unpark() // CloseIdle may have looked before it parked
				}
				return
			}
			// Not parked after all (the client sent or closed meanwhile): on
			// a new goroutine, as a wake-up would run it.
			p.resume()
			return
		}
		if c.Park(dl, hc.resume) {
			if eng.stopping.Load() {
				c.unpark() // CloseIdle may have looked before it parked
			}
			return
		}
		c.httpIdle.Store(false)
		if !hc.waitIdle(dl) {
			hc.finish()
			return
		}
	}
}

// waitIdle waits on hc's goroutine, until deadline dl, for the next request
// of a keep-alive client that cannot be parked (a TLS client: crypto/tls
// may hold data above the socket). It reports whether a request began;
// false means the client left, timed out, was killed, or the soft stop
// began: CloseIdle wakes such a wait with a past deadline.
func (hc *httpConn) waitIdle(dl time.Time) bool {
	c := hc.c
	c.idleWait.Store(true)
	defer c.idleWait.Store(false)
	_ = hc.cli.SetReadDeadline(dl)
	// After the deadline is set: a CloseIdle that looked before this
	// store left its past deadline, or is seen here.
	if c.f.eng.stopping.Load() {
		return false
	}
	hc.takeBufs()
	for {
		n, err := hc.cli.Read(hc.buf)
		if n > 0 {
			hc.w = n
			return true
		}
		if err != nil || c.aborted() || c.f.eng.stopping.Load() {
			return false
		}
	}
}

// readNext reads the first bytes of the client's next request under the
// read deadline set, holding no buffer while it waits: the runtime's poller
// says when the client is readable, and only then is a buffer taken. On a
// plain socket, the read itself is the check for data already there (the
// runtime forgets a readiness seen before the wait began: see ready), so
// a request costs one read(2) here where a peek and a read were two
// (strace, keep-alive: 6 system calls a request, HAProxy 4). It returns
// with hc's buffers taken.
func (hc *httpConn) readNext() (int, error) {
	hc.dropBufs()
	rc := hc.cliRaw()
	if rc == nil {
		hc.waitReadable()
		hc.takeBufs()
		return hc.fio.from(nil, hc.cli, hc.buf)
	}
	if hc.nextFn == nil {
		hc.nextFn = hc.next
	}
	hc.fio.n, hc.fio.err = 0, nil
	err := rc.Read(hc.nextFn)
	hc.takeBufs() // a wait that ended on the deadline or a kill has none
	if err != nil {
		return 0, err
	}
	return hc.fio.n, hc.fio.err
}

// waitNext makes the response's last write (deferred by forwardResponse)
// and logs the transaction, then reads the client's next request as
// readNext does, all in one RawConn.Read on the client socket: the wait
// for the request begins before the response goes (RawConn.Read forgets
// the readiness seen before it begins), so the request's arrival wakes it
// and no read(2) looks for it first. Keep-alive, that read found nothing
// on nearly every request: the client was still reading the response. A
// request the client sent before this call (pipelined after the one just
// answered, past what was read with it) is seen when more comes, or by
// the read run makes when this wait ends at lateWait. waited says the
// write went whole and the read was made: n and err are its result. When
// it did not, the rest of the write is run's (hc.deferred stays, hc.out
// holds what is left).
func (hc *httpConn) waitNext() (n int, err error, waited bool) {
	rc := hc.cliRaw()
	if rc == nil {
		return 0, nil, false
	}
	if hc.lastFn == nil {
		hc.lastFn = hc.lastWrite
	}
	hc.wrote = -1
	hc.fio.n, hc.fio.err = 0, nil
	rerr := rc.Read(hc.lastFn)
	if hc.deferred {
		if hc.wrote > 0 {
			hc.down += int64(hc.wrote)
			hc.out = hc.out[:copy(hc.out, hc.out[hc.wrote:])]
		}
		return 0, nil, false
	}
	hc.takeBufs() // a wait that ended on the deadline or a kill has none
	if rerr != nil {
		return 0, rerr, true
	}
	return hc.fio.n, hc.fio.err, true
}

// lastWrite is waitNext's callback. Its first call writes hc.out and, when
// all of it went, logs the transaction and gives the buffers back; the
// next ones read as next does.
func (hc *httpConn) lastWrite(fd uintptr) bool {
	if !hc.deferred {
		return hc.next(fd)
	}
	hc.wrote = hc.fio.put(fd, hc.out)
	if hc.wrote < len(hc.out) {
		return true // the socket is full, or the client gone: run's
	}
	hc.deferred = false
	hc.down += int64(hc.wrote)
	hc.logDeferred()
	hc.dropBufs()
	return false
}

// flushDeferred writes what is left of the response's last bytes the usual
// way, and logs the transaction; false: the client is gone.
func (hc *httpConn) flushDeferred() bool {
	ok := hc.writeLast()
	hc.logDeferred()
	return ok
}

// writeLast writes the response's last bytes, hc.out, the usual way (no
// longer deferred); false: the client is gone (the termination state set).
func (hc *httpConn) writeLast() bool {
	hc.deferred = false
	if !hc.writeClient(hc.out) {
		return hc.clientFailed()
	}
	hc.down += int64(len(hc.out))
	return true
}

func (hc *httpConn) logDeferred() {
	l := &hc.dlog
	hc.logTxn(l.start, l.tr, l.trs, l.ta, true)
}

// lastClientWrite writes the response's last bytes, hc.out, or leaves them
// to run (deferred) when the client may send another request: hc.out then
// goes in waitNext.
func (hc *httpConn) lastClientWrite() bool {
	if !hc.closing && hc.upload == nil && hc.store == nil && hc.cliRaw() != nil {
		hc.deferred = true
		return true
	}
	return hc.writeLast()
}

// next is readNext's callback: it reads with buffers taken, and gives them
// back to wait when the socket has nothing.
func (hc *httpConn) next(fd uintptr) bool {
	hc.takeBufs()
	hc.fio.b = hc.buf
	done := hc.fio.read(fd)
	hc.fio.b = nil
	if !done {
		hc.dropBufs()
	}
	return done
}

// waitReadable waits, with no buffer, until the client socket is readable
// or its read deadline passes (the read that follows tells which). Where
// the socket exposes no descriptor it returns at once.
func (hc *httpConn) waitReadable() {
	if hc.rc == nil {
		sc, ok := hc.cli.(syscall.Conn)
		if !ok {
			return
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return
		}
		hc.rc = rc
	}
	if hc.readyFn == nil {
		hc.readyFn = hc.ready
	}
	hc.waited = false
	_ = hc.rc.Read(hc.readyFn)
}

// ready is waitReadable's callback. Its first call peeks: the runtime
// forgets a readiness it saw before the wait began (RawConn.Read resets
// it), so data that came before must be seen by a system call, or the
// wait would last until the deadline. A second call means readiness came
// (or the deadline passed).
func (hc *httpConn) ready(fd uintptr) bool {
	if !hc.waited {
		hc.waited = true
		return !idleFD(int(fd))
	}
	return true
}

// spinWait is how long a keep-alive client's goroutine waits for its next
// request before the client is parked.
const spinWait = 50 * time.Millisecond

// lateWait is how long waitNext waits before it reads the client once: a
// request that came before its wait began (sent before the response, after
// what lb read of the client) woke nothing. A client silent for that long
// costs a timer and a read more; a keep-alive client under load sends
// within a few hundred microseconds of the response.
const lateWait = 5 * time.Millisecond

// releaseKept gives the server connection kept from the last transaction
// to its server's idle pool, where other sessions may take it.
func (hc *httpConn) releaseKept() {
	if hc.kept != nil {
		hc.keptSrv.offerIdle(hc.kept, hc.c.id, hc.keptSafe)
		hc.kept, hc.keptSrv = nil, nil
	}
}

// httpPark is what a parked HTTP client connection keeps of its httpConn
// between two transactions.
type httpPark struct {
	h         *httpHandler
	c         *Conn
	nreq      int
	idleSince time.Time
	kept      net.Conn
	keptSrv   *Server
	keptSafe  bool
}

// release gives hc back to its pool, and c's rules stream to its own when
// it holds nothing for the next transaction, and returns what the next
// transaction needs.
func (hc *httpConn) release() *httpPark {
	c := hc.c
	p := &httpPark{h: hc.h, c: c, nreq: hc.nreq, idleSince: hc.idleSince,
		kept: hc.kept, keptSrv: hc.keptSrv, keptSafe: hc.keptSafe}
	if st := c.st; st != nil && st.TLS == nil && st.Idle() && st.Src == c.client && st.Dst == c.local {
		c.releaseStream()
	}
	hc.reset()
	hcPool.Put(hc)
	return p
}

// resume takes an httpConn for p's connection and runs it, as
// httpConn.resume does.
func (p *httpPark) resume() {
	hc := hcPool.Get().(*httpConn)
	hc.h, hc.c, hc.cli = p.h, p.c, p.c.c
	hc.nreq, hc.idleSince = p.nreq, p.idleSince
	hc.kept, hc.keptSrv, hc.keptSafe = p.kept, p.keptSrv, p.keptSafe
	hc.resume()
}

// resume runs hc again once its client sent something, timed out, was
// killed or the soft stop began.
func (hc *httpConn) resume() {
	hc.c.httpIdle.Store(false)
	if hc.h.f.eng.stopping.Load() {
		hc.finish()
		return
	}
	go hc.run()
}

// finish ends the client connection and gives hc back.
func (hc *httpConn) finish() {
	hc.releaseKept()
	c := hc.c
	c.closeConns()
	c.End()
	hc.reset()
	hcPool.Put(hc)
}

// takeBufs gives hc its client and server buffers (tune.bufsize each) from
// the shared pool; dropBufs gives them back while the client is idle.
// A message head must fit in one buffer, as in HAProxy: tune.bufsize sets
// its size. A transaction starts with small buffers (most heads are a few
// hundred bytes), grown to the full size when a head does not fit or a
// body is to be copied: 2000 clients answered at once then hold 4 KiB
// each instead of 32.
func (hc *httpConn) takeBufs() {
	if hc.buf == nil {
		hc.buf = getSmall()
	}
	if hc.sbuf == nil {
		hc.sbuf = getSmall()
	}
}

// fullSize is the size of a full buffer: tune.bufsize.
func (hc *httpConn) fullSize() int {
	if n := hc.h.f.eng.cfg.BufSize; n > 0 {
		return n
	}
	return bufSize
}

// grow replaces *b, holding n bytes, by a full buffer with the same data;
// it reports false when *b is full size already.
func (hc *httpConn) grow(b *[]byte, n int) bool {
	full := hc.fullSize()
	if len(*b) >= full {
		return false
	}
	var nb []byte
	if full == bufSize {
		nb = getBuf()
		nb = nb[:cap(nb)]
	} else {
		nb = make([]byte, full)
	}
	copy(nb, (*b)[:n])
	// The small buffer is left to the collector, not to its pool: the
	// parsed message's fields may still point into it.
	*b = nb
	return true
}

// smallSize is the size of a transaction's first buffers.
const smallSize = 2048

// smallPool holds arrays, not slices: putting a slice back would allocate
// its header each time (twice per keep-alive request).
var smallPool = sync.Pool{New: func() any { return new([smallSize]byte) }}

func getSmall() []byte { return smallPool.Get().(*[smallSize]byte)[:] }

// putSized gives b back to the pool of its size (a buffer of another
// size, from a configured tune.bufsize, is left to the collector).
func putSized(b []byte) {
	switch cap(b) {
	case smallSize:
		smallPool.Put((*[smallSize]byte)(b[:smallSize]))
	case bufSize:
		putBuf(b)
	}
}

func (hc *httpConn) dropBufs() {
	if hc.buf != nil {
		putSized(hc.buf)
		hc.buf = nil
	}
	if hc.sbuf != nil {
		putSized(hc.sbuf)
		hc.sbuf = nil
	}
}

func (hc *httpConn) reset() {
	hc.dropBufs()
	out, reqLine, caps, body, uid := hc.out[:0], hc.reqLine[:0], hc.caps[:0], hc.body[:0], hc.uid[:0]
	// The header tables are kept too (a new one per connection was the
	// most allocated object with a connection per request), emptied: their
	// fields pointed into buffers given back.
	reqF, resF := hc.req.Header.Fields, hc.res.Header.Fields
	clear(reqF[:cap(reqF)])
	clear(resF[:cap(resF)])
	*hc = httpConn{out: out, reqLine: reqLine, caps: caps, body: body, uid: uid, readyFn: hc.readyFn, nextFn: hc.nextFn,
		headerIPFn: hc.headerIPFn, reuseFn: hc.reuseFn, lastFn: hc.lastFn, fio: fastIO{rfn: hc.fio.rfn, wfn: hc.fio.wfn, sfn: hc.fio.sfn}}
	hc.req.Header.Fields, hc.res.Header.Fields = reqF[:0], resF[:0]
}

func (hc *httpConn) requestTimeout() time.Duration {
	if t := hc.h.cfg.TimeoutRequest; t > 0 {
		return t
	}
	return hc.h.f.cfg.TimeoutClient
}

func (hc *httpConn) keepAliveTimeout() time.Duration {
	if t := hc.h.cfg.TimeoutKeepAlive; t > 0 {
		return t
	}
	return hc.requestTimeout()
}

// compact moves the unread client data to the start of buf.
func (hc *httpConn) compact() {
	if hc.r > 0 {
		hc.w = copy(hc.buf, hc.buf[hc.r:hc.w])
		hc.r = 0
	}
}

// errNoRequest ends a connection that closed or timed out before sending a
// byte of its next request: no response, no log.
var errNoRequest = errors.New("no request")

// readHead reads and parses the next request head; it returns the time
// the request's first byte was there. On an error the client has been
// answered as HAProxy answers it, and logged.
func (hc *httpConn) readHead() (time.Time, error) {
	c := hc.c
	var start time.Time
	if hc.r < hc.w {
		start = time.Now()
	}
	first := hc.nreq == 0
	// The first request is timed from the accept, later ones wait
	// "timeout http-keep-alive" for a first byte, then "http-request".
	var dl time.Time
	if first {
		if t := hc.requestTimeout(); t > 0 {
			dl = c.accept.Add(t)
		}
	} else if t := hc.keepAliveTimeout(); t > 0 {
		dl = hc.idleSince.Add(t)
	}
	if !start.IsZero() && !first {
		dl = start.Add(hc.requestTimeout())
	}
	for {
		if hc.r < hc.w {
			n, err := http1.ParseRequest(hc.buf[hc.r:hc.w], &hc.req, &hc.h.cfg.Parse)
			if err == nil {
				hc.r += n
				return start, nil
			}
			if err != http1.ErrIncomplete {
				var pe *http1.Error
				status := 400
				if errors.As(err, &pe) {
					status = pe.Status
				}
				hc.captureRequestError(hc.r, hc.w, err, -1)
				hc.badRequest(start, status, TermProxy)
				return start, err
			}
			if hc.r == 0 && hc.w == len(hc.buf) && !hc.grow(&hc.buf, hc.w) {
				e := http1.TooLarge(hc.buf[:hc.w], true)
				hc.captureRequestError(0, hc.w, e, hc.w) // HAProxy: at the buffer's end
				hc.badRequest(start, e.Status, TermProxy)
				return start, errNoRequest
			}
		}
		hc.compact()
		_ = hc.cli.SetReadDeadline(dl)
		n, err := hc.cli.Read(hc.buf[hc.w:])
		if n > 0 {
			if start.IsZero() {
				start = time.Now()
				if !first {
					if t := hc.requestTimeout(); t > 0 {
						dl = start.Add(t)
					} else {
						dl = time.Time{}
					}
				}
			}
			hc.w += n
			continue
		}
		if err == nil {
			continue
		}
		if c.aborted() {
			return start, errNoRequest
		}
		timeout := errors.Is(err, os.ErrDeadlineExceeded)
		if hc.r == hc.w && !first {
			// A keep-alive client that went away or stayed silent
			// between requests: no response, no log.
			return start, errNoRequest
		}
		if timeout {
			hc.badRequest(start, 408, TermClientTimeout)
		} else {
			// A client that closed (or half-closed) before a complete
			// request, a probe too, gets a 400 logged CR, as from
			// HAProxy 2.6: a half-closed client reads it (measured:
			// an empty first request or half a head, then shutdown).
			hc.badRequest(start, 400, TermClientAbort)
		}
		return start, errNoRequest
	}
}

// badRequest answers a request that could not be read with HAProxy's H1
// error page for status and logs it as "<BADREQ>".
func (hc *httpConn) badRequest(start time.Time, status int, term byte) {
	// The built-in page even with an errorfile for status: HAProxy 2.6's
	// H1 layer answers these itself (measured, errorfile 400).
	hc.out = appendMuxError(hc.out[:0], status)
	hc.h.f.failedReq.Add(1)
	_ = hc.cli.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = hc.cli.Write(hc.out)
	hc.status = status
	hc.ts = [2]byte{term, 'R'}
	hc.reqLine = hc.reqLine[:0]
	if start.IsZero() {
		start = time.Now()
	}
	hc.logTxn(start, -1, -1, -1, false)
}

// transaction serves one request and reports whether the client
// connection stays open for another.
func (hc *httpConn) transaction() bool {
	c, f := hc.c, hc.h.f
	hc.ts = [2]byte{'-', '-'}
	hc.be, hc.sc, hc.reused, hc.up, hc.down, hc.status, hc.closing, hc.stats = nil, nil, false, 0, 0, 0, false, false
	hc.service, hc.cached, hc.store, hc.feCache = false, false, nil, false
	hc.reqBodyN, hc.resBodyN, hc.tunnelUp, hc.tunnelDown, hc.ownResp = 0, 0, 0, 0, false
	hc.resHead, hc.redirected = 0, false
	hc.cookieCli, hc.cookieSrv = '-', '-'
	hc.capCli, hc.capSrv = nil, nil
	hc.ridSet, hc.buffered = false, false
	hc.comp, hc.compressing, hc.compN = 0, false, 0
	hc.res.Framing = http1.NoBody
	hc.lg = setupLog{tw: -1, tc: -1}
	start, err := hc.readHead()
	if err != nil {
		return false
	}
	req := &hc.req
	if req.Framing == http1.Chunked {
		// The body bytes already here are checked before anything else,
		// as HAProxy's H1 layer parses them with the head: a bad chunk
		// is a request it cannot read (400, "<BADREQ>").
		hc.rchunks.Reset()
		n, done, err := hc.rchunks.Scan(hc.buf[hc.r:hc.w])
		if err != nil {
			hc.captureBodyError(nil, nil, hc.r-req.HeadLen, hc.buf[hc.r-req.HeadLen:hc.w], req, req.HeadLen, err)
			hc.badRequest(start, 400, TermProxy)
			return false
		}
		hc.chunkN, hc.chunkDone = n, done
	}
	tHead := time.Now()
	tr := tHead.Sub(start)
	hc.up = int64(req.HeadLen)
	hc.reqLine = append(append(append(append(append(hc.reqLine[:0], req.Method...), ' '), req.URI...), " HTTP/1."...), byte('0'+req.Minor))
	hc.closing = req.Close || hc.h.f.eng.stopping.Load()
	hc.captureRequest()

	// The rules see the request through the stream, and so does the
	// unique-id-format.
	st := c.st
	fr := f.cfg.Rules
	if st == nil {
		st = c.newStream()
	}
	hc.txn = rules.HTTPTxn{Req: req, ReqLine: hc.reqLine}
	if n := len(hc.h.cfg.CaptureRequest); n > 0 {
		hc.txn.ReqCaps = hc.caps[:n]
	}
	st.HTTP = &hc.txn
	st.Backend = nil

	hc.uid, hc.uidMade = hc.uid[:0], false

	if u := hc.h.cfg.MonitorURI; u != "" && string(req.URI) == u {
		return hc.monitor(st)
	}
	if hc.h.cfg.BufferRequest {
		if !hc.bufferBody(start) {
			return false
		}
		tr = time.Since(start)
	}
	if fr != nil && fr.NeedsContent() && !hc.contentRules(fr, st, start) {
		return false
	}
	st.StartHTTPRequest()
	if fr != nil {
		if res := fr.HTTPRequest(st); res.Verdict == rules.Reject {
			return hc.ruleResponse(start, tr, &res, 'R')
		}
		hc.feCache = hc.txn.CacheUse != ""
	}
	if a := hc.h.cfg.Applet; a != nil {
		if req.Framing != http1.NoBody {
			hc.closing = true
		}
		hc.appletStart, hc.appletGone = start, false
		if resp := a(req, c.client, hc.closing, hc); resp != nil {
			return hc.appletTxn(start, tr, resp)
		} else if hc.appletGone {
			return false
		}
	}
	var be *Backend
	if fr != nil {
		if rb, ok, _ := fr.UseBackend(st); ok && rb != nil {
			be = BackendOf(rb)
		}
	}
	if be == nil {
		hc.ci = ConnInfo{Client: c.client, Local: st.Dst, Bind: c.bind.cfg.Name}
		be = f.cfg.Backend(&hc.ci)
	}
	if be == nil {
		hc.ts = [2]byte{TermProxy, 'R'}
		return hc.errorTxn(start, tr, 503)
	}
	hc.be = be
	raiseMax(&be.maxCur, be.cur.Add(1))
	be.total.Add(1)
	hc.beCounted = true
	defer hc.leaveBackend()
	st.Backend = &be.view
	if be.cfg.HTTP.BufferRequest || be.key.checkPost {
		if !hc.bufferBody(start) {
			return false
		}
		tr = time.Since(start)
	}
	var forced *Server
	force := false
	if br := be.rules; br != nil {
		if br != fr {
			if br.NeedsContent() && !hc.contentRules(br, st, start) {
				return false
			}
			if res := br.HTTPRequest(st); res.Verdict == rules.Reject {
				return hc.ruleResponse(start, tr, &res, 'R')
			}
		}
		var name string
		if name, force = br.UseServer(st); name != "" {
			forced = be.Server(name)
		}
	}
	// "capture cookie" at the backend stage, before persistence edits
	// the cookies (http_manage_client_side_cookies).
	hc.captureReqCookie()
	// The cookie is read (and edited) even when use-server chose: it
	// then chooses nothing, as in HAProxy.
	byCookie, cli := be.persistRequestTxn(req, forced, force, &hc.ck)
	hc.cookieCli = cli
	hc.persisted = false
	if forced == nil && byCookie != nil {
		forced, hc.persisted = byCookie, true
	}
	if br := be.rules; br != nil && br.HasStickRules() {
		// After use-server and the cookie, as HAProxy's sticking rules,
		// which only choose a server none of those did.
		if srv := be.stickServer(br, st, forced != nil, force); srv != nil {
			forced, hc.persisted = srv, true
		}
	}
	if a := be.cfg.HTTP.Applet; a != nil {
		if hc.req.Framing != http1.NoBody {
			hc.closing = true
		}
		hc.appletStart, hc.appletGone = start, false
		if resp := a(req, c.client, hc.closing, hc); resp != nil {
			return hc.appletTxn(start, tr, resp)
		} else if hc.appletGone {
			return false
		}
	}
	hc.makeUniqueID(start)
	if name := hc.h.cfg.UniqueIDHeader; name != "" && hc.h.cfg.UniqueID != nil {
		req.Header.Add(name, hc.uid)
	}
	hc.forwardFor(be)
	hc.originalTo(be)
	if hc.h.cfg.Compression != nil || be.cfg.HTTP.Compression != nil {
		hc.selectCompression(be)
	}
	mode := hc.h.cfg.Mode.Combine(be.cfg.HTTP.Mode)
	if mode == Close {
		hc.closing = true
	}

	if hc.txn.CacheUse != "" {
		if keep, hit := hc.cacheLookup(start, tr, be, mode); hit {
			return keep
		}
	}
	// The server, then the request head with what is buffered of the body.
	hc.forced = forced
	if !hc.connect(be, forced) {
		if hc.redirected {
			return hc.serverRedirectTxn(start, tr)
		}
		if hc.ts[0] == TermInternal {
			return hc.errorTxn(start, tr, 500)
		}
		return hc.errorTxn(start, tr, 503)
	}
	tSent, ok := hc.sendRequest(be, forced, mode)
	if !ok {
		return hc.errorTxn(start, tr, 503)
	}
	return hc.response(start, tr, tSent, be, mode)
}

// makeUniqueID makes the request's unique id (unique-id-format) the first time it is
// called for the transaction: as HAProxy 2.6 does, once the http-request rules of the
// frontend and of the backend ran, before the request is sent (with unique-id-header),
// or when a transaction that did not get that far is logged. Its samples read the
// request as the rules left it.
func (hc *httpConn) makeUniqueID(start time.Time) {
	gen := hc.h.cfg.UniqueID
	if hc.uidMade || gen == nil {
		return
	}
	hc.uidMade = true
	c := hc.c
	rec := c.newLogRecord()
	rec.Accept, rec.SessionID = start, hc.requestID()
	rec.HTTP = HTTPLog{Set: true, RequestLine: hc.reqLine, Ti: max(start.Sub(hc.idleSince), 0), Ta: -1}
	rec.Stream = c.st
	hc.uid = gen(&rec, hc.uid)
}

// contentRules runs the tcp-request content rules of r on the request as
// received, as final data (the head is complete), as HAProxy runs them
// before its HTTP processing; it reports whether the transaction goes on.
// A rejected request is closed without a response and logged.
func (hc *httpConn) contentRules(r *rules.Proxy, st *rules.Stream, start time.Time) bool {
	st.Req, st.ReqFinal = hc.buf[hc.r-hc.req.HeadLen:hc.w], true
	v := r.TCPContent(st)
	st.Req = nil
	if v != rules.Reject {
		return true
	}
	if st.SilentDrop {
		hc.c.dropSilently()
	}
	hc.h.f.deniedReq.Add(1)
	hc.ts = [2]byte{TermProxy, 'R'}
	hc.logTxn(start, -1, -1, time.Since(start), true)
	return false
}

// connect gets a server connection for the request, reused or new; on a
// failure the termination state is set.
func (hc *httpConn) connect(be *Backend, forced *Server) bool {
	c := hc.c
	persist := hc.persisted && forced != nil
	if forced == nil && be.cfg.HTTP.PreferLastServer && be.cfg.HTTP.Reuse == ReuseNever && hc.kept != nil && hc.keptSrv.preferable(be) {
		// As assign_server: the server of the connection the client's
		// session still holds, and a failed attempt may be redispatched.
		// HAProxy 2.6's session holds it under "http-reuse never" only:
		// otherwise the connection joins the server's idle ones after
		// the response, and the next request is balanced (measured).
		forced, persist = hc.keptSrv, true
	}
	req := ConnectRequest{Server: forced, Persist: persist, Src: c.client, Dst: c.st.Dst, Key: be.key.of(&hc.req, c.client, hc.reqBody)}
	// Method values bound once per httpConn: closures would be allocated
	// per request.
	if hc.headerIPFn == nil {
		hc.headerIPFn, hc.reuseFn = hc.headerIP, hc.reuse
	}
	req.HeaderIP, req.Reuse = hc.headerIPFn, hc.reuseFn
	// HAProxy's SF_REDIRECTABLE: a server's "redir" answers GET and HEAD.
	req.Redirectable = bytes.Equal(hc.req.Method, []byte("GET")) || bytes.Equal(hc.req.Method, []byte("HEAD"))
	hc.choice = be.cfg.HTTP.Reuse.choice(hc.nreq == 0)
	return hc.connectWith(be, &req)
}

// headerIP is the request's ConnectRequest.HeaderIP.
func (hc *httpConn) headerIP(name string, occ int) (netip.Addr, bool) {
	return rules.HeaderIP(hc.req.Header.Fields, name, occ)
}

// reuse is the request's ConnectRequest.Reuse: the connection kept from the
// last transaction to srv, or an idle one of srv's as hc.choice allows.
func (hc *httpConn) reuse(srv *Server) net.Conn {
	if hc.fresh {
		hc.releaseKept()
		return nil
	}
	if hc.kept != nil {
		if hc.keptSrv == srv {
			// The connection of the last transaction: not peeked
			// (a server that closed it meanwhile gets the request
			// again on a new one, see response).
			sc := hc.kept
			hc.kept, hc.keptSrv = nil, nil
			hc.reused = true
			return sc
		}
		hc.releaseKept()
	}
	trust := time.Duration(0)
	if hc.replayable() {
		trust = trustIdle
	}
	sc := srv.idle.take(hc.c.id, hc.choice, srv.poolPurge(), trust)
	hc.reused = sc != nil
	return sc
}

// trustIdle is how long a pooled server connection is taken for a
// replayable request without checking that the server did not close it:
// servers keep idle connections for seconds (nginx 75 s, Apache and
// Node.js 5 s), and close after a response with "Connection: close", which
// is not pooled.
const trustIdle = time.Second

// replayable says the request can go again on a new connection if the
// reused one fails before any response: it will go out in one write, with
// all of its body, as sendRequest sends it.
func (hc *httpConn) replayable() bool {
	switch req := &hc.req; req.Framing {
	case http1.Length:
		return int64(hc.w-hc.r) >= req.ContentLength
	case http1.Chunked:
		return hc.chunkDone
	}
	return true
}

// connectWith is connect with the request made: it records what
// Backend.Connect learnt for the log.
func (hc *httpConn) connectWith(be *Backend, req *ConnectRequest) bool {
	c := hc.c
	sc, r, err := be.Connect(c, req)
	lg := &hc.lg
	lg.tw, lg.tc, lg.retries, lg.redispatch = r.Tw, r.Tc, int32(r.Retries), r.Redispatched
	lg.srvQueue, lg.beQueue = int32(r.SrvQueue), int32(r.BackendQueue)
	lg.serverLocal, lg.serverAddr = r.Local, r.Remote
	lg.server = r.Server
	if err != nil {
		hc.redirected = errors.Is(err, errRedirect)
		term := r.Term
		if term == 0 {
			term = c.Term()
		}
		if term == 0 {
			term = TermServerAbort
		}
		hc.ts = [2]byte{term, r.Phase}
		return false
	}
	hc.sc = sc
	if name := be.cfg.HTTP.SendNameHeader; name != "" && r.Server != nil {
		hc.req.Header.Set(name, []byte(r.Server.Name()))
	}
	return true
}

// sendRequest writes the request head and the body bytes already read to
// the server, and starts the upload of the rest; it returns when the head
// went out. A reused connection the server closed meanwhile is replaced by
// a new one, once.
func (hc *httpConn) sendRequest(be *Backend, forced *Server, mode HTTPConnMode) (time.Time, bool) {
	req := &hc.req
	conn := ""
	switch {
	case req.Upgrade:
		conn = "upgrade"
	case mode != KeepAlive:
		conn = "close"
	case req.Minor == 0:
		conn = "keep-alive"
	}
	hc.out = http1.AppendRequest(hc.out[:0], req, conn)
	headLen := len(hc.out)
	// The body bytes already buffered go in the same write.
	more := false
	switch req.Framing {
	case http1.Length:
		k := min(int64(hc.w-hc.r), req.ContentLength)
		hc.out = append(hc.out, hc.buf[hc.r:hc.r+int(k)]...)
		hc.r += int(k)
		hc.reqBodyN = k
		more = k < req.ContentLength
	case http1.Chunked:
		// Scanned with the head (transaction).
		n, done := hc.chunkN, hc.chunkDone
		hc.out = append(hc.out, hc.buf[hc.r:hc.r+n]...)
		hc.r += n
		more = !done
	}
	hc.up += int64(len(hc.out) - headLen)
	hc.retryable = !more
	hc.pre = false
	for {
		var err error
		if more {
			err = hc.writeServer(be, hc.out)
		} else {
			err = hc.sendAwait(be)
		}
		if err == nil {
			break
		}
		if !hc.reused || hc.c.aborted() {
			hc.ts = [2]byte{TermServerAbort, 'H'}
			return time.Time{}, false
		}
		// The idle connection was closed by the server: a new one.
		dropServerConn(hc.c.DetachServerConn())
		hc.reused, hc.fresh = false, true
		ok := hc.connect(be, forced)
		hc.fresh = false
		if !ok {
			return time.Time{}, false
		}
	}
	tSent := hc.fio.sentAt // when sendAwait wrote all of it
	if !hc.pre {
		tSent = time.Now()
	}
	if more {
		hc.upload = make(chan uploadResult, 1)
		hc.uploadStop.Store(false)
		go hc.uploadBody(be)
	}
	return tSent, true
}

// sendAwait writes the whole request in hc.out to the server and, on a
// plain socket, waits for the response's first bytes in the same call
// (fastIO.sendRecv): they are read into sbuf for readResponseHead (pre).
func (hc *httpConn) sendAwait(be *Backend) error {
	rc := hc.serverRaw()
	if rc == nil {
		return hc.writeServer(be, hc.out)
	}
	_ = hc.sc.SetReadDeadline(hc.serverDeadline(be))
	sent, n, err := hc.fio.sendRecv(rc, hc.out, hc.sbuf)
	if sent == len(hc.out) {
		hc.pre, hc.preN, hc.preErr = true, n, err
		return nil
	}
	return hc.writeServer(be, hc.out[sent:])
}

// serverDeadline is when the server side times out from now.
func (hc *httpConn) serverDeadline(be *Backend) time.Time {
	if t := be.cfg.TimeoutServer; t > 0 {
		return time.Now().Add(t)
	}
	return time.Time{}
}

func (hc *httpConn) clientDeadline() time.Time {
	if t := hc.h.f.cfg.TimeoutClient; t > 0 {
		return time.Now().Add(t)
	}
	return time.Time{}
}

// uploadBody forwards the rest of the request body from the client to the
// server, on its own goroutine while the response is awaited (a server
// may answer early, or ask for the body with 100 Continue).
func (hc *httpConn) uploadBody(be *Backend) {
	req := &hc.req
	var res uploadResult
	left := req.ContentLength - hc.sentBody() // for a Content-Length body
	if req.Framing != http1.Length || left > int64(len(hc.buf)-hc.w) {
		hc.compact()
		hc.grow(&hc.buf, hc.w)
	}
	for {
		hc.compact()
		_ = hc.cli.SetReadDeadline(hc.clientDeadline())
		if hc.uploadStop.Load() {
			res.term = [2]byte{TermClientAbort, 'D'} // stopUpload: the rest is not read
			break
		}
		lim := len(hc.buf)
		if req.Framing == http1.Length && int64(lim-hc.w) > left {
			lim = hc.w + int(left)
		}
		n, err := hc.cli.Read(hc.buf[hc.w:lim])
		if n > 0 {
			hc.w += n
			var k int
			done := false
			if req.Framing == http1.Length {
				k = n
				left -= int64(n)
				done = left == 0
				hc.reqBodyN += int64(n)
			} else {
				var serr error
				k, done, serr = hc.rchunks.Scan(hc.buf[hc.r:hc.w])
				if serr != nil {
					res.term = [2]byte{TermProxy, 'D'}
					break
				}
			}
			_ = hc.sc.SetWriteDeadline(hc.serverDeadline(be))
			if _, werr := hc.sc.Write(hc.buf[hc.r : hc.r+k]); werr != nil {
				res.term = [2]byte{TermServerAbort, 'D'}
				break
			}
			hc.r += k
			res.n += int64(k)
			if done {
				break
			}
			continue
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && !hc.c.aborted() {
				res.term = [2]byte{TermClientTimeout, 'D'}
			} else {
				res.term = [2]byte{TermClientAbort, 'D'}
			}
			break
		}
	}
	hc.upload <- res
}

// sentBody is how much of a Content-Length body sendRequest sent.
func (hc *httpConn) sentBody() int64 { return hc.up - int64(hc.req.HeadLen) }

// waitUpload waits for the body upload, if one runs, and accounts it; it
// reports whether the request went out whole.
func (hc *httpConn) waitUpload() bool {
	if hc.upload == nil {
		return true
	}
	res := <-hc.upload
	hc.upload = nil
	hc.up += res.n
	if res.term != [2]byte{} {
		if hc.ts[0] == '-' {
			hc.ts = res.term
		}
		return false
	}
	return true
}

// stopUpload ends a running upload early (the response is complete and
// the rest of the body will not be read) and waits for it.
func (hc *httpConn) stopUpload() (whole bool) {
	if hc.upload == nil {
		return true
	}
	hc.uploadStop.Store(true)
	_ = hc.cli.SetReadDeadline(time.Unix(1, 0))
	res := <-hc.upload
	hc.upload = nil
	hc.up += res.n
	if res.term != [2]byte{} {
		// The rest of the request body was not read: the connection
		// cannot carry another request.
		hc.closing = true
		return false
	}
	return true
}

// response reads the server's response, runs the response rules and
// forwards it, then logs the transaction.
func (hc *httpConn) response(start time.Time, tr time.Duration, tSent time.Time, be *Backend, mode HTTPConnMode) bool {
	c, f := hc.c, hc.h.f
	res := &hc.res
	hc.sr, hc.sw = 0, 0
	interim := 0
	for {
		n, err := hc.readResponseHead(be)
		if err != nil {
			if hc.reused && hc.sw == 0 && hc.upload == nil && interim == 0 && !c.aborted() && !errors.Is(err, os.ErrDeadlineExceeded) {
				// A reused connection closed under the request: once
				// more on a new one, as HAProxy retries.
				dropServerConn(c.DetachServerConn())
				hc.reused, hc.fresh = false, true
				ok := hc.connect(be, nil)
				hc.fresh = false
				if !ok {
					return hc.errorTxn(start, tr, 503)
				}
				hc.out = hc.out[:0]
				// The request bytes are gone from out: rebuild them.
				return hc.resend(start, tr, be, mode)
			}
			if hc.retryResponse(be, err, interim) {
				return hc.retry(start, tr, be, hc.forced, mode)
			}
			hc.failResponse(err)
			status := 502
			if hc.ts[0] == TermServerTimeout {
				status = 504
			}
			if hc.upload != nil {
				hc.stopUpload()
			}
			return hc.serverErrorTxn(start, tr, tSent, status)
		}
		if res.Status >= 100 && res.Status < 200 && res.Status != 101 {
			// Interim: forwarded as it is, then the final response.
			interim++
			hc.countServerStatus()
			hc.out = http1.AppendResponse(hc.out[:0], res, "")
			if !hc.writeClient(hc.out) {
				hc.stopUpload()
				hc.ts = [2]byte{TermClientAbort, 'H'}
				return hc.serverErrorTxn(start, tr, tSent, 0)
			}
			hc.down += int64(len(hc.out))
			hc.sr += n
			continue
		}
		hc.sr += n
		if res.Framing == http1.Chunked {
			// The body bytes read with the head are parsed with it, as
			// HAProxy's H1 layer parses them: a bad chunk there makes
			// the response invalid (502, PH), nothing of it sent.
			hc.chunks.Reset()
			if _, _, err := hc.chunks.Scan(hc.sbuf[hc.sr:hc.sw]); err != nil {
				if hc.retryResponse(be, err, interim) {
					return hc.retry(start, tr, be, hc.forced, mode)
				}
				hc.failResponse(err)
				if hc.upload != nil {
					hc.stopUpload()
				}
				return hc.serverErrorTxn(start, tr, tSent, 502)
			}
		}
		if hc.retryResponse(be, nil, interim) {
			return hc.retry(start, tr, be, hc.forced, mode)
		}
		hc.countServerStatus()
		break
	}
	tResp := time.Now()
	st := c.st
	hc.txn.Res = res
	hc.captureResponse()
	if br := be.rules; br != nil && br.HasStickRules() {
		// HAProxy's store rules run once the response head is in, before
		// the http-response rules.
		br.StickResponse(st)
		if srv := hc.lg.server; srv != nil && !srv.cfg.NonStick {
			br.StickStore(st, srv.ID(), srv.Name())
		} else if srv != nil {
			br.StickForget(st)
		}
	}
	if len(hc.h.cfg.CaptureResponse) > 0 {
		hc.txn.ResCaps = hc.caps[len(hc.h.cfg.CaptureRequest):]
	}
	if br := be.rules; br != nil {
		if r := br.HTTPResponse(st); r.Verdict == rules.Reject {
			return hc.responseDenied(start, tr, tSent, &r)
		}
	}
	// An "allow" in the backend stops the backend's rules only: HAProxy
	// 2.6.12 runs the frontend's all the same (measured).
	if fr := f.cfg.Rules; fr != nil && fr != be.rules {
		if r := fr.HTTPResponse(st); r.Verdict == rules.Reject {
			return hc.responseDenied(start, tr, tSent, &r)
		}
	}
	if hc.lg.redispatch {
		hc.ck.direct = false // a redispatch clears SF_DIRECT: the cookie is set anew
	}
	if name := hc.h.cfg.CaptureCookie; name != "" {
		// After the http-response rules, before persistence edits the
		// Set-Cookie fields (http_manage_server_side_cookies).
		hc.capSrv = captureCookie(hc.capSrvBuf, &res.Header, true, name, hc.h.cfg.CaptureCookieLen)
		if hc.capSrv != nil {
			hc.capSrvBuf = hc.capSrv
		}
	}
	hc.cookieSrv = be.persistResponseTxn(res, hc.lg.server, &hc.ck)
	hc.afterResponse()
	hc.status = res.Status
	hc.compressing = hc.comp != 0 && hc.compressResponse(be)

	tunnel := res.Framing == http1.Tunnel
	if res.Framing == http1.UntilClose || res.Close && !tunnel {
		// The server closes: so does the client side only if the body
		// runs to the close.
		if res.Framing == http1.UntilClose {
			hc.closing = true
		}
	}
	// The response keeps the server's version, and HAProxy's
	// h1_update_res_conn_value says only what that version does not
	// imply: "close" on an HTTP/1.1 response, "keep-alive" on an
	// HTTP/1.0 one or to an HTTP/1.0 client (RFC 9112 section 9.3).
	conn := ""
	switch {
	case tunnel && res.Status == 101:
		conn = "upgrade"
	case hc.closing:
		if res.Minor != 0 {
			conn = "close"
		}
	case hc.req.Minor == 0 || res.Minor == 0:
		conn = "keep-alive"
	}
	hc.out = http1.AppendResponse(hc.out[:0], res, conn)
	// A compressed response is not stored: the cache keeps what the server sent, and
	// compression runs after it in HAProxy (its filters' order) on a hit too; lb has not
	// measured that yet, so it keeps the two apart.
	if hc.txn.CacheStore != "" && !hc.compressing {
		hc.cacheStart()
	}
	var ok bool
	if hc.compressing {
		ok = hc.forwardCompressed(be)
		if ok {
			// A response compressed to its end; HAProxy counts its
			// end-of-message block (one byte) in comp_in and comp_out.
			for _, h := range []*httpCounters{&hc.h.f.http, &be.http} {
				h.compN.Add(1)
				h.compIn.Add(1)
				h.compOut.Add(1)
			}
		}
	} else {
		ok = hc.forwardResponse(be, tunnel)
	}
	if hc.store != nil {
		hc.cacheEnd(ok)
	}
	// The response is complete: an upload still running (a server that
	// answered before reading the whole body) is stopped, and closes the
	// client connection if it had more to read.
	whole := hc.stopUpload()
	if hc.deferred && (hc.closing || !whole || tunnel) {
		// The client connection is not kept after all: its last bytes
		// go now, before the log, as any other response's.
		ok = hc.writeLast()
	}
	// The server connection goes back to its pool when it can carry
	// another request.
	sc := c.DetachServerConn()
	reusable := ok && whole && !tunnel && mode == KeepAlive && !res.Close &&
		res.Framing != http1.UntilClose && hc.sr == hc.sw
	if srv := hc.lg.server; reusable && srv != nil && sc != nil && srv.keepsIdle() {
		hc.releaseKept()
		hc.kept, hc.keptSrv, hc.keptSafe = sc, srv, hc.reused
	} else if sc != nil {
		dropServerConn(sc)
	}
	if hc.deferred {
		// Logged once its last bytes went (run, waitNext).
		hc.dlog.start, hc.dlog.tr, hc.dlog.trs, hc.dlog.ta = start, tr, tResp.Sub(tSent), tResp.Sub(start)
		c.ReleaseServer()
		return true
	}
	hc.logTxn(start, tr, tResp.Sub(tSent), tResp.Sub(start), true)
	c.ReleaseServer()
	return ok && !hc.closing && !tunnel
}

// resend sends the request again on a new connection after a reused one
// failed before any response byte.
func (hc *httpConn) resend(start time.Time, tr time.Duration, be *Backend, mode HTTPConnMode) bool {
	req := &hc.req
	conn := ""
	switch {
	case req.Upgrade:
		conn = "upgrade"
	case mode != KeepAlive:
		conn = "close"
	case req.Minor == 0:
		conn = "keep-alive"
	}
	hc.out = http1.AppendRequest(hc.out[:0], req, conn)
	// A body that was sent whole is still in buf, right before r.
	if body := hc.sentBody(); body > 0 {
		hc.out = append(hc.out, hc.buf[hc.r-int(body):hc.r]...)
	}
	if err := hc.writeServer(be, hc.out); err != nil {
		hc.ts = [2]byte{TermServerAbort, 'H'}
		return hc.errorTxn(start, tr, 503)
	}
	return hc.response(start, tr, time.Now(), be, mode)
}

// readResponseHead reads until a response head parses in sbuf[sr:sw];
// it returns the head's length.
func (hc *httpConn) readResponseHead(be *Backend) (int, error) {
	var dl time.Time // made at the first read that needs it
	for {
		if hc.sr < hc.sw {
			n, err := http1.ParseResponse(hc.sbuf[hc.sr:hc.sw], &hc.res, hc.req.Method, &be.cfg.HTTP.Parse)
			if err == nil {
				hc.resHead = htxSize(&hc.res, false, 0)
				return n, nil
			}
			if err != http1.ErrIncomplete {
				hc.captureResponseError(be, hc.lg.server, hc.sbuf[hc.sr:hc.sw], err, -1)
				return 0, err
			}
			if hc.sr == 0 && hc.sw == len(hc.sbuf) && !hc.grow(&hc.sbuf, hc.sw) {
				e := http1.TooLarge(hc.sbuf[:hc.sw], false)
				hc.captureResponseError(be, hc.lg.server, hc.sbuf[:hc.sw], e, hc.sw)
				return 0, e
			}
		}
		if hc.sr > 0 {
			hc.sw = copy(hc.sbuf, hc.sbuf[hc.sr:hc.sw])
			hc.sr = 0
		}
		var n int
		var err error
		if hc.pre {
			// Read by sendAwait, into sbuf's start: sw is 0 here.
			hc.pre = false
			n, err = hc.preN, hc.preErr
			hc.preErr = nil
		} else {
			if dl.IsZero() {
				dl = hc.serverDeadline(be)
			}
			_ = hc.sc.SetReadDeadline(dl)
			n, err = hc.fio.from(hc.serverRaw(), hc.sc, hc.sbuf[hc.sw:])
		}
		hc.sw += n
		if n == 0 && err != nil {
			return 0, err
		}
	}
}

// failResponse sets the termination state of a response that could not
// be read and, but for a killed session, counts it as a response error:
// twice for a reset, as HAProxy counts the socket error and then the
// missing response.
func (hc *httpConn) failResponse(err error) {
	var pe *http1.Error
	if hc.c.Term() != 0 {
		hc.ts = [2]byte{hc.c.Term(), 'H'}
		return
	}
	if hc.be != nil {
		hc.be.countRespError(hc.lg.server)
		if errors.Is(err, syscall.ECONNRESET) {
			hc.be.countRespError(hc.lg.server)
		}
	}
	ev := hanaHTTPBrokenPipe
	switch {
	case errors.As(err, &pe):
		hc.ts = [2]byte{TermProxy, 'H'}
		ev = hanaHTTPHdrRsp
	case errors.Is(err, os.ErrDeadlineExceeded):
		hc.ts = [2]byte{TermServerTimeout, 'H'}
		ev = hanaHTTPReadTout
	default:
		hc.ts = [2]byte{TermServerAbort, 'H'}
		if err != io.EOF && err != io.ErrUnexpectedEOF {
			ev = hanaHTTPReadError
		}
	}
	if srv := hc.lg.server; srv != nil {
		srv.observe(ev)
	}
}

// forwardResponse writes the response head (in hc.out) and body to the
// client; a tunnel copies both ways until either side ends.
func (hc *httpConn) forwardResponse(be *Backend, tunnel bool) bool {
	res := &hc.res
	head := len(hc.out)
	switch res.Framing {
	case http1.Length:
		k := min(int64(hc.sw-hc.sr), res.ContentLength)
		hc.out = append(hc.out, hc.sbuf[hc.sr:hc.sr+int(k)]...)
		if hc.store != nil {
			hc.cacheBody(hc.sbuf[hc.sr:hc.sr+int(k)], int(k))
		}
		hc.sr += int(k)
		hc.resBodyN += k
		if k == res.ContentLength {
			return hc.lastClientWrite()
		}
		if !hc.writeClient(hc.out) {
			return hc.clientFailed()
		}
		hc.down += int64(len(hc.out))
		_ = head
		return hc.pumpLength(be, res.ContentLength-k)
	case http1.Chunked:
		hc.chunks.Reset()
		n, done, err := hc.chunks.Scan(hc.sbuf[hc.sr:hc.sw])
		if err != nil {
			if hs := hc.sr - res.HeadLen; hs >= 0 {
				hc.captureBodyError(be, hc.lg.server, hs, hc.sbuf[hs:hc.sw], res, res.HeadLen, err)
			}
			hc.ts = [2]byte{TermServerAbort, 'D'}
			return false
		}
		hc.out = append(hc.out, hc.sbuf[hc.sr:hc.sr+n]...)
		if hc.store != nil {
			hc.cacheBody(hc.sbuf[hc.sr:hc.sr+n], int(hc.chunks.Data))
		}
		hc.sr += n
		if done {
			return hc.lastClientWrite()
		}
		if !hc.writeClient(hc.out) {
			return hc.clientFailed()
		}
		hc.down += int64(len(hc.out))
		return hc.pumpChunked(be)
	case http1.UntilClose:
		hc.out = append(hc.out, hc.sbuf[hc.sr:hc.sw]...)
		hc.resBodyN += int64(hc.sw - hc.sr)
		hc.sr = hc.sw
		if !hc.writeClient(hc.out) {
			return hc.clientFailed()
		}
		hc.down += int64(len(hc.out))
		return hc.pumpLength(be, -1)
	case http1.Tunnel:
		hc.out = append(hc.out, hc.sbuf[hc.sr:hc.sw]...)
		hc.sr = hc.sw
		if !hc.writeClient(hc.out) {
			return hc.clientFailed()
		}
		hc.down += int64(len(hc.out))
		return hc.tunnel(be)
	default:
		return hc.lastClientWrite()
	}
}

func (hc *httpConn) clientFailed() bool {
	if hc.ts[0] == '-' {
		hc.ts = [2]byte{TermClientAbort, 'D'}
		if t := hc.c.Term(); t != 0 {
			hc.ts[0] = t
		}
	}
	return false
}

// writeClient writes b to the client within "timeout client".
func (hc *httpConn) writeClient(b []byte) bool {
	n := hc.fio.to(hc.cliRaw(), b)
	if n == len(b) {
		return true
	}
	_ = hc.cli.SetWriteDeadline(hc.clientDeadline())
	_, err := hc.cli.Write(b[n:])
	return err == nil
}

// writeServer writes b to the server connection within "timeout server".
func (hc *httpConn) writeServer(be *Backend, b []byte) error {
	n := hc.fio.to(hc.serverRaw(), b)
	if n == len(b) {
		return nil
	}
	_ = hc.sc.SetWriteDeadline(hc.serverDeadline(be))
	_, err := hc.sc.Write(b[n:])
	return err
}

// cliRaw is the client connection's RawConn for fio, nil when it has none.
func (hc *httpConn) cliRaw() syscall.RawConn {
	if !hc.cliRCSet {
		hc.cliRC, hc.cliRCSet = rawConnOf(hc.cli), true
	}
	return hc.cliRC
}

// serverRaw is the server connection's RawConn for fio, nil when it has
// none.
func (hc *httpConn) serverRaw() syscall.RawConn {
	if hc.scRCOf != hc.sc {
		hc.scRC, hc.scRCOf = rawConnOf(hc.sc), hc.sc
	}
	return hc.scRC
}

// pumpLength copies n more response bytes (n < 0: until the server
// closes) from the server to the client.
func (hc *httpConn) pumpLength(be *Backend, n int64) bool {
	if n < 0 || n > int64(len(hc.sbuf)) {
		hc.grow(&hc.sbuf, 0) // sbuf's bytes were forwarded with the head
	}
	for n != 0 {
		hc.sr, hc.sw = 0, 0
		lim := len(hc.sbuf)
		if n > 0 && int64(lim) > n {
			lim = int(n)
		}
		_ = hc.sc.SetReadDeadline(hc.serverDeadline(be))
		k, err := hc.fio.from(hc.serverRaw(), hc.sc, hc.sbuf[:lim])
		if k > 0 {
			if hc.store != nil {
				hc.cacheBody(hc.sbuf[:k], k)
			}
			if !hc.writeClient(hc.sbuf[:k]) {
				return hc.clientFailed()
			}
			hc.down += int64(k)
			hc.resBodyN += int64(k)
			if n > 0 {
				n -= int64(k)
			}
			continue
		}
		if err != nil {
			if n < 0 && errors.Is(err, io.EOF) {
				return true
			}
			hc.serverFailed(err, 'D')
			return false
		}
	}
	return true
}

// pumpChunked copies the rest of a chunked response body.
func (hc *httpConn) pumpChunked(be *Backend) bool {
	hc.grow(&hc.sbuf, 0) // what it held was forwarded with the head
	for {
		hc.sr, hc.sw = 0, 0
		_ = hc.sc.SetReadDeadline(hc.serverDeadline(be))
		k, err := hc.fio.from(hc.serverRaw(), hc.sc, hc.sbuf)
		if k > 0 {
			hc.sw = k
			before := hc.chunks.Data
			n, done, serr := hc.chunks.Scan(hc.sbuf[:k])
			if serr != nil {
				hc.ts = [2]byte{TermServerAbort, 'D'}
				return false
			}
			if hc.store != nil {
				hc.cacheBody(hc.sbuf[:n], int(hc.chunks.Data-before))
			}
			if !hc.writeClient(hc.sbuf[:n]) {
				return hc.clientFailed()
			}
			hc.sr = n
			hc.down += int64(n)
			if done {
				return true
			}
			continue
		}
		if err != nil {
			hc.serverFailed(err, 'D')
			return false
		}
	}
}

func (hc *httpConn) serverFailed(err error, phase byte) {
	switch {
	case hc.c.Term() != 0:
		hc.ts = [2]byte{hc.c.Term(), phase}
	case errors.Is(err, os.ErrDeadlineExceeded):
		hc.ts = [2]byte{TermServerTimeout, phase}
	default:
		hc.ts = [2]byte{TermServerAbort, phase}
	}
}

// tunnel copies both ways after a 101 or a CONNECT, under "timeout
// tunnel", until both sides ended.
func (hc *httpConn) tunnel(be *Backend) bool {
	hc.stopUploadKeep()
	t := &httpTunnel{hc: hc}
	t.cli.Conn, t.srv.Conn = hc.cli, hc.sc
	t.cli.TimeoutCode, t.cli.AbortCode = TermClientTimeout, TermClientAbort
	t.srv.TimeoutCode, t.srv.AbortCode = TermServerTimeout, TermServerAbort
	to := be.cfg.TimeoutTunnel
	if to == 0 {
		to = max(hc.h.f.cfg.TimeoutClient, be.cfg.TimeoutServer)
	}
	t.timeout = to
	now := time.Now().UnixNano()
	t.cli.last.Store(now)
	t.srv.last.Store(now)
	// Client bytes already read go first.
	if hc.r < hc.w {
		if _, err := hc.sc.Write(hc.buf[hc.r:hc.w]); err != nil {
			hc.ts = [2]byte{TermServerAbort, 'D'}
			return false
		}
		hc.up += int64(hc.w - hc.r)
		hc.r = hc.w
	}
	var wg sync.WaitGroup
	wg.Add(1)
	var up int64
	go func() {
		defer wg.Done()
		up, _ = Copy(t, &t.cli, &t.srv, 0)
	}()
	down, _ := Copy(t, &t.srv, &t.cli, 0)
	wg.Wait()
	hc.up += up
	hc.down += down
	hc.tunnelUp, hc.tunnelDown = up, down
	if t.term != 0 && hc.ts[0] == '-' {
		hc.ts = [2]byte{t.term, 'D'}
	}
	hc.closing = true
	return t.term == 0
}

// stopUploadKeep waits for an upload that must have ended (a tunnel
// starts after the request's body).
func (hc *httpConn) stopUploadKeep() {
	if hc.upload != nil {
		hc.waitUpload()
	}
}

// httpTunnel is the CopyOwner of an upgraded connection.
type httpTunnel struct {
	hc       *httpConn
	cli, srv Side
	timeout  time.Duration
	mu       sync.Mutex
	term     byte
	shut     int
}

func (t *httpTunnel) Dead() bool                  { return t.hc.c.dead.Load() }
func (t *httpTunnel) Timeout(*Side) time.Duration { return t.timeout }
func (t *httpTunnel) Deadline(sd *Side) time.Time {
	if t.timeout <= 0 {
		return time.Time{}
	}
	last := max(t.cli.last.Load(), t.srv.last.Load())
	return time.Unix(0, last).Add(t.timeout)
}

func (t *httpTunnel) Fail(code byte) {
	t.mu.Lock()
	if t.term == 0 {
		t.term = code
	}
	t.mu.Unlock()
	past := time.Unix(1, 0)
	_ = t.cli.Conn.SetDeadline(past)
	_ = t.srv.Conn.SetDeadline(past)
}

func (t *httpTunnel) EndOfStream(dst *Side) { closeWrite(dst.Conn) }

// ruleResponse answers a request that a rule ended (deny, return,
// redirect) and logs it; phase is where ('R' request rules).
func (hc *httpConn) ruleResponse(start time.Time, tr time.Duration, res *rules.HTTPResult, phase byte) bool {
	if res.Denied {
		// HAProxy captures the cookie of a denied request too ("Allow
		// cookie logging" at its deny and tarpit labels).
		hc.captureReqCookie()
	}
	if res.Tarpit {
		return hc.tarpitResponse(start, res)
	}
	if res.Service != "" {
		return hc.serviceResponse(start, tr)
	}
	f := hc.h.f
	if res.SilentDrop {
		// Nothing goes to the client, which is left waiting; logged as
		// HAProxy logs it: no response (-1), "PR", no request time.
		hc.c.dropSilently()
		f.deniedReq.Add(1)
		if hc.be != nil {
			hc.be.deniedReq.Add(1)
		}
		hc.ts = [2]byte{TermProxy, phase}
		hc.closing = true
		hc.logTxn(start, -1, -1, time.Since(start), true)
		return false
	}
	if hc.req.Framing != http1.NoBody {
		hc.closing = true // the body is not read
	}
	term := byte('L') // answered locally (return, redirect, auth)
	if res.DefaultBody && res.Authenticate == nil {
		term = TermProxy
		f.deniedReq.Add(1)
	}
	hc.ts = [2]byte{term, phase}
	if term == 'L' && phase == 'R' && hc.be == nil {
		// Answered at the frontend's stage (HAProxy: while the stream's
		// backend is still its frontend): an intercepted request.
		f.http.intercepted.Add(1)
	}
	hc.out = hc.local(res.Status, res)
	if hc.writeClient(hc.out) {
		hc.down = int64(len(hc.out))
	} else {
		hc.closing = true
	}
	hc.logTxn(start, tr, -1, time.Since(start), true)
	return !hc.closing
}

// serviceResponse answers a request an "http-request use-service
// prometheus-exporter" rule took, as HAProxy's applet does: a 200 with
// the metrics (its head only for HEAD), or a 400 for a query string it
// does not accept; the http-after-response rules run on it, and the log
// names the applet as the server, with state "LR".
func (hc *httpConn) serviceResponse(start time.Time, tr time.Duration) bool {
	if hc.req.Framing != http1.NoBody {
		hc.closing = true // the body is not read
	}
	var body []byte
	ok := false
	if svc := hc.h.cfg.Prometheus; svc != nil {
		body, ok = svc(hc.req.URI)
	}
	hc.ts = [2]byte{'L', 'R'}
	hc.service = true
	if hc.be == nil {
		hc.h.f.http.intercepted.Add(1)
	}
	if !ok {
		hc.out = hc.local(400, nil)
	} else {
		if string(hc.req.Method) == "HEAD" {
			body = nil
		}
		r := rules.HTTPResult{Status: 200, ContentType: promContentType, Body: body,
			Headers: []http1.Field{{Name: []byte("cache-control"), Value: []byte("no-cache")}}}
		if r.Body == nil {
			r.Body = []byte{}
		}
		hc.out = hc.local(200, &r)
	}
	if hc.writeClient(hc.out) {
		hc.down = int64(len(hc.out))
	} else {
		hc.closing = true
	}
	hc.logTxn(start, tr, -1, time.Since(start), true)
	return !hc.closing
}

// promContentType is the exporter's Content-Type, as HAProxy sends it.
var promContentType = []byte("text/plain; version=0.0.4")

// responseDenied answers in place of a response an http-response rule
// denied (502 by default) or replaced, and logs the transaction.
func (hc *httpConn) responseDenied(start time.Time, tr time.Duration, tSent time.Time, r *rules.HTTPResult) bool {
	hc.stopUpload()
	if sc := hc.c.DetachServerConn(); sc != nil {
		dropServerConn(sc)
	}
	hc.ts = [2]byte{TermProxy, 'H'}
	hc.h.f.countDeniedResp(hc.be, hc.lg.server)
	hc.closing = hc.closing || hc.req.Framing != http1.NoBody && hc.upload != nil
	hc.out = hc.local(r.Status, r)
	if hc.writeClient(hc.out) {
		hc.down += int64(len(hc.out))
	} else {
		hc.closing = true
	}
	hc.logTxn(start, tr, time.Since(tSent), time.Since(start), true)
	hc.c.ReleaseServer()
	return !hc.closing
}

// local builds a response lb sends itself, as HAProxy's stream sends it:
// the built-in page for status when r is nil or asks for the default body,
// else what a return, deny or redirect rule described, with lower-case
// fields, content-length first; the http-after-response rules run on it.
// It returns hc.out.
func (hc *httpConn) local(status int, r *rules.HTTPResult) []byte {
	m := &hc.res
	h := m.Header
	h.Reset()
	*m = http1.Message{Header: h, Minor: 1, Status: status}
	var num [20]byte
	var (
		el  ErrorLoc
		loc bool
		ef  []byte
	)
	var challenge []byte // "http-request auth"'s WWW-Authenticate
	if r != nil {
		challenge = r.Authenticate
	}
	if hc.redir != nil {
		// A server's "redir": HAProxy's 302 has an errorloc's fields.
		el, loc = ErrorLoc{Code: status, URL: hc.redir}, true
	} else if r == nil || r.DefaultBody {
		var rp *rules.Proxy
		el, loc, ef, rp = hc.errorPage(status)
		if rp != nil {
			// An "http-error" line: sent as the return it describes.
			if res, ok := rp.ErrorReply(hc.c.st, status); ok {
				r = &res
			}
		}
	} else if r.ErrorFile != nil {
		ef = r.ErrorFile
	}
	switch {
	case loc:
		errorLocMessage(m, el)
		hc.body = hc.body[:0]
	case ef != nil:
		// The errorfile, parsed from a copy (the parser may edit its
		// input), sent as HAProxy sends it: through its message form.
		hc.body = append(hc.body[:0], ef...)
		n, _ := http1.ParseResponse(hc.body, m, []byte("GET"), nil)
		hc.body = hc.body[n:]
		if m.Framing == http1.UntilClose {
			hc.closing = true
		}
	case r == nil || r.DefaultBody:
		reason, page := errorBody(status)
		m.Reason = []byte(reason)
		m.Header.Add("content-length", strconv.AppendInt(num[:0], int64(len(page)), 10))
		m.Header.Add("cache-control", []byte("no-cache"))
		m.Header.Add("content-type", []byte("text/html"))
		hc.body = append(hc.body[:0], page...)
	case len(r.Location) > 0:
		m.Status = r.Status
		m.Reason = []byte(statusReason(r.Status))
		m.Header.Add("content-length", strconv.AppendInt(num[:0], int64(len(r.Body)), 10))
		m.Header.Add("location", r.Location)
		for _, f := range r.Headers {
			m.Header.Add(string(f.Name), f.Value)
		}
		hc.body = hc.body[:0]
	default:
		// A return, a deny with content options or none, an http-error
		// line: its fields first, then the length, then the type of a
		// non-empty payload (http_reply_to_htx).
		m.Status = r.Status
		m.Reason = []byte(statusReason(r.Status))
		for _, f := range r.Headers {
			m.Header.Add(string(f.Name), f.Value)
		}
		m.Header.Add("content-length", strconv.AppendInt(num[:0], int64(len(r.Body)), 10))
		if len(r.ContentType) > 0 && len(r.Body) > 0 {
			m.Header.Add("content-type", r.ContentType)
		}
		// Copied: the rules below may reuse the stream's storage.
		hc.body = append(hc.body[:0], r.Body...)
	}
	if challenge != nil {
		m.Header.Del("www-authenticate")
		m.Header.Add("www-authenticate", challenge)
	}
	if hc.c.st != nil && hc.c.st.HTTP != nil {
		hc.txn.Res = m
		hc.afterResponse()
	}
	hc.status = m.Status
	if loc {
		hc.status = status // logged as the error it stands for
	}
	hc.ownResp = true
	if m.Status == 400 {
		hc.closing = true // as HAProxy, after any 400 it sends
	}
	// As for a server's response: "keep-alive" to an HTTP/1.0 client
	// the connection stays open for.
	conn := ""
	switch {
	case hc.closing:
		if m.Minor == 1 {
			conn = "close"
		}
	case len(hc.reqLine) > 0 && hc.req.Minor == 0 || m.Minor == 0:
		conn = "keep-alive"
	}
	hc.out = http1.AppendResponse(hc.out[:0], m, conn)
	return append(hc.out, hc.body...)
}

// errorPage returns the response the configuration gives for status
// (HAProxy's http_error_message): the backend's, else the frontend's, an
// errorloc (loc), an errorfile (ef) or an "http-error" line (rp, whose
// ErrorReply builds it); all unset for the built-in page.
func (hc *httpConn) errorPage(status int) (el ErrorLoc, loc bool, ef []byte, rp *rules.Proxy) {
	if be := hc.be; be != nil {
		if el, ok := be.cfg.HTTP.ErrorLocs[status]; ok {
			return el, true, nil, nil
		}
		if ef := be.cfg.HTTP.ErrorFiles[status]; ef != nil {
			return ErrorLoc{}, false, ef, nil
		}
		if be.rules != nil && be.rules.HasErrorReply(status) {
			return ErrorLoc{}, false, nil, be.rules
		}
	}
	if el, ok := hc.h.cfg.ErrorLocs[status]; ok {
		return el, true, nil, nil
	}
	if ef := hc.h.cfg.ErrorFiles[status]; ef != nil {
		return ErrorLoc{}, false, ef, nil
	}
	if fr := hc.h.f.cfg.Rules; fr != nil && fr.HasErrorReply(status) {
		return ErrorLoc{}, false, nil, fr
	}
	return ErrorLoc{}, false, nil, nil
}

// statusReason is the reason phrase lb sends with a status it answers.
func statusReason(status int) string {
	if p, ok := statusReasons[status]; ok {
		return p
	}
	reason, _ := errorBody(status)
	return reason
}

// afterResponse runs the http-after-response rules of the backend, then
// of the frontend, on hc.txn.Res.
func (hc *httpConn) afterResponse() {
	st := hc.c.st
	var br *rules.Proxy
	if hc.be != nil {
		br = hc.be.rules
	}
	if br != nil {
		br.HTTPAfterResponse(st)
	}
	// As for http-response, an "allow" stops its own proxy's rules only.
	if fr := hc.h.f.cfg.Rules; fr != nil && fr != br {
		fr.HTTPAfterResponse(st)
	}
}

// statusReasons are HAProxy's reason phrases (http_get_reason) for the
// statuses rules send that its error pages do not name the same way.
var statusReasons = map[int]string{
	200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
	301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
	307: "Temporary Redirect", 308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
	405: "Method Not Allowed", 408: "Request Timeout", 429: "Too Many Requests",
	500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
	504: "Gateway Timeout",
}

// appletTxn sends the response an applet built and logs the transaction
// as HAProxy logs its stats page: server "<STATS>", state "LR".
func (hc *httpConn) appletTxn(start time.Time, tr time.Duration, resp []byte) bool {
	hc.status = 0
	if len(resp) > 12 {
		hc.status, _ = strconv.Atoi(string(resp[9:12]))
	}
	hc.ts = [2]byte{'L', 'R'}
	hc.stats = true
	if hc.be == nil {
		hc.h.f.http.intercepted.Add(1)
	}
	if hc.writeClient(resp) {
		hc.down = int64(len(resp))
	} else {
		hc.closing = true
	}
	hc.logTxn(start, tr, -1, time.Since(start), true)
	return !hc.closing
}

// serverRedirectTxn answers a GET or HEAD request whose server has a
// "redir" prefix, as HAProxy's http_perform_server_redirect: a 302 to the
// prefix followed by the request's path ("/" alone keeps the path only),
// through the http-after-response rules, after which the client connection
// closes; logged with the server, "LC" and no connect time.
func (hc *httpConn) serverRedirectTxn(start time.Time, tr time.Duration) bool {
	hc.closing = true
	loc := hc.lg.server.cfg.Redir
	if loc == "/" {
		loc = ""
	}
	hc.redir = append([]byte(loc), requestPath(hc.req.URI)...)
	hc.out = hc.local(302, nil)
	hc.redir = nil // local's other responses are not this one
	if hc.writeClient(hc.out) {
		hc.down += int64(len(hc.out))
	}
	hc.logTxn(start, tr, -1, time.Since(start), true)
	hc.c.ReleaseServer()
	return false
}

// requestPath is the path of a request target, from its first '/' with the
// query (HAProxy's http_parse_path): the target itself in origin form.
func requestPath(target []byte) []byte {
	if len(target) > 0 && target[0] == '/' {
		return target
	}
	if i := bytes.Index(target, []byte("://")); i >= 0 {
		rest := target[i+3:]
		if j := bytes.IndexByte(rest, '/'); j >= 0 {
			return rest[j:]
		}
	}
	return nil
}

// errorTxn answers the client with HAProxy's page for status (a request
// that could not reach a server) and logs the transaction.
func (hc *httpConn) errorTxn(start time.Time, tr time.Duration, status int) bool {
	if hc.req.Framing != http1.NoBody {
		hc.closing = true
	}
	hc.stopUpload()
	if sc := hc.c.DetachServerConn(); sc != nil {
		dropServerConn(sc)
	}
	hc.out = hc.local(status, nil)
	if hc.writeClient(hc.out) {
		hc.down += int64(len(hc.out))
	} else {
		hc.closing = true
	}
	hc.logTxn(start, tr, -1, time.Since(start), true)
	hc.c.ReleaseServer()
	return !hc.closing
}

// serverErrorTxn ends a transaction whose server failed: the client gets
// HAProxy's page for status (none when 0, or when part of the response
// went out already), and the log says why.
func (hc *httpConn) serverErrorTxn(start time.Time, tr time.Duration, tSent time.Time, status int) bool {
	if sc := hc.c.DetachServerConn(); sc != nil {
		dropServerConn(sc)
	}
	hc.closing = hc.closing || hc.req.Framing != http1.NoBody
	if status != 0 && hc.down == 0 {
		hc.out = hc.local(status, nil)
		if hc.writeClient(hc.out) {
			hc.down += int64(len(hc.out))
		} else {
			hc.closing = true
		}
	} else {
		hc.closing = true
	}
	hc.logTxn(start, tr, -1, time.Since(start), true)
	hc.c.ReleaseServer()
	return !hc.closing
}

// forwardFor adds the client's address in the "option forwardfor" field
// of the backend, else of the frontend.
func (hc *httpConn) forwardFor(be *Backend) {
	ff := be.cfg.HTTP.Forwardfor
	if ff == nil {
		ff = hc.h.cfg.Forwardfor
	}
	if ff == nil {
		return
	}
	a := hc.c.client.Addr()
	if !a.IsValid() {
		return
	}
	a = a.Unmap()
	if ff.Except.IsValid() && ff.Except.Contains(a) {
		return
	}
	name := ff.Header
	if name == "" {
		name = "X-Forwarded-For"
	}
	if ff.IfNone {
		if _, ok := hc.req.Header.Get(name); ok {
			return
		}
	}
	var ip [64]byte
	hc.req.Header.Add(name, a.AppendTo(ip[:0]))
}

// reqPayload and resPayload are the body bytes of the request and the
// response, without chunk framing.
func (hc *httpConn) reqPayload() int64 {
	if hc.req.Framing == http1.Chunked {
		return hc.rchunks.Data
	}
	return hc.reqBodyN
}

func (hc *httpConn) resPayload() int64 {
	switch {
	case hc.ownResp:
		return int64(len(hc.body))
	case hc.res.Framing == http1.Chunked:
		return hc.chunks.Data
	}
	return hc.resBodyN
}

// htxSize is the size HAProxy 2.6 logs for a message (%U for the request,
// %B for the response): not the bytes on the wire but the message in its
// internal form, 20 bytes plus the start line's three words, plus the
// names and values of the fields but Connection, plus 1 for the end of the
// head, plus the body's payload, plus 1 for a chunked body's end
// (measured against haproxy 2.6.12 by the logs tests).
func htxSize(m *http1.Message, request bool, payload int64) int64 {
	n := int64(20 + 8 + 1)
	if request {
		n += int64(len(m.Method) + len(m.URI))
	} else {
		n += 3 + int64(len(m.Reason))
	}
	for _, f := range m.Header.Fields {
		if len(f.Name) == 10 && http1.EqualFold(f.Name, "connection") {
			continue
		}
		n += int64(len(f.Name) + len(f.Value))
	}
	if m.Framing == http1.Chunked {
		n++
	}
	return n + payload
}

// captureRequest and captureResponse record the captured header values
// of the transaction for the log.
func (hc *httpConn) captureRequest() {
	hc.caps = hc.caps[:0]
	for _, cp := range hc.h.cfg.CaptureRequest {
		hc.caps = append(hc.caps, capture(&hc.req.Header, cp))
	}
}

func (hc *httpConn) captureResponse() {
	for _, cp := range hc.h.cfg.CaptureResponse {
		hc.caps = append(hc.caps, capture(&hc.res.Header, cp))
	}
}

func capture(h *http1.Header, cp Capture) []byte {
	if cp.Name == "" {
		return nil // a slot the rules fill
	}
	v, ok := h.Get(cp.Name)
	if !ok {
		return nil
	}
	if len(v) > cp.Len {
		v = v[:cp.Len]
	}
	return append([]byte(nil), v...)
}

// countServerStatus counts the response head just read on its server, as
// HAProxy counts each (interim ones too) once no retry takes it.
func (hc *httpConn) countServerStatus() {
	if srv := hc.lg.server; srv != nil && !hc.cached {
		srv.http.countStatus(hc.res.Status)
		srv.http.reqs.Add(1)
		srv.observe(hanaStatus(hc.res.Status))
	}
}

// logTxn accounts the transaction and hands its record to the frontend's
// log hook. tr is the time to read the head (-1: never complete), trs the
// server's response time (-1: none), ta the active time.
func (hc *httpConn) logTxn(start time.Time, tr, trs, ta time.Duration, haveReq bool) {
	c, f, e := hc.c, hc.h.f, hc.h.f.eng
	be := hc.be
	srv := hc.lg.server
	// HAProxy counts every request it reads, a bad one too (req_tot).
	f.reqs.Add(1)
	f.bytesIn.Add(uint64(hc.up))
	f.bytesOut.Add(uint64(hc.down))
	if be != nil {
		be.bytesIn.Add(uint64(hc.up))
		be.bytesOut.Add(uint64(hc.down))
	}
	if srv != nil {
		srv.bytesIn.Add(uint64(hc.up))
		srv.bytesOut.Add(uint64(hc.down))
	}
	if be != nil && hc.ts[0] != '-' {
		be.countAbort(srv, hc.ts[0], hc.ts[1])
	}
	if hc.status != 0 {
		f.http.countStatus(hc.status)
		if be != nil {
			be.http.countStatus(hc.status)
			be.http.reqs.Add(1)
		}
	}
	now := time.Now()
	if be != nil && haveReq {
		tt := now.Sub(start)
		be.times.add(hc.lg.tw, hc.lg.tc, trs, tt)
		if srv != nil {
			srv.times.add(hc.lg.tw, hc.lg.tc, trs, tt)
		}
	}
	// The transaction's stick counters: a 4xx is an error, and what its
	// rules tracked is released.
	if c.st != nil && c.st.Tracking() {
		c.st.AddBytes(hc.up, hc.down)
		c.st.EndHTTPTxn(hc.status)
	}
	// HAProxy logs once the transaction left its server and backend:
	// %bc and %sc do not count it.
	c.ReleaseServer()
	hc.leaveBackend()
	if f.cfg.Log == nil || hc.txn.LogLevel == rules.LogLevelSilent {
		return
	}
	if haveReq {
		hc.makeUniqueID(start)
	}
	rec := logPool.Get().(*LogRecord)
	*rec = c.newLogRecord()
	lg := &hc.lg
	if be != nil {
		rec.Backend = be.cfg.Name
	}
	if srv != nil {
		rec.Server = srv.cfg.Name
	}
	if hc.stats {
		rec.Server = "<STATS>"
	}
	if hc.service {
		rec.Server = "<PROMEX>"
	}
	if hc.cached {
		// HAProxy's cache applet answered: "LR" unless something failed.
		rec.Server = "<CACHE>"
		if hc.ts == [2]byte{'-', '-'} {
			hc.ts = [2]byte{'L', 'R'}
		}
	}
	rec.Accept = start
	rec.Tw, rec.Tc, rec.Retries, rec.Redispatch = lg.tw, lg.tc, int(lg.retries), lg.redispatch
	rec.SrvQueue, rec.BackendQueue = int(lg.srvQueue), int(lg.beQueue)
	rec.ServerLocal, rec.ServerAddr = lg.serverLocal, lg.serverAddr
	rec.Tt = now.Sub(start)
	rec.Termination = string(hc.ts[:])
	// HAProxy logs the sizes of the messages in its internal form, not
	// the bytes on the wire (see htxSize).
	rec.BytesUploaded = htxSize(&hc.req, true, hc.reqPayload()) + hc.tunnelUp
	rec.BytesRead = hc.tunnelDown
	switch {
	case hc.stats:
		rec.BytesRead = hc.down
	case hc.resHead > 0 && !hc.ownResp:
		// HAProxy counts the response head as the server sent it, not as
		// the http-response rules or the compression left it.
		rec.BytesRead += hc.resHead + hc.resPayload()
	case hc.status != 0:
		rec.BytesRead += htxSize(&hc.res, false, hc.resPayload())
		if hc.redirected {
			// A server's 302 goes through HAProxy's response analysers,
			// which add its "Connection: close" to the message (measured).
			rec.BytesRead += int64(len("connection") + len("close"))
		}
	}
	if len(hc.reqLine) == 0 {
		rec.BytesRead, rec.BytesUploaded = 0, 0
	}
	ti := start.Sub(hc.idleSince)
	if hc.nreq == 0 {
		ti = start.Sub(c.accept) - c.th
	}
	rec.SessionID = hc.requestID()
	rec.HTTP = HTTPLog{Set: true, RequestLine: hc.reqLine, Status: hc.status, UniqueID: hc.uid,
		Ti: max(ti, 0), TR: tr, Tr: trs, Ta: ta, CookieCli: hc.cookieCli, CookieSrv: hc.cookieSrv, Level: hc.txn.LogLevel,
		CapturedCookieCli: hc.capCli, CapturedCookieSrv: hc.capSrv}
	nReq := len(hc.h.cfg.CaptureRequest)
	if len(hc.caps) >= nReq {
		rec.HTTP.ReqCaptures = hc.caps[:nReq]
		rec.HTTP.ResCaptures = hc.caps[nReq:]
	}
	rec.ActConn, rec.FeConn = int(e.actconn.Load()), int(f.cur.Load())
	if be != nil {
		rec.BeConn = int(be.cur.Load())
	}
	if srv != nil {
		srv.be.mu.Lock()
		rec.SrvConn = srv.cur
		srv.be.mu.Unlock()
	}
	rec.Stream = c.logStream(be)
	if rec.Stream != nil && !haveReq {
		rec.Stream.HTTP = nil // no request head: nothing of a previous one
	}
	f.cfg.Log(rec)
	*rec = LogRecord{}
	logPool.Put(rec)
}
