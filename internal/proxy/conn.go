package proxy

import (
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"lb/internal/rules"
)

// Termination letters: the first letter of HAProxy's termination state
// (%ts), saying who or what ended a connection (configuration manual,
// section 8.5). Conn.Kill, Conn.SetTerm, Side and ConnectResult carry them.
const (
	TermClientAbort   = 'C' // the client aborted or failed
	TermServerAbort   = 'S' // the server aborted, refused or failed
	TermClientTimeout = 'c' // the client side timed out
	TermServerTimeout = 's' // the server side timed out, or the queue wait
	TermProxy         = 'P' // the proxy ended it (a rule, no backend)
	TermKilled        = 'K' // killed by the administrator or a hard stop
	TermDown          = 'D' // its server went DOWN (shutdown-on-down)
	TermUp            = 'U' // an active server came UP (on-marked-up): it was on a backup
	TermResource      = 'R' // the proxy ran out of a resource (descriptors, memory)
	TermInternal      = 'I' // an internal error (no source address to bind)
)

// Handler serves the connections a frontend accepted, once the engine ran
// their layer-4 prologue: the "tcp-request connection" rules, the PROXY
// header and the "tcp-request session" rules (HAProxy's order, stream.c).
// The TCP handler (the default, session.go) proxies bytes to one server;
// an HTTP handler runs its transaction loop on the same Conn.
//
// Serve runs on one of the engine's set-up workers, whose stack is reused
// from connection to connection: it should return once the connection is
// handed to goroutines of its own (or parked, see Conn.Park), and may
// return before the connection ends. It owns c from the call on and must
// call c.End exactly once, from any goroutine, when c is over.
type Handler interface {
	Serve(c *Conn)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(*Conn)

// Serve calls f(c).
func (f HandlerFunc) Serve(c *Conn) { f(c) }

// tcpHandler is the default handler: "mode tcp".
type tcpHandler struct{}

// Serve implements Handler.
func (tcpHandler) Serve(c *Conn) { newSession(c).serve() }

// Conn is an accepted client connection registered in its engine: counted
// in the frontend's and the global maxconn from accept to End, waited for
// by Engine.Wait, killed by Engine.CloseAll and, while it holds a slot on
// a server, by that server's ShutdownSessions or shutdown-on-down.
//
// A kill records its termination letter (Term) and wakes whatever the
// handler may be blocked on through the Conn: the client socket and the
// published server connection get past deadlines, Done is closed (queue
// waits, timers) and a parked Conn is resumed. So a handler needs no kill
// hook of its own: it finds Dead set the next time it looks.
type Conn struct {
	c      net.Conn
	f      *Frontend
	bind   *Binding
	accept time.Time
	// id is the process-wide session number taken at accept (%rt).
	id uint64
	// th is the time spent reading the PROXY header (%Th).
	th time.Duration

	// Set by the prologue, read-only afterwards.
	client, local netip.AddrPort
	// src is client published for other goroutines ("show sess").
	src atomic.Pointer[netip.AddrPort]
	// silent drops the log line of a connection refused by tcp-request
	// connection or session rules.
	silent bool
	// tls is the client TLS connection's state once its handshake is
	// done (nil: plain TCP); connErr what the log line of a connection
	// that failed before it became a session says (HAProxy's embryonic
	// session log: a failed TLS handshake).
	tls     *tls.ConnectionState
	connErr string
	// sock is the socket under a TLS client connection (nil when plain):
	// what Park watches.
	sock net.Conn

	// st is the rules stream (nil when the frontend has no rules) and req
	// the client's data read with the PROXY header or while inspecting,
	// not yet forwarded. Both are pooled; releaseRules gives them back.
	st  *rules.Stream
	req []byte

	// srv is the server this connection holds a slot on (Backend.Connect),
	// nil when none.
	srv atomic.Pointer[Server]

	// mu guards sc's publication against abort, and the hand-over of an
	// event loop's connection (rx, c, killCh) to the goroutine engine.
	mu sync.Mutex
	sc net.Conn // published server connection; nil when none
	// rx is the event loop's session while a loop drives c
	// (reactor_linux.go): c is nil then, and so is killCh.
	rx *rconn

	killCh chan struct{} // closed by abort
	once   sync.Once     // guards close(killCh)
	// dead is set just before killCh is closed, for cheap checks in copy
	// loops.
	dead atomic.Bool
	// term is the first termination letter recorded; 0 while normal.
	term atomic.Uint32
	// ended is set when the connection's end has started: nothing left to
	// kill or count.
	ended atomic.Bool
	// unregistered guards End.
	unregistered atomic.Bool

	// Idle parking (idle_linux.go): set before parked turns true.
	parked   atomic.Bool
	httpIdle atomic.Bool // parked between two HTTP requests
	// idleWait is set while a keep-alive client that cannot be parked
	// waits for its next request on its goroutine (httpConn.waitIdle).
	idleWait  atomic.Bool
	parkID    uint64
	parkFDs   [2]int
	parkN     int
	parkTimer *time.Timer
	resume    func()
}

func newConn(f *Frontend, b *Binding, c net.Conn) *Conn {
	return &Conn{c: c, f: f, bind: b, accept: time.Now(), id: f.eng.sessions.Add(1) - 1, killCh: make(chan struct{})}
}

// NetConn returns the client socket. The handler may read and write it;
// it is closed by End.
func (c *Conn) NetConn() net.Conn { return c.c }

// Frontend returns the frontend that accepted c.
func (c *Conn) Frontend() *Frontend { return c.f }

// BindName returns the name of the bind line that accepted c.
func (c *Conn) BindName() string { return c.bind.cfg.Name }

// Accepted returns when c was accepted.
func (c *Conn) Accepted() time.Time { return c.accept }

// Client returns the client's address: from the PROXY header when there
// was one, else the socket's peer; invalid for unix sockets.
func (c *Conn) Client() netip.AddrPort { return c.client }

// Local returns the address the client connected to (the PROXY header's
// destination when there was one).
func (c *Conn) Local() netip.AddrPort { return c.local }

// Stream returns the rules stream the prologue ran, nil when the frontend
// has no rules. It lives until End.
func (c *Conn) Stream() *rules.Stream { return c.st }

// Buffered returns the client's data already read (after a PROXY header)
// and not yet forwarded; the handler sends it before anything else.
func (c *Conn) Buffered() []byte { return c.req }

// Done is closed when c is killed or aborted. Handlers always get a
// channel; a connection an event loop drives has none (nil).
func (c *Conn) Done() <-chan struct{} { return c.killCh }

// Dead reports whether c was killed or aborted.
func (c *Conn) Dead() bool { return c.dead.Load() }

// Term returns the termination letter recorded first (HAProxy's first %ts
// letter), 0 while none is.
func (c *Conn) Term() byte { return byte(c.term.Load()) }

// SetTerm records c's termination letter if none is yet and reports
// whether it did.
func (c *Conn) SetTerm(code byte) bool { return c.term.CompareAndSwap(0, uint32(code)) }

// Kill ends c from the handler or outside with termination letter code
// (kept only if none was recorded): see Conn.
func (c *Conn) Kill(code byte) {
	c.SetTerm(code)
	c.abort()
}

// abort wakes everything a handler may wait on so that c ends.
func (c *Conn) abort() {
	c.dead.Store(true)
	past := time.Unix(1, 0)
	c.mu.Lock()
	if c.killCh != nil {
		c.once.Do(func() { close(c.killCh) })
	}
	if x := c.rx; x != nil {
		c.mu.Unlock()
		x.kill()
		return
	}
	_ = c.c.SetDeadline(past)
	if c.sc != nil {
		_ = c.sc.SetDeadline(past)
	}
	c.mu.Unlock()
	c.unpark()
}

func (c *Conn) aborted() bool { return c.dead.Load() }

// Park waits, with no goroutine and no stack, until c's client socket is
// readable (data, an end of stream or an error), deadline passes (zero:
// never) or c is killed; then resume runs once, on the goroutine that saw
// it first (the poller's, a timer's or the killer's, possibly before Park
// returns): it must not block, and typically starts a goroutine. This is
// for a keep-alive client between two requests, which holds no server
// connection.
//
// Park reports false, and resume is not called, when c cannot be parked:
// data is already waiting, the client socket exposes no descriptor, or the
// platform has no private epoll set (outside Linux). The handler then
// reads at once. A TLS client is parked on its socket: the caller has seen
// a read through TLS time out with nothing, so no complete record waits
// above the socket.
func (c *Conn) Park(deadline time.Time, resume func()) bool {
	return c.parkClient(deadline, resume)
}

// publishServerConn makes sc the connection a kill sets past deadlines on
// and End closes. It reports false when c was killed meanwhile (sc is
// published all the same).
func (c *Conn) publishServerConn(sc net.Conn) bool {
	c.mu.Lock()
	c.sc = sc
	killed := c.aborted()
	c.mu.Unlock()
	return !killed
}

// DetachServerConn unpublishes the server connection established by
// Backend.Connect and returns it, nil when none: the caller owns it again
// (to keep it for another request, or close it). A kill no longer reaches
// it and End does not close it.
func (c *Conn) DetachServerConn() net.Conn {
	c.mu.Lock()
	sc := c.sc
	c.sc = nil
	c.mu.Unlock()
	return sc
}

// Server returns the server c holds a slot on, nil when none.
func (c *Conn) Server() *Server { return c.srv.Load() }

// ReleaseServer gives back the server slot c holds (Backend.Connect), if
// any, handing it to a queued connection.
func (c *Conn) ReleaseServer() {
	if srv := c.srv.Swap(nil); srv != nil {
		srv.be.release(srv)
	}
}

// closeConns starts c's end, once: nothing is killed or counted any more,
// and the server connection (if still published) and the client socket
// are closed. End calls it too; a handler that logs calls it after the log
// line, as HAProxy does, so that the line's counters do not yet see a
// client that reconnects at once.
func (c *Conn) closeConns() {
	if c.ended.Swap(true) {
		return
	}
	c.mu.Lock()
	sc, rx := c.sc, c.rx
	c.mu.Unlock()
	if rx != nil {
		rx.closeFDs() // on rx's loop, the only caller for its connections
		return
	}
	if sc != nil {
		_ = sc.Close()
	}
	if c.c != nil {
		_ = c.c.Close()
	}
}

// End ends c: closes its sockets if not done yet, releases its server slot
// and rules stream, and unregisters it, freeing its maxconn slots. The
// handler calls it exactly once, when it no longer uses c; later calls do
// nothing.
func (c *Conn) End() {
	if c.unregistered.Swap(true) {
		return
	}
	c.closeConns()
	c.ReleaseServer()
	c.releaseRules()
	if c.st != nil {
		c.releaseStream()
	}
	f, e := c.f, c.f.eng
	f.cur.Add(-1)
	e.remove(c)
	e.putSlots(c.bind)
	// Its descriptors are closed: a listener paused for want of them may
	// accept again.
	e.resourcesFreed()
}

// RulesStream returns c's rules stream, made now if c has none (a server's
// "sni" expression evaluated on a connection that ran no rule).
func (c *Conn) RulesStream() *rules.Stream {
	if c.st != nil {
		return c.st
	}
	return c.newStream()
}

// newStream gives c a rules stream from the pool, set for c's connection,
// and returns it.
func (c *Conn) newStream() *rules.Stream {
	st := streamPool.Get().(*rules.Stream)
	st.Src, st.Dst, st.BindName, st.Frontend, st.TLS = c.client, c.local, c.bind.cfg.Name, c.f, c.tls
	c.st = st
	return st
}

// releaseStream gives c's rules stream back to its pool.
func (c *Conn) releaseStream() {
	c.st.Req, c.st.Res, c.st.TLS = nil, nil, nil
	c.st.Frontend, c.st.Backend = nil, nil
	c.st.Reset()
	streamPool.Put(c.st)
	c.st = nil
}

// serve runs the prologue on a set-up worker, then the frontend's handler.
func (c *Conn) serve() {
	f := c.f
	raiseMax(&f.maxCur, f.cur.Add(1))
	f.total.Add(1)
	if !c.prologue() {
		c.logPrologue()
		c.closeConns()
		c.End()
		return
	}
	f.handler.Serve(c)
}

// prologue runs the frontend's tcp-request connection rules, reads the
// PROXY header and runs the tcp-request session rules. It reports whether
// the handler may take the connection; if not, the termination letter is
// recorded (or the connection is silent).
func (c *Conn) prologue() bool {
	c.client, c.local = addrPort(c.c.RemoteAddr()), addrPort(c.c.LocalAddr())
	c.src.Store(&c.client)
	return c.connRules() && c.proxySession()
}

// connRules runs the tcp-request connection rules on c.client and c.local
// and reports whether the connection goes on.
func (c *Conn) connRules() bool {
	f := c.f
	fr := f.cfg.Rules
	if fr == nil {
		return true
	}
	st := c.newStream()
	if fr.TCPConnection(st) == rules.Reject {
		if st.SilentDrop {
			// HAProxy's silent-drop counts a denied request, not a
			// denied connection, wherever it runs.
			c.dropSilently()
			f.deniedReq.Add(1)
		} else {
			f.deniedConn.Add(1)
		}
		f.uncountSess()
		c.silent = true
		return false
	}
	return true
}

// needsProxyHeader reports whether c must read a PROXY header: its bind
// has accept-proxy, or a rule asked for it (expect-proxy).
func (c *Conn) needsProxyHeader() bool {
	return c.bind.cfg.AcceptProxy || (c.st != nil && c.st.ExpectProxy)
}

// proxySession reads the PROXY header when one is expected, then runs the
// tcp-request session rules; it reports whether the connection goes on.
func (c *Conn) proxySession() bool {
	f := c.f
	if c.needsProxyHeader() {
		if t := f.cfg.TimeoutClient; t > 0 {
			_ = c.c.SetReadDeadline(time.Now().Add(t))
		}
		h, rest, err := ReadProxyHeader(c.c)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && !c.aborted() {
				c.SetTerm(TermClientTimeout)
			} else {
				c.SetTerm(TermClientAbort)
			}
			f.log.Debug("accept-proxy", "frontend", f.cfg.Name, "client", c.client, "error", err)
			return false
		}
		_ = c.c.SetReadDeadline(time.Time{})
		c.th = time.Since(c.accept)
		if !h.Local {
			c.client, c.local = h.Src, h.Dst
			c.src.Store(&h.Src)
		}
		if len(rest) > 0 {
			c.req = append(getBuf(), rest...)
		}
	}
	if cfg := c.bind.cfg.TLS; cfg != nil {
		if !c.handshake(cfg) {
			return false
		}
		if c.st != nil {
			c.st.TLS = c.tls
		}
	}
	return c.sessionRules()
}

// sessionRules runs the tcp-request session rules and reports whether the
// connection goes on.
func (c *Conn) sessionRules() bool {
	f := c.f
	fr := f.cfg.Rules
	if fr == nil {
		return true
	}
	st := c.st
	st.Src, st.Dst = c.client, c.local
	if fr.TCPSession(st) == rules.Reject {
		f.deniedSess.Add(1)
		c.silent = true
		return false
	}
	// HAProxy counts the session (session_count_new) once the
	// tcp-request session rules accepted it: what they tracked counts it.
	st.CountSession()
	return true
}

// useBackendFinal evaluates the frontend's use_backend rules on the data
// read so far, as final data (HAProxy evaluates switching rules with
// SMP_OPT_FINAL: they never wait). It returns nil when none matched.
func (c *Conn) useBackendFinal(fr *rules.Proxy) *Backend {
	st := c.st
	final := st.ReqFinal
	st.ReqFinal = true
	rb, ok, _ := fr.UseBackend(st)
	st.ReqFinal = final
	if !ok || rb == nil {
		return nil
	}
	return BackendOf(rb)
}

// logPrologue logs a connection that ended in its prologue, as "option
// tcplog" does: no backend, no server, phase R (the PROXY header).
func (c *Conn) logPrologue() {
	f, e := c.f, c.f.eng
	if f.cfg.Log == nil || c.silent {
		return
	}
	rec := c.newLogRecord()
	rec.ConnError = c.connErr
	if t := c.Term(); t != 0 {
		rec.Termination = string([]byte{t, 'R'})
	}
	rec.Tt = time.Since(c.accept)
	rec.ActConn, rec.FeConn = int(e.actconn.Load()), int(f.cur.Load())
	rec.Stream = c.logStream(nil)
	f.cfg.Log(&rec)
}

// logStream returns the stream a log record of c carries (LogRecord.Stream):
// c's rules stream, made now when the frontend keeps one for its log line
// (FrontendConfig.LogStream) and c has none, with be as its backend; nil
// when the frontend has no rules and keeps none.
func (c *Conn) logStream(be *Backend) *rules.Stream {
	if c.st == nil {
		if !c.f.cfg.LogStream {
			return nil
		}
		c.newStream()
	}
	if be != nil {
		c.st.Backend = &be.view
	} else {
		c.st.Backend = nil
	}
	return c.st
}

// newLogRecord returns c's log record as it stands before a backend is
// chosen.
func (c *Conn) newLogRecord() LogRecord {
	f := c.f
	r := LogRecord{Client: c.client, Local: c.local, Accept: c.accept, Frontend: f.cfg.Name,
		Bind: c.bind.cfg.Name, BindID: c.bind.cfg.ID, SessionID: c.id, Th: c.th,
		Backend: f.cfg.Name, Server: "<NOSRV>", Tw: -1, Tc: -1, Td: -1, Termination: "--"}
	if t := c.tls; t != nil {
		r.TLS, r.TLSVersion, r.TLSCipher = true, t.Version, t.CipherSuite
	}
	return r
}

// releaseRules gives c's stream and buffered data back to their pools; a
// frontend that keeps the stream for its log line (LogStream) keeps it
// until End, without the data.
func (c *Conn) releaseRules() {
	if c.st != nil {
		c.st.Req, c.st.Res = nil, nil
		// A stream that tracks stick counters holds them until the
		// connection ends (End).
		if !c.f.cfg.LogStream && !c.st.Tracking() {
			c.releaseStream()
		}
	}
	if c.req != nil {
		putBuf(c.req)
		c.req = nil
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	return netip.AddrPort{}
}
