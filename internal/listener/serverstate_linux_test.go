package listener

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lb/internal/srvstate"
	"lb/internal/systemd"
)

// TestServerStateTravels: the state a Set is given reaches the process that takes over
// by the three ways its listeners do: -x (after the ticket keys, on the same
// connection), a child generation's inherited descriptors, and the fd store, where each
// change replaces the previous memfd.
func TestServerStateTravels(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	cfg := tlsConfig(t, sock, fmt.Sprintf("127.0.0.1:%d", unusedPort(t)))
	fds := &fakeStore{}
	old, err := Acquire(cfg, Options{FDStore: fds})
	if err != nil {
		t.Fatal(err)
	}
	defer old.CloseAll()
	if b, _ := old.ServerState(); b != nil {
		t.Fatalf("a first process received a state: %q", b)
	}
	old.SetServerState([]byte("first"))
	old.SetServerState([]byte("state v2"))

	// -x: the keys and the state, both offered and fetched.
	served := serveOnce(t, old)
	var logs logBuffer
	next, err := Acquire(cfg, Options{OldSocket: sock, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	if b, from := next.ServerState(); string(b) != "state v2" || !strings.Contains(from, "-x") {
		t.Errorf("-x: state %q from %q; want the last one, from the old process", b, from)
	}
	if !slices.Equal(next.TicketKeys(), old.TicketKeys()) {
		t.Error("-x: the ticket keys did not come along")
	}
	next.TellSuperseded(1)
	if err := <-served; err != nil {
		t.Errorf("ServeGetSocks: %v", err)
	}
	if strings.Contains(logs.String(), "WARN") {
		t.Errorf("warnings:\n%s", logs.String())
	}
	next.CloseAll()

	// A child generation: PassOn, Inherit; and through ForSuccessor (SIGUSR2).
	succ, err := old.ForSuccessor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	old.SetServerState([]byte("after ForSuccessor")) // not the successor's any more
	files, passed := succ.PassOn()
	if i := slices.IndexFunc(passed, func(p Passed) bool { return p.Key == srvstate.Name }); i < 0 {
		t.Fatalf("PassOn: %+v has no state", passed)
	}
	child, err := Inherit(cfg, files, passed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b, from := child.ServerState(); string(b) != "state v2" || from != "the parent generation" {
		t.Errorf("child: state %q from %q", b, from)
	}
	succ.Discard()
	child.Discard()

	// The fd store: each store replaces the previous memfd; a restart gets it back.
	old.Store()
	old.StoreServerState()
	if n := strings.Count(strings.Join(fds.stored, " "), srvstate.Name); n != 2 {
		t.Errorf("stored %v; want the state stored twice", fds.stored)
	}
	if n := strings.Count(strings.Join(fds.removed, " "), srvstate.Name); n != 2 {
		t.Errorf("removed %v; want the previous state removed before each store", fds.removed)
	}
	sf, err := dupFile(old.stateFile())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := dupFile(old.Frontends()[0].Listener.File())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := dupFile(old.StatsSockets()[0].Listener.File())
	if err != nil {
		t.Fatal(err)
	}
	acts := []systemd.Activated{{Name: srvstate.Name, File: sf}, {Name: StoreName(old.Frontends()[0].Key), File: ln},
		{Name: StoreName(old.StatsSockets()[0].Key), File: rt}}
	restarted, err := Acquire(cfg, Options{Activated: acts})
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.CloseAll()
	if b, from := restarted.ServerState(); string(b) != "after ForSuccessor" || from != "systemd's fd store" {
		t.Errorf("restart: state %q from %q", b, from)
	}
}
