package listener

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"

	"lb/internal/config"
	"lb/internal/systemd"
	"lb/internal/ticketkeys"
)

// Set is every listening socket of one generation of lb: one Entry per
// address of each bind line of an enabled frontend, then one per stats
// socket, in the order of the configuration. It knows where each socket
// came from, which decides what may be done with it: what goes to systemd's
// fd store, what is handed to a new process, what Pause takes out of LISTEN
// state.
//
// A Set is made by Acquire (the first generation of a process tree) or
// Inherit (a successor started by its predecessor), and by ForSuccessor for
// the successor a running generation starts. Its methods are safe for
// concurrent use.
type Set struct {
	// opts is what Acquire or Inherit was given. Read-only.
	opts Options
	// entries is fixed when the Set is made: neither the slice nor its
	// Entries change afterwards.
	entries []*Entry
	// pausedOld is set while the old processes are paused (PauseOld) to free
	// an address. Only Acquire sets and clears it, before the Set is shared.
	pausedOld bool
	// tickets are the process's TLS session ticket keys (see tickets.go);
	// nil when it has none. Set by Acquire or Inherit before the Set is
	// shared, shared with the successor's Set.
	tickets *ticketkeys.Keys

	// gotState is the server state received (serverstate.go) and
	// gotStateFrom where from; set by Acquire or Inherit before the Set is
	// shared.
	gotState     []byte
	gotStateFrom string

	// mu guards closed, dropped, handover and srvState, and serialises what is done to
	// all the listeners at once (pause, resume, close, export).
	mu     sync.Mutex
	closed bool // after CloseAll
	// dropped are the fd store names of listeners the previous generation
	// stored that this one no longer has (from the fd store itself, or from
	// the old process with -x): Store and UnstoreDropped remove them.
	dropped []string
	// handover is the -x connection to the old process, kept open until
	// TellSuperseded uses it; nil when there is none.
	handover *net.UnixConn
	// pausedFE are the frontends whose listeners are paused, by SetPaused
	// (all of them) or SetFrontendPaused.
	pausedFE map[string]bool
	// srvState is the memfd of the server state to hand on
	// (SetServerState); nil when there is none.
	srvState *os.File
	// stateStored says systemd's fd store holds a server state (this
	// process stored one, or started from one): it is removed when the
	// state goes back to the configuration's.
	stateStored bool
}

// Entry is one listening socket of a Set and the line of the configuration
// it serves. The Set fills in every field before it returns; they do not
// change afterwards.
type Entry struct {
	// Key identifies the address across generations (see Key).
	Key string
	// Addr is the address as the configuration writes it.
	Addr config.BindAddr
	// Frontend is the frontend (or listen section) of the bind line; nil for
	// a stats socket.
	Frontend *config.Proxy
	// Bind is the bind line; nil for a stats socket.
	Bind *config.Bind
	// Stats is the "stats socket" line; nil for a frontend's listener.
	Stats *config.StatsSocket
	// Spec is how the socket is bound, or what a passed socket must match.
	Spec Spec
	// Listener is the socket. A successor's Set shares the Listeners of its
	// predecessor for the addresses both have.
	Listener *Listener

	// origin is how the first generation of lb got the socket: Self (bound
	// by lb, whether this process or a predecessor did it), Activated (from
	// a .socket unit) or Inherited (fd@N). It decides what goes to the fd
	// store and what is handed over, and it travels to successors (Passed).
	origin Origin
	// fresh is set on sockets ForSuccessor bound for the successor, so that
	// Discard closes them.
	fresh bool
	// boundHere is set on sockets this process bound itself (none was
	// handed to it): Store replaces, rather than adds to, what systemd's
	// fd store holds under the name.
	boundHere bool
}

// Options tunes Acquire and Inherit.
type Options struct {
	// NoReusePort leaves SO_REUSEPORT off on every socket the Set binds
	// (-dR); the configuration's global noreuseport does too. Zero: on, as
	// HAProxy does on Linux.
	NoReusePort bool
	// Activated are the descriptors systemd passed (systemd.ListenFDs): the
	// sockets of .socket units, and the fd store's, whose names start with
	// StoredPrefix. Acquire takes them all: it adopts those a line claims
	// and closes the others. Nil: none.
	Activated []systemd.Activated
	// OldSocket is the old process's runtime socket to fetch the listening
	// sockets from (-x). Empty or "/dev/null": none.
	OldSocket string
	// PauseOld asks the old processes to pause their listeners (SIGTTOU) so
	// that an address they hold can be bound, and reports whether one was
	// asked. Nil means there is no old process: an address in use fails at
	// once.
	PauseOld func() bool
	// ResumeOld undoes PauseOld (SIGTTIN). Nil: nothing is undone.
	ResumeOld func()
	// FDStore is systemd's fd store, where Store keeps the listeners lb
	// bound. Nil: there is none, and Store does nothing.
	FDStore FDStore
	// BindMissing lets Inherit bind the listeners no passed socket serves, instead
	// of failing: a master process that re-executed itself with a new
	// configuration keeps the sockets its previous image held and binds the new
	// addresses. Zero: every listener must be passed.
	BindMissing bool
	// Logger receives what HAProxy would warn about (a socket nobody claims,
	// a listener that cannot be paused). Nil means slog.Default().
	Logger *slog.Logger
}

// FDStore is systemd's file descriptor store as a Set uses it.
// *systemd.Notifier implements it; a disabled Notifier does nothing.
type FDStore interface {
	// FDStore keeps files under name (FDSTORE=1, FDNAME=name).
	FDStore(name string, files ...*os.File) error
	// FDStoreRemove forgets what is stored under name (FDSTOREREMOVE=1).
	FDStoreRemove(name string) error
}

func (o *Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// Frontends returns the Entries of the frontends' listeners, in the order of
// the configuration.
func (s *Set) Frontends() []*Entry {
	var out []*Entry
	for _, e := range s.entries {
		if e.Stats == nil {
			out = append(out, e)
		}
	}
	return out
}

// StatsSockets returns the Entries of the stats sockets (the runtime API).
func (s *Set) StatsSockets() []*Entry {
	var out []*Entry
	for _, e := range s.entries {
		if e.Stats != nil {
			out = append(out, e)
		}
	}
	return out
}

// Count returns the number of the frontends' listeners; a nil Set has none.
func (s *Set) Count() int {
	if s == nil {
		return 0
	}
	return len(s.Frontends())
}

// CloseAll stops accepting for good. Activated sockets are only closed here
// (systemd holds them); self-bound ones a successor shares stay open in the
// successor. A nil Set, or one already closed, does nothing.
func (s *Set) CloseAll() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for _, e := range s.entries {
		if e.Listener != nil {
			e.Listener.Close()
		}
	}
}

// SetPaused pauses (SIGTTOU) or resumes (SIGTTIN) every frontend listener
// (see Listener.Pause for what each origin does), and warns as HAProxy:
// "Paused frontend NAME." or "Resumed frontend NAME." per frontend ("proxy"
// for a listen section). The
// stats sockets keep answering. A listener that fails is logged and the
// others go on.
func (s *Set) SetPaused(pause bool) {
	op, verb := pauseOp(pause)
	log := s.opts.logger()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		if e.Stats != nil {
			continue
		}
		if err := op(e.Listener); err != nil {
			log.Warn(strings.ToLower(verb)+" listener (port taken by another process?)", "listener", e.Key, "err", err)
		}
	}
	for _, fe := range frontends(s.entries) {
		log.Warn(verb + " " + capWord(fe) + " " + fe.Name + ".")
		s.setPausedFELocked(fe.Name, pause)
	}
}

// pauseOp is Listener.Pause and "Paused", or Listener.Resume and "Resumed".
func pauseOp(pause bool) (func(*Listener) error, string) {
	if pause {
		return (*Listener).Pause, "Paused"
	}
	return (*Listener).Resume, "Resumed"
}

// capWord is how HAProxy names a proxy with listeners in its messages
// (proxy_cap_str): "proxy" for a listen section, else "frontend".
func capWord(px *config.Proxy) string {
	if px.Cap&config.CapBackend != 0 {
		return "proxy"
	}
	return "frontend"
}

// ErrNoFrontend is SetFrontendPaused's error for a name that is no frontend
// with listeners, ErrFrontendAlready for one already in the state asked.
var (
	ErrNoFrontend      = errors.New("no such frontend")
	ErrFrontendAlready = errors.New("frontend already in that state")
)

// SetFrontendPaused pauses or resumes the listeners of one frontend, as the
// runtime API's "disable frontend" and "enable frontend", and logs HAProxy's
// "Paused frontend NAME." or "Resumed frontend NAME.".
func (s *Set) SetFrontendPaused(name string, pause bool) error {
	op, verb := pauseOp(pause)
	log := s.opts.logger()
	s.mu.Lock()
	defer s.mu.Unlock()
	var mine []*Entry
	for _, e := range s.entries {
		if e.Frontend != nil && e.Frontend.Name == name {
			mine = append(mine, e)
		}
	}
	switch {
	case len(mine) == 0:
		return ErrNoFrontend
	case s.pausedFE[name] == pause:
		return ErrFrontendAlready
	}
	for _, e := range mine {
		if err := op(e.Listener); err != nil {
			log.Warn(strings.ToLower(verb)+" listener", "listener", e.Key, "err", err)
		}
	}
	log.Warn(verb + " " + capWord(mine[0].Frontend) + " " + name + ".")
	s.setPausedFELocked(name, pause)
	return nil
}

// FrontendPaused reports whether the listeners of frontend name are paused.
func (s *Set) FrontendPaused(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pausedFE[name]
}

func (s *Set) setPausedFELocked(name string, pause bool) {
	if s.pausedFE == nil {
		s.pausedFE = map[string]bool{}
	}
	s.pausedFE[name] = pause
}

func frontends(entries []*Entry) []*config.Proxy {
	seen := map[string]bool{}
	var out []*config.Proxy
	for _, e := range entries {
		if e.Frontend != nil && !seen[e.Frontend.Name] {
			seen[e.Frontend.Name] = true
			out = append(out, e.Frontend)
		}
	}
	return out
}
