package soak

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lb/internal/lbtest"
)

// slHoldHTTP opens n keep-alive HTTP connections to addr, makes one request on each and
// keeps them open, idle. It returns the connections whose request got a 200.
func slHoldHTTP(addr string, n int) (conns []net.Conn, failed int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ok := false
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err == nil {
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err == nil {
					var resp *http.Response
					if resp, err = http.ReadResponse(bufio.NewReader(c), nil); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						ok = resp.StatusCode == 200 && !resp.Close
					}
				}
				_ = c.SetDeadline(time.Time{})
			}
			mu.Lock()
			defer mu.Unlock()
			if ok {
				conns = append(conns, c)
			} else {
				failed++
				if c != nil {
					c.Close()
				}
			}
		}()
	}
	wg.Wait()
	return conns, failed
}

// slFlush sends lb SIGQUIT twice (the first collection leaves the pools' buffers to the
// second) and waits for each "released after flush" line.
func slFlush(t *testing.T, p *slLB) {
	t.Helper()
	for i := 0; i < 2; i++ {
		n := strings.Count(p.output(), "released after flush")
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		if err := slEventually(10*time.Second, func() error {
			if strings.Count(p.output(), "released after flush") <= n {
				return fmt.Errorf("no flush")
			}
			return nil
		}); err != nil {
			t.Fatalf("SIGQUIT: %v:\n%s", err, p.output())
		}
	}
}

// TestSoakMemoryHeldConnections drives lb's memory with bursts of connections held open:
// TCP sessions (served by the event loops) and idle HTTP keep-alive clients (parked), 2000
// of each per burst, 3 bursts (10 with LB_SOAK=1). Each connection must cost lb little (RSS
// growth per connection below 16 KiB, where one 16 KiB buffer per direction kept by every
// idle connection would show as 32), lb must stay idle while they are held (below 0.1 CPU),
// serve new clients once they left, and keep no memory from one burst to the next: its
// anonymous RSS (RssAnon; the binary's pages the traffic paged in are not memory taken),
// measured after each burst and a flush (SIGQUIT, lb's "free memory back to the OS": an
// idle Go process collects garbage on its own only every two minutes), must not grow from
// the first burst to the last by more than 2 MiB.
//
// MemoryMax= itself is TestSoakSystemdMemoryMax in internal/e2e/systemd.
func TestSoakMemoryHeldConnections(t *testing.T) {
	slSkipShort(t)
	if lbtest.Race() {
		t.Skip("the race detector multiplies lb's memory: the figures mean nothing with it")
	}
	n, bursts := 2000, 3
	if slLong() {
		bursts = 10
	}
	bins := slBuild(t)
	echo, web := slEchoServer(t), slHTTPServer(t)
	tcpPort, httpPort := slPort(t), slPort(t)
	cfg := filepath.Join(t.TempDir(), "lb.cfg")
	if err := os.WriteFile(cfg, []byte(slLimitsConfig(tcpPort, httpPort, echo, web, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	p := slStartLB(t, bins.lb, cfg, "true")
	tcpAddr := fmt.Sprintf("127.0.0.1:%d", tcpPort)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", httpPort)
	rss0, anon0 := slRSS(p.pid()), slStatusKiB(p.pid(), "RssAnon:")
	var after []float64
	var worstPerConn, worstCPU float64
	for b := 0; b < bursts; b++ {
		conns, dialErrs := slHold(tcpAddr, n, "ping\n")
		served := slEchoed(conns, 10*time.Second)
		hconns, hfailed := slHoldHTTP(httpAddr, n)
		rss1 := slRSS(p.pid())
		cpu := slCPUOver(t, p.pid(), time.Second)
		perConn := float64(rss1-rss0) / float64(served+len(hconns))
		worstPerConn, worstCPU = max(worstPerConn, perConn), max(worstCPU, cpu)
		if served != n || len(hconns) != n {
			t.Errorf("burst %d: served %d TCP (%d dials failed) and %d HTTP (%d failed) clients of %d each", b+1, served, dialErrs, len(hconns), hfailed, n)
		}
		for _, c := range append(conns, hconns...) {
			c.Close()
		}
		if err := slEventually(10*time.Second, func() error { return slEcho(tcpAddr, 2*time.Second) }); err != nil {
			t.Errorf("burst %d: tcp: no echo once the clients left: %v", b+1, err)
		}
		if st, err := slGet(httpAddr, 5*time.Second); err != nil || st != "HTTP/1.1 200 OK" {
			t.Errorf("burst %d: http once the clients left: %q, %v", b+1, st, err)
		}
		slFlush(t, p)
		anon := slStatusKiB(p.pid(), "RssAnon:")
		after = append(after, float64(anon))
		t.Logf("burst %d: RSS %d KiB with %d connections held (%.2f KiB each), %.3f CPU while held; anonymous RSS after it: %d KiB (started at %d)",
			b+1, rss1, served+len(hconns), perConn, cpu, anon, anon0)
	}
	if p.exited() {
		t.Fatal("lb exited")
	}
	if worstPerConn > 16 {
		t.Errorf("up to %.1f KiB of RSS per held connection; want below 16", worstPerConn)
	}
	if worstCPU > 0.1 {
		t.Errorf("lb used up to %.2f CPU with idle connections held; want < 0.1", worstCPU)
	}
	growth := after[len(after)-1] - after[0]
	if growth > 2<<10 {
		t.Errorf("anonymous RSS after each burst (KiB): %v: it grew %.0f KiB from the first to the last; want at most 2 MiB", after, growth)
	}
	slope, se := lbtest.Slope(after)
	t.Logf("anonymous RSS after each burst (KiB): %v; slope %.1f ± %.1f KiB per burst", after, slope, se)
	lbtest.SoakTableRow(t, fmt.Sprintf("%d bursts of %d TCP sessions and %d idle HTTP keep-alive clients held (loopback)", bursts, n, n),
		"all open at once, then closed at once",
		fmt.Sprintf("up to %.2f KiB of RSS per connection; %.3f CPU at most while held; new clients served after each burst; anonymous RSS after each burst and a flush: %.0f → %.0f KiB (%.1f ± %.1f KiB per burst)", worstPerConn, worstCPU, after[0], after[len(after)-1], slope, se),
		"nothing",
		slRepro("TestSoakMemoryHeldConnections"))
}
