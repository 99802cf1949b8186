package health

import (
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var errUnsupported = errors.New("not supported")

// ParseOption is ParseCheckOption without arguments.
func ParseOption(cfg *Config, option string) error {
	return ParseCheckOption(cfg, option, nil)
}

// ParseCheckOption sets cfg.Kind (and its settings) from a backend's check
// option and the words after it: "" (plain TCP connect), "httpchk",
// "tcp-check", "redis-check", "ssl-hello-chk", "mysql-check" with [user
// <name> [post-41|pre-41]], "pgsql-check" with user <name>, "ldap-check",
// "smtpchk" with [EHLO|HELO <domain>]. Other options return an error.
func ParseCheckOption(cfg *Config, option string, args []string) error {
	switch option {
	case "":
		cfg.Kind = KindTCP
	case "httpchk":
		cfg.Kind = KindHTTP
	case "tcp-check":
		cfg.Kind = KindTCPCheck
	case "ssl-hello-chk":
		cfg.Kind = KindSSLHello
	case "redis-check":
		cfg.Kind = KindRedis
	case "ldap-check":
		cfg.Kind = KindLDAP
	case "pgsql-check":
		if len(args) < 2 || args[0] != "user" || args[1] == "" {
			return fmt.Errorf("health: 'option pgsql-check' expects 'user <username>' as argument: %w", errSyntax)
		}
		cfg.Kind, cfg.PgSQLUser = KindPgSQL, args[1]
	case "smtpchk":
		cfg.Kind, cfg.SMTPCmd = KindSMTP, "HELO localhost"
		if len(args) >= 2 && (args[0] == "EHLO" || args[0] == "HELO") && args[1] != "" {
			cfg.SMTPCmd = args[0] + " " + args[1]
		}
	case "mysql-check":
		return parseMySQLCheck(cfg, args)
	default:
		return fmt.Errorf("health: option %q: %w", option, errUnsupported)
	}
	return nil
}

// parseMySQLCheck reads mysql-check's arguments, with HAProxy 2.6's
// messages.
func parseMySQLCheck(cfg *Config, args []string) error {
	cfg.Kind, cfg.MySQLUser, cfg.MySQLPre41 = KindMySQL, "", false
	if len(args) == 0 {
		return nil
	}
	if args[0] != "user" {
		return fmt.Errorf("health: 'option mysql-check' only supports optional values: 'user' (got '%s'): %w", args[0], errSyntax)
	}
	if len(args) < 2 || args[1] == "" {
		return fmt.Errorf("health: 'option mysql-check user' expects <username> as argument: %w", errSyntax)
	}
	cfg.MySQLUser = args[1]
	if len(args) > 2 {
		switch args[2] {
		case "post-41", "":
		case "pre-41":
			cfg.MySQLPre41 = true
		default:
			return fmt.Errorf("health: keyword 'user' only supports 'post-41' and 'pre-41' (got '%s'): %w", args[2], errSyntax)
		}
	}
	if len(args) > 3 {
		return fmt.Errorf("health: 'option mysql-check user': unexpected %q: %w", args[3], errSyntax)
	}
	return nil
}

// statusByCode maps the check_status codes ok-status, error-status and
// tout-status name.
var statusByCode = map[string]Status{"L4OK": StatusL4OK, "L4TOUT": StatusL4Tout, "L4CON": StatusL4Con,
	"L6OK": StatusL6OK, "L6TOUT": StatusL6Tout, "L6RSP": StatusL6Rsp, "L7TOUT": StatusL7Tout,
	"L7RSP": StatusL7Rsp, "L7OK": StatusL7OK, "L7OKC": StatusL7OKC, "L7STS": StatusL7Sts}

// expectOption reads one expect option and its value into o; ok is false
// when name is not an option.
func expectOption(o *ExpectOpts, name, v string) (ok bool, err error) {
	switch name {
	case "min-recv":
		n, err := strconv.Atoi(v)
		if err != nil {
			return true, fmt.Errorf("expect: min-recv %q: %w", v, errSyntax)
		}
		o.MinRecv = n
	case "ok-status", "error-status", "tout-status":
		st, known := statusByCode[v]
		if !known {
			return true, fmt.Errorf("expect: %s %q: %w", name, v, errSyntax)
		}
		switch name {
		case "ok-status":
			o.OKStatus = st
		case "error-status":
			o.ErrStatus = st
		default:
			o.ToutStatus = st
		}
	case "on-success":
		o.OnSuccess = v
	case "on-error":
		o.OnError = v
	case "comment":
		o.Comment = v
	case "status-code":
		// Compiled by the rule's parser, which has the compilers.
		o.StatusCodeExpr = v
	default:
		return false, nil
	}
	return true, nil
}

// expectKinds are the match words of expect rules.
var expectKinds = map[string]Match{"string": MatchString, "binary": MatchBinary, "rstring": MatchRString,
	"rbinary": MatchRBinary, "status": MatchStatus, "rstatus": MatchRStatus, "hdr": MatchHeader, "fhdr": MatchHeader}

// lfKinds are the match words whose pattern is a log-format, with the
// match of its result.
var lfKinds = map[string]Match{"string-lf": MatchString, "binary-lf": MatchBinary}

// parseExpect reads "[options] [!] <match> <pattern> [options]": options
// go anywhere, as HAProxy reads them. A header match (hdr, fhdr) has its
// pattern in hdr, the others in pattern; lf tells a log-format pattern
// (string-lf, binary-lf).
func parseExpect(args []string) (m Match, neg bool, pattern string, o ExpectOpts, hdr HeaderMatch, lf bool, err error) {
	o.MinRecv = -1
	for i := 0; i < len(args); i++ {
		w := args[i]
		if i+1 < len(args) {
			if ok, err := expectOption(&o, w, args[i+1]); ok {
				if err != nil {
					return 0, false, "", o, hdr, false, err
				}
				i++
				continue
			}
		}
		kind, known := expectKinds[w]
		if lk, ok := lfKinds[w]; ok && m == MatchNone {
			kind, known, lf = lk, true, true
		}
		switch {
		case w == "!" && m == MatchNone:
			neg = true
		case known && m == MatchNone:
			m = kind
			if kind == MatchHeader {
				n, err := parseHeaderMatch(&hdr, w == "fhdr", args[i+1:])
				if err != nil {
					return 0, false, "", o, hdr, false, err
				}
				i += n
				continue
			}
			if i+1 >= len(args) {
				return 0, false, "", o, hdr, false, fmt.Errorf("expect %s: no pattern: %w", w, errSyntax)
			}
			pattern = args[i+1]
			i++
		case m == MatchNone:
			return 0, false, "", o, hdr, false, fmt.Errorf("expect: match %q: %w", w, errUnsupported)
		default:
			return 0, false, "", o, hdr, false, fmt.Errorf("expect: unexpected %q: %w", w, errSyntax)
		}
	}
	if m == MatchNone {
		return 0, false, "", o, hdr, false, fmt.Errorf("expect: want [!] <match> <pattern>: %w", errSyntax)
	}
	return m, neg, pattern, o, hdr, lf, nil
}

// parseHeaderMatch reads "name [-m meth] <name> [value [-m meth] <value>]
// [full]" into h; it returns the number of words read.
func parseHeaderMatch(h *HeaderMatch, full bool, args []string) (int, error) {
	h.Full, h.NameMeth, h.ValueMeth = full, "str", "str"
	i := 0
	part := func(what string, meth, pat *string, re **regexp.Regexp) error {
		if i >= len(args) || args[i] != what {
			return fmt.Errorf("expect hdr: want %q: %w", what, errSyntax)
		}
		i++
		if i+1 < len(args) && args[i] == "-m" {
			*meth = args[i+1]
			i += 2
		}
		if i >= len(args) {
			return fmt.Errorf("expect hdr: %s: no pattern: %w", what, errSyntax)
		}
		*pat = args[i]
		i++
		switch *meth {
		case "str", "beg", "end", "sub":
		case "reg":
			r, err := regexp.Compile(*pat)
			if err != nil {
				return err
			}
			*re = r
		default:
			return fmt.Errorf("expect hdr: -m %q: %w", *meth, errSyntax)
		}
		return nil
	}
	if err := part("name", &h.NameMeth, &h.Name, &h.NameRe); err != nil {
		return 0, err
	}
	if i < len(args) && args[i] == "value" {
		h.HasValue = true
		if err := part("value", &h.ValueMeth, &h.Value, &h.ValueRe); err != nil {
			return 0, err
		}
	}
	if i < len(args) && args[i] == "full" {
		h.Full = true
		i++
	}
	return i, nil
}

var errSyntax = errors.New("syntax error")

// ParseTCPCheck converts "tcp-check" lines, each the words after
// "tcp-check" ("send", "PING\r\n"), into rules: connect [port N] [addr A]
// [ssl] [sni S] [alpn L] [send-proxy] [via-socks4] [linger] [default]
// [comment C], send, send-binary, expect [!] string|binary|rstring|rbinary
// with its options, comment. Each rule's Step is its line's place, comments
// included, as in HAProxy's messages.
func ParseTCPCheck(lines [][]string) ([]Rule, error) {
	return ParseTCPCheckWith(lines, nil)
}

// ParseTCPCheckWith is ParseTCPCheck with the rules that evaluate
// expressions at each run, compiled by x: set-var(<var>) <expr>,
// set-var-fmt(<var>) <fmt>, unset-var(<var>), send-lf, send-binary-lf,
// expect [!] string-lf|binary-lf.
func ParseTCPCheckWith(lines [][]string, x *Compilers) ([]Rule, error) {
	var rules []Rule
	for i, words := range lines {
		if len(words) == 0 {
			continue
		}
		r, skip, err := parseTCPRule(words, x)
		if err != nil {
			return nil, fmt.Errorf("health: tcp-check rule %d %q: %w", i+1, strings.Join(words, " "), err)
		}
		r.Step = i + 1
		if !skip {
			rules = append(rules, r)
		}
	}
	return rules, nil
}

// Evaluates reports whether the rule evaluates an expression at each run,
// on the run's state (Config.NewRun).
func (r *Rule) Evaluates() bool {
	return r.Var != nil || r.Format != nil || r.PortExpr != nil || r.StatusCode != nil
}

func parseTCPRule(words []string, x *Compilers) (r Rule, skip bool, err error) {
	args := words[1:]
	if strings.HasPrefix(words[0], "set-var") || strings.HasPrefix(words[0], "unset-var") {
		if x == nil || x.Var == nil {
			return r, false, fmt.Errorf("action %q: %w", words[0], errUnsupported)
		}
		r.Action = ActVar
		r.Var, err = x.Var(words[0], args)
		return r, false, err
	}
	switch words[0] {
	case "comment":
		return r, true, nil
	case "connect":
		r.Action = ActConnect
		for len(args) > 0 {
			one := func() (string, error) {
				if len(args) < 2 {
					return "", fmt.Errorf("connect %s: no value: %w", args[0], errSyntax)
				}
				v := args[1]
				args = args[2:]
				return v, nil
			}
			var v string
			switch args[0] {
			case "port":
				if v, err = one(); err != nil {
					return r, false, err
				}
				if v != "" && strings.Trim(v, "0123456789") == "" {
					p, err := strconv.Atoi(v)
					if err != nil || p < 1 || p > 65535 {
						return r, false, fmt.Errorf("port %q: %w", v, errSyntax)
					}
					r.Port, r.PortExpr = p, nil
					break
				}
				// HAProxy takes what is not a number for a sample
				// expression.
				if x == nil || x.Int == nil {
					return r, false, fmt.Errorf("port %q: %w", v, errUnsupported)
				}
				if r.PortExpr, err = x.Int("port", v); err != nil {
					return r, false, err
				}
				r.Port = 0
			case "addr":
				if r.Addr, err = one(); err != nil {
					return r, false, err
				}
			case "sni":
				if r.SNI, err = one(); err != nil {
					return r, false, err
				}
			case "alpn":
				if v, err = one(); err != nil {
					return r, false, err
				}
				r.ALPN = strings.Split(v, ",")
			case "comment":
				if r.Comment, err = one(); err != nil {
					return r, false, err
				}
			case "ssl", "send-proxy", "via-socks4", "linger", "default":
				switch args[0] {
				case "ssl":
					r.SSL = true
				case "send-proxy":
					r.SendProxy = true
				case "via-socks4":
					r.ViaSocks4 = true
				case "default":
					r.Default = true
				}
				// linger: lb closes every check connection with a reset
				// (SO_LINGER 0), which is what linger asks.
				args = args[1:]
			default:
				return r, false, fmt.Errorf("connect option %q: %w", args[0], errUnsupported)
			}
		}
	case "send-lf", "send-binary-lf":
		if len(args) < 1 {
			return r, false, errSyntax
		}
		r.Action, r.Hex = ActSend, words[0] == "send-binary-lf"
		if r.Format, err = compileFormat(x, words[0], args[0]); err != nil {
			return r, false, err
		}
		if len(args) >= 3 && args[1] == "comment" {
			r.Comment = args[2]
		}
	case "send", "send-binary":
		if len(args) < 1 {
			return r, false, errSyntax
		}
		r.Action, r.Data = ActSend, []byte(args[0])
		if words[0] == "send-binary" {
			if r.Data, err = hex.DecodeString(args[0]); err != nil {
				return r, false, fmt.Errorf("hex %q: %w", args[0], err)
			}
		}
		if len(args) >= 3 && args[1] == "comment" {
			r.Comment = args[2]
		}
	case "expect":
		m, neg, pat, o, _, lf, err := parseExpect(args)
		if err != nil {
			return r, false, err
		}
		if o.StatusCode, err = compileStatusCode(x, o.StatusCodeExpr); err != nil {
			return r, false, err
		}
		r.Action, r.Match, r.Negate, r.ExpectOpts = ActExpect, m, neg, o
		r.Comment = o.Comment
		switch {
		case lf:
			r.Hex = m == MatchBinary
			r.Format, err = compileFormat(x, words[0], pat)
			return r, false, err
		}
		switch m {
		case MatchString:
			r.Data = []byte(pat)
		case MatchBinary:
			if r.Data, err = hex.DecodeString(pat); err != nil {
				return r, false, fmt.Errorf("hex %q: %w", pat, err)
			}
		case MatchRString, MatchRBinary:
			if r.Regexp, err = regexp.Compile(pat); err != nil {
				return r, false, err
			}
		default:
			return r, false, fmt.Errorf("tcp-check expect: %w", errUnsupported)
		}
	default:
		return r, false, fmt.Errorf("action %q: %w", words[0], errUnsupported)
	}
	return r, false, nil
}

// ParseHTTPCheck applies "http-check" lines, each the words after
// "http-check", to cfg.HTTP, cfg.Expect, cfg.DisableOn404 and cfg.Addr.
// Supported: send [meth M] [uri U] [ver V] [hdr NAME VALUE]… [body S], one
// expect [!] status|rstatus|string|rstring, connect [port N] (before the
// request), disable-on-404, comment, and send-state, which is accepted and
// ignored.
func ParseHTTPCheck(cfg *Config, lines [][]string) error {
	return ParseHTTPCheckWith(cfg, lines, nil)
}

// ParseHTTPCheckWith is ParseHTTPCheck with the rules that evaluate
// expressions at each run, compiled by x: set-var(<var>) <expr>,
// set-var-fmt(<var>) <fmt>, unset-var(<var>), send uri-lf|body-lf <fmt>,
// send hdr <name> <fmt> with a log-format value, expect [!] string-lf
// <fmt>. When one is there, cfg.NewRun is x.NewRun.
func ParseHTTPCheckWith(cfg *Config, lines [][]string, x *Compilers) error {
	var steps []HTTPStep
	sends, expects := 0, 0
	vars := false
	for i, words := range lines {
		if len(words) == 0 {
			continue
		}
		st, err := parseHTTPRule(cfg, words, sends == 0, x)
		if err != nil {
			return fmt.Errorf("health: http-check rule %d %q: %w", i+1, strings.Join(words, " "), err)
		}
		switch {
		case st.Connect != nil:
			st.Connect.Step = i + 1
		case st.Send != nil:
			sends++
		case st.Expect != nil:
			expects++
		case st.Var != nil:
			vars = true
		default:
			continue
		}
		steps = append(steps, st)
	}
	if len(steps) == 0 {
		return nil
	}
	if vars || cfg.HTTP.dynamic() || slices.ContainsFunc(steps, func(s HTTPStep) bool {
		return s.Send != nil && s.Send.dynamic() || s.Expect != nil && (s.Expect.Format != nil || s.Expect.StatusCode != nil) ||
			s.Connect != nil && s.Connect.PortExpr != nil
	}) {
		cfg.NewRun = x.NewRun
	}
	// As HAProxy builds the rule set: one implicit send of the "option
	// httpchk" request when no rule sends (after the first connect), and
	// an implicit expect (2xx or 3xx) after a last send.
	if sends == 0 {
		req := cfg.HTTP
		at := 0
		// Variables may come before the first connect.
		if i := slices.IndexFunc(steps, func(s HTTPStep) bool { return s.Var == nil }); i >= 0 && steps[i].Connect != nil {
			at = i + 1
		}
		steps = slices.Insert(steps, at, HTTPStep{Send: &req})
	}
	if last := steps[len(steps)-1]; last.Send != nil || expects == 0 {
		steps = append(steps, HTTPStep{Expect: &Expect{}})
	}
	// The simple case keeps the single-exchange fields too.
	for _, st := range steps {
		switch {
		case st.Connect != nil && cfg.HTTPConnect == nil && st.Connect == steps[0].Connect:
			cfg.HTTPConnect = st.Connect
		case st.Expect != nil && expects <= 1:
			cfg.Expect = *st.Expect
		}
	}
	// The variables run in their order with the others: only the
	// sequence keeps it.
	if vars || sends > 1 || expects > 1 || (cfg.HTTPConnect == nil && slices.ContainsFunc(steps, func(s HTTPStep) bool { return s.Connect != nil })) {
		cfg.HTTPSteps = steps
	}
	return nil
}

// parseHTTPRule reads one http-check rule into a step (none for
// disable-on-404 and comment). The first send completes the "option
// httpchk" request in cfg.HTTP, the others start from HAProxy's defaults
// (OPTIONS / HTTP/1.0).
func parseHTTPRule(cfg *Config, words []string, first bool, x *Compilers) (HTTPStep, error) {
	args := words[1:]
	if strings.HasPrefix(words[0], "set-var") || strings.HasPrefix(words[0], "unset-var") {
		if x == nil || x.Var == nil {
			return HTTPStep{}, fmt.Errorf("action %q: %w", words[0], errUnsupported)
		}
		fn, err := x.Var(words[0], args)
		return HTTPStep{Var: fn}, err
	}
	switch words[0] {
	case "comment":
		return HTTPStep{}, nil
	case "disable-on-404":
		cfg.DisableOn404 = true
		return HTTPStep{}, nil
	case "connect":
		r, _, err := parseTCPRule(words, x)
		if err != nil {
			return HTTPStep{}, err
		}
		return HTTPStep{Connect: &r}, nil
	case "send":
		req := &HTTPRequest{Method: "OPTIONS", URI: "/", Version: "HTTP/1.0"}
		if first {
			req = &cfg.HTTP
		}
		for len(args) > 0 {
			need := 2
			if args[0] == "hdr" {
				need = 3
			}
			if len(args) < need {
				return HTTPStep{}, fmt.Errorf("send %q needs %d arguments: %w", args[0], need-1, errSyntax)
			}
			var err error
			switch args[0] {
			case "meth":
				req.Method = args[1]
			case "uri":
				req.URI, req.URIFormat = args[1], nil
			case "uri-lf":
				req.URIFormat, err = compileFormat(x, "send", args[1])
			case "ver":
				req.Version = args[1]
			case "hdr":
				// A header value is a log-format: one without a '%'
				// is its own text.
				var fn func([]byte, any) []byte
				if strings.Contains(args[2], "%") {
					if fn, err = compileFormat(x, "send hdr", args[2]); err != nil {
						break
					}
				}
				if fn != nil && len(req.HeaderFormats) < len(req.Headers) {
					req.HeaderFormats = append(req.HeaderFormats, make([]func([]byte, any) []byte, len(req.Headers)-len(req.HeaderFormats))...)
				}
				req.Headers = append(req.Headers, [2]string{args[1], args[2]})
				if fn != nil || len(req.HeaderFormats) > 0 {
					req.HeaderFormats = append(req.HeaderFormats, fn)
				}
			case "body":
				req.Body, req.BodyFormat = args[1], nil
			case "body-lf":
				req.BodyFormat, err = compileFormat(x, "send", args[1])
			case "comment":
			default:
				return HTTPStep{}, fmt.Errorf("send option %q: %w", args[0], errUnsupported)
			}
			if err != nil {
				return HTTPStep{}, err
			}
			args = args[need:]
		}
		if first {
			c := *req
			c.Headers = slices.Clone(req.Headers)
			c.HeaderFormats = slices.Clone(req.HeaderFormats)
			req = &c
		}
		return HTTPStep{Send: req}, nil
	case "expect":
		m, neg, pat, o, hdr, lf, err := parseExpect(args)
		if err != nil {
			return HTTPStep{}, err
		}
		if o.StatusCode, err = compileStatusCode(x, o.StatusCodeExpr); err != nil {
			return HTTPStep{}, err
		}
		e := Expect{Match: m, Negate: neg, ExpectOpts: o, Hdr: hdr}
		switch {
		case lf && m == MatchString:
			e.Format, err = compileFormat(x, "expect", pat)
			return HTTPStep{Expect: &e}, err
		case lf:
			return HTTPStep{}, fmt.Errorf("http-check expect binary-lf: %w", errUnsupported)
		}
		switch m {
		case MatchHeader:
		case MatchStatus:
			if e.Codes, err = ParseStatusCodes(pat); err != nil {
				return HTTPStep{}, err
			}
		case MatchString:
			e.String = pat
		case MatchRStatus, MatchRString:
			if e.Regexp, err = regexp.Compile(pat); err != nil {
				return HTTPStep{}, err
			}
		default:
			return HTTPStep{}, fmt.Errorf("http-check expect: %w", errUnsupported)
		}
		return HTTPStep{Expect: &e}, nil
	}
	return HTTPStep{}, fmt.Errorf("action %q: %w", words[0], errUnsupported)
}

// compileStatusCode compiles an expect rule's status-code expression with
// x (nil without one).
func compileStatusCode(x *Compilers, text string) (func(any) (int64, bool), error) {
	if text == "" {
		return nil, nil
	}
	if x == nil || x.Int == nil {
		return nil, fmt.Errorf("expect: status-code %q: %w", text, errUnsupported)
	}
	return x.Int("status-code", text)
}

// compileFormat compiles a rule's log-format argument with x.
func compileFormat(x *Compilers, action, text string) (func(dst []byte, run any) []byte, error) {
	if x == nil || x.Format == nil {
		return nil, fmt.Errorf("log-format %q: %w", text, errUnsupported)
	}
	return x.Format(action, text)
}
