package balance

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// TestHashFuncs pins the hash functions to values computed by compiling
// HAProxy 2.6's src/hash.c definitions with gcc -O2.
func TestHashFuncs(t *testing.T) {
	tests := []struct {
		in                             string
		sdbm, djb2, wt6, crc32, crc32c uint32
	}{
		{"", 0x00000000, 0x00001505, 0xf99a0360, 0x00000000, 0x00000000},
		{"a", 0x00000061, 0x0002b606, 0x714bf225, 0xe8b7be43, 0xc1d04330},
		{"abc", 0x3025f862, 0x0b885c8b, 0x940028e8, 0x352441c2, 0x364b3fb7},
		{"/index.html", 0x33242976, 0xe114b9cf, 0x3101077e, 0xea224b42, 0xbeacccb5},
		{"hello world", 0x19ae84c4, 0x3551c8c1, 0x6f46a0aa, 0x0d4a1185, 0xc99465aa},
		{"The quick brown fox jumps over the lazy dog", 0x8ca77173, 0x34cc38de, 0xe4e7b045, 0x414fa339, 0x22620404},
		{"\xff\x80\x01", 0x7e119100, 0x0b8b0025, 0x346e88c7, 0x0d5d4522, 0xf8c9f128},
		{"0123456789abcdef0", 0x50aab4e8, 0x76085397, 0x0d09ee5a, 0x4b637ac7, 0x5c0c8ac1},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			for _, c := range []struct {
				f    HashFunc
				want uint32
			}{{SDBM, tc.sdbm}, {DJB2, tc.djb2}, {WT6, tc.wt6}, {CRC32, tc.crc32}, {CRC32C, tc.crc32c}} {
				if got := c.f.Sum([]byte(tc.in)); got != c.want {
					t.Errorf("%v(%q) = %#08x; want %#08x", c.f, tc.in, got, c.want)
				}
			}
		})
	}
	// hash.c's literal CRC-32C table, spot-checked.
	if crc32cTable[1] != 0xF26B8303 || crc32cTable[255] != 0xAD7D5351 {
		t.Errorf("crc32c table [1]=%#x [255]=%#x", crc32cTable[1], crc32cTable[255])
	}
}

// TestFullHash pins full_hash (include/haproxy/tools.h), also from gcc.
func TestFullHash(t *testing.T) {
	for _, tc := range []struct{ in, want uint32 }{
		{0, 0xab4ed927}, {1, 0x348681b6}, {4096, 0x49c2008b}, {4097, 0xa4972c87},
		{0xffffffff, 0x7e64c182}, {0x7f000001, 0x8a1b584b},
	} {
		if got := fullHash(tc.in); got != tc.want {
			t.Errorf("fullHash(%#x) = %#08x; want %#08x", tc.in, got, tc.want)
		}
	}
}

func TestParseHashType(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    HashType
		wantErr string
	}{
		{"", HashType{}, ""},
		{"map-based", HashType{}, ""},
		{"map-based djb2", HashType{Func: DJB2}, ""},
		{"map-based sdbm avalanche", HashType{Avalanche: true}, ""},
		// cfg_parse_listen: consistent alone implies avalanche.
		{"consistent", HashType{Consistent: true, Avalanche: true}, ""},
		{"consistent sdbm", HashType{Consistent: true}, ""},
		{"consistent wt6 avalanche", HashType{Consistent: true, Func: WT6, Avalanche: true}, ""},
		{"consistent crc32", HashType{Consistent: true, Func: CRC32}, ""},
		{"consistent crc32c", HashType{}, "only supports 'sdbm', 'djb2', 'crc32', or 'wt6'"},
		{"avalanche", HashType{}, "only supports 'consistent' and 'map-based'"},
		{"map-based sdbm fast", HashType{}, "only supports 'avalanche'"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseHashType(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseHashType(%q) = %v; want error with %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseHashType(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseURIOptions(t *testing.T) {
	for _, tc := range []struct {
		args    string
		want    URIOptions
		wantErr bool
	}{
		{"", URIOptions{}, false},
		{"len 10 depth 2 whole path-only", URIOptions{Len: 10, Depth: 2, Whole: true, PathOnly: true}, false},
		{"depth 0", URIOptions{}, true},
		{"len", URIOptions{}, true},
		{"bogus", URIOptions{}, true},
	} {
		t.Run(tc.args, func(t *testing.T) {
			got, err := ParseURIOptions(strings.Fields(tc.args))
			if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
				t.Fatalf("ParseURIOptions(%q) = %+v, %v; want %+v (error %v)", tc.args, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestHashURI checks which part of the URI get_server_uh hashes.
func TestHashURI(t *testing.T) {
	for _, tc := range []struct {
		uri    string
		o      URIOptions
		hashed string
	}{
		{"/a/b/c?x=1", URIOptions{}, "/a/b/c"},
		{"/a/b/c?x=1", URIOptions{Whole: true}, "/a/b/c?x=1"},
		{"/a/b/c?x=1", URIOptions{Depth: 1}, "/a"},
		{"/a/b/c?x=1", URIOptions{Depth: 2}, "/a/b"},
		{"/a/b/c?x=1", URIOptions{Depth: 3}, "/a/b/c"},
		{"/a/b/c?x=1", URIOptions{Len: 4}, "/a/b"},
		{"/a/b/c?x=1", URIOptions{Len: 4, Depth: 1}, "/a"},
		{"/a?x=/y/z", URIOptions{Whole: true, Depth: 2}, "/a?x=/y"},
		{"http://h:80/a/b?q", URIOptions{}, "http://h:80/a/b"},
		{"http://h:80/a/b?q", URIOptions{Depth: 3}, "http://h:80/a"},
		{"http://h:80/a/b?q", URIOptions{PathOnly: true}, "/a/b"},
		{"https://u@h/a?q", URIOptions{PathOnly: true, Whole: true}, "/a?q"},
		{"http://h?q", URIOptions{PathOnly: true, Whole: true}, ""},
		{"h:443", URIOptions{PathOnly: true}, ""},
		{"*", URIOptions{PathOnly: true}, ""},
		{"/p", URIOptions{PathOnly: true}, "/p"},
		{"1http://h/x", URIOptions{PathOnly: true}, ""},
	} {
		t.Run(fmt.Sprintf("%s %+v", tc.uri, tc.o), func(t *testing.T) {
			h, ok := HashURI([]byte(tc.uri), tc.o, DJB2)
			if want := DJB2.Sum([]byte(tc.hashed)); !ok || h != want {
				t.Errorf("HashURI = %#x, %v; want djb2(%q) = %#x", h, ok, tc.hashed, want)
			}
		})
	}
}

// TestHashParam checks get_server_ph and get_server_ph_post's parsing.
func TestHashParam(t *testing.T) {
	const none = "\x00none"
	for _, tc := range []struct {
		uri, name, hashed string
	}{
		{"/p?id=42", "id", "42"},
		{"/p?x=1&id=42&id=43", "id", "42"},
		{"/p?xid=1&idx=2&id=7", "id", "7"},
		{"/p?id=", "id", ""},
		{"/p?id=a#b", "id", "a#b"},
		{"/p?ID=1", "id", none},
		{"/p?id", "id", none},
		{"/p", "id", none},
		{"/p?", "id", none},
		{"/p?a=1&&id=2", "id", "2"},
		{"/p?q=a?id=3", "q", "a?id=3"},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			h, ok := HashParam([]byte(tc.uri), tc.name, SDBM)
			checkKey(t, h, ok, tc.hashed, none)
		})
	}
	for _, tc := range []struct {
		body, hashed string
	}{
		{"id=abc&x=1", "abc"},
		{"a=1&id=%41b", "%41b"},
		{"id= x", ""}, // a blank first: HAProxy hashes nothing
		{"id=/x", none},
		{"id=", ""},
		{"x=1", none},
	} {
		t.Run("post "+tc.body, func(t *testing.T) {
			h, ok := HashParamBody([]byte(tc.body), "id", SDBM)
			checkKey(t, h, ok, tc.hashed, none)
		})
	}
}

func checkKey(t *testing.T, h uint32, ok bool, hashed, none string) {
	t.Helper()
	if hashed == none {
		if ok {
			t.Errorf("got hash %#x; want no key", h)
		}
		return
	}
	if want := SDBM.Sum([]byte(hashed)); !ok || h != want {
		t.Errorf("got %#x, %v; want sdbm(%q) = %#x", h, ok, hashed, want)
	}
}

// TestHashHeader checks http_find_header's first element and
// use_domain_only's label.
func TestHashHeader(t *testing.T) {
	const none = "\x00none"
	for _, tc := range []struct {
		value      string
		domainOnly bool
		hashed     string
	}{
		{"abc", false, "abc"},
		{"  a b  ", false, "a b"},
		{"a, b", false, "a"},
		{`"x,y", z`, false, `"x,y"`},
		{`"x\",y", z`, false, `"x\",y"`},
		{"", false, none},
		{" , b", false, none},
		{"www.example.com", true, "example"},
		{"example.com", true, "example"},
		{"example.com.", true, "com"},
		{"localhost", true, "localhost"},
		{"a.b.c:8080", true, "b"},
		{".com", true, ".com"},
		{"a..com", true, "a."},
		{"a.b", true, "a"},
		{"www.example.com, other.org", true, "example"},
	} {
		t.Run(fmt.Sprintf("%q %v", tc.value, tc.domainOnly), func(t *testing.T) {
			h, ok := HashHeader([]byte(tc.value), tc.domainOnly, SDBM)
			checkKey(t, h, ok, tc.hashed, none)
		})
	}
}

func TestServerIDs(t *testing.T) {
	for _, tc := range []struct{ explicit, want []int }{
		{[]int{0, 0, 0}, []int{1, 2, 3}},
		{[]int{0, 1, 0}, []int{2, 1, 4}}, // the count goes on past the explicit 1
		{[]int{3, 0, 0, 1, 40}, []int{3, 2, 4, 1, 40}},
		{[]int{5, 0}, []int{5, 2}},
		{nil, []int{}},
	} {
		if got := ServerIDs(tc.explicit); !slices.Equal(got, tc.want) {
			t.Errorf("ServerIDs(%v) = %v; want %v", tc.explicit, got, tc.want)
		}
	}
}

// TestMapLayout checks recalc_server_map's slot order and the weight
// divisor of init_server_map.
func TestMapLayout(t *testing.T) {
	for _, tc := range []struct {
		name string
		srvs []Server
		opt  Options
		want string // server letter per slot
	}{
		{"5,1,1", mk(5, 1, 1), Options{}, "aaabaac"},
		{"2,1", mk(2, 1), Options{}, "aab"},
		{"gcd 4,8 with a down 6", func() []Server {
			s := mk(6, 4, 8)
			s[0].Usable, s[0].Weight, s[0].ConfWeight = false, 0, 6
			return s
		}(), Options{}, "bccbcc"},
		{"gcd without ConfWeight", func() []Server {
			s := mk(6, 4, 8)
			s[0].Usable, s[0].Weight = false, 0
			return s
		}(), Options{}, "bcc"},
		{"first backup with others", func() []Server {
			s := mk(1, 2, 3)
			s[0].Usable = false
			s[1].Backup, s[2].Backup = true, true
			return s
		}(), Options{}, "bc"},
		{"allbackups", func() []Server {
			s := mk(1, 2, 3)
			s[0].Usable = false
			s[1].Backup, s[2].Backup = true, true
			return s
		}(), Options{AllBackups: true}, "bcbcc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustNew(t, "uri", tc.opt).(*mapHash)
			m.Pick(tc.srvs, 0)
			var b strings.Builder
			for _, s := range m.slots {
				b.WriteByte(byte('a' + s))
			}
			if got := b.String(); got != tc.want {
				t.Errorf("map = %q; want %q", got, tc.want)
			}
		})
	}
}

// TestMapOneServerShortcut: with the first backup alone, get_server_uh
// hashes nothing and takes slot 0, while get_server_ph hashes.
func TestMapOneServerShortcut(t *testing.T) {
	srvs := mk(1, 2, 3)
	srvs[0].Usable = false
	srvs[1].Backup, srvs[2].Backup = true, true // map "bc"
	uri, param := mustNew(t, "uri", Options{}), mustNew(t, "url_param", Options{})
	for h := range uint32(4) {
		if got := uri.Pick(srvs, Key(h, true)); got != 1 {
			t.Errorf("uri hash %d: Pick = %d; want slot 0 (server 1)", h, got)
		}
		if got, want := param.Pick(srvs, Key(h, true)), []int{1, 2}[h%2]; got != want {
			t.Errorf("url_param hash %d: Pick = %d; want %d", h, got, want)
		}
	}
}

// TestConsistentLookup checks the ring against a direct computation of
// HAProxy's rule: nearest point on either side, the previous one on a tie.
func TestConsistentLookup(t *testing.T) {
	srvs := mk(1, 3, 2)
	srvs[1].ID = 7
	a := mustNew(t, "uri", Options{HashType: HashType{Consistent: true}}).(*chash)
	a.Pick(srvs, 0)
	if len(a.nodes) != 6*beWeightScale {
		t.Fatalf("ring has %d points; want %d", len(a.nodes), 6*beWeightScale)
	}
	type pt struct {
		key uint32
		srv int
	}
	var pts []pt
	for i, s := range srvs {
		for n := range s.Weight * beWeightScale {
			pts = append(pts, pt{fullHash(uint32(s.ID)*srvEwghtRange + uint32(n)), i})
		}
	}
	// nearest finds, by brute force, the first point at or after h (the
	// ring wraps), the point just before that one, and keeps the nearer,
	// the one before on a tie.
	nearest := func(h uint32) int {
		next := 0
		for i, p := range pts {
			if p.key-h < pts[next].key-h {
				next = i
			}
		}
		prev := -1
		for i, p := range pts {
			if i != next && (prev < 0 || pts[next].key-p.key < pts[next].key-pts[prev].key) {
				prev = i
			}
		}
		if h-pts[prev].key <= pts[next].key-h {
			return pts[prev].srv
		}
		return pts[next].srv
	}
	for i := range 2000 {
		h := uint32(mix64(uint64(i)))
		if i < len(pts) {
			h = pts[i].key // exactly on a point
		}
		if got, want := a.lookup(nil, h), nearest(h); got != want {
			t.Fatalf("lookup(%#x) = %d; want %d", h, got, want)
		}
	}
}

func TestKey(t *testing.T) {
	if Key(0, false) != 0 || Key(7, false) != 0 {
		t.Errorf("Key(_, false) != 0")
	}
	if h, ok := keyHash(Key(0, true)); !ok || h != 0 {
		t.Errorf("Key(0, true) reads back as %#x, %v", h, ok)
	}
	if h, ok := keyHash(uint64(0xdeadbeef)); !ok || h != 0xdeadbeef {
		t.Errorf("a widened hash reads back as %#x, %v", h, ok)
	}
}

// TestSourceKeyIgnoredByL7: a caller passing HashAddr to every algorithm
// gets a source hash from source only; uri, url_param and hdr take it as
// no key and go round robin.
func TestSourceKeyIgnoredByL7(t *testing.T) {
	srvs := mk(1, 1, 1)
	key := HashAddr(netip.MustParseAddr("10.0.0.1")) // 0x0a000001 % 3 = 2
	for _, tc := range []struct {
		name, want string
	}{{"source", "cccc"}, {"uri", "abca"}, {"url_param", "abca"}, {"hdr", "abca"}} {
		a := mustNew(t, tc.name, Options{})
		var b strings.Builder
		for range len(tc.want) {
			b.WriteByte(byte('a' + a.Pick(srvs, key)))
		}
		if got := b.String(); got != tc.want {
			t.Errorf("%s with a HashAddr key picks %q; want %q", tc.name, got, tc.want)
		}
	}
}

func BenchmarkKeys(b *testing.B) {
	uri := []byte("/static/img/logo.png?v=123&id=42&x=y")
	b.Run("uri", func(b *testing.B) {
		for b.Loop() {
			HashURI(uri, URIOptions{Depth: 2}, SDBM)
		}
	})
	b.Run("url_param", func(b *testing.B) {
		for b.Loop() {
			HashParam(uri, "id", SDBM)
		}
	})
	b.Run("hdr", func(b *testing.B) {
		v := []byte("www.example.com")
		for b.Loop() {
			HashHeader(v, true, SDBM)
		}
	})
}

// TestHashBalanceFactor checks bounded loads against HAProxy's arithmetic
// (chash_server_is_eligible), computed by hand for three servers of weight 1
// (eweight 16 each, total 48) and a factor of 150, and the walk along the
// ring from a full server to the next within its bound.
func TestHashBalanceFactor(t *testing.T) {
	srvs := mk(1, 1, 1)
	a := mustNew(t, "uri", Options{HashType: HashType{Consistent: true}, HashBalanceFactor: 150}).(*chash)
	a.Pick(srvs, 0)
	if a.totW != 48 || a.cum[0] != 0 || a.cum[1] != 16 || a.cum[2] != 32 {
		t.Fatalf("total weight %d, cumulative %v; want 48, [0 16 32]", a.totW, a.cum)
	}
	for _, c := range []struct {
		served [3]int
		want   [3]bool
	}{
		// 1 connection × 1.5 → 2 slots: 0, 1 and 1 by cumulative weight,
		// at least one each.
		{[3]int{0, 0, 0}, [3]bool{true, true, true}},
		{[3]int{1, 0, 0}, [3]bool{false, true, true}},
		// 6 × 1.5 → 9 slots: 3 each.
		{[3]int{3, 2, 0}, [3]bool{false, true, true}},
		{[3]int{2, 3, 0}, [3]bool{true, false, true}},
		// 10 × 1.5 → 15 slots: 5 each.
		{[3]int{4, 4, 1}, [3]bool{true, true, true}},
		{[3]int{5, 4, 0}, [3]bool{false, true, true}},
	} {
		var total int64
		for i := range srvs {
			srvs[i].Served = c.served[i]
			total += int64(c.served[i])
		}
		for i := range srvs {
			if got := a.eligible(srvs, i, total); got != c.want[i] {
				t.Errorf("served %v: server %d eligible %v; want %v", c.served, i, got, c.want[i])
			}
		}
	}
	// A key lands on its server while it is within its bound, then on the
	// next point's server that is.
	for i := range srvs {
		srvs[i].Served = 0
	}
	key := Key(12345, true)
	home := a.Pick(srvs, key)
	srvs[home].Served = 1
	next := a.Pick(srvs, key)
	if next == home {
		t.Fatalf("a full server (%d) was chosen again", home)
	}
	plain := mustNew(t, "uri", Options{HashType: HashType{Consistent: true}}).(*chash)
	if got := plain.Pick(srvs, key); got != home {
		t.Errorf("without the factor the key went to %d; want its server %d", got, home)
	}
}
