package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lb/internal/config"
	"lb/internal/listener"
	"lb/internal/plane"
	"lb/internal/systemd"
)

// notifySink is a fake NOTIFY_SOCKET: a unixgram socket collecting what the process sends.
type notifySink struct {
	path string
	conn *net.UnixConn
	msgs chan string
}

func newNotifySink(t *testing.T) (*notifySink, *systemd.Notifier) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s := &notifySink{path: path, conn: c, msgs: make(chan string, 64)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(s.msgs)
				return
			}
			s.msgs <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { c.Close() })
	n, err := systemd.NewNotifier(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return s, n
}

// next returns the next message, failing the test when none comes within 5 s.
func (s *notifySink) next(t *testing.T) string {
	t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
		return ""
	}
}

// flush drops the messages sent so far: it sends a mark of its own, which comes after
// them, and reads up to it.
func (s *notifySink) flush(t *testing.T) {
	t.Helper()
	n, err := systemd.NewNotifier(s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Send("X_TEST_MARK=1"); err != nil {
		t.Fatal(err)
	}
	for s.next(t) != "X_TEST_MARK=1" {
	}
}

// none fails the test when a message comes within d.
func (s *notifySink) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-s.msgs:
		t.Errorf("unexpected notification %q", m)
	case <-time.After(d):
	}
}

// mkProcess is a process that serves one listen section on a free port of 127.0.0.1 and is
// the main process, with its notifications going to the returned sink. Its main loop is not
// started: the test sets the state it needs first, then calls start.
func mkProcess(t *testing.T, extraGlobal string) (*process, *notifySink) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	path := filepath.Join(t.TempDir(), "lb.cfg")
	text := fmt.Sprintf("global\n%s\ndefaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nlisten app\n    bind 127.0.0.1:%d\n    server s1 127.0.0.1:9\n", extraGlobal, port)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load([]string{path}, config.Options{})
	if config.ExitCode(cfg, diags) != 0 {
		t.Fatalf("config: %v", diags)
	}
	sink, n := newNotifySink(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := &process{args: &Args{Files: []string{path}}, cfg: cfg, log: log, notify: n, requests: newRequests()}
	if p.lns, err = listener.Acquire(cfg, listener.Options{Logger: log}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.lns.CloseAll)
	if p.gen, err = plane.Start(cfg, planeListeners(p.lns), plane.Options{Logger: log}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.gen.CloseAll(); p.gen.Stop() })
	p.state.main = true
	return p, sink
}

// start runs the main loop; the returned channel gets its exit code. A loop still running
// when the test ends is stopped hard.
func start(t *testing.T, p *process) <-chan int {
	t.Helper()
	code := make(chan int, 1)
	go func() { code <- p.loop() }()
	t.Cleanup(func() {
		select {
		case p.hardStopC <- syscall.SIGTERM:
		case <-p.exited:
		}
		<-p.exited
	})
	return code
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Errorf("%s = %v; want %v", what, got, want)
	}
}

// TestPauseResume: pause and resume are answered at once, do nothing when the listeners
// are already so, and say so in STATUS=.
func TestPauseResume(t *testing.T) {
	p, sink := mkProcess(t, "")
	start(t, p)
	wantErr(t, "pause", p.request(p.pauseC), nil)
	if m := sink.next(t); !strings.HasPrefix(m, "STATUS=paused: 1 listeners") {
		t.Errorf("after a pause: %q", m)
	}
	if !p.lns.Frontends()[0].Listener.Paused() {
		t.Errorf("the listener is not paused")
	}
	wantErr(t, "second pause", p.request(p.pauseC), nil)
	sink.none(t, 50*time.Millisecond)
	wantErr(t, "resume", p.request(p.resumeC), nil)
	if m := sink.next(t); !strings.HasPrefix(m, "STATUS=ready: 1 listeners") {
		t.Errorf("after a resume: %q", m)
	}
	if p.lns.Frontends()[0].Listener.Paused() {
		t.Errorf("the listener is still paused")
	}
}

// TestSoftStop: a soft stop says STOPPING=1 as the main process, refuses a second stop, a
// pause and a reload, and the loop ends with 0 once drained; requests are refused after.
func TestSoftStop(t *testing.T) {
	p, sink := mkProcess(t, "")
	code := start(t, p)
	if p.stopped() {
		t.Fatal("stopped before a stop")
	}
	wantErr(t, "soft stop", p.request(p.softStopC), nil)
	if !p.stopped() {
		t.Errorf("not stopped after a soft stop began")
	}
	if m := sink.next(t); m != "STOPPING=1\nSTATUS=stopping: draining connections" {
		t.Errorf("soft stop sent %q", m)
	}
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit code %d; want 0", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the soft stop did not end")
	}
	wantErr(t, "pause after the end", p.request(p.pauseC), errExited)
}

// TestRefusedWhileStopping: once a stop began, a second one, a pause and a reload are
// refused, and a successor may no longer take over.
func TestRefusedWhileStopping(t *testing.T) {
	p, _ := mkProcess(t, "    grace 3s") // the soft stop waits: the loop runs on meanwhile
	start(t, p)
	wantErr(t, "soft stop", p.request(p.softStopC), nil)
	wantErr(t, "second soft stop", p.request(p.softStopC), errStopping)
	wantErr(t, "pause", p.request(p.pauseC), errStopping)
	wantErr(t, "reload", p.request(p.reloadC), errStopping)
	wantErr(t, "take over", p.request(p.takeOverC), errStopping)
}

// TestTakeOver: once a successor took over, this process sends systemd nothing more, not
// even STOPPING=1 when it stops, and refuses to reload.
func TestTakeOver(t *testing.T) {
	p, sink := mkProcess(t, "")
	code := start(t, p)
	wantErr(t, "take over", p.request(p.takeOverC), nil)
	wantErr(t, "reload", p.request(p.reloadC), errSuperseded)
	p.serversChanged()
	wantErr(t, "pause", p.request(p.pauseC), nil)
	wantErr(t, "soft stop", p.request(p.softStopC), nil)
	<-code
	sink.none(t, 100*time.Millisecond)
}

// TestSupersededFromOutside: a process started by someone else (-x) that took over
// silences this one too.
func TestSupersededFromOutside(t *testing.T) {
	p, sink := mkProcess(t, "")
	start(t, p)
	wantErr(t, "superseded", p.request(p.supersededC), nil)
	p.hardStopC <- syscall.SIGTERM
	<-p.exited
	sink.none(t, 100*time.Millisecond)
}

// TestHardStop: a hard stop ends the loop at once with 0, with STOPPING=1.
func TestHardStop(t *testing.T) {
	p, sink := mkProcess(t, "")
	code := start(t, p)
	p.hardStopC <- syscall.SIGINT
	if c := <-code; c != 0 {
		t.Errorf("exit code %d; want 0", c)
	}
	if m := sink.next(t); m != "STOPPING=1\nSTATUS=stopping" {
		t.Errorf("hard stop sent %q", m)
	}
	if !p.stopped() {
		t.Errorf("not stopped after a hard stop")
	}
}

// TestReloadOneAtATime: a reload is refused while one runs; one that failed leaves the
// process serving and able to reload again. In a chroot the reload fails at once, which
// exercises the path without starting a process.
func TestReloadOneAtATime(t *testing.T) {
	t.Run("in progress", func(t *testing.T) {
		p, _ := mkProcess(t, "")
		p.state.reloading = true
		start(t, p)
		wantErr(t, "reload", p.request(p.reloadC), errReloading)
	})
	t.Run("failed", func(t *testing.T) {
		p, sink := mkProcess(t, "")
		p.cfg.Global.Chroot = "/nonexistent"
		start(t, p)
		wantErr(t, "reload", p.request(p.reloadC), nil)
		if m := sink.next(t); !strings.HasPrefix(m, "RELOADING=1\n") {
			t.Errorf("the reload began with %q", m)
		}
		if m := sink.next(t); !strings.HasPrefix(m, "READY=1\nSTATUS=reload failed: ") {
			t.Errorf("the reload ended with %q", m)
		}
		// The loop learns that the reload ended just after its last message: until then a
		// new one is refused; then it starts.
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := p.request(p.reloadC)
			if err == nil {
				break
			}
			wantErr(t, "reload after a failed one", err, errReloading)
			if time.Now().After(deadline) {
				t.Fatal("still reloading 5 s after the reload failed")
			}
			time.Sleep(time.Millisecond)
		}
		if m := sink.next(t); !strings.HasPrefix(m, "RELOADING=1\n") {
			t.Errorf("the second reload began with %q", m)
		}
	})
}

// TestServersChanged: a server state change becomes one STATUS= line from the main
// process; none once a successor took over.
func TestServersChanged(t *testing.T) {
	p, sink := mkProcess(t, "")
	start(t, p)
	p.serversChanged()
	if m := sink.next(t); !strings.HasPrefix(m, "STATUS=ready: 1 listeners, 1/1 servers up") {
		t.Errorf("after a server change: %q", m)
	}
	wantErr(t, "take over", p.request(p.takeOverC), nil)
	p.serversChanged()
	sink.none(t, 100*time.Millisecond)
}

// TestWatchdog: the loop pings at half of WatchdogSec= until a successor took over.
func TestWatchdog(t *testing.T) {
	p, sink := mkProcess(t, "")
	p.watchdog = 20 * time.Millisecond
	start(t, p)
	for i := 0; i < 2; i++ {
		if m := sink.next(t); m != "WATCHDOG=1" {
			t.Errorf("ping %d: %q", i, m)
		}
	}
	wantErr(t, "take over", p.request(p.takeOverC), nil)
	sink.flush(t) // a ping may have been sent while the request was on its way
	sink.none(t, 100*time.Millisecond)
}

// TestSignalRelay: signals become requests to the loop.
func TestSignalRelay(t *testing.T) {
	p, sink := mkProcess(t, "")
	code := start(t, p)
	sigs := make(chan os.Signal, 4)
	go p.signalRelay(sigs)
	sigs <- syscall.SIGTTOU
	if m := sink.next(t); !strings.HasPrefix(m, "STATUS=paused") {
		t.Errorf("after SIGTTOU: %q", m)
	}
	sigs <- syscall.SIGTTIN
	if m := sink.next(t); !strings.HasPrefix(m, "STATUS=ready") {
		t.Errorf("after SIGTTIN: %q", m)
	}
	sigs <- syscall.SIGUSR1
	if m := sink.next(t); !strings.HasPrefix(m, "STOPPING=1") {
		t.Errorf("after SIGUSR1: %q", m)
	}
	if c := <-code; c != 0 {
		t.Errorf("exit code %d after SIGUSR1; want 0", c)
	}
}
