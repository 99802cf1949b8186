package proxy

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"lb/internal/balance"
	"lb/internal/socks4"
)

// ConnectRequest says how Backend.Connect chooses and reaches a server.
type ConnectRequest struct {
	// Server, when set, is the server to connect to ("use-server"): the
	// connection waits in that server's own queue when it is full and is
	// never redispatched. Nil means the backend's balancing algorithm
	// chooses.
	Server *Server
	// Persist says Server was chosen by a persistence cookie: unlike a
	// use-server choice, "option redispatch" may send a failed attempt
	// to another server, as HAProxy does.
	Persist bool
	// Key is the balancing hash (balance.HashAddr of the client's
	// address for "balance source"); 0 when there is none.
	Key uint64
	// Src and Dst are the client's address and the address it connected
	// to. Dst is dialled for servers with AddrFromDst or PortFromDst; both
	// go in the PROXY header of servers with SendProxy.
	Src, Dst netip.AddrPort
	// Payload is sent right after the PROXY header, in the same write:
	// the client's data read before the server was chosen. Nil means
	// none.
	Payload []byte
	// WriteTimeout bounds the write of the PROXY header and Payload; 0
	// means none.
	WriteTimeout time.Duration
	// Redirectable says the request may be redirected by the server
	// chosen (a GET or HEAD in mode http): with ServerConfig.Redir, Connect
	// returns errRedirect once the server is chosen, before any connection.
	Redirectable bool
	// Reuse, when set, is asked for an idle connection to the server
	// chosen before one is dialled (HTTP keep-alive): a connection it
	// returns is used as it is, with no PROXY header, and Tc is 0.
	Reuse func(*Server) net.Conn
	// Retried is the number of attempts already retried for the request
	// (a "retry-on" response retry): they count in %rc and against
	// "retries".
	Retried int
	// Avoid, when set with Server nil, is a server the balancing should
	// not choose (a "retry-on" retry redispatched).
	Avoid *Server
	// HeaderIP, when set, returns the address in occurrence occ of the
	// request's header name, for a Source with SourceHeader (mode http).
	HeaderIP func(name string, occ int) (netip.Addr, bool)
}

// ConnectResult is what Backend.Connect learnt, for the log ("option
// tcplog" fields).
type ConnectResult struct {
	// Server is the server last chosen (%s), nil when none was. It is the
	// server the Conn holds a slot on, except after a failed redispatch,
	// which left the Conn with no slot.
	Server *Server
	// Tw is the time spent waiting in a queue (0 when not queued), Tc the
	// time to connect; -1 when never reached, as HAProxy prints them.
	Tw, Tc time.Duration
	// Retries is the number of failed attempts retried (%rc), and
	// Redispatched says a retry went to another server ("+" before %rc).
	Retries      int
	Redispatched bool
	// SrvQueue and BackendQueue are the queue lengths seen when queued
	// (%sq, %bq).
	SrvQueue, BackendQueue int
	// On failure, Term is the termination letter (0 when the Conn was
	// killed: the killer recorded its own) and Phase the phase: 'Q'
	// queue, 'C' connect.
	Term, Phase byte
	// Local and Remote are the local and remote addresses of the server
	// connection (%bi:%bp, %si:%sp). After a failed attempt Remote is the
	// address tried and Local is invalid; both are invalid when no server
	// was chosen or the server is a unix socket.
	Local, Remote netip.AddrPort
}

// Connect acquires a server of b for c (the one req names, or a balanced
// one), waiting in a queue when every candidate is full, up to "timeout
// queue", and connects to it: each attempt bounded by "timeout connect",
// up to "retries" more attempts, a refused attempt retried after the
// turn-around wait, and with "option redispatch" a retry sent to another
// server. It then writes the server's PROXY header and req.Payload.
//
// On success it returns the server connection, published in c: a kill of
// c sets a past deadline on it and End closes it, unless the caller takes
// it back with DetachServerConn. Whether it succeeded or not, the slot
// c may hold on a server (c.Server) stays c's until ReleaseServer or End,
// so that the log can read the server's connection count first. A handler
// may call Connect once per request: a slot still held from the previous
// one is released first, and the previous server connection must have been
// taken back with DetachServerConn (or c ended).
//
// Connect blocks the calling goroutine for the queue wait and the dial;
// a kill of c ends a queue wait and a turn-around wait early.
func (b *Backend) Connect(c *Conn, req *ConnectRequest) (net.Conn, ConnectResult, error) {
	r := ConnectResult{Tw: -1, Tc: -1, Retries: req.Retried, Redispatched: req.Avoid != nil}
	c.ReleaseServer()
	// ShutdownOnDown and ShutdownSessions find the server's connections
	// through the engine.
	if b.eng.Load() == nil {
		b.eng.CompareAndSwap(nil, c.f.eng)
	}
	bc := &b.cfg
	if bc.Dispatch.IsValid() {
		return b.connectDispatch(c, req, r)
	}
	var srv *Server
	var qi queueInfo
	var err error
	if req.Server != nil {
		srv, qi, err = b.acquireServer(req.Server, c.killCh)
	} else {
		srv, qi, err = b.acquire(req.Key, c.killCh, req.Avoid)
	}
	r.SrvQueue, r.BackendQueue = qi.srvQueue, qi.beQueue
	if qi.queued {
		// From the queueing, not from here: the same to the
		// microsecond, and a server taken at once (nearly every
		// request) then reads no clock.
		r.Tw = time.Since(qi.at)
	} else {
		r.Tw = 0
	}
	if err != nil {
		switch {
		case errors.Is(err, errQueueTime):
			r.Phase, r.Term = 'Q', TermServerTimeout
		case errors.Is(err, errKilled):
			r.Phase = 'Q'
		default: // no server: HAProxy logs SC with <NOSRV>, counts econ
			r.Phase, r.Term = 'C', TermServerAbort
			b.noServer.Add(1)
		}
		return nil, r, err
	}
	c.srv.Store(srv)
	r.Server = srv
	if req.Redirectable && srv.cfg.Redir != "" {
		// HAProxy's http_perform_server_redirect: "LC" in the log.
		r.Phase, r.Term = 'C', 'L'
		return nil, r, errRedirect
	}

	if req.Reuse != nil {
		sc := req.Reuse(srv)
		if sc != nil && !srv.reusableFor(sc, req.Dst) {
			// An idle connection of a server at the client's
			// destination (0.0.0.0, set-dst) to another destination.
			_ = sc.Close()
			sc = nil
		}
		if sc != nil {
			srv.reuses.Add(1)
			srv.observe(hanaL4OK)
			r.Tc = 0
			r.Local, r.Remote = addrPort(sc.LocalAddr()), addrPort(sc.RemoteAddr())
			if !c.publishServerConn(sc) {
				r.Phase = 'C'
				return nil, r, errKilled
			}
			return sc, r, nil
		}
	}
	t1 := time.Now() // a reused connection needs no clock: its Tc is 0
	var sc net.Conn
	for attempt := req.Retried; ; attempt++ {
		s4 := srv.cfg.Socks4
		src := srv.source()
		if ap, ok := srv.directAddr(req.Dst); ok && !s4.IsValid() && src == nil {
			srv.connects.Add(1)
			sc, err = dialTCP(ap, bc.TimeoutConnect, serverSetup(bc, srv))
			r.Local, r.Remote = netip.AddrPort{}, ap
		} else {
			// No TCP keep-alive towards servers unless asked: HAProxy sets it
			// only with "option srvtcpka", and it costs setsockopt calls per
			// connection.
			d := net.Dialer{Timeout: bc.TimeoutConnect, KeepAlive: -1}
			if bc.ServerKeepAlive {
				// SO_KEEPALIVE with the system's timings, as HAProxy.
				d.KeepAliveConfig = bc.ServerKeepAliveTimings.dialer()
			}
			addr := srv.dialAddr(req.Dst)
			if src != nil && srv.cfg.Network != "unix" {
				if err := src.dialer(&d, req, addr); err != nil {
					r.Phase, r.Term = 'C', TermInternal
					return nil, r, err
				}
			}
			if ut := srv.cfg.UserTimeout; ut > 0 && srv.cfg.Network != "unix" {
				d.Control = userTimeoutControl(d.Control, ut)
			}
			srv.connects.Add(1)
			if s4.IsValid() {
				sc, err = d.Dial("tcp", s4.String())
			} else {
				sc, err = d.Dial(srv.cfg.Network, addr)
			}
			r.Local, r.Remote = netip.AddrPort{}, netip.AddrPort{}
			if srv.cfg.Network != "unix" {
				r.Remote, _ = netip.ParseAddrPort(addr)
			}
		}
		if err == nil && s4.IsValid() {
			// The handshake is part of the connection, within "timeout
			// connect"; the server is where the proxy connected.
			var deadline time.Time
			if bc.TimeoutConnect > 0 {
				deadline = t1.Add(bc.TimeoutConnect)
			}
			if c.publishServerConn(sc) {
				err = socks4.Connect(sc, r.Remote, deadline)
			} else {
				err = errKilled
			}
			if err != nil {
				c.DetachServerConn()
				_ = sc.Close()
				if errors.Is(err, errKilled) || c.aborted() {
					r.Phase = 'C'
					return nil, r, errKilled
				}
			} else {
				r.Local = addrPort(sc.LocalAddr())
			}
		}
		if err == nil {
			if !s4.IsValid() {
				r.Local, r.Remote = addrPort(sc.LocalAddr()), addrPort(sc.RemoteAddr())
			}
			if bc.NoLinger {
				if tc, ok := sc.(lingerer); ok {
					_ = tc.SetLinger(0)
				}
			}
			if srv.cfg.TLS == nil {
				srv.observe(hanaL4OK)
				break
			}
			if sc, err = srv.startTLS(c, sc, req, t1, bc.TimeoutConnect); err == nil {
				srv.observe(hanaL4OK)
				break
			}
			if errors.Is(err, errKilled) {
				r.Phase = 'C'
				return nil, r, err
			}
		}
		timeout := errors.Is(err, os.ErrDeadlineExceeded)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			timeout = true
		}
		// Out of descriptors or memory here (socket(2)), not refused by
		// the server: retried at once, then HAProxy's "RC".
		local := isResourceError(err)
		if !local && !c.aborted() {
			srv.observe(hanaL4Err)
		}
		if attempt >= bc.Retries || !bc.RetryOn.connFailure() || c.aborted() {
			// econ counts the requests that gave up, not each attempt,
			// as HAProxy's sess_update_st_cer.
			srv.failed.Add(1)
			r.Phase, r.Term = 'C', TermServerAbort
			if timeout {
				r.Term = TermServerTimeout
			} else if local {
				r.Term = TermResource
			}
			return nil, r, err
		}
		r.Retries++
		if bc.Redispatch && (req.Server == nil || req.Persist) &&
			(redispatchNow(attempt+1, bc.Retries, bc.RedispatchInterval) || b.redispatchAny(srv, req.Server != nil)) {
			c.ReleaseServer()
			old := srv
			srv, _, err = b.acquire(req.Key, c.killCh, old)
			if err != nil {
				r.Phase, r.Term = 'C', TermServerAbort
				if errors.Is(err, errNoServer) {
					b.noServer.Add(1)
				}
				return nil, r, err
			}
			b.countReassign(old, srv)
			c.srv.Store(srv)
			r.Server = srv
			r.Redispatched = true
			continue
		}
		b.countRetry(srv)
		if !timeout && !local {
			// HAProxy waits MIN(1s, timeout connect) before retrying a
			// refused connection on the same server, to avoid hammering
			// it (stream.c, "turn-around"); a failure of our own, for
			// want of descriptors or memory, is retried at once, as
			// HAProxy's back_try_conn_req does: waiting would hold the
			// client's descriptor when they are short.
			wait := time.Second
			if bc.TimeoutConnect > 0 && bc.TimeoutConnect < wait {
				wait = bc.TimeoutConnect
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-c.killCh:
				t.Stop()
			}
		}
	}
	r.Tc = time.Since(t1)
	if !c.publishServerConn(sc) {
		r.Phase = 'C'
		return nil, r, errKilled
	}

	// PROXY header out, then the payload, in one write (a TLS server had
	// its header before the handshake).
	var head []byte
	switch sp := srv.cfg.SendProxy; {
	case srv.cfg.TLS != nil:
	case sp == SendProxyV1:
		head = AppendProxyV1(head, req.Src, req.Dst)
	case sp == SendProxyV2:
		head = AppendProxyV2(head, req.Src, req.Dst)
	}
	if len(req.Payload) > 0 {
		if head == nil {
			head = req.Payload
		} else {
			head = append(head, req.Payload...)
		}
	}
	if len(head) > 0 {
		if t := req.WriteTimeout; t > 0 {
			_ = sc.SetWriteDeadline(time.Now().Add(t))
		}
		if _, err := sc.Write(head); err != nil {
			r.Phase, r.Term = 'C', TermServerAbort
			return nil, r, err
		}
		_ = sc.SetWriteDeadline(time.Time{})
	}
	return sc, r, nil
}

// connectDispatch is Connect for a backend with a dispatch address: no
// server is chosen (no queue, no slot, the logs say <NOSRV>), the attempts
// go to the address, with the backend's retries and source.
func (b *Backend) connectDispatch(c *Conn, req *ConnectRequest, r ConnectResult) (net.Conn, ConnectResult, error) {
	bc := &b.cfg
	r.Tw = 0
	addr := bc.Dispatch.String()
	t1 := time.Now()
	for attempt := req.Retried; ; attempt++ {
		d := net.Dialer{Timeout: bc.TimeoutConnect, KeepAlive: -1}
		if bc.ServerKeepAlive {
			d.KeepAliveConfig = bc.ServerKeepAliveTimings.dialer()
		}
		if bc.Source != nil {
			if err := bc.Source.dialer(&d, req, addr); err != nil {
				r.Phase, r.Term = 'C', TermInternal
				return nil, r, err
			}
		}
		b.connects.Add(1)
		sc, err := d.Dial("tcp", addr)
		r.Local, r.Remote = netip.AddrPort{}, bc.Dispatch
		if err == nil {
			r.Local, r.Remote = addrPort(sc.LocalAddr()), addrPort(sc.RemoteAddr())
			r.Tc = time.Since(t1)
			if bc.NoLinger {
				if tc, ok := sc.(*net.TCPConn); ok {
					_ = tc.SetLinger(0)
				}
			}
			if !c.publishServerConn(sc) {
				r.Phase = 'C'
				return nil, r, errKilled
			}
			if len(req.Payload) > 0 {
				if t := req.WriteTimeout; t > 0 {
					_ = sc.SetWriteDeadline(time.Now().Add(t))
				}
				if _, err := sc.Write(req.Payload); err != nil {
					r.Phase, r.Term = 'C', TermServerAbort
					return nil, r, err
				}
				_ = sc.SetWriteDeadline(time.Time{})
			}
			return sc, r, nil
		}
		var ne net.Error
		timeout := errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
		if attempt >= bc.Retries || !bc.RetryOn.connFailure() || c.aborted() {
			r.Phase, r.Term = 'C', TermServerAbort
			if timeout {
				r.Term = TermServerTimeout
			}
			return nil, r, err
		}
		r.Retries++
		b.countRetry(nil)
		if !timeout {
			wait := time.Second
			if bc.TimeoutConnect > 0 && bc.TimeoutConnect < wait {
				wait = bc.TimeoutConnect
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-c.killCh:
				t.Stop()
			}
		}
	}
}

// redispatchNow reports whether retry number n (1-based) of retries goes to
// another server under "option redispatch <interval>".
func redispatchNow(n, retries, interval int) bool {
	if interval == 0 {
		interval = -1
	}
	if interval > 0 {
		return n%interval == 0
	}
	return n == retries+1+interval
}

// startTLS originates TLS on sc, just connected to srv for c: the PROXY
// header first, in clear, then the handshake with srv's configuration and
// the server name its SNI expression gives, bounded by the rest of the
// connect timeout counted from t1. sc is published in c meanwhile, so a
// kill ends the handshake. On failure sc is closed and unpublished.
func (srv *Server) startTLS(c *Conn, sc net.Conn, req *ConnectRequest, t1 time.Time, timeout time.Duration) (net.Conn, error) {
	if !c.publishServerConn(sc) {
		return nil, errKilled
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = t1.Add(timeout)
	}
	var head []byte
	switch srv.cfg.SendProxy {
	case SendProxyV1:
		head = AppendProxyV1(head, req.Src, req.Dst)
	case SendProxyV2:
		head = AppendProxyV2(head, req.Src, req.Dst)
	}
	var err error
	if len(head) > 0 {
		_ = sc.SetWriteDeadline(deadline)
		_, err = sc.Write(head)
	}
	var tc net.Conn
	if err == nil {
		sni := ""
		if srv.cfg.SNI != nil {
			sni = srv.cfg.SNI(c)
		}
		tc, err = clientTLS(sc, srv.cfg.TLS, sni, deadline)
	}
	if err != nil {
		c.DetachServerConn()
		_ = sc.Close()
		if c.aborted() {
			return nil, errKilled
		}
		return nil, err
	}
	return tc, nil
}

// redispatchAny reports whether a failed connection may go to another server at any retry,
// whatever "option redispatch <interval>" says: HAProxy 2.6 (sess_update_st_cer) redispatches
// at once when the stream is not bound to its server (no persistence, no use-server), the
// backend has more than one usable active server and its algorithm is not a hash (the
// server was only a turn of the balancing, not a choice), or when the server is not running.
func (b *Backend) redispatchAny(srv *Server, bound bool) bool {
	if srv != nil && srv.State() == StateDown {
		return true
	}
	if bound || balance.IsHash(b.cfg.Balance) {
		return false
	}
	active, _ := b.UsableServers()
	return active > 1
}

// lingerer is a connection whose close may reset it (net.TCPConn, tcpConn).
type lingerer interface{ SetLinger(sec int) error }

// directAddr is the address a connection to s goes to when dialTCP can dial
// it: an IP address and a port, no host name, socket path or zone.
func (s *Server) directAddr(dst netip.AddrPort) (netip.AddrPort, bool) {
	nw := s.cfg.Network
	if nw != "tcp" && nw != "tcp4" && nw != "tcp6" {
		return netip.AddrPort{}, false
	}
	a := s.addr.Load()
	if !a.ip.IsValid() || a.port == 0 && !a.portFromDst {
		return netip.AddrPort{}, false
	}
	ap := s.fastAddr(dst)
	ip := ap.Addr()
	if nw != "tcp6" {
		ip = ip.Unmap()
	}
	if ip.Zone() != "" || nw == "tcp4" && !ip.Is4() || nw == "tcp6" && ip.Is4() {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip, ap.Port()), true
}

// serverSetup is what dialTCP sets on a socket to srv before it connects:
// SO_KEEPALIVE and its timings with "option srvtcpka", TCP_USER_TIMEOUT
// with "tcp-ut"; nil for nothing.
func serverSetup(bc *BackendConfig, srv *Server) func(fd int) {
	ka, ut := bc.ServerKeepAlive, srv.cfg.UserTimeout
	if !ka && ut <= 0 {
		return nil
	}
	t := bc.ServerKeepAliveTimings
	return func(fd int) {
		if ka {
			_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
			t.apply(fd)
		}
		if ut > 0 {
			setUserTimeout(fd, ut)
		}
	}
}
