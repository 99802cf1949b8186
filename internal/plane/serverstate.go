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
	"syscall"
	"unicode"
	"unicode/utf8"

	"lb/internal/balance"
	"lb/internal/config"
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
	// cmaint is "disabled" (CMAINT), rmaint a name that did not resolve.
	fmaint, fdrain, cmaint, rmaint bool
	// op is the operational state: StateUp, StateDown or StateNoLB.
	op proxy.State
	// rtCheckPort is the checks' port set at run time (0: none; servers.go).
	rtCheckPort int
	// moved: the operator changed the server's address or port.
	moved bool
	// dns: the server's name is resolved at run time (resolvers.go); dnsIP is
	// its address from the answers (invalid: none, the server is in RMAINT).
	dns   bool
	dnsIP netip.Addr
	// added are the arguments of the "add server" that added the server
	// (its name, address and keywords); nil for a configured one.
	added []string
}

// effective is the State of the proxy.Server: maintenance first, then the
// checks' DOWN, then drain, then the checks' NOLB.
func (rt *srvRT) effective() proxy.State {
	switch {
	case rt.fmaint || rt.cmaint || rt.rmaint:
		return proxy.StateMaint
	case rt.op == proxy.StateDown:
		return proxy.StateDown
	case rt.fdrain:
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
	return b
}

// opBits is srv_op_state as "show servers state" prints it.
func (rt *srvRT) opBits() int {
	switch {
	case rt.effective() == proxy.StateMaint || rt.op == proxy.StateDown:
		return srvstate.OpStopped
	case rt.op == proxy.StateNoLB:
		return srvstate.OpStopping
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
			rt := &srvRT{px: px, cfg: s, srv: srv, beID: ids[px], cmaint: s.Disabled, rmaint: s.Unresolved && !s.Disabled, op: proxy.StateUp}
			m[s.Name] = rt
			g.rtBySrv[srv] = rt
			g.rts = append(g.rts, rt)
		}
		g.rtByName[px.Name] = m
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

// checkVerdict applies a health check's state to srv's operational half and
// returns the server's State now; ok is false for a server the generation
// does not know.
func (g *Generation) checkVerdict(srv *proxy.Server, op proxy.State) (proxy.State, bool) {
	g.admMu.Lock()
	defer g.admMu.Unlock()
	rt := g.rtBySrv[srv]
	if rt == nil {
		return 0, false
	}
	rt.op = op
	st := rt.effective()
	rt.srv.SetState(st)
	return st, true
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
	var out []srvstate.Server
	for _, rt := range g.rts {
		if backend != "" && rt.px.Name != backend {
			continue
		}
		c := rt.srv.Config()
		host, port := splitHostPort(c.Addr)
		if rt.moved {
			var ip netip.Addr
			_, ip, port, _ = rt.srv.Addr()
			host = ip.String()
		}
		if c.Network == "unix" {
			host, port = c.Addr, 0
		}
		fqdn := ""
		if rt.dns {
			host, fqdn = "-", strings.TrimSuffix(rt.cfg.Host, ".")
			if rt.dnsIP.IsValid() {
				host = rt.dnsIP.String()
			}
			port = rt.cfg.Port
		}
		out = append(out, srvstate.Server{
			BackendID: rt.beID, BackendName: rt.px.Name, ID: rt.srv.ID(), Name: rt.cfg.Name,
			Addr: host, Op: rt.opBits(), Admin: rt.adminBits(),
			UWeight: rt.srv.Weight(), IWeight: c.Weight, Port: port,
			BackendForced: rt.px.ID != 0, ServerForced: rt.cfg.ID != 0, FQDN: fqdn,
		})
	}
	return out
}

// operatorChanged reports whether a server is not in the state its
// configuration gives it: in maintenance or drain, out of the maintenance
// of "disabled", or with another weight.
func (g *Generation) operatorChanged() bool {
	g.admMu.Lock()
	defer g.admMu.Unlock()
	for _, rt := range g.rts {
		if rt.fmaint || rt.fdrain || rt.cfg.Disabled && !rt.cmaint || rt.srv.Weight() != rt.srv.Config().Weight || rt.moved || rt.added != nil {
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
// operator's administrative state and weight, by HAProxy's rules for a
// state file (a change of the configuration wins: a server newly
// "disabled", or no longer, follows the configuration; a weight applies
// only when the configured weight did not change). Neither the operational
// state (the checks start over, as after HAProxy's reload) nor the address
// is carried: the configuration's address is used. Servers the
// configuration no longer has are logged, once each. from names the source
// for the log.
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
		g.applyStateLine(rt, l, true)
	}
	g.applyMoved(b, from)
}

func (g *Generation) beID(px *config.Proxy) int {
	for _, m := range g.rtByName[px.Name] {
		return m.beID
	}
	return 0
}

// applyStateLine is HAProxy 2.6's srv_state_srv_update for one server.
// carried lines (ApplyCarried) apply the administrative half and the weight
// only.
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
	if !carried {
		down := func() {
			rt.op = proxy.StateDown
			opMsg = "down"
		}
		switch v.Op {
		case srvstate.OpStopped:
			down()
		case srvstate.OpStarting:
			if rt.cfg.Rise == 1 {
				rt.op = proxy.StateUp
			}
		case srvstate.OpStopping:
			if rt.cfg.Fall == 1 {
				down()
			} else {
				rt.op = proxy.StateNoLB
				opMsg = "stopping"
			}
		case srvstate.OpRunning:
			rt.op = proxy.StateUp
		}
	}
	// A change of "disabled" in the configuration wins; else the old
	// process's forced maintenance is applied.
	fileC := v.Admin&srvstate.AdminCMaint != 0
	setMaint := func() { rt.fmaint, rt.fdrain = true, false }
	setReady := func() { rt.fmaint, rt.fdrain = false, false }
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
	// The weight set at run time applies unless the configured one changed.
	if v.IWeight == rt.srv.Config().Weight {
		_ = rt.srv.SetWeight(v.UWeight)
	}
	rt.srv.SetState(rt.effective())

	if carried {
		return
	}
	act, bck := rt.srv.Backend().UsableServers()
	switch opMsg {
	case "down":
		g.log.Warn(fmt.Sprintf("Server %s is DOWN, changed from server-state after a reload. %d active and %d backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.", who, act, bck))
	case "stopping":
		g.log.Warn(fmt.Sprintf("Server %s is stopping, changed from server-state after a reload. %d active and %d backup servers online. 0 sessions requeued, 0 total in queue.", who, act, bck))
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
