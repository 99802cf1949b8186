package plane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"lb/internal/config"
	"lb/internal/health"
	"lb/internal/proxy"
)

// Servers added and deleted at run time (the runtime API's "add server" and
// "del server"), as HAProxy 2.6 does: a server is added in maintenance,
// after the others, with its checks configured but not running until
// "enable health"; only a server in maintenance with no connection may be
// deleted.

var (
	// ErrStaticLB: the backend's algorithm takes no dynamic server.
	ErrStaticLB = errors.New("Backend must use a dynamic load balancing to support dynamic servers.")
	// ErrServerExists: the backend has a server of that name.
	ErrServerExists = errors.New("Already exists a server with the same name in backend.")
	// ErrNotMaint: only a server in maintenance may be deleted.
	ErrNotMaint = errors.New("Only servers in maintenance mode can be deleted.")
	// ErrServerBusy: the server still has connections.
	ErrServerBusy = errors.New("Server still has connections attached to it, cannot remove it.")
)

// DynamicServers adds and deletes servers at run time.
type DynamicServers interface {
	// AddServer adds a server to backend, in maintenance: args are its name, its
	// address and its keywords, as "add server <backend>/<name> <addr> [kw …]" gives
	// them. ErrNoBackend, ErrStaticLB, ErrServerExists, or HAProxy's reply to a bad
	// argument.
	AddServer(backend string, args []string) error
	// DelServer deletes a server: ErrNoBackend, ErrNoServer, ErrNotMaint unless it is
	// in maintenance, ErrServerBusy while it has connections.
	DelServer(backend, server string) error
}

// AddServer implements DynamicServers: args are the server's name, its
// address and its keywords, as "add server <backend>/<name> <addr> [kw …]"
// gives them. A parse error is HAProxy's reply.
func (g *Generation) AddServer(backend string, args []string) error {
	if err := g.addServer(backend, args, false); err != nil {
		return err
	}
	g.adminChanged() // the next process re-adds it
	return nil
}

func (g *Generation) addServer(backend string, args []string, carried bool) error {
	be := g.backends[backend]
	if be == nil || g.cfg == nil {
		return ErrNoBackend
	}
	if !dynamicWeights(be) {
		return ErrStaticLB
	}
	px := g.cfg.Backend(backend)
	if px == nil {
		return ErrNoBackend
	}
	s, err := config.ParseDynamicServer(px, args)
	if err != nil {
		return err
	}
	g.admMu.Lock()
	defer g.admMu.Unlock()
	if s.ID > 0 {
		for _, o := range be.Servers() {
			if o.ID() != s.ID {
				continue
			}
			where := "the runtime API"
			if rt := g.rtBySrv[o]; rt != nil && rt.added == nil {
				where = rt.cfg.Pos.String()
			}
			return fmt.Errorf("'id' : custom id %d already used at %s ('server %s').", s.ID, where, o.Name())
		}
	}
	if be.Server(s.Name) != nil {
		return ErrServerExists
	}
	srv, err := be.AddServer(serverConfig(s))
	if err != nil {
		return err
	}
	var beID int
	for _, rt := range g.rtByName[backend] {
		beID = rt.beID
		break
	}
	if beID == 0 {
		beID = stateProxyIDs(g.cfg)[px]
	}
	// Added in maintenance (forced, and "disabled" too when given), its
	// checks and agent not enabled until "enable health" and "enable
	// agent", its health counter at 0, as in HAProxy; a server carried over
	// from the previous process gets its state from the state lines that
	// follow (ApplyCarried).
	rt := &srvRT{px: px, cfg: s, srv: srv, beID: beID, fmaint: !carried || s.Disabled, cmaint: s.Disabled, op: proxy.StateUp,
		chkOff: true, agentOff: true, chkPaused: s.Disabled, added: append([]string(nil), args...)}
	if g.rtByName[backend] == nil {
		g.rtByName[backend] = map[string]*srvRT{}
	}
	g.rtByName[backend][s.Name] = rt
	g.rtBySrv[srv] = rt
	g.rts = append(g.rts, rt)
	srv.SetState(rt.effective())
	if g.checks.Load() != nil {
		g.startAddedCheckLocked(rt)
	}
	return nil
}

// startAddedChecks starts the checks of the servers the previous process had
// added (ApplyCarried re-added them before the checks existed).
func (g *Generation) startAddedChecks() {
	g.admMu.Lock()
	defer g.admMu.Unlock()
	for _, rt := range g.rts {
		if rt.added != nil {
			g.startAddedCheckLocked(rt)
		}
	}
}

// startAddedCheckLocked starts the checks of rt, a server added at run
// time, paused: as in HAProxy, "enable health" runs them. Caller holds
// g.admMu.
func (g *Generation) startAddedCheckLocked(rt *srvRT) {
	if !rt.cfg.Check {
		return
	}
	be := g.backends[rt.px.Name]
	hc, err := g.healthConfig(g.cfg, rt.px, rt.cfg)
	if err == nil {
		hc.Logger, hc.NoCheck = g.log, false
		var c *health.Checker
		if c, err = health.New(hc, g.onCheck(rt.px, be, rt.srv)); err == nil {
			g.syncCheckerLocked(rt, c)
			cs := g.checks.Load()
			ctx, cancel := context.WithCancel(cs.ctx)
			cs.mu.Lock()
			cs.byServer[rt.srv] = c
			cs.stopOne[rt.srv] = cancel
			cs.mu.Unlock()
			cs.dyn.Go(func() { c.Run(ctx) })
			return
		}
	}
	g.log.Warn("health check not started", "proxy", rt.px.Name, "server", rt.cfg.Name, "err", err)
}

// DelServer implements DynamicServers.
func (g *Generation) DelServer(backend, server string) error {
	be, srv, err := g.server(backend, server)
	if err != nil {
		return err
	}
	g.admMu.Lock()
	rt := g.rtBySrv[srv]
	if rt == nil {
		g.admMu.Unlock()
		return ErrNoServer
	}
	if !(rt.fmaint || rt.cmaint || rt.rmaint) {
		g.admMu.Unlock()
		return ErrNotMaint
	}
	if err := be.RemoveServer(srv); err != nil {
		g.admMu.Unlock()
		if errors.Is(err, proxy.ErrServerInUse) {
			return ErrServerBusy
		}
		return err
	}
	delete(g.rtByName[backend], server)
	delete(g.rtBySrv, srv)
	for i, x := range g.rts {
		if x == rt {
			g.rts = append(g.rts[:i:i], g.rts[i+1:]...)
			break
		}
	}
	g.admMu.Unlock()
	if cs := g.checks.Load(); cs != nil {
		cs.mu.Lock()
		c, stop := cs.byServer[srv], cs.stopOne[srv]
		delete(cs.byServer, srv)
		delete(cs.stopOne, srv)
		cs.mu.Unlock()
		switch {
		case stop != nil:
			stop()
		case c != nil:
			// A configured server's checker runs until the generation
			// stops: paused, it checks no more.
			c.SetPaused(true)
		}
	}
	g.log.Warn(fmt.Sprintf("Server %s/%s deleted.", backend, server), slog.String("proxy", backend), slog.String("server", server))
	g.adminChanged() // the next process does not re-add it
	return nil
}

// backendRTs are be's servers' two halves, in be's order.
func (g *Generation) backendRTs(be *proxy.Backend) []*srvRT {
	srvs := be.Servers()
	out := make([]*srvRT, 0, len(srvs))
	g.admMu.Lock()
	defer g.admMu.Unlock()
	for _, s := range srvs {
		if rt := g.rtBySrv[s]; rt != nil {
			out = append(out, rt)
		}
	}
	return out
}

// addedTag starts the lines CarriedState adds, one per server added at run
// time: "# lb-added <backend> <name> <addr> [kw …]", before the state
// lines. The next process adds them again, in maintenance, and applies
// their state lines, unless its configuration now has a server of that
// name (the configuration wins). A configured server deleted at run time
// comes back from the configuration, as after HAProxy's reload.
const addedTag = "# lb-added "

func (g *Generation) writeAdded(b *strings.Builder) {
	g.admMu.Lock()
	defer g.admMu.Unlock()
	for _, rt := range g.rts {
		if rt.added != nil {
			fmt.Fprintf(b, "%s%s %s\n", addedTag, rt.px.Name, strings.Join(rt.added, " "))
		}
	}
}

// applyAdded adds again the servers CarriedState said were added.
func (g *Generation) applyAdded(b []byte, from string) {
	for _, l := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(l, addedTag)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 3 {
			continue
		}
		if px := g.cfg.Backend(f[0]); px != nil && px.Server(f[1]) != nil {
			g.log.Info(fmt.Sprintf("server %s/%s added at run time is now in the configuration: the configuration's is used", f[0], f[1]), "from", from)
			continue
		}
		if err := g.addServer(f[0], f[1:], true); err != nil {
			g.log.Warn(fmt.Sprintf("server %s/%s added at run time not added again: %v", f[0], f[1], err), "from", from)
		}
	}
}
