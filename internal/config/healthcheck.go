package config

import (
	"fmt"
	"slices"
	"strings"
)

// The health-check rules: "http-check" and "tcp-check" lines and the check
// options that select them. lb runs them in internal/health, which reads
// them again from the words kept in Rule; these tables say what it can
// run.

// checkActions lists the actions of each rule set.
var checkActions = map[string]map[string]kwStatus{
	"http-check": {"connect": kwSupported, "send": kwSupported, "expect": kwSupported,
		"disable-on-404": kwSupported, "comment": kwSupported, "send-state": kwUnsupported,
		"set-var": kwSupported, "set-var-fmt": kwSupported, "unset-var": kwSupported},
	"tcp-check": {"connect": kwSupported, "send": kwSupported, "send-binary": kwSupported,
		"expect": kwSupported, "comment": kwSupported, "send-lf": kwSupported,
		"send-binary-lf": kwSupported, "set-var": kwSupported, "set-var-fmt": kwSupported,
		"unset-var": kwSupported},
}

// checkConnectOptions are the options of "http-check connect" and
// "tcp-check connect", with their number of arguments.
var checkConnectOptions = map[string]struct {
	nargs  int
	status kwStatus
}{
	"port": {1, kwSupported}, "comment": {1, kwSupported}, "addr": {1, kwSupported},
	"send-proxy": {0, kwSupported}, "ssl": {0, kwSupported}, "sni": {1, kwSupported},
	"alpn": {1, kwSupported}, "via-socks4": {0, kwSupported}, "linger": {0, kwSupported},
	"default": {0, kwSupported},
}

// checkSendOptions are the options of "http-check send", with their number
// of arguments.
var checkSendOptions = map[string]struct {
	nargs  int
	status kwStatus
}{
	"meth": {1, kwSupported}, "uri": {1, kwSupported}, "ver": {1, kwSupported}, "hdr": {2, kwSupported},
	"body": {1, kwSupported}, "comment": {1, kwSupported}, "uri-lf": {1, kwSupported},
	"body-lf": {1, kwSupported},
}

// expectKinds are the match methods of "<set> expect", per rule set as
// HAProxy 2.6 accepts them.
var expectKinds = map[string]map[string]kwStatus{
	"http-check": {"status": kwSupported, "rstatus": kwSupported, "string": kwSupported,
		"rstring": kwSupported, "hdr": kwSupported, "fhdr": kwSupported, "string-lf": kwSupported},
	"tcp-check": {"string": kwSupported, "binary": kwSupported, "rstring": kwSupported,
		"rbinary": kwSupported, "string-lf": kwSupported, "binary-lf": kwSupported},
}

// expectKindsMsg is HAProxy's list of the match methods of each set.
var expectKindsMsg = map[string]string{
	"http-check": "'only supports min-recv, [!]string', '[!]rstring', '[!]string-lf', '[!]status', '[!]rstatus', [!]hdr, [!]fhdr or comment",
	"tcp-check":  "'only supports min-recv, '[!]binary', '[!]string', '[!]rstring', '[!]string-lf''[!]rbinary', '[!]binary-lf' or comment",
}

// expectOptions are the options of "<set> expect" that take one value.
var expectOptions = map[string]kwStatus{"comment": kwSupported, "min-recv": kwSupported,
	"ok-status": kwSupported, "error-status": kwSupported, "tout-status": kwSupported,
	"on-success": kwSupported, "on-error": kwSupported, "status-code": kwSupported}

// expectStatuses are the values of ok-status, error-status and tout-status
// HAProxy 2.6 accepts.
var expectStatuses = map[string][]string{
	"ok-status":    {"L7OK", "L7OKC", "L6OK", "L4OK"},
	"error-status": {"L7RSP", "L7STS", "L6RSP", "L4CON"},
	"tout-status":  {"L7TOUT", "L6TOUT", "L4TOUT"},
}

func kwCheckRule(c *pctx) error {
	set := c.args[0]
	if len(c.args) < 2 {
		return fmt.Errorf("'%s' expects an action.", set)
	}
	act := c.args[1]
	st, known := checkActions[set][actionBase(act)]
	if !known {
		return fmt.Errorf("'%s' : unknown directive '%s'.", set, act)
	}
	if st == kwUnsupported {
		return fmt.Errorf("'%s %s' is not supported by lb yet", set, actionBase(act))
	}
	args := c.args[2:]
	var err error
	switch act {
	case "comment":
		if len(args) == 0 || args[0] == "" {
			err = fmt.Errorf("'%s comment' : expects a string as argument.", set)
		}
	case "connect":
		err = checkConnect(set, args)
	case "expect":
		err = checkExpect(set, args)
	case "send":
		if set == "http-check" {
			err = checkHTTPCheckSend(args)
		}
	case "send-lf", "send-binary-lf":
		err = checkSendLF(set, act, args)
	default:
		if isVarAction(act) {
			err = checkVarAction(set, act, args)
		}
	}
	if err != nil {
		return err
	}
	if err := c.connectFirst(set, act); err != nil {
		return err
	}
	r := &Rule{Pos: c.pos, Action: act, Args: args}
	// HAProxy keeps one list of check rules per proxy: a rule of the other
	// set replaces what the list held.
	if set == "http-check" {
		c.p.Check.TCPCheck = nil
		c.p.Check.HTTPCheck = append(c.p.Check.HTTPCheck, r)
	} else {
		c.p.Check.HTTPCheck = nil
		c.p.Check.TCPCheck = append(c.p.Check.TCPCheck, r)
	}
	return nil
}

// checkSendLF validates "tcp-check send-lf|send-binary-lf <fmt> [comment
// <c>]"; the format is compiled with the checks (plane.CheckHealthRules).
func checkSendLF(set, act string, args []string) error {
	if len(args) == 0 || args[0] == "" {
		// Sic: HAProxy 2.6's words.
		return fmt.Errorf("'%s %s' : 'string' expects a %s as argument.", set, act, act)
	}
	if len(args) > 1 && !(args[1] == "comment" && len(args) == 3) {
		return fmt.Errorf("'%s %s' with words after its format ('%s') is not supported by lb yet", set, act, args[1])
	}
	return nil
}

// checkVarAction validates "set-var(<var>[,<cond>…]) <expr>",
// "set-var-fmt(<var>[,<cond>…]) [<fmt>]" and "unset-var(<var>)" as
// HAProxy 2.6 reads them; the variable, its conditions and the expression
// are compiled with the checks (plane.CheckHealthRules).
func checkVarAction(set, act string, args []string) error {
	verb, spec, paren := strings.Cut(act, "(")
	prefix := fmt.Sprintf("'%s %s' : '%s' :", set, act, verb)
	expects := "Expects 'set-var(<var-name>)', 'set-var-fmt(<var-name>)' or 'unset-var(<var-name>)'."
	switch {
	case !paren || spec == "":
		return fmt.Errorf("%s invalid or incomplete action '%s'. %s", prefix, act, expects)
	case !strings.HasSuffix(spec, ")"):
		return fmt.Errorf("%s incomplete argument after action '%s'. %s", prefix, act, expects)
	case verb == "unset-var" && strings.Contains(spec, ","):
		return fmt.Errorf("%s unset-var does not expect parameters after the variable name. Only \"set-var\" and \"set-var-fmt\" manage conditions.", prefix)
	case verb == "set-var" && (len(args) == 0 || args[0] == ""):
		return fmt.Errorf("%s missing fetch method.", prefix)
	}
	// HAProxy reads the words it needs and ignores the others (even "if
	// <cond>"): lb refuses them rather than ignore them.
	n := map[string]int{"set-var": 1, "set-var-fmt": 1, "unset-var": 0}[verb]
	if len(args) > n {
		return fmt.Errorf("'%s %s' with words after its %s ('%s') is not supported by lb yet", set, verb,
			map[bool]string{true: "variable", false: "argument"}[n == 0], args[n])
	}
	return nil
}

// connectFirst applies HAProxy's rule: once a rule set has a connect, its
// first step is a connect, with only comments (or variables) before it.
func (c *pctx) connectFirst(set, act string) error {
	rules := c.p.Check.TCPCheck
	if set == "http-check" {
		rules = c.p.Check.HTTPCheck
	}
	first := act
	if isVarAction(act) {
		first = "connect"
	}
	for _, r := range rules {
		if r.Action != "comment" && r.Action != "disable-on-404" && !isVarAction(r.Action) {
			first = r.Action
			break
		}
	}
	hasConnect := act == "connect" || slices.ContainsFunc(rules, func(r *Rule) bool { return r.Action == "connect" })
	if hasConnect && first != "connect" {
		return fmt.Errorf("'%s %s' : first step MUST also be a 'connect', optionally preceded by a 'set-var', an 'unset-var' or a 'comment', when there is a 'connect' step in the tcp-check ruleset.", set, act)
	}
	return nil
}

// checkConnect validates "<set> connect [options]".
func checkConnect(set string, args []string) error {
	for i := 0; i < len(args); i++ {
		o, ok := checkConnectOptions[args[i]]
		if !ok {
			return fmt.Errorf("'%s connect' : expects 'comment', 'port', 'addr', 'send-proxy', 'ssl', 'sni', 'alpn' or 'via-socks4', 'linger', 'default' but got '%s' as argument.", set, args[i])
		}
		if o.status == kwUnsupported {
			return fmt.Errorf("'%s connect %s' is not supported by lb yet", set, args[i])
		}
		if o.nargs > 0 && (i+o.nargs >= len(args) || args[i+1] == "") {
			if args[i] == "port" {
				return fmt.Errorf("'%s connect' : 'port' expects a port number or a sample expression as argument.", set)
			}
			return fmt.Errorf("'%s connect' : '%s' expects a string as argument.", set, args[i])
		}
		// What is not all digits is a sample expression, compiled with
		// the checks (plane.CheckHealthRules).
		if args[i] == "port" && strings.Trim(args[i+1], "0123456789") == "" {
			if v := args[i+1]; parseUint16(v) == 0 {
				// Sic: HAProxy's two periods.
				return fmt.Errorf("'%s connect' : expects a valid TCP port (from range 1 to 65535) or a sample expression, got %s..", set, v)
			}
		}
		i += o.nargs
	}
	return nil
}

// checkHTTPCheckSend validates "http-check send" arguments; the
// log-formats (uri-lf, body-lf, a header's value) are compiled with the
// checks (plane.CheckHealthRules).
func checkHTTPCheckSend(args []string) error {
	for i := 0; i < len(args); i++ {
		o, ok := checkSendOptions[args[i]]
		if !ok {
			return fmt.Errorf("'http-check send' : expects 'comment', 'meth', 'uri', 'uri-lf', 'ver', 'hdr', 'body' or 'body-lf' but got '%s' as argument.", args[i])
		}
		if i+o.nargs >= len(args) {
			return fmt.Errorf("'http-check send' : '%s' expects %s.", args[i], map[int]string{1: "a value", 2: "a name and a value"}[o.nargs])
		}
		if o.status == kwUnsupported {
			return fmt.Errorf("'http-check send %s' is not supported by lb yet", args[i])
		}
		i += o.nargs
	}
	return nil
}

// checkExpect validates "<set> expect [options] [!] <match> <pattern>": one
// match method of the set with its pattern, options anywhere, nothing else.
func checkExpect(set string, args []string) error {
	match := ""
	for i := 0; i < len(args); i++ {
		w := args[i]
		ost, isOpt := expectOptions[w]
		kst, isKind := expectKinds[set][w]
		switch {
		case w == "!":
		case isOpt:
			if i+1 >= len(args) {
				return fmt.Errorf("'%s expect' : '%s' expects an argument.", set, w)
			}
			if ost == kwUnsupported {
				return fmt.Errorf("'%s expect %s' is not supported by lb yet", set, w)
			}
			v := args[i+1]
			switch w {
			case "min-recv":
				if _, err := parseInt(v); err != nil {
					return fmt.Errorf("'%s expect' : '%s' expects an integer as argument.", set, w)
				}
			case "ok-status", "error-status", "tout-status":
				if !slices.Contains(expectStatuses[w], v) {
					return fmt.Errorf("'%s expect' : '%s' only supports '%s' status (got '%s').", set, w, strings.Join(expectStatuses[w], "', '"), v)
				}
			case "on-success", "on-error":
				// HAProxy reads a log-format string: lb carries out the
				// text ones.
				if strings.Contains(v, "%") {
					return fmt.Errorf("'%s expect %s' is not supported by lb yet with a log-format expression ('%s')", set, w, v)
				}
			}
			i++
		case isKind && match == "":
			if kst == kwUnsupported {
				return fmt.Errorf("'%s expect %s' is not supported by lb yet", set, w)
			}
			match = w
			if w == "hdr" || w == "fhdr" {
				n, err := checkExpectHdr(w, args[i+1:])
				if err != nil {
					return err
				}
				i += n
				continue
			}
			if i+1 >= len(args) {
				return fmt.Errorf("'%s expect %s' expects <pattern> as an argument.", set, w)
			}
			i++
		case match != "":
			return fmt.Errorf("'%s expect' : unexpected argument '%s' after the pattern.", set, w)
		default:
			return fmt.Errorf("'%s expect' : %s but got '%s' as argument.", set, expectKindsMsg[set], w)
		}
	}
	if match == "" {
		return fmt.Errorf("'%s expect' : %s but got '' as argument.", set, expectKindsMsg[set])
	}
	return nil
}

// checkExpectHdr validates what follows "http-check expect hdr|fhdr":
// "name [-m <meth>] <name> [value [-m <meth>] <value>] [full]"; it returns
// the number of words read.
func checkExpectHdr(kind string, args []string) (int, error) {
	meths := []string{"str", "beg", "end", "sub", "reg"}
	i := 0
	part := func(what string) error {
		switch {
		case i >= len(args):
			return fmt.Errorf("'http-check expect %s' : missing header %s.", kind, what)
		case args[i] == what+"-lf":
			return fmt.Errorf("'http-check expect %s %s-lf' is not supported by lb yet", kind, what)
		case args[i] != what:
			return fmt.Errorf("'http-check expect %s' : '%s' expected but got '%s'.", kind, what, args[i])
		}
		i++
		if i < len(args) && args[i] == "-m" {
			if i+1 >= len(args) || !slices.Contains(meths, args[i+1]) {
				return fmt.Errorf("'http-check expect %s' : '-m' expects 'str', 'beg', 'end', 'sub' or 'reg'.", kind)
			}
			i += 2
		}
		if i >= len(args) || args[i] == "" {
			return fmt.Errorf("'http-check expect %s' : '%s' expects a pattern.", kind, what)
		}
		i++
		return nil
	}
	if err := part("name"); err != nil {
		return 0, err
	}
	if i < len(args) && (args[i] == "value" || args[i] == "value-lf") {
		if err := part("value"); err != nil {
			return 0, err
		}
	}
	if i < len(args) && args[i] == "full" {
		i++
	}
	return i, nil
}

// checkOptionRules applies a check option to the rules read so far, as
// HAProxy does: "option tcp-check" keeps tcp-check rules, "option httpchk"
// http-check rules, and the protocol checks (redis-check, …) bring their
// own.
func (c *pctx) checkOptionRules(option string) {
	switch option {
	case "tcp-check":
		c.p.Check.HTTPCheck = nil
	case "httpchk":
		c.p.Check.TCPCheck = nil
	default:
		c.p.Check.HTTPCheck, c.p.Check.TCPCheck = nil, nil
	}
}

// checkRulesUsed warns about check rules the backend's check type ignores,
// with HAProxy's words, and drops them.
func (l *loader) checkRulesUsed(p *Proxy) {
	if p.Cap&CapBackend == 0 {
		return
	}
	if len(p.Check.TCPCheck) > 0 && p.Check.Type != "tcp-check" {
		l.warn(p.Pos, "%s '%s' uses tcp-check rules without 'option tcp-check', so the rules are ignored.", proxyWord(p.Cap), p.Name)
		p.Check.TCPCheck = nil
	}
	if len(p.Check.HTTPCheck) > 0 && p.Check.Type != "httpchk" {
		l.warn(p.Pos, "%s '%s' uses http-check rules without 'option httpchk', so the rules are ignored.", proxyWord(p.Cap), p.Name)
		p.Check.HTTPCheck = nil
	}
}

// protocolCheckOption is "option redis-check", "ldap-check",
// "pgsql-check user <name>" or "smtpchk [EHLO|HELO <domain>]", with HAProxy
// 2.6's messages for their arguments.
func protocolCheckOption(typ string) optionKW {
	return optionKW{cap: CapBackend, args: true, fn: func(c *pctx, args []string) error {
		max := 0
		switch typ {
		case "pgsql-check":
			if len(args) < 2 || args[0] != "user" || args[1] == "" {
				return fmt.Errorf("'option pgsql-check' expects 'user <username>' as argument.")
			}
			max = 2
		case "smtpchk":
			max = 2
		}
		if len(args) > max && args[max] != "" {
			return fmt.Errorf("'option %s' cannot handle unexpected argument '%s'.", typ, args[max])
		}
		c.p.Check.Type, c.p.Check.Args = typ, append([]string(nil), args...)
		c.checkOptionRules(typ)
		return nil
	}}
}

// isVarAction reports whether a check rule's action is set-var,
// set-var-fmt or unset-var, which may come before the first connect.
func isVarAction(act string) bool {
	b := actionBase(act)
	return b == "set-var" || b == "set-var-fmt" || b == "unset-var"
}

// parseUint16 is a port number of digits in 1-65535, 0 if not one.
func parseUint16(v string) int {
	n, err := parseInt(v)
	if err != nil || n < 1 || n > 65535 {
		return 0
	}
	return int(n)
}
