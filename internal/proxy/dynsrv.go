package proxy

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"lb/internal/balance"
)

// ErrServerInUse: the server still serves connections or has some waiting
// in its queue.
var ErrServerInUse = errors.New("server still has connections attached to it")

// AddServer adds a server to b at run time (the runtime API's "add server"),
// after the others, in maintenance: it takes no connection before SetState
// makes it usable. id 0 gives it the lowest id no other server of b has.
// The servers' slice is replaced, never changed in place, under b's lock:
// connections being balanced see either the old set or the new one.
func (b *Backend) AddServer(sc ServerConfig) (*Server, error) {
	if sc.Network == "" {
		sc.Network = "tcp"
	}
	if sc.Weight < 0 || sc.Weight > 256 {
		return nil, fmt.Errorf("add server %q: weight %d out of 0..256", sc.Name, sc.Weight)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	used := map[int]bool{}
	for _, s := range b.srvs {
		if s.cfg.Name == sc.Name {
			return nil, fmt.Errorf("add server %q: a server of that name exists", sc.Name)
		}
		used[s.id] = true
	}
	id := sc.ID
	if id > 0 && used[id] {
		return nil, fmt.Errorf("add server %q: id %d is in use", sc.Name, id)
	}
	for id = max(id, 1); sc.ID == 0 && used[id]; id++ {
	}
	s := &Server{be: b, idx: len(b.srvs), cfg: sc, id: id, weight: sc.Weight, maxconn: sc.Maxconn, state: StateMaint,
		lastChange: time.Now().Unix()}
	s.addr.Store(configAddr(&sc))
	if b.fast.Load() && !fastServer(s) {
		b.fast.Store(false)
	}
	b.setServersLocked(append(slices.Clip(b.srvs), s))
	return s, nil
}

// RemoveServer takes s out of b at run time (the runtime API's "del
// server"): ErrServerInUse while it serves or queues connections. Its idle
// connections are closed.
func (b *Backend) RemoveServer(s *Server) error {
	b.mu.Lock()
	i := slices.Index(b.srvs, s)
	if i < 0 {
		b.mu.Unlock()
		return fmt.Errorf("remove server %q: not a server of %s", s.cfg.Name, b.cfg.Name)
	}
	if s.cur > 0 || len(s.queue) > 0 {
		b.mu.Unlock()
		return ErrServerInUse
	}
	srvs := slices.Delete(slices.Clone(b.srvs), i, i+1)
	for j, x := range srvs {
		x.idx = j
	}
	b.setServersLocked(srvs)
	b.mu.Unlock()
	s.idle.closeAll()
	return nil
}

// setServersLocked makes srvs b's servers. Caller must hold b.mu.
func (b *Backend) setServersLocked(srvs []*Server) {
	b.srvs = srvs
	b.snap = make([]balance.Server, len(srvs))
	b.list.Store(&srvs)
}

// fastServer reports whether an event loop can connect to s itself.
func fastServer(s *Server) bool {
	c, a := &s.cfg, s.addr.Load()
	return s.source() == nil && !c.Socks4.IsValid() && (c.Network == "tcp" || c.Network == "tcp4" || c.Network == "tcp6") &&
		(a.fromDst || a.ip.IsValid()) && a.ip.Zone() == ""
}
