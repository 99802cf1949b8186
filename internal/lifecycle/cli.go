package lifecycle

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"time"

	"lb/internal/admin"
	"lb/internal/proxy"
	"lb/internal/version"
)

var startTime = time.Now()

// registerCommands installs the runtime API commands lb has so far on a CLI server.
func registerCommands(p *process, srv *admin.Server) {
	srv.Handle(admin.Command{
		Words: []string{"show", "info"}, Help: "show info      : report information about the running process",
		Level: admin.LevelUser,
		Run: func(_ []string, w io.Writer) error {
			up := time.Since(startTime)
			stopping := 0
			if p.stopping.Load() {
				stopping = 1
			}
			fmt.Fprintf(w, "Name: lb\nVersion: %s\nNbthread: %d\nNbproc: 1\nProcess_num: 1\nPid: %d\n",
				version.Version, runtime.GOMAXPROCS(0), os.Getpid())
			fmt.Fprintf(w, "Uptime: %s\nUptime_sec: %d\nMaxconn: %d\nCurrConns: %d\nStopping: %d\nListeners: %d\n\n",
				fmtUptime(up), int(up.Seconds()), p.cfg.Global.Maxconn, p.plane.activeSessions(), stopping, p.lns.Count())
			return nil
		},
	})
	srv.Handle(admin.Command{
		Words: []string{"show", "servers", "state"}, Help: "show servers state [<backend>] : dump volatile server information",
		Level: admin.LevelUser,
		Run: func(args []string, w io.Writer) error {
			io.WriteString(w, "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n")
			if p.plane == nil {
				return nil
			}
			for bi, be := range p.plane.order {
				if len(args) > 0 && args[0] != be.Name() {
					continue
				}
				for si, s := range be.Servers() {
					op, adm := 2, 0
					switch s.State() {
					case proxy.StateDown:
						op = 0
					case proxy.StateMaint:
						op, adm = 0, 1
					case proxy.StateDrain:
						adm = 8
					}
					host, port := splitHostPort(s.Config().Addr)
					fmt.Fprintf(w, "%d %s %d %s %s %d %d %d %d %d 0 0 0 0 0 0 0 - %s - 0 0 - - 0\n",
						bi+1, be.Name(), si+1, s.Name(), host, op, adm, s.Weight(), s.Config().Weight, 0, port)
				}
			}
			io.WriteString(w, "\n")
			return nil
		},
	})
}

func splitHostPort(a string) (string, string) {
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] == ':' {
			h := a[:i]
			if len(h) > 1 && h[0] == '[' {
				h = h[1 : len(h)-1]
			}
			return h, a[i+1:]
		}
	}
	return a, "0"
}

func fmtUptime(d time.Duration) string {
	s := int(d.Seconds())
	return strconv.Itoa(s/86400) + "d " + fmt.Sprintf("%02dh%02dm%02ds", s/3600%24, s/60%60, s%60)
}
