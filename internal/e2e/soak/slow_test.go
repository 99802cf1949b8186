package soak

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Scenario 3 of issue 16: clients that hold connections without finishing a request
// (slowloris dribbling a header, idle connections, keep-alive connections idle after a
// request; requests half sent then half-closed on top) fill the frontend's maxconn, and
// must be cut at "timeout http-request" (or "http-keep-alive") as HAProxy cuts them while
// other clients are still served within that timeout; a server's maxconn queues the
// requests beyond it and "timeout queue" sheds them with a 503 logged sQ, as HAProxy does.

const slowHTTPRequest = 1 * time.Second

func slowConfig(addr, app string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 10s
    timeout server 5s
    timeout http-request %[1]dms
    timeout http-keep-alive %[1]dms
frontend fe
    bind %[2]s
    maxconn 60
    log-format "S %%ci %%{+Q}r %%ST %%ts"
    default_backend be
backend be
    server s1 %[3]s
`, slowHTTPRequest.Milliseconds(), addr, app)
}

// slowSources are the loopback addresses each kind of slow client connects from, so that
// the proxy's log (%ci) tells them apart; well-behaved clients come from 127.0.0.1.
var slowSources = map[string]string{"slowloris": "127.0.0.2", "idle": "127.0.0.3", "halfclosed": "127.0.0.4", "kaidle": "127.0.0.5"}

// slowAttack holds one connection to addr the way kind says, until the proxy closes it
// (the test's end does not cut it short: every connection is the proxy's to cut, and to
// log), and returns what the proxy sent: its status line, or "closed" when it
// closed without a byte; a keep-alive client that stays idle after its request gets its
// response's status line and ", then closed".
func slowAttack(addr, kind string) (got string, err error) {
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(slowSources[kind])}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * slowHTTPRequest))
	read := make(chan string, 1)
	go func() {
		br := bufio.NewReader(c)
		if kind == "kaidle" {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				read <- "error: " + err.Error()
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			if _, err := br.ReadByte(); err == io.EOF {
				read <- fmt.Sprintf("HTTP/1.1 %s, then closed", resp.Status)
			} else {
				read <- fmt.Sprintf("HTTP/1.1 %s, then %v", resp.Status, err)
			}
			return
		}
		line, err := br.ReadString('\n')
		switch {
		case line != "":
			read <- strings.TrimSpace(line)
		case err == io.EOF:
			read <- "closed"
		default:
			read <- "error: " + err.Error()
		}
	}()
	switch kind {
	case "slowloris":
		io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: soak\r\nX-Slow: ")
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case got = <-read:
				return got, nil
			case <-tick.C:
				_, _ = c.Write([]byte("x")) // a header byte at a time, never the end
			}
		}
	case "idle":
	case "kaidle":
		io.WriteString(c, "GET /ka HTTP/1.1\r\nHost: soak\r\n\r\n")
	case "halfclosed":
		io.WriteString(c, "GET /half HTTP/1.1\r\nHost: soak\r\n")
		_ = c.(*net.TCPConn).CloseWrite()
	}
	return <-read, nil
}

// slowRun is one run of the slow-client scenario against a proxy.
type slowRun struct {
	attacks  map[string]map[string]int // kind → what it got → count
	logs     map[string]map[string]int // kind → "%ST %ts" of its log line → count
	sent, ok int
	worst    time.Duration // the slowest answer to a well-behaved client
	failed   []string
}

// runSlowClients keeps 60 connections (the frontend's maxconn) held by slow clients, each
// replaced when the proxy cuts it, while 4 clients send requests on new connections; after
// dur it stops and collects what everyone got.
func runSlowClients(t *testing.T, kind string, dur time.Duration) slowRun {
	build(t)
	app := startBackend(t, "app")
	addr := freeAddr(t)
	p := startProxy(t, kind, writeConfig(t, slowConfig(addr, app.httpAt)), addr)

	run := slowRun{attacks: map[string]map[string]int{}, logs: map[string]map[string]int{}}
	var mu sync.Mutex // guards run
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// 20 slowloris, 20 idle and 20 idle keep-alive connections hold the 60 slots; 10
	// clients half-close half a request on top, each cut at once, then back 100 ms later.
	for i := 0; i < 70; i++ {
		k := []string{"slowloris", "idle", "kaidle"}[i%3]
		if i >= 60 {
			k = "halfclosed"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := slowAttack(addr, k)
				if err != nil {
					got = "error: " + err.Error()
				}
				mu.Lock()
				if run.attacks[k] == nil {
					run.attacks[k] = map[string]int{}
				}
				run.attacks[k][got]++
				mu.Unlock()
				if k == "halfclosed" {
					select { // paces the clients the proxy cuts at once
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
		}()
	}
	// The well-behaved clients start once the slow ones had the time to take every slot.
	time.Sleep(200 * time.Millisecond) // lets the slow clients connect first: the point of the test
	t0 := time.Now()
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; time.Since(t0) < dur; n++ {
				start := time.Now()
				status, err := askBad(addr, "/good", fmt.Sprintf("g%d-%d", i, n))
				took := time.Since(start)
				mu.Lock()
				run.sent++
				if err == nil && status == "200" {
					run.ok++
				} else {
					run.failed = append(run.failed, fmt.Sprintf("at %.3fs: %q %v", start.Sub(t0).Seconds(), status, err))
				}
				if took > run.worst {
					run.worst = took
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(dur) // the load runs meanwhile
	close(stop)
	wg.Wait()
	// Each slow client's log line, by its source address: wait for at least as many lines
	// as connections (a keep-alive one logs its request, not its idle end).
	kinds := map[string]string{}
	for k, ip := range slowSources {
		kinds[ip] = k
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := 0
		for _, l := range strings.Split(p.output(), "\n") {
			f := strings.Fields(l)
			if len(f) < 4 || f[0] != "S" {
				continue
			}
			k, ok := kinds[f[1]]
			if !ok {
				continue
			}
			n++
			if run.logs[k] == nil {
				run.logs[k] = map[string]int{}
			}
			run.logs[k][f[len(f)-2]+" "+f[len(f)-1]]++
		}
		total := 0
		for _, m := range run.attacks {
			for _, c := range m {
				total += c
			}
		}
		if n >= total || time.Now().After(deadline) {
			break
		}
		run.logs = map[string]map[string]int{}
		time.Sleep(50 * time.Millisecond) // polling a log: there is no other signal
	}
	return run
}

// outcomes lists the distinct keys of m, sorted.
func outcomes(m map[string]int) string {
	var k []string
	for o := range m {
		k = append(k, o)
	}
	sort.Strings(k)
	return strings.Join(k, ", ")
}

func TestSoakSlowClients(t *testing.T) {
	skipShort(t)
	dur := pick(2500*time.Millisecond, 90*time.Second)
	var want slowRun
	t.Run("haproxy", func(t *testing.T) {
		want = runSlowClients(t, "haproxy", pick(3*time.Second, 10*time.Second))
		t.Logf("haproxy: slow clients got %v, logged %v; %d of %d requests served, the slowest in %s", want.attacks, want.logs, want.ok, want.sent, want.worst)
	})
	if want.attacks == nil {
		t.Skip("no reference from haproxy")
	}
	t.Run("lb", func(t *testing.T) {
		got := runSlowClients(t, "lb", dur)
		t.Logf("lb: slow clients got %v, logged %v; %d of %d requests served, the slowest in %s", got.attacks, got.logs, got.ok, got.sent, got.worst)
		for _, k := range []string{"slowloris", "idle", "kaidle", "halfclosed"} {
			if g, w := outcomes(got.attacks[k]), outcomes(want.attacks[k]); g != w {
				t.Errorf("%s clients got %q; haproxy's %q", k, g, w)
			}
			if g, w := outcomes(got.logs[k]), outcomes(want.logs[k]); g != w {
				t.Errorf("%s clients logged %q; haproxy's %q", k, g, w)
			}
		}
		if len(got.failed) > 0 || got.ok == 0 {
			t.Errorf("%d of %d well-behaved requests failed: %v", len(got.failed), got.sent, got.failed[:min(len(got.failed), 10)])
		}
		// A request waits at most for a slot, freed by the timeout of a slow client.
		if limit := slowHTTPRequest + time.Second; got.worst > limit {
			t.Errorf("the slowest well-behaved request took %s; want at most %s (timeout http-request + 1s)", got.worst, limit)
		}
		attacks := 0
		for _, m := range got.attacks {
			for _, c := range m {
				attacks += c
			}
		}
		lost := "nothing"
		if len(got.failed) > 0 {
			lost = fmt.Sprintf("**%d requests failed**", len(got.failed))
		}
		row(t, "slowloris (a header byte every 100 ms), idle connections, idle keep-alive connections, together the frontend's maxconn (60); requests half sent then half-closed on top",
			fmt.Sprintf("the 60 slow connections renewed as cut, 10 half-closing clients, 4 clients sending requests, %s", dur),
			fmt.Sprintf("%d slow connections cut as haproxy cuts them, answered and logged alike (slowloris and idle: `%s`, logged `%s`, at timeout http-request %s; idle keep-alive: `%s` at timeout http-keep-alive; half-closed: `%s`, logged `%s`, at once); %d requests served, the slowest in %s (haproxy: %s)",
				attacks, outcomes(got.attacks["slowloris"]), outcomes(got.logs["slowloris"]), slowHTTPRequest, outcomes(got.attacks["kaidle"]),
				outcomes(got.attacks["halfclosed"]), outcomes(got.logs["halfclosed"]), got.ok, got.worst.Round(time.Millisecond), want.worst.Round(time.Millisecond)),
			lost, "LB_SOAK=1 go test -run TestSoakSlowClients ./internal/e2e/soak/")
	})
}

// queueConfig is a backend whose server takes 2 requests at a time, the others queued up to
// "timeout queue"; another backend serves the background load.
func queueConfig(addr, app, bg string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 10s
    timeout server 5s
    timeout queue 500ms
frontend fe
    bind %s
    log-format "Q %%{+Q}r %%ST %%ts"
    use_backend bg if { path_beg /bg }
    default_backend be
backend be
    server s1 %s maxconn 2
backend bg
    server s1 %s
`, addr, app, bg)
}

// queueRound sends n requests at once for /sleep?ms=ms and returns the sorted answers.
func queueRound(addr string, n, ms int, tag string) []string {
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			s := ""
			if err == nil {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(c, "GET /sleep?ms=%d&t=%s-%d HTTP/1.1\r\nHost: soak\r\n\r\n", ms, tag, i)
				if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					s = fmt.Sprint(resp.StatusCode)
				} else {
					s = "no response"
				}
			} else {
				s = "dial: " + err.Error()
			}
			mu.Lock()
			got = append(got, s)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Strings(got)
	return got
}

// queueLogs returns the sorted "%ST %ts" of the log lines whose request line contains tag.
func queueLogs(t *testing.T, p *proc, tag string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got []string
		for _, l := range strings.Split(p.output(), "\n") {
			f := strings.Fields(l)
			if len(f) == 6 && f[0] == "Q" && strings.Contains(f[2], "t="+tag+"-") {
				got = append(got, f[4]+" "+f[5])
			}
		}
		if len(got) >= n || time.Now().After(deadline) {
			sort.Strings(got)
			return got
		}
		time.Sleep(20 * time.Millisecond) // polling a log: there is no other signal
	}
}

// queueRounds runs rounds of 6 requests at once: long ones (2 served, 4 shed by timeout
// queue) and short ones (queued, all served), and returns each kind's answers and log states
// of the first round, and the rounds whose answers differed from the first.
func queueRounds(t *testing.T, kind string, rounds int) (first map[string]string, differ []string, sent int) {
	build(t)
	app, bg := startBackend(t, "app"), startBackend(t, "bg")
	addr := freeAddr(t)
	p := startProxy(t, kind, writeConfig(t, queueConfig(addr, app.httpAt, bg.httpAt)), addr)
	// Background keep-alive load on the other backend all along: it is not held up.
	var rec loadRecorder
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); httpLoad(addr, fmt.Sprintf("bg%d", i), &rec, stop, 10*time.Second) }()
	}
	first = map[string]string{}
	for r := 0; r < rounds; r++ {
		for _, c := range []struct {
			name string
			ms   int
		}{{"long", 1200}, {"short", 50}} {
			tag := fmt.Sprintf("%s%d", c.name, r)
			ans := strings.Join(queueRound(addr, 6, c.ms, tag), " ")
			logs := strings.Join(queueLogs(t, p, tag, 6), ", ")
			sent += 6
			got := "answers " + ans + "; logged " + logs
			if r == 0 {
				first[c.name] = got
			} else if got != first[c.name] {
				differ = append(differ, fmt.Sprintf("round %d %s: %s; round 0: %s", r, c.name, got, first[c.name]))
			}
		}
	}
	close(stop)
	wg.Wait()
	if f := rec.failures(); len(f) > 0 || rec.ok.Load() == 0 {
		t.Errorf("background load: %d of %d requests failed:\n%s", len(f), rec.sent.Load(), fmtFailures(time.Now(), f, 10))
	}
	t.Logf("%s: %d queue rounds, %d requests; background load %d requests", kind, rounds, sent, rec.sent.Load())
	return first, differ, sent
}

func TestSoakServerQueue(t *testing.T) {
	skipShort(t)
	var want map[string]string
	t.Run("haproxy", func(t *testing.T) {
		want, _, _ = queueRounds(t, "haproxy", 1)
		t.Logf("haproxy: %v", want)
	})
	if want == nil {
		t.Skip("no reference from haproxy")
	}
	t.Run("lb", func(t *testing.T) {
		rounds := pick(2, 30)
		got, differ, sent := queueRounds(t, "lb", rounds)
		t.Logf("lb: %v", got)
		for _, k := range []string{"long", "short"} {
			if got[k] != want[k] {
				t.Errorf("%s requests: lb %s\nhaproxy %s", k, got[k], want[k])
			}
		}
		for _, d := range differ {
			t.Error(d)
		}
		lost := "nothing"
		if len(differ) > 0 {
			lost = fmt.Sprintf("**%d rounds differ**", len(differ))
		}
		row(t, "server maxconn 2, timeout queue 500ms",
			fmt.Sprintf("%d rounds of 6 simultaneous requests of 1.2 s then of 50 ms, 2 keep-alive clients on another backend", rounds),
			fmt.Sprintf("%d requests; as haproxy in every round: long %s; short %s; the other backend's clients all served", sent, got["long"], got["short"]),
			lost, "LB_SOAK=1 go test -run TestSoakServerQueue ./internal/e2e/soak/")
	})
}
