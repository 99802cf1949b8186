package health

import (
	"fmt"
	"strings"
)

// ServerState is what the server state messages report besides the check
// result: counts taken after the transition was applied.
type ServerState struct {
	// Proxy and Server name the server ("be", "srv").
	Proxy, Server string
	// Backup marks a backup server: its messages start with "Backup ".
	Backup bool
	// Active and Backups are the usable active and backup servers of the
	// proxy after the change (HAProxy srv_act and srv_bck).
	Active, Backups int
	// Sessions is the server's current sessions (DOWN messages only).
	Sessions int
	// Requeued is the number of sessions redistributed: moved away from a
	// server going DOWN, or taken from the backend queue by one coming UP.
	Requeued int
	// Queued is what remains in the server's queue (DOWN), or the total
	// queued for it (UP).
	Queued int
}

// Syslog severities (RFC 5424 §6.2.1) of the messages, as HAProxy 2.6
// sends them: a server going DOWN at alert, UP at notice, a proxy left
// without servers at emerg.
const (
	SeverityServerDown = 1 // alert
	SeverityServerUp   = 5 // notice
	SeverityNoServer   = 0 // emerg
)

// ServerDownMessage formats HAProxy 2.6's message for a server that a
// check just marked DOWN, e.g.
//
//	Server be/srv is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.
func ServerDownMessage(st ServerState, r Result) string {
	return stateMessage(st, false, "is DOWN", checkReason(r))
}

// ServerUpMessage formats HAProxy 2.6's message for a server that a check
// just marked UP, e.g.
//
//	Server be/srv is UP, reason: Layer4 check passed, check duration: 0ms. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.
func ServerUpMessage(st ServerState, r Result) string {
	return stateMessage(st, true, "is UP", checkReason(r))
}

// ServerStateMessage formats a transition that no check caused; reason is
// appended after a comma when not empty ("changed from CLI").
func ServerStateMessage(st ServerState, up bool, reason string) string {
	if reason != "" {
		reason = ", " + reason
	}
	return stateMessage(st, up, "is "+upDown(up), reason)
}

// checkReason renders HAProxy's srv_append_status for a check result.
func checkReason(r Result) string {
	var b strings.Builder
	b.WriteString(", reason: ")
	b.WriteString(r.Status.Description())
	if r.Status.HasCode() {
		fmt.Fprintf(&b, ", code: %d", r.Code)
	}
	if r.Info != "" {
		b.WriteString(`, info: "`)
		b.WriteString(asciiEncode(r.Info))
		b.WriteByte('"')
	}
	if r.Duration >= 0 { // a passive check's verdict has none
		fmt.Fprintf(&b, ", check duration: %dms", r.Duration.Milliseconds())
	}
	return b.String()
}

// stateMessage renders "<prefix> <verb><reason>. <counts>." where the
// counts are the "online" form when up, else the "left" form.
func stateMessage(st ServerState, up bool, verb, reason string) string {
	var b strings.Builder
	b.WriteString(prefix(st))
	b.WriteByte(' ')
	b.WriteString(verb)
	b.WriteString(reason)
	onBackup := ""
	if st.Backups > 0 && st.Active == 0 {
		onBackup = " Running on backup."
	}
	if up {
		fmt.Fprintf(&b, ". %d active and %d backup servers online.%s %d sessions requeued, %d total in queue.",
			st.Active, st.Backups, onBackup, st.Requeued, st.Queued)
	} else {
		fmt.Fprintf(&b, ". %d active and %d backup servers left.%s %d sessions active, %d requeued, %d remaining in queue.",
			st.Active, st.Backups, onBackup, st.Sessions, st.Requeued, st.Queued)
	}
	return b.String()
}

// asciiEncode escapes the info text as HAProxy's chunk_asciiencode with '"'
// as the quote: non-printable bytes as \xHH, the quote and backslash with a
// backslash.
func asciiEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ProxyType is HAProxy's proxy_type_str: "frontend" or "backend" for a
// proxy with only that capability, "proxy" for a listen section.
func ProxyType(frontend, backend bool) string {
	switch {
	case frontend && !backend:
		return "frontend"
	case backend && !frontend:
		return "backend"
	}
	return "proxy"
}

// NoServerMessage formats the message logged when a proxy loses its last
// usable server: "backend be has no server available!" (a listen section
// reads "proxy be …"). proxyType comes from ProxyType.
func NoServerMessage(proxyType, proxy string) string {
	return proxyType + " " + proxy + " has no server available!"
}

// NoServerAlert is the same event as printed on stderr by HAProxy's
// ha_alert, with the name quoted: "backend 'be' has no server available!".
func NoServerAlert(proxyType, proxy string) string {
	return proxyType + " '" + proxy + "' has no server available!"
}

// SighupHeader is the log line that starts a proxy's SIGHUP state dump:
// "SIGHUP received, dumping servers states for proxy be.". On stderr
// HAProxy prints "SIGHUP received, dumping servers states." once instead.
func SighupHeader(proxy string) string {
	return "SIGHUP received, dumping servers states for proxy " + proxy + "."
}

// SighupServerLine is a server's line in the SIGHUP dump:
// "SIGHUP: Server be/srv is UP. Conn: 0 act, 0 pend, 1 tot.". act is the
// current sessions, pend the queued ones, tot the cumulated sessions.
func SighupServerLine(proxy, server string, up bool, act, pend int, tot int64) string {
	return fmt.Sprintf("SIGHUP: Server %s/%s is %s. Conn: %d act, %d pend, %d tot.", proxy, server, upDown(up), act, pend, tot)
}

// ProxyConns are the connection counters of a proxy's SIGHUP line.
type ProxyConns struct {
	// FeConn and BeConn are the current connections of the frontend and
	// backend sides; Pending the queued ones, Unassigned those queued in
	// the backend queue; FeTotal and BeTotal the cumulated connections.
	FeConn, BeConn, Pending, Unassigned int
	FeTotal, BeTotal                    int64
}

// SighupProxyLine is a proxy's summary line in the SIGHUP dump, e.g.
// "SIGHUP: Proxy be has 1 active servers and 1 backup servers available.
// Conn: act(FE+BE): 0+0, 0 pend (0 unass), tot(FE+BE): 0+0." or, with no
// usable server, "SIGHUP: Proxy be has no server available ! Conn: …".
func SighupProxyLine(proxy string, active, backups int, c ProxyConns) string {
	conn := fmt.Sprintf("Conn: act(FE+BE): %d+%d, %d pend (%d unass), tot(FE+BE): %d+%d.",
		c.FeConn, c.BeConn, c.Pending, c.Unassigned, c.FeTotal, c.BeTotal)
	if active == 0 && backups == 0 {
		return "SIGHUP: Proxy " + proxy + " has no server available ! " + conn
	}
	return fmt.Sprintf("SIGHUP: Proxy %s has %d active servers and %d backup servers available. %s",
		proxy, active, backups, conn)
}

// MaintDownMessage is logged (at alert) when a server is put in
// maintenance: "Server be/s1 is going DOWN for maintenance. 1 active and 1
// backup servers left. 0 sessions active, 0 requeued, 0 remaining in
// queue.".
func MaintDownMessage(st ServerState) string {
	return stateMessage(st, false, "is going DOWN for maintenance", "")
}

// MaintUpMessage is logged (at notice) when a server leaves maintenance:
// "Server be/s1 is UP/READY (leaving forced maintenance).". up is its
// health state and drain whether it stays in drain mode (".../DRAIN").
func MaintUpMessage(st ServerState, up, drain bool) string {
	admin := "READY"
	if drain {
		admin = "DRAIN"
	}
	return prefix(st) + " is " + upDown(up) + "/" + admin + " (leaving forced maintenance)."
}

// DrainMessage is logged (at notice) when a server enters drain mode:
// "Server be/s2 enters drain state. 1 active and 1 backup servers online.
// 0 sessions requeued, 0 total in queue.".
func DrainMessage(st ServerState) string {
	return stateMessage(st, true, "enters drain state", "")
}

// LeaveDrainMessage is logged (at notice) when a server leaves drain mode:
// "Server be/s2 is UP (leaving forced drain).".
func LeaveDrainMessage(st ServerState, up bool) string {
	return prefix(st) + " is " + upDown(up) + " (leaving forced drain)."
}

// HealthCheckMessage is the line of option log-health-checks (at notice)
// for a result that changed the health counter or the status (Event.Report):
// "Health check for server lh/h1 failed, reason: Layer4 connection
// problem, info: "Connection refused", check duration: 0ms, status: 2/3 UP.".
// The status shows the remaining successes of an UP server out of fall, or
// the successes of a DOWN one out of rise. A Checker puts the same line in
// Event.LogLine.
func HealthCheckMessage(st ServerState, ev Event, rise, fall int) string {
	return healthCheckLine(st.Proxy+"/"+st.Server, st.Backup, ev, rise, fall)
}

// healthCheckLine is HealthCheckMessage for a server named "proxy/server".
func healthCheckLine(name string, backup bool, ev Event, rise, fall int) string {
	var b strings.Builder
	b.WriteString("Health check for ")
	if backup {
		b.WriteString("backup ")
	}
	b.WriteString("server ")
	b.WriteString(name)
	b.WriteByte(' ')
	switch {
	case ev.Status == StatusL7OKC:
		b.WriteString("conditionally succeeded")
	case ev.Status.Passed():
		b.WriteString("succeeded")
	default:
		b.WriteString("failed")
	}
	b.WriteString(checkReason(ev.Result))
	if ev.Health >= rise {
		fmt.Fprintf(&b, ", status: %d/%d UP.", ev.Health-rise+1, fall)
	} else {
		fmt.Fprintf(&b, ", status: %d/%d DOWN.", ev.Health, rise)
	}
	return b.String()
}

// ServerStoppingMessage formats HAProxy 2.6's message for a server that a
// check just put in the stopping state (disable-on-404), e.g.
//
//	Server hc/h is stopping, reason: Layer7 check conditionally passed, code: 404, check duration: 1ms. 0 active and 1 backup servers online. Running on backup. 0 sessions requeued, 0 total in queue.
//
// st counts the servers after the change: a stopping server is not active.
func ServerStoppingMessage(st ServerState, r Result) string {
	return stateMessage(st, true, "is stopping", checkReason(r))
}

// TransitionMessage words the state change of ev (ev.State !=
// ev.PrevState) as HAProxy 2.6 logs it, with its syslog severity:
//
//	to StateDown from StateUp        ServerDownMessage      SeverityServerDown (alert)
//	to StateDown from StateStopping  ServerDownMessage      notice ("not an alert, just a notice")
//	to StateUp                       ServerUpMessage        SeverityServerUp (notice)
//	to StateStopping                 ServerStoppingMessage  notice
//
// With option log-health-checks (logHealthChecks), the reason is left
// out ("Server be/srv is DOWN. 1 active and …"): the health check line
// already gave it. It returns "" when the state did not change.
func TransitionMessage(st ServerState, ev Event, logHealthChecks bool) (msg string, severity int) {
	if ev.State == ev.PrevState {
		return "", 0
	}
	reason := checkReason(ev.Result)
	if logHealthChecks {
		reason = ""
	}
	switch ev.State {
	case StateDown:
		severity = SeverityServerDown
		if ev.PrevState == StateStopping {
			severity = SeverityServerUp
		}
		return stateMessage(st, false, "is DOWN", reason), severity
	case StateStopping:
		return stateMessage(st, true, "is stopping", reason), SeverityServerUp
	}
	return stateMessage(st, true, "is UP", reason), SeverityServerUp
}

func upDown(up bool) string {
	if up {
		return "UP"
	}
	return "DOWN"
}

func prefix(st ServerState) string {
	p := "Server " + st.Proxy + "/" + st.Server
	if st.Backup {
		p = "Backup " + p
	}
	return p
}
