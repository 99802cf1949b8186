package proxy

import (
	"cmp"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// What the runtime API changes in a running server: its address and port
// ("set server … addr"), its maxconn ("set maxconn server") and, with the
// frontends' and backends', its counters ("clear counters").

// srvAddr is where a server is. A Server holds one at a time (an atomic
// pointer): a connection reads it once and dials one consistent address.
type srvAddr struct {
	// addr is the "host:port" dialled (a socket path for "unix").
	addr string
	// ip and port are addr parsed, for the event loops' raw connect; ip
	// is invalid when addr's host is not a literal address.
	ip   netip.Addr
	port uint16
	// fromDst and portFromDst take the address, the port (plus
	// portOffset) the client connected to (ServerConfig.AddrFromDst,
	// PortFromDst).
	fromDst, portFromDst bool
	portOffset           int
}

// configAddr is the address the configuration gives c.
func configAddr(c *ServerConfig) *srvAddr {
	a := &srvAddr{addr: c.Addr, fromDst: c.AddrFromDst, portFromDst: c.PortFromDst, portOffset: c.PortOffset}
	if host, port, err := net.SplitHostPort(c.Addr); err == nil {
		a.ip, _ = netip.ParseAddr(host)
		if p, err := strconv.ParseUint(port, 10, 16); err == nil {
			a.port = uint16(p)
		}
	}
	return a
}

// ErrAddrFamily: the server is not at an IPv4 or IPv6 address (a unix
// socket), which only the configuration changes.
var ErrAddrFamily = errors.New("server address family cannot change at run time")

// Addr returns the server's current address: ip (invalid when the host is
// a name, or the address the client connected to is used) and port;
// mapped reports a port that is an offset to the client's destination
// port (offset is then port, signed).
func (s *Server) Addr() (addr string, ip netip.Addr, port int, mapped bool) {
	a := s.addr.Load()
	port = int(a.port)
	if a.portFromDst {
		port = a.portOffset
	}
	if a.fromDst {
		return a.addr, netip.IPv4Unspecified(), port, a.portFromDst
	}
	return a.addr, a.ip, port, a.portFromDst
}

// SetAddr moves the server to ip (when valid) and to port (when setPort;
// mapped makes port an offset to the client's destination port, as a
// configured "+N" or "-N"). Connections established stay where they are;
// new ones, including the event loops', go to the new address; the idle
// HTTP connections to the old one are closed. An unspecified ip (0.0.0.0)
// connects to the client's destination address, as in the configuration.
func (s *Server) SetAddr(ip netip.Addr, setIP bool, port int, setPort, mapped bool) error {
	if s.cfg.Network == "unix" {
		return ErrAddrFamily
	}
	old := s.addr.Load()
	a := *old
	if setIP {
		ip = ip.Unmap()
		a.ip, a.fromDst = ip, ip.IsUnspecified()
	}
	if setPort {
		a.portFromDst = mapped
		if mapped {
			a.portOffset, a.port = port, 0
		} else {
			a.portOffset, a.port = 0, uint16(port)
		}
	}
	host := a.ip.String()
	if !a.ip.IsValid() { // a name, kept with its new port
		host, _, _ = net.SplitHostPort(old.addr)
	}
	a.addr = net.JoinHostPort(host, strconv.Itoa(int(a.port)))
	s.addr.Store(&a)
	s.idle.closeAll()
	return nil
}

// Maxconn returns the server's current maxconn (0 or less: no limit).
func (s *Server) Maxconn() int {
	s.be.mu.Lock()
	defer s.be.mu.Unlock()
	return s.maxconn
}

// SetMaxconn changes the server's maxconn at run time (0 or less: no
// limit); a raised limit takes queued connections at once.
func (s *Server) SetMaxconn(n int) {
	s.be.mu.Lock()
	s.maxconn = n
	s.be.dispatchLocked()
	s.be.mu.Unlock()
}

// ClearCounters resets the server's highest values seen (sessions and
// queue), and with all its cumulative counters too, as HAProxy's "clear
// counters [all]".
func (s *Server) ClearCounters(all bool) {
	s.be.mu.Lock()
	s.maxCur, s.maxQCur = 0, 0
	if all {
		s.lbTotal, s.downTrans = 0, 0
	}
	s.be.mu.Unlock()
	s.times.clear(all)
	if all {
		s.http.clear()
		s.retries.Store(0)
		s.redispatches.Store(0)
		s.total.Store(0)
		s.bytesIn.Store(0)
		s.bytesOut.Store(0)
		s.failed.Store(0)
		s.cliAborts.Store(0)
		s.srvAborts.Store(0)
		s.respErrors.Store(0)
		s.deniedResp.Store(0)
		s.connects.Store(0)
		s.reuses.Store(0)
	}
}

// ClearCounters resets the backend's highest queue seen, and with all its
// cumulative counters, those of its servers left apart.
func (b *Backend) ClearCounters(all bool) {
	b.maxCur.Store(0)
	b.mu.Lock()
	b.maxQCur = 0
	if all {
		b.lbTotal, b.downTrans = 0, 0
	}
	b.mu.Unlock()
	b.times.clear(all)
	if all {
		b.http.clear()
		b.retries.Store(0)
		b.redispatches.Store(0)
		b.total.Store(0)
		b.bytesIn.Store(0)
		b.bytesOut.Store(0)
		b.deniedReq.Store(0)
		b.deniedResp.Store(0)
		b.cliAborts.Store(0)
		b.srvAborts.Store(0)
		b.respErrors.Store(0)
		b.connects.Store(0)
	}
}

// ClearCounters resets the frontend's highest session count, and with all
// its cumulative counters.
func (f *Frontend) ClearCounters(all bool) {
	f.maxCur.Store(0)
	if all {
		f.http.clear()
		f.reqs.Store(0)
		f.total.Store(0)
		f.bytesIn.Store(0)
		f.bytesOut.Store(0)
		f.deniedConn.Store(0)
		f.deniedSess.Store(0)
		f.deniedReq.Store(0)
		f.failedReq.Store(0)
		f.deniedResp.Store(0)
	}
}

// ConnStats is what "show servers conn" shows of a server's connections.
type ConnStats struct {
	// Used is the connections in use, UsedMax the most at once in this
	// second, NeedEst the estimated need (the most over this second and
	// the one before), which bounds the idle pool.
	Used, UsedMax, NeedEst int
	// Unsafe and Safe are the idle connections that served one request,
	// and more than one.
	Unsafe, Safe int
	// IdleLim is "pool-max-conn" (-1: unlimited), PurgeDelay
	// "pool-purge-delay".
	IdleLim    int
	PurgeDelay time.Duration
}

// ConnStats returns s's connection counts.
func (s *Server) ConnStats() ConnStats {
	st := ConnStats{PurgeDelay: s.poolPurge(), IdleLim: s.cfg.PoolMax}
	switch {
	case s.cfg.NoIdlePool:
		st.IdleLim = 0
	case st.IdleLim == 0:
		st.IdleLim = -1
	}
	s.be.mu.Lock()
	st.Used = s.cur
	s.be.mu.Unlock()
	now, prev := int(s.peakNow.Load()), int(s.peakPrev.Load())
	st.UsedMax, st.NeedEst = now, max(now, prev)
	s.idle.mu.Lock()
	for _, ic := range s.idle.conns {
		if ic.safe {
			st.Safe++
		} else {
			st.Unsafe++
		}
	}
	s.idle.mu.Unlock()
	return st
}

// SessionInfo is what "show sess" shows of a session.
type SessionInfo struct {
	// ID is the session's number (the log's unique id counter).
	ID uint64
	// Client is the client's address, Frontend the frontend's name,
	// Backend and Server those of the server the session is on ("" when
	// none yet).
	Client          netip.AddrPort
	Frontend        string
	Backend, Server string
	Accept          time.Time
}

// Sessions returns the sessions being served, oldest first.
func (e *Engine) Sessions() []SessionInfo {
	e.mu.Lock()
	out := make([]SessionInfo, 0, len(e.conns))
	for c := range e.conns {
		if c.ended.Load() {
			continue
		}
		si := SessionInfo{ID: c.id, Frontend: c.f.cfg.Name, Accept: c.accept}
		if a := c.src.Load(); a != nil {
			si.Client = *a
		}
		if s := c.srv.Load(); s != nil {
			si.Backend, si.Server = s.be.cfg.Name, s.cfg.Name
		}
		out = append(out, si)
	}
	e.mu.Unlock()
	slices.SortFunc(out, func(a, b SessionInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// KillSession kills the session numbered id (runtime API "shutdown
// session"): it ends with termination state "K". It reports false when
// no such session is being served.
func (e *Engine) KillSession(id uint64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for c := range e.conns {
		if c.id == id && !c.ended.Load() {
			c.Kill(TermKilled)
			return true
		}
	}
	return false
}

// reusableFor reports whether sc, an idle connection to s, leads where a
// new one for a client connected to dst would: always, unless s takes its
// address or port from the destination (0.0.0.0, port 0 or +N), which
// set-dst may change from one request to the next.
func (s *Server) reusableFor(sc net.Conn, dst netip.AddrPort) bool {
	a := s.addr.Load()
	if !a.fromDst && !a.portFromDst {
		return true
	}
	return addrPort(sc.RemoteAddr()).String() == s.dialAddr(dst)
}

// preferable reports whether "option prefer-last-server" sends the next
// request of a client to s, whose connection the client still holds: s is
// a server of be, UP with a weight, and be's balancing does not hash (a
// hash picks the same server anyway), as HAProxy's srv_currently_usable,
// and not full with a queue max-keep-alive-queue long.
func (s *Server) preferable(be *Backend) bool {
	if s == nil || s.be != be {
		return false
	}
	switch algo, _, _ := strings.Cut(be.cfg.Balance, "("); algo {
	case "source", "uri", "url_param", "hdr", "rdp-cookie", "hash":
		return false
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	// HAProxy's assign_server: no limit, or room on the server, or a
	// queue shorter than max-keep-alive-queue.
	if q := be.cfg.HTTP.MaxKeepAliveQueue; q > 0 && s.fullLocked() && len(s.queue)+1 >= q {
		return false
	}
	return s.state == StateUp && s.weight > 0
}
