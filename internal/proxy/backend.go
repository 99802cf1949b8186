package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"lb/internal/balance"
	"lb/internal/rules"
)

// State is a server's administrative and operational state, as shown by
// HAProxy's stats.
type State int32

const (
	// StateUp: the server takes load-balanced traffic.
	StateUp State = iota
	// StateDown: failed its health checks; gets no new connection.
	StateDown
	// StateMaint: administratively disabled ("disabled", "set server
	// state maint"); gets no new connection.
	StateMaint
	// StateDrain: administratively draining: no new load-balanced
	// connection, existing ones continue.
	StateDrain
	// StateNoLB: up but excluded from load balancing (e.g. an agent or
	// http-check "disable-on-404" answer).
	StateNoLB
)

// usable reports whether a server in state s may take a new request.
func (s State) usable() bool { return s == StateUp || s == StateDrain || s == StateNoLB }

func (s State) String() string {
	switch s {
	case StateUp:
		return "UP"
	case StateDown:
		return "DOWN"
	case StateMaint:
		return "MAINT"
	case StateDrain:
		return "DRAIN"
	case StateNoLB:
		return "NOLB"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// SendProxy selects the PROXY protocol header sent to a server.
type SendProxy int

const (
	SendProxyNone SendProxy = iota // no header (the default)
	SendProxyV1                    // "send-proxy"
	SendProxyV2                    // "send-proxy-v2"
)

// ServerConfig describes one "server" line.
type ServerConfig struct {
	// Name is the server's name, used in logs.
	Name string
	// Cookie is the server's persistence cookie value ("cookie" on the
	// server line), "" for none.
	Cookie string
	// Addr is the server's "host:port" (or a unix socket path with
	// Network "unix"). It is dialled as is, with no name resolution
	// beyond what net.Dialer does.
	Addr string
	// Network is "tcp" (the default when empty), "tcp4", "tcp6" or "unix".
	Network string
	// ID is the server's numeric id ("id"); 0 means its 1-based position.
	ID int
	// Weight is the initial weight. The caller applies HAProxy's default
	// of 1; 0 means the server takes no load-balanced traffic.
	Weight int
	// Backup marks a backup server.
	Backup bool
	// Maxconn caps concurrent connections; 0 means unlimited.
	Maxconn int
	// Minconn is the server's limit while the backend is idle ("minconn"):
	// the limit grows with the backend's connections, to Maxconn at the
	// backend's Fullconn, as HAProxy's srv_dynamic_maxconn. 0, or not
	// below Maxconn, means Maxconn all the time.
	Minconn int
	// Maxqueue caps connections waiting for this server (with a hashing
	// algorithm that keeps a full server); beyond it they wait in the
	// backend queue for any server. 0 means unlimited.
	Maxqueue int
	// Disabled starts the server in MAINT ("disabled").
	Disabled bool
	// SendProxy sends a PROXY header first on every connection.
	SendProxy SendProxy
	// ShutdownOnDown kills the server's sessions when it goes DOWN
	// ("on-marked-down shutdown-sessions").
	ShutdownOnDown bool
	// ShutdownBackupsOnUp kills the sessions of the backend's backup
	// servers when this one comes back UP from DOWN or maintenance
	// ("on-marked-up shutdown-backup-sessions"; termination "U").
	ShutdownBackupsOnUp bool
	// AddrFromDst connects to the address the client connected to (as
	// changed by "tcp-request content set-dst"): a server address of
	// 0.0.0.0. Addr's host part is then ignored.
	AddrFromDst bool
	// PortFromDst connects to the client's destination port plus
	// PortOffset: a server port of 0, "+N" or "-N". Addr's port part is
	// then ignored.
	PortFromDst bool
	PortOffset  int
	// PoolMax is "pool-max-conn": the most idle HTTP connections kept for
	// the server (0: unlimited, HAProxy's -1); NoIdlePool is
	// "pool-max-conn 0". PoolPurge is "pool-purge-delay" (0: 5s).
	PoolMax    int
	NoIdlePool bool
	PoolPurge  time.Duration
	// TLS originates TLS toward the server ("ssl"): nil means plain TCP.
	// The handshake counts in the connect time and its timeout; a PROXY
	// header goes first, in clear.
	TLS *tls.Config
	// Socks4, when valid, is a SOCKS4 proxy the connections go through
	// ("socks4"): it is dialled, asked for the server's address, and the
	// stream (PROXY header, TLS) follows once it grants the request.
	Socks4 netip.AddrPort
	// Source is where the connections leave from ("source" on the server
	// line); nil means the backend's (BackendConfig.Source).
	Source *Source
	// Observe is the passive health check ("observe", observe.go),
	// ErrorLimit its "error-limit" (0: 10).
	Observe    Observe
	ErrorLimit int
	// NonStick is "non-stick": the stick rules store nothing for the
	// sessions this server serves.
	NonStick bool
	// Redir is "redir <prefix>" ("" = none): the GET and HEAD requests of
	// an HTTP session the server is chosen for get HAProxy's 302 to the
	// prefix followed by their path instead of going to it.
	Redir string
	// Slowstart is "slowstart" in seconds (0: none): a server coming back
	// from DOWN or maintenance warms up that long, its weight (with a
	// dynamic algorithm, balance.Dynamic) and its maxconn ramping up from
	// a sixteenth and from 1 (slowstart.go).
	Slowstart int
	// UserTimeout is "tcp-ut": TCP_USER_TIMEOUT on the server's
	// connections, how long data sent may stay unacknowledged before the
	// kernel gives up on the connection (0 = the system's).
	UserTimeout time.Duration
	// SNI gives the server name sent for a connection of c ("sni"), ""
	// for none; nil means none. A pooled connection is reused only by
	// the client that opened it when SNI is set (its name may differ).
	SNI func(c *Conn) string
}

// BackendConfig describes a backend (or the backend half of a listen).
type BackendConfig struct {
	// Name is the backend's name.
	Name string
	// Balance is the algorithm name as written after "balance"; empty
	// means roundrobin.
	Balance string
	// BalanceOptions is passed to balance.New.
	BalanceOptions balance.Options
	// Servers in configuration order.
	Servers []ServerConfig
	// Source is where the connections to servers without a Source of
	// their own leave from ("source"); nil means the system chooses.
	Source *Source
	// Fullconn is the backend load at which servers with a Minconn reach
	// their Maxconn ("fullconn", or HAProxy's default computed by the
	// caller); 0 disables the dynamic limit.
	Fullconn int
	// Dispatch, when valid, is where every connection goes ("dispatch"),
	// whatever the servers: no server is chosen, and logs name none.
	Dispatch netip.AddrPort
	// TimeoutConnect bounds each connection attempt; 0 means no limit
	// beyond the kernel's.
	TimeoutConnect time.Duration
	// TimeoutServer is the inactivity timeout on the server side; 0
	// means none.
	TimeoutServer time.Duration
	// TimeoutServerFin replaces TimeoutServer once either direction is
	// shut; 0 means TimeoutServer (or TimeoutTunnel) still applies.
	TimeoutServerFin time.Duration
	// TimeoutTunnel replaces both client and server timeouts once the
	// server connection is established (tcp mode is a tunnel from the
	// start); 0 means unset.
	TimeoutTunnel time.Duration
	// TimeoutQueue bounds the wait in a queue; 0 means TimeoutConnect, as
	// in HAProxy; when both are 0 the wait is unbounded.
	TimeoutQueue time.Duration
	// Retries is the number of extra connection attempts after a failed
	// one ("retries"); the caller applies HAProxy's default of 3.
	Retries int
	// RetryOn is "retry-on": the failures retried, within Retries; the
	// zero value is HAProxy's default, connection failures only.
	RetryOn RetryOn
	// Redispatch enables "option redispatch": a retry goes to another
	// server, on the last retry when RedispatchInterval is 0 or -1.
	Redispatch bool
	// OnStateChange, when set, is called after a server's state changed
	// through SetState, outside the backend lock, with the number of
	// connections moved from the server's queue to the backend queue
	// ("requeued" in HAProxy's health messages).
	OnStateChange func(s *Server, old, cur State, requeued int)
	// OnWarmedUp, when set, is called when a server's slow start ended
	// with the server still up (slowstart.go), from a goroutine of its
	// own, with the queued connections it took then.
	OnWarmedUp func(s *Server, requeued int)
	// ServerKeepAlive is "option srvtcpka" (or "tcpka"): SO_KEEPALIVE on
	// server connections, with the system's timings but for those of
	// ServerKeepAliveTimings ("srvtcpka-cnt|idle|intvl").
	ServerKeepAlive        bool
	ServerKeepAliveTimings TCPKeepAlive
	// NoLinger is "option nolinger" in a backend: server connections are
	// closed with a reset (SO_LINGER 0) instead of lingering in TIME_WAIT.
	NoLinger bool
	// RedispatchInterval is "option redispatch <interval>": P > 0
	// redispatches every P-th retry, N < 0 on the N-th retry before the
	// last; 0 means -1.
	RedispatchInterval int
	// HTTP are the backend's HTTP settings (mode http).
	HTTP HTTPBackendConfig
	// BalanceArgs are the arguments of the balance line (config.Balance.Args):
	// the URI options of "uri", the parameter of "url_param", the field
	// name and "use_domain_only" of "hdr".
	BalanceArgs []string
}

var (
	errNoServer  = errors.New("no server available")
	errQueueTime = errors.New("queue timeout")
	errKilled    = errors.New("session killed")
	// errRedirect: the server chosen redirects the request (ServerConfig.Redir).
	errRedirect = errors.New("server redirect")
	// errWouldQueue: every candidate server is full (tryAcquire).
	errWouldQueue = errors.New("every server is full")
)

// Server is a backend's server at run time. Its methods are safe for
// concurrent use.
type Server struct {
	be  *Backend
	idx int
	cfg ServerConfig
	id  int

	// Guarded by be.mu.
	state   State
	weight  int
	cur     int       // connections being served (or connecting)
	queue   []*waiter // connections waiting for this server only
	maxCur  int
	maxQCur int
	// lastChange is when the state last changed, in Unix seconds (HAProxy's
	// last_change, whole seconds as it counts them); downTime the seconds
	// spent DOWN or in maintenance before that change; downTrans the moves
	// to DOWN or maintenance (chkdown). Guarded by be.mu.
	lastChange, downTime int64
	downTrans            uint64
	// starting, warmAt (UnixNano), ewOut, warmed and warmGen are the
	// slow start's (slowstart.go). Guarded by be.mu.
	starting, warmed bool
	warmAt           int64
	ewOut, warmGen   int
	// lbTotal counts the times load balancing chose s (lbtot): not
	// use-server nor persistence. Guarded by be.mu, which the choice holds.
	lbTotal uint64

	total    atomic.Uint64 // connections ever assigned
	bytesIn  atomic.Uint64 // client to server
	bytesOut atomic.Uint64 // server to client
	failed   atomic.Uint64 // failed connection attempts
	// retries and redispatches count the failed attempts retried on this
	// server and those sent to another one (HAProxy's wretr, wredis).
	retries, redispatches atomic.Uint64
	// cliAborts, srvAborts and respErrors are HAProxy's cli_abrt,
	// srv_abrt and eresp (countAbort, countRespError): touched only when
	// a session fails.
	cliAborts, srvAborts, respErrors atomic.Uint64
	// connects counts the connection attempts to s (HAProxy's connect),
	// reuses the requests sent on an idle connection instead (reuse).
	connects, reuses atomic.Uint64
	// deniedResp counts the responses of s rules denied (dresp).
	deniedResp atomic.Uint64
	// hana is the passive health check ("observe", observe.go).
	hana passive
	// http counts the responses s sent by status class, and times its
	// sessions' or transactions' times (counters.go).
	http  httpCounters
	times timeStats

	// addr is where the server is: ServerConfig's address until the
	// runtime API moves it (SetAddr, srvruntime.go).
	addr atomic.Pointer[srvAddr]
	// maxconn is the server's maxconn, ServerConfig.Maxconn until the
	// runtime API changes it; 0 or less: no limit. Guarded by be.mu.
	maxconn int

	// idle holds the server's idle HTTP connections (http.go).
	idle idlePool
	// peakNow and peakPrev are the most connections in use at once in
	// this second and the one before (the pool sweeper turns them): the
	// estimated need that bounds the idle pool, as HAProxy's
	// est_need_conns does.
	peakNow, peakPrev atomic.Int32
}

// Backend is a runtime backend: its servers, their state and the queue.
type Backend struct {
	cfg BackendConfig

	// mu guards algo, snap, every Server's guarded fields and queue.
	mu    sync.Mutex
	algo  balance.Algorithm
	snap  []balance.Server
	queue []*waiter // connections waiting for any server (all full)
	// srvs are the servers, guarded by mu; the runtime API's "add server"
	// and "del server" replace the slice, never change it in place, and
	// store each new one in list too, for the readers without mu.
	srvs []*Server
	list atomic.Pointer[[]*Server]
	// errs holds the last response that could not be parsed.
	errs errorCapture

	cur atomic.Int64 // beconn
	// maxCur is the highest cur seen (smax), raised by the session that
	// reaches it (raiseMax).
	maxCur atomic.Int64
	// connects counts the connection attempts to the dispatch address;
	// those to servers are the servers' (connect).
	connects atomic.Uint64
	// noServer counts the connections that found no usable server.
	noServer atomic.Uint64
	total    atomic.Uint64
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64
	maxQCur  int // guarded by mu
	// lastChange, downTime and downTrans are the backend's as the
	// server's: its moves to having no usable server and back (HAProxy's
	// set_backend_down). Guarded by mu.
	lastChange, downTime int64
	downTrans            uint64
	lbTotal              uint64 // the servers' lbTotal, guarded by mu

	// eng is set by the first frontend session using the backend; it
	// lets ShutdownOnDown find the server's sessions.
	eng atomic.Pointer[Engine]

	// dynWeights says b's algorithm follows the servers' eweights
	// (balance.Dynamic); warming counts its servers in a slow start.
	// warming is guarded by mu.
	dynWeights bool
	warming    int
	// fast says the event loops may connect for b (reactor_linux.go): its
	// rules need no data (use-server, force-persist, ignore-persist at
	// most), and its servers are literal TCP addresses.
	fast atomic.Bool

	// key derives the balancing key of an HTTP request (http.go).
	key httpKey

	// view is b as the rules see it; rules are its compiled rules (nil:
	// none), set by SetRules before serving.
	view  ruleView
	rules *rules.Proxy
	// deniedReq and deniedResp count "tcp-request content reject" of
	// this backend and "tcp-response content reject".
	deniedReq, deniedResp atomic.Uint64
	// retries and redispatches count the retried attempts and those sent
	// to another server (wretr, wredis), the dispatch address's included.
	retries, redispatches atomic.Uint64
	// cliAborts, srvAborts and respErrors are the servers' and the
	// dispatch address's.
	cliAborts, srvAborts, respErrors atomic.Uint64
	// http and times are the backend's HTTP counters and time averages
	// (counters.go).
	http  httpCounters
	times timeStats
}

// waiter is a connection waiting in a queue: a goroutine's, which receives
// its server on ch, or an event loop's (x), which gets it in its loop's
// mailbox.
type waiter struct {
	key uint64
	ch  chan *Server // receives the server, buffered 1
	x   *rconn
}

// give hands s, on which a slot was taken for w, to w's connection.
func (w *waiter) give(s *Server) {
	if w.x != nil {
		w.x.dispatched(s)
		return
	}
	w.ch <- s
}

// NewBackend builds a runtime backend from cfg.
func NewBackend(cfg BackendConfig) (*Backend, error) {
	algo, err := balance.New(cfg.Balance, cfg.BalanceOptions)
	if err != nil {
		return nil, fmt.Errorf("new backend %q: %w", cfg.Name, err)
	}
	b := &Backend{cfg: cfg, algo: algo, snap: make([]balance.Server, len(cfg.Servers)), lastChange: time.Now().Unix(),
		dynWeights: balance.Dynamic(cfg.Balance, cfg.BalanceOptions)}
	b.view.b = b
	if b.key, err = newHTTPKey(cfg); err != nil {
		return nil, fmt.Errorf("new backend %q: %w", cfg.Name, err)
	}
	explicit := make([]int, len(cfg.Servers))
	for i, sc := range cfg.Servers {
		explicit[i] = sc.ID
	}
	ids := balance.ServerIDs(explicit)
	for i, sc := range cfg.Servers {
		if sc.Network == "" {
			sc.Network = "tcp"
		}
		if sc.Weight < 0 || sc.Weight > 256 {
			return nil, fmt.Errorf("new backend %q: server %q: weight %d out of 0..256", cfg.Name, sc.Name, sc.Weight)
		}
		// HAProxy's ids (puid): hashing places servers by them.
		s := &Server{be: b, idx: i, cfg: sc, id: ids[i], weight: sc.Weight, maxconn: sc.Maxconn, lastChange: b.lastChange}
		s.SetObserve(sc.Observe, sc.ErrorLimit)
		if sc.Disabled {
			s.state = StateMaint
		}
		s.addr.Store(configAddr(&sc))
		b.srvs = append(b.srvs, s)
	}
	b.list.Store(&b.srvs)
	b.fast.Store(b.fastServers())
	return b, nil
}

// fastServers reports whether an event loop can connect to every server of
// b itself (a literal TCP address, no source to bind), and b has no
// dispatch address.
func (b *Backend) fastServers() bool {
	if b.cfg.Dispatch.IsValid() {
		return false
	}
	for _, s := range b.Servers() {
		if !fastServer(s) {
			return false
		}
	}
	return true
}

// fastAddr is the address to connect to for a client that connected to
// dst, as dialAddr, for servers of a fast backend.
func (s *Server) fastAddr(dst netip.AddrPort) netip.AddrPort {
	a := s.addr.Load()
	ip, port := a.ip, a.port
	if a.fromDst && dst.IsValid() {
		ip = dst.Addr().Unmap()
	}
	if a.portFromDst && dst.IsValid() {
		port = uint16(int(dst.Port()) + a.portOffset)
	}
	return netip.AddrPortFrom(ip, port)
}

// Name returns the backend's name.
func (b *Backend) Name() string { return b.cfg.Name }

// Config returns the configuration b was built from.
func (b *Backend) Config() BackendConfig { return b.cfg }

// Servers returns the servers in configuration order, then those the
// runtime API added, in the order they were. The slice must not be changed.
func (b *Backend) Servers() []*Server { return *b.list.Load() }

// Server returns the server called name, or nil.
func (b *Backend) Server(name string) *Server {
	for _, s := range b.Servers() {
		if s.cfg.Name == name {
			return s
		}
	}
	return nil
}

// UsableServers returns the number of active and backup servers that can
// take new connections (UP with a weight above 0).
func (b *Backend) UsableServers() (active, backup int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.srvs {
		if s.state == StateUp && s.weight > 0 {
			if s.cfg.Backup {
				backup++
			} else {
				active++
			}
		}
	}
	return active, backup
}

// BackendStats is a snapshot of a backend's counters.
type BackendStats struct {
	Cur      int    // current sessions (beconn)
	Max      int    // highest Cur seen
	Total    uint64 // sessions ever
	BytesIn  uint64 // client to server
	BytesOut uint64 // server to client
	Queue    int    // connections in the backend queue
	MaxQueue int    // highest Queue seen
	// DeniedReq counts requests rejected by the backend's "tcp-request
	// content" rules, DeniedResp responses rejected by "tcp-response
	// content" rules (HAProxy's dreq and dresp).
	DeniedReq, DeniedResp uint64
	// NoServer counts the connections that found no usable server
	// (HAProxy counts them in the backend's failed_conns, econ).
	NoServer uint64
	// Retries and Redispatches count the backend's retried attempts and
	// those sent to another server (wretr, wredis).
	Retries, Redispatches uint64
	// CliAborts and SrvAborts count the data transfers the client and the
	// server aborted, RespErrors the responses that failed (cli_abrt,
	// srv_abrt, eresp).
	CliAborts, SrvAborts, RespErrors uint64
	// Connects counts the connection attempts to the dispatch address
	// (the servers' are theirs).
	Connects uint64
	// Usable reports a server taking load-balanced traffic; LastChange is
	// when that last changed (Unix seconds, the start at first); DownTime
	// the seconds spent without one before it; DownTrans the moves to none.
	Usable               bool
	LastChange, DownTime int64
	DownTrans            uint64
	// LBTotal counts the times load balancing chose one of the servers.
	LBTotal uint64
	// HTTP are the HTTP counters, Times the time averages.
	HTTP  HTTPStats
	Times TimeStats
}

// Downtime returns the seconds the backend had no usable server at now
// (Unix seconds), as HAProxy's be_downtime.
func (st *BackendStats) Downtime(now int64) int64 {
	if st.Usable {
		return st.DownTime
	}
	return st.DownTime + max(now-st.LastChange, 0)
}

// Stats returns b's counters.
func (b *Backend) Stats() BackendStats {
	b.mu.Lock()
	q, mq := len(b.queue), b.maxQCur
	usable, lc, dt, dtr, lbt := b.usableLocked(), b.lastChange, b.downTime, b.downTrans, b.lbTotal
	b.mu.Unlock()
	return BackendStats{Cur: int(b.cur.Load()), Max: int(b.maxCur.Load()), Total: b.total.Load(), Connects: b.connects.Load(),
		Usable: usable, LastChange: lc, DownTime: dt, DownTrans: dtr, LBTotal: lbt,
		BytesIn: b.bytesIn.Load(), BytesOut: b.bytesOut.Load(), Queue: q, MaxQueue: mq,
		DeniedReq: b.deniedReq.Load(), DeniedResp: b.deniedResp.Load(),
		Retries: b.retries.Load(), Redispatches: b.redispatches.Load(), NoServer: b.noServer.Load(),
		CliAborts: b.cliAborts.Load(), SrvAborts: b.srvAborts.Load(), RespErrors: b.respErrors.Load(),
		HTTP: b.http.stats(), Times: b.times.stats()}
}

// countAbort counts a session or transaction that ended with termination
// state code and phase as HAProxy's process_stream and HTTP analysers
// count cli_aborts, srv_aborts and failed_resp, on b and on srv (nil:
// none): an error or a timeout on either side while the data flowed (phase
// D) is an abort of that side; a server's error (a reset, a truncated
// response) is a response error too, its timeout is not. A normal end costs
// the comparisons.
func (b *Backend) countAbort(srv *Server, code, phase byte) {
	if phase != 'D' {
		return
	}
	switch code {
	case TermClientAbort, TermClientTimeout:
		b.cliAborts.Add(1)
		if srv != nil {
			srv.cliAborts.Add(1)
		}
	case TermServerAbort:
		b.countRespError(srv)
		fallthrough
	case TermServerTimeout:
		b.srvAborts.Add(1)
		if srv != nil {
			srv.srvAborts.Add(1)
		}
	}
}

// countRespError counts a response the server failed to give (HAProxy's
// failed_resp, eresp): it closed, timed out or sent what does not parse,
// on b and on srv (nil: none).
func (b *Backend) countRespError(srv *Server) {
	if srv != nil {
		srv.respErrors.Add(1)
	}
	b.respErrors.Add(1)
}

// raiseMax raises m to v if v is higher: a load per call, a
// compare-and-swap only for a new highest value.
func raiseMax(m *atomic.Int64, v int64) {
	for {
		old := m.Load()
		if v <= old || m.CompareAndSwap(old, v) {
			return
		}
	}
}

// countRetry counts a retry after a failed attempt on srv (nil: the
// dispatch address), on srv and on b.
func (b *Backend) countRetry(srv *Server) {
	if srv != nil {
		srv.retries.Add(1)
	}
	b.retries.Add(1)
}

// countReassign counts a retry whose server was chosen again: as HAProxy's
// assign_server_and_queue, a redispatch on the server that failed when the
// choice is another one, a retry when it is the same.
func (b *Backend) countReassign(from, to *Server) {
	if from == to || from == nil {
		b.countRetry(from)
		return
	}
	from.redispatches.Add(1)
	b.redispatches.Add(1)
}

// Name returns the server's name.
func (s *Server) Name() string { return s.cfg.Name }

// Config returns the configuration s was built from.
func (s *Server) Config() ServerConfig { return s.cfg }

// ID returns the server's id: ServerConfig.ID, or HAProxy's automatic one.
func (s *Server) ID() int { return s.id }

// Backend returns the server's backend.
func (s *Server) Backend() *Backend { return s.be }

// State returns the server's current state.
func (s *Server) State() State {
	s.be.mu.Lock()
	defer s.be.mu.Unlock()
	return s.state
}

// SetState changes the server's state and returns the previous one. A
// server leaving UP gets no new connection; its own queue is handed to the
// backend queue; with ShutdownOnDown a move to DOWN kills its sessions
// (termination "D"). A server coming UP takes queued connections.
func (s *Server) SetState(st State) (old State) {
	b := s.be
	b.mu.Lock()
	old = s.state
	wasUsable := b.usableLocked()
	s.state = st
	if old != st {
		now := time.Now()
		s.warmLocked(old, st, now.UnixNano())
		s.changedLocked(old, st, now.Unix())
	}
	requeued := 0
	if st != StateUp && len(s.queue) > 0 {
		// HAProxy's pendconn_redistribute: non-persistent connections
		// waiting for this server may go elsewhere.
		requeued = len(s.queue)
		b.queue = append(b.queue, s.queue...)
		s.queue = nil
	}
	if usable := b.usableLocked(); usable != wasUsable {
		b.changedLocked(usable, time.Now().Unix())
	}
	b.dispatchLocked()
	b.mu.Unlock()
	if old != st && b.cfg.OnStateChange != nil {
		b.cfg.OnStateChange(s, old, st, requeued)
	}
	if out(st) && !out(old) && s.cfg.ShutdownOnDown {
		// DOWN or into maintenance, as HAProxy's srv_update_status.
		if e := b.eng.Load(); e != nil {
			e.killServer(s, TermDown)
		}
	}
	if out(old) && !out(st) && s.cfg.ShutdownBackupsOnUp {
		// HAProxy's srv_shutdown_backup_streams (SF_ERR_UP).
		if e := b.eng.Load(); e != nil {
			for _, bk := range b.Servers() {
				if bk.cfg.Backup {
					e.killServer(bk, TermUp)
				}
			}
		}
	}
	return old
}

// SetLastChange sets when the server's state last changed (Unix seconds): a server
// state file carries the age of the state it restores.
func (s *Server) SetLastChange(unix int64) {
	s.be.mu.Lock()
	s.lastChange = unix
	s.be.mu.Unlock()
}

// out reports whether a server in state st takes no traffic at all:
// HAProxy's SRV_ST_STOPPED, which maintenance forces.
func out(st State) bool { return st == StateDown || st == StateMaint }

// changedLocked records s's move from old to st at now (Unix seconds), as
// HAProxy's srv_update_status: going DOWN or into maintenance counts a
// down transition, coming back adds the time spent out to the downtime;
// both, and the other moves but between DOWN and maintenance, restart
// lastchg. Caller must hold s.be.mu.
func (s *Server) changedLocked(old, st State, now int64) {
	switch {
	case out(old) && out(st):
		return
	case out(st):
		s.downTrans++
	case out(old):
		s.downTime += max(now-s.lastChange, 0)
	}
	s.lastChange = now
}

// usableLocked reports whether b has a server taking load-balanced
// traffic (HAProxy's srv_act or srv_bck not 0). Caller must hold b.mu.
func (b *Backend) usableLocked() bool {
	for _, s := range b.srvs {
		if s.state == StateUp && s.weight > 0 {
			return true
		}
	}
	return false
}

// changedLocked records b's move to having a usable server or none at now
// (Unix seconds), as HAProxy's set_backend_down and its way back. Caller
// must hold b.mu.
func (b *Backend) changedLocked(usable bool, now int64) {
	if usable {
		b.downTime += max(now-b.lastChange, 0)
	} else {
		b.downTrans++
	}
	b.lastChange = now
}

// ShutdownSessions kills the sessions established on s (runtime API
// "shutdown sessions server"); they end with termination state "K". It
// returns how many were killed and does not wait for them to end.
func (s *Server) ShutdownSessions() int {
	if e := s.be.eng.Load(); e != nil {
		return e.killServer(s, TermKilled)
	}
	return 0
}

// SetWeight changes the server's weight (0..256) at run time.
func (s *Server) SetWeight(w int) error {
	if w < 0 || w > 256 {
		return fmt.Errorf("set weight %q: %d out of 0..256", s.cfg.Name, w)
	}
	s.be.mu.Lock()
	wasUsable := s.be.usableLocked()
	s.weight = w
	s.ewOut = 0 // HAProxy recomputes the eweight from the new weight
	if usable := s.be.usableLocked(); usable != wasUsable {
		// A weight of 0 takes a server out of load balancing as going
		// DOWN does: the backend may lose its last one.
		s.be.changedLocked(usable, time.Now().Unix())
	}
	s.be.dispatchLocked()
	s.be.mu.Unlock()
	return nil
}

// Weight returns the server's current weight.
func (s *Server) Weight() int {
	s.be.mu.Lock()
	defer s.be.mu.Unlock()
	return s.weight
}

// ServerStats is a snapshot of a server's counters.
type ServerStats struct {
	State    State
	Weight   int
	Cur      int    // current connections (srv_conn)
	Max      int    // highest Cur seen
	Total    uint64 // connections ever assigned
	Queue    int    // connections waiting for this server
	MaxQueue int    // highest Queue seen
	BytesIn  uint64 // client to server
	BytesOut uint64 // server to client
	Failed   uint64 // connections that gave up after their retries
	// Retries and Redispatches count the failed attempts retried on the
	// server and those sent to another one.
	Retries, Redispatches uint64
	// CliAborts, SrvAborts and RespErrors are cli_abrt, srv_abrt and
	// eresp; DeniedResp the responses rules denied (dresp).
	CliAborts, SrvAborts, RespErrors, DeniedResp uint64
	// Connects counts the connection attempts, Reuses the requests sent
	// on an idle connection instead.
	Connects, Reuses uint64
	// LastChange is when the state last changed (Unix seconds); DownTime
	// the seconds spent DOWN or in maintenance before it; DownTrans the
	// moves to DOWN or maintenance.
	LastChange, DownTime int64
	DownTrans            uint64
	// LBTotal counts the times load balancing chose the server.
	LBTotal uint64
	// HTTP are the responses received by status class and their count,
	// Times the time averages.
	HTTP  HTTPStats
	Times TimeStats
	// EWeight is the effective weight in sixteenths (HAProxy's
	// cur_eweight: Weight×16 but during a slow start); Throttle the slow
	// start's throttle in percent, -1 when the server is not STARTING,
	// which Starting says (slowstart.go).
	EWeight, Throttle int
	Starting          bool
}

// Downtime returns the seconds st was DOWN or in maintenance at now (Unix
// seconds), as HAProxy's srv_downtime.
func (st *ServerStats) Downtime(now int64) int64 {
	if !out(st.State) {
		return st.DownTime
	}
	return st.DownTime + max(now-st.LastChange, 0)
}

// Stats returns s's counters.
func (s *Server) Stats() ServerStats {
	s.be.mu.Lock()
	st := ServerStats{State: s.state, Weight: s.weight, Cur: s.cur, Max: s.maxCur,
		Queue: len(s.queue), MaxQueue: s.maxQCur, LastChange: s.lastChange, DownTime: s.downTime, DownTrans: s.downTrans, LBTotal: s.lbTotal}
	st.EWeight, st.Throttle, st.Starting = s.warmStatsLocked(time.Now().UnixNano())
	s.be.mu.Unlock()
	st.Total, st.BytesIn, st.BytesOut, st.Failed = s.total.Load(), s.bytesIn.Load(), s.bytesOut.Load(), s.failed.Load()
	st.Retries, st.Redispatches = s.retries.Load(), s.redispatches.Load()
	st.CliAborts, st.SrvAborts, st.RespErrors = s.cliAborts.Load(), s.srvAborts.Load(), s.respErrors.Load()
	st.DeniedResp, st.Connects, st.Reuses = s.deniedResp.Load(), s.connects.Load(), s.reuses.Load()
	st.HTTP, st.Times = s.http.stats(), s.times.stats()
	return st
}

// fillSnapLocked refreshes b.snap from the servers. Caller must hold b.mu.
func (b *Backend) fillSnapLocked() {
	var now int64
	if b.warming > 0 {
		now = time.Now().UnixNano()
	}
	for i, s := range b.srvs {
		w, ew := s.weight, 0
		if s.state != StateUp {
			w = 0
		} else if b.warming > 0 {
			ew = s.eweightLocked(now)
		}
		b.snap[i] = balance.Server{ID: s.id, Weight: w, EWeight: ew, ConfWeight: s.cfg.Weight, Backup: s.cfg.Backup,
			Usable: s.state == StateUp || s.state == StateNoLB || s.state == StateDrain,
			Conns:  s.cur + len(s.queue), Served: s.cur, Maxconn: max(s.dynMaxconnLocked(), 0)}
	}
}

func (s *Server) fullLocked() bool {
	m := s.dynMaxconnLocked()
	return m > 0 && s.cur >= m
}

// dynMaxconnLocked is the server's limit now: maxconn, or with a minconn,
// max(minconn, beconn × maxconn / fullconn) until the backend has
// fullconn connections (HAProxy's srv_dynamic_maxconn, beconn counting
// the backend's connections, queued ones included), at least 1; ramped up
// during a slow start.
func (s *Server) dynMaxconnLocked() int {
	m := s.minconnMaxLocked()
	if m > 0 && s.be.warming > 0 {
		m = s.warmMaxconnLocked(m, time.Now().UnixNano())
	}
	return m
}

// minconnMaxLocked is dynMaxconnLocked without the slow start.
func (s *Server) minconnMaxLocked() int {
	m, lo, full := s.maxconn, s.cfg.Minconn, s.be.cfg.Fullconn
	if m <= 0 || lo <= 0 || lo >= m || full <= 0 {
		return m
	}
	be := int(s.be.cur.Load())
	if be >= full {
		return m
	}
	return max(lo, be*m/full, 1)
}

// takeLocked counts a new connection on s. Caller must hold b.mu.
func (s *Server) takeLocked() {
	s.cur++
	if s.cur > s.maxCur {
		s.maxCur = s.cur
	}
	if int32(s.cur) > s.peakNow.Load() {
		s.peakNow.Store(int32(s.cur))
	}
	s.total.Add(1)
}

// queueInfo is what a session learnt about the queues while acquiring.
type queueInfo struct {
	srvQueue, beQueue int // queue lengths seen when queued (tcplog %sq/%bq)
	queued            bool
	at                time.Time // when queued: the start of %Tw
}

// acquireServer takes a slot on srv itself (use-server), waiting in its
// queue when it is full. It returns with srv counted as busy; the caller
// must call release.
func (b *Backend) acquireServer(srv *Server, kill <-chan struct{}) (*Server, queueInfo, error) {
	w := &waiter{ch: make(chan *Server, 1)}
	if s, qi := b.acquireServerOrQueue(srv, w); s != nil {
		return s, qi, nil
	} else {
		return b.waitQueued(w, qi, kill)
	}
}

// acquireServerOrQueue takes a slot on srv itself, or queues w in srv's
// own queue (the server comes through w later; qi.queued).
func (b *Backend) acquireServerOrQueue(srv *Server, w *waiter) (*Server, queueInfo) {
	var qi queueInfo
	b.mu.Lock()
	defer b.mu.Unlock()
	if !srv.fullLocked() && len(srv.queue) == 0 {
		srv.takeLocked()
		return srv, qi
	}
	srv.queue = append(srv.queue, w)
	srv.maxQCur = max(srv.maxQCur, len(srv.queue))
	qi.srvQueue, qi.beQueue, qi.queued, qi.at = len(srv.queue), len(b.queue), true, time.Now()
	return nil, qi
}

// dialAddr is the address to connect to for a client that connected to dst.
func (s *Server) dialAddr(dst netip.AddrPort) string {
	a := s.addr.Load()
	if !a.fromDst && !a.portFromDst {
		return a.addr
	}
	host, port, err := net.SplitHostPort(a.addr)
	if err != nil {
		return a.addr
	}
	if a.fromDst && dst.IsValid() {
		host = dst.Addr().Unmap().String()
	}
	if a.portFromDst && dst.IsValid() {
		port = strconv.Itoa(int(dst.Port()) + a.portOffset)
	}
	return net.JoinHostPort(host, port)
}

// acquire picks a server for a connection hashed to key, queueing when
// every candidate is full. It returns with the server counted as busy; the
// caller must call release. kill aborts a queued wait.
func (b *Backend) acquire(key uint64, kill <-chan struct{}, exclude *Server) (*Server, queueInfo, error) {
	s, qi, w, err := b.acquireOrQueue(nil, key, exclude)
	if s != nil || err != nil {
		return s, qi, err
	}
	return b.waitQueued(w, qi, kill)
}

// acquireOrQueue picks a server for key and takes a slot on it, or queues
// w when every candidate is full (qi.queued: the server comes through the
// waiter returned, w or, when w is nil, a new one with a channel), or
// fails with errNoServer. A connection that gets its server at once
// allocates nothing.
func (b *Backend) acquireOrQueue(w *waiter, key uint64, exclude *Server) (*Server, queueInfo, *waiter, error) {
	var qi queueInfo
	b.mu.Lock()
	i := b.pickLocked(key, exclude)
	if i >= 0 {
		b.lbChoseLocked(b.srvs[i], exclude)
	}
	if i >= 0 && !b.srvs[i].fullLocked() && len(b.srvs[i].queue) == 0 {
		s := b.srvs[i]
		s.takeLocked()
		b.mu.Unlock()
		return s, qi, nil, nil
	}
	if w == nil && (i >= 0 || balance.Usable(b.snap)) {
		w = &waiter{key: key, ch: make(chan *Server, 1)}
	}
	switch {
	case i >= 0 && (b.srvs[i].cfg.Maxqueue == 0 || len(b.srvs[i].queue) < b.srvs[i].cfg.Maxqueue):
		// A hashing algorithm kept its full server: wait for it.
		s := b.srvs[i]
		s.queue = append(s.queue, w)
		s.maxQCur = max(s.maxQCur, len(s.queue))
		qi.srvQueue = len(s.queue)
	case i >= 0 || balance.Usable(b.snap):
		// Every candidate is full, or the kept server's queue reached
		// its maxqueue: HAProxy then redispatches, here through the
		// backend queue, which has no limit of its own.
		b.queue = append(b.queue, w)
		b.maxQCur = max(b.maxQCur, len(b.queue))
	default:
		b.mu.Unlock()
		return nil, qi, nil, errNoServer
	}
	qi.beQueue = len(b.queue)
	qi.queued, qi.at = true, time.Now()
	b.mu.Unlock()
	return nil, qi, w, nil
}

// cancelWait takes w out of its queue and reports whether it was still
// there; if not, a server was given to it already.
func (b *Backend) cancelWait(w *waiter) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.removeWaiterLocked(w)
}

// pickLocked returns the index of the server the algorithm picks for key,
// -1 when none is usable; exclude (after a failed attempt, under
// redispatch) is avoided when another server is usable. Caller must hold
// b.mu.
func (b *Backend) pickLocked(key uint64, exclude *Server) int {
	b.fillSnapLocked()
	if exclude != nil && len(b.srvs) > 1 {
		// Redispatch: prefer another server than the one that failed.
		b.snap[exclude.idx].Usable = false
		if !balance.Usable(b.snap) {
			b.fillSnapLocked()
		}
	}
	return b.algo.Pick(b.snap, key)
}

// tryAcquire is acquire without a queue, for the event loops: it returns
// errWouldQueue when the server picked is full, errNoServer when none is
// usable.
func (b *Backend) tryAcquire(key uint64, exclude *Server) (*Server, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := b.pickLocked(key, exclude)
	switch {
	case i < 0 && balance.Usable(b.snap):
		return nil, errWouldQueue
	case i < 0:
		return nil, errNoServer
	}
	s := b.srvs[i]
	if s.fullLocked() || len(s.queue) > 0 {
		return nil, errWouldQueue
	}
	b.lbChoseLocked(s, exclude)
	s.takeLocked()
	return s, nil
}

// lbChoseLocked counts that load balancing chose s, as HAProxy's
// assign_server: not when it chose again the server whose attempt failed
// (prev). Caller must hold b.mu.
func (b *Backend) lbChoseLocked(s, prev *Server) {
	if s != prev {
		s.lbTotal++
		b.lbTotal++
	}
}

// waitQueued waits for queued w to get a server, up to the queue timeout.
func (b *Backend) waitQueued(w *waiter, qi queueInfo, kill <-chan struct{}) (*Server, queueInfo, error) {
	tq := b.cfg.TimeoutQueue
	if tq == 0 {
		tq = b.cfg.TimeoutConnect
	}
	var tc <-chan time.Time
	if tq > 0 {
		t := time.NewTimer(tq)
		defer t.Stop()
		tc = t.C
	}
	var err error
	select {
	case s := <-w.ch:
		return s, qi, nil
	case <-tc:
		err = errQueueTime
	case <-kill:
		err = errKilled
	}
	b.mu.Lock()
	if b.removeWaiterLocked(w) {
		b.mu.Unlock()
		return nil, qi, err
	}
	b.mu.Unlock()
	// Dispatched concurrently with the timeout: the slot is ours, give
	// it back.
	s := <-w.ch
	b.release(s)
	return nil, qi, err
}

// removeWaiterLocked takes w out of whichever queue holds it and reports
// whether it was still queued. Caller must hold b.mu.
func (b *Backend) removeWaiterLocked(w *waiter) bool {
	rm := func(q []*waiter) ([]*waiter, bool) {
		for i, x := range q {
			if x == w {
				return append(q[:i], q[i+1:]...), true
			}
		}
		return q, false
	}
	var ok bool
	if b.queue, ok = rm(b.queue); ok {
		return true
	}
	for _, s := range b.srvs {
		if s.queue, ok = rm(s.queue); ok {
			return true
		}
	}
	return false
}

// release gives back the slot s held and hands it to a queued connection.
func (b *Backend) release(s *Server) {
	b.mu.Lock()
	s.cur--
	b.dispatchLocked()
	b.mu.Unlock()
}

// dispatchLocked assigns free server slots to queued connections, each
// server's own queue first, then the backend queue in arrival order.
// Caller must hold b.mu.
func (b *Backend) dispatchLocked() {
	for _, s := range b.srvs {
		for len(s.queue) > 0 && s.state == StateUp && !s.fullLocked() {
			w := s.queue[0]
			s.queue = s.queue[1:]
			s.takeLocked()
			w.give(s)
		}
	}
	for len(b.queue) > 0 {
		b.fillSnapLocked()
		i := b.algo.Pick(b.snap, b.queue[0].key)
		if i < 0 || b.srvs[i].fullLocked() {
			return
		}
		w := b.queue[0]
		b.queue = b.queue[1:]
		s := b.srvs[i]
		b.lbChoseLocked(s, nil)
		s.takeLocked()
		w.give(s)
	}
}
