package listener

import (
	"os"

	"lb/internal/srvstate"
	"lb/internal/systemd"
)

// A Set also carries the state of the generation's servers that operators
// changed at run time (maintenance, drain, weights: the text of "show
// servers state", package srvstate), in a sealed memfd, to wherever its
// listeners go, as it does the TLS session ticket keys (tickets.go):
//
//   - to a new process that fetches the sockets with -x: lb's extension of
//     the `_getsocks` exchange (serverStateRequest), on the same connection;
//   - to a child generation (PassOn, Inherit): one more inherited
//     descriptor, under the key srvstate.Name;
//   - to systemd's fd store (Store, StoreServerState), under
//     FDNAME=srvstate.Name, which a restart passes back in LISTEN_FDS.
//
// The generation gives its state with SetServerState at start and after
// each operator change; the process that takes over reads what it received
// with ServerState. When both the old process (-x) and the fd store give
// one, the old process's is the one used: it is the live one.

// takeServerState removes from acts the descriptors stored under
// srvstate.Name and returns them.
func takeServerState(acts []systemd.Activated) ([]systemd.Activated, []*os.File) {
	var rest []systemd.Activated
	var files []*os.File
	for _, a := range acts {
		if a.Name == srvstate.Name {
			files = append(files, a.File)
			continue
		}
		rest = append(rest, a)
	}
	return rest, files
}

// receiveServerState reads the first usable memfd of srcs as the state
// received from from, and closes them all. Only Acquire and Inherit call
// it, before the Set is shared.
func (s *Set) receiveServerState(from string, srcs []*os.File) {
	for _, f := range srcs {
		if s.gotState == nil {
			b, err := srvstate.FromFile(f)
			if err != nil {
				s.opts.logger().Warn("server state received is unusable: the configuration's is used", "from", from, "err", err)
			} else {
				s.gotState, s.gotStateFrom = b, from
				if s.srvState == nil {
					// Handed on as received until a generation of this
					// process says otherwise (SetServerState): the process
					// that reloads for systemd starts none.
					s.srvState = f
					continue
				}
			}
		}
		f.Close()
	}
}

// ServerState returns the server state this Set received (the previous
// process's plane.Generation.CarriedState) and where it came from; nil
// when none came.
func (s *Set) ServerState() ([]byte, string) {
	if s == nil {
		return nil, ""
	}
	return s.gotState, s.gotStateFrom
}

// SetServerState makes b the server state this Set hands on, in a new
// sealed memfd. It does not store it in the fd store: StoreServerState
// does. An error (no memfd on this system) is logged: the state then does
// not travel.
func (s *Set) SetServerState(b []byte) {
	var f *os.File
	if b != nil {
		var err error
		if f, err = srvstate.Seal(b); err != nil {
			s.opts.logger().Warn("server state will not survive a reload", "err", err)
			return
		}
	}
	s.mu.Lock()
	old := s.srvState
	s.srvState = f
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

// StoreServerState replaces the server state in systemd's fd store with
// the current one (SetServerState). Only the main process calls it.
func (s *Set) StoreServerState() {
	if s.opts.FDStore == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.storeServerStateLocked()
}

func (s *Set) storeServerStateLocked() {
	if s.srvState == nil {
		if s.stateStored {
			// Back to the configuration's state: nothing to restore.
			_ = s.opts.FDStore.FDStoreRemove(srvstate.Name)
			s.stateStored = false
		}
		return
	}
	s.stateStored = true
	// Each state is a new memfd: the previous one must go, or systemd
	// would keep both under the name.
	_ = s.opts.FDStore.FDStoreRemove(srvstate.Name)
	if err := s.opts.FDStore.FDStore(srvstate.Name, s.srvState); err != nil {
		s.opts.logger().Warn("fd store: server state", "err", err)
	}
}

// stateFileLocked is the memfd of the state to hand on; nil when there is
// none. The caller holds s.mu.
func (s *Set) stateFileLocked() *os.File { return s.srvState }

// stateFile is stateFileLocked for callers without s.mu.
func (s *Set) stateFile() *os.File {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srvState
}
