package lifecycle

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"lb/internal/admin"
	"lb/internal/listener"
	"lb/internal/plane"
	"lb/internal/srvstate"
	"lb/internal/version"
)

var startTime = time.Now()

// serveAdmin starts the runtime API on every stats socket.
func (p *process) serveAdmin() {
	for _, e := range p.lns.StatsSockets() {
		srv := &admin.Server{
			Level:    admin.ParseLevel(e.Stats.Level),
			ExposeFD: e.Stats.ExposeFDListeners,
			Timeout:  p.cfg.Global.StatsTimeout,
			Log:      p.log,
			GetSocks: p.serveGetSocks,
		}
		registerCommands(srv, p.gen, p.info)
		go func(e *listener.Entry) {
			if err := srv.Serve(e.Listener); err != nil && !p.stopped() {
				p.log.Warn("runtime socket stopped", "socket", e.Key, "err", err)
			}
		}(e)
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
	return processInfo{Maxconn: p.cfg.Global.Maxconn, Stopping: p.stopped(), Listeners: p.lns.Count(),
		Threads: p.cfg.Global.Threads()}
}

// processInfo is what "show info" shows of the process itself, beside its generation.
type processInfo struct {
	// Maxconn is the configuration's global maxconn (0 when unset).
	Maxconn int
	// Stopping is set once a soft or hard stop began.
	Stopping bool
	// Listeners is the number of the frontends' listeners.
	Listeners int
	// Threads is the number of event loops (nbthread).
	Threads int
}

// registerCommands installs the runtime API commands lb has so far on a CLI server: rt is
// the running generation, info what the process says of itself.
func registerCommands(srv *admin.Server, rt plane.Runtime, info func() processInfo) {
	srv.Handle(admin.Command{
		Words: []string{"show", "info"}, Help: "show info      : report information about the running process",
		Level: admin.LevelUser,
		Run: func(_ []string, w io.Writer) error {
			up := time.Since(startTime)
			pi := info()
			stopping := 0
			if pi.Stopping {
				stopping = 1
			}
			fmt.Fprintf(w, "Name: lb\nVersion: %s\nNbthread: %d\nNbproc: 1\nProcess_num: 1\nPid: %d\n",
				version.Version, pi.Threads, os.Getpid())
			fmt.Fprintf(w, "Uptime: %s\nUptime_sec: %d\nMaxconn: %d\nCurrConns: %d\nStopping: %d\nListeners: %d\n\n",
				fmtUptime(up), int(up.Seconds()), pi.Maxconn, rt.Snapshot().Sessions, stopping, pi.Listeners)
			return nil
		},
	})
	srv.Handle(admin.Command{
		Words: []string{"show", "servers", "state"}, Help: "show servers state [<backend>] : dump volatile server information",
		Level: admin.LevelUser,
		Run: func(args []string, w io.Writer) error {
			be := ""
			if len(args) > 0 {
				be = args[0]
			}
			return srvstate.Write(w, rt.StateServers(be))
		},
	})
}

func fmtUptime(d time.Duration) string {
	s := int(d.Seconds())
	return strconv.Itoa(s/86400) + "d " + fmt.Sprintf("%02dh%02dm%02ds", s/3600%24, s/60%60, s%60)
}
