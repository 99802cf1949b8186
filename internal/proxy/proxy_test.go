package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// world is a test fixture: an engine, servers and one frontend.
type world struct {
	t    *testing.T
	eng  *Engine
	fe   *Frontend
	be   *Backend
	bind *Binding
	addr string          // frontend address
	logs chan *LogRecord // one record per finished session
}

// startServer runs fn for each connection accepted on a fresh loopback
// listener and returns its address.
func startServer(t *testing.T, fn func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); fn(c) }()
		}
	}()
	return ln.Addr().String()
}

// startUnixServer is startServer on a unix socket in t.TempDir().
func startUnixServer(t *testing.T, fn func(c net.Conn)) string {
	t.Helper()
	path := t.TempDir() + "/srv.sock"
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); fn(c) }()
		}
	}()
	return path
}

// namedServer says its name and then echoes until EOF.
func namedServer(name string) func(net.Conn) {
	return func(c net.Conn) {
		fmt.Fprintf(c, "%s\n", name)
		io.Copy(c, c)
	}
}

// closedAddr returns a loopback address nobody listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

func mkWorld(t *testing.T, fc FrontendConfig, bc BackendConfig, bind BindConfig) *world {
	t.Helper()
	w := &world{t: t, eng: newTestEngine(EngineConfig{Logger: quiet}), logs: make(chan *LogRecord, 100)}
	return w.start(fc, bc, bind)
}

// newTestEngine is NewEngine, serving with goroutines only when
// LB_TEST_GOROUTINES is set: make test runs this package's tests once on
// the event loops and once on the goroutine engine.
func newTestEngine(cfg EngineConfig) *Engine {
	cfg.Goroutines = cfg.Goroutines || os.Getenv("LB_TEST_GOROUTINES") != ""
	e := NewEngine(cfg)
	return e
}

func (w *world) start(fc FrontendConfig, bc BackendConfig, bind BindConfig) *world {
	t := w.t
	t.Helper()
	for i := range bc.Servers {
		if bc.Servers[i].Weight == 0 {
			bc.Servers[i].Weight = 1
		}
	}
	if bc.Name == "" {
		bc.Name = "be"
	}
	be, err := NewBackend(bc)
	if err != nil {
		t.Fatal(err)
	}
	w.be = be
	if fc.Name == "" {
		fc.Name = "fe"
	}
	fc.Backend = func(*ConnInfo) *Backend { return be }
	fc.Log = func(r *LogRecord) { c := *r; w.logs <- &c }
	fe, err := w.eng.NewFrontend(fc)
	if err != nil {
		t.Fatal(err)
	}
	w.fe = fe
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.addr = ln.Addr().String()
	w.bind = fe.Serve(ln, bind)
	t.Cleanup(func() {
		w.bind.Stop()
		ln.Close()
		w.eng.CloseAll("test end")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := w.eng.Wait(ctx); err != nil {
			t.Errorf("sessions did not drain: %v", err)
		}
	})
	return w
}

func (w *world) dial() *net.TCPConn {
	w.t.Helper()
	c, err := net.Dial("tcp", w.addr)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// nextLog waits for the next session record.
func (w *world) nextLog() *LogRecord {
	w.t.Helper()
	select {
	case r := <-w.logs:
		return r
	case <-time.After(5 * time.Second):
		w.t.Fatal("no log record within 5s")
		return nil
	}
}

func readLine(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	s, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read line: %v", err)
	}
	return strings.TrimSpace(s)
}

// expectClosed checks that the proxy closes c without sending anything.
func expectClosed(t *testing.T, c net.Conn, within time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read: %v; want EOF within %v", err, within)
	}
	if len(b) != 0 {
		t.Fatalf("got %q; want nothing before close", b)
	}
}

func TestRoundRobinOrder(t *testing.T) {
	var srvs []ServerConfig
	for _, n := range []string{"a", "b", "c", "d"} {
		srvs = append(srvs, ServerConfig{Name: n, Addr: startServer(t, namedServer(n))})
	}
	w := mkWorld(t, FrontendConfig{}, BackendConfig{Servers: srvs, TimeoutConnect: time.Second}, BindConfig{})
	var got []string
	for range 8 {
		c := w.dial()
		got = append(got, readLine(t, c))
		c.Close()
		w.nextLog()
	}
	if g, want := strings.Join(got, " "), "a b c d a b c d"; g != want {
		t.Errorf("server order = %q; want %q", g, want)
	}
	if st := w.be.Server("c").Stats(); st.Total != 2 || st.Cur != 0 {
		t.Errorf("server c stats = %+v; want Total 2, Cur 0", st)
	}
}

// hashServer reads until EOF, then answers with n bytes of a pseudo-random
// stream seeded by the SHA-256 of what it read, then closes.
func hashServer(n int) func(net.Conn) {
	return func(c net.Conn) {
		h := sha256.New()
		if _, err := io.Copy(h, c); err != nil {
			return
		}
		io.Copy(c, io.LimitReader(seeded(h.Sum(nil)), int64(n)))
	}
}

type prng struct{ r *rand.ChaCha8 }

func seeded(sum []byte) io.Reader { return prng{rand.NewChaCha8([32]byte(sum))} }
func (p prng) Read(b []byte) (int, error) {
	return p.r.Read(b)
}

func TestHalfCloseFullResponse(t *testing.T) {
	tests := []struct {
		name      string
		req, resp int
	}{
		{"small", 100, 1000},
		{"bulk both ways (splice)", 8 << 20, 32 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startServer(t, hashServer(tt.resp))
			w := mkWorld(t, FrontendConfig{TimeoutClient: 5 * time.Second},
				BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr}}, TimeoutConnect: time.Second, TimeoutServer: 5 * time.Second},
				BindConfig{})
			before := splicedBytes.Load()
			c := w.dial()
			req := make([]byte, tt.req)
			rand.NewChaCha8([32]byte{1}).Read(req)
			go func() {
				c.Write(req)
				c.CloseWrite() // the client is done: FIN
			}()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read response: %v", err)
			}
			sum := sha256.Sum256(req)
			want, _ := io.ReadAll(io.LimitReader(seeded(sum[:]), int64(tt.resp)))
			if len(got) != len(want) || sha256.Sum256(got) != sha256.Sum256(want) {
				t.Fatalf("response: %d bytes, checksum mismatch=%v; want %d bytes", len(got), sha256.Sum256(got) != sha256.Sum256(want), len(want))
			}
			r := w.nextLog()
			if r.Termination != "--" || r.BytesRead != int64(tt.resp) || r.BytesUploaded != int64(tt.req) {
				t.Errorf("log = %s %d/%d; want -- %d/%d", r.Termination, r.BytesRead, r.BytesUploaded, tt.resp, tt.req)
			}
			if tt.resp > 1<<20 && splicedBytes.Load() == before {
				t.Errorf("bulk transfer did not use splice")
			}
		})
	}
}

// TestNoSplice: with EngineConfig.NoSplice ("nosplice", -dS) a bulk transfer is copied
// whole through buffers, splice(2) never used.
func TestNoSplice(t *testing.T) {
	addr := startServer(t, hashServer(16<<20))
	w := &world{t: t, eng: newTestEngine(EngineConfig{Logger: quiet, NoSplice: true}), logs: make(chan *LogRecord, 100)}
	t.Cleanup(func() { noSplice.Store(false) })
	w.start(FrontendConfig{TimeoutClient: 5 * time.Second},
		BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr}}, TimeoutConnect: time.Second, TimeoutServer: 5 * time.Second},
		BindConfig{})
	before := splicedBytes.Load()
	c := w.dial()
	req := make([]byte, 8<<20)
	go func() {
		c.Write(req)
		c.CloseWrite()
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || len(got) != 16<<20 {
		t.Fatalf("response: %d bytes, %v", len(got), err)
	}
	if n := splicedBytes.Load() - before; n != 0 {
		t.Errorf("%d bytes spliced with NoSplice", n)
	}
}

func TestTimeouts(t *testing.T) {
	const short = 150 * time.Millisecond
	const long = 10 * time.Second
	tests := []struct {
		name   string
		fc     FrontendConfig
		bc     BackendConfig
		server func(net.Conn)
		client func(c *net.TCPConn)
		term   string
		min    time.Duration
	}{
		{name: "client", fc: FrontendConfig{TimeoutClient: short}, bc: BackendConfig{TimeoutServer: long},
			server: func(c net.Conn) { io.Copy(io.Discard, c) }, term: "cD", min: short},
		{name: "server", fc: FrontendConfig{TimeoutClient: long}, bc: BackendConfig{TimeoutServer: short},
			server: func(c net.Conn) { io.Copy(io.Discard, c) }, term: "sD", min: short},
		{name: "server data refreshes", fc: FrontendConfig{TimeoutClient: short}, bc: BackendConfig{TimeoutServer: long},
			// The server streams for 3 client timeouts: writing to the
			// client keeps the client side alive, then it goes idle.
			server: func(c net.Conn) {
				for end := time.Now().Add(3 * short); time.Now().Before(end); {
					c.Write([]byte("x"))
					time.Sleep(short / 5)
				}
				io.Copy(io.Discard, c)
			},
			client: func(c *net.TCPConn) { go io.Copy(io.Discard, c) }, term: "cD", min: 3 * short},
		{name: "tunnel overrides", fc: FrontendConfig{TimeoutClient: short / 3}, bc: BackendConfig{TimeoutServer: short / 3, TimeoutTunnel: short},
			// Both sides expire together: either may be blamed.
			server: func(c net.Conn) { io.Copy(io.Discard, c) }, term: "cD|sD", min: short},
		{name: "client-fin", fc: FrontendConfig{TimeoutClient: long, TimeoutClientFin: short}, bc: BackendConfig{TimeoutServer: long},
			server: func(c net.Conn) {}, // closes at once: FIN to the client, which stays open
			term:   "cD", min: short},
		{name: "server-fin", fc: FrontendConfig{TimeoutClient: long}, bc: BackendConfig{TimeoutServer: long, TimeoutServerFin: short},
			server: func(c net.Conn) { io.Copy(io.Discard, c); time.Sleep(4 * short) }, // then closes: "--" if server-fin did not fire
			client: func(c *net.TCPConn) { c.CloseWrite() }, term: "sD", min: short},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.bc.Servers = []ServerConfig{{Name: "s", Addr: startServer(t, tt.server)}}
			tt.bc.TimeoutConnect = time.Second
			w := mkWorld(t, tt.fc, tt.bc, BindConfig{})
			start := time.Now()
			c := w.dial()
			if tt.client != nil {
				tt.client(c)
			}
			r := w.nextLog()
			el := time.Since(start)
			if !strings.Contains("|"+tt.term+"|", "|"+r.Termination+"|") {
				t.Errorf("termination = %q; want %q", r.Termination, tt.term)
			}
			if el < tt.min || el > tt.min+2*time.Second {
				t.Errorf("session lasted %v; want about %v", el, tt.min)
			}
		})
	}
}

func TestMaxconnQueue(t *testing.T) {
	hold := make(chan struct{})
	addr := startServer(t, func(c net.Conn) {
		c.Write([]byte("hello\n"))
		select {
		case <-hold:
		case <-time.After(10 * time.Second):
		}
	})
	w := mkWorld(t, FrontendConfig{TimeoutClient: 5 * time.Second},
		BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr, Maxconn: 1}},
			TimeoutConnect: time.Second, TimeoutQueue: 200 * time.Millisecond, TimeoutServer: 5 * time.Second},
		BindConfig{})

	first := w.dial()
	if l := readLine(t, first); l != "hello" {
		t.Fatalf("first connection got %q", l)
	}
	// The second one waits in the queue, then times out: closed without a
	// byte, logged sQ.
	second := w.dial()
	expectClosed(t, second, 3*time.Second)
	r := w.nextLog()
	if r.Termination != "sQ" || r.Tw < 200*time.Millisecond || r.BackendQueue != 1 {
		t.Errorf("queued session log = %s Tw=%v bq=%d; want sQ, Tw >= 200ms, bq 1", r.Termination, r.Tw, r.BackendQueue)
	}
	// A third waits and is served as soon as the first one ends.
	third := w.dial()
	deadline := time.Now().Add(5 * time.Second)
	for w.be.Stats().Queue != 1 {
		if time.Now().After(deadline) {
			t.Fatal("third connection never queued")
		}
		time.Sleep(time.Millisecond) // polling a counter: there is no event for "queued"
	}
	first.Close()
	close(hold)
	if l := readLine(t, third); l != "hello" {
		t.Fatalf("third connection got %q", l)
	}
	if r := w.nextLog(); r.Termination != "--" {
		t.Errorf("first session termination = %q; want --", r.Termination)
	}
}

func TestFrontendMaxconn(t *testing.T) {
	addr := startServer(t, namedServer("s"))
	w := mkWorld(t, FrontendConfig{Maxconn: 1}, BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr}}, TimeoutConnect: time.Second}, BindConfig{})
	a := w.dial()
	readLine(t, a)
	b := w.dial() // connects (kernel backlog) but is not accepted
	b.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := b.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("second connection read = %v; want a timeout (not accepted)", err)
	}
	a.Close()
	if l := readLine(t, b); l != "s" {
		t.Fatalf("second connection got %q after the first closed", l)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestRetriesRedispatch(t *testing.T) {
	live := startServer(t, namedServer("live"))
	tests := []struct {
		name       string
		redispatch bool
		term       string
		retries    int
	}{
		// Two servers and no hash: the server was a balancing turn, so HAProxy redispatches
		// at the first retry (sess_update_st_cer), whatever the interval.
		{"redispatch at the first retry", true, "--", 1},
		{"no redispatch", false, "SC", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := mkWorld(t, FrontendConfig{},
				BackendConfig{Balance: "first", Servers: []ServerConfig{{Name: "dead", Addr: closedAddr(t)}, {Name: "live", Addr: live}},
					TimeoutConnect: 50 * time.Millisecond, Retries: 2, Redispatch: tt.redispatch},
				BindConfig{})
			c := w.dial()
			if tt.term == "--" {
				if l := readLine(t, c); l != "live" {
					t.Fatalf("got %q; want live", l)
				}
				c.Close()
			} else {
				expectClosed(t, c, 3*time.Second)
			}
			r := w.nextLog()
			if r.Termination != tt.term || r.Retries != tt.retries || r.Redispatch != tt.redispatch {
				t.Errorf("log = %s retries=%d redispatch=%v; want %s %d %v", r.Termination, r.Retries, r.Redispatch, tt.term, tt.retries, tt.redispatch)
			}
			// As HAProxy's wretr, wredis and econ: a retry on the same server, one sent to
			// another, and the connection that gave up.
			want := ServerStats{Retries: 2, Failed: 1}
			if tt.redispatch {
				want = ServerStats{Redispatches: 1}
			}
			if st := w.be.Server("dead").Stats(); st.Retries != want.Retries || st.Redispatches != want.Redispatches || st.Failed != want.Failed {
				t.Errorf("dead server retries=%d redispatches=%d failed=%d; want %d %d %d",
					st.Retries, st.Redispatches, st.Failed, want.Retries, want.Redispatches, want.Failed)
			}
		})
	}
}

// proxyServer reads a PROXY header and reports it, then echoes its name.
func proxyServer(got chan<- ProxyHeader) func(net.Conn) {
	return func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		h, _, err := ReadProxyHeader(c)
		if err != nil {
			h = ProxyHeader{}
		}
		got <- h
		c.Write([]byte("ok\n"))
		io.Copy(io.Discard, c)
	}
}

func TestProxyProtocolInOut(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name        string
		acceptProxy bool
		in          []byte
		send        SendProxy
		wantSrc     string // "" means the client socket's address
	}{
		{"v1 in v2 out", true, []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"), SendProxyV2, "192.0.2.1:56324"},
		{"v2 in v1 out", true, AppendProxyV2(nil, ap("[2001:db8::1]:1000"), ap("[2001:db8::2]:443")), SendProxyV1, "[2001:db8::1]:1000"},
		{"v2 local in", true, AppendProxyV2(nil, netip.AddrPort{}, netip.AddrPort{}), SendProxyV1, ""},
		{"real addresses out", false, nil, SendProxyV1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan ProxyHeader, 1)
			addr := startServer(t, proxyServer(got))
			w := mkWorld(t, FrontendConfig{TimeoutClient: 2 * time.Second},
				BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr, SendProxy: tt.send}}, TimeoutConnect: time.Second},
				BindConfig{AcceptProxy: tt.acceptProxy})
			c := w.dial()
			// The header and the first payload bytes in one segment.
			c.Write(append(tt.in, "hello"...))
			if l := readLine(t, c); l != "ok" {
				t.Fatalf("got %q", l)
			}
			h := <-got
			want := ap(c.LocalAddr().String())
			if tt.wantSrc != "" {
				want = ap(tt.wantSrc)
			}
			if h.Src != want || h.Version != int(tt.send) {
				t.Errorf("server saw %+v; want v%d from %v", h, tt.send, want)
			}
			c.Close()
			if r := w.nextLog(); r.Client != want || r.BytesUploaded != 5 {
				t.Errorf("log client = %v, uploaded %d; want %v, 5", r.Client, r.BytesUploaded, want)
			}
		})
	}
}

func TestAcceptProxyInvalid(t *testing.T) {
	addr := startServer(t, namedServer("s"))
	w := mkWorld(t, FrontendConfig{TimeoutClient: 200 * time.Millisecond},
		BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr}}, TimeoutConnect: time.Second},
		BindConfig{AcceptProxy: true})
	tests := []struct {
		name, send, term string
	}{
		{"garbage", "GET / HTTP/1.0\r\n\r\n", "CR"},
		{"silent client", "", "cR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := w.dial()
			c.Write([]byte(tt.send))
			expectClosed(t, c, 3*time.Second)
			if r := w.nextLog(); r.Termination != tt.term || r.Server != "<NOSRV>" {
				t.Errorf("log = %s %s; want %s <NOSRV>", r.Termination, r.Server, tt.term)
			}
		})
	}
}

func TestServerStateAndShutdown(t *testing.T) {
	a := startServer(t, namedServer("a"))
	b := startServer(t, namedServer("b"))
	changes := make(chan string, 4)
	w := mkWorld(t, FrontendConfig{},
		BackendConfig{Servers: []ServerConfig{{Name: "a", Addr: a, ShutdownOnDown: true}, {Name: "b", Addr: b}}, TimeoutConnect: time.Second,
			OnStateChange: func(s *Server, old, cur State, requeued int) {
				changes <- fmt.Sprintf("%s %v->%v %d", s.Name(), old, cur, requeued)
			}},
		BindConfig{})
	held := w.dial()
	if l := readLine(t, held); l != "a" {
		t.Fatalf("first connection went to %q", l)
	}
	if old := w.be.Server("a").SetState(StateDown); old != StateUp {
		t.Errorf("SetState returned %v; want UP", old)
	}
	if g, want := <-changes, "a UP->DOWN 0"; g != want {
		t.Errorf("OnStateChange got %q; want %q", g, want)
	}
	// on-marked-down shutdown-sessions killed the session on a.
	expectClosed(t, held, 3*time.Second)
	if r := w.nextLog(); r.Termination != "D-" {
		t.Errorf("killed session termination = %q; want D-", r.Termination)
	}
	for range 3 {
		c := w.dial()
		if l := readLine(t, c); l != "b" {
			t.Errorf("with a DOWN, got server %q; want b", l)
		}
		c.Close()
		w.nextLog()
	}
	// The runtime API's "shutdown sessions server".
	c := w.dial()
	if l := readLine(t, c); l != "b" {
		t.Fatalf("got server %q; want b", l)
	}
	if n := w.be.Server("b").ShutdownSessions(); n != 1 {
		t.Errorf("ShutdownSessions = %d; want 1", n)
	}
	expectClosed(t, c, 3*time.Second)
	if r := w.nextLog(); r.Termination != "K-" {
		t.Errorf("shut down session termination = %q; want K-", r.Termination)
	}
	if act, _ := w.be.UsableServers(); act != 1 {
		t.Errorf("usable servers = %d; want 1", act)
	}
}

// TestOnMarkedUp: "on-marked-up shutdown-backup-sessions" kills the
// sessions of the backup servers when the server comes back UP, from DOWN or
// from maintenance, with HAProxy's termination "U"; not when it stays out.
func TestOnMarkedUp(t *testing.T) {
	a := startServer(t, namedServer("a"))
	bk := startServer(t, namedServer("bk"))
	w := mkWorld(t, FrontendConfig{},
		BackendConfig{Servers: []ServerConfig{{Name: "a", Addr: a, ShutdownBackupsOnUp: true},
			{Name: "bk", Addr: bk, Backup: true}}, TimeoutConnect: time.Second},
		BindConfig{})
	srv := w.be.Server("a")
	for _, from := range []State{StateDown, StateMaint} {
		srv.SetState(from)
		held := w.dial()
		if l := readLine(t, held); l != "bk" {
			t.Fatalf("with a %v, the connection went to %q", from, l)
		}
		srv.SetState(StateDown) // still out: nothing happens
		srv.SetState(StateUp)
		expectClosed(t, held, 3*time.Second)
		if r := w.nextLog(); r.Termination != "U-" {
			t.Errorf("from %v: backup session termination = %q; want U-", from, r.Termination)
		}
		c := w.dial()
		if l := readLine(t, c); l != "a" {
			t.Errorf("with a back UP, got %q", l)
		}
		c.Close()
		w.nextLog()
	}
}

func TestStopDrainCloseAll(t *testing.T) {
	addr := startServer(t, namedServer("s"))
	w := mkWorld(t, FrontendConfig{}, BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr}}, TimeoutConnect: time.Second}, BindConfig{})
	c := w.dial()
	readLine(t, c)
	w.bind.Stop()
	select {
	case <-w.bind.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if n := w.eng.ActiveSessions(); n != 1 {
		t.Errorf("ActiveSessions = %d; want 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if err := w.eng.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait with an active session = %v; want deadline exceeded", err)
	}
	cancel()
	// The session still works after Stop.
	c.Write([]byte("ping\n"))
	if l := readLine(t, c); l != "ping" {
		t.Errorf("echo after Stop = %q", l)
	}
	w.eng.CloseAll("test")
	if err := w.eng.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := w.nextLog(); r.Termination != "K-" {
		t.Errorf("termination = %q; want K-", r.Termination)
	}
}

// plainListener hides SetDeadline, like a listener wrapper without it.
type plainListener struct{ net.Listener }

func TestStopWithoutDeadline(t *testing.T) {
	eng := newTestEngine(EngineConfig{Logger: quiet})
	be, err := NewBackend(BackendConfig{Name: "be", Servers: []ServerConfig{{Name: "s", Addr: closedAddr(t), Weight: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	fe, err := eng.NewFrontend(FrontendConfig{Name: "fe", Backend: func(*ConnInfo) *Backend { return be }})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := fe.Serve(plainListener{ln}, BindConfig{})
	b.Stop() // must not block
	ln.Close()
	select {
	case <-b.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("accept loop still running after the listener was closed")
	}
}

func TestIdleParking(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("parking is Linux only")
	}
	addr := startServer(t, func(c net.Conn) { io.Copy(c, c) })
	// Parking is the goroutine engine's; the event loops need none.
	w := (&world{t: t, eng: NewEngine(EngineConfig{Logger: quiet, Goroutines: true}), logs: make(chan *LogRecord, 100)}).start(FrontendConfig{TimeoutClient: 5 * time.Second},
		BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr}}, TimeoutConnect: time.Second, TimeoutServer: 5 * time.Second},
		BindConfig{})
	base := parkedSessions()
	const n = 20
	var cs []*net.TCPConn
	for range n {
		cs = append(cs, w.dial())
	}
	deadline := time.Now().Add(5 * time.Second)
	for parkedSessions()-base != n {
		if time.Now().After(deadline) {
			t.Fatalf("parked sessions = %d; want %d", parkedSessions()-base, n)
		}
		time.Sleep(time.Millisecond) // polling a counter: there is no event for "parked"
	}
	// Data wakes a parked session up.
	for i, c := range cs[:n/2] {
		fmt.Fprintf(c, "ping %d\n", i)
		if l := readLine(t, c); l != fmt.Sprintf("ping %d", i) {
			t.Fatalf("echo = %q", l)
		}
	}
	if g := parkedSessions() - base; g != n/2 {
		t.Errorf("parked sessions after waking half = %d; want %d", g, n/2)
	}
	// So does a kill.
	w.eng.CloseAll("test")
	for _, c := range cs[n/2:] {
		expectClosed(t, c, 3*time.Second)
	}
	for range n {
		if r := w.nextLog(); r.Termination != "K-" {
			t.Errorf("termination = %q; want K-", r.Termination)
		}
	}
	if g := parkedSessions() - base; g != 0 {
		t.Errorf("parked sessions after CloseAll = %d; want 0", g)
	}
}

func TestGlobalMaxconn(t *testing.T) {
	addr := startServer(t, namedServer("s"))
	w := &world{t: t, eng: newTestEngine(EngineConfig{Maxconn: 1, Logger: quiet}), logs: make(chan *LogRecord, 100)}
	w.start(FrontendConfig{Name: "a"}, BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr}}, TimeoutConnect: time.Second}, BindConfig{})
	first := w.dial()
	readLine(t, first)
	// A second frontend of the same engine shares the global limit.
	w.start(FrontendConfig{Name: "b"}, BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr}}, TimeoutConnect: time.Second}, BindConfig{})
	second := w.dial()
	second.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := second.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("second frontend read = %v; want a timeout (global maxconn reached)", err)
	}
	first.Close()
	if l := readLine(t, second); l != "s" {
		t.Fatalf("second frontend got %q after the first session ended", l)
	}
}

// slowReader reads r in small chunks with pauses, so that the proxy's
// writes to it block and take the pending-write path.
type slowReader struct {
	r     io.Reader
	chunk int
	n     int
}

func (s *slowReader) Read(p []byte) (int, error) {
	s.n++
	if s.n%8 == 0 {
		time.Sleep(time.Millisecond) // a slow consumer, not synchronisation
	}
	return s.r.Read(p[:min(len(p), s.chunk)])
}

func TestConcurrentTransfers(t *testing.T) {
	tests := []struct {
		name      string
		conns     int
		req, resp int
		slow      bool
		network   string
	}{
		{"many small", 64, 2 << 10, 8 << 10, false, "tcp"},
		{"slow readers, bulk", 8, 256 << 10, 4 << 20, true, "tcp"},
		// A unix socket server cannot splice: buffered copy with
		// pending writes.
		{"slow readers, unix server", 8, 256 << 10, 2 << 20, true, "unix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var addr string
			if tt.network == "unix" {
				addr = startUnixServer(t, hashServer(tt.resp))
			} else {
				addr = startServer(t, hashServer(tt.resp))
			}
			w := mkWorld(t, FrontendConfig{TimeoutClient: 10 * time.Second},
				BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr, Network: tt.network}}, TimeoutConnect: time.Second, TimeoutServer: 10 * time.Second},
				BindConfig{})
			errs := make(chan error, tt.conns)
			for i := range tt.conns {
				go func() {
					errs <- func() error {
						c, err := net.Dial("tcp", w.addr)
						if err != nil {
							return err
						}
						defer c.Close()
						c.SetDeadline(time.Now().Add(20 * time.Second))
						req := make([]byte, tt.req)
						rand.NewChaCha8([32]byte{byte(i)}).Read(req)
						go func() {
							c.Write(req)
							c.(*net.TCPConn).CloseWrite()
						}()
						var r io.Reader = c
						if tt.slow {
							r = &slowReader{r: c, chunk: 4096}
						}
						got := sha256.New()
						n, err := io.Copy(got, r)
						if err != nil {
							return err
						}
						sum := sha256.Sum256(req)
						want := sha256.New()
						io.Copy(want, io.LimitReader(seeded(sum[:]), int64(tt.resp)))
						if n != int64(tt.resp) || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
							return fmt.Errorf("conn %d: %d bytes, checksum mismatch", i, n)
						}
						return nil
					}()
				}()
			}
			for range tt.conns {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			for range tt.conns {
				if r := w.nextLog(); r.Termination != "--" {
					t.Errorf("termination = %q; want --", r.Termination)
				}
			}
		})
	}
}

func TestResetTermination(t *testing.T) {
	tests := []struct {
		name   string
		server func(net.Conn)
		client func(t *testing.T, c *net.TCPConn)
		term   string
	}{
		{name: "client reset", server: func(c net.Conn) { io.Copy(c, c) },
			client: func(t *testing.T, c *net.TCPConn) {
				c.Write([]byte("x\n"))
				readLine(t, c)
				c.SetLinger(0) // close with RST
				c.Close()
			}, term: "CD"},
		{name: "server reset", server: func(c net.Conn) {
			bufio.NewReader(c).ReadString('\n')
			c.(*net.TCPConn).SetLinger(0)
		}, client: func(t *testing.T, c *net.TCPConn) {
			c.Write([]byte("x\n"))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.Copy(io.Discard, c)
		}, term: "SD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startServer(t, tt.server)
			w := mkWorld(t, FrontendConfig{TimeoutClient: 5 * time.Second},
				BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr}}, TimeoutConnect: time.Second, TimeoutServer: 5 * time.Second},
				BindConfig{})
			tt.client(t, w.dial())
			if r := w.nextLog(); r.Termination != tt.term {
				t.Errorf("termination = %q; want %q", r.Termination, tt.term)
			}
		})
	}
}

// TestLogRecordAddresses: the record carries what log-format prints beyond
// the tcplog line: the frontend address, the server connection's two ends,
// the bind id, the process-wide session number and the transfer time.
func TestLogRecordAddresses(t *testing.T) {
	srv := startServer(t, namedServer("a"))
	w := mkWorld(t, FrontendConfig{}, BackendConfig{Servers: []ServerConfig{{Name: "a", Addr: srv}},
		TimeoutConnect: time.Second}, BindConfig{Name: "b", ID: 7})
	for i := range 2 {
		c := w.dial()
		readLine(t, c)
		local := c.RemoteAddr().(*net.TCPAddr).AddrPort()
		c.Close()
		r := w.nextLog()
		if r.Local != local || r.BindID != 7 || r.SessionID != uint64(i) || r.Th != 0 {
			t.Errorf("session %d: Local %v BindID %d SessionID %d Th %v; want %v 7 %d 0", i, r.Local, r.BindID, r.SessionID, r.Th, local, i)
		}
		if r.ServerAddr != netip.MustParseAddrPort(srv) || !r.ServerLocal.IsValid() || r.ServerLocal.Port() == 0 {
			t.Errorf("session %d: server connection %v -> %v; want a local port -> %s", i, r.ServerLocal, r.ServerAddr, srv)
		}
		if r.Td < 0 || r.Td > r.Tt {
			t.Errorf("session %d: Td %v with Tt %v", i, r.Td, r.Tt)
		}
	}
}

// TestKillQueued: a connection killed while it waits in the queue ends "KQ" and leaves the
// queue; once the connection ahead of it ends, no slot is left held.
func TestKillQueued(t *testing.T) {
	addr := startServer(t, func(c net.Conn) {
		c.Write([]byte("hello\n"))
		io.Copy(io.Discard, c) // until the client's end
	})
	w := mkWorld(t, FrontendConfig{TimeoutClient: 5 * time.Second},
		BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr, Maxconn: 1}},
			TimeoutConnect: time.Second, TimeoutQueue: 10 * time.Second, TimeoutServer: 5 * time.Second},
		BindConfig{})
	first := w.dial()
	if l := readLine(t, first); l != "hello" {
		t.Fatalf("first connection got %q", l)
	}
	second := w.dial()
	deadline := time.Now().Add(5 * time.Second)
	for w.be.Stats().Queue != 1 {
		if time.Now().After(deadline) {
			t.Fatal("second connection never queued")
		}
		time.Sleep(time.Millisecond) // polling a counter: there is no event for "queued"
	}
	// Kill the queued one alone (the one holding no server slot): a kill of both could
	// free the first one's slot for it just before its own kill.
	var queued *Conn
	w.eng.mu.Lock()
	for c := range w.eng.conns {
		if c.Server() == nil {
			queued = c
		}
	}
	w.eng.mu.Unlock()
	if queued == nil {
		t.Fatal("no queued connection")
	}
	queued.Kill(TermKilled)
	expectClosed(t, second, 3*time.Second)
	if r := w.nextLog(); r.Termination != "KQ" || r.Server != "s" && r.Server != "<NOSRV>" {
		t.Errorf("killed in the queue: %s %s; want KQ", r.Termination, r.Server)
	}
	if st := w.be.Stats(); st.Queue != 0 || st.Cur != 1 {
		t.Errorf("after the kill: queue %d, sessions %d; want 0, 1", st.Queue, st.Cur)
	}
	first.Close()
	if r := w.nextLog(); r.Termination != "--" && r.Termination != "CD" {
		t.Errorf("first session: %s", r.Termination)
	}
	if st := w.be.Stats(); st.Queue != 0 || st.Cur != 0 {
		t.Errorf("after the kill: queue %d, sessions %d; want 0, 0", st.Queue, st.Cur)
	}
	if s := w.be.Servers()[0].Stats(); s.Cur != 0 {
		t.Errorf("server slots held after the kill: %d", s.Cur)
	}
}
