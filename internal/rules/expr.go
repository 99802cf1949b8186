package rules

import (
	"fmt"
	"lb/internal/auth"
	"strings"

	"lb/internal/config"
	"lb/internal/stick"
)

// place is where a sample expression is evaluated; fetches declare the
// places whose data they can read, as HAProxy's SMP_VAL_* bits do.
type place uint16

const (
	placeConn      place = 1 << iota // tcp-request connection
	placeSess                        // tcp-request session
	placeContent                     // tcp-request content
	placeSwitch                      // use_backend, use-server, force/ignore-persist
	placeResponse                    // tcp-response content
	placeHTTPReq                     // http-request, redirect
	placeHTTPRes                     // http-response
	placeHTTPAfter                   // http-after-response
	placeLog                         // a log-format's "%[…]", at the end of the stream (SMP_VAL_*_LOG_END)
	placeUniqueID                    // a unique-id-format's, once the request head is complete (SMP_VAL_*_HRQ_HDR)
	placeCheck                       // a health check's rule (SMP_VAL_BE_CHK_RUL); see checkFetches

	placeHTTP   = placeHTTPReq | placeHTTPRes | placeHTTPAfter
	placeAll    = placeConn | placeSess | placeContent | placeSwitch | placeResponse | placeHTTP | placeLog | placeUniqueID
	placeReq    = placeContent | placeSwitch
	placeNoConn = placeSess | placeContent | placeSwitch | placeResponse | placeHTTP
	// placeHTTPReqHdr is where the request head may be read (HAProxy's
	// SMP_USE_HRQHV): at run time it is gone from response rules.
	placeHTTPReqHdr = placeContent | placeSwitch | placeHTTP | placeUniqueID
	// placeHTTPResHdr is where the response head may be read
	// (SMP_USE_HRSHV).
	placeHTTPResHdr = placeResponse | placeHTTPRes | placeHTTPAfter
)

// placeNames are HAProxy's names of the places, for its warnings.
var placeNames = map[place]string{
	placeConn:      "tcp-request connection rule",
	placeSess:      "tcp-request session rule",
	placeContent:   "tcp-request content rule",
	placeSwitch:    "use-backend rule",
	placeResponse:  "tcp-response content rule",
	placeHTTPReq:   "http-request header rule",
	placeHTTPRes:   "http-response header rule",
	placeHTTPAfter: "http-after-response header rule",
	placeLog:       "log-format",
	placeUniqueID:  "unique-id-format",
	placeCheck:     "health-check rule",
}

// evalCtx is the state of one evaluation: the stream, the proxy whose
// rules run, and whether the data is final (HAProxy's SMP_OPT_FINAL).
type evalCtx struct {
	s     *Stream
	p     *Proxy
	final bool
	// resp: response rules run; the request head is gone (HAProxy's HTX
	// request message is consumed once forwarded), so request fetches
	// find nothing but the method.
	resp bool
	// iterate: an ACL evaluates the fetch (SMP_OPT_ITERATE): multi-valued
	// fetches without an explicit occurrence return every value in turn;
	// a sample expression gets the last one.
	iterate bool
	// logEnd: a log line's sample (placeLog); both HTTP messages are gone
	// (HAProxy has forwarded them), only the method is still known.
	logEnd bool
}

// next returns the scratch buffer that does not hold the most recent
// converter output, emptied. Converters alternate between the two buffers
// so that a converter's input (at most the previous output) is never
// overwritten by its own output.
func (ev *evalCtx) next() *[]byte {
	st := &ev.s.st
	st.cur ^= 1
	b := &st.bufs[st.cur]
	*b = (*b)[:0]
	return b
}

// fetchFn produces a sample. it is the iteration state of multi-valued
// fetches (0 on the first call); a fetch that has more values sets
// notLast on the sample and advances it. When a fetch fails it may set
// mayChange on the returned sample: more data could make it succeed.
type fetchFn func(ev *evalCtx, it *int) (sample, bool)

// convFn transforms a sample already cast to the converter's input type.
type convFn func(ev *evalCtx, in sample) (sample, bool)

type conv struct {
	name string
	in   smpType
	fn   convFn
}

// expr is a compiled sample expression: a fetch and its converters.
type expr struct {
	text  string
	kw    string // the fetch keyword, for messages
	fetch fetchFn
	convs []conv
	// out is the static output type (tAny when only known at run time).
	out smpType
	// use is where the fetch's data is available.
	use place
	// content is set when the fetch reads buffered data, so that its
	// absence may only mean "not yet".
	content bool
	// src is the fetch's fetchDef.src.
	src string
}

// eval runs the expression once (the first value of a multi-valued fetch).
func (e *expr) eval(ev *evalCtx) (sample, bool) {
	it := &ev.s.st.it
	*it = 0
	return e.evalAt(ev, it)
}

// evalAt runs the expression for the value it designates.
func (e *expr) evalAt(ev *evalCtx, it *int) (sample, bool) {
	smp, ok := e.fetch(ev, it)
	if !ok {
		if ev.final {
			smp.mayChange = false
		}
		return smp, false
	}
	if ev.final {
		smp.mayChange = false
	}
	mc, nl := smp.mayChange, smp.notLast
	for i := range e.convs {
		c := &e.convs[i]
		if smp, ok = ev.cast(smp, c.in); ok {
			smp, ok = c.fn(ev, smp)
		}
		if !ok {
			return sample{mayChange: mc}, false
		}
		smp.mayChange, smp.notLast = mc, nl
	}
	return smp, true
}

// compiler holds what compiling one proxy needs.
type compiler struct {
	cfg  *config.Config
	px   *config.Proxy
	env  Env
	opt  Options
	errs []error
	warn []string
	p    *Proxy
	// pos is the line being compiled, for messages.
	pos config.Pos
	// files caches the lines of pattern and map files by name.
	files map[string][]string
	// acls caches the compiled named ACLs (nil after an error).
	acls map[string]*acl
	// late: what is compiled is parsed by HAProxy once the whole
	// configuration is read (dynamic switching rules, log formats), which
	// numbers its pattern references after the others.
	late bool
	// tables are the stick tables (Options.Tables, or the compile's own).
	tables map[string]*stick.Table
	// uls are the userlists (Options.Userlists, or the compile's own).
	uls map[string]*auth.Userlist
	// check: what is compiled is a health check's (placeCheck), which
	// has the check scope's variables and only the fetches of
	// checkFetches.
	check bool
}

// errorf records an error at the current line.
func (c *compiler) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %s", c.pos, fmt.Sprintf(format, args...)))
}

// unsupported is the error for anything HAProxy has and lb does not.
func unsupported(name string) error {
	return fmt.Errorf("'%s' is not supported by lb yet", name)
}

// parseExpr compiles "fetch(args),conv(args),…". where is the set of
// places the expression will be evaluated in (0: do not check).
func (c *compiler) parseExpr(text string) (*expr, error) {
	name, args, rest, err := splitCall(text)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("missing fetch method in expression '%s'", text)
	}
	def, ok := fetches[name]
	if ok && c.check {
		if needs := checkRefused(name, def); needs != "" {
			return nil, &SampleUseError{Fetch: name, Needs: needs}
		}
		if !checkFetches[name] {
			return nil, fmt.Errorf("'%s' in a %s is not supported by lb yet", name, placeNames[placeCheck])
		}
	}
	if ok && def.http && c.px.Mode != config.ModeHTTP {
		// HTTP fetches need the HTTP plane: a mode tcp proxy has none.
		return nil, unsupported(name)
	}
	if !ok {
		if config.IsSampleFetch(name) || config.IsACLKeyword(name) {
			return nil, unsupported(name)
		}
		return nil, fmt.Errorf("unknown fetch method '%s' in expression '%s'", name, text)
	}
	if len(args) < def.min || len(args) > def.max {
		return nil, fmt.Errorf("fetch method '%s' expects %s in expression '%s'", name, argCount(def.min, def.max), text)
	}
	fn, out, err := def.build(c, args)
	if err != nil {
		return nil, fmt.Errorf("invalid args in fetch method '%s' : %v in expression '%s'", name, err, text)
	}
	e := &expr{text: text, kw: name, fetch: fn, out: out, use: def.use, content: def.content, src: def.src}
	for rest != "" {
		if rest[0] != ',' {
			return nil, fmt.Errorf("missing comma after '%s' in expression '%s'", strings.TrimSuffix(text, rest), text)
		}
		var cname string
		cname, args, rest, err = splitCall(rest[1:])
		if err != nil {
			return nil, err
		}
		cd, ok := converters[cname]
		if !ok {
			if config.IsConverter(cname) {
				return nil, unsupported(cname)
			}
			return nil, fmt.Errorf("unknown converter '%s' in expression '%s'", cname, text)
		}
		if len(args) < cd.min || len(args) > cd.max {
			return nil, fmt.Errorf("converter '%s' expects %s in expression '%s'", cname, argCount(cd.min, cd.max), text)
		}
		if !canCast(e.out, cd.in) {
			return nil, fmt.Errorf("converter '%s' cannot be applied to a %s sample in expression '%s'", cname, e.out, text)
		}
		fn, out, err := cd.build(c, args, e.out)
		if err != nil {
			return nil, fmt.Errorf("invalid args in converter '%s' : %v in expression '%s'", cname, err, text)
		}
		e.convs = append(e.convs, conv{name: cname, in: cd.in, fn: fn})
		e.out = out
	}
	return e, nil
}

func argCount(min, max int) string {
	switch {
	case max == 0:
		return "no argument"
	case min == max:
		return fmt.Sprintf("%d argument(s)", min)
	default:
		return fmt.Sprintf("%d to %d arguments", min, max)
	}
}

// splitCall splits "name(a,b),rest" into its name, its arguments and what
// follows the closing parenthesis. Arguments follow HAProxy's
// make_arg_list: single or double quotes group, a backslash escapes the
// next character.
func splitCall(s string) (name string, args []string, rest string, err error) {
	i := 0
	for i < len(s) && s[i] != '(' && s[i] != ',' {
		i++
	}
	name = s[:i]
	if i == len(s) || s[i] == ',' {
		return name, nil, s[i:], nil
	}
	i++ // '('
	var cur []byte
	var q byte
	for {
		if i >= len(s) {
			return "", nil, "", fmt.Errorf("missing closing ')' after arguments to '%s'", name)
		}
		ch := s[i]
		switch {
		case q != 0 && ch == q:
			q = 0
		case q != '\'' && ch == '\\' && i+1 < len(s):
			i++
			cur = append(cur, s[i])
		case q != 0:
			cur = append(cur, ch)
		case ch == '"' || ch == '\'':
			q = ch
		case ch == ',' || ch == ')':
			args = append(args, string(cur))
			cur = cur[:0]
			if ch == ')' {
				if len(args) == 1 && args[0] == "" {
					args = nil
				}
				return name, args, s[i+1:], nil
			}
		default:
			cur = append(cur, ch)
		}
		i++
	}
}
