package http1

// Byte classes, as HAProxy's http_char_classes: one table lookup per byte
// in the parsers' inner loops instead of a chain of comparisons.
const (
	cToken = 1 << iota // tchar (RFC 9110 section 5.6.2): method and field names
	cVer               // what HAProxy lets into a version: A-Z 0-9 . /
	cURI               // a request target byte: 0x21-0x7e but '#'
	cValue             // a field value byte that ends no scan: not CR, LF, NUL
	cHex               // a hex digit
)

var class [256]uint8

func init() {
	for c := 0; c < 256; c++ {
		var f uint8
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			f |= cToken
		}
		switch c {
		case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
			f |= cToken
		}
		if c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '/' {
			f |= cVer
		}
		if c >= 0x21 && c <= 0x7e && c != '#' {
			f |= cURI
		}
		if c != '\r' && c != '\n' && c != 0 {
			f |= cValue
		}
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' {
			f |= cHex
		}
		class[c] = f
	}
}

// isLWS is HAProxy's HTTP_IS_LWS: the blanks trimmed around values and list
// elements (a folded line's CRLF has been turned into spaces by then).
func isLWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isSPHT(c byte) bool { return c == ' ' || c == '\t' }

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// EqualFold reports whether b and s are equal ignoring ASCII case, as
// header names and the tokens of HTTP are compared. It does not allocate.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i] != s[i] && lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// valueEnd returns the index of the next comma of a comma-separated value
// at or after i, skipping quoted strings, or len(v): HAProxy's
// http_find_hdr_value_end.
func valueEnd(v []byte, i int) int {
	quoted := false
	for ; i < len(v); i++ {
		switch c := v[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == ',':
			return i
		}
	}
	return len(v)
}

// nextToken returns the list element of v that starts at or after *i,
// blanks trimmed, and moves *i past it. ok is false at the end of v. An
// empty element (",,") is returned as an empty token, as HAProxy sees it.
func nextToken(v []byte, i *int) (tok []byte, ok bool) {
	p := *i
	for p < len(v) && isLWS(v[p]) {
		p++
	}
	if p >= len(v) {
		*i = p
		return nil, false
	}
	n := valueEnd(v, p)
	e := n
	for e > p && isLWS(v[e-1]) {
		e--
	}
	*i = n + 1 // past the comma
	return v[p:e], true
}

// ValueEnd returns the index of the first ',' of v outside a quoted string
// (with backslash pairs inside it), or len(v): where a list element of a
// field value ends, as HAProxy's http_find_hdr_value_end finds it.
func ValueEnd(v []byte) int { return listEnd(v, false) }

// CookieValueEnd is ValueEnd for a cookie value, which ';' ends too
// (HAProxy's http_find_cookie_value_end).
func CookieValueEnd(v []byte) int { return listEnd(v, true) }

func listEnd(v []byte, semicolon bool) int {
	quoted, qdpair := false, false
	for i, c := range v {
		switch {
		case qdpair:
			qdpair = false
		case quoted:
			if c == '\\' {
				qdpair = true
			} else if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == ',' || c == ';' && semicolon:
			return i
		}
	}
	return len(v)
}

// HasToken reports whether the comma-separated list v (a Connection or
// Upgrade value, say) holds token, ignoring case. It does not allocate.
func HasToken(v []byte, token string) bool {
	for i := 0; ; {
		t, ok := nextToken(v, &i)
		if !ok {
			return false
		}
		if EqualFold(t, token) {
			return true
		}
	}
}
