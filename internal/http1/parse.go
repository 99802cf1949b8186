package http1

import (
	"encoding/binary"
	"math"
)

// The parsers follow HAProxy 2.6's h1_headers_to_hdr_list and the checks
// its H1 multiplexer adds (h1_htx.c). The behaviours below were measured
// against HAProxy 2.6.12 (Debian 2.6.12-1+deb12u4) on loopback, and the
// tests hold one case per measurement:
//
//   - Leading empty lines (CRLF or bare LF) before the start line are
//     skipped; bare LF ends any line; a CR not followed by LF is a 400.
//   - Request line: the method is one or more tchars (any case); one or
//     more SP or HT separate the parts. The URI takes 0x21-0x7e; '#' and
//     bytes >= 0x80 are refused unless AcceptInvalid; control bytes, DEL
//     and NUL are always refused. (HAProxy's 4-bytes-at-a-time URI loop
//     lets DEL through when it sits inside an aligned word, and refuses it
//     elsewhere; lb refuses it always.)
//   - Version: "HTTP/" digit "." digit, else 400 (AcceptInvalid: any run
//     of A-Z 0-9 . /). HTTP/1.2 and HTTP/2.0 are taken as HTTP/1.1,
//     HTTP/0.9 as HTTP/1.0. A request without a version (HTTP/0.9) is a
//     400; with AcceptInvalid a "GET uri" one is taken as HTTP/1.0 and
//     has no fields (its head ends with its line).
//   - Field names are tchars, else 400 (AcceptInvalid: any byte but LF
//     and ':'), an empty name is a 400 even with AcceptInvalid. A space
//     before the colon is therefore a 400.
//   - obs-fold: a line starting with SP or HT continues the previous
//     value; HAProxy overwrites the CRLF with spaces in its buffer and so
//     does ParseRequest in b. A first field line starting with a blank is
//     a 400 (its name is invalid).
//   - Content-Length: several fields, or a comma-separated list, of equal
//     values are merged into the first field, whose value becomes the
//     bare number ("3 , 3" -> "3"; "003" stays "003"); differing values,
//     empty elements, signs, non-digits and values above 2^63-1 are a 400.
//     (HAProxy wraps 18446744073709551616 to 0; lb refuses it.)
//   - Transfer-Encoding: "chunked" twice (in one field or two) is a 400;
//     a coding after "chunked" in a request is a 400; a request whose
//     codings do not end in chunked is a 400; a request whose codings end
//     in chunked but hold another (or an empty) one ("gzip, chunked") is a
//     422. A response with any coding but chunked is a 502, one with an
//     empty Transfer-Encoding is delimited by the close.
//   - Transfer-Encoding with Content-Length: Content-Length is removed
//     from the Header and the connection closed after the message (Close).
//     Transfer-Encoding in HTTP/1.0 also closes it.
//   - Host: a second Host field with another value is a 400 (one with the
//     same value is dropped); a Host that differs from an absolute URI's
//     authority (default ports aside) is a 400 unless AcceptInvalid.
//   - HAProxy's header list holds MaxHeaders entries, the last of which
//     marks the end: a head with MaxHeaders fields or more (after merging)
//     is a 400 (request) or 502 (response); 100 fields pass by default.
//   - Responses: the version is any 8 A-Z 0-9 . / bytes with '/' digit
//     '.' digit from the fifth (AcceptInvalid: any such run); the status
//     follows after one or more blanks; the reason may be empty or absent
//     ("HTTP/1.1 200" is written back as "HTTP/1.1 200 ").
//
// Deliberate differences from 2.6.12, each safer than the measured
// behaviour: NUL in a field value is refused (400/502) unless
// AcceptInvalid, as RFC 9110 section 5.5 asks and HAProxy 2.8+ does
// (2.6.12 forwards it); a status must be three digits, 100 to 999 (2.6.12
// forwards "20", "099" and "2000"); the websocket rule (an Upgrade:
// websocket request without Sec-WebSocket-Key is a 400) is left to the
// proxy.

// parser holds what the field loop learns about a head.
type parser struct {
	b      []byte
	m      *Message
	resp   bool
	acc    bool
	status int // for errors: 400 for a request, 502 for a response
	max    int // fields allowed: MaxHeaders-1

	clen, xfer, chunked, teChunked, teOther bool
	connClose, connKeepAlive, connUpgrade   bool
	upgrade                                 bool
	clenPos, xferPos                        int
	ver11                                   bool // the version read says 1.1 (H1_MF_VER_11)
	hostSeen                                bool
	host                                    []byte
}

// err returns the error found at pos, where HAProxy's parser would be in
// state st.
func (p *parser) err(pos int, st H1State, msg string) *Error {
	e := &Error{Status: p.status, Pos: pos, Msg: msg, H1State: st, H1Flags: p.h1flags()}
	if p.clen {
		e.H1Len = p.m.ContentLength
	}
	return e
}

// before returns the state before a start line: RQBEFORE or RPBEFORE, and
// their _CR variants when cr.
func (p *parser) before(cr bool) H1State {
	st := StateRqBefore
	if p.resp {
		st = StateRpBefore
	}
	if cr {
		st++
	}
	return st
}

func (m *Message) reset() {
	h := m.Header
	h.Reset()
	*m = Message{Header: h}
}

func (p *parser) init(b []byte, m *Message, opt *Options, resp bool) {
	*p = parser{b: b, m: m, resp: resp, status: 400, max: 100}
	if resp {
		p.status = 502
	}
	if opt != nil {
		p.acc = opt.AcceptInvalid
		if opt.MaxHeaders > 0 {
			p.max = opt.MaxHeaders - 1
		}
	}
	m.reset()
}

// skipEmptyLines skips the CRLFs or LFs before a start line and checks
// that the start line begins with a tchar, as both HAProxy's RQBEFORE and
// RPBEFORE states do.
func (p *parser) skipEmptyLines() (int, error) {
	b := p.b
	i := 0
	for i < len(b) {
		switch b[i] {
		case '\n':
			i++
		case '\r':
			if i+1 >= len(b) {
				return 0, ErrIncomplete
			}
			if b[i+1] != '\n' {
				return 0, p.err(i+1, p.before(true), "CR not followed by LF")
			}
			i += 2
		default:
			if class[b[i]]&cToken == 0 {
				return 0, p.err(i, p.before(false), "invalid character at the start of the message")
			}
			return i, nil
		}
	}
	return 0, ErrIncomplete
}

// eol consumes the line end at i (CRLF or LF; the caller has seen CR or
// LF there) and returns the index after it; st is HAProxy's state there.
func (p *parser) eol(i int, st H1State) (int, error) {
	if p.b[i] == '\n' {
		return i + 1, nil
	}
	if i+1 >= len(p.b) {
		return 0, ErrIncomplete
	}
	if p.b[i+1] != '\n' {
		return 0, p.err(i+1, st, "CR not followed by LF")
	}
	return i + 2, nil
}

func skipSPHT(b []byte, i int) int {
	for i < len(b) && isSPHT(b[i]) {
		i++
	}
	return i
}

// minor11 is HAProxy's H1_MF_VER_11 rule: an 8-byte version whose major
// digit is above 1, or 1 with a minor digit of 1 or more.
func minor11(v []byte) int {
	if len(v) == 8 && (v[5] > '1' || v[5] == '1' && v[7] >= '1') {
		return 1
	}
	return 0
}

func parseRequest(b []byte, m *Message, opt *Options) (int, error) {
	var p parser
	p.init(b, m, opt, false)
	i, err := p.skipEmptyLines()
	if err != nil {
		return 0, err
	}
	// Method: tchars up to a blank; a line end right after it is an
	// HTTP/0.9 request without a URI.
	ms := i
	for i < len(b) && class[b[i]]&cToken != 0 {
		i++
	}
	if i >= len(b) {
		return 0, ErrIncomplete
	}
	m.Method = b[ms:i:i]
	var ver []byte
	switch c := b[i]; {
	case isSPHT(c):
		i = skipSPHT(b, i)
		if i >= len(b) {
			return 0, ErrIncomplete
		}
	case c == '\r' || c == '\n':
	default:
		return 0, p.err(i, StateRqMeth, "invalid character in the method")
	}
	if c := b[i]; c != '\r' && c != '\n' {
		// URI
		us := i
	uri:
		for ; i < len(b); i++ {
			c := b[i]
			if class[c]&cURI != 0 {
				continue
			}
			switch {
			case c == '#' || c >= 0x80:
				if !p.acc {
					return 0, p.err(i, StateRqURI, "invalid character in the URI")
				}
			case isSPHT(c), c == '\r', c == '\n':
				break uri
			default:
				return 0, p.err(i, StateRqURI, "invalid character in the URI")
			}
		}
		if i >= len(b) {
			return 0, ErrIncomplete
		}
		m.URI = b[us:i:i]
		if isSPHT(b[i]) {
			i = skipSPHT(b, i)
			if i >= len(b) {
				return 0, ErrIncomplete
			}
			if c := b[i]; c != '\r' && c != '\n' {
				vs := i
				for i < len(b) && class[b[i]]&cVer != 0 {
					i++
				}
				if i >= len(b) {
					return 0, ErrIncomplete
				}
				if c := b[i]; c != '\r' && c != '\n' {
					return 0, p.err(i, StateRqVer, "invalid character in the version")
				}
				ver = b[vs:i]
				p.ver11 = minor11(ver) == 1
				if !p.acc && !validRequestVersion(ver) {
					return 0, p.err(vs, StateData, "invalid HTTP version")
				}
			}
		}
	}
	le := i
	i, err = p.eol(i, StateRqLineEnd)
	if err != nil {
		return 0, err
	}
	if len(ver) == 0 {
		// HTTP/0.9: refused, unless AcceptInvalid has it converted to an
		// HTTP/1.0 request, which RFC 1945 allows for "GET uri" only. Its
		// head is the request line.
		if !p.acc || string(m.Method) != "GET" || len(m.URI) == 0 {
			return 0, p.err(le, StateData, "HTTP/0.9 request")
		}
		m.Close = true
		m.HeadLen = i
		return i, nil
	}
	m.Minor = minor11(ver)
	if i, err = p.fields(i); err != nil {
		return 0, err
	}
	if err := p.finish(i); err != nil {
		return 0, err
	}
	switch {
	case p.chunked:
		m.Framing = Chunked
	case p.clen:
		m.Framing = Length
	default:
		m.Framing = NoBody
	}
	m.Upgrade = m.Minor == 1 && p.connUpgrade && p.upgrade
	m.HeadLen = i
	return i, nil
}

func validRequestVersion(v []byte) bool {
	return len(v) == 8 && string(v[:5]) == "HTTP/" && isDigit(v[5]) && v[6] == '.' && isDigit(v[7])
}

func validResponseVersion(v []byte) bool {
	return len(v) == 8 && v[4] == '/' && isDigit(v[5]) && v[6] == '.' && isDigit(v[7])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func parseResponse(b []byte, m *Message, method []byte, opt *Options) (int, error) {
	var p parser
	p.init(b, m, opt, true)
	i, err := p.skipEmptyLines()
	if err != nil {
		return 0, err
	}
	vs := i
	for i < len(b) && class[b[i]]&cVer != 0 {
		i++
	}
	if i >= len(b) {
		return 0, ErrIncomplete
	}
	if !isSPHT(b[i]) {
		return 0, p.err(i, StateRpVer, "invalid character in the version")
	}
	ver := b[vs:i]
	p.ver11 = minor11(ver) == 1
	if !p.acc && !validResponseVersion(ver) {
		return 0, p.err(vs, StateData, "invalid HTTP version")
	}
	i = skipSPHT(b, i)
	if i >= len(b) {
		return 0, ErrIncomplete
	}
	cs := i
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	if i >= len(b) {
		return 0, ErrIncomplete
	}
	if c := b[i]; !isLWS(c) {
		return 0, p.err(i, StateRpCode, "invalid character in the status code")
	}
	if i-cs != 3 || b[cs] == '0' {
		return 0, p.err(cs, StateRpCode, "invalid status code")
	}
	m.Status = int(b[cs]-'0')*100 + int(b[cs+1]-'0')*10 + int(b[cs+2]-'0')
	if isSPHT(b[i]) {
		i = skipSPHT(b, i)
		rs := i
		for i < len(b) && b[i] != '\r' && b[i] != '\n' {
			i++
		}
		if i >= len(b) {
			return 0, ErrIncomplete
		}
		m.Reason = b[rs:i:i]
	}
	if i, err = p.eol(i, StateRpLineEnd); err != nil {
		return 0, err
	}
	m.Minor = minor11(ver)
	if i, err = p.fields(i); err != nil {
		return 0, err
	}
	if err := p.finish(i); err != nil {
		return 0, err
	}
	st := m.Status
	switch {
	case st == 101:
		m.Framing = Tunnel
		m.Upgrade = p.connUpgrade && p.upgrade
	case st < 200 || st == 204 || st == 304 || string(method) == "HEAD":
		m.Framing = NoBody
	case st < 300 && string(method) == "CONNECT":
		m.Framing = Tunnel
	case p.chunked:
		m.Framing = Chunked
	case p.clen:
		m.Framing = Length
	default:
		m.Framing = UntilClose
		m.Close = true
	}
	m.HeadLen = i
	return i, nil
}

// fields parses the field lines from i to the empty line and returns the
// index after it.
func (p *parser) fields(i int) (int, error) {
	b := p.b
	for {
		if i >= len(b) {
			return 0, ErrIncomplete
		}
		if c := b[i]; c == '\r' || c == '\n' {
			return p.eol(i, StateLastLF)
		}
		ls := i
		// Name, up to the colon.
		for i < len(b) && class[b[i]]&cToken != 0 {
			i++
		}
		for i < len(b) && b[i] != ':' {
			if !p.acc || b[i] == '\n' {
				return 0, p.err(i, StateHdrName, "invalid character in a field name")
			}
			i++
		}
		if i >= len(b) {
			return 0, ErrIncomplete
		}
		if i == ls {
			return 0, p.err(i, StateHdrName, "empty field name")
		}
		name := b[ls:i:i]
		i = skipSPHT(b, i+1)
		vs := i
		var ve int
		for {
			i = valueScan(b, i)
			if i >= len(b) {
				return 0, ErrIncomplete
			}
			if b[i] == 0 {
				if !p.acc {
					return 0, p.err(i, StateHdrVal, "NUL in a field value")
				}
				i++
				continue
			}
			e := i
			var err error
			if i, err = p.eol(i, StateHdrL2LF); err != nil {
				return 0, err
			}
			if i >= len(b) {
				return 0, ErrIncomplete // is the next line a continuation?
			}
			if !isSPHT(b[i]) {
				ve = e
				break
			}
			// obs-fold: the line break becomes blanks, as in HAProxy.
			for k := e; k < i; k++ {
				b[k] = ' '
			}
		}
		for vs < ve && isLWS(b[vs]) {
			vs++
		}
		for ve > vs && isLWS(b[ve-1]) {
			ve--
		}
		value := b[vs:ve:ve]
		value, add, err := p.field(name, value, vs)
		if err != nil {
			return 0, err
		}
		if add {
			if len(p.m.Header.Fields) >= p.max {
				return 0, p.tooMany(ls)
			}
			p.m.Header.Fields = append(p.m.Header.Fields, Field{Name: name, Value: value})
		}
	}
}

// field interprets the fields the parser cares about; vs is value's
// offset in the buffer. It returns the value to keep and whether to keep
// the field at all (a repeated Content-Length or Host is merged into the
// first).
func (p *parser) field(name, value []byte, vs int) ([]byte, bool, error) {
	switch len(name) {
	case 4:
		if !p.resp && EqualFold(name, "host") {
			first := !p.hostSeen
			return value, first, p.hostField(value, vs)
		}
	case 6:
		if !p.resp && EqualFold(name, "expect") && EqualFold(value, "100-continue") {
			p.m.Expect100 = p.m.Minor == 1 // RFC 9110 10.1.1: ignored in 1.0
		}
	case 7:
		if EqualFold(name, "upgrade") {
			p.upgrade = true
		}
	case 10:
		if EqualFold(name, "connection") {
			p.connection(value)
		}
	case 14:
		if EqualFold(name, "content-length") {
			first := !p.clen
			word, ok := p.contentLength(value)
			if !ok {
				return nil, false, p.err(vs, StateHdrL2LWS, "invalid Content-Length")
			}
			// The first field is kept with the bare number (HAProxy
			// indexes the cleaned word), the others are merged into it.
			return word, first, nil
		}
	case 17:
		if EqualFold(name, "transfer-encoding") {
			if !p.xfer {
				p.xferPos = vs
			}
			if !p.transferEncoding(value) {
				return nil, false, p.err(vs, StateHdrL2LWS, "invalid Transfer-Encoding")
			}
		}
	}
	return value, true, nil
}

func (p *parser) connection(v []byte) {
	for i := 0; ; {
		t, ok := nextToken(v, &i)
		if !ok {
			return
		}
		switch {
		case EqualFold(t, "close"):
			p.connClose = true
		case EqualFold(t, "keep-alive"):
			p.connKeepAlive = true
		case EqualFold(t, "upgrade"):
			p.connUpgrade = true
		}
	}
}

// contentLength is h1_parse_cont_len_header: every element of the list
// must be a number equal to the previous ones (of this field and of the
// fields before). It returns the last element's digits.
func (p *parser) contentLength(v []byte) ([]byte, bool) {
	var word []byte
	i := 0
	for {
		for i < len(v) && isLWS(v[i]) {
			i++
		}
		if i >= len(v) {
			return nil, false // empty value, or empty element after a comma
		}
		ds := i
		var n int64
		for ; i < len(v) && isDigit(v[i]); i++ {
			d := int64(v[i] - '0')
			if n > (math.MaxInt64-d)/10 {
				return nil, false
			}
			n = n*10 + d
		}
		if i == ds {
			return nil, false
		}
		word = v[ds:i:i]
		for i < len(v) && isLWS(v[i]) {
			i++
		}
		if i < len(v) && v[i] != ',' {
			return nil, false
		}
		if p.clen && n != p.m.ContentLength {
			return nil, false
		}
		p.clen = true
		p.m.ContentLength = n
		if i >= len(v) {
			return word, true
		}
		i++ // the comma
	}
}

// transferEncoding is h1_parse_xfer_enc_header: chunked may appear once,
// and in a request nothing may follow it. teOther records any other
// coding (an empty element counts as one), chunked whether chunked is
// last so far.
func (p *parser) transferEncoding(v []byte) bool {
	p.xfer = true
	for i := 0; ; {
		t, ok := nextToken(v, &i)
		if !ok {
			return true
		}
		p.chunked = false
		if EqualFold(t, "chunked") {
			if p.teChunked {
				return false // RFC 9112 7.1: chunked applied twice
			}
			p.teChunked, p.chunked = true, true
			continue
		}
		if !p.resp && p.teChunked {
			return false // RFC 9112 6.1: chunked must be a request's last
		}
		p.teOther = true
	}
}

// hostField checks a Host field: a second one must say the same, the
// first must match an absolute URI's authority.
func (p *parser) hostField(v []byte, vs int) error {
	if p.hostSeen {
		if !equalFoldBytes(v, p.host) {
			return p.err(vs, StateHdrL2LWS, "Host fields differ")
		}
		return nil
	}
	p.hostSeen, p.host = true, v
	if p.acc {
		return nil
	}
	scheme, auth := authority(p.m.URI)
	if len(auth) > 0 && !sameHost(v, auth, scheme) {
		return p.err(vs, StateLastLF, "Host differs from the URI's authority")
	}
	return nil
}

// authority returns the scheme and the authority (without userinfo) of an
// absolute URI, or the whole target of an authority-form one (CONNECT),
// as HAProxy's http_get_authority; none for an origin-form or "*".
func authority(uri []byte) (scheme, auth []byte) {
	if len(uri) == 0 || uri[0] == '/' || uri[0] == '*' {
		return nil, nil
	}
	i := 0
	if c := uri[0]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		i++
		for i < len(uri) {
			c := uri[i]
			if !(isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '+' || c == '-' || c == '.') {
				break
			}
			i++
		}
		if len(uri) < i+3 || string(uri[i:i+3]) != "://" {
			return nil, uri // authority-form
		}
		scheme = uri[:i]
		i += 3
	}
	s := i
	for i < len(uri) && uri[i] != '/' {
		if uri[i] == '@' {
			s = i + 1
		}
		i++
	}
	return scheme, uri[s:i]
}

// sameHost compares a Host value with a URI's authority, ignoring case and
// the scheme's default port on either side: measured, 2.6.12 takes
// "GET http://a:80/" and "GET https://a:443/" with "Host: a", and
// "CONNECT a:443" (no scheme: 80 and 443 are both default) with "Host:
// a", and refuses "http://a:8080/" or "CONNECT a:8443" with "Host: a".
func sameHost(host, auth, scheme []byte) bool {
	if equalFoldBytes(host, auth) {
		return true
	}
	switch {
	case len(scheme) == 0:
		return sameHostPort(host, auth, ":80") || sameHostPort(host, auth, ":443")
	case EqualFold(scheme, "http"):
		return sameHostPort(host, auth, ":80")
	case EqualFold(scheme, "https"):
		return sameHostPort(host, auth, ":443")
	}
	return false
}

func sameHostPort(host, auth []byte, def string) bool {
	trim := func(h []byte) []byte {
		if n := len(h) - len(def); n > 0 && string(h[n:]) == def {
			return h[:n]
		}
		return h
	}
	return equalFoldBytes(trim(host), trim(auth))
}

// finish applies what the fields said once the head is complete; end is
// the head's length, where HAProxy reports the errors found here.
func (p *parser) finish(end int) error {
	m := p.m
	if p.xfer {
		if p.clen {
			// Both: Transfer-Encoding wins, Content-Length goes, and the
			// connection is closed after this message (RFC 9112 6.1: the
			// message may have been smuggled past a 1.0 agent).
			m.Header.Del("Content-Length")
			m.ContentLength = 0
			p.clen = false
			m.Close = true
		} else if m.Minor == 0 {
			m.Close = true
		}
		if !p.chunked {
			if !p.resp {
				return p.err(end, StateData, "Transfer-Encoding not ending in chunked")
			}
			if p.teOther {
				return p.err(end, StateData, "unsupported transfer coding")
			}
		} else if p.teOther {
			// HAProxy 2.6 does not decode other codings: 422 for a
			// request, and the usual 502 for a response.
			e := p.err(end, StateData, "unsupported transfer coding")
			if !p.resp {
				e.Status = 422
			}
			return e
		}
	}
	if p.connClose || m.Minor == 0 && !p.connKeepAlive {
		m.Close = true
	}
	m.KeepAlive = m.Minor == 0 && p.connKeepAlive && !p.connClose
	return nil
}

// valueScan returns the index of the first CR, LF or NUL at or after i, or
// len(b). Values are most of a head: like HAProxy, it skips 8 bytes at a
// time while none is below 0x0e (the test is exact: x-0x0e.. borrows into
// a byte's top bit only for a byte below 0x0e that had it clear), and
// falls back to the table for the word that holds one (HT, say).
func valueScan(b []byte, i int) int {
	for {
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if (x-0x0e0e0e0e0e0e0e0e)&^x&0x8080808080808080 != 0 {
				break
			}
			i += 8
		}
		end := min(i+8, len(b))
		for i < end && class[b[i]]&cValue != 0 {
			i++
		}
		if i < end || i >= len(b) {
			return i
		}
	}
}

// tooMany is the error for the field at ls, one too many. HAProxy finds it
// a little later (measured): after the next line when that is a field, in
// state HDR_L2_LWS, or after the head's end when it is the empty line, in
// state LAST_LF; where those bytes are not there yet, at ls.
func (p *parser) tooMany(ls int) *Error {
	b := p.b
	next := func(i int) int { // the start of the line after the one at i, -1 if incomplete
		for ; i < len(b); i++ {
			if b[i] == '\n' {
				return i + 1
			}
		}
		return -1
	}
	pos, st := ls, StateHdrL2LWS
	if n := next(ls); n >= 0 && n < len(b) {
		if b[n] == '\r' || b[n] == '\n' {
			if e := next(n); e >= 0 {
				pos, st = e, StateLastLF
			}
		} else if e := next(n); e >= 0 {
			pos = e
		}
	}
	return p.err(pos, st, "too many header fields")
}
