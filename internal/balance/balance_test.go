package balance

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

// mk builds usable active servers with the given weights, IDs from 1.
func mk(weights ...int) []Server {
	srvs := make([]Server, len(weights))
	for i, w := range weights {
		srvs[i] = Server{ID: i + 1, Weight: w, Usable: true}
	}
	return srvs
}

func seeded() Rand { return rand.New(rand.NewPCG(1, 2)) }

func mustNew(t testing.TB, name string, opt Options) Algorithm {
	t.Helper()
	a, err := New(name, opt)
	if err != nil {
		t.Fatalf("New(%q) = %v", name, err)
	}
	return a
}

// seq picks n times without changing connection counts and renders the
// picks as letters (a = index 0, - = none).
func seq(a Algorithm, srvs []Server, n int) string {
	var b strings.Builder
	for range n {
		i := a.Pick(srvs, 0)
		if i < 0 {
			b.WriteByte('-')
		} else {
			b.WriteByte(byte('a' + i))
		}
	}
	return b.String()
}

func TestOrders(t *testing.T) {
	backups := func(mod func([]Server)) []Server {
		s := mk(1, 1, 1, 1)
		s[2].Backup, s[3].Backup = true, true
		mod(s)
		return s
	}
	tests := []struct {
		name string
		algo string
		opt  Options
		srvs []Server
		want string
	}{
		{"rr smooth 5,1,1", "roundrobin", Options{}, mk(5, 1, 1), "aabacaa" + "aabacaa"},
		{"rr default name", "", Options{}, mk(1, 1, 1, 1), "abcdabcd"},
		{"rr 2,1", "roundrobin", Options{}, mk(2, 1), "abaaba"},
		{"rr skips weight 0 and unusable", "roundrobin", Options{},
			func() []Server { s := mk(1, 0, 1, 1); s[2].Usable = false; return s }(), "adadad"},
		{"rr skips full", "roundrobin", Options{},
			func() []Server { s := mk(1, 1, 1); s[1].Maxconn, s[1].Conns = 2, 2; return s }(), "acacac"},
		{"rr all full", "roundrobin", Options{},
			func() []Server { s := mk(1); s[0].Maxconn, s[0].Conns = 1, 1; return s }(), "--"},
		{"rr nothing usable", "roundrobin", Options{},
			func() []Server { s := mk(1, 1); s[0].Usable, s[1].Usable = false, false; return s }(), "---"},
		{"backups unused while active up", "roundrobin", Options{}, backups(func([]Server) {}), "ababab"},
		{"first backup when actives down", "roundrobin", Options{},
			backups(func(s []Server) { s[0].Usable, s[1].Usable = false, false }), "cccc"},
		{"second backup when first backup down", "roundrobin", Options{},
			backups(func(s []Server) { s[0].Usable, s[1].Usable, s[2].Usable = false, false, false }), "dddd"},
		{"allbackups", "roundrobin", Options{AllBackups: true},
			backups(func(s []Server) { s[0].Usable, s[1].Weight = false, 0 }), "cdcdcd"},
		{"static-rr 5,1,1", "static-rr", Options{}, mk(5, 1, 1), "aabacaa" + "aabacaa"},
		{"static-rr backup", "static-rr", Options{},
			backups(func(s []Server) { s[0].Usable, s[1].Usable = false, false }), "ccc"},
		{"leastconn ties in turn", "leastconn", Options{}, mk(1, 1, 1), "abcabc"},
		{"leastconn fewest", "leastconn", Options{},
			func() []Server { s := mk(1, 1, 1); s[0].Conns, s[1].Conns, s[2].Conns = 3, 1, 2; return s }(), "bbb"},
		{"leastconn relative to weight", "leastconn", Options{},
			// keys: (4+1)/1=5, (9+1)/4=2.5, (5+1)/2=3
			func() []Server { s := mk(1, 4, 2); s[0].Conns, s[1].Conns, s[2].Conns = 4, 9, 5; return s }(), "bbb"},
		{"leastconn idle server first", "leastconn", Options{},
			func() []Server { s := mk(1, 100); s[1].Conns = 1; return s }(), "aaa"},
		{"leastconn skips full", "leastconn", Options{},
			func() []Server { s := mk(1, 1); s[0].Maxconn, s[0].Conns = 1, 1; s[1].Conns = 50; return s }(), "bb"},
		{"first by id", "first", Options{},
			func() []Server { s := mk(1, 1, 1); s[0].ID, s[1].ID, s[2].ID = 3, 1, 2; return s }(), "bbb"},
		{"first skips full", "first", Options{},
			func() []Server {
				s := mk(1, 1, 1)
				s[0].Maxconn, s[0].Conns = 2, 2
				s[1].Maxconn, s[1].Conns = 2, 1
				return s
			}(), "bbb"},
		{"first all full", "first", Options{},
			func() []Server { s := mk(1); s[0].Maxconn, s[0].Conns = 2, 2; return s }(), "-"},
		{"source backup", "source", Options{},
			backups(func(s []Server) { s[0].Usable, s[1].Usable = false, false }), "ccc"},
		// recalc_server_map lays weights 2,1 out as a a b (verified against
		// HAProxy by TestMatchesHAProxy's fallback cases).
		{"source no key is round robin on the map", "source", Options{}, mk(2, 1), "aabaab"},
		{"uri no key is round robin on the map", "uri", Options{}, mk(5, 1, 1), "aaabaac" + "aaabaac"},
		{"consistent no key walks the ring", "hdr", Options{HashType: HashType{Consistent: true}},
			func() []Server { s := mk(1, 1); s[1].Usable = false; return s }(), "aaaa"},
		{"consistent first backup alone", "url_param", Options{HashType: HashType{Consistent: true}},
			backups(func(s []Server) { s[0].Usable, s[1].Usable = false, false }), "ccc"},
		{"random single", "random", Options{Rand: seeded()}, mk(0, 3, 0), "bbbb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := mustNew(t, tc.algo, tc.opt)
			if got := seq(a, tc.srvs, len(tc.want)); got != tc.want {
				t.Errorf("%s picks = %q; want %q", tc.algo, got, tc.want)
			}
		})
	}
}

// TestLeastconnFollowsLoad simulates connections that stay open: leastconn
// must fill servers in proportion to their weights.
func TestLeastconnFollowsLoad(t *testing.T) {
	srvs := mk(1, 2, 1)
	a := mustNew(t, "leastconn", Options{})
	for range 400 {
		srvs[a.Pick(srvs, 0)].Conns++
	}
	for i, want := range []int{100, 200, 100} {
		if d := srvs[i].Conns - want; d < -1 || d > 1 {
			t.Errorf("server %d has %d conns; want %d±1", i, srvs[i].Conns, want)
		}
	}
}

func TestDynamicWeight(t *testing.T) {
	srvs := mk(1, 1)
	a := mustNew(t, "roundrobin", Options{})
	if got, want := seq(a, srvs, 4), "abab"; got != want {
		t.Fatalf("before: picks = %q; want %q", got, want)
	}
	srvs[0].Weight = 3
	count := [2]int{}
	for range 400 {
		count[a.Pick(srvs, 0)]++
	}
	if count[0] < 299 || count[0] > 301 {
		t.Errorf("after weight 3,1: counts = %v; want about 300/100", count)
	}
	// Down to zero: the server drains at once.
	srvs[0].Weight = 0
	if got, want := seq(a, srvs, 3), "bbb"; got != want {
		t.Errorf("weight 0: picks = %q; want %q", got, want)
	}
	// Back, and a server that returns does not burst.
	srvs[0].Weight = 1
	if got, want := seq(a, srvs, 4), "abab"; got != want {
		t.Errorf("weight back to 1: picks = %q; want %q", got, want)
	}
}

func TestResize(t *testing.T) {
	a := mustNew(t, "roundrobin", Options{})
	if got, want := seq(a, mk(1, 1, 1), 4), "abca"; got != want {
		t.Fatalf("3 servers: picks = %q; want %q", got, want)
	}
	if got, want := seq(a, mk(1, 1), 4), "abab"; got != want {
		t.Errorf("2 servers: picks = %q; want %q", got, want)
	}
	if got, want := seq(a, mk(1, 1, 1, 1), 4), "abcd"; got != want {
		t.Errorf("4 servers: picks = %q; want %q", got, want)
	}
}

// chiSquare returns the chi-square statistic of counts against weights.
func chiSquare(counts []int, weights []int) float64 {
	var n, tw float64
	for i := range counts {
		n += float64(counts[i])
		tw += float64(weights[i])
	}
	var x2 float64
	for i := range counts {
		e := n * float64(weights[i]) / tw
		d := float64(counts[i]) - e
		x2 += d * d / e
	}
	return x2
}

// chiCrit999 holds the chi-square critical values at p = 0.001 by degrees
// of freedom: a correct algorithm fails once in a thousand seeds, and the
// seeds are fixed.
var chiCrit999 = map[int]float64{1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52}

func TestDistribution(t *testing.T) {
	const n = 100_000
	tests := []struct {
		name    string
		algo    string
		weights []int
		key     func(i int) uint64
	}{
		{"roundrobin", "roundrobin", []int{5, 3, 1, 1}, nil},
		{"static-rr", "static-rr", []int{10, 20, 30}, nil},
		{"random", "random", []int{5, 3, 1, 1}, nil},
		{"random(1)", "random(1)", []int{1, 2, 3, 4, 5}, nil},
		{"source", "source", []int{5, 3, 1, 1}, func(i int) uint64 {
			return HashAddr(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		}},
		{"source equal", "source", []int{1, 1, 1, 1, 1, 1}, func(i int) uint64 { return mix64(uint64(i)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srvs := mk(tc.weights...)
			a := mustNew(t, tc.algo, Options{Rand: seeded()})
			counts := make([]int, len(srvs))
			for i := range n {
				var key uint64
				if tc.key != nil {
					key = tc.key(i)
				}
				counts[a.Pick(srvs, key)]++
			}
			x2 := chiSquare(counts, tc.weights)
			if crit := chiCrit999[len(srvs)-1]; x2 > crit {
				t.Errorf("%s over %d picks: counts %v for weights %v, chi2 = %.1f > %.2f",
					tc.algo, n, counts, tc.weights, x2, crit)
			}
		})
	}
}

func TestRoundRobinExact(t *testing.T) {
	weights := []int{7, 3, 2, 1}
	srvs := mk(weights...)
	a := mustNew(t, "roundrobin", Options{})
	counts := make([]int, len(srvs))
	for range 13 * 1000 {
		counts[a.Pick(srvs, 0)]++
	}
	for i, w := range weights {
		if counts[i] != w*1000 {
			t.Errorf("counts = %v; want exactly weight×1000", counts)
			break
		}
	}
}

// TestRandomPrefersIdle: with two draws and equal weights, the busy server
// wins only when both draws land on it (1/4).
func TestRandomPrefersIdle(t *testing.T) {
	srvs := mk(1, 1)
	srvs[0].Conns = 100
	a := mustNew(t, "random", Options{Rand: seeded()})
	const n = 100_000
	busy := 0
	for range n {
		if a.Pick(srvs, 0) == 0 {
			busy++
		}
	}
	if x2 := chiSquare([]int{busy, n - busy}, []int{1, 3}); x2 > chiCrit999[1] {
		t.Errorf("busy server got %d of %d picks; want about %d", busy, n, n/4)
	}
}

// TestSourceStable: with hash-type consistent, a server that dies moves
// only its own clients (its points leave the ring, lb_chash.c).
func TestSourceStable(t *testing.T) {
	srvs := mk(1, 1, 1, 1, 1)
	a := mustNew(t, "source", Options{HashType: HashType{Consistent: true, Avalanche: true}})
	const n = 20_000
	before := make([]int, n)
	for i := range before {
		before[i] = a.Pick(srvs, Key(uint32(mix64(uint64(i))), true))
		if again := a.Pick(srvs, Key(uint32(mix64(uint64(i))), true)); again != before[i] {
			t.Fatalf("key %d: picks %d then %d", i, before[i], again)
		}
	}
	srvs[2].Usable = false // server c dies
	moved := 0
	for i := range before {
		got := a.Pick(srvs, Key(uint32(mix64(uint64(i))), true))
		if got == 2 {
			t.Fatalf("key %d picked the dead server", i)
		}
		if before[i] != 2 && got != before[i] {
			moved++
		}
	}
	if moved != 0 {
		t.Errorf("%d clients of live servers moved when another server died; want 0", moved)
	}
}

// TestSourceHashAddr: the source key is HAProxy's (get_server_sh): the
// IPv4 address itself, IPv6 words XORed, a mapped address as IPv6.
func TestSourceHashAddr(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want uint64
	}{
		{"192.0.2.1", 3<<32 | 0xc0000201},
		{"0.0.0.0", 3 << 32}, // hash 0 is still a key
		{"::ffff:192.0.2.1", 3<<32 | 0xc0000201 ^ 0xffff},
		{"2001:db8::1", 3<<32 | 0x20010db8 ^ 1},
		{"", 0},
	} {
		var a netip.Addr
		if tc.addr != "" {
			a = netip.MustParseAddr(tc.addr)
		}
		if got := HashAddr(a); got != tc.want {
			t.Errorf("HashAddr(%q) = %#x; want %#x", tc.addr, got, tc.want)
		}
	}
}

func TestSourceKeepsFullServer(t *testing.T) {
	srvs := mk(1, 1)
	a := mustNew(t, "source", Options{})
	i := a.Pick(srvs, 42)
	srvs[i].Maxconn, srvs[i].Conns = 1, 1
	if got := a.Pick(srvs, 42); got != i {
		t.Errorf("Pick with full hashed server = %d; want %d (affinity)", got, i)
	}
}

func TestUsable(t *testing.T) {
	full := mk(1)
	full[0].Maxconn, full[0].Conns = 1, 1
	down := mk(1)
	down[0].Usable = false
	for _, tc := range []struct {
		name string
		srvs []Server
		want bool
	}{
		{"none", nil, false},
		{"full", full, true},
		{"down", down, false},
		{"weight 0", mk(0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Usable(tc.srvs); got != tc.want {
				t.Errorf("Usable = %v; want %v", got, tc.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name    string
		wantErr error
	}{
		{"roundrobin", nil}, {"static-rr", nil}, {"leastconn", nil}, {"first", nil},
		{"source", nil}, {"random", nil}, {"random(3)", nil}, {"", nil},
		{"random(0)", errUnknown}, {"random(x", errUnknown}, {"bogus", errUnknown},
		{"uri", nil}, {"url_param", nil}, {"hdr(host)", nil}, {"hdr", nil}, {"rdp-cookie", nil}, {"hash req.payload(0,10)", nil},
		{"urix", errUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.name, Options{})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("New(%q) = %v; want %v", tc.name, err, tc.wantErr)
			}
		})
	}
	for _, n := range Names() {
		if _, err := New(n, Options{}); err != nil {
			t.Errorf("New(%q) from Names = %v", n, err)
		}
	}
}

func TestFallback(t *testing.T) {
	for _, name := range []string{"rdp-cookie(mstshash)", "rdp-cookie", "hash req.payload(0,10)"} {
		t.Run(name, func(t *testing.T) {
			if !IsFallback(name) {
				t.Errorf("IsFallback(%q) = false; want true", name)
			}
			a := mustNew(t, name, Options{})
			if got, want := seq(a, mk(2, 1), 6), "abaaba"; got != want {
				t.Errorf("New(%q) picks %q; want roundrobin %q", name, got, want)
			}
		})
	}
	for _, name := range Names() {
		if IsFallback(name) {
			t.Errorf("IsFallback(%q) = true; want false", name)
		}
	}
	for _, name := range []string{"source", "uri", "url_param", "hdr(host)", "hdr"} {
		if !IsHash(name) {
			t.Errorf("IsHash(%q) = false; want true", name)
		}
	}
	if IsHash("roundrobin") || IsHash("random") {
		t.Errorf("IsHash is true for a non-hash algorithm")
	}
}

func TestRandomDraws(t *testing.T) {
	// With 3 draws the busiest of two equal servers wins only 1/8 of the time.
	srvs := mk(1, 1)
	srvs[0].Conns = 5
	a := mustNew(t, "random(3)", Options{Rand: seeded()})
	const n = 80_000
	busy := 0
	for range n {
		if a.Pick(srvs, 0) == 0 {
			busy++
		}
	}
	if x2 := chiSquare([]int{busy, n - busy}, []int{1, 7}); x2 > chiCrit999[1] {
		t.Errorf("busy server got %d of %d picks; want about %d", busy, n, n/8)
	}
}

func TestNoAllocs(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			srvs := mk(3, 2, 1, 1, 4, 1, 2, 1)
			srvs[7].Backup = true
			a := mustNew(t, name, Options{})
			a.Pick(srvs, 1) // warm up: the state is sized on the first pick
			var key uint64
			allocs := testing.AllocsPerRun(1000, func() {
				key++
				srvs[a.Pick(srvs, key)].Conns++
			})
			if allocs != 0 {
				t.Errorf("%s: Pick allocates %.1f times per run; want 0", name, allocs)
			}
		})
	}
}

func BenchmarkPick(b *testing.B) {
	for _, n := range []int{4, 32} {
		for _, name := range Names() {
			b.Run(fmt.Sprintf("%s/n=%d", name, n), func(b *testing.B) {
				weights := make([]int, n)
				for i := range weights {
					weights[i] = 1 + i%4
				}
				srvs := mk(weights...)
				a := mustNew(b, name, Options{})
				b.ReportAllocs()
				var key uint64
				for b.Loop() {
					key++
					i := a.Pick(srvs, key)
					srvs[i].Conns ^= 1 // keep leastconn and random moving
				}
			})
		}
	}
}
