package proxy

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestAcceptRate shows maxconnrate, maxsessrate and "rate-limit sessions" at 20
// per second: about 20 clients are served in the first second, the others wait
// in the backlog (none is refused) and are served as the rate allows.
func TestAcceptRate(t *testing.T) {
	tests := []struct {
		name string
		ec   EngineConfig
		fc   FrontendConfig
	}{
		{"maxconnrate", EngineConfig{MaxConnRate: 20}, FrontendConfig{}},
		{"maxsessrate", EngineConfig{MaxSessRate: 20}, FrontendConfig{}},
		{"rate-limit sessions", EngineConfig{}, FrontendConfig{RateLimitSessions: 20}},
	}
	for _, tt := range tests {
		for _, gr := range []bool{false, true} {
			name := tt.name + "/loops"
			if gr {
				name = tt.name + "/goroutines"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				addr := startServer(t, namedServer("s"))
				ec := tt.ec
				ec.Logger, ec.Goroutines = quiet, gr
				w := &world{t: t, eng: newTestEngine(ec), logs: make(chan *LogRecord, 100)}
				fc := tt.fc
				fc.Name = "f"
				w.start(fc, BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr}}, TimeoutConnect: time.Second}, BindConfig{})
				const clients = 40
				var served, failed atomic.Int32
				done := make(chan struct{}, clients)
				start := time.Now()
				for range clients {
					c := w.dial()
					go func() {
						defer func() { done <- struct{}{} }()
						_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
						b := make([]byte, 2)
						if n, err := c.Read(b); err != nil || n == 0 || b[0] != 's' {
							failed.Add(1)
							return
						}
						served.Add(1)
					}()
				}
				time.Sleep(1500*time.Millisecond - time.Since(start))
				// 20 at once, then about 20 more over the next second.
				if n := served.Load(); n < 15 || n > 36 {
					t.Errorf("served in 1.5 s = %d; want about 30 at 20 per second", n)
				}
				if n := failed.Load(); n != 0 {
					t.Fatalf("%d clients refused or failed; want them to wait", n)
				}
				for range clients {
					<-done
				}
				if n := failed.Load(); n != 0 {
					t.Fatalf("%d clients refused or failed; want them served in the end", n)
				}
			})
		}
	}
}

// TestFreqCtr checks the per-second window: the limit is reached at once, then
// the past second's weight falls off through the next one.
func TestFreqCtr(t *testing.T) {
	var c freqCtr
	c.set(10)
	t0 := time.Unix(1000, 0)
	for i := range 10 {
		if d := c.wait(t0); d != 0 {
			t.Fatalf("event %d waits %v; want 0", i, d)
		}
		c.add(t0)
	}
	if d := c.wait(t0); d != time.Second {
		t.Fatalf("11th event waits %v; want 1s (the next second, past weight 10 -> 9.x)", d)
	}
	// Half through the next second the past second weighs 5.
	t1 := t0.Add(1500 * time.Millisecond)
	for range 5 {
		if d := c.wait(t1); d != 0 {
			t.Fatalf("wait at 1.5 s = %v; want 0", d)
		}
		c.add(t1)
	}
	if d := c.wait(t1); d == 0 || d > 200*time.Millisecond {
		t.Fatalf("wait at 1.5 s after 5 = %v; want a short one", d)
	}
	c.set(0)
	if d := c.wait(t1); d != 0 {
		t.Fatalf("no limit waits %v", d)
	}
}
