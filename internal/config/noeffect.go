package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Global keywords that tune a part of HAProxy lb does not have (its memory
// pools, its scheduler, its poller, Lua, peers…): lb validates their
// arguments as HAProxy 2.6 does, then accepts them with one notice saying
// why they have no effect. A keyword whose effect users rely on (a limit,
// a TLS or HTTP behaviour) is never here: lb carries it out or refuses it.

// noEffect is one such keyword: check validates the line as HAProxy does
// (nil: no check), why ends the notice "'<kw>' has no effect in lb: <why>".
type noEffect struct {
	check func(args []string) error
	why   string
}

const (
	whyPools   = "lb has no memory pools, the Go runtime allocates its memory"
	whySched   = "the Go runtime schedules lb's tasks"
	whyPoller  = "lb waits for events with the Go runtime's poller (epoll on Linux)"
	whyLua     = "lb runs no Lua (lua-load is not supported)"
	whyVars    = "lb does not bound the memory its variables take"
	whyNoSSLCH = "lb keeps no copy of the TLS ClientHello (the ssl_fc_cipherlist_* fetches are not supported)"
)

var noEffectKeywords = map[string]noEffect{
	"tune.idle-pool.shared":     {onOff, whyPools},
	"tune.buffers.limit":        {intArg, whyPools},
	"tune.buffers.reserve":      {intArg, whyPools},
	"tune.pool-high-fd-ratio":   {percent("'%s' expects an integer argument between 0 and 100."), "lb keeps no pool of idle server connections to size by file descriptors"},
	"tune.pool-low-fd-ratio":    {percent("'%s' expects an integer argument between 0 and 100."), "lb keeps no pool of idle server connections to size by file descriptors"},
	"tune.fail-alloc":           {failAlloc, whyPools},
	"tune.pattern.cache-size":   {patternCache, "lb keeps no cache of pattern match results"},
	"tune.sched.low-latency":    {onOff, whySched},
	"tune.runqueue-depth":       {intArg, whySched},
	"tune.maxpollevents":        {intArg, whyPoller},
	"tune.fd.edge-triggered":    {onOff, whyPoller},
	"tune.listener.multi-queue": {onOff, "lb's listeners accept in the Go runtime, with no per-thread accept queue"},
	"tune.maxaccept":            {intArg, "lb's listeners accept in the Go runtime, which does not batch accepts"},
	"tune.recv_enough":          {intArg, "lb reads whatever the socket holds, up to its buffer"},
	"tune.idletimer":            {idleTimer, "lb decides when to splice by itself (after two full buffer reads)"},
	"tune.pipesize":             {intArg, "lb sizes its splice pipes by itself (256 kB)"},
	"maxpipes":                  {intArg, "lb keeps its own pool of splice pipes and copies through a buffer when none is free"},
	"busy-polling":              {noArg, whyPoller},
	"noepoll":                   {noArg, whyPoller},
	"nopoll":                    {noArg, whyPoller},
	"nokqueue":                  {noArg, whyPoller},
	"noevports":                 {noArg, whyPoller},
	"nogetaddrinfo":             {noArg, "lb resolves host names with Go's resolver, not getaddrinfo()"},
	"no-memory-trimming":        {noArg, "the Go runtime returns unused memory to the system by itself"},
	"profiling.tasks":           {profilingTasks, "lb has no task profiler"},
	"numa-cpu-mapping":          {nil, "lb does not restrict itself to one NUMA node; use cpu-map to place its threads"},
	"mworker-max-reloads":       {mworkerMaxReloads, "lb does not count the reloads a worker lived through: a leaving worker or process ends at hard-stop-after (5 minutes when unset)"},
	"tune.lua.forced-yield":     {luaInt, whyLua},
	"tune.lua.maxmem":           {luaMaxmem, whyLua},
	"tune.lua.service-timeout":  {luaTimeout, whyLua},
	"tune.lua.session-timeout":  {luaTimeout, whyLua},
	"tune.lua.task-timeout":     {luaTimeout, whyLua},
	"tune.vars.global-max-size": {varsSize, whyVars},
	"tune.vars.proc-max-size":   {varsSize, whyVars},
	"tune.vars.reqres-max-size": {varsSize, whyVars},
	"tune.vars.sess-max-size":   {varsSize, whyVars},
	"tune.vars.txn-max-size":    {varsSize, whyVars},
	"tune.vars.check-max-size":  {varsSize, whyVars},
	"tune.peers.max-updates-at-once": {positive("'%s' expects an integer argument greater than 0."),
		"lb has no peers section"},
	"tune.ssl.default-dh-param":        {dhParam, "Go's TLS has no DHE cipher suites"},
	"tune.ssl.capture-buffer-size":     {sslCapture, whyNoSSLCH},
	"tune.ssl.capture-cipherlist-size": {sslCapture, whyNoSSLCH},
	"tune.ssl.ssl-ctx-cache-size":      {sslCapture, "lb does not generate certificates (generate-certificates is not supported)"},
	"tune.ssl.force-private-cache":     {noArg, "lb runs one process, whose TLS session state is never shared"},
}

// noEffectLine validates a line of a no-effect keyword and reports the
// notice (or HAProxy's error for a bad argument).
func (l *loader) noEffectLine(pos Pos, args []string, ne noEffect) {
	if args[0] == "tune.fd.edge-triggered" && !l.cfg.Global.ExposeExperimental {
		l.alert(pos, "'%s' directive is experimental, must be allowed via a global 'expose-experimental-directives'", args[0])
		return
	}
	if args[0] == "tune.ssl.capture-cipherlist-size" {
		l.warn(pos, "'%s' is deprecated and will be removed in version 2.7. Please use 'tune.ssl.capture-buffer-size' instead.", args[0])
	}
	if ne.check != nil {
		if err := ne.check(args); err != nil {
			l.report(pos, err)
			return
		}
	}
	l.add(pos, Notice, "'%s' has no effect in lb: %s.", args[0], ne.why)
}

func noArg(args []string) error { return tooMany(args, 1) }

func onOff(args []string) error {
	if len(args) < 2 || (args[1] != "on" && args[1] != "off") {
		v := ""
		if len(args) > 1 {
			v = args[1]
		}
		return fmt.Errorf("'%s' expects either 'on' or 'off' but got '%s'.", args[0], v)
	}
	return tooMany(args, 2)
}

// intArg is HAProxy's common "<kw> <integer>": a missing value is refused,
// any other is read with atol().
func intArg(args []string) error {
	if len(args) < 2 || args[1] == "" {
		return fmt.Errorf("'%s' expects an integer argument.", args[0])
	}
	return tooMany(args, 2)
}

// percent is an integer read with atoi() that must be 0..100.
func percent(msg string) func([]string) error {
	return func(args []string) error {
		if len(args) < 2 || args[1] == "" {
			return fmt.Errorf(msg, args[0])
		}
		if n := atol(args[1]); n < 0 || n > 100 {
			return fmt.Errorf(msg, args[0])
		}
		return tooMany(args, 2)
	}
}

func positive(msg string) func([]string) error {
	return func(args []string) error {
		if len(args) < 2 || atol(args[1]) <= 0 {
			return fmt.Errorf(msg, args[0])
		}
		return tooMany(args, 2)
	}
}

func failAlloc(args []string) error {
	if len(args) > 1 {
		if n := atol(args[1]); n < 0 || n > 100 {
			return fmt.Errorf("'%s' expects a numeric value between 0 and 100.", args[0])
		}
	}
	return tooMany(args, 2)
}

func patternCache(args []string) error {
	if len(args) < 2 || args[1] == "" || atol(args[1]) < 0 {
		return fmt.Errorf("'%s' expects a positive numeric value", args[0])
	}
	return nil
}

func idleTimer(args []string) error {
	if len(args) < 2 || args[1] == "" {
		return fmt.Errorf("'%s' expects a timer value between 0 and 65535 ms.", args[0])
	}
	d, err := parseTime(args[1], 1e6)
	if err != nil {
		return fmt.Errorf("%v in argument to <%s>.", err, args[0])
	}
	if d.Milliseconds() > 65535 {
		return fmt.Errorf("'%s' expects a timer value between 0 and 65535 ms.", args[0])
	}
	return tooMany(args, 2)
}

func profilingTasks(args []string) error {
	if len(args) < 2 || (args[1] != "on" && args[1] != "auto" && args[1] != "off") {
		v := ""
		if len(args) > 1 {
			v = args[1]
		}
		return fmt.Errorf("'%s' expects either 'on', 'auto', or 'off' but got '%s'.", args[0], v)
	}
	return tooMany(args, 2)
}

func mworkerMaxReloads(args []string) error {
	if err := intArg(args); err != nil {
		return err
	}
	if n := atol(args[1]); n < 0 {
		return fmt.Errorf("'%s' : invalid value %d, must be >= 0", args[0], n)
	}
	return nil
}

// luaInt is read with strtol: a value that is not a number is refused.
func luaInt(args []string) error {
	if len(args) > 1 && args[1] != "" {
		if _, err := strconv.Atoi(args[1]); err != nil {
			return fmt.Errorf("%s: invalid number", args[0])
		}
	}
	return nil
}

func luaMaxmem(args []string) error {
	if len(args) > 1 {
		s := strings.TrimPrefix(args[1], "-")
		if i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
			return fmt.Errorf("%s: invalid number %s (error at '%c')", args[0], args[1], s[i])
		}
	}
	return nil
}

func luaTimeout(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("%s: invalid timeout", args[0])
	}
	if _, err := parseTime(args[1], 1e6); err != nil {
		return fmt.Errorf("%s: invalid timeout", args[0])
	}
	return nil
}

// varsSize is read with strtol: trailing characters are refused, a missing
// value reads as 0.
func varsSize(args []string) error {
	if len(args) > 1 && args[1] != "" {
		if _, err := strconv.ParseInt(args[1], 10, 64); err != nil {
			return fmt.Errorf("%s: '%s' is an invalid size", args[0], args[1])
		}
	}
	return nil
}

func dhParam(args []string) error {
	if err := intArg(args); err != nil {
		return err
	}
	if atol(args[1]) < 1024 {
		return fmt.Errorf("'%s' expects a value >= 1024.", args[0])
	}
	return nil
}

func sslCapture(args []string) error {
	if err := intArg(args); err != nil {
		return err
	}
	if atol(args[1]) < 0 {
		return fmt.Errorf("'%s' expects a positive numeric value.", args[0])
	}
	return nil
}
