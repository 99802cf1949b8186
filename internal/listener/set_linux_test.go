package listener

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lb/internal/config"
	"lb/internal/systemd"
)

// loadConfig loads text as a configuration file; it fails the test on an alert.
func loadConfig(t *testing.T, text string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lb.cfg")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load([]string{path}, config.Options{})
	for _, d := range diags {
		if d.Severity == config.Alert {
			t.Fatalf("config: %s", d)
		}
	}
	return cfg
}

// tcpConfig declares one listen section "app" binding each address, and a stats socket
// when sock is not empty.
func tcpConfig(t *testing.T, sock string, binds ...string) *config.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString("global\n")
	if sock != "" {
		fmt.Fprintf(&b, "    stats socket %s mode 600 level admin expose-fd listeners\n", sock)
	}
	b.WriteString("defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nlisten app\n")
	for _, a := range binds {
		fmt.Fprintf(&b, "    bind %s\n", a)
	}
	b.WriteString("    server s1 127.0.0.1:9\n")
	return loadConfig(t, b.String())
}

// logBuffer is a logger whose lines a test reads back.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fakeStore records what a Set asks of systemd's fd store.
type fakeStore struct {
	mu      sync.Mutex
	stored  []string
	removed []string
}

func (f *fakeStore) FDStore(name string, _ ...*os.File) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stored = append(f.stored, name)
	return nil
}

func (f *fakeStore) FDStoreRemove(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, name)
	return nil
}

// heldPort listens on a free port of 127.0.0.1 without SO_REUSEPORT, so that a Bind of the
// same address fails with EADDRINUSE until the returned listener is closed.
func heldPort(t *testing.T) (net.Listener, int) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, ln.Addr().(*net.TCPAddr).Port
}

// listenerFile returns a listening TCP socket on a free port of 127.0.0.1, as systemd or
// another process would pass it, and the port.
func listenerFile(t *testing.T) (*os.File, int) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	return f, ln.Addr().(*net.TCPAddr).Port
}

// unusedPort returns a port of 127.0.0.1 that was free a moment ago.
func unusedPort(t *testing.T) int {
	t.Helper()
	ln, port := heldPort(t)
	ln.Close()
	return port
}

func closed(f *os.File) bool {
	_, err := f.Stat()
	return errors.Is(err, os.ErrClosed)
}

func TestKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		addr config.BindAddr
		want string
	}{
		{"tcp4", config.BindAddr{Network: "tcp4", Host: "127.0.0.1", Port: 80}, "tcp4 127.0.0.1:80"},
		{"tcp4 any", config.BindAddr{Network: "tcp4", Host: "*", Port: 80}, "tcp4 0.0.0.0:80"},
		{"tcp4 empty", config.BindAddr{Network: "tcp4", Port: 80}, "tcp4 0.0.0.0:80"},
		{"tcp6 any", config.BindAddr{Network: "tcp6", Port: 443}, "tcp6 [::]:443"},
		{"tcp6 canonical", config.BindAddr{Network: "tcp6", Host: "2001:DB8:0:0::1", Port: 443}, "tcp6 [2001:db8::1]:443"},
		{"unix", config.BindAddr{Network: "unix", Path: "/run/lb/admin.sock"}, "unix /run/lb/admin.sock"},
		{"abns", config.BindAddr{Network: "abns", Path: "lb"}, "abns lb"},
		{"fd", config.BindAddr{Network: "fd", FD: 3}, "fd 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Key(tc.addr); got != tc.want {
				t.Errorf("Key(%+v) = %q; want %q", tc.addr, got, tc.want)
			}
		})
	}
}

func TestStoreName(t *testing.T) {
	if got, want := StoreName("tcp6 [::]:443"), "lbstored-tcp6-[__]_443"; got != want {
		t.Errorf("StoreName = %q; want %q", got, want)
	}
	long := StoreName("unix /" + strings.Repeat("a", 300))
	if len(long) != 255 || !strings.HasPrefix(long, StoredPrefix) {
		t.Errorf("StoreName of a long key: %d bytes %q; want 255 starting with %q", len(long), long[:20], StoredPrefix)
	}
}

// TestSocketKey: the key of an open socket is the key of the address it was bound to, a
// unix socket's without the suffix of its rename-bind.
func TestSocketKey(t *testing.T) {
	f, port := listenerFile(t)
	defer f.Close()
	if got, want := socketKey(f), fmt.Sprintf("tcp4 127.0.0.1:%d", port); got != want {
		t.Errorf("socketKey(tcp) = %q; want %q", got, want)
	}
	path := filepath.Join(t.TempDir(), "s.sock")
	l := mustBind(t, Spec{Network: "unix", Addr: path, UID: -1, GID: -1})
	defer l.Close()
	if got, want := socketKey(l.File()), "unix "+path; got != want {
		t.Errorf("socketKey(unix) = %q; want %q", got, want)
	}
	l2 := mustBind(t, Spec{Network: "abns", Addr: "lb-test-key-" + filepath.Base(t.TempDir())})
	defer l2.Close()
	if got, want := socketKey(l2.File()), "abns "+l2.Spec().Addr; got != want {
		t.Errorf("socketKey(abns) = %q; want %q", got, want)
	}
}

// TestAcquireOrder: each bind line takes, in order, an activated socket named like it, a
// stored one at its address, and otherwise binds; what nobody claims is closed, logged, and
// the stored names dropped are forgotten.
func TestAcquireOrder(t *testing.T) {
	named, namedPort := listenerFile(t)
	stored, storedPort := listenerFile(t)
	unclaimed, _ := listenerFile(t)
	staleStore, _ := listenerFile(t)
	freePort := unusedPort(t)

	cfg := tcpConfig(t, "",
		fmt.Sprintf("127.0.0.1:%d name web", namedPort),
		fmt.Sprintf("127.0.0.1:%d", storedPort),
		fmt.Sprintf("127.0.0.1:%d", freePort))
	var logs logBuffer
	fds := &fakeStore{}
	s, err := Acquire(cfg, Options{
		Activated: []systemd.Activated{
			{Name: "other", File: unclaimed},
			{Name: StoredPrefix + "stale", File: staleStore},
			{Name: StoredPrefix + "x", File: stored},
			{Name: "web", File: named},
		},
		FDStore: fds,
		Logger:  logs.logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.CloseAll()
	es := s.Frontends()
	if len(es) != 3 {
		t.Fatalf("%d frontend entries; want 3", len(es))
	}
	for i, want := range []struct {
		origin, as Origin
	}{{Activated, Activated}, {Self, Stored}, {Self, Self}} {
		if es[i].origin != want.origin || es[i].Listener.Origin() != want.as {
			t.Errorf("entry %d (%s): origin %s, listener %s; want %s, %s", i, es[i].Key, es[i].origin, es[i].Listener.Origin(), want.origin, want.as)
		}
	}
	if !closed(unclaimed) || !closed(staleStore) {
		t.Errorf("unclaimed sockets left open: activated %v, stored %v", !closed(unclaimed), !closed(staleStore))
	}
	if !strings.Contains(logs.String(), "claimed by no bind line") || !strings.Contains(logs.String(), "name=other") {
		t.Errorf("no warning for the unclaimed activated socket:\n%s", logs.String())
	}
	s.Store()
	// The stale one goes, and the name of the socket bound here is cleared first (an old
	// process's socket of that name would otherwise stay stored beside it).
	if want := []string{StoredPrefix + "stale", StoreName(es[2].Key)}; fmt.Sprint(fds.removed) != fmt.Sprint(want) {
		t.Errorf("Store removed %v; want %v", fds.removed, want)
	}
	// The stored socket and the bound one go to the store, the activated one never.
	want := []string{StoreName(es[1].Key), StoreName(es[2].Key)}
	if fmt.Sprint(fds.stored) != fmt.Sprint(want) {
		t.Errorf("Store stored %v; want %v", fds.stored, want)
	}
	if s.Count() != 3 {
		t.Errorf("Count = %d; want 3", s.Count())
	}
}

// TestAcquirePausesOld: an address in use is retried while the old processes are paused,
// and they are resumed when the address stays taken for 2 s.
func TestAcquirePausesOld(t *testing.T) {
	t.Run("freed", func(t *testing.T) {
		held, port := heldPort(t)
		paused := 0
		s, err := Acquire(tcpConfig(t, "", fmt.Sprintf("127.0.0.1:%d", port)), Options{
			PauseOld:  func() bool { paused++; held.Close(); return true },
			ResumeOld: func() { t.Error("ResumeOld called after a successful bind") },
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.CloseAll()
		if paused != 1 || !s.PausedOld() {
			t.Errorf("PauseOld called %d times, PausedOld %v; want once, true", paused, s.PausedOld())
		}
	})
	t.Run("stays taken", func(t *testing.T) {
		if testing.Short() {
			t.Skip("waits 2 s")
		}
		_, port := heldPort(t)
		resumed := 0
		_, err := Acquire(tcpConfig(t, "", fmt.Sprintf("127.0.0.1:%d", port)), Options{
			PauseOld:  func() bool { return true },
			ResumeOld: func() { resumed++ },
		})
		if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "stayed in use for 2s") {
			t.Errorf("Acquire = %v; want EADDRINUSE after 2s", err)
		}
		if resumed != 1 {
			t.Errorf("ResumeOld called %d times; want 1", resumed)
		}
	})
	t.Run("no old process", func(t *testing.T) {
		_, port := heldPort(t)
		_, err := Acquire(tcpConfig(t, "", fmt.Sprintf("127.0.0.1:%d", port)), Options{})
		if !errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "2s") {
			t.Errorf("Acquire = %v; want EADDRINUSE at once", err)
		}
	})
}

// TestHandOver: a new Set takes the old one's sockets over its runtime socket (-x), the
// same sockets, and tells it that it took over on the same connection.
func TestHandOver(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	port := unusedPort(t)
	cfg := tcpConfig(t, sock, fmt.Sprintf("127.0.0.1:%d", port))
	old, err := Acquire(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer old.CloseAll()
	rt := old.StatsSockets()[0].Listener
	got := make(chan string, 1)
	served := make(chan error, 1)
	go func() {
		c, err := rt.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		line := make([]byte, len(GetSocksCommand))
		if _, err := c.Read(line); err != nil {
			served <- err
			return
		}
		served <- old.ServeGetSocks(c.(*net.UnixConn), 5*time.Second, func(pid string) { got <- pid })
	}()

	// The new configuration keeps the address and the stats socket, and drops nothing.
	fds := &fakeStore{}
	next, err := Acquire(cfg, Options{OldSocket: sock, FDStore: fds})
	if err != nil {
		t.Fatal(err)
	}
	defer next.CloseAll()
	if a, b := inode(t, old.Frontends()[0].Listener.File()), inode(t, next.Frontends()[0].Listener.File()); a != b {
		t.Errorf("the new Set's listener is inode %d; want the old one's, %d", b, a)
	}
	if o := next.Frontends()[0]; o.origin != Self || o.Listener.Origin() != Handed {
		t.Errorf("handed-over entry: origin %s, listener %s; want self, handed", o.origin, o.Listener.Origin())
	}
	next.TellSuperseded(4242)
	select {
	case pid := <-got:
		if pid != "4242" {
			t.Errorf("superseded(%q); want 4242", pid)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the old Set was not told")
	}
	if err := <-served; err != nil {
		t.Errorf("ServeGetSocks: %v", err)
	}
	next.UnstoreDropped()
	if len(fds.removed) != 0 {
		t.Errorf("UnstoreDropped removed %v; want nothing", fds.removed)
	}
}

// TestPassOnInherit: a successor inherits the very sockets its predecessor passed, with
// their origins; a listener with no socket passed fails, closing what was taken.
func TestPassOnInherit(t *testing.T) {
	port := unusedPort(t)
	cfg := tcpConfig(t, "", fmt.Sprintf("127.0.0.1:%d", port))
	s, err := Acquire(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.CloseAll()
	files, passed := s.PassOn()
	if len(files) != 1 || passed[0].Origin != "self" || passed[0].Key != fmt.Sprintf("tcp4 127.0.0.1:%d", port) {
		t.Fatalf("PassOn = %d files, %+v", len(files), passed)
	}
	want := inode(t, s.Frontends()[0].Listener.File())
	next, err := Inherit(cfg, files, passed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer next.CloseAll()
	e := next.Frontends()[0]
	if got := inode(t, e.Listener.File()); got != want || e.origin != Self || e.Listener.Origin() != Handed {
		t.Errorf("inherited inode %d origin %s listener %s; want %d self handed", got, e.origin, e.Listener.Origin(), want)
	}

	files, passed = s.PassOn()
	_, err = Inherit(tcpConfig(t, "", "127.0.0.1:1"), files, passed, Options{})
	if err == nil || !strings.Contains(err.Error(), "no socket inherited for tcp4 127.0.0.1:1") {
		t.Errorf("Inherit without the socket = %v", err)
	}
	for _, f := range files {
		if !closed(f) {
			t.Errorf("Inherit left a passed file open after failing")
		}
	}
}

// TestForSuccessor: the successor's Set shares the sockets of the addresses both have and
// binds the new ones, which Discard closes; the dropped self-bound address leaves the fd
// store.
func TestForSuccessor(t *testing.T) {
	pa, pb, pc := unusedPort(t), unusedPort(t), unusedPort(t)
	fds := &fakeStore{}
	s, err := Acquire(tcpConfig(t, "", fmt.Sprintf("127.0.0.1:%d", pa), fmt.Sprintf("127.0.0.1:%d", pb)), Options{FDStore: fds})
	if err != nil {
		t.Fatal(err)
	}
	defer s.CloseAll()
	next, err := s.ForSuccessor(tcpConfig(t, "", fmt.Sprintf("127.0.0.1:%d", pa), fmt.Sprintf("127.0.0.1:%d", pc)))
	if err != nil {
		t.Fatal(err)
	}
	shared, fresh := next.Frontends()[0], next.Frontends()[1]
	if shared.Listener != s.Frontends()[0].Listener || shared.fresh {
		t.Errorf("the address both have is not shared")
	}
	if !fresh.fresh {
		t.Errorf("the new address is not marked fresh")
	}
	s.UnstoreDroppedFor(next)
	if want := []string{StoreName(fmt.Sprintf("tcp4 127.0.0.1:%d", pb))}; fmt.Sprint(fds.removed) != fmt.Sprint(want) {
		t.Errorf("UnstoreDroppedFor removed %v; want %v", fds.removed, want)
	}
	next.Discard()
	if _, err := fresh.Listener.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept on a discarded fresh listener: %v; want net.ErrClosed", err)
	}
	if shared.Listener.Paused() {
		t.Errorf("shared listener paused")
	}
	if err := shared.Listener.Pause(); err != nil {
		t.Errorf("the shared listener was closed by Discard: %v", err)
	}
}

// TestSetPaused: pausing pauses every frontend listener, not the stats sockets, and logs
// HAProxy's line once per frontend.
func TestSetPaused(t *testing.T) {
	var logs logBuffer
	binds := []string{fmt.Sprintf("127.0.0.1:%d", unusedPort(t)), fmt.Sprintf("127.0.0.1:%d", unusedPort(t))}
	s, err := Acquire(tcpConfig(t, filepath.Join(t.TempDir(), "admin.sock"), binds...), Options{Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.CloseAll()
	s.SetPaused(true)
	for _, e := range s.Frontends() {
		if !e.Listener.Paused() {
			t.Errorf("%s not paused", e.Key)
		}
	}
	if s.StatsSockets()[0].Listener.Paused() {
		t.Errorf("the stats socket was paused")
	}
	if n := strings.Count(logs.String(), "Paused proxy app."); n != 1 {
		t.Errorf("%d lines \"Paused proxy app.\"; want 1:\n%s", n, logs.String())
	}
	s.SetPaused(false)
	for _, e := range s.Frontends() {
		if e.Listener.Paused() {
			t.Errorf("%s still paused", e.Key)
		}
	}
	if !strings.Contains(logs.String(), "Resumed proxy app.") {
		t.Errorf("no \"Resumed proxy app.\":\n%s", logs.String())
	}
	s.CloseAll()
	s.CloseAll() // idempotent
}
