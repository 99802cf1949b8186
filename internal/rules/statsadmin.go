package rules

import "lb/internal/config"

// compileStatsAdmin compiles the "stats admin" condition of px, which HAProxy
// evaluates when the statistics page answers a request, the request head complete.
func (c *compiler) compileStatsAdmin(px *config.Proxy) *cond {
	if px.Stats.Admin == nil {
		return nil
	}
	c.pos = px.Stats.AdminPos
	return c.compileCond(px.Stats.Admin, placeHTTPReq, "stats admin")
}

// StatsAdmin reports whether the "stats admin" condition of the proxy holds for the
// request of s (s.HTTP): the statistics page then offers its admin form and carries
// out its POSTs. False when the proxy has none.
func (p *Proxy) StatsAdmin(s *Stream) bool {
	cd := p.c.statsAdmin
	if cd == nil {
		return false
	}
	return cd.pass(s.st.newEval(s, p, true))
}
