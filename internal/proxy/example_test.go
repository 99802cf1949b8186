package proxy_test

import (
	"context"
	"log/slog"
	"net"
	"time"

	"lb/internal/proxy"
)

// Example wires the compare benchmark's "frontend tcp_in" / "backend
// tcp_out" pair by hand, as the configuration loader does for each proxy.
func Example() {
	eng := proxy.NewEngine(proxy.EngineConfig{Maxconn: 4000}) // global maxconn
	be, err := proxy.NewBackend(proxy.BackendConfig{
		Name:    "tcp_out",
		Balance: "roundrobin",
		Servers: []proxy.ServerConfig{
			{Name: "a", Addr: "127.0.0.1:18081", Weight: 1},
			{Name: "b", Addr: "127.0.0.1:18082", Weight: 1},
		},
		TimeoutConnect: 5 * time.Second,
		TimeoutServer:  30 * time.Second,
		Retries:        3,
		// Health checks report transitions with Server.SetState; this
		// hook lets the caller log them in HAProxy's words.
		OnStateChange: func(s *proxy.Server, old, cur proxy.State, requeued int) {
			slog.Info("server state", "server", s.Name(), "from", old, "to", cur, "requeued", requeued)
		},
	})
	if err != nil {
		panic(err)
	}
	fe, err := eng.NewFrontend(proxy.FrontendConfig{
		Name:          "tcp_in",
		TimeoutClient: 30 * time.Second,
		Backend:       func(*proxy.ConnInfo) *proxy.Backend { return be }, // default_backend
		Log: func(r *proxy.LogRecord) { // option tcplog
			slog.Info("session", "client", r.Client, "backend", r.Backend, "server", r.Server, "ts", r.Termination)
		},
	})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // in lb: a listener.Listener
	if err != nil {
		panic(err)
	}
	b := fe.Serve(ln, proxy.BindConfig{Name: "tcp_in"})

	// Soft stop: stop accepting, let sessions drain for a while, then
	// kill what is left (hard-stop-after).
	b.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if eng.Wait(ctx) != nil {
		eng.CloseAll("hard-stop-after")
	}
	ln.Close()
}
