package plane

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"weak"

	"lb/internal/health"
	"lb/internal/proxy"
)

// ServerControl is what the runtime API changes of servers beyond their state and
// weight: their address, their check port and their maxconn; and what it shows and
// ends of sessions.
type ServerControl interface {
	// ServerAddr returns a server's current address and port (mapped: the port is
	// an offset to the client's destination port); ok is false for a server that is
	// not at an IP address (a name, a unix socket).
	ServerAddr(backend, server string) (ip netip.Addr, port int, mapped, ok bool, err error)
	// SetServerAddr moves a server (see AddrChange): the IP when setIP, the port when
	// setPort. The change is logged nowhere (as HAProxy's from the CLI) and the next
	// process inherits it.
	SetServerAddr(backend, server string, ch AddrChange) error
	// SetServerCheckPort changes the port a server's health checks connect to;
	// ErrNoCheck for a server without checks. A negative port changes nothing: it only
	// asks whether the server has checks.
	SetServerCheckPort(backend, server string, port int) error
	// SetServerMaxconn changes a server's maxconn (0 or less: no limit).
	SetServerMaxconn(backend, server string, n int) error
	// ClearCounters resets the highest values seen (all: every counter) of the
	// frontends, backends and servers.
	ClearCounters(all bool)
	// ServerConns returns the connection counts of the servers, of backend only unless
	// it is ""; ErrNoBackend when there is no such backend.
	ServerConns(backend string) ([]ServerConns, error)
	// Sessions returns the sessions being served.
	Sessions() []proxy.SessionInfo
	// KillSession kills the session numbered id; false when there is none.
	KillSession(id uint64) bool
}

var _ ServerControl = (*Generation)(nil)

// AddrChange is a "set server … addr" change.
type AddrChange struct {
	IP         netip.Addr
	SetIP      bool
	Port       int
	SetPort    bool
	MappedPort bool // Port is an offset ("+N", "-N")
}

var (
	// ErrAddrFamily: the server is at a unix socket or a name.
	ErrAddrFamily = errors.New("address family cannot change at run time")
	// ErrPortMapCheck: a mapped port needs the checks to have their own port.
	ErrPortMapCheck = errors.New("mapped port needs a check port")
)

// ServerConns is one server's line of "show servers conn".
type ServerConns struct {
	Backend, Server string
	BackendID, ID   int
	Addr            string
	Port            int
	proxy.ConnStats
}

// ServerAddr implements ServerControl.
func (g *Generation) ServerAddr(backend, server string) (netip.Addr, int, bool, bool, error) {
	_, srv, err := g.server(backend, server)
	if err != nil {
		return netip.Addr{}, 0, false, false, err
	}
	_, ip, port, mapped := srv.Addr()
	return ip, port, mapped, ip.IsValid() && srv.Config().Network != "unix", nil
}

// SetServerAddr implements ServerControl.
func (g *Generation) SetServerAddr(backend, server string, ch AddrChange) error {
	_, srv, err := g.server(backend, server)
	if err != nil {
		return err
	}
	g.admMu.Lock()
	rt := g.rtBySrv[srv]
	if ch.SetPort && ch.MappedPort {
		if _, _, mapped := srvAddrMapped(srv); !mapped && (rt == nil || rt.checkPort() == 0) {
			g.admMu.Unlock()
			return ErrPortMapCheck
		}
	}
	err = srv.SetAddr(ch.IP, ch.SetIP, ch.Port, ch.SetPort, ch.MappedPort)
	if err == nil && rt != nil {
		rt.moved = true
		g.moveChecksLocked(srv, rt)
	}
	g.admMu.Unlock()
	if err != nil {
		if errors.Is(err, proxy.ErrAddrFamily) {
			return ErrAddrFamily
		}
		return err
	}
	g.adminChanged() // the next process inherits the address
	return nil
}

func srvAddrMapped(srv *proxy.Server) (netip.Addr, int, bool) {
	_, ip, port, mapped := srv.Addr()
	return ip, port, mapped
}

// checkPort is the port the server's checks use of their own ("port", or set at run
// time), 0 when they use the server's.
func (rt *srvRT) checkPort() int {
	if rt.checkPortSet {
		return rt.rtCheckPort
	}
	return rt.cfg.CheckPort
}

// moveChecksLocked points srv's checks at its address now: the server's IP unless
// "addr" gives the checks theirs, the checks' own port or else the server's. Caller
// holds g.admMu.
func (g *Generation) moveChecksLocked(srv *proxy.Server, rt *srvRT) {
	if c := g.checker(srv); c != nil && rt != nil {
		c.SetAddr(rt.checkAddr())
	}
}

// movedChecks hands c, srv's new checker, the state of srv's checks: where they go when
// the previous process or a state file moved them, and their state bits and health.
func (g *Generation) movedChecks(srv *proxy.Server, c *health.Checker) {
	g.admMu.Lock()
	defer g.admMu.Unlock()
	if rt := g.rtBySrv[srv]; rt != nil {
		g.syncCheckerLocked(rt, c)
	}
}

// checkAddr is the "host:port" rt's checks go to.
func (rt *srvRT) checkAddr() string {
	srv := rt.srv
	addr, ip, port, _ := srv.Addr()
	host := ip.String()
	if !ip.IsValid() {
		host, _, _ = net.SplitHostPort(addr)
	}
	if a := rt.checkAddrConf(); a != "" {
		host = a
	}
	if p := rt.checkPort(); p > 0 {
		port = p
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func (g *Generation) checker(srv *proxy.Server) *health.Checker {
	cs := g.checks.Load()
	if cs == nil {
		return nil
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.byServer[srv]
}

// SetServerCheckPort implements ServerControl.
func (g *Generation) SetServerCheckPort(backend, server string, port int) error {
	_, srv, err := g.server(backend, server)
	if err != nil {
		return err
	}
	g.admMu.Lock()
	defer g.admMu.Unlock()
	rt := g.rtBySrv[srv]
	// srv_update_check_addr_port: the checks must be enabled.
	if rt == nil || !rt.chkEnabled() {
		return ErrNoCheck
	}
	if port < 0 {
		return nil
	}
	rt.rtCheckPort, rt.checkPortSet = port, true
	g.moveChecksLocked(srv, rt)
	return nil
}

// SetServerMaxconn implements ServerControl.
func (g *Generation) SetServerMaxconn(backend, server string, n int) error {
	_, srv, err := g.server(backend, server)
	if err != nil {
		return err
	}
	srv.SetMaxconn(n)
	return nil
}

// ClearCounters implements ServerControl.
func (g *Generation) ClearCounters(all bool) {
	for _, be := range g.backends {
		be.ClearCounters(all)
		for _, s := range be.Servers() {
			s.ClearCounters(all)
		}
	}
	v, ok := statsStates.Load(weak.Make(g))
	if !ok {
		return
	}
	st := v.(*statsState)
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, wf := range st.fronts {
		if f := wf.Value(); f != nil {
			f.ClearCounters(all)
		}
	}
}

// ServerConns implements ServerControl.
func (g *Generation) ServerConns(backend string) ([]ServerConns, error) {
	if backend != "" && g.rtByName[backend] == nil {
		return nil, ErrNoBackend
	}
	g.admMu.Lock()
	rts := append([]*srvRT(nil), g.rts...)
	g.admMu.Unlock()
	var out []ServerConns
	for _, rt := range rts {
		if backend != "" && rt.px.Name != backend {
			continue
		}
		addr, ip, port, _ := rt.srv.Addr()
		host := ip.String()
		if !ip.IsValid() {
			host, _ = splitHostPort(addr)
		}
		if rt.srv.Config().Network == "unix" {
			host, port = addr, 0
		}
		out = append(out, ServerConns{Backend: rt.px.Name, Server: rt.cfg.Name, BackendID: rt.beID, ID: rt.srv.ID(),
			Addr: host, Port: port, ConnStats: rt.srv.ConnStats()})
	}
	return out, nil
}

// Sessions implements ServerControl.
func (g *Generation) Sessions() []proxy.SessionInfo { return g.eng.Sessions() }

// KillSession implements ServerControl.
func (g *Generation) KillSession(id uint64) bool { return g.eng.KillSession(id) }

// movedTag starts the lines CarriedState adds after the state of the servers, one per
// server the operator moved: "# lb-moved <backend> <server> <configured address>
// <ip> <port>", the port with its sign when mapped. Being comments, they are skipped
// as state lines. The next process moves the server only when its configuration gives
// it the same address as this one's: a changed configuration wins.
const movedTag = "# lb-moved "

func (g *Generation) writeMoved(b *strings.Builder) {
	g.admMu.Lock()
	defer g.admMu.Unlock()
	for _, rt := range g.rts {
		if !rt.moved {
			continue
		}
		_, ip, port, mapped := rt.srv.Addr()
		p := strconv.Itoa(port)
		if mapped && port >= 0 {
			p = "+" + p
		}
		fmt.Fprintf(b, "%s%s %s %s %s %s\n", movedTag, rt.px.Name, rt.cfg.Name, rt.srv.Config().Addr, ip, p)
	}
}

// applyMoved moves the servers CarriedState said were moved.
func (g *Generation) applyMoved(b []byte, from string) {
	for _, l := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(l, movedTag)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 5 {
			continue
		}
		rt := g.rtByName[f[0]][f[1]]
		if rt == nil {
			continue
		}
		if rt.srv.Config().Addr != f[2] {
			g.log.Info(fmt.Sprintf("server %s/%s: its configured address changed, the address set at run time is not carried", f[0], f[1]), "from", from)
			continue
		}
		ip, err := netip.ParseAddr(f[3])
		port, perr := strconv.Atoi(f[4])
		if err != nil || perr != nil {
			continue
		}
		mapped := strings.HasPrefix(f[4], "+") || strings.HasPrefix(f[4], "-")
		g.admMu.Lock()
		if rt.srv.SetAddr(ip, true, port, true, mapped) == nil {
			rt.moved = true
		}
		g.admMu.Unlock()
	}
}

// srvAddrString is a server's address as the statistics show it.
func srvAddrString(srv *proxy.Server) string {
	addr, _, _, _ := srv.Addr()
	return addr
}
