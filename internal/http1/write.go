package http1

import (
	"bytes"
	"strconv"
)

// tooLarge: HAProxy 2.6 has no 414 or 431. Measured with 2.6.12 at the
// default tune.bufsize 16384 (tune.maxrewrite 1024): a 20 kB URI, a 20 kB
// field and 50 fields of 400 bytes are all answered 400, and a response
// head that does not fit is a 502. The largest request head it took was
// 15281 bytes (the buffer less maxrewrite, less the HTX overhead).
func tooLarge(b []byte, request bool) *Error {
	e := &Error{Status: 502, Msg: "response head too large", H1Flags: MFNoPhdr | MFCleanConnHdr | MFResp,
		H1State: StateRpReason}
	if request {
		e.Status = 400
		e.Msg = "request head too large"
		e.H1Flags, e.H1State = MFNoPhdr|MFCleanConnHdr, StateRqURI
	}
	// The first offending byte: the start of the line that did not end.
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			e.Pos = i + 1
			// HAProxy stops in a field's value (measured with a
			// 17 kB field), past a start line that said HTTP/1.1.
			e.H1State = StateHdrVal
			if bytes.Contains(b[:bytes.IndexByte(b, '\n')], []byte("HTTP/1.1")) {
				e.H1Flags |= MFVer11
			}
			break
		}
	}
	return e
}

func appendRequest(dst []byte, m *Message, conn string) []byte {
	dst = append(dst, m.Method...)
	dst = append(dst, ' ')
	dst = append(dst, m.URI...)
	dst = append(dst, " HTTP/1."...)
	dst = append(dst, byte('0'+m.Minor&1))
	dst = append(dst, "\r\n"...)
	return appendFields(dst, m, conn)
}

func appendResponse(dst []byte, m *Message, conn string) []byte {
	dst = append(dst, "HTTP/1."...)
	dst = append(dst, byte('0'+m.Minor&1))
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(m.Status), 10)
	// HAProxy writes the space even when the reason is empty.
	dst = append(dst, ' ')
	dst = append(dst, m.Reason...)
	dst = append(dst, "\r\n"...)
	return appendFields(dst, m, conn)
}

// appendFields writes the fields but the hop-by-hop ones the proxy sets,
// then "Connection: conn", then the empty line. HAProxy 2.6 keeps a TE
// field only when it lists "trailers", and then rewrites it to just
// "trailers" (measured: "TE: trailers, deflate" is forwarded as
// "te: trailers", "TE: gzip" is dropped). The fields a Connection field
// names are kept, as HAProxy keeps them; Upgrade is always kept. Names
// go out in lower case, as HAProxy 2.6 forwards them (its internal message
// form keeps names lower-cased; measured: "Content-Length" from a server
// reaches the client as "content-length").
func appendFields(dst []byte, m *Message, conn string) []byte {
	for _, f := range m.Header.Fields {
		switch len(f.Name) {
		case 2:
			if EqualFold(f.Name, "te") {
				if HasToken(f.Value, "trailers") {
					dst = append(dst, "te: trailers\r\n"...)
				}
				continue
			}
		case 10:
			if EqualFold(f.Name, "connection") || EqualFold(f.Name, "keep-alive") {
				continue
			}
		case 16:
			if EqualFold(f.Name, "proxy-connection") {
				continue
			}
		}
		dst = appendLower(dst, f.Name)
		dst = append(dst, ": "...)
		dst = append(dst, f.Value...)
		dst = append(dst, "\r\n"...)
	}
	if conn != "" {
		dst = append(dst, "connection: "...)
		dst = append(dst, conn...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// appendLower appends name in lower case.
func appendLower(dst, name []byte) []byte {
	n := len(dst)
	dst = append(dst, name...)
	for i, c := range dst[n:] {
		if 'A' <= c && c <= 'Z' {
			dst[n+i] = c + 'a' - 'A'
		}
	}
	return dst
}
