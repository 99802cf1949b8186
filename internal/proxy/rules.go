package proxy

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"lb/internal/rules"
)

// Rules in the TCP handler. A session runs, in HAProxy's order (stream.c,
// tcp_rules.c):
//
//  1. the frontend's "tcp-request connection" rules, right after accept; a
//     reject closes the connection at once, counted, not logged;
//  2. the PROXY header, when the bind has accept-proxy or a rule said
//     "expect-proxy layer4";
//  3. the frontend's "tcp-request session" rules; a reject is counted, not
//     logged;
//  4. the frontend's "tcp-request content" rules, reading request data
//     until they decide or "tcp-request inspect-delay" expires; a reject
//     is counted and logged with termination state "PR";
//  5. the switching rules (use_backend), on what was read, as final data;
//  6. the backend's "tcp-request content" rules when the backend is
//     another proxy than the frontend, under the backend's inspect-delay;
//  7. the backend's "use-server" rules;
//  8. after connecting, the backend's "tcp-response content" rules on the
//     server's first data, under "tcp-response inspect-delay"; a reject is
//     logged "PD".
//
// The data read while inspecting is sent to the server before anything
// else, so inspecting never loses a byte.

// streamPool recycles rule streams: a Stream keeps its scratch buffers and
// variable slots across connections.
var streamPool = sync.Pool{New: func() any { return new(rules.Stream) }}

// ruleView is a Backend as the rules see it (rules.Backend).
type ruleView struct{ b *Backend }

// Name implements rules.Counter.
func (v *ruleView) Name() string { return v.b.cfg.Name }

// Conn implements rules.Counter: be_conn.
func (v *ruleView) Conn() int { return int(v.b.cur.Load()) }

// UsableServers implements rules.Backend: nbsrv counts the usable active
// servers, or the usable backups when no active one is.
func (v *ruleView) UsableServers() int {
	a, bk := v.b.UsableServers()
	if a > 0 {
		return a
	}
	return bk
}

// ConnSlots implements rules.Backend as HAProxy's smp_fetch_connslots:
// free connection and queue places over the usable servers, -1 when one
// of them has no maxconn or no maxqueue.
func (v *ruleView) ConnSlots() int {
	b := v.b
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, s := range b.srvs {
		if !(s.state == StateUp || s.state == StateDrain || s.state == StateNoLB) {
			continue
		}
		if s.maxconn <= 0 || s.cfg.Maxqueue == 0 {
			return -1
		}
		n += s.maxconn - s.cur + s.cfg.Maxqueue - len(s.queue)
	}
	return n
}

// ServerUp implements rules.Backend (srv_is_up).
func (v *ruleView) ServerUp(name string) (up, ok bool) {
	s := v.b.Server(name)
	if s == nil {
		return false, false
	}
	return s.State() == StateUp, true
}

// RuleBackend returns b as the rules package sees it.
func (b *Backend) RuleBackend() rules.Backend { return &b.view }

// BackendOf returns the Backend behind a rules.Backend returned by
// RuleBackend, or nil.
func BackendOf(rb rules.Backend) *Backend {
	if v, ok := rb.(*ruleView); ok {
		return v.b
	}
	return nil
}

// SetRules sets the backend's compiled rules (its "tcp-request content",
// "tcp-response content" and "use-server" rules). Call it before any
// frontend serves connections that may use b.
func (b *Backend) SetRules(r *rules.Proxy) {
	b.rules = r
	b.fast.Store((r == nil || !r.NeedsContent() && !r.NeedsResponse() && !r.HasStickRules()) && b.fastServers())
}

// stickServer runs the backend's stick rules for the stream (their
// stores are kept for StickStore) and returns the server they chose, nil
// when none: a server already assigned keeps the stream, and a server
// that is stopped (DOWN, MAINT) is not chosen unless force-persist
// matched, as HAProxy's process_sticking_rules.
func (b *Backend) stickServer(r *rules.Proxy, st *rules.Stream, assigned, force bool) *Server {
	var srv *Server
	r.StickRequest(st, assigned, func(id int) bool {
		for _, s := range b.Servers() {
			if s.ID() == id {
				if force || s.State().usable() {
					srv = s
					return true
				}
				return false
			}
		}
		return false
	})
	return srv
}

// Conn returns the frontend's current number of sessions (fe_conn).
func (f *Frontend) Conn() int { return int(f.cur.Load()) }

// inspectKind says which content rules an inspection loop runs.
type inspectKind uint8

const (
	inspectFrontend inspectKind = iota
	inspectBackend
	inspectResponse
)

// inspect runs content rules of kind k on st, reading more data from the
// client (or, for responses, the server) into s.c.req (s.res) while they
// answer Wait, until delay has passed since the call, the buffer is full or
// the peer shut its side; the rules then see the data as final. It returns
// the verdict and false when reading failed (the session is over; its
// termination state is set).
func (s *session) inspect(r *rules.Proxy, k inspectKind, delay time.Duration) (rules.Verdict, bool) {
	st := s.c.st
	sd := &s.cli
	buf, final := &s.c.req, &st.ReqFinal
	if k == inspectResponse {
		sd, buf, final = &s.srvs, &s.res, &st.ResFinal
	}
	*final = false
	deadline := time.Now().Add(delay)
	defer func() { _ = sd.Conn.SetReadDeadline(time.Time{}) }()
	for {
		s.expose(k)
		var v rules.Verdict
		switch k {
		case inspectResponse:
			v = r.TCPResponse(st)
		default:
			v = r.TCPContent(st)
		}
		if v != rules.Wait {
			return v, true
		}
		if *final {
			// The rules must decide on final data; a Wait now would
			// spin. Treat it as no decision.
			return rules.Continue, true
		}
		if delay <= 0 {
			// No inspect delay: the rules see what has arrived.
			s.readAvailable(sd, buf)
			*final = true
			continue
		}
		limit := s.f.eng.inspectLimit
		fit(buf, limit)
		if len(*buf) >= limit {
			// The buffer is full, as HAProxy sees it: the rules decide.
			*final = true
			continue
		}
		_ = sd.Conn.SetReadDeadline(deadline)
		n, err := sd.Conn.Read((*buf)[len(*buf):limit])
		*buf = (*buf)[:len(*buf)+n]
		if n > 0 {
			sd.Touch()
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded) && !s.aborted():
			*final = true
		case errors.Is(err, io.EOF):
			*final = true
		default:
			if !s.aborted() {
				s.setTerm(sd.AbortCode)
			}
			return rules.Continue, false
		}
	}
}

// readAvailable reads what sd has already received, without waiting.
func (s *session) readAvailable(sd *Side, buf *[]byte) {
	limit := s.f.eng.inspectLimit
	fit(buf, limit)
	if len(*buf) >= limit {
		return
	}
	r, ok := rawOf(sd.Conn)
	if !ok {
		return
	}
	var n int
	var err error
	_ = r.rc.Read(func(fd uintptr) bool {
		n, err = unix.Read(int(fd), (*buf)[len(*buf):limit])
		return true
	})
	if err == nil && n > 0 {
		*buf = (*buf)[:len(*buf)+n]
		sd.Touch()
	}
}

// expose points the stream at the data read so far.
func (s *session) expose(k inspectKind) {
	if k == inspectResponse {
		s.c.st.Res = s.res
	} else {
		s.c.st.Req = s.c.req
	}
}

// inspectLimit is how much data HAProxy's content rules see with a
// tune.bufsize of size: a buffer is full when only the reserve for header
// rewrites (tune.maxrewrite, 1024 or half the buffer) is left.
func inspectLimit(size int) int {
	if size <= 0 {
		size = bufSize
	}
	return size - min(1024, size/2)
}

// fit makes sure *buf can take limit bytes.
func fit(buf *[]byte, limit int) {
	if cap(*buf) == 0 {
		*buf = getBuf()
	}
	if cap(*buf) < limit {
		nb := make([]byte, len(*buf), limit)
		copy(nb, *buf)
		putBuf(*buf)
		*buf = nb
	}
}

// getBuf returns an empty inspection buffer of bufSize bytes' capacity.
func getBuf() []byte {
	bp := bufPool.Get().(*[]byte)
	return (*bp)[:0]
}

func putBuf(b []byte) {
	if cap(b) == bufSize {
		b = b[:bufSize]
		bufPool.Put(&b)
	}
}

// releaseRules gives the stream, the request data read while inspecting
// and the response data back to their pools, once the set-up is over.
func (s *session) releaseRules() {
	s.c.releaseRules()
	if s.res != nil {
		putBuf(s.res)
		s.res = nil
	}
}
