package systemd

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The sd_notify result contract of every [Notifier] method, as go-systemd
// documents it for daemon.SdNotify:
//
//	nil           - sent, or not under systemd (NOTIFY_SOCKET unset): nothing to do
//	non-nil error - under systemd, but the message could not be sent
//
// [Notifier.Enabled] tells the two nil cases apart. PID 1 never answers a
// notification: a message it refuses (sender not allowed by NotifyAccess=,
// FileDescriptorStoreMax= reached) still returns nil; only [Notifier.Barrier]
// proves that earlier messages were processed.

const (
	// DefaultBarrierTimeout bounds [Notifier.Barrier] when
	// Notifier.BarrierTimeout is zero. sd_notify_barrier(3) suggests 5 s.
	DefaultBarrierTimeout = 5 * time.Second

	// MaxFDsPerMessage is the most fds one notification may carry
	// (SCM_MAX_FD); [Notifier.FDStore] splits larger sets.
	MaxFDsPerMessage = 253

	// maxFDNameLen is the longest FDNAME= systemd accepts (sd_notify(3)).
	maxFDNameLen = 255
)

var (
	errBarrierTimeout = errors.New("timed out waiting for the service manager")
	errUnsupported    = errors.New("not supported on this system")
)

// Notifier sends sd_notify(3) messages to the service manager over a unix
// datagram socket of its own, so that messages can carry fds (FDSTORE=1,
// BARRIER=1) — go-systemd's daemon.SdNotify cannot.
//
// The socket is connected once, when the Notifier is opened: open it before
// any chroot, it keeps working inside one although $NOTIFY_SOCKET's path is
// not reachable there.
//
// A nil *Notifier, or one opened without $NOTIFY_SOCKET, is disabled: every
// method is a no-op that returns nil. Methods are safe for concurrent use.
type Notifier struct {
	// BarrierTimeout bounds Barrier. Zero means DefaultBarrierTimeout.
	BarrierTimeout time.Duration

	addr string // $NOTIFY_SOCKET as given; "" when disabled

	mu   sync.Mutex // guards sock (reconnect and Close replace it)
	sock int        // connected unixgram socket; -1 when disabled or closed
}

// OpenNotifier opens the notify socket named by $NOTIFY_SOCKET (a path, or
// "@name" for an abstract socket). Without $NOTIFY_SOCKET it returns a
// disabled Notifier and nil. When the socket cannot be opened it returns a
// disabled Notifier and the error, so a caller may log it and carry on.
//
// The environment variable is left in place: lb's successor, started at a
// reload, needs it once it becomes the main process.
func OpenNotifier() (*Notifier, error) {
	return NewNotifier(os.Getenv("NOTIFY_SOCKET"))
}

// NewNotifier opens a Notifier for the socket address addr ("" = disabled).
func NewNotifier(addr string) (*Notifier, error) {
	n := &Notifier{sock: -1}
	if addr == "" {
		return n, nil
	}
	if addr[0] != '/' && addr[0] != '@' {
		return n, fmt.Errorf("open notify socket %q: neither a path nor @abstract", addr)
	}
	fd, err := dialNotify(addr)
	if err != nil {
		return n, fmt.Errorf("open notify socket %q: %w", addr, err)
	}
	n.addr, n.sock = addr, fd
	return n, nil
}

// Enabled reports whether the Notifier talks to a service manager.
func (n *Notifier) Enabled() bool {
	if n == nil {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sock >= 0
}

// Addr returns the notify socket address, "" when disabled.
func (n *Notifier) Addr() string {
	if n == nil {
		return ""
	}
	return n.addr
}

// Close closes the socket; the Notifier is disabled afterwards.
func (n *Notifier) Close() error {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.sock < 0 {
		return nil
	}
	err := closeFD(n.sock)
	n.sock = -1
	return err
}

// Send sends state, newline-separated VAR=value assignments, with files
// attached through SCM_RIGHTS (at most MaxFDsPerMessage). systemd closes fds
// that come without FDSTORE=1 or BARRIER=1.
func (n *Notifier) Send(state string, files ...*os.File) error {
	if !n.Enabled() {
		return nil
	}
	if len(files) > MaxFDsPerMessage {
		return fmt.Errorf("notify: %d fds in one message, at most %d", len(files), MaxFDsPerMessage)
	}
	fds, release, err := rawFDs(files)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	defer release()
	return n.send(state, fds)
}

func (n *Notifier) send(state string, fds []int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.sock < 0 {
		return nil
	}
	err := sendNotify(n.sock, []byte(state), fds)
	if err != nil && isStaleSocket(err) {
		// PID 1 re-created its socket (daemon-reexec): dial the address
		// again. Inside a chroot this fails and the first error stands.
		if fd, derr := dialNotify(n.addr); derr == nil {
			_ = closeFD(n.sock)
			n.sock = fd
			err = sendNotify(n.sock, []byte(state), fds)
		}
	}
	if err != nil {
		return fmt.Errorf("notify %q: %w", firstLine(state), err)
	}
	return nil
}

// Ready sends READY=1, with STATUS=status unless status is "".
func (n *Notifier) Ready(status string) error {
	return n.Send(withStatus("READY=1", status))
}

// Reloading sends RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC in µs,
// which Type=notify-reload needs on systemd ≥ 253 and 252 ignores), and
// STATUS=status unless status is "". Follow it with READY=1 when the reload
// is done.
func (n *Notifier) Reloading(status string) error {
	if !n.Enabled() {
		return nil
	}
	usec, err := monotonicUsec()
	if err != nil {
		return fmt.Errorf("notify reloading: %w", err)
	}
	return n.Send(withStatus("RELOADING=1\nMONOTONIC_USEC="+strconv.FormatInt(usec, 10), status))
}

// Stopping sends STOPPING=1, with STATUS=status unless status is "".
// Only the main process may send it: from an authorised process it stops the
// whole unit, a successor that already took over included.
func (n *Notifier) Stopping(status string) error {
	return n.Send(withStatus("STOPPING=1", status))
}

// Status sends STATUS=s (newlines become spaces).
func (n *Notifier) Status(s string) error {
	return n.Send("STATUS=" + oneLine(s))
}

// MainPID sends MAINPID=pid: the service manager watches pid as the unit's
// main process from now on. Under NotifyAccess=exec it is accepted from the
// main process or the running control process (ExecReload=).
func (n *Notifier) MainPID(pid int) error {
	return n.Send("MAINPID=" + strconv.Itoa(pid))
}

// MainPIDReady sends MAINPID=pid and READY=1 in one message (with
// STATUS=status unless status is ""): the hand-over to a successor that
// serves, ending a reload. The process is also named by its pidfd inode id
// (MAINPIDFDID=, see [MainPIDFields]) when the kernel has one: systemd ≥ 257
// then refuses the message if pid names another process by the time it reads
// it; systemd 252 ignores the field and takes MAINPID= alone.
func (n *Notifier) MainPIDReady(pid int, status string) error {
	if !n.Enabled() {
		return nil
	}
	fields, err := MainPIDFields(pid)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return n.Send(withStatus(fields+"\nREADY=1", status))
}

// MainPIDFields returns "MAINPID=pid", followed by "\nMAINPIDFDID=id" when the
// kernel identifies processes by pidfd inode (pidfs, Linux ≥ 6.9). It fails
// when pid does not exist.
func MainPIDFields(pid int) (string, error) {
	s := "MAINPID=" + strconv.Itoa(pid)
	id, ok, err := PidfdID(pid)
	if err != nil {
		return "", err
	}
	if ok {
		s += "\nMAINPIDFDID=" + strconv.FormatUint(id, 10)
	}
	return s, nil
}

// Watchdog sends WATCHDOG=1.
func (n *Notifier) Watchdog() error {
	return n.Send("WATCHDOG=1")
}

// FDStore pushes files to the service's fd store under name (FDSTORE=1,
// FDNAME=name), split into messages of MaxFDsPerMessage. systemd keeps a
// duplicate of each fd and passes it back in LISTEN_FDS on the next start.
// name must be 1–255 characters without ':' or control characters. Never
// store a socket-activated fd: systemd would pass it twice.
func (n *Notifier) FDStore(name string, files ...*os.File) error {
	if err := checkFDName(name); err != nil {
		return fmt.Errorf("fd store: %w", err)
	}
	if !n.Enabled() || len(files) == 0 {
		return nil
	}
	for len(files) > 0 {
		k := min(len(files), MaxFDsPerMessage)
		if err := n.Send("FDSTORE=1\nFDNAME="+name, files[:k]...); err != nil {
			return fmt.Errorf("fd store %q: %w", name, err)
		}
		files = files[k:]
	}
	return nil
}

// FDStoreRemove removes every fd stored under name (FDSTOREREMOVE=1).
func (n *Notifier) FDStoreRemove(name string) error {
	if err := checkFDName(name); err != nil {
		return fmt.Errorf("fd store remove: %w", err)
	}
	return n.Send("FDSTOREREMOVE=1\nFDNAME=" + name)
}

// Barrier sends BARRIER=1 with the write end of a pipe and waits, at most
// BarrierTimeout, until the service manager closed it: then every message
// sent before has been processed. Use it before exiting after MAINPID= or
// FDSTORE=, so that PID 1 attributes them to this process.
func (n *Notifier) Barrier() error {
	if !n.Enabled() {
		return nil
	}
	timeout := n.BarrierTimeout
	if timeout <= 0 {
		timeout = DefaultBarrierTimeout
	}
	r, w, err := pipe()
	if err != nil {
		return fmt.Errorf("notify barrier: %w", err)
	}
	defer closeFD(r)
	err = n.send("BARRIER=1", []int{w})
	_ = closeFD(w) // PID 1 now holds the only other copy
	if err != nil {
		return fmt.Errorf("notify barrier: %w", err)
	}
	if err := waitHangup(r, timeout); err != nil {
		return fmt.Errorf("notify barrier: %w", err)
	}
	return nil
}

func withStatus(state, status string) string {
	if status == "" {
		return state
	}
	return state + "\nSTATUS=" + oneLine(status)
}

// oneLine keeps a STATUS= text a single assignment.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func checkFDName(name string) error {
	if name == "" || len(name) > maxFDNameLen {
		return fmt.Errorf("name %q: want 1 to %d characters", name, maxFDNameLen)
	}
	for _, c := range name {
		if c == ':' || c < ' ' || c == 0x7f || c > 0x7e {
			return fmt.Errorf("name %q: only printable ASCII without ':' allowed", name)
		}
	}
	return nil
}
