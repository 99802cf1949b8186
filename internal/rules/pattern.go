package rules

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// matchKind is an ACL match method ("-m"), or the matching of a map.
type matchKind uint8

const (
	mFound matchKind = iota
	mBool
	mInt
	mIP
	mBin
	mLen
	mStr
	mSub
	mReg
	mBeg
	mEnd
	mDir
	mDom
	// mVer matches integers written as dotted versions ("3.1"), for the
	// req.ssl_ver ACL keyword.
	mVer
	// mMeth matches HTTP methods as pat_match_meth does: a well-known
	// method pattern ("GET") matches that exact method; any other pattern
	// matches only a method that is not well-known, ignoring case with -i.
	mMeth
)

var matchNames = map[string]matchKind{"found": mFound, "bool": mBool, "int": mInt, "ip": mIP, "bin": mBin,
	"len": mLen, "str": mStr, "sub": mSub, "reg": mReg, "beg": mBeg, "end": mEnd, "dir": mDir, "dom": mDom}

// in is the sample type a method matches against (the sample is cast to
// it first, as pattern_exec_match does).
func (k matchKind) in() smpType {
	switch k {
	case mFound:
		return tAny
	case mBool, mInt, mVer:
		return tInt
	case mIP:
		return tAddr
	case mBin:
		return tBin
	}
	return tStr
}

// defaultMatch is the method implied by a fetch's output type.
func defaultMatch(t smpType) (matchKind, bool) {
	switch t {
	case tBool:
		return mBool, true
	case tInt:
		return mInt, true
	case tAddr, tIPv4, tIPv6:
		return mIP, true
	case tStr:
		return mStr, true
	case tBin:
		return mBin, true
	}
	return 0, false
}

// intRange is an integer pattern: "N", "N:M", "N:", ":M" or an operator
// form, as pat_parse_int.
type intRange struct {
	min, max       int64
	minSet, maxSet bool
	idx            int
}

func (r *intRange) match(v int64) bool {
	return (!r.minSet || v >= r.min) && (!r.maxSet || v <= r.max)
}

// strPat is a pattern for the beg/end/sub/dir/dom methods.
type strPat struct {
	s   []byte
	idx int
}

type regPat struct {
	re  *regexp.Regexp
	idx int
}

// u128 is an IPv6 address as a number.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func toU128(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// ipNet is an address pattern as a closed range of addresses.
type ipNet struct {
	lo, hi u128 // IPv4 ranges use lo.lo/hi.lo only
	bits   int
	idx    int
}

// patSet is a compiled set of patterns, shared by ACL expressions and
// maps. Lookups never allocate: strings are map keys looked up with
// m[string(b)], IP patterns are sorted ranges searched by bisection.
type patSet struct {
	kind  matchKind
	icase bool
	// exact holds mStr and mBin patterns (lower-cased with -i), with the
	// index of the first pattern of that value.
	exact map[string]int
	strs  []strPat
	regs  []regPat
	ints  []intRange
	// v4 and v6 are the address patterns. For ACLs they are merged
	// disjoint ranges sorted by address; for maps they are sorted by
	// decreasing prefix length, so that the first match is the longest.
	v4, v6 []ipNet
	// longest selects the map order of v4/v6.
	longest bool
	n       int
}

func newPatSet(kind matchKind, icase, forMap bool) *patSet {
	return &patSet{kind: kind, icase: icase, longest: forMap, exact: map[string]int{}}
}

// add parses one pattern. idx is its index (the map value it selects).
func (ps *patSet) add(pat string, idx int) error {
	ps.n++
	switch ps.kind {
	case mFound, mBool:
		return nil
	case mInt, mLen:
		r, err := parseIntRange(pat)
		if err != nil {
			return err
		}
		r.idx = idx
		ps.ints = append(ps.ints, r)
	case mVer:
		r, err := parseVerRange(pat)
		if err != nil {
			return err
		}
		r.idx = idx
		ps.ints = append(ps.ints, r)
	case mIP:
		n, is4, err := parseIPPattern(pat)
		if err != nil {
			return err
		}
		n.idx = idx
		if is4 {
			ps.v4 = append(ps.v4, n)
		} else {
			ps.v6 = append(ps.v6, n)
		}
	case mBin:
		b, err := hex.DecodeString(pat)
		if err != nil {
			return fmt.Errorf("'%s' is not a valid hex string", pat)
		}
		if _, ok := ps.exact[string(b)]; !ok {
			ps.exact[string(b)] = idx
		}
	case mStr:
		if ps.icase {
			pat = strings.ToLower(pat)
		}
		if _, ok := ps.exact[pat]; !ok {
			ps.exact[pat] = idx
		}
	case mReg:
		expr := pat
		if ps.icase {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return fmt.Errorf("regex '%s' is not supported by lb yet: %v", pat, err)
		}
		ps.regs = append(ps.regs, regPat{re: re, idx: idx})
	default:
		ps.strs = append(ps.strs, strPat{s: []byte(pat), idx: idx})
	}
	return nil
}

// done prepares the set for lookups once every pattern is added.
func (ps *patSet) done() {
	if ps.longest {
		for _, l := range []([]ipNet){ps.v4, ps.v6} {
			sort.SliceStable(l, func(i, j int) bool { return l[i].bits > l[j].bits })
		}
		return
	}
	ps.v4, ps.v6 = mergeRanges(ps.v4), mergeRanges(ps.v6)
}

// mergeRanges sorts ranges and merges those that overlap or touch.
func mergeRanges(l []ipNet) []ipNet {
	if len(l) == 0 {
		return nil
	}
	sort.Slice(l, func(i, j int) bool { return l[i].lo.less(l[j].lo) })
	out := l[:1]
	for _, r := range l[1:] {
		last := &out[len(out)-1]
		next := last.hi
		if next.lo++; next.lo == 0 {
			next.hi++
		}
		if !next.less(r.lo) || last.hi == (u128{^uint64(0), ^uint64(0)}) {
			if last.hi.less(r.hi) {
				last.hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// lookupIP finds addr in l: the first range holding it.
func (ps *patSet) lookupIP(l []ipNet, a u128) (int, bool) {
	if ps.longest {
		for i := range l {
			if !a.less(l[i].lo) && !l[i].hi.less(a) {
				return l[i].idx, true
			}
		}
		return 0, false
	}
	lo, hi := 0, len(l)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l[m].hi.less(a) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(l) && !a.less(l[lo].lo) {
		return l[lo].idx, true
	}
	return 0, false
}

// matchIP matches an address against both families, converting between
// them as pat_match_ip does (v4-mapped and 6to4 IPv6 addresses match IPv4
// patterns; IPv4 addresses match v4-mapped IPv6 patterns).
func (ps *patSet) matchIP(a netip.Addr) (int, bool) {
	if a.Is4() {
		v := a.As4()
		if i, ok := ps.lookupIP(ps.v4, u128{lo: uint64(binary.BigEndian.Uint32(v[:]))}); ok {
			return i, true
		}
		return ps.lookupIP(ps.v6, toU128(netip.AddrFrom16(a.As16())))
	}
	if i, ok := ps.lookupIP(ps.v6, toU128(a)); ok {
		return i, true
	}
	if v4, ok := v6tov4(a); ok {
		v := v4.As4()
		return ps.lookupIP(ps.v4, u128{lo: uint64(binary.BigEndian.Uint32(v[:]))})
	}
	return 0, false
}

// match matches a sample already cast to ps.kind.in(). It returns the
// index of the first (for maps: the best) pattern that matches.
func (ps *patSet) match(ev *evalCtx, smp sample) (int, bool) {
	switch ps.kind {
	case mFound:
		return 0, true
	case mBool:
		return 0, smp.i != 0
	case mInt, mVer:
		return matchInts(ps.ints, smp.i)
	case mLen:
		return matchInts(ps.ints, int64(len(smp.b)))
	case mIP:
		return ps.matchIP(smp.ip)
	case mBin:
		i, ok := ps.exact[string(smp.b)]
		return i, ok
	case mStr:
		key := smp.b
		if ps.icase {
			key = ev.lower(key)
		}
		i, ok := ps.exact[string(key)]
		return i, ok
	case mMeth:
		known := knownMethod(smp.b)
		for i := range ps.strs {
			p := ps.strs[i].s
			if knownMethod(p) {
				if bytes.Equal(p, smp.b) {
					return ps.strs[i].idx, true
				}
			} else if !known && equalBytes(p, smp.b, ps.icase) {
				return ps.strs[i].idx, true
			}
		}
		return 0, false
	case mReg:
		for i := range ps.regs {
			if ps.regs[i].re.Match(smp.b) {
				return ps.regs[i].idx, true
			}
		}
		return 0, false
	}
	for i := range ps.strs {
		p := ps.strs[i].s
		var ok bool
		switch ps.kind {
		case mBeg:
			ok = len(smp.b) >= len(p) && equalBytes(smp.b[:len(p)], p, ps.icase)
		case mEnd:
			ok = len(smp.b) >= len(p) && equalBytes(smp.b[len(smp.b)-len(p):], p, ps.icase)
		case mSub:
			ok = containsBytes(smp.b, p, ps.icase)
		case mDir:
			ok = matchWord(smp.b, p, ps.icase, "/?")
		case mDom:
			ok = matchWord(smp.b, p, ps.icase, "/?.:")
		}
		if ok {
			return ps.strs[i].idx, true
		}
	}
	return 0, false
}

func matchInts(l []intRange, v int64) (int, bool) {
	for i := range l {
		if l[i].match(v) {
			return l[i].idx, true
		}
	}
	return 0, false
}

// lower returns b lower-cased (ASCII) in the stream's key buffer.
func (ev *evalCtx) lower(b []byte) []byte {
	k := ev.s.st.key[:0]
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		k = append(k, c)
	}
	ev.s.st.key = k
	return k
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func equalBytes(a, b []byte, icase bool) bool {
	if !icase {
		return bytes.Equal(a, b)
	}
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func containsBytes(s, p []byte, icase bool) bool {
	if !icase {
		return bytes.Contains(s, p)
	}
	for i := 0; i+len(p) <= len(s); i++ {
		if equalBytes(s[i:i+len(p)], p, true) {
			return true
		}
	}
	return false
}

// matchWord reports whether pattern p, stripped of leading and trailing
// delimiters, appears in s as a whole delimiter-bounded word, as
// HAProxy's match_word (the dir and dom methods).
func matchWord(s, p []byte, icase bool, delims string) bool {
	isDelim := func(c byte) bool { return strings.IndexByte(delims, c) >= 0 }
	for len(p) > 0 && isDelim(p[0]) {
		p = p[1:]
	}
	for len(p) > 0 && isDelim(p[len(p)-1]) {
		p = p[:len(p)-1]
	}
	if len(p) == 0 || len(p) > len(s) {
		return false
	}
	may := true
	for i := 0; i+len(p) <= len(s); i++ {
		if isDelim(s[i]) {
			may = true
			continue
		}
		if !may {
			continue
		}
		if equalBytes(s[i:i+len(p)], p, icase) && (i+len(p) == len(s) || isDelim(s[i+len(p)])) {
			return true
		}
		may = false
	}
	return false
}

// parseIntRange parses an integer pattern as pat_parse_int: a number, or
// a range around ':' or '-' with either side optional.
func parseIntRange(s string) (intRange, error) {
	var r intRange
	if s == "" {
		return r, fmt.Errorf("'%s' is not a valid integer range", s)
	}
	sep := strings.IndexAny(s, ":-")
	if sep < 0 {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return r, fmt.Errorf("'%s' is not a number", s)
		}
		return intRange{min: v, max: v, minSet: true, maxSet: true}, nil
	}
	lo, hi := s[:sep], s[sep+1:]
	var err error
	if lo != "" {
		if r.min, err = strconv.ParseInt(lo, 10, 64); err != nil {
			return r, fmt.Errorf("'%s' is not a valid integer range", s)
		}
		r.minSet = true
	}
	if hi != "" {
		if r.max, err = strconv.ParseInt(hi, 10, 64); err != nil {
			return r, fmt.Errorf("'%s' is not a valid integer range", s)
		}
		r.maxSet = true
	}
	if !r.minSet && !r.maxSet {
		return r, fmt.Errorf("'%s' is not a valid integer range", s)
	}
	return r, nil
}

// parseVer parses "major[.minor]" into major<<16|minor.
func parseVer(s string) (int64, bool) {
	maj, min, hasMin := strings.Cut(s, ".")
	a, err := strconv.ParseUint(maj, 10, 16)
	if err != nil {
		return 0, false
	}
	var b uint64
	if hasMin {
		if b, err = strconv.ParseUint(min, 10, 16); err != nil {
			return 0, false
		}
	}
	return int64(a<<16 | b), true
}

// parseVerRange parses a dotted version or a range of them
// (pat_parse_dotted_ver).
func parseVerRange(s string) (intRange, error) {
	bad := fmt.Errorf("'%s' is not a valid dotted version range", s)
	lo, hi, isRange := strings.Cut(s, ":")
	if !isRange {
		lo, hi, isRange = strings.Cut(s, "-")
	}
	var r intRange
	if !isRange {
		v, ok := parseVer(s)
		if !ok {
			return r, bad
		}
		return intRange{min: v, max: v, minSet: true, maxSet: true}, nil
	}
	var ok bool
	if lo != "" {
		if r.min, ok = parseVer(lo); !ok {
			return r, bad
		}
		r.minSet = true
	}
	if hi != "" {
		if r.max, ok = parseVer(hi); !ok {
			return r, bad
		}
		r.maxSet = true
	}
	if !r.minSet && !r.maxSet {
		return r, bad
	}
	return r, nil
}

// parseIPPattern parses "addr", "addr/bits" or "ipv4/dotted-mask" into a
// range; is4 tells which family the range belongs to (IPv4 ranges use
// only the low 32 bits).
func parseIPPattern(s string) (n ipNet, is4 bool, err error) {
	bad := fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", s)
	addr, mask, hasMask := strings.Cut(s, "/")
	a, perr := netip.ParseAddr(addr)
	if perr != nil || a.Zone() != "" {
		if perr != nil && !hasMask && isHostName(addr) {
			// HAProxy resolves host names while parsing; lb does not.
			return ipNet{}, false, hostPatternError{s}
		}
		return ipNet{}, false, bad
	}
	if a.Is4In6() && !hasMask {
		a = a.Unmap()
	}
	bits := a.BitLen()
	if hasMask {
		if n, err := strconv.Atoi(mask); err == nil {
			if n < 0 || n > a.BitLen() {
				return ipNet{}, false, bad
			}
			bits = n
		} else if m, err := netip.ParseAddr(mask); err == nil && m.Is4() && a.Is4() {
			v := m.As4()
			u := binary.BigEndian.Uint32(v[:])
			ones := 0
			for ones < 32 && u&(1<<(31-ones)) != 0 {
				ones++
			}
			if ones < 32 && u<<ones != 0 {
				return ipNet{}, false, fmt.Errorf("non-contiguous netmask '%s' is not supported by lb yet", mask)
			}
			bits = ones
		} else {
			return ipNet{}, false, bad
		}
	}
	if a.Is4() {
		v := a.As4()
		u := uint64(binary.BigEndian.Uint32(v[:]))
		var hostMask uint64 = (1 << (32 - bits)) - 1
		return ipNet{lo: u128{lo: u &^ hostMask}, hi: u128{lo: u | hostMask}, bits: bits}, true, nil
	}
	x := toU128(a)
	lo, hi := x, x
	for i := bits; i < 128; i++ {
		bit := 127 - i
		if bit >= 64 {
			lo.hi &^= 1 << (bit - 64)
			hi.hi |= 1 << (bit - 64)
		} else {
			lo.lo &^= 1 << bit
			hi.lo |= 1 << bit
		}
	}
	return ipNet{lo: lo, hi: hi, bits: bits}, false, nil
}

// isHostName reports whether s looks like a DNS name rather than a
// malformed address.
func isHostName(s string) bool {
	if s == "" {
		return false
	}
	letter := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_':
		default:
			return false
		}
	}
	return letter
}

// hostPatternError: a host name where an address pattern is expected.
// HAProxy resolves it while starting; lb does not.
type hostPatternError struct{ s string }

func (e hostPatternError) Error() string {
	return fmt.Sprintf("host name '%s' in an address pattern is not supported by lb yet", e.s)
}
