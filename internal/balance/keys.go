package balance

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"

	"lb/internal/http1"
)

// Key makes the key argument of Pick from a 32-bit hash and whether the
// request had one, so that the key functions compose: Key(HashURI(…)).
// ok false gives 0, which makes a hash-based algorithm fall back to round
// robin, as backend.c assign_server does when get_server_ph or
// get_server_hh finds nothing. A present hash sets bit 32 so that a hash
// of 0 (sdbm of an empty value) stays a key.
func Key(h uint32, ok bool) uint64 {
	if !ok {
		return 0
	}
	return 1<<32 | uint64(h)
}

// keyHash splits a Pick key into its hash and whether there is one. A
// plain uint64(h) is also accepted, except h == 0 which reads as none.
func keyHash(key uint64) (uint32, bool) { return uint32(key), key != 0 }

// srcKeyBit marks the keys of HashAddr. The uri, url_param and hdr
// algorithms take them as no key, so a caller that passes HashAddr for
// every connection, whatever the algorithm, gets round robin from them
// rather than an accidental source hash.
const srcKeyBit = 1 << 33

// HashSource is the key of "balance source" for a client address, as
// backend.c get_server_sh computes it: the address's 32-bit big-endian
// words XORed together (an IPv4 address is its own hash; IPv6 folds four
// words). No hash function is applied; avalanche, when configured, is
// applied by Pick. An IPv4-mapped IPv6 address is hashed as the 16 bytes
// HAProxy sees on an IPv6 socket, so it differs from its IPv4 form. ok is
// false for an invalid address (a unix socket client), for which the
// algorithm falls back to round robin.
func HashSource(a netip.Addr) (h uint32, ok bool) {
	switch {
	case a.Is4():
		b := a.As4()
		return be32(b[:]), true
	case a.Is6():
		b := a.As16()
		return be32(b[0:]) ^ be32(b[4:]) ^ be32(b[8:]) ^ be32(b[12:]), true
	}
	return 0, false
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// URIOptions are the arguments of "balance uri".
type URIOptions struct {
	// Len hashes at most the first Len characters ("len"); 0 means all.
	Len int
	// Depth stops the hash before the (Depth+1)th '/' ("depth"), keeping
	// Depth directory levels; 0 means no limit.
	Depth int
	// Whole keeps the query string ("whole"); otherwise the hash stops at
	// the first '?'.
	Whole bool
	// PathOnly hashes the path alone ("path-only"): an absolute URI loses
	// its scheme and authority.
	PathOnly bool
}

// ParseURIOptions parses the words after "balance uri" (config's
// Balance.Args), as backend.c backend_parse_balance does.
func ParseURIOptions(args []string) (URIOptions, error) {
	var o URIOptions
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "len", "depth":
			v := ""
			if i+1 < len(args) {
				v = args[i+1]
			}
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return o, fmt.Errorf("uri : '%s' expects a positive integer (got '%s').", args[i], v)
			}
			if args[i] == "len" {
				o.Len = n
			} else {
				o.Depth = n
			}
			i++
		case "whole":
			o.Whole = true
		case "path-only":
			o.PathOnly = true
		default:
			return o, fmt.Errorf("uri only accepts parameters 'len', 'depth', 'path-only', and 'whole' (got '%s').", args[i])
		}
	}
	return o, nil
}

// HashURI is the key of "balance uri" for a request URI (the request
// line's target, as received). It mirrors backend.c get_server_uh, with
// assign_server's path-only step (http_parse_path). ok is always true:
// HAProxy hashes every URI, an empty one included.
func HashURI(uri []byte, o URIOptions, f HashFunc) (h uint32, ok bool) {
	if o.PathOnly {
		uri = uriPath(uri)
	}
	if o.Len > 0 && len(uri) > o.Len {
		uri = uri[:o.Len]
	}
	end, slashes := 0, 0
	for ; end < len(uri); end++ {
		c := uri[end]
		if c == '/' {
			slashes++
			if slashes == o.Depth+1 && o.Depth > 0 {
				break
			}
		} else if c == '?' && !o.Whole {
			break
		}
	}
	return f.Sum(uri[:end]), true
}

// uriPath is http.c http_parse_path: the URI from its path on (query
// included), or nothing for "*", an authority-form URI or an absolute URI
// without a path.
func uriPath(uri []byte) []byte {
	if len(uri) == 0 || uri[0] == '*' {
		return nil
	}
	if uri[0] == '/' {
		return uri
	}
	// http_parse_scheme: alpha *(alnum / "+" / "-" / ".") "://".
	if !isAlpha(uri[0]) {
		return nil
	}
	i := 1
	for i < len(uri) && (isAlpha(uri[i]) || uri[i] >= '0' && uri[i] <= '9' || uri[i] == '+' || uri[i] == '-' || uri[i] == '.') {
		i++
	}
	if !bytes.HasPrefix(uri[i:], []byte("://")) {
		return nil
	}
	// http_parse_authority: up to the first '/'.
	j := bytes.IndexByte(uri[i+3:], '/')
	if j < 0 {
		return nil
	}
	return uri[i+3+j:]
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// HashParam is the key of "balance url_param <name>" for a request URI. It
// mirrors backend.c get_server_ph: the first "name=" of the query string
// (names compare case-sensitively, the value runs to the next '&') is
// hashed, an empty value included. ok is false when the URI has no query
// string or the parameter is absent; the caller may then try HashParamBody
// on a POST body, as assign_server does.
func HashParam(uri []byte, name string, f HashFunc) (h uint32, ok bool) {
	q := bytes.IndexByte(uri, '?')
	if q < 0 {
		return 0, false
	}
	v, ok := findParam(uri[q+1:], name, false)
	if !ok {
		return 0, false
	}
	return f.Sum(v), true
}

// HashParamBody is HashParam for the start of a POST body (the bytes
// already received), as backend.c get_server_ph_post: the value must start
// with a token character; a value starting with a blank hashes as empty
// and any other character means the body holds no parameters (ok false).
func HashParamBody(body []byte, name string, f HashFunc) (h uint32, ok bool) {
	v, ok := findParam(body, name, true)
	if !ok {
		return 0, false
	}
	return f.Sum(v), true
}

// findParam walks "a=1&b=2" the way get_server_ph does: a candidate name
// must be followed by '=' and the scan only goes on while more bytes than
// the name's length remain.
func findParam(p []byte, name string, post bool) ([]byte, bool) {
	plen := len(name)
	for len(p) > plen {
		if p[plen] == '=' && string(p[:plen]) == name {
			v := p[plen+1:]
			if i := bytes.IndexByte(v, '&'); i >= 0 {
				v = v[:i]
			}
			// get_server_ph_post tests HTTP_IS_TOKEN on the value's first
			// character (its pointer does not move in the loop).
			if post && len(v) > 0 && !isToken(v[0]) {
				if isLWS(v[0]) {
					return v[:0], true
				}
				return nil, false
			}
			return v, true
		}
		i := bytes.IndexByte(p, '&')
		if i < 0 {
			return nil, false
		}
		p = p[i+1:]
	}
	return nil, false
}

// isToken reports an RFC 7230 tchar (HTTP_IS_TOKEN).
func isToken(c byte) bool {
	switch {
	case c >= '0' && c <= '9', isAlpha(c):
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// isLWS is HTTP_IS_LWS: space, tab, CR or LF.
func isLWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// HashHeader is the key of "balance hdr(<name>) [use_domain_only]" for the
// value of the request's first <name> header line (found by the caller,
// case-insensitively). It mirrors backend.c get_server_hh with
// http_find_header: only the first comma-separated element (commas inside
// quotes do not count) is used, trimmed of blanks; an empty element gives
// ok false (round robin). With domainOnly, only the label before the last
// dot is hashed ("www.example.com" hashes "example"; without any dot the
// whole value).
func HashHeader(value []byte, domainOnly bool, f HashFunc) (h uint32, ok bool) {
	v := firstElement(value)
	if len(v) == 0 {
		return 0, false
	}
	if domainOnly {
		v = domainLabel(v)
	}
	return f.Sum(v), true
}

// firstElement is the value http_find_header returns without "full": the
// first list element, leading blanks skipped, cut at the first unquoted
// comma (http_find_hdr_value_end), trailing blanks trimmed.
func firstElement(v []byte) []byte {
	for len(v) > 0 && isLWS(v[0]) {
		v = v[1:]
	}
	v = v[:http1.ValueEnd(v)]
	for len(v) > 0 && isLWS(v[len(v)-1]) {
		v = v[:len(v)-1]
	}
	return v
}

// domainLabel is get_server_hh's use_domain_only walk, which goes back
// from the end of the value: the last '.' after the first character ends
// the hashed part, and the part starts after the previous '.' or at the
// start. The walk never tests the first character for the end dot nor the
// character right before the end dot for the start one ("a..com" hashes
// "a."), and it also reads the byte just past the value, which is not part
// of the header and is taken as not a dot here.
func domainLabel(v []byte) []byte {
	end := -1
	for i := len(v) - 1; i >= 1; i-- {
		if v[i] == '.' {
			end = i
			break
		}
	}
	if end < 0 {
		return v
	}
	start := 0
	for p := end - 1; p >= 1; p-- {
		if v[p-1] == '.' {
			start = p
			break
		}
	}
	return v[start:end]
}
