package proxy

import (
	"fmt"
	"lb/internal/cache"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"lb/internal/balance"
	"lb/internal/http1"
)

// HTTP mode. A frontend in "mode http" serves its connections with the
// HTTP handler (httpconn.go): a loop of transactions on one client
// connection, each parsed by internal/http1, run through the rules,
// forwarded to a server connection chosen per request, and logged per
// request. Between requests the client costs no goroutine (Conn.Park) and
// its server connection waits in the server's idle pool.

// HTTPConnMode is how connections are kept between transactions ("option
// http-keep-alive", "http-server-close", "httpclose").
type HTTPConnMode uint8

const (
	// KeepAlive keeps both sides open between requests (the default).
	KeepAlive HTTPConnMode = iota
	// ServerClose closes the server connection after each response and
	// keeps the client's.
	ServerClose
	// Close closes both after each transaction.
	Close
)

// Combine returns the stricter of two modes, as HAProxy combines the
// frontend's option with the backend's.
func (m HTTPConnMode) Combine(o HTTPConnMode) HTTPConnMode { return max(m, o) }

// HTTPReuse is "http-reuse": which idle server connections a request may
// take.
type HTTPReuse uint8

const (
	// ReuseSafe: a session's first request gets a connection of its own;
	// later ones may take any idle connection (HAProxy's default).
	ReuseSafe HTTPReuse = iota
	// ReuseNever: a server connection serves one client connection only.
	ReuseNever
	// ReuseAggressive: a session's first request may take an idle
	// connection known to have served more than one request; later ones
	// any.
	ReuseAggressive
	// ReuseAlways: any request may take any idle connection.
	ReuseAlways
)

// idleChoice is which idle connections of a server a request may take.
type idleChoice uint8

const (
	idleOwn  idleChoice = iota // the session's own only
	idleSafe                   // its own, and any that served more than one request
	idleAny
)

// choice is what a request may take under r: first says it is the first
// of its client connection (HAProxy's TX_NOT_FIRST unset).
func (r HTTPReuse) choice(first bool) idleChoice {
	switch {
	case r == ReuseNever:
		return idleOwn
	case !first, r == ReuseAlways:
		return idleAny
	case r == ReuseAggressive:
		return idleSafe
	}
	return idleOwn
}

// Forwardfor is "option forwardfor": the header that carries the client's
// address to the server.
type Forwardfor struct {
	// Header is the field name ("X-Forwarded-For" by default).
	Header string
	// Except: clients in this network get no header ("except").
	Except netip.Prefix
	// IfNone adds the header only when the request has none.
	IfNone bool
}

// HTTPFrontendConfig is a mode http frontend's HTTP settings.
type HTTPFrontendConfig struct {
	// TimeoutRequest bounds the wait for a complete request head
	// ("timeout http-request"; 0: TimeoutClient); TimeoutKeepAlive the
	// wait for the next request ("timeout http-keep-alive"; 0:
	// TimeoutRequest).
	TimeoutRequest, TimeoutKeepAlive time.Duration
	// Mode is the frontend's connection mode.
	Mode HTTPConnMode
	// Forwardfor, when set, is the frontend's "option forwardfor".
	Forwardfor *Forwardfor
	// Originalto, when set, is the frontend's "option originalto"
	// (IfNone unused).
	Originalto *Forwardfor
	// TimeoutTarpit is how long its "http-request tarpit" rules hold a
	// request ("timeout tarpit", else "timeout connect").
	TimeoutTarpit time.Duration
	// Parse are the request parsing options.
	Parse http1.Options
	// MonitorURI is "monitor-uri": a request for exactly this URI is
	// answered 200 by lb itself.
	MonitorURI string
	// BufferRequest is "option http-buffer-request": the body is waited
	// for before the frontend's http-request rules (req.body).
	BufferRequest bool
	// CaptureRequest and CaptureResponse are the "capture request|response
	// header" lines: field names and maximum lengths.
	CaptureRequest, CaptureResponse []Capture
	// CaptureCookie and CaptureCookieLen are "capture cookie": the name
	// prefix of the cookies logged by %CC and %CS ("" = none), and their
	// length.
	CaptureCookie    string
	CaptureCookieLen int
	// ErrorFiles are the frontend's "errorfile" responses by status: a
	// complete HTTP response each, checked by ParseErrorFile.
	ErrorFiles map[int][]byte
	// ErrorLocs are the frontend's "errorloc" redirects by status (a
	// status has an errorfile or an errorloc, not both).
	ErrorLocs map[int]ErrorLoc
	// UniqueID, when set ("unique-id-format"), appends the request's
	// unique id to buf, from the request's log record as it stands once
	// the head is complete (client, frontend, date, %rt); the id goes in
	// the log (%ID) and, with UniqueIDHeader, in a request field.
	UniqueID       func(r *LogRecord, buf []byte) []byte
	UniqueIDHeader string
	// Caches are the "cache" sections by name, for the cache-use and
	// cache-store rules of the frontend and its backends (nil: none).
	Caches map[string]*cache.Cache
	// Applet is HTTPBackendConfig.Applet for a frontend: HAProxy answers a
	// frontend's statistics page after its http-request rules, before a
	// backend is chosen.
	Applet Applet
	// Prometheus renders HAProxy's Prometheus exporter for a request
	// target, the service of "http-request use-service
	// prometheus-exporter" rules (the frontend's and its backends'):
	// the body to send, or ok false for a query string HAProxy answers
	// with a 400. It runs on the transaction's goroutine and must not
	// keep target. Nil when no rule uses the service.
	Prometheus func(target []byte) (body []byte, ok bool)
	// Compression is the frontend's "compression" lines (compress.go);
	// nil when it has none.
	Compression *CompressionConfig
}

// ParseErrorFile checks that b is a complete HTTP response, as an
// errorfile must be, and returns an error saying why when it is not.
func ParseErrorFile(b []byte) error {
	var m http1.Message
	_, err := http1.ParseResponse(append([]byte(nil), b...), &m, []byte("GET"), nil)
	if err == http1.ErrIncomplete {
		return fmt.Errorf("no complete response head")
	}
	return err
}

// Capture is a "capture request|response header NAME len N" line.
type Capture struct {
	Name string
	Len  int
}

// HTTPBackendConfig is a mode http backend's HTTP settings.
type HTTPBackendConfig struct {
	// Enabled: the backend is in mode http.
	Enabled bool
	// PreferLastServer is "option prefer-last-server": with "http-reuse
	// never", a keep-alive client's next request goes to the server its
	// connection is still open to, when it is usable, unless the
	// balancing hashes.
	PreferLastServer bool
	// MaxKeepAliveQueue is "max-keep-alive-queue" plus one, as HAProxy
	// stores it (0 or less: no limit): the last server is not preferred
	// when it is full and its queue holds MaxKeepAliveQueue-1 requests or
	// more; the request is balanced instead.
	MaxKeepAliveQueue int
	// SendNameHeader is "http-send-name-header": once a server is chosen
	// for a request (again on a retry to another), every field of that
	// name is removed and one carrying the server's name appended, after
	// the others, as HAProxy's http_send_name_header does.
	SendNameHeader string
	// BufferRequest is the backend's "option http-buffer-request": the
	// body is waited for before its http-request rules.
	BufferRequest bool
	// Mode is the backend's connection mode, combined with the
	// frontend's.
	Mode HTTPConnMode
	// Forwardfor, when set, is the backend's "option forwardfor".
	Forwardfor *Forwardfor
	// Originalto, when set, is the backend's "option originalto".
	Originalto *Forwardfor
	// TimeoutTarpit is HTTPFrontendConfig.TimeoutTarpit for the
	// backend's rules.
	TimeoutTarpit time.Duration
	// Reuse is "http-reuse". The idle pools' sizes and purge delays are
	// the servers' (ServerConfig.PoolMax, PoolPurge).
	Reuse HTTPReuse
	// Parse are the response parsing options.
	Parse http1.Options
	// Applet, when set, may answer a request itself instead of a server
	// (the statistics page of "stats enable"): it returns the whole
	// response to send, or nil to let the request go to a server.
	// closing says the client connection closes after the response (the
	// applet writes "connection: close" then). It runs on the
	// transaction's goroutine and must not keep req.
	Applet Applet
	// Cookie is the backend's persistence cookie (httpcookie.go); nil
	// when none.
	Cookie *CookieConfig
	// ErrorFiles are the backend's "errorfile" responses by status; they
	// win over the frontend's for the errors of its requests.
	ErrorFiles map[int][]byte
	// ErrorLocs are the backend's "errorloc" redirects, likewise.
	ErrorLocs map[int]ErrorLoc
	// Compression is the backend's "compression" lines; its algorithms
	// and types win over the frontend's. Nil when it has none.
	Compression *CompressionConfig
}

// idleConn is a server connection waiting for a request.
type idleConn struct {
	c     net.Conn
	since time.Time
	owner uint64 // the session that used it last (Conn.id)
	// safe: the connection served more than one request (HAProxy's
	// "safe" list, which "http-reuse aggressive" takes from).
	safe bool
}

// idlePool holds a server's idle connections, most recent last.
type idlePool struct {
	mu    sync.Mutex
	conns []idleConn
}

// put offers c to the pool; it reports false (and the caller closes c)
// when the pool is full.
func (p *idlePool) put(c net.Conn, owner uint64, safe bool, max int) bool {
	if max == 0 {
		return false
	}
	if idleTotal.Load() >= idleCap() {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if max > 0 && len(p.conns) >= max {
		return false
	}
	p.conns = append(p.conns, idleConn{c: c, since: time.Now(), owner: owner, safe: safe})
	idleTotal.Add(1)
	startPoolSweeper()
	return true
}

// idleTotal counts the idle server connections of the process.
var idleTotal atomic.Int64

// idleCap bounds idleTotal at a quarter of the process's descriptors, as
// HAProxy's tune.pool-high-fd-ratio (25) does: with clients that close
// after one request, a "safe" pool never hands its connections to their
// first requests, and would otherwise grow until connects fail.
var idleCap = sync.OnceValue(func() int64 {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil || r.Cur == 0 {
		return 256
	}
	return int64(r.Cur / 4)
})

// take returns an idle connection of the pool that is still open, nil when
// none: owned by owner, or as choice allows. Connections found closed by
// the server or past purge are closed on the way. The check of a
// connection (a peek) and the close of a dead one are system calls made
// outside the pool's lock, which the server's other requests take too.
//
// A connection idle for less than trust is taken unchecked, as the one a
// session kept from its last request is: a request that can be sent again
// whole (replayable) is, on a new connection, when a reused one turns out
// closed (httpConn.sendRequest and response), as HAProxy does for the race
// its own idle connections have between the server's close and their
// reuse. Under keep-alive load with round robin every request takes a
// connection from the pool, and the peek was one system call per request
// (0.49 of lb's 5.8, HAProxy's 4.7: its idle connections stay in its epoll
// set, which tells it of a close) and 3.4 % of lb's CPU.
func (p *idlePool) take(owner uint64, choice idleChoice, purge, trust time.Duration) net.Conn {
	now := time.Now()
	for {
		ic, ok := p.pop(owner, choice)
		if !ok {
			return nil
		}
		idle := now.Sub(ic.since)
		if idle > purge || idle >= trust && !stillOpen(ic.c) {
			dropServerConn(ic.c)
			continue
		}
		return ic.c
	}
}

// pop removes and returns the most recent connection take may have.
func (p *idlePool) pop(owner uint64, choice idleChoice) (idleConn, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.conns) - 1; i >= 0; i-- {
		ic := p.conns[i]
		if ic.owner != owner && (choice == idleOwn || choice == idleSafe && !ic.safe) {
			continue
		}
		last := len(p.conns) - 1
		copy(p.conns[i:], p.conns[i+1:])
		p.conns[last] = idleConn{} // no reference kept past the end
		p.conns = p.conns[:last]
		idleTotal.Add(-1)
		return ic, true
	}
	return idleConn{}, false
}

// sweep closes the connections idle for longer than purge.
func (p *idlePool) sweep(purge time.Duration) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	kept := p.conns[:0]
	for _, ic := range p.conns {
		if now.Sub(ic.since) > purge {
			dropServerConn(ic.c)
			idleTotal.Add(-1)
			continue
		}
		kept = append(kept, ic)
	}
	clear(p.conns[len(kept):])
	p.conns = kept
}

// closeAll closes every idle connection.
func (p *idlePool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ic := range p.conns {
		dropServerConn(ic.c)
	}
	idleTotal.Add(-int64(len(p.conns)))
	clear(p.conns)
	p.conns = p.conns[:0]
}

// pools are every server's idle pool, for the sweeper.
var (
	poolsMu      sync.Mutex
	pools        = map[*Server]struct{}{}
	sweeperStart sync.Once
)

func startPoolSweeper() {
	sweeperStart.Do(func() {
		go func() {
			t := time.NewTicker(time.Second)
			for range t.C {
				poolsMu.Lock()
				ss := make([]*Server, 0, len(pools))
				for s := range pools {
					ss = append(ss, s)
				}
				poolsMu.Unlock()
				for _, s := range ss {
					s.idle.sweep(s.poolPurge())
					s.peakPrev.Store(s.peakNow.Load())
					s.peakNow.Store(0)
				}
			}
		}()
	})
}

// poolPurge is how long an idle connection of srv stays in its pool
// ("pool-purge-delay", 5s by default).
func (srv *Server) poolPurge() time.Duration {
	if d := srv.cfg.PoolPurge; d > 0 {
		return d
	}
	return 5 * time.Second
}

// keepsIdle reports whether a server connection that finished a
// transaction may wait for another request: not with "pool-max-conn 0",
// unless "http-reuse never" makes it the session's own (HAProxy keeps
// those in the session, out of the server's pool).
func (srv *Server) keepsIdle() bool {
	return !srv.cfg.NoIdlePool || srv.be.cfg.HTTP.Reuse == ReuseNever
}

// CloseIdleConns closes the idle server connections of b's servers (a
// generation that stops).
func (b *Backend) CloseIdleConns() {
	for _, s := range b.Servers() {
		s.idle.closeAll()
	}
}

// offerIdle parks c, a server connection of srv that finished a
// transaction cleanly, in srv's idle pool, or closes it.
// safe says it served more than one request.
func (srv *Server) offerIdle(c net.Conn, owner uint64, safe bool) {
	max := srv.cfg.PoolMax
	switch {
	case srv.be.cfg.HTTP.Reuse == ReuseNever:
		max = 0 // the session's own: it dies with it (see parkKept)
	case srv.cfg.NoIdlePool:
		max = 0
	case srv.cfg.SNI != nil:
		max = 0 // its server name was the session's (see ServerConfig.SNI)
	case max == 0:
		max = -1
	}
	if !srv.State().usable() || srv.overNeed() || !srv.idle.put(c, owner, safe, max) {
		dropServerConn(c)
		return
	}
	poolsMu.Lock()
	pools[srv] = struct{}{}
	poolsMu.Unlock()
}

// dropServerConn closes a server connection lb does not keep with an RST
// (SO_LINGER 0), as HAProxy 2.6 closes the server connections it releases
// (measured with strace: one such setsockopt per request with a connection
// per request). A FIN would leave a TIME_WAIT socket on lb's side for each
// request; tens of thousands of them to one server make every connect()
// search long for a free port: lb's requests per second fell round after
// round in the benchmark's connection-per-request runs. A TLS connection is
// closed as usual (its close_notify first).
func dropServerConn(c net.Conn) {
	if tc, ok := c.(lingerer); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// overNeed reports whether one more idle connection would exceed what srv
// needed at once lately (its connections in use, this one excluded, plus
// its idle ones), as HAProxy keeps no more idle connections than its
// estimate of the need: clients that close after one request would
// otherwise leave a pool that no first request may take, and thousands of
// sockets to one address make every connect() search long for a port.
func (srv *Server) overNeed() bool {
	need := max(srv.peakNow.Load(), srv.peakPrev.Load())
	srv.be.mu.Lock()
	used := srv.cur - 1
	srv.be.mu.Unlock()
	srv.idle.mu.Lock()
	idle := len(srv.idle.conns)
	srv.idle.mu.Unlock()
	return int32(idle+used) >= need
}

// parkKept gives the kept server connection to its server's idle pool as
// the client goes idle, but with "http-reuse never": there the connection
// is the session's own, kept by it while it waits and closed when it ends,
// as HAProxy keeps it in the session.
func (hc *httpConn) parkKept() {
	if hc.kept != nil && hc.keptSrv.be.cfg.HTTP.Reuse == ReuseNever {
		return
	}
	hc.releaseKept()
}

// httpKey derives an HTTP request's balancing key for "balance uri",
// "url_param", "hdr" and "source" as HAProxy 2.6 does (internal/balance).
type httpKey struct {
	algo       string
	fn         balance.HashFunc
	uri        balance.URIOptions
	name       string // url_param's parameter, hdr's field
	domainOnly bool
	checkPost  bool // url_param's check_post: a POST's body is searched too
}

func newHTTPKey(cfg BackendConfig) (httpKey, error) {
	k := httpKey{algo: cfg.Balance, fn: cfg.BalanceOptions.HashType.Func}
	args := cfg.BalanceArgs
	switch cfg.Balance {
	case "uri":
		o, err := balance.ParseURIOptions(args)
		if err != nil {
			return k, err
		}
		k.uri = o
	case "url_param":
		if len(args) == 0 {
			return k, fmt.Errorf("balance url_param needs a parameter name")
		}
		if len(args) > 1 {
			if args[1] != "check_post" {
				return k, fmt.Errorf("'balance url_param %s' is not supported by lb yet", args[1])
			}
			// The optional max_wait after it is ignored by HAProxy 2.6,
			// which waits as "option http-buffer-request" does.
			k.checkPost = true
		}
		k.name = args[0]
	case "hdr":
		if len(args) == 0 {
			return k, fmt.Errorf("balance hdr needs a field name")
		}
		k.name = args[0]
		k.domainOnly = len(args) > 1 && args[1] == "use_domain_only"
	}
	return k, nil
}

// of returns the key of req from client; 0 means none (round robin).
// body is the request body buffered, for url_param's check_post.
func (k *httpKey) of(req *http1.Message, client netip.AddrPort, body []byte) uint64 {
	switch k.algo {
	case "source":
		if client.IsValid() {
			return balance.HashAddr(client.Addr())
		}
	case "uri":
		return balance.Key(balance.HashURI(req.URI, k.uri, k.fn))
	case "url_param":
		if h, ok := balance.HashParam(req.URI, k.name, k.fn); ok || !k.checkPost || string(req.Method) != "POST" {
			return balance.Key(h, ok)
		}
		return balance.Key(balance.HashParamBody(body, k.name, k.fn))
	case "hdr":
		if v, ok := req.Header.Get(k.name); ok {
			return balance.Key(balance.HashHeader(v, k.domainOnly, k.fn))
		}
	}
	return 0
}
