package stick

import (
	"testing"
	"time"
)

// TestFreqCtr: HAProxy's sliding window: the previous period's events weigh by the part
// of the window they still cover.
func TestFreqCtr(t *testing.T) {
	var f freqCtr
	const p = 10000
	now := int64(1 << 32)
	for i := 0; i < 10; i++ {
		f.update(now, p, 1)
	}
	for _, tc := range []struct {
		name string
		at   int64
		want uint64
	}{
		{"same period", now + 5000, 10},
		{"a quarter into the next", now + 12500, 7},
		{"half into the next", now + 15000, 5},
		{"two periods later", now + 20001, 0},
	} {
		if got := f.read(tc.at, p); got != tc.want {
			t.Errorf("%s: read = %d; want %d", tc.name, got, tc.want)
		}
	}
}

// TestTableEviction: a full table evicts the least recently touched unused entry;
// with nopurge it refuses the new key; an entry in use is never evicted.
func TestTableEviction(t *testing.T) {
	now := int64(1 << 32)
	mk := func(nopurge bool) *Table {
		tb := New(Config{Name: "t", Type: KeyInteger, Size: 2, Expire: time.Minute, NoPurge: nopurge})
		tb.now = func() int64 { now++; return now }
		return tb
	}
	tb := mk(false)
	k := func(n int64) []byte { return tb.KeyFromInt(n, nil) }
	tb.Get(k(1))
	tb.Get(k(2))
	tb.Get(k(1)) // touches 1: 2 is now the oldest
	tb.Get(k(3))
	if tb.Lookup(k(2)) != nil || tb.Lookup(k(1)) == nil || tb.Lookup(k(3)) == nil || tb.Used() != 2 {
		t.Errorf("after eviction: 1=%v 2=%v 3=%v used=%d", tb.Lookup(k(1)) != nil, tb.Lookup(k(2)) != nil, tb.Lookup(k(3)) != nil, tb.Used())
	}
	e1, e3 := tb.Track(k(1)), tb.Track(k(3))
	if tb.Get(k(4)) != nil {
		t.Error("an entry was evicted while in use")
	}
	tb.Release(e1)
	tb.Release(e3)
	np := mk(true)
	np.Get(k(1))
	np.Get(k(2))
	if np.Get(k(3)) != nil {
		t.Error("nopurge table took a third key")
	}
}

// TestTableExpire: an unused entry is gone once its expire passed.
func TestTableExpire(t *testing.T) {
	now := int64(1 << 32)
	tb := New(Config{Name: "t", Type: KeyInteger, Size: 10, Expire: time.Second})
	tb.now = func() int64 { return now }
	key := tb.KeyFromInt(7, nil)
	tb.Get(key)
	now += 999
	if tb.Lookup(key) == nil {
		t.Fatal("entry gone before its expire")
	}
	now += 1001
	if tb.Lookup(key) != nil || tb.Used() != 0 {
		t.Errorf("entry kept past its expire (used=%d)", tb.Used())
	}
}
