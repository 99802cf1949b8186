package plane

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"lb/internal/config"
)

// lb has no HTTP data plane yet. One HTTP case is served already because a health endpoint
// needs it: a `mode http` frontend with `monitor-uri` and no backend answers the monitor URI
// with HAProxy's 200 page and anything else with its 503 page ("No server is available to
// handle this request."), on HTTP/1.x with keep-alive.

// HAProxy 2.6's bodies for these two answers (src/http_htx.c http_err_msgs).
const (
	monitorOKBody  = "<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n"
	noServerBody   = "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"
	monitorTimeout = 30 * time.Second
)

// isMonitorOnly reports whether fe is served by the monitor responder.
func isMonitorOnly(fe *config.Proxy) bool {
	return fe.Mode == config.ModeHTTP && fe.MonitorURI != "" && fe.DefaultBackend == "" &&
		len(fe.UseBackends) == 0 && fe.Cap&config.CapBackend == 0
}

// monitorServer answers a monitor-only frontend.
type monitorServer struct {
	srv *http.Server
	wg  sync.WaitGroup // the accept loops (Serve)

	// mu guards conns.
	mu sync.Mutex
	// conns are the open connections, with their state and when it began, as the
	// server's ConnState hook reports them.
	conns map[net.Conn]connState
	// changed gets a token when conns changes (capacity 1: changes coalesce).
	changed chan struct{}
}

type connState struct {
	st    http.ConnState
	since time.Time
}

// newConnIdleAfter is how long a connection may wait for its first request before a
// shutdown treats it as idle and closes it, as net/http's Shutdown does (Go issue 22682).
const newConnIdleAfter = 5 * time.Second

func newMonitorServer(fe *config.Proxy) *monitorServer {
	uri := fe.MonitorURI
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "no-cache")
		if r.URL.Path == uri || r.RequestURI == uri {
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, monitorOKBody)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, noServerBody)
	})
	idle := fe.Timeouts.HTTPKeepAlive
	if idle <= 0 {
		idle = fe.Timeouts.Client
	}
	if idle <= 0 {
		idle = monitorTimeout
	}
	read := fe.Timeouts.HTTPRequest
	if read <= 0 {
		read = fe.Timeouts.Client
	}
	if read <= 0 {
		read = monitorTimeout
	}
	m := &monitorServer{conns: map[net.Conn]connState{}, changed: make(chan struct{}, 1)}
	m.srv = &http.Server{Handler: h, ReadHeaderTimeout: read, IdleTimeout: idle,
		ErrorLog: nil, ConnState: m.track}
	return m
}

// track is the server's ConnState hook.
func (m *monitorServer) track(c net.Conn, st http.ConnState) {
	m.mu.Lock()
	switch st {
	case http.StateClosed, http.StateHijacked:
		delete(m.conns, c)
	default:
		m.conns[c] = connState{st, time.Now()}
	}
	m.mu.Unlock()
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

func (m *monitorServer) serve(ln net.Listener) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		_ = m.srv.Serve(ln)
	}()
}

// shutdown waits for the accept loops to end (the caller closed the listeners), so that a
// connection accepted at the last moment is tracked by the server, then closes idle
// connections and waits for the others until ctx: each gets its answer with
// "Connection: close". It does not use http.Server.Shutdown, which closes without an
// answer a connection whose first request comes in after the shutdown began: a health
// check accepted just before a reload would see its connection closed.
func (m *monitorServer) shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Answers now close their connection, and the idle ones are closed.
	m.srv.SetKeepAlivesEnabled(false)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		m.mu.Lock()
		for c, s := range m.conns {
			if s.st == http.StateIdle || s.st == http.StateNew && time.Since(s.since) > newConnIdleAfter {
				c.Close()
			}
		}
		n := len(m.conns)
		m.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-m.changed:
		case <-tick.C: // a new connection may have waited too long for its request
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (m *monitorServer) close() { m.srv.Close() }
