package proxy

import (
	"io"
	"net"
	"slices"
	"testing"
	"time"
)

// A FIN that arrives together with the last data (write then CloseWrite
// at once) must be forwarded promptly, also once a direction has gone
// keep-alive and waits for a readiness edge before reading again: the
// FIN's poller edge may have merged with the data's, and then only the
// FIN watcher (finwatch_linux.go) makes the copier read it.
func TestFINWithDataPrompt(t *testing.T) {
	const (
		reqLen, respLen = 100, 200
		rounds          = 30
		maxDelay        = 50 * time.Millisecond // far below any timeout; scheduling noise
	)
	for _, side := range []string{"client", "server"} {
		for _, exchanges := range []int{0, 5} {
			for _, fin := range []time.Duration{0, 3 * time.Second} {
				name := side + "/fresh"
				if exchanges > 0 {
					name = side + "/after keep-alive"
				}
				if fin > 0 {
					name += "/fin timeouts"
				}
				t.Run(name, func(t *testing.T) {
					delays := make(chan time.Duration, rounds)
					addr := startServer(t, func(c net.Conn) {
						req, resp := make([]byte, reqLen), make([]byte, respLen)
						for range exchanges {
							if _, err := io.ReadFull(c, req); err != nil {
								return
							}
							c.Write(resp)
						}
						if _, err := io.ReadFull(c, req); err != nil {
							return
						}
						if side == "server" {
							c.Write(resp)
							c.(*net.TCPConn).CloseWrite()
							io.Copy(io.Discard, c)
							return
						}
						t0 := time.Now()
						c.SetReadDeadline(time.Now().Add(5 * time.Second))
						if n, err := c.Read(req); n != 0 || err != io.EOF {
							t.Errorf("server read after last request: %d, %v; want EOF", n, err)
						}
						delays <- time.Since(t0)
					})
					w := mkWorld(t, FrontendConfig{TimeoutClient: 5 * time.Second, TimeoutClientFin: fin},
						BackendConfig{Servers: []ServerConfig{{Name: "s", Addr: addr}}, TimeoutConnect: time.Second,
							TimeoutServer: 5 * time.Second, TimeoutServerFin: fin},
						BindConfig{})
					pokes := finPokes.Load()
					for range rounds {
						c := w.dial()
						req, resp := make([]byte, reqLen), make([]byte, respLen)
						c.SetDeadline(time.Now().Add(5 * time.Second))
						for range exchanges {
							c.Write(req)
							if _, err := io.ReadFull(c, resp); err != nil {
								t.Fatalf("exchange: %v", err)
							}
						}
						c.Write(req)
						if side == "client" {
							c.CloseWrite()
							if _, err := io.ReadAll(c); err != nil {
								t.Fatalf("read to EOF: %v", err)
							}
						} else {
							if _, err := io.ReadFull(c, resp); err != nil {
								t.Fatalf("last response: %v", err)
							}
							t0 := time.Now()
							if n, err := c.Read(resp); n != 0 || err != io.EOF {
								t.Fatalf("client read after last response: %d, %v; want EOF", n, err)
							}
							delays <- time.Since(t0)
						}
						c.Close()
						if r := w.nextLog(); r.Termination != "--" {
							t.Errorf("termination %q; want --", r.Termination)
						}
					}
					var ds []time.Duration
					for range rounds {
						select {
						case d := <-delays:
							ds = append(ds, d)
						case <-time.After(5 * time.Second):
							t.Fatal("missing delay measurement")
						}
					}
					slices.Sort(ds)
					t.Logf("FIN delay over %d connections: median %v, max %v; FINs reported by the watcher: %d",
						rounds, ds[len(ds)/2], ds[len(ds)-1], finPokes.Load()-pokes)
					if ds[len(ds)-1] > maxDelay {
						t.Errorf("FIN delayed %v; want at most %v", ds[len(ds)-1], maxDelay)
					}
				})
			}
		}
	}
}
