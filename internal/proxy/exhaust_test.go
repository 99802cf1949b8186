package proxy

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestResourceErrorLoggedOncePerEpisode: running out of descriptors in accept is logged at
// the first failure, not at each of the hundreds that follow while it lasts (seen: one
// warning per accept under exhaustion, 44 in two seconds), and again once a new episode
// starts after resEpisode without a failure.
func TestResourceErrorLoggedOncePerEpisode(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e := NewEngine(EngineConfig{Logger: log})
	f, err := e.NewFrontend(FrontendConfig{Name: "fe", Backend: func(*ConnInfo) *Backend { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	emfile := os.NewSyscallError("accept4", unix.EMFILE)
	for i := 0; i < 500; i++ {
		e.resourceError(f, "b1", emfile)
	}
	if n := strings.Count(buf.String(), "too many open files"); n != 1 {
		t.Fatalf("500 failed accepts logged %d times; want once:\n%s", n, buf.String())
	}
	// The episode ended resEpisode ago: the next failure is news.
	e.resErr.Store(time.Now().Add(-resEpisode - time.Second).UnixNano())
	e.resourceError(f, "b1", emfile)
	if n := strings.Count(buf.String(), "too many open files"); n != 2 {
		t.Errorf("a failure after %v without one logged %d lines in all; want 2", resEpisode, n)
	}
}

// TestResourcesFreedWakesAcceptLoops: an accept loop paused after running out of
// descriptors is woken by the next connection that ends, not only by its timer.
func TestResourcesFreedWakesAcceptLoops(t *testing.T) {
	e := NewEngine(EngineConfig{Logger: quiet})
	ch := e.resourceWake()
	select {
	case <-ch:
		t.Fatal("woken before any connection ended")
	default:
	}
	e.resourcesFreed()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("not woken when a connection ended")
	}
	// Nobody waits now: a connection that ends costs an atomic load.
	if e.nrwait.Load() != 0 {
		t.Errorf("nrwait = %d after the wake-up; want 0", e.nrwait.Load())
	}
}

// TestIsResourceErrorOnDial: a dial that fails in socket(2) for want of descriptors is
// told from a refusal by the server, so that Connect retries it at once (no turn-around)
// and logs it "RC".
func TestIsResourceErrorOnDial(t *testing.T) {
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", unix.EMFILE)}
	for _, err := range []error{unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM, dialErr} {
		if !isResourceError(err) {
			t.Errorf("isResourceError(%v) = false", err)
		}
	}
	if isResourceError(unix.ECONNREFUSED) {
		t.Errorf("a refused connection taken for a resource error")
	}
}
