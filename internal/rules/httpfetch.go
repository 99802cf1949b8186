package rules

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"

	"lb/internal/http1"
)

// HTTP sample fetches, as HAProxy 2.6's http_fetch.c defines them. They
// read Stream.HTTP; their values point into the messages (valid until the
// next evaluation). Request fetches find nothing in response rules (the
// request head is gone once forwarded in HAProxy), except the method.

// maxHdrHistory is HAProxy's MAX_HDR_HISTORY: the furthest a negative
// occurrence may reach back.
const maxHdrHistory = 10

func init() {
	reqFetch := func(out smpType, min, max int, build func(c *compiler, args []string) (fetchFn, error)) *fetchDef {
		return &fetchDef{out: out, use: placeHTTPReqHdr, http: true, min: min, max: max, src: "HTTP request headers",
			build: func(c *compiler, args []string) (fetchFn, smpType, error) {
				fn, err := build(c, args)
				return fn, out, err
			}}
	}
	resFetch := func(out smpType, min, max int, build func(c *compiler, args []string) (fetchFn, error)) *fetchDef {
		d := reqFetch(out, min, max, build)
		d.use, d.src = placeHTTPResHdr, "HTTP response headers"
		return d
	}
	plain := func(fn fetchFn) func(*compiler, []string) (fetchFn, error) {
		return func(*compiler, []string) (fetchFn, error) { return fn, nil }
	}
	hdr := func(res, full bool, conv func(*evalCtx, []byte) (sample, bool)) func(*compiler, []string) (fetchFn, error) {
		return func(c *compiler, args []string) (fetchFn, error) {
			name, occ, err := hdrArgs(args)
			if err != nil {
				return nil, err
			}
			return fetchHdr(res, full, name, occ, conv), nil
		}
	}
	cnt := func(res, full bool) func(*compiler, []string) (fetchFn, error) {
		return func(c *compiler, args []string) (fetchFn, error) {
			name := ""
			if len(args) > 0 {
				name = args[0]
			}
			return func(ev *evalCtx, _ *int) (sample, bool) {
				m := ev.msg(res)
				if m == nil {
					return sample{}, false
				}
				n, pos := 0, 0
				for {
					var ok bool
					if _, pos, ok = nextHdrValue(m.Header.Fields, name, full, pos); !ok {
						break
					}
					n++
				}
				return intSample(int64(n)), true
			}, nil
		}
	}
	cook := func(res bool, conv func(*evalCtx, []byte) (sample, bool)) func(*compiler, []string) (fetchFn, error) {
		return func(c *compiler, args []string) (fetchFn, error) {
			name := ""
			if len(args) > 0 {
				name = args[0]
			}
			return fetchCookie(res, name, conv), nil
		}
	}
	cookCnt := func(res bool) func(*compiler, []string) (fetchFn, error) {
		return func(c *compiler, args []string) (fetchFn, error) {
			name := ""
			if len(args) > 0 {
				name = args[0]
			}
			return func(ev *evalCtx, _ *int) (sample, bool) {
				m := ev.msg(res)
				if m == nil {
					return sample{}, false
				}
				n, pos := 0, 0
				for {
					var ok bool
					if _, pos, ok = nextCookie(m.Header.Fields, res, name, pos); !ok {
						break
					}
					n++
				}
				return intSample(int64(n)), true
			}, nil
		}
	}
	ver := func(res bool) fetchFn {
		return func(ev *evalCtx, _ *int) (sample, bool) {
			m := ev.msg(res)
			if m == nil {
				return sample{}, false
			}
			if m.Minor == 0 {
				return strSample(ver10), true
			}
			return strSample(ver11), true
		}
	}
	toInt := func(_ *evalCtx, v []byte) (sample, bool) { return intSample(readInt64(v)), true }
	toIP := func(_ *evalCtx, v []byte) (sample, bool) {
		a, ok := parseHdrIP(v)
		return addrSample(a), ok
	}
	path := func(q bool) fetchFn {
		return func(ev *evalCtx, _ *int) (sample, bool) {
			m := ev.msg(false)
			if m == nil {
				return sample{}, false
			}
			p, ok := uriPath(m.URI)
			if !ok {
				return sample{}, false
			}
			return strSample(cutPath(p, q)), true
		}
	}
	base := func(q bool) fetchFn {
		return func(ev *evalCtx, _ *int) (sample, bool) {
			m := ev.msg(false)
			if m == nil {
				return sample{}, false
			}
			host, ok := firstHdr(m.Header.Fields, "host")
			p, pok := uriPath(m.URI)
			if !ok || len(host) == 0 {
				if !pok {
					return sample{}, false
				}
				return strSample(cutPath(p, false)), true
			}
			b := ev.next()
			*b = append(*b, host...)
			if pok {
				if !q {
					p = cutPath(p, false)
				}
				if len(p) > 0 && p[0] == '/' {
					*b = append(*b, p...)
				}
			}
			return strSample(*b), true
		}
	}

	for name, d := range map[string]*fetchDef{
		"method": {out: tStr, use: placeHTTPReqHdr | placeLog, http: true, src: "HTTP request", build: func(*compiler, []string) (fetchFn, smpType, error) {
			return fetchMethod, tStr, nil
		}},
		"path":  reqFetch(tStr, 0, 0, plain(path(false))),
		"pathq": reqFetch(tStr, 0, 0, plain(path(true))),
		"base":  reqFetch(tStr, 0, 0, plain(base(false))),
		"baseq": reqFetch(tStr, 0, 0, plain(base(true))),
		"query": reqFetch(tStr, 0, 0, plain(func(ev *evalCtx, _ *int) (sample, bool) {
			m := ev.msg(false)
			if m == nil {
				return sample{}, false
			}
			i := bytes.IndexByte(m.URI, '?')
			if i < 0 {
				return sample{}, false
			}
			return strSample(m.URI[i+1:]), true
		})),
		"url": reqFetch(tStr, 0, 0, plain(func(ev *evalCtx, _ *int) (sample, bool) {
			m := ev.msg(false)
			if m == nil {
				return sample{}, false
			}
			return strSample(m.URI), true
		})),
		"url_ip": reqFetch(tAddr, 0, 0, plain(func(ev *evalCtx, _ *int) (sample, bool) {
			m := ev.msg(false)
			if m == nil {
				return sample{}, false
			}
			a, ok := urlAddr(m.URI)
			if !ok {
				return sample{}, false
			}
			return addrSample(a.Addr()), true
		})),
		"url_port": reqFetch(tInt, 0, 0, plain(func(ev *evalCtx, _ *int) (sample, bool) {
			m := ev.msg(false)
			if m == nil {
				return sample{}, false
			}
			a, ok := urlAddr(m.URI)
			if !ok {
				return sample{}, false
			}
			return intSample(int64(a.Port())), true
		})),
		"url_param": reqFetch(tStr, 0, 2, buildURLParam(nil)),
		"urlp":      reqFetch(tStr, 0, 2, buildURLParam(nil)),
		"urlp_val":  reqFetch(tInt, 0, 2, buildURLParam(toInt)),

		"req.hdr":      reqFetch(tStr, 0, 2, hdr(false, false, nil)),
		"hdr":          reqFetch(tStr, 0, 2, hdr(false, false, nil)),
		"req.fhdr":     reqFetch(tStr, 1, 2, hdr(false, true, nil)),
		"req.hdr_cnt":  reqFetch(tInt, 0, 1, cnt(false, false)),
		"hdr_cnt":      reqFetch(tInt, 0, 1, cnt(false, false)),
		"req.fhdr_cnt": reqFetch(tInt, 0, 1, cnt(false, true)),
		"req.hdr_ip":   reqFetch(tAddr, 1, 2, hdr(false, false, toIP)),
		"hdr_ip":       reqFetch(tAddr, 1, 2, hdr(false, false, toIP)),
		"req.hdr_val":  reqFetch(tInt, 1, 2, hdr(false, false, toInt)),
		"hdr_val":      reqFetch(tInt, 1, 2, hdr(false, false, toInt)),
		"req.cook":     reqFetch(tStr, 0, 1, cook(false, nil)),
		"cook":         reqFetch(tStr, 0, 1, cook(false, nil)),
		"req.cook_cnt": reqFetch(tInt, 0, 1, cookCnt(false)),
		"cook_cnt":     reqFetch(tInt, 0, 1, cookCnt(false)),
		"req.cook_val": reqFetch(tInt, 1, 1, cook(false, toInt)),
		"cook_val":     reqFetch(tInt, 1, 1, cook(false, toInt)),
		"req.ver":      reqFetch(tStr, 0, 0, plain(ver(false))),
		"req.proto_http": reqFetch(tBool, 0, 0, plain(func(ev *evalCtx, _ *int) (sample, bool) {
			// A request of a mode http proxy is HTTP once parsed.
			return boolSample(ev.msg(false) != nil), true
		})),
		"req.body": reqFetch(tBin, 0, 0, plain(func(ev *evalCtx, _ *int) (sample, bool) {
			if ev.msg(false) == nil {
				return sample{}, false
			}
			return binSample(ev.s.HTTP.ReqBody), true
		})),
		"req.body_len": reqFetch(tInt, 0, 0, plain(func(ev *evalCtx, _ *int) (sample, bool) {
			if ev.msg(false) == nil {
				return sample{}, false
			}
			return intSample(int64(len(ev.s.HTTP.ReqBody))), true
		})),

		"res.hdr":      resFetch(tStr, 0, 2, hdr(true, false, nil)),
		"shdr":         resFetch(tStr, 0, 2, hdr(true, false, nil)),
		"res.fhdr":     resFetch(tStr, 1, 2, hdr(true, true, nil)),
		"res.hdr_cnt":  resFetch(tInt, 0, 1, cnt(true, false)),
		"shdr_cnt":     resFetch(tInt, 0, 1, cnt(true, false)),
		"res.fhdr_cnt": resFetch(tInt, 0, 1, cnt(true, true)),
		"res.hdr_ip":   resFetch(tAddr, 1, 2, hdr(true, false, toIP)),
		"shdr_ip":      resFetch(tAddr, 1, 2, hdr(true, false, toIP)),
		"res.hdr_val":  resFetch(tInt, 1, 2, hdr(true, false, toInt)),
		"shdr_val":     resFetch(tInt, 1, 2, hdr(true, false, toInt)),
		"res.cook":     resFetch(tStr, 0, 1, cook(true, nil)),
		"scook":        resFetch(tStr, 0, 1, cook(true, nil)),
		"res.cook_cnt": resFetch(tInt, 0, 1, cookCnt(true)),
		"scook_cnt":    resFetch(tInt, 0, 1, cookCnt(true)),
		"res.cook_val": resFetch(tInt, 1, 1, cook(true, toInt)),
		"scook_val":    resFetch(tInt, 1, 1, cook(true, toInt)),
		"res.ver":      resFetch(tStr, 0, 0, plain(ver(true))),
		"status": resFetch(tInt, 0, 0, plain(func(ev *evalCtx, _ *int) (sample, bool) {
			m := ev.msg(true)
			if m == nil {
				return sample{}, false
			}
			return intSample(int64(m.Status)), true
		})),
		"capture.req.hdr":    capFetch(false, placeHTTPReq|placeHTTPRes|placeHTTPAfter, 1, nil),
		"capture.res.hdr":    capFetch(true, placeHTTPResHdr, 1, nil),
		"capture.req.method": capFetch(false, placeHTTPReq|placeHTTPRes|placeHTTPAfter, 0, fetchCapReqLine(0)),
		"capture.req.uri":    capFetch(false, placeHTTPReq|placeHTTPRes|placeHTTPAfter, 0, fetchCapReqLine(1)),
		"capture.req.ver":    capFetch(false, placeHTTPReq|placeHTTPRes|placeHTTPAfter, 0, fetchCapReqLine(2)),
		"capture.res.ver": capFetch(true, placeHTTPResHdr, 0, func(ev *evalCtx, _ *int) (sample, bool) {
			// The version as the status line has it, unlike res.ver.
			m := ev.msg(true)
			if m == nil {
				return sample{}, false
			}
			if m.Minor == 0 {
				return strSample(http10), true
			}
			return strSample(http11), true
		}),
	} {
		fetches[name] = d
	}
	// HAProxy accepts the status in a log-format (SMP_USE_HRSHP), where it
	// finds no response any more: it prints "-" (2.6.12, measured).
	st := fetches["status"]
	st.use, st.src = st.use|placeLog, "HTTP response"
}

var ver10, ver11 = []byte("1.0"), []byte("1.1")

var http10, http11 = []byte("HTTP/1.0"), []byte("HTTP/1.1")

// capFetch defines a capture.* fetch: an HTTP fetch readable at the
// places use; with n 1, the slot reader of capture.req.hdr or
// capture.res.hdr (fn nil), else fn.
func capFetch(res bool, use place, n int, fn fetchFn) *fetchDef {
	src := "HTTP request headers"
	if res {
		src = "HTTP response headers"
	}
	return &fetchDef{out: tStr, use: use, http: true, min: n, max: n, src: src,
		build: func(c *compiler, args []string) (fetchFn, smpType, error) {
			if n == 1 {
				idx, err := strconv.Atoi(args[0])
				if err != nil || idx < 0 {
					return nil, tStr, fmt.Errorf("expects a positive integer as argument")
				}
				return func(ev *evalCtx, _ *int) (sample, bool) {
					return fetchCapSlot(ev, res, idx)
				}, tStr, nil
			}
			return fn, tStr, nil
		}}
}

// fetchCapSlot reads capture slot idx (capture.req.hdr, capture.res.hdr):
// nothing when the slot is empty or does not exist.
func fetchCapSlot(ev *evalCtx, res bool, idx int) (sample, bool) {
	h := ev.s.HTTP
	if h == nil || ev.logEnd {
		return sample{}, false
	}
	caps := h.ReqCaps
	if res {
		caps = h.ResCaps
	}
	if idx >= len(caps) || caps[idx] == nil {
		return sample{}, false
	}
	return strSample(caps[idx]), true
}

// fetchCapReqLine returns the fetch of word n (method, URI, version) of
// the request line as received (capture.req.method, .uri, .ver).
func fetchCapReqLine(n int) fetchFn {
	return func(ev *evalCtx, _ *int) (sample, bool) {
		h := ev.s.HTTP
		if h == nil || ev.logEnd || len(h.ReqLine) == 0 {
			return sample{}, false
		}
		line := h.ReqLine
		for i := 0; i < n; i++ {
			sp := bytes.IndexByte(line, ' ')
			if sp < 0 {
				return sample{}, false
			}
			line = line[sp+1:]
		}
		if sp := bytes.IndexByte(line, ' '); sp >= 0 && n < 2 {
			line = line[:sp]
		}
		return strSample(line), true
	}
}

// msg returns the request (res false) or response head the fetches of
// the current evaluation may read, or nil.
func (ev *evalCtx) msg(res bool) *http1.Message {
	h := ev.s.HTTP
	if h == nil || ev.logEnd {
		return nil
	}
	if res {
		return h.Res
	}
	if ev.resp {
		return nil
	}
	return h.Req
}

// knownMethods are HAProxy's well-known methods (enum http_meth_t).
var knownMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE"}

func knownMethod(b []byte) bool {
	for _, m := range knownMethods {
		if string(b) == m {
			return true
		}
	}
	return false
}

// fetchMethod is "method": in response rules only a well-known method is
// still known (HAProxy keeps it in the transaction).
func fetchMethod(ev *evalCtx, _ *int) (sample, bool) {
	h := ev.s.HTTP
	if h == nil || h.Req == nil {
		return sample{}, false
	}
	if ev.resp && !knownMethod(h.Req.Method) {
		return sample{}, false
	}
	return strSample(h.Req.Method), true
}

// hdrArgs parses "[name[,occ]]".
func hdrArgs(args []string) (string, int, error) {
	name, occ := "", 0
	if len(args) > 0 {
		name = args[0]
	}
	if len(args) > 1 && args[1] != "" {
		n, err := strconv.Atoi(args[1])
		if err != nil {
			return "", 0, fmt.Errorf("'%s' is not an integer", args[1])
		}
		occ = n
	}
	return name, occ, nil
}

// fetchHdr builds req.hdr/res.hdr (comma-separated values) and
// req.fhdr/res.fhdr (full field values), with conv turning each value
// into the fetch's sample (hdr_ip, hdr_val) or skipping it.
// Without an occurrence, an ACL iterates over every value and a sample
// expression takes the last one; a positive occurrence counts from the
// first value, a negative one from the last (at most 10 back).
func fetchHdr(res, full bool, name string, occ int, conv func(*evalCtx, []byte) (sample, bool)) fetchFn {
	return func(ev *evalCtx, it *int) (sample, bool) {
		m := ev.msg(res)
		if m == nil {
			return sample{}, false
		}
		fields := m.Header.Fields
		if occ == 0 && ev.iterate {
			for {
				v, next, ok := nextHdrValue(fields, name, full, *it)
				if !ok {
					return sample{}, false
				}
				*it = next
				smp, ok := strSample(v), true
				if conv != nil {
					smp, ok = conv(ev, v)
				}
				if ok {
					smp.notLast = true
					return smp, true
				}
			}
		}
		o := occ
		if o == 0 {
			o = -1
		}
		v, ok := hdrOcc(fields, name, full, o)
		if !ok {
			return sample{}, false
		}
		if conv != nil {
			return conv(ev, v)
		}
		return strSample(v), true
	}
}

// hdrOcc returns value number occ (1 the first, -1 the last).
func hdrOcc(fields []http1.Field, name string, full bool, occ int) ([]byte, bool) {
	if occ < 0 {
		if -occ > maxHdrHistory {
			return nil, false
		}
		n, pos := 0, 0
		for {
			var ok bool
			if _, pos, ok = nextHdrValue(fields, name, full, pos); !ok {
				break
			}
			n++
		}
		occ = n + occ + 1
		if occ < 1 {
			return nil, false
		}
	}
	pos := 0
	for n := 1; ; n++ {
		v, next, ok := nextHdrValue(fields, name, full, pos)
		if !ok {
			return nil, false
		}
		if n == occ {
			return v, true
		}
		pos = next
	}
}

// nextHdrValue returns the value at or after pos of the fields called
// name (any field when name is ""), and the position of the next one.
// pos is the field index in its high 32 bits and the offset in the
// field's value in its low ones; 0 is the start. Values are the
// comma-separated elements of each field (quoted strings respected, as
// http_find_hdr_value_end), or whole values when full; surrounding
// blanks are trimmed.
func nextHdrValue(fields []http1.Field, name string, full bool, pos int) (v []byte, next int, ok bool) {
	fi, off := pos>>32, pos&0xffffffff
	for ; fi < len(fields); fi, off = fi+1, 0 {
		f := &fields[fi]
		if name != "" && !equalFoldString(f.Name, name) {
			continue
		}
		val := f.Value
		if off > len(val) || (off == len(val) && off > 0 && full) {
			continue
		}
		if full {
			return trimSPHT(val), (fi + 1) << 32, true
		}
		end := off + http1.ValueEnd(val[off:])
		v = trimSPHT(val[off:end])
		if end < len(val) {
			return v, fi<<32 | (end + 1), true
		}
		return v, (fi + 1) << 32, true
	}
	return nil, 0, false
}

func isSPHT(c byte) bool { return c == ' ' || c == '\t' }

func trimSPHT(b []byte) []byte {
	for len(b) > 0 && isSPHT(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSPHT(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// equalFoldString compares an ASCII header name with a string, ignoring
// case, without allocating.
func equalFoldString(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lowerASCII(b[i]) != lowerASCII(s[i]) {
			return false
		}
	}
	return true
}

// firstHdr returns the first value of the first field called name.
func firstHdr(fields []http1.Field, name string) ([]byte, bool) {
	v, _, ok := nextHdrValue(fields, name, false, 0)
	return v, ok
}

// parseHdrIP reads an address at the start of a header value as
// smp_fetch_hdr_ip does: a dotted IPv4 address (what follows it, such as
// a port, is ignored) or a whole IPv6 address.
func parseHdrIP(v []byte) (a netip.Addr, ok bool) {
	n := 0
	for n < len(v) && (v[n] == '.' || v[n] >= '0' && v[n] <= '9') {
		n++
	}
	if a, ok := parseIPv4(v[:n]); ok {
		return a, true
	}
	if len(v) >= 127 {
		return a, false
	}
	a, ok = parseAddrBytes(v)
	return a, ok && a.Is6()
}

// uriPath returns the path of a request target with its query string
// (http_parse_path): the target itself in origin form, what follows the
// authority in absolute form (possibly empty); ok is false for "*" and
// an empty target.
func uriPath(uri []byte) ([]byte, bool) {
	if len(uri) == 0 || uri[0] == '*' {
		return nil, false
	}
	if uri[0] == '/' {
		return uri, true
	}
	start := 0
	if i := bytes.Index(uri, []byte("://")); i > 0 && isScheme(uri[:i]) {
		start = i + 3
	}
	if j := bytes.IndexByte(uri[start:], '/'); j >= 0 {
		return uri[start+j:], true
	}
	return uri[len(uri):], true
}

// isScheme reports whether s is a URI scheme (RFC 3986 3.1).
func isScheme(s []byte) bool {
	for i, c := range s {
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alpha && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return len(s) > 0
}

// cutPath stops a path at its query string (path, base) or at its
// fragment (pathq, baseq).
func cutPath(p []byte, q bool) []byte {
	stop := byte('?')
	if q {
		stop = '#'
	}
	if i := bytes.IndexByte(p, stop); i >= 0 {
		return p[:i]
	}
	return p
}

// buildURLParam compiles url_param([name[,delim]]) and urlp_val.
func buildURLParam(conv func(*evalCtx, []byte) (sample, bool)) func(*compiler, []string) (fetchFn, error) {
	return func(c *compiler, args []string) (fetchFn, error) {
		name, delim := "", byte('?')
		if len(args) > 0 {
			name = args[0]
		}
		if len(args) > 1 && args[1] != "" {
			delim = args[1][0]
		}
		return func(ev *evalCtx, it *int) (sample, bool) {
			m := ev.msg(false)
			if m == nil {
				return sample{}, false
			}
			i := bytes.IndexByte(m.URI, delim)
			if i < 0 {
				return sample{}, false
			}
			q := m.URI[i+1:]
			v, next, ok := urlParam(q, *it, name, delim)
			if !ok {
				return sample{}, false
			}
			smp := strSample(v)
			if conv != nil {
				if smp, ok = conv(ev, v); !ok {
					return sample{}, false
				}
			}
			*it = next
			// smp_fetch_param: more values may follow until the end.
			smp.notLast = ev.iterate && next < len(q)
			return smp, true
		}, nil
	}
}

// isParamDelim is http_is_param_delimiter.
func isParamDelim(c, delim byte) bool { return c == '&' || c == ';' || c == delim }

// urlParam finds the value of the parameter called name (the first
// parameter with a value when name is "") in the parameter list q from
// offset pos, as http_find_next_url_param does, quirks included (the
// search resumes at the end of the previous value). It returns the value
// and where the next search starts.
func urlParam(q []byte, pos int, name string, delim byte) (v []byte, next int, ok bool) {
	if pos > len(q) {
		return nil, 0, false
	}
	var vstart int
	if name != "" {
		found := -1
		for p := pos; p < len(q); {
			eq := p + len(name)
			if eq >= len(q) {
				return nil, 0, false
			}
			if q[eq] == '=' {
				if string(q[p:eq]) == name {
					found = p
					break
				}
				p = eq + 1
			}
			for p < len(q) && !isParamDelim(q[p], delim) {
				p++
			}
			if p >= len(q) {
				return nil, 0, false
			}
			p++
		}
		if found < 0 {
			return nil, 0, false
		}
		vstart = found + len(name) + 1
	} else {
		i := bytes.IndexByte(q[pos:], '=')
		if i < 0 {
			return nil, 0, false
		}
		vstart = pos + i + 1
	}
	vend := vstart
	for vend < len(q) && !isParamDelim(q[vend], delim) {
		vend++
	}
	return q[vstart:vend], vend, true
}

// fetchCookie builds req.cook/res.cook (and cook_val through conv): an
// ACL iterates over every matching cookie; a sample expression takes the
// last one, or the first when no name is given.
func fetchCookie(res bool, name string, conv func(*evalCtx, []byte) (sample, bool)) fetchFn {
	return func(ev *evalCtx, it *int) (sample, bool) {
		m := ev.msg(res)
		if m == nil {
			return sample{}, false
		}
		fields := m.Header.Fields
		if ev.iterate {
			v, next, ok := nextCookie(fields, res, name, *it)
			if !ok {
				return sample{}, false
			}
			*it = next
			smp := strSample(v)
			if conv != nil {
				if smp, ok = conv(ev, v); !ok {
					return sample{}, false
				}
			}
			smp.notLast = true
			return smp, true
		}
		var last []byte
		found, pos := false, 0
		for {
			v, next, ok := nextCookie(fields, res, name, pos)
			if !ok {
				break
			}
			last, found, pos = v, true, next
			if name == "" {
				break
			}
		}
		if !found {
			return sample{}, false
		}
		if conv != nil {
			return conv(ev, last)
		}
		return strSample(last), true
	}
}

// nextCookie returns the value of the next cookie called name (any name
// when "") at or after pos in the Cookie fields (request) or the
// Set-Cookie fields (response), and where to resume. pos is a field index
// and an offset as for nextHdrValue. A request's Cookie field is a list
// of name=value pairs separated by ';' or ','; a Set-Cookie value (split
// at commas as every header value is) names its cookie in its first
// pair only.
func nextCookie(fields []http1.Field, res bool, name string, pos int) (v []byte, next int, ok bool) {
	hdr := "cookie"
	if res {
		hdr = "set-cookie"
	}
	if res {
		for {
			var hv []byte
			hv, next, ok = nextHdrValue(fields, hdr, false, pos)
			if !ok {
				return nil, 0, false
			}
			pos = next
			if len(hv) < len(name)+1 {
				continue
			}
			if val, _, found := extractCookie(hv, 0, name, false); found {
				return val, next, true
			}
		}
	}
	fi, off := pos>>32, pos&0xffffffff
	for ; fi < len(fields); fi, off = fi+1, 0 {
		f := &fields[fi]
		if !equalFoldString(f.Name, hdr) || off >= len(f.Value) {
			continue
		}
		if val, end, found := extractCookie(f.Value, off, name, true); found {
			return val, fi<<32 | end, true
		}
	}
	return nil, 0, false
}

// extractCookie is http_extract_cookie_value: the value of the first
// cookie called name (any, when "") in h from offset from, and the offset
// to resume from. list: h is a request's list of cookies (',' also
// separates them); otherwise only the first pair counts.
func extractCookie(h []byte, from int, name string, list bool) (val []byte, next int, ok bool) {
	for att := from; att+len(name)+1 < len(h); {
		for att < len(h) && isSPHT(h[att]) {
			att++
		}
		eq, attEnd := att, att
		for eq < len(h) {
			c := h[eq]
			if c == '=' || c == ';' || (list && c == ',') {
				break
			}
			eq++
			if isSPHT(c) {
				continue
			}
			attEnd = eq
		}
		var vb, ve, nx int
		if eq < len(h) && h[eq] == '=' {
			vb = eq + 1
			for vb < len(h) && isSPHT(h[vb]) {
				vb++
			}
			nx = vb + http1.CookieValueEnd(h[vb:])
			ve = nx
			for ve > vb && isSPHT(h[ve-1]) {
				ve--
			}
		} else {
			vb, ve, nx = eq, eq, eq
		}
		if att < len(h) && h[att] == '$' || eq == nx {
			att = nx + 1
			continue
		}
		if name == "" || string(h[att:attEnd]) == name {
			return h[vb:ve], nx + 1, true
		}
		if !list {
			break
		}
		att = nx + 1
	}
	return nil, 0, false
}

// HeaderIP returns the address in occurrence occ of header name among
// fields, as "usesrc hdr_ip(name,occ)" reads it: 0 and -1 the last one, N
// the Nth, -N the Nth from the end.
func HeaderIP(fields []http1.Field, name string, occ int) (netip.Addr, bool) {
	if occ == 0 {
		occ = -1
	}
	v, ok := hdrOcc(fields, name, false, occ)
	if !ok {
		return netip.Addr{}, false
	}
	return parseHdrIP(v)
}

// urlAddr reads the address of an absolute URL whose host is a dotted IPv4
// address, as HAProxy 2.6's url2sa for url_ip and url_port: "http://" or
// "https://" (any case), the address, then ":port" (digits up to the first
// other byte, 0 when none) or the scheme's port (80, 443). Host names and
// IPv6 addresses give no sample, as url_ip and url_port want AF_INET.
func urlAddr(uri []byte) (netip.AddrPort, bool) {
	i := bytes.Index(uri, []byte("://"))
	if i < 0 {
		return netip.AddrPort{}, false
	}
	var port uint16
	switch scheme := string(bytes.ToLower(uri[:i])); scheme {
	case "http":
		port = 80
	case "https":
		port = 443
	default:
		return netip.AddrPort{}, false
	}
	rest := uri[i+3:]
	n := 0
	for n < len(rest) && (rest[n] == '.' || rest[n] >= '0' && rest[n] <= '9') {
		n++
	}
	a, ok := parseIPv4(rest[:n])
	if !ok {
		return netip.AddrPort{}, false
	}
	if rest = rest[n:]; len(rest) > 0 && rest[0] == ':' {
		p := 0
		for _, c := range rest[1:] {
			if c < '0' || c > '9' {
				break
			}
			p = p*10 + int(c-'0')
		}
		port = uint16(p)
	}
	return netip.AddrPortFrom(a, port), true
}
