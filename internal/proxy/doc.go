// Package proxy owns lb's data plane core: frontends accepting connections,
// runtime backends and servers (state, weights, counters, queues) picked
// through internal/balance, and the TCP handler, the per-connection session
// that connects to a server and copies bytes both ways with half-close,
// timeouts and splice(2).
//
// The seams a handler (mode tcp today, HTTP next) is built on:
//
//   - Conn: an accepted connection registered in the Engine (maxconn slots,
//     Wait, CloseAll, a server's ShutdownSessions), handed to the
//     frontend's Handler once the engine ran its layer-4 prologue
//     (tcp-request connection and session rules, PROXY header);
//   - Backend.Connect: server choice (balanced or use-server), queue,
//     dial with retries, turn-around and redispatch, PROXY header out;
//     callable once per request;
//   - Copy: the raw-fd copier, driven through a CopyOwner, with an
//     optional byte limit for bodies;
//   - Conn.Park: a client socket parked alone, with no goroutine, between
//     requests.
//
// Cutting these seams out of the TCP session cost nothing beyond noise:
// the system calls per request are the same under strace -c (4.3
// keep-alive, 30.5 with a connection per request); lb's CPU time per
// request, 10 alternated rounds, has the same median with keep-alive
// (14.6 us) and 2% more with a connection per request (106.6 to 109.0 us,
// rounds spread over 100 to 130); make bench's ratios to HAProxy, medians
// of 22 alternated rounds on a shared 2-core machine, moved within their
// noise (keep-alive 1.00 to 0.96, close 0.87 to 0.82, bulk 1.75 to 1.57,
// idle RSS 1.33 to 1.35; single rounds ranged from 0.23 to 3.41).
//
// It implements the tcp-mode subset of HAProxy 2.6's configuration manual
// (https://docs.haproxy.org/2.6/configuration.html): "timeout connect",
// "client", "server", "tunnel", "client-fin", "server-fin", "queue";
// "retries" and "option redispatch"; "maxconn" at global, frontend and server
// level with "maxqueue"; bind "accept-proxy" and server "send-proxy" /
// "send-proxy-v2" (https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt);
// and the fields of "option tcplog".
//
// Wiring, in short:
//
//	eng := proxy.NewEngine(proxy.EngineConfig{Maxconn: 4000})
//	be, _ := proxy.NewBackend(proxy.BackendConfig{Name: "app", Servers: ...})
//	fe, _ := eng.NewFrontend(proxy.FrontendConfig{Name: "web",
//		Backend: func(*proxy.ConnInfo) *proxy.Backend { return be }})
//	b := fe.Serve(ln, proxy.BindConfig{AcceptProxy: false})
//	...
//	b.Stop()              // stop accepting on ln (ln stays open)
//	eng.Wait(ctx)         // wait for sessions to drain
//	eng.CloseAll("hard-stop-after")
//	eng.Close()           // the event loops exit once nothing is left
//
// Two engines serve the TCP handler. The event loops (reactor_linux.go,
// rconn_linux.go) serve every frontend whose connections need no data
// before a server is chosen: one loop per thread (nbthread), each an OS
// thread blocking in its own edge-triggered epoll set, every connection a
// state machine with no goroutine and no buffer while idle. The goroutine
// engine serves the rest (a PROXY header to read, tcp-request content
// rules, backends with content or response rules, servers named
// by host name), and connections the loops hand over before connecting: one
// goroutine per direction driving the sockets' raw file descriptors
// (syscall.RawConn), buffers taken from a pool only while data is in
// flight, splice(2) through a pooled pipe for bulk data, and sessions whose
// client has not spoken parked in a private epoll set with no goroutine
// (idle_linux.go). See copy_linux.go and reactor_linux.go for the
// measurements behind each choice.
package proxy
