package soak

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Scenario 5 of issue 16: a server that resets, stalls, answers garbage, half a head, half
// a body, a head larger than the buffer or a bad chunked body. The client must get HAProxy's status and the log
// line HAProxy's termination state, for the same configuration and traffic: each case is
// sent once to haproxy and once to lb, then to lb again and again by concurrent clients,
// every answer and every log line held to haproxy's.

// badCases are the server's behaviours, by request path.
var badCases = []string{"/ok", "/close", "/reset", "/stall", "/garbage", "/halfhead", "/stallhead", "/halfbody", "/resetbody", "/stallbody", "/bighead", "/dupcl", "/badchunk", "/latechunk"}

// startBadServer answers each request by its path (one request per connection):
//
//	/ok         a 200 with a 2-byte body
//	/close      closes without answering
//	/reset      resets the connection without answering
//	/stall      never answers
//	/garbage    a line that is not HTTP
//	/halfhead   half a response head, then closes
//	/stallhead  half a response head, then nothing
//	/halfbody   a head announcing 100 bytes, 10 of them, then closes
//	/resetbody  the same, then resets
//	/stallbody  the same, then nothing
//	/bighead    a head of 20000 bytes (larger than tune.bufsize)
//	/dupcl      two different Content-Length fields
//	/badchunk   a chunked body whose second chunk size is not hexadecimal
//	/latechunk  the same, the bad size 100 ms after the head and first chunk
func startBadServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // guards conns
	conns := map[net.Conn]bool{}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			go func() {
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
				}()
				serveBad(c)
			}()
		}
	}()
	return ln.Addr().String()
}

func serveBad(c net.Conn) {
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		c.Close()
		return
	}
	for {
		h, err := br.ReadString('\n')
		if err != nil {
			c.Close()
			return
		}
		if h == "\r\n" {
			break
		}
	}
	f := strings.Fields(line)
	path := ""
	if len(f) > 1 {
		path, _, _ = strings.Cut(f[1], "?")
	}
	reset := func() {
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	const halfBody = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"
	switch path {
	case "/ok":
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	case "/close":
	case "/reset":
		reset()
		return
	case "/stall", "/stallbody", "/stallhead":
		switch path {
		case "/stallbody":
			io.WriteString(c, halfBody)
		case "/stallhead":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Le")
		}
		// Until the proxy gives up (or the test ends).
		_, _ = io.Copy(io.Discard, br)
	case "/garbage":
		io.WriteString(c, "this is not HTTP\r\n\r\n")
	case "/halfhead":
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Le")
	case "/halfbody":
		io.WriteString(c, halfBody)
	case "/resetbody":
		io.WriteString(c, halfBody)
		time.Sleep(20 * time.Millisecond) // the body part leaves before the reset
		reset()
		return
	case "/dupcl":
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok")
	case "/latechunk":
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n")
		time.Sleep(100 * time.Millisecond) // the head and first chunk are forwarded meanwhile
		io.WriteString(c, "zz\r\n")
		time.Sleep(20 * time.Millisecond) // the bad size is read before the close
	case "/badchunk":
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\n")
		time.Sleep(20 * time.Millisecond) // the bad size is read before the close
	case "/bighead":
		io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("b", 20000)+"\r\nContent-Length: 2\r\n\r\nok")
	}
	c.Close()
}

// badConfig sends every request to the bad server, logging the path, status and
// termination state.
func badConfig(addr, srv string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 500ms
frontend fe
    bind %s
    log-format "B %%{+Q}r %%ST %%ts"
    default_backend be
backend be
    server s1 %s
`, addr, srv)
}

// badOutcome is what the client saw of one request and what the proxy logged for it.
type badOutcome struct {
	client string // the status, "+ truncated" when the body fell short, or "no response"
	log    string // "%ST %ts" of the log line
}

// askBad sends GET path on a new connection to addr and reads the answer whole.
func askBad(addr, path, tag string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+"?"+tag+" HTTP/1.1\r\nHost: soak\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "no response", nil
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Sprintf("%d truncated", resp.StatusCode), nil
	}
	return fmt.Sprint(resp.StatusCode), nil
}

// badLogs returns the "%ST %ts" of each logged request by its "path?tag".
func badLogs(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 6 && f[0] == "B" {
			m[f[2]] = f[4] + " " + f[5]
		}
	}
	return m
}

// waitLogs waits until out has a log line for each of the n keys.
func waitLogs(t *testing.T, p *proc, keys []string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := badLogs(p.output())
		missing := 0
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				missing++
			}
		}
		if missing == 0 {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s logged %d of %d requests", p.name, len(keys)-missing, len(keys))
		}
		time.Sleep(20 * time.Millisecond) // polling a log: there is no other signal
	}
}

// sequential sends each case once, one after the other, and returns the outcomes by case.
func sequential(t *testing.T, kind, cfg, addr string) map[string]badOutcome {
	t.Helper()
	p := startProxy(t, kind, cfg, addr)
	got := map[string]badOutcome{}
	var keys []string
	for _, path := range badCases {
		client, err := askBad(addr, path, "seq")
		if err != nil {
			t.Fatalf("%s %s: %v", kind, path, err)
		}
		got[path] = badOutcome{client: client}
		keys = append(keys, path+"?seq")
	}
	logs := waitLogs(t, p, keys)
	for _, path := range badCases {
		o := got[path]
		o.log = logs[path+"?seq"]
		got[path] = o
	}
	return got
}

func TestSoakBadServers(t *testing.T) {
	skipShort(t)
	build(t)
	srv := startBadServer(t)
	addr := freeAddr(t)
	cfg := writeConfig(t, badConfig(addr, srv))

	// The reference, then lb on the same traffic.
	var want map[string]badOutcome
	t.Run("haproxy", func(t *testing.T) { want = sequential(t, "haproxy", cfg, addr) })
	if want == nil {
		t.Skip("no reference from haproxy")
	}
	// The test's own check: the cases differ, so that a proxy answering 502 to all fails.
	if want["/ok"].client != "200" || want["/stall"].client != "504" {
		t.Fatalf("haproxy's reference: /ok %+v, /stall %+v; want 200 and 504", want["/ok"], want["/stall"])
	}
	ok := t.Run("lb", func(t *testing.T) {
		got := sequential(t, "lb", cfg, addr)
		for _, path := range badCases {
			t.Logf("%-10s haproxy: %-14s log %-7s  lb: %-14s log %s", path, want[path].client, want[path].log, got[path].client, got[path].log)
			if got[path] != want[path] {
				t.Errorf("%s: lb %+v; haproxy %+v", path, got[path], want[path])
			}
		}
	})
	if !ok {
		return
	}

	// lb again under concurrent clients, each case at random; every answer and log line
	// must be haproxy's for its case.
	p := startLB(t, cfg)
	dur := pick(2*time.Second, 90*time.Second)
	workers := pick(8, 16)
	rnd := newRand(t)
	seeds := make([]uint64, workers)
	for i := range seeds {
		seeds[i] = rnd.Uint64()
	}
	var mu sync.Mutex // guards sent, wrong
	sent := map[string]string{}
	var wrong []string
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wr := rand.New(rand.NewPCG(seeds[w], uint64(w)))
			for n := 0; time.Since(t0) < dur; n++ {
				path := badCases[wr.IntN(len(badCases))]
				tag := fmt.Sprintf("w%d-%d", w, n)
				client, err := askBad(addr, path, tag)
				mu.Lock()
				sent[path+"?"+tag] = path
				if err != nil || client != want[path].client {
					wrong = append(wrong, fmt.Sprintf("%s?%s at %.3fs: client %q (err %v); want %q", path, tag, time.Since(t0).Seconds(), client, err, want[path].client))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	keys := make([]string, 0, len(sent))
	for k := range sent {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	logs := waitLogs(t, p, keys)
	perCase := map[string]int{}
	for _, k := range keys {
		path := sent[k]
		perCase[path]++
		if logs[k] != want[path].log {
			wrong = append(wrong, fmt.Sprintf("%s: logged %q; want %q", k, logs[k], want[path].log))
		}
	}
	t.Logf("%d requests by %d concurrent clients in %s, per case %v; %d differ from haproxy", len(keys), workers, time.Since(t0).Round(time.Millisecond), perCase, len(wrong))
	for i, w := range wrong {
		if i == 20 {
			t.Errorf("… %d more", len(wrong)-20)
			break
		}
		t.Error(w)
	}
	var cases []string
	for _, path := range badCases[1:] {
		cases = append(cases, fmt.Sprintf("%s %s `%s`", strings.TrimPrefix(path, "/"), strings.Fields(want[path].log)[0], strings.Fields(want[path].log)[1]))
	}
	lost := "nothing: every status and flag as haproxy's"
	if len(wrong) > 0 {
		lost = fmt.Sprintf("**%d answers or log lines differ from haproxy's**", len(wrong))
	}
	row(t, "server resets, closes, stalls (before or in the head, in the body), answers garbage, half a head, half a body, a 20 kB head, two Content-Lengths, a bad chunk size (with the head, later)",
		fmt.Sprintf("%d concurrent clients, a new connection per request, %s", workers, dur),
		fmt.Sprintf("%d requests; status and termination state as haproxy 2.6 on the same traffic: %s", len(keys), strings.Join(cases, ", ")),
		lost, "LB_SOAK=1 go test -run TestSoakBadServers ./internal/e2e/soak/")
}
