package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"lb/internal/rules"
)

// EngineConfig holds process-wide ("global") settings.
type EngineConfig struct {
	// Maxconn is the global maxconn shared by all frontends: no listener
	// accepts while that many sessions are active. 0 means unlimited.
	Maxconn int
	// MaxConnRate and MaxSessRate limit the connections the process
	// accepts per second and the sessions it starts per second (a session
	// is a connection that passed the tcp-request connection rules, as in
	// HAProxy); 0 means unlimited. At the limit listeners stop accepting
	// until the rate allows one more, and clients wait in the backlog.
	MaxConnRate, MaxSessRate int
	// MaxSSLRate ("maxsslrate") limits the connections accepted per
	// second on listeners with "ssl", resumed or not, as HAProxy counts
	// them; 0 means unlimited.
	MaxSSLRate int
	// Logger receives the data plane's own messages; nil means
	// slog.Default().
	Logger *slog.Logger
	// BufSize is "tune.bufsize": content rules inspect at most BufSize
	// less HAProxy's reserve for rewrites (1024 bytes, or half of
	// BufSize when smaller) of request or response data. 0 means 16384.
	BufSize int
	// Threads is the number of event loops ("nbthread"); 0 means one per
	// CPU the process may use, as HAProxy 2.6 does.
	Threads int
	// CPUs, when set, pins event loop i to the CPUs CPUs[i] ("cpu-map").
	CPUs [][]int
	// Goroutines serves every frontend with goroutines, none with the
	// event loops (tests of the goroutine engine).
	Goroutines bool
	// NoSplice copies data through buffers, never with splice(2)
	// ("nosplice", -dS). It is process-wide: the last engine made sets it.
	NoSplice bool
}

// Engine is the shared state of all frontends of one process generation:
// the global connection limit, the active session registry and drain.
type Engine struct {
	cfg   EngineConfig
	log   *slog.Logger
	slots slots // global maxconn
	// connRate, sessRate and sslRate are maxconnrate, maxsessrate and
	// maxsslrate; rated is set while any accept rate limit is, ratedFronts
	// counting the frontends'.
	connRate, sessRate, sslRate freqCtr
	rated                       atomic.Bool
	ratedFronts                 atomic.Int32
	// inspectLimit is how much data content rules inspect at most.
	inspectLimit int

	actconn atomic.Int64
	// sessions numbers the connections accepted by the process (%rt).
	sessions atomic.Uint64
	// sslConns counts the connections accepted on listeners with "ssl",
	// sslKeys the full handshakes (not resumed) completed on them:
	// HAProxy's ssl_per_sec and ssl_fe_keys_per_sec, sampled for rates.
	// They cost nothing to plain listeners.
	sslConns, sslKeys atomic.Uint64

	work    chan *Conn   // idle setup workers receive here (unbuffered)
	workers atomic.Int32 // setup workers started

	// mu guards conns and drained.
	mu      sync.Mutex
	conns   map[*Conn]struct{}
	drained chan struct{} // closed when conns becomes empty; nil while empty

	// rx is the event loops, started by the first frontend served there.
	rx reactor
	// pmu guards paused, the loops' listeners waiting for a maxconn slot,
	// and wake, closed (and replaced) to wake the accept loops waiting for
	// one. npaused counts them all, read without the lock when a slot
	// frees; it may count a waiter that left: the next wake-up resets it.
	pmu     sync.Mutex
	paused  []*lbind
	wake    chan struct{}
	npaused atomic.Int32

	// rmu guards rwait, the loops' listeners paused after running out of
	// descriptors or memory, and rwake, closed (and replaced) to wake the
	// accept loops paused so: a connection that ends wakes them
	// (exhaust.go). nrwait is 1 when there may be one, read without the
	// lock when a connection ends.
	rmu    sync.Mutex
	rwait  map[*lbind]struct{}
	rwake  chan struct{}
	nrwait atomic.Int32
	// resErr is when accept last failed for want of resources (UnixNano).
	resErr atomic.Int64

	// stopping is set by CloseIdle: HTTP connections close after their
	// current transaction.
	stopping atomic.Bool
}

// NewEngine returns an engine with no frontend.
func NewEngine(cfg EngineConfig) *Engine {
	e := &Engine{cfg: cfg, log: cfg.Logger, inspectLimit: inspectLimit(cfg.BufSize), conns: make(map[*Conn]struct{}), work: make(chan *Conn),
		wake: make(chan struct{}), rwake: make(chan struct{})}
	noSplice.Store(cfg.NoSplice)
	if e.log == nil {
		e.log = slog.Default()
	}
	e.slots.init(cfg.Maxconn)
	e.connRate.set(cfg.MaxConnRate)
	e.sessRate.set(cfg.MaxSessRate)
	e.sslRate.set(cfg.MaxSSLRate)
	e.updateRated()
	return e
}

// ActiveSessions returns the number of sessions in progress (actconn).
func (e *Engine) ActiveSessions() int { return int(e.actconn.Load()) }

// Wait blocks until no session is active or ctx is done (then it returns
// ctx's error).
func (e *Engine) Wait(ctx context.Context) error {
	for {
		e.mu.Lock()
		if len(e.conns) == 0 {
			e.mu.Unlock()
			return nil
		}
		if e.drained == nil {
			e.drained = make(chan struct{})
		}
		ch := e.drained
		e.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// CloseIdle starts the soft stop of HTTP connections, as HAProxy's: a
// keep-alive client waiting for its next request is closed now, one in a
// transaction gets "Connection: close" on its response and is closed
// after it. It returns how many idle clients it closed. A TCP connection
// is never idle in this sense.
func (e *Engine) CloseIdle() int {
	e.stopping.Store(true)
	e.mu.Lock()
	var idle []*Conn
	for c := range e.conns {
		if c.parked.Load() && c.httpIdle.Load() || c.idleWait.Load() {
			idle = append(idle, c)
		}
	}
	e.mu.Unlock()
	for _, c := range idle {
		if c.idleWait.Load() {
			c.mu.Lock()
			_ = c.c.SetReadDeadline(time.Unix(1, 0))
			c.mu.Unlock()
			continue
		}
		c.unpark()
	}
	return len(idle)
}

// Stopping reports whether CloseIdle was called.
func (e *Engine) Stopping() bool { return e.stopping.Load() }

// CloseAll kills every active session (hard stop); reason is logged once.
// Killed sessions end with termination state "K". It does not wait: use
// Wait for that.
func (e *Engine) CloseAll(reason string) {
	e.mu.Lock()
	n := 0
	for c := range e.conns {
		if !c.ended.Load() {
			c.Kill(TermKilled)
			n++
		}
	}
	e.mu.Unlock()
	if n > 0 {
		e.log.Info("killing sessions", "count", n, "reason", reason)
	}
}

// killServer kills the connections holding a slot on srv and returns how
// many.
func (e *Engine) killServer(srv *Server, code byte) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for c := range e.conns {
		if c.srv.Load() == srv && !c.ended.Load() {
			c.Kill(code)
			n++
		}
	}
	return n
}

func (e *Engine) add(c *Conn) {
	e.actconn.Add(1)
	e.mu.Lock()
	e.conns[c] = struct{}{}
	e.mu.Unlock()
}

func (e *Engine) remove(c *Conn) {
	e.mu.Lock()
	delete(e.conns, c)
	if len(e.conns) == 0 && e.drained != nil {
		close(e.drained)
		e.drained = nil
	}
	e.mu.Unlock()
	e.actconn.Add(-1)
}

// ConnInfo describes an accepted connection when its backend is chosen.
type ConnInfo struct {
	// Client is the client address: from the PROXY header when the bind
	// has accept-proxy, else the socket's peer. Invalid for unix sockets.
	Client netip.AddrPort
	// Local is the address the client connected to (PROXY destination
	// when present).
	Local netip.AddrPort
	// Bind is the BindConfig.Name of the listener that accepted it.
	Bind string
}

// LogRecord is what "option tcplog" prints about one session, delivered
// when the session ends. Durations that were never reached are -1, as
// HAProxy prints them.
type LogRecord struct {
	Client   netip.AddrPort // %ci:%cp
	Accept   time.Time      // %t
	Frontend string         // %ft
	Bind     string         // listener name
	Backend  string         // %b (the frontend's name when none was chosen)
	Server   string         // %s ("<NOSRV>" when none)
	Tw       time.Duration  // time waiting in queues
	Tc       time.Duration  // time to connect to the server
	Tt       time.Duration  // total session time
	// BytesRead is HAProxy's %B: bytes sent to the client.
	BytesRead int64
	// BytesUploaded is %U: bytes received from the client.
	BytesUploaded int64
	// Termination is %ts, HAProxy's two-letter termination state: the
	// first letter says who ended it (C client, S server, P proxy, c/s
	// client/server timeout, K killed, D server down, R resource, - none),
	// the second in which phase (R PROXY header, Q queue, C connect, D
	// data, - normal end).
	Termination  string
	ActConn      int  // %ac, sessions in the process when logged
	FeConn       int  // %fc
	BeConn       int  // %bc
	SrvConn      int  // %sc
	Retries      int  // %rc
	Redispatch   bool // %rc is prefixed with "+"
	SrvQueue     int  // %sq
	BackendQueue int  // %bq

	// Local is the address the client connected to (%fi:%fp): the PROXY
	// header's destination when there was one.
	Local netip.AddrPort
	// ServerLocal and ServerAddr are the local and remote addresses of the
	// connection to the server (%bi:%bp, %si:%sp); invalid when no
	// connection was attempted. A failed connection keeps the server's
	// address.
	ServerLocal, ServerAddr netip.AddrPort
	// BindID is the BindConfig.ID of the listener that accepted it.
	BindID int
	// SessionID is the number of the session among all those the process
	// accepted, from 0, taken at accept (%rt).
	SessionID uint64
	// Th is the wait for the PROXY header (0 without one), Td the data
	// transfer time: Tt less Th, Tw and Tc, or -1 when no server
	// connection was established.
	Th, Td time.Duration

	// Stream is the connection's rules stream as the session or
	// transaction ends, what the "%[…]" samples of a log-format or
	// unique-id-format read: valid only during the Log (or UniqueID)
	// call, nil when the frontend has no rules and does not keep a
	// stream for its log line (FrontendConfig.LogStream).
	Stream *rules.Stream

	// TLS says the client connection is TLS (%ft ends with '~');
	// TLSVersion and TLSCipher are what its handshake chose (%sslv,
	// %sslc), 0 when it is not TLS.
	TLS                   bool
	TLSVersion, TLSCipher uint16
	// ConnError, when set, makes the record that of a connection that
	// failed before it became a session (a TLS handshake): HAProxy logs
	// it as "client [date] frontend/listener: ConnError", nothing else.
	ConnError string

	// HTTP is set in the record of an HTTP transaction (mode http): one
	// record per request, the fields below filled in. In mode http Accept
	// is the start of the request (%tr), not of the connection, and Tt
	// runs from there.
	HTTP HTTPLog
}

// HTTPLog is what an HTTP transaction adds to its LogRecord (HAProxy's
// httplog fields). Durations never reached are -1.
type HTTPLog struct {
	// Set: the record is an HTTP transaction's.
	Set bool
	// RequestLine is the request line as received, without its CRLF
	// (%r, %HM, %HU, %HV); empty when none was received ("<BADREQ>").
	RequestLine []byte
	// Status is the status sent to the client (%ST), 0 when none was.
	Status int
	// Ti is the idle time before the request's first byte (a keep-alive
	// client's wait), TR the time to receive the whole request head,
	// Tr the server's response time (request sent to response head
	// received), Ta the request's active time (Tt less Ti and Th).
	Ti, TR, Tr, Ta time.Duration
	// ReqCaptures and ResCaptures are the captured header values, one per
	// "capture request|response header" in order (%hr, %hs); a field
	// absent from the message is nil.
	ReqCaptures, ResCaptures [][]byte
	// CookieCli and CookieSrv are the persistence cookie states, the 3rd
	// and 4th letters of %tsc ('-' when none).
	CookieCli, CookieSrv byte
	// CapturedCookieCli and CapturedCookieSrv are the cookies "capture
	// cookie" captured in the request and the response (%CC, %CS); nil
	// when none was.
	CapturedCookieCli, CapturedCookieSrv []byte
	// UniqueID is the request's unique-id (%ID), empty without
	// unique-id-format.
	UniqueID []byte
	// Level is the syslog severity plus one chosen by "set-log-level"
	// (0: the proxy's level). A transaction set to "silent" has no
	// record at all.
	Level int8
}

// FrontendConfig describes a frontend (or the frontend half of a listen).
type FrontendConfig struct {
	// Name is the frontend's name.
	Name string
	// Maxconn stops accepting while that many sessions of this frontend
	// are active (pending connections wait in the kernel backlog); 0 means
	// unlimited.
	Maxconn int
	// RateLimitSessions limits the sessions this frontend starts per
	// second ("rate-limit sessions"); 0 means unlimited.
	RateLimitSessions int
	// TimeoutClient is the inactivity timeout on the client side, also the
	// PROXY header wait; 0 means none.
	TimeoutClient time.Duration
	// TimeoutClientFin replaces TimeoutClient once either direction is
	// shut; 0 means TimeoutClient (or the backend's tunnel timeout) still
	// applies.
	TimeoutClientFin time.Duration
	// Backend chooses the backend for a connection when no switching
	// rule of Rules did (default_backend, or the listen section's own
	// backend). Returning nil closes the connection.
	Backend func(*ConnInfo) *Backend
	// Rules are the frontend's compiled rules: tcp-request connection,
	// session and content rules and use_backend rules. Nil means none.
	Rules *rules.Proxy
	// Handler serves each connection once the engine ran its prologue
	// (tcp-request connection rules, PROXY header, tcp-request session
	// rules). Nil means the TCP handler ("mode tcp"): the connection is
	// proxied to a server of the backend Rules or Backend choose.
	Handler Handler
	// Log, when set, receives one record per session at its end, on the
	// session's goroutine: it must not block for long, and must not keep
	// the record after it returns (records are reused).
	Log func(*LogRecord)
	// LogStream makes every record handed to Log carry a rules stream
	// (LogRecord.Stream): the connection's, kept past the set-up until
	// the log line, or one made for it when the frontend has no rules.
	// Set it when the log-format evaluates sample expressions.
	LogStream bool
	// Logger receives per-connection debug messages; nil means the
	// engine's.
	Logger *slog.Logger
	// HTTP, when set, makes the frontend a mode http one: its connections
	// are served by the HTTP handler (httpconn.go) and Handler is ignored.
	HTTP *HTTPFrontendConfig
	// ClientKeepAlive sets SO_KEEPALIVE on accepted connections ("option
	// clitcpka" or "tcpka"), with the system's timings but for those of
	// ClientKeepAliveTimings ("clitcpka-cnt|idle|intvl"); they have none
	// otherwise, as in HAProxy.
	ClientKeepAlive        bool
	ClientKeepAliveTimings TCPKeepAlive
}

// BindConfig holds per-listener ("bind" line) options.
type BindConfig struct {
	// Name identifies the listener in ConnInfo and logs.
	Name string
	// ID is the listener's number in its frontend (%fp of a unix socket
	// client, HAProxy's luid): the bind's "id", else its rank from 1.
	ID int
	// AcceptProxy requires a PROXY v1 or v2 header on each connection.
	AcceptProxy bool
	// Maxconn is the bind line's "maxconn": at that many connections of
	// its own at once the listener stops accepting, and further clients
	// wait in its backlog, as behind the frontend's maxconn; 0 is none.
	Maxconn int
	// TLS terminates TLS on each connection ("ssl"): nil means plain TCP.
	// The handshake runs after the PROXY header, bounded by the
	// frontend's TimeoutClient.
	TLS *tls.Config
}

// Frontend accepts connections on listeners and runs their sessions.
type Frontend struct {
	eng   *Engine
	cfg   FrontendConfig
	log   *slog.Logger
	slots slots // frontend maxconn
	// sessRate is "rate-limit sessions".
	sessRate freqCtr
	// handler is cfg.Handler, or the TCP handler.
	handler Handler

	cur atomic.Int64 // feconn
	// maxCur is the highest cur seen (smax), raised by the session that
	// reaches it (raiseMax).
	maxCur atomic.Int64
	total  atomic.Uint64
	// reqs counts the HTTP requests (HAProxy's req_tot), next to the
	// bytes each transaction already adds.
	reqs              atomic.Uint64
	bytesIn, bytesOut atomic.Uint64
	// Rejections by tcp-request connection, session and content rules
	// (HAProxy's dcon, dses and dreq).
	deniedConn, deniedSess, deniedReq atomic.Uint64
	// failedReq counts the requests that could not be read (HAProxy's
	// ereq: 400 and 408 of the H1 layer), deniedResp the responses
	// denied by http-response or tcp-response rules (dresp).
	failedReq, deniedResp atomic.Uint64
	// http are the HTTP counters (counters.go).
	http httpCounters
	// errs holds the last request that could not be parsed.
	errs errorCapture
}

// NewFrontend creates a frontend.
func (e *Engine) NewFrontend(cfg FrontendConfig) (*Frontend, error) {
	if cfg.Backend == nil {
		return nil, fmt.Errorf("new frontend %q: no backend chooser", cfg.Name)
	}
	f := &Frontend{eng: e, cfg: cfg, log: cfg.Logger, handler: cfg.Handler}
	if cfg.HTTP != nil {
		f.handler = &httpHandler{f: f, cfg: *cfg.HTTP}
	}
	if f.handler == nil {
		f.handler = tcpHandler{}
	}
	if f.log == nil {
		f.log = e.log
	}
	f.slots.init(cfg.Maxconn)
	if cfg.RateLimitSessions > 0 {
		f.sessRate.set(cfg.RateLimitSessions)
		e.ratedFronts.Add(1)
		e.updateRated()
	}
	return f, nil
}

// Name returns the frontend's name.
func (f *Frontend) Name() string { return f.cfg.Name }

// FrontendStats is a snapshot of a frontend's counters.
type FrontendStats struct {
	Cur      int    // feconn
	Max      int    // highest Cur seen
	Total    uint64 // sessions ever accepted
	Requests uint64 // HTTP requests (0 in mode tcp)
	BytesIn  uint64 // client to server
	BytesOut uint64 // server to client
	// DeniedConn, DeniedSess and DeniedReq count the connections rejected
	// by "tcp-request connection", "tcp-request session" and "tcp-request
	// content" rules.
	DeniedConn, DeniedSess, DeniedReq uint64
	// FailedReq counts the requests that could not be read (ereq),
	// DeniedResp the responses denied by rules (dresp).
	FailedReq, DeniedResp uint64
	// HTTP are the HTTP counters.
	HTTP HTTPStats
}

// Stats returns f's counters.
func (f *Frontend) Stats() FrontendStats {
	return FrontendStats{Cur: int(f.cur.Load()), Max: int(f.maxCur.Load()), Total: f.total.Load(), Requests: f.reqs.Load(),
		BytesIn: f.bytesIn.Load(), BytesOut: f.bytesOut.Load(),
		DeniedConn: f.deniedConn.Load(), DeniedSess: f.deniedSess.Load(), DeniedReq: f.deniedReq.Load(),
		FailedReq: f.failedReq.Load(), DeniedResp: f.deniedResp.Load(), HTTP: f.http.stats()}
}

// countDeniedResp counts a response a rule denied on f, be and srv (nil:
// none), as HAProxy's http-response and tcp-response rules count
// denied_resp.
func (f *Frontend) countDeniedResp(be *Backend, srv *Server) {
	f.deniedResp.Add(1)
	if be != nil {
		be.deniedResp.Add(1)
	}
	if srv != nil {
		srv.deniedResp.Add(1)
	}
}

// Binding is one listener served by a frontend.
type Binding struct {
	f   *Frontend
	ln  net.Listener
	cfg BindConfig
	// lbs are the event loops' views of ln when they serve it.
	lbs  []*lbind
	pz   pauser        // ln, when it can be paused
	stop chan struct{} // closed by Stop
	done chan struct{} // closed when acceptLoop returns
	once sync.Once     // guards close(stop)
	// noKeepAlive: ln accepts connections with TCP keep-alive off
	// (listener.Listener.NoKeepAlive); Go turns it on otherwise.
	noKeepAlive bool
	slots       slots // the bind line's maxconn
}

// deadliner is implemented by *net.TCPListener and *net.UnixListener.
type deadliner interface{ SetDeadline(time.Time) error }

// Serve starts accepting connections from ln in a new goroutine and
// returns at once. ln is never closed by the frontend.
//
// Accept errors are handled by class: net.ErrClosed ends the loop; any
// other error (EMFILE, ECONNABORTED, a paused listener...) is retried after
// a back-off growing from 5ms to 100ms, so the loop never spins; after
// running out of descriptors or memory, also as soon as a connection ends
// (exhaust.go).
func (f *Frontend) Serve(ln net.Listener, cfg BindConfig) *Binding {
	b := &Binding{f: f, ln: ln, cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	b.slots.init(cfg.Maxconn)
	if k, ok := ln.(interface{ NoKeepAlive() bool }); ok {
		b.noKeepAlive = k.NoKeepAlive()
	}
	if f.serveReactor(b) {
		return b
	}
	go b.acceptLoop()
	return b
}

// Stop stops accepting on the binding's listener; sessions already
// accepted continue and the listener is left open for a successor.
//
// When ln has SetDeadline (*net.TCPListener, *net.UnixListener), Stop
// interrupts a blocked Accept with a past deadline, waits for the accept
// loop to exit and clears the deadline. Otherwise Stop returns at once and
// the loop exits when Accept next returns: an error (close the listener to
// force it) or one more connection, which is still served.
func (b *Binding) Stop() {
	if b.lbs != nil {
		b.once.Do(func() {
			close(b.stop)
			b.stopReactor()
			close(b.done)
		})
		<-b.done
		return
	}
	d, ok := b.ln.(deadliner)
	b.once.Do(func() {
		close(b.stop)
		if ok {
			_ = d.SetDeadline(time.Unix(1, 0))
		}
	})
	if ok {
		<-b.done
		_ = d.SetDeadline(time.Time{})
	}
}

// Done is closed when the accept loop has exited.
func (b *Binding) Done() <-chan struct{} { return b.done }

func (b *Binding) stopped() bool {
	select {
	case <-b.stop:
		return true
	default:
		return false
	}
}

func (b *Binding) acceptLoop() {
	defer close(b.done)
	f := b.f
	var delay time.Duration
	for {
		if memPressure(time.Now().UnixNano()) {
			// Near the memory limit: as out of descriptors (exhaust.go).
			f.eng.resourceError(f, b.cfg.Name, errMemoryPressure)
			t := time.NewTimer(resRetry)
			select {
			case <-t.C:
			case <-b.stop:
				t.Stop()
				return
			}
			continue
		}
		c, err := b.ln.Accept()
		if err != nil {
			if b.stopped() || errors.Is(err, net.ErrClosed) {
				return
			}
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else {
				// Capped low: a paused listener may fail Accept and must
				// resume accepting promptly.
				delay = min(2*delay, 100*time.Millisecond)
			}
			// Running out of descriptors or memory is ours to report,
			// once per episode, and a connection that ends frees some;
			// anything else (a client gone before accept, a paused
			// listener) is routine.
			var freed <-chan struct{}
			if isResourceError(err) {
				f.eng.resourceError(f, b.cfg.Name, err)
				freed = f.eng.resourceWake()
			} else {
				f.log.Debug("accept", "frontend", f.cfg.Name, "bind", b.cfg.Name, "error", err, "retry_in", delay)
			}
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-freed:
				t.Stop()
			case <-b.stop:
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		// Take the frontend then the global slot before serving: at the
		// limit this loop stops calling Accept and further clients wait
		// in the kernel's backlog, as behind HAProxy's limited
		// listeners. At most one accepted connection per listener waits
		// here. Frontend first: a full frontend must not sit on a
		// global slot.
		// At an accept rate limit this connection waits for the rate
		// to allow it, and this loop accepts no other meanwhile.
		if !b.waitRate() || !b.takeSlots() {
			_ = c.Close() // stopped while waiting: nobody will serve it
			return
		}
		b.countAccept()
		// Registered here, before the set-up runs on another goroutine, so that Wait never
		// returns while an accepted connection is not yet counted (a process exiting then
		// would reset it).
		// Go enables TCP keep-alive on every connection it accepts, unless
		// the listener says it turned that off (listener.NoKeepAlive);
		// HAProxy only with "option clitcpka".
		if tc, ok := c.(*net.TCPConn); ok {
			if f.cfg.ClientKeepAlive {
				if b.noKeepAlive {
					_ = tc.SetKeepAlive(true)
				}
				if t := f.cfg.ClientKeepAliveTimings; t != (TCPKeepAlive{}) {
					if rc, err := tc.SyscallConn(); err == nil {
						_ = rc.Control(func(fd uintptr) { t.apply(int(fd)) })
					}
				}
			} else if !b.noKeepAlive {
				_ = tc.SetKeepAlive(false)
			}
		}
		cn := newConn(f, b, c)
		f.eng.add(cn)
		f.eng.dispatch(cn)
	}
}

// isResourceError reports whether an accept error means the process ran out
// of descriptors or memory.
func isResourceError(err error) bool {
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) ||
		errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.ENOMEM)
}

// maxSetupWorkers bounds the goroutines kept waiting for sessions to set
// up. Connecting to a server (net.Dialer) grows a goroutine's stack to a
// few KiB; a fresh goroutine per connection pays that growth every time,
// a worker pays it once.
const maxSetupWorkers = 64

// dispatch runs c.serve on an idle setup worker, a new worker, or, when
// there are enough workers already, a fresh goroutine.
func (e *Engine) dispatch(c *Conn) {
	select {
	case e.work <- c:
		return
	default:
	}
	if e.workers.Add(1) <= maxSetupWorkers {
		go e.setupWorker(c)
		return
	}
	e.workers.Add(-1)
	go c.serve()
}

// setupWorker runs connections' prologue and their handler's Serve for the
// life of the process.
func (e *Engine) setupWorker(c *Conn) {
	for {
		c.serve()
		c = <-e.work
	}
}
