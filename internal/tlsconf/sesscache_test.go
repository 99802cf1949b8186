package tlsconf

import (
	"crypto/tls"
	"testing"
	"time"
)

// TestSessionCacheBounds: the oldest session goes when the cache is full, a session
// older than the lifetime is gone, and a session resumes only on the bind line that made
// it.
func TestSessionCacheBounds(t *testing.T) {
	sc := NewSessionCache(2)
	now := time.Unix(1000, 0)
	sc.now = func() time.Time { return now }
	a, b := &tls.Config{}, &tls.Config{}
	id := func(n byte) [32]byte { return [32]byte{n} }
	sc.put(id(1), a, []byte("one"))
	sc.put(id(2), a, []byte("two"))
	if sc.get(id(1), b) != nil {
		t.Error("a session resumed on another bind line")
	}
	sc.put(id(3), a, []byte("three"))
	if sc.Len() != 2 || sc.get(id(1), a) != nil || string(sc.get(id(2), a)) != "two" {
		t.Errorf("after a third session in two places: %d held, the first %q", sc.Len(), sc.get(id(1), a))
	}
	now = now.Add(301 * time.Second)
	if sc.get(id(3), a) != nil || sc.Len() != 1 {
		t.Errorf("a session outlived 300 s; %d held", sc.Len())
	}
}
