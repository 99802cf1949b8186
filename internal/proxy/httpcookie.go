package proxy

import (
	"bytes"
	"time"

	"lb/internal/http1"
)

// Cookie persistence ("cookie NAME insert|rewrite|prefix …" in a mode http
// backend, "cookie VALUE" on its servers), as HAProxy 2.6 does it
// (http_manage_client_side_cookies, http_manage_server_side_cookies and
// the insertion in http_process_res_common): the same parsing of the
// Cookie and Set-Cookie fields, the same edits, byte for byte, and the
// same states for the log's %tsc.

// CookieConfig is a backend's "cookie" line.
type CookieConfig struct {
	// Name is the cookie's name.
	Name string
	// The mode: at most one of Rewrite, Insert and Prefix; none is the
	// passive mode (the server's cookie is only read).
	Rewrite, Insert, Prefix bool
	// Indirect, NoCache, PostOnly, Preserve, HTTPOnly and Secure are the
	// options of the same names.
	Indirect, NoCache, PostOnly, Preserve, HTTPOnly, Secure bool
	// Domains are the "domain" arguments and Attrs the "attr" ones, in
	// order.
	Domains, Attrs []string
	// MaxIdle and MaxLife are "maxidle" and "maxlife" in seconds (0:
	// none): an inserted cookie carries its dates.
	MaxIdle, MaxLife int64
}

// logged reports whether the log shows the cookie states (HAProxy's
// PR_CK_ANY: a passive cookie shows "--", measured).
func (c *CookieConfig) logged() bool { return c.Rewrite || c.Insert || c.Prefix || c.Indirect }

// cookieTxn is a transaction's persistence state, from the request to the
// response (HAProxy's txn flags and dates).
type cookieTxn struct {
	// cli and srv are the %tsc letters: cli of "NIDVEOU", srv of "NPDIRU".
	cli, srv byte
	// assigned: the server is chosen (use-server or the cookie);
	// direct: it was chosen by either (SF_DIRECT).
	assigned, direct bool
	// force and ignore: a force-persist or ignore-persist rule matched.
	force, ignore bool
	// post: the request is a POST; cacheable: its method is one whose
	// response may be cached (GET, HEAD, OPTIONS, TRACE).
	post, cacheable bool
	// first and last are the dates the client's cookie carries (Unix
	// seconds, 4-second resolution; 0: none).
	first, last uint32
}

// persistRequestTxn is the whole request hook: assigned is the server a
// use-server rule chose (nil: none), force says a force-persist rule
// matched; t (reset here) keeps the transaction's state for
// persistResponseTxn. It returns the server the cookie chose (nil: none)
// and the client-side letter of %tsc ('-' when the backend has no cookie
// or a passive one).
func (b *Backend) persistRequestTxn(req *http1.Message, assigned *Server, force bool, t *cookieTxn) (*Server, byte) {
	*t = cookieTxn{cli: '-', srv: '-', force: force}
	c := b.cfg.HTTP.Cookie
	if c == nil {
		return nil, '-'
	}
	srv := b.cookieRequest(req, assigned, t, time.Now())
	if !c.logged() {
		return srv, '-'
	}
	return srv, t.cli
}

// persistResponseTxn is the whole response hook, with the state
// persistRequestTxn left in t; it returns the server-side letter of %tsc.
func (b *Backend) persistResponseTxn(res *http1.Message, srv *Server, t *cookieTxn) byte {
	c := b.cfg.HTTP.Cookie
	if c == nil || srv == nil {
		return '-'
	}
	l := b.cookieResponse(res, srv, t, time.Now())
	if !c.logged() {
		return '-'
	}
	return l
}

// isSPHT is HAProxy's HTTP_IS_SPHT.
func isSPHT(c byte) bool { return c == ' ' || c == '\t' }

// cookieValueEnd is the end of the cookie value at b[s:e] (',' or ';'
// outside a quoted string), or e.
func cookieValueEnd(b []byte, s, e int) int { return s + http1.CookieValueEnd(b[s:e]) }

// stripEqualSpaces removes the spaces around a cookie's '=' in buf (up to
// hdrEnd), as HAProxy does, and returns the new '=' and value positions
// and how far what followed moved (negative or zero).
func stripEqualSpaces(buf []byte, attEnd, equal, valBeg, hdrEnd int) (int, int, int) {
	stripped := 0
	if attEnd != equal {
		copy(buf[attEnd:], buf[equal:hdrEnd])
		stripped = attEnd - equal
		equal += stripped
		valBeg += stripped
	}
	if valBeg > equal+1 {
		copy(buf[equal+1:], buf[valBeg:hdrEnd+stripped])
		after := equal + 1 - valBeg
		valBeg += after
		stripped += after
	}
	return equal, valBeg, stripped
}

// delHdrValue is HAProxy's http_del_hdr_value: it removes the cookie from
// *from to next in b[start:end], with its delimiter, and returns the
// length change (negative); *from becomes where the removal started.
func delHdrValue(b []byte, start, end int, from *int, next int) int {
	prev := *from
	if prev == start {
		// The first value: eat the delimiter and the spaces after it.
		if next < end {
			next++
		}
		for next < end && isSPHT(b[next]) {
			next++
		}
	} else {
		// The spaces before the old delimiter go.
		for prev > start && isSPHT(b[prev-1]) {
			prev--
		}
		*from = prev
		// The delimiter stays, with a space if there is room and this is
		// not the end of the line.
		if next < end {
			b[prev] = b[next]
			prev++
			next++
			if prev+1 < next {
				b[prev] = ' '
				prev++
			}
			for next < end && isSPHT(b[next]) {
				next++
			}
		}
	}
	copy(b[prev:], b[next:end])
	return prev - next
}

// cookieRequest is HAProxy's http_manage_client_side_cookies for backend
// b: it finds the server the Cookie fields of req designate, records the
// transaction's state in t, and edits the fields (prefix mode: the
// server's part of the value goes; insert with indirect: the cookie
// goes). assigned is the server a use-server rule chose (nil: none): the
// cookie then chooses none. It returns the server the cookie chose.
func (b *Backend) cookieRequest(req *http1.Message, assigned *Server, t *cookieTxn, now time.Time) *Server {
	c := b.cfg.HTTP.Cookie
	t.cli, t.srv = 'N', 'N'
	t.post = string(req.Method) == "POST"
	switch string(req.Method) {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		t.cacheable = true
	}
	if assigned != nil {
		t.assigned, t.direct = true, true
	}
	var chosen *Server
	var buf []byte
	h := &req.Header
	for i := h.Index("cookie", 0); i >= 0; i = h.Index("cookie", i) {
		buf = append(buf[:0], h.Fields[i].Value...)
		out, s := b.cookieLine(c, buf, t, now)
		if s != nil {
			chosen = s
		}
		switch {
		case len(out) == 0:
			h.DelAt(i)
			continue
		case len(out) != len(h.Fields[i].Value):
			h.SetValue(i, out)
		}
		i++
	}
	return chosen
}

// cookieLine processes the value of one Cookie field (b, edited in
// place) and returns what is left of it, and the server it chose.
func (b *Backend) cookieLine(c *CookieConfig, buf []byte, t *cookieTxn, now time.Time) ([]byte, *Server) {
	var chosen *Server
	hdrBeg, hdrEnd := 0, len(buf)
	delFrom := -1
	preserve := false
	first := true
	for prev, next := hdrBeg, hdrBeg; prev < hdrEnd; prev = next {
		attBeg := prev
		if !first {
			attBeg++
		}
		first = false
		for attBeg < hdrEnd && isSPHT(buf[attBeg]) {
			attBeg++
		}
		// attEnd: after the last non-space before the '='.
		equal, attEnd := attBeg, attBeg
		for equal < hdrEnd {
			ch := buf[equal]
			if ch == '=' || ch == ',' || ch == ';' {
				break
			}
			equal++
			if isSPHT(ch) {
				continue
			}
			attEnd = equal
		}
		var valBeg, valEnd int
		if equal < hdrEnd && buf[equal] == '=' {
			valBeg = equal + 1
			for valBeg < hdrEnd && isSPHT(buf[valBeg]) {
				valBeg++
			}
			next = cookieValueEnd(buf, valBeg, hdrEnd)
			valEnd = next
			for valEnd > valBeg && isSPHT(buf[valEnd-1]) {
				valEnd--
			}
		} else {
			valBeg, valEnd, next = equal, equal, equal
		}
		// "$" attributes go with the cookie before them.
		if attBeg < hdrEnd && buf[attBeg] == '$' {
			continue
		}
		if equal == next {
			// No '=': not ours, kept; a removal pending before it is
			// done now.
			preserve = true
			if delFrom >= 0 {
				delta := delHdrValue(buf, hdrBeg, hdrEnd, &delFrom, prev)
				next += delta
				hdrEnd += delta
				delFrom = -1
			}
			continue
		}
		// Spaces around the '=' are removed.
		if attEnd != equal || valBeg > equal+1 {
			var stripped int
			equal, valBeg, stripped = stripEqualSpaces(buf, attEnd, equal, valBeg, hdrEnd)
			valEnd += stripped
			next += stripped
			hdrEnd += stripped
		}
		if attEnd-attBeg != len(c.Name) || string(buf[attBeg:attEnd]) != c.Name {
			// Not ours: kept, and a removal pending before it is done.
			preserve = true
			if delFrom >= 0 {
				delta := delHdrValue(buf, hdrBeg, hdrEnd, &delFrom, prev)
				valBeg += delta
				valEnd += delta
				next += delta
				hdrEnd += delta
				delFrom = -1
			}
			continue
		}
		// Ours: "NAME=SRV[|last[|first]]", or "NAME=SRV~VALUE" in prefix
		// mode.
		delim := valEnd
		if c.Prefix {
			if k := bytes.IndexByte(buf[valBeg:valEnd], '~'); k >= 0 {
				delim = valBeg + k
			}
		} else if k := bytes.IndexByte(buf[valBeg:valEnd], '|'); k >= 0 {
			delim = valBeg + k
			v1 := delim + 1
			if valEnd-v1 >= 5 {
				if v := b64tos30(buf[v1 : v1+5]); v > 0 {
					t.last = uint32(v) << 2
				}
			}
			if k2 := bytes.IndexByte(buf[v1:valEnd], '|'); k2 >= 0 {
				v2 := v1 + k2
				if valEnd-v2 > 5 {
					if v := b64tos30(buf[v2+1 : v2+6]); v > 0 {
						t.first = uint32(v) << 2
					}
				}
			}
		}
		sec := now.Unix()
		switch {
		case t.first != 0 && c.MaxLife != 0 &&
			(int32(sec-int64(t.first)) > int32(c.MaxLife) || int32(int64(t.first)-sec) > 86400):
			t.cli = 'O'
			delim = valBeg
			t.first, t.last = 0, 0
		case t.last != 0 && c.MaxIdle != 0 &&
			(int32(sec-int64(t.last)) > int32(c.MaxIdle) || int32(int64(t.last)-sec) > 86400):
			t.cli = 'E'
			delim = valBeg
			t.first, t.last = 0, 0
		}
		// The first server with that value which may take it; an empty
		// value designates none.
		var srv *Server
		if delim != valBeg && !t.ignore && !t.assigned {
			id := buf[valBeg:delim]
			for _, s := range b.Servers() {
				if s.cfg.Cookie == "" || s.cfg.Cookie != string(id) {
					continue
				}
				up := s.State().usable()
				if up || t.force {
					t.cli = 'D'
					if up {
						t.cli = 'V'
					}
					t.assigned, t.direct = true, true
					srv, chosen = s, s
					break
				}
				t.cli = 'D'
			}
		}
		if srv == nil && t.cli == 'N' {
			if t.ignore || t.assigned {
				t.cli = 'U'
			} else {
				t.cli = 'I'
			}
		}
		if c.Prefix && delim != valEnd {
			// The server's part goes, the application's value stays.
			copy(buf[valBeg:], buf[delim+1:hdrEnd])
			delta := valBeg - (delim + 1)
			valEnd += delta
			next += delta
			hdrEnd += delta
			delFrom = -1
			preserve = true
		} else if delFrom < 0 && c.Insert && c.Indirect {
			delFrom = prev
		}
	}
	if delFrom >= 0 {
		if preserve {
			hdrEnd = delFrom
		} else {
			hdrEnd = hdrBeg
		}
	}
	return buf[:hdrEnd], chosen
}

// cookieResponse is HAProxy's http_manage_server_side_cookies and cookie
// insertion for backend b on res, the response of srv, with the request's
// state t: the server's own Set-Cookie of the persistence cookie is
// removed (insert; indirect on a direct request), rewritten (rewrite) or
// prefixed (prefix), unless "preserve"; in insert mode a Set-Cookie is
// added when the client did not present the right cookie. It returns the
// server-side letter.
func (b *Backend) cookieResponse(res *http1.Message, srv *Server, t *cookieTxn, now time.Time) byte {
	c := b.cfg.HTTP.Cookie
	t.srv = 'N'
	if res.Status < 200 && res.Status != 101 {
		return t.srv
	}
	h := &res.Header
	var buf []byte
	for i := h.Index("set-cookie", 0); i >= 0; i = h.Index("set-cookie", i) {
		if !b.setCookieLine(c, h, i, srv, t, &buf) {
			continue // field i removed
		}
		i++
	}
	sec := now.Unix()
	if c.Insert && !(t.srv == 'P' && c.Preserve) &&
		(!t.direct ||
			((c.MaxIdle != 0 || t.last != 0) && (t.last == 0 || int64(t.last)-sec < 0)) ||
			(c.MaxLife != 0 && t.first == 0) ||
			(c.MaxLife == 0 && t.first != 0)) &&
		(!c.PostOnly || t.post) && !t.ignore {
		v := append(buf[:0], c.Name...)
		v = append(v, '=')
		if srv.cfg.Cookie == "" {
			// A server without a cookie: the client's goes.
			v = append(v, "; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/"...)
		} else {
			v = append(v, srv.cfg.Cookie...)
			if c.MaxIdle != 0 || c.MaxLife != 0 {
				v = append(v, '|')
				v = s30tob64(v, int32((sec+3)>>2))
				if c.MaxLife != 0 {
					v = append(v, '|')
					if t.first != 0 {
						v = s30tob64(v, int32(t.first>>2))
					} else {
						v = s30tob64(v, int32((sec+3)>>2))
					}
				}
			}
			v = append(v, "; path=/"...)
		}
		for _, d := range c.Domains {
			v = append(v, "; domain="...)
			v = append(v, d...)
		}
		if c.HTTPOnly {
			v = append(v, "; HttpOnly"...)
		}
		if c.Secure {
			v = append(v, "; Secure"...)
		}
		for _, a := range c.Attrs {
			v = append(v, "; "...)
			v = append(v, a...)
		}
		h.Add("Set-Cookie", v)
		if srv.cfg.Cookie != "" && t.direct {
			t.srv = 'U' // only the date changed
		} else {
			t.srv = 'I'
		}
		if c.NoCache && t.cacheable && responseCacheable(res) {
			h.Add("Cache-control", []byte("private"))
		}
	}
	return t.srv
}

// setCookieLine processes the Set-Cookie field i of h (Set-Cookie holds
// one cookie: its attributes follow the first ';'). It reports whether the
// field is still there.
func (b *Backend) setCookieLine(c *CookieConfig, h *http1.Header, i int, srv *Server, t *cookieTxn, scratch *[]byte) bool {
	buf := append((*scratch)[:0], h.Fields[i].Value...)
	*scratch = buf
	hdrEnd := len(buf)
	attBeg := 0
	for attBeg < hdrEnd && isSPHT(buf[attBeg]) {
		attBeg++
	}
	equal, attEnd := attBeg, attBeg
	for equal < hdrEnd {
		ch := buf[equal]
		if ch == '=' || ch == ';' {
			break
		}
		equal++
		if isSPHT(ch) {
			continue
		}
		attEnd = equal
	}
	if equal >= hdrEnd || buf[equal] != '=' {
		return true // no '=': not a cookie
	}
	valBeg := equal + 1
	for valBeg < hdrEnd && isSPHT(buf[valBeg]) {
		valBeg++
	}
	valEnd := cookieValueEnd(buf, valBeg, hdrEnd)
	for valEnd > valBeg && isSPHT(buf[valEnd-1]) {
		valEnd--
	}
	if attEnd != equal || valBeg > equal+1 {
		// Spaces around the '=' are removed, from the field too.
		var stripped int
		equal, valBeg, stripped = stripEqualSpaces(buf, attEnd, equal, valBeg, hdrEnd)
		valEnd += stripped
		hdrEnd += stripped
		buf = buf[:hdrEnd]
		h.SetValue(i, buf)
	}
	if t.ignore || attEnd-attBeg != len(c.Name) || string(buf[attBeg:attEnd]) != c.Name {
		return true
	}
	t.srv = 'P'
	switch {
	case c.Preserve:
		// The server's cookie is left alone.
	case c.Insert || t.direct && c.Indirect:
		h.DelAt(i)
		t.srv = 'D'
		return false
	case srv.cfg.Cookie != "" && c.Rewrite:
		v := make([]byte, 0, len(buf)+len(srv.cfg.Cookie))
		v = append(append(append(v, buf[:valBeg]...), srv.cfg.Cookie...), buf[valEnd:]...)
		h.SetValue(i, v)
		t.srv = 'R'
	case srv.cfg.Cookie != "" && c.Prefix:
		v := make([]byte, 0, len(buf)+len(srv.cfg.Cookie)+1)
		v = append(append(append(v, buf[:valBeg]...), srv.cfg.Cookie...), '~')
		v = append(v, buf[valBeg:]...)
		h.SetValue(i, v)
		t.srv = 'R'
	}
	return true
}

// cacheableStatus are the statuses HAProxy 2.6 takes as cacheable by
// default (RFC 7231 section 6.1).
func cacheableStatus(s int) bool {
	switch s {
	case 200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// responseCacheable is HAProxy 2.6's verdict on a response to a cacheable
// request (its status, http_check_response_for_cacheability): "nocache"
// marks only such a response private (measured: a response with neither
// freshness information nor a validator is not).
func responseCacheable(res *http1.Message) bool {
	if !cacheableStatus(res.Status) {
		return false
	}
	h := &res.Header
	if v, ok := h.Get("pragma"); ok && http1.EqualFold(v, "no-cache") {
		return false
	}
	cacheable, fresh := true, false
	for i := h.Index("cache-control", 0); i >= 0; i = h.Index("cache-control", i+1) {
		for _, v := range splitValues(h.Fields[i].Value) {
			switch {
			case http1.EqualFold(v, "public"):
				cacheable = true
			case http1.EqualFold(v, "private"), http1.EqualFold(v, "no-cache"), http1.EqualFold(v, "no-store"),
				http1.EqualFold(v, "max-age=0"), http1.EqualFold(v, "s-maxage=0"):
				cacheable = false
			case hasPrefixFold(v, `no-cache="set-cookie`):
			case hasPrefixFold(v, "s-maxage"), hasPrefixFold(v, "max-age"):
				fresh = true
			}
		}
	}
	if !fresh && h.Index("expires", 0) < 0 && h.Index("etag", 0) < 0 && h.Index("last-modified", 0) < 0 {
		return false
	}
	return cacheable
}

func hasPrefixFold(v []byte, p string) bool {
	return len(v) >= len(p) && http1.EqualFold(v[:len(p)], p)
}

// splitValues splits a field value at its commas outside quoted strings,
// each value trimmed of spaces and tabs; empty values are skipped.
func splitValues(v []byte) [][]byte {
	var out [][]byte
	for len(v) > 0 {
		e := 0
		quoted := false
		for ; e < len(v); e++ {
			if v[e] == '"' {
				quoted = !quoted
			} else if v[e] == '\\' && quoted && e+1 < len(v) {
				e++
			} else if v[e] == ',' && !quoted {
				break
			}
		}
		if w := bytes.Trim(v[:e], " \t"); len(w) > 0 {
			out = append(out, w)
		}
		if e >= len(v) {
			break
		}
		v = v[e+1:]
	}
	return out
}

const base64tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// s30tob64 appends the lower 30 bits of in as 5 base64 characters, most
// significant first (HAProxy's s30tob64).
func s30tob64(dst []byte, in int32) []byte {
	for range 5 {
		dst = append(dst, base64tab[(in>>24)&0x3f])
		in <<= 6
	}
	return dst
}

// b64tos30 decodes 5 characters written by s30tob64; -1 when one is not a
// base64 character (HAProxy's b64tos30).
func b64tos30(in []byte) int32 {
	var out int32
	for _, ch := range in[:5] {
		var v int32
		switch {
		case ch >= 'A' && ch <= 'Z':
			v = int32(ch - 'A')
		case ch >= 'a' && ch <= 'z':
			v = int32(ch-'a') + 26
		case ch >= '0' && ch <= '9':
			v = int32(ch-'0') + 52
		case ch == '+':
			v = 62
		case ch == '/':
			v = 63
		default:
			return -1
		}
		out = out<<6 + v
	}
	return out
}
