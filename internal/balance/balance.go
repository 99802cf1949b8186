// Package balance owns the server selection algorithms of a backend: pure
// functions over a snapshot of servers, with no I/O and injected randomness.
//
// The algorithms follow HAProxy 2.6's "balance" keyword (configuration.txt
// §4.2 "balance"): roundrobin, static-rr, leastconn, first, source, uri,
// url_param, hdr(<name>) and random(<draws>).
//
// The hash-based ones (source, uri, url_param, hdr) send a key to the same
// server as HAProxy 2.6 does with the same servers, ids and weights: the
// key functions (HashSource, HashURI, HashParam, HashHeader) derive the
// 32-bit hash from the request as backend.c does, Key turns it into Pick's
// key, and Pick places it with "hash-type map-based" (the default) or
// "consistent" (Options.HashType). A request without a key (Key(_, false),
// or 0) is served in round robin over the same map or ring, as HAProxy
// does when the parameter or header is missing.
//
// Candidates are chosen as HAProxy does: only usable, non-backup servers
// with a weight above zero take traffic. When there is none, the backup
// servers take over: the first usable backup in configuration order, or all
// usable backups when Options.AllBackups is set (option allbackups). With
// map-based hashing HAProxy sizes the table by the first backup's weight
// but fills it from every usable backup, so keys may land on another
// backup; lb does the same.
//
// Servers that are full (Maxconn > 0 and Conns >= Maxconn) are skipped by
// every algorithm except a hash-based one given a key, which keeps its
// affinity and returns the hashed server even when it is full: the caller
// then queues the connection on that server, as HAProxy does. When Pick
// returns -1 while Usable reports true, every candidate is full and the
// caller queues the connection in the backend queue; when Usable reports
// false the backend has no server available.
//
// An Algorithm keeps per-backend state (round-robin positions) and is not
// safe for concurrent use: the caller holds its backend lock around Pick.
// The srvs slice passed to Pick must list the same backend's servers in the
// same (configuration) order on every call; state is reset when its length
// changes.
package balance

import (
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
)

// Server is the view of one server that the algorithms need.
type Server struct {
	// ID is the server's numeric identifier (HAProxy's puid: "id", or the
	// automatic one of ServerIDs). The first algorithm orders by it and
	// consistent hashing places the server's points with it, so it must be
	// stable across calls and equal HAProxy's for the same placement.
	ID int
	// Weight is the current effective weight, in configuration units
	// (1..256); 0 means the server takes no new traffic (drain, or weight
	// set to 0).
	Weight int
	// EWeight is HAProxy's eweight, the weight the dynamic algorithms
	// (Dynamic) follow, in sixteenths of a weight unit (BE_WEIGHT_SCALE):
	// below Weight×16 while the server warms up after a "slowstart". 0
	// means Weight×16.
	EWeight int
	// ConfWeight is the weight from the configuration. Map-based hashing
	// divides the weights by the greatest common divisor of every server's
	// configured weight, down ones included, as HAProxy's init_server_map
	// does once at start-up. 0 means Weight, which gives the same result as
	// long as the servers whose Weight is 0 do not change that divisor.
	ConfWeight int
	// Backup marks a backup server, used only when no active one is usable.
	Backup bool
	// Usable reports that the server is UP (or going down) and not in
	// maintenance; false servers are never picked.
	Usable bool
	// Conns is the number of connections the server currently serves, plus
	// those waiting in its queue (HAProxy served + nbpend).
	Conns int
	// Served is the number of connections the server serves, queued ones
	// left out (HAProxy's served): bounded-load consistent hashing
	// (Options.HashBalanceFactor) counts these.
	Served int
	// Maxconn is the server's maxconn; 0 means unlimited.
	Maxconn int
}

// ew is s's eweight (EWeight, or Weight×16), 0 when Weight is 0.
func (s *Server) ew() int64 {
	if s.Weight == 0 {
		return 0
	}
	if s.EWeight > 0 {
		return int64(s.EWeight)
	}
	return int64(s.Weight) * beWeightScale
}

// full reports whether s has reached its maxconn.
func (s *Server) full() bool { return s.Maxconn > 0 && s.Conns >= s.Maxconn }

// Algorithm picks a server for a new connection.
type Algorithm interface {
	// Pick returns the index in srvs of the chosen server, or -1 when no
	// candidate can take the connection. key is only used by the
	// hash-based algorithms: Key of the request's hash (HashAddr for
	// source), 0 when the request has none. Pick does not allocate once
	// the algorithm has seen the backend's servers (a hash-based one
	// rebuilds its map or ring when a server's state, weight or id
	// changes). The caller must hold the lock protecting both srvs and
	// the Algorithm.
	Pick(srvs []Server, key uint64) int
}

// Rand is a source of uniformly distributed random numbers.
type Rand interface{ Uint64() uint64 }

// Options tunes the algorithms.
type Options struct {
	// AllBackups makes every usable backup server a candidate when no active
	// server is usable (HAProxy "option allbackups"). False means only the
	// first usable backup in configuration order is used.
	AllBackups bool
	// Draws is the number of servers random draws before keeping the least
	// loaded one (HAProxy "random(<draws>)"). Zero means 2; a draws count
	// given in the name passed to New ("random(3)") wins over it.
	Draws int
	// Rand is the random source of random. Nil means math/rand/v2's
	// goroutine-safe global source.
	Rand Rand
	// HashType is the backend's "hash-type" (see ParseHashType) for
	// source, uri, url_param and hdr. The zero value is HAProxy 2.6's
	// default, map-based with sdbm.
	HashType HashType
	// HashBalanceFactor is "hash-balance-factor" (0: none, else above
	// 100): consistent hashing with bounded loads. A server may serve at
	// most factor% of the average load, in proportion to its weight; a
	// key whose server is above that goes to the next point of the ring
	// whose server is not (HAProxy's chash_server_is_eligible).
	HashBalanceFactor int
}

var errUnknown = errors.New("unknown algorithm")

// IsFallback reports whether name is an algorithm that New serves with
// roundrobin because lb does not implement it: rdp-cookie and hash <expr>
// (HAProxy also uses round robin when the cookie or the expression yields
// nothing). The caller may warn about them.
func IsFallback(name string) bool {
	switch baseName(name) {
	case "rdp-cookie", "hash":
		return true
	}
	return false
}

// baseName is the algorithm word of name: "hdr(host)" is "hdr".
func baseName(name string) string {
	base, _, _ := strings.Cut(name, "(")
	base, _, _ = strings.Cut(base, " ")
	return base
}

// IsHash reports whether name is a hash-based algorithm, whose Pick wants
// the request's key: source, uri, url_param and hdr(<name>).
func IsHash(name string) bool {
	switch baseName(name) {
	case "source", "uri", "url_param", "hdr":
		return true
	}
	return false
}

// Names lists the algorithm names New accepts, in HAProxy's manual order.
func Names() []string {
	return []string{"roundrobin", "static-rr", "leastconn", "first", "source", "uri", "url_param", "hdr", "random"}
}

// New returns the algorithm called name, as written after "balance" in an
// HAProxy configuration. An empty name means roundrobin, HAProxy's default
// when a backend has no balance line. "random(N)" sets the number of draws.
// source, uri, url_param and hdr ("hdr(name)" too: the header and the uri
// options only matter to the key functions) get the placement of
// opt.HashType. The algorithms lb does not implement (see IsFallback) get
// roundrobin.
func New(name string, opt Options) (Algorithm, error) {
	if opt.Rand == nil {
		opt.Rand = globalRand{}
	}
	if opt.Draws <= 0 {
		opt.Draws = 2
	}
	switch {
	case name == "" || name == "roundrobin":
		return &roundRobin{opt: opt}, nil
	case name == "static-rr":
		return &staticRR{roundRobin: roundRobin{opt: opt}}, nil
	case name == "leastconn":
		return &leastConn{opt: opt, last: -1}, nil
	case name == "first":
		return &first{opt: opt}, nil
	case IsHash(name):
		p := placement{opt: opt, l7: baseName(name) != "source"}
		if opt.HashType.Consistent {
			return &chash{placement: p, fbck: -1, last: -1}, nil
		}
		return &mapHash{placement: p, oneZero: baseName(name) != "url_param"}, nil
	case name == "random" || strings.HasPrefix(name, "random("):
		if arg, ok := strings.CutPrefix(name, "random("); ok {
			num, ok := strings.CutSuffix(arg, ")")
			n, err := strconv.Atoi(num)
			if !ok || err != nil || n < 1 {
				return nil, fmt.Errorf("balance: invalid draws in %q: %w", name, errUnknown)
			}
			opt.Draws = n
		}
		return &random{opt: opt}, nil
	case IsFallback(name):
		return &roundRobin{opt: opt}, nil
	}
	return nil, fmt.Errorf("balance: %q: %w", name, errUnknown)
}

// Dynamic reports whether algorithm name follows a server's eweight as it
// changes (HAProxy's BE_LB_PROP_DYN): a server's slow start ramps its
// weight up with these, not with static-rr nor map-based hashing, where
// only its maxconn ramps up.
func Dynamic(name string, opt Options) bool {
	switch {
	case name == "static-rr":
		return false
	case IsHash(name):
		return opt.HashType.Consistent
	}
	return true
}

// globalRand uses math/rand/v2's global source, which is safe for
// concurrent use and does not allocate.
type globalRand struct{}

func (globalRand) Uint64() uint64 { return rand.Uint64() }

// Usable reports whether srvs holds at least one candidate, full or not:
// when Pick returns -1 and Usable is true, all candidates are full and the
// connection waits in the backend queue.
func Usable(srvs []Server) bool {
	for i := range srvs {
		if srvs[i].Usable && srvs[i].Weight > 0 {
			return true
		}
	}
	return false
}

// HashAddr is the Pick key of "balance source" for a client address:
// Key(HashSource(a)), marked as a source key so that uri, url_param and
// hdr take it as no key (round robin) when a caller passes it whatever the
// algorithm. It does not depend on the hash-type (HAProxy applies no hash
// function to addresses; Pick applies avalanche).
func HashAddr(a netip.Addr) uint64 {
	k := Key(HashSource(a))
	if k != 0 {
		k |= srcKeyBit
	}
	return k
}

// ServerIDs returns the ids HAProxy gives a backend's servers (puid), in
// configuration order, from their explicit "id" values (0 = none): as
// cfgparse.c check_config_validity does, a server without one takes the
// first id not used by any explicit one, counting from one more than the
// previous server's rank. With no explicit id it is the 1-based rank.
func ServerIDs(explicit []int) []int {
	used := make(map[int]bool, len(explicit))
	for _, id := range explicit {
		if id > 0 {
			used[id] = true
		}
	}
	ids := make([]int, len(explicit))
	next := 1
	for i, id := range explicit {
		if id <= 0 {
			for used[next] {
				next++
			}
			id = next
			used[id] = true
		}
		ids[i] = id
		next++
	}
	return ids
}

// mix64 is splitmix64's finalizer: a cheap, well-distributed bijection.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// bounded maps a random 64-bit value into [0, n) (Lemire's multiply-shift).
func bounded(x uint64, n int) int {
	hi, _ := bits.Mul64(x, uint64(n))
	return int(hi)
}

// tier describes which servers are candidates for one Pick.
type tier struct {
	backup bool // candidates are backups
	only   int  // when >= 0, the single candidate (first usable backup)
}

// selectTier finds the candidate set: usable active servers with weight,
// else all usable backups (allBackups) or the first one, else none (ok false).
func selectTier(srvs []Server, allBackups bool) (t tier, ok bool) {
	firstBackup := -1
	for i := range srvs {
		s := &srvs[i]
		if !s.Usable || s.Weight <= 0 {
			continue
		}
		if !s.Backup {
			return tier{only: -1}, true
		}
		if firstBackup < 0 {
			firstBackup = i
		}
	}
	if firstBackup < 0 {
		return tier{}, false
	}
	if allBackups {
		return tier{backup: true, only: -1}, true
	}
	return tier{backup: true, only: firstBackup}, true
}

// has reports whether srvs[i] is in the candidate set t.
func (t tier) has(srvs []Server, i int) bool {
	if t.only >= 0 {
		return i == t.only
	}
	s := &srvs[i]
	return s.Usable && s.Weight > 0 && s.Backup == t.backup
}
