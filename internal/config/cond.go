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

// maxCondDepth bounds the nesting of parentheses in a condition: HAProxy
// 2.6 accepts 340 levels (its MAX_CFG_RECURSION of 1024 spans three calls
// per level). Negations do not nest.
const maxCondDepth = 340

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

func evalCond(expr string, env func(string) (string, bool)) (bool, error) {
	p := &condParser{s: expr, env: env}
	p.skip()
	if p.i >= len(p.s) {
		return false, nil
	}
	v, err := p.expr(0)
	if err != nil {
		return false, err
	}
	p.skip()
	if p.i < len(p.s) {
		return false, fmt.Errorf("unexpected character '%c' at the end of conditional expression '%s'", p.s[p.i], p.s)
	}
	return v, nil
}

type condParser struct {
	s   string
	i   int
	env func(string) (string, bool)
	// op is the offset of the last "&&"/"||" read: HAProxy names the text
	// from there when the operand after it is missing.
	op int
}

func (p *condParser) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// expr := and ( "||" and )*
func (p *condParser) expr(depth int) (bool, error) {
	v, err := p.and(depth)
	if err != nil {
		return false, err
	}
	for {
		p.skip()
		if !strings.HasPrefix(p.s[p.i:], "||") {
			return v, nil
		}
		p.op = p.i
		p.i += 2
		w, err := p.and(depth)
		if err != nil {
			return false, err
		}
		v = v || w
	}
}

// and := term ( "&&" term )*
func (p *condParser) and(depth int) (bool, error) {
	v, err := p.term(depth)
	if err != nil {
		return false, err
	}
	for {
		p.skip()
		if !strings.HasPrefix(p.s[p.i:], "&&") {
			return v, nil
		}
		p.op = p.i
		p.i += 2
		w, err := p.term(depth)
		if err != nil {
			return false, err
		}
		v = v && w
	}
}

// term := "!" term | "(" expr ")" | integer | predicate "(" args ")"
func (p *condParser) term(depth int) (bool, error) {
	p.skip()
	if p.i >= len(p.s) {
		return false, fmt.Errorf("unparsable conditional expression '%s'", p.s[p.op:])
	}
	start := p.i
	switch c := p.s[p.i]; {
	case c == '!':
		p.i++
		v, err := p.term(depth)
		return !v, err
	case c == '(':
		if depth >= maxCondDepth {
			return false, fmt.Errorf("unparsable conditional sub-expression '%s'", p.s[start+1:])
		}
		p.i++
		v, err := p.expr(depth + 1)
		if err != nil {
			return false, err
		}
		p.skip()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return false, fmt.Errorf("expected ')' after conditional expression '%s'", p.s[start:])
		}
		p.i++
		return v, nil
	case c == '-' || isDigit(c):
		p.i++
		for p.i < len(p.s) && isDigit(p.s[p.i]) {
			p.i++
		}
		n, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
		if err != nil {
			return false, fmt.Errorf("unparsable conditional expression '%s'", p.s[start:])
		}
		return n != 0, nil
	}
	for p.i < len(p.s) && (isAlnum(p.s[p.i]) || p.s[p.i] == '_') {
		p.i++
	}
	name := p.s[start:p.i]
	nargs, ok := condPredicates[name]
	if !ok || p.i >= len(p.s) || p.s[p.i] != '(' {
		return false, fmt.Errorf("unparsable conditional expression '%s'", p.s[start:])
	}
	p.i++
	args, err := p.args(name, nargs)
	if err != nil {
		return false, err
	}
	switch name {
	case "defined":
		_, ok := p.env(args[0])
		return ok, nil
	case "feature":
		return Features[args[0]], nil
	case "streq":
		return args[0] == args[1], nil
	case "strneq":
		return args[0] != args[1], nil
	case "version_atleast":
		return compareVersion(args[0]) <= 0, nil
	case "version_before":
		return compareVersion(args[0]) > 0, nil
	}
	return false, fmt.Errorf("unparsable conditional expression '%s'", p.s[start:])
}

// condPredicates are HAProxy 2.6's predicates and their argument counts.
var condPredicates = map[string]int{
	"defined":         1,
	"feature":         1,
	"streq":           2,
	"strneq":          2,
	"version_atleast": 1,
	"version_before":  1,
}

// args reads n comma-separated string arguments up to the closing ')',
// with HAProxy's make_arg_list quoting (single or double quotes, backslash).
func (p *condParser) args(name string, n int) ([]string, error) {
	var out []string
	for {
		var b strings.Builder
		var q byte
		for p.i < len(p.s) {
			c := p.s[p.i]
			if q != 0 {
				if c == q {
					q = 0
				} else if c == '\\' && p.i+1 < len(p.s) {
					p.i++
					b.WriteByte(p.s[p.i])
				} else {
					b.WriteByte(c)
				}
				p.i++
				continue
			}
			if c == '"' || c == '\'' {
				q = c
				p.i++
				continue
			}
			if c == '\\' && p.i+1 < len(p.s) {
				p.i++
				b.WriteByte(p.s[p.i])
				p.i++
				continue
			}
			if c == ',' || c == ')' {
				break
			}
			b.WriteByte(c)
			p.i++
		}
		if q != 0 || p.i >= len(p.s) {
			return nil, fmt.Errorf("expected ')' in argument %d of predicate '%s' used in conditional expression", len(out)+1, name)
		}
		out = append(out, b.String())
		if p.s[p.i] == ')' {
			p.i++
			break
		}
		if len(out) >= n {
			return nil, fmt.Errorf("expected ')' before '%s' in argument %d of predicate '%s' used in conditional expression", p.s[p.i:], len(out), name)
		}
		p.i++ // ','
	}
	if len(out) < n {
		return nil, fmt.Errorf("missing arguments (got %d/%d), type 'string' expected in argument %d of predicate '%s' used in conditional expression", len(out), n, len(out), name)
	}
	return out, nil
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
