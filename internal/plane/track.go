package plane

import (
	"fmt"
	"log/slog"

	"lb/internal/config"
	"lb/internal/health"
	"lb/internal/proxy"
)

// Servers that track another ("track [<proxy>/]<server>"), as HAProxy 2.6's:
// a tracking server runs no check of its own; its operational state is the
// tracked server's, and the tracked server's maintenance and drain are
// inherited (SRV_ADMF_IMAINT, IDRAIN), down chains of trackers. Each change
// passed on is logged as HAProxy logs it, with "via" the tracked server, in
// HAProxy's order: depth first, a server's trackers newest first
// (srv->trackers).

// trackNote is one tracker's change to log: its message, and whether its
// backend was left without a server by it.
type trackNote struct {
	rt    *srvRT
	msg   string
	empty bool
}

// drained reports whether rt is in drain, forced or inherited.
func (rt *srvRT) drained() bool { return rt.fdrain || rt.idrain }

// linkTracks links each tracking server to the one it tracks and passes the
// tracked servers' state on, at start. Caller: initServers.
func (g *Generation) linkTracks() {
	byCfg := map[*config.Server]*srvRT{}
	for _, rt := range g.rts {
		byCfg[rt.cfg] = rt
	}
	for _, rt := range g.rts {
		if rt.cfg.Tracked == nil {
			continue
		}
		if t := byCfg[rt.cfg.Tracked]; t != nil {
			rt.track = t
			t.trackers = append([]*srvRT{rt}, t.trackers...)
		}
	}
	g.inheritAll()
}

// inheritAll passes every tracked server's state on, without a message.
func (g *Generation) inheritAll() {
	g.admMu.Lock()
	defer g.admMu.Unlock()
	for _, rt := range g.rts {
		if rt.track == nil {
			g.inheritLocked(rt, false)
		}
	}
}

// inheritLocked passes rt's operational state, maintenance and drain on to
// the servers tracking it, and theirs to their own, and returns what HAProxy
// logs of each change when log is set. Caller holds g.admMu.
func (g *Generation) inheritLocked(rt *srvRT, log bool) []trackNote {
	var notes []trackNote
	for _, t := range rt.trackers {
		wasMaint, wasDrain, wasOp, wasEff := t.inMaint(), t.drained(), t.op, t.effective()
		t.imaint = rt.inMaint()
		t.idrain = rt.drained()
		t.op = rt.op
		now := t.effective()
		if now != wasEff {
			t.srv.SetState(now)
		}
		if log {
			if msg, down := t.viaMessage(wasMaint, wasDrain, wasOp, wasEff); msg != "" {
				act, bck := t.srv.Backend().UsableServers()
				notes = append(notes, trackNote{rt: t, msg: msg, empty: down && act == 0 && bck == 0})
			}
		}
		notes = append(notes, g.inheritLocked(t, log)...)
	}
	return notes
}

// viaMessage is HAProxy's message for a tracker's change from what it was
// (maintenance, drain, operational and effective states), and whether it
// took the tracker out of the load balancing.
func (t *srvRT) viaMessage(wasMaint, wasDrain bool, wasOp, wasEff proxy.State) (string, bool) {
	who, via := srvWho(t), " via "+t.track.px.Name+"/"+t.track.cfg.Name
	st := t.srv.Stats()
	act, bck := t.srv.Backend().UsableServers()
	left := func(verb string) string {
		return fmt.Sprintf("%s %s%s. %d active and %d backup servers left.%s %d sessions active, %d requeued, %d remaining in queue.",
			who, verb, via, act, bck, onBackup(act, bck), st.Cur, 0, st.Queue)
	}
	online := func(verb string) string {
		return fmt.Sprintf("%s %s%s. %d active and %d backup servers online.%s %d sessions requeued, %d total in queue.",
			who, verb, via, act, bck, onBackup(act, bck), 0, st.Queue)
	}
	switch {
	case !wasMaint && t.inMaint():
		if wasEff == proxy.StateDown {
			return who + " was DOWN and now enters maintenance" + via + ".", false
		}
		return left("is going DOWN for maintenance"), true
	case wasMaint && !t.inMaint():
		return fmt.Sprintf("%s is %s/READY (leaving maintenance).", who, upDown(t.op)), false
	case t.inMaint():
		return "", false
	case !wasDrain && t.drained():
		return online("enters drain state"), true
	case wasDrain && !t.drained():
		return fmt.Sprintf("%s is %s (leaving forced drain).", who, t.effective()), false
	case wasOp != t.op:
		switch t.op {
		case proxy.StateDown:
			return left("is DOWN"), true
		case proxy.StateNoLB:
			return online("is stopping"), true
		}
		return online("is UP"), false
	}
	return "", false
}

// upDown is the word HAProxy says of an operational state leaving
// maintenance.
func upDown(op proxy.State) string {
	if op == proxy.StateDown {
		return "DOWN"
	}
	return "UP"
}

// logTrackNotes logs the trackers' changes, each followed by HAProxy's alert
// when it left its backend without a server.
func (g *Generation) logTrackNotes(notes []trackNote) {
	for _, n := range notes {
		be := n.rt.srv.Backend()
		sev := health.SeverityServerUp
		if n.empty {
			sev = health.SeverityServerDown
		}
		g.log.Warn(n.msg, slog.String("proxy", be.Name()), slog.String("server", n.rt.cfg.Name), slog.Int("severity", sev))
		if n.empty {
			g.log.Error(health.NoServerMessage(g.ptypes[be.Name()], be.Name()), noServerAttrs(g.ptypes[be.Name()], be.Name())...)
		}
	}
}
