package logs

import (
	"net/netip"
	"strconv"
	"time"
)

// TCPLog holds the fields of HAProxy's "option tcplog" line, which the data
// plane fills in when a connection ends. The line is
//
//	%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq
//
// for example
//
//	127.0.0.1:36532 [25/Nov/2026:12:19:37.254] tl tl/s1 1/0/50 6 -- 1/1/0/0/0 0/0
//
// and is logged at LevelInfo.
type TCPLog struct {
	// Client is the client's address and port (%ci:%cp).
	Client netip.AddrPort
	// Accept is when the connection was accepted (%t), printed in its own
	// location; pass a local time, as HAProxy prints local time.
	Accept time.Time
	// Frontend, Backend and Server name the proxies and server (%ft %b/%s).
	// An empty Server prints "<NOSRV>".
	Frontend, Backend, Server string
	// Tw is the time waiting in queues, Tc the time to connect to the
	// server, Tt the total time (%Tw/%Tc/%Tt), printed in milliseconds; a
	// negative value prints -1 (the step was never reached).
	Tw, Tc, Tt time.Duration
	// Bytes is the number of bytes sent to the client (%B).
	Bytes int64
	// Term is the two-character termination state (%ts), "--" for a
	// normal end; empty prints "--".
	Term string
	// ActConn, FeConn, BeConn and SrvConn are the process, frontend,
	// backend and server concurrent connections when the log was emitted
	// (%ac/%fc/%bc/%sc).
	ActConn, FeConn, BeConn, SrvConn int
	// Retries is the number of connection retries (%rc); Redispatched
	// prefixes it with "+".
	Retries      int
	Redispatched bool
	// SrvQueue and BeQueue are the server and backend queue positions the
	// connection went through (%sq/%bq).
	SrvQueue, BeQueue int
}

// dateLayout is HAProxy's %t: "25/Nov/2026:12:19:37.254".
const dateLayout = "02/Jan/2006:15:04:05.000"

// AppendFormat appends the tcplog line to b.
func (l *TCPLog) AppendFormat(b []byte) []byte {
	b = appendAddr(b, l.Client)
	b = append(b, " ["...)
	b = l.Accept.AppendFormat(b, dateLayout)
	b = append(b, "] "...)
	b = append(b, l.Frontend...)
	b = append(b, ' ')
	b = append(b, l.Backend...)
	b = append(b, '/')
	if l.Server == "" {
		b = append(b, "<NOSRV>"...)
	} else {
		b = append(b, l.Server...)
	}
	b = append(b, ' ')
	b = appendMS(b, l.Tw)
	b = append(b, '/')
	b = appendMS(b, l.Tc)
	b = append(b, '/')
	b = appendMS(b, l.Tt)
	b = append(b, ' ')
	b = strconv.AppendInt(b, l.Bytes, 10)
	b = append(b, ' ')
	if len(l.Term) == 2 {
		b = append(b, l.Term...)
	} else {
		b = append(b, "--"...)
	}
	b = append(b, ' ')
	for _, n := range [...]int{l.ActConn, l.FeConn, l.BeConn, l.SrvConn} {
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, '/')
	}
	if l.Redispatched {
		b = append(b, '+')
	}
	b = strconv.AppendInt(b, int64(l.Retries), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(l.SrvQueue), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(l.BeQueue), 10)
	return b
}

// String returns the tcplog line.
func (l *TCPLog) String() string { return string(l.AppendFormat(nil)) }

// appendAddr writes "%ci:%cp": HAProxy prints IPv6 addresses without
// brackets ("::1:40402").
func appendAddr(b []byte, ap netip.AddrPort) []byte {
	b = ap.Addr().AppendTo(b)
	b = append(b, ':')
	return strconv.AppendUint(b, uint64(ap.Port()), 10)
}

func appendMS(b []byte, d time.Duration) []byte {
	if d < 0 {
		return append(b, "-1"...)
	}
	return strconv.AppendInt(b, d.Milliseconds(), 10)
}

// ConnectMessage is the line HAProxy logs at LevelInfo when a connection
// is accepted by a proxy without "option tcplog" (nor httplog):
// "Connect from 127.0.0.1:33312 to 127.0.0.1:19310 (fe/TCP)". mode is
// "TCP" or "HTTP".
func ConnectMessage(client, local netip.AddrPort, frontend, mode string) string {
	b := make([]byte, 0, 96)
	b = append(b, "Connect from "...)
	b = appendAddr(b, client)
	b = append(b, " to "...)
	b = appendAddr(b, local)
	b = append(b, " ("...)
	b = append(b, frontend...)
	b = append(b, '/')
	b = append(b, mode...)
	b = append(b, ')')
	return string(b)
}

// ShouldLog applies "option dontlognull": when it is set, a connection
// whose client sent no data at all is not logged (HAProxy checks the
// request channel's total, so a port scan or a load balancer probe leaves
// no line). Without the option every connection is logged.
func ShouldLog(dontLogNull bool, bytesFromClient int64) bool {
	return !dontLogNull || bytesFromClient > 0
}
