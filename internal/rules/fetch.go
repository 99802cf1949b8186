package rules

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// fetchDef describes a sample fetch keyword.
type fetchDef struct {
	out smpType
	// use is where its data is available; content marks fetches of
	// buffered data, which report "not yet" while the data is not final.
	use     place
	content bool
	// http marks the HTTP fetches, only available in mode http proxies.
	http bool
	// src names what the fetch reads in HAProxy's messages ("HTTP request
	// headers", "request buffer"), for a place that does not have it.
	src string
	// min and max bound the number of arguments.
	min, max int
	build    func(c *compiler, args []string) (fetchFn, smpType, error)
}

// recvLimit is how much of a channel HAProxy lets a fetch wait for:
// tune.bufsize (16384) less tune.maxrewrite (1024). A payload fetch that
// needs more can never match.
const recvLimit = 16384 - 1024

// bufSize is HAProxy's default tune.bufsize: payload offsets past it
// never match.
const bufSize = 16384

// fetches are the sample fetches lb implements, by name.
var fetches map[string]*fetchDef

func init() {
	l4 := func(out smpType, fn fetchFn) *fetchDef {
		return &fetchDef{out: out, use: placeAll, build: func(*compiler, []string) (fetchFn, smpType, error) { return fn, out, nil }}
	}
	req := func(fn func(res bool) fetchFn, out smpType, res bool) *fetchDef {
		use := placeReq
		if res {
			use = placeResponse
		}
		src := "request buffer"
		if res {
			src = "response buffer"
		}
		return &fetchDef{out: out, use: use, content: true, src: src,
			build: func(*compiler, []string) (fetchFn, smpType, error) { return fn(res), out, nil }}
	}
	payload := func(res bool) *fetchDef {
		d := req(nil, tBin, res)
		d.min, d.max, d.build = 2, 2, func(c *compiler, args []string) (fetchFn, smpType, error) {
			off, err1 := strconv.ParseUint(args[0], 10, 31)
			n, err2 := strconv.ParseUint(args[1], 10, 31)
			if err1 != nil || err2 != nil {
				return nil, 0, fmt.Errorf("expects two positive integers")
			}
			return fetchPayload(res, int(off), int(n)), tBin, nil
		}
		return d
	}
	payloadLV := func(res bool) *fetchDef {
		d := req(nil, tBin, res)
		d.min, d.max, d.build = 2, 3, func(c *compiler, args []string) (fetchFn, smpType, error) {
			return buildPayloadLV(res, args)
		}
		return d
	}
	fetches = map[string]*fetchDef{
		"src": l4(tAddr, func(ev *evalCtx, _ *int) (sample, bool) {
			a := ev.s.Src.Addr()
			return addrSample(a), a.IsValid()
		}),
		"dst": l4(tAddr, func(ev *evalCtx, _ *int) (sample, bool) {
			a := ev.s.Dst.Addr()
			return addrSample(a), a.IsValid()
		}),
		"src_port": l4(tInt, func(ev *evalCtx, _ *int) (sample, bool) {
			return intSample(int64(ev.s.Src.Port())), ev.s.Src.IsValid()
		}),
		"dst_port": l4(tInt, func(ev *evalCtx, _ *int) (sample, bool) {
			return intSample(int64(ev.s.Dst.Port())), ev.s.Dst.IsValid()
		}),
		"so_name": l4(tStr, func(ev *evalCtx, _ *int) (sample, bool) {
			return ev.str(ev.s.BindName), ev.s.BindName != ""
		}),
		"fe_name": l4(tStr, func(ev *evalCtx, _ *int) (sample, bool) {
			if ev.s.Frontend == nil {
				return sample{}, false
			}
			return ev.str(ev.s.Frontend.Name()), true
		}),
		"be_name": l4(tStr, func(ev *evalCtx, _ *int) (sample, bool) {
			// Before switching, HAProxy's stream backend is the
			// frontend itself.
			if ev.s.Backend != nil {
				return ev.str(ev.s.Backend.Name()), true
			}
			return ev.str(ev.p.Name), true
		}),
		"always_true":  l4(tBool, func(*evalCtx, *int) (sample, bool) { return boolSample(true), true }),
		"always_false": l4(tBool, func(*evalCtx, *int) (sample, bool) { return boolSample(false), true }),
		"nbsrv":        beFetch(func(b Backend) int64 { return int64(b.UsableServers()) }),
		"connslots":    beFetch(func(b Backend) int64 { return int64(b.ConnSlots()) }),
		"be_conn":      beFetch(func(b Backend) int64 { return int64(b.Conn()) }),
		"fe_conn": {out: tInt, use: placeAll, max: 1, build: func(c *compiler, args []string) (fetchFn, smpType, error) {
			if len(args) == 0 {
				return func(ev *evalCtx, _ *int) (sample, bool) {
					if ev.s.Frontend == nil {
						return sample{}, false
					}
					return intSample(int64(ev.s.Frontend.Conn())), true
				}, tInt, nil
			}
			fe := c.cfg.Frontend(args[0])
			if fe == nil {
				return nil, 0, fmt.Errorf("unable to find frontend '%s'", args[0])
			}
			if !fe.IsBackend() {
				return nil, 0, unsupported("fe_conn(" + args[0] + ")")
			}
			b := c.backend(args[0])
			return func(*evalCtx, *int) (sample, bool) {
				if b == nil {
					return sample{}, false
				}
				return intSample(int64(b.Conn())), true
			}, tInt, nil
		}},
		"srv_is_up": {out: tBool, use: placeAll, min: 1, max: 1, build: buildSrvIsUp},
		"env": {out: tStr, use: placeAll, min: 1, max: 1, build: func(c *compiler, args []string) (fetchFn, smpType, error) {
			name, get := args[0], c.opt.Getenv
			if get == nil {
				get = os.LookupEnv
			}
			return func(ev *evalCtx, _ *int) (sample, bool) {
				v, ok := get(name)
				return ev.str(v), ok
			}, tStr, nil
		}},
		"int": {out: tInt, use: placeAll, min: 1, max: 1, build: func(c *compiler, args []string) (fetchFn, smpType, error) {
			n, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return nil, 0, fmt.Errorf("'%s' is not an integer", args[0])
			}
			return constFetch(intSample(n)), tInt, nil
		}},
		"bool": {out: tBool, use: placeAll, min: 1, max: 1, build: func(c *compiler, args []string) (fetchFn, smpType, error) {
			n, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return nil, 0, fmt.Errorf("'%s' is not an integer", args[0])
			}
			return constFetch(boolSample(n != 0)), tBool, nil
		}},
		"str": {out: tStr, use: placeAll, min: 1, max: 1, build: func(c *compiler, args []string) (fetchFn, smpType, error) {
			return constFetch(strSample([]byte(args[0]))), tStr, nil
		}},
		"bin": {out: tBin, use: placeAll, min: 1, max: 1, build: func(c *compiler, args []string) (fetchFn, smpType, error) {
			b, err := hex.DecodeString(args[0])
			if err != nil {
				return nil, 0, fmt.Errorf("'%s' is not a valid hex string", args[0])
			}
			return constFetch(binSample(b)), tBin, nil
		}},
		"ipv4": {out: tIPv4, use: placeAll, min: 1, max: 1, build: func(c *compiler, args []string) (fetchFn, smpType, error) {
			a, err := netip.ParseAddr(args[0])
			if err != nil || !a.Is4() {
				return nil, 0, fmt.Errorf("'%s' is not a valid IPv4 address", args[0])
			}
			return constFetch(addrSample(a)), tIPv4, nil
		}},
		"ipv6": {out: tIPv6, use: placeAll, min: 1, max: 1, build: func(c *compiler, args []string) (fetchFn, smpType, error) {
			a, err := netip.ParseAddr(args[0])
			if err != nil || a.Zone() != "" {
				return nil, 0, fmt.Errorf("'%s' is not a valid IPv6 address", args[0])
			}
			a = netip.AddrFrom16(a.As16())
			return constFetch(sample{t: tIPv6, ip: a}), tIPv6, nil
		}},
		"var":  {out: tAny, use: placeAll, min: 1, max: 2, build: buildVarFetch},
		"uuid": {out: tStr, use: placeAll, max: 1, build: buildUUID},
		"wait_end": {out: tBool, use: placeReq | placeResponse | placeLog | placeUniqueID, content: true, build: func(*compiler, []string) (fetchFn, smpType, error) {
			return func(ev *evalCtx, _ *int) (sample, bool) {
				if !ev.final {
					return sample{mayChange: true}, false
				}
				return boolSample(true), true
			}, tBool, nil
		}},

		"req.len":            req(fetchLen, tInt, false),
		"req_len":            req(fetchLen, tInt, false),
		"res.len":            req(fetchLen, tInt, true),
		"req.payload":        payload(false),
		"payload":            payload(false),
		"res.payload":        payload(true),
		"req.payload_lv":     payloadLV(false),
		"payload_lv":         payloadLV(false),
		"res.payload_lv":     payloadLV(true),
		"req.ssl_hello_type": req(fetchHelloType, tInt, false),
		"req_ssl_hello_type": req(fetchHelloType, tInt, false),
		"res.ssl_hello_type": req(fetchHelloType, tInt, true),
		"rep_ssl_hello_type": req(fetchHelloType, tInt, true),
		"req.ssl_ver":        req(func(bool) fetchFn { return fetchSSLVer }, tInt, false),
		"req_ssl_ver":        req(func(bool) fetchFn { return fetchSSLVer }, tInt, false),
		"req.ssl_sni":        req(func(bool) fetchFn { return fetchSNI }, tStr, false),
		"req_ssl_sni":        req(func(bool) fetchFn { return fetchSNI }, tStr, false),
		"req.ssl_alpn":       req(func(bool) fetchFn { return fetchALPN }, tStr, false),
		"req.ssl_ec_ext":     req(func(bool) fetchFn { return fetchECExt }, tBool, false),
		"req.ssl_st_ext":     req(func(bool) fetchFn { return fetchSTExt }, tInt, false),
	}
	addSSLFetches(fetches)
}

// str returns s as a string sample copied into a scratch buffer, which
// does not allocate once the buffer has grown.
func (ev *evalCtx) str(s string) sample {
	p := ev.next()
	*p = append(*p, s...)
	return strSample(*p)
}

func constFetch(smp sample) fetchFn {
	return func(*evalCtx, *int) (sample, bool) { return smp, true }
}

// data returns the request or response buffer.
func (ev *evalCtx) data(res bool) []byte {
	if res {
		return ev.s.Res
	}
	return ev.s.Req
}

// fetchLen is req.len / res.len: always subject to change until final.
func fetchLen(res bool) fetchFn {
	return func(ev *evalCtx, _ *int) (sample, bool) {
		smp := intSample(int64(len(ev.data(res))))
		smp.mayChange = true
		return smp, true
	}
}

// fetchPayload is req.payload(off,len) / res.payload(off,len), as
// smp_fetch_payload: len 0 means "up to the end of the data".
func fetchPayload(res bool, off, n int) fetchFn {
	return func(ev *evalCtx, _ *int) (sample, bool) {
		if n > bufSize || off+n > bufSize {
			return sample{}, false // will never match
		}
		b := ev.data(res)
		if off+n > len(b) {
			return sample{mayChange: true}, false
		}
		if n == 0 {
			smp := binSample(b[off:])
			smp.mayChange = true
			return smp, true
		}
		return binSample(b[off : off+n]), true
	}
}

// buildPayloadLV compiles req.payload_lv(off1,len[,off2]): a length of
// <len> bytes at <off1> announces the block that follows it, or starts at
// <off2> (absolute, or relative when signed), as smp_fetch_payload_lv.
func buildPayloadLV(res bool, args []string) (fetchFn, smpType, error) {
	off1, err1 := strconv.ParseUint(args[0], 10, 31)
	size, err2 := strconv.ParseUint(args[1], 10, 31)
	if err1 != nil || err2 != nil {
		return nil, 0, fmt.Errorf("expects two positive integers")
	}
	if size == 0 {
		return nil, 0, fmt.Errorf("payload length must be > 0")
	}
	if size > 8 {
		return nil, 0, fmt.Errorf("payload length must be at most 8")
	}
	rel, off2, hasOff2 := false, int64(0), len(args) == 3 && args[2] != ""
	if hasOff2 {
		var err error
		rel = args[2][0] == '+' || args[2][0] == '-'
		off2, err = strconv.ParseInt(args[2], 10, 32)
		if err != nil {
			return nil, 0, fmt.Errorf("payload offset2 is not a number")
		}
		if int64(off1)+int64(size)+off2 < 0 {
			return nil, 0, fmt.Errorf("payload offset2 too negative")
		}
	}
	lo, ls := int(off1), int(size)
	return func(ev *evalCtx, _ *int) (sample, bool) {
		b := ev.data(res)
		if lo+ls > len(b) {
			return sample{mayChange: true}, false
		}
		n := 0
		for i := 0; i < ls; i++ {
			n = n<<8 | int(b[lo+i])
			if n > bufSize {
				n = bufSize + 1
			}
		}
		start := lo + ls
		if hasOff2 {
			if rel {
				start += int(off2)
			} else {
				start = int(off2)
			}
		}
		if n == 0 || n > bufSize || start < 0 || start+n > bufSize {
			return sample{}, false
		}
		if start+n > len(b) {
			return sample{mayChange: true}, false
		}
		return binSample(b[start : start+n]), true
	}, tBin, nil
}

// beFetch builds nbsrv, connslots and be_conn: an optional backend name,
// else the stream's backend (the proxy itself before switching).
func beFetch(get func(Backend) int64) *fetchDef {
	return &fetchDef{out: tInt, use: placeAll, max: 1, build: func(c *compiler, args []string) (fetchFn, smpType, error) {
		if len(args) == 1 {
			if c.cfg.Backend(args[0]) == nil {
				return nil, 0, fmt.Errorf("unable to find backend '%s'", args[0])
			}
			b := c.backend(args[0])
			return func(*evalCtx, *int) (sample, bool) {
				if b == nil {
					return sample{}, false
				}
				return intSample(get(b)), true
			}, tInt, nil
		}
		return func(ev *evalCtx, _ *int) (sample, bool) {
			b := ev.curBackend()
			if b == nil {
				return sample{}, false
			}
			return intSample(get(b)), true
		}, tInt, nil
	}}
}

// curBackend is the stream's backend, or the running proxy's own backend
// side before switching.
func (ev *evalCtx) curBackend() Backend {
	if ev.s.Backend != nil {
		return ev.s.Backend
	}
	return ev.p.c.self
}

// buildSrvIsUp compiles srv_is_up([<backend>/]<server>).
func buildSrvIsUp(c *compiler, args []string) (fetchFn, smpType, error) {
	beName, srv, ok := strings.Cut(args[0], "/")
	var b Backend
	if ok {
		px := c.cfg.Backend(beName)
		if px == nil {
			return nil, 0, fmt.Errorf("unable to find backend '%s'", beName)
		}
		if px.Server(srv) == nil {
			return nil, 0, fmt.Errorf("unable to find server '%s' in backend '%s'", srv, beName)
		}
		b = c.backend(beName)
	} else {
		srv = beName
		if !c.px.IsBackend() || c.px.Server(srv) == nil {
			return nil, 0, fmt.Errorf("unable to find server '%s' in proxy '%s'", srv, c.px.Name)
		}
		b = c.backend(c.px.Name)
	}
	return func(*evalCtx, *int) (sample, bool) {
		if b == nil {
			return sample{}, false
		}
		up, ok := b.ServerUp(srv)
		return boolSample(up), ok
	}, tBool, nil
}

// buildUUID compiles uuid([4]): a random UUID of version 4 (RFC 4122), in
// lower-case hexadecimal, as HAProxy's ha_generate_uuid prints it.
func buildUUID(c *compiler, args []string) (fetchFn, smpType, error) {
	if len(args) == 1 && args[0] != "" {
		if _, err := strconv.ParseInt(args[0], 10, 64); err != nil {
			return nil, 0, fmt.Errorf("failed to parse '%s' as type 'integer'", args[0])
		}
		if args[0] != "4" {
			return nil, 0, fmt.Errorf("Unsupported UUID version: '%s'", args[0])
		}
	}
	return func(ev *evalCtx, _ *int) (sample, bool) {
		hi, lo := rand.Uint64(), rand.Uint64()
		hi = hi&^0xf000 | 0x4000           // version 4
		lo = lo&^(0xc000<<48) | 0x8000<<48 // variant 10
		const hexDigits = "0123456789abcdef"
		p := ev.next()
		put := func(v uint64, n int) {
			for i := n - 1; i >= 0; i-- {
				*p = append(*p, hexDigits[(v>>(4*uint(i)))&15])
			}
		}
		put(hi>>32, 8)
		*p = append(*p, '-')
		put(hi>>16, 4)
		*p = append(*p, '-')
		put(hi, 4)
		*p = append(*p, '-')
		put(lo>>48, 4)
		*p = append(*p, '-')
		put(lo, 12)
		return strSample(*p), true
	}, tStr, nil
}
