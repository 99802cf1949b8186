package listener

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"lb/internal/config"
	"lb/internal/systemd"
	"lb/internal/ticketkeys"
)

// tlsConfig is tcpConfig with "ssl" on every bind line, set on the loaded
// configuration (the parser's support for ssl is not needed here).
func tlsConfig(t *testing.T, sock string, binds ...string) *config.Config {
	t.Helper()
	cfg := tcpConfig(t, sock, binds...)
	for _, fe := range cfg.Frontends() {
		for _, b := range fe.Binds {
			b.TLS = &config.BindTLS{Config: &tls.Config{}}
		}
	}
	return cfg
}

// serveOnce answers one `_getsocks` on the runtime socket of old with its
// ServeGetSocks, and reports what the old side read after the exchange is
// over (through superseded) on the returned channel.
func serveOnce(t *testing.T, old *Set) <-chan error {
	t.Helper()
	rt := old.StatsSockets()[0].Listener
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
		served <- old.ServeGetSocks(c.(*net.UnixConn), 5*time.Second, func(string) {})
	}()
	return served
}

func fileInode(t *testing.T, f *os.File) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestTicketKeysGenerated: a first process makes keys only when a bind line
// terminates TLS with tickets and no keys of its own.
func TestTicketKeysGenerated(t *testing.T) {
	plain := tcpConfig(t, "", fmt.Sprintf("127.0.0.1:%d", unusedPort(t)))
	s, err := Acquire(plain, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.CloseAll()
	if s.TicketKeys() != nil || s.ticketFile() != nil {
		t.Error("keys made for a configuration without TLS")
	}

	withTLS := tlsConfig(t, "", fmt.Sprintf("127.0.0.1:%d", unusedPort(t)))
	s, err = Acquire(withTLS, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.CloseAll()
	if len(s.TicketKeys()) != 1 || s.ticketFile() == nil {
		t.Errorf("TLS configuration: %d keys, memfd %v; want 1 and a memfd", len(s.TicketKeys()), s.ticketFile())
	}

	for _, tc := range []struct {
		name string
		set  func(*config.BindTLS)
	}{
		{"no-tls-tickets", func(b *config.BindTLS) { b.NoTickets = true }},
		{"tls-ticket-keys", func(b *config.BindTLS) { b.TicketKeys = make([][32]byte, 1) }},
	} {
		cfg := tlsConfig(t, "", fmt.Sprintf("127.0.0.1:%d", unusedPort(t)))
		tc.set(cfg.Frontends()[0].Binds[0].TLS)
		s, err := Acquire(cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.CloseAll()
		if s.TicketKeys() != nil {
			t.Errorf("%s: keys made", tc.name)
		}
	}
}

// TestTicketKeysHandOver: a new Set that fetches the sockets with -x gets
// the old one's keys, the very memfd, on the same connection; the old one
// still learns that it was superseded.
func TestTicketKeysHandOver(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	cfg := tlsConfig(t, sock, fmt.Sprintf("127.0.0.1:%d", unusedPort(t)))
	old, err := Acquire(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer old.CloseAll()
	if old.ticketFile() == nil {
		t.Fatal("the old Set has no keys")
	}
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

	// The new configuration has no TLS: the keys travel on all the same.
	var logs logBuffer
	next, err := Acquire(tcpConfig(t, sock, old.Frontends()[0].Key[len("tcp4 "):]), Options{OldSocket: sock, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer next.CloseAll()
	if !slices.Equal(next.TicketKeys(), old.TicketKeys()) {
		t.Errorf("the new Set's keys differ from the old one's")
	}
	if next.ticketFile() == nil || fileInode(t, next.ticketFile()) != fileInode(t, old.ticketFile()) {
		t.Errorf("the new Set does not hold the old one's memfd")
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
	if strings.Contains(logs.String(), "WARN") {
		t.Errorf("warnings:\n%s", logs.String())
	}
}

// TestTicketKeysFromOldWithout: an old process that offers no keys (HAProxy,
// an older lb: the plain ServeGetSocks) is never asked for them, and the new
// Set makes its own without a warning.
func TestTicketKeysFromOldWithout(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "old.sock")
	l := mustBind(t, Spec{Network: "tcp4", Addr: freePort(t)})
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	after := make(chan string, 1)
	go func() {
		c, err := ul.AcceptUnix()
		if err != nil {
			after <- err.Error()
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		if line, err := r.ReadString('\n'); err != nil || line != GetSocksCommand {
			after <- fmt.Sprintf("command %q, %v", line, err)
			return
		}
		if err := ServeGetSocks(c, []Exported{l.Export()}); err != nil {
			after <- err.Error()
			return
		}
		// Read what the new side sends until it closes: acks only.
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var rest []byte
		buf := make([]byte, 256)
		for !strings.Contains(string(rest), supersededToken) {
			n, err := r.Read(buf)
			rest = append(rest, buf[:n]...)
			if err != nil {
				break
			}
		}
		after <- string(rest)
	}()
	var logs logBuffer
	cfg := tlsConfig(t, "", l.Addr().String())
	start := time.Now()
	next, err := Acquire(cfg, Options{OldSocket: sock, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Acquire took %s: it waited for keys that were not offered", d)
	}
	next.TellSuperseded(1) // closes the connection
	next.CloseAll()
	if len(next.TicketKeys()) != 1 {
		t.Errorf("%d keys; want fresh ones", len(next.TicketKeys()))
	}
	if rest := <-after; strings.Contains(rest, "_lb_ticket_keys") {
		t.Errorf("the keys were asked of an old process that did not offer them: %q", rest)
	}
	if strings.Contains(logs.String(), "WARN") {
		t.Errorf("warnings:\n%s", logs.String())
	}
}

// TestRequestTicketKeysNoAnswer: an old process that closes the connection,
// or answers something else, gives no keys and no descriptor leaks.
func TestRequestTicketKeysNoAnswer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(c *net.UnixConn)
	}{
		{"close", func(c *net.UnixConn) { c.Close() }},
		{"text", func(c *net.UnixConn) { c.Write([]byte("Unknown command: '_lb_ticket_keys'\n")) }},
		{"fd with text", func(c *net.UnixConn) {
			f, _ := os.Open(os.DevNull)
			defer f.Close()
			c.WriteMsgUnix([]byte("Unknown command\n"), unix.UnixRights(int(f.Fd())), nil)
		}},
		{"reply without fd", func(c *net.UnixConn) { c.Write([]byte(ticketKeysReply)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := unixPair(t)
			go func() {
				buf := make([]byte, len(ticketKeysRequest))
				a.Read(buf)
				tc.answer(a)
			}()
			f, err := requestTicketKeys(b)
			if f != nil {
				f.Close()
				t.Fatalf("requestTicketKeys = a file, %v; want none", err)
			}
			if tc.name == "reply without fd" && err != nil {
				t.Errorf("requestTicketKeys = %v; want no error", err)
			}
		})
	}
}

// TestTicketKeysPassOnInherit: a child generation inherits the keys' memfd
// with the listeners; it does not count as a listener.
func TestTicketKeysPassOnInherit(t *testing.T) {
	cfg := tlsConfig(t, "", fmt.Sprintf("127.0.0.1:%d", unusedPort(t)))
	s, err := Acquire(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.CloseAll()
	files, passed := s.PassOn()
	if len(files) != 2 || passed[1].Key != ticketkeys.Name {
		t.Fatalf("PassOn = %d files, %+v; want the listener and the keys", len(files), passed)
	}
	next, err := Inherit(cfg, files, passed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer next.CloseAll()
	if !slices.Equal(next.TicketKeys(), s.TicketKeys()) || fileInode(t, next.ticketFile()) != fileInode(t, s.ticketFile()) {
		t.Error("the successor's keys are not its predecessor's")
	}
	if next.Count() != 1 {
		t.Errorf("the successor has %d listeners; want 1", next.Count())
	}

	// The successor made by ForSuccessor carries them too.
	succ, err := s.ForSuccessor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer succ.Discard()
	if succ.ticketFile() != s.ticketFile() {
		t.Error("ForSuccessor dropped the keys")
	}
}

// TestTicketKeysFDStore: the keys go to the fd store under their name and
// come back from it on a restart; a stored memfd that does not read well is
// replaced (and removed from the store) while the listeners are adopted.
func TestTicketKeysFDStore(t *testing.T) {
	cfg := tlsConfig(t, "", fmt.Sprintf("127.0.0.1:%d", unusedPort(t)))
	fds := &fakeStore{}
	s, err := Acquire(cfg, Options{FDStore: fds})
	if err != nil {
		t.Fatal(err)
	}
	defer s.CloseAll()
	s.Store()
	if !slices.Contains(fds.stored, ticketkeys.Name) {
		t.Fatalf("stored %v; want %s among them", fds.stored, ticketkeys.Name)
	}

	// A restart: systemd passes the stored listener and the keys back.
	ln, err := dupFile(s.Frontends()[0].Listener.File())
	if err != nil {
		t.Fatal(err)
	}
	kf, err := dupFile(s.ticketFile())
	if err != nil {
		t.Fatal(err)
	}
	acts := []systemd.Activated{
		{Name: ticketkeys.Name, File: kf},
		{Name: StoreName(s.Frontends()[0].Key), File: ln},
	}
	var logs logBuffer
	fds2 := &fakeStore{}
	next, err := Acquire(cfg, Options{Activated: acts, FDStore: fds2, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer next.CloseAll()
	if !slices.Equal(next.TicketKeys(), s.TicketKeys()) {
		t.Error("the keys did not come back from the fd store")
	}
	if strings.Contains(logs.String(), "WARN") {
		t.Errorf("warnings:\n%s", logs.String())
	}
	next.Store()
	if slices.Contains(fds2.removed, ticketkeys.Name) {
		t.Errorf("the good keys were removed from the store: %v", fds2.removed)
	}

	// An unsealed memfd under the keys' name: fresh keys, the listener adopted.
	bad, err := unix.MemfdCreate("bad", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	badFile := os.NewFile(uintptr(bad), "bad")
	badFile.Write(make([]byte, 32))
	ln, err = dupFile(s.Frontends()[0].Listener.File())
	if err != nil {
		t.Fatal(err)
	}
	acts = []systemd.Activated{
		{Name: ticketkeys.Name, File: badFile},
		{Name: StoreName(s.Frontends()[0].Key), File: ln},
	}
	logs = logBuffer{}
	fds3 := &fakeStore{}
	third, err := Acquire(cfg, Options{Activated: acts, FDStore: fds3, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer third.CloseAll()
	if !closed(badFile) {
		t.Error("the refused memfd was left open")
	}
	if len(third.TicketKeys()) != 1 || slices.Equal(third.TicketKeys(), s.TicketKeys()) {
		t.Error("no fresh keys after a bad stored memfd")
	}
	if fileInode(t, third.Frontends()[0].Listener.File()) != fileInode(t, s.Frontends()[0].Listener.File()) {
		t.Error("the stored listener was not adopted")
	}
	if !strings.Contains(logs.String(), "unusable") {
		t.Errorf("no warning about the bad keys:\n%s", logs.String())
	}
	third.Store()
	ri, si := slices.Index(fds3.removed, ticketkeys.Name), slices.Index(fds3.stored, ticketkeys.Name)
	if ri < 0 || si < 0 {
		t.Errorf("removed %v, stored %v; want the bad keys removed and the new ones stored", fds3.removed, fds3.stored)
	}
}

// TestHAProxyFetchesFromLBWithKeys: a real HAProxy 2.6 started with -x
// against an lb Set that has ticket keys takes lb's listening socket and
// never receives the keys' memfd.
func TestHAProxyFetchesFromLBWithKeys(t *testing.T) {
	haproxyBin(t)
	dir := t.TempDir()
	lbSock := filepath.Join(dir, "lb.sock")
	addr := freePort(t)
	old, err := Acquire(tlsConfig(t, lbSock, addr), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer old.CloseAll()
	if old.ticketFile() == nil {
		t.Fatal("the lb Set has no keys")
	}
	served := serveOnce(t, old)
	haSock := filepath.Join(dir, "ha.sock")
	cfg := fmt.Sprintf(`global
    stats socket %s mode 600 level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind %s
    default_backend be
backend be
    server s1 127.0.0.1:9 disabled
`, haSock, addr)
	cmd := startHAProxy(t, cfg, haSock, "-x", lbSock)
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("ServeGetSocks = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("haproxy never asked for the sockets, or kept the connection open")
	}
	l := old.Frontends()[0].Listener
	ino := inode(t, l.File())
	if !procSocketInodes(t, cmd.Process.Pid)[ino] {
		t.Errorf("haproxy does not hold lb's listening socket (inode %d)", ino)
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", cmd.Process.Pid, e.Name()))
		if strings.Contains(link, ticketkeys.Name) {
			t.Errorf("haproxy holds the keys' memfd as fd %s (%s)", e.Name(), link)
		}
	}
}
