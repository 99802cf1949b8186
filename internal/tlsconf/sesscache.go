package tlsconf

import (
	"container/list"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"sync"
	"time"
)

// SessionCache is HAProxy's TLS session cache on the server side
// ("tune.ssl.cachesize", 20000 sessions by default, each kept for
// "tune.ssl.lifetime", 300 s by default), for the bind lines with
// "no-tls-tickets". With it, HAProxy resumes TLS 1.3 sessions by stateful
// tickets and TLS 1.2 ones by session ID; crypto/tls resumes by tickets
// only, so the cache makes them stateful: the ticket a client gets is a
// random 32-byte name, the session stays in this process, and no ticket key
// can ever decrypt it. A client that offers no ticket extension in TLS 1.2
// gets a full handshake, where HAProxy would resume it by session ID.
// Sessions are dropped oldest first when the cache is full, as HAProxy's
// shared context drops them, and do not outlive the process (nor does
// HAProxy's cache a reload).
type SessionCache struct {
	size     int
	lifetime time.Duration
	now      func() time.Time

	mu sync.Mutex
	m  map[[32]byte]*list.Element
	l  list.List // of *cachedSession, newest first
}

type cachedSession struct {
	id    [32]byte
	owner *tls.Config // the bind line's base configuration
	state []byte      // tls.SessionState.Bytes
}

// NewSessionCache returns a cache of size sessions (size > 0), each
// resuming for lifetime.
func NewSessionCache(size int, lifetime time.Duration) *SessionCache {
	return &SessionCache{size: size, lifetime: lifetime, now: time.Now,
		m: make(map[[32]byte]*list.Element)}
}

// Attach makes cfg, a bind line's base configuration as Bind.Build returned
// it, resume its sessions from the cache (the per-line clones made from it
// follow). A session resumes only on the bind line that made it.
func (sc *SessionCache) Attach(cfg *tls.Config) {
	cfg.SessionTicketsDisabled = false
	cfg.WrapSession = func(_ tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		b, err := ss.Bytes()
		if err != nil {
			return nil, err
		}
		var id [32]byte
		if _, err := rand.Read(id[:]); err != nil {
			return nil, err
		}
		sc.put(id, cfg, b)
		return id[:], nil
	}
	cfg.UnwrapSession = func(identity []byte, _ tls.ConnectionState) (*tls.SessionState, error) {
		if len(identity) != 32 {
			return nil, nil
		}
		b := sc.get([32]byte(identity), cfg)
		if b == nil {
			return nil, nil // a full handshake
		}
		return tls.ParseSessionState(b)
	}
}

func (sc *SessionCache) put(id [32]byte, owner *tls.Config, state []byte) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for sc.l.Len() >= sc.size {
		old := sc.l.Back()
		delete(sc.m, old.Value.(*cachedSession).id)
		sc.l.Remove(old)
	}
	sc.m[id] = sc.l.PushFront(&cachedSession{id: id, owner: owner, state: state})
}

func (sc *SessionCache) get(id [32]byte, owner *tls.Config) []byte {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	e := sc.m[id]
	if e == nil {
		return nil
	}
	s := e.Value.(*cachedSession)
	at, ok := sessionCreated(s.state)
	if !ok || expired(at, sc.now(), sc.lifetime) {
		delete(sc.m, id)
		sc.l.Remove(e)
		return nil
	}
	if s.owner != owner {
		return nil
	}
	return s.state
}

// Len is the number of sessions held.
func (sc *SessionCache) Len() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.l.Len()
}

// TicketLifetime makes the session tickets of cfg, a bind line's base
// configuration as Bind.Build returned it, resume for lifetime only, as
// OpenSSL bounds a ticket's session by "tune.ssl.lifetime" in HAProxy
// (crypto/tls alone takes them for 7 days). The tickets are crypto/tls's
// own; the age is that of the session they carry: from its full handshake in
// TLS 1.2 (a ticket issued again keeps it), from each handshake in TLS 1.3,
// as OpenSSL dates them.
func TicketLifetime(cfg *tls.Config, lifetime time.Duration) {
	TicketLifetimeClock(cfg, lifetime, time.Now)
}

// TicketLifetimeClock is TicketLifetime with a clock, for tests.
func TicketLifetimeClock(cfg *tls.Config, lifetime time.Duration, now func() time.Time) {
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := cfg.DecryptTicket(identity, cs)
		if ss == nil || err != nil {
			return nil, err
		}
		b, err := ss.Bytes()
		if err != nil {
			return nil, nil
		}
		if at, ok := sessionCreated(b); !ok || expired(at, now(), lifetime) {
			return nil, nil // a full handshake
		}
		return ss, nil
	}
}

// sessionCreated reads when a session was made from its encoding
// (tls.SessionState.Bytes): after the version (2 bytes), the side (1) and
// the cipher suite (2), created_at in seconds (8). Go calls the encoding
// opaque; TestTicketLifetime fails if it moves.
func sessionCreated(state []byte) (time.Time, bool) {
	if len(state) < 13 || state[2] != 1 { // 1: a server's session
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(state[5:13])), 0), true
}

// expired tells a session made at "at" too old at "now", in whole seconds as
// OpenSSL counts: a session of a 1 s lifetime made during second 12 resumes
// until second 13 ends.
func expired(at, now time.Time, lifetime time.Duration) bool {
	return now.Unix() > at.Unix()+int64(lifetime/time.Second)
}
