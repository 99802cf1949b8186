package rules

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"lb/internal/config"
)

// ProcVars holds the "proc" scope variables, shared by every stream of
// every proxy compiled with it; it is safe for concurrent use. The zero
// value is an empty store ready to use. Compile with the same ProcVars for
// all the proxies of a generation so that they see the same variables.
type ProcVars struct {
	mu   sync.Mutex // guards vars; each variable has its own lock
	vars map[string]*procVar
}

// Show returns the proc variable name ("proc.x") as HAProxy 2.6's "get var"
// prints it: "type=str value=<hello>", its value cast to text with every
// byte that is not printable as a dot. ok is false for a variable never set,
// or a name that is not a proc variable's.
func (pv *ProcVars) Show(name string) (out string, ok bool) {
	pv.mu.Lock()
	v := pv.vars[name]
	pv.mu.Unlock()
	if v == nil {
		return "", false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.v.set {
		return "", false
	}
	smp := v.v.smp
	var typ string
	var text []byte
	switch smp.t {
	case tBool:
		typ, text = "bool", strconv.AppendInt(nil, smp.i, 10)
	case tInt:
		typ, text = "sint", strconv.AppendInt(nil, smp.i, 10)
	case tIPv4:
		typ, text = "ipv4", []byte(smp.ip.String())
	case tIPv6:
		typ, text = "ipv6", []byte(smp.ip.String())
	case tStr:
		typ, text = "str", bytes.Clone(smp.b)
	case tBin:
		typ, text = "bin", bytes.Clone(smp.b)
	default:
		return "type=any value=(undisplayable)", true
	}
	for i, c := range text {
		if c < 0x20 || c > 0x7e {
			text[i] = '.'
		}
	}
	return "type=" + typ + " value=<" + string(text) + ">", true
}

// procVar is one proc-scope variable.
type procVar struct {
	mu sync.Mutex // guards v
	v  varVal
}

func (pv *ProcVars) get(name string) *procVar {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	if pv.vars == nil {
		pv.vars = map[string]*procVar{}
	}
	v, ok := pv.vars[name]
	if !ok {
		v = &procVar{}
		pv.vars[name] = v
	}
	return v
}

// varVal is a variable's value; buf owns the bytes of string and binary
// values and is reused from one value to the next.
type varVal struct {
	set bool
	// txn: the variable's scope ends with the HTTP transaction (txn, req,
	// res), not with the session.
	txn bool
	smp sample
	buf []byte
}

func (v *varVal) store(smp sample) {
	v.buf = append(v.buf[:0], smp.b...)
	v.smp = smp
	v.smp.b = v.buf
	v.smp.mayChange, v.smp.notLast = false, false
	v.set = true
}

// varRef is a compiled variable reference: a proc variable, or a slot in
// the stream's variables.
type varRef struct {
	name string
	proc *procVar
	slot int
	txn  bool // a txn, req or res variable
}

// varNameRE is a variable name as HAProxy accepts it.
var varNameRE = regexp.MustCompile(`^[A-Za-z0-9._]+$`)

// varRef compiles a variable name ("txn.foo").
func (c *compiler) varRef(name string) (*varRef, error) {
	scope, rest, _ := strings.Cut(name, ".")
	switch {
	case c.check && scope == "check", c.check && scope == "proc":
		// A check run is a Stream of its own: its check variables live
		// as long as the run, as HAProxy prunes them when a check starts.
	case c.check && (scope == "sess" || scope == "txn" || scope == "req" || scope == "res"):
		// HAProxy has no transaction in a check (these are never set)
		// and a session per check.
		return nil, fmt.Errorf("'%s' in a %s is not supported by lb yet", name, placeNames[placeCheck])
	case scope == "proc", scope == "sess", scope == "txn", scope == "req", scope == "res":
	case scope == "check":
		return nil, unsupported("check." + rest)
	default:
		return nil, fmt.Errorf("invalid variable name '%s'. A variable name must be start by its scope. The scope can be 'proc', 'sess', 'txn', 'req', 'res' or 'check'", name)
	}
	if rest == "" || !varNameRE.MatchString(rest) {
		return nil, fmt.Errorf("invalid variable name '%s'. The name may only contain characters 'a-z', 'A-Z', '0-9', '.' and '_'", name)
	}
	if scope == "proc" {
		return &varRef{name: name, proc: c.p.c.proc.get(name)}, nil
	}
	slot, ok := c.p.c.slots[name]
	if !ok {
		// Not in the configuration's text (an expression compiled on
		// its own): a slot of this proxy only.
		slot = len(c.p.c.slots)
		c.p.c.slots[name] = slot
	}
	return &varRef{name: name, slot: slot, txn: scope != "sess" && scope != "check"}, nil
}

// stream returns the stream's storage for a non-proc variable.
func (v *varRef) stream(ev *evalCtx) *varVal {
	vars := &ev.s.st.vars
	if v.slot >= len(*vars) {
		*vars = append(*vars, make([]varVal, v.slot+1-len(*vars))...)
	}
	return &(*vars)[v.slot]
}

// get returns the variable's value; proc values are copied into a scratch
// buffer under the variable's lock.
func (v *varRef) get(ev *evalCtx) (sample, bool) {
	if v.proc != nil {
		v.proc.mu.Lock()
		defer v.proc.mu.Unlock()
		if !v.proc.v.set {
			return sample{}, false
		}
		smp := v.proc.v.smp
		if smp.t == tStr || smp.t == tBin {
			p := ev.next()
			*p = append(*p, smp.b...)
			smp.b = *p
		}
		return smp, true
	}
	val := v.stream(ev)
	return val.smp, val.set
}

func (v *varRef) set(ev *evalCtx, smp sample) {
	if v.proc != nil {
		v.proc.mu.Lock()
		v.proc.v.store(smp)
		v.proc.mu.Unlock()
		return
	}
	val := v.stream(ev)
	val.store(smp)
	val.txn = v.txn
}

func (v *varRef) unset(ev *evalCtx) {
	if v.proc != nil {
		v.proc.mu.Lock()
		v.proc.v.set = false
		v.proc.mu.Unlock()
		return
	}
	v.stream(ev).set = false
}

// EndTxn ends an HTTP transaction on s: its txn, req and res variables
// are unset (sess variables live as long as the connection), as each
// request of a keep-alive connection is a stream of its own in HAProxy.
func (s *Stream) EndTxn() {
	for i := range s.st.vars {
		if s.st.vars[i].txn {
			s.st.vars[i].set = false
		}
	}
}

// setVarCond is one of set-var's conditions.
type setVarCond uint8

const (
	ifExists setVarCond = iota
	ifNotExists
	ifEmpty
	ifNotEmpty
	ifSet
	ifNotSet
	ifGt
	ifLt
)

var setVarConds = map[string]setVarCond{"ifexists": ifExists, "ifnotexists": ifNotExists, "ifempty": ifEmpty,
	"ifnotempty": ifNotEmpty, "ifset": ifSet, "ifnotset": ifNotSet, "ifgt": ifGt, "iflt": ifLt}

// setVar is a compiled "set-var(name[,cond…])".
type setVar struct {
	v     *varRef
	conds []setVarCond
}

// parseSetVar compiles set-var's arguments: the name and up to four
// conditions.
func (c *compiler) parseSetVar(args []string) (*setVar, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("expects a variable name")
	}
	if len(args) > 5 {
		return nil, fmt.Errorf("too many conditions (at most four)")
	}
	v, err := c.varRef(args[0])
	if err != nil {
		return nil, err
	}
	sv := &setVar{v: v}
	for _, a := range args[1:] {
		cond, ok := setVarConds[a]
		if !ok {
			return nil, fmt.Errorf("'%s' is not a valid set-var condition", a)
		}
		sv.conds = append(sv.conds, cond)
	}
	return sv, nil
}

// apply stores smp if every condition holds. In a stream, a variable
// exists exactly when it is set (unset-var removes it); proc variables
// always exist, as HAProxy creates them while parsing.
func (sv *setVar) apply(ev *evalCtx, smp sample) {
	if len(sv.conds) > 0 {
		old, isSet := sv.v.get(ev)
		exists := isSet || sv.v.proc != nil
		for _, cond := range sv.conds {
			ok := true
			switch cond {
			case ifExists:
				ok = exists
			case ifNotExists:
				ok = !exists
			case ifEmpty:
				ok = (smp.t == tStr || smp.t == tBin) && len(smp.b) == 0
			case ifNotEmpty:
				ok = !((smp.t == tStr || smp.t == tBin) && len(smp.b) == 0)
			case ifSet:
				ok = isSet
			case ifNotSet:
				ok = !isSet
			case ifGt, ifLt:
				if isSet && old.t == tInt && smp.t == tInt {
					ok = (cond == ifGt && old.i > smp.i) || (cond == ifLt && old.i < smp.i)
				}
			}
			if !ok {
				return
			}
		}
	}
	sv.v.set(ev, smp)
}

// varRefRE finds what may be stream-scoped variable names in
// configuration text.
var varRefRE = regexp.MustCompile(`(?:sess|txn|req|res|check)\.[A-Za-z0-9._]+`)

// varSlots gives a slot to every name of the configuration that may be a
// stream-scoped variable, so that all proxies compiled from cfg agree on
// them (a frontend's set-var and a backend's var() share a Stream). The
// scan is textual and may give slots to names that are not variables
// ("req.len"): that costs an unused slot, never a wrong one.
func varSlots(cfg *config.Config) map[string]int {
	seen := map[string]bool{}
	scan := func(s string) {
		for _, m := range varRefRE.FindAllString(s, -1) {
			seen[m] = true
		}
	}
	scanCond := func(cd *config.Cond) {
		if cd == nil {
			return
		}
		for _, t := range cd.Terms {
			if t.Anon != nil {
				scan(t.Anon.Fetch)
			}
		}
	}
	for _, px := range cfg.Proxies {
		for _, a := range px.ACLs {
			scan(a.Fetch)
		}
		// The HTTP rules and the log formats too: a variable one proxy's
		// rules set must be in the same slot where another proxy's rules,
		// or a log-format's sample (CompileSample), read it.
		scan(px.LogFormat)
		scan(px.UniqueIDFormat)
		for _, rs := range [][]*config.Rule{px.TCPRequest, px.TCPResponse, px.HTTPRequest, px.HTTPResponse, px.HTTPAfterResponse, px.Redirects} {
			for _, r := range rs {
				scan(r.Action)
				for _, a := range r.Args {
					scan(a)
				}
				scanCond(r.Cond)
			}
		}
		// The health checks' rules: each compiled on its own, they agree
		// on their check variables' slots.
		for _, rs := range [][]*config.Rule{px.Check.TCPCheck, px.Check.HTTPCheck} {
			for _, r := range rs {
				scan(r.Action)
				for _, a := range r.Args {
					scan(a)
				}
			}
		}
		for _, u := range px.UseBackends {
			scan(u.Backend)
			scanCond(u.Cond)
		}
		for _, u := range px.UseServers {
			scan(u.Server)
			scanCond(u.Cond)
		}
		for _, r := range px.PersistRules {
			scanCond(r.Cond)
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	slots := make(map[string]int, len(names))
	for i, n := range names {
		slots[n] = i
	}
	return slots
}

// buildVarFetch compiles var(name[,default]).
func buildVarFetch(c *compiler, args []string) (fetchFn, smpType, error) {
	v, err := c.varRef(args[0])
	if err != nil {
		return nil, 0, err
	}
	if len(args) == 2 {
		def := strSample([]byte(args[1]))
		return func(ev *evalCtx, _ *int) (sample, bool) {
			if smp, ok := v.get(ev); ok {
				return smp, true
			}
			return def, true
		}, tAny, nil
	}
	return func(ev *evalCtx, _ *int) (sample, bool) { return v.get(ev) }, tAny, nil
}
