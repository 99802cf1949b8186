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
	// TLS says the client connection is TLS: %ft prints '~' after the
	// frontend's name. SSLCipher and SSLVersion are its suite and version
	// as OpenSSL names them (%sslc, %sslv; "" prints "-").
	TLS                   bool
	SSLCipher, SSLVersion string
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

	// The fields below are printed by log-format strings only (LogFormat);
	// the tcplog line does not show them, except BindID.

	// BindID is the numeric id of the listener that accepted the
	// connection: its "id" setting, else its rank among its frontend's
	// listeners from 1 (HAProxy's luid). A client of a unix socket has no
	// address (Client and Local invalid): HAProxy prints it as "unix" and
	// the port as BindID ("unix:1" in a tcplog line).
	BindID int
	// Local is the address the client connected to (%fi:%fp): the
	// destination of the PROXY header with accept-proxy, else the socket's
	// local address.
	Local netip.AddrPort
	// ServerLocal is the local address of the connection to the server
	// (%bi:%bp) and ServerAddr the server's address (%si:%sp); invalid
	// when no connection was attempted (no server), printed "-". A failed
	// connection keeps the addresses it tried.
	ServerLocal, ServerAddr netip.AddrPort
	// Th is the handshake time (%Th): the wait for the PROXY header of a
	// listener with accept-proxy, else 0. Tt counts it.
	Th time.Duration
	// Td is the data transfer time (%Td): from the connection to the
	// server to the end, Tt - Th - Tw - Tc, or -1 when no connection was
	// established. HAProxy computes it from the same instants, so it is a
	// field rather than derived here (HAProxy's TCP %Tw is one more than
	// its queue time, lb's is not).
	Td time.Duration
	// BytesIn is the number of bytes received from the client (%U).
	BytesIn int64
	// SessionID is HAProxy's request counter (%rt): the number of the
	// session among all the sessions the process accepted, from 0,
	// whether they were logged or not.
	SessionID uint64
	// LogCount is the number of sessions the frontend logged before this
	// one (%lc), from 0.
	LogCount uint64
	// UniqueID is the session's unique id (%ID), rendered by the proxy's
	// unique-id-format (see LogFormat.GenerateUniqueID); empty prints "-".
	UniqueID []byte
	// Sample is what the "%[…]" sample expressions of a log-format or
	// unique-id-format are evaluated on: it is passed, as it is, to the
	// SampleFunc the format's LogFormatOptions.Sample compiled. The logs
	// package never looks into it; nil is passed as nil.
	Sample any

	// HTTP is the part of an HTTP transaction's record (mode http, one
	// record per request); unset (HTTP.Set false) in a TCP session's. It
	// changes what some of the fields above mean: see HTTPLog.
	HTTP HTTPLog
}

// dateLayout is HAProxy's %t: "25/Nov/2026:12:19:37.254".
const dateLayout = "02/Jan/2006:15:04:05.000"

// AppendFormat appends the tcplog line to b.
func (l *TCPLog) AppendFormat(b []byte) []byte {
	if l.Client.IsValid() {
		b = appendAddr(b, l.Client)
	} else {
		b = append(b, "unix:"...)
		b = strconv.AppendInt(b, int64(l.BindID), 10)
	}
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
// brackets nor zone ("::1:40402"), as inet_ntop does.
func appendAddr(b []byte, ap netip.AddrPort) []byte {
	b = ap.Addr().WithZone("").AppendTo(b)
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
