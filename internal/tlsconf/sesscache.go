package tlsconf

import (
	"container/list"
	"crypto/rand"
	"crypto/tls"
	"sync"
	"time"
)

// SessionCache is HAProxy's TLS session cache on the server side
// ("tune.ssl.cachesize", 20000 sessions by default, each kept 300 s,
// HAProxy's default "tune.ssl.lifetime"), for the bind lines with
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
	state []byte
	at    time.Time
}

// NewSessionCache returns a cache of size sessions (size > 0).
func NewSessionCache(size int) *SessionCache {
	return &SessionCache{size: size, lifetime: 300 * time.Second, now: time.Now,
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
	sc.m[id] = sc.l.PushFront(&cachedSession{id: id, owner: owner, state: state, at: sc.now()})
}

func (sc *SessionCache) get(id [32]byte, owner *tls.Config) []byte {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	e := sc.m[id]
	if e == nil {
		return nil
	}
	s := e.Value.(*cachedSession)
	if sc.now().Sub(s.at) > sc.lifetime {
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
