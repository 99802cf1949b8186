package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Version is the HAProxy version lb claims to be compatible with. The
// version_atleast() and version_before() predicates of ".if" blocks and of
// "lb -cc" compare against it: lb reads HAProxy 2.6 configurations and its
// verdicts are checked against HAProxy 2.6.12.
var Version = "2.6.12"

// Features lists the build features that feature(NAME) reports as present.
// Only what lb really does is listed: it splices on Linux, supports
// transparent binds, CPU affinity, systemd integration and threads. TLS
// (OPENSSL), Lua, PCRE, zlib and the others are absent until lb has them.
var Features = map[string]bool{
	"LINUX_SPLICE": true,
	"LINUX_TPROXY": true,
	"TPROXY":       true,
	"CPU_AFFINITY": true,
	"SYSTEMD":      true,
	"THREAD":       true,
	"GETADDRINFO":  true,
	"ACCEPT4":      true,
	"EPOLL":        true,
	"POLL":         true,
	"TFO":          true,
	"NS":           false,
	"OPENSSL":      false,
}

// EvalCond evaluates one ".if"-style condition, as "lb -cc EXPR" does:
// the result true maps to exit code 0, false to 1, and an error to 2. An
// empty expression is false. opt.Env (nil = the process environment) is
// used by defined() and by "${VAR}" expansion, which has already happened
// for ".if" lines but is applied here to the raw -cc argument the same way
// (only inside double quotes).
func EvalCond(expr string, opt Options) (bool, error) {
	env := opt.Env
	if env == nil {
		env = os.LookupEnv
	}
	// The argument is cut into words as a configuration line is (quotes,
	// escapes, "$VAR" and "${VAR}" inside double quotes, an unset variable
	// being empty), then evaluated as the words of an ".if" line.
	args, err := splitLine(expr, env)
	if err != nil {
		return false, err
	}
	return evalCond(strings.Join(args, " "), env)
}

// CondError is an error in a condition, at byte Pos of its text: HAProxy's
// errptr, which ".if" lines show under the expression.
type CondError struct {
	Msg string
	Pos int
}

func (e *CondError) Error() string { return e.Msg }

// evalCond parses then evaluates a condition as HAProxy 2.6's
// cfg_eval_condition: the whole expression is parsed first (cfgcond.c's
// recursive descent, its messages and error positions), then evaluated.
func evalCond(expr string, env func(string) (string, bool)) (bool, error) {
	if expr == "" {
		return false, nil
	}
	p := &condParser{s: expr, env: env}
	text := 0
	e, ret, err := p.parseExpr(&text, maxCfgRecursion)
	switch {
	case ret < 0:
		return false, err
	case ret == 0:
		return false, &CondError{fmt.Sprintf("unparsable conditional expression '%s'", expr), text}
	}
	text = p.skip(text)
	if text < len(p.s) {
		return false, &CondError{fmt.Sprintf("unexpected character '%c' at the end of conditional expression '%s'", p.s[text], expr), text}
	}
	return p.evalExpr(e)
}

// maxCfgRecursion is HAProxy's MAX_CFG_RECURSION: each expression, AND
// sub-expression and term takes one level.
const maxCfgRecursion = 1024

type condParser struct {
	s   string
	env func(string) (string, bool)
}

// A condition's parse tree, as HAProxy's cfg_cond_expr (terms joined by
// "||"), cfg_cond_and (by "&&") and cfg_cond_term.
type (
	condExpr struct {
		left  *condAnd
		right *condExpr
	}
	condAnd struct {
		left  *condTerm
		right *condAnd
	}
	condTerm struct {
		neg   bool
		value int8 // 0 false, 1 true, -1 a predicate or a sub-expression
		pred  string
		args  []string
		paren *condExpr
	}
)

// skip returns i past spaces and tabs.
func (p *condParser) skip(i int) int {
	for i < len(p.s) && (p.s[i] == ' ' || p.s[i] == '\t') {
		i++
	}
	return i
}

func (p *condParser) errf(pos int, format string, a ...any) *CondError {
	return &CondError{fmt.Sprintf(format, a...), pos}
}

// parseExpr is cfg_parse_cond_expr: and ( "||" expr )?. It returns -1 on an
// error, 0 when nothing parses, 1 with *text moved past what it parsed.
func (p *condParser) parseExpr(text *int, depth int) (*condExpr, int, *CondError) {
	in := *text
	if in >= len(p.s) {
		return nil, 0, nil
	}
	if depth <= 0 {
		return nil, -1, p.errf(in, "unparsable conditional expression '%s'", p.s[in:])
	}
	e := &condExpr{}
	var ret int
	var err *CondError
	e.left, ret, err = p.parseAnd(&in, depth-1)
	switch ret {
	case -1:
		return nil, -1, err
	case 0:
		return nil, -1, p.errf(in, "unparsable conditional expression '%s'", p.s[in:])
	}
	in = p.skip(in)
	*text = in
	if !strings.HasPrefix(p.s[in:], "||") {
		return e, 1, nil
	}
	in = p.skip(in + 2)
	e.right, ret, err = p.parseExpr(&in, depth-1)
	if ret > 0 {
		*text = in
	}
	return e, ret, err
}

// parseAnd is cfg_parse_cond_and: term ( "&&" and )?.
func (p *condParser) parseAnd(text *int, depth int) (*condAnd, int, *CondError) {
	in := *text
	if in >= len(p.s) {
		return nil, 0, nil
	}
	if depth <= 0 {
		return nil, -1, p.errf(in, "unparsable conditional sub-expression '%s'", p.s[in:])
	}
	e := &condAnd{}
	var ret int
	var err *CondError
	e.left, ret, err = p.parseTerm(&in, depth-1)
	switch ret {
	case -1:
		return nil, -1, err
	case 0:
		return nil, -1, p.errf(in, "unparsable conditional sub-expression '%s'", p.s[in:])
	}
	in = p.skip(in)
	*text = in
	if !strings.HasPrefix(p.s[in:], "&&") {
		return e, 1, nil
	}
	in = p.skip(in + 2)
	e.right, ret, err = p.parseAnd(&in, depth-1)
	if ret > 0 {
		*text = in
	}
	return e, ret, err
}

// parseTerm is cfg_parse_cond_term: "!"* then an integer (strtol's), "("
// expr ")", or a predicate with its arguments.
func (p *condParser) parseTerm(text *int, depth int) (*condTerm, int, *CondError) {
	in := p.skip(*text)
	if in >= len(p.s) {
		return nil, 0, nil
	}
	unparsable := func() (*condTerm, int, *CondError) {
		return nil, -1, p.errf(*text, "unparsable conditional expression '%s'", p.s[*text:])
	}
	if depth <= 0 {
		return unparsable()
	}
	t := &condTerm{value: -1}
	for in < len(p.s) && p.s[in] == '!' {
		t.neg = !t.neg
		in = p.skip(in + 1)
	}
	if end, nonzero, ok := strtol(p.s, in); ok {
		t.value = 0
		if nonzero {
			t.value = 1
		}
		*text = end
		return t, 1, nil
	}
	if in < len(p.s) && p.s[in] == '(' {
		in = p.skip(in + 1)
		e, ret, err := p.parseExpr(&in, depth-1)
		switch ret {
		case -1:
			return nil, -1, err
		case 0:
			return unparsable()
		}
		in = p.skip(in)
		if in >= len(p.s) || p.s[in] != ')' {
			return nil, -1, p.errf(*text, "expected ')' after conditional expression '%s'", p.s[*text:])
		}
		t.paren = e
		*text = p.skip(in + 1)
		return t, 1, nil
	}
	word := p.s[in:]
	if i := strings.IndexAny(word, " ("); i >= 0 {
		word = word[:i]
	}
	n, ok := condPredicates[word]
	if !ok {
		return unparsable()
	}
	args, end, errArg, msg := makeArgList(p.s, in+len(word), n)
	if msg != "" {
		return nil, -1, p.errf(end, "%s in argument %d of predicate '%s' used in conditional expression", msg, errArg, word)
	}
	t.pred, t.args = word, args
	*text = end
	return t, 1, nil
}

// strtol reports where C's strtol(s+i, &end, 0) stops, and whether the
// number it read is not zero; ok is false when it read no number (after
// optional white space and sign; "0x" for hexadecimal, "0" for octal).
func strtol(s string, i int) (end int, nonzero, ok bool) {
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	base := 10
	switch {
	case i+2 < len(s)+1 && i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && i+2 < len(s) && isHexDigit(s[i+2]):
		base, i = 16, i+2
	case i < len(s) && s[i] == '0':
		base = 8
	}
	start := i
	for i < len(s) {
		c := s[i]
		var d int
		switch {
		case isDigit(c):
			d = int(c - '0')
		case c >= 'a' && c <= 'f':
			d = int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = int(c-'A') + 10
		default:
			d = 99
		}
		if d >= base {
			break
		}
		nonzero = nonzero || d != 0
		i++
	}
	if i == start {
		return 0, false, false
	}
	return i, nonzero, true
}

func isHexDigit(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// makeArgList reads a predicate's string arguments from s[in:] as HAProxy's
// make_arg_list with n arguments, all mandatory: none without a "(" (an
// empty one then); up to the ")" with quotes and escapes. It returns the
// arguments, where it stopped, and an error's message and argument number
// (msg "" when none).
func makeArgList(s string, in, n int) (args []string, end, errArg int, msg string) {
	empty := in >= len(s) || s[in] != '('
	if !empty {
		in++
	}
	pos := 0
	for pos < n {
		var b strings.Builder
		squote, dquote := false, false
		for !empty && in < len(s) {
			c := s[in]
			switch {
			case c == '"' && !squote:
				dquote = !dquote
				in++
				continue
			case c == '\'' && !dquote:
				squote = !squote
				in++
				continue
			case c == '\\' && !squote && in+1 < len(s):
				switch e := s[in+1]; e {
				case '\\', ' ', '"', '\'':
					b.WriteByte(e)
					in++
				case 'r':
					b.WriteByte('\r')
					in++
				case 'n':
					b.WriteByte('\n')
					in++
				case 't':
					b.WriteByte('\t')
					in++
				default:
					b.WriteByte(c)
				}
				in++
				continue
			case !squote && !dquote && (c == ',' || c == ')'):
			default:
				b.WriteByte(c)
				in++
				continue
			}
			break
		}
		args = append(args, b.String())
		pos++
		if empty || in >= len(s) || s[in] == ')' || pos >= n {
			break
		}
		in++ // the comma
	}
	if pos < n {
		return nil, in, pos, fmt.Sprintf("missing arguments (got %d/%d), type 'string' expected", pos, n)
	}
	switch {
	case empty:
	case in < len(s) && s[in] == ')':
		in++
	default:
		m := "expected ')'"
		if in < len(s) {
			m = fmt.Sprintf("expected ')' before '%s'", s[in:])
		}
		if pos > 1 {
			pos--
		}
		return nil, in, pos, m
	}
	return args, in, pos, ""
}

// evalExpr evaluates a parsed condition: "||" of "&&" of terms, stopping
// at the first term that decides, as cfg_eval_cond_expr.
func (p *condParser) evalExpr(e *condExpr) (bool, error) {
	for ; e != nil; e = e.right {
		v := true
		for a := e.left; a != nil && v; a = a.right {
			var err error
			if v, err = p.evalTerm(a.left); err != nil {
				return false, err
			}
		}
		if v {
			return true, nil
		}
	}
	return false, nil
}

func (p *condParser) evalTerm(t *condTerm) (bool, error) {
	var v bool
	switch {
	case t.value >= 0:
		v = t.value == 1
	case t.paren != nil:
		var err error
		if v, err = p.evalExpr(t.paren); err != nil {
			return false, err
		}
	default:
		a := t.args
		switch t.pred {
		case "defined":
			_, v = p.env(a[0])
		case "feature":
			v = Features[a[0]]
		case "streq":
			v = a[0] == a[1]
		case "strneq":
			v = a[0] != a[1]
		case "version_atleast":
			v = compareVersion(a[0]) <= 0
		case "version_before":
			v = compareVersion(a[0]) > 0
		default:
			// HAProxy's OpenSSL predicates: lb has no OpenSSL.
			return false, fmt.Errorf("'%s' is not supported by lb yet", t.pred)
		}
	}
	return v != t.neg, nil
}

// condPredicates are HAProxy 2.6's predicates and their argument counts.
var condPredicates = map[string]int{
	"defined":                 1,
	"feature":                 1,
	"streq":                   2,
	"strneq":                  2,
	"version_atleast":         1,
	"version_before":          1,
	"openssl_version_atleast": 1,
	"openssl_version_before":  1,
	"ssllib_name_startswith":  1,
}

// compareVersion compares v with Version: -1 when v is older than lb's
// version (or unparsable, as HAProxy's compare_current_version does), 0 when
// equal, 1 when newer.
func compareVersion(v string) int {
	a, ok := splitVersion(v)
	if !ok {
		return -1
	}
	b, _ := splitVersion(Version)
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// splitVersion turns "2.5-dev3", "2.6.12" or "2.4-rc1" into comparable
// numbers: major, minor, patch, stage (dev 0, pre 1, rc 2, release 3) and
// the stage number, following HAProxy's split_version().
func splitVersion(v string) ([5]int, bool) {
	var out [5]int
	out[3] = 3
	main, suffix, _ := strings.Cut(v, "-")
	parts := strings.Split(main, ".")
	if len(parts) == 0 || len(parts) > 3 {
		return out, false
	}
	for i, s := range parts {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return out, false
		}
		out[i] = n
	}
	if suffix != "" {
		for stage, pfx := range []string{"dev", "pre", "rc"} {
			if num, ok := strings.CutPrefix(suffix, pfx); ok {
				n, err := strconv.Atoi(num)
				if err != nil {
					return out, false
				}
				out[3], out[4] = stage, n
				return out, true
			}
		}
		// Other suffixes (e.g. distribution patches) count as releases.
	}
	return out, true
}
