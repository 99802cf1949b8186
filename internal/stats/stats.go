// Package stats renders HAProxy's statistics page ("stats enable" in a mode
// http proxy) from a snapshot of lb's counters: the CSV export, as HAProxy
// 2.6 lays it out (header line, column order, row order, status words), its
// JSON export (";json", and ";json-schema"), and a self-contained HTML page
// with HAProxy's tables. It also answers the page's HTTP requests
// (Page.Serve): authentication, refresh, HEAD, and the POSTs of the admin
// forms ("stats admin"), denied without it.
//
// A counter lb does not keep is printed empty, never made up: HAProxy's CSV
// has many more counters than lb keeps (rates, HTTP status classes, timings,
// health check details, per-protocol counters).
package stats

import (
	"fmt"
	"time"
)

// Snapshot is what the page shows: the proxies at one moment.
type Snapshot struct {
	// PID is the process id shown in the HTML page.
	PID int
	// Uptime is how long the process has run.
	Uptime time.Duration
	// Sessions is the number of sessions being served, Maxconn the
	// configured process-wide limit (0: not shown).
	Sessions, Maxconn int
	// Proxies in the configuration's order (disabled ones left out).
	Proxies []Proxy
	// Rates are the process's measured rates and their limits.
	Rates ProcessRates
	// CPU is the processor time the process used so far, user and system (0:
	// not measured).
	CPU time.Duration
}

// BytesOut is the number of bytes the proxies sent: to the clients (the
// frontends' bout) and to the servers (the backends' bin).
func (s *Snapshot) BytesOut() uint64 {
	var n uint64
	for i := range s.Proxies {
		p := &s.Proxies[i]
		if p.Frontend != nil {
			n += p.Frontend.BytesOut
		}
		if p.Backend != nil {
			n += p.Backend.BytesIn
		}
	}
	return n
}

// Rate is a count of events per second, as HAProxy's freq counters give it
// (those of the current second plus the past second's weighted by what is
// left of the current one), and the highest value seen since the start.
type Rate struct{ Cur, Max int }

// ProcessRates are the process's rates ("show info", haproxy_process_*):
// connections accepted, sessions started (connections that passed the
// tcp-request connection rules), connections accepted on listeners with
// "ssl" and the full handshakes among them; and the limits
// (maxconnrate, maxsessrate, maxsslrate; 0: none). BytesOut is the rate of
// Snapshot.BytesOut, CompIn and CompOut those of the bytes the frontends gave
// to the compressor and got from it. Idle is the share of the processor time the threads
// could have used that the process left unused over the last second, in
// percent (100 before a second was measured).
type ProcessRates struct {
	Conn, Sess, SSL, SSLKey        Rate
	ConnLimit, SessLimit, SSLLimit int
	BytesOut, CompIn, CompOut      Rate
	Idle                           int
}

// SSLReuse is the percentage of TLS sessions resumed over the last second,
// computed from the two rates as HAProxy does (0 without TLS traffic).
func (r *ProcessRates) SSLReuse() int {
	sess, key := r.SSL.Cur, r.SSLKey.Cur
	if key >= sess {
		return 0
	}
	return 100 - (100*key+(sess-1)/2)/sess
}

// Proxy is a frontend, a backend or a listen section (both).
type Proxy struct {
	Name string
	// ID is HAProxy's proxy id (iid).
	ID int
	// Mode is "http" or "tcp".
	Mode string
	// Algo is the balance algorithm of a backend ("roundrobin", …).
	Algo string
	// Frontend is nil when the proxy is not a frontend, Backend when it is
	// not a backend.
	Frontend *Frontend
	Backend  *Backend
}

// Off says which features cannot count on a frontend or a backend: HAProxy
// prints 0 in their columns then, where lb has no counter to show when they
// can.
type Off struct {
	// Comp: no proxy of the configuration compresses (comp_*).
	Comp bool
	// SSL: no TLS on this proxy's side: no bind line with "ssl" on a
	// frontend, no server (or its checks) with TLS on a backend (ssl_*).
	SSL bool
	// H1: no HTTP/1 connection here (h1_*): a mode tcp proxy in a
	// configuration without HTTP, and for a backend no HTTP check.
	H1 bool
	// H2: no HTTP/2 connection (h2_*): lb does not speak HTTP/2.
	H2 bool
}

// HTTP are a proxy's or a server's HTTP counters, shown in mode http.
type HTTP struct {
	// Rsp are the responses by status class: [1] to [5] for 1xx to 5xx,
	// [0] for the others (hrsp_*).
	Rsp [6]uint64
	// Requests are a backend's transactions that ended with a status, a
	// server's responses (req_tot); a frontend's are Frontend.Requests.
	Requests uint64
	// Intercepted counts the requests a frontend answered itself
	// (intercepted).
	Intercepted uint64
	// CacheLookups and CacheHits count the cache-use rules' lookups and
	// hits (cache_lookups, cache_hits).
	CacheLookups, CacheHits uint64
	// CompIn, CompOut and CompByp are the bytes given to the compressor,
	// those it produced, and those that bypassed it; CompRsp the
	// compressed responses (comp_in, comp_out, comp_byp, comp_rsp).
	CompIn, CompOut, CompByp, CompRsp uint64
}

// Times are a backend's or a server's average and highest queue, connect,
// response and total times, in milliseconds, over its last 512 sessions or
// transactions (qtime, ctime, rtime, ttime and their _max).
type Times struct {
	Avg, Max [4]uint32
}

// Idle are a server's connections: those idle in its pool (srv_icur),
// split into the ones that served one request and more than one
// (idle_conn_cur, safe_conn_cur); those in use (used_conn_cur); the
// estimated need (need_conn_est); and the pool's limit (src_ilim), when
// Limited.
type Idle struct {
	Unsafe, Safe, Used, NeedEst, Limit int
	Limited                            bool
}

// Frontend holds a frontend's counters.
type Frontend struct {
	// Off are the features that cannot count on the frontend.
	Off Off
	// Paused: its listeners are paused (SIGTTOU, "disable frontend"); the
	// status says PAUSED instead of OPEN.
	Paused bool
	// Cur is the number of current sessions, Max the highest seen, Limit
	// the frontend's maxconn (0: none).
	Cur, Max, Limit int
	// Total counts the connections accepted (conn_tot, and stot).
	Total uint64
	// Requests counts the HTTP requests (req_tot; 0 in mode tcp).
	Requests uint64
	// SessRate, ConnRate and ReqRate are the sessions, connections and
	// HTTP requests per second; RateLimit is "rate-limit sessions" (0:
	// none).
	SessRate, ConnRate, ReqRate Rate
	RateLimit                   int
	BytesIn, BytesOut           uint64
	DeniedReq                   uint64 // requests denied by rules (dreq)
	DeniedResp                  uint64 // responses denied by rules (dresp)
	FailedReq                   uint64 // requests that could not be read (ereq)
	DeniedConn, DeniedSess      uint64 // tcp-request connection / session rejects (dcon, dses)
	HTTP                        HTTP
}

// Backend holds a backend's counters and its servers.
type Backend struct {
	// Off are the features that cannot count on the backend.
	Off Off
	// Cur is the number of current sessions, Max the highest seen.
	Cur, Max int
	// Connects counts the connection attempts to the dispatch address:
	// the backend's connect adds its servers'.
	Connects uint64
	// Limit is the backend's fullconn (0: none), its slim.
	Limit int
	// SessRate is the sessions per second the backend took; LastSess the
	// seconds since the last one (lastsess; -1: none).
	SessRate              Rate
	LastSess              int64
	Queue, MaxQueue       int
	Total                 uint64
	BytesIn, BytesOut     uint64
	DeniedReq, DeniedResp uint64
	// NoServer counts the connections that found no usable server: econ
	// counts them with the servers' failed connections.
	NoServer uint64
	// Retries and Redispatches count the backend's retried attempts and
	// those sent to another server (wretr, wredis).
	Retries, Redispatches uint64
	// CliAborts and SrvAborts count the data transfers the client and the
	// server aborted (cli_abrt, srv_abrt), RespErrors the responses that
	// failed (eresp).
	CliAborts, SrvAborts, RespErrors uint64
	// LastChange is the seconds since the backend last lost its last
	// usable server or got one back, or since the start (lastchg);
	// Downtime the seconds it had none (downtime, shown when it has
	// servers); DownTrans how many times it lost the last (chkdown).
	LastChange, Downtime int64
	DownTrans            uint64
	// LBTotal counts the times load balancing chose one of the servers
	// (lbtot).
	LBTotal uint64
	// AllBackups is "option allbackups": every usable backup server
	// counts in the weight when no active one is usable, not only the
	// first.
	AllBackups bool
	HTTP       HTTP
	Times      Times
	Servers    []Server
}

// State is a server's state.
type State int

const (
	Up State = iota
	Down
	Maint
	Drain
	NoLB
)

// Server holds a server's state and counters.
type Server struct {
	Name string
	// ID is HAProxy's server id (sid).
	ID int
	// Addr is "ip:port" (shown with "stats show-legends").
	Addr    string
	State   State
	Checked bool // "check": health-checked
	// Rise and Fall are the health check's thresholds (when Checked).
	Rise, Fall int
	Backup     bool
	// Weight is the current weight.
	Weight int
	// EWeight is the effective weight in sixteenths (HAProxy's
	// cur_eweight), lower than Weight×16 during a slow start; 0 means
	// Weight×16. Throttle is the slow start's throttle in percent while
	// the server warms up (6 at least), 0 when it does not.
	EWeight, Throttle int
	// Cur and Max are current and highest concurrent connections, Limit
	// the server's maxconn (0: none).
	Cur, Max, Limit int
	// Queue and MaxQueue are the connections waiting for the server,
	// QueueLimit its maxqueue (0: none).
	Queue, MaxQueue, QueueLimit int
	Total                       uint64
	// SessRate is the sessions per second the server took; LastSess the
	// seconds since the last one (lastsess; -1: none).
	SessRate          Rate
	LastSess          int64
	BytesIn, BytesOut uint64
	// Failed counts the connections that gave up after their retries
	// (econ).
	Failed uint64
	// Retries counts the failed attempts retried on the server (wretr),
	// Redispatches those sent to another server (wredis).
	Retries, Redispatches uint64
	// CliAborts, SrvAborts and RespErrors are the server's cli_abrt,
	// srv_abrt and eresp, DeniedResp its responses denied by rules
	// (dresp).
	CliAborts, SrvAborts, RespErrors, DeniedResp uint64
	// Connects counts the connection attempts (connect), Reuses the
	// requests sent on an idle connection instead (reuse).
	Connects, Reuses uint64
	// LastChange is the seconds since the server's state last changed, or
	// since the start (lastchg); Downtime the seconds it spent DOWN or in
	// maintenance (downtime); DownTrans how many times it went so
	// (chkdown).
	LastChange, Downtime int64
	DownTrans            uint64
	// LBTotal counts the times load balancing chose the server (lbtot):
	// not use-server nor persistence.
	LBTotal uint64
	// HANAFail counts the passive check's verdicts (hanafail), shown
	// when Observe (the server has "observe").
	HANAFail uint64
	Observe  bool
	// NoSSL: neither the server nor its checks use TLS (ssl_* are 0).
	NoSSL bool
	HTTP  HTTP
	Times Times
	Idle  Idle
	// Check is the state of the server's health check; nil when it has
	// none, or when they were disabled ("disable health"), as HAProxy then
	// leaves the check columns empty.
	Check *Check
	// Agent is the state of its agent check ("agent-check"), nil when it has
	// none or it was disabled ("disable agent"). Its rise and fall are 1.
	Agent *Check
	// MaintResolution: in maintenance because its name no longer resolves
	// (HAProxy's SRV_ADMF_RMAINT), "MAINT (resolution)".
	MaintResolution bool
	// Tracked is the server it tracks, "proxy/server" ("" for none), and
	// MaintVia says its maintenance is that server's (SRV_ADMF_IMAINT):
	// "MAINT (via proxy/server)". Ref is the end of its chain of tracked
	// servers, whose checks its status shows, as HAProxy's does (nil:
	// none).
	Tracked  string
	MaintVia bool
	Ref      *Server
}

// Check is the state of a server's health check, as the check columns
// show it.
type Check struct {
	// Paused: the server is in maintenance, its checks do not run; only
	// the counters are shown (chkfail, chkdown, downtime).
	Paused bool
	// Status is the last result's code ("L4OK", "INI" before the first);
	// Running reports a check in progress, shown as a "* " before it.
	Status  string
	Running bool
	// Code is the last result's code (HTTP status), shown when HasCode.
	Code    int
	HasCode bool
	// Duration is how long the last check took, shown when Done (once a
	// check ended).
	Duration time.Duration
	Done     bool
	// Desc describes Status ("Layer4 check passed"); Info is the last
	// result's detail ("Connection refused", "via agent : up"), the
	// statistics' last_chk or last_agt.
	Desc, Info string
	// Health is the health counter: 0 (DOWN) to rise+fall-1 (fully UP).
	Health int
	// Failed counts the failed checks that lowered Health (chkfail).
	Failed uint64
}

// status is the frontend's status word: OPEN, or PAUSED while its listeners
// are paused.
func (f *Frontend) status() string {
	if f.Paused {
		return "PAUSED"
	}
	return "OPEN"
}

// statusWord is the check's status as the statistics show it: "* " before it
// while a check runs.
func (c *Check) statusWord() string {
	if c.Running {
		return "* " + c.Status
	}
	return c.Status
}

// usable reports whether s takes load-balanced traffic (HAProxy's
// srv_is_usable: running, not in maintenance, a weight).
func (s *Server) usable() bool { return s.State == Up && s.Weight > 0 }

// effWeight is the weight HAProxy shows, its cur_eweight in weight units
// rounded up (a slow start lowers it), which a drain does not change: a
// draining server takes no new traffic but keeps its weight.
func (s *Server) effWeight() int { return (s.eweight() + 15) / 16 }

// eweight is s.EWeight, or the weight's sixteenths without one.
func (s *Server) eweight() int {
	if s.EWeight > 0 {
		return s.EWeight
	}
	return s.Weight * 16
}

// hlt is a server's state as HAProxy's statistics classify it (stats.c,
// enum srv_stats_state): its status word and the class of its HTML row.
type hlt int

const (
	hltDown hlt = iota
	hltDownAgent
	hltGoingUp
	hltUpGoingDown
	hltUp
	hltNoLBGoingDown
	hltNoLB
	hltDrainGoingDown
	hltDrain
	hltDrainAgent
	hltNoCheck
)

// hlt classifies s as HAProxy's stats_fill_sv_stats does: the health checks'
// progress between the states ("UP 1/3": UP with its health counter under
// rise+fall-1; "DOWN 1/2": DOWN with checks passed on the way up), and the
// agent's verdict ("DOWN (agent)", and "DRAIN (agent)" for any drain while an
// agent check runs).
func (s *Server) hlt() hlt {
	src := s
	if s.Ref != nil {
		src = s.Ref // a tracking server shows its tracked server's checks
	}
	c, a := src.Check, src.Agent
	full := src.Rise + src.Fall - 1
	switch s.State {
	case Down:
		switch {
		case a != nil && a.Health == 0:
			return hltDownAgent
		case c != nil && c.Health == 0:
			return hltDown
		case c != nil || a != nil:
			return hltGoingUp
		}
		return hltDown
	case NoLB:
		if c == nil || c.Health == full {
			return hltNoLB
		}
		return hltNoLBGoingDown
	}
	st := hltUp
	if c != nil && c.Health < full {
		st = hltUpGoingDown
	}
	if s.State == Drain {
		switch {
		case a != nil:
			return hltDrainAgent
		case st == hltUpGoingDown:
			return hltDrainGoingDown
		}
		return hltDrain
	}
	if st == hltUp && c == nil {
		return hltNoCheck
	}
	return st
}

// status is the server's status word as HAProxy's stats print it.
func (s *Server) status() string {
	if s.State == Maint {
		switch {
		case s.MaintResolution:
			return "MAINT (resolution)"
		case s.MaintVia:
			return "MAINT (via " + s.Tracked + ")"
		}
		return "MAINT"
	}
	src := s
	if s.Ref != nil {
		src = s.Ref
	}
	health := 0
	if src.Check != nil {
		health = src.Check.Health
	}
	switch s.hlt() {
	case hltDownAgent:
		return "DOWN (agent)"
	case hltGoingUp:
		return fmt.Sprintf("DOWN %d/%d", health, src.Rise)
	case hltUpGoingDown:
		return fmt.Sprintf("UP %d/%d", health-src.Rise+1, src.Fall)
	case hltUp:
		return "UP"
	case hltNoLBGoingDown:
		return fmt.Sprintf("NOLB %d/%d", health-src.Rise+1, src.Fall)
	case hltNoLB:
		return "NOLB"
	case hltDrainGoingDown:
		return fmt.Sprintf("DRAIN %d/%d", health-src.Rise+1, src.Fall)
	case hltDrain:
		return "DRAIN"
	case hltDrainAgent:
		return "DRAIN (agent)"
	case hltNoCheck:
		return "no check"
	}
	return "DOWN"
}

// weights returns the backend's weight (HAProxy's tot_weight: the usable
// active servers', else the usable backups' — only the first one's without
// option allbackups), its user weight, and its usable active and backup
// server counts.
func (b *Backend) weights() (weight, act, bck int) {
	wact, wbck := 0, 0
	for i := range b.Servers {
		s := &b.Servers[i]
		if !s.usable() {
			continue
		}
		if s.Backup {
			if bck == 0 || b.AllBackups {
				wbck += s.eweight()
			}
			bck++
		} else {
			wact += s.eweight()
			act++
		}
	}
	// HAProxy sums the eweights and shows them in weight units, rounded up.
	if act > 0 {
		return (wact + 15) / 16, act, bck
	}
	return (wbck + 15) / 16, act, bck
}

// status is "UP" when the backend has a usable server, or no server at all.
func (b *Backend) status() string {
	if w, _, _ := b.weights(); w > 0 || len(b.Servers) == 0 {
		return "UP"
	}
	return "DOWN"
}

// connects and reuses are the backend's connection attempts and reuses:
// its servers', HAProxy counting each on the backend too, and its own.
func (b *Backend) connects() (n, reuse uint64) {
	n = b.Connects
	for i := range b.Servers {
		n += b.Servers[i].Connects
		reuse += b.Servers[i].Reuses
	}
	return n, reuse
}

// failed sums the servers' failed connection attempts: HAProxy counts each
// on the backend too.
func (b *Backend) failed() uint64 {
	n := b.NoServer
	for i := range b.Servers {
		n += b.Servers[i].Failed
	}
	return n
}
