// Package plane is where a configuration becomes a running generation: it builds the
// backends, the frontends serving their listeners, the health checks and the traffic logs
// of one *config.Config (HAProxy 2.6's configuration manual, sections 4 and 5), and gives
// the process that runs it what it needs to stop it (Drain, CloseAll, Stop) and to show it
// (Snapshot, Runtime).
//
// A Generation knows nothing of the process around it: the listeners come in already
// open, the maxconn overrides and the logger come in Options, and a server state change is
// reported through a callback. Starting, draining and stopping in the right order is the
// caller's (internal/lifecycle).
package plane
