package tlsconf

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"net"
	"testing"
	"time"

	"lb/internal/tlsconf/tlstest"
)

// TestSessionCacheBounds: the oldest session goes when the cache is full, a session
// older than the lifetime is gone, and a session resumes only on the bind line that made
// it.
func TestSessionCacheBounds(t *testing.T) {
	sc := NewSessionCache(2, 300*time.Second)
	now := time.Unix(1000, 0)
	sc.now = func() time.Time { return now }
	a, b := &tls.Config{}, &tls.Config{}
	id := func(n byte) [32]byte { return [32]byte{n} }
	// Encodings as tls.SessionState.Bytes begins them: a server's session made at 1000 s.
	state := func(n byte) []byte { return []byte{3, 4, 1, 0x13, 1, 0, 0, 0, 0, 0, 0, 3, 0xe8, n} }
	sc.put(id(1), a, state(1))
	sc.put(id(2), a, state(2))
	if sc.get(id(1), b) != nil {
		t.Error("a session resumed on another bind line")
	}
	sc.put(id(3), a, state(3))
	if sc.Len() != 2 || sc.get(id(1), a) != nil || sc.get(id(2), a)[13] != 2 {
		t.Errorf("after a third session in two places: %d held, the first %v", sc.Len(), sc.get(id(1), a))
	}
	now = now.Add(301 * time.Second)
	if sc.get(id(3), a) != nil || sc.Len() != 1 {
		t.Errorf("a session outlived 300 s; %d held", sc.Len())
	}
}

// TestTicketLifetime: a session resumes within the lifetime, not after it, in TLS 1.2 and
// 1.3; a ticket without its issue time (an older lb's) does not resume.
func TestTicketLifetime(t *testing.T) {
	ca := tlstest.NewCA(t, pkix.Name{CommonName: "CA"})
	leaf := ca.Issue(t, tlstest.Template{Subject: pkix.Name{CommonName: "l.test"}, DNSNames: []string{"l.test"}, Serial: 2})
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		now := time.Now()
		srv := &tls.Config{Certificates: []tls.Certificate{leaf.TLS()}, Time: func() time.Time { return now }}
		TicketLifetimeClock(srv, 300*time.Second, func() time.Time { return now })
		cli := &tls.Config{RootCAs: ca.Pool(), ServerName: "l.test", MaxVersion: v,
			ClientSessionCache: tls.NewLRUClientSessionCache(2)}
		resumed := func() bool { return pipeHandshake(t, srv, cli).DidResume }
		resumed()
		now = now.Add(200 * time.Second)
		if !resumed() {
			t.Errorf("TLS %x: a session of 200 s did not resume", v)
		}
		now = now.Add(101 * time.Second)
		if v == tls.VersionTLS13 {
			// Each TLS 1.3 handshake issues a new ticket, dated then (OpenSSL too).
			if !resumed() {
				t.Errorf("TLS %x: the ticket of a resumed session did not resume 101 s later", v)
			}
			now = now.Add(301 * time.Second)
		}
		if resumed() {
			t.Errorf("TLS %x: a session resumed 301 s after its ticket was issued", v)
		}
	}
	// The date read from Go's encoding is the session's own.
	b := mustSessionBytes(t)
	if at, ok := sessionCreated(b); !ok || time.Since(at) > time.Minute || time.Since(at) < -time.Minute {
		t.Errorf("sessionCreated read %v, %v from a session made now: Go's encoding moved", at, ok)
	}
}

// mustSessionBytes is a valid session state, taken from a handshake.
func mustSessionBytes(t *testing.T) []byte {
	t.Helper()
	ca := tlstest.NewCA(t, pkix.Name{CommonName: "CA"})
	leaf := ca.Issue(t, tlstest.Template{Subject: pkix.Name{CommonName: "l.test"}, DNSNames: []string{"l.test"}, Serial: 3})
	var state []byte
	srv := &tls.Config{Certificates: []tls.Certificate{leaf.TLS()}}
	srv.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		state, _ = ss.Bytes()
		return srv.EncryptTicket(cs, ss)
	}
	pipeHandshake(t, srv, &tls.Config{RootCAs: ca.Pool(), ServerName: "l.test", ClientSessionCache: tls.NewLRUClientSessionCache(1)})
	if state == nil {
		t.Fatal("no session state")
	}
	return state
}

// pipeHandshake runs a handshake between srv and cli over a pipe, and a byte from the
// server after it (a TLS 1.3 ticket goes with the first data).
func pipeHandshake(t *testing.T, srv, cli *tls.Config) tls.ConnectionState {
	t.Helper()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	s := tls.Server(c1, srv)
	go func() {
		if s.Handshake() == nil {
			s.Write([]byte("x"))
		}
	}()
	c := tls.Client(c2, cli)
	if err := c.Handshake(); err != nil {
		t.Fatalf("TLS %x: %v", cli.MaxVersion, err)
	}
	c.Read(make([]byte, 1))
	return c.ConnectionState()
}
