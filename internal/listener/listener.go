package listener

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// Origin says where a listening socket came from; it decides what Pause and
// Close may do to the socket.
type Origin int

const (
	// Self: bound by this process (Bind).
	Self Origin = iota + 1
	// Activated: passed by systemd socket activation (LISTEN_FDS from a .socket unit).
	Activated
	// Stored: passed back by systemd from the fd store (FDSTORE=1).
	Stored
	// Handed: received from the previous process over `_getsocks` (-x).
	Handed
	// Inherited: an already open descriptor named on the bind line (fd@N).
	Inherited
)

var originNames = [...]string{Self: "self", Activated: "activated", Stored: "stored", Handed: "handed", Inherited: "inherited"}

// String returns the lower-case origin name ("self", "activated", …).
func (o Origin) String() string {
	if o > 0 && int(o) < len(originNames) {
		return originNames[o]
	}
	return fmt.Sprintf("origin(%d)", int(o))
}

// Spec describes one listening socket as a bind line asks for it. Fields that
// do not apply to the Network are ignored.
type Spec struct {
	// Network is "tcp4", "tcp6", "unix" (a path) or "abns" (Linux abstract
	// namespace). The zero value is invalid.
	Network string
	// Addr is, for tcp4/tcp6, a numeric "host:port" as net.JoinHostPort
	// writes it ("127.0.0.1:80", "[::]:80"); an empty host or "*" means any
	// address (0.0.0.0 or ::). Host names are not resolved here. For unix it
	// is the socket path (at most 107 bytes including the ".PID.tmp" suffix
	// used while binding); for abns it is the abstract name without the
	// leading NUL or "abns@" (at most 107 bytes).
	Addr string
	// Name is the bind line's name (`bind … name N`, FileDescriptorName=).
	// Informational only; empty means unnamed.
	Name string
	// Backlog is the listen() backlog and the TCP Fast Open queue length.
	// 0 means the kernel's net.core.somaxconn (what net.Listen uses);
	// HAProxy's default is the frontend's maxconn, so the caller should pass
	// maxconn when the bind line has no `backlog`. The kernel caps the value
	// at somaxconn.
	Backlog int
	// NoReusePort leaves SO_REUSEPORT off (global `noreuseport`). The zero
	// value sets SO_REUSEPORT on TCP sockets, as HAProxy does on Linux.
	NoReusePort bool
	// Transparent sets IP_TRANSPARENT (IPV6_TRANSPARENT for tcp6), falling
	// back to IP_FREEBIND when that fails (it needs CAP_NET_ADMIN). Zero: off.
	Transparent bool
	// DeferAccept sets TCP_DEFER_ACCEPT to 1 s as HAProxy does (the kernel
	// converts it to SYN-ACK retransmissions and reads back the rounded
	// value, 1 on Linux 6.18). Zero: off.
	DeferAccept bool
	// V4V6 clears IPV6_V6ONLY on tcp6 sockets (dual stack). V6Only sets it
	// and wins over V4V6. With neither, the kernel default applies
	// (net.ipv6.bindv6only, 0 on Debian: dual stack), as in HAProxy.
	V4V6, V6Only bool
	// Interface binds the socket to a device with SO_BINDTODEVICE
	// (`interface`). Empty: any device.
	Interface string
	// Mode is the unix socket's permission bits (`mode`); 0 leaves them as
	// the umask made them.
	Mode os.FileMode
	// UID and GID own the unix socket (`uid`/`user`, `gid`/`group`). -1
	// leaves one unchanged. The zero value 0 means root: a Spec for a unix
	// socket built by hand must say -1 to keep the process's own ids.
	UID, GID int
	// Tfo enables TCP Fast Open (`tfo`) with Backlog as the queue length.
	// Zero: off.
	Tfo bool
	// UserTimeout is TCP_USER_TIMEOUT on the listening socket (`tcp-ut`),
	// which accepted connections inherit. Zero: the system's.
	UserTimeout time.Duration
	// Nolinger sets SO_LINGER {1, 0} on the listening socket (`option
	// nolinger` in a frontend, as HAProxy does in tcp_bind_listener).
	// Accepted sockets inherit it from the listener on Linux, so closing an
	// accepted connection sends RST instead of FIN and the data plane needs
	// no per-connection call. Zero: off.
	Nolinger bool
	// Logger receives the warnings HAProxy would print (an option the
	// kernel refused). Nil means slog.Default().
	Logger *slog.Logger
}

func (s *Spec) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Exported is a listening socket as it travels over `_getsocks`: the
// descriptor plus the network namespace and interface names HAProxy sends
// with it (empty when none).
type Exported struct {
	File      *os.File
	Namespace string
	Interface string
	// Activated marks a socket of a systemd .socket unit, so that the receiver never pushes
	// it to the fd store (systemd would pass it twice). It travels in the 4 option bytes
	// HAProxy 2.6 sends as zero and ignores, so the wire format stays HAProxy's.
	Activated bool
}

// optActivated is Exported.Activated's bit in the option bytes of `_getsocks`.
const optActivated = 1 << 31

// optTicketKeys, in the option bytes of every socket, says that the sender is
// an lb that gives its TLS session ticket keys on request (ticketKeysRequest).
// HAProxy never sets it, and ignores it: a HAProxy on either side never sees
// the keys.
const optTicketKeys = 1 << 30

// optServerState, in the option bytes of every socket, says that the sender
// is an lb that gives the state of its servers on request
// (serverStateRequest).
const optServerState = 1 << 29

// Listener is one listening socket. Its methods are safe for concurrent use.
// It implements net.Listener.
type Listener struct {
	origin  Origin
	spec    Spec
	file    *os.File     // the listening descriptor (non-blocking, CLOEXEC)
	ln      net.Listener // a dup of file registered with the runtime poller
	addr    net.Addr
	backlog int
	// unixPath is the path this process created and may unlink on Close,
	// with the identity of the socket file it created; empty otherwise.
	unixPath         string
	unixDev, unixIno uint64
	// bound is the address a Self TCP socket was bound to, for Resume.
	bound sockaddr
	// noKeepAlive: ln accepts connections with TCP keep-alive off (keepalive.go).
	noKeepAlive bool

	mu       sync.Mutex    // guards the fields below
	paused   bool          // between Pause and Resume
	closed   bool          // after Close
	epoch    uint64        // incremented by every Pause, so Accept can tell its error came from one
	wake     chan struct{} // closed when the current pause ends (Resume or Close)
	exported bool          // handed to another process: Close must not unlink unixPath
	detached bool          // after Detach: accepted from by event loops, not by Accept
}

// Bind creates, configures, binds and listens on a new socket as HAProxy
// does for a fresh bind line (LIFECYCLE.md §1 step 6c):
//
//   - all sockets: non-blocking, close-on-exec, backlog from Spec.Backlog;
//   - tcp4/tcp6: SO_REUSEADDR always, SO_REUSEPORT unless NoReusePort,
//     IP_TRANSPARENT/IPV6_TRANSPARENT falling back to IP_FREEBIND,
//     SO_BINDTODEVICE, IPV6_V6ONLY, SO_LINGER {1,0}, TCP_DEFER_ACCEPT,
//     TCP_FASTOPEN. An option the kernel refuses is logged as a warning and
//     the bind goes on, as in HAProxy; bind() and listen() failures are
//     errors that wrap the errno (errors.Is(err, syscall.EADDRINUSE) is how
//     the caller detects a port held by an old process);
//   - unix: bound to PATH.PID.tmp, chown/chmod, listen, then rename()d over
//     PATH with a PATH.PID.bak hard link to roll back on failure. PATH is
//     never missing and never names a socket that does not listen (HAProxy
//     listens after the rename; lb listens before it);
//   - abns: the abstract name padded with NULs to the full sun_path length
//     (HAProxy binds with addrlen = sizeof(struct sockaddr_un)), so only a
//     peer using the same padded address (HAProxy, lb) can connect.
//
// The Listener's origin is Self.
func Bind(spec Spec) (*Listener, error) {
	return bind(spec)
}

// FromFile adopts an already open listening socket without binding it:
// activated, stored, handed-over or inherited (fd@N) descriptors. It takes
// ownership of f (the Listener keeps a close-on-exec duplicate and closes f),
// makes the socket non-blocking and calls listen() only when the socket does
// not listen yet. Only stream sockets (TCP, unix) are accepted.
func FromFile(f *os.File, origin Origin) (*Listener, error) {
	return adopt(f, origin, nil)
}

// Adopt is FromFile for a socket that a bind line claimed (see Match): it
// also applies what HAProxy applies to a transferred socket. SO_LINGER,
// TCP_DEFER_ACCEPT and TCP_FASTOPEN are set, or reset when the Spec no longer
// asks for them, and listen() runs again when Spec.Backlog is set, which
// changes the backlog of a socket that already listens. For Activated sockets
// nothing is reset and listen() is not repeated: the .socket unit owns them.
// Address, family and the bind-time options (reuse, transparent, interface,
// v6only) are those of the socket; use Match to check them first.
func Adopt(f *os.File, origin Origin, spec Spec) (*Listener, error) {
	return adopt(f, origin, &spec)
}

// FromFD adopts descriptor fd of this process as an Inherited listener, as
// `bind fd@N` does. The descriptor must be an open stream socket; it becomes
// owned by the Listener.
func FromFD(fd int, spec Spec) (*Listener, error) {
	if fd < 0 {
		return nil, fmt.Errorf("fd@%d: %w", fd, errBadFD)
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("fd@%d", fd))
	if f == nil {
		return nil, fmt.Errorf("fd@%d: %w", fd, errBadFD)
	}
	l, err := adopt(f, Inherited, &spec)
	if err != nil {
		return nil, fmt.Errorf("fd@%d: %w", fd, err)
	}
	return l, nil
}

// Match returns the index of the first candidate socket that fits spec, or
// -1 when none does. It compares what each socket reports about itself, as
// HAProxy's sock_find_compatible_fd does: family and SO_TYPE (stream), the
// getsockname address (for unix paths a ".PID.tmp" suffix left by a
// rename-bind is ignored; abns names compare over the full padded sun_path
// and its length), foreign (IP_TRANSPARENT or IP_FREEBIND, against
// Spec.Transparent), IPV6_V6ONLY (against V6Only, or the kernel default
// unless V4V6; only for the unspecified address "::", because the kernel
// forces it on for any specific IPv6 address) and the SO_BINDTODEVICE
// interface. A candidate that cannot be
// inspected does not match. A spec with port 0 matches nothing.
func Match(spec Spec, candidates []*os.File) int {
	return match(spec, candidates)
}

// File returns the listening descriptor, for the fd store, for
// exec.Cmd.ExtraFiles or for SCM_RIGHTS. It is non-blocking and
// close-on-exec; because it was made with os.NewFile on a non-blocking
// descriptor, calling its Fd method does not switch the socket to blocking
// mode. The Listener owns it: do not close it.
func (l *Listener) File() *os.File { return l.file }

// Origin returns where the socket came from.
func (l *Listener) Origin() Origin { return l.origin }

// Spec returns the Spec the Listener was bound or adopted with (for FromFile,
// the Network and Addr the socket reports).
func (l *Listener) Spec() Spec { return l.spec }

// Addr returns the listening address. For a unix socket this process bound,
// it is the final path (the socket itself reports PATH.PID.tmp).
func (l *Listener) Addr() net.Addr { return l.addr }

// Export describes the Listener for ServeGetSocks (or the fd store) and marks
// its unix path as shared: after Export, Close no longer unlinks the path,
// because the successor serves on the same socket file. HAProxy exports
// every listener it bound or received with -x, including the stats socket,
// but never an inherited fd@N one; callers should do the same.
func (l *Listener) Export() Exported {
	l.mu.Lock()
	l.exported = true
	l.mu.Unlock()
	return Exported{File: l.file, Interface: l.spec.Interface}
}

// Accept waits for and returns the next connection (*net.TCPConn or
// *net.UnixConn). While the Listener is paused, Accept blocks until Resume or
// Close; after Close it returns an error for which errors.Is(err,
// net.ErrClosed) holds. Other errors (EMFILE, ENFILE, ENOBUFS) are returned
// as they are: the caller should back off and retry, as net/http does.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		for l.paused && !l.closed {
			wake := l.wake
			l.mu.Unlock()
			<-wake
			l.mu.Lock()
		}
		closed, epoch, detached := l.closed, l.epoch, l.detached
		l.mu.Unlock()
		if closed {
			return nil, fmt.Errorf("accept %s: %w", l.addr, net.ErrClosed)
		}
		if detached {
			return nil, fmt.Errorf("accept %s: %w", l.addr, errDetached)
		}
		c, err := l.ln.Accept()
		if err == nil {
			// A Pause that came after the check above and before accept4 ran
			// does not stop it: the connection was queued before or during the
			// pause. Hand it out once the pause ends, as if it had waited in
			// the queue (or at Close: it was accepted already, and a caller
			// that stops still serves it).
			l.mu.Lock()
			for l.paused && !l.closed {
				wake := l.wake
				l.mu.Unlock()
				<-wake
				l.mu.Lock()
			}
			l.mu.Unlock()
			return c, nil
		}
		l.mu.Lock()
		closed = l.closed
		retry := l.paused || l.epoch != epoch
		l.mu.Unlock()
		switch {
		case closed:
			return nil, fmt.Errorf("accept %s: %w", l.addr, net.ErrClosed)
		case retry:
			// The error comes from a pause: the deadline that woke us,
			// or EINVAL from a socket that left LISTEN state.
			continue
		}
		return nil, err
	}
}

// Pause stops accepting (SIGTTOU). For Self and Handed TCP listeners the
// socket also leaves LISTEN state, so connects are refused and another
// process can bind the address; for the other origins and for unix sockets
// connections queue in the kernel. Pausing a paused Listener does nothing.
func (l *Listener) Pause() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("pause %s: %w", l.addr, net.ErrClosed)
	}
	if l.paused {
		return nil
	}
	// Mark the pause before touching the socket, so that an Accept failing
	// because of it retries instead of reporting the error.
	l.paused = true
	l.epoch++
	l.wake = make(chan struct{})
	if l.leavesListen() {
		if err := suspend(l.file, l.backlog); err != nil {
			l.paused = false
			close(l.wake)
			return fmt.Errorf("pause %s: %w", l.addr, err)
		}
	}
	// Wake an Accept blocked in the poller; it will wait for Resume.
	l.setDeadline(time.Unix(1, 0))
	return nil
}

// Resume undoes Pause (SIGTTIN): listen() again for the sockets that left
// LISTEN state, then accept again. If the address was taken meanwhile,
// Resume returns the listen error (errors.Is(err, syscall.EADDRINUSE)) and
// the Listener stays paused. Resuming a Listener that is not paused does
// nothing.
func (l *Listener) Resume() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("resume %s: %w", l.addr, net.ErrClosed)
	}
	if !l.paused {
		return nil
	}
	if l.leavesListen() {
		if err := relisten(l.file, l.backlog, l.bound); err != nil {
			return fmt.Errorf("resume %s: %w", l.addr, err)
		}
	}
	l.setDeadline(time.Time{})
	l.paused = false
	close(l.wake)
	return nil
}

// Paused reports whether the Listener is paused.
func (l *Listener) Paused() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.paused
}

// Resumed returns a channel closed when the current pause ends (Resume or
// Close), nil when the Listener is not paused: for callers that accept on
// its descriptor themselves (File) and must honour Pause.
func (l *Listener) Resumed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.paused || l.closed {
		return nil
	}
	return l.wake
}

// Close stops accepting and closes this process's descriptors. It never
// calls shutdown(): a socket shared with systemd or another process keeps
// listening there. A unix socket path is unlinked only when this process
// bound it (Self), did not Export it, and the path still names the same
// socket file. Close is idempotent.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	if l.paused {
		close(l.wake)
	}
	unlink := l.unixPath != "" && !l.exported
	l.mu.Unlock()

	err := l.ln.Close()
	if unlink {
		unlinkIfSame(l.unixPath, l.unixDev, l.unixIno)
	}
	if cerr := l.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", l.addr, err)
	}
	return nil
}

// Detach hands the socket over to a caller that accepts from File() through an
// epoll set of its own (lb's event loops): the runtime poller stops watching
// it, which spares a runtime thread's wake-up per connection
// (poller_linux.go), and Accept fails from then on. The error says why the
// runtime poller still watches the socket; the socket works either way.
func (l *Listener) Detach() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("detach %s: %w", l.addr, net.ErrClosed)
	}
	if l.detached {
		return nil
	}
	l.detached = true
	return unwatchListener(l.ln)
}

// leavesListen reports whether Pause takes the socket out of LISTEN state:
// only TCP sockets this process owns (bound itself, or received from the
// old process, which no longer accepts on them).
func (l *Listener) leavesListen() bool {
	return (l.origin == Self || l.origin == Handed) &&
		(l.spec.Network == "tcp4" || l.spec.Network == "tcp6")
}

// setDeadline sets the accept deadline of the poller listener; the caller
// must hold l.mu.
func (l *Listener) setDeadline(t time.Time) {
	if d, ok := l.ln.(interface{ SetDeadline(time.Time) error }); ok {
		_ = d.SetDeadline(t) // only fails on a closed listener, which Accept handles
	}
}

// newListener wraps the listening descriptor f. On error f is left open for
// the caller to close.
func newListener(f *os.File, origin Origin, spec Spec, backlog int) (*Listener, error) {
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("poller: %w", err)
	}
	// Nothing waits on f through the runtime poller: only ln is accepted
	// from. When the runtime's set cannot be found, f stays in it, which
	// costs a wasted event per connection and nothing else.
	_ = unwatchFile(f)
	return &Listener{origin: origin, spec: spec, file: f, ln: ln, addr: ln.Addr(), backlog: backlog,
		noKeepAlive: disableKeepAlive(ln)}, nil
}

var (
	errBadFD       = errors.New("not an open descriptor")
	errNotStream   = errors.New("not a stream socket")
	errNoSockets   = errors.New("old process sent no socket count (no expose-fd listeners, or nothing to send)")
	errUnsupported = errors.New("not supported on this system")
	errDetached    = errors.New("accepted from by event loops (Detach)")
)
