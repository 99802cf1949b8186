package listener

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"lb/internal/config"
	"lb/internal/srvstate"
	"lb/internal/ticketkeys"
)

// This file is what a Set gives to the processes around it: its sockets to a
// successor (PassOn, ForSuccessor) or to a new process that asks over the
// runtime socket (ServeGetSocks), the word that a new process took over
// (TellSuperseded), and its self-bound sockets to systemd's fd store.

// PassOn returns duplicates of every listening socket, close-on-exec, for a
// successor's ExtraFiles, and their description for Inherit; the memfd of
// the TLS session ticket keys comes last, described by the key
// ticketkeys.Name. The caller closes the files once the successor has them.
// A descriptor that cannot be duplicated is left out.
func (s *Set) PassOn() ([]*os.File, []Passed) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var files []*os.File
	var passed []Passed
	for _, e := range s.entries {
		// Export marks the socket as shared: closing it here must not unlink a unix path
		// the next generation serves on.
		f, err := dupFile(e.Listener.Export().File)
		if err != nil {
			continue
		}
		files = append(files, f)
		passed = append(passed, Passed{Key: e.Key, Origin: e.origin.String()})
	}
	if kf := s.ticketFile(); kf != nil {
		if f, err := dupFile(kf); err == nil {
			files = append(files, f)
			passed = append(passed, Passed{Key: ticketkeys.Name})
		}
	}
	if sf := s.stateFileLocked(); sf != nil {
		if f, err := dupFile(sf); err == nil {
			files = append(files, f)
			passed = append(passed, Passed{Key: srvstate.Name})
		}
	}
	return files, passed
}

// ForSuccessor makes the Set of cfg for the successor this generation starts
// (SIGUSR2): the sockets of the addresses both have are shared, the new
// addresses are bound now, without pausing anyone. If the successor does not
// start, Discard closes what was bound for it.
func (s *Set) ForSuccessor(cfg *config.Config) (*Set, error) {
	opts := s.opts
	opts.Activated, opts.OldSocket, opts.PauseOld, opts.ResumeOld = nil, "", nil, nil
	next := &Set{opts: opts, entries: declared(cfg, opts.NoReusePort), tickets: s.tickets}
	if sf := s.stateFile(); sf != nil {
		// The successor hands on the state as it is now (PassOn).
		next.srvState, _ = dupFile(sf)
	}
	byKey := map[string]*Entry{}
	for _, e := range s.entries {
		byKey[e.Key] = e
	}
	var todo []*Entry
	for _, e := range next.entries {
		if old := byKey[e.Key]; old != nil {
			e.Listener, e.origin = old.Listener, old.origin
			continue
		}
		e.fresh = true
		todo = append(todo, e)
	}
	if err := next.bindAll(todo); err != nil {
		next.Discard()
		return nil, err
	}
	return next, nil
}

// Discard closes the sockets ForSuccessor bound for a successor: all of them
// when the successor did not start, this process's copies when it did.
func (s *Set) Discard() {
	s.mu.Lock()
	if s.srvState != nil {
		s.srvState.Close()
		s.srvState = nil
	}
	s.mu.Unlock()
	for _, e := range s.entries {
		if e.fresh && e.Listener != nil {
			e.Listener.Close()
		}
	}
}

// Store pushes the listeners lb bound itself to systemd's fd store
// (Options.FDStore), under StoreName of their keys, and the memfd of the TLS
// session ticket keys under ticketkeys.Name, and removes the names the
// previous generation stored that this one dropped. Activated sockets are
// never stored: systemd would pass them twice. Neither are stats sockets.
// What is already stored is not stored twice: systemd ignores a descriptor
// of a file it holds.
func (s *Set) Store() {
	if s.opts.FDStore == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range s.dropped {
		_ = s.opts.FDStore.FDStoreRemove(name)
	}
	s.dropped = nil
	for _, e := range s.entries {
		if e.origin != Self || e.Stats != nil {
			continue
		}
		if e.boundHere {
			// A socket of the same name may be in the store already: an
			// old process's, when a reload could not take it over (-x
			// refused). Left there, it would listen on with nobody to
			// accept, beside this one (SO_REUSEPORT): it goes first.
			_ = s.opts.FDStore.FDStoreRemove(StoreName(e.Key))
		}
		// Export: systemd holds the socket now, so closing it must not unlink a unix path.
		if err := s.opts.FDStore.FDStore(StoreName(e.Key), e.Listener.Export().File); err != nil {
			s.opts.logger().Warn("fd store", "listener", e.Key, "err", err)
		}
	}
	if kf := s.ticketFile(); kf != nil {
		if err := s.opts.FDStore.FDStore(ticketkeys.Name, kf); err != nil {
			s.opts.logger().Warn("fd store: TLS session ticket keys", "err", err)
		}
	}
	s.storeServerStateLocked()
}

// UnstoreDropped removes from the fd store the listeners the old process had
// and this Set dropped. The process that reloads on behalf of systemd
// (ExecReload=) runs it: the new main process no longer knows them.
func (s *Set) UnstoreDropped() {
	if s.opts.FDStore == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range s.dropped {
		_ = s.opts.FDStore.FDStoreRemove(name)
	}
	// The sockets this reload bound anew (the old process did not hand
	// them over): the old process's of the same name leave the store
	// before the new process stores its own (see Store).
	for _, e := range s.entries {
		if e.boundHere && e.origin == Self && e.Stats == nil {
			_ = s.opts.FDStore.FDStoreRemove(StoreName(e.Key))
		}
	}
}

// UnstoreDroppedFor removes from the fd store the self-bound listeners of
// this Set that next, its successor's, no longer has.
func (s *Set) UnstoreDroppedFor(next *Set) {
	if s.opts.FDStore == nil {
		return
	}
	keep := map[string]bool{}
	for _, e := range next.entries {
		keep[e.Key] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		if !keep[e.Key] && e.origin == Self && e.Stats == nil {
			_ = s.opts.FDStore.FDStoreRemove(StoreName(e.Key))
		}
	}
}

// supersededToken starts the line lb adds after HAProxy's `_getsocks`
// exchange (see ServeGetSocks).
const supersededToken = "_lb_superseded "

// ServeGetSocks answers `_getsocks` on c, which the runtime socket server
// already read: it hands every listening socket over (stats sockets
// included, never fd@N ones, as HAProxy does), then keeps the connection
// open for lb's two extensions. A new lb asks for the TLS session ticket
// keys when the exchange offered them (ticketKeysRequest), and gets them. A new lb that took over as the main process
// says "_lb_superseded PID" on it (TellSuperseded); superseded is called
// with PID before the line is acknowledged, since the new process signals
// this one (-sf) only after the acknowledgement. A connection closed without
// the line (HAProxy, or a start that failed) changes nothing. The line is
// awaited for at most wait: the new process's start and its wait for the
// go-ahead. The same connection is used because a runtime socket handed
// over is shared: a new connection might reach the new process.
func (s *Set) ServeGetSocks(c *net.UnixConn, wait time.Duration, superseded func(pid string)) error {
	if err := s.getSocks(c); err != nil {
		return err
	}
	// The receiver acknowledges every batch with 4 bytes and the sender reads only the
	// acknowledgements of full batches (HAProxy's protocol): the token follows those bytes.
	_ = c.SetReadDeadline(time.Now().Add(wait))
	var b []byte
	buf := make([]byte, 512)
	keysSent, stateSent := false, false
	for len(b) < 4096 {
		n, err := c.Read(buf)
		b = append(b, buf[:n]...)
		if i := bytes.Index(b, []byte(serverStateRequest)); i >= 0 && !stateSent {
			stateSent = true
			if err := sendServerState(c, s.stateFile()); err != nil {
				s.opts.logger().Warn("server state not sent to the new process", "err", err)
			}
			b = b[i+len(serverStateRequest):]
		}
		if i := bytes.Index(b, []byte(ticketKeysRequest)); i >= 0 && !keysSent {
			keysSent = true
			if err := sendTicketKeys(c, s.ticketFile()); err != nil {
				s.opts.logger().Warn("TLS session ticket keys not sent to the new process", "err", err)
			}
			b = b[i+len(ticketKeysRequest):]
		}
		if i := bytes.Index(b, []byte(supersededToken)); i >= 0 {
			if pid, _, ok := strings.Cut(string(b[i+len(supersededToken):]), "\n"); ok {
				superseded(pid)
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = io.WriteString(c, "\n")
				break
			}
		}
		if err != nil {
			break
		}
	}
	return nil
}

// getSocks hands every listening socket but the fd@N ones to a new process,
// marking those of .socket units.
func (s *Set) getSocks(c *net.UnixConn) error {
	s.mu.Lock()
	var ex []Exported
	for _, e := range s.entries {
		if e.origin == Inherited {
			continue // HAProxy never exports fd@N sockets
		}
		x := e.Listener.Export()
		x.Activated = e.origin == Activated
		ex = append(ex, x)
	}
	s.mu.Unlock()
	var offers uint32
	if s.ticketFile() != nil {
		offers |= optTicketKeys
	}
	if s.stateFile() != nil {
		offers |= optServerState
	}
	if err := serveGetSocks(c, ex, offers); err != nil {
		return fmt.Errorf("getsocks: %w", err)
	}
	return nil
}

// TellSuperseded tells the old process, over the connection its sockets came
// from (-x), that pid serves now and is the main process, and waits (at most
// a second) for its acknowledgement, or for the close of an old process that
// does not know the line (HAProxy). The connection is closed afterwards; a
// Set without one does nothing.
func (s *Set) TellSuperseded(pid int) {
	s.mu.Lock()
	c := s.handover
	s.handover = nil
	s.mu.Unlock()
	if c == nil {
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := fmt.Fprintf(c, "%s%d\n", supersededToken, pid); err != nil {
		return
	}
	// Wait for the acknowledgement (an old lb), or the close (HAProxy), before -sf signals.
	_, _ = c.Read(make([]byte, 1))
}
