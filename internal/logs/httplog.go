package logs

import (
	"bytes"
	"time"
)

// DefaultHTTPLogFormat is the log-format of "option httplog" (HAProxy 2.6
// src/log.c, default_http_log_format), for example
//
//	127.0.0.1:41864 [25/Nov/2026:12:19:37.254] fe be/s1 0/0/0/1/1 200 145 - - ---- 1/1/0/0/0 0/0 "GET /a?b=1 HTTP/1.1"
const DefaultHTTPLogFormat = "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"

// HTTPSLogFormat is the log-format of "option httpslog"
// (default_https_log_format): httplog's, then the connection's error
// codes (fc_err, ssl_fc_err as hexadecimal, ssl_c_err, ssl_c_ca_err),
// whether the TLS session was resumed, the SNI, version and suite:
//
//	127.0.0.1:43598 [30/Nov/2026:10:17:28.439] fe~ fe/<NOSRV> 0/-1/-1/-1/0 200 73 - - LR-- 1/1/0/0/0 0/0 "GET /p HTTP/1.1" 0/0000000000000000/0/0/1 x.test/TLSv1.3/TLS_AES_256_GCM_SHA384
const HTTPSLogFormat = DefaultHTTPLogFormat + " %[fc_err]/%[ssl_fc_err,hex]/%[ssl_c_err]/%[ssl_c_ca_err]/%[ssl_fc_is_resumed] %[ssl_fc_sni]/%sslv/%sslc"

// CLFHTTPLogFormat is the log-format of "option httplog clf"
// (clf_http_log_format): the Common Log Format, then HAProxy's fields.
const CLFHTTPLogFormat = `%{+Q}o %{-Q}ci - - [%trg] %r %ST %B "" "" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl`

// HTTPLog is what an HTTP transaction adds to its TCPLog (TCPLog.HTTP):
// HAProxy's stream log of one request in mode http. In such a record the
// TCPLog fields keep HAProxy's meaning for an HTTP stream:
//
//   - Accept is HAProxy's accept date (%t, %T, %Tl, %Ts, %ms): when the
//     connection was accepted for its first request, when the previous
//     response ended for the next ones (keep-alive). The request started
//     Th + Ti later (%tr).
//   - Th is the handshake time (PROXY header), 0 after the first request.
//   - Tw and Tc are the queue and connect times, -1 when not reached.
//   - Tt is the total time from Accept (%Tt), so that %Ta = Tt - Th - Ti
//     and %Tu = Tt - Ti.
//   - Bytes is the size of the response sent to the client, headers
//     included (%B); BytesIn what was received from the client (%U).
//   - Td is not read: an HTTP stream's %Td is derived, Ta - TR - Tw - Tc -
//     Tr, or -1 without a response from a server (Tr < 0).
//   - UniqueID is the request's unique id (%ID), generated when the request
//     was processed.
//
// A transaction without a request line is one HAProxy logs without a
// stream: the multiplexer refused or timed out a request it could not
// parse (400, 408 …) and logs it from the session alone. Its %r, %HM …
// print "<BADREQ>", and HAProxy prints 0 for %B and %U, -1 for %TR, %Tq,
// %Tw, %Tc, %Tr and %Td, "-" for %ID and the cookie letters of %tsc,
// and nothing at all for %hr, %hrl, %hs and %hsl, whatever the record
// holds. The renderer applies that rule.
type HTTPLog struct {
	// Set marks the record of an HTTP transaction; a record without it is
	// a TCP session's, whose HTTP variables print what HAProxy prints
	// without an HTTP transaction (%r "<BADREQ>", %ST 0, %Ti -1 …).
	Set bool
	// Request is the request line as received, without its CRLF (%r, and
	// %HM, %HU, %HP, %HPO, %HQ and %HV taken from it); empty when no
	// request was received. HAProxy logs the line it rebuilt from the
	// method, URI and version joined by one space, cut to 1023 bytes
	// (tune.http.logurilen 1024): the same bytes for a line whose words
	// are separated by single spaces, which is all lb's parser accepts.
	Request []byte
	// Status is the status sent to the client (%ST); 0 when none was
	// (the client left first), printed -1 as HAProxy does.
	Status int
	// Date is the start of the request (%tr, %trg, %trl). The zero value
	// means Accept + Th + Ti, as HAProxy computes it.
	Date time.Time
	// Ti is the idle time before the request (%Ti): from Accept (and Th)
	// to its first byte. TR is the time to receive the request head
	// (%TR), -1 if it never was complete; %Tq is Th + Ti + TR. Tr is the
	// server's response time (%Tr): from the request sent to the
	// response head received, -1 when no response head came.
	Ti, TR, Tr time.Duration
	// ReqCaptures and ResCaptures are the "capture request header" and
	// "capture response header" values, one per capture line in order
	// (%hr, %hrl, %hs, %hsl), each already cut to its capture's length.
	// A nil value is a header the message did not have ("-" in %hrl), an
	// empty non-nil one a header with an empty value.
	ReqCaptures, ResCaptures [][]byte
	// CookieCli and CookieSrv are the 3rd and 4th letters of %tsc, the
	// persistence cookie's states (HAProxy's sess_cookie "NIDVEOU" and
	// sess_set_cookie "NPDIRU" letters) when the backend has a "cookie";
	// 0 prints '-' (no cookie configured).
	CookieCli, CookieSrv byte
	// CapturedCookieCli and CapturedCookieSrv are what "capture cookie"
	// captured of the request's cookies and the response's Set-Cookie
	// fields (%CC, %CS): "name=value" cut to the capture's length, nil
	// (printed "-") when none was.
	CapturedCookieCli, CapturedCookieSrv []byte
}

// maxRequestLine is what HAProxy keeps of a request line for its logs:
// tune.http.logurilen (1024) less the terminating NUL.
const maxRequestLine = 1023

// ShouldLogHTTP applies "option dontlognull" to an HTTP transaction: a
// stream always logs its request, but a connection the client closed (or
// let time out) without sending a byte of a request is not logged when
// the option is set. request is the request line received, if any, and
// bytesFromClient what the client sent for this transaction.
func ShouldLogHTTP(dontLogNull bool, request []byte, bytesFromClient int64) bool {
	return !dontLogNull || len(request) > 0 || bytesFromClient > 0
}

// noStream reports whether r is an HTTP transaction HAProxy logs without a
// stream (see HTTPLog).
func (l *TCPLog) noStream() bool { return l.HTTP.Set && len(l.HTTP.Request) == 0 }

// requestLine returns HAProxy's txn->uri: the request line as logged, or
// ok false when there is none ("<BADREQ>").
func (l *TCPLog) requestLine() (line []byte, ok bool) {
	if l.noStream() || !l.HTTP.Set {
		return nil, false
	}
	line = l.HTTP.Request
	if len(line) > maxRequestLine {
		line = line[:maxRequestLine]
	}
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i] // a C string ends there
	}
	return line, true
}

// HAProxy's timers of an HTTP stream (sess_build_logline): t_idle is -1
// outside one, and counts as 0 in the sums where it is negative.

func (l *TCPLog) ti() time.Duration {
	if !l.HTTP.Set {
		return -1
	}
	return l.HTTP.Ti
}

// idleHandshake is HAProxy's "t_idle >= 0 ? t_idle + t_handshake : 0".
func (l *TCPLog) idleHandshake() time.Duration {
	if ti := l.ti(); ti >= 0 {
		return ti + l.Th
	}
	return 0
}

func (l *TCPLog) tr() time.Duration {
	if !l.HTTP.Set || l.noStream() || l.HTTP.TR < 0 {
		return -1
	}
	return l.HTTP.TR
}

func (l *TCPLog) tq() time.Duration {
	if tr := l.tr(); tr >= 0 {
		return tr + max(l.ti(), 0) + l.Th
	}
	return -1
}

func (l *TCPLog) tw() time.Duration {
	if l.noStream() {
		return -1
	}
	return l.Tw
}

func (l *TCPLog) tc() time.Duration {
	if l.noStream() {
		return -1
	}
	return l.Tc
}

func (l *TCPLog) tResp() time.Duration {
	if !l.HTTP.Set || l.noStream() || l.HTTP.Tr < 0 {
		return -1
	}
	return l.HTTP.Tr
}

func (l *TCPLog) ta() time.Duration {
	if l.Tt < 0 {
		return -1
	}
	return l.Tt - l.idleHandshake()
}

func (l *TCPLog) tu() time.Duration {
	if l.Tt < 0 {
		return -1
	}
	return l.Tt - max(l.ti(), 0)
}

func (l *TCPLog) td() time.Duration {
	if !l.HTTP.Set {
		return l.Td
	}
	tr := l.tResp()
	if tr < 0 {
		return -1
	}
	// t_close - t_data, t_data being Th + Ti + TR + Tw + Tc + Tr.
	d := l.ta() - max(l.tr(), 0) - max(l.tw(), 0) - max(l.tc(), 0) - tr
	return max(d, 0)
}

// requestDate is %tr: HAProxy adds Th + Ti in milliseconds to the accept
// date.
func (l *TCPLog) requestDate() time.Time {
	if !l.HTTP.Date.IsZero() {
		return l.HTTP.Date
	}
	ms := func(d time.Duration) time.Duration { return d.Truncate(time.Millisecond) }
	if ti := l.ti(); ti >= 0 {
		return l.Accept.Add(ms(ti) + ms(l.Th))
	}
	return l.Accept
}

func (l *TCPLog) status() int {
	switch {
	case !l.HTTP.Set:
		return 0 // no transaction
	case l.HTTP.Status == 0:
		return -1 // HAProxy's txn->status until a response is sent
	}
	return l.HTTP.Status
}

func (l *TCPLog) bytesOut() int64 {
	if l.noStream() {
		return 0
	}
	return l.Bytes
}

func (l *TCPLog) bytesIn() int64 {
	if l.noStream() {
		return 0
	}
	return l.BytesIn
}

func (l *TCPLog) uniqueID() []byte {
	if l.noStream() {
		return nil
	}
	return l.UniqueID
}

// cookieLetters are the 3rd and 4th letters of %tsc.
func (l *TCPLog) cookieLetters() (byte, byte) {
	if !l.HTTP.Set || l.noStream() {
		return '-', '-'
	}
	c, s := l.HTTP.CookieCli, l.HTTP.CookieSrv
	if c == 0 {
		c = '-'
	}
	if s == 0 {
		s = '-'
	}
	return c, s
}

// captures returns the values %hr or %hs print and whether they print at
// all: a TCP session has the frontend's (empty) capture slots, an HTTP
// stream its values, a transaction without a stream none.
func (l *TCPLog) captures(res bool) (vals [][]byte, ok bool) {
	if l.noStream() {
		return nil, false
	}
	if !l.HTTP.Set {
		return nil, true
	}
	if res {
		return l.HTTP.ResCaptures, true
	}
	return l.HTTP.ReqCaptures, true
}

// Escape maps of HAProxy's logs (log.c init_log): url_encode_map for the
// request line and its parts, hdr_encode_map for captured headers. A
// byte in the map prints as '#' and two upper-case hexadecimal digits.
var urlEncodeMap, hdrEncodeMap [256]bool

// httpEncodeMap is HAProxy's http_encode_map, for the samples of a
// unique-id-format (an HTTP header's value): the control bytes but HTAB,
// printed as '%' and two hexadecimal digits.
var httpEncodeMap [256]bool

func init() {
	for c := 0; c < 256; c++ {
		if c < 32 || c >= 127 {
			urlEncodeMap[c], hdrEncodeMap[c] = true, true
		}
	}
	for _, c := range []byte(`"#`) {
		urlEncodeMap[c] = true
	}
	for _, c := range []byte(`"#{|}`) {
		hdrEncodeMap[c] = true
	}
	for c := 0; c < 32; c++ {
		httpEncodeMap[c] = c != '\t'
	}
	httpEncodeMap[0x7f] = true
}

// appendEncoded is HAProxy's lf_encode_chunk: s with the bytes of the map
// as "#XX", and with the E flag '"', '\' and ']' not in the map escaped
// with a backslash. It adds no quotes and prints nothing for an empty s.
func appendEncoded(b, s []byte, m *[256]bool, flags uint8) []byte {
	return appendEncodedWith(b, s, m, '#', flags)
}

// appendEncodedWith is appendEncoded with esc starting the escapes.
func appendEncodedWith(b, s []byte, m *[256]bool, esc byte, flags uint8) []byte {
	const hexDigits = "0123456789ABCDEF"
	for _, c := range s {
		switch {
		case m[c]:
			b = append(b, esc, hexDigits[c>>4], hexDigits[c&15])
		case flags&flagEscape != 0 && (c == '"' || c == '\\' || c == ']'):
			b = append(b, '\\', c)
		default:
			b = append(b, c)
		}
	}
	return b
}

var badReq = []byte("<BADREQ>")

// isSPHT is HAProxy's HTTP_IS_SPHT.
func isSPHT(c byte) bool { return c == ' ' || c == '\t' }

// requestPart returns what %HM, %HU, %HP, %HPO, %HQ or %HV prints of the
// request line, before encoding, as HAProxy's sess_build_logline scans it.
func requestPart(kind varKind, line []byte, ok bool) []byte {
	if !ok {
		return badReq
	}
	end := len(line)
	// i: after the method; j: after the spaces after it (nspaces = j-i).
	i := 0
	for i < end && !isSPHT(line[i]) {
		i++
	}
	j := i
	for j < end && isSPHT(line[j]) {
		j++
	}
	switch kind {
	case kHTTPMethod:
		if i == end {
			return badReq // a method alone
		}
		return line[:i]
	case kHTTPQuery:
		// From the first '?' of the line to the next space or tab.
		q := bytes.IndexByte(line, '?')
		if q < 0 {
			return nil
		}
		k := q
		for k < end && !isSPHT(line[k]) {
			k++
		}
		return line[q:k]
	}
	if j == i {
		return badReq // no space after the method
	}
	switch kind {
	case kHTTPURI, kHTTPPath, kHTTPPathOnly:
		k := j
		for k < end && !isSPHT(line[k]) && (kind != kHTTPPath || line[k] != '?') {
			k++
		}
		if kind == kHTTPPathOnly {
			return pathOnly(line[j:k])
		}
		return line[j:k]
	default: // kHTTPVersion
		k := j
		for k < end && !isSPHT(line[k]) {
			k++
		}
		for k < end && isSPHT(line[k]) {
			k++
		}
		if k == end {
			return []byte("HTTP/0.9")
		}
		return line[k:]
	}
}

// pathOnly is %HPO of a request URI: HAProxy's http_parse_path (the path
// of an origin-form or absolute-form URI, nothing for "*" or an
// authority) up to its first '?'.
func pathOnly(uri []byte) []byte {
	if len(uri) == 0 || uri[0] == '*' {
		return nil
	}
	p := uri
	if uri[0] != '/' {
		// A scheme "alpha *(alnum / + / - / .)" and "://", else an
		// authority (CONNECT), which has no path.
		if !isAlpha(uri[0]) {
			return nil
		}
		k := 1
		for k < len(uri) && (isAlnum(uri[k]) || uri[k] == '+' || uri[k] == '-' || uri[k] == '.') {
			k++
		}
		if !bytes.HasPrefix(uri[k:], []byte("://")) {
			return nil
		}
		p = uri[k+3:]
		// The authority runs to the first '/'.
		s := bytes.IndexByte(p, '/')
		if s < 0 {
			return nil
		}
		p = p[s:]
	}
	if q := bytes.IndexByte(p, '?'); q >= 0 {
		p = p[:q]
	}
	return p
}

// HTXSize is what HAProxy 2.6 counts of an HTTP/1 message in mode http:
// %B of a response and %U of a request are not the bytes on the wire but
// the size of the message in HAProxy's internal form (HTX) as it is
// forwarded. That is 20 bytes of start-line header plus startLine, the
// summed lengths of the start line's three words (method, URI and
// version, or version, status code and reason), plus fields, the summed
// lengths of the names and values of the header fields forwarded (values
// without their surrounding spaces; HAProxy drops the Connection header),
// plus 1 for the end of the head, plus body, the payload without chunk
// framing, plus 1 for a chunked message (the end of its trailers).
func HTXSize(startLine, fields int, body int64, chunked bool) int64 {
	n := 20 + int64(startLine) + int64(fields) + 1 + body
	if chunked {
		n++
	}
	return n
}
