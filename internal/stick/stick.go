// Package stick owns the stick tables of a generation: keyed entries of
// counters and HAProxy's frequency counters (sliding windows), bounded in
// size with the least recently touched unused entries evicted first, and
// expiring after a period without use, as HAProxy 2.6's stick-table
// sections (configuration.txt §4.2 "stick-table", src/stick_table.c).
//
// The hot path takes one shard lock to find or create an entry and one
// entry lock per update; a proxy without a table never reaches this
// package.
package stick

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// KeyType is the type of a table's keys ("type" of the stick-table line).
type KeyType uint8

const (
	KeyIP KeyType = iota
	KeyIPv6
	KeyInteger
	KeyString
	KeyBinary
)

var keyTypeNames = [...]string{KeyIP: "ip", KeyIPv6: "ipv6", KeyInteger: "integer", KeyString: "string", KeyBinary: "binary"}

func (k KeyType) String() string { return keyTypeNames[k] }

// ParseKeyType returns the key type called name ("ip", "ipv4" … as the
// stick-table line spells it).
func ParseKeyType(name string) (KeyType, bool) {
	switch name {
	case "ip", "ipv4":
		return KeyIP, true
	case "ipv6":
		return KeyIPv6, true
	case "integer":
		return KeyInteger, true
	case "string":
		return KeyString, true
	case "binary":
		return KeyBinary, true
	}
	return 0, false
}

// Data is a stored data type, in HAProxy 2.6's order (enum
// stktable_data_type), which is the order "show table" prints them in.
type Data uint8

const (
	ServerID Data = iota
	GPT0
	GPC0
	GPC0Rate
	ConnCnt
	ConnRate
	ConnCur
	SessCnt
	SessRate
	HTTPReqCnt
	HTTPReqRate
	HTTPErrCnt
	HTTPErrRate
	BytesInCnt
	BytesInRate
	BytesOutCnt
	BytesOutRate
	// ServerKey is the name of the server of server_id (HAProxy's
	// dictionary entry): a string, read with ServerKey.
	ServerKey
	NumData
)

var dataNames = [...]string{ServerID: "server_id", GPT0: "gpt0", GPC0: "gpc0", GPC0Rate: "gpc0_rate",
	ConnCnt: "conn_cnt", ConnRate: "conn_rate", ConnCur: "conn_cur", SessCnt: "sess_cnt", SessRate: "sess_rate",
	HTTPReqCnt: "http_req_cnt", HTTPReqRate: "http_req_rate", HTTPErrCnt: "http_err_cnt", HTTPErrRate: "http_err_rate",
	BytesInCnt: "bytes_in_cnt", BytesInRate: "bytes_in_rate", BytesOutCnt: "bytes_out_cnt", BytesOutRate: "bytes_out_rate",
	ServerKey: "server_key"}

func (d Data) String() string { return dataNames[d] }

// IsRate reports whether d is a frequency counter, which takes a period.
func (d Data) IsRate() bool {
	switch d {
	case GPC0Rate, ConnRate, SessRate, HTTPReqRate, HTTPErrRate, BytesInRate, BytesOutRate:
		return true
	}
	return false
}

// ParseData returns the data type called name.
func ParseData(name string) (Data, bool) {
	for i, n := range dataNames {
		if n == name {
			return Data(i), true
		}
	}
	return 0, false
}

// Config describes a table, as its stick-table line says.
type Config struct {
	// Name is the table's name: its proxy's.
	Name string
	Type KeyType
	// KeyLen is the key length of string and binary keys (HAProxy's
	// default: 32).
	KeyLen int
	// Size is the maximum number of entries.
	Size int
	// Expire is how long an unused entry lives after its last update;
	// zero means forever.
	Expire time.Duration
	// NoPurge: when full, new keys are refused instead of evicting.
	NoPurge bool
	// Store are the stored data types, with Periods[d] the period of
	// each rate.
	Store   [NumData]bool
	Periods [NumData]time.Duration
}

const nShards = 16

// Table is one stick table. It is safe for concurrent use.
type Table struct {
	cfg    Config
	period [NumData]int64 // ms
	expire int64          // ms, 0: never
	shards [nShards]shard
	// used counts the entries, reserved before an entry is inserted.
	used atomic.Int64
	// now returns the time in ms (tests replace it).
	now func() int64
}

// shard is a part of the table's keys.
type shard struct {
	// mu guards m, the LRU list (lru.prev is the least recently
	// touched) and each entry's list links and removed flag.
	mu  sync.Mutex
	m   map[string]*Entry
	lru Entry
}

// Entry is one key's data. Its counters are guarded by mu; refs counts
// the trackers holding it (HAProxy's ref_cnt, "use=" of show table): an
// entry in use is never evicted nor purged.
type Entry struct {
	key  string
	refs atomic.Int32
	// exp is when the entry expires (ms, nowMS's clock), 0 never.
	exp atomic.Int64

	mu sync.Mutex
	v  [NumData]uint64
	f  [NumData]freqCtr
	// srvKey is server_key, "" when unset.
	srvKey string

	prev, next *Entry
	removed    bool
	sh         *shard
}

var epoch = time.Now()

// nowMS is a monotonic millisecond clock. It starts far from zero so that
// a frequency counter's first period always starts at its first event, as
// it does in HAProxy whose clock never starts at zero.
func nowMS() int64 { return time.Since(epoch).Milliseconds() + 1<<32 }

// New returns an empty table.
func New(cfg Config) *Table {
	t := &Table{cfg: cfg, expire: cfg.Expire.Milliseconds(), now: nowMS}
	for d := range cfg.Periods {
		t.period[d] = max(cfg.Periods[d].Milliseconds(), 1)
	}
	for i := range t.shards {
		s := &t.shards[i]
		s.m = map[string]*Entry{}
		s.lru.prev, s.lru.next = &s.lru, &s.lru
	}
	return t
}

// Name returns the table's name.
func (t *Table) Name() string { return t.cfg.Name }

// Type returns its key type.
func (t *Table) Type() KeyType { return t.cfg.Type }

// Size returns its maximum number of entries.
func (t *Table) Size() int { return t.cfg.Size }

// Used returns its current number of entries.
func (t *Table) Used() int { return int(t.used.Load()) }

// Stores reports whether the table stores d.
func (t *Table) Stores(d Data) bool { return t.cfg.Store[d] }

// Period returns the period of rate d.
func (t *Table) Period(d Data) time.Duration { return t.cfg.Periods[d] }

// Key errors.
var errBadKey = fmt.Errorf("invalid key")

// KeyFromAddr returns the key of an address for an ip or ipv6 table: an
// IPv6 address that is not v4-mapped has no ip key.
func (t *Table) KeyFromAddr(a netip.Addr, buf []byte) ([]byte, bool) {
	switch t.cfg.Type {
	case KeyIP:
		a = a.Unmap()
		if !a.Is4() {
			return nil, false
		}
		b := a.As4()
		return append(buf[:0], b[:]...), true
	case KeyIPv6:
		b := a.As16()
		return append(buf[:0], b[:]...), true
	}
	return nil, false
}

// KeyFromInt returns the key of an integer table (32 bits, as HAProxy's).
func (t *Table) KeyFromInt(n int64, buf []byte) []byte {
	return binary.BigEndian.AppendUint32(buf[:0], uint32(n))
}

// KeyFromBytes returns the key of a string or binary table: truncated
// to the key length, and for binary keys padded with zeros to it.
func (t *Table) KeyFromBytes(b, buf []byte) []byte {
	if len(b) > t.cfg.KeyLen {
		b = b[:t.cfg.KeyLen]
	}
	buf = append(buf[:0], b...)
	if t.cfg.Type == KeyBinary {
		for len(buf) < t.cfg.KeyLen {
			buf = append(buf, 0)
		}
	}
	return buf
}

// ParseKey parses a key as the runtime API gives it ("key <k>").
func (t *Table) ParseKey(s string) ([]byte, error) {
	switch t.cfg.Type {
	case KeyIP, KeyIPv6:
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, errBadKey
		}
		if t.cfg.Type == KeyIP && !a.Unmap().Is4() {
			return nil, errBadKey
		}
		k, _ := t.KeyFromAddr(a, nil)
		return k, nil
	case KeyInteger:
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return nil, errBadKey
		}
		return t.KeyFromInt(int64(n), nil), nil
	case KeyBinary:
		if len(s)%2 != 0 {
			return nil, errBadKey
		}
		b := make([]byte, 0, len(s)/2)
		for i := 0; i < len(s); i += 2 {
			n, err := strconv.ParseUint(s[i:i+2], 16, 8)
			if err != nil {
				return nil, errBadKey
			}
			b = append(b, byte(n))
		}
		return t.KeyFromBytes(b, nil), nil
	}
	return t.KeyFromBytes([]byte(s), nil), nil
}

// FormatKey returns a key as "show table" prints it.
func (t *Table) FormatKey(k string) string {
	switch t.cfg.Type {
	case KeyIP, KeyIPv6:
		if a, ok := netip.AddrFromSlice([]byte(k)); ok {
			return a.String()
		}
	case KeyInteger:
		if len(k) == 4 {
			return strconv.FormatUint(uint64(binary.BigEndian.Uint32([]byte(k))), 10)
		}
	case KeyBinary:
		const hx = "0123456789ABCDEF"
		out := make([]byte, 0, 2*len(k))
		for i := 0; i < len(k); i++ {
			out = append(out, hx[k[i]>>4], hx[k[i]&15])
		}
		return string(out)
	}
	return k
}

func (t *Table) shardOf(key []byte) *shard {
	// FNV-1a: cheap, and enough to spread keys over the shards.
	h := uint32(2166136261)
	for _, c := range key {
		h = (h ^ uint32(c)) * 16777619
	}
	return &t.shards[h%nShards]
}

// expired reports whether e, unused, is past its expiry date.
func (t *Table) expired(e *Entry, now int64) bool {
	x := e.exp.Load()
	return x != 0 && now-x >= 0 && e.refs.Load() == 0
}

// Lookup returns the entry of key, nil when the table has none (or only
// an expired one). It takes no reference.
func (t *Table) Lookup(key []byte) *Entry {
	s := t.shardOf(key)
	s.mu.Lock()
	e := s.m[string(key)]
	if e != nil && t.expired(e, t.now()) {
		t.removeLocked(s, e)
		e = nil
	}
	s.mu.Unlock()
	return e
}

// Get returns the entry of key, created when missing (nil when the table
// is full and nothing can be evicted). It takes no reference; the entry's
// expiry date is renewed.
func (t *Table) Get(key []byte) *Entry { return t.get(key, false) }

// Track returns the entry of key as Get does, with one more reference:
// the caller releases it with Release.
func (t *Table) Track(key []byte) *Entry { return t.get(key, true) }

func (t *Table) get(key []byte, ref bool) *Entry {
	now := t.now()
	s := t.shardOf(key)
	s.mu.Lock()
	e := s.m[string(key)]
	if e != nil && t.expired(e, now) {
		t.removeLocked(s, e)
		e = nil
	}
	if e != nil {
		if ref {
			e.refs.Add(1)
		}
		t.touchLocked(s, e, now)
		s.mu.Unlock()
		return e
	}
	s.mu.Unlock()
	if !t.reserve(now) {
		return nil
	}
	e = &Entry{key: string(key), sh: s}
	if ref {
		e.refs.Store(1)
	}
	s.mu.Lock()
	if old := s.m[string(key)]; old != nil {
		// Created meanwhile by another caller: use it.
		t.used.Add(-1)
		e = old
		if ref {
			e.refs.Add(1)
		}
	} else {
		s.m[e.key] = e
		e.next, e.prev = s.lru.next, &s.lru
		s.lru.next.prev = e
		s.lru.next = e
	}
	t.touchLocked(s, e, now)
	s.mu.Unlock()
	return e
}

// reserve counts one more entry, making room when the table is full: the
// expired entries go first, then (unless nopurge) the least recently
// touched unused ones, as HAProxy's stktable_trash_oldest.
func (t *Table) reserve(now int64) bool {
	for {
		n := t.used.Load()
		if n < int64(t.cfg.Size) {
			if t.used.CompareAndSwap(n, n+1) {
				return true
			}
			continue
		}
		if !t.evict(now) {
			return false
		}
	}
}

// evict removes one entry: an expired one, else (unless nopurge) the
// least recently touched unused one of all shards. It reports whether it
// removed one.
func (t *Table) evict(now int64) bool {
	var best *shard
	var bestExp int64
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for e := s.lru.prev; e != &s.lru; e = e.prev {
			if e.refs.Load() != 0 {
				continue
			}
			if t.expired(e, now) {
				t.removeLocked(s, e)
				s.mu.Unlock()
				return true
			}
			if x := e.touched(); best == nil || x < bestExp {
				best, bestExp = s, x
			}
			break
		}
		s.mu.Unlock()
	}
	if best == nil || t.cfg.NoPurge {
		return false
	}
	best.mu.Lock()
	defer best.mu.Unlock()
	for e := best.lru.prev; e != &best.lru; e = e.prev {
		if e.refs.Load() == 0 {
			t.removeLocked(best, e)
			return true
		}
	}
	return false
}

// touched is the entry's last touch (its expiry date less the table's
// expire, which is the same for all entries of a table).
func (e *Entry) touched() int64 { return e.exp.Load() }

// touchLocked renews e's expiry date and moves it to the front of the
// LRU list. The caller holds s.mu.
func (t *Table) touchLocked(s *shard, e *Entry, now int64) {
	if t.expire > 0 {
		e.exp.Store(now + t.expire)
	} else {
		e.exp.Store(0)
	}
	if e.removed || s.lru.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	e.next, e.prev = s.lru.next, &s.lru
	s.lru.next.prev = e
	s.lru.next = e
}

// removeLocked unlinks e. The caller holds s.mu.
func (t *Table) removeLocked(s *shard, e *Entry) {
	if e.removed {
		return
	}
	e.removed = true
	delete(s.m, e.key)
	e.prev.next, e.next.prev = e.next, e.prev
	t.used.Add(-1)
}

// touch renews e's expiry date (after an update, as stktable_touch_local).
func (t *Table) touch(e *Entry) {
	s := e.sh
	s.mu.Lock()
	t.touchLocked(s, e, t.now())
	s.mu.Unlock()
}

// Release drops a reference taken by Track, decrementing conn_cur as
// HAProxy's stream_store_counters does, and renews the expiry date.
func (t *Table) Release(e *Entry) {
	if t.cfg.Store[ConnCur] {
		e.mu.Lock()
		if e.v[ConnCur] > 0 {
			e.v[ConnCur]--
		}
		e.mu.Unlock()
	}
	s := e.sh
	s.mu.Lock()
	e.refs.Add(-1)
	t.touchLocked(s, e, t.now())
	s.mu.Unlock()
}

// StartCounters counts a new tracked connection: conn_cur, conn_cnt and
// conn_rate (stream_start_counters).
func (t *Table) StartCounters(e *Entry) {
	t.Inc(e, ConnCur, ConnCnt, ConnRate)
}

// Inc adds one to each of the counters ds the table stores, in one
// critical section.
func (t *Table) Inc(e *Entry, ds ...Data) {
	now := t.now()
	e.mu.Lock()
	for _, d := range ds {
		if !t.cfg.Store[d] {
			continue
		}
		if d.IsRate() {
			e.f[d].update(now, t.period[d], 1)
		} else {
			e.v[d]++
		}
	}
	e.mu.Unlock()
}

// Read returns d of e and whether the table stores d.
func (t *Table) Read(e *Entry, d Data) (uint64, bool) {
	if !t.cfg.Store[d] {
		return 0, false
	}
	e.mu.Lock()
	var v uint64
	if d.IsRate() {
		v = e.f[d].read(t.now(), t.period[d])
	} else {
		v = e.v[d]
	}
	e.mu.Unlock()
	return v, true
}

// Set sets d of e (gpt0, server_id, counters; a rate's current period is
// set to v, as "set table" does) and reports whether the table stores d.
func (t *Table) Set(e *Entry, d Data, v uint64) bool {
	if !t.cfg.Store[d] {
		return false
	}
	e.mu.Lock()
	if d.IsRate() {
		e.f[d] = freqCtr{tick: t.now(), curr: v}
	} else {
		e.v[d] = v
	}
	e.mu.Unlock()
	t.touch(e)
	return true
}

// SetServer stores the server a stick rule chose for e: its id
// (server_id) and, when the table stores it, its name (server_key), as
// HAProxy's process_store_rules; the entry's expiry date is renewed.
func (t *Table) SetServer(e *Entry, id int, name string) {
	e.mu.Lock()
	e.v[ServerID] = uint64(id)
	if t.cfg.Store[ServerKey] {
		e.srvKey = name
	}
	e.mu.Unlock()
	t.touch(e)
}

// ServerKey returns server_key of e ("" when unset) and whether the table
// stores it.
func (t *Table) ServerKey(e *Entry) (string, bool) {
	if !t.cfg.Store[ServerKey] {
		return "", false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.srvKey, true
}

// Add adds n to the counters ds the table stores (bytes_in_cnt and
// bytes_in_rate …), in one critical section.
func (t *Table) Add(e *Entry, n uint64, ds ...Data) {
	now := t.now()
	e.mu.Lock()
	for _, d := range ds {
		if !t.cfg.Store[d] {
			continue
		}
		if d.IsRate() {
			e.f[d].update(now, t.period[d], n)
		} else {
			e.v[d] += n
		}
	}
	e.mu.Unlock()
}

// Touch renews e's expiry date, as a stick rule's lookup does
// (stktable_touch_local).
func (t *Table) Touch(e *Entry) { t.touch(e) }

// IncGPC0 increments gpc0 and gpc0_rate and returns gpc0's new value
// (sc_inc_gpc0); ok is false when the table stores neither.
func (t *Table) IncGPC0(e *Entry) (uint64, bool) {
	if !t.cfg.Store[GPC0] && !t.cfg.Store[GPC0Rate] {
		return 0, false
	}
	now := t.now()
	e.mu.Lock()
	if t.cfg.Store[GPC0Rate] {
		e.f[GPC0Rate].update(now, t.period[GPC0Rate], 1)
	}
	if t.cfg.Store[GPC0] {
		e.v[GPC0]++
	}
	v := e.v[GPC0]
	e.mu.Unlock()
	t.touch(e)
	return v, true
}

// Refs returns the number of trackers holding e.
func (e *Entry) Refs() int { return int(e.refs.Load()) }

// Key returns e's key.
func (e *Entry) Key() string { return e.key }

// Expire returns how long before e expires, and false when it never does.
func (t *Table) ExpireIn(e *Entry) (time.Duration, bool) {
	x := e.exp.Load()
	if x == 0 {
		return 0, false
	}
	return time.Duration(max(x-t.now(), 0)) * time.Millisecond, true
}

// Entries returns the table's live entries in the order of their keys, as
// HAProxy's key tree lists them.
func (t *Table) Entries() []*Entry {
	now := t.now()
	var out []*Entry
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for e := s.lru.next; e != &s.lru; e = e.next {
			if t.expired(e, now) {
				continue
			}
			out = append(out, e)
		}
		s.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// Remove removes the entry of key when it is not in use; it reports
// whether the key is gone.
func (t *Table) Remove(key []byte) bool {
	s := t.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[string(key)]
	if e == nil {
		return true
	}
	if e.refs.Load() != 0 {
		return false
	}
	t.removeLocked(s, e)
	return true
}

// Clear removes every entry not in use.
func (t *Table) Clear() {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for e := s.lru.next; e != &s.lru; {
			n := e.next
			if e.refs.Load() == 0 {
				t.removeLocked(s, e)
			}
			e = n
		}
		s.mu.Unlock()
	}
}

// freqCtr is HAProxy's struct freq_ctr over a period: the events of the
// current period and of the previous one, read as a sliding window.
type freqCtr struct {
	tick       int64 // start of the current period (ms)
	curr, prev uint64
}

// update adds inc as update_freq_ctr_period does.
func (f *freqCtr) update(now, period int64, inc uint64) {
	if now-f.tick < period {
		f.curr += inc
		return
	}
	f.prev, f.curr = f.curr, inc
	f.tick += period
	if now-f.tick >= period {
		// At least two periods missed.
		f.prev = 0
		f.tick = now
	}
}

// read returns the rate as read_freq_ctr_period does: the current
// period's events plus the previous period's weighted by the part of the
// window it still covers, with its flapping correction at low rates.
func (f *freqCtr) read(now, period int64) uint64 {
	curr, past := f.curr, f.prev
	remain := f.tick + period - now
	if remain < 0 {
		remain += period
		if remain >= 0 {
			past = curr
		} else {
			past = 0
		}
		curr = 0
	}
	if curr == 0 && past <= 1 {
		return past
	}
	return (past*uint64(remain) + curr*uint64(period)) / uint64(period)
}
