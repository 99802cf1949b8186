package plane

import (
	"errors"
	"fmt"
	"strings"

	"lb/internal/config"
	"lb/internal/health"
	"lb/internal/logs"
	"lb/internal/rules"
)

// checkRuleError is a check rule the rules engine refuses, in HAProxy 2.6's
// words.
type checkRuleError struct{ msg string }

func (e *checkRuleError) Error() string { return e.msg }

// checkCompilers compiles the expressions of px's check rules (set is
// "tcp-check" or "http-check", for the messages) with the rules engine
// (rules.CheckRule): a run's state is a rules.Stream, which holds its
// check variables; the proc ones are the generation's (ropt).
func checkCompilers(cfg *config.Config, px *config.Proxy, env rules.Env, ropt rules.Options, set string) *health.Compilers {
	sample := sampleCompiler(cfg, px, env, ropt, rules.CheckRule)
	format := func(text string) (func([]byte, any) []byte, error) {
		lf, err := logs.CompileLogFormat(text, logs.LogFormatOptions{Check: true, Sample: sample})
		if err != nil {
			return nil, err
		}
		return func(dst []byte, run any) []byte {
			st, _ := run.(*rules.Stream)
			return lf.AppendFormat(dst, &logs.TCPLog{Sample: st})
		}, nil
	}
	return &health.Compilers{
		Format: func(action, text string) (func([]byte, any) []byte, error) {
			fn, err := format(text)
			switch {
			case err != nil && action == "send hdr":
				// HAProxy gives the bare reason for a header value.
				return nil, &checkRuleError{fmt.Sprintf("'%s send' : %v.", set, err)}
			case err != nil:
				return nil, &checkRuleError{fmt.Sprintf("'%s %s' : '%s' invalid log-format string (%v).", set, action, text, err)}
			}
			return fn, nil
		},
		Int: func(option, text string) (func(any) (int64, bool), error) {
			sm, err := rules.CompileSample(cfg, px, env, ropt, text, rules.CheckRule)
			if err != nil {
				var ue *rules.SampleUseError
				if errors.As(err, &ue) {
					// Sic: HAProxy's words, with their two spaces.
					err = fmt.Errorf(" fetch method '%s' extracts information from '%s', none of which is available here", text, ue.Needs)
				}
				act := "connect"
				if option == "status-code" {
					act = "expect"
				}
				return nil, &checkRuleError{fmt.Sprintf("'%s %s' : error detected while parsing %s expression : %v.", set, act, option, err)}
			}
			return func(run any) (int64, bool) { return sm.Int(run.(*rules.Stream)) }, nil
		},
		NewRun: func() any { return rules.NewCheckStream() },
		Var: func(action string, args []string) (func(any), error) {
			verb, spec, _ := strings.Cut(strings.TrimSuffix(action, ")"), "(")
			fail := func(err error) (func(any), error) {
				return nil, &checkRuleError{fmt.Sprintf("'%s %s' : '%s' : %v.", set, action, verb, err)}
			}
			v, err := rules.CompileVar(cfg, px, env, ropt, spec, rules.CheckRule)
			if err != nil {
				return fail(err)
			}
			switch verb {
			case "unset-var":
				return func(run any) { v.Unset(run.(*rules.Stream)) }, nil
			case "set-var-fmt":
				text := ""
				if len(args) > 0 {
					text = args[0]
				}
				fn, err := format(text)
				if err != nil {
					return fail(err)
				}
				var buf []byte
				// A checker runs one check at a time: buf is its own.
				return func(run any) {
					buf = fn(buf[:0], run)
					v.SetString(run.(*rules.Stream), buf)
				}, nil
			}
			if len(args) == 0 {
				return fail(errors.New("missing fetch method"))
			}
			sm, err := rules.CompileSample(cfg, px, env, ropt, args[0], rules.CheckRule)
			if err != nil {
				var ue *rules.SampleUseError
				if errors.As(err, &ue) {
					// HAProxy names the action where the fetch belongs.
					err = fmt.Errorf("fetch method '%s' extracts information from '%s', none of which is available here", action, ue.Needs)
				}
				return fail(err)
			}
			return func(run any) { v.Set(run.(*rules.Stream), sm) }, nil
		},
	}
}

// CheckHealthRules compiles the expressions of the tcp-check and
// http-check rules of every enabled backend, as Start does, and returns
// their errors ("file:line: reason" each): "lb -c" refuses what the checks
// would.
func CheckHealthRules(cfg *config.Config) []error {
	var errs []error
	ropt := ruleOptions(cfg)
	for _, px := range cfg.Backends() {
		if px.Disabled || (px.Check.Type != "tcp-check" && px.Check.Type != "httpchk") {
			continue
		}
		set, list := "tcp-check", px.Check.TCPCheck
		if px.Check.Type == "httpchk" {
			set, list = "http-check", px.Check.HTTPCheck
		}
		x := checkCompilers(cfg, px, nil, ropt, set)
		for _, r := range list {
			var err error
			if px.Check.Type == "httpchk" {
				err = health.ParseHTTPCheckWith(&health.Config{}, ruleWords([]*config.Rule{r}), x)
			} else {
				_, err = health.ParseTCPCheckWith(ruleWords([]*config.Rule{r}), x)
			}
			if err != nil {
				var ce *checkRuleError
				if errors.As(err, &ce) {
					err = ce
				}
				errs = append(errs, fmt.Errorf("%s: %w", r.Pos, err))
			}
		}
	}
	return errs
}
