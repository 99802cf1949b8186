package balance

import (
	"fmt"
	"strings"
)

// HashFunc is one of HAProxy's hash functions (src/hash.c), the <function>
// of "hash-type <method> <function> [avalanche]". The zero value is sdbm,
// HAProxy's default.
type HashFunc uint8

const (
	// SDBM is hash_sdbm, the default function.
	SDBM HashFunc = iota
	// DJB2 is hash_djb2.
	DJB2
	// WT6 is hash_wt6.
	WT6
	// CRC32 is hash_crc32 (IEEE polynomial, as zlib).
	CRC32
	// CRC32C is hash_crc32c (Castagnoli polynomial). HAProxy 2.6 has it
	// in src/hash.c for the crc32c converter but does not accept it after
	// hash-type; ParseHashType refuses it the same way.
	CRC32C
)

var hashFuncNames = [...]string{SDBM: "sdbm", DJB2: "djb2", WT6: "wt6", CRC32: "crc32", CRC32C: "crc32c"}

// String returns the function's name as written in a configuration.
func (f HashFunc) String() string {
	if int(f) < len(hashFuncNames) {
		return hashFuncNames[f]
	}
	return fmt.Sprintf("HashFunc(%d)", f)
}

// Sum hashes b with f. It mirrors backend.c gen_hash, which serves an
// unknown function with sdbm.
func (f HashFunc) Sum(b []byte) uint32 {
	switch f {
	case DJB2:
		return hashDJB2(b)
	case WT6:
		return hashWT6(b)
	case CRC32:
		return hashCRC32(b)
	case CRC32C:
		return hashCRC32C(b)
	}
	return hashSDBM(b)
}

// hashSDBM is hash.c hash_sdbm: hash = c + (hash << 6) + (hash << 16) - hash.
func hashSDBM(b []byte) uint32 {
	var h uint32
	for _, c := range b {
		h = uint32(c) + (h << 6) + (h << 16) - h
	}
	return h
}

// hashDJB2 is hash.c hash_djb2: hash = hash*33 + c from 5381 (the C code is
// unrolled eight times, which does not change the result).
func hashDJB2(b []byte) uint32 {
	h := uint32(5381)
	for _, c := range b {
		h = (h << 5) + h + uint32(c)
	}
	return h
}

// hashWT6 is hash.c hash_wt6, Willy Tarreau's hash with data-dependent
// rotations.
func hashWT6(b []byte) uint32 {
	h0, h1 := uint32(0xa53c965a), uint32(0x5ca6953a)
	step0, step1 := uint32(6), uint32(18)
	for _, c := range b {
		t := uint32(c)
		h0 = ^(h0 ^ t)
		h1 = ^(h1 + t)
		// The C code shifts by 32-step when step is 0, which x86 (and gcc
		// at -O2) treats as a shift by 0: x | x. Go's shift by 32 yields
		// 0 and x | 0 is the same x, so both agree.
		t = h1<<step0 | h1>>(32-step0)
		h1 = h0<<step1 | h0>>(32-step1)
		h0 = t
		t = (h0>>16 ^ h1) & 0xffff
		step0 = t & 0x1f
		step1 = t >> 11
	}
	return h0 ^ h1
}

// hashCRC32 is hash.c hash_crc32, the bitwise reflected CRC-32 of zlib.
func hashCRC32(b []byte) uint32 {
	h := ^uint32(0)
	for _, c := range b {
		h ^= uint32(c)
		for range 8 {
			h = h>>1 ^ (0xedb88320 & -(h & 1))
		}
	}
	return ^h
}

// crc32cTable is hash.c's crctable for CRC-32C (poly 0x1EDC6F41 reflected).
var crc32cTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i)
		for range 8 {
			c = c>>1 ^ (0x82f63b78 & -(c & 1))
		}
		t[i] = c
	}
	return t
}()

// hashCRC32C is hash.c hash_crc32c.
func hashCRC32C(b []byte) uint32 {
	crc := ^uint32(0)
	for _, c := range b {
		crc = crc>>8 ^ crc32cTable[byte(crc)^c]
	}
	return ^crc
}

// fullHash is HAProxy's full_hash (include/haproxy/tools.h): Bob Jenkins'
// 32-bit full avalanche integer hash followed by a multiplication by a
// large prime. It places the consistent-hash points and is the
// "avalanche" modifier of hash-type.
func fullHash(a uint32) uint32 {
	a = (a + 0x7ed55d16) + (a << 12)
	a = (a ^ 0xc761c23c) ^ (a >> 19)
	a = (a + 0x165667b1) + (a << 5)
	a = (a + 0xd3a2646c) ^ (a << 9)
	a = (a + 0xfd7046c5) + (a << 3)
	a = (a ^ 0xb55a4f09) ^ (a >> 16)
	return a * 3221225473
}

// HashType is a "hash-type <method> [<function> [<modifier>]]" line. The
// zero value is HAProxy 2.6's default: map-based with sdbm, no avalanche.
type HashType struct {
	// Consistent selects "consistent" (src/lb_chash.c); false is
	// "map-based" (src/lb_map.c).
	Consistent bool
	// Func hashes the request's key (uri, url_param, hdr). balance source
	// does not use it: HAProxy folds the address itself (get_server_sh).
	Func HashFunc
	// Avalanche applies full_hash to the key's hash before the lookup.
	Avalanche bool
}

// String returns t as written after "hash-type".
func (t HashType) String() string {
	m := "map-based"
	if t.Consistent {
		m = "consistent"
	}
	s := m + " " + t.Func.String()
	if t.Avalanche {
		s += " avalanche"
	}
	return s
}

// ParseHashType parses the words after "hash-type" ("consistent djb2
// avalanche"); an empty string is the default map-based sdbm. It accepts
// what HAProxy 2.6's cfg_parse_listen accepts and words its errors alike.
// As there, "consistent" alone means "consistent sdbm avalanche", while
// "consistent sdbm" has no avalanche.
func ParseHashType(s string) (HashType, error) {
	var t HashType
	w := strings.Fields(s)
	if len(w) == 0 {
		return t, nil
	}
	switch w[0] {
	case "consistent":
		t.Consistent = true
	case "map-based":
	default:
		return t, fmt.Errorf("'hash-type' only supports 'consistent' and 'map-based'.")
	}
	if len(w) == 1 {
		// cfg_parse_listen: "if consistent with no argument, then
		// avalanche modifier is also applied".
		t.Avalanche = t.Consistent
		return t, nil
	}
	if len(w) > 1 {
		switch w[1] {
		case "sdbm":
			t.Func = SDBM
		case "djb2":
			t.Func = DJB2
		case "wt6":
			t.Func = WT6
		case "crc32":
			t.Func = CRC32
		default:
			return t, fmt.Errorf("'hash-type' only supports 'sdbm', 'djb2', 'crc32', or 'wt6' hash functions.")
		}
	}
	if len(w) > 2 {
		if w[2] != "avalanche" {
			return t, fmt.Errorf("'hash-type' only supports 'avalanche' as a modifier for hash functions.")
		}
		t.Avalanche = true
	}
	if len(w) > 3 {
		return t, fmt.Errorf("'hash-type' takes at most 3 arguments (got %q)", s)
	}
	return t, nil
}

// finish applies the avalanche modifier, as every get_server_* function of
// backend.c does right after hashing and before the lookup.
func (t HashType) finish(h uint32) uint32 {
	if t.Avalanche {
		return fullHash(h)
	}
	return h
}
