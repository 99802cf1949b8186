// Package lifecycle owns lb's process: HAProxy's command line and start-up order, the
// signals, -sf/-st reloads with listener handover, daemon mode and systemd's reload by
// MAINPID handover (see LIFECYCLE in the README and haproxy(1)).
//
// It sequences the steps and owns the lifecycle state; the work is done elsewhere: a
// listener.Set gets, pauses and hands over the listening sockets, and a plane.Generation is
// the configuration running on them. One goroutine owns the lifecycle state (loop.go):
// signals, reloads, the runtime socket and the health checks reach it as requests.
package lifecycle
