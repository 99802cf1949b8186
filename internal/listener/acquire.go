package listener

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"lb/internal/config"
	"lb/internal/srvstate"
	"lb/internal/systemd"
	"lb/internal/ticketkeys"
)

// This file is how a Set gets its sockets: Acquire for the first generation, in
// LIFECYCLE.md's order of preference, and Inherit for a successor.

// declared lists an Entry, without a socket, for every listener cfg
// declares: each address of each bind line of the enabled frontends, then
// the stats sockets.
func declared(cfg *config.Config, noReusePort bool) []*Entry {
	var out []*Entry
	for _, fe := range cfg.Frontends() {
		if fe.Disabled {
			continue
		}
		for _, b := range fe.Binds {
			for _, a := range b.Addrs {
				out = append(out, &Entry{Key: Key(a), Addr: a, Frontend: fe, Bind: b, Spec: specFor(cfg, noReusePort, a, b, fe)})
			}
		}
	}
	for i := range cfg.Global.StatsSockets {
		ss := &cfg.Global.StatsSockets[i]
		e := &Entry{Key: Key(ss.Addr), Addr: ss.Addr, Stats: ss, Spec: specFor(cfg, noReusePort, ss.Addr, ss.Bind, nil)}
		e.Spec.Mode, e.Spec.UID, e.Spec.GID = ss.Mode, ss.UID, ss.GID
		out = append(out, e)
	}
	return out
}

// specFor is the Spec of address a of bind line b in frontend fe (both nil
// for a stats socket without bind options).
func specFor(cfg *config.Config, noReusePort bool, a config.BindAddr, b *config.Bind, fe *config.Proxy) Spec {
	s := Spec{Network: a.Network, Addr: a.Addr(), UID: -1, GID: -1}
	switch a.Network {
	case "unix":
		s.Addr = a.Path
	case "abns":
		s.Addr = a.Path
	}
	s.NoReusePort = cfg.Global.NoReusePort || noReusePort
	if b != nil {
		s.Name = b.Name
		s.Backlog = b.Backlog
		if s.Backlog == 0 && fe != nil {
			s.Backlog = fe.Backlog
		}
		if s.Backlog == 0 && fe != nil {
			s.Backlog = fe.Maxconn
		}
		s.Transparent, s.DeferAccept, s.V4V6, s.V6Only, s.Tfo = b.Transparent, b.DeferAccept, b.V4V6, b.V6Only, b.Tfo
		s.Interface = b.Interface
		s.UserTimeout = time.Duration(b.TCPUserTimeout) * time.Millisecond
		s.Mode, s.UID, s.GID = b.Mode, b.UID, b.GID
	}
	if fe != nil {
		s.Nolinger = fe.Options["nolinger"]
	}
	return s
}

// Acquire gets a socket for every listener cfg declares, in LIFECYCLE.md §1
// step 6's order of preference for each:
//
//  1. fd@N: the process's descriptor N, as it is;
//  2. a socket of a .socket unit (Options.Activated), claimed by the bind
//     line's name (FileDescriptorName=) first, else by what the socket
//     reports about itself (see Match);
//  3. a socket of systemd's fd store (Options.Activated, names starting with
//     StoredPrefix), claimed by what it reports;
//  4. a socket handed over by the old process (Options.OldSocket, -x),
//     claimed by what it reports;
//  5. a socket bound here. When the address is in use and there are old
//     processes (Options.PauseOld), they are paused and the bind retried
//     every 10 ms for up to 2 s, as HAProxy does; on failure they are
//     resumed.
//
// Activated sockets no line claims are logged and closed. Stored sockets no
// line claims, and sockets received from the old process that the
// configuration dropped, are forgotten: UnstoreDropped (or Store) removes
// them from the fd store. A successor started by a running generation gets
// its sockets with Inherit instead.
//
// On error every socket acquired so far is closed and the old processes, if
// they were paused, are resumed: they serve on exactly as before.
func Acquire(cfg *config.Config, opts Options) (_ *Set, err error) {
	s := &Set{opts: opts, entries: declared(cfg, opts.NoReusePort)}
	log := opts.logger()
	defer func() {
		if err != nil {
			s.abandon()
		}
	}()

	// From systemd: activated sockets, then the fd store, where the TLS
	// session ticket keys may be too.
	var activated, stored []systemd.Activated
	fromSystemd, keys := takeTicketKeys(opts.Activated)
	fromSystemd, storedState := takeServerState(fromSystemd)
	var handedState []*os.File
	defer func() {
		for _, f := range append(storedState, handedState...) {
			if err != nil {
				f.Close()
			}
		}
	}()
	defer func() {
		if err != nil {
			closeSources(keys)
		}
	}()
	for _, a := range fromSystemd {
		if strings.HasPrefix(a.Name, StoredPrefix) {
			stored = append(stored, a)
		} else {
			activated = append(activated, a)
		}
	}

	// Handed over by the old process (-x).
	var received []Exported
	if p := opts.OldSocket; p != "" && p != "/dev/null" {
		conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: p, Net: "unix"})
		if err == nil {
			var offered uint32
			received, offered, err = fetchSockets(conn)
			if err != nil {
				conn.Close()
				err = fmt.Errorf("getsocks: %w", err)
			} else {
				if offered&optTicketKeys != 0 {
					keys = append(keys, s.fetchTicketKeys(conn, p)...)
				}
				if offered&optServerState != 0 {
					handedState = append(handedState, s.fetchServerState(conn, p)...)
				}
			}
		}
		if err != nil {
			// HAProxy 2.6 only warns: the sockets are bound anew (SO_REUSEPORT, or
			// pausing the old processes), at the price of the connections queued in
			// the old ones.
			log.Warn(fmt.Sprintf("Failed to get the sockets from the old process (-x %s): %v", p, err))
		} else {
			s.handover = conn
		}
	}
	recvFiles := func() []*os.File {
		out := make([]*os.File, len(received))
		for i, r := range received {
			out[i] = r.File
		}
		return out
	}

	var toBind []*Entry
	for _, e := range s.entries {
		if e.Addr.Network == "fd" {
			for i, a := range activated {
				if int(a.File.Fd()) == e.Addr.FD {
					activated = append(activated[:i], activated[i+1:]...)
					break
				}
			}
			ln, err := FromFD(e.Addr.FD, e.Spec)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.where(), err)
			}
			e.Listener, e.origin = ln, Inherited
			continue
		}
		if f := claim(e, &activated, true); f != nil {
			if err := e.adopt(f, Activated, Activated); err != nil {
				return nil, err
			}
			continue
		}
		if f := claim(e, &stored, false); f != nil {
			if err := e.adopt(f, Self, Stored); err != nil {
				return nil, err
			}
			continue
		}
		if i := Match(e.Spec, recvFiles()); i >= 0 {
			r := received[i]
			received = append(received[:i], received[i+1:]...)
			origin := Self
			if r.Activated {
				origin = Activated
			}
			if err := e.adopt(r.File, origin, handedAs(origin)); err != nil {
				return nil, err
			}
			continue
		}
		toBind = append(toBind, e)
	}
	for _, a := range activated {
		log.Warn("socket passed by systemd is claimed by no bind line: not used", "name", a.Name, "addr", socketAddr(a.File))
		a.File.Close()
	}
	for _, a := range stored {
		// A stored listener the configuration no longer has: forget it.
		log.Info("stored socket no longer in the configuration: removed from the fd store", "name", a.Name)
		s.dropped = append(s.dropped, a.Name)
		a.File.Close()
	}
	for _, r := range received {
		// The old process's listeners the new configuration dropped leave the fd store.
		if k := socketKey(r.File); k != "" && !r.Activated {
			s.dropped = append(s.dropped, StoreName(k))
		}
		r.File.Close()
	}
	if err := s.bindAll(toBind); err != nil {
		return nil, err
	}
	s.setTicketKeys(cfg, keys)
	if len(handedState) > 0 {
		s.receiveServerState("the old process (-x "+opts.OldSocket+")", handedState)
	}
	s.stateStored = len(storedState) > 0
	s.receiveServerState("systemd's fd store", storedState)
	return s, nil
}

// fetchServerState asks the old process at path for the state of its
// servers over conn, as fetchTicketKeys does for the keys.
func (s *Set) fetchServerState(conn *net.UnixConn, path string) []*os.File {
	f, err := requestServerState(conn)
	if err != nil {
		s.opts.logger().Warn("server state not received from the old process", "socket", path, "err", err)
	}
	if f == nil {
		return nil
	}
	return []*os.File{f}
}

// fetchTicketKeys asks the old process at path for its TLS session ticket
// keys over conn, the connection its sockets just came by. A failure is
// logged and yields no source: the listeners are what matters.
func (s *Set) fetchTicketKeys(conn *net.UnixConn, path string) []ticketSource {
	f, err := requestTicketKeys(conn)
	if err != nil {
		s.opts.logger().Warn("TLS session ticket keys not received from the old process", "socket", path, "err", err)
	}
	if f == nil {
		return nil
	}
	return []ticketSource{{from: "the old process (-x " + path + ")", file: f}}
}

// claim takes from pool the socket e should use: the first one named like
// e's bind line that matches e.Spec, else the first one so named (byName),
// else the first one that matches. It returns nil when none fits.
func claim(e *Entry, pool *[]systemd.Activated, byName bool) *os.File {
	files := make([]*os.File, len(*pool))
	for i, a := range *pool {
		files[i] = a.File
	}
	idx := -1
	if byName && e.Bind != nil && e.Bind.Name != "" {
		for i, a := range *pool {
			if a.Name == e.Bind.Name && Match(e.Spec, []*os.File{a.File}) == 0 {
				idx = i
				break
			}
		}
		if idx < 0 {
			for i, a := range *pool {
				if a.Name == e.Bind.Name {
					idx = i
					break
				}
			}
		}
	}
	if idx < 0 {
		idx = Match(e.Spec, files)
	}
	if idx < 0 {
		return nil
	}
	f := (*pool)[idx].File
	*pool = append((*pool)[:idx], (*pool)[idx+1:]...)
	return f
}

// Passed describes one listening socket a generation passes to its
// successor, in the order of the files that go with it.
type Passed struct {
	// Key is the address it serves (see Key).
	Key string
	// Origin is how the first generation got it: "self", "activated" or
	// "inherited" (Origin.String).
	Origin string
}

// Inherit makes the Set of a successor generation from the sockets its
// predecessor passed (see PassOn): files[i] is described by passed[i]. Every
// listener cfg declares must be among them, by key, unless
// Options.BindMissing lets it bind the others; files no listener claims are
// closed. The Set takes ownership of files.
func Inherit(cfg *config.Config, files []*os.File, passed []Passed, opts Options) (_ *Set, err error) {
	s := &Set{opts: opts, entries: declared(cfg, opts.NoReusePort)}
	defer func() {
		if err != nil {
			s.abandon()
		}
	}()
	byKey := map[string]*os.File{}
	origins := map[string]Origin{}
	var keys []ticketSource
	var states []*os.File
	defer func() {
		if err != nil {
			closeSources(keys)
			for _, f := range states {
				f.Close()
			}
		}
	}()
	defer func() {
		if err != nil {
			for _, f := range byKey {
				f.Close()
			}
		}
	}()
	for i, p := range passed {
		if i >= len(files) {
			break
		}
		if p.Key == ticketkeys.Name {
			keys = append(keys, ticketSource{from: "the parent generation", file: files[i]})
			continue
		}
		if p.Key == srvstate.Name {
			states = append(states, files[i])
			continue
		}
		byKey[p.Key] = files[i]
		origins[p.Key] = parseOrigin(p.Origin)
	}
	var todo []*Entry
	for _, e := range s.entries {
		f := byKey[e.Key]
		if f == nil && opts.BindMissing {
			todo = append(todo, e)
			continue
		}
		if f == nil {
			return nil, fmt.Errorf("%s: no socket inherited for %s", e.where(), e.Key)
		}
		delete(byKey, e.Key)
		origin := origins[e.Key]
		if err := e.adopt(f, origin, handedAs(origin)); err != nil {
			return nil, err
		}
	}
	for _, f := range byKey {
		f.Close()
	}
	byKey = nil
	if err := s.bindAll(todo); err != nil {
		return nil, err
	}
	s.setTicketKeys(cfg, keys)
	s.receiveServerState("the parent generation", states)
	return s, nil
}

// parseOrigin reads Passed.Origin. Anything but "self", "activated" and
// "inherited" is treated as a socket handed over by another process.
func parseOrigin(s string) Origin {
	switch s {
	case Self.String():
		return Self
	case Activated.String():
		return Activated
	case Inherited.String():
		return Inherited
	}
	return Handed
}

// handedAs is the Listener origin of a socket that reached this process from
// another one and whose first generation got it as origin: an activated or
// inherited socket keeps what it is; anything else was handed over.
func handedAs(origin Origin) Origin {
	switch origin {
	case Activated, Inherited:
		return origin
	}
	return Handed
}

// abandon undoes a failed Acquire or Inherit: the sockets are closed, and
// the old processes resumed if they were paused.
func (s *Set) abandon() {
	s.CloseAll()
	if s.pausedOld {
		s.resumeOld()
	}
	if s.handover != nil {
		s.handover.Close()
		s.handover = nil
	}
}

func (s *Set) resumeOld() {
	if s.opts.ResumeOld != nil {
		s.opts.ResumeOld()
	}
	s.pausedOld = false
}

// bindAll binds the listeners no one passed. On EADDRINUSE while there are
// old processes, they are paused and the bind retried every 10 ms for up to
// 2 s, as HAProxy does.
func (s *Set) bindAll(todo []*Entry) error {
	deadline := time.Now().Add(2 * time.Second)
	for _, e := range todo {
		for {
			ln, err := Bind(e.Spec)
			if err == nil {
				e.Listener, e.origin, e.boundHere = ln, Self, true
				break
			}
			if !errors.Is(err, syscall.EADDRINUSE) || s.opts.PauseOld == nil {
				return fmt.Errorf("%s: cannot bind %s: %w", e.where(), e.Key, err)
			}
			if !s.pausedOld {
				if !s.opts.PauseOld() {
					return fmt.Errorf("%s: cannot bind %s: %w", e.where(), e.Key, err)
				}
				s.pausedOld = true
			}
			if time.Now().After(deadline) {
				// Give up: the old processes serve on exactly as before.
				s.resumeOld()
				return fmt.Errorf("%s: cannot bind %s: %w (the port stayed in use for 2s)", e.where(), e.Key, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// where is the configuration line of e, for error messages.
func (e *Entry) where() string {
	switch {
	case e.Bind != nil:
		return e.Bind.Pos.String()
	case e.Stats != nil:
		return e.Stats.Pos.String()
	}
	return "lb"
}

// adopt makes f, passed by systemd or another process, e's socket: origin is
// how the first generation got it, as is what the Listener is adopted as.
func (e *Entry) adopt(f *os.File, origin, as Origin) error {
	ln, err := Adopt(f, as, e.Spec)
	if err != nil {
		return fmt.Errorf("%s: cannot use the socket passed for %s: %w", e.where(), e.Key, err)
	}
	e.Listener, e.origin = ln, origin
	return nil
}

// PausedOld reports whether Acquire left the old processes paused: it did
// so when it had to bind an address they hold. The caller resumes them if
// the start fails later.
func (s *Set) PausedOld() bool { return s.pausedOld }
