package config

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"lb/internal/tlsconf"
)

// kwStatus says how lb treats a keyword HAProxy knows.
type kwStatus int

const (
	kwSupported   kwStatus = iota // parsed and honoured
	kwUnsupported                 // HAProxy knows it; lb does not implement it yet
	kwRemoved                     // HAProxy removed it; the message gives the replacement
)

// globalKW is one entry of the global section's keyword table.
type globalKW struct {
	status kwStatus
	msg    string // kwRemoved: the alert text
	fn     func(l *loader, g *Global, pos Pos, args []string) error
	// noEffect: accepted with a notice (noeffect.go).
	noEffect bool
}

// globalKeywords is the single table of keywords recognised in "global".
// Keywords absent from it get HAProxy's "unknown keyword" alert.
var globalKeywords map[string]globalKW

func init() {
	globalKeywords = map[string]globalKW{
		"daemon": {fn: gFlag(func(g *Global) { g.Daemon = true })},
		// master-worker is -W: a master process and its workers.
		"master-worker": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			if len(args) > 1 && args[1] != "no-exit-on-failure" {
				return fmt.Errorf("'%s' only supports 'no-exit-on-failure' option", args[0])
			}
			// "no-exit-on-failure" is accepted as HAProxy 2.6 does, which still stops
			// every process when the current worker fails (checked with 2.6.12).
			g.MasterWorker = true
			return nil
		}},
		// HAProxy 2.6's default; "no strict-limits" is read by globalLine.
		"strict-limits":                  {fn: gFlag(func(g *Global) { g.NoStrictLimits = false })},
		"noreuseport":                    {fn: gFlag(func(g *Global) { g.NoReusePort = true })},
		"nosplice":                       {fn: gFlag(func(g *Global) { g.NoSplice = true })},
		"expose-experimental-directives": {fn: gFlag(func(g *Global) { g.ExposeExperimental = true })},
		"maxconnrate":                    {fn: gRate(func(g *Global) *int { return &g.MaxConnRate })},
		"maxsessrate":                    {fn: gRate(func(g *Global) *int { return &g.MaxSessRate })},
		"maxsslrate":                     {fn: gRate(func(g *Global) *int { return &g.MaxSSLRate })},
		"maxconn": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			if err := tooMany(args, 2); err != nil {
				return err
			}
			if g.Maxconn != 0 {
				return fmt.Errorf("'%s' already specified. Continuing.", args[0])
			}
			if len(args) < 2 || args[1] == "" {
				return fmt.Errorf("'%s' expects an integer argument.", args[0])
			}
			n, err := parseInt(args[1])
			if err != nil {
				// HAProxy 2.6 reads the value with atol(): "x" is 0.
				n = atol(args[1])
				l.warn(pos, "'%s' : '%s' is not a number, read as %d like HAProxy does.", args[0], args[1], n)
			}
			g.Maxconn = n
			return tooMany(args, 2)
		}},
		"nbthread": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			if len(args) < 2 {
				return fmt.Errorf("'%s' expects an integer argument.", args[0])
			}
			n, err := parseInt(args[1])
			if err != nil || n < 1 || n > 64 {
				return fmt.Errorf("'%s' value must be between 1 and 64 (was %s)", args[0], args[1])
			}
			g.Nbthread = n
			return tooMany(args, 2)
		}},
		"tune.chksize": {status: kwRemoved, msg: "option 'tune.chksize' is not supported any more (tune.bufsize is used instead)."},
		"nbproc":       {status: kwRemoved, msg: "nbproc is not supported any more since HAProxy 2.5. Threads will automatically be used on multi-processor machines if available."},
		"ulimit-n": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			if g.UlimitN != 0 {
				return fmt.Errorf("'%s' already specified. Continuing.", args[0])
			}
			n, err := gInt(args, 0)
			g.UlimitN = n
			return err
		}},
		"user": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			if g.User != "" || g.UID >= 0 {
				return fmt.Errorf("user/uid already specified. Continuing.")
			}
			if err := need(args, 1, "'%s' expects a user name."); err != nil {
				return err
			}
			if _, err := l.lookupUser(args[1]); err != nil {
				return fmt.Errorf("cannot find user id for '%s' (0:Success)", args[1])
			}
			g.User = args[1]
			return tooMany(args, 2)
		}},
		"group": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			if g.Group != "" || g.GID >= 0 {
				return fmt.Errorf("gid/group was already specified. Continuing.")
			}
			if err := need(args, 1, "'%s' expects a group name."); err != nil {
				return err
			}
			if _, err := l.lookupGroup(args[1]); err != nil {
				return fmt.Errorf("cannot find group id for '%s' (0:Success)", args[1])
			}
			g.Group = args[1]
			return tooMany(args, 2)
		}},
		"uid": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			return laxID(l, pos, args, &g.UID, "user")
		}},
		"gid": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			return laxID(l, pos, args, &g.GID, "group")
		}},
		"chroot":            {fn: gString(func(g *Global) *string { return &g.Chroot }, "'%s' expects a directory as an argument.")},
		"pidfile":           {fn: gString(func(g *Global) *string { return &g.Pidfile }, "'%s' expects a file name as an argument.")},
		"server-state-file": {fn: gString(func(g *Global) *string { return &g.ServerStateFile }, "'%s' expects one argument: a file path.")},
		"server-state-base": {fn: gString(func(g *Global) *string { return &g.ServerStateBase }, "'%s' expects one argument: a directory path.")},
		"node": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			if len(args) < 2 || args[1] == "" || strings.IndexFunc(args[1], func(r rune) bool {
				return !(r < 128 && (isAlnum(byte(r)) || r == '.' || r == '-' || r == '_'))
			}) >= 0 {
				return &rawError{fmt.Sprintf("'%s' requires valid node name - non-empty string with digits(0-9), letters(A-Z, a-z), dot(.), hyphen(-) or underscode(_).", args[0])}
			}
			g.Node = args[1]
			return tooMany(args, 2)
		}},
		"description": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			if len(args) < 2 {
				return fmt.Errorf("'%s' expects a string argument.", args[0])
			}
			g.Description = strings.Join(args[1:], " ")
			return nil
		}},
		"log-tag": {fn: gString(func(g *Global) *string { return &g.LogTag }, "'%s' expects a tag for use in syslog.")},
		"log-send-hostname": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			if g.LogSendHostname != "" {
				return fmt.Errorf("'%s' already specified. Continuing.", args[0])
			}
			if len(args) > 1 {
				g.LogSendHostname = args[1]
				return tooMany(args, 2)
			}
			// HAProxy sends the system's host name, read at start-up.
			host, err := l.hostname()
			if err != nil || host == "" {
				return fmt.Errorf("'%s' : cannot read the host name, name it as an argument.", args[0])
			}
			g.LogSendHostname = host
			return nil
		}},
		"ca-base":                         {fn: gString(func(g *Global) *string { return &g.CABase }, "'%s' expects a directory path as an argument.")},
		"crt-base":                        {fn: gString(func(g *Global) *string { return &g.CRTBase }, "'%s' expects a directory path as an argument.")},
		"ssl-default-bind-ciphers":        {fn: gString(func(g *Global) *string { return &g.SSLDefaultBind.Ciphers }, "global statement '%s' expects a cipher suite as an argument.")},
		"ssl-default-bind-ciphersuites":   {fn: gString(func(g *Global) *string { return &g.SSLDefaultBind.Ciphersuites }, "global statement '%s' expects a cipher suite as an argument.")},
		"ssl-default-server-ciphers":      {fn: gString(func(g *Global) *string { return &g.SSLDefaultServer.Ciphers }, "global statement '%s' expects a cipher suite as an argument.")},
		"ssl-default-server-ciphersuites": {fn: gString(func(g *Global) *string { return &g.SSLDefaultServer.Ciphersuites }, "global statement '%s' expects a cipher suite as an argument.")},
		"ssl-default-bind-curves":         {fn: gString(func(g *Global) *string { return &g.SSLDefaultBind.Curves }, "global statement '%s' expects a curves suite as an arguments.")},
		"ssl-default-bind-options": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			// Applied to every "ssl" bind line (checkBindTLS), which
			// refuses prefer-client-ciphers.
			if err := checkSSLOptions(args); err != nil {
				return err
			}
			g.SSLDefaultBind.Options = append(g.SSLDefaultBind.Options, args[1:]...)
			return nil
		}},
		"ssl-default-server-options": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			g.SSLDefaultServer.Options = append(g.SSLDefaultServer.Options, args[1:]...)
			return checkSSLServerOptions(args)
		}},
		"ssl-server-verify": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			if len(args) < 2 || (args[1] != "none" && args[1] != "required") {
				return fmt.Errorf("'%s' expects 'none' or 'required' as argument.", args[0])
			}
			g.SSLServerVerify = args[1]
			return tooMany(args, 2)
		}},
		"hard-stop-after": {fn: gTime(func(g *Global) *time.Duration { return &g.HardStopAfter })},
		"grace":           {fn: gTime(func(g *Global) *time.Duration { return &g.Grace })},
		"close-spread-time": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			g.closeSpreadPos = pos
			return gTime(func(g *Global) *time.Duration { return &g.CloseSpreadTime })(l, g, pos, args)
		}},
		"spread-checks": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			if g.SpreadChecks != 0 {
				return fmt.Errorf("spread-checks already specified. Continuing.")
			}
			n, err := gInt(args, 0)
			if err == nil && n > 50 {
				return fmt.Errorf("'%s' needs a positive value in range 0..50.", args[0])
			}
			g.SpreadChecks = n
			return err
		}},
		"tune.bufsize": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			if len(args) < 2 || atol(args[1]) <= 0 {
				return fmt.Errorf("'%s' expects a positive integer argument.", args[0])
			}
			// HAProxy reads this with atol(); lb also takes size suffixes
			// ("16k"), which HAProxy would silently read as 16.
			n, err := parseSize(args[1])
			if err != nil {
				return fmt.Errorf("'%s' : %v in '%s'.", args[0], err, args[1])
			}
			g.TuneBufsize = int(n)
			return tooMany(args, 2)
		}},
		"tune.ssl.cachesize": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			if err := sslCapture(args); err != nil {
				return err
			}
			g.SSLCacheSize, g.SSLCacheSizeSet = atol(args[1]), true
			return nil
		}},
		"tune.ssl.lifetime": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			if err := tooMany(args, 2); err != nil {
				return err
			}
			if len(args) < 2 || args[1] == "" {
				return fmt.Errorf("'%s' expects ssl sessions <lifetime> in seconds as argument.", args[0])
			}
			n, terr := parseTimeIn(args[1], time.Second)
			switch {
			case terr == nil:
			case terr.trailing != nil:
				l.bare(pos, Warning, "%v", terr.trailing)
			case terr.over:
				return fmt.Errorf("timer overflow in argument '%s' to <%s> (maximum value is 2147483647 s or ~68 years).", args[1], args[0])
			case terr.under:
				return fmt.Errorf("timer underflow in argument '%s' to <%s> (minimum non-null value is 1 s).", args[1], args[0])
			default:
				return fmt.Errorf("unexpected character '%c' in argument to <%s>.", terr.char, args[0])
			}
			g.SSLLifetime, g.SSLLifetimeSet = time.Duration(n)*time.Second, true
			return nil
		}},
		"tune.comp.maxlevel": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			n := 0
			if len(args) > 1 {
				n = atol(args[1])
			}
			if n < 1 || n > 9 {
				return fmt.Errorf("'%s' expects a numeric value between 1 and 9", args[0])
			}
			g.CompMaxLevel = n
			return nil
		}},
		// Pins lb's event loops (its threads, HAProxy's nbthread).
		"cpu-map": {fn: parseCPUMap},
		"log": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			if len(args) > 1 && args[1] == "global" {
				return fmt.Errorf("log : 'global' is not supported for a global syslog server")
			}
			t, err := parseLogTarget(l, pos, args)
			if err != nil {
				return err
			}
			g.Logs = append(g.Logs, t)
			return nil
		}},
		"stats":     {fn: parseGlobalStats},
		"setenv":    {fn: envKW},
		"presetenv": {fn: envKW},
		"unsetenv":  {fn: envKW},
		"resetenv":  {fn: envKW},
		"unix-bind": {fn: parseUnixBind},
		// The local peer name (as -L): lb has no peers section, so its one effect is
		// HAPROXY_LOCALPEER, which later lines may expand, as in HAProxy.
		"localpeer": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			if len(args) < 2 || args[1] == "" {
				return fmt.Errorf("'%s' expects a name as an argument.", args[0])
			}
			if len(args) > 2 {
				return fmt.Errorf("'%s' cannot handle unexpected argument '%s'.", args[0], args[2])
			}
			if l.opt.LocalPeerArg {
				l.warn(pos, "'%s' ignored since it is already set by using the '-L' command line argument.", args[0])
				return nil
			}
			return envKW(l, g, pos, []string{"setenv", "HAPROXY_LOCALPEER", args[1]})
		}},
		// As -q and -dW on the command line.
		"quiet":        {fn: gFlag(func(g *Global) { g.Quiet = true })},
		"zero-warning": {fn: gFlag(func(g *Global) { g.ZeroWarning = true })},
		// HAProxy 2.6 allows one thread group only, which is what lb has.
		"thread-groups": {fn: func(l *loader, g *Global, pos Pos, args []string) error {
			if len(args) < 2 || args[1] == "" || !isDigit(args[1][0]) && args[1][0] != '-' {
				v := ""
				if len(args) > 1 {
					v = args[1]
				}
				return fmt.Errorf("'%s' passed a missing or unparsable integer value in '%s'", args[0], v)
			}
			if n := atol(args[1]); n != 1 {
				return fmt.Errorf("'%s' value must be between 1 and 1 (was %d)", args[0], n)
			}
			return tooMany(args, 2)
		}},
	}
	for k, ne := range noEffectKeywords {
		globalKeywords[k] = globalKW{noEffect: true, fn: func(l *loader, g *Global, pos Pos, args []string) error {
			l.noEffectLine(pos, args, ne)
			return nil
		}}
	}
	for _, k := range []string{
		"51degrees-cache-size", "51degrees-data-file", "51degrees-property-name-list",
		"51degrees-property-separator", "cluster-secret", "default-path", "deviceatlas-json-file",
		"deviceatlas-log-level", "deviceatlas-properties-cookie", "deviceatlas-separator",
		"external-check", "fd-hard-limit", "h1-case-adjust", "h1-case-adjust-file",
		"h2-workaround-bogus-websocket-clients", "httpclient.resolvers.id",
		"httpclient.resolvers.prefer", "httpclient.ssl.ca-file", "httpclient.ssl.verify",
		"insecure-fork-wanted", "insecure-setuid-wanted", "issuers-chain-path", "lua-load",
		"lua-load-per-thread", "lua-prepend-path", "max-spread-checks", "maxcompcpuusage", "maxcomprate",
		"maxsslconn", "maxzlibmem",
		"pp2-never-send-local", "set-dumpable", "set-var", "set-var-fmt", "ssl-dh-param-file",
		"ssl-engine", "ssl-load-extra-del-ext", "ssl-load-extra-files", "ssl-mode-async",
		"ssl-propquery", "ssl-provider", "ssl-provider-path", "ssl-skip-self-issued-ca",
		"thread-group", "tune.h2.header-table-size", "tune.h2.initial-window-size",
		"tune.h2.max-concurrent-streams", "tune.h2.max-frame-size", "tune.http.cookielen",
		"tune.http.logurilen", "tune.http.maxhdr", "tune.maxrewrite", "tune.rcvbuf.client",
		"tune.rcvbuf.server", "tune.sndbuf.client", "tune.sndbuf.server",
		"tune.ssl.hard-maxrecord", "tune.ssl.keylog", "tune.ssl.maxrecord",
		"tune.zlib.memlevel", "tune.zlib.windowsize", "wurfl-cache-size", "wurfl-data-file",
		"wurfl-information-list", "wurfl-information-list-separator", "wurfl-patch-file",
		"h1-accept-payload-with-any-method",
	} {
		globalKeywords[k] = globalKW{status: kwUnsupported}
	}
}

// startGlobal opens a global section.
func (l *loader) startGlobal(pos Pos, args []string) {
	if l.cfg.Global.Pos.File == "" {
		l.cfg.Global.Pos = pos
	}
	if len(args) > 1 {
		l.alert(pos, "'global' cannot handle unexpected argument '%s'.", args[1])
	}
}

// globalNegatable are the global keywords HAProxy 2.6 accepts after "no"
// or "default".
var globalNegatable = map[string]bool{"log": true, "busy-polling": true, "set-dumpable": true,
	"strict-limits": true, "insecure-fork-wanted": true, "numa-cpu-mapping": true}

// globalLine parses one line of the global section.
func (l *loader) globalLine(pos Pos, args []string) {
	if (args[0] == "no" || args[0] == "default") && len(args) > 1 {
		switch {
		case !globalNegatable[args[1]]:
			l.alert(pos, "negation/default currently supported only for options, log, busy-polling, set-dumpable, strict-limits, insecure-fork-wanted and numa-cpu-mapping.")
		case args[1] == "strict-limits":
			if err := tooMany(args, 2); err != nil {
				l.report(pos, err)
				return
			}
			l.cfg.Global.NoStrictLimits = args[0] == "no"
		case globalKeywords[args[1]].noEffect:
			globalKeywords[args[1]].fn(l, &l.cfg.Global, pos, args[1:])
		default:
			l.alert(pos, "'%s %s' is not supported by lb yet", args[0], args[1])
		}
		return
	}
	kw, ok := globalKeywords[args[0]]
	switch {
	case !ok:
		l.alert(pos, "unknown keyword '%s' in 'global' section%s", args[0], didYouMean(args[0], globalKeywords, globalExtraWords...))
	case kw.status == kwRemoved:
		l.alert(pos, "%s", kw.msg)
	case kw.status == kwUnsupported:
		l.alert(pos, "'%s' is not supported by lb yet", args[0])
	default:
		if err := kw.fn(l, &l.cfg.Global, pos, args); err != nil {
			l.report(pos, err)
		}
	}
}

func gFlag(set func(*Global)) func(*loader, *Global, Pos, []string) error {
	return func(l *loader, g *Global, pos Pos, args []string) error {
		if err := tooMany(args, 1); err != nil {
			return err
		}
		set(g)
		return nil
	}
}

func gString(field func(*Global) *string, missing string) func(*loader, *Global, Pos, []string) error {
	return func(l *loader, g *Global, pos Pos, args []string) error {
		switch args[0] {
		case "chroot", "pidfile", "server-state-file", "server-state-base":
			if *field(g) != "" {
				return fmt.Errorf("'%s' already specified. Continuing.", args[0])
			}
		case "ca-base", "crt-base":
			if *field(g) != "" {
				return fmt.Errorf("'%s' already specified.", args[0])
			}
		}
		if len(args) < 2 || args[1] == "" {
			return fmt.Errorf(missing, args[0])
		}
		*field(g) = args[1]
		return tooMany(args, 2)
	}
}

func gTime(field func(*Global) *time.Duration) func(*loader, *Global, Pos, []string) error {
	return func(l *loader, g *Global, pos Pos, args []string) error {
		if len(args) < 2 {
			return fmt.Errorf("'%s' expects <time> as argument.", args[0])
		}
		d, err := l.timeArg(pos, args[1], time.Millisecond)
		if err != nil {
			return fmt.Errorf("%v in argument to <%s>.", err, args[0])
		}
		*field(g) = d
		return tooMany(args, 2)
	}
}

// gInt reads args[1] as a non-negative integer with HAProxy's message.
func gInt(args []string, min int) (int, error) {
	if len(args) < 2 || args[1] == "" {
		return 0, fmt.Errorf("'%s' expects an integer argument.", args[0])
	}
	n, err := parseInt(args[1])
	if err != nil || n < min {
		return 0, fmt.Errorf("'%s' expects an integer argument.", args[0])
	}
	return n, tooMany(args, 2)
}

// tooMany reports HAProxy's "cannot handle unexpected argument" when args
// has more than n words.
func tooMany(args []string, n int) error {
	if len(args) > n {
		return fmt.Errorf("'%s' cannot handle unexpected argument '%s'.", args[0], args[n])
	}
	return nil
}

func need(args []string, n int, format string) error {
	if len(args) <= n || args[n] == "" {
		return fmt.Errorf(format, args[0])
	}
	return nil
}

// sslOptions are the words ssl-default-*-options accept.
var sslOptions = map[string]int{
	"no-sslv3": 0, "no-tlsv10": 0, "no-tlsv11": 0, "no-tlsv12": 0, "no-tlsv13": 0,
	"force-sslv3": 0, "force-tlsv10": 0, "force-tlsv11": 0, "force-tlsv12": 0, "force-tlsv13": 0,
	"no-tls-tickets": 0, "prefer-client-ciphers": 0, "ssl-min-ver": 1, "ssl-max-ver": 1,
}

// sslServerOptions are the words ssl-default-server-options accepts.
var sslServerOptions = map[string]int{
	"no-sslv3": 0, "no-tlsv10": 0, "no-tlsv11": 0, "no-tlsv12": 0, "no-tlsv13": 0,
	"force-sslv3": 0, "force-tlsv10": 0, "force-tlsv11": 0, "force-tlsv12": 0, "force-tlsv13": 0,
	"no-tls-tickets": 0, "ssl-min-ver": 1, "ssl-max-ver": 1,
}

func checkSSLServerOptions(args []string) error {
	for i := 1; i < len(args); i++ {
		n, ok := sslServerOptions[args[i]]
		if !ok {
			return fmt.Errorf("unknown option '%s' on global statement '%s'.", args[i], args[0])
		}
		if n > 0 {
			if i+1 >= len(args) {
				return fmt.Errorf("'%s' : missing the version argument of '%s'.", args[0], args[i])
			}
			if _, ok := tlsconf.ParseVersion(args[i+1]); !ok {
				return fmt.Errorf("'%s' : unknown ssl/tls version string '%s'.", args[0], args[i+1])
			}
			i++
		}
	}
	return nil
}

func checkSSLOptions(args []string) error {
	for i := 1; i < len(args); i++ {
		n, ok := sslOptions[args[i]]
		if !ok {
			return fmt.Errorf("unknown option '%s' on global statement '%s'.", args[i], args[0])
		}
		if n > 0 {
			if i+1 >= len(args) {
				return fmt.Errorf("'%s' : missing the version argument of '%s'.", args[0], args[i])
			}
			switch args[i+1] {
			case "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3":
			default:
				return fmt.Errorf("'%s' : unknown ssl/tls version string '%s'.", args[0], args[i+1])
			}
			i++
		}
	}
	return nil
}

// envKW applies setenv/presetenv/unsetenv/resetenv to the environment view
// later lines expand, as HAProxy changes its own environment while parsing.
func envKW(l *loader, g *Global, pos Pos, args []string) error {
	if g.SetEnv == nil {
		g.SetEnv = map[string]string{}
	}
	switch args[0] {
	case "setenv", "presetenv":
		if len(args) < 3 {
			return fmt.Errorf("'%s' expects a name and a value.", args[0])
		}
		if len(args) > 3 {
			// HAProxy 2.6 silently ignores them.
			l.warn(pos, "'%s' ignores unexpected argument '%s'.", args[0], args[3])
		}
		if _, set := l.env(args[1]); args[0] == "presetenv" && set {
			return nil
		}
		v := args[2]
		l.envOverride[args[1]] = &v
		g.SetEnv[args[1]] = v
	case "unsetenv":
		if len(args) < 2 {
			return fmt.Errorf("'%s' expects at least one variable name.", args[0])
		}
		for _, n := range args[1:] {
			l.envOverride[n] = nil
			delete(g.SetEnv, n)
		}
	case "resetenv":
		// Only the listed variables survive; later setenv still applies.
		keep := map[string]bool{}
		for _, n := range args[1:] {
			keep[n] = true
		}
		for n := range l.envOverride {
			if !keep[n] {
				delete(l.envOverride, n)
				delete(g.SetEnv, n)
			}
		}
		l.envKeep = keep
	}
	return nil
}

func parseCPUMap(l *loader, g *Global, pos Pos, args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("%s expects a process number  as well as a CPU set.", args[0])
	}
	m := CPUMap{Pos: pos}
	spec := args[1]
	if s, ok := strings.CutPrefix(spec, "auto:"); ok {
		m.Auto, spec = true, s
	}
	proc, thr, hasThr := strings.Cut(spec, "/")
	if proc != "all" && proc != "odd" && proc != "even" {
		lo, hi, err := parseRange(proc)
		if err != nil || lo < 1 || hi < lo {
			return fmt.Errorf("%s : invalid process number '%s'.", args[0], proc)
		}
		if hi > 1 {
			l.warn(pos, "%s : process number '%s' has no effect: lb runs a single process.", args[0], proc)
		}
	}
	m.Process = proc
	if hasThr && thr != "all" {
		lo, hi, err := parseRange(thr)
		if err != nil || lo < 1 || hi > 64 || lo > hi {
			return fmt.Errorf("%s : invalid thread range '%s'.", args[0], thr)
		}
		m.ThreadLow, m.ThreadHigh = lo, hi
	}
	var cpus [4096]bool
	for _, set := range args[2:] {
		for _, part := range strings.Split(set, ",") {
			lo, hi, err := parseRange(part)
			if err != nil || lo < 0 || hi > 4095 || lo > hi {
				return fmt.Errorf("%s : '%s' is not a CPU range.", args[0], set)
			}
			for c := lo; c <= hi; c++ {
				cpus[c] = true
			}
		}
	}
	for c, on := range cpus {
		if on {
			m.CPUs = append(m.CPUs, c)
		}
	}
	if m.Auto && len(m.CPUs) > 1 && m.ThreadLow > 0 && m.ThreadHigh-m.ThreadLow+1 != len(m.CPUs) {
		return fmt.Errorf("%s : PROC/THREAD range and CPU sets must have the same size to be automatically bound", args[0])
	}
	g.CPUMaps = append(g.CPUMaps, m)
	return nil
}

// ThreadCPUs returns the CPUs each of n threads is bound to by the cpu-map
// lines (nil for a thread none binds): a line naming threads binds them,
// one CPU each in order with "auto:"; a line naming only the process binds
// every thread no thread line names.
func (g *Global) ThreadCPUs(n int) [][]int {
	if len(g.CPUMaps) == 0 {
		return nil
	}
	out := make([][]int, n)
	threadSet := make([]bool, n)
	for _, m := range g.CPUMaps {
		if !m.coversProcess1() {
			continue // binds a process lb does not have (warned at load)
		}
		lo, hi := m.ThreadLow, m.ThreadHigh
		if lo == 0 {
			lo, hi = 1, n
		}
		for t := lo; t <= hi && t <= n; t++ {
			i := t - 1
			if m.ThreadLow == 0 && threadSet[i] {
				continue // a thread line wins over a process line
			}
			if m.ThreadLow != 0 {
				threadSet[i] = true
			}
			if m.Auto && len(m.CPUs) > 1 {
				out[i] = []int{m.CPUs[(t-lo)%len(m.CPUs)]}
			} else {
				out[i] = m.CPUs
			}
		}
	}
	return out
}

// Threads is the number of threads (event loops) lb runs: nbthread, else one per CPU the
// process may run on, as HAProxy 2.6.
func (g *Global) Threads() int {
	if g.Nbthread > 0 {
		return g.Nbthread
	}
	return runtime.NumCPU()
}

// coversProcess1 reports whether m's process range includes process 1, the
// only one lb runs.
func (m *CPUMap) coversProcess1() bool {
	switch m.Process {
	case "all", "odd":
		return true
	case "even":
		return false
	}
	lo, _, err := parseRange(m.Process)
	return err == nil && lo == 1
}

// parseRange reads "N" or "N-M".
func parseRange(s string) (int, int, error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err := strconv.Atoi(a)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, lo, nil
	}
	hi, err := strconv.Atoi(b)
	return lo, hi, err
}

// globalStatsKeywords are the words after "stats" in the global section.
var globalStatsKeywords = map[string]kwStatus{
	"socket": kwSupported, "timeout": kwSupported, "bind-process": kwSupported, "maxconn": kwUnsupported,
}

// parseGlobalStats handles "stats socket|timeout|maxconn|bind-process".
func parseGlobalStats(l *loader, g *Global, pos Pos, args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("'stats' expects 'socket', 'maxconn', 'bind-process' or 'timeout' in 'global' section.")
	}
	if globalStatsKeywords[args[1]] == kwUnsupported {
		return fmt.Errorf("'stats %s' is not supported by lb yet", args[1])
	}
	switch args[1] {
	case "socket":
		if len(args) < 3 {
			return fmt.Errorf("'stats socket' in global section expects an address or a path to a UNIX socket")
		}
		b, err := l.parseBind(pos, args[2], args[3:], "stats socket", true)
		if err != nil {
			return err
		}
		if len(b.Addrs) != 1 {
			return fmt.Errorf("'stats socket' : '%s' must resolve to exactly one address.", args[2])
		}
		if b.AcceptProxy {
			// The runtime API reads commands at once: no PROXY header.
			return fmt.Errorf("'accept-proxy' is not supported by lb yet on 'stats socket' lines")
		}
		s := StatsSocket{Pos: pos, Addr: b.Addrs[0], Level: b.Level, Mode: b.Mode, User: b.User,
			Group: b.Group, UID: b.UID, GID: b.GID, ExposeFDListeners: b.ExposeFDListeners, Bind: b}
		g.StatsSockets = append(g.StatsSockets, s)
	case "timeout":
		if len(args) < 3 {
			return fmt.Errorf("'stats timeout' expects a positive value")
		}
		d, err := l.timeArg(pos, args[2], time.Millisecond)
		if err != nil {
			return fmt.Errorf("'stats timeout': %v", err)
		}
		if d == 0 {
			return fmt.Errorf("'stats timeout' expects a positive value")
		}
		g.StatsTimeout = d
	case "bind-process":
		// Accepted by HAProxy 2.6 for compatibility; lb runs one process.
		l.warn(pos, "'stats bind-process' has no effect: lb runs a single process.")
	default:
		return fmt.Errorf("'stats' only supports 'socket', 'maxconn', 'bind-process' and 'timeout' (got '%s')", args[1])
	}
	return nil
}

// parseUnixBind handles "unix-bind [prefix P] [mode M] [user U] [uid N] [group G] [gid N]".
func parseUnixBind(l *loader, g *Global, pos Pos, args []string) error {
	u := &g.UnixBind
	for i := 1; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return fmt.Errorf("'%s' : missing value for '%s'.", args[0], args[i])
		}
		v := args[i+1]
		switch args[i] {
		case "prefix":
			if u.Prefix != "" {
				return fmt.Errorf("unix-bind 'prefix' already specified. Continuing.")
			}
			u.Prefix = v
		case "mode":
			m, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				return fmt.Errorf("'%s' : invalid mode '%s'.", args[0], v)
			}
			u.Mode = fileMode(m)
		case "user":
			uid, err := l.lookupUser(v)
			if err != nil {
				return fmt.Errorf("'%s' : unknown user name '%s'.", args[0], v)
			}
			u.User, u.UID = v, uid
		case "group":
			gid, err := l.lookupGroup(v)
			if err != nil {
				return fmt.Errorf("'%s' : unknown group name '%s'.", args[0], v)
			}
			u.Group, u.GID = v, gid
		case "uid":
			n, err := parseInt(v)
			if err != nil {
				return fmt.Errorf("'%s' : invalid uid '%s'.", args[0], v)
			}
			u.UID = n
		case "gid":
			n, err := parseInt(v)
			if err != nil {
				return fmt.Errorf("'%s' : invalid gid '%s'.", args[0], v)
			}
			u.GID = n
		default:
			return fmt.Errorf("'%s' only supports the 'prefix', 'mode', 'uid', 'gid', 'user' and 'group' options.", args[0])
		}
	}
	return nil
}

// laxID parses "uid N" / "gid N" like HAProxy 2.6: a non-number only warns
// and counts as its leading digits (atol), i.e. usually 0.
func laxID(l *loader, pos Pos, args []string, dst *int, what string) error {
	name := l.cfg.Global.User
	if what == "group" {
		name = l.cfg.Global.Group
	}
	if *dst >= 0 || name != "" {
		return fmt.Errorf("%s/%sid already specified. Continuing.", what, args[0][:1])
	}
	if len(args) < 2 || args[1] == "" {
		return fmt.Errorf("'%s' expects an integer argument.", args[0])
	}
	n, err := parseInt(args[1])
	if err != nil {
		l.warn(pos, " %s: string '%s' is not a number.\n   | You might want to use the '%s' parameter to use a system %s name.", args[0], args[1], what, what)
		n = atol(args[1])
	}
	*dst = n
	return tooMany(args, 2)
}

// atol mimics C's atol(): leading blanks, an optional sign, then digits;
// anything else stops the conversion.
func atol(s string) int {
	s = strings.TrimLeft(s, " \t")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for i := 0; i < len(s) && isDigit(s[i]) && n < 1<<31; i++ {
		n = n*10 + int(s[i]-'0')
	}
	if neg {
		return -n
	}
	return n
}

// gRate parses "maxconnrate", "maxsessrate" and "maxsslrate" as HAProxy 2.6 does: once, one
// integer read with atol.
func gRate(field func(*Global) *int) func(l *loader, g *Global, pos Pos, args []string) error {
	return func(l *loader, g *Global, pos Pos, args []string) error {
		if err := tooMany(args, 2); err != nil {
			return err
		}
		dst := field(g)
		if *dst != 0 {
			return fmt.Errorf("'%s' already specified. Continuing.", args[0])
		}
		if len(args) < 2 || args[1] == "" {
			return fmt.Errorf("'%s' expects an integer argument.", args[0])
		}
		n, err := parseInt(args[1])
		if err != nil {
			n = atol(args[1])
			l.warn(pos, "'%s' : '%s' is not a number, read as %d like HAProxy does.", args[0], args[1], n)
		}
		if n < 0 {
			l.warn(pos, "'%s' : negative value '%s' ignored.", args[0], args[1])
			n = 0
		}
		*dst = n
		return nil
	}
}
