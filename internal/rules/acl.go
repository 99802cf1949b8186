package rules

import (
	"fmt"
	"strconv"
	"strings"

	"lb/internal/config"
)

// aclRes is HAProxy's three-valued ACL result (enum acl_test_res): AND is
// a bitwise and, OR a bitwise or, and MISS means "not decidable yet".
type aclRes uint8

const (
	resFail aclRes = 0
	resMiss aclRes = 1
	resPass aclRes = 3
)

func (r aclRes) neg() aclRes {
	switch r {
	case resPass:
		return resFail
	case resFail:
		return resPass
	}
	return r
}

// aclExpr is one criterion of an ACL: an expression and its patterns,
// from the pattern references (files, then the inline patterns) it reads.
type aclExpr struct {
	e    *expr
	kind matchKind
	sets []*boundSet
	// groups is the match of an http_auth_group ACL, nil for the others.
	groups *authGroups
}

// match matches a sample already cast to x.kind.in() against every set of
// patterns, each loaded without locking (a runtime change swaps them).
func (x *aclExpr) match(ev *evalCtx, smp sample) bool {
	if x.groups != nil {
		return x.groups.ul.InGroup(smp.b, x.groups.groups)
	}
	switch x.kind {
	case mFound:
		return true
	case mBool:
		return smp.i != 0
	}
	for _, b := range x.sets {
		if _, hit := b.cur.Load().match(ev, smp); hit {
			return true
		}
	}
	return false
}

// acl is a compiled ACL: the expressions of every "acl" line of that name
// (ORed), or of one anonymous ACL.
type acl struct {
	name  string
	exprs []*aclExpr
}

// exec evaluates the ACL at a place, as the inner loop of acl_exec_cond:
// an expression whose fetch is not available there never matches.
func (a *acl) exec(ev *evalCtx, at place) aclRes {
	r := resFail
	for _, x := range a.exprs {
		if x.e.use&at == 0 {
			continue
		}
		it := &ev.s.st.it
		*it = 0
		ev.iterate = true
		for {
			smp, ok := x.e.evalAt(ev, it)
			if !ok {
				if smp.mayChange {
					r |= resMiss
				}
				break
			}
			if cs, ok := ev.cast(smp, x.kind.in()); ok {
				if x.match(ev, cs) {
					ev.iterate = false
					return resPass
				}
			}
			if smp.notLast {
				continue
			}
			if smp.mayChange {
				r |= resMiss
			}
			break
		}
		ev.iterate = false
	}
	return r
}

// term is one ACL of a condition, negated or not.
type term struct {
	a   *acl
	neg bool
}

// cond is a compiled condition: AND groups, ORed.
type cond struct {
	unless bool
	groups [][]term
	at     place
	// content: some fetch reads buffered request or response data.
	content bool
}

// exec is acl_exec_cond: PASS, FAIL, or MISS when more data could
// decide. The if/unless polarity is not applied.
func (cd *cond) exec(ev *evalCtx) aclRes {
	r := resFail
	for _, g := range cd.groups {
		gr := resPass
		for _, t := range g {
			ar := t.a.exec(ev, cd.at)
			if t.neg {
				ar = ar.neg()
			}
			gr &= ar
			if gr != resPass {
				break
			}
		}
		r |= gr
		if r == resPass {
			break
		}
	}
	return r
}

// pass evaluates a condition on final data and applies its polarity.
func (cd *cond) pass(ev *evalCtx) bool {
	return (cd.exec(ev) == resPass) != cd.unless
}

// predefined are HAProxy 2.6's predefined ACLs that make sense in TCP
// mode, as "fetch flags patterns" (acl.c's default_acl_list).
var predefined = map[string][]string{
	"TRUE":        {"always_true"},
	"FALSE":       {"always_false"},
	"LOCALHOST":   {"src", "127.0.0.1/8", "::1"},
	"REQ_CONTENT": {"req.len", "gt", "0"},
	"WAIT_END":    {"wait_end"},
	// HTTP ones, for mode http proxies.
	"HTTP":           {"req.proto_http"},
	"HTTP_1.0":       {"req.ver", "1.0"},
	"HTTP_1.1":       {"req.ver", "1.1"},
	"HTTP_2.0":       {"req.ver", "2.0"},
	"HTTP_3.0":       {"req.ver", "3.0"},
	"METH_CONNECT":   {"method", "CONNECT"},
	"METH_DELETE":    {"method", "DELETE"},
	"METH_GET":       {"method", "GET", "HEAD"},
	"METH_HEAD":      {"method", "HEAD"},
	"METH_OPTIONS":   {"method", "OPTIONS"},
	"METH_POST":      {"method", "POST"},
	"METH_PUT":       {"method", "PUT"},
	"METH_TRACE":     {"method", "TRACE"},
	"HTTP_URL_ABS":   {"url_reg", "^[^/:]*://"},
	"HTTP_URL_SLASH": {"url_beg", "/"},
	"HTTP_URL_STAR":  {"url", "*"},
	"HTTP_CONTENT":   {"req.hdr_val(content-length)", "gt", "0"},
}

// compileCond compiles a condition evaluated at place at. what names the
// rule for warnings ("tcp-request connection").
func (c *compiler) compileCond(cd *config.Cond, at place, what string) *cond {
	if cd == nil {
		return nil
	}
	out := &cond{unless: cd.Unless, at: at}
	var g []term
	for _, t := range cd.Terms {
		if t.Or {
			out.groups = append(out.groups, g)
			g = nil
			continue
		}
		var a *acl
		if t.Anon != nil {
			a = c.compileACL("", []*config.ACL{t.Anon})
		} else {
			a = c.namedACL(t.Name)
		}
		if a == nil {
			return nil
		}
		for _, x := range a.exprs {
			if x.e.use&at == 0 {
				name := "anonymous acl"
				if a.name != "" {
					name = fmt.Sprintf("acl '%s'", a.name)
				}
				c.warnf("%s will never match in '%s' because it uses keyword '%s' which is incompatible with '%s'",
					name, what, x.e.kw, placeNames[at])
			} else if x.e.content {
				out.content = true
			}
		}
		g = append(g, term{a: a, neg: t.Neg})
	}
	if len(g) > 0 {
		out.groups = append(out.groups, g)
	}
	return out
}

// namedACL compiles the ACL called name: every "acl" line of the proxy
// with that name, or a predefined ACL. Results are cached per proxy.
func (c *compiler) namedACL(name string) *acl {
	if a, ok := c.acls[name]; ok {
		return a
	}
	var lines []*config.ACL
	for _, a := range c.px.ACLs {
		if a.Name == name {
			lines = append(lines, a)
		}
	}
	var a *acl
	switch {
	case len(lines) > 0:
		a = c.compileACL(name, lines)
	case predefined[name] != nil && c.px.Mode != config.ModeHTTP && strings.HasPrefix(predefined[name][0], "req.proto_http") ||
		predefined[name] != nil && c.px.Mode != config.ModeHTTP && (strings.HasPrefix(name, "HTTP") || strings.HasPrefix(name, "METH_")):
		// The HTTP ones need the HTTP plane.
		c.errorf("%v", unsupported(name))
	case predefined[name] != nil:
		words := predefined[name]
		a = c.compileACL(name, []*config.ACL{{Pos: c.pos, Name: name, Fetch: words[0], Values: words[1:]}})
	default:
		c.errorf("%v", unsupported(name))
	}
	c.acls[name] = a
	return a
}

// aclKeyword is an ACL keyword that is not a sample fetch: a fetch and a
// match method (HAProxy's acl_kws of http_fetch.c).
type aclKeyword struct {
	fetch string
	match matchKind
}

// aclKeywords are HAProxy 2.6's ACL keywords for HTTP: "path_beg" is
// "path -m beg" and so on.
var aclKeywords = map[string]aclKeyword{
	"method":   {"method", mMeth},
	"req_ver":  {"req.ver", mStr},
	"resp_ver": {"res.ver", mStr},
}

func init() {
	families := map[string]string{"base": "base", "cook": "req.cook", "hdr": "req.hdr", "path": "path",
		"scook": "res.cook", "shdr": "res.hdr", "url": "url", "urlp": "urlp"}
	suffixes := map[string]matchKind{"": mStr, "_beg": mBeg, "_dir": mDir, "_dom": mDom, "_end": mEnd,
		"_len": mLen, "_reg": mReg, "_sub": mSub}
	for kw, fetch := range families {
		for suf, m := range suffixes {
			aclKeywords[kw+suf] = aclKeyword{fetch, m}
		}
	}
}

// aclKeywordMatch are the ACL keywords whose implied match method is not
// the default of their fetch's output type.
var aclKeywordMatch = map[string]matchKind{"req.ssl_ver": mVer, "req_ssl_ver": mVer}

// compileACL compiles the lines of one ACL. It returns nil after
// reporting an error.
func (c *compiler) compileACL(name string, lines []*config.ACL) *acl {
	a := &acl{name: name}
	saved := c.pos
	defer func() { c.pos = saved }()
	for _, l := range lines {
		if l.Pos.File != "" || l.Pos.Line != 0 {
			c.pos = l.Pos
		}
		x, err := c.compileACLExpr(l)
		if err != nil {
			if name == "" {
				c.errorf("%v", err)
			} else {
				c.errorf("error detected while parsing ACL '%s' : %v", name, err)
			}
			return nil
		}
		a.exprs = append(a.exprs, x)
	}
	return a
}

func (c *compiler) compileACLExpr(l *config.ACL) (*aclExpr, error) {
	text := l.Fetch
	name, _, _, _ := splitCall(text)
	kw, isKW := aclKeywords[name]
	if isKW {
		if def := fetches[kw.fetch]; def != nil && def.http && c.px.Mode != config.ModeHTTP {
			return nil, unsupported(name)
		}
		text = kw.fetch + text[len(name):]
	}
	e, err := c.parseExpr(text)
	if err != nil {
		return nil, err
	}
	if isKW {
		e.kw = name
	}
	icase, method, forMap, uid := false, "", false, -1
	var files []string
	for i := 0; i < len(l.Flags); i++ {
		switch l.Flags[i] {
		case "-i":
			icase = true
		case "-m":
			i++
			method = l.Flags[i]
		case "-f":
			i++
			files = append(files, l.Flags[i])
		case "-M":
			forMap = true
		case "-u":
			i++
			n, err := strconv.Atoi(l.Flags[i])
			if err != nil {
				return nil, fmt.Errorf("'-u' expects an integer argument")
			}
			uid = n
		case "-n":
		}
	}
	var kind matchKind
	switch {
	case method != "":
		k, ok := matchNames[method]
		if !ok {
			return nil, fmt.Errorf("unknown matching method '%s' when parsing ACL expression", method)
		}
		kind = k
	case len(e.convs) == 0 && isKW:
		// An ACL keyword's match method, unless converters follow it
		// (parse_acl_expr).
		kind = kw.match
	case len(e.convs) == 0 && aclKeywordMatch[e.kw] != 0:
		kind = aclKeywordMatch[e.kw]
	default:
		k, ok := defaultMatch(e.out)
		if !ok {
			return nil, fmt.Errorf("matching method must be specified first (using '-m') when using a sample fetch of this type ('%s')", e.kw)
		}
		kind = k
	}
	if !canCast(e.out, kind.in()) {
		return nil, fmt.Errorf("matching method '%s' cannot be used with a %s sample in ACL expression '%s'", method, e.out, l.Fetch)
	}
	if e.kw == "http_auth_group" && method == "" && len(e.convs) == 0 {
		// The patterns are group names of the userlist.
		_, fargs, _, _ := splitCall(e.text)
		g, err := c.compileAuthGroups(e, fargs, l.Values)
		if err != nil {
			return nil, err
		}
		return &aclExpr{e: e, kind: mStr, groups: g}, nil
	}
	var pats []string
	op := ""
	for _, v := range l.Values {
		if kind == mInt || kind == mLen || kind == mVer {
			// The "eq ge gt le lt" operators apply to the patterns
			// that follow them (parse_acl_expr's compatibility layer).
			switch v {
			case "eq", "ge", "gt", "le", "lt":
				op = v
				continue
			}
			if op != "" && op != "eq" && !strings.ContainsAny(v, ":-") {
				var err error
				if v, err = applyOp(op, v, kind == mVer); err != nil {
					return nil, err
				}
			}
		}
		pats = append(pats, v)
	}
	x := &aclExpr{e: e, kind: kind}
	refs := c.patternRefs()
	// HAProxy reads the files (-f) first, then makes a reference of the
	// inline patterns, even when there are none.
	for _, f := range files {
		ref, u, err := refs.fileRef(f, false, false, forMap, c.late, c.pos, func() ([]string, error) { return c.readLines(f) })
		if err != nil {
			return nil, err
		}
		b, err := ref.bind(&boundSet{kind: kind, icase: icase, use: u})
		if err != nil {
			return nil, err
		}
		x.sets = append(x.sets, b)
	}
	ref, u := refs.inlineRef(e.kw, c.late, c.pos, uid, pats)
	b, err := ref.bind(&boundSet{kind: kind, icase: icase, use: u})
	if err != nil {
		return nil, err
	}
	x.sets = append(x.sets, b)
	return x, nil
}

// applyOp rewrites "gt 10" as the range "11:" and so on.
func applyOp(op, v string, ver bool) (string, error) {
	var n int64
	if ver {
		x, ok := parseVer(v)
		if !ok {
			return "", fmt.Errorf("'%s' is not a valid dotted version", v)
		}
		n = x
	} else {
		r, err := parseIntRange(v)
		if err != nil {
			return "", err
		}
		n = r.min
	}
	format := func(x int64) string {
		if ver {
			return fmt.Sprintf("%d.%d", x>>16, x&0xffff)
		}
		return fmt.Sprint(x)
	}
	switch op {
	case "ge":
		return format(n) + ":", nil
	case "gt":
		return format(n+1) + ":", nil
	case "le":
		return ":" + format(n), nil
	}
	return ":" + format(n-1), nil // lt
}
