package plane

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"lb/internal/balance"
	"lb/internal/config"
	"lb/internal/health"
	"lb/internal/proxy"
	"lb/internal/srvstate"
)

// A server's state has two halves, as in HAProxy: what the operator set
// (the administrative state: maintenance or drain, forced at run time or
// "disabled" in the configuration) and what the health checks (or a server
// state file) say (the operational state). proxy.Server holds one State
// that combines both; srvRT keeps the halves apart so that a check result
// never undoes an operator's drain, and so that only the operator's half is
// handed to the next process.

func (a AdminState) String() string {
	switch a {
	case AdminReady:
		return "ready"
	case AdminDrain:
		return "drain"
	case AdminMaint:
		return "maint"
	}
	return fmt.Sprintf("AdminState(%d)", int(a))
}

// srvRT is one server's two halves of state. Guarded by Generation.admMu.
type srvRT struct {
	px   *config.Proxy
	cfg  *config.Server
	srv  *proxy.Server
	beID int
	// fmaint and fdrain are the operator's (SRV_ADMF_FMAINT, FDRAIN),
	// rmaint a name that did not resolve (RMAINT). cmaint is "disabled"
	// (CMAINT), which HAProxy records apart from the forced maintenance it
	// also sets: it does not keep a server in maintenance by itself once
	// "enable server" cleared fmaint, and is printed all the same.
	fmaint, fdrain, cmaint, rmaint bool
	// op is the operational state: StateUp, StateDown or StateNoLB.
	op proxy.State
	// The checks' state as HAProxy keeps it (its struct check), which "show
	// servers state" prints and a state file restores. chkOff is "disable
	// health" (CHK_ST_ENABLED cleared), agentOff "disable agent". chkPaused
	// is CHK_ST_PAUSED: set when the server enters maintenance with its
	// checks enabled, and by "disabled" even without checks; cleared when it
	// leaves maintenance with its checks enabled. Health checks run when
	// enabled and not paused.
	chkOff, agentOff, chkPaused bool
	// health is the health counter (check.health) while no checker counts
	// it: a server without health checks, or one whose checker does not
	// run yet (startChecks hands it over).
	health int
	// loaded is the check status and result a state file gave: shown until
	// the first check completes, for ever without health checks.
	loaded *loadedCheck
	// rtCheckPort is the checks' port set at run time (checkPortSet;
	// servers.go). rtCheckAddr, rtAgentAddr and rtAgentPort are the checks'
	// and the agent's address and port a state file set ("" and 0: none).
	rtCheckPort  int
	checkPortSet bool
	rtCheckAddr  string
	rtAgentAddr  string
	rtAgentPort  int
	// moved: the operator changed the server's address or port.
	moved bool
	// dns: the server's name is resolved at run time (resolvers.go); dnsIP is
	// its address from the answers (invalid: none, the server is in RMAINT).
	dns   bool
	dnsIP netip.Addr
	// added are the arguments of the "add server" that added the server
	// (its name, address and keywords); nil for a configured one.
	added []string
	// track is the server this one tracks ("track"), trackers those that
	// track this one, newest first; imaint and idrain are the maintenance
	// and drain inherited from track (SRV_ADMF_IMAINT, IDRAIN; track.go).
	track          *srvRT
	trackers       []*srvRT
	imaint, idrain bool
}

// loadedCheck is a check status and result as a state file gives them:
// HAProxy's numbers.
type loadedCheck struct{ status, result int }

// inMaint reports HAProxy's SRV_ADMF_MAINT: forced maintenance ("disabled"
// forces it too) or a name that does not resolve.
func (rt *srvRT) inMaint() bool { return rt.fmaint || rt.rmaint || rt.imaint }

// chkEnabled reports CHK_ST_ENABLED: the server has health checks and
// "disable health" did not stop them.
func (rt *srvRT) chkEnabled() bool { return rt.cfg.Check && !rt.chkOff }

// agentEnabled is chkEnabled for the agent check.
func (rt *srvRT) agentEnabled() bool { return rt.cfg.AgentCheck && !rt.agentOff }

// effective is the State of the proxy.Server: maintenance first, then the
// checks' DOWN, then drain, then the checks' NOLB.
func (rt *srvRT) effective() proxy.State {
	switch {
	case rt.inMaint():
		return proxy.StateMaint
	case rt.op == proxy.StateDown:
		return proxy.StateDown
	case rt.drained():
		return proxy.StateDrain
	case rt.op == proxy.StateNoLB:
		return proxy.StateNoLB
	}
	return proxy.StateUp
}

// adminBits is srv_admin_state as "show servers state" prints it.
func (rt *srvRT) adminBits() int {
	b := 0
	if rt.fmaint {
		b |= srvstate.AdminFMaint
	}
	if rt.cmaint {
		b |= srvstate.AdminCMaint
	}
	if rt.fdrain {
		b |= srvstate.AdminFDrain
	}
	if rt.rmaint {
		b |= srvstate.AdminRMaint
	}
	if rt.imaint {
		b |= srvstate.AdminIMaint
	}
	if rt.idrain {
		b |= srvstate.AdminIDrain
	}
	return b
}

// opBits is srv_op_state as "show servers state" prints it.
func (rt *srvRT) opBits() int {
	switch {
	case rt.effective() == proxy.StateMaint || rt.op == proxy.StateDown:
		return srvstate.OpStopped
	case rt.op == proxy.StateNoLB:
		return srvstate.OpStopping
	case rt.srv.Starting():
		return srvstate.OpStarting
	}
	return srvstate.OpRunning
}

// initServers makes the srvRT of every server of cfg's backends.
func (g *Generation) initServers(cfg *config.Config) {
	ids := stateProxyIDs(cfg)
	g.cfg = cfg
	g.rtByName = map[string]map[string]*srvRT{}
	g.rtBySrv = map[*proxy.Server]*srvRT{}
	for _, px := range cfg.Backends() {
		be := g.backends[px.Name]
		if be == nil {
			continue
		}
		m := map[string]*srvRT{}
		for _, s := range px.Servers {
			srv := be.Server(s.Name)
			if srv == nil {
				continue
			}
			rt := &srvRT{px: px, cfg: s, srv: srv, beID: ids[px], fmaint: s.Disabled, cmaint: s.Disabled,
				rmaint: s.Unresolved && !s.Disabled, op: proxy.StateUp, health: s.Rise}
			// Names in "addr" and "agent-addr" resolve once, at start.
			for _, a := range []string{s.CheckAddr, s.AgentAddr} {
				if a != "" {
					addrIP(a)
				}
			}
			switch {
			case s.Disabled:
				// HAProxy's srv_parse_disabled.
				rt.chkPaused, rt.health = true, 0
			case rt.rmaint:
				// In maintenance from the start, as srv_set_admin_flag.
				rt.chkPaused, rt.health = s.Check, 0
			}
			m[s.Name] = rt
			g.rtBySrv[srv] = rt
			g.rts = append(g.rts, rt)
		}
		g.rtByName[px.Name] = m
	}
	g.linkTracks()
}

// hcheck is rt's health checker: nil when the server has no health checks
// (none, or an agent check only) or they do not run yet.
func (g *Generation) hcheck(rt *srvRT) *health.Checker {
	if c := g.checker(rt.srv); c != nil && c.HasCheck() {
		return c
	}
	return nil
}

// setHealthLocked sets rt's health counter. Caller holds g.admMu.
func (g *Generation) setHealthLocked(rt *srvRT, n int) {
	rt.health = n
	if c := g.hcheck(rt); c != nil {
		c.SetHealth(n)
	}
}

// enterMaintLocked is what HAProxy's srv_set_admin_flag does to the checks
// of a server going into maintenance: enabled health checks pause, and the
// health counter drops to 0 for them and for any server that was running
// (stopped: it was DOWN already). Caller holds g.admMu, rt not in
// maintenance yet.
func (g *Generation) enterMaintLocked(rt *srvRT, stopped bool) {
	zero := !stopped
	if rt.chkEnabled() {
		rt.chkPaused, zero = true, true
	}
	if zero {
		g.setHealthLocked(rt, 0)
	}
	if c := g.hcheck(rt); c != nil {
		c.SetMaint(rt.chkPaused)
	}
}

// leaveMaintLocked is what srv_clr_admin_flag does to the checks of a server
// leaving maintenance: enabled health checks start again from "just UP"
// (health = rise). Checks that are not enabled stay as they were, paused
// ones included. Caller holds g.admMu, rt out of maintenance.
func (g *Generation) leaveMaintLocked(rt *srvRT) {
	if !rt.chkEnabled() {
		return
	}
	rt.chkPaused, rt.health = false, rt.cfg.Rise
	if c := g.hcheck(rt); c != nil {
		c.Reset()
		c.SetMaint(false)
	}
}

// syncCheckerLocked hands c, rt's new checker, the checks' state decided before it
// ran: from the configuration, a state file or the previous process. Caller
// holds g.admMu.
func (g *Generation) syncCheckerLocked(rt *srvRT, c *health.Checker) {
	if c.HasCheck() {
		c.SetHealth(rt.health)
		c.SetMaint(rt.chkPaused)
		c.SetPaused(rt.chkOff)
		if rt.loaded != nil {
			if st, ok := health.StatusOfNum(rt.loaded.status); ok {
				c.Restore(st)
			}
		}
	}
	c.SetAgentPaused(rt.agentOff)
	if a, ok := rt.agentAddr(); ok {
		c.SetAgentAddr(a)
	}
	if rt.moved || rt.checkPortSet || rt.rtCheckAddr != "" {
		c.SetAddr(rt.checkAddr())
	}
}

// stateProxyIDs are the proxies' ids (HAProxy's uuid) as "show servers
// state" prints them and state files match them: in HAProxy 2.6, the
// runtime API's own proxy takes the first automatic id when there is a
// stats socket.
func stateProxyIDs(cfg *config.Config) map[*config.Proxy]int {
	var explicit []int
	if len(cfg.Global.StatsSockets) > 0 {
		explicit = append(explicit, 0)
	}
	for _, px := range cfg.Proxies {
		explicit = append(explicit, px.ID)
	}
	ids := balance.ServerIDs(explicit)
	ids = ids[len(ids)-len(cfg.Proxies):]
	m := make(map[*config.Proxy]int, len(ids))
	for i, px := range cfg.Proxies {
		m[px] = ids[i]
	}
	return m
}

// serverRT finds a server's two halves by backend and server name.
func (g *Generation) serverRT(be, srv string) (*srvRT, error) {
	m, ok := g.rtByName[be]
	if !ok {
		return nil, ErrNoBackend
	}
	rt := m[srv]
	if rt == nil {
		return nil, ErrNoServer
	}
	return rt, nil
}

func (g *Generation) adminChanged() {
	if g.onAdminChange != nil {
		g.onAdminChange()
	}
}

// checkVerdict applies a health check's state to srv's operational half,
// and to the servers tracking it, and returns the server's State now and
// the trackers' changes to log; ok is false for a server the generation
// does not know.
func (g *Generation) checkVerdict(srv *proxy.Server, op proxy.State) (v verdict, ok bool) {
	g.admMu.Lock()
	defer g.admMu.Unlock()
	rt := g.rtBySrv[srv]
	if rt == nil {
		return v, false
	}
	rt.op = op
	v.state = rt.effective()
	rt.srv.SetState(v.state)
	// The server's own message counts the servers before its trackers change.
	v.active, v.backups = srv.Backend().UsableServers()
	v.notes = g.inheritLocked(rt, true)
	return v, true
}

// verdict is what checkVerdict did: the server's State now, its backend's
// usable active and backup servers then, and its trackers' changes.
type verdict struct {
	state           proxy.State
	active, backups int
	notes           []trackNote
}

// opState is the operational state a server's checks start from.
func (g *Generation) opState(srv *proxy.Server) proxy.State {
	g.admMu.Lock()
	defer g.admMu.Unlock()
	if rt := g.rtBySrv[srv]; rt != nil {
		return rt.op
	}
	return proxy.StateUp
}

// StateServers is the generation's servers as "show servers state" prints
// them, those of the backend named backend only unless it is "".
func (g *Generation) StateServers(backend string) []srvstate.Server {
	g.admMu.Lock()
	defer g.admMu.Unlock()
	now := time.Now().Unix()
	var out []srvstate.Server
	for _, rt := range g.rts {
		if backend != "" && rt.px.Name != backend {
			continue
		}
		c := rt.srv.Config()
		host, port := splitHostPort(c.Addr)
		if ip, err := netip.ParseAddr(host); err == nil {
			host = ip.String()
		} else if host == "" {
			host = "0.0.0.0" // no address: the client's destination
		} else {
			host = "-" // a name that did not resolve
		}
		if rt.moved {
			var ip netip.Addr
			_, ip, port, _ = rt.srv.Addr()
			host = ip.String()
		}
		if c.Network == "unix" || rt.cfg.Network == "abns" {
			// Printed for AF_INET and AF_INET6 only.
			host, port = "-", 0
		}
		fqdn := ""
		if rt.cfg.Host != "" && net.ParseIP(rt.cfg.Host) == nil && c.Network != "unix" && rt.cfg.Network != "abns" {
			fqdn = rt.cfg.Host // the name as written
		}
		if rt.dns {
			host, fqdn = "-", strings.TrimSuffix(rt.cfg.Host, ".")
			if rt.dnsIP.IsValid() {
				host = rt.dnsIP.String()
			}
			port = rt.cfg.Port
		}
		s := srvstate.Server{
			BackendID: rt.beID, BackendName: rt.px.Name, ID: rt.srv.ID(), Name: rt.cfg.Name,
			Addr: host, Op: rt.opBits(), Admin: rt.adminBits(),
			UWeight: rt.srv.Weight(), IWeight: c.Weight, Port: port,
			SinceChange:   now - rt.srv.Stats().LastChange,
			BackendForced: rt.px.ID != 0, ServerForced: rt.cfg.ID != 0, FQDN: fqdn,
			UseSSL: rt.cfg.UseSSL(), CheckPort: rt.checkPort(),
			CheckAddr: addrIP(rt.checkAddrConf()), AgentAddr: "-", AgentPort: rt.agentPort(),
		}
		if a, ok := rt.agentAddrConf(); ok {
			s.AgentAddr = addrIP(a)
		}
		g.checkColumnsLocked(rt, &s)
		out = append(out, s)
	}
	return out
}

// checkColumnsLocked fills s's check columns: the status, result and
// health counter of the health checks, and the state bits of those and of
// the agent check. Caller holds g.admMu.
func (g *Generation) checkColumnsLocked(rt *srvRT, s *srvstate.Server) {
	s.CheckStatus, s.CheckResult, s.CheckHealth = health.StatusInit.Num(), health.ResultUnknown, rt.health
	if rt.loaded != nil {
		s.CheckStatus, s.CheckResult = rt.loaded.status, rt.loaded.result
	}
	c := g.checker(rt.srv)
	var st health.Stat
	if c != nil {
		st = c.Stat()
	}
	if c != nil && c.HasCheck() {
		s.CheckHealth = st.Health
		if st.Results > 0 || rt.loaded == nil {
			s.CheckStatus, s.CheckResult = st.Last.Status.Num(), st.Last.Status.ResultNum()
		}
		if st.Running {
			// A check starting resets the result (HCHK_STATUS_START).
			s.CheckResult = health.ResultUnknown
		}
	}
	if rt.cfg.Check {
		s.CheckState = srvstate.ChkConfigured
		if !rt.chkOff {
			s.CheckState |= srvstate.ChkEnabled
		}
		if c != nil && c.HasCheck() && st.Running {
			s.CheckState |= srvstate.ChkInProgress
		}
	}
	if rt.chkPaused {
		s.CheckState |= srvstate.ChkPaused
	}
	if rt.cfg.AgentCheck {
		s.AgentState = srvstate.ChkAgent | srvstate.ChkConfigured
		if !rt.agentOff {
			s.AgentState |= srvstate.ChkEnabled
		}
		if c != nil && st.AgentRunning {
			s.AgentState |= srvstate.ChkInProgress
		}
	}
}

// checkAddrConf is the checks' own address ("addr", or from a state file),
// "" for none.
func (rt *srvRT) checkAddrConf() string {
	if rt.rtCheckAddr != "" {
		return rt.rtCheckAddr
	}
	return rt.cfg.CheckAddr
}

// agentAddrConf is the agent's own address: from a state file,
// "agent-addr", or "addr", which sets both; ok is false for none.
func (rt *srvRT) agentAddrConf() (string, bool) {
	switch {
	case rt.rtAgentAddr != "":
		return rt.rtAgentAddr, true
	case rt.cfg.AgentAddr != "":
		return rt.cfg.AgentAddr, true
	case rt.cfg.CheckAddr != "":
		return rt.cfg.CheckAddr, true
	}
	return "", false
}

// agentPort is the agent's port: from a state file, "agent-port", or
// "port" when no agent-port was given.
func (rt *srvRT) agentPort() int {
	switch {
	case rt.rtAgentPort != 0:
		return rt.rtAgentPort
	case rt.cfg.AgentPort != 0:
		return rt.cfg.AgentPort
	}
	return rt.cfg.CheckPort
}

// agentAddr is the "host:port" the agent check goes to when a state file
// moved it; ok is false otherwise.
func (rt *srvRT) agentAddr() (string, bool) {
	if rt.rtAgentAddr == "" && rt.rtAgentPort == 0 {
		return "", false
	}
	host, ok := rt.agentAddrConf()
	if !ok {
		host, _ = splitHostPort(rt.srv.Config().Addr)
	}
	return net.JoinHostPort(addrIP(host), strconv.Itoa(rt.agentPort())), true
}

// addrIP is an address as "show servers state" prints it: an IP address
// ("addr" may carry a port, which is not printed, or be a name, resolved
// once as HAProxy does at start), "-" for none.
func addrIP(a string) string {
	if a == "" {
		return "-"
	}
	if ip, err := netip.ParseAddr(a); err == nil {
		return ip.Unmap().String()
	}
	if i := strings.LastIndexByte(a, ':'); i >= 0 {
		if ip, err := netip.ParseAddr(strings.Trim(a[:i], "[]")); err == nil {
			return ip.Unmap().String()
		}
		a = a[:i]
	}
	if ip, ok := lookupOnce(a); ok {
		return ip
	}
	return "-"
}

var resolvedNames sync.Map // name → IP string, for addrIP

// lookupOnce resolves name once per process: its first IPv4 address, else
// its first one.
func lookupOnce(name string) (string, bool) {
	if v, ok := resolvedNames.Load(name); ok {
		return v.(string), v.(string) != ""
	}
	ip := ""
	if ips, err := net.LookupIP(name); err == nil && len(ips) > 0 {
		ip = ips[0].String()
		for _, x := range ips {
			if x.To4() != nil {
				ip = x.String()
				break
			}
		}
	}
	resolvedNames.Store(name, ip)
	return ip, ip != ""
}

// operatorChanged reports whether a server is not in the state its
// configuration gives it: in maintenance or drain, out of the maintenance
// of "disabled", with another weight, or with its checks disabled.
func (g *Generation) operatorChanged() bool {
	g.admMu.Lock()
	defer g.admMu.Unlock()
	for _, rt := range g.rts {
		if rt.fmaint != rt.cfg.Disabled || rt.fdrain || rt.srv.Weight() != rt.srv.Config().Weight || rt.moved || rt.added != nil ||
			rt.cfg.Check && rt.chkOff || rt.cfg.AgentCheck && rt.agentOff {
			return true
		}
	}
	return false
}

func splitHostPort(a string) (string, int) {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return a, 0
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

// CarriedState is what the next process inherits of this generation's
// servers: "show servers state" of every backend, of which it applies the
// administrative states and the weights (ApplyCarried).
func (g *Generation) CarriedState() []byte {
	if !g.operatorChanged() {
		return nil // nothing to carry: the next process starts from its configuration
	}
	var b strings.Builder
	_ = srvstate.Write(&b, g.StateServers(""))
	g.writeMoved(&b)
	g.writeAdded(&b)
	return []byte(b.String())
}

// loadStateFiles is HAProxy 2.6's apply_server_state: the global
// server-state-file for the backends with "load-server-state-from-file
// global", a file of its own for those with "local", each line applied to
// the server of the same name. Problems are logged in HAProxy's words and
// never stop the start.
func (g *Generation) loadStateFiles(cfg *config.Config) {
	var global *srvstate.File
	if name := cfg.Global.ServerStateFile; name != "" && usesStateFile(cfg, "global") {
		path := stateFilePath(cfg.Global.ServerStateBase, name)
		f, err := readStateFile(path)
		switch {
		case err == nil:
			global = f
		case errors.Is(err, srvstate.ErrNoVersion):
			g.log.Warn(fmt.Sprintf("config: Can't get version of the global server state file '%s'.", path))
		case isCorrupted(err) > 0:
			g.log.Warn(fmt.Sprintf("config: corrupted global server state file '%s' at line %d.", path, isCorrupted(err)))
		default:
			g.log.Warn(fmt.Sprintf("config: Can't open global server state file '%s': %s", path, strerror(err)))
		}
	}
	for _, px := range cfg.Backends() {
		m := g.rtByName[px.Name]
		if px.Disabled || len(m) == 0 {
			continue
		}
		switch px.LoadServerStateFromFile {
		case "global":
			if global == nil {
				continue
			}
			lines, _ := global.Lookup(px.Name, g.beID(px), false)
			for _, s := range px.Servers {
				if l, ok := lines[s.Name]; ok && m[s.Name] != nil {
					g.applyStateLine(m[s.Name], l, false)
				}
			}
		case "local":
			name := px.ServerStateFileName
			if name == "" {
				name = px.Name
			}
			path := stateFilePath(cfg.Global.ServerStateBase, name)
			f, err := readStateFile(path)
			switch {
			case err == nil:
			case errors.Is(err, srvstate.ErrNoVersion):
				g.log.Warn(fmt.Sprintf("Proxy '%s': Can't get version of the server state file '%s'.", px.Name, path))
				continue
			case isCorrupted(err) > 0:
				g.log.Warn(fmt.Sprintf("Proxy '%s': corrupted server state file '%s' at line %d.", px.Name, path, isCorrupted(err)))
				continue
			default:
				g.log.Warn(fmt.Sprintf("Proxy '%s': Can't open server state file '%s': %s.", px.Name, path, strerror(err)))
				continue
			}
			lines, warns := f.Lookup(px.Name, g.beID(px), true)
			for _, w := range warns {
				g.log.Warn(w)
			}
			for _, s := range px.Servers {
				if l, ok := lines[s.Name]; ok && m[s.Name] != nil {
					g.applyStateLine(m[s.Name], l, false)
					delete(lines, s.Name)
				}
			}
			// What is left names servers the backend does not have, in file order.
			for _, l := range f.Lines {
				if left, ok := lines[l.ServerName()]; ok && left.Num == l.Num {
					g.log.Warn(fmt.Sprintf("Proxy '%s': can't find server '%s' in backend '%s'", px.Name, l.ServerName(), px.Name))
				}
			}
		}
	}
}

// ApplyCarried applies the state the previous process handed over (its
// CarriedState): for every server of the same backend and name, the
// operator's administrative state, weight and "disable health" or "disable
// agent", by HAProxy's rules for a state file (a change of the
// configuration wins: a server newly "disabled", or no longer, follows the
// configuration; a weight applies only when the configured weight did not
// change). The operational state is not carried (the checks start over,
// as after HAProxy's reload). Servers the configuration no longer has are
// logged, once each. from names the source for the log.
func (g *Generation) ApplyCarried(b []byte, from string) {
	f, err := srvstate.Read(b)
	if err != nil {
		g.log.Warn("server state handed over is unusable: the configuration's is used", "from", from, "err", err)
		return
	}
	g.applyAdded(b, from)
	seen := map[string]bool{}
	for _, l := range f.Lines {
		key := l.BackendName() + "/" + l.ServerName()
		if seen[key] {
			continue
		}
		seen[key] = true
		rt := g.rtByName[l.BackendName()][l.ServerName()]
		if rt == nil {
			g.log.Info(fmt.Sprintf("server state handed over for '%s', which the configuration no longer has: ignored", key), "from", from)
			continue
		}
		oldDisabled(l)
		g.applyStateLine(rt, l, true)
	}
	g.applyMoved(b, from)
}

// oldDisabled reads a line from an lb that printed no check columns (all
// 0: a status is never 0 since) and "disabled" as CMAINT alone, which then
// meant maintenance: it is CMAINT|FMAINT now, as in HAProxy.
func oldDisabled(l srvstate.Line) {
	if l.Params[10] != "0" {
		return
	}
	if n, err := strconv.Atoi(l.Params[6]); err == nil && n&srvstate.AdminCMaint != 0 {
		l.Params[6] = strconv.Itoa(n | srvstate.AdminFMaint)
	}
}

func (g *Generation) beID(px *config.Proxy) int {
	for _, m := range g.rtByName[px.Name] {
		return m.beID
	}
	return 0
}

// applyStateLine is HAProxy 2.6's srv_state_srv_update for one server.
// carried lines (ApplyCarried) apply the administrative half, the weight
// and the checks' "disable health" and "disable agent" only.
func (g *Generation) applyStateLine(rt *srvRT, l srvstate.Line, carried bool) {
	v, problems := l.Check()
	who := rt.px.Name + "/" + rt.cfg.Name
	if problems != "" {
		g.log.Warn(fmt.Sprintf("server-state application failed for server '%s'%s", who, problems))
		return
	}
	g.admMu.Lock()
	defer g.admMu.Unlock()
	var opMsg string
	var msgs []string
	if !carried {
		// The operational state is applied to a server not in
		// maintenance ("disabled" in the configuration): srv_set_stopped
		// and the others leave one in maintenance as it is. The health
		// counter is set all the same.
		rise, fall := rt.cfg.Rise, rt.cfg.Fall
		health, maint := v.CheckHealth, rt.inMaint()
		down := func() {
			health = 0
			if !maint && rt.op != proxy.StateDown {
				rt.op, opMsg = proxy.StateDown, "down"
			}
		}
		switch v.Op {
		case srvstate.OpStopped:
			down()
		case srvstate.OpStarting:
			if rise == 1 {
				health = rise + fall - 1
				if !maint {
					rt.op = proxy.StateUp
				}
			} else if health < 1 || health >= rise {
				health = rise - 1
			}
		case srvstate.OpStopping:
			if fall == 1 {
				down()
			} else {
				if health < rise || health > rise+fall-2 {
					health = rise
				}
				if !maint && rt.op != proxy.StateNoLB {
					rt.op, opMsg = proxy.StateNoLB, "stopping"
				}
			}
		case srvstate.OpRunning:
			health = rise + fall - 1
			if !maint {
				rt.op = proxy.StateUp
			}
		}
		g.setHealthLocked(rt, health)
	}
	// A change of "disabled" in the configuration wins; else the old
	// process's forced maintenance is applied.
	fileC := v.Admin&srvstate.AdminCMaint != 0
	setMaint := func() {
		if !rt.inMaint() {
			g.enterMaintLocked(rt, rt.op == proxy.StateDown)
		}
		rt.fmaint, rt.fdrain = true, false
	}
	setReady := func() {
		wasMaint := rt.inMaint()
		rt.fmaint, rt.fdrain = false, false
		if wasMaint && !rt.inMaint() {
			g.leaveMaintLocked(rt)
			rt.op = proxy.StateUp
			msgs = append(msgs, srvWho(rt)+" is UP/READY (leaving forced maintenance).")
		}
	}
	if fileC != rt.cmaint {
		if rt.cmaint {
			setMaint()
		} else {
			setReady()
		}
	} else if v.Admin&srvstate.AdminFMaint != 0 && !rt.cmaint {
		setMaint()
	} else if v.Admin&srvstate.AdminFMaint == 0 && rt.cmaint {
		setReady()
	}
	drainMsg := false
	if !rt.fmaint && v.Admin&srvstate.AdminFDrain != 0 {
		// A drain that came from a configured weight of 0 ends when the
		// configuration gives the server a weight again.
		if v.IWeight > 0 || rt.cfg.Weight == 0 {
			rt.fmaint, rt.fdrain = false, true
			drainMsg = true
		}
	}
	// Of the checks' state, only "disable health" and "disable agent" (the
	// ENABLED bit cleared) are applied; to a server added at run time,
	// whose checks start disabled, the previous process's "enable health"
	// and "enable agent" too.
	if c := v.CheckState; rt.cfg.Check && c&srvstate.ChkConfigured != 0 && (c&srvstate.ChkEnabled == 0 || rt.added != nil) {
		rt.chkOff = c&srvstate.ChkEnabled == 0
	}
	if a := v.AgentState; rt.cfg.AgentCheck && a&srvstate.ChkConfigured != 0 && (a&srvstate.ChkEnabled == 0 || rt.added != nil) {
		rt.agentOff = a&srvstate.ChkEnabled == 0
	}
	// The weight set at run time applies unless the configured one changed.
	if v.IWeight == rt.srv.Config().Weight {
		_ = rt.srv.SetWeight(v.UWeight)
	}
	rt.srv.SetState(rt.effective())

	if carried {
		return
	}
	// The state's age, and the last check's status and result, go on.
	rt.srv.SetLastChange(time.Now().Unix() - v.SinceChange)
	if v.Op == srvstate.OpStarting && rt.cfg.Rise > 1 {
		// HAProxy keeps a STARTING server's slow start going from the
		// state's age (srv_state_srv_update); with rise 1 it runs.
		rt.srv.ResumeWarmup()
	}
	rt.loaded = &loadedCheck{status: v.CheckStatus, result: v.CheckResult}

	for _, m := range msgs {
		g.log.Warn(m)
	}
	act, bck := rt.srv.Backend().UsableServers()
	switch opMsg {
	case "down":
		g.log.Warn(fmt.Sprintf("Server %s is DOWN, changed from server-state after a reload. %d active and %d backup servers left.%s 0 sessions active, 0 requeued, 0 remaining in queue.", who, act, bck, onBackup(act, bck)))
	case "stopping":
		g.log.Warn(fmt.Sprintf("Server %s is stopping, changed from server-state after a reload. %d active and %d backup servers online.%s 0 sessions requeued, 0 total in queue.", who, act, bck, onBackup(act, bck)))
	}
	if drainMsg {
		g.log.Warn(fmt.Sprintf("Server %s remains in forced drain mode.", who))
	}
	// HAProxy applies srv_port; lb does not move a server at run time.
	c := rt.srv.Config()
	if v.Port >= 0 && c.Network != "unix" && !c.PortFromDst {
		if _, port := splitHostPort(c.Addr); port != v.Port {
			g.log.Warn(fmt.Sprintf("server-state partially applied for server '%s', srv_port '%d' not applied: lb does not change a server's port at run time", who, v.Port))
		}
	}
	// HAProxy applies srv_use_ssl to a server it prepared TLS for ("ssl" or
	// "check-ssl"); lb does not switch TLS on or off at run time.
	if v.HasUseSSL && v.UseSSL != rt.cfg.UseSSL() && (rt.cfg.TLS != nil || rt.cfg.CheckTLS != nil) {
		g.log.Warn(fmt.Sprintf("server-state partially applied for server '%s', srv_use_ssl '%d' not applied: lb does not change a server's ssl at run time", who, v.UseSSL))
	}
	if msg := g.applyCheckAddrsLocked(rt, v); msg != "" {
		g.log.Warn(fmt.Sprintf("server-state partially applied for server '%s', %s", who, msg))
	}
}

// applyCheckAddrsLocked applies a state line's address and port of the
// checks, then those of the agent, as srv_state_srv_update does: each only
// when that check is enabled, and nothing more after a complaint, which it
// returns. Caller holds g.admMu.
func (g *Generation) applyCheckAddrsLocked(rt *srvRT, v srvstate.Values) string {
	if v.CheckAddr != "" || v.CheckPort != "" {
		if !rt.chkEnabled() {
			return "health checks are not enabled on this server"
		}
		ip, port, msg := srvstate.CheckAddrPort(v.CheckAddr, v.CheckPort, nil)
		if msg != "" {
			return msg
		}
		if ip != "" {
			rt.rtCheckAddr = ip
		}
		if port >= 0 {
			rt.rtCheckPort, rt.checkPortSet = port, true
		}
	}
	if v.AgentAddr != "" || v.AgentPort != "" {
		if !rt.agentEnabled() {
			return "agent checks are not enabled on this server"
		}
		ip, port, msg := srvstate.CheckAddrPort(v.AgentAddr, v.AgentPort, lookupOnce)
		if msg != "" {
			return msg
		}
		if ip != "" {
			rt.rtAgentAddr = ip
		}
		if port >= 0 {
			rt.rtAgentPort = port
		}
	}
	return ""
}

// usesStateFile reports whether a backend of cfg loads the state file in
// mode ("global" or "local").
func usesStateFile(cfg *config.Config, mode string) bool {
	for _, px := range cfg.Backends() {
		if px.LoadServerStateFromFile == mode {
			return true
		}
	}
	return false
}

// stateFilePath is HAProxy's srv_state_get_filepath.
func stateFilePath(base, name string) string {
	if strings.HasPrefix(name, "/") || base == "" {
		return name
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base + name
}

func readStateFile(path string) (*srvstate.File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return srvstate.Read(b)
}

func isCorrupted(err error) int {
	var c *srvstate.CorruptedError
	if errors.As(err, &c) {
		return c.Line
	}
	return 0
}

// strerror is the C library's message for err's errno ("No such file or
// directory").
func strerror(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var errno syscall.Errno
	s := err.Error()
	if errors.As(err, &errno) {
		s = errno.Error()
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
