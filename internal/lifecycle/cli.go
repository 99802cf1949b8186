package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"lb/internal/admin"
	"lb/internal/cache"
	"lb/internal/config"
	"lb/internal/listener"
	"lb/internal/plane"
	"lb/internal/srvstate"
	"lb/internal/stats"
	"lb/internal/version"
)

var startTime = time.Now()

// serveAdmin starts the runtime API on every stats socket, and for a worker of a master
// (-W) on its control socket, where the master CLI forwards commands.
func (p *process) serveAdmin() {
	certs := newCertStore(p.cfg)
	newServer := func(level admin.Level) *admin.Server {
		srv := &admin.Server{
			Level:    level,
			Timeout:  p.cfg.Global.StatsTimeout,
			Log:      p.log,
			GetSocks: p.serveGetSocks,
			Conns:    &p.cliConns,
		}
		registerCommands(srv, p.gen, p.info)
		registerFrontendCommands(srv, p.lns)
		registerSSLCommands(srv, certs)
		srv.Handle(admin.Command{Words: []string{"show", "cli", "sockets"}, Level: admin.LevelUser,
			Help: "show cli sockets                        : dump list of cli sockets",
			Run:  func(_ []string, w io.Writer) error { p.showCLISockets(w); return nil }})
		return srv
	}
	if p.child != nil && p.child.Worker && p.child.CtlFD > 0 {
		go func() {
			err := serveMasterCtl(p.child.CtlFD, newServer, p.gen.CarriedState)
			p.masterGone(err)
		}()
	}
	for _, e := range p.lns.StatsSockets() {
		srv := newServer(admin.ParseLevel(e.Stats.Level))
		srv.ExposeFD = e.Stats.ExposeFDListeners
		go func(e *listener.Entry) {
			if err := srv.Serve(e.Listener); err != nil && !p.stopped() {
				p.log.Warn("runtime socket stopped", "socket", e.Key, "err", err)
			}
		}(e)
	}
}

// showCLISockets answers "show cli sockets" as HAProxy 2.6 does: every stats socket
// with its address and configured level, then, in a worker of a master, the socket
// pair the master CLI reaches it by.
func (p *process) showCLISockets(w io.Writer) {
	fmt.Fprintln(w, "# socket lvl processes")
	for _, e := range p.lns.StatsSockets() {
		addr := "unknown"
		switch a := e.Listener.Addr().(type) {
		case *net.UnixAddr:
			addr = "unix@" + a.Name
			if strings.HasPrefix(a.Name, "@") {
				addr = "abns@" + a.Name[1:]
			}
		case *net.TCPAddr:
			if ip4 := a.IP.To4(); ip4 != nil {
				addr = fmt.Sprintf("ipv4@%s:%d", ip4, a.Port)
			} else {
				addr = fmt.Sprintf("ipv6@[%s]:%d", a.IP, a.Port)
			}
		}
		fmt.Fprintf(w, "%s %s all\n", addr, admin.ParseLevel(e.Stats.Level))
	}
	if p.child != nil && p.child.Worker && p.child.CtlFD > 0 {
		fmt.Fprintf(w, "sockpair@%d admin all\n", p.child.CtlFD)
	}
}

// serveGetSocks hands every listening socket to a new process (-x). A new lb that took
// over as the main process says so on the same connection, before it signals this one:
// from then on this process no longer talks to systemd.
func (p *process) serveGetSocks(c *net.UnixConn) error {
	return p.lns.ServeGetSocks(c, readyTimeout+goTimeout, func(pid string) {
		_ = p.request(p.supersededC)
		p.log.Info("a new process took over as the main one", "pid", pid)
	})
}

// info is what "show info" says of the process itself.
func (p *process) info() processInfo {
	maxconn := p.hardMaxconn
	if maxconn == 0 {
		maxconn = p.cfg.Global.Maxconn
	}
	pi := processInfo{Maxconn: maxconn, Maxsock: p.maxsock, Stopping: p.stopped(),
		Listeners: p.lns.Count(), Threads: p.cfg.Global.Threads(), MemMax: p.args.MemMax,
		CLITotal: p.cliConns.Total.Load(), CLICur: p.cliConns.Cur.Load(),
		Node: p.cfg.Global.Node, Description: p.cfg.Global.Description}
	if p.lns != nil {
		// HAProxy counts the stats sockets among its listeners.
		pi.Listeners += len(p.lns.StatsSockets())
	}
	return pi
}

// processInfo is what "show info" shows of the process itself, beside its generation.
type processInfo struct {
	// Maxconn is the global maxconn the process started with: configured, -n, or
	// derived from the limit of open files (0 when unknown).
	Maxconn int
	// Stopping is set once a soft or hard stop began.
	Stopping bool
	// Maxsock is the limit of open files planned for Maxconn (0 when unknown).
	Maxsock uint64
	// Listeners is the number of listeners: the frontends' and the stats sockets.
	Listeners int
	// CLITotal counts the runtime API's connections ever served, CLICur those being
	// served (this one included).
	CLITotal, CLICur int64
	// Node and Description are global "node" and "description" ("": none).
	Node, Description string
	// Threads is the number of event loops (nbthread).
	Threads int
	// MemMax is -m, in MiB (0: none).
	MemMax int
}

// registerCommands installs the runtime API commands lb has on a CLI server: rt is the
// running generation, info what the process says of itself. Each command's help line
// and answers are HAProxy 2.6's.
func registerCommands(srv *admin.Server, rt plane.Control, info func() processInfo) {
	user, oper, adm := admin.LevelUser, admin.LevelOperator, admin.LevelAdmin
	handle := func(words, help string, lvl admin.Level, run func([]string, io.Writer) error) {
		srv.Handle(admin.Command{Words: strings.Fields(words), Help: help, Level: lvl, Run: run})
	}
	handle("show info", "show info [desc|json|typed|float]*      : report information about the running process", user,
		func(args []string, w io.Writer) error { return showInfo(args, w, rt, info()) })
	handle("show stat", "show stat [desc|json|no-maint|typed|up]*: report counters for each proxy and server", user,
		func(args []string, w io.Writer) error { return showStat(args, w, rt, srv.Level >= oper) })
	handle("show schema json", "show schema json                        : report schema used for stats", user,
		func(_ []string, w io.Writer) error { io.WriteString(w, stats.JSONSchema); return nil })
	handle("show backend", "show backend                            : list backends in the current running config", user,
		func(_ []string, w io.Writer) error {
			io.WriteString(w, "# name\n")
			for _, be := range rt.Snapshot().Backends {
				io.WriteString(w, be.Name+"\n")
			}
			return nil
		})
	handle("show version", "show version                            : show version of the current process", user,
		func(_ []string, w io.Writer) error { io.WriteString(w, version.Version+"\n"); return nil })
	handle("show env", "show env [var]                          : dump environment variables known to the process", oper,
		func(args []string, w io.Writer) error {
			if len(args) > 0 && args[0] != "" {
				v, ok := os.LookupEnv(args[0])
				if !ok {
					return errors.New("Variable not found\n")
				}
				io.WriteString(w, args[0]+"="+v+"\n")
				return nil
			}
			for _, e := range os.Environ() {
				io.WriteString(w, e+"\n")
			}
			return nil
		})
	handle("show resolvers", "show resolvers [id]                     : dumps counters from all resolvers section and associated name servers", user,
		func(args []string, w io.Writer) error { return showResolvers(args, w, rt) })
	handle("show cache", "show cache                              : show cache status", adm,
		func(_ []string, w io.Writer) error { showCache(w, rt, time.Now()); return nil })
	handle("show startup-logs", "show startup-logs                       : report logs emitted during HAProxy startup", user,
		func(_ []string, w io.Writer) error {
			logs := startupLogs.String()
			if logs == "" {
				logs = "\n" // HAProxy's reply when it kept nothing
			}
			io.WriteString(w, logs)
			return nil
		})
	handle("show servers state", "show servers state [<backend>]          : dump volatile server information (all or for a single backend)", user,
		func(args []string, w io.Writer) error { return showServersState(args, w, rt) })
	handle("get weight", "get weight <bk>/<srv>                   : report a server's current weight", user,
		func(args []string, w io.Writer) error {
			be, sv, err := serverArg(args)
			if err != nil {
				return err
			}
			cur, initial, err := rt.ServerWeight(be, sv)
			if err != nil {
				return serverErr(err)
			}
			fmt.Fprintf(w, "%d (initial %d)\n", cur, initial)
			return nil
		})
	handle("set weight", "set weight <bk>/<srv>  (DEPRECATED)     : change a server's weight (use 'set server' instead)", adm,
		func(args []string, w io.Writer) error {
			be, sv, err := serverArg(args)
			if err != nil {
				return err
			}
			return setWeight(rt, be, sv, arg(args, 1))
		})
	adminCmd := func(words, help string, run func(be, sv string) error) {
		handle(words, help, adm, func(args []string, w io.Writer) error {
			be, sv, err := serverArg(args)
			if err != nil {
				return err
			}
			return serverErr(run(be, sv))
		})
	}
	adminCmd("disable server", "disable server (DEPRECATED)             : disable a server for maintenance (use 'set server' instead)",
		func(be, sv string) error { return rt.SetServerAdmin(be, sv, plane.AdminMaint) })
	adminCmd("enable server", "enable server  (DEPRECATED)             : enable a disabled server (use 'set server' instead)",
		func(be, sv string) error { return rt.SetServerAdmin(be, sv, plane.AdminReady) })
	adminCmd("disable health", "disable health                          : disable health checks",
		func(be, sv string) error { return rt.SetServerChecks(be, sv, false) })
	adminCmd("enable health", "enable health                           : enable health checks",
		func(be, sv string) error { return rt.SetServerChecks(be, sv, true) })
	adminCmd("disable agent", "disable agent                           : disable agent checks",
		func(be, sv string) error { return rt.SetServerAgent(be, sv, false) })
	adminCmd("enable agent", "enable agent                            : enable agent checks",
		func(be, sv string) error { return rt.SetServerAgent(be, sv, true) })
	adminCmd("shutdown sessions server", "shutdown sessions server <bk>/<srv>     : kill sessions on a server",
		func(be, sv string) error { _, err := rt.ShutdownServerSessions(be, sv); return err })
	// The session's own level, as HAProxy's cli_parse_set_lvl and "show cli level".
	srv.Handle(admin.Command{Words: []string{"operator"}, Level: user,
		Help: "operator                                : lower the level of the current CLI session to operator",
		RunSession: func(ss *admin.Session, _ []string, _ io.Writer) error {
			if ss.Level < oper {
				return errors.New("Permission denied\n")
			}
			ss.Level = oper
			return nil
		}})
	srv.Handle(admin.Command{Words: []string{"user"}, Level: user,
		Help:       "user                                    : lower the level of the current CLI session to user",
		RunSession: func(ss *admin.Session, _ []string, _ io.Writer) error { ss.Level = user; return nil }})
	// A process-wide variable, as HAProxy 2.6's "get var": listed at every level, run
	// from operator up.
	if pv, ok := rt.(plane.ProcVars); ok {
		srv.Handle(admin.Command{Words: []string{"get", "var"}, Level: user,
			Help: "get var <name>                          : retrieve contents of a process-wide variable",
			RunSession: func(ss *admin.Session, args []string, w io.Writer) error {
				if ss.Level < oper {
					return errors.New("Permission denied\n")
				}
				if arg(args, 0) == "" {
					return errors.New("Missing process-wide variable identifier.\n")
				}
				v, ok := pv.ProcVar(args[0])
				if !ok {
					return errors.New("Variable not found.\n")
				}
				fmt.Fprintf(w, "%s: %s\n", args[0], v)
				return admin.ErrNoEnd
			}})
	}
	// The session's idle timeout, as HAProxy's cli_parse_set_timeout: in seconds
	// by default, at least one.
	srv.Handle(admin.Command{Words: []string{"set", "timeout"}, Level: user,
		Help: "set timeout [cli] <delay>               : change a timeout setting",
		RunSession: func(ss *admin.Session, args []string, _ io.Writer) error {
			if arg(args, 0) != "cli" {
				return errors.New("'set timeout' only supports 'cli'.\n")
			}
			if arg(args, 1) == "" {
				return errors.New("Expects an integer value.\n")
			}
			n, ok := config.ParseSeconds(args[1])
			if !ok || n < 1 {
				return errors.New("Invalid timeout value.\n")
			}
			ss.Timeout = time.Duration(n) * time.Second
			return nil
		}})
	srv.Handle(admin.Command{Words: []string{"show", "cli", "level"}, Level: user,
		Help: "show cli level                          : display the level of the current CLI session",
		RunSession: func(ss *admin.Session, _ []string, w io.Writer) error {
			fmt.Fprintln(w, ss.Level.String())
			return nil
		}})
	registerMapCommands(srv, rt)
	registerServerCommands(srv, rt, info)
	registerAddServerCommands(srv, rt)
	registerMaxconnCommands(srv, rt, info)
	registerRateCommands(srv, rt)
	registerErrorCommands(srv, rt)
	registerActivityCommands(srv, rt, info)
	registerTableCommands(srv, rt)
}

// arg returns args[i], "" past the end.
func arg(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

// serverArg reads the "<backend>/<server>" argument, as HAProxy's cli_find_server.
func serverArg(args []string) (be, sv string, err error) {
	be, sv, ok := strings.Cut(arg(args, 0), "/")
	if !ok {
		return "", "", errors.New("Require 'backend/server'.\n")
	}
	return be, sv, nil
}

// serverErr words the errors of plane.Control as HAProxy.
func serverErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, plane.ErrNoBackend):
		return errors.New("No such backend.\n")
	case errors.Is(err, plane.ErrNoServer):
		return errors.New("No such server.\n")
	case errors.Is(err, plane.ErrNoCheck):
		return errors.New("Health check was not configured on this server, cannot enable.\n")
	case errors.Is(err, plane.ErrNoAgent):
		return errors.New("Agent was not configured on this server, cannot enable.\n")
	case errors.Is(err, plane.ErrStaticWeight):
		return errors.New("Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n")
	}
	return fmt.Errorf("%v\n", err)
}

// setWeight parses a weight as HAProxy's server_parse_weight_change_request: absolute
// (0..256) or, ending with '%', relative to the configured weight.
func setWeight(rt plane.Control, be, sv, s string) error {
	_, initial, err := rt.ServerWeight(be, sv)
	if err != nil {
		return serverErr(err)
	}
	if s == "" {
		return errors.New("Require <weight> or <weight%>.\n")
	}
	w, rest, ok := strtol(s)
	switch {
	case !ok:
		return errors.New("Empty weight string empty or preceded by garbage")
	case rest == "%":
		if w < 0 {
			return errors.New("Relative weight must be positive.\n")
		}
		w = min(w, 25600)
		w = min(initial*w/100, 256)
	case w < 0 || w > 256:
		return errors.New("Absolute weight can only be between 0 and 256 inclusive.\n")
	case rest != "":
		return errors.New("Trailing garbage in weight string")
	}
	return serverErr(rt.SetServerWeight(be, sv, w))
}

// strtol reads a base 10 number at the start of s as C's strtol: leading spaces, a
// sign, digits (saturating). ok is false when there are no digits.
func strtol(s string) (n int, rest string, ok bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if n < 1<<40 {
			n = n*10 + int(s[i]-'0')
		}
		i++
	}
	if i == start {
		return 0, s, false
	}
	if neg {
		n = -n
	}
	return n, s[i:], true
}

// showResolvers is "show resolvers [<id>]" in HAProxy 2.6's layout.
func showResolvers(args []string, w io.Writer, rt plane.Control) error {
	cs, err := rt.ResolversCounters(arg(args, 0))
	if err != nil {
		return errors.New("Can't find that resolvers section\n")
	}
	var b strings.Builder
	section := ""
	for _, c := range cs {
		if c.Section != section {
			section = c.Section
			fmt.Fprintf(&b, "Resolvers section %s\n", section)
		}
		fmt.Fprintf(&b, " nameserver %s:\n", c.Nameserver)
		for _, f := range []struct {
			name string
			v    int64
		}{{"sent", c.Sent}, {"snd_error", c.SndError}, {"valid", c.Valid}, {"update", c.Update},
			{"cname", c.Cname}, {"cname_error", c.CnameError}, {"any_err", c.AnyErr}, {"nx", c.NX},
			{"timeout", c.Timeout}, {"refused", c.Refused}, {"other", c.Other}, {"invalid", c.Invalid},
			{"too_big", c.TooBig}, {"truncated", c.Truncated}, {"outdated", c.Outdated}} {
			fmt.Fprintf(&b, "  %-12s %d\n", f.name+":", f.v)
		}
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// showServersState is "show servers state [<backend>]".
func showServersState(args []string, w io.Writer, rt plane.Control) error {
	snap := rt.Snapshot()
	if b := arg(args, 0); b != "" {
		found := false
		for _, be := range snap.Backends {
			found = found || be.Name == b
		}
		if !found {
			return errors.New("Can't find backend.\n")
		}
	}
	return srvstate.Write(w, rt.StateServers(arg(args, 0)))
}

func fmtUptime(d time.Duration) string {
	s := int(d.Seconds())
	return strconv.Itoa(s/86400) + "d " + fmt.Sprintf("%dh%02dm%02ds", s/3600%24, s/60%60, s%60)
}

// showCache prints each cache section and its objects as HAProxy 2.6's
// cli_io_handler_show_cache: the blocks the cache has room for (objects at
// rest leave their blocks available), then one line per object.
func showCache(w io.Writer, rt plane.Control, now time.Time) {
	var b strings.Builder
	for _, c := range rt.Caches() {
		cfg := c.Config()
		fmt.Fprintf(&b, "%p: %s (shctx:%p, available blocks:%d)\n", c, cfg.Name, &cfg, cfg.TotalMaxSize/cache.BlockSize)
		for _, e := range c.Entries(now) {
			fmt.Fprintf(&b, "%p hash:%d vary:0x%x size:%d (%d blocks), refcount:0, expire:%d\n",
				e.Object, e.Hash, e.Vary, e.Size, e.Blocks, e.ExpireIn)
		}
	}
	io.WriteString(w, b.String())
}

// registerFrontendCommands installs "disable frontend" and "enable frontend", which
// pause and resume one frontend's listeners, with HAProxy 2.6's replies.
func registerFrontendCommands(srv *admin.Server, lns *listener.Set) {
	for _, c := range []struct {
		words, help string
		pause       bool
		already     string
	}{
		{"disable frontend", "disable frontend <frontend>             : temporarily disable specific frontend", true, "All sockets are already disabled.\n"},
		{"enable frontend", "enable frontend <frontend>              : re-enable specific frontend", false, "All sockets are already enabled.\n"},
	} {
		srv.Handle(admin.Command{Words: strings.Fields(c.words), Help: c.help, Level: admin.LevelAdmin,
			Run: func(args []string, w io.Writer) error {
				name := arg(args, 0)
				if name == "" {
					return errors.New("A frontend name is expected.\n")
				}
				switch err := lns.SetFrontendPaused(name, c.pause); {
				case errors.Is(err, listener.ErrNoFrontend):
					return errors.New("No such frontend.\n")
				case errors.Is(err, listener.ErrFrontendAlready):
					return errors.New(c.already)
				}
				return nil
			}})
	}
}
