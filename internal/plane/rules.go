package plane

import (
	"fmt"
	"os"

	"lb/internal/config"
	"lb/internal/proxy"
	"lb/internal/rules"
)

// ruleProxies returns the proxies whose rules lb compiles and runs, as
// they are to be compiled: every enabled proxy, in mode tcp or http, that
// has rules. A mode http proxy's rules are compiled whole: its
// tcp-request/tcp-response rules, its http-request, http-response and
// http-after-response rules, its redirect lines and its switching rules,
// which the HTTP handler runs; "lb -c" refuses what the rules engine
// cannot do in any of them.
func ruleProxies(cfg *config.Config) []ruleProxy {
	var out []ruleProxy
	for _, px := range cfg.Proxies {
		if px.Disabled {
			continue
		}
		if hasRules(px) {
			out = append(out, ruleProxy{px, px})
		}
	}
	return out
}

// ruleProxy is a proxy of the configuration and what of it the rules
// engine compiles.
type ruleProxy struct{ orig, compiled *config.Proxy }

// hasRules reports whether px has anything for the rules engine to run: a
// proxy without saves every connection the trip through it.
func hasRules(px *config.Proxy) bool {
	// ACLs alone do nothing: only the rules that use them.
	if len(px.TCPRequest) > 0 || len(px.TCPResponse) > 0 ||
		len(px.UseServers) > 0 || len(px.PersistRules) > 0 ||
		len(px.HTTPRequest) > 0 || len(px.HTTPResponse) > 0 ||
		len(px.HTTPAfterResponse) > 0 || len(px.Redirects) > 0 || len(px.MonitorFail) > 0 ||
		len(px.ErrorReplies) > 0 || len(px.StickRules) > 0 ||
		px.Stats.Admin != nil {
		return true
	}
	for _, ub := range px.UseBackends {
		if ub.Cond != nil || ub.Dynamic {
			return true
		}
	}
	return false
}

// CheckRules compiles the rules of every proxy lb runs, without backends,
// as "lb -c" does, and returns every error and every warning ("file:line:
// reason" each).
func CheckRules(cfg *config.Config) (errs []error, warnings []string) {
	opt := ruleOptions(cfg)
	for _, rp := range ruleProxies(cfg) {
		r, e := rules.Compile(cfg, rp.compiled, nil, opt)
		errs = append(errs, e...)
		if r != nil {
			warnings = append(warnings, r.Warnings...)
		}
	}
	return errs, warnings
}

// ruleOptions are the compile options of one generation: one store of proc.*
// variables, and env() reading the environment as the global section's
// setenv/presetenv lines left it, as HAProxy's own environment is.
func ruleOptions(cfg *config.Config) rules.Options {
	set := cfg.Global.SetEnv
	return rules.Options{
		ProcVars: new(rules.ProcVars),
		Patterns: rules.NewPatternRefs(cfg.Files),
		Tables:   rules.NewTables(cfg),
		// Shared, so that a verified password is remembered whichever
		// proxy checked it.
		Userlists: rules.NewUserlists(cfg),
		Getenv: func(name string) (string, bool) {
			if v, ok := set[name]; ok {
				return v, true
			}
			return os.LookupEnv(name)
		},
	}
}

// ruleEnv resolves backend names for the rules of one generation.
type ruleEnv map[string]*proxy.Backend

// Backend implements rules.Env.
func (e ruleEnv) Backend(name string) rules.Backend {
	if b := e[name]; b != nil {
		return b.RuleBackend()
	}
	return nil
}

// compileRules compiles the rules of every proxy lb runs against the
// generation's backends, sets each backend's own rules, and returns the
// frontends' rules by proxy.
// opt are the generation's rule options (ruleOptions), which the log formats' samples
// share.
func compileRules(cfg *config.Config, backends map[string]*proxy.Backend, opt rules.Options) (map[*config.Proxy]*rules.Proxy, error) {
	out := map[*config.Proxy]*rules.Proxy{}
	env := ruleEnv(backends)
	for _, rp := range ruleProxies(cfg) {
		r, errs := rules.Compile(cfg, rp.compiled, env, opt)
		if len(errs) > 0 {
			return nil, fmt.Errorf("%w", errs[0])
		}
		out[rp.orig] = r
		if be := backends[rp.orig.Name]; be != nil && rp.orig.IsBackend() {
			be.SetRules(r)
		}
	}
	return out, nil
}
