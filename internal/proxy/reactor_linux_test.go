package proxy

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestLoopsSpreadConnections: with two event loops, connections opened one after the other
// (a burst, which one loop's wake-ups may all win) end up on both loops, and an idle one
// holds no goroutine.
func TestLoopsSpreadConnections(t *testing.T) {
	addr := startServer(t, func(c net.Conn) { io.Copy(c, c) })
	w := &world{t: t, eng: NewEngine(EngineConfig{Logger: quiet, Threads: 2}), logs: make(chan *LogRecord, 100)}
	w.start(FrontendConfig{TimeoutClient: 5 * time.Second},
		BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr}}, TimeoutConnect: time.Second, TimeoutServer: 5 * time.Second},
		BindConfig{})
	goroutines := runtime.NumGoroutine()
	const n = 20
	var cs []*net.TCPConn
	for i := range n {
		c := w.dial()
		cs = append(cs, c)
		// An echo proves the connection is set up on its loop.
		fmt.Fprintf(c, "ping %d\n", i)
		if l := readLine(t, c); l != fmt.Sprintf("ping %d", i) {
			t.Fatalf("echo = %q", l)
		}
	}
	loops := w.eng.rx.loops
	if len(loops) != 2 {
		t.Fatalf("%d loops; want 2", len(loops))
	}
	for i, l := range loops {
		if got := l.load.Load(); got < n/2-1 {
			t.Errorf("loop %d holds %d connections of %d; want about half", i, got, n)
		}
	}
	// The test's own echo server runs a goroutine per connection; lb none.
	if g := runtime.NumGoroutine() - goroutines; g > n+2 {
		t.Errorf("%d more goroutines for %d connections; want at most %d (the echo server's)", g, n, n+2)
	}
	for _, c := range cs {
		c.Close()
	}
}

// TestSpareProc: the event loops get a P more than there are loops while
// they carry traffic, and give it back once they have been quiet; without
// it they wait in the runtime's poller, where their connections and their
// timers still wake them.
func TestSpareProc(t *testing.T) {
	procs := make(chan int, 16)
	ManageProcs(1, func(n int) { procs <- n })
	if n := <-procs; n != 1 {
		t.Fatalf("Ps set to %d; want 1", n)
	}
	t.Cleanup(func() { ManageProcs(0, nil) })
	addr := startServer(t, func(c net.Conn) { io.Copy(c, c) })
	w := &world{t: t, eng: NewEngine(EngineConfig{Logger: quiet, Threads: 1}), logs: make(chan *LogRecord, 100)}
	w.start(FrontendConfig{TimeoutClient: 300 * time.Millisecond},
		BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr}}, TimeoutConnect: time.Second, TimeoutServer: 5 * time.Second},
		BindConfig{})
	var c net.Conn
	i := 0
	echo := func() {
		fmt.Fprintf(c, "ping %d\n", i)
		if l := readLine(t, c); l != fmt.Sprintf("ping %d", i) {
			t.Fatalf("echo = %q", l)
		}
		i++
	}
	// wait waits for the Ps to be set, to want, while during runs again
	// and again (traffic), or without it.
	wait := func(want int, during func()) {
		t.Helper()
		end := time.After(10 * time.Second)
		for {
			var tick <-chan time.Time
			if during != nil {
				during()
				tick = time.After(0)
			}
			select {
			case n := <-procs:
				if n != want {
					t.Fatalf("Ps set to %d; want %d", n, want)
				}
				// The flag follows the Ps when they are added.
				for wait := time.Now().Add(time.Second); procNoSpare.Load() != (want == 1) && time.Now().Before(wait); {
					time.Sleep(time.Millisecond)
				}
				if got := procNoSpare.Load(); got != (want == 1) {
					t.Fatalf("with %d Ps the loops wait in the runtime's poller: %v", want, got)
				}
				return
			case <-end:
				t.Fatalf("Ps never set to %d", want)
			case <-tick:
			}
		}
	}
	c = w.dial()
	wait(2, echo) // busy: the spare P
	wait(1, nil)  // quiet: taken back; c timed out meanwhile
	expectClosed(t, c, 5*time.Second)
	// Waiting in the runtime's poller, the loop accepts, and its timer
	// (timeout client) ends an idle connection.
	idle := w.dial()
	expectClosed(t, idle, 5*time.Second)
	if procNoSpare.Load() != true {
		t.Fatal("the spare P came back for one connection")
	}
	c = w.dial()
	wait(2, echo)
}
