package loopback

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// statStatus returns the status column of backend/server in "show stat".
func statStatus(t *testing.T, sock, backend, server string) string {
	t.Helper()
	out := adminCommand(t, sock, "show stat")
	col := -1
	for _, l := range strings.Split(out, "\n") {
		f := strings.Split(l, ",")
		if strings.HasPrefix(l, "# ") {
			col = slices.Index(f, "status")
			continue
		}
		if col > 0 && len(f) > col && f[0] == backend && f[1] == server {
			return f[col]
		}
	}
	t.Fatalf("no %s/%s in show stat:\n%s", backend, server, out)
	return ""
}

// statusWatch records the successive status words of a server in "show stat".
type statusWatch struct {
	mu   sync.Mutex
	seen []string
}

func (w *statusWatch) add(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.seen); n == 0 || w.seen[n-1] != s {
		w.seen = append(w.seen, s)
	}
}

func (w *statusWatch) last() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.seen) == 0 {
		return ""
	}
	return w.seen[len(w.seen)-1]
}

// take returns the statuses seen so far and starts a new record from the last one.
func (w *statusWatch) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.seen
	if len(s) > 0 {
		w.seen = []string{s[len(s)-1]}
	}
	return s
}

// TestStatStatusTransitionsAsHAProxy: a checked server's status in "show stat" shows
// its health counter on the way, as HAProxy 2.6's: "UP 1/3" after start until its first
// check passes (it starts UP at the health of rise), "UP 2/3", "UP 1/3" then "DOWN" when
// its checks fail, "DOWN 1/2" then "UP" when they pass again. lb and haproxy check the same server,
// and the statuses each shows are recorded as it goes.
func TestStatStatusTransitionsAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	serve := func(ln net.Listener) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}
	go serve(ln)
	t.Cleanup(func() { ln.Close() })
	dir := t.TempDir()
	start := func(name, bin string) (string, *statusWatch) {
		sock := filepath.Join(dir, name+".sock")
		cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend b
    server s %s check inter 300ms rise 2 fall 3
`, sock, addr))
		if name == "lb" {
			startLB(t, "-db", "-f", cfg)
		} else {
			startProc(t, bin, "-db", "-f", cfg)
		}
		waitUnix(t, sock)
		return sock, &statusWatch{}
	}
	socks, watches := map[string]string{}, map[string]*statusWatch{}
	for _, n := range []string{"haproxy", "lb"} {
		socks[n], watches[n] = start(n, hap)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for n, sock := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond): // a tenth of a check interval
				}
				watches[n].add(statStatus(t, sock, "b", "s"))
			}
		}()
	}
	t.Cleanup(func() { close(stop); wg.Wait() })
	// until waits for both to show want, and returns what each showed.
	until := func(want string) map[string][]string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for watches["lb"].last() != want || watches["haproxy"].last() != want {
			if time.Now().After(deadline) {
				t.Fatalf("no %q after 10s: lb %q, haproxy %q", want, watches["lb"].take(), watches["haproxy"].take())
			}
			time.Sleep(20 * time.Millisecond) // the watchers poll the runtime API
		}
		return map[string][]string{"lb": watches["lb"].take(), "haproxy": watches["haproxy"].take()}
	}
	check := func(step string, got map[string][]string, want []string) {
		t.Helper()
		for _, n := range []string{"haproxy", "lb"} {
			if !slices.Equal(got[n], want) {
				t.Errorf("%s: %s showed %q, want %q", step, n, got[n], want)
			}
		}
	}
	// At start, before its first check, the server shows "UP 1/3"; the first check passed
	// brings it to full health at once. The first check may come before the first look.
	for n, seen := range until("UP") {
		if !slices.Equal(seen, []string{"UP 1/3", "UP"}) && !slices.Equal(seen, []string{"UP"}) {
			t.Errorf("after start: %s showed %q, want \"UP 1/3\" then \"UP\"", n, seen)
		}
	}
	ln.Close()
	check("checks failing", until("DOWN"), []string{"UP", "UP 2/3", "UP 1/3", "DOWN"})
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln2.Close() })
	go serve(ln2)
	check("checks passing again", until("UP"), []string{"DOWN", "DOWN 1/2", "UP"})
}
