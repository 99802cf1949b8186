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
	wg  sync.WaitGroup
}

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
	return &monitorServer{srv: &http.Server{Handler: h, ReadHeaderTimeout: read, IdleTimeout: idle,
		ErrorLog: nil}}
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
// connections and waits for active ones until ctx.
func (m *monitorServer) shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return m.srv.Shutdown(ctx)
}

func (m *monitorServer) close() { m.srv.Close() }
