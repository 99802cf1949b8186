package systemd

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeManager is the service manager's side of NOTIFY_SOCKET: a real unixgram
// socket in t.TempDir().
type fakeManager struct {
	conn *net.UnixConn
	addr string
}

func newFakeManager(t *testing.T, abstract bool) *fakeManager {
	t.Helper()
	addr := filepath.Join(t.TempDir(), "notify")
	if abstract {
		addr = "@lb-notify-test-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %q: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", addr)
	return &fakeManager{conn: conn, addr: addr}
}

type notifyMsg struct {
	state string
	files []*os.File
}

// recv reads one message with its fds; safe to call off the test goroutine.
func (m *fakeManager) recv() (notifyMsg, error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(MaxFDsPerMessage*4))
	m.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, oobn, flags, _, err := m.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return notifyMsg{}, err
	}
	if flags&unix.MSG_CTRUNC != 0 {
		return notifyMsg{}, errors.New("control data truncated")
	}
	msg := notifyMsg{state: string(buf[:n])}
	cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return msg, err
	}
	for _, c := range cmsgs {
		fds, err := unix.ParseUnixRights(&c)
		if err != nil {
			return msg, err
		}
		for _, fd := range fds {
			msg.files = append(msg.files, os.NewFile(uintptr(fd), "received"))
		}
	}
	return msg, nil
}

func (m *fakeManager) mustRecv(t *testing.T) notifyMsg {
	t.Helper()
	msg, err := m.recv()
	if err != nil {
		t.Fatalf("receive notification: %v", err)
	}
	t.Cleanup(func() {
		for _, f := range msg.files {
			f.Close()
		}
	})
	return msg
}

func openTestNotifier(t *testing.T) *Notifier {
	t.Helper()
	n, err := OpenNotifier()
	if err != nil {
		t.Fatalf("OpenNotifier() = %v", err)
	}
	t.Cleanup(func() { n.Close() })
	if !n.Enabled() {
		t.Fatal("OpenNotifier().Enabled() = false; want true")
	}
	return n
}

func TestNotifyMessages(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run("abstract="+strconv.FormatBool(abstract), func(t *testing.T) {
			m := newFakeManager(t, abstract)
			n := openTestNotifier(t)
			tests := []struct {
				name string
				send func() error
				want string
			}{
				{"ready", func() error { return n.Ready("") }, "READY=1"},
				{"ready+status", func() error { return n.Ready("2 listeners, 3/3 servers up") }, "READY=1\nSTATUS=2 listeners, 3/3 servers up"},
				{"status one line", func() error { return n.Status("a\nb") }, "STATUS=a b"},
				{"stopping", func() error { return n.Stopping("") }, "STOPPING=1"},
				{"stopping+status", func() error { return n.Stopping("draining") }, "STOPPING=1\nSTATUS=draining"},
				{"watchdog", n.Watchdog, "WATCHDOG=1"},
				{"mainpid", func() error { return n.MainPID(4242) }, "MAINPID=4242"},
				{"mainpid+ready", func() error { return n.MainPIDReady(os.Getpid(), "reloaded") }, mainPIDWant(t, os.Getpid()) + "\nREADY=1\nSTATUS=reloaded"},
				{"fdstore remove", func() error { return n.FDStoreRemove("http") }, "FDSTOREREMOVE=1\nFDNAME=http"},
				{"raw", func() error { return n.Send("EXTEND_TIMEOUT_USEC=1000000") }, "EXTEND_TIMEOUT_USEC=1000000"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					if err := tt.send(); err != nil {
						t.Fatalf("send = %v; want nil", err)
					}
					msg := m.mustRecv(t)
					if msg.state != tt.want {
						t.Errorf("got %q; want %q", msg.state, tt.want)
					}
					if len(msg.files) != 0 {
						t.Errorf("got %d fds; want none", len(msg.files))
					}
				})
			}
		})
	}
}

func TestNotifyReloadingMonotonic(t *testing.T) {
	m := newFakeManager(t, false)
	n := openTestNotifier(t)
	before, _ := monotonicUsec()
	if err := n.Reloading("reloading configuration"); err != nil {
		t.Fatalf("Reloading() = %v", err)
	}
	after, _ := monotonicUsec()
	msg := m.mustRecv(t)
	lines := strings.Split(msg.state, "\n")
	if len(lines) != 3 || lines[0] != "RELOADING=1" || lines[2] != "STATUS=reloading configuration" {
		t.Fatalf("Reloading() sent %q; want RELOADING=1, MONOTONIC_USEC=, STATUS=", msg.state)
	}
	v, ok := strings.CutPrefix(lines[1], "MONOTONIC_USEC=")
	if !ok {
		t.Fatalf("second line %q; want MONOTONIC_USEC=", lines[1])
	}
	usec, err := strconv.ParseInt(v, 10, 64)
	if err != nil || usec < before || usec > after {
		t.Errorf("MONOTONIC_USEC=%s; want a CLOCK_MONOTONIC µs value in [%d, %d]", v, before, after)
	}
}

func sameFile(t *testing.T, a, b *os.File) bool {
	t.Helper()
	sa, sb := fstat(t, a), fstat(t, b)
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// fstat avoids File.Fd, which would make the file blocking.
func fstat(t *testing.T, f *os.File) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	var err error
	rc, cerr := f.SyscallConn()
	if cerr != nil {
		t.Fatalf("SyscallConn: %v", cerr)
	}
	rc.Control(func(fd uintptr) { err = unix.Fstat(int(fd), &st) })
	if err != nil {
		t.Fatalf("fstat: %v", err)
	}
	return st
}

func listenTCPFile(t *testing.T) (*net.TCPListener, *os.File) {
	t.Helper()
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	f, err := ln.File()
	if err != nil {
		t.Fatalf("listener file: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return ln, f
}

func TestNotifyFDStore(t *testing.T) {
	m := newFakeManager(t, false)
	n := openTestNotifier(t)
	ln1, f1 := listenTCPFile(t)
	ln2, f2 := listenTCPFile(t)

	if err := n.FDStore("http", f1, f2); err != nil {
		t.Fatalf("FDStore() = %v", err)
	}
	msg := m.mustRecv(t)
	if want := "FDSTORE=1\nFDNAME=http"; msg.state != want {
		t.Errorf("FDStore sent %q; want %q", msg.state, want)
	}
	if len(msg.files) != 2 {
		t.Fatalf("FDStore passed %d fds; want 2", len(msg.files))
	}
	for i, pair := range []struct {
		ln   *net.TCPListener
		sent *os.File
	}{{ln1, f1}, {ln2, f2}} {
		got := msg.files[i]
		if !sameFile(t, got, pair.sent) {
			t.Errorf("fd %d: received a different socket (inode) than sent", i)
		}
		addr, err := LocalAddr(got)
		if err != nil {
			t.Fatalf("LocalAddr(received %d) = %v", i, err)
		}
		if addr.String() != pair.ln.Addr().String() {
			t.Errorf("fd %d: local address %v; want %v", i, addr, pair.ln.Addr())
		}
	}

	// The listener still accepts in non-blocking mode: FDStore must not
	// have flipped the shared file description to blocking.
	var flags int
	rc, _ := f1.SyscallConn()
	rc.Control(func(fd uintptr) { flags, _ = unix.FcntlInt(fd, unix.F_GETFL, 0) })
	if flags&unix.O_NONBLOCK == 0 {
		t.Errorf("FDStore left the listener blocking")
	}
}

func TestNotifyFDStoreSplit(t *testing.T) {
	m := newFakeManager(t, false)
	n := openTestNotifier(t)
	_, f := listenTCPFile(t)
	files := make([]*os.File, 300)
	for i := range files {
		files[i] = f
	}
	if err := n.FDStore("many", files...); err != nil {
		t.Fatalf("FDStore(300 fds) = %v", err)
	}
	for i, want := range []int{MaxFDsPerMessage, 300 - MaxFDsPerMessage} {
		msg := m.mustRecv(t)
		if msg.state != "FDSTORE=1\nFDNAME=many" || len(msg.files) != want {
			t.Errorf("message %d: %q with %d fds; want FDSTORE=1 FDNAME=many with %d", i, msg.state, len(msg.files), want)
		}
	}
}

func TestNotifyFDNameInvalid(t *testing.T) {
	newFakeManager(t, false)
	n := openTestNotifier(t)
	_, f := listenTCPFile(t)
	for _, name := range []string{"", "a:b", "tab\there", strings.Repeat("x", 256), "é"} {
		if err := n.FDStore(name, f); err == nil {
			t.Errorf("FDStore(%q) = nil; want an error", name)
		}
		if err := n.FDStoreRemove(name); err == nil {
			t.Errorf("FDStoreRemove(%q) = nil; want an error", name)
		}
	}
}

func TestNotifyBarrier(t *testing.T) {
	m := newFakeManager(t, false)
	n := openTestNotifier(t)
	got := make(chan notifyMsg, 1)
	errc := make(chan error, 1)
	go func() {
		msg, err := m.recv()
		if err != nil {
			errc <- err
			return
		}
		got <- msg
		for _, f := range msg.files {
			f.Close() // what PID 1 does once it processed the message
		}
	}()
	if err := n.Barrier(); err != nil {
		t.Fatalf("Barrier() = %v", err)
	}
	select {
	case err := <-errc:
		t.Fatalf("receive: %v", err)
	case msg := <-got:
		if msg.state != "BARRIER=1" || len(msg.files) != 1 {
			t.Errorf("Barrier sent %q with %d fds; want BARRIER=1 with 1", msg.state, len(msg.files))
		}
	}
}

func TestNotifyBarrierTimeout(t *testing.T) {
	m := newFakeManager(t, false)
	n := openTestNotifier(t)
	n.BarrierTimeout = 50 * time.Millisecond
	// Nobody reads: the barrier fd stays queued in the socket, open.
	err := n.Barrier()
	if !errors.Is(err, errBarrierTimeout) {
		t.Errorf("Barrier() with a silent manager = %v; want %v", err, errBarrierTimeout)
	}
	m.mustRecv(t) // drain, closes the fd
}

func TestNotifyAfterPathVanished(t *testing.T) {
	// As inside a chroot: the path is unreachable, the socket is still there.
	m := newFakeManager(t, false)
	n := openTestNotifier(t)
	if err := os.Remove(m.addr); err != nil {
		t.Fatal(err)
	}
	if err := n.Ready(""); err != nil {
		t.Fatalf("Ready() after unlink = %v", err)
	}
	if msg := m.mustRecv(t); msg.state != "READY=1" {
		t.Errorf("got %q; want READY=1", msg.state)
	}
}

func TestNotifyReconnect(t *testing.T) {
	m := newFakeManager(t, false)
	n := openTestNotifier(t)
	// The manager re-creates its socket at the same path.
	m.conn.Close()
	os.Remove(m.addr)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: m.addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	m2 := &fakeManager{conn: conn, addr: m.addr}
	if err := n.Status("again"); err != nil {
		t.Fatalf("Status() after socket re-creation = %v", err)
	}
	if msg := m2.mustRecv(t); msg.state != "STATUS=again" {
		t.Errorf("got %q; want STATUS=again", msg.state)
	}
}

func TestNotifyDisabled(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n, err := OpenNotifier()
	if err != nil {
		t.Fatalf("OpenNotifier() without NOTIFY_SOCKET = %v; want nil", err)
	}
	_, f := listenTCPFile(t)
	for _, n := range []*Notifier{n, nil} {
		if n.Enabled() {
			t.Errorf("Enabled() = true; want false")
		}
		for name, err := range map[string]error{
			"Send": n.Send("READY=1"), "Ready": n.Ready("x"), "Reloading": n.Reloading(""),
			"Stopping": n.Stopping(""), "Status": n.Status("x"), "MainPID": n.MainPID(1),
			"MainPIDReady": n.MainPIDReady(1, ""), "Watchdog": n.Watchdog(),
			"FDStore": n.FDStore("x", f), "FDStoreRemove": n.FDStoreRemove("x"),
			"Barrier": n.Barrier(), "Close": n.Close(),
		} {
			if err != nil {
				t.Errorf("%s() on a disabled notifier = %v; want nil", name, err)
			}
		}
	}
}

func TestNotifyOpenErrors(t *testing.T) {
	for _, addr := range []string{"relative/path", filepath.Join(t.TempDir(), "missing")} {
		n, err := NewNotifier(addr)
		if err == nil {
			t.Errorf("NewNotifier(%q) = nil error; want one", addr)
		}
		if n == nil || n.Enabled() {
			t.Errorf("NewNotifier(%q) returned an enabled or nil notifier; want a disabled one", addr)
		}
	}
}

// mainPIDWant is what MainPIDReady sends to name pid on this kernel.
func mainPIDWant(t *testing.T, pid int) string {
	t.Helper()
	id, ok, err := PidfdID(pid)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return "MAINPID=" + strconv.Itoa(pid)
	}
	return "MAINPID=" + strconv.Itoa(pid) + "\nMAINPIDFDID=" + strconv.FormatUint(id, 10)
}

// TestPidfdID: each process has its own id (on pidfs kernels), stable while it runs, and a
// process that has gone is an error, so MainPIDReady never names it.
func TestPidfdID(t *testing.T) {
	self1, ok, err := PidfdID(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skip("this kernel has no pidfs (Linux < 6.9): MAINPID= is sent alone")
	}
	self2, _, _ := PidfdID(os.Getpid())
	if self1 != self2 || self1 == 0 {
		t.Errorf("PidfdID(self) = %d then %d; want one stable non-zero id", self1, self2)
	}
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child, _, err := PidfdID(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if child == self1 {
		t.Errorf("a child has the same pidfd id %d as this process", child)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if _, _, err := PidfdID(cmd.Process.Pid); err == nil {
		t.Errorf("PidfdID of a reaped process succeeded")
	}
	m := newFakeManager(t, false)
	n := openTestNotifier(t)
	if err := n.MainPIDReady(cmd.Process.Pid, ""); err == nil {
		t.Errorf("MainPIDReady named a process that has gone")
	}
	if err := n.MainPIDReady(os.Getpid(), ""); err != nil {
		t.Fatal(err)
	}
	want := "MAINPID=" + strconv.Itoa(os.Getpid()) + "\nMAINPIDFDID=" + strconv.FormatUint(self1, 10) + "\nREADY=1"
	if msg := m.mustRecv(t); msg.state != want {
		t.Errorf("MainPIDReady sent %q; want %q", msg.state, want)
	}
}
