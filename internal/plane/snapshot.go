package plane

import (
	"fmt"

	"lb/internal/proxy"
	"lb/internal/srvstate"
	"lb/internal/stats"
)

// Runtime is what the runtime API commands ("show info", "show servers state") reach of
// the running generation: what they read of it, never the means to stop it. Generation
// implements it.
type Runtime interface {
	// Snapshot returns the generation's sessions and server states at one moment.
	Snapshot() Snapshot
	// Stats returns the counters of the enabled proxies, as the statistics page shows
	// them ("show stat").
	Stats() *stats.Snapshot
	// StateServers returns the servers as "show servers state" prints them
	// (every backend's when backend is "").
	StateServers(backend string) []srvstate.Server
	// ProcessCounters returns the counters of "show info" the generation keeps.
	ProcessCounters() ProcessCounters
}

// ProcessCounters are the counters of "show info" a generation keeps besides its
// proxies'.
type ProcessCounters struct {
	// DroppedLogs counts the log messages dropped by the traffic log targets.
	DroppedLogs uint64
	// FailedResolutions counts the name resolutions that ended in an error.
	FailedResolutions uint64
	// SSLConns counts the connections accepted on listeners with "ssl".
	SSLConns uint64
}

// ProcessCounters implements Runtime.
func (g *Generation) ProcessCounters() ProcessCounters {
	ssl, _ := g.eng.SSLCounts()
	return ProcessCounters{DroppedLogs: g.logs.Dropped(), FailedResolutions: g.failedResolutions.Load(), SSLConns: ssl}
}

var _ Runtime = (*Generation)(nil)

// Snapshot is a generation's state at one moment: what SIGHUP dumps, what the runtime API
// shows and what the STATUS= line sent to systemd counts.
type Snapshot struct {
	// Sessions is the number of sessions being served (show info's CurrConns).
	Sessions int
	// Backends are the backends (and listen sections) in the configuration's order.
	Backends []BackendState
}

// BackendState is one backend in a Snapshot.
type BackendState struct {
	Name string
	// Active and Backup are the servers a connection may go to now: usable active
	// servers, and usable backup servers.
	Active, Backup int
	Stats          proxy.BackendStats
	// Servers are the backend's servers in the configuration's order.
	Servers []ServerState
}

// ServerState is one server in a Snapshot.
type ServerState struct {
	Name string
	// Addr is the address as configured: "host:port", or a unix socket's path.
	Addr  string
	State proxy.State
	// Weight is the current weight; InitialWeight the configured one.
	Weight, InitialWeight int
	Stats                 proxy.ServerStats
}

// Snapshot returns the generation's sessions and server states at one moment. It is safe
// to call from any goroutine.
func (g *Generation) Snapshot() Snapshot {
	s := Snapshot{Sessions: g.eng.ActiveSessions(), Backends: make([]BackendState, 0, len(g.order))}
	for _, be := range g.order {
		bs := BackendState{Name: be.Name()}
		for _, srv := range be.Servers() {
			bs.Servers = append(bs.Servers, ServerState{
				Name:          srv.Name(),
				Addr:          srv.Config().Addr,
				State:         srv.State(),
				Weight:        srv.Weight(),
				InitialWeight: srv.Config().Weight,
				Stats:         srv.Stats(),
			})
		}
		bs.Active, bs.Backup = be.UsableServers()
		bs.Stats = be.Stats()
		s.Backends = append(s.Backends, bs)
	}
	return s
}

// ServersUp counts the servers that are up, and all the servers.
func (s Snapshot) ServersUp() (up, total int) {
	for _, be := range s.Backends {
		for _, srv := range be.Servers {
			total++
			if srv.State == proxy.StateUp {
				up++
			}
		}
	}
	return up, total
}

// StateLines is the SIGHUP dump: one line per server, then one per backend, in HAProxy's
// words ("SIGHUP: Server be/srv is UP. Conn: 0 act, 0 pend, 1 tot.").
func (s Snapshot) StateLines() []string {
	var out []string
	for _, be := range s.Backends {
		for _, srv := range be.Servers {
			out = append(out, fmt.Sprintf("SIGHUP: Server %s/%s is %s. Conn: %d act, %d pend, %d tot.",
				be.Name, srv.Name, srv.State, srv.Stats.Cur, srv.Stats.Queue, srv.Stats.Total))
		}
		out = append(out, fmt.Sprintf("SIGHUP: Proxy %s has %d active servers and %d backup servers available. Conn: act(FE+BE): %d+%d, %d pend (%d unass), tot(FE+BE): %d+%d.",
			be.Name, be.Active, be.Backup, 0, be.Stats.Cur, be.Stats.Queue, be.Stats.Queue, 0, be.Stats.Total))
	}
	return out
}
