package loopback

import (
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRateLimitRuntime: "set rate-limit connections global 3" holds the clients beyond
// 3 per second (they wait, connected), "show info" shows the limit, and
// "set rate-limit connections global 0" lets the waiting ones in.
func TestRateLimitRuntime(t *testing.T) {
	dir := t.TempDir()
	cfg, addr := maxconnConfig(t, dir, 0, 0)
	sock := filepath.Join(dir, "admin.sock")
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		waitSock(t, sock)
		if got := infoField(t, sock, "ConnRateLimit"); got != "0" {
			t.Errorf("ConnRateLimit = %s; want 0", got)
		}
		if got := adminCommand(t, sock, "set rate-limit connections global 3"); got != "\n" {
			t.Fatalf("set rate-limit connections global 3 = %q", got)
		}
		if got := infoField(t, sock, "ConnRateLimit"); got != "3" {
			t.Errorf("ConnRateLimit = %s; want 3", got)
		}
		const clients = 10
		var served, failed atomic.Int32
		done := make(chan struct{}, clients)
		for range clients {
			m := dialMaxconn(t, addr)
			go func() {
				defer func() { done <- struct{}{} }()
				_ = m.c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if l, err := m.r.ReadString('\n'); err != nil || strings.TrimSpace(l) != "s1" {
					failed.Add(1)
					return
				}
				served.Add(1)
			}()
		}
		time.Sleep(500 * time.Millisecond)
		if n := served.Load(); n < 2 || n > 5 {
			t.Errorf("served in 0.5 s at 3 per second = %d; want about 3", n)
		}
		if n := failed.Load(); n != 0 {
			t.Fatalf("%d clients failed; want them to wait", n)
		}
		if got := adminCommand(t, sock, "set rate-limit connections global 0"); got != "\n" {
			t.Fatalf("set rate-limit connections global 0 = %q", got)
		}
		deadline := time.After(2 * time.Second)
		for range clients {
			select {
			case <-done:
			case <-deadline:
				t.Fatalf("%d of %d served 2 s after the limit was removed", served.Load(), clients)
			}
		}
		if n := failed.Load(); n != 0 {
			t.Fatalf("%d clients failed", n)
		}
		if got := infoField(t, sock, "SessRateLimit"); got != "0" {
			t.Errorf("SessRateLimit = %s; want 0", got)
		}
	})
}
