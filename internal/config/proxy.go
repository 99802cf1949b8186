package config

import (
	"fmt"
	"maps"
	"math"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// pctx is the context of one proxy-section line.
type pctx struct {
	l    *loader
	p    *Proxy
	pos  Pos
	args []string
}

// proxyKW is one entry of the proxy keyword table.
type proxyKW struct {
	// cap says which proxies accept the keyword; def whether a defaults
	// section accepts it.
	cap Cap
	def bool
	// hard makes a missing capability an alert instead of a warning.
	hard   bool
	status kwStatus
	msg    string
	fn     func(c *pctx) error
}

// proxyKeywords is the single table of keywords recognised in defaults,
// frontend, backend and listen sections.
var proxyKeywords map[string]proxyKW

const (
	fe   = CapFrontend
	be   = CapBackend
	both = CapListen
)

func init() {
	removed := func(msg string) proxyKW { return proxyKW{cap: both, def: true, status: kwRemoved, msg: msg} }
	unsupported := func(c Cap, def bool) proxyKW { return proxyKW{cap: c, def: def, status: kwUnsupported} }
	proxyKeywords = map[string]proxyKW{
		"bind":                        {cap: fe, fn: kwBind},
		"mode":                        {cap: both, def: true, fn: kwMode},
		"disabled":                    {cap: both, def: true, fn: func(c *pctx) error { c.p.Disabled, c.p.disabledPos = true, c.pos; return tooMany(c.args, 1) }},
		"enabled":                     {cap: both, def: true, fn: func(c *pctx) error { c.p.Disabled = false; return tooMany(c.args, 1) }},
		"id":                          {cap: both, fn: func(c *pctx) error { return c.intArg(&c.p.ID, 1) }},
		"description":                 {cap: both, fn: func(c *pctx) error { c.p.Description = strings.Join(c.args[1:], " "); return nil }},
		"maxconn":                     {cap: fe, def: true, fn: func(c *pctx) error { return c.intArg(&c.p.Maxconn, 0) }},
		"rate-limit":                  {cap: fe, def: true, fn: (*pctx).rateLimit},
		"backlog":                     {cap: fe, def: true, fn: func(c *pctx) error { return c.intArg(&c.p.Backlog, 0) }},
		"retries":                     {cap: be, def: true, fn: func(c *pctx) error { return c.intArg(&c.p.Retries, 0) }},
		"retry-on":                    {cap: be, def: true, fn: kwRetryOn},
		"timeout":                     {cap: both, def: true, fn: kwTimeout},
		"option":                      {cap: both, def: true, fn: kwOption},
		"no":                          {cap: both, def: true, fn: kwOption},
		"default":                     {cap: both, def: true, fn: kwOption},
		"log":                         {cap: both, def: true, fn: kwLog},
		"log-format":                  {cap: fe, def: true, fn: func(c *pctx) error { c.p.LogFormatPos = c.pos; return c.strArg(&c.p.LogFormat) }},
		"unique-id-format":            {cap: fe, def: true, fn: func(c *pctx) error { c.p.UniqueIDFormatPos = c.pos; return c.strArg(&c.p.UniqueIDFormat) }},
		"unique-id-header":            {cap: fe, def: true, fn: func(c *pctx) error { return c.strArg(&c.p.UniqueIDHeader) }},
		"balance":                     {cap: be, def: true, fn: kwBalance},
		"hash-type":                   {cap: be, def: true, fn: kwHashType},
		"load-server-state-from-file": {cap: be, def: true, fn: kwLoadServerState},
		"server-state-file-name":      {cap: be, def: true, fn: kwServerStateFileName},
		"server":                      {cap: be, hard: true, fn: kwServer},
		"default-server":              {cap: be, def: true, hard: true, fn: kwServer},
		"cookie":                      {cap: be, def: true, fn: kwCookie},
		"acl":                         {cap: both, fn: kwACL},
		"default_backend":             {cap: fe, def: true, fn: kwDefaultBackend},
		"use_backend":                 {cap: fe, fn: kwUseBackend},
		"use-server":                  {cap: be, fn: kwUseServer},
		"force-persist":               {cap: be, fn: kwPersist},
		"ignore-persist":              {cap: be, fn: kwPersist},
		"http-request":                {cap: both, fn: kwHTTPRule},
		"http-response":               {cap: both, fn: kwHTTPRule},
		"http-after-response":         {cap: both, fn: kwHTTPRule},
		"tcp-request":                 {cap: both, fn: kwTCPRule},
		"tcp-response":                {cap: be, fn: kwTCPRule},
		"redirect":                    {cap: both, fn: kwRedirect},
		"http-check":                  {cap: be, def: true, fn: kwCheckRule},
		"tcp-check":                   {cap: be, def: true, fn: kwCheckRule},
		"stats":                       {cap: both, def: true, fn: kwStats},
		"errorfile":                   {cap: both, def: true, fn: kwErrorfile},
		"errorloc":                    {cap: both, def: true, fn: kwErrorloc},
		"errorloc302":                 {cap: both, def: true, fn: kwErrorloc},
		"errorloc303":                 {cap: both, def: true, fn: kwErrorloc},
		"errorfiles":                  {cap: both, def: true, fn: kwErrorfiles},
		"http-error":                  {cap: both, def: true, fn: kwHTTPError},
		"monitor-uri": {cap: fe, def: true, fn: func(c *pctx) error {
			if len(c.args) < 2 || c.args[1] == "" {
				return fmt.Errorf("'monitor-uri' expects an URI.")
			}
			return c.strArg(&c.p.MonitorURI)
		}},
		"compression": {cap: both, def: true, fn: kwCompression},
		"monitor": {cap: fe, fn: func(c *pctx) error {
			if len(c.args) < 2 || c.args[1] != "fail" {
				return fmt.Errorf("'monitor' only supports 'fail'.")
			}
			if len(c.args) < 4 || (c.args[2] != "if" && c.args[2] != "unless") {
				return fmt.Errorf("'monitor fail' requires either 'if' or 'unless' followed by a condition.")
			}
			cond, missing, err := c.parseCond(c.args[2:])
			if err != nil {
				return fmt.Errorf("error detected while parsing a 'monitor fail' condition : %s.", strings.TrimSuffix(err.Error(), "."))
			}
			if missing != "" {
				return fmt.Errorf("error detected while parsing a 'monitor fail' condition : no such ACL : '%s'.", missing)
			}
			c.noteRule(ruleMonitorFail)
			c.p.MonitorFail = append(c.p.MonitorFail, &MonitorFail{Pos: c.pos, Cond: cond})
			return nil
		}},
		"http-reuse": {cap: be, def: true, fn: func(c *pctx) error {
			switch m := ""; {
			case len(c.args) > 1:
				m = c.args[1]
				if m == "never" || m == "safe" || m == "aggressive" || m == "always" {
					c.p.HTTPReuse = m
					if len(c.args) > 2 {
						return fmt.Errorf("'http-reuse %s' cannot handle unexpected argument '%s'.", m, c.args[2])
					}
					return nil
				}
			}
			return fmt.Errorf("'http-reuse' only supports 'never', 'safe', 'aggressive', 'always'.")
		}},
		"capture": {cap: fe, fn: kwCapture},
		"declare": {cap: fe, fn: kwDeclare},

		"contimeout": removed("the 'contimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout connect'."),
		"clitimeout": removed("the 'clitimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout client'."),
		"srvtimeout": removed("the 'srvtimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout server'."),
		"redispatch": removed("The 'redispatch' directive is not supported anymore since HAProxy 2.1. Use 'option redispatch'."),
		"redisp":     removed("The 'redisp' directive is not supported anymore since HAProxy 2.1. Use 'option redispatch'."),
		"block":      removed("The 'block' directive is not supported anymore since HAProxy 2.1. Use 'http-request deny' which uses the exact same syntax."),
		// The message of the removed monitor-net names the line's network.
		"monitor-net": {cap: fe, def: true, status: kwRemoved, fn: func(c *pctx) error {
			n := "<net>"
			if len(c.args) > 1 {
				n = c.args[1]
			}
			return fmt.Errorf("'monitor-net' doesn't exist anymore. Please use 'http-request return status 200 if { src %s }' instead.", n)
		}},
		"bind-process": {cap: both, def: true, fn: func(c *pctx) error {
			c.l.warn(c.pos, "'bind-process' has no effect, is deprecated, and will be removed in version 2.7.")
			return nil
		}},
		"grace": removed("the 'grace' keyword is not supported any more since HAProxy version 2.5."),

		"stick-table":        {cap: both, fn: kwStickTable},
		"stick":              {cap: be, fn: kwStick},
		"persist":            unsupported(be, true),
		"email-alert":        unsupported(both, true),
		"filter":             unsupported(both, false),
		"dynamic-cookie-key": unsupported(be, true),
		"source":             {cap: be, def: true, fn: kwSource},
		"usesrc": {cap: be, def: true, fn: func(c *pctx) error {
			return fmt.Errorf("'usesrc' only allowed after a 'source' statement.")
		}},
		"max-keep-alive-queue": {cap: both, def: true, fn: kwMaxKeepAliveQueue},
		"external-check":       unsupported(be, true),
		"hash-balance-factor": {cap: be, def: true, fn: func(c *pctx) error {
			// HAProxy 2.6 reads it with atol() and refuses 1 to 100.
			if err := c.intArg(&c.p.HashBalanceFactor, math.MinInt); err != nil {
				return err
			}
			if f := c.p.HashBalanceFactor; f != 0 && f <= 100 {
				return fmt.Errorf("'%s' must be 0 or greater than 100.", c.args[0])
			}
			c.p.HashBalanceFactorPos = c.pos
			return nil
		}},
		"http-send-name-header": {cap: be, def: true, fn: func(c *pctx) error {
			// As HAProxy 2.6: one header name, words after it ignored.
			if len(c.args) < 2 || c.args[1] == "" {
				return fmt.Errorf("'%s' requires a header string.", c.args[0])
			}
			c.p.SendNameHeader = c.args[1]
			return nil
		}},
		"server-template":  {cap: be, hard: true, fn: serverTemplate},
		"fullconn":         {cap: be, def: true, fn: func(c *pctx) error { return c.intArg(&c.p.Fullconn, 0) }},
		"dispatch":         {cap: be, fn: kwDispatch},
		"log-format-sd":    unsupported(fe, true),
		"error-log-format": unsupported(fe, true),
		"log-tag":          unsupported(both, true),
		"transparent":      unsupported(be, true),
		"use-fcgi-app":     unsupported(be, false),
		"clitcpka-cnt":     {cap: both, def: true, fn: kwTCPKA},
		"clitcpka-idle":    {cap: both, def: true, fn: kwTCPKA},
		"clitcpka-intvl":   {cap: both, def: true, fn: kwTCPKA},
		"srvtcpka-cnt":     {cap: both, def: true, fn: kwTCPKA},
		"srvtcpka-idle":    {cap: both, def: true, fn: kwTCPKA},
		"srvtcpka-intvl":   {cap: both, def: true, fn: kwTCPKA},
	}
	for _, k := range []string{"reqrep"} {
		proxyKeywords[k] = removed(fmt.Sprintf("The '%s' directive is not supported anymore since HAProxy 2.1. Use 'http-request replace-path', 'http-request replace-uri' or 'http-request replace-header' instead.", k))
	}
	for k, repl := range map[string]string{
		"reqirep": "http-request replace-header", "reqadd": "http-request add-header", "reqdel": "http-request del-header", "reqidel": "http-request del-header",
		"reqdeny": "http-request deny", "reqideny": "http-request deny", "reqallow": "http-request allow",
		"reqiallow": "http-request allow", "reqpass": "http-request allow", "reqipass": "http-request allow",
		"reqtarpit": "http-request tarpit", "reqitarpit": "http-request tarpit",
		"reqsetbe": "use_backend", "reqisetbe": "use_backend",
		"rspadd": "http-response add-header", "rspdel": "http-response del-header", "rspidel": "http-response del-header",
		"rspdeny": "http-response deny", "rspideny": "http-response deny",
		"rsprep": "http-response replace-header", "rspirep": "http-response replace-header",
	} {
		proxyKeywords[k] = removed(fmt.Sprintf("The '%s' directive is not supported anymore since HAProxy 2.1. Use '%s' instead.", k, repl))
	}
}

// capName names a proxy kind for messages.
func capName(c Cap) string {
	switch c {
	case CapFrontend:
		return "frontend"
	case CapBackend:
		return "backend"
	case CapListen:
		return "listen"
	}
	return "defaults"
}

// proxyWord is the word HAProxy uses for a proxy kind in duplicate-name messages.
func proxyWord(c Cap) string {
	if c == CapListen {
		return "proxy"
	}
	return capName(c)
}

func validName(name string) (byte, bool) {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(isAlnum(c) || c == '-' || c == '_' || c == '.' || c == ':') {
			return c, false
		}
	}
	return 0, true
}

// newProxy returns a proxy with HAProxy's built-in defaults.
func newProxy() *Proxy {
	return &Proxy{
		Mode:          ModeTCP,
		Retries:       3,
		Balance:       Balance{Algorithm: "roundrobin"},
		Options:       map[string]bool{},
		ErrorFiles:    map[int]string{},
		DefaultServer: newServer(),
	}
}

// clone copies a defaults section into a new proxy (deep enough that the
// new proxy's changes never reach the defaults).
func (p *Proxy) clone() *Proxy {
	n := *p
	n.Options = map[string]bool{}
	for k, v := range p.Options {
		n.Options[k] = v
	}
	n.ErrorFiles = map[int]string{}
	for k, v := range p.ErrorFiles {
		n.ErrorFiles[k] = v
	}
	n.ErrorLocs = maps.Clone(p.ErrorLocs)
	n.ErrorReplies = maps.Clone(p.ErrorReplies)
	n.errSeq = maps.Clone(p.errSeq)
	n.errorfiles = slices.Clone(p.errorfiles)
	n.Logs = append([]LogTarget(nil), p.Logs...)
	n.DefaultServer = p.DefaultServer.clone()
	if p.Forwardfor != nil {
		f := *p.Forwardfor
		n.Forwardfor = &f
	}
	if p.Originalto != nil {
		o := *p.Originalto
		n.Originalto = &o
	}
	n.MonitorFail = nil
	if p.Cookie != nil {
		ck := *p.Cookie
		ck.Options = append([]string(nil), p.Cookie.Options...)
		n.Cookie = &ck
	}
	n.Check.HTTPCheck = append([]*Rule(nil), p.Check.HTTPCheck...)
	n.Check.TCPCheck = append([]*Rule(nil), p.Check.TCPCheck...)
	n.Check.Args = append([]string(nil), p.Check.Args...)
	n.Stats.Auths = append([]string(nil), p.Stats.Auths...)
	n.Stats.Scope = append([]string(nil), p.Stats.Scope...)
	n.Stats.HTTPRequest = nil
	n.Stats.Admin = nil
	n.Compression.Algos = append([]string(nil), p.Compression.Algos...)
	n.Compression.Types = append([]string(nil), p.Compression.Types...)
	n.Balance.Args = append([]string(nil), p.Balance.Args...)
	n.Binds, n.Servers, n.ACLs, n.UseBackends, n.httpOnly = nil, nil, nil, nil, nil
	n.HTTPRequest, n.HTTPResponse, n.HTTPAfterResponse = nil, nil, nil
	n.TCPRequest, n.TCPResponse, n.Redirects, n.Captures = nil, nil, nil, nil
	n.DefaultBackend = p.DefaultBackend
	return &n
}

// startProxy opens a defaults, frontend, backend or listen section.
func (l *loader) startProxy(pos Pos, args []string) {
	kind := args[0]
	var c Cap
	switch kind {
	case "frontend":
		c = CapFrontend
	case "backend":
		c = CapBackend
	case "listen":
		c = CapListen
	default:
		c = CapDefaults
	}
	rest := args[1:]
	name := ""
	if c != CapDefaults {
		if len(rest) == 0 || rest[0] == "" {
			l.alert(pos, "'%s' expects an <id> argument", kind)
			l.skipSec = true
			return
		}
		name, rest = rest[0], rest[1:]
	} else if len(rest) > 0 && rest[0] != "from" {
		name, rest = rest[0], rest[1:]
	}
	if bad, ok := validName(name); !ok {
		l.alert(pos, "character '%c' is not permitted in '%s' name '%s'.", bad, kind, name)
	}
	from := ""
	if len(rest) > 0 {
		switch {
		case rest[0] == "from" && len(rest) == 2:
			from = rest[1]
		case rest[0] == "from":
			l.alert(pos, "'from' expects a defaults section name as argument.")
		case c&CapFrontend != 0:
			// HAProxy 2.6 prints this as a non-fatal alert and does not
			// create the proxy: the section's lines then fail.
			l.warn(pos, "please use the 'bind' keyword for listening addresses.")
			l.noProxy = true
			return
		case c == CapDefaults:
			// HAProxy 2.6 silently ignores them.
			l.warn(pos, "'defaults' ignores unexpected argument '%s'.", rest[0])
		default:
			l.alert(pos, "'%s' cannot handle unexpected argument '%s'.", kind, rest[0])
		}
	}
	// A proxy starts from the last defaults section; a defaults section
	// starts from HAProxy's built-in values (it resets, as in HAProxy).
	base := l.lastDefaults
	if c == CapDefaults {
		base = nil
	}
	if from != "" {
		base = l.defaults[from]
		if base == nil {
			l.alert(pos, "%s '%s': unable to find defaults section '%s'.", kind, name, from)
		}
	}
	var p *Proxy
	if base != nil {
		p = base.clone()
	} else {
		p = newProxy()
	}
	p.Pos, p.Name, p.Cap = pos, name, c
	if c&CapFrontend == 0 && c != CapDefaults {
		// HAProxy copies a defaults section's default_backend into
		// frontends only.
		p.DefaultBackend = ""
	}
	if base != nil {
		p.Defaults = base.Name
	}
	if c == CapDefaults {
		if name != "" {
			if old, ok := l.defaults[name]; ok {
				op := l.defaultsPos[old]
				l.alert(pos, "defaults section '%s' has the same name as another defaults section declared at %s.", name, op)
			}
			l.defaults[name] = p
		}
		l.defaultsPos[p] = pos
		l.lastDefaults = p
	} else {
		for _, o := range l.byName[name] {
			if o.Cap&c != 0 {
				l.alert(pos, "%s '%s' has the same name as %s '%s' declared at %s.", proxyWord(c), name, capName(o.Cap), o.Name, o.Pos)
				break
			}
		}
		l.byName[name] = append(l.byName[name], p)
	}
	l.cur = p
}

// proxyLine parses one line of a proxy or defaults section.
func (l *loader) proxyLine(pos Pos, args []string) {
	p := l.cur
	kw, ok := proxyKeywords[args[0]]
	secName := capName(p.Cap)
	ignored := false // for want of the capability: warned already
	switch {
	case !ok:
		l.alert(pos, "unknown keyword '%s' in '%s' section%s", args[0], secName, didYouMean(args[0], proxyKeywords, proxyExtraWords...))
		return
	case kw.status == kwRemoved && kw.fn != nil:
		l.report(pos, kw.fn(&pctx{l: l, p: p, pos: pos, args: args}))
		return
	case kw.status == kwRemoved:
		l.alert(pos, "%s", kw.msg)
		return
	case kw.status == kwUnsupported:
		l.alert(pos, "'%s' is not supported by lb yet", args[0])
		return
	case p.Cap == CapDefaults && !kw.def:
		if p.Name == "" {
			l.alert(pos, "'%s' not allowed in anonymous 'defaults' section.", args[0])
		} else {
			l.alert(pos, "'%s' not allowed in 'defaults' section.", args[0])
		}
		return
	case p.Cap != CapDefaults && p.Cap&kw.cap == 0:
		ignored = true
		need := "backend"
		if kw.cap == CapFrontend {
			need = "frontend"
		}
		if kw.hard {
			l.alert(pos, "'%s' not allowed because %s '%s' has no %s capability.", args[0], secName, p.Name, need)
			return
		}
		l.warn(pos, "'%s' ignored because %s '%s' has no %s capability.", args[0], secName, p.Name, need)
		if args[0] == "bind" {
			return
		}
		// Like HAProxy, still parse the line: its errors count, and
		// backend references are still checked.
	}
	c := &pctx{l: l, p: p, pos: pos, args: args}
	if err := kw.fn(c); err != nil {
		l.report(pos, err)
		return
	}
	if quietHTTPKeywords[args[0]] && !ignored {
		c.noteHTTPOnly(args[0])
	}
}

// retryOnKeywords are the keywords of "retry-on" in HAProxy 2.6.
var retryOnKeywords = map[string]bool{"none": true, "conn-failure": true, "empty-response": true,
	"junk-response": true, "response-timeout": true, "0rtt-rejected": true, "404": true, "408": true,
	"425": true, "500": true, "501": true, "502": true, "503": true, "504": true, "all-retryable-errors": true}

// kwRetryOn parses "retry-on <keyword>...": lb sends no early data, so
// "0rtt-rejected" is refused (it is part of "all-retryable-errors" in
// HAProxy, where it cannot happen without early data either).
func kwRetryOn(c *pctx) error {
	if len(c.args) < 2 {
		return fmt.Errorf("'retry-on' needs at least one keyword to specify when to retry")
	}
	for _, a := range c.args[1:] {
		if !retryOnKeywords[a] {
			return fmt.Errorf("'retry-on': unknown keyword '%s'", a)
		}
		if a == "none" && len(c.args) > 2 {
			return fmt.Errorf("'retry-on' 'none' keyworld only usable alone")
		}
		if a == "0rtt-rejected" {
			return fmt.Errorf("'retry-on 0rtt-rejected' is not supported by lb yet")
		}
	}
	c.p.RetryOn = append([]string(nil), c.args[1:]...)
	return nil
}

func (c *pctx) intArg(dst *int, min int) error {
	if len(c.args) < 2 || c.args[1] == "" {
		return fmt.Errorf("'%s' expects an integer argument.", c.args[0])
	}
	n, err := parseInt(c.args[1])
	if err != nil {
		// HAProxy 2.6 reads these with atol(): garbage is 0.
		n = atol(c.args[1])
		c.l.warn(c.pos, "'%s' : '%s' is not a number, read as %d like HAProxy does.", c.args[0], c.args[1], n)
	}
	if n < min {
		// HAProxy 2.6 stores negative values without complaint; lb keeps
		// the verdict but does not use them.
		c.l.warn(c.pos, "'%s' : negative value '%s' ignored.", c.args[0], c.args[1])
		n = min
	}
	*dst = n
	return tooMany(c.args, 2)
}

func (c *pctx) strArg(dst *string) error {
	if len(c.args) < 2 || c.args[1] == "" {
		return fmt.Errorf("'%s' expects an argument.", c.args[0])
	}
	*dst = c.args[1]
	return tooMany(c.args, 2)
}

func (c *pctx) isDefaults() bool { return c.p.Cap == CapDefaults }

func kwBind(c *pctx) error {
	if len(c.args) < 2 {
		return fmt.Errorf("'bind' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments.")
	}
	b, err := c.l.parseBind(c.pos, c.args[1], c.args[2:], "bind", false)
	if err != nil {
		return err
	}
	c.p.Binds = append(c.p.Binds, b)
	return nil
}

func kwMode(c *pctx) error {
	mode := ""
	if len(c.args) > 1 {
		mode = c.args[1]
	}
	switch mode {
	case "tcp":
		c.p.Mode = ModeTCP
	case "http":
		c.p.Mode = ModeHTTP
	case "health":
		return fmt.Errorf("'mode health' doesn't exist anymore. Please use 'http-request return status 200' instead.")
	default:
		// "log" exists only in log-forward sections, which lb lacks.
		return fmt.Errorf("unknown proxy mode '%s'.", mode)
	}
	return tooMany(c.args, 2)
}

var timeoutNames = []string{"client", "server", "connect", "check", "queue", "http-keep-alive", "http-request", "tunnel", "tarpit", "client-fin", "server-fin"}

func kwTimeout(c *pctx) error {
	if len(c.args) < 2 || !contains(timeoutNames, c.args[1]) {
		got := ""
		if len(c.args) > 1 {
			got = c.args[1]
		}
		return fmt.Errorf("'timeout' supports 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' and 'server-fin' (got '%s')", got)
	}
	name := c.args[1]
	if len(c.args) < 3 || c.args[2] == "" {
		return fmt.Errorf("'timeout %s' expects an integer value (in milliseconds)", name)
	}
	d, err := c.l.timeArg(c.pos, c.args[2], time.Millisecond)
	if err != nil {
		if strings.HasPrefix(err.Error(), "timer overflow") {
			return fmt.Errorf("timer overflow in argument '%s' to 'timeout %s' (maximum value is 2147483647 ms or ~24.8 days)", c.args[2], name)
		}
		return fmt.Errorf("%v in 'timeout %s'", err, name)
	}
	if len(c.args) > 3 {
		return fmt.Errorf("'timeout %s' : unexpected extra argument '%s' after value '%s'.", name, c.args[3], c.args[2])
	}
	if quietHTTPTimeouts[name] {
		c.noteHTTPOnly("timeout " + name)
	}
	t := &c.p.Timeouts
	feOnly := map[string]bool{"client": true, "http-keep-alive": true, "http-request": true, "client-fin": true}
	beOnly := map[string]bool{"server": true, "connect": true, "check": true, "queue": true, "server-fin": true, "tunnel": true}
	if !c.isDefaults() {
		if feOnly[name] && c.p.Cap&CapFrontend == 0 {
			c.l.warn(c.pos, "'timeout %s' will be ignored because %s '%s' has no frontend capability", name, capName(c.p.Cap), c.p.Name)
		}
		if beOnly[name] && c.p.Cap&CapBackend == 0 {
			c.l.warn(c.pos, "'timeout %s' will be ignored because %s '%s' has no backend capability", name, capName(c.p.Cap), c.p.Name)
		}
	}
	switch name {
	case "client":
		t.Client = d
	case "server":
		t.Server = d
	case "connect":
		t.Connect = d
	case "check":
		t.Check = d
	case "queue":
		t.Queue = d
	case "http-keep-alive":
		t.HTTPKeepAlive = d
	case "http-request":
		t.HTTPRequest = d
	case "tunnel":
		t.Tunnel = d
	case "tarpit":
		t.Tarpit = d
	case "client-fin":
		t.ClientFin = d
	case "server-fin":
		t.ServerFin = d
	}
	return nil
}

// optionKW describes one "option" name.
type optionKW struct {
	cap    Cap
	status kwStatus
	msg    string
	args   bool // takes arguments: no "no"/"default" prefix allowed
	fn     func(c *pctx, args []string) error
}

var proxyOptions map[string]optionKW

func init() {
	b := func(c Cap) optionKW { return optionKW{cap: c} }
	check := func(typ string) optionKW {
		return optionKW{cap: be, args: true, fn: func(c *pctx, args []string) error {
			c.p.Check.Type = typ
			c.p.Check.Args = append([]string(nil), args...)
			c.checkOptionRules(typ)
			return nil
		}}
	}
	unsup := func(c Cap) optionKW { return optionKW{cap: c, status: kwUnsupported} }
	proxyOptions = map[string]optionKW{
		"allbackups": b(be), "checkcache": b(both), "clitcpka": b(fe), "dontlognull": b(fe),
		"http-buffer-request": b(both), "http-ignore-probes": b(fe), "http-keep-alive": b(both),
		"http-no-delay": b(both), "http-pretend-keepalive": b(both), "http-server-close": b(both),
		"http-use-proxy-header": b(fe), "httpclose": b(both), "nolinger": b(both),
		"persist": b(be), "prefer-last-server": b(be), "redispatch": b(be), "splice-auto": b(both),
		"srvtcpka": b(be), "tcpka": b(both), "accept-invalid-http-request": b(fe),
		"accept-invalid-http-response": b(be), "disable-h2-upgrade": b(fe),
		"h1-case-adjust-bogus-client": b(fe), "h1-case-adjust-bogus-server": b(be),
		"idle-close-on-response": b(fe), "log-health-checks": b(be),
		"abortonclose": unsup(be), "contstats": unsup(fe), "dontlog-normal": unsup(fe),
		"independent-streams": unsup(both), "log-separate-errors": unsup(fe), "logasap": unsup(fe),
		"socket-stats": unsup(fe), "splice-request": unsup(both), "splice-response": unsup(both),
		"tcp-smart-accept": unsup(fe), "tcp-smart-connect": unsup(be), "pgsql-check": protocolCheckOption("pgsql-check"),
		"http_proxy":                  {cap: both, status: kwRemoved, msg: "option 'http_proxy' is not supported any more since HAProxy 2.5. This option stopped working in HAProxy 1.9 and usually had nasty side effects. It can be more reliably implemented with combinations of 'http-request set-dst' and 'http-request set-uri', and even 'http-request do-resolve' if absolutely needed."},
		"transparent":                 {cap: be, status: kwUnsupported},
		"external-check":              {cap: be, status: kwUnsupported},
		"spop-check":                  {cap: be, status: kwUnsupported},
		"ldap-check":                  protocolCheckOption("ldap-check"),
		"smtpchk":                     protocolCheckOption("smtpchk"),
		"http-restrict-req-hdr-names": {cap: both, status: kwUnsupported},
		"forceclose":                  {cap: both, status: kwRemoved, msg: "option 'forceclose' is not supported any more since HAProxy 2.0, please just remove it, or use 'option httpclose' if absolutely needed."},
		"http-tunnel":                 {cap: both, status: kwRemoved, msg: "option 'http-tunnel' is not supported any more since HAProxy 2.1, please just remove it, it shouldn't be needed."},
		"httplog": {cap: fe, args: true, fn: func(c *pctx, args []string) error {
			if !c.isDefaults() && c.p.Cap&CapFrontend == 0 {
				c.l.warn(c.pos, "backend '%s' : 'option httplog' directive is ignored in backends.", c.p.Name)
				return nil
			}
			if len(args) > 0 && args[0] != "clf" {
				return fmt.Errorf("keyword 'httplog' only supports option 'clf'.")
			}
			c.p.HTTPLog, c.p.HTTPLogCLF, c.p.HTTPSLog, c.p.TCPLog = true, len(args) > 0, false, false
			c.p.httpLogPos = c.pos
			return nil
		}},
		"httpslog": {cap: fe, args: true, fn: func(c *pctx, args []string) error {
			if !c.isDefaults() && c.p.Cap&CapFrontend == 0 {
				c.l.warn(c.pos, "backend '%s' : 'option httpslog' directive is ignored in backends.", c.p.Name)
				return nil
			}
			// HAProxy 2.6 ignores arguments after "option httpslog".
			c.p.HTTPLog, c.p.HTTPLogCLF, c.p.HTTPSLog, c.p.TCPLog = true, false, true, false
			c.p.httpLogPos = c.pos
			return nil
		}},
		"tcplog": {cap: fe, args: true, fn: func(c *pctx, args []string) error {
			if !c.isDefaults() && c.p.Cap&CapFrontend == 0 {
				c.l.warn(c.pos, "backend '%s' : 'option tcplog' directive is ignored in backends.", c.p.Name)
				return nil
			}
			if len(args) > 0 {
				return fmt.Errorf("'option tcplog' cannot handle unexpected argument '%s'.", args[0])
			}
			c.p.TCPLog, c.p.HTTPLog, c.p.HTTPSLog = true, false, false
			return nil
		}},
		"forwardfor": {cap: both, args: true, fn: func(c *pctx, args []string) error {
			f := &Forwardfor{}
			for i := 0; i < len(args); i++ {
				switch args[i] {
				case "except", "header":
					if i+1 >= len(args) || args[i+1] == "" {
						if args[i] == "header" {
							return fmt.Errorf("'option forwardfor header' expects <header_name> as argument.")
						}
						return fmt.Errorf("'option forwardfor except' expects <network> as argument.")
					}
					if args[i] == "except" {
						f.Except = args[i+1]
					} else {
						f.Header = args[i+1]
					}
					i++
				case "if-none":
					f.IfNone = true
				default:
					return fmt.Errorf("'option forwardfor' only supports optional values: 'except', 'header' and 'if-none'.")
				}
			}
			c.p.Forwardfor = f
			return nil
		}},
		"originalto": {cap: both, args: true, fn: func(c *pctx, args []string) error {
			o := &Forwardfor{}
			for i := 0; i < len(args); i++ {
				switch args[i] {
				case "except", "header":
					if i+1 >= len(args) || args[i+1] == "" {
						if args[i] == "header" {
							return fmt.Errorf("'option originalto header' expects <header_name> as argument.")
						}
						return fmt.Errorf("'option originalto except' expects <address>[/mask] as argument.")
					}
					if args[i] == "except" {
						if !validNet(args[i+1]) {
							return fmt.Errorf("'option originalto except' expects <address>[/mask] as argument.")
						}
						o.Except = args[i+1]
					} else {
						o.Header = args[i+1]
					}
					i++
				default:
					return fmt.Errorf("'option originalto' only supports optional values: 'except' and 'header'.")
				}
			}
			c.p.Originalto = o
			return nil
		}},
		"httpchk": {cap: be, args: true, fn: func(c *pctx, args []string) error {
			c.p.Check.Type = "httpchk"
			c.checkOptionRules("httpchk")
			c.p.Check.Method, c.p.Check.URI, c.p.Check.Version = "OPTIONS", "/", "HTTP/1.0"
			switch len(args) {
			case 0:
			case 1:
				c.p.Check.URI = args[0]
			case 2:
				c.p.Check.Method, c.p.Check.URI = args[0], args[1]
			default:
				c.p.Check.Method, c.p.Check.URI, c.p.Check.Version = args[0], args[1], strings.Join(args[2:], " ")
			}
			return nil
		}},
		"tcp-check":     check("tcp-check"),
		"ssl-hello-chk": check("ssl-hello-chk"),
		"mysql-check": {cap: be, args: true, fn: func(c *pctx, args []string) error {
			if len(args) > 0 && args[0] != "user" {
				return fmt.Errorf("'option mysql-check' only supports optional values: 'user' (got '%s').", args[0])
			}
			if len(args) == 1 {
				return fmt.Errorf("'option mysql-check user' expects <username> as argument.")
			}
			c.p.Check.Type, c.p.Check.Args = "mysql-check", append([]string(nil), args...)
			c.checkOptionRules("mysql-check")
			return nil
		}},
		"redis-check": protocolCheckOption("redis-check"),
	}
}

// validNet reports whether s is an address or a network as HAProxy reads
// them: "a.b.c.d", "a.b.c.d/bits", "a.b.c.d/a.b.c.d", an IPv6 address
// with or without "/bits".
func validNet(s string) bool {
	a, m, hasMask := strings.Cut(s, "/")
	ip := net.ParseIP(a)
	if ip == nil || !hasMask {
		return ip != nil
	}
	bits := 128
	if ip.To4() != nil && !strings.Contains(a, ":") {
		bits = 32
		if mask := net.ParseIP(m); mask != nil && mask.To4() != nil {
			return true
		}
	}
	n, err := strconv.Atoi(m)
	return err == nil && n >= 0 && n <= bits
}

// kwOption handles "option X", "no option X" and "default option X".
func kwOption(c *pctx) error {
	args := c.args
	neg, def := false, false
	switch args[0] {
	case "no":
		neg = true
		args = args[1:]
	case "default":
		def = true
		args = args[1:]
	}
	if neg && len(args) > 0 && args[0] == "log" {
		// "no log": drop the inherited targets.
		c.p.Logs, c.p.NoLog = nil, true
		return tooMany(args, 1)
	}
	if len(args) == 0 || args[0] != "option" {
		return fmt.Errorf("'%s' expects 'option' as an argument.", c.args[0])
	}
	if len(args) < 2 || args[1] == "" {
		return fmt.Errorf("'%s' expects an option name.", args[0])
	}
	name := args[1]
	o, ok := proxyOptions[name]
	switch {
	case !ok:
		return fmt.Errorf("unknown option '%s'.", name)
	case o.status == kwRemoved:
		return fmt.Errorf("%s", o.msg)
	case o.status == kwUnsupported:
		return fmt.Errorf("'option %s' is not supported by lb yet", name)
	}
	if !c.isDefaults() && c.p.Cap&o.cap == 0 {
		need := "backend"
		if o.cap == CapFrontend {
			need = "frontend"
		}
		if name != "httplog" && name != "httpslog" && name != "tcplog" {
			c.l.warn(c.pos, "'%s' ignored because %s '%s' has no %s capability.", name, capName(c.p.Cap), c.p.Name, need)
			return nil
		}
	}
	if o.args {
		if neg || def {
			// HAProxy prints it without the space before the colon.
			return &rawError{msg: fmt.Sprintf("negation/default is not supported for option '%s'.", name)}
		}
		return o.fn(c, args[2:])
	}
	if name == "redispatch" && len(args) == 3 {
		// "option redispatch <interval>": every <interval>-th retry goes
		// to another server (P > 0), or the N-th retry before the last
		// (N < 0); 0 and -1 mean the last, as with no interval.
		c.p.RedispatchInterval = int(atol(args[2]))
	} else if name == "redispatch" {
		c.p.RedispatchInterval = 0
	} else if len(args) > 2 {
		return fmt.Errorf("'option %s' cannot handle unexpected argument '%s'.", name, args[2])
	}
	if def {
		delete(c.p.Options, name)
		return nil
	}
	c.p.Options[name] = !neg
	if httpConnModes[name] && !neg {
		// One HTTP connection mode at a time, as in HAProxy (a proxy's
		// "option http-keep-alive" replaces its defaults' "httpclose").
		for m := range httpConnModes {
			if m != name {
				delete(c.p.Options, m)
			}
		}
	}
	if quietHTTPOptions[name] && !neg {
		c.noteHTTPOnly("option " + name)
	}
	if name == "log-health-checks" {
		c.p.Check.LogHealthChecks = !neg
	}
	return nil
}

func kwLog(c *pctx) error {
	if len(c.args) > 1 && c.args[1] == "global" {
		if err := tooMany(c.args, 2); err != nil {
			return err
		}
		c.p.Logs = append(c.p.Logs, LogTarget{Pos: c.pos, Global: true})
		c.p.NoLog = false
		return nil
	}
	t, err := parseLogTarget(c.l, c.pos, c.args)
	if err != nil {
		return err
	}
	c.p.Logs = append(c.p.Logs, t)
	return nil
}

// balanceAlgos lists the algorithms of "balance". rdp-cookie and hash
// need the rules engine's sample fetches, which lb does not have yet.
var balanceAlgos = map[string]kwStatus{"roundrobin": kwSupported, "static-rr": kwSupported,
	"leastconn": kwSupported, "first": kwSupported, "source": kwSupported, "uri": kwSupported,
	"url_param": kwSupported, "hdr": kwSupported, "random": kwSupported,
	"rdp-cookie": kwUnsupported, "hash": kwUnsupported}

func kwBalance(c *pctx) error {
	const usage = "balance only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hdr(name)' and 'rdp-cookie(name)' options."
	if len(c.args) < 2 {
		// HAProxy 2.6 takes a bare "balance" as roundrobin.
		c.p.Balance = Balance{Pos: c.pos, Algorithm: "roundrobin"}
		return nil
	}
	algo, arg := c.args[1], ""
	if i := strings.IndexByte(algo, '('); i >= 0 {
		if !strings.HasSuffix(algo, ")") {
			return fmt.Errorf("%s", usage)
		}
		algo, arg = algo[:i], algo[i+1:len(algo)-1]
	}
	st, ok := balanceAlgos[algo]
	if !ok {
		return fmt.Errorf("%s", usage)
	}
	if st == kwUnsupported {
		return fmt.Errorf("'balance %s' is not supported by lb yet", algo)
	}
	bal := Balance{Pos: c.pos, Algorithm: algo}
	if arg != "" {
		bal.Args = append(bal.Args, arg)
	}
	rest := c.args[2:]
	switch algo {
	case "hdr":
		if arg == "" {
			return fmt.Errorf("%s", usage)
		}
		if len(rest) > 0 && rest[0] != "use_domain_only" {
			return fmt.Errorf("'balance hdr(%s)' only accepts 'use_domain_only' modifier (got '%s').", arg, rest[0])
		}
	case "url_param":
		if len(rest) == 0 {
			return fmt.Errorf("balance url_param requires an URL parameter name.")
		}
	case "uri":
		for i := 0; i < len(rest); i++ {
			switch rest[i] {
			case "len", "depth":
				v := ""
				if i+1 < len(rest) {
					v = rest[i+1]
				}
				if n, err := parseInt(v); err != nil || n <= 0 {
					return fmt.Errorf("balance uri : '%s' expects a positive integer (got '%s').", rest[i], v)
				}
				i++
			case "whole", "path-only":
			default:
				return fmt.Errorf("balance uri only accepts parameters 'len', 'depth', 'path-only', and 'whole' (got '%s').", rest[i])
			}
		}
	case "random":
		if arg != "" {
			if n, err := parseInt(arg); err != nil || n < 1 {
				return fmt.Errorf("balance random : number of draws must be at least 1.")
			}
		}
	}
	bal.Args = append(bal.Args, rest...)
	c.p.Balance = bal
	return nil
}

// hashTypes are the words of "hash-type <method> [<function> [<modifier>]]":
// internal/balance places keys as HAProxy 2.6 does with each of them.
var hashTypes = map[string]kwStatus{"consistent": kwSupported, "map-based": kwSupported,
	"sdbm": kwSupported, "djb2": kwSupported, "crc32": kwSupported, "wt6": kwSupported,
	"avalanche": kwSupported}

func kwHashType(c *pctx) error {
	if len(c.args) < 2 || (c.args[1] != "map-based" && c.args[1] != "consistent") {
		return fmt.Errorf("'hash-type' only supports 'consistent' and 'map-based'.")
	}
	if len(c.args) > 2 {
		switch c.args[2] {
		case "sdbm", "djb2", "crc32", "wt6":
		default:
			return fmt.Errorf("'hash-type' only supports 'sdbm', 'djb2', 'crc32', or 'wt6' hash functions.")
		}
	}
	if len(c.args) > 3 && c.args[3] != "avalanche" {
		return fmt.Errorf("'hash-type' only supports 'avalanche' as a modifier for hash functions.")
	}
	for _, w := range c.args[1:] {
		if hashTypes[w] == kwUnsupported {
			return fmt.Errorf("'hash-type %s' is not supported by lb yet", w)
		}
	}
	c.p.HashType = strings.Join(c.args[1:], " ")
	return nil
}

// httpConnModes are the options that choose how HTTP connections are kept.
var httpConnModes = map[string]bool{"http-keep-alive": true, "http-server-close": true, "httpclose": true}

var cookieOptions = map[string]int{"rewrite": 0, "insert": 0, "prefix": 0, "indirect": 0, "nocache": 0,
	"postonly": 0, "preserve": 0, "httponly": 0, "secure": 0, "dynamic": 0, "domain": 1, "maxidle": 1, "maxlife": 1, "attr": 1}

func kwCookie(c *pctx) error {
	if len(c.args) < 2 || c.args[1] == "" {
		return fmt.Errorf("'cookie' expects <cookie_name> as argument.")
	}
	ck := &Cookie{Pos: c.pos, Name: c.args[1]}
	modes := 0
	for i := 2; i < len(c.args); i++ {
		n, ok := cookieOptions[c.args[i]]
		if !ok {
			return fmt.Errorf("'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'domain', 'maxidle', 'dynamic', 'maxlife' and 'attr' options.")
		}
		switch c.args[i] {
		case "rewrite", "insert", "prefix":
			modes++
		}
		if n > 0 && (i+1 >= len(c.args) || c.args[i+1] == "") {
			what := map[string]string{"domain": "<domain>", "maxidle": "<idletime>", "maxlife": "<lifetime>", "attr": "<value>"}[c.args[i]]
			return fmt.Errorf("'%s' expects %s as argument.", c.args[i], what)
		}
		ck.Options = append(ck.Options, c.args[i:i+1+n]...)
		i += n
	}
	if modes > 1 {
		return fmt.Errorf("cookie 'rewrite', 'insert' and 'prefix' modes are incompatible.")
	}
	c.p.Cookie = ck
	return nil
}

// aclMatchMethods are the "-m" methods of ACLs.
var aclMatchMethods = map[string]bool{"found": true, "bool": true, "int": true, "ip": true, "bin": true,
	"len": true, "str": true, "sub": true, "reg": true, "beg": true, "end": true, "dir": true, "dom": true}

var aclFlags = map[string]int{"-i": 0, "-n": 0, "-f": 1, "-m": 1, "-M": 0, "-u": 1, "--": 0}

// predefinedACLs are HAProxy's built-in ACL names.
var predefinedACLs = map[string]bool{"FALSE": true, "HTTP": true, "HTTP_1.0": true, "HTTP_1.1": true,
	"HTTP_2.0": true, "HTTP_3.0": true, "HTTP_CONTENT": true, "HTTP_URL_ABS": true, "HTTP_URL_SLASH": true, "HTTP_URL_STAR": true,
	"LOCALHOST": true, "METH_CONNECT": true, "METH_DELETE": true, "METH_GET": true, "METH_HEAD": true,
	"METH_OPTIONS": true, "METH_POST": true, "METH_PUT": true, "METH_TRACE": true, "RDP_COOKIE": true,
	"REQ_CONTENT": true, "TRUE": true, "WAIT_END": true}

func kwACL(c *pctx) error {
	if len(c.args) < 2 || c.args[1] == "" {
		return fmt.Errorf("'acl' expects an ACL name as its first argument.")
	}
	name := c.args[1]
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if !(isAlnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == ':') {
			return fmt.Errorf("character '%c' is not permitted in acl name '%s'.", ch, name)
		}
	}
	if len(c.args) < 3 {
		return fmt.Errorf("error detected while parsing ACL '%s' : missing fetch method in ACL expression ''.", name)
	}
	a, err := c.l.parseACLExpr(c.pos, name, c.args[2:])
	if err != nil {
		return fmt.Errorf("error detected while parsing ACL '%s' : %v", name, err)
	}
	c.p.ACLs = append(c.p.ACLs, a)
	return nil
}

func (l *loader) parseACLExpr(pos Pos, name string, words []string) (*ACL, error) {
	a := &ACL{Pos: pos, Name: name, Fetch: words[0]}
	if err := checkFetch(words[0]); err != nil {
		return nil, err
	}
	i := 1
	for ; i < len(words); i++ {
		w := words[i]
		if w == "--" {
			i++
			break
		}
		n, ok := aclFlags[w]
		if !ok {
			if strings.HasPrefix(w, "-") && len(w) > 1 && !isDigit(w[1]) {
				return nil, fmt.Errorf("'%s' is not a valid ACL option. Please use '--' before any pattern beginning with a '-'.", w)
			}
			break
		}
		if w == "-m" && (i+1 >= len(words) || !aclMatchMethods[words[i+1]]) {
			m := ""
			if i+1 < len(words) {
				m = words[i+1]
			}
			return nil, fmt.Errorf("unknown matching method '%s' when parsing ACL expression.", m)
		}
		if n > 0 && i+1 >= len(words) {
			return nil, fmt.Errorf("missing argument for flag '%s'.", w)
		}
		if w == "-f" {
			path := words[i+1]
			if _, err := l.opt.Stat(path); err != nil {
				return nil, fmt.Errorf("failed to open pattern file <%s>.", path)
			}
			a.Files = append(a.Files, path)
		}
		a.Flags = append(a.Flags, words[i:i+1+n]...)
		i += n
	}
	a.Values = append([]string(nil), words[i:]...)
	if err := l.checkIPPatterns(a); err != nil {
		return nil, err
	}
	return a, nil
}

// splitCond separates an action's arguments from its "if/unless" condition.
func splitCond(args []string) ([]string, []string, bool) {
	for i, a := range args {
		if a == "if" || a == "unless" {
			return args[:i], args[i:], true
		}
	}
	return args, nil, false
}

// parseCond parses a condition (its words start with "if" or "unless")
// as HAProxy's parse_acl_cond does: "!" prefixes toggle the negation of
// the next ACL ("!" alone included), "||" and "or" (any case) separate AND
// groups, "{ … }" is an anonymous ACL, and every other word names an ACL
// declared earlier in the proxy or a predefined one. It returns the name
// of the first unknown ACL, or an error for a malformed anonymous ACL.
func (c *pctx) parseCond(words []string) (*Cond, string, error) {
	cond := &Cond{Unless: words[0] == "unless"}
	ws := words[1:]
	neg, inGroup, pendingOr := false, false, false
	for i := 0; i < len(ws); i++ {
		w := ws[i]
		for strings.HasPrefix(w, "!") {
			neg, w = !neg, w[1:]
		}
		if w == "" {
			continue
		}
		if w == "||" || strings.EqualFold(w, "or") {
			pendingOr = pendingOr || inGroup
			inGroup, neg = false, false
			continue
		}
		t := CondTerm{Neg: neg}
		if w == "{" {
			j := i + 1
			for j < len(ws) && ws[j] != "}" {
				j++
			}
			if j >= len(ws) {
				return nil, "", fmt.Errorf("missing closing '}' in condition")
			}
			if j == i+1 {
				return nil, "", fmt.Errorf("missing fetch method in ACL expression ''")
			}
			a, err := c.l.parseACLExpr(c.pos, "", ws[i+1:j])
			if err != nil {
				return nil, "", err
			}
			t.Anon = a
			i = j
		} else {
			if !predefinedACLs[w] && c.findACL(w) == nil {
				return nil, w, nil
			}
			t.Name = w
		}
		if pendingOr {
			cond.Terms = append(cond.Terms, CondTerm{Or: true})
			pendingOr = false
		}
		cond.Terms = append(cond.Terms, t)
		inGroup, neg = true, false
	}
	return cond, "", nil
}

func (c *pctx) findACL(name string) *ACL {
	for _, a := range c.p.ACLs {
		if a.Name == name {
			return a
		}
	}
	return nil
}

func kwDefaultBackend(c *pctx) error {
	if len(c.args) < 2 || c.args[1] == "" {
		return fmt.Errorf("'default_backend' expects a backend name.")
	}
	c.p.DefaultBackend = c.args[1]
	return tooMany(c.args, 2)
}

func kwUseBackend(c *pctx) error {
	if len(c.args) < 2 || c.args[1] == "" || c.args[1] == "if" || c.args[1] == "unless" {
		return fmt.Errorf("'use_backend' expects a backend name.")
	}
	u := &UseBackend{Pos: c.pos, Backend: c.args[1], Dynamic: strings.Contains(c.args[1], "%[")}
	rest := c.args[2:]
	if len(rest) > 0 {
		if rest[0] != "if" && rest[0] != "unless" {
			return fmt.Errorf("unexpected keyword '%s' after switching rule, only 'if' and 'unless' are allowed.", rest[0])
		}
		cond, missing, err := c.parseCond(rest)
		if err != nil {
			return fmt.Errorf("error detected while parsing switching rule : %v.", err)
		}
		if missing != "" {
			return fmt.Errorf("error detected while parsing switching rule : no such ACL : '%s'.", missing)
		}
		u.Cond = cond
	}
	c.noteRule(ruleUseBackend)
	c.p.UseBackends = append(c.p.UseBackends, u)
	return nil
}

func kwUseServer(c *pctx) error {
	if len(c.args) < 2 || c.args[1] == "" {
		return fmt.Errorf("'use-server' expects a server name.")
	}
	if len(c.args) < 3 || (c.args[2] != "if" && c.args[2] != "unless") {
		return fmt.Errorf("'use-server' requires either 'if' or 'unless' followed by a condition.")
	}
	cond, missing, err := c.parseCond(c.args[2:])
	if err != nil {
		return fmt.Errorf("error detected while parsing switching rule : %v.", err)
	}
	if missing != "" {
		return fmt.Errorf("error detected while parsing switching rule : no such ACL : '%s'.", missing)
	}
	c.noteRule(ruleUseServer)
	c.p.UseServers = append(c.p.UseServers, &UseServer{Pos: c.pos, Server: c.args[1],
		Dynamic: strings.Contains(c.args[1], "%["), Cond: cond})
	return nil
}

// kwPersist parses "force-persist" and "ignore-persist".
func kwPersist(c *pctx) error {
	kw := c.args[0]
	if len(c.args) < 2 || (c.args[1] != "if" && c.args[1] != "unless") {
		return fmt.Errorf("'%s' requires either 'if' or 'unless' followed by a condition.", kw)
	}
	cond, missing, err := c.parseCond(c.args[1:])
	if err != nil {
		return fmt.Errorf("error detected while parsing a '%s' rule : %v.", kw, err)
	}
	if missing != "" {
		return fmt.Errorf("error detected while parsing a '%s' rule : no such ACL : '%s'.", kw, missing)
	}
	c.p.PersistRules = append(c.p.PersistRules, &PersistRule{Pos: c.pos, Ignore: kw == "ignore-persist", Cond: cond})
	return nil
}

// kwStick parses "stick on|match|store-request|store-response <pattern>
// [table <t>] [if|unless <cond>]" as HAProxy 2.6's cfgparse-listen.c.
func kwStick(c *pctx) error {
	if len(c.args) < 2 {
		return fmt.Errorf("'stick' expects 'on', 'match', or 'store'.")
	}
	r := &StickRule{Pos: c.pos, Kind: c.args[1]}
	switch r.Kind {
	case "on", "match", "store-request", "store-response":
	default:
		return fmt.Errorf("'stick' expects 'on', 'match', or 'store'.")
	}
	if len(c.args) < 3 || c.args[2] == "" {
		return fmt.Errorf("'stick' expects a fetch method.")
	}
	r.Expr = c.args[2]
	rest := c.args[3:]
	if len(rest) > 0 && rest[0] == "table" {
		if len(rest) < 2 || rest[1] == "" {
			return fmt.Errorf("'stick': missing table name after 'table'.")
		}
		r.Table, rest = rest[1], rest[2:]
	}
	if len(rest) > 0 {
		if rest[0] != "if" && rest[0] != "unless" {
			return fmt.Errorf("'stick': unknown keyword '%s'.", rest[0])
		}
		cond, missing, err := c.parseCond(rest)
		if err != nil {
			return fmt.Errorf("'stick': error detected while parsing sticking condition : %v.", err)
		}
		if missing != "" {
			return fmt.Errorf("'stick': error detected while parsing sticking condition : no such ACL : '%s'.", missing)
		}
		r.Cond = cond
	}
	c.p.StickRules = append(c.p.StickRules, r)
	return nil
}

// httpStatusCodes are the codes deny/return/errorfile accept.
var httpStatusCodes = map[int]bool{200: true, 400: true, 401: true, 403: true, 404: true, 405: true, 407: true,
	408: true, 410: true, 413: true, 425: true, 429: true, 500: true, 501: true, 502: true, 503: true, 504: true}

// httpActions lists, per rule set, the actions lb supports (true) and the
// HAProxy 2.6 actions it does not support yet (false).
var httpActions = map[string]map[string]bool{
	"http-request": {
		"add-header": true, "set-header": true, "del-header": true, "replace-header": true, "replace-value": true,
		"set-path": true, "set-pathq": true, "replace-path": true, "replace-pathq": true, "set-uri": true,
		"replace-uri": true, "set-query": true, "set-method": true, "redirect": true, "deny": true,
		"return": true, "allow": true, "tarpit": true, "use-service": true, "auth": true,
		"wait-for-handshake": false, "set-log-level": true, "set-nice": false, "sc-inc-gpc": false,
		"sc-inc-gpc0": true, "sc-inc-gpc1": false, "sc-set-gpt": false, "sc-set-gpt0": true,
		"send-spoe-group": false, "do-resolve": false, "cache-use": true, "add-acl": false,
		"capture": true, "del-acl": false, "del-map": false, "disable-l7-retry": false, "early-hint": false,
		"normalize-uri": false, "reject": false, "set-map": false, "strict-mode": false, "track-sc0": true,
		"track-sc1": true, "track-sc2": true, "set-timeout": false, "wait-for-body": false, "set-var": true,
		"set-var-fmt": false, "unset-var": true, "set-dst": true, "set-dst-port": true, "set-mark": false,
		"set-src": false, "set-src-port": false, "set-tos": false, "silent-drop": true,
		"set-priority-class": false, "set-priority-offset": false, "lua": false, "ot-group": false,
	},
	"http-response": {
		"add-header": true, "set-header": true, "del-header": true, "replace-header": true, "replace-value": true,
		"allow": true, "deny": true, "redirect": true, "return": true, "set-status": true,
		"add-acl": false, "capture": true, "del-acl": false, "del-map": false, "set-log-level": true,
		"set-map": false, "set-mark": false, "set-nice": false, "set-tos": false, "set-var": true,
		"set-var-fmt": false, "unset-var": true, "silent-drop": false, "strict-mode": false,
		"track-sc0": true, "track-sc1": true, "track-sc2": true, "sc-inc-gpc": false, "sc-set-gpt0": false,
		"cache-store": true, "send-spoe-group": false, "wait-for-body": false, "lua": false, "ot-group": false,
	},
	"http-after-response": {
		"add-header": true, "set-header": true, "del-header": true, "replace-header": true, "replace-value": true,
		"allow": true, "set-status": true, "capture": false, "set-map": false, "del-map": false, "del-acl": false,
		"set-var": true, "set-var-fmt": false, "unset-var": true, "strict-mode": false,
	},
}

// actionBase strips the "(…)" suffix of actions such as "set-var(txn.x)".
func actionBase(a string) string {
	if i := strings.IndexByte(a, '('); i > 0 {
		return a[:i]
	}
	return a
}

func kwHTTPRule(c *pctx) error {
	set := c.args[0]
	actions := httpActions[set]
	if len(c.args) < 2 {
		return fmt.Errorf("'%s' expects an action.", set)
	}
	act := c.args[1]
	supported, known := actions[actionBase(act)]
	if !known && strings.HasPrefix(act, "lua.") {
		supported, known = false, true
	}
	if !known {
		names := make([]string, 0, len(actions))
		for k := range actions {
			names = append(names, "'"+k+"'")
		}
		sort.Strings(names)
		return fmt.Errorf("'%s' expects %s, but got '%s'.", set, strings.Join(names, ", "), act)
	}
	if !supported {
		return fmt.Errorf("'%s %s' is not supported by lb yet", set, actionBase(act))
	}
	args, condWords, hasCond := splitCond(c.args[2:])
	if act == "use-service" && len(args) > 0 {
		// HAProxy built with Lua knows its "lua.<name>" services; lb
		// carries out the Prometheus exporter only.
		if strings.HasPrefix(args[0], "lua.") {
			return fmt.Errorf("'%s use-service %s' is not supported by lb yet", set, args[0])
		}
		if args[0] == "prometheus-exporter" && len(args) > 1 {
			return fmt.Errorf("'%s %s' expects either 'if' or 'unless' followed by a condition but found '%s'.", set, act, args[1])
		}
	}
	r := &Rule{Pos: c.pos, Action: act, Args: args}
	where := fmt.Sprintf("error detected in %s '%s' while parsing '%s %s' rule", capName(c.p.Cap), c.p.Name, set, act)
	if err := checkHTTPAction(set, act, args); err != nil {
		return fmt.Errorf("%s : %v.", where, err)
	}
	if act == "capture" && args[1] == "len" {
		// A slot of its own, after those declared before (HAProxy's
		// nb_req_cap): the rule then names it by its id.
		if c.p.Cap&CapFrontend == 0 {
			return fmt.Errorf("%s : proxy '%s' has no frontend capability.", where, c.p.Name)
		}
		r.Args = []string{args[0], "id", strconv.Itoa(c.p.captureSlots("request"))}
		c.p.Captures = append(c.p.Captures, &Rule{Pos: c.pos, Action: "request sample", Args: []string{"", args[2]}})
	}
	if hasCond {
		cond, missing, err := c.parseCond(condWords)
		if err != nil {
			return fmt.Errorf("%s : %v.", where, err)
		}
		if missing != "" {
			return fmt.Errorf("%s : no such ACL : '%s'.", where, missing)
		}
		r.Cond = cond
	}
	switch set {
	case "http-request":
		c.noteRule(ruleHTTPRequest)
		c.p.HTTPRequest = append(c.p.HTTPRequest, r)
	case "http-response":
		c.p.HTTPResponse = append(c.p.HTTPResponse, r)
	default:
		c.p.HTTPAfterResponse = append(c.p.HTTPAfterResponse, r)
	}
	return nil
}

// checkHTTPAction validates the arguments of the supported actions.
func checkHTTPAction(set, act string, args []string) error {
	nargs := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("expects exactly %d arguments", n)
		}
		return nil
	}
	switch act {
	case "add-header", "set-header":
		return nargs(2)
	case "replace-header", "replace-value":
		return nargs(3)
	case "del-header":
		if len(args) < 1 {
			return fmt.Errorf("expects at least 1 argument")
		}
	case "set-path", "set-pathq", "set-uri", "set-query", "set-method":
		return nargs(1)
	case "replace-path", "replace-pathq", "replace-uri":
		return nargs(2)
	case "set-status":
		if len(args) < 1 {
			return fmt.Errorf("expects an HTTP status code")
		}
		if n, err := parseInt(args[0]); err != nil || n < 100 || n > 999 {
			return fmt.Errorf("expects an HTTP status code between 100 and 999")
		}
	case "deny", "tarpit":
		for i := 0; i < len(args); i++ {
			switch args[i] {
			case "deny_status", "status":
				if i+1 >= len(args) {
					return fmt.Errorf("missing status code")
				}
				n, err := parseInt(args[i+1])
				if err != nil || !httpStatusCodes[n] {
					return fmt.Errorf("Unexpected status code '%s'", args[i+1])
				}
				i++
			case "content-type", "string", "lf-string", "file", "lf-file", "errorfile", "errorfiles", "hdr":
				n := 1
				if args[i] == "hdr" {
					n = 2
				}
				if i+n >= len(args) {
					return fmt.Errorf("'%s' expects an argument", args[i])
				}
				i += n
			default:
				return fmt.Errorf("unexpected keyword '%s'", args[i])
			}
		}
	case "return":
		for i := 0; i < len(args); i++ {
			switch args[i] {
			case "status":
				if i+1 >= len(args) {
					return fmt.Errorf("missing status code")
				}
				n, err := parseInt(args[i+1])
				if err != nil || n < 200 || n > 599 {
					return fmt.Errorf("Unexpected status code '%s'", args[i+1])
				}
				i++
			case "content-type", "string", "lf-string", "file", "lf-file", "errorfile", "errorfiles":
				if i+1 >= len(args) {
					return fmt.Errorf("'%s' expects an argument", args[i])
				}
				i++
			case "hdr":
				if i+2 >= len(args) {
					return fmt.Errorf("'hdr' expects a name and a value")
				}
				i += 2
			case "default-errorfiles":
			default:
				return fmt.Errorf("unexpected keyword '%s'", args[i])
			}
		}
	case "redirect":
		return checkRedirect(args)
	case "use-service":
		// The extra words and the Lua services are handled by
		// kwHTTPRule, which has the wording HAProxy uses for them.
		if len(args) < 1 {
			return fmt.Errorf("'use-service' expects a service name.")
		}
		if args[0] != "prometheus-exporter" {
			return fmt.Errorf("'%s' unknown service name.", args[0])
		}
	case "auth":
		if len(args) > 0 && (args[0] != "realm" || len(args) != 2) {
			return fmt.Errorf("expects only 'realm' <name>")
		}
	case "allow":
		return nargs(0)
	case "capture":
		if len(args) < 3 || (args[1] != "len" && args[1] != "id") || set == "http-response" && args[1] != "id" {
			if set == "http-response" && len(args) >= 2 && args[1] != "id" {
				return fmt.Errorf("expects 'id', found '%s'", args[1])
			}
			return fmt.Errorf("expects <expression> [ 'len' <length> | id <idx> ]")
		}
		n, err := parseInt(args[2])
		if args[1] == "len" && (err != nil || n <= 0) {
			return fmt.Errorf("length must be > 0")
		}
		if args[1] == "id" && (err != nil || n < 0) {
			return fmt.Errorf("invalid id '%s'", args[2])
		}
		if len(args) > 3 {
			return fmt.Errorf("unexpected keyword '%s'", args[3])
		}
	}
	return nil
}

// checkRedirect validates "redirect location|prefix|scheme <to> [code N] [options]".
func checkRedirect(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("expects 'location', 'prefix' or 'scheme' followed by a value")
	}
	switch args[0] {
	case "location", "prefix", "scheme":
	default:
		return fmt.Errorf("expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query', 'ignore-empty' or 'append-slash' (was '%s')", args[0])
	}
	for i := 2; i < len(args); i++ {
		switch args[i] {
		case "code":
			if i+1 >= len(args) {
				return fmt.Errorf("'code' expects an argument")
			}
			n, err := parseInt(args[i+1])
			if err != nil || !(n == 301 || n == 302 || n == 303 || n == 307 || n == 308) {
				return fmt.Errorf("unsupported HTTP code '%s' (must be 301, 302, 303, 307 or 308)", args[i+1])
			}
			i++
		case "set-cookie", "clear-cookie":
			if i+1 >= len(args) {
				return fmt.Errorf("'%s' expects an argument", args[i])
			}
			i++
		case "drop-query", "append-slash", "ignore-empty":
		default:
			return fmt.Errorf("expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query', 'ignore-empty' or 'append-slash' (was '%s')", args[i])
		}
	}
	return nil
}

func kwRedirect(c *pctx) error {
	args, condWords, hasCond := splitCond(c.args[1:])
	if err := checkRedirect(args); err != nil {
		return fmt.Errorf("error detected in %s '%s' while parsing redirect rule : %v.", capName(c.p.Cap), c.p.Name, err)
	}
	r := &Rule{Pos: c.pos, Action: "redirect", Args: args}
	if hasCond {
		cond, missing, err := c.parseCond(condWords)
		if err != nil {
			return fmt.Errorf("error detected in %s '%s' while parsing redirect rule : %v.", capName(c.p.Cap), c.p.Name, err)
		}
		if missing != "" {
			return fmt.Errorf("error detected in %s '%s' while parsing redirect rule : no such ACL : '%s'.", capName(c.p.Cap), c.p.Name, missing)
		}
		r.Cond = cond
	}
	c.noteRule(ruleRedirect)
	c.p.Redirects = append(c.p.Redirects, r)
	return nil
}

// tcpActions lists the tcp-request/tcp-response actions per rule set:
// true = supported (internal/rules implements it), false = known to
// HAProxy but not to lb.
var tcpActions = map[string]map[string]bool{
	"tcp-request connection": {"accept": true, "reject": true, "expect-proxy": true, "expect-netscaler-cip": false,
		"capture": false, "track-sc0": true, "track-sc1": true, "track-sc2": true, "sc-inc-gpc": false,
		"sc-inc-gpc0": false, "sc-inc-gpc1": false, "sc-set-gpt0": false, "set-src": false, "set-src-port": false,
		"set-dst": false, "set-dst-port": false, "set-mark": false, "set-tos": false, "set-var": true,
		"set-var-fmt": false, "unset-var": true, "silent-drop": true, "lua": false},
	"tcp-request session": {"accept": true, "reject": true, "track-sc0": true, "track-sc1": true, "track-sc2": true,
		"sc-inc-gpc": false, "sc-inc-gpc0": true, "sc-inc-gpc1": false, "sc-set-gpt0": true, "set-var": true,
		"set-var-fmt": false, "unset-var": true, "silent-drop": false, "set-mark": false, "set-tos": false,
		"set-src": false, "set-dst": false, "set-dst-port": false, "set-src-port": false, "attach-srv": false, "lua": false},
	"tcp-request content": {"accept": true, "reject": true, "capture": false, "do-resolve": false, "set-var": true,
		"set-var-fmt": false, "unset-var": true, "track-sc0": true, "track-sc1": true, "track-sc2": true,
		"sc-inc-gpc": false, "sc-inc-gpc0": true, "sc-inc-gpc1": false, "sc-set-gpt0": true, "send-spoe-group": false,
		"set-log-level": false, "set-nice": false, "set-priority-class": false, "set-priority-offset": false,
		"silent-drop": true, "switch-mode": false, "use-service": false, "set-mark": false, "set-tos": false,
		"set-src": false, "set-dst": true, "set-dst-port": true, "set-src-port": false, "lua": false, "ot-group": false},
	"tcp-response content": {"accept": true, "reject": true, "close": true, "set-var": true, "set-var-fmt": false,
		"unset-var": true, "send-spoe-group": false, "silent-drop": false, "set-log-level": false, "set-nice": false,
		"set-mark": false, "set-tos": false, "lua": false, "ot-group": false},
}

// tcpExprActions are the supported actions that take one sample expression.
var tcpExprActions = map[string]bool{"set-var": true, "set-dst": true, "set-dst-port": true}

func kwTCPRule(c *pctx) error {
	set := c.args[0]
	if len(c.args) < 2 {
		return fmt.Errorf("'%s' requires an action or 'inspect-delay'.", set)
	}
	if c.args[1] == "inspect-delay" {
		if len(c.args) != 3 {
			return fmt.Errorf("'%s inspect-delay' expects a positive delay in milliseconds.", set)
		}
		d, err := c.l.timeArg(c.pos, c.args[2], time.Millisecond)
		if err != nil {
			return fmt.Errorf("'%s inspect-delay' : %v.", set, err)
		}
		if set == "tcp-request" {
			c.p.InspectDelay = d
		} else {
			c.p.ResponseInspectDelay = d
		}
		return nil
	}
	ruleset := set + " " + c.args[1]
	actions, ok := tcpActions[ruleset]
	if !ok {
		if set == "tcp-request" {
			return fmt.Errorf("'%s' expects 'connection', 'session', 'content' or 'inspect-delay', got '%s'.", set, c.args[1])
		}
		return fmt.Errorf("'%s' expects 'content' or 'inspect-delay', got '%s'.", set, c.args[1])
	}
	if len(c.args) < 3 {
		return fmt.Errorf("'%s' expects an action.", ruleset)
	}
	act := c.args[2]
	supported, known := actions[actionBase(act)]
	if !known && strings.HasPrefix(act, "lua.") {
		known = true
	}
	if !known {
		return fmt.Errorf("'%s' : unknown action '%s'.", ruleset, act)
	}
	if !supported {
		return fmt.Errorf("'%s %s' is not supported by lb yet", ruleset, actionBase(act))
	}
	args, condWords, hasCond := splitCond(c.args[3:])
	if act == "expect-proxy" && (len(args) != 1 || args[0] != "layer4") {
		return fmt.Errorf("'%s expect-proxy' only supports 'layer4'.", ruleset)
	}
	if (act == "accept" || act == "reject" || act == "close") && len(args) > 0 {
		return fmt.Errorf("'%s %s' : unexpected argument '%s'.", ruleset, act, args[0])
	}
	if base := actionBase(act); tcpExprActions[base] {
		if len(args) == 0 {
			return fmt.Errorf("missing fetch method")
		}
		if len(args) > 1 {
			return fmt.Errorf("'%s %s' only accepts 'if' or 'unless', in proxy '%s' (got '%s')", ruleset, act, c.p.Name, args[1])
		}
	} else if base == "unset-var" && len(args) > 0 {
		return fmt.Errorf("'%s %s' only accepts 'if' or 'unless', in proxy '%s' (got '%s')", ruleset, act, c.p.Name, args[0])
	}
	r := &Rule{Pos: c.pos, Action: c.args[1] + " " + act, Args: args}
	if set == "tcp-request" {
		c.noteRule(map[string]int{"connection": ruleTCPConn, "session": ruleTCPSess, "content": ruleTCPContent}[c.args[1]])
	}
	if hasCond {
		cond, missing, err := c.parseCond(condWords)
		if err != nil {
			return fmt.Errorf("error detected in %s '%s' while parsing '%s' rule : %v.", capName(c.p.Cap), c.p.Name, ruleset, err)
		}
		if missing != "" {
			return fmt.Errorf("error detected in %s '%s' while parsing '%s' rule : no such ACL : '%s'.", capName(c.p.Cap), c.p.Name, ruleset, missing)
		}
		r.Cond = cond
	}
	c.addTCP(set, r)
	return nil
}

func (c *pctx) addTCP(set string, r *Rule) {
	if set == "tcp-request" {
		c.p.TCPRequest = append(c.p.TCPRequest, r)
	} else {
		c.p.TCPResponse = append(c.p.TCPResponse, r)
	}
}

// statsKeywords are the words after "stats" in a proxy: the HTTP
// statistics page, which needs mode http.
// HAProxy 2.6 has no "stats disable" (measured: "unknown stats parameter").
var statsKeywords = map[string]kwStatus{"enable": kwSupported, "uri": kwSupported,
	"realm": kwSupported, "auth": kwSupported, "refresh": kwSupported, "hide-version": kwSupported,
	"show-legends": kwSupported, "show-node": kwSupported, "show-desc": kwSupported, "scope": kwSupported,
	"admin": kwSupported, "http-request": kwSupported,
	// HAProxy 2.6 knows it (the statistics of its modules, h1, h2, ssl).
	"show-modules": kwUnsupported}

func kwStats(c *pctx) error {
	const expects = "expects 'admin', 'uri', 'realm', 'auth', 'scope', 'enable', 'hide-version', 'show-node', 'show-desc' or 'show-legends'."
	if len(c.args) < 2 || c.args[1] == "" {
		return fmt.Errorf("missing keyword in 'stats', %s", expects)
	}
	if st, ok := statsKeywords[c.args[1]]; !ok {
		return fmt.Errorf("unknown stats parameter '%s', %s", c.args[1], expects)
	} else if st == kwUnsupported {
		return fmt.Errorf("'stats %s' is not supported by lb yet", c.args[1])
	}
	s := &c.p.Stats
	arg := func() (string, error) {
		if len(c.args) < 3 || c.args[2] == "" {
			need := map[string]string{"uri": "'uri' needs an URI prefix.", "realm": "'realm' needs an realm name.",
				"auth": "'auth' needs a user:password account.", "scope": "'scope' needs a proxy name.",
				"refresh": "'refresh' needs a positive interval in seconds."}
			return "", fmt.Errorf("%s", need[c.args[1]])
		}
		return c.args[2], nil
	}
	var err error
	var v string
	switch c.args[1] {
	case "enable":
		s.Enabled = true
		return tooMany(c.args, 2)
	case "uri":
		if v, err = arg(); err == nil {
			s.URI, s.Enabled = v, true
		}
	case "realm":
		if v, err = arg(); err == nil {
			s.Realm, s.Enabled = v, true
		}
	case "auth":
		if v, err = arg(); err == nil {
			s.Auths, s.Enabled = append(s.Auths, v), true
		}
	case "refresh":
		if v, err = arg(); err == nil {
			d, perr := c.l.timeArg(c.pos, v, time.Second)
			if perr != nil {
				return fmt.Errorf("%v in argument to stats refresh interval.", perr)
			}
			s.Refresh, s.Enabled = d, true
		}
	case "hide-version":
		s.HideVersion, s.Enabled = true, true
	case "show-legends":
		s.ShowLegends, s.Enabled = true, true
	case "show-node":
		s.ShowNode, s.Enabled = "(hostname)", true
		if len(c.args) > 2 {
			s.ShowNode = c.args[2]
		}
	case "show-desc":
		s.ShowDesc, s.Enabled = strings.Join(c.args[2:], " "), true
	case "scope":
		if v, err = arg(); err == nil {
			s.Scope, s.Enabled = append(s.Scope, v), true
		}
	case "admin":
		if c.isDefaults() {
			return fmt.Errorf("'stats admin' not allowed in 'defaults' section.")
		}
		if len(c.args) < 3 || (c.args[2] != "if" && c.args[2] != "unless") {
			return fmt.Errorf("'stats admin' requires either 'if' or 'unless' followed by a condition.")
		}
		cond, missing, err := c.parseCond(c.args[2:])
		if err != nil {
			return fmt.Errorf("error detected while parsing a 'stats admin' condition : %v.", err)
		}
		if missing != "" {
			return fmt.Errorf("error detected while parsing a 'stats admin' condition : no such ACL : '%s'.", missing)
		}
		s.Admin, s.AdminPos, s.Enabled = cond, c.pos, true
	case "http-request":
		if c.isDefaults() {
			return fmt.Errorf("'stats' not allowed in 'defaults' section.")
		}
		if len(c.args) < 3 {
			return fmt.Errorf("'stats http-request' requires an action.")
		}
		// Same actions as http-request rules.
		supported, known := httpActions["http-request"][actionBase(c.args[2])]
		if strings.HasPrefix(c.args[2], "track-sc") || strings.HasPrefix(c.args[2], "sc-") {
			// The stats page's rules track nothing in lb.
			supported = false
		}
		if !known {
			return fmt.Errorf("'stats http-request' : unknown action '%s'.", c.args[2])
		}
		if !supported {
			return fmt.Errorf("'stats http-request %s' is not supported by lb yet", actionBase(c.args[2]))
		}
		args, condWords, hasCond := splitCond(c.args[3:])
		if err := checkHTTPAction("http-request", c.args[2], args); err != nil {
			return fmt.Errorf("error detected while parsing 'stats http-request %s' : %v.", c.args[2], err)
		}
		r := &Rule{Pos: c.pos, Action: c.args[2], Args: args}
		if hasCond {
			cond, missing, err := c.parseCond(condWords)
			if err != nil {
				return fmt.Errorf("error detected while parsing 'stats http-request' : %v.", err)
			}
			if missing != "" {
				return fmt.Errorf("error detected while parsing 'stats http-request' : no such ACL : '%s'.", missing)
			}
			r.Cond = cond
		}
		s.HTTPRequest = append(s.HTTPRequest, r)
		s.Enabled = true
	default:
		return fmt.Errorf("unknown stats parameter '%s', %s", c.args[1], expects)
	}
	return err
}

func kwErrorfile(c *pctx) error {
	if len(c.args) < 3 || c.args[2] == "" {
		return fmt.Errorf("errorfile : expects <status_code> and <file> as arguments.")
	}
	if len(c.args) > 3 {
		// HAProxy 2.6 silently ignores them.
		c.l.warn(c.pos, "errorfile : ignoring unexpected argument '%s'.", c.args[3])
	}
	code, err := strconv.Atoi(c.args[1])
	if err != nil || !httpStatusCodes[code] {
		return fmt.Errorf("errorfile : status code '%s' not handled.", c.args[1])
	}
	if _, err := c.l.opt.Stat(c.args[2]); err != nil {
		return fmt.Errorf("errorfile : error opening file '%s'.", c.args[2])
	}
	c.p.ErrorFiles[code] = c.args[2]
	delete(c.p.ErrorLocs, code)
	delete(c.p.ErrorReplies, code)
	c.noteError(code)
	return nil
}

func kwCompression(c *pctx) error {
	if len(c.args) < 2 {
		return fmt.Errorf("'compression' expects 'algo', 'type' or 'offload'.")
	}
	switch c.args[1] {
	case "algo":
		for _, a := range c.args[2:] {
			switch a {
			case "identity", "gzip", "deflate", "raw-deflate":
			default:
				return fmt.Errorf("'compression algo' : '%s' is not a supported algorithm.", a)
			}
		}
		if len(c.args) < 3 {
			return fmt.Errorf("'compression algo' expects one or more algorithms.")
		}
		// Each line adds to the list, as in HAProxy 2.6 (measured: "algo
		// gzip" then "algo deflate" serve both).
		c.p.Compression.Algos = append(c.p.Compression.Algos[:len(c.p.Compression.Algos):len(c.p.Compression.Algos)], c.args[2:]...)
	case "type":
		if len(c.args) < 3 {
			return fmt.Errorf("'compression type' expects one or more mime types.")
		}
		c.p.Compression.Types = append(c.p.Compression.Types, c.args[2:]...)
	case "offload":
		c.p.Compression.Offload = true
	default:
		return fmt.Errorf("'compression' expects 'algo', 'type' or 'offload'.")
	}
	return nil
}

// captureSlots counts the proxy's capture slots of a direction
// ("request" or "response") declared so far.
func (p *Proxy) captureSlots(dir string) int {
	n := 0
	for _, cp := range p.Captures {
		if strings.HasPrefix(cp.Action, dir+" ") {
			n++
		}
	}
	return n
}

// kwDeclare parses "declare capture request|response len <length>": a
// capture slot that http-request and http-response capture rules fill.
func kwDeclare(c *pctx) error {
	if len(c.args) < 2 || c.args[1] != "capture" {
		return fmt.Errorf("unknown declaration type '%s' (supports 'capture')", strings.Join(c.args[1:2], ""))
	}
	if len(c.args) < 3 || (c.args[2] != "request" && c.args[2] != "response") {
		return fmt.Errorf("'declare capture' requires a direction ('request' or 'response')")
	}
	if len(c.args) < 4 || c.args[3] != "len" {
		return fmt.Errorf("'declare capture' requires a capture length ('len')")
	}
	if len(c.args) < 5 {
		return fmt.Errorf("'declare capture' requires a length argument")
	}
	n, err := parseInt(c.args[4])
	if err != nil || n <= 0 {
		return fmt.Errorf("'declare capture': cannot parse the length '%s'.", c.args[3])
	}
	c.p.Captures = append(c.p.Captures, &Rule{Pos: c.pos, Action: c.args[2] + " declare", Args: []string{"", c.args[4]}})
	c.noteHTTPOnly("declare capture")
	return nil
}

func kwCapture(c *pctx) error {
	if len(c.args) < 3 {
		return fmt.Errorf("'capture' expects 'cookie', 'request header' or 'response header'.")
	}
	switch c.args[1] {
	case "cookie":
		// HAProxy reads the length with atol and checks nothing else.
		if c.p.Cap&CapDefaults != 0 {
			return fmt.Errorf("'capture cookie' not allowed in 'defaults' section.")
		}
		if len(c.args) < 5 || c.args[4] == "" {
			return fmt.Errorf("'capture' expects 'cookie' <cookie_name> 'len' <len>.")
		}
		n := 0
		for _, ch := range c.args[4] {
			if ch < '0' || ch > '9' || n > 1<<20 {
				break
			}
			n = n*10 + int(ch-'0')
		}
		if n >= 64 {
			c.l.warn(c.pos, "truncating capture length to 63 bytes for %s '%s'.", proxyTypeStr(c.p.Cap), c.p.Name)
			n = 63
		}
		c.p.CaptureCookie = &CaptureCookie{Pos: c.pos, Name: c.args[2], Len: n}
		return nil
	case "request", "response":
		if c.args[2] != "header" || len(c.args) != 6 || c.args[4] != "len" {
			return fmt.Errorf("'capture %s header' expects <header> 'len' <len>.", c.args[1])
		}
		if n, err := parseInt(c.args[5]); err != nil || n <= 0 {
			return fmt.Errorf("'capture %s header' : invalid length '%s'.", c.args[1], c.args[5])
		}
		c.p.Captures = append(c.p.Captures, &Rule{Pos: c.pos, Action: c.args[1] + " header", Args: []string{c.args[3], c.args[5]}})
		return nil
	}
	return fmt.Errorf("'capture' expects 'cookie', 'request header' or 'response header'.")
}

// Rule kinds in HAProxy's processing order, for misplaced-rule warnings.
const (
	ruleTCPConn = iota
	ruleTCPSess
	ruleTCPContent
	ruleMonitorFail
	ruleHTTPRequest
	ruleRedirect
	ruleUseBackend
	ruleUseServer
	ruleKinds
)

var ruleKindNames = [ruleKinds]string{"tcp-request connection", "tcp-request session", "tcp-request content",
	"monitor fail", "http-request", "redirect", "use_backend", "use-server"}

// noteRule records a rule of the given kind and warns, as HAProxy 2.6 does,
// when a rule processed later was declared before it.
func (c *pctx) noteRule(kind int) {
	for k := kind + 1; k < ruleKinds; k++ {
		if c.p.ruleSeen[k] {
			name := ruleKindNames[kind]
			if kind <= ruleTCPContent {
				name = "tcp-request"
			}
			article := "a"
			if k == ruleHTTPRequest {
				article = "an"
			}
			c.l.warn(c.pos, "a '%s' rule placed after %s '%s' rule will still be processed before.", name, article, ruleKindNames[k])
			break
		}
	}
	c.p.ruleSeen[kind] = true
}

// checkFetch validates an ACL criterion: a sample fetch or ACL keyword known
// to HAProxy 2.6, with balanced arguments and known converters.
func checkFetch(expr string) error {
	parts := splitTopLevel(expr, ',')
	fetch := parts[0]
	base, args, hasArgs := strings.Cut(fetch, "(")
	if !aclKeywords[base] && !sampleFetches[base] {
		return fmt.Errorf("unknown fetch method '%s' in ACL expression '%s'.", base, expr)
	}
	if hasArgs && !strings.HasSuffix(args, ")") {
		return fmt.Errorf("ACL keyword '%s' : expected ')'.", base)
	}
	for _, cv := range parts[1:] {
		name, cargs, hasCArgs := strings.Cut(cv, "(")
		if !sampleConverters[name] {
			if aclKeywords[base] && !sampleFetches[base] {
				return fmt.Errorf("ACL keyword '%s' : unknown converter '%s'.", base, name)
			}
			return fmt.Errorf("unknown converter '%s' in ACL expression '%s'.", name, expr)
		}
		if hasCArgs && !strings.HasSuffix(cargs, ")") {
			return fmt.Errorf("missing ')' after converter '%s' in ACL expression '%s'.", name, expr)
		}
	}
	return nil
}

// splitTopLevel splits s on sep outside parentheses.
func splitTopLevel(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
			}
		case sep:
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// checkIPPatterns validates the patterns of address ACLs ("src", "dst"
// without converters or another -m method) as HAProxy does while parsing,
// including the lines of their pattern files.
func (l *loader) checkIPPatterns(a *ACL) error {
	if a.Fetch != "src" && a.Fetch != "dst" {
		return nil
	}
	for i, f := range a.Flags {
		if f == "-m" && i+1 < len(a.Flags) && a.Flags[i+1] != "ip" {
			return nil
		}
	}
	for _, v := range a.Values {
		if !l.validIPPattern(v) {
			return fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address.", v)
		}
	}
	for _, f := range a.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // existence was checked through Options.Stat
		}
		for n, line := range strings.Split(string(data), "\n") {
			line = strings.TrimLeft(line, " \t")
			if j := strings.IndexByte(line, '\r'); j >= 0 {
				line = line[:j]
			}
			if line == "" || line[0] == '#' {
				continue
			}
			if !l.validIPPattern(line) {
				return fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address at line %d of file '%s'.", line, n+1, f)
			}
		}
	}
	return nil
}

// validIPPattern accepts an address, a CIDR network, an IPv4 network with a
// dotted mask, or a host name that resolves.
func (l *loader) validIPPattern(v string) bool {
	if net.ParseIP(v) != nil {
		return true
	}
	if _, _, err := net.ParseCIDR(v); err == nil {
		return true
	}
	if ip, mask, ok := strings.Cut(v, "/"); ok {
		a, m := net.ParseIP(ip), net.ParseIP(mask)
		return a != nil && a.To4() != nil && m != nil && m.To4() != nil
	}
	if v == "" || strings.ContainsAny(v, " \t/:") {
		return false
	}
	ips, err := l.opt.Resolver(v)
	return err == nil && len(ips) > 0
}

// kwLoadServerState is "load-server-state-from-file { global | local | none }".
func kwLoadServerState(c *pctx) error {
	arg := ""
	if len(c.args) > 1 {
		arg = c.args[1]
	}
	switch arg {
	case "global", "local":
		c.p.LoadServerStateFromFile = arg
	case "none":
		c.p.LoadServerStateFromFile = ""
	default:
		return fmt.Errorf("'%s' expects 'global', 'local' or 'none'. Got '%s'", c.args[0], arg)
	}
	return tooMany(c.args, 2)
}

// kwServerStateFileName is "server-state-file-name [ use-backend-name | <file> ]".
func kwServerStateFileName(c *pctx) error {
	if err := tooMany(c.args, 2); err != nil {
		return err
	}
	c.p.ServerStateFileName = ""
	if len(c.args) > 1 && c.args[1] != "use-backend-name" {
		c.p.ServerStateFileName = c.args[1]
	}
	return nil
}

// rateLimit parses "rate-limit sessions <n>", with HAProxy 2.6's errors.
func (c *pctx) rateLimit() error {
	a := c.args
	if len(a) < 2 || a[1] != "sessions" {
		return fmt.Errorf("'%s' only supports 'sessions' (got '%s')", a[0], arg1(a, 1))
	}
	if len(a) < 3 || a[2] == "" {
		return fmt.Errorf("'%s %s' expects expects an integer value (in sessions/second)", a[0], a[1])
	}
	s := a[2]
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Errorf("'%s %s' : unexpected character '%c' in integer value '%s'", a[0], a[1], s[i], a[2])
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || neg {
		// HAProxy stores a negative or huge value as a limit no rate reaches.
		c.l.warn(c.pos, "'%s %s' : value '%s' read as no limit.", a[0], a[1], a[2])
		n = 0
	}
	c.p.RateLimitSessions = n
	return nil
}

// arg1 returns a[i], or "" when there is none.
func arg1(a []string, i int) string {
	if i < len(a) {
		return a[i]
	}
	return ""
}

// kwTCPKA parses "clitcpka-cnt|idle|intvl" and "srvtcpka-cnt|idle|intvl", the
// TCP keep-alive probes' count, idle time and interval (in seconds by default)
// that "option clitcpka" and "option srvtcpka" set on their sockets, with
// HAProxy 2.6's messages (proxy_parse_tcpka_*): a proxy without the side's
// capability is warned about in its words, and the value is kept all the same.
func kwTCPKA(c *pctx) error {
	name := c.args[0]
	if len(c.args) < 2 || c.args[1] == "" {
		return fmt.Errorf("'%s' expects an integer value", name)
	}
	v := c.args[1]
	var n int64
	if strings.HasSuffix(name, "-cnt") {
		// strtol(…, 0): a sign, 0x for hexadecimal, 0 for octal; no range check.
		end, _, ok := strtol(v, 0)
		if !ok {
			end = 0
		}
		if end < len(v) {
			return fmt.Errorf("'%s' : unexpected character '%c' in integer value '%s'", name, v[end], v)
		}
		var err error
		if n, err = strconv.ParseInt(strings.TrimLeft(v, " \t\n\v\f\r"), 0, 64); err != nil {
			n = -1 // out of range: strtol clamps, setsockopt then refuses it
		}
	} else {
		var terr *timeErr
		n, terr = parseTimeIn(v, time.Second)
		switch {
		case terr == nil:
		case terr.trailing != nil:
			c.l.bare(c.pos, Warning, "%v", terr.trailing)
		case terr.over:
			return fmt.Errorf("timer overflow in argument '%s' to '%s' (maximum value is 2147483647 ms or ~24.8 days)", v, name)
		case terr.under:
			return fmt.Errorf("timer underflow in argument '%s' to '%s' (minimum non-null value is 1 ms)", v, name)
		default:
			// HAProxy's message ends in a newline of its own: a blank line follows.
			return fmt.Errorf("unexpected character '%c' in argument to <%s>.\n", terr.char, name)
		}
	}
	ka, need, want := &c.p.CliTCPKA, "frontend", CapFrontend
	if strings.HasPrefix(name, "srv") {
		ka, need, want = &c.p.SrvTCPKA, "backend", CapBackend
	}
	if !c.isDefaults() && c.p.Cap&want == 0 {
		c.l.warn(c.pos, "%s will be ignored because %s '%s' has no %s capability", name, proxyWord(c.p.Cap), c.p.Name, need)
	}
	switch {
	case strings.HasSuffix(name, "-cnt"):
		ka.Count = int(int32(n)) // an int in HAProxy's setsockopt
	case strings.HasSuffix(name, "-idle"):
		ka.Idle = time.Duration(n) * time.Second
	default:
		ka.Interval = time.Duration(n) * time.Second
	}
	return nil
}

// kwMaxKeepAliveQueue parses "max-keep-alive-queue" as HAProxy 2.6's
// proxy_parse_max_ka_queue: strtol's number in any base, with its own words,
// and its own warning in a proxy without the backend capability.
func kwMaxKeepAliveQueue(c *pctx) error {
	if len(c.args) < 2 || c.args[1] == "" {
		return fmt.Errorf("'%s' expects expects an integer value (or -1 to disable)", c.args[0])
	}
	v := c.args[1]
	end, _, ok := strtol(v, 0)
	if !ok {
		end = 0
	}
	if end < len(v) {
		return fmt.Errorf("'%s' : unexpected character '%c' in integer value '%s'", c.args[0], v[end], v)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 0, 32)
	if err != nil {
		n = -1 // out of an int's range: no limit, as HAProxy's wrapped value
	}
	if c.p.Cap != CapDefaults && c.p.Cap&CapBackend == 0 {
		c.l.warn(c.pos, "%s will be ignored because %s '%s' has no backend capability", c.args[0], proxyTypeStr(c.p.Cap), c.p.Name)
	}
	c.p.MaxKeepAliveQueue = int(n) + 1
	return nil
}
