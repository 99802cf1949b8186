package proxy

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"lb/internal/balance"
	"lb/internal/rules"
)

// Termination letters (HAProxy configuration manual §8.5).
const (
	termClientAbort   = 'C'
	termServerAbort   = 'S'
	termClientTimeout = 'c'
	termServerTimeout = 's'
	termProxy         = 'P'
	termKilled        = 'K'
	termDown          = 'D'
)

// side is one end of a session: the client or the server connection.
type side struct {
	c net.Conn
	// timeout and fin are the inactivity timeouts before and after
	// either direction is shut (0: none).
	timeout, fin time.Duration
	// last is the UnixNano time of the last read or write on this side:
	// writing to a side refreshes its read timeout too, as HAProxy does
	// without "option independent-streams".
	last atomic.Int64
	// timeoutCode is the termination letter when this side times out.
	timeoutCode, abortCode byte
	// rdhup is set when the FIN watcher (finwatch_linux.go) saw the
	// peer shut its side; watchID (0: not watched) and watchFD are owned
	// by the copier reading this side.
	rdhup   atomic.Bool
	watchID uint64
	watchFD int
}

func (sd *side) touch() { sd.last.Store(time.Now().UnixNano()) }

// session is one proxied connection.
type session struct {
	f      *Frontend
	bind   *Binding
	accept time.Time
	cli    side
	srvs   side // server side; srvs.c is nil until connected

	srv    atomic.Pointer[Server]
	tunnel time.Duration

	// mu guards srvs.c's publication against kill.
	mu     sync.Mutex
	killCh chan struct{}
	// term is the first termination letter recorded; 0 while normal.
	term atomic.Uint32
	// dead is set with killCh closed, for cheap checks in copy loops.
	dead     atomic.Bool
	halfShut atomic.Bool
	once     sync.Once

	// Set by setup, read by finish after the copiers are done.
	rec      LogRecord
	phase    byte
	be       *Backend
	up, down int64 // bytes client to server, server to client
	running  atomic.Int32
	ended    atomic.Bool // finish has started: nothing left to kill

	// Rules (rules.go): the stream the rules read, the data read while
	// inspecting the request and the response, which go out first. All
	// three live during set-up only. silent drops the log line of a
	// connection refused by tcp-request connection or session rules.
	st       *rules.Stream
	req, res []byte
	silent   bool

	// Idle parking (idle_linux.go): set before parked turns true.
	parked    atomic.Bool
	parkID    uint64
	parkFDs   [2]int
	parkTimer *time.Timer
}

func newSession(f *Frontend, b *Binding, c net.Conn) *session {
	s := &session{f: f, bind: b, accept: time.Now(), killCh: make(chan struct{})}
	s.cli.c = c
	s.cli.timeout, s.cli.fin = f.cfg.TimeoutClient, f.cfg.TimeoutClientFin
	s.cli.timeoutCode, s.cli.abortCode = termClientTimeout, termClientAbort
	s.srvs.timeoutCode, s.srvs.abortCode = termServerTimeout, termServerAbort
	return s
}

// setTerm records the session's termination letter if none is yet and
// reports whether it did.
func (s *session) setTerm(code byte) bool {
	return s.term.CompareAndSwap(0, uint32(code))
}

// kill ends the session from outside with termination letter code.
func (s *session) kill(code byte) {
	s.setTerm(code)
	s.abort()
}

// abort wakes both copiers (and a queued wait) so the session ends.
func (s *session) abort() {
	s.dead.Store(true)
	s.once.Do(func() { close(s.killCh) })
	past := time.Unix(1, 0)
	s.mu.Lock()
	_ = s.cli.c.SetDeadline(past)
	if s.srvs.c != nil {
		_ = s.srvs.c.SetDeadline(past)
	}
	s.mu.Unlock()
	s.unpark()
}

func (s *session) aborted() bool {
	select {
	case <-s.killCh:
		return true
	default:
		return false
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	return netip.AddrPort{}
}

// serve runs the session's set-up (PROXY header, backend, queue,
// connect) on the accepting goroutine, then hands the copy to two fresh
// goroutines and returns: the set-up's deep stack (dialling) is freed
// instead of staying pinned by an idle connection.
func (s *session) serve() {
	f := s.f
	f.cur.Add(1)
	f.total.Add(1)
	s.rec = LogRecord{Accept: s.accept, Frontend: f.cfg.Name, Bind: s.bind.cfg.Name,
		Backend: f.cfg.Name, Server: "<NOSRV>", Tw: -1, Tc: -1, Termination: "--"}
	s.phase = '-'
	if !s.setup() {
		s.finish()
		return
	}
	now := time.Now().UnixNano()
	s.cli.last.Store(now)
	s.srvs.last.Store(now)
	_ = s.cli.c.SetReadDeadline(s.deadlineFor(&s.cli))
	_ = s.srvs.c.SetReadDeadline(s.deadlineFor(&s.srvs))
	if !s.tryPark() {
		s.startCopiers()
	}
}

// startCopiers runs the two directions on their own goroutines; the last
// one to end finishes the session.
func (s *session) startCopiers() {
	s.running.Store(2)
	go s.copyUp()
	go s.copyDown()
}

// copyUp copies client to server; named for stack dumps.
func (s *session) copyUp() {
	s.up += s.copyDir(&s.cli, &s.srvs)
	if s.running.Add(-1) == 0 {
		s.finish()
	}
}

// copyDown copies server to client; named for stack dumps.
func (s *session) copyDown() {
	s.down = s.copyDir(&s.srvs, &s.cli)
	if s.running.Add(-1) == 0 {
		s.finish()
	}
}

// finish closes the connections, accounts and logs the session.
func (s *session) finish() {
	s.ended.Store(true)
	f, e := s.f, s.f.eng
	rec, be, srv := &s.rec, s.be, s.srv.Load()
	up, down := s.up, s.down
	s.mu.Lock()
	sc := s.srvs.c
	s.mu.Unlock()
	if sc != nil {
		_ = sc.Close()
	}
	_ = s.cli.c.Close()
	if t := byte(s.term.Load()); t != 0 {
		if s.phase == '-' {
			s.phase = 'D'
		}
		rec.Termination = string([]byte{t, s.phase})
	}
	rec.Tt = time.Since(s.accept)
	rec.BytesRead, rec.BytesUploaded = down, up
	f.bytesIn.Add(uint64(up))
	f.bytesOut.Add(uint64(down))
	rec.ActConn, rec.FeConn = int(e.actconn.Load()), int(f.cur.Load())
	if be != nil {
		be.bytesIn.Add(uint64(up))
		be.bytesOut.Add(uint64(down))
		rec.BeConn = int(be.cur.Load())
	}
	if srv != nil {
		srv.bytesIn.Add(uint64(up))
		srv.bytesOut.Add(uint64(down))
		srv.be.mu.Lock()
		rec.SrvConn = srv.cur
		srv.be.mu.Unlock()
	}
	if f.cfg.Log != nil && !s.silent {
		f.cfg.Log(rec)
	}
	if srv != nil {
		srv.be.release(srv)
	}
	if be != nil {
		be.cur.Add(-1)
	}
	f.cur.Add(-1)
	e.remove(s)
	releaseSem(f.sem)
	releaseSem(e.sem)
}

// setup runs the rules, reads the PROXY header, chooses the backend and
// server (waiting in a queue if needed) and connects, with retries. It
// reports whether the session may start copying.
func (s *session) setup() bool {
	defer s.releaseRules()
	f := s.f
	rec := &s.rec
	info := ConnInfo{Client: addrPort(s.cli.c.RemoteAddr()), Local: addrPort(s.cli.c.LocalAddr()), Bind: s.bind.cfg.Name}
	fr := f.cfg.Rules
	if fr != nil {
		s.st = streamPool.Get().(*rules.Stream)
		st := s.st
		st.Src, st.Dst, st.BindName, st.Frontend = info.Client, info.Local, s.bind.cfg.Name, f
		if fr.TCPConnection(st) == rules.Reject {
			f.deniedConn.Add(1)
			s.silent = true
			return false
		}
	}
	if s.bind.cfg.AcceptProxy || (s.st != nil && s.st.ExpectProxy) {
		if t := f.cfg.TimeoutClient; t > 0 {
			_ = s.cli.c.SetReadDeadline(time.Now().Add(t))
		}
		h, rest, err := ReadProxyHeader(s.cli.c)
		s.phase = 'R'
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && !s.aborted() {
				s.setTerm(termClientTimeout)
			} else {
				s.setTerm(termClientAbort)
			}
			rec.Client = info.Client
			f.log.Debug("accept-proxy", "frontend", f.cfg.Name, "client", info.Client, "error", err)
			return false
		}
		_ = s.cli.c.SetReadDeadline(time.Time{})
		if !h.Local {
			info.Client, info.Local = h.Src, h.Dst
		}
		if len(rest) > 0 {
			s.req = append(getBuf(), rest...)
		}
	}
	rec.Client = info.Client

	var be *Backend
	if fr != nil {
		st := s.st
		st.Src, st.Dst = info.Client, info.Local
		if fr.TCPSession(st) == rules.Reject {
			f.deniedSess.Add(1)
			s.silent = true
			return false
		}
		if fr.NeedsContent() {
			if !s.contentRules(fr, nil) {
				return false
			}
		}
		be = s.switchBackend(fr)
		info.Local = st.Dst
	}
	if be == nil {
		be = f.cfg.Backend(&info)
	}
	if be == nil {
		s.phase = 'R'
		s.setTerm(termProxy)
		return false
	}
	s.be = be
	be.eng.CompareAndSwap(nil, f.eng)
	be.cur.Add(1)
	be.total.Add(1)
	rec.Backend = be.cfg.Name
	bc := &be.cfg
	s.srvs.timeout, s.srvs.fin, s.tunnel = bc.TimeoutServer, bc.TimeoutServerFin, bc.TimeoutTunnel

	var forced *Server
	if br := be.rules; br != nil {
		if s.st == nil {
			s.st = streamPool.Get().(*rules.Stream)
			st := s.st
			st.Src, st.Dst, st.BindName, st.Frontend = info.Client, info.Local, s.bind.cfg.Name, f
		}
		s.st.Backend = &be.view
		if br != fr && br.NeedsContent() {
			if !s.contentRules(br, be) {
				return false
			}
			info.Local = s.st.Dst
		}
		forced = s.useServer(br, be)
	}

	var key uint64
	if info.Client.IsValid() {
		key = balance.HashAddr(info.Client.Addr())
	}
	t0 := time.Now()
	var srv *Server
	var qi queueInfo
	var err error
	if forced != nil {
		srv, qi, err = be.acquireServer(forced, s.killCh)
	} else {
		srv, qi, err = be.acquire(key, s.killCh, nil)
	}
	rec.SrvQueue, rec.BackendQueue = qi.srvQueue, qi.beQueue
	if qi.queued {
		rec.Tw = time.Since(t0)
	} else {
		rec.Tw = 0
	}
	if err != nil {
		switch {
		case errors.Is(err, errQueueTime):
			s.phase = 'Q'
			s.setTerm(termServerTimeout)
		case errors.Is(err, errKilled):
			s.phase = 'Q'
		default: // no server: HAProxy logs SC with <NOSRV>
			s.phase = 'C'
			s.setTerm(termServerAbort)
		}
		return false
	}
	s.srv.Store(srv)
	rec.Server = srv.cfg.Name

	// Connect, with retries and redispatch.
	t1 := time.Now()
	var sc net.Conn
	for attempt := 0; ; attempt++ {
		// No TCP keep-alive towards servers: HAProxy sets it only with
		// "option srvtcpka", and it costs setsockopt calls per connection.
		d := net.Dialer{Timeout: bc.TimeoutConnect, KeepAlive: -1}
		sc, err = d.Dial(srv.cfg.Network, srv.dialAddr(info.Local))
		if err == nil {
			break
		}
		srv.failed.Add(1)
		timeout := errors.Is(err, os.ErrDeadlineExceeded)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			timeout = true
		}
		if attempt >= bc.Retries || s.aborted() {
			s.phase = 'C'
			if timeout {
				s.setTerm(termServerTimeout)
			} else {
				s.setTerm(termServerAbort)
			}
			rec.Tc = -1
			return false
		}
		rec.Retries++
		if bc.Redispatch && forced == nil && redispatchNow(attempt+1, bc.Retries, bc.RedispatchInterval) {
			be.release(srv)
			s.srv.Store(nil)
			old := srv
			srv, _, err = be.acquire(key, s.killCh, old)
			if err != nil {
				srv = nil
				s.phase = 'C'
				s.setTerm(termServerAbort)
				return false
			}
			s.srv.Store(srv)
			rec.Server = srv.cfg.Name
			rec.Redispatch = true
			continue
		}
		if !timeout {
			// HAProxy waits MIN(1s, timeout connect) before retrying a
			// refused connection on the same server, to avoid hammering
			// it (stream.c, "turn-around").
			wait := time.Second
			if bc.TimeoutConnect > 0 && bc.TimeoutConnect < wait {
				wait = bc.TimeoutConnect
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-s.killCh:
				t.Stop()
			}
		}
	}
	rec.Tc = time.Since(t1)
	s.mu.Lock()
	s.srvs.c = sc
	killed := s.aborted()
	s.mu.Unlock()
	if killed {
		s.phase = 'C'
		return false
	}

	// PROXY header out, then any payload read with the PROXY header in or
	// while inspecting.
	var head []byte
	switch srv.cfg.SendProxy {
	case SendProxyV1:
		head = AppendProxyV1(head, info.Client, info.Local)
	case SendProxyV2:
		head = AppendProxyV2(head, info.Client, info.Local)
	}
	if len(s.req) > 0 {
		if head == nil {
			head = s.req
		} else {
			head = append(head, s.req...)
		}
	}
	if len(head) > 0 {
		if t := s.timeoutFor(&s.srvs); t > 0 {
			_ = sc.SetWriteDeadline(time.Now().Add(t))
		}
		if _, err := sc.Write(head); err != nil {
			s.phase = 'C'
			s.setTerm(termServerAbort)
			return false
		}
		_ = sc.SetWriteDeadline(time.Time{})
		s.up += int64(len(s.req))
	}
	if br := be.rules; br != nil && br.NeedsResponse() {
		return s.responseRules(br, be)
	}
	return true
}

// contentRules runs the tcp-request content rules of r (the frontend's
// when be is nil, else backend be's) and reports whether the session goes
// on.
func (s *session) contentRules(r *rules.Proxy, be *Backend) bool {
	k := inspectFrontend
	if be != nil {
		k = inspectBackend
	}
	v, ok := s.inspect(r, k, r.InspectDelay)
	if !ok {
		s.phase = 'R'
		return false
	}
	switch v {
	case rules.Reject:
		s.f.deniedReq.Add(1)
		if be != nil {
			be.deniedReq.Add(1)
		}
		s.phase = 'R'
		s.setTerm(termProxy)
		return false
	case rules.Close:
		// "close": end the connection quietly, nothing was forwarded.
		s.phase = 'R'
		s.setTerm(termProxy)
		return false
	}
	return true
}

// switchBackend evaluates the frontend's use_backend rules on the data read
// so far, as final data (HAProxy evaluates switching rules with
// SMP_OPT_FINAL: they never wait). It returns nil when none matched.
func (s *session) switchBackend(fr *rules.Proxy) *Backend {
	st := s.st
	if fr.NeedsContent() && !st.ReqFinal {
		s.readAvailable(&s.cli, &s.req)
		st.Req = s.req
	}
	final := st.ReqFinal
	st.ReqFinal = true
	rb, ok, _ := fr.UseBackend(st)
	st.ReqFinal = final
	if !ok || rb == nil {
		return nil
	}
	return BackendOf(rb)
}

// useServer evaluates backend be's use-server rules and returns the
// server they name. The rules have checked its state: a server that is
// down is named only under force-persist or "option persist".
func (s *session) useServer(r *rules.Proxy, be *Backend) *Server {
	name, _ := r.UseServer(s.st)
	if name == "" {
		return nil
	}
	return be.Server(name)
}

// responseRules runs backend be's tcp-response content rules on the
// server's first data, then sends what was read to the client. It reports
// whether the session goes on copying.
func (s *session) responseRules(r *rules.Proxy, be *Backend) bool {
	v, ok := s.inspect(r, inspectResponse, r.ResponseInspectDelay)
	if !ok {
		s.phase = 'D'
		return false
	}
	if v == rules.Reject {
		// HAProxy counts what it read from the server (%B) though the
		// client gets none of it.
		s.down += int64(len(s.res))
		be.deniedResp.Add(1)
		s.phase = 'D'
		s.setTerm(termProxy)
		return false
	}
	if len(s.res) > 0 {
		if t := s.timeoutFor(&s.cli); t > 0 {
			_ = s.cli.c.SetWriteDeadline(time.Now().Add(t))
		}
		n, err := s.cli.c.Write(s.res)
		s.down += int64(n)
		if err != nil {
			s.phase = 'D'
			s.setTerm(termClientAbort)
			return false
		}
		_ = s.cli.c.SetWriteDeadline(time.Time{})
	}
	// "close": the exchange is over once the response so far is out.
	return v != rules.Close
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

// timeoutFor returns the inactivity timeout currently in force on sd.
func (s *session) timeoutFor(sd *side) time.Duration {
	if s.halfShut.Load() && sd.fin > 0 {
		return sd.fin
	}
	if s.tunnel > 0 {
		return s.tunnel
	}
	return sd.timeout
}

// deadlineFor returns when sd expires given its last activity, or the zero
// time when no timeout applies. Under timeout tunnel the session expires
// only when both sides are idle.
func (s *session) deadlineFor(sd *side) time.Time {
	t := s.timeoutFor(sd)
	if t <= 0 {
		return time.Time{}
	}
	last := sd.last.Load()
	if s.tunnel > 0 && !(s.halfShut.Load() && sd.fin > 0) {
		last = max(s.cli.last.Load(), s.srvs.last.Load())
	}
	return time.Unix(0, last).Add(t)
}

// expired reports whether sd has been idle past its timeout; when not, it
// returns the deadline to wait for next.
func (s *session) expired(sd *side) (bool, time.Time) {
	dl := s.deadlineFor(sd)
	if dl.IsZero() {
		return false, dl
	}
	return !time.Now().Before(dl), dl
}

// forwardFIN passes an end of stream on to dst and switches the session to
// its fin timeouts. When the other direction already ended, dst has shut
// its side and the session is about to close both sockets: the close sends
// the FIN, and the shutdown(2) call is saved.
func (s *session) forwardFIN(dst net.Conn) {
	if !s.halfShut.Load() {
		closeWrite(dst)
	}
	s.shutOne()
}

// shutOne is called when a direction ended cleanly (FIN forwarded): the fin
// timeouts take over for what remains.
func (s *session) shutOne() {
	if s.halfShut.Swap(true) || s.dead.Load() {
		// Once aborted, the past deadlines must stay.
		return
	}
	if s.cli.fin > 0 || s.srvs.fin > 0 {
		for _, sd := range []*side{&s.cli, &s.srvs} {
			_ = sd.c.SetReadDeadline(s.deadlineFor(sd))
			// This may have overwritten the FIN watcher's poke: the
			// flag is set before the poke, so poke again.
			if sd.rdhup.Load() {
				poke(sd.c)
			}
		}
	}
}

// fail records an abnormal end of a direction and stops the other one.
func (s *session) fail(code byte) {
	s.setTerm(code)
	s.abort()
}

// errClass maps a copy error on sd to its termination letter: a deadline
// we did not set ourselves to abort is a timeout.
func (s *session) errClass(sd *side, err error) byte {
	if s.aborted() {
		return 0
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return sd.timeoutCode
	}
	return sd.abortCode
}
