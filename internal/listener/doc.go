// Package listener owns lb's listening sockets: it binds them with HAProxy's
// socket options, adopts descriptors that were inherited (fd@N), activated or
// stored by systemd, or handed over by a previous process, pauses and resumes
// them with HAProxy's SIGTTOU/SIGTTIN semantics, and hands them to a successor
// over HAProxy 2.6's `_getsocks` protocol. A Set is every listener of one
// generation: it gets each socket in LIFECYCLE.md's order of preference
// (inherited from a predecessor, activated by systemd, stored in systemd's
// fd store, fd@N, handed over with -x, bound), and knows what may be stored,
// handed over or paused.
//
// References: HAProxy 2.6 configuration manual §5.1 (bind options),
// src/sock_inet.c, src/sock_unix.c, src/proto_tcp.c (binding and pausing),
// src/sock.c sock_get_old_sockets / sock_find_compatible_fd and src/cli.c
// _getsocks (the handover); the project's LIFECYCLE.md §1 step 6, §3, §4.
//
// # Accept path
//
// A Listener accepts through the Go runtime poller: at creation the listening
// descriptor is duplicated into a net.Listener (net.FileListener), so Accept
// is one accept4(SOCK_NONBLOCK|SOCK_CLOEXEC) per connection with epoll
// wake-ups, exactly like net.Listen, and returns *net.TCPConn or
// *net.UnixConn (splice-capable). The only extra cost is an uncontended mutex
// to observe pause and close.
//
// # Pause semantics (Linux, verified by the tests)
//
//   - Self-bound and handed-over TCP listeners leave LISTEN state on Pause:
//     connect(AF_UNSPEC) as HAProxy 2.6.12 does, or else HAProxy 2.6.0's
//     shutdown(SHUT_WR) (a no-op on a Linux listener), listen(),
//     shutdown(SHUT_RD). Either disconnects the socket: it becomes CLOSE and
//     keeps an explicitly bound port (a port-0 bind loses its ephemeral port
//     and Resume binds it again). New connections are refused (RST),
//     connections still waiting in the accept queue are reset by the kernel,
//     and another socket with SO_REUSEADDR may bind and listen on the same
//     address. Resume calls listen() again on the same socket, which fails
//     with EADDRINUSE while another socket listens there. The state belongs to
//     the socket, so every holder of the descriptor (fd store, successor) sees
//     it.
//   - Activated, stored and inherited (fd@N) listeners, and unix/abns
//     listeners, only stop being accepted from: the socket stays in LISTEN
//     state, connections queue in the kernel, and shutdown() is never called
//     (PID 1 or another process holds the same socket).
//
// In both cases an Accept blocked during a pause does not return: it waits
// for Resume (and then accepts) or Close (and then returns net.ErrClosed).
package listener
