package rules

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"lb/internal/config"
	"lb/internal/http1"
)

// httpAct is what an HTTP rule does when its condition holds.
type httpAct uint8

const (
	hAllow httpAct = iota
	hDeny
	hReturn
	hRedirect
	hAddHeader
	hSetHeader
	hDelHeader
	hReplaceHeader
	hReplaceValue
	hSetPath
	hSetPathQ
	hSetQuery
	hSetURI
	hReplacePath
	hReplacePathQ
	hReplaceURI
	hSetMethod
	hSetStatus
	hSetVar
	hUnsetVar
	hSetLogLevel
	hTarpit
	hUseService
	hTrack
	hIncGPC0
	hSetGPT0
	hCapture
	hAuth
	hSetDst
	hSetDstPort
	hCacheUse
	hCacheStore
	hSilentDrop
)

// httpRule is a compiled http-request, http-response,
// http-after-response or redirect rule.
type httpRule struct {
	cond *cond
	act  httpAct
	// name is the header name of header actions.
	name string
	// lf is the value, replacement or target format.
	lf *logFmt
	// re is the regex of replace-* actions and of "del-header -m reg".
	re *regexp.Regexp
	// delMatch is del-header's name match method (mStr, mBeg, mEnd,
	// mSub, mReg).
	delMatch matchKind
	sv       *setVar
	v        *varRef
	e        *expr
	// status and reason are set-status's.
	status int
	reason []byte
	// level is set-log-level's (an HTTPTxn.LogLevel value).
	level int8
	rdr   *redirect
	reply *reply
	tr    *trackRule
	// capID and capLen are capture's slot and its length.
	capID, capLen int
	// auth is the WWW-Authenticate value of "auth".
	auth []byte
}

// redirect is a compiled redirect (http-request redirect, redirect line).
type redirect struct {
	kind string // "location", "prefix", "scheme"
	// lit is the target of a "redirect" line (not a format); lf the
	// target format of an http-request/http-response redirect (nil for
	// the prefix "/", which adds nothing).
	lit                 []byte
	lf                  *logFmt
	code                int
	dropQuery, appendSl bool
	ignoreEmpty         bool
	cookie              []byte // Set-Cookie value, nil for none
}

// reply is a compiled deny or return response.
type reply struct {
	status      int
	ctype       []byte
	body        []byte  // string, file
	bodyLF      *logFmt // lf-string, lf-file
	hdrs        []replyHdr
	defaultBody bool
	// errorFile is the complete response of the "errorfile" and
	// "errorfiles" forms, sent as it is (nil otherwise).
	errorFile []byte
	// tarpit: the reply of "http-request tarpit".
	tarpit bool
	// deny: the reply of a deny or tarpit rule (not of a return).
	deny bool
}

type replyHdr struct {
	name []byte
	lf   *logFmt
}

// httpState is the Stream's storage for HTTP actions and results.
type httpState struct {
	uri, method, reason, tmp, loc, body []byte
	vals                                []byte
	offs                                []int
	hdrs                                []http1.Field
}

// compileHTTPRules compiles one HTTP rule set ("http-request" …) at place
// at.
func (c *compiler) compileHTTPRules(rules []*config.Rule, set string, at place) []*httpRule {
	var out []*httpRule
	for _, r := range rules {
		c.pos = r.Pos
		hr := c.compileHTTPRule(r, set, at)
		if hr == nil {
			continue
		}
		if r.Cond != nil {
			hr.cond = c.compileCond(r.Cond, at, set)
			if hr.cond == nil {
				continue
			}
		}
		out = append(out, hr)
	}
	return out
}

// compileRedirects compiles the "redirect" lines.
func (c *compiler) compileRedirects(rules []*config.Rule) []*httpRule {
	var out []*httpRule
	for _, r := range rules {
		c.pos = r.Pos
		rd, err := c.parseRedirect(r.Args, false, false)
		if err != nil {
			c.errorf("error detected in %s '%s' while parsing redirect rule : %v.", proxyKind(c.px), c.px.Name, err)
			continue
		}
		hr := &httpRule{act: hRedirect, rdr: rd}
		if r.Cond != nil {
			if hr.cond = c.compileCond(r.Cond, placeHTTPReq, "redirect"); hr.cond == nil {
				continue
			}
		}
		out = append(out, hr)
	}
	return out
}

func proxyKind(px *config.Proxy) string {
	switch {
	case px.IsBackend() && px.Cap&config.CapFrontend != 0:
		return "proxy"
	case px.IsBackend():
		return "backend"
	}
	return "frontend"
}

// httpActionNames are the actions lb carries out, per rule set. The
// others are refused.
var httpActionNames = map[string]map[string]httpAct{
	"http-request": {"allow": hAllow, "deny": hDeny, "return": hReturn, "redirect": hRedirect,
		"add-header": hAddHeader, "set-header": hSetHeader, "del-header": hDelHeader,
		"replace-header": hReplaceHeader, "replace-value": hReplaceValue, "set-path": hSetPath,
		"set-pathq": hSetPathQ, "set-query": hSetQuery, "set-uri": hSetURI, "replace-path": hReplacePath,
		"replace-pathq": hReplacePathQ, "replace-uri": hReplaceURI, "set-method": hSetMethod,
		"set-var": hSetVar, "unset-var": hUnsetVar, "set-log-level": hSetLogLevel, "tarpit": hTarpit,
		"use-service": hUseService, "track-sc0": hTrack, "track-sc1": hTrack, "track-sc2": hTrack,
		"sc-inc-gpc0": hIncGPC0, "sc-set-gpt0": hSetGPT0, "capture": hCapture, "auth": hAuth,
		"set-dst": hSetDst, "set-dst-port": hSetDstPort, "cache-use": hCacheUse,
		"silent-drop": hSilentDrop},
	"http-response": {"allow": hAllow, "deny": hDeny, "return": hReturn, "redirect": hRedirect,
		"add-header": hAddHeader, "set-header": hSetHeader, "del-header": hDelHeader,
		"replace-header": hReplaceHeader, "replace-value": hReplaceValue, "set-status": hSetStatus,
		"set-var": hSetVar, "unset-var": hUnsetVar, "set-log-level": hSetLogLevel, "capture": hCapture,
		"cache-store": hCacheStore, "track-sc0": hTrack, "track-sc1": hTrack, "track-sc2": hTrack},
	"http-after-response": {"allow": hAllow, "add-header": hAddHeader, "set-header": hSetHeader,
		"del-header": hDelHeader, "replace-header": hReplaceHeader, "replace-value": hReplaceValue,
		"set-status": hSetStatus, "set-var": hSetVar, "unset-var": hUnsetVar, "set-log-level": hSetLogLevel},
}

// compileHTTPRule compiles one rule's action; nil after an error.
func (c *compiler) compileHTTPRule(r *config.Rule, set string, at place) *httpRule {
	base, _, hasArgs := strings.Cut(r.Action, "(")
	act, ok := httpActionNames[set][base]
	if !ok {
		c.errorf("%v", unsupported(set+" "+base))
		return nil
	}
	hr := &httpRule{act: act}
	args := r.Args
	bad := func(format string, a ...any) *httpRule {
		c.errorf("error detected in %s '%s' while parsing '%s %s' rule : %s.", proxyKind(c.px), c.px.Name, set, r.Action, fmt.Sprintf(format, a...))
		return nil
	}
	fmtArg := func(s string) *logFmt {
		lf, err := c.parseLogFmt(s)
		if err != nil {
			c.errorf("%v", err)
			return nil
		}
		lf.http = true
		return lf
	}
	nargs := func(n int) bool {
		if len(args) != n {
			bad("expects exactly %d arguments", n)
			return false
		}
		return true
	}
	switch act {
	case hAllow:
	case hAuth:
		// The realm defaults to the name of the proxy whose rule it is
		// (http_action_auth).
		realm := c.px.Name
		switch {
		case len(args) == 0:
		case len(args) == 2 && args[0] == "realm":
			realm = args[1]
		default:
			return bad("expects only 'realm' <name>")
		}
		hr.auth = []byte(`Basic realm="` + realm + `"`)
	case hSilentDrop:
		if len(args) > 0 {
			return bad("expects no argument")
		}
	case hTrack:
		tr, err := c.parseTrack(base, args, at)
		if err != nil {
			return bad("%v", err)
		}
		hr.tr = tr
	case hIncGPC0, hSetGPT0:
		tr, err := c.parseSCAction(r.Action, args)
		if err != nil {
			return bad("%v", err)
		}
		hr.tr = tr
	case hDeny, hReturn, hTarpit:
		rp, err := c.parseReply(args, act != hReturn, set)
		if err != nil {
			if u, ok := err.(unsupportedErr); ok {
				c.errorf("%v", unsupported(set+" "+base+" "+string(u)))
				return nil
			}
			return bad("%v", err)
		}
		rp.deny = act != hReturn
		if act == hTarpit {
			rp.tarpit = true
			if !slices.Contains(args, "deny_status") && !slices.Contains(args, "status") {
				rp.status = 500 // tarpit's default
			}
		}
		hr.reply = rp
	case hUseService:
		// The configuration checked the name: HAProxy's Prometheus
		// exporter is the only service lb carries out.
		if len(args) != 1 || args[0] != ServicePrometheus {
			c.errorf("%v", unsupported(set+" "+base+" "+strings.Join(args, " ")))
			return nil
		}
	case hRedirect:
		rd, err := c.parseRedirect(args, true, set != "http-request")
		if err != nil {
			return bad("%v", err)
		}
		hr.rdr = rd
	case hAddHeader, hSetHeader:
		if !nargs(2) {
			return nil
		}
		hr.name = args[0]
		if hr.lf = fmtArg(args[1]); hr.lf == nil {
			return nil
		}
	case hDelHeader:
		hr.name, hr.delMatch = args[0], mStr
		switch {
		case len(args) == 1:
		case len(args) == 3 && args[1] == "-m":
			m, ok := map[string]matchKind{"str": mStr, "beg": mBeg, "end": mEnd, "sub": mSub, "reg": mReg}[args[2]]
			if !ok {
				return bad("-m: unsupported matching method '%s'", args[2])
			}
			hr.delMatch = m
			if m == mReg {
				re, err := regexp.Compile(args[0])
				if err != nil {
					c.errorf("regex '%s' is not supported by lb yet: %v", args[0], err)
					return nil
				}
				hr.re = re
			}
		default:
			return bad("expects exactly 1 argument, optionally followed by '-m <method>'")
		}
	case hReplaceHeader, hReplaceValue:
		if !nargs(3) {
			return nil
		}
		hr.name = args[0]
		if hr.re = c.compileRegex(args[1]); hr.re == nil {
			return nil
		}
		if hr.lf = fmtArg(args[2]); hr.lf == nil {
			return nil
		}
	case hSetPath, hSetPathQ, hSetQuery, hSetURI, hSetMethod:
		if !nargs(1) {
			return nil
		}
		if hr.lf = fmtArg(args[0]); hr.lf == nil {
			return nil
		}
	case hReplacePath, hReplacePathQ, hReplaceURI:
		if !nargs(2) {
			return nil
		}
		if hr.re = c.compileRegex(args[0]); hr.re == nil {
			return nil
		}
		if hr.lf = fmtArg(args[1]); hr.lf == nil {
			return nil
		}
	case hSetStatus:
		if len(args) == 0 {
			return bad("expects an HTTP status code")
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 100 || n > 999 {
			return bad("expects an HTTP status code between 100 and 999")
		}
		hr.status = n
		switch {
		case len(args) == 1:
			hr.reason = []byte(statusReason(n))
		case len(args) == 3 && args[1] == "reason":
			hr.reason = []byte(args[2])
		default:
			return bad("expects only 'reason' <reason> after the status")
		}
	case hCapture:
		// The configuration made every "len" form an "id" one, with a
		// slot of its own.
		if len(args) != 3 || args[1] != "id" {
			return bad("expects <expression> [ 'len' <length> | id <idx> ]")
		}
		e, err := c.parseExpr(args[0])
		if err != nil {
			c.errorf("%v", err)
			return nil
		}
		if e.use&at == 0 {
			c.errorf("fetch method '%s' extracts information from '%s', none of which is available here", e.kw, "HTTP message")
			return nil
		}
		hr.e = e
		hr.capID, _ = strconv.Atoi(args[2])
		dir := "request"
		if set == "http-response" {
			dir = "response"
		}
		hr.capLen = -1
		n := 0
		for _, cp := range c.px.Captures {
			if !strings.HasPrefix(cp.Action, dir+" ") {
				continue
			}
			if n == hr.capID {
				hr.capLen, _ = strconv.Atoi(cp.Args[1])
			}
			n++
		}
		if hr.capLen < 0 {
			c.errorf("Proxy '%s': unable to find capture id '%s' referenced by %s capture rule.", c.px.Name, args[2], set)
			return nil
		}
	case hSetDst, hSetDstPort:
		if len(args) != 1 {
			return bad("expects exactly one sample expression")
		}
		e, err := c.parseExpr(args[0])
		if err != nil {
			c.errorf("%v", err)
			return nil
		}
		if e.use&at == 0 {
			c.errorf("fetch method '%s' extracts information from '%s', none of which is available here", e.kw, "HTTP message")
			return nil
		}
		switch {
		case act == hSetDst && !canCast(e.out, tAddr):
			return bad("expects an address, not a %s sample", e.out)
		case act == hSetDstPort && !canCast(e.out, tInt):
			return bad("expects an integer, not a %s sample", e.out)
		}
		hr.e = e
	case hSetVar, hUnsetVar:
		if !hasArgs {
			return bad("expects a variable name between parentheses")
		}
		_, vargs, _, err := splitCall(r.Action)
		if err != nil {
			return bad("%v", err)
		}
		if act == hSetVar {
			if hr.sv, err = c.parseSetVar(vargs); err != nil {
				return bad("%v", err)
			}
			if len(args) != 1 {
				return bad("expects exactly one sample expression")
			}
			e, err := c.parseExpr(args[0])
			if err != nil {
				c.errorf("%v", err)
				return nil
			}
			if e.use&at == 0 {
				c.errorf("fetch method '%s' extracts information from '%s', none of which is available here", e.kw, "HTTP message")
				return nil
			}
			hr.e = e
		} else {
			if len(vargs) != 1 || len(args) != 0 {
				return bad("expects exactly one variable name")
			}
			if hr.v, err = c.varRef(vargs[0]); err != nil {
				return bad("%v", err)
			}
		}
	case hCacheUse, hCacheStore:
		if len(args) != 1 {
			return bad("expects a cache name")
		}
		hr.name = args[0]
	case hSetLogLevel:
		if len(args) != 1 {
			return bad("expects exactly 1 argument")
		}
		lvl, ok := logLevels[args[0]]
		if !ok {
			return bad("unsupported log level '%s'", args[0])
		}
		hr.level = lvl
	}
	return hr
}

// logLevels maps set-log-level's argument to an HTTPTxn.LogLevel.
var logLevels = map[string]int8{"silent": LogLevelSilent, "emerg": 1, "alert": 2, "crit": 3, "err": 4,
	"warning": 5, "notice": 6, "info": 7, "debug": 8}

func (c *compiler) compileRegex(s string) *regexp.Regexp {
	re, err := regexp.Compile(s)
	if err != nil {
		c.errorf("regex '%s' is not supported by lb yet: %v", s, err)
		return nil
	}
	return re
}

// unsupportedErr names an option of an action lb refuses.
type unsupportedErr string

func (u unsupportedErr) Error() string { return string(u) }

// parseReply compiles the arguments of deny and return
// (http_parse_http_reply).
func (c *compiler) parseReply(args []string, deny bool, set string) (*reply, error) {
	rp := &reply{status: 200}
	if deny {
		rp.status = 403
		if set == "http-response" {
			rp.status = 502
		}
	}
	payload, payloadArg := "", ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		arg := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("'%s' expects an argument", a)
			}
			i++
			return args[i], nil
		}
		switch a {
		case "status", "deny_status":
			if a == "deny_status" && !deny {
				return nil, fmt.Errorf("unexpected keyword '%s'", a)
			}
			v, err := arg()
			if err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 200 || n > 599 {
				return nil, fmt.Errorf("Unexpected status code '%s'", v)
			}
			rp.status = n
		case "content-type":
			v, err := arg()
			if err != nil {
				return nil, err
			}
			rp.ctype = []byte(v)
		case "errorfile", "errorfiles":
			v, err := arg()
			if err != nil {
				return nil, err
			}
			if payload != "" {
				return nil, fmt.Errorf("unexpected keyword '%s'", a)
			}
			payload, payloadArg = a, v
		case "default-errorfiles":
			if payload != "" {
				return nil, fmt.Errorf("unexpected keyword '%s'", a)
			}
			payload = a
		case "string", "lf-string", "file", "lf-file":
			v, err := arg()
			if err != nil {
				return nil, err
			}
			if payload != "" {
				return nil, fmt.Errorf("unexpected keyword '%s'", a)
			}
			payload = a
			text := v
			if a == "file" || a == "lf-file" {
				read := c.opt.ReadFile
				if read == nil {
					read = os.ReadFile
				}
				data, err := read(v)
				if err != nil {
					return nil, fmt.Errorf("failed to open file '%s'", v)
				}
				text = string(data)
			}
			if a == "string" || a == "file" {
				rp.body = []byte(text)
			} else {
				lf, err := c.parseLogFmt(text)
				if err != nil {
					return nil, err
				}
				rp.bodyLF = lf
			}
		case "hdr":
			if i+2 >= len(args) {
				return nil, fmt.Errorf("'hdr' expects a name and a value")
			}
			name := args[i+1]
			switch strings.ToLower(name) {
			case "content-length", "transfer-encoding", "content-type":
				return nil, fmt.Errorf("header '%s' not allowed", name)
			}
			lf, err := c.parseLogFmt(args[i+2])
			if err != nil {
				return nil, err
			}
			lf.http = true
			rp.hdrs = append(rp.hdrs, replyHdr{name: []byte(name), lf: lf})
			i += 2
		default:
			return nil, fmt.Errorf("unexpected keyword '%s'", a)
		}
	}
	switch payload {
	case "":
		// A deny with neither payload nor field sends the error page of
		// its status; with fields, it is an empty response as a return's
		// (measured on haproxy 2.6).
		if deny && len(rp.hdrs) == 0 {
			rp.defaultBody = true
		}
		rp.ctype = nil
	case "default-errorfiles", "errorfile", "errorfiles":
		if payload != "errorfile" && !httpErrorCodes[rp.status] {
			return nil, fmt.Errorf("status code '%d' not handled by default with '%s' argument.", rp.status, payload)
		}
		if rp.ctype != nil {
			c.warnf("content-type '%s' ignored by the http reply when used with an erorrfile.", rp.ctype)
			rp.ctype = nil
		}
		if len(rp.hdrs) > 0 {
			c.warnf("hdr parameters ignored by the http reply when used with an erorrfile.")
			rp.hdrs = nil
		}
		switch payload {
		case "default-errorfiles":
			rp.defaultBody = true
		case "errorfile":
			ef, err := c.readErrorFile(payloadArg)
			if err != nil {
				return nil, err
			}
			rp.errorFile = ef
		case "errorfiles":
			he := c.cfg.HTTPErrors[payloadArg]
			if he == nil {
				return nil, fmt.Errorf("unknown http-errors section '%s' referenced by an http reply ", payloadArg)
			}
			path := he.Files[rp.status]
			if path == "" {
				// HAProxy then sends an empty response of the status.
				c.warnf("Proxy '%s': status '%d' referenced by an http reply not declared in http-errors section '%s'.", c.px.Name, rp.status, payloadArg)
				break
			}
			ef, err := c.readErrorFile(path)
			if err != nil {
				return nil, err
			}
			rp.errorFile = ef
		}
	default:
		if rp.ctype == nil {
			return nil, fmt.Errorf("a content type must be defined when non-empty payload is configured")
		}
	}
	return rp, nil
}

// httpErrorCodes are the statuses HAProxy has an error page for
// (http_err_codes).
var httpErrorCodes = map[int]bool{200: true, 400: true, 401: true, 403: true, 404: true, 405: true, 407: true,
	408: true, 410: true, 413: true, 425: true, 429: true, 500: true, 501: true, 502: true, 503: true, 504: true}

// readErrorFile reads an errorfile, which must be a complete HTTP
// response.
func (c *compiler) readErrorFile(path string) ([]byte, error) {
	read := c.opt.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	b, err := read(path)
	if err != nil {
		return nil, fmt.Errorf("error opening file '%s'", path)
	}
	var m http1.Message
	if _, err := http1.ParseResponse(slices.Clone(b), &m, []byte("GET"), nil); err != nil {
		return nil, fmt.Errorf("'%s' is not a valid HTTP response: %w", path, err)
	}
	return b, nil
}

// compileErrorReplies compiles the proxy's "http-error" lines that lb
// builds the response of.
func (c *compiler) compileErrorReplies(px *config.Proxy) map[int]*reply {
	if len(px.ErrorReplies) == 0 {
		return nil
	}
	out := make(map[int]*reply, len(px.ErrorReplies))
	for code, er := range px.ErrorReplies {
		c.pos = er.Pos
		rp, err := c.parseReply(er.Args, false, "http-error")
		if err != nil {
			c.errorf("http-error : %v", err)
			continue
		}
		out[code] = rp
	}
	return out
}

// parseRedirect compiles "location|prefix|scheme <to> [options]"
// (http_parse_redirect_rule). useFmt: the target is a log-format
// (http-request/http-response redirect), else a literal ("redirect"
// lines). onlyLocation: http-response accepts only location.
func (c *compiler) parseRedirect(args []string, useFmt, onlyLocation bool) (*redirect, error) {
	if len(args) < 2 {
		return nil, fmt.Errorf("expects 'location', 'prefix' or 'scheme' followed by a value")
	}
	rd := &redirect{kind: args[0], code: 302}
	switch rd.kind {
	case "location", "prefix", "scheme":
	default:
		return nil, fmt.Errorf("expects 'location', 'prefix' or 'scheme' (was '%s')", rd.kind)
	}
	if onlyLocation && rd.kind != "location" {
		return nil, unsupported("http-response redirect " + rd.kind)
	}
	var cookie string
	set := false
	for i := 2; i < len(args); i++ {
		switch args[i] {
		case "code":
			if i+1 >= len(args) {
				return nil, fmt.Errorf("'code' expects an argument")
			}
			n, err := strconv.Atoi(args[i+1])
			if err != nil || !(n == 301 || n == 302 || n == 303 || n == 307 || n == 308) {
				return nil, fmt.Errorf("unsupported HTTP code '%s' (must be 301, 302, 303, 307 or 308)", args[i+1])
			}
			rd.code = n
			i++
		case "set-cookie", "clear-cookie":
			if i+1 >= len(args) {
				return nil, fmt.Errorf("'%s' expects an argument", args[i])
			}
			cookie, set = args[i+1], args[i] == "set-cookie"
			i++
		case "drop-query":
			rd.dropQuery = true
		case "append-slash":
			rd.appendSl = true
		case "ignore-empty":
			rd.ignoreEmpty = true
		default:
			return nil, fmt.Errorf("expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query', 'ignore-empty' or 'append-slash' (was '%s')", args[i])
		}
	}
	if cookie != "" {
		if set {
			rd.cookie = []byte(cookie + "; path=/;")
		} else {
			rd.cookie = []byte(cookie + "; path=/; Max-Age=0;")
		}
	}
	to := args[1]
	switch {
	case !useFmt:
		if !(rd.kind == "prefix" && to == "/") {
			rd.lit = []byte(to)
		}
	case rd.kind == "prefix" && to == "/":
	default:
		lf, err := c.parseLogFmt(to)
		if err != nil {
			return nil, err
		}
		lf.http = true
		rd.lf = lf
	}
	return rd, nil
}

// statusReason is HAProxy's http_get_reason.
func statusReason(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 102:
		return "Processing"
	case 103:
		return "Early Hints"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 203:
		return "Non-Authoritative Information"
	case 204:
		return "No Content"
	case 205:
		return "Reset Content"
	case 206:
		return "Partial Content"
	case 207:
		return "Multi-Status"
	case 210:
		return "Content Different"
	case 226:
		return "IM Used"
	case 300:
		return "Multiple Choices"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 305:
		return "Use Proxy"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 310:
		return "Too many Redirects"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 402:
		return "Payment Required"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 406:
		return "Not Acceptable"
	case 407:
		return "Proxy Authentication Required"
	case 408:
		return "Request Time-out"
	case 409:
		return "Conflict"
	case 410:
		return "Gone"
	case 411:
		return "Length Required"
	case 412:
		return "Precondition Failed"
	case 413:
		return "Request Entity Too Large"
	case 414:
		return "Request-URI Too Long"
	case 415:
		return "Unsupported Media Type"
	case 416:
		return "Requested range unsatisfiable"
	case 417:
		return "Expectation failed"
	case 418:
		return "I'm a teapot"
	case 421:
		return "Misdirected Request"
	case 422:
		return "Unprocessable entity"
	case 423:
		return "Locked"
	case 424:
		return "Method failure"
	case 425:
		return "Too Early"
	case 426:
		return "Upgrade Required"
	case 428:
		return "Precondition Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 449:
		return "Retry With"
	case 450:
		return "Blocked by Windows Parental Controls"
	case 451:
		return "Unavailable For Legal Reasons"
	case 456:
		return "Unrecoverable Error"
	case 499:
		return "client has closed connection"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway or Proxy Error"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Time-out"
	case 505:
		return "HTTP Version not supported"
	case 506:
		return "Variant also negociate"
	case 507:
		return "Insufficient storage"
	case 508:
		return "Loop detected"
	case 509:
		return "Bandwidth Limit Exceeded"
	case 510:
		return "Not extended"
	case 511:
		return "Network authentication required"
	case 520:
		return "Web server is returning an unknown error"
	}
	switch code / 100 {
	case 1:
		return "Informational"
	case 2:
		return "Success"
	case 3:
		return "Redirection"
	case 4:
		return "Client Error"
	case 5:
		return "Server Error"
	}
	return "Other"
}

// Running the rules.

func (p *Proxy) runHTTPRequest(s *Stream) HTTPResult {
	if s.HTTP == nil || s.HTTP.Req == nil {
		return HTTPResult{}
	}
	res := p.runHTTP(s, p.c.httpReq, false)
	if res.Verdict == Reject {
		return res
	}
	ev := s.st.newEval(s, p, true)
	for _, r := range p.c.redirects {
		if r.cond != nil && !r.cond.pass(ev) {
			continue
		}
		if out, ok := p.doRedirect(ev, r.rdr); ok {
			return out
		}
	}
	return res
}

func (p *Proxy) runHTTPResponse(s *Stream) HTTPResult {
	if s.HTTP == nil || s.HTTP.Res == nil {
		return HTTPResult{}
	}
	return p.runHTTP(s, p.c.httpRes, true)
}

func (p *Proxy) runHTTPAfterResponse(s *Stream) HTTPResult {
	if s.HTTP == nil || s.HTTP.Res == nil {
		return HTTPResult{}
	}
	return p.runHTTP(s, p.c.httpAfter, true)
}

// runHTTP evaluates an HTTP rule set on final data.
func (p *Proxy) runHTTP(s *Stream, rules []*httpRule, resp bool) HTTPResult {
	ev := s.st.newEval(s, p, true)
	ev.resp = resp
	txn := s.HTTP
	for _, r := range rules {
		if r.cond != nil && !r.cond.pass(ev) {
			continue
		}
		m := txn.Req
		if resp {
			m = txn.Res
		}
		switch r.act {
		case hAllow:
			return HTTPResult{Verdict: Accept, LogLevel: txn.LogLevel}
		case hDeny, hReturn, hTarpit:
			return p.doReply(ev, r.reply)
		case hAuth:
			// HAProxy's 401 page with the challenge; a 4xx it answers
			// itself counts as an HTTP error.
			return HTTPResult{Verdict: Reject, Status: 401, DefaultBody: true, Authenticate: r.auth, LogLevel: txn.LogLevel}
		case hUseService:
			return HTTPResult{Verdict: Reject, Service: ServicePrometheus, LogLevel: txn.LogLevel}
		case hSilentDrop:
			s.SilentDrop = true
			return HTTPResult{Verdict: Reject, SilentDrop: true, LogLevel: txn.LogLevel}
		case hRedirect:
			if out, ok := p.doRedirect(ev, r.rdr); ok {
				return out
			}
		case hAddHeader:
			m.Header.Add(r.name, r.lf.build(ev))
		case hSetHeader:
			m.Header.Set(r.name, r.lf.build(ev))
		case hDelHeader:
			delHeaders(&m.Header, r)
		case hReplaceHeader, hReplaceValue:
			replaceHeaders(ev, &m.Header, r)
		case hSetPath, hSetPathQ, hSetQuery, hSetURI:
			v := r.lf.build(ev)
			st := &s.st.http
			switch r.act {
			case hSetPath, hSetPathQ:
				st.tmp = setPath(st.tmp[:0], m.URI, v, r.act == hSetPathQ)
			case hSetQuery:
				st.tmp = setQuery(st.tmp[:0], m.URI, v)
			default:
				st.tmp = append(st.tmp[:0], v...)
			}
			s.setURI(m, r.act == hSetURI)
		case hReplacePath, hReplacePathQ, hReplaceURI:
			p.replaceURI(ev, m, r)
		case hSetMethod:
			st := &s.st.http
			st.method = append(st.method[:0], r.lf.build(ev)...)
			m.Method = st.method
		case hSetStatus:
			m.Status, m.Reason = r.status, r.reason
		case hSetVar:
			if smp, ok := r.e.eval(ev); ok {
				r.sv.apply(ev, smp)
			}
		case hUnsetVar:
			r.v.unset(ev)
		case hSetLogLevel:
			txn.LogLevel = r.level
		case hCacheUse:
			txn.CacheUse = r.name
		case hCacheStore:
			// The object is the response as it stands at this rule:
			// later rules' edits are not stored (HAProxy 2.6, measured).
			txn.CacheStore = r.name
			txn.CacheHead = http1.AppendResponse(txn.CacheHead[:0], m, "")
		case hTrack:
			r.tr.track(ev)
		case hIncGPC0:
			r.tr.incGPC0(ev)
		case hSetGPT0:
			r.tr.setGPT0(ev)
		case hCapture:
			caps := txn.ReqCaps
			if resp {
				caps = txn.ResCaps
			}
			if r.capID >= len(caps) {
				break
			}
			smp, ok := r.e.eval(ev)
			if !ok {
				break
			}
			if smp, ok = ev.cast(smp, tStr); !ok {
				break
			}
			v := smp.b
			if len(v) > r.capLen {
				v = v[:r.capLen]
			}
			// A slot of its own: the log line reads it after the
			// stream's storage moved on.
			caps[r.capID] = append([]byte(nil), v...)
		case hSetDst:
			// The destination the connection to a server at 0.0.0.0 goes to.
			if smp, ok := r.e.eval(ev); ok {
				if smp, ok = ev.cast(smp, tAddr); ok {
					s.Dst = netip.AddrPortFrom(smp.ip, s.Dst.Port())
				}
			}
		case hSetDstPort:
			if smp, ok := r.e.eval(ev); ok {
				if smp, ok = ev.cast(smp, tInt); ok {
					s.Dst = netip.AddrPortFrom(s.Dst.Addr(), uint16(smp.i))
				}
			}
		}
	}
	return HTTPResult{LogLevel: txn.LogLevel}
}

// setURI makes the URI built in st.tmp the request's, and for set-uri
// and replace-uri with an absolute URI updates Host to its authority
// (http_update_host).
func (s *Stream) setURI(m *http1.Message, updateHost bool) {
	st := &s.st.http
	st.uri = append(st.uri[:0], st.tmp...)
	m.URI = st.uri
	if !updateHost {
		return
	}
	if auth, ok := uriAuthority(m.URI); ok {
		m.Header.Set("Host", auth)
	}
}

// uriAuthority returns the authority of an absolute URI without its
// userinfo.
func uriAuthority(uri []byte) ([]byte, bool) {
	i := bytes.Index(uri, []byte("://"))
	if i <= 0 || !isScheme(uri[:i]) {
		return nil, false
	}
	a := uri[i+3:]
	if j := bytes.IndexAny(a, "/?#"); j >= 0 {
		a = a[:j]
	}
	if j := bytes.LastIndexByte(a, '@'); j >= 0 {
		a = a[j+1:]
	}
	return a, true
}

// setPath appends to dst the URI with its path (and its query string too
// when withQS) replaced by path (http_replace_req_path).
func setPath(dst, uri, path []byte, withQS bool) []byte {
	p, ok := uriPath(uri)
	if !ok {
		p = uri
	}
	plen := len(p)
	if !withQS {
		if i := bytes.IndexByte(p, '?'); i >= 0 {
			plen = i
		}
	}
	start := len(uri) - len(p)
	dst = append(dst, uri[:start]...)
	dst = append(dst, path...)
	return append(dst, p[plen:]...)
}

// setQuery appends to dst the URI with its query string replaced by q
// (http_replace_req_query): a '?' is added only when there was none and q
// is not empty.
func setQuery(dst, uri, q []byte) []byte {
	i := bytes.IndexByte(uri, '?')
	if i < 0 {
		dst = append(dst, uri...)
		if len(q) == 0 {
			return dst
		}
		dst = append(dst, '?')
		return append(dst, q...)
	}
	dst = append(dst, uri[:i+1]...)
	return append(dst, q...)
}

// replaceURI is replace-path, replace-pathq and replace-uri: when the
// regex matches the part, the part becomes the format's output with \N
// replaced by the groups (the unmatched rest of the part is dropped, as
// HAProxy's exp_replace does).
func (p *Proxy) replaceURI(ev *evalCtx, m *http1.Message, r *httpRule) {
	st := &ev.s.st.http
	part := m.URI
	if r.act != hReplaceURI {
		pp, ok := uriPath(m.URI)
		if !ok {
			pp = m.URI
		}
		if r.act == hReplacePath {
			pp = cutPath(pp, false)
		}
		part = pp
	}
	mt := r.re.FindSubmatchIndex(part)
	if mt == nil {
		return
	}
	repl := r.lf.build(ev)
	st.body = expandSubst(st.body[:0], repl, part, mt)
	switch r.act {
	case hReplaceURI:
		st.tmp = append(st.tmp[:0], st.body...)
	default:
		st.tmp = setPath(st.tmp[:0], m.URI, st.body, r.act == hReplacePathQ)
	}
	ev.s.setURI(m, r.act == hReplaceURI)
}

// delHeaders is del-header: every field whose name matches.
func delHeaders(h *http1.Header, r *httpRule) {
	for i := 0; i < len(h.Fields); {
		n := h.Fields[i].Name
		var hit bool
		switch r.delMatch {
		case mStr:
			hit = equalFoldString(n, r.name)
		case mBeg:
			hit = len(n) >= len(r.name) && equalFoldString(n[:len(r.name)], r.name)
		case mEnd:
			hit = len(n) >= len(r.name) && equalFoldString(n[len(n)-len(r.name):], r.name)
		case mSub:
			hit = containsFold(n, r.name)
		case mReg:
			hit = r.re.Match(n)
		}
		if hit {
			h.DelAt(i)
			continue
		}
		i++
	}
}

func containsFold(s []byte, p string) bool {
	for i := 0; i+len(p) <= len(s); i++ {
		if equalFoldString(s[i:i+len(p)], p) {
			return true
		}
	}
	return false
}

// replaceHeaders is replace-header (whole values) and replace-value
// (each comma-separated value) on every field called r.name.
func replaceHeaders(ev *evalCtx, h *http1.Header, r *httpRule) {
	var repl []byte
	st := &ev.s.st.http
	for i := range h.Fields {
		f := &h.Fields[i]
		if !equalFoldString(f.Name, r.name) {
			continue
		}
		if repl == nil {
			repl = r.lf.build(ev)
		}
		val := f.Value
		out := st.body[:0]
		changed := false
		if r.act == hReplaceHeader {
			if mt := r.re.FindSubmatchIndex(val); mt != nil {
				out = expandSubst(out, repl, val, mt)
				changed = true
			}
		} else {
			prev := 0
			for off := 0; off <= len(val); {
				end := off + http1.ValueEnd(val[off:])
				seg := val[off:end]
				ts := off + (len(seg) - len(trimLeftSPHT(seg)))
				te := ts + len(trimSPHT(seg))
				if mt := r.re.FindSubmatchIndex(val[ts:te]); mt != nil {
					out = append(out, val[prev:ts]...)
					out = expandSubst(out, repl, val[ts:te], mt)
					prev = te
					changed = true
				}
				off = end + 1
			}
			out = append(out, val[prev:]...)
		}
		st.body = out
		if changed {
			h.SetValue(i, out)
		}
	}
}

func trimLeftSPHT(b []byte) []byte {
	for len(b) > 0 && isSPHT(b[0]) {
		b = b[1:]
	}
	return b
}

// doReply builds the result of deny and return.
func (p *Proxy) doReply(ev *evalCtx, rp *reply) HTTPResult {
	st := &ev.s.st.http
	out := HTTPResult{Verdict: Reject, Status: rp.status, DefaultBody: rp.defaultBody, Tarpit: rp.tarpit, Denied: rp.deny, ErrorFile: rp.errorFile, LogLevel: ev.s.HTTP.LogLevel}
	if rp.ctype != nil {
		out.ContentType = rp.ctype
		out.Body = rp.body
		if rp.bodyLF != nil {
			st.body = append(st.body[:0], rp.bodyLF.build(ev)...)
			out.Body = st.body
		}
		if out.Body == nil {
			out.Body = []byte{}
		}
	}
	if len(rp.hdrs) > 0 {
		// Build every value first: the fields then point into one buffer
		// that no longer grows.
		st.vals, st.offs = st.vals[:0], st.offs[:0]
		for _, h := range rp.hdrs {
			st.vals = append(st.vals, h.lf.build(ev)...)
			st.offs = append(st.offs, len(st.vals))
		}
		st.hdrs = st.hdrs[:0]
		start := 0
		for i, h := range rp.hdrs {
			st.hdrs = append(st.hdrs, http1.Field{Name: h.name, Value: st.vals[start:st.offs[i]]})
			start = st.offs[i]
		}
		out.Headers = st.hdrs
	}
	return out
}

var (
	hdrCacheControl = []byte("Cache-Control")
	valNoCache      = []byte("no-cache")
	hdrSetCookie    = []byte("Set-Cookie")
)

// doRedirect builds a redirect's result (http_apply_redirect_rule). ok is
// false when an ignore-empty location format produced nothing: the rule
// is then skipped.
func (p *Proxy) doRedirect(ev *evalCtx, rd *redirect) (HTTPResult, bool) {
	st := &ev.s.st.http
	loc := st.loc[:0]
	target := func() []byte {
		if rd.lf != nil {
			return rd.lf.build(ev)
		}
		return rd.lit
	}
	switch rd.kind {
	case "location":
		t := target()
		if len(t) == 0 && rd.lf != nil && rd.ignoreEmpty {
			return HTTPResult{}, false
		}
		loc = append(loc, t...)
	default:
		var path []byte
		if m := ev.s.HTTP.Req; m != nil {
			if pp, ok := uriPath(m.URI); ok {
				path = pp
				if rd.dropQuery {
					path = cutPath(path, false)
				}
			} else {
				path = slash
			}
		}
		if rd.kind == "scheme" {
			loc = append(loc, target()...)
			loc = append(loc, "://"...)
			if m := ev.s.HTTP.Req; m != nil {
				if host, ok := firstHdr(m.Header.Fields, "host"); ok {
					loc = append(loc, host...)
				}
			}
		} else {
			loc = append(loc, target()...)
		}
		loc = append(loc, path...)
		if rd.appendSl && len(loc) > 0 && loc[len(loc)-1] != '/' {
			loc = append(loc, '/')
		}
	}
	st.loc = loc
	out := HTTPResult{Verdict: Reject, Status: rd.code, Location: loc, LogLevel: ev.s.HTTP.LogLevel}
	st.hdrs = st.hdrs[:0]
	if rd.code == 302 || rd.code == 303 || rd.code == 307 {
		st.hdrs = append(st.hdrs, http1.Field{Name: hdrCacheControl, Value: valNoCache})
	}
	if rd.cookie != nil {
		st.hdrs = append(st.hdrs, http1.Field{Name: hdrSetCookie, Value: rd.cookie})
	}
	if len(st.hdrs) > 0 {
		out.Headers = st.hdrs
	}
	return out, true
}

var slash = []byte("/")
