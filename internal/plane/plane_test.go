package plane

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lb/internal/config"
	"lb/internal/health"
	"lb/internal/proxy"
)

// world is a generation under test: its configuration, the listeners it serves (on
// 127.0.0.1:0; the bind lines' own addresses are not used) and what it logged.
type world struct {
	t   *testing.T
	cfg *config.Config
	gen *Generation
	lns map[string]net.Listener // by frontend name
	log *logBuffer
}

// mkWorld loads text and starts its generation, one listener per frontend with a bind
// line. The generation is stopped and the listeners closed when the test ends.
func mkWorld(t *testing.T, text string, opts Options) *world {
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
	w := &world{t: t, cfg: cfg, lns: map[string]net.Listener{}, log: &logBuffer{}}
	var lns []Listener
	for _, fe := range cfg.Frontends() {
		for _, b := range fe.Binds {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			w.lns[fe.Name] = ln
			lns = append(lns, Listener{Frontend: fe, Bind: b, L: ln})
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(w.log, nil))
	}
	g, err := Start(cfg, lns, opts)
	if err != nil {
		t.Fatal(err)
	}
	w.gen = g
	t.Cleanup(func() {
		g.CloseAll()
		g.Stop()
	})
	return w
}

// addr is the address frontend fe accepts on.
func (w *world) addr(fe string) string { return w.lns[fe].Addr().String() }

// closeListeners closes every listener, as the process does before it drains.
func (w *world) closeListeners() {
	for _, ln := range w.lns {
		ln.Close()
	}
}

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

// server is a TCP server on 127.0.0.1 that writes its name to each connection, then keeps
// it open until the client closes it when hold is set, or closes it at once.
type server struct {
	ln   net.Listener
	name string
	hold bool
}

func startServer(t *testing.T, name string, hold bool) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, name: name, hold: hold}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, s.name+"\n")
				if s.hold {
					io.Copy(io.Discard, c)
				}
			}()
		}
	}()
	return s
}

func (s *server) addr() string { return s.ln.Addr().String() }

// ask connects to addr and returns the first line it reads.
func ask(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

const defaults = `
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
`

// TestServeDrainStop: a generation serves its frontends on the listeners it was given,
// routes to default_backend, counts what it served, and drains once the listeners are
// closed.
func TestServeDrainStop(t *testing.T) {
	s1, s2 := startServer(t, "s1", false), startServer(t, "s2", false)
	w := mkWorld(t, defaults+fmt.Sprintf(`
listen app
    bind 127.0.0.1:1
    server s1 %s
frontend fe
    bind 127.0.0.1:2
    default_backend be
backend be
    server s2 %s
`, s1.addr(), s2.addr()), Options{})
	for fe, want := range map[string]string{"app": "s1", "fe": "s2"} {
		if got, err := ask(w.addr(fe)); err != nil || got != want {
			t.Errorf("through %s: %q, %v; want %q", fe, got, err, want)
		}
	}
	snap := w.gen.Snapshot()
	if len(snap.Backends) != 2 || snap.Backends[0].Name != "app" || snap.Backends[1].Name != "be" {
		t.Fatalf("Snapshot backends %+v; want app, be", snap.Backends)
	}
	if up, total := snap.ServersUp(); up != 2 || total != 2 {
		t.Errorf("ServersUp = %d/%d; want 2/2", up, total)
	}
	w.closeListeners()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.gen.Drain(ctx); err != nil {
		t.Errorf("Drain = %v; want nil", err)
	}
	if got := w.gen.Snapshot().Backends[0].Servers[0].Stats.Total; got != 1 {
		t.Errorf("server s1 served %d sessions; want 1", got)
	}
}

// TestDrainBoundThenCloseAll: Drain gives up when its context ends while a session lasts;
// CloseAll then cuts it.
func TestDrainBoundThenCloseAll(t *testing.T) {
	s1 := startServer(t, "s1", true)
	w := mkWorld(t, defaults+fmt.Sprintf("listen app\n    bind 127.0.0.1:1\n    server s1 %s\n", s1.addr()), Options{})
	c, err := net.Dial("tcp", w.addr("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || line != "s1\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	if n := w.gen.ActiveSessions(); n != 1 {
		t.Errorf("ActiveSessions = %d; want 1", n)
	}
	w.closeListeners()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := w.gen.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Drain with a session open = %v; want context.DeadlineExceeded", err)
	}
	w.gen.CloseAll()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.ReadByte(); err == nil {
		t.Errorf("the session survived CloseAll")
	}
}

// TestServerChange: a health check that takes a server down logs it in HAProxy's words and
// calls OnServerChange; the snapshot and the SIGHUP lines say so.
func TestServerChange(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	var changes atomic.Int32
	changed := make(chan struct{}, 1)
	w := mkWorld(t, defaults+fmt.Sprintf("listen app\n    bind 127.0.0.1:1\n    server s1 %s check inter 50ms fall 1 rise 1\n", deadAddr),
		Options{OnServerChange: func() {
			changes.Add(1)
			select {
			case changed <- struct{}{}:
			default:
			}
		}})
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("OnServerChange not called")
	}
	if !strings.Contains(w.log.String(), "Server app/s1 is DOWN") {
		t.Errorf("no DOWN line in the log:\n%s", w.log.String())
	}
	snap := w.gen.Snapshot()
	if st := snap.Backends[0].Servers[0].State; st != proxy.StateDown {
		t.Errorf("server state %s; want DOWN", st)
	}
	want := []string{
		"SIGHUP: Server app/s1 is DOWN. Conn: 0 act, 0 pend, 0 tot.",
		"SIGHUP: Proxy app has 0 active servers and 0 backup servers available. Conn: act(FE+BE): 0+0, 0 pend (0 unass), tot(FE+BE): 0+0.",
	}
	if got := snap.StateLines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("StateLines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	w.gen.Stop()
	n := changes.Load()
	time.Sleep(150 * time.Millisecond) // three check intervals: none may run after Stop
	if changes.Load() != n {
		t.Errorf("a check ran after Stop")
	}
}

// TestMonitorOnly: a mode http frontend with monitor-uri and no backend answers the URI
// with HAProxy's 200 page and anything else with its 503 page.
func TestMonitorOnly(t *testing.T) {
	w := mkWorld(t, `
defaults
    mode http
    timeout client 5s
frontend health
    bind 127.0.0.1:1
    monitor-uri /healthz
`, Options{})
	for path, want := range map[string]int{"/healthz": http.StatusOK, "/other": http.StatusServiceUnavailable} {
		res, err := http.Get("http://" + w.addr("health") + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %d %q; want %d", path, res.StatusCode, body, want)
		}
	}
	w.closeListeners()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.gen.Drain(ctx); err != nil {
		t.Errorf("Drain = %v", err)
	}
}

// TestProxyMaxconn: -N gives a frontend without maxconn its limit: a second connection
// waits while the first one lasts.
func TestProxyMaxconn(t *testing.T) {
	s1 := startServer(t, "s1", true)
	w := mkWorld(t, defaults+fmt.Sprintf("listen app\n    bind 127.0.0.1:1\n    server s1 %s\n", s1.addr()), Options{ProxyMaxconn: 1})
	first, err := net.Dial("tcp", w.addr("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if line, err := bufio.NewReader(first).ReadString('\n'); err != nil || line != "s1\n" {
		t.Fatalf("first connection: %q, %v", line, err)
	}
	second, err := net.Dial("tcp", w.addr("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	_ = second.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := second.Read(make([]byte, 1)); err == nil {
		t.Errorf("a second connection was served beyond -N 1")
	}
	first.Close()
	_ = second.SetReadDeadline(time.Now().Add(2 * time.Second))
	if line, err := bufio.NewReader(second).ReadString('\n'); err != nil || line != "s1\n" {
		t.Errorf("second connection once the first ended: %q, %v", line, err)
	}
}

// TestMonitorDrainAnswersLateRequest: a connection accepted before the listeners closed
// whose request comes only once the drain began still gets its answer.
func TestMonitorDrainAnswersLateRequest(t *testing.T) {
	w := mkWorld(t, `
defaults
    mode http
    timeout client 5s
frontend health
    bind 127.0.0.1:1
    monitor-uri /healthz
`, Options{})
	c, err := net.Dial("tcp", w.addr("health"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Wait until it was accepted: closing the listener would reset it otherwise.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if w.gen.ActiveSessions() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the connection was not accepted")
		}
	}
	w.closeListeners()
	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		drained <- w.gen.Drain(ctx)
	}()
	time.Sleep(50 * time.Millisecond) // the drain began
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("request sent once the drain began: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("status %d; want 200", res.StatusCode)
	}
	if err := <-drained; err != nil {
		t.Errorf("Drain = %v", err)
	}
}

// TestHealthConfig: a server's check settings reach the checker: mysql-check with its
// arguments, spread-checks, backup (for the log-health-checks line), and the PROXY version
// of check-send-proxy.
func TestHealthConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lb.cfg")
	text := `global
    spread-checks 20
defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
backend db
    option mysql-check user lb pre-41
    server m1 127.0.0.1:3306 check backup
    server m2 127.0.0.1:3307 check send-proxy-v2
    server m3 127.0.0.1:3308 check send-proxy port 9 check-send-proxy
    server m4 127.0.0.1:3309 check send-proxy port 9
`
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load([]string{path}, config.Options{})
	for _, d := range diags {
		if d.Severity == config.Alert {
			t.Fatalf("config: %s", d)
		}
	}
	g := &Generation{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	px := cfg.Backends()[0]
	want := []struct {
		backup bool
		v1, v2 bool
		name   string
	}{{true, false, false, "m1"}, {false, false, true, "m2"}, {false, true, false, "m3"}, {false, false, false, "m4"}}
	for i, s := range px.Servers {
		hc, err := g.healthConfig(cfg, px, s)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if hc.Kind != health.KindMySQL || hc.MySQLUser != "lb" || !hc.MySQLPre41 {
			t.Errorf("%s: kind %v user %q pre41 %v; want mysql-check user lb pre-41", s.Name, hc.Kind, hc.MySQLUser, hc.MySQLPre41)
		}
		if hc.Spread != 20 {
			t.Errorf("%s: spread %d; want 20", s.Name, hc.Spread)
		}
		w := want[i]
		if hc.Backup != w.backup || hc.SendProxy != w.v1 || hc.SendProxyV2 != w.v2 {
			t.Errorf("%s: backup %v send-proxy %v v2 %v; want %v %v %v", s.Name, hc.Backup, hc.SendProxy, hc.SendProxyV2, w.backup, w.v1, w.v2)
		}
	}
}
