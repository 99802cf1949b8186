package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"lb/internal/admin"
	"lb/internal/plane"
)

// registerServerCommands installs the runtime API commands on servers beyond their state
// and weight (a server's address, check port and maxconn), on counters and on sessions,
// each with HAProxy 2.6's help line, replies and levels.
func registerServerCommands(srv *admin.Server, rt plane.Control, info func() processInfo) {
	oper, adm := admin.LevelOperator, admin.LevelAdmin
	handle := func(words, help string, lvl admin.Level, run func([]string, io.Writer) error) {
		srv.Handle(admin.Command{Words: strings.Fields(words), Help: help, Level: lvl, Run: run})
	}
	handle("set server", "set server <bk>/<srv> [opts]            : change a server's state, weight, address or ssl", adm,
		func(args []string, w io.Writer) error { return setServer(rt, args, w) })
	handle("set maxconn server", "set maxconn server <bk>/<srv>           : change a server's maxconn setting", adm,
		func(args []string, w io.Writer) error {
			be, sv, err := serverArg(args)
			if err != nil {
				return err
			}
			if _, _, err := rt.ServerWeight(be, sv); err != nil {
				return serverErr(err)
			}
			s := arg(args, 1)
			if s == "" {
				return errors.New("Require <maxconn>.\n")
			}
			// server_parse_maxconn_change_request: strtol, no newline on its errors. A
			// negative maxconn, which HAProxy takes, means no limit in lb.
			n, rest, ok := strtol(s)
			switch {
			case !ok:
				return errors.New("maxconn string empty or preceded by garbage")
			case rest != "":
				return errors.New("Trailing garbage in maxconn string")
			}
			return serverErr(rt.SetServerMaxconn(be, sv, n))
		})
	handle("clear counters", "clear counters [all]                    : clear max statistics counters (or all counters)", oper,
		func(args []string, w io.Writer) error { rt.ClearCounters(false); return nil })
	// "all" asks for the admin level: a command of its own, without a help line.
	handle("clear counters all", "", adm,
		func(args []string, w io.Writer) error { rt.ClearCounters(true); return nil })
	handle("show servers conn", "show servers conn [<backend>]           : dump server connections status (all or for a single backend)", oper,
		func(args []string, w io.Writer) error { return showServersConn(rt, arg(args, 0), info().Threads, w) })
	handle("show sess", "show sess [id]                          : report the list of current sessions or dump this exact session", oper,
		func(args []string, w io.Writer) error { return showSess(rt, arg(args, 0), w) })
	handle("shutdown session", "shutdown session [id]                   : kill a specific session", adm,
		func(args []string, w io.Writer) error {
			id, ok := sessionArg(arg(args, 0))
			if !ok {
				return errors.New("Session pointer expected (use 'show sess').\n")
			}
			if !rt.KillSession(id) {
				return errors.New("No such session (use 'show sess').\n")
			}
			return nil
		})
}

// setServer is "set server <bk>/<srv> …", of which lb has addr, check-port, state and
// weight.
func setServer(rt plane.Control, args []string, w io.Writer) error {
	be, sv, err := serverArg(args)
	if err != nil {
		return err
	}
	if _, _, err := rt.ServerWeight(be, sv); err != nil {
		return serverErr(err)
	}
	switch arg(args, 1) {
	case "state":
		st, ok := map[string]plane.AdminState{"ready": plane.AdminReady, "drain": plane.AdminDrain, "maint": plane.AdminMaint}[arg(args, 2)]
		if !ok {
			return errors.New("'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n")
		}
		return serverErr(rt.SetServerAdmin(be, sv, st))
	case "weight":
		return setWeight(rt, be, sv, arg(args, 2))
	case "addr":
		if arg(args, 2) == "" {
			return errors.New("set server <b>/<s> addr requires an address and optionally a port.\n")
		}
		port := ""
		if arg(args, 3) == "port" {
			port = arg(args, 4)
		}
		io.WriteString(w, setServerAddr(rt, be, sv, arg(args, 2), port))
		return nil
	case "check-port":
		s := arg(args, 2)
		if s == "" {
			return errors.New("set server <b>/<s> check-port requires a port.\n")
		}
		// srv_update_check_addr_port: strl2irc, errors without a newline.
		if err := rt.SetServerCheckPort(be, sv, -1); errors.Is(err, plane.ErrNoCheck) {
			return errors.New("health checks are not enabled on this server")
		}
		n, err := strconv.Atoi(s)
		switch {
		case err != nil && !isOutOfRange(err):
			return errors.New("provided port is not an integer")
		case err != nil || n < 0 || n > 65535:
			return errors.New("provided port is invalid")
		}
		return serverErr(rt.SetServerCheckPort(be, sv, n))
	}
	// The other settings of HAProxy's (agent, check-addr, fqdn, health, ssl …) are not
	// lb's: its usage names those lb has.
	return errors.New("usage: set server <backend>/<server> addr | check-port | state | weight\n")
}

func isOutOfRange(err error) bool {
	var ne *strconv.NumError
	return errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange)
}

// setServerAddr is HAProxy's srv_update_addr_port for "set server … addr <ip> [port
// <port>]": the IP changes even when the port that follows is refused; the reply says
// what changed.
func setServerAddr(rt plane.Control, be, sv, addr, port string) string {
	const by = " by 'stats socket command'\n"
	ip, err := netip.ParseAddr(addr)
	if err != nil || ip.Zone() != "" {
		return fmt.Sprintf("Invalid addr '%s'", addr) + by
	}
	curIP, curPort, curMapped, ok, err := rt.ServerAddr(be, sv)
	if err != nil {
		return serverErr(err).Error()
	}
	if !ok {
		return "Update for the current server address family is only supported through configuration file" + by
	}
	var msg strings.Builder
	var ch plane.AddrChange
	if curIP == ip.Unmap() {
		msg.WriteString("no need to change the addr")
	} else {
		ch.IP, ch.SetIP = ip, true
		fmt.Fprintf(&msg, "IP changed from '%s' to '%s'", curIP, addr)
	}
	if port != "" {
		msg.WriteString(", ")
		n, rest, ok := strtol(port)
		if !ok {
			fmt.Fprintf(&msg, "problem converting port '%s' to an int", port)
		} else {
			_ = rest // strtol's end is not checked by HAProxy
			sign := port[0]
			n = int(uint16(n)) // HAProxy stores it in a uint16_t
			mapped := sign == '+' || sign == '-'
			if mapped && sign == '-' {
				n = -int(uint16(-n))
			}
			required := curPort != n || mapped != curMapped
			if !mapped {
				required = curPort != n || curMapped
			}
			if required {
				ch.Port, ch.SetPort, ch.MappedPort = n, true, mapped
			}
		}
	}
	if ch.SetIP || ch.SetPort {
		err := rt.SetServerAddr(be, sv, ch)
		if errors.Is(err, plane.ErrPortMapCheck) {
			// HAProxy applies the IP and refuses the port.
			ch.SetPort = false
			if ch.SetIP {
				err = rt.SetServerAddr(be, sv, ch)
			} else {
				err = nil
			}
			if err == nil {
				msg.WriteString("can't change <port> to port map because it is incompatible with current health check port configuration (use 'port' statement from the 'server' directive.")
				return msg.String() + by
			}
		}
		if err != nil {
			return serverErr(err).Error()
		}
	}
	if port != "" {
		if _, _, ok := strtol(port); ok {
			if ch.SetPort {
				msg.WriteString("port changed from '")
				if curMapped {
					msg.WriteString("+")
				}
				fmt.Fprintf(&msg, "%d' to '", curPort)
				if ch.MappedPort {
					msg.WriteByte(port[0])
					if ch.Port < 0 {
						ch.Port = -ch.Port
					}
				}
				fmt.Fprintf(&msg, "%d'", ch.Port)
			} else {
				msg.WriteString("no need to change the port")
			}
		}
	}
	return msg.String() + by
}

// showServersConn is "show servers conn [<backend>]" in HAProxy 2.6's layout. lb's idle
// connections are one pool per server, not one per thread: the pool is shown as the
// first thread's.
func showServersConn(rt plane.Control, backend string, threads int, w io.Writer) error {
	conns, err := rt.ServerConns(backend)
	if err != nil {
		return errors.New("Can't find backend.\n")
	}
	nbt := max(threads, 1)
	var b strings.Builder
	fmt.Fprintf(&b, "# bkname/svname bkid/svid addr port - purge_delay used_cur used_max need_est unsafe_nb safe_nb idle_lim idle_cur idle_per_thr[%d]\n", nbt)
	for _, c := range conns {
		idle := c.Unsafe + c.Safe
		fmt.Fprintf(&b, "%s/%s %d/%d %s %d - %d %d %d %d %d %d %d %d", c.Backend, c.Server, c.BackendID, c.ID, c.Addr, c.Port,
			c.PurgeDelay.Milliseconds(), c.Used, c.UsedMax, c.NeedEst, c.Unsafe, c.Safe, c.IdleLim, idle)
		for i := 0; i < nbt; i++ {
			if i == 0 {
				fmt.Fprintf(&b, " %d", idle)
			} else {
				b.WriteString(" 0")
			}
		}
		b.WriteString("\n")
	}
	io.WriteString(w, b.String())
	return nil
}

// sessionArg reads a session's handle as HAProxy reads a pointer (strtoul, base 0): 0 is
// no session.
func sessionArg(s string) (uint64, bool) {
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil || v == 0 {
		// strtoul reads the digits it can: "0x12zz" is 0x12.
		n := 0
		for n < len(s) && strings.ContainsRune("0123456789abcdefABCDEFxX", rune(s[n])) {
			n++
		}
		if v, err = strconv.ParseUint(s[:n], 0, 64); err != nil || v == 0 {
			return 0, false
		}
	}
	return v - 1, true
}

// showSess is "show sess [id|all]": one line per session in HAProxy's layout, the
// session's handle first ("shutdown session" takes it): lb prints its session number
// plus one (HAProxy's stream pointer is never 0). Of HAProxy's fields lb has the
// protocol, the client's address, the frontend, the backend, the server and the age;
// ts, epoch, calls, rate, cpu, lat, the channels' flags (rq, rp), the stream
// connectors (scf, scb), exp, rc and c_exp are HAProxy's scheduler and buffer internals,
// which lb has not: they are printed as for an idle stream. With an id or "all",
// HAProxy dumps its internals over many lines; lb prints the same one line.
func showSess(rt plane.Control, which string, w io.Writer) error {
	var want uint64
	one := which != "" && which != "all"
	if one {
		id, ok := sessionArg(which)
		if !ok {
			return errors.New("Session not found.\n")
		}
		want = id
	}
	var b strings.Builder
	found := false
	now := time.Now()
	for _, s := range rt.Sessions() {
		if one && s.ID != want {
			continue
		}
		found = true
		proto := "tcpv4"
		if s.Client.Addr().Is6() && !s.Client.Addr().Is4In6() {
			proto = "tcpv6"
		}
		be, sv := s.Backend, s.Server
		if be == "" {
			be = "<NONE>"
		}
		if sv == "" {
			sv = "<none>"
		}
		src := "?"
		if s.Client.IsValid() {
			src = s.Client.String()
		}
		fmt.Fprintf(&b, "0x%x: proto=%s src=%s fe=%s be=%s srv=%s ts=00 epoch=0 age=%s calls=0 rate=0 cpu=0 lat=0"+
			" rq[f=0h,i=0,an=00h,rx=,wx=,ax=] rp[f=0h,i=0,an=00h,rx=,wx=,ax=] scf=[8,0h,fd=-1] scb=[8,0h,fd=-1] exp= rc=0 c_exp=\n",
			s.ID+1, proto, src, s.Frontend, be, sv, humanTime(now.Sub(s.Accept)))
	}
	if one && !found {
		return errors.New("Session not found.\n")
	}
	io.WriteString(w, b.String())
	return nil
}

// humanTime is HAProxy's human_time: days, hours, minutes, seconds, the units that are
// not 0 ("1m5s", "0s").
func humanTime(d time.Duration) string {
	t := int(d.Seconds())
	var b strings.Builder
	if t >= 86400 {
		fmt.Fprintf(&b, "%dd", t/86400)
		t %= 86400
	}
	if t >= 3600 {
		fmt.Fprintf(&b, "%dh", t/3600)
		t %= 3600
	}
	if t >= 60 {
		fmt.Fprintf(&b, "%dm", t/60)
		t %= 60
	}
	if t > 0 || b.Len() == 0 {
		fmt.Fprintf(&b, "%ds", t)
	}
	return b.String()
}
