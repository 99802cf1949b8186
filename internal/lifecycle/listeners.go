package lifecycle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"lb/internal/admin"
	"lb/internal/config"
	"lb/internal/listener"
	"lb/internal/systemd"
)

// Origins of a listening socket, as passed between generations.
const (
	originSelf      = "self"      // bound by lb itself (stored in systemd's fd store)
	originActivated = "activated" // from a .socket unit: never stored, never shut down
	originInherited = "inherited" // bind fd@N
)

// storedPrefix marks the FDNAME= of listeners lb pushed to systemd's fd store, so that on a
// restart they are told apart from .socket units' sockets.
const storedPrefix = "lbstored-"

// boundListener is one listening socket and what it serves.
type boundListener struct {
	key    string
	addr   config.BindAddr
	fe     *config.Proxy       // nil for a stats socket
	bind   *config.Bind        // nil for a stats socket
	stats  *config.StatsSocket // nil for a proxy listener
	spec   listener.Spec
	ln     *listener.Listener
	origin string
	// fresh is set for sockets bound by this generation for its successor (SIGUSR2), so
	// that a failed reload closes them again.
	fresh bool
}

// listenerSet is every listener of a generation.
type listenerSet struct {
	// mu guards all, pausedOld and closed.
	mu  sync.Mutex
	all []*boundListener
	// pausedOld is set when the old processes were sent SIGTTOU to free a port.
	pausedOld bool
	closed    bool
	// dropped are the fd store names the previous generation stored that this one no
	// longer binds (known to the reload process from -x).
	dropped []string
	// handover is the -x connection to the old process, kept open to tell it, once this
	// generation serves, that it is no longer the main process (see serveGetSocks).
	handover *net.UnixConn
}

// listenerKey identifies a bind address across generations.
func listenerKey(a config.BindAddr) string {
	switch a.Network {
	case "tcp4", "tcp6":
		// The same address as getsockname reports it (see socketKey).
		host := a.Host
		if ip := net.ParseIP(host); ip != nil {
			host = ip.String()
		}
		switch {
		case (host == "" || host == "*") && a.Network == "tcp4":
			host = "0.0.0.0"
		case host == "" || host == "*":
			host = "::"
		}
		return a.Network + " " + net.JoinHostPort(host, strconv.Itoa(a.Port))
	case "unix":
		return "unix " + a.Path
	case "abns":
		return "abns " + a.Path
	default:
		return a.Network + " " + strconv.Itoa(a.FD)
	}
}

// storeName is the FDNAME= of a self-bound listener, made from its address (':' is not
// allowed in fd names).
func (b *boundListener) storeName() string { return storeNameOf(b.key) }

func storeNameOf(key string) string {
	n := strings.NewReplacer(":", "_", " ", "-").Replace(key)
	if len(storedPrefix)+len(n) > 255 {
		n = n[:255-len(storedPrefix)]
	}
	return storedPrefix + n
}

func specFor(cfg *config.Config, args *Args, a config.BindAddr, b *config.Bind, fe *config.Proxy) listener.Spec {
	s := listener.Spec{Network: a.Network, Addr: a.Addr(), UID: -1, GID: -1}
	switch a.Network {
	case "unix":
		s.Addr = a.Path
	case "abns":
		s.Addr = a.Path
	}
	s.NoReusePort = cfg.Global.NoReusePort || args.NoReusePort
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
		s.Mode, s.UID, s.GID = b.Mode, b.UID, b.GID
	}
	if fe != nil {
		s.Nolinger = fe.Options["nolinger"]
	}
	return s
}

// wanted lists every listener the configuration declares, stats sockets included.
func wanted(cfg *config.Config, args *Args) []*boundListener {
	var out []*boundListener
	for _, fe := range cfg.Frontends() {
		if fe.Disabled {
			continue
		}
		for _, b := range fe.Binds {
			for _, a := range b.Addrs {
				out = append(out, &boundListener{key: listenerKey(a), addr: a, fe: fe, bind: b, spec: specFor(cfg, args, a, b, fe)})
			}
		}
	}
	for i := range cfg.Global.StatsSockets {
		ss := &cfg.Global.StatsSockets[i]
		bl := &boundListener{key: listenerKey(ss.Addr), addr: ss.Addr, stats: ss, spec: specFor(cfg, args, ss.Addr, ss.Bind, nil)}
		bl.spec.Mode, bl.spec.UID, bl.spec.GID = ss.Mode, ss.UID, ss.GID
		out = append(out, bl)
	}
	return out
}

// obtainListeners gets a socket for every bind address, in LIFECYCLE.md §1 step 6's order of
// preference: inherited from the parent generation; passed by systemd (.socket units by
// name or address, the fd store by address); fd@N; handed over by the old process (-x);
// bound here, pausing the old processes (SIGTTOU) while a port is taken, for up to 2 s.
func obtainListeners(p *process, oldPids []int) (*listenerSet, error) {
	set := &listenerSet{all: wanted(p.cfg, p.args)}
	ok := false
	defer func() {
		if !ok {
			set.closeAll(p)
			if set.pausedOld {
				// Whatever failed, the old processes serve on exactly as before.
				signalPids(oldPids, syscall.SIGTTIN)
				set.pausedOld = false
			}
			if set.handover != nil {
				set.handover.Close()
			}
		}
	}()

	// From the parent generation: keys match exactly.
	if p.child != nil {
		byKey := map[string]*os.File{}
		origins := map[string]string{}
		for i, fd := range p.child.FDs {
			f := os.NewFile(uintptr(3+i), fd.Key)
			syscall.CloseOnExec(3 + i)
			byKey[fd.Key] = f
			origins[fd.Key] = fd.Origin
		}
		for _, b := range set.all {
			f := byKey[b.key]
			if f == nil {
				return nil, fmt.Errorf("%s: no socket inherited for %s", b.where(), b.key)
			}
			delete(byKey, b.key)
			b.origin = origins[b.key]
			if err := b.adopt(f, b.origin); err != nil {
				return nil, err
			}
		}
		for _, f := range byKey {
			f.Close()
		}
		ok = true
		return set, nil
	}

	// From systemd: activated sockets, then the fd store.
	var activated, stored []systemd.Activated
	for _, a := range systemd.ListenFDs() {
		if strings.HasPrefix(a.Name, storedPrefix) {
			stored = append(stored, a)
		} else {
			activated = append(activated, a)
		}
	}
	claim := func(b *boundListener, pool *[]systemd.Activated, byName bool) *os.File {
		files := make([]*os.File, len(*pool))
		for i, a := range *pool {
			files[i] = a.File
		}
		idx := -1
		if byName && b.bind != nil && b.bind.Name != "" {
			for i, a := range *pool {
				if a.Name == b.bind.Name && listener.Match(b.spec, []*os.File{a.File}) == 0 {
					idx = i
					break
				}
			}
			if idx < 0 {
				for i, a := range *pool {
					if a.Name == b.bind.Name {
						idx = i
						break
					}
				}
			}
		}
		if idx < 0 {
			idx = listener.Match(b.spec, files)
		}
		if idx < 0 {
			return nil
		}
		f := (*pool)[idx].File
		*pool = append((*pool)[:idx], (*pool)[idx+1:]...)
		return f
	}

	// Handed over by the old process (-x).
	var received []listener.Exported
	if s := p.args.OldSocket; s != "" && s != "/dev/null" {
		conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: s, Net: "unix"})
		if err == nil {
			received, err = listener.FetchSocketsConn(conn)
			if err != nil {
				conn.Close()
			}
		}
		if err != nil {
			// HAProxy 2.6 only warns: the sockets are bound anew (SO_REUSEPORT, or the
			// SIGTTOU dance below), at the price of the connections queued in the old ones.
			p.log.Warn(fmt.Sprintf("Failed to get the sockets from the old process (-x %s): %v", s, err))
		} else {
			set.handover = conn
		}
	}
	recvFiles := func() []*os.File {
		out := make([]*os.File, len(received))
		for i, r := range received {
			out[i] = r.File
		}
		return out
	}

	var toBind []*boundListener
	for _, b := range set.all {
		if b.addr.Network == "fd" {
			for i, a := range activated {
				if int(a.File.Fd()) == b.addr.FD {
					activated = append(activated[:i], activated[i+1:]...)
					break
				}
			}
			ln, err := listener.FromFD(b.addr.FD, b.spec)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", b.where(), err)
			}
			b.ln, b.origin = ln, originInherited
			continue
		}
		if f := claim(b, &activated, true); f != nil {
			if err := b.adopt(f, originActivated); err != nil {
				return nil, err
			}
			continue
		}
		if f := claim(b, &stored, false); f != nil {
			if err := b.adoptAs(f, originSelf, listener.Stored); err != nil {
				return nil, err
			}
			continue
		}
		if idx := listener.Match(b.spec, recvFiles()); idx >= 0 {
			r := received[idx]
			received = append(received[:idx], received[idx+1:]...)
			origin := originSelf
			if exportedActivated(r) {
				origin = originActivated
			}
			if err := b.adopt(r.File, origin); err != nil {
				return nil, err
			}
			continue
		}
		toBind = append(toBind, b)
	}
	for _, a := range activated {
		p.log.Warn("socket passed by systemd is claimed by no bind line: not used", "name", a.Name, "addr", socketAddr(a.File))
		a.File.Close()
	}
	for _, a := range stored {
		// A stored listener the configuration no longer has: forget it.
		p.log.Info("stored socket no longer in the configuration: removed from the fd store", "name", a.Name)
		set.dropped = append(set.dropped, a.Name)
		a.File.Close()
	}
	for _, r := range received {
		// The old process's listeners the new configuration dropped leave the fd store.
		if k := socketKey(r.File); k != "" && !exportedActivated(r) {
			set.dropped = append(set.dropped, storeNameOf(k))
		}
		r.File.Close()
	}
	if err := set.bindAll(p, toBind, oldPids); err != nil {
		return nil, err
	}
	ok = true
	return set, nil
}

// bindAll binds the listeners no one passed. On EADDRINUSE while old processes are known,
// they are paused (SIGTTOU) and the bind retried every 10 ms for up to 2 s, as HAProxy does.
func (s *listenerSet) bindAll(p *process, todo []*boundListener, oldPids []int) error {
	deadline := time.Now().Add(2 * time.Second)
	for _, b := range todo {
		for {
			ln, err := listener.Bind(b.spec)
			if err == nil {
				b.ln, b.origin = ln, originSelf
				break
			}
			if !errors.Is(err, syscall.EADDRINUSE) || len(oldPids) == 0 {
				return fmt.Errorf("%s: cannot bind %s: %w", b.where(), b.key, err)
			}
			if !s.pausedOld {
				if signalPids(oldPids, syscall.SIGTTOU) == 0 {
					return fmt.Errorf("%s: cannot bind %s: %w", b.where(), b.key, err)
				}
				s.pausedOld = true
			}
			if time.Now().After(deadline) {
				// Give up: the old processes serve on exactly as before.
				signalPids(oldPids, syscall.SIGTTIN)
				s.pausedOld = false
				return fmt.Errorf("%s: cannot bind %s: %w (the port stayed in use for 2s)", b.where(), b.key, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

func (b *boundListener) where() string {
	switch {
	case b.bind != nil:
		return b.bind.Pos.String()
	case b.stats != nil:
		return b.stats.Pos.String()
	}
	return "lb"
}

func (b *boundListener) adopt(f *os.File, origin string) error {
	return b.adoptAs(f, origin, originOf(origin))
}

func (b *boundListener) adoptAs(f *os.File, origin string, lo listener.Origin) error {
	ln, err := listener.Adopt(f, lo, b.spec)
	if err != nil {
		return fmt.Errorf("%s: cannot use the socket passed for %s: %w", b.where(), b.key, err)
	}
	b.ln, b.origin = ln, origin
	return nil
}

func originOf(o string) listener.Origin {
	switch o {
	case originActivated:
		return listener.Activated
	case originInherited:
		return listener.Inherited
	}
	return listener.Handed
}

// socketKey is listenerKey for an open socket, from what it reports.
func socketKey(f *os.File) string {
	sa, err := syscall.Getsockname(int(f.Fd()))
	if err != nil {
		return ""
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return listenerKey(config.BindAddr{Network: "tcp4", Host: net.IP(a.Addr[:]).String(), Port: a.Port})
	case *syscall.SockaddrInet6:
		return listenerKey(config.BindAddr{Network: "tcp6", Host: net.IP(a.Addr[:]).String(), Port: a.Port})
	case *syscall.SockaddrUnix:
		if strings.HasPrefix(a.Name, "@") {
			return "abns " + strings.TrimRight(a.Name[1:], "\x00")
		}
		return "unix " + trimTmpSuffix(a.Name)
	}
	return ""
}

// trimTmpSuffix drops the ".PID.tmp" a unix socket was bound under before its rename.
func trimTmpSuffix(path string) string {
	base, ok := strings.CutSuffix(path, ".tmp")
	if !ok {
		return path
	}
	i := strings.LastIndexByte(base, '.')
	if i < 0 {
		return path
	}
	if _, err := strconv.Atoi(base[i+1:]); err != nil {
		return path
	}
	return base[:i]
}

func socketAddr(f *os.File) string {
	sa, err := syscall.Getsockname(int(f.Fd()))
	if err != nil {
		return "?"
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *syscall.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *syscall.SockaddrUnix:
		return a.Name
	}
	return "?"
}

func (s *listenerSet) count() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, b := range s.all {
		if b.stats == nil {
			n++
		}
	}
	return n
}

// passOn returns dups of every listening fd, described for a child generation.
func (s *listenerSet) passOn() ([]*os.File, []passedFD) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var files []*os.File
	var fds []passedFD
	for _, b := range s.all {
		// Export marks the socket as shared: closing it here must not unlink a unix path
		// the next generation serves on.
		f, err := dupFile(b.ln.Export().File)
		if err != nil {
			continue
		}
		files = append(files, f)
		fds = append(fds, passedFD{Key: b.key, Origin: b.origin})
	}
	return files, fds
}

func dupFile(f *os.File) (*os.File, error) {
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return nil, fmt.Errorf("dup: %w", err)
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// store pushes self-bound listeners to systemd's fd store (never activated ones: systemd
// would pass them twice), and forgets stored names the configuration dropped.
func (s *listenerSet) store(p *process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range s.dropped {
		_ = p.notify.FDStoreRemove(name)
	}
	s.dropped = nil
	for _, b := range s.all {
		if b.origin != originSelf || b.stats != nil {
			continue
		}
		// Export: systemd holds the socket now, so closing it must not unlink a unix path.
		if err := p.notify.FDStore(b.storeName(), b.ln.Export().File); err != nil {
			p.log.Warn("fd store", "listener", b.key, "err", err)
		}
	}
}

// unstoreDropped is run by the reload process: the listeners it received from the old
// process but no longer binds leave the fd store.
func (s *listenerSet) unstoreDropped(p *process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range s.dropped {
		_ = p.notify.FDStoreRemove(name)
	}
}

// unstoreDroppedFor removes from the fd store this generation's self-bound listeners that
// next no longer has.
func (s *listenerSet) unstoreDroppedFor(p *process, next *listenerSet) {
	keep := map[string]bool{}
	for _, b := range next.all {
		keep[b.key] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.all {
		if !keep[b.key] && b.origin == originSelf && b.stats == nil {
			_ = p.notify.FDStoreRemove(b.storeName())
		}
	}
}

// forSuccessor builds the listener set of cfg for the next generation (SIGUSR2): sockets of
// this generation are reused by key; new addresses are bound now (marked fresh).
func (s *listenerSet) forSuccessor(p *process, cfg *config.Config) (*listenerSet, error) {
	next := &listenerSet{all: wanted(cfg, p.args)}
	s.mu.Lock()
	byKey := map[string]*boundListener{}
	for _, b := range s.all {
		byKey[b.key] = b
	}
	s.mu.Unlock()
	var todo []*boundListener
	for _, b := range next.all {
		if old := byKey[b.key]; old != nil {
			b.ln, b.origin = old.ln, old.origin
			continue
		}
		b.fresh = true
		todo = append(todo, b)
	}
	if err := next.bindAll(p, todo, nil); err != nil {
		next.discardNew()
		return nil, err
	}
	return next, nil
}

// closeNew closes the dups made by passOn.
func (s *listenerSet) closeNew(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// discardNew closes the sockets bound for a successor that did not start.
func (s *listenerSet) discardNew() {
	for _, b := range s.all {
		if b.fresh && b.ln != nil {
			b.ln.Close()
		}
	}
}

// closeAll stops accepting for good. Activated sockets are only closed here (systemd holds
// them); self-bound ones a successor shares stay open in the successor.
func (s *listenerSet) closeAll(p *process) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for _, b := range s.all {
		if b.ln != nil {
			b.ln.Close()
		}
	}
}

// setPaused is SIGTTOU (pause) and SIGTTIN (resume) on every proxy listener; the runtime
// sockets keep answering.
func (s *listenerSet) setPaused(p *process, pause bool) {
	op, verb := (*listener.Listener).Resume, "Resumed"
	if pause {
		op, verb = (*listener.Listener).Pause, "Paused"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.all {
		if b.stats != nil {
			continue
		}
		if err := op(b.ln); err != nil {
			p.log.Warn(strings.ToLower(verb)+" listener (port taken by another process?)", "listener", b.key, "err", err)
		}
	}
	for _, fe := range frontendNames(s.all) {
		p.log.Info(verb + " frontend " + fe + ".")
	}
}

func frontendNames(all []*boundListener) []string {
	seen := map[string]bool{}
	var out []string
	for _, b := range all {
		if b.fe != nil && !seen[b.fe.Name] {
			seen[b.fe.Name] = true
			out = append(out, b.fe.Name)
		}
	}
	return out
}

// serveAdmin starts the runtime API on every stats socket.
func (s *listenerSet) serveAdmin(p *process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.all {
		if b.stats == nil {
			continue
		}
		srv := &admin.Server{
			Level:    admin.ParseLevel(b.stats.Level),
			ExposeFD: b.stats.ExposeFDListeners,
			Timeout:  p.cfg.Global.StatsTimeout,
			Log:      p.log,
			GetSocks: func(c *net.UnixConn) error { return p.serveGetSocks(c) },
		}
		registerCommands(p, srv)
		go func(b *boundListener) {
			if err := srv.Serve(listenerAdapter{b.ln}); err != nil && !p.stopping.Load() {
				p.log.Warn("runtime socket stopped", "socket", b.key, "err", err)
			}
		}(b)
	}
}

// serveGetSocks hands every listening socket to a new process, then keeps the connection
// open for lb's one extension: a new lb that took over as the main process says
// "_lb_superseded PID" on it; a connection closed without it (HAProxy, or a reload that
// failed) leaves this process the main one. The same connection is used because a runtime
// socket handed over is shared: a new connection might reach the new process.
func (p *process) serveGetSocks(c *net.UnixConn) error {
	if err := p.lns.getSocks(c); err != nil {
		return err
	}
	// The receiver acknowledges every batch with 4 bytes and the sender reads only the
	// acknowledgements of full batches (HAProxy's protocol): the token follows those bytes.
	// It is acknowledged once recorded: the new process signals this one (-sf) only then.
	_ = c.SetReadDeadline(time.Now().Add(readyTimeout + goTimeout))
	var b []byte
	buf := make([]byte, 512)
	for len(b) < 4096 {
		n, err := c.Read(buf)
		b = append(b, buf[:n]...)
		if i := bytes.Index(b, []byte(supersededToken)); i >= 0 {
			if pid, _, ok := strings.Cut(string(b[i+len(supersededToken):]), "\n"); ok {
				p.superseded.Store(true)
				p.log.Info("a new process took over as the main one", "pid", pid)
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

// tellSuperseded tells the old process over the -x connection that pid serves now.
func (s *listenerSet) tellSuperseded(pid int) {
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

// supersededToken starts lb's line after `_getsocks` (see serveGetSocks).
const supersededToken = "_lb_superseded "

// getSocks hands every listening socket (stats sockets included, as HAProxy does) to a new
// process.
func (s *listenerSet) getSocks(c *net.UnixConn) error {
	s.mu.Lock()
	var ex []listener.Exported
	for _, b := range s.all {
		if b.origin == originInherited {
			continue // HAProxy never exports fd@N sockets
		}
		e := b.ln.Export()
		markActivated(&e, b.origin == originActivated)
		ex = append(ex, e)
	}
	s.mu.Unlock()
	return listener.ServeGetSocks(c, ex)
}

// listenerAdapter makes a Listener a net.Listener for the runtime socket server.
type listenerAdapter struct{ ln *listener.Listener }

func (a listenerAdapter) Accept() (net.Conn, error) { return a.ln.Accept() }
func (a listenerAdapter) Close() error              { return a.ln.Close() }
func (a listenerAdapter) Addr() net.Addr            { return a.ln.Addr() }

// exportedActivated and markActivated carry "this socket came from a .socket unit" across
// the -x handover, so that a successor never pushes it to the fd store.
func exportedActivated(e listener.Exported) bool { return e.Activated }

func markActivated(e *listener.Exported, on bool) { e.Activated = on }
