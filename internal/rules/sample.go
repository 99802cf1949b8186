package rules

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// smpType is a sample's type, as HAProxy's SMP_T_*. tAddr is the
// compile-time type of fetches that return either an IPv4 or an IPv6
// address; a sample at run time is always tIPv4 or tIPv6.
type smpType uint8

const (
	tAny smpType = iota
	tBool
	tInt
	tAddr
	tIPv4
	tIPv6
	tStr
	tBin
)

var typeNames = [...]string{tAny: "any", tBool: "boolean", tInt: "integer", tAddr: "address",
	tIPv4: "ipv4", tIPv6: "ipv6", tStr: "string", tBin: "binary"}

func (t smpType) String() string { return typeNames[t] }

// sample is one fetched or converted value. b points into the Stream's
// buffers, its scratch buffers, a variable's storage or compiled
// constants: it is only valid until the next evaluation on the Stream and
// must never be written to.
type sample struct {
	t  smpType
	i  int64      // tBool, tInt
	ip netip.Addr // tIPv4, tIPv6
	b  []byte     // tStr, tBin
	// mayChange is HAProxy's SMP_F_MAY_CHANGE: the value (or its absence)
	// may change once more data arrives.
	mayChange bool
	// notLast is SMP_F_NOT_LAST: the fetch has more values to iterate over
	// (req.ssl_alpn).
	notLast bool
}

func boolSample(v bool) sample {
	if v {
		return sample{t: tBool, i: 1}
	}
	return sample{t: tBool}
}

func intSample(v int64) sample  { return sample{t: tInt, i: v} }
func strSample(b []byte) sample { return sample{t: tStr, b: b} }
func binSample(b []byte) sample { return sample{t: tBin, b: b} }
func addrSample(a netip.Addr) sample {
	if a.Is4() {
		return sample{t: tIPv4, ip: a}
	}
	return sample{t: tIPv6, ip: a}
}

// canCast reports whether HAProxy's cast table (sample_casts in
// sample.c) converts from into to. tAny as either side always passes: the
// actual types are only known at run time.
func canCast(from, to smpType) bool {
	if from == tAny || to == tAny || from == to {
		return true
	}
	switch from {
	case tBool:
		return to == tInt || to == tStr
	case tInt:
		return true
	case tAddr:
		return to == tIPv4 || to == tIPv6 || to == tStr || to == tBin || to == tInt
	case tIPv4:
		return to == tInt || to == tAddr || to == tIPv6 || to == tStr || to == tBin
	case tIPv6:
		return to == tAddr || to == tIPv4 || to == tStr || to == tBin
	case tStr:
		return true
	case tBin:
		return to == tStr
	}
	return false
}

// cast converts smp to type to as HAProxy's c_* cast functions do,
// writing into the stream's scratch buffers when text must be produced.
// It reports false when the value cannot be converted (e.g. "abc" to an
// address, an IPv6 address that is not v4-mapped to IPv4).
func (ev *evalCtx) cast(smp sample, to smpType) (sample, bool) {
	if to == tAny || smp.t == to {
		return smp, true
	}
	out := smp
	switch smp.t {
	case tBool, tInt:
		switch to {
		case tBool, tInt:
			out.t = to
			if to == tBool && smp.t == tInt {
				// HAProxy keeps the integer; truth is "non-zero".
				out.i = smp.i
			}
		case tStr:
			p := ev.next()
			*p = strconv.AppendInt(*p, smp.i, 10)
			out.t, out.b = tStr, *p
		case tAddr, tIPv4:
			if smp.t == tBool {
				return smp, false
			}
			var a [4]byte
			binary.BigEndian.PutUint32(a[:], uint32(smp.i))
			out.t, out.ip = tIPv4, netip.AddrFrom4(a)
		case tIPv6:
			if smp.t == tBool {
				return smp, false
			}
			var a [4]byte
			binary.BigEndian.PutUint32(a[:], uint32(smp.i))
			out.t, out.ip = tIPv6, netip.AddrFrom16(netip.AddrFrom4(a).As16())
		case tBin:
			if smp.t == tBool {
				return smp, false
			}
			p := ev.next()
			*p = binary.BigEndian.AppendUint64(*p, uint64(smp.i))
			out.t, out.b = tBin, *p
		default:
			return smp, false
		}
	case tIPv4, tIPv6:
		switch to {
		case tAddr:
			return smp, true
		case tIPv4:
			a, ok := v6tov4(smp.ip)
			if !ok {
				return smp, false
			}
			out.t, out.ip = tIPv4, a
		case tIPv6:
			out.t, out.ip = tIPv6, netip.AddrFrom16(smp.ip.As16())
		case tInt:
			if smp.t != tIPv4 {
				return smp, false
			}
			a := smp.ip.As4()
			out.t, out.i = tInt, int64(binary.BigEndian.Uint32(a[:]))
		case tStr:
			p := ev.next()
			*p = smp.ip.AppendTo(*p)
			out.t, out.b = tStr, *p
		case tBin:
			p := ev.next()
			*p = append(*p, smp.ip.AsSlice()...)
			out.t, out.b = tBin, *p
		default:
			return smp, false
		}
	case tStr:
		switch to {
		case tBin:
			out.t = tBin
		case tBool, tInt:
			out.t, out.i = to, readInt64(smp.b)
		case tAddr, tIPv4, tIPv6:
			a, ok := parseAddrBytes(smp.b)
			if !ok {
				return smp, false
			}
			if to == tIPv4 && !a.Is4() {
				return smp, false
			}
			if to == tIPv6 {
				a = netip.AddrFrom16(a.As16())
			}
			out = addrSample(a)
			out.mayChange = smp.mayChange
		default:
			return smp, false
		}
	case tBin:
		if to != tStr {
			return smp, false
		}
		// c_bin2str: the string stops at the first NUL byte.
		n := 0
		for n < len(smp.b) && smp.b[n] != 0 {
			n++
		}
		out.t, out.b = tStr, smp.b[:n]
	default:
		return smp, false
	}
	return out, true
}

// v6tov4 returns the IPv4 address an IPv6 one carries as HAProxy's
// v6tov4 sees it: v4-mapped (::ffff:a.b.c.d) or 6to4 (2002:AABB:CCDD::).
func v6tov4(a netip.Addr) (netip.Addr, bool) {
	if a.Is4() {
		return a, true
	}
	if a.Is4In6() {
		return a.Unmap(), true
	}
	b := a.As16()
	if b[0] == 0x20 && b[1] == 0x02 {
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}

// readInt64 parses an optional sign and decimal digits, stopping at the
// first other byte, as HAProxy's read_int64 (c_str2int) does; overflow
// saturates.
func readInt64(b []byte) int64 {
	i, neg := 0, false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	var v uint64
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if v > (1<<63)/10 {
			v = 1 << 63
			continue
		}
		v = v*10 + uint64(b[i]-'0')
		if v > 1<<63 {
			v = 1 << 63
		}
	}
	if neg {
		return -int64(v)
	}
	if v > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(v)
}

// parseAddrBytes parses an IPv4 or IPv6 literal held in b. IPv4, the
// common case, is parsed in place without allocating.
func parseAddrBytes(b []byte) (netip.Addr, bool) {
	if a, ok := parseIPv4(b); ok {
		return a, true
	}
	if len(b) == 0 || len(b) > 64 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(string(b))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// parseIPv4 parses a dotted-quad IPv4 address.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var out [4]byte
	n, v, digits := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || n == 4 {
				return netip.Addr{}, false
			}
			out[n] = byte(v)
			n, v, digits = n+1, 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' || digits == 3 {
			return netip.Addr{}, false
		}
		v = v*10 + int(c-'0')
		digits++
		if v > 255 {
			return netip.Addr{}, false
		}
	}
	if n != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(out), true
}

// truth is a sample's truth value as a condition sees it (bool/int
// non-zero).
func truth(smp sample) bool { return smp.i != 0 }
