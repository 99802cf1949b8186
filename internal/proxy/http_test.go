package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// HTTP handler tests in process, so that the race detector sees the transaction loop, the
// body upload running beside the response, parking and the idle pool. Conformance against
// HAProxy is checked end to end (internal/e2e/loopback); here the shapes of traffic that make
// the handler's goroutines meet.

// httpWorld is a world whose frontend and backend are in mode http, in front of a net/http
// server (the test's fixture, not the data plane) that echoes the method, path and body.
func httpWorld(t *testing.T, h http.HandlerFunc) *world {
	t.Helper()
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %d %s xff=%s", r.Method, r.URL.Path, len(body), body, r.Header.Get("X-Forwarded-For"))
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	fc := FrontendConfig{TimeoutClient: 5 * time.Second,
		HTTP: &HTTPFrontendConfig{Forwardfor: &Forwardfor{}}}
	bc := BackendConfig{TimeoutConnect: 2 * time.Second, TimeoutServer: 5 * time.Second,
		HTTP:    HTTPBackendConfig{Enabled: true},
		Servers: []ServerConfig{{Name: "s1", Addr: ln.Addr().String()}}}
	w := &world{t: t, eng: newTestEngine(EngineConfig{Logger: quiet}), logs: make(chan *LogRecord, 1000)}
	return w.start(fc, bc, BindConfig{Name: "b"})
}

// TestHTTPConcurrentClients: keep-alive clients in parallel, with plain, Content-Length and
// chunked requests, through one server pool.
func TestHTTPConcurrentClients(t *testing.T) {
	w := httpWorld(t, nil)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, DisableCompression: true}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				var req *http.Request
				body := fmt.Sprintf("g%d-i%d", g, i)
				switch i % 3 {
				case 0:
					req, _ = http.NewRequest("GET", "http://"+w.addr+"/get", nil)
					body = ""
				case 1:
					req, _ = http.NewRequest("POST", "http://"+w.addr+"/len", strings.NewReader(body))
				case 2:
					pr, pw := io.Pipe()
					go func() { io.WriteString(pw, body); pw.Close() }()
					req, _ = http.NewRequest("POST", "http://"+w.addr+"/chunked", pr) // unknown length: chunked
				}
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := fmt.Sprintf("%s %s %d %s xff=127.0.0.1", req.Method, req.URL.Path, len(body), body)
				if string(got) != want {
					errs <- fmt.Errorf("got %q, want %q", got, want)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestHTTPEarlyResponse: a server that answers before reading the request body (a 413, say):
// the client gets the response, the upload of the body is stopped, and the connection closes.
func TestHTTPEarlyResponse(t *testing.T) {
	w := httpWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Connection", "close")
		rw.WriteHeader(413)
		io.WriteString(rw, "too big")
	})
	c := w.dial()
	fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n")
	c.Write(bytes.Repeat([]byte("x"), 1000)) // the rest never comes
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 413 {
		t.Errorf("status %d; want 413", resp.StatusCode)
	}
	expectClosed(t, c, 5*time.Second)
	if r := w.nextLog(); r.HTTP.Status != 413 {
		t.Errorf("logged status %d; want 413", r.HTTP.Status)
	}
}

// TestHTTPKeepAliveParked: a keep-alive client that stays silent longer than the goroutine
// waits for it is parked, and served when it speaks again; the soft stop (CloseIdle) closes a
// parked client.
func TestHTTPKeepAliveParked(t *testing.T) {
	w := httpWorld(t, nil)
	c := w.dial()
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ {
		fmt.Fprintf(c, "GET /k%d HTTP/1.1\r\nHost: a\r\n\r\n", i)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		if i == 0 {
			deadline := time.Now().Add(5 * time.Second)
			for parkedSessions() == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond) // the parking has no signal of its own
			}
			if parkedSessions() == 0 {
				t.Fatal("the idle keep-alive client was not parked")
			}
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for parkedSessions() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := w.eng.CloseIdle(); n != 1 {
		t.Errorf("CloseIdle closed %d clients; want 1", n)
	}
	expectClosed(t, c, 5*time.Second)
}

// TestHTTPLargeBodies: bodies and heads larger than a transaction's first buffers, both ways,
// sized and chunked, and a head that only fits the full buffer.
func TestHTTPLargeBodies(t *testing.T) {
	w := httpWorld(t, func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rw.Header().Set("X-Big", strings.Repeat("h", 3000))
		rw.Header().Set("X-Len", fmt.Sprint(len(body)))
		rw.Write(bytes.Repeat([]byte("r"), 1<<20))
	})
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	for i, body := range []io.Reader{bytes.NewReader(bytes.Repeat([]byte("q"), 1<<20)), io.MultiReader(strings.NewReader(strings.Repeat("c", 5000)))} {
		req, _ := http.NewRequest("POST", "http://"+w.addr+"/big", body)
		if i == 1 {
			req.ContentLength = -1 // chunked
		}
		req.Header.Set("X-Long", strings.Repeat("l", 6000))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := []string{"1048576", "5000"}[i]
		if len(got) != 1<<20 || resp.Header.Get("X-Len") != want || len(resp.Header.Get("X-Big")) != 3000 {
			t.Errorf("request %d: %d bytes back, X-Len %q (want %s)", i, len(got), resp.Header.Get("X-Len"), want)
		}
	}
}
