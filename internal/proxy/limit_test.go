package proxy

import (
	"net"
	"testing"
	"time"
)

// waiting checks that c is connected but not served: accepted by the kernel only.
func waiting(t *testing.T, c *net.TCPConn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("%s: read = %v; want a timeout (not accepted)", what, err)
	}
	c.SetReadDeadline(time.Time{})
}

// served checks that c gets the server's name.
func served(t *testing.T, c *net.TCPConn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if l := readLine(t, c); l != "s" {
		t.Fatalf("%s: got %q", what, l)
	}
}

// TestSetMaxconn: raising a frontend's or the global limit lets a waiting client in at
// once; lowering it below the connections served holds new clients until they end
// below it.
func TestSetMaxconn(t *testing.T) {
	for _, global := range []bool{false, true} {
		name := map[bool]string{false: "frontend", true: "global"}[global]
		t.Run(name, func(t *testing.T) {
			addr := startServer(t, namedServer("s"))
			fc, ec := FrontendConfig{}, EngineConfig{Logger: quiet}
			if global {
				ec.Maxconn = 1
			} else {
				fc.Maxconn = 1
			}
			w := &world{t: t, eng: newTestEngine(ec), logs: make(chan *LogRecord, 100)}
			w.start(fc, BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr}}, TimeoutConnect: time.Second}, BindConfig{})
			set := func(n int) {
				if global {
					w.eng.SetMaxconn(n)
				} else {
					w.fe.SetMaxconn(n)
				}
			}
			a := w.dial()
			served(t, a, "first")
			b := w.dial()
			waiting(t, b, "second, limit 1")
			set(2)
			served(t, b, "second, limit raised to 2")
			set(1)
			c := w.dial()
			waiting(t, c, "third, limit lowered to 1")
			a.Close()
			waiting(t, c, "third, one connection left at limit 1")
			b.Close()
			served(t, c, "third, no connection left")
			if !global {
				set(0)
				d := w.dial()
				waiting(t, d, "fourth, limit 0")
				set(-1)
				served(t, d, "fourth, no limit")
			}
		})
	}
}

// TestSetMaxconnFromNone: a global limit set on an engine started without one counts the
// connections already served.
func TestSetMaxconnFromNone(t *testing.T) {
	addr := startServer(t, namedServer("s"))
	w := &world{t: t, eng: newTestEngine(EngineConfig{Logger: quiet}), logs: make(chan *LogRecord, 100)}
	w.start(FrontendConfig{}, BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr}}, TimeoutConnect: time.Second}, BindConfig{})
	a := w.dial()
	served(t, a, "first")
	if _, ok := w.eng.Maxconn(); ok {
		t.Fatal("engine has a limit")
	}
	w.eng.SetMaxconn(1)
	if n, ok := w.eng.Maxconn(); !ok || n != 1 {
		t.Fatalf("Maxconn = %d, %v", n, ok)
	}
	b := w.dial()
	waiting(t, b, "second")
	a.Close()
	served(t, b, "second, first closed")
}

// benchSlots takes and gives back a connection's maxconn slots, as an accept and its
// End do, from parallel goroutines.
func benchSlots(b *testing.B, global, front int) {
	e := NewEngine(EngineConfig{Maxconn: global})
	f, err := e.NewFrontend(FrontendConfig{Name: "fe", Maxconn: front, Backend: func(*ConnInfo) *Backend { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	bd := &Binding{f: f}
	bd.slots.init(0)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if bd.trySlots() {
				e.putSlots(bd)
			}
		}
	})
}

func BenchmarkSlotsUnlimited(b *testing.B) { benchSlots(b, 0, 0) }
func BenchmarkSlotsLimited(b *testing.B)   { benchSlots(b, 1<<20, 1<<20) }
