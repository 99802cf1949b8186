package rules

import (
	"fmt"
	"net/netip"
	"strings"

	"lb/internal/config"
)

// streamState is the private part of a Stream.
type streamState struct {
	// bufs are the converters' alternating scratch buffers, cur the one
	// written last.
	bufs [2][]byte
	cur  int
	// key holds lower-cased lookup keys; fmt the output of log-formats.
	key, fmt []byte
	// vars are the stream-scoped variables, by slot.
	vars []varVal
	// req and res record where a content rule set (request, response)
	// stopped with Wait.
	req, res resume
	// ev and it are the evaluation context and the fetch iteration
	// state, kept here rather than on the stack because the fetch and
	// converter function values they are passed to make them escape.
	// Evaluations never nest.
	ev evalCtx
	it int
	// http is the storage of HTTP actions and results.
	http httpState
	// trk are the tracked stick counters (stick.go).
	trk trackState
	// stk are the stick rules' pending stores (stickrules.go).
	stk stickState
}

// newEval prepares the stream's evaluation context.
func (st *streamState) newEval(s *Stream, p *Proxy, final bool) *evalCtx {
	st.ev = evalCtx{s: s, p: p, final: final}
	return &st.ev
}

func (s *Stream) reset() {
	st := &s.st
	if st.trk.any {
		st.trk.releaseAll()
	}
	for i := range st.vars {
		st.vars[i].set = false
	}
	st.req, st.res = resume{}, resume{}
	for i := 0; i < st.stk.n; i++ {
		st.stk.tables[i] = nil
	}
	st.stk.n, st.stk.nReq = 0, 0
	st.ev = evalCtx{}
	*s = Stream{Req: s.Req[:0], Res: s.Res[:0], st: *st}
}

// actKind is what a rule does when its condition holds.
type actKind uint8

const (
	actAccept actKind = iota
	actReject
	actClose
	actExpectProxy
	actSetVar
	actUnsetVar
	actSetDst
	actSetDstPort
	actTrack
	actIncGPC0
	actSetGPT0
	actSilentDrop
)

// rule is a compiled tcp-request or tcp-response rule.
type rule struct {
	cond *cond
	act  actKind
	sv   *setVar
	v    *varRef
	e    *expr
	tr   *trackRule
}

// switchRule is a compiled "use_backend" or "use-server" rule.
type switchRule struct {
	cond *cond
	// name is the static backend or server name; lf the dynamic format.
	name string
	be   Backend
	lf   *logFmt
}

type persistRule struct {
	cond   *cond
	ignore bool
}

// compiled is the private part of a Proxy.
type compiled struct {
	proc  *ProcVars
	slots map[string]int
	// self is this proxy's backend side, nil when it has none or env is nil.
	self Backend
	// backends are the configuration's backends resolved through env,
	// for dynamic switching.
	backends map[string]Backend
	// servers maps this backend's server names to themselves, so that a
	// dynamic use-server name is found without allocating.
	servers map[string]string

	conn, sess, content, response []*rule
	useBackends, useServers       []*switchRule
	persist                       []*persistRule
	// stickReq are the stick rules of the request (on, match,
	// store-request), stickRes the store-response ones (stickrules.go).
	stickReq, stickRes []*stickRule
	// httpReq, httpRes and httpAfter are the http-request, http-response
	// and http-after-response rules; redirects the "redirect" lines.
	httpReq, httpRes, httpAfter, redirects []*httpRule
	// errReplies are the "http-error" responses lb builds, by status.
	errReplies map[int]*reply
	// monitorFail are the "monitor fail" conditions (monitor.go).
	monitorFail []*cond
	// statsAdmin is the "stats admin" condition (statsadmin.go).
	statsAdmin *cond
	// optPersist is "option persist": use-server may pick a down server.
	optPersist bool
	// switchContent: a switching rule reads request data.
	switchContent bool
}

func compile(cfg *config.Config, px *config.Proxy, env Env, opt Options) (*Proxy, []error) {
	if cfg == nil {
		cfg = &config.Config{Proxies: []*config.Proxy{px}}
	}
	p := newProxy(cfg, px, env, opt)
	c := &compiler{cfg: cfg, px: px, env: env, opt: opt, p: p, acls: map[string]*acl{}}
	return c.compileRules()
}

// newProxy returns px's Proxy without rules: what fetches read of it (its
// name, its variables, its backends).
func newProxy(cfg *config.Config, px *config.Proxy, env Env, opt Options) *Proxy {
	p := &Proxy{Name: px.Name, InspectDelay: px.InspectDelay, ResponseInspectDelay: px.ResponseInspectDelay}
	p.c.proc = opt.ProcVars
	if p.c.proc == nil {
		p.c.proc = &ProcVars{}
	}
	p.c.slots = varSlots(cfg)
	p.c.optPersist = px.Options["persist"]
	p.c.backends = map[string]Backend{}
	if env != nil {
		for _, b := range cfg.Backends() {
			if be := env.Backend(b.Name); be != nil {
				p.c.backends[b.Name] = be
			}
		}
		if px.IsBackend() {
			p.c.self = p.c.backends[px.Name]
		}
	}
	p.c.servers = map[string]string{}
	for _, s := range px.Servers {
		p.c.servers[s.Name] = s.Name
	}
	return p
}

// compileRules compiles the rules of c.px into c.p.
func (c *compiler) compileRules() (*Proxy, []error) {
	p, px := c.p, c.px
	for _, r := range px.TCPRequest {
		set, act, _ := strings.Cut(r.Action, " ")
		switch set {
		case "connection":
			p.c.conn = c.appendRule(p.c.conn, r, act, placeConn, "tcp-request connection")
		case "session":
			p.c.sess = c.appendRule(p.c.sess, r, act, placeSess, "tcp-request session")
		case "content":
			p.c.content = c.appendRule(p.c.content, r, act, placeContent, "tcp-request content")
		}
	}
	for _, r := range px.TCPResponse {
		_, act, _ := strings.Cut(r.Action, " ")
		p.c.response = c.appendRule(p.c.response, r, act, placeResponse, "tcp-response content")
	}
	for _, u := range px.UseBackends {
		c.pos = u.Pos
		sr := &switchRule{cond: c.compileCond(u.Cond, placeSwitch, "use_backend"), name: u.Backend}
		if u.Dynamic {
			// HAProxy parses this format after the configuration.
			c.late = true
			lf, err := c.parseLogFmt(u.Backend)
			c.late = false
			if err != nil {
				c.errorf("%v", err)
				continue
			}
			sr.lf = lf
			p.c.switchContent = p.c.switchContent || lf.content()
		} else {
			sr.be = p.c.backends[u.Backend]
		}
		p.c.switchContent = p.c.switchContent || (sr.cond != nil && sr.cond.content)
		p.c.useBackends = append(p.c.useBackends, sr)
	}
	for _, r := range px.PersistRules {
		c.pos = r.Pos
		cd := c.compileCond(r.Cond, placeSwitch, "persist")
		p.c.switchContent = p.c.switchContent || (cd != nil && cd.content)
		p.c.persist = append(p.c.persist, &persistRule{cond: cd, ignore: r.Ignore})
	}
	for _, u := range px.UseServers {
		c.pos = u.Pos
		sr := &switchRule{cond: c.compileCond(u.Cond, placeSwitch, "use-server"), name: u.Server}
		if u.Dynamic {
			c.late = true
			lf, err := c.parseLogFmt(u.Server)
			c.late = false
			if err != nil {
				c.errorf("%v", err)
				continue
			}
			sr.lf = lf
			p.c.switchContent = p.c.switchContent || lf.content()
		}
		p.c.switchContent = p.c.switchContent || (sr.cond != nil && sr.cond.content)
		p.c.useServers = append(p.c.useServers, sr)
	}
	c.compileStickRules(px)
	p.c.monitorFail = c.compileMonitor(px)
	p.c.statsAdmin = c.compileStatsAdmin(px)
	p.c.httpReq = c.compileHTTPRules(px.HTTPRequest, "http-request", placeHTTPReq)
	p.c.redirects = c.compileRedirects(px.Redirects)
	p.c.httpRes = c.compileHTTPRules(px.HTTPResponse, "http-response", placeHTTPRes)
	p.c.httpAfter = c.compileHTTPRules(px.HTTPAfterResponse, "http-after-response", placeHTTPAfter)
	p.c.errReplies = c.compileErrorReplies(px)
	p.Warnings = c.warn
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	return p, nil
}

// content reports whether the format reads request data.
func (lf *logFmt) content() bool {
	for _, pt := range lf.parts {
		if pt.e != nil && pt.e.content {
			return true
		}
	}
	return false
}

// warnf records a warning at the current line.
func (c *compiler) warnf(format string, args ...any) {
	c.warn = append(c.warn, fmt.Sprintf("%s: %s", c.pos, fmt.Sprintf(format, args...)))
}

// backend returns the backend called name as env resolves it (nil when
// env is nil or does not know it).
func (c *compiler) backend(name string) Backend { return c.p.c.backends[name] }

// appendRule compiles one tcp-request/tcp-response rule.
func (c *compiler) appendRule(rules []*rule, r *config.Rule, act string, at place, set string) []*rule {
	c.pos = r.Pos
	base, _, hasArgs := strings.Cut(act, "(")
	out := &rule{}
	needExpr := false
	switch base {
	case "accept":
		out.act = actAccept
	case "reject":
		out.act = actReject
	case "close":
		out.act = actClose
	case "expect-proxy":
		out.act = actExpectProxy
	case "silent-drop":
		out.act = actSilentDrop
	case "set-var", "unset-var":
		if !hasArgs {
			c.errorf("'%s %s' expects a variable name between parentheses", set, act)
			return rules
		}
		_, args, _, err := splitCall(act)
		if err != nil {
			c.errorf("'%s %s': %v", set, act, err)
			return rules
		}
		if base == "set-var" {
			out.act, needExpr = actSetVar, true
			if out.sv, err = c.parseSetVar(args); err != nil {
				c.errorf("'%s %s': %v", set, act, err)
				return rules
			}
		} else {
			out.act = actUnsetVar
			if len(args) != 1 {
				c.errorf("'%s %s': expects exactly one variable name", set, act)
				return rules
			}
			if out.v, err = c.varRef(args[0]); err != nil {
				c.errorf("'%s %s': %v", set, act, err)
				return rules
			}
		}
	case "set-dst":
		out.act, needExpr = actSetDst, true
	case "set-dst-port":
		out.act, needExpr = actSetDstPort, true
	case "track-sc0", "track-sc1", "track-sc2":
		tr, err := c.parseTrack(base, r.Args, at)
		if err != nil {
			c.errorf("'%s %s' : %v", set, act, err)
			return rules
		}
		out.act, out.tr = actTrack, tr
	case "sc-inc-gpc0", "sc-set-gpt0":
		tr, err := c.parseSCAction(act, r.Args)
		if err != nil {
			c.errorf("'%s %s' : %v", set, act, err)
			return rules
		}
		out.act, out.tr = actIncGPC0, tr
		if base == "sc-set-gpt0" {
			out.act = actSetGPT0
		}
	default:
		c.errorf("%v", unsupported(set+" "+base))
		return rules
	}
	if needExpr {
		if len(r.Args) != 1 {
			c.errorf("'%s %s' expects exactly one sample expression", set, act)
			return rules
		}
		e, err := c.parseExpr(r.Args[0])
		if err != nil {
			c.errorf("'%s %s': %v", set, act, err)
			return rules
		}
		if e.use&at == 0 {
			buf := "request buffer"
			if e.use == placeResponse {
				buf = "response buffer"
			}
			c.errorf("fetch method '%s' extracts information from '%s', none of which is available here", act, buf)
			return rules
		}
		switch {
		case out.act == actSetDst && !canCast(e.out, tAddr):
			c.errorf("'%s set-dst' expects an address, not a %s sample", set, e.out)
			return rules
		case out.act == actSetDstPort && !canCast(e.out, tInt):
			c.errorf("'%s set-dst-port' expects an integer, not a %s sample", set, e.out)
			return rules
		}
		out.e = e
	}
	if r.Cond != nil {
		out.cond = c.compileCond(r.Cond, at, set)
		if out.cond == nil {
			return rules
		}
	}
	return append(rules, out)
}

// run evaluates a rule set from rule start. It returns the verdict and,
// for Wait, the index of the rule to evaluate again.
func (p *Proxy) run(s *Stream, rules []*rule, start int, final bool) (Verdict, int) {
	ev := s.st.newEval(s, p, final)
	for i := start; i < len(rules); i++ {
		r := rules[i]
		if r.cond != nil {
			res := r.cond.exec(ev)
			if res == resMiss {
				return Wait, i
			}
			if (res == resPass) == r.cond.unless {
				continue
			}
		}
		switch r.act {
		case actAccept:
			return Accept, 0
		case actReject:
			return Reject, 0
		case actClose:
			return Close, 0
		case actExpectProxy:
			s.ExpectProxy = true
		case actSilentDrop:
			s.SilentDrop = true
			return Reject, 0
		case actSetVar:
			if smp, ok := r.e.eval(ev); ok {
				r.sv.apply(ev, smp)
			}
		case actUnsetVar:
			r.v.unset(ev)
		case actSetDst:
			if smp, ok := r.e.eval(ev); ok {
				if smp, ok = ev.cast(smp, tAddr); ok {
					s.Dst = netip.AddrPortFrom(smp.ip, s.Dst.Port())
				}
			}
		case actSetDstPort:
			if smp, ok := r.e.eval(ev); ok {
				if smp, ok = ev.cast(smp, tInt); ok {
					s.Dst = netip.AddrPortFrom(s.Dst.Addr(), uint16(smp.i))
				}
			}
		case actTrack:
			r.tr.track(ev)
		case actIncGPC0:
			r.tr.incGPC0(ev)
		case actSetGPT0:
			r.tr.setGPT0(ev)
		}
	}
	return Continue, 0
}

func (p *Proxy) needsContent() bool  { return len(p.c.content) > 0 || p.c.switchContent }
func (p *Proxy) needsResponse() bool { return len(p.c.response) > 0 }

func (p *Proxy) runConnection(s *Stream) Verdict {
	v, _ := p.run(s, p.c.conn, 0, true)
	return v
}

func (p *Proxy) runSession(s *Stream) Verdict {
	v, _ := p.run(s, p.c.sess, 0, true)
	return v
}

// resume is where a content rule set stopped with Wait: the proxy and the
// index of the rule to run again.
type resume struct {
	owner *Proxy
	next  int
}

func (p *Proxy) runContent(s *Stream) Verdict {
	return p.runResumable(s, p.c.content, &s.st.req, s.ReqFinal || p.InspectDelay == 0)
}

func (p *Proxy) runResponse(s *Stream) Verdict {
	return p.runResumable(s, p.c.response, &s.st.res, s.ResFinal || p.ResponseInspectDelay == 0)
}

// runResumable runs rules from where r says p stopped with Wait (from the
// first one otherwise) and records where it stops this time.
func (p *Proxy) runResumable(s *Stream, rules []*rule, r *resume, final bool) Verdict {
	start := 0
	if r.owner == p {
		start = r.next
	}
	v, next := p.run(s, rules, start, final)
	if v == Wait {
		*r = resume{owner: p, next: next}
	} else {
		*r = resume{}
	}
	return v
}

// useBackend follows HAProxy's process_switching_rules: conditions are
// evaluated on the data buffered so far as final; a dynamic rule whose
// name matches no backend ends the evaluation and the default backend is
// used.
func (p *Proxy) useBackend(s *Stream) (Backend, bool, Verdict) {
	ev := s.st.newEval(s, p, true)
	for _, r := range p.c.useBackends {
		if r.cond != nil && !r.cond.pass(ev) {
			continue
		}
		if r.lf != nil {
			be := p.c.backends[string(r.lf.build(ev))]
			if be == nil {
				return nil, false, Continue
			}
			return be, true, Continue
		}
		return r.be, true, Continue
	}
	return nil, false, Continue
}

// useServer follows process_switching_rules' persist rules and
// process_server_rules: the first matching force-persist/ignore-persist
// rule decides force; the first matching use-server rule whose server is
// up (or may be used down: "option persist" or force) wins.
func (p *Proxy) useServer(s *Stream) (string, bool) {
	ev := s.st.newEval(s, p, true)
	force := false
	for _, r := range p.c.persist {
		if r.cond.pass(ev) {
			force = !r.ignore
			break
		}
	}
	be := ev.curBackend()
	for _, r := range p.c.useServers {
		if !r.cond.pass(ev) {
			continue
		}
		name := r.name
		if r.lf != nil {
			n, ok := p.c.servers[string(r.lf.build(ev))]
			if !ok {
				return "", force
			}
			name = n
		}
		if be == nil || p.c.optPersist || force {
			return name, force
		}
		if up, _ := be.ServerUp(name); up {
			return name, force
		}
	}
	return "", force
}
