package rules

import (
	"fmt"
	"strings"

	"lb/internal/config"
)

// SamplePlace is where a Sample compiled on its own is evaluated.
type SamplePlace uint8

const (
	// LogFormat: a "%[…]" of a log-format, evaluated when the session or
	// the HTTP transaction is logged (HAProxy's SMP_VAL_FE_LOG_END): the
	// layer-4 fetches, variables, constants and the method (a well-known
	// one); not the request or response headers, whose messages are gone
	// then (the status, which HAProxy accepts there, is absent).
	LogFormat SamplePlace = iota
	// UniqueIDFormat: a "%[…]" of a unique-id-format, evaluated when the
	// request head is complete (SMP_VAL_FE_HRQ_HDR): the request's fetches
	// too, not the response's.
	UniqueIDFormat
	// ServerSNI: a server line's "sni" expression, evaluated when
	// connecting to the server (SMP_VAL_BE_SRV_CON): what a use-server
	// rule may read, the request's contents and head included.
	ServerSNI
	// CheckRule: a health check's rule (tcp-check, http-check): the
	// expression of set-var, a "%[…]" of send-lf and the other
	// log-format arguments, evaluated during one check run on that run's
	// Stream (NewCheckStream). HAProxy refuses there what reads a client
	// connection or a request; lb takes the fetches whose value does not
	// depend on the check (constants, variables, env) and refuses the
	// others it has by name.
	CheckRule
)

// checkFetches are the fetches lb evaluates in a health-check rule: their
// value is the same there as anywhere.
var checkFetches = map[string]bool{"str": true, "int": true, "bin": true, "bool": true, "ipv4": true,
	"ipv6": true, "env": true, "var": true, "uuid": true, "always_true": true, "always_false": true}

// checkRefused returns what fetch name (def) reads that a health check
// does not have, as HAProxy 2.6 names it when it refuses the fetch in a
// check rule, or "" when HAProxy accepts it there: the request's contents
// and head, the frontend, the client connection. The response's are
// there (the check's response).
func checkRefused(name string, def *fetchDef) string {
	switch {
	case def.src != "" && !strings.Contains(def.src, "response"):
		return def.src
	case name == "fe_name" || name == "so_name" || name == "fe_conn":
		return "frontend"
	case strings.HasPrefix(name, "ssl_fc") || strings.HasPrefix(name, "ssl_c_"):
		return "client-side connection"
	}
	return ""
}

// Sample is a sample expression compiled on its own, outside any rule: a
// "%[expr]" of a log-format or unique-id-format. It is immutable and safe
// for concurrent use by many Streams.
type Sample struct {
	e    *expr
	p    *Proxy
	resp bool
}

// SampleUseError is a sample expression whose fetch reads what the place
// does not have: HAProxy's "may not be reliably used here" error. Needs
// names it ("HTTP request headers", "backend").
type SampleUseError struct {
	Fetch, Needs string
}

func (e *SampleUseError) Error() string {
	return fmt.Sprintf("fetch method '%s' needs '%s', which is not available here", e.Fetch, e.Needs)
}

// CompileSample compiles the sample expression text ("fetch,conv,…") of
// proxy px for place at. cfg, env and opt are as for Compile: pass the
// generation's Options (the same ProcVars) so that the sample reads the
// variables the rules set. A fetch that cannot be used at that place is a
// *SampleUseError; a fetch or converter lb lacks is refused as not
// supported.
func CompileSample(cfg *config.Config, px *config.Proxy, env Env, opt Options, text string, at SamplePlace) (*Sample, error) {
	if cfg == nil {
		cfg = &config.Config{Proxies: []*config.Proxy{px}}
	}
	p := newProxy(cfg, px, env, opt)
	c := &compiler{cfg: cfg, px: px, env: env, opt: opt, p: p, acls: map[string]*acl{}, late: true, check: at == CheckRule}
	e, err := c.parseExpr(text)
	if err != nil {
		return nil, err
	}
	if at == CheckRule {
		// parseExpr took only what a check has.
		return &Sample{e: e, p: p}, nil
	}
	where := placeLog
	switch at {
	case UniqueIDFormat:
		where = placeUniqueID
	case ServerSNI:
		where = placeSwitch
	}
	if e.use&where == 0 {
		if where == placeUniqueID && e.use&placeReq != 0 {
			// HAProxy ignores a request buffer fetch there, with a
			// warning; lb does not print nothing in its place.
			return nil, fmt.Errorf("'%s' in %s is not supported by lb yet", e.kw, placeNames[where])
		}
		if e.src == "" {
			return nil, fmt.Errorf("'%s' in %s is not supported by lb yet", e.kw, placeNames[where])
		}
		return nil, &SampleUseError{Fetch: e.kw, Needs: e.src}
	}
	if at == UniqueIDFormat && !px.IsBackend() && usesBackend(text) {
		// HAProxy: the frontend's unique id is made before a backend is
		// chosen.
		return nil, &SampleUseError{Fetch: e.kw, Needs: "backend"}
	}
	return &Sample{e: e, p: p, resp: where == placeLog}, nil
}

// usesBackend reports whether the expression's fetch reads the stream's
// backend (HAProxy's SMP_USE_BKEND): be_name, and be_conn, nbsrv and
// connslots without a backend name.
func usesBackend(text string) bool {
	name, args, _, err := splitCall(text)
	if err != nil {
		return false
	}
	switch name {
	case "be_name":
		return true
	case "be_conn", "nbsrv", "connslots":
		return len(args) == 0
	}
	return false
}

// AppendString evaluates the sample on s, as final data, converts its value
// to a string and appends it to dst. ok is false when the fetch found
// nothing or the value has no string form; dst is then returned as it
// was. At a log line (LogFormat) both HTTP messages are gone, as in
// HAProxy: the method is still known if it is a well-known one.
func (sm *Sample) AppendString(dst []byte, s *Stream) ([]byte, bool) {
	ev := s.st.newEval(s, sm.p, true)
	ev.resp, ev.logEnd = sm.resp, sm.resp
	smp, ok := sm.e.eval(ev)
	if ok {
		smp, ok = ev.cast(smp, tStr)
	}
	if !ok {
		return dst, false
	}
	return append(dst, smp.b...), true
}

// Int evaluates the sample on s, as final data, and converts its value to
// an integer, as HAProxy's sample_fetch_as_type(SMP_T_SINT); ok is false
// when the fetch found nothing or the value has no integer form.
func (sm *Sample) Int(s *Stream) (int64, bool) {
	ev := s.st.newEval(s, sm.p, true)
	ev.resp, ev.logEnd = sm.resp, sm.resp
	smp, ok := sm.e.eval(ev)
	if ok {
		smp, ok = ev.cast(smp, tInt)
	}
	return smp.i, ok
}

// NewCheckStream returns the Stream of one health check run: the check
// variables its rules set (CheckRule) live as long as it, the proc ones as
// long as the generation's ProcVars.
func NewCheckStream() *Stream { return new(Stream) }

// Var is a variable action compiled on its own: a health check rule's
// set-var, set-var-fmt or unset-var. It is immutable and safe for
// concurrent use by many Streams.
type Var struct {
	sv *setVar
	p  *Proxy
}

// CompileVar compiles the argument of "set-var(<spec>)", "set-var-fmt(…)"
// or "unset-var(…)": a variable name and, for the set forms, its
// conditions ("check.n,ifnotset"), for place at (CheckRule), with
// HAProxy's words for a bad name.
func CompileVar(cfg *config.Config, px *config.Proxy, env Env, opt Options, spec string, at SamplePlace) (*Var, error) {
	if cfg == nil {
		cfg = &config.Config{Proxies: []*config.Proxy{px}}
	}
	p := newProxy(cfg, px, env, opt)
	c := &compiler{cfg: cfg, px: px, env: env, opt: opt, p: p, acls: map[string]*acl{}, late: true, check: at == CheckRule}
	sv, err := c.parseSetVar(strings.Split(spec, ","))
	if err != nil {
		return nil, err
	}
	return &Var{sv: sv, p: p}, nil
}

// Set evaluates sm on s and stores its value in the variable, when the
// fetch found one and the conditions hold; a sample that finds nothing
// leaves the variable as it was, as HAProxy's set-var.
func (v *Var) Set(s *Stream, sm *Sample) {
	ev := s.st.newEval(s, sm.p, true)
	if smp, ok := sm.e.eval(ev); ok {
		v.sv.apply(ev, smp)
	}
}

// SetString stores b as a string (set-var-fmt's formatted value).
func (v *Var) SetString(s *Stream, b []byte) {
	ev := s.st.newEval(s, v.p, true)
	v.sv.apply(ev, strSample(b))
}

// Unset removes the variable (unset-var).
func (v *Var) Unset(s *Stream) {
	ev := s.st.newEval(s, v.p, true)
	v.sv.v.unset(ev)
}
