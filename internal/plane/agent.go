package plane

import (
	"net"
	"strconv"
	"strings"

	"lb/internal/config"
	"lb/internal/health"
	"lb/internal/proxy"
)

// agentConfig is the agent check of server s ("agent-check"), nil without
// one. Its replies' administrative words change the server's operator half
// as HAProxy 2.6 does (srv_adm_set_drain, _maint, _ready: the forced drain
// and maintenance flags, as "set server … state" does), and its weights
// the server's weight, as a percentage of the configured one.
func (g *Generation) agentConfig(px *config.Proxy, be *proxy.Backend, srv *proxy.Server, s *config.Server) *health.Agent {
	if !s.AgentCheck {
		return nil
	}
	host := s.Host
	if len(s.IPs) > 0 {
		host = s.IPs[0].String()
	}
	// "addr" sets the agent's address too, "port" its port when there is
	// no agent-port.
	switch {
	case s.AgentAddr != "":
		host = s.AgentAddr
	case s.CheckAddr != "":
		if ip := addrIP(s.CheckAddr); ip != "-" {
			host = ip
		}
	}
	port := s.AgentPort
	if port == 0 {
		port = s.CheckPort
	}
	return &health.Agent{
		Addr:  net.JoinHostPort(host, strconv.Itoa(port)),
		Inter: s.AgentInter,
		Send:  []byte(s.AgentSend),
		OnReply: func(admin, weight string) string {
			g.agentAdmin(px.Name, srv, admin)
			if weight == "" {
				return ""
			}
			return g.agentWeight(be, srv, weight)
		},
	}
}

// agentAdmin applies an agent's "ready", "drain" or "maint".
func (g *Generation) agentAdmin(be string, srv *proxy.Server, admin string) {
	var st AdminState
	switch admin {
	case "drain":
		st = AdminDrain
	case "maint":
		st = AdminMaint
	case "ready":
		// srv_adm_set_ready clears the forced flags: a "disabled" server
		// leaves maintenance too (it is forced), "disabled" stays recorded.
		g.admMu.Lock()
		rt := g.rtBySrv[srv]
		forced := rt != nil && (rt.fmaint || rt.fdrain)
		g.admMu.Unlock()
		if !forced {
			return
		}
		st = AdminReady
	default:
		return
	}
	g.SetServerAdmin(be, srv.Name(), st)
}

// agentWeight applies an agent's weight word as HAProxy 2.6's
// server_parse_weight_change_request, and returns its complaint.
func (g *Generation) agentWeight(be *proxy.Backend, srv *proxy.Server, word string) string {
	num := strings.TrimLeft(word, "0123456789")
	digits := word[:len(word)-len(num)]
	w, _ := strconv.Atoi(digits)
	iw := srv.Config().Weight
	switch {
	case num == "%":
		w = min(w, 25600) * iw / 100
		w = min(w, 256)
	case w > 256:
		return "Absolute weight can only be between 0 and 256 inclusive."
	default:
		return "Trailing garbage in weight string."
	}
	if w != 0 && w != iw && !dynamicWeights(be) {
		return "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'."
	}
	if w == srv.Weight() {
		return ""
	}
	if err := g.SetServerWeight(be.Name(), srv.Name(), w); err != nil {
		return err.Error()
	}
	return ""
}
