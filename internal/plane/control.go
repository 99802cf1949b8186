package plane

import (
	"errors"
	"fmt"
	"log/slog"

	"lb/internal/health"
	"lb/internal/proxy"
)

// Control is what the runtime API's commands change in the running generation: a
// server's administrative state, its weight, its health checks and its sessions. Every
// method names the server as "<backend>/<server>" does and fails with ErrNoBackend or
// ErrNoServer when there is no such one. Generation implements it.
type Control interface {
	Runtime
	ServerControl
	DynamicServers
	MaxconnControl
	RateControl
	ErrorCaptures
	ActivityView
	ResolversView
	CacheView
	// ServerWeight returns a server's current and configured weights.
	ServerWeight(backend, server string) (cur, initial int, err error)
	// SetServerWeight sets a server's weight (0..256); ErrStaticWeight when the backend's
	// algorithm takes no weight other than 0 and the configured one.
	SetServerWeight(backend, server string, weight int) error
	// SetServerAdmin puts a server in maintenance, in drain, or back to ready, and logs
	// the change as HAProxy does.
	SetServerAdmin(backend, server string, st AdminState) error
	// SetServerChecks stops (false) or starts again (true) a server's health checks;
	// ErrNoCheck when starting those of a server without "check".
	SetServerChecks(backend, server string, enabled bool) error
	// SetServerAgent stops (false) or starts again (true) a server's agent check;
	// ErrNoAgent when starting that of a server without "agent-check".
	SetServerAgent(backend, server string, enabled bool) error
	// ShutdownServerSessions kills the sessions established on a server and returns how
	// many.
	ShutdownServerSessions(backend, server string) (int, error)
}

var _ Control = (*Generation)(nil)

// ProcVars reads the generation's process-wide variables ("proc.*"), for
// the runtime API's "get var".
type ProcVars interface {
	// ProcVar returns the variable name ("proc.x") as "get var" prints it:
	// "type=str value=<hello>"; ok is false when it is not set.
	ProcVar(name string) (string, bool)
}

var _ ProcVars = (*Generation)(nil)

// ProcVar implements ProcVars.
func (g *Generation) ProcVar(name string) (string, bool) {
	if g.ropt.ProcVars == nil {
		return "", false
	}
	return g.ropt.ProcVars.Show(name)
}

// AdminState is a server's administrative state, as "set server … state" sets it.
type AdminState int

const (
	// AdminReady: neither in maintenance nor draining.
	AdminReady AdminState = iota
	// AdminDrain: no new load-balanced session, those established go on.
	AdminDrain
	// AdminMaint: no new session at all.
	AdminMaint
)

var (
	// ErrNoBackend: no backend of that name.
	ErrNoBackend = errors.New("no such backend")
	// ErrNoServer: the backend has no server of that name.
	ErrNoServer = errors.New("no such server")
	// ErrNoCheck: the server has no health check to start.
	ErrNoCheck = errors.New("health check was not configured on this server")
	// ErrNoAgent: the server has no agent check to start.
	ErrNoAgent = errors.New("agent was not configured on this server")
	// ErrStaticWeight: the backend's algorithm is static.
	ErrStaticWeight = errors.New("backend is using a static LB algorithm")
)

// server finds backend/server.
func (g *Generation) server(backend, server string) (*proxy.Backend, *proxy.Server, error) {
	be := g.backends[backend]
	if be == nil {
		return nil, nil, ErrNoBackend
	}
	srv := be.Server(server)
	if srv == nil {
		return be, nil, ErrNoServer
	}
	return be, srv, nil
}

// ServerWeight implements Control.
func (g *Generation) ServerWeight(backend, server string) (cur, initial int, err error) {
	_, srv, err := g.server(backend, server)
	if err != nil {
		return 0, 0, err
	}
	return srv.Weight(), srv.Config().Weight, nil
}

// dynamicWeights reports whether be's algorithm takes any weight at run time, as
// HAProxy's BE_LB_PROP_DYN: all but static-rr and the map-based hashes.
func dynamicWeights(be *proxy.Backend) bool {
	cfg := be.Config()
	switch cfg.Balance {
	case "", "roundrobin", "leastconn", "first", "random":
		return true
	case "static-rr":
		return false
	}
	return cfg.BalanceOptions.HashType.Consistent
}

// SetServerWeight implements Control.
func (g *Generation) SetServerWeight(backend, server string, weight int) error {
	be, srv, err := g.server(backend, server)
	if err != nil {
		return err
	}
	if weight != 0 && weight != srv.Config().Weight && !dynamicWeights(be) {
		return ErrStaticWeight
	}
	g.admMu.Lock()
	err = srv.SetWeight(weight)
	g.admMu.Unlock()
	if err != nil {
		return err
	}
	if act, bck := be.UsableServers(); weight == 0 && act == 0 && bck == 0 {
		g.log.Error(health.NoServerMessage(g.ptypes[be.Name()], be.Name()), noServerAttrs(g.ptypes[be.Name()], be.Name())...)
	}
	g.adminChanged() // the next process inherits the weight
	return nil
}

// SetServerChecks implements Control: HAProxy's "disable health" and "enable health",
// which clear and set the checks' CHK_ST_ENABLED. Enabled checks run unless the server's
// maintenance paused them.
func (g *Generation) SetServerChecks(backend, server string, enabled bool) error {
	_, srv, err := g.server(backend, server)
	if err != nil {
		return err
	}
	g.admMu.Lock()
	defer g.admMu.Unlock()
	rt := g.rtBySrv[srv]
	if rt == nil || !rt.cfg.Check {
		if enabled {
			return ErrNoCheck
		}
		return nil
	}
	rt.chkOff = !enabled
	if c := g.hcheck(rt); c != nil {
		c.SetPaused(rt.chkOff)
	}
	return nil
}

// SetServerAgent implements Control: "disable agent" and "enable agent".
func (g *Generation) SetServerAgent(backend, server string, enabled bool) error {
	_, srv, err := g.server(backend, server)
	if err != nil {
		return err
	}
	g.admMu.Lock()
	defer g.admMu.Unlock()
	rt := g.rtBySrv[srv]
	if rt == nil || !rt.cfg.AgentCheck {
		if enabled {
			return ErrNoAgent
		}
		return nil
	}
	rt.agentOff = !enabled
	if c := g.checker(srv); c != nil {
		c.SetAgentPaused(rt.agentOff)
	}
	return nil
}

// ShutdownServerSessions implements Control.
func (g *Generation) ShutdownServerSessions(backend, server string) (int, error) {
	_, srv, err := g.server(backend, server)
	if err != nil {
		return 0, err
	}
	return srv.ShutdownSessions(), nil
}

// SetServerAdmin implements Control: an operator's change of a server's administrative
// half (serverstate.go). AdminMaint and AdminDrain replace each other; AdminReady clears
// both, and the maintenance of "disabled". A server leaving maintenance is UP at once, its
// checks (when it has some) starting over from "just UP", as in HAProxy; one leaving drain
// gets back the state its checks gave it. The change is logged as HAProxy logs it, and is
// what the next process inherits (Options.OnAdminChange).
func (g *Generation) SetServerAdmin(backend, server string, st AdminState) error {
	be, srv, err := g.server(backend, server)
	if err != nil {
		return err
	}
	name := be.Name() + "/" + srv.Name()
	if srv.Config().Backup {
		name = "Backup Server " + name
	} else {
		name = "Server " + name
	}
	g.admMu.Lock()
	rt, err := g.serverRT(backend, server)
	if err != nil {
		g.admMu.Unlock()
		return err
	}
	old := rt.effective()
	stats := srv.Stats()
	var msgs []string
	switch st {
	case AdminMaint:
		if rt.fmaint && !rt.fdrain {
			g.admMu.Unlock()
			return nil
		}
		if !rt.inMaint() {
			g.enterMaintLocked(rt, old == proxy.StateDown)
		}
		rt.fmaint, rt.fdrain = true, false
		srv.SetState(rt.effective())
		act, bck := be.UsableServers()
		if old == proxy.StateDown || old == proxy.StateMaint {
			msgs = append(msgs, name+" was DOWN and now enters maintenance.")
		} else {
			msgs = append(msgs, fmt.Sprintf("%s is going DOWN for maintenance. %d active and %d backup servers left.%s %d sessions active, %d requeued, %d remaining in queue.",
				name, act, bck, onBackup(act, bck), stats.Cur, stats.Queue, 0))
		}
	case AdminDrain:
		if rt.fdrain {
			g.admMu.Unlock()
			return nil
		}
		wasMaint := old == proxy.StateMaint
		rt.fmaint, rt.fdrain = false, true
		if wasMaint && !rt.inMaint() {
			g.leaveMaintLocked(rt)
			rt.op = proxy.StateUp
			srv.SetState(rt.effective())
			msgs = append(msgs, name+" is UP/DRAIN (leaving forced maintenance).", name+" remains in forced drain mode.")
		} else {
			srv.SetState(rt.effective())
			act, bck := be.UsableServers()
			msgs = append(msgs, fmt.Sprintf("%s enters drain state. %d active and %d backup servers online.%s %d sessions requeued, %d total in queue.",
				name, act, bck, onBackup(act, bck), 0, stats.Queue))
		}
	default:
		if !rt.fmaint && !rt.fdrain {
			g.admMu.Unlock()
			return nil
		}
		// "disabled" (cmaint) stays recorded: it forced maintenance, which
		// ends here.
		wasMaint, wasDrain := old == proxy.StateMaint, rt.fdrain
		rt.fmaint, rt.fdrain = false, false
		if wasMaint && !rt.inMaint() {
			g.leaveMaintLocked(rt)
			rt.op = proxy.StateUp
		}
		now := rt.effective()
		srv.SetState(now)
		switch {
		case wasMaint:
			msgs = append(msgs, name+" is UP/READY (leaving forced maintenance).")
		case wasDrain:
			msgs = append(msgs, fmt.Sprintf("%s is %s (leaving forced drain).", name, now))
		}
	}
	act, bck := be.UsableServers()
	notes := g.inheritLocked(rt, true)
	g.admMu.Unlock()
	attrs := []any{slog.String("proxy", be.Name()), slog.String("server", srv.Name())}
	for _, m := range msgs {
		g.log.Warn(m, append(attrs, slog.Int("severity", health.SeverityServerUp))...)
	}
	if st != AdminReady && act == 0 && bck == 0 {
		g.log.Error(health.NoServerMessage(g.ptypes[be.Name()], be.Name()), noServerAttrs(g.ptypes[be.Name()], be.Name())...)
	}
	g.logTrackNotes(notes)
	if g.onServerChange != nil {
		g.onServerChange()
	}
	g.adminChanged()
	return nil
}

// warmedUp says, as HAProxy does when a server's slow start ends with the
// server up (from STARTING to RUNNING), that it is UP: requeued are the
// queued connections it took then (proxy.BackendConfig.OnWarmedUp).
func (g *Generation) warmedUp(srv *proxy.Server, requeued int) {
	be := srv.Backend()
	act, bck := be.UsableServers()
	msg := health.ServerStateMessage(health.ServerState{Proxy: be.Name(), Server: srv.Name(), Backup: srv.Config().Backup,
		Active: act, Backups: bck, Requeued: requeued, Queued: srv.Stats().Queue}, true, "")
	g.log.Warn(msg, slog.String("proxy", be.Name()), slog.String("server", srv.Name()),
		slog.Int("severity", health.SeverityServerUp))
}

// onBackup is what HAProxy's srv_append_status says of a backend left with
// backup servers only, after the counts of its state messages.
func onBackup(act, bck int) string {
	if bck > 0 && act == 0 {
		return " Running on backup."
	}
	return ""
}
