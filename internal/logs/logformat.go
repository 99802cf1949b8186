package logs

import (
	"bytes"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// DefaultTCPLogFormat is the log-format equivalent of "option tcplog"
// (configuration.txt §8.2.2); compiled, it prints what TCPLog.AppendFormat
// prints.
const DefaultTCPLogFormat = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq"

// LogFormatOptions tunes CompileLogFormat.
type LogFormatOptions struct {
	// UniqueID compiles a unique-id-format rather than a log-format: an
	// empty value prints nothing instead of "-", as HAProxy parses
	// unique-id-format without the "mandatory" default flag (a variable
	// can still ask for it with %{+M}), and errors name unique-id-format.
	UniqueID bool
	// Check compiles a health check rule's log-format (tcp-check send-lf
	// …), which HAProxy parses with no option: an empty value prints
	// nothing, not "-". A check has no session to describe, so only the
	// variables that do not read one are accepted: %[…], %H and %pid.
	Check bool
	// HTTP is set for a proxy in mode http: the variables HAProxy reserves
	// for HTTP mode (%r, %HM, %Ta, %tr, …) are accepted, as HAProxy 2.6
	// does; a proxy in mode tcp refuses them in HAProxy's words.
	HTTP bool
	// PID is %pid; zero means os.Getpid().
	PID int
	// Hostname is %H, the system's host name; empty means os.Hostname().
	Hostname string
	// ReqCaptures and ResCaptures are the numbers of "capture request
	// header" and "capture response header" lines of the frontend. With
	// captures, HAProxy prints %hr as "{}" (one "|" between two captures)
	// and %hrl as "-" per capture even in a TCP session, which fills none;
	// with none, both print nothing.
	ReqCaptures, ResCaptures int
	// Sample compiles the sample expression of a "%[expr]" node (expr
	// is what is between the brackets; rest is the format from expr on,
	// which HAProxy's messages quote). Its error is the message the
	// format's compilation fails with. Nil refuses "%[" as not supported.
	Sample func(expr, rest string) (SampleFunc, error)
}

// SampleFunc appends the value of a compiled sample expression, as a
// string, to dst, evaluated on ctx (the record's TCPLog.Sample). ok is
// false when the sample is absent: the fetch found nothing or its value
// cannot be made a string. It must not keep dst.
type SampleFunc func(dst []byte, ctx any) (out []byte, ok bool)

// LogFormat is a compiled log-format or unique-id-format string (HAProxy 2.6
// configuration.txt §8.2.6 "Custom log format"). It is immutable and safe
// for concurrent use.
type LogFormat struct {
	src     string
	nodes   []fmtNode
	pid     int
	host    string
	reqCaps int
	resCaps int
}

// Node flags, HAProxy's LOG_OPT_*.
const (
	flagMandatory uint8 = 1 << iota // M: an empty string prints "-"
	flagQuote                       // Q: strings in double quotes
	flagHex                         // X: addresses, ports and some numbers in hexadecimal
	flagEscape                      // E: '"', '\' and ']' escaped with '\'
)

var flagNames = map[string]uint8{"M": flagMandatory, "Q": flagQuote, "X": flagHex, "E": flagEscape}

// varKind is what a node prints.
type varKind uint8

const (
	kText         varKind = iota
	kSep                  // a run of spaces: one space, never two in a row nor at the start
	kBytes                // %B
	kHostname             // %H
	kUniqueID             // %ID
	kStatus               // %ST
	kDateGMT              // %T
	kTc                   // %Tc
	kTd                   // %Td
	kTh                   // %Th
	kDateLocal            // %Tl
	kTs                   // %Ts
	kTt                   // %Tt
	kTu                   // %Tu
	kTw                   // %Tw
	kBytesIn              // %U
	kActConn              // %ac
	kBackend              // %b
	kBeConn               // %bc
	kBackendIP            // %bi
	kBackendPort          // %bp
	kBeQueue              // %bq
	kClientIP             // %ci
	kClientPort           // %cp
	kFrontend             // %f
	kFeConn               // %fc
	kFrontendIP           // %fi
	kFrontendPort         // %fp
	kFrontendXprt         // %ft
	kHdrReq               // %hr
	kHdrReqList           // %hrl
	kHdrRes               // %hs
	kHdrResList           // %hsl
	kLogCount             // %lc
	kMillis               // %ms
	kPID                  // %pid
	kRetries              // %rc
	kCounter              // %rt
	kServer               // %s
	kSrvConn              // %sc
	kServerIP             // %si
	kServerPort           // %sp
	kSrvQueue             // %sq
	kSSLCipher            // %sslc
	kSSLVersion           // %sslv
	kDate                 // %t
	kTermState            // %ts
	kTermStateCk          // %tsc
	kGlobal               // %o: sets the default flags of the variables after it
	kSample               // %[expr]

	// HTTP mode only.
	kCookieCli    // %CC
	kCookieSrv    // %CS
	kHTTPMethod   // %HM
	kHTTPPath     // %HP
	kHTTPPathOnly // %HPO
	kHTTPQuery    // %HQ
	kHTTPURI      // %HU
	kHTTPVersion  // %HV
	kTa           // %Ta
	kTi           // %Ti
	kTq           // %Tq
	kTResp        // %Tr
	kTReq         // %TR
	kRequest      // %r
	kReqDate      // %tr
	kReqDateGMT   // %trg
	kReqDateLocal // %trl
)

// formatVars are HAProxy 2.6's log-format variables that mean something
// for a TCP session.
var formatVars = map[string]varKind{
	"B": kBytes, "H": kHostname, "ID": kUniqueID, "ST": kStatus, "T": kDateGMT,
	"Tc": kTc, "Td": kTd, "Th": kTh, "Tl": kDateLocal, "Ts": kTs, "Tt": kTt,
	"Tu": kTu, "Tw": kTw, "U": kBytesIn, "ac": kActConn, "b": kBackend,
	"bc": kBeConn, "bi": kBackendIP, "bp": kBackendPort, "bq": kBeQueue,
	"ci": kClientIP, "cp": kClientPort, "f": kFrontend, "fc": kFeConn,
	"fi": kFrontendIP, "fp": kFrontendPort, "ft": kFrontendXprt,
	"hr": kHdrReq, "hrl": kHdrReqList, "hs": kHdrRes, "hsl": kHdrResList,
	"lc": kLogCount, "ms": kMillis, "pid": kPID, "rc": kRetries, "rt": kCounter,
	"s": kServer, "sc": kSrvConn, "si": kServerIP, "sp": kServerPort,
	"sq": kSrvQueue, "sslc": kSSLCipher, "sslv": kSSLVersion, "t": kDate,
	"ts": kTermState, "tsc": kTermStateCk, "o": kGlobal,
}

// httpVars are the variables HAProxy 2.6 reserves for mode http
// (logformat_keywords entries of PR_MODE_HTTP), all of which lb prints.
// %CC and %CS print what "capture cookie" captured, "-" (or "" quoted)
// when nothing was.
var httpVars = map[string]varKind{
	"CC": kCookieCli, "CS": kCookieSrv, "HM": kHTTPMethod, "HP": kHTTPPath,
	"HPO": kHTTPPathOnly, "HQ": kHTTPQuery, "HU": kHTTPURI, "HV": kHTTPVersion,
	"Ta": kTa, "Ti": kTi, "Tq": kTq, "TR": kTReq, "Tr": kTResp, "r": kRequest,
	"tr": kReqDate, "trg": kReqDateGMT, "trl": kReqDateLocal,
}

type fmtNode struct {
	kind  varKind
	flags uint8
	text  string // kText's bytes
	// smp is kSample's compiled expression; http is set for the samples
	// of a unique-id-format, which HAProxy parses with LOG_OPT_HTTP and
	// prints encoded (lf_encode_chunk), never quoted nor "-".
	smp  SampleFunc
	http bool
}

// LogFormatError is a format string that does not compile. Its message is
// HAProxy 2.6's where HAProxy refuses the string too, so that lb can say
// "failed to parse log-format : <message>" as HAProxy does.
type LogFormatError struct {
	// Format is the string that was compiled.
	Format string
	// Msg is the reason.
	Msg string
}

func (e *LogFormatError) Error() string { return e.Msg }

// CompileLogFormat compiles a log-format or unique-id-format string as HAProxy
// 2.6 parses it (after the configuration lexer, which has already removed
// quotes and backslash escapes): "%%" is a '%', a run of spaces prints one
// space (none at the start), "%{flags}" before a variable sets its flags
// ("+Q", "-M", comma-separated) and "%o" sets the default flags of the
// variables after it. A '%' followed by a character that starts no
// variable is dropped, as HAProxy does. A sample expression ("%[expr]",
// flags allowed before it as "%{+Q}[expr]") is compiled by opt.Sample;
// unknown variables and flags are errors.
func CompileLogFormat(s string, opt LogFormatOptions) (*LogFormat, error) {
	f := &LogFormat{src: s, pid: opt.PID, host: opt.Hostname, reqCaps: opt.ReqCaptures, resCaps: opt.ResCaptures}
	if f.pid == 0 {
		f.pid = os.Getpid()
	}
	if f.host == "" {
		f.host, _ = os.Hostname()
	}
	keyword := "log-format"
	var defFlags uint8 = flagMandatory
	if opt.UniqueID {
		keyword, defFlags = "unique-id-format", 0
	}
	if opt.Check {
		defFlags = 0
	}
	fail := func(msg string) (*LogFormat, error) { return nil, &LogFormatError{Format: s, Msg: msg} }
	var text strings.Builder
	flushText := func() {
		if text.Len() > 0 {
			f.nodes = append(f.nodes, fmtNode{kind: kText, text: text.String()})
			text.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c == ' ' {
			flushText()
			if n := len(f.nodes); n == 0 || f.nodes[n-1].kind != kSep {
				f.nodes = append(f.nodes, fmtNode{kind: kSep})
			}
			i++
			continue
		}
		if c != '%' {
			text.WriteByte(c)
			i++
			continue
		}
		if i+1 == len(s) {
			return fail("truncated line after '%'")
		}
		var arg string
		hasArg := false
		j := i + 1
		switch n := s[j]; {
		case n == '%':
			text.WriteByte('%')
			i += 2
			continue
		case n == '{':
			end := strings.IndexByte(s[j+1:], '}')
			if end < 0 {
				return fail("truncated line after '" + s[j+1:] + "'")
			}
			arg, hasArg = s[j+1:j+1+end], true
			j += end + 2
			if j < len(s) && s[j] == '[' {
				break
			}
			if j == len(s) || !isAlnum(s[j]) {
				return fail("parse argument modifier without variable name near '%{" + arg + "}'")
			}
		case n == '[':
		case isAlpha(n):
		case isDigit(n) || n == ' ' || n == '\t':
			return fail("unexpected variable name near '" + string(n) + "' at position " + strconv.Itoa(j) +
				" line : '" + s + "'. Maybe you want to write a single '%', use the syntax '%%'")
		default:
			// HAProxy drops the '%' and goes on with the text.
			i++
			continue
		}
		if s[j] == '[' {
			// A sample expression: up to the first ']', as HAProxy reads it.
			end := strings.IndexByte(s[j+1:], ']')
			if end < 0 {
				return fail("missing ']' after '" + s[j+1:] + "'")
			}
			if opt.Sample == nil {
				return fail("'%[' in " + keyword + " is not supported by lb yet")
			}
			expr := s[j+1 : j+1+end]
			fn, err := opt.Sample(expr, s[j+1:])
			if err != nil {
				return fail(err.Error())
			}
			flags := defFlags
			if hasArg {
				var msg string
				if flags, msg = parseFlags(arg, flags, "["+expr+"]"); msg != "" {
					return fail(msg)
				}
			}
			flushText()
			f.nodes = append(f.nodes, fmtNode{kind: kSample, flags: flags, smp: fn, http: opt.UniqueID})
			i = j + end + 2
			continue
		}
		k := j
		for k < len(s) && isAlnum(s[k]) {
			k++
		}
		name := s[j:k]
		kind, ok := formatVars[name]
		if !ok {
			hk, isHTTP := httpVars[name]
			switch {
			case isHTTP && opt.HTTP:
				kind = hk
			case isHTTP:
				return fail("format variable '" + name + "' is reserved for HTTP mode")
			default:
				return fail("no such format variable '" + name + "'. If you wanted to emit the '%' character verbatim, you need to use '%%'")
			}
		}
		flags := defFlags
		if hasArg {
			var msg string
			if flags, msg = parseFlags(arg, flags, name); msg != "" {
				return fail(msg)
			}
		}
		if opt.Check && kind != kHostname && kind != kPID {
			return fail("format variable '" + name + "' in a health-check rule is not supported by lb yet")
		}
		if kind == kGlobal {
			defFlags = flags
		} else {
			flushText()
			f.nodes = append(f.nodes, fmtNode{kind: kind, flags: flags})
		}
		i = k
	}
	flushText()
	return f, nil
}

// parseFlags applies the comma-separated "+F" and "-F" words of a
// variable's argument to flags; msg says why it cannot. HAProxy 2.6
// ignores the words it does not know; lb refuses them, as a misspelt flag
// would otherwise be lost without a word.
func parseFlags(arg string, flags uint8, name string) (_ uint8, msg string) {
	for _, w := range strings.Split(arg, ",") {
		if w == "" {
			continue
		}
		if w[0] != '+' && w[0] != '-' {
			return 0, "flag '" + w + "' of format variable '" + name + "' needs a '+' or '-' sign"
		}
		bit, ok := flagNames[w[1:]]
		if !ok {
			return 0, "unknown flag '" + w[1:] + "' for format variable '" + name + "' (known: M, Q, X, E)"
		}
		if w[0] == '+' {
			flags |= bit
		} else {
			flags &^= bit
		}
	}
	return flags, ""
}

// isAlpha and isAlnum are C's in the C locale, which HAProxy's parser uses.
func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }

// String returns the source of the format.
func (f *LogFormat) String() string { return f.src }

// UsesUniqueID reports whether the format prints %ID, so that a proxy
// without it can skip generating unique ids.
func (f *LogFormat) UsesUniqueID() bool {
	for _, n := range f.nodes {
		if n.kind == kUniqueID {
			return true
		}
	}
	return false
}

// UsesSamples reports whether the format has sample expressions ("%[…]"),
// which read the record's Sample.
func (f *LogFormat) UsesSamples() bool {
	for _, n := range f.nodes {
		if n.kind == kSample {
			return true
		}
	}
	return false
}

// GenerateUniqueID renders f, a unique-id-format, for r into buf[:0] and
// stores the result in r.UniqueID, as HAProxy 2.6 does for a TCP session
// just before logging it: every value is final, and %ID in the format
// itself prints nothing. It returns the buffer, to be reused for the next
// session once the log line is built.
func (f *LogFormat) GenerateUniqueID(r *TCPLog, buf []byte) []byte {
	r.UniqueID = nil
	buf = f.appendLimited(buf[:0], r, maxUniqueIDLen)
	r.UniqueID = buf
	return buf
}

// maxUniqueIDLen is what HAProxy keeps of a unique id: UNIQUEID_LEN (128)
// bytes with the terminating NUL.
const maxUniqueIDLen = 127

// dateGMTLayout is %T and dateLocalLayout %Tl; %t is dateLayout.
const (
	dateGMTLayout   = "02/Jan/2006:15:04:05"
	dateLocalLayout = "02/Jan/2006:15:04:05 -0700"
)

// AppendFormat appends the line the format prints for r to b. It does not
// allocate when b has room. Like HAProxy, it stops at a variable that
// cannot be printed (%{+X}ci for a unix socket client), keeping what came
// before.
func (f *LogFormat) AppendFormat(b []byte, r *TCPLog) []byte {
	return f.appendLimited(b, r, -1)
}

// partial reports whether HAProxy prints what fits of a node that does not
// fit whole: text and plain strings, which it copies with strlcpy. Numbers,
// dates, addresses and quoted or escaped strings are left out whole.
func (n *fmtNode) partial() bool {
	switch n.kind {
	case kText:
		return true
	case kFrontend, kFrontendXprt, kBackend, kServer, kHostname, kUniqueID:
		return n.flags&(flagQuote|flagEscape) == 0
	case kSample:
		return n.http || n.flags&(flagQuote|flagEscape) == 0
	}
	return n.encoded()
}

// encoded reports whether n prints a part of the request line, which
// HAProxy encodes (lf_encode_chunk) as far as it fits, quoted or not.
func (n *fmtNode) encoded() bool {
	switch n.kind {
	case kRequest, kHTTPMethod, kHTTPURI, kHTTPPath, kHTTPPathOnly, kHTTPQuery, kHTTPVersion:
		return true
	}
	return false
}

// escape is the byte that starts the escapes n prints, 0 when it
// prints none.
func (n *fmtNode) escape() byte {
	switch {
	case n.encoded():
		return '#'
	case n.kind == kSample && n.http:
		return '%'
	}
	return 0
}

// appendLimited is AppendFormat printing at most limit bytes (no limit
// when negative), stopping as HAProxy's build_logline does at the first
// node that does not fit.
func (f *LogFormat) appendLimited(b []byte, r *TCPLog, limit int) []byte {
	start := len(b)
	lastSpace := true // no space at the start of a line
	for i := range f.nodes {
		n := &f.nodes[i]
		if limit >= 0 && len(b)-start > limit {
			break
		}
		before := len(b)
		b = f.appendNode(b, n, r, lastSpace)
		if limit >= 0 && len(b)-start > limit {
			if !n.partial() {
				return b[:before]
			}
			b = b[:start+limit]
			if esc := n.escape(); esc != 0 {
				// An escape is written whole or not at all ('#' is
				// always escaped, so it starts one; a '%' of a sample
				// almost always does: only control bytes are escaped
				// there, and a '%' of the value itself is taken for
				// one).
				if k := bytes.LastIndexByte(b[max(before, len(b)-2):], esc); k >= 0 {
					b = b[:max(before, len(b)-2)+k]
				}
			}
			return b
		}
		if n.kind == kSep {
			lastSpace = true
		} else if len(b) > before || n.setsSpace(f, r) {
			lastSpace = false
		}
		if n.stops(r) {
			break
		}
	}
	return b
}

// stops reports whether n ends the line: HAProxy cannot print a unix
// socket address in hexadecimal and stops there, keeping what came before.
func (n *fmtNode) stops(r *TCPLog) bool {
	return n.flags&flagHex != 0 &&
		(n.kind == kClientIP && !r.Client.IsValid() || n.kind == kFrontendIP && !r.Local.IsValid())
}

// setsSpace reports whether n, printing nothing, still counts as printed
// for the spacing: every variable does except the header captures when
// there are none (%hr prints nothing and HAProxy skips it entirely), or
// when the record has no stream (see HTTPLog).
func (n *fmtNode) setsSpace(f *LogFormat, r *TCPLog) bool {
	switch n.kind {
	case kHdrReq, kHdrReqList:
		_, ok := r.captures(false)
		return f.reqCaps > 0 && ok
	case kHdrRes, kHdrResList:
		_, ok := r.captures(true)
		return f.resCaps > 0 && ok
	}
	return true
}

// appendNode prints one node; a separator prints a space unless lastSpace.
func (f *LogFormat) appendNode(b []byte, n *fmtNode, r *TCPLog, lastSpace bool) []byte {
	{
		q := n.flags&flagQuote != 0
		x := n.flags&flagHex != 0
		switch n.kind {
		case kSep:
			if !lastSpace {
				b = append(b, ' ')
			}
		case kText:
			b = append(b, n.text...)
		case kHdrReq, kHdrRes, kHdrReqList, kHdrResList:
			res := n.kind == kHdrRes || n.kind == kHdrResList
			caps := f.reqCaps
			if res {
				caps = f.resCaps
			}
			vals, ok := r.captures(res)
			switch {
			case caps == 0 || !ok: // nothing printed (see setsSpace)
			case n.kind == kHdrReq || n.kind == kHdrRes:
				b = appendCaptures(b, caps, vals, n.flags)
			default:
				b = appendCaptureList(b, caps, vals, n.flags)
			}
		case kClientIP, kFrontendIP:
			ap := r.Client
			if n.kind == kFrontendIP {
				ap = r.Local
			}
			switch {
			case !ap.IsValid() && x: // nothing: the line ends here (see stops)
			case !ap.IsValid():
				b = appendText(b, "unix", n.flags)
			default:
				b = appendIP(b, ap.Addr(), n.flags)
			}
		case kClientPort, kFrontendPort:
			ap := r.Client
			if n.kind == kFrontendPort {
				ap = r.Local
			}
			if !ap.IsValid() {
				b = strconv.AppendInt(b, int64(r.BindID), 10)
				break
			}
			b = appendPort(b, ap.Port(), x)
		case kBackendIP, kServerIP:
			ap := r.ServerLocal
			if n.kind == kServerIP {
				ap = r.ServerAddr
			}
			if !ap.IsValid() {
				b = appendText(b, "", n.flags)
				break
			}
			b = appendIP(b, ap.Addr(), n.flags)
		case kBackendPort, kServerPort:
			ap := r.ServerLocal
			if n.kind == kServerPort {
				ap = r.ServerAddr
			}
			if !ap.IsValid() {
				b = appendText(b, "", n.flags)
				break
			}
			b = appendPort(b, ap.Port(), x)
		case kDate:
			b = r.Accept.AppendFormat(b, dateLayout)
		case kDateGMT:
			b = r.Accept.UTC().AppendFormat(b, dateGMTLayout)
			b = append(b, " +0000"...)
		case kDateLocal:
			b = r.Accept.AppendFormat(b, dateLocalLayout)
		case kTs:
			b = appendNum(b, uint64(r.Accept.Unix()), x, 4)
		case kMillis:
			ms := uint64(r.Accept.Nanosecond() / 1e6)
			if x {
				b = appendHex(b, ms, 2)
				break
			}
			b = append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
		case kFrontend:
			b = appendText(b, r.Frontend, n.flags)
		case kFrontendXprt:
			// Quoted but never escaped nor "-": HAProxy copies the name,
			// and a '~' after it when the client connection is TLS.
			if q {
				b = append(b, '"')
			}
			b = append(b, r.Frontend...)
			if r.TLS {
				b = append(b, '~')
			}
			if q {
				b = append(b, '"')
			}
		case kBackend:
			b = appendText(b, r.Backend, n.flags)
		case kServer:
			s := r.Server
			if s == "" {
				s = "<NOSRV>"
			}
			b = appendText(b, s, n.flags)
		case kSSLCipher:
			b = appendText(b, r.SSLCipher, n.flags)
		case kSSLVersion:
			b = appendText(b, r.SSLVersion, n.flags)
		case kTh:
			b = appendMS(b, r.Th)
		case kTw:
			b = appendMS(b, r.tw())
		case kTc:
			b = appendMS(b, r.tc())
		case kTt:
			b = appendMS(b, r.Tt)
		case kTu:
			b = appendMS(b, r.tu())
		case kTd:
			b = appendMS(b, r.td())
		case kStatus:
			b = strconv.AppendInt(b, int64(r.status()), 10)
		case kBytes:
			b = strconv.AppendInt(b, r.bytesOut(), 10)
		case kBytesIn:
			b = strconv.AppendInt(b, r.bytesIn(), 10)
		case kTermState, kTermStateCk:
			if len(r.Term) == 2 {
				b = append(b, r.Term...)
			} else {
				b = append(b, "--"...)
			}
			if n.kind == kTermStateCk {
				c, s := r.cookieLetters()
				b = append(b, c, s)
			}
		case kActConn:
			b = strconv.AppendInt(b, int64(r.ActConn), 10)
		case kFeConn:
			b = strconv.AppendInt(b, int64(r.FeConn), 10)
		case kBeConn:
			b = strconv.AppendInt(b, int64(r.BeConn), 10)
		case kSrvConn:
			b = strconv.AppendInt(b, int64(r.SrvConn), 10)
		case kRetries:
			if r.Redispatched {
				b = append(b, '+')
			}
			b = strconv.AppendInt(b, int64(r.Retries), 10)
		case kSrvQueue:
			b = strconv.AppendInt(b, int64(r.SrvQueue), 10)
		case kBeQueue:
			b = strconv.AppendInt(b, int64(r.BeQueue), 10)
		case kCounter:
			b = appendNum(b, r.SessionID, x, 4)
		case kLogCount:
			b = appendNum(b, r.LogCount, x, 4)
		case kPID:
			b = appendNum(b, uint64(f.pid), x, 4)
		case kHostname:
			b = appendText(b, f.host, n.flags)
		case kUniqueID:
			b = appendText(b, r.uniqueID(), n.flags)
		case kSample:
			b = appendSample(b, n, r)
		case kCookieCli:
			b = appendText(b, r.HTTP.CapturedCookieCli, n.flags)
		case kCookieSrv:
			b = appendText(b, r.HTTP.CapturedCookieSrv, n.flags)
		case kTa:
			b = appendMS(b, r.ta())
		case kTi:
			b = appendMS(b, r.ti())
		case kTq:
			b = appendMS(b, r.tq())
		case kTReq:
			b = appendMS(b, r.tr())
		case kTResp:
			b = appendMS(b, r.tResp())
		case kReqDate:
			b = r.requestDate().AppendFormat(b, dateLayout)
		case kReqDateGMT:
			b = r.requestDate().UTC().AppendFormat(b, dateGMTLayout)
			b = append(b, " +0000"...)
		case kReqDateLocal:
			b = r.requestDate().AppendFormat(b, dateLocalLayout)
		case kRequest, kHTTPMethod, kHTTPURI, kHTTPPath, kHTTPPathOnly, kHTTPQuery, kHTTPVersion:
			line, ok := r.requestLine()
			if n.kind == kRequest {
				if !ok {
					line = badReq
				}
			} else {
				line = requestPart(n.kind, line, ok)
			}
			if q {
				b = append(b, '"')
			}
			b = appendEncoded(b, line, &urlEncodeMap, n.flags)
			if q {
				b = append(b, '"')
			}
		}
	}
	return b
}

// appendText is HAProxy's lf_text_len: a string, quoted with Q, escaped
// with E; an empty one prints "-" with M unless quoted ("").
func appendText[S string | []byte](b []byte, s S, flags uint8) []byte {
	if flags&flagQuote != 0 {
		b = append(b, '"')
	}
	switch {
	case len(s) > 0 && flags&flagEscape != 0:
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == '"' || c == '\\' || c == ']' {
				b = append(b, '\\')
			}
			b = append(b, s[i])
		}
	case len(s) > 0:
		b = append(b, s...)
	case flags&(flagQuote|flagMandatory) == flagMandatory:
		b = append(b, '-')
	}
	if flags&flagQuote != 0 {
		b = append(b, '"')
	}
	return b
}

// appendSample is HAProxy's LOG_FMT_EXPR: the sample as a string, printed
// as lf_text_len prints text (quoted with Q, escaped with E, "-" with M
// when absent or empty); in a unique-id-format (LOG_OPT_HTTP), encoded
// by lf_encode_chunk with http_encode_map: control bytes as "%XX", '"',
// '\' and ']' escaped with E, never quoted nor "-".
func appendSample(b []byte, n *fmtNode, r *TCPLog) []byte {
	start := len(b)
	b, ok := n.smp(b, r.Sample)
	if !ok {
		b = b[:start]
	}
	switch {
	case n.http:
		return encodeTail(b, start, &httpEncodeMap, '%', n.flags, false)
	case len(b) > start:
		return encodeTail(b, start, nil, 0, n.flags, n.flags&flagQuote != 0)
	case n.flags&flagQuote != 0:
		return append(b, '"', '"')
	case n.flags&flagMandatory != 0:
		return append(b, '-')
	}
	return b
}

// encodeTail rewrites b[start:] in place as appendEncodedWith prints it
// (m nil: no byte is escaped with esc), between double quotes with quote,
// without a buffer of its own: b grows by what the escapes add and is
// rewritten from its end.
func encodeTail(b []byte, start int, m *[256]bool, esc byte, flags uint8, quote bool) []byte {
	const hexDigits = "0123456789ABCDEF"
	escE := flags&flagEscape != 0
	special := func(c byte) bool { return escE && (c == '"' || c == '\\' || c == ']') }
	extra := 0
	for _, c := range b[start:] {
		switch {
		case m != nil && m[c]:
			extra += 2
		case special(c):
			extra++
		}
	}
	if quote {
		extra += 2
	}
	end := len(b)
	for range extra {
		b = append(b, 0)
	}
	w := len(b)
	if quote {
		w--
		b[w] = '"'
	}
	for r := end - 1; r >= start; r-- {
		c := b[r]
		switch {
		case m != nil && m[c]:
			w -= 3
			b[w], b[w+1], b[w+2] = esc, hexDigits[c>>4], hexDigits[c&15]
		case special(c):
			w -= 2
			b[w], b[w+1] = '\\', c
		default:
			w--
			b[w] = c
		}
	}
	if quote {
		b[start] = '"'
	}
	return b
}

// appendIP is HAProxy's lf_ip: the address as text (quoted with Q), or its
// bytes in upper-case hexadecimal with X (never quoted).
func appendIP(b []byte, a netip.Addr, flags uint8) []byte {
	if flags&flagHex == 0 {
		if flags&flagQuote != 0 {
			b = append(b, '"')
		}
		b = a.WithZone("").AppendTo(b)
		if flags&flagQuote != 0 {
			b = append(b, '"')
		}
		return b
	}
	if a.Is4() {
		v := a.As4()
		for _, c := range v {
			b = appendHex(b, uint64(c), 2)
		}
		return b
	}
	v := a.As16()
	for _, c := range v {
		b = appendHex(b, uint64(c), 2)
	}
	return b
}

// appendPort is HAProxy's lf_port: decimal, or four hexadecimal digits
// with X; never quoted.
func appendPort(b []byte, port uint16, hex bool) []byte {
	if hex {
		return appendHex(b, uint64(port), 4)
	}
	return strconv.AppendUint(b, uint64(port), 10)
}

// appendNum prints v in decimal, or with X in upper-case hexadecimal of
// at least digits digits (HAProxy's "%04X").
func appendNum(b []byte, v uint64, hex bool, digits int) []byte {
	if hex {
		return appendHex(b, v, digits)
	}
	return strconv.AppendUint(b, v, 10)
}

// appendHex prints v in upper-case hexadecimal, zero-padded to digits.
func appendHex(b []byte, v uint64, digits int) []byte {
	const hexDigits = "0123456789ABCDEF"
	n := 1
	for w := v >> 4; w != 0; w >>= 4 {
		n++
	}
	for ; digits > n; digits-- {
		b = append(b, '0')
	}
	for shift := 4 * (n - 1); shift >= 0; shift -= 4 {
		b = append(b, hexDigits[(v>>uint(shift))&0xf])
	}
	return b
}

// appendCaptures is %hr and %hs with n captures whose values are vals
// (missing ones absent): "{a|b}", encoded, quoted with Q. A TCP session
// fills none: "{}" for one capture, "{|}" for two.
func appendCaptures(b []byte, n int, vals [][]byte, flags uint8) []byte {
	quote := flags&flagQuote != 0
	if quote {
		b = append(b, '"')
	}
	b = append(b, '{')
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, '|')
		}
		if i < len(vals) {
			b = appendEncoded(b, cString(vals[i]), &hdrEncodeMap, flags)
		}
	}
	b = append(b, '}')
	if quote {
		b = append(b, '"')
	}
	return b
}

// appendCaptureList is %hrl and %hsl: each of the n captures encoded,
// "-" when absent ("" with Q, which quotes each), separated by spaces.
func appendCaptureList(b []byte, n int, vals [][]byte, flags uint8) []byte {
	quote := flags&flagQuote != 0
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ' ')
		}
		if quote {
			b = append(b, '"')
		}
		switch {
		case i < len(vals) && vals[i] != nil:
			b = appendEncoded(b, cString(vals[i]), &hdrEncodeMap, flags)
		case !quote:
			b = append(b, '-')
		}
		if quote {
			b = append(b, '"')
		}
	}
	return b
}

// cString is s up to its first NUL, where HAProxy's C string ends.
func cString(s []byte) []byte {
	if i := bytes.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}
