package proxy

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"lb/internal/balance"
	"lb/internal/rules"
)

// session is the TCP handler's state for one connection: the client and
// server sides, the log record, and what the rules read.
type session struct {
	c    *Conn
	f    *Frontend
	cli  Side
	srvs Side // server side; srvs.Conn is nil until connected

	tunnel   time.Duration
	halfShut atomic.Bool

	// Set by setup, read by finish after the copiers are done.
	tally
	running atomic.Int32

	// res is the server's data read while inspecting the response
	// (rules.go), sent to the client first; it lives during set-up only.
	res []byte
}

func newSession(c *Conn) *session {
	f := c.f
	s := &session{c: c, f: f}
	s.cli.Conn = c.c
	s.cli.Timeout, s.cli.FinTimeout = f.cfg.TimeoutClient, f.cfg.TimeoutClientFin
	s.cli.TimeoutCode, s.cli.AbortCode = TermClientTimeout, TermClientAbort
	s.srvs.TimeoutCode, s.srvs.AbortCode = TermServerTimeout, TermServerAbort
	return s
}

// setTerm records the session's termination letter if none is yet and
// reports whether it did.
func (s *session) setTerm(code byte) bool { return s.c.SetTerm(code) }

func (s *session) aborted() bool { return s.c.aborted() }

// serve runs the session's set-up (backend, queue, connect) on the set-up
// worker, then hands the copy to two fresh goroutines and returns: the
// set-up's deep stack (dialling) is freed instead of staying pinned by an
// idle connection.
func (s *session) serve() {
	s.lg = setupLog{tw: -1, tc: -1}
	s.phase = '-'
	if !s.setup() {
		s.finish()
		return
	}
	now := time.Now().UnixNano()
	s.cli.last.Store(now)
	s.srvs.last.Store(now)
	_ = s.cli.Conn.SetReadDeadline(s.Deadline(&s.cli))
	_ = s.srvs.Conn.SetReadDeadline(s.Deadline(&s.srvs))
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
	n, _ := Copy(s, &s.cli, &s.srvs, 0)
	s.up += n
	if s.running.Add(-1) == 0 {
		s.finish()
	}
}

// copyDown copies server to client; named for stack dumps.
func (s *session) copyDown() {
	s.down, _ = Copy(s, &s.srvs, &s.cli, 0)
	if s.running.Add(-1) == 0 {
		s.finish()
	}
}

// setupLog is what set-up learnt for the log line: the server tried, the
// timers, retries and queues, the server connection's addresses.
type setupLog struct {
	server                  *Server
	tw, tc                  time.Duration
	retries                 int32
	srvQueue, beQueue       int32
	redispatch              bool
	serverLocal, serverAddr netip.AddrPort
}

// logPool recycles the records finish hands to FrontendConfig.Log.
var logPool = sync.Pool{New: func() any { return new(LogRecord) }}

// tally is what a TCP session learnt for its counters and log line, shared
// by the goroutine session and the event loop's (reactor_linux.go). The log
// record itself is built at the end: an idle session does not hold one.
type tally struct {
	lg       setupLog
	phase    byte
	be       *Backend
	up, down int64 // bytes client to server, server to client
}

// termPhase is the second letter of the termination state of a session
// that did not end normally: the phase set-up failed in, else D (data).
func (t *tally) termPhase() byte {
	if t.phase == '-' {
		return 'D'
	}
	return t.phase
}

func (s *session) finish() { s.tally.finish(s.c, s.srvs.Conn != nil) }

// finish accounts and logs the session of c, closes its connections and
// ends c; connected says a server connection was established.
func (t *tally) finish(c *Conn, connected bool) {
	f, e := c.f, c.f.eng
	be, srv := t.be, c.srv.Load()
	up, down := t.up, t.down
	if c.st != nil && c.st.Tracking() {
		c.st.AddBytes(up, down)
	}
	f.bytesIn.Add(uint64(up))
	f.bytesOut.Add(uint64(down))
	if be != nil {
		be.bytesIn.Add(uint64(up))
		be.bytesOut.Add(uint64(down))
	}
	if srv != nil {
		srv.bytesIn.Add(uint64(up))
		srv.bytesOut.Add(uint64(down))
	}
	if code := c.Term(); code != 0 && be != nil {
		be.countAbort(srv, code, t.termPhase())
	}
	if connected && be != nil {
		// The time averages: in mode tcp the response time is 0 (HAProxy
		// takes the data as starting when the connection is made).
		tt := time.Since(c.accept)
		be.times.add(t.lg.tw, t.lg.tc, 0, tt)
		if srv != nil {
			srv.times.add(t.lg.tw, t.lg.tc, 0, tt)
		}
	}
	// HAProxy logs once the session has left its server and backend but
	// not yet the frontend: %ac and %fc count it, %bc and %sc do not.
	c.ReleaseServer()
	if be != nil {
		be.cur.Add(-1)
	}
	if f.cfg.Log != nil {
		rec := logPool.Get().(*LogRecord)
		t.fillLog(c, rec, connected)
		rec.Stream = c.logStream(be)
		rec.ActConn, rec.FeConn = int(e.actconn.Load()), int(f.cur.Load())
		if be != nil {
			rec.BeConn = int(be.cur.Load())
		}
		if srv != nil {
			srv.be.mu.Lock()
			rec.SrvConn = srv.cur
			srv.be.mu.Unlock()
		}
		f.cfg.Log(rec)
		*rec = LogRecord{}
		logPool.Put(rec)
	}
	// Closed after the log line, as HAProxy logs before it closes: a
	// client that reconnects at once is not counted in its predecessor's
	// %ac/%fc.
	c.closeConns()
	c.End()
}

// fillLog fills rec with what the session learnt, its times, bytes and
// termination state; the caller adds the connection counts.
func (t *tally) fillLog(c *Conn, rec *LogRecord, connected bool) {
	*rec = c.newLogRecord()
	lg := &t.lg
	if t.be != nil {
		rec.Backend = t.be.cfg.Name
	}
	if lg.server != nil {
		rec.Server = lg.server.cfg.Name
	}
	rec.Tw, rec.Tc, rec.Retries, rec.Redispatch = lg.tw, lg.tc, int(lg.retries), lg.redispatch
	rec.SrvQueue, rec.BackendQueue = int(lg.srvQueue), int(lg.beQueue)
	rec.ServerLocal, rec.ServerAddr = lg.serverLocal, lg.serverAddr
	if code := c.Term(); code != 0 {
		phase := t.termPhase()
		if phase == 'D' && (code == TermKilled || code == TermDown || code == TermUp) {
			// Killed while the data flowed ("shutdown sessions", a hard
			// stop, on-marked-down/up): HAProxy's stream_shutdown sets no
			// final state, and it logs "K-", "D-", "U-" (measured).
			phase = '-'
		}
		rec.Termination = string([]byte{code, phase})
	}
	rec.Tt = time.Since(c.accept)
	if connected {
		rec.Td = max(rec.Tt-rec.Th-max(rec.Tw, 0)-max(rec.Tc, 0), 0)
	}
	rec.BytesRead, rec.BytesUploaded = t.down, t.up
}

// setup runs the content and switching rules, chooses the backend and
// server (waiting in a queue if needed) and connects, with retries. It
// reports whether the session may start copying.
func (s *session) setup() bool {
	defer s.releaseRules()
	f, c := s.f, s.c
	info := ConnInfo{Client: c.client, Local: c.local, Bind: c.bind.cfg.Name}
	fr := f.cfg.Rules

	var be *Backend
	if fr != nil {
		st := c.st
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
		s.setTerm(TermProxy)
		return false
	}
	s.be = be
	raiseMax(&be.maxCur, be.cur.Add(1))
	be.total.Add(1)
	bc := &be.cfg
	s.srvs.Timeout, s.srvs.FinTimeout, s.tunnel = bc.TimeoutServer, bc.TimeoutServerFin, bc.TimeoutTunnel

	var forced *Server
	if br := be.rules; br != nil {
		if c.st == nil {
			c.newStream()
		}
		c.st.Backend = &be.view
		if br != fr && br.NeedsContent() {
			if !s.contentRules(br, be) {
				return false
			}
			info.Local = c.st.Dst
		}
		forced = s.useServer(br, be)
	}
	persist := false
	if br := be.rules; br != nil && br.HasStickRules() {
		if srv := be.stickServer(br, c.st, forced != nil, false); srv != nil {
			forced, persist = srv, true
		}
	}

	req := ConnectRequest{Server: forced, Persist: persist, Src: info.Client, Dst: info.Local, Payload: c.req}
	if info.Client.IsValid() {
		req.Key = balance.HashAddr(info.Client.Addr())
	}
	req.WriteTimeout = s.Timeout(&s.srvs)
	sc, r, err := be.Connect(c, &req)
	lg := &s.lg
	lg.tw, lg.tc, lg.retries, lg.redispatch = r.Tw, r.Tc, int32(r.Retries), r.Redispatched
	lg.srvQueue, lg.beQueue = int32(r.SrvQueue), int32(r.BackendQueue)
	lg.serverLocal, lg.serverAddr = r.Local, r.Remote
	lg.server = r.Server
	if err != nil {
		s.phase = r.Phase
		if r.Term != 0 {
			s.setTerm(r.Term)
		}
		return false
	}
	s.srvs.Conn = sc
	s.up += int64(len(c.req))
	if br := be.rules; br != nil && br.HasStickRules() && r.Server != nil {
		// The stick rules store the server once it is connected: no
		// response data is read before (a store-response key must not
		// need any).
		br.StickResponse(c.st)
		if r.Server.cfg.NonStick {
			br.StickForget(c.st)
		} else {
			br.StickStore(c.st, r.Server.ID(), r.Server.Name())
		}
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
		if s.c.st.SilentDrop {
			s.c.dropSilently()
		}
		s.f.deniedReq.Add(1)
		if be != nil {
			be.deniedReq.Add(1)
		}
		s.phase = 'R'
		s.setTerm(TermProxy)
		return false
	case rules.Close:
		// "close": end the connection quietly, nothing was forwarded.
		s.phase = 'R'
		s.setTerm(TermProxy)
		return false
	}
	return true
}

// switchBackend evaluates the frontend's use_backend rules on the data read
// so far, as final data (HAProxy evaluates switching rules with
// SMP_OPT_FINAL: they never wait). It returns nil when none matched.
func (s *session) switchBackend(fr *rules.Proxy) *Backend {
	st := s.c.st
	if fr.NeedsContent() && !st.ReqFinal {
		s.readAvailable(&s.cli, &s.c.req)
		st.Req = s.c.req
	}
	return s.c.useBackendFinal(fr)
}

// useServer evaluates backend be's use-server rules and returns the
// server they name. The rules have checked its state: a server that is
// down is named only under force-persist or "option persist".
func (s *session) useServer(r *rules.Proxy, be *Backend) *Server {
	name, _ := r.UseServer(s.c.st)
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
		s.f.countDeniedResp(be, s.c.srv.Load())
		s.phase = 'D'
		s.setTerm(TermProxy)
		return false
	}
	if len(s.res) > 0 {
		if t := s.Timeout(&s.cli); t > 0 {
			_ = s.cli.Conn.SetWriteDeadline(time.Now().Add(t))
		}
		n, err := s.cli.Conn.Write(s.res)
		s.down += int64(n)
		if err != nil {
			s.phase = 'D'
			s.setTerm(TermClientAbort)
			return false
		}
		_ = s.cli.Conn.SetWriteDeadline(time.Time{})
	}
	// "close": the exchange is over once the response so far is out.
	return v != rules.Close
}

// The session is the copiers' CopyOwner: both directions share its
// timeouts, its half-close state and its Conn's abort.

// Dead implements CopyOwner.
func (s *session) Dead() bool { return s.c.dead.Load() }

// Timeout implements CopyOwner: the inactivity timeout currently in force
// on sd.
func (s *session) Timeout(sd *Side) time.Duration {
	if s.halfShut.Load() && sd.FinTimeout > 0 {
		return sd.FinTimeout
	}
	if s.tunnel > 0 {
		return s.tunnel
	}
	return sd.Timeout
}

// Deadline implements CopyOwner: when sd expires given its last activity,
// or the zero time when no timeout applies. Under timeout tunnel the
// session expires only when both sides are idle.
func (s *session) Deadline(sd *Side) time.Time {
	t := s.Timeout(sd)
	if t <= 0 {
		return time.Time{}
	}
	last := sd.last.Load()
	if s.tunnel > 0 && !(s.halfShut.Load() && sd.FinTimeout > 0) {
		last = max(s.cli.last.Load(), s.srvs.last.Load())
	}
	return time.Unix(0, last).Add(t)
}

// EndOfStream implements CopyOwner: it passes an end of stream on to dst
// and switches the session to its fin timeouts. When the other direction
// already ended, dst has shut its side and the session is about to close
// both sockets: the close sends the FIN, and the shutdown(2) call is saved.
func (s *session) EndOfStream(dst *Side) {
	if !s.halfShut.Load() {
		closeWrite(dst.Conn)
	}
	s.shutOne()
}

// shutOne is called when a direction ended cleanly (FIN forwarded): the fin
// timeouts take over for what remains.
func (s *session) shutOne() {
	if s.halfShut.Swap(true) || s.c.dead.Load() {
		// Once aborted, the past deadlines must stay.
		return
	}
	if s.cli.FinTimeout > 0 || s.srvs.FinTimeout > 0 {
		for _, sd := range []*Side{&s.cli, &s.srvs} {
			_ = sd.Conn.SetReadDeadline(s.Deadline(sd))
			// This may have overwritten the FIN watcher's poke: the
			// flag is set before the poke, so poke again.
			if sd.rdhup.Load() {
				poke(sd.Conn)
			}
		}
	}
}

// Fail implements CopyOwner: it records an abnormal end of a direction and
// stops the other one.
func (s *session) Fail(code byte) { s.c.Kill(code) }
