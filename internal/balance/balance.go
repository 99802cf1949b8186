// Package balance owns the server selection algorithms of a backend: pure
// functions over a snapshot of servers, with no I/O and injected randomness.
//
// The algorithms follow HAProxy 2.6's "balance" keyword (configuration.txt
// §4.2 "balance"): roundrobin, static-rr, leastconn, first, source and
// random(<draws>).
//
// Candidates are chosen as HAProxy does: only usable, non-backup servers
// with a weight above zero take traffic. When there is none, the backup
// servers take over: the first usable backup in configuration order, or all
// usable backups when Options.AllBackups is set (option allbackups).
//
// Servers that are full (Maxconn > 0 and Conns >= Maxconn) are skipped by
// every algorithm except source, which keeps its affinity and returns the
// hashed server even when it is full: the caller then queues the connection
// on that server, as HAProxy does for hash-based algorithms. When Pick
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
	// ID is the server's numeric identifier (HAProxy "id", by default its
	// 1-based position in the backend). The first algorithm orders by it and
	// source hashes it, so it must be stable across calls.
	ID int
	// Weight is the current effective weight; 0 means the server takes no
	// new traffic (drain, or weight set to 0).
	Weight int
	// Backup marks a backup server, used only when no active one is usable.
	Backup bool
	// Usable reports that the server is UP (or going down) and not in
	// maintenance; false servers are never picked.
	Usable bool
	// Conns is the number of connections the server currently serves, plus
	// those waiting in its queue (HAProxy served + nbpend).
	Conns int
	// Maxconn is the server's maxconn; 0 means unlimited.
	Maxconn int
}

// full reports whether s has reached its maxconn.
func (s *Server) full() bool { return s.Maxconn > 0 && s.Conns >= s.Maxconn }

// Algorithm picks a server for a new connection.
type Algorithm interface {
	// Pick returns the index in srvs of the chosen server, or -1 when no
	// candidate can take the connection. key is only used by source: a hash
	// of the client address (see HashAddr). Pick does not allocate once the
	// algorithm has seen the backend's size. The caller must hold the lock
	// protecting both srvs and the Algorithm.
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
}

var errUnknown = errors.New("unknown algorithm")

// IsFallback reports whether name is an algorithm that New serves with
// roundrobin because it needs to inspect the traffic: uri, url_param and
// hdr(<name>), which HAProxy itself replaces with round robin in tcp mode
// ("Layer 7 hash not possible … Falling back to round robin."), and
// rdp-cookie and hash <expr>, which lb does not implement (HAProxy also
// uses round robin when the cookie or the expression yields nothing). The
// caller may warn about the latter two.
func IsFallback(name string) bool {
	base, _, _ := strings.Cut(name, "(")
	base, _, _ = strings.Cut(base, " ")
	switch base {
	case "uri", "url_param", "hdr", "rdp-cookie", "hash":
		return true
	}
	return false
}

// Names lists the algorithm names New accepts, in HAProxy's manual order.
func Names() []string {
	return []string{"roundrobin", "static-rr", "leastconn", "first", "source", "random"}
}

// New returns the algorithm called name, as written after "balance" in an
// HAProxy configuration. An empty name means roundrobin, HAProxy's default
// when a backend has no balance line. "random(N)" sets the number of draws.
// The algorithms that need to inspect the traffic (see IsFallback) get
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
	case name == "source":
		return &source{opt: opt}, nil
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

// HashAddr hashes a client address for source. IPv4-mapped IPv6 addresses
// hash as their IPv4 form, so dual-stack listeners keep affinity.
func HashAddr(a netip.Addr) uint64 {
	a = a.Unmap()
	b := a.As16()
	h := uint64(14695981039346656037) // FNV-1a offset basis
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return mix64(h)
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
