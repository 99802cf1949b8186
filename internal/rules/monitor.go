package rules

import "lb/internal/config"

// compileMonitor compiles the "monitor fail" conditions of px, which
// HAProxy evaluates where the request head is complete, as the
// http-request rules.
func (c *compiler) compileMonitor(px *config.Proxy) []*cond {
	var out []*cond
	for _, m := range px.MonitorFail {
		c.pos = m.Pos
		if cd := c.compileCond(m.Cond, placeHTTPReq, "monitor fail"); cd != nil {
			out = append(out, cd)
		}
	}
	return out
}

// MonitorFail reports whether a "monitor fail" condition of the frontend
// holds for the request of s (s.HTTP): the monitor-uri then answers 503
// instead of 200.
func (p *Proxy) MonitorFail(s *Stream) bool {
	if len(p.c.monitorFail) == 0 {
		return false
	}
	ev := s.st.newEval(s, p, true)
	for _, cd := range p.c.monitorFail {
		if cd.pass(ev) {
			return true
		}
	}
	return false
}
