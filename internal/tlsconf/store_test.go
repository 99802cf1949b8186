package tlsconf

import (
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// storeSetup: two bind lines sharing a.pem (the first also with b.pem, in
// a crt-list line with an SNI filter), and their store.
func storeSetup(t *testing.T) (ca *testCA, dir string, cfg1, cfg2 *tls.Config, s *Store) {
	t.Helper()
	ca = newCA(t)
	dir = t.TempDir()
	load := func(name, cn string, dns ...string) *Cert {
		c, _, err := LoadCertFile(write(t, dir+"/"+name, ca.leafPEM(t, "ecdsa", cn, dns...)), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a1, a2 := load("a.pem", "a.example.com"), load("a.pem", "a.example.com")
	b := load("b.pem", "b.example.com")
	b1 := &Bind{Entries: []Entry{{Cert: a1}, {Cert: b, Filters: []string{"filtered.example.com"}}}}
	b2 := &Bind{Entries: []Entry{{Cert: a2}}}
	var err error
	if cfg1, err = b1.Build(); err != nil {
		t.Fatal(err)
	}
	if cfg2, err = b2.Build(); err != nil {
		t.Fatal(err)
	}
	return ca, dir, cfg1, cfg2, NewStore([]*Bind{b1, b2})
}

func cnFor(t *testing.T, ca *testCA, cfg *tls.Config, name string) string {
	t.Helper()
	cl := clientFor(ca, name)
	cl.InsecureSkipVerify = true
	st, cerr, serr := handshake(t, cfg, cl)
	if cerr != nil || serr != nil {
		t.Fatalf("handshake for %q: %v, %v", name, cerr, serr)
	}
	return peerCN(st)
}

func TestStoreTransaction(t *testing.T) {
	ca, dir, cfg1, cfg2, s := storeSetup(t)
	a, b := dir+"/a.pem", dir+"/b.pem"
	if tx, paths := s.List(); tx != "" || strings.Join(paths, ",") != a+","+b {
		t.Fatalf("List = %q %q", tx, paths)
	}
	if _, _, err := s.Set(dir+"/none.pem", ca.leafPEM(t, "ecdsa", "x")); err == nil {
		t.Fatal("Set of a file not in the store succeeded")
	}
	if _, _, err := s.Set(a, []byte("garbage")); err == nil {
		t.Fatal("Set of garbage succeeded")
	}
	if _, _, err := s.Set(a+".ocsp", []byte("x")); err != ErrStoreUnsupported {
		t.Fatalf("Set .ocsp = %v", err)
	}
	p, created, err := s.Set(a, ca.leafPEM(t, "ecdsa", "new.example.com"))
	if err != nil || !created || p != a {
		t.Fatalf("Set = %q %v %v", p, created, err)
	}
	if tx, _ := s.List(); tx != a {
		t.Fatalf("transaction = %q", tx)
	}
	if d, ok := s.Detail("*" + a); !ok || !strings.Contains(d, "Status: Unused\n") || !strings.Contains(d, "Subject: /CN=new.example.com\n") {
		t.Fatalf("Detail of the transaction = %q %v", d, ok)
	}
	// Not committed yet: the handshakes still get the old one.
	if cn := cnFor(t, ca, cfg1, "new.example.com"); cn != "a.example.com" {
		t.Fatalf("before commit: %q", cn)
	}
	// A certificate without its key leaves the transaction without a key;
	// a key that does not match: both refused at commit, as HAProxy.
	c2, _, _ := ca.issue(t, "ecdsa", "other", nil, false, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	_, k3, _ := ca.issue(t, "ecdsa", "third", nil, false, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if _, created, err := s.Set(a, c2); err != nil || created {
		t.Fatal(created, err)
	}
	if _, err := s.Commit(a); err == nil || !strings.Contains(err.Error(), "at least a certificate and a private key") {
		t.Fatalf("Commit without a key = %v", err)
	}
	if _, _, err := s.Set(a+".key", k3); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(a); err == nil || !strings.Contains(err.Error(), "inconsistencies") {
		t.Fatalf("Commit with a foreign key = %v", err)
	}
	if _, err := s.Commit(b); err == nil {
		t.Fatal("Commit of another file succeeded")
	}
	if err := s.Abort(a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(a); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
	if _, _, err := s.Set(a, ca.leafPEM(t, "ecdsa", "new.example.com")); err != nil {
		t.Fatal(err)
	}
	n, err := s.Commit(a)
	if err != nil || n != 2 {
		t.Fatalf("Commit = %d, %v", n, err)
	}
	// Both bind lines, the new name indexed and the old one gone (to the
	// default, now the new certificate too); b.pem's filter stays.
	for _, cfg := range []*tls.Config{cfg1, cfg2} {
		if cn := cnFor(t, ca, cfg, "new.example.com"); cn != "new.example.com" {
			t.Errorf("after commit: %q", cn)
		}
	}
	if cn := cnFor(t, ca, cfg1, "filtered.example.com"); cn != "b.example.com" {
		t.Errorf("crt-list filter after commit: %q", cn)
	}
	if cn := cnFor(t, ca, cfg1, "b.example.com"); cn != "new.example.com" {
		t.Errorf("b.pem's own name, filtered out: %q", cn)
	}
	if d, ok := s.Detail(a); !ok || !strings.Contains(d, "Status: Used\n") || !strings.Contains(d, "Subject: /CN=new.example.com\n") {
		t.Fatalf("Detail after commit = %q", d)
	}
}

// TestStoreSwapUnderHandshakes: commits while handshakes run (go test
// -race): every handshake gets one of the certificates whole, and the
// connections established before a commit go on.
func TestStoreSwapUnderHandshakes(t *testing.T) {
	ca, dir, cfg1, _, s := storeSetup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, cfg1)
				buf := make([]byte, 64)
				for {
					n, err := tc.Read(buf)
					if err != nil {
						return
					}
					tc.Write(buf[:n])
				}
			}()
		}
	}()
	dial := func() (*tls.Conn, string, error) {
		cl := clientFor(ca, "a.example.com")
		cl.InsecureSkipVerify = true
		c, err := tls.Dial("tcp", ln.Addr().String(), cl)
		if err != nil {
			return nil, "", err
		}
		return c, peerCN(c.ConnectionState()), nil
	}
	early, cn, err := dial()
	if err != nil || cn != "a.example.com" {
		t.Fatalf("first connection: %q %v", cn, err)
	}
	defer early.Close()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Value
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				c, cn, err := dial()
				if err != nil {
					bad.Store(err.Error())
					return
				}
				c.Close()
				if cn != "a.example.com" && !strings.HasPrefix(cn, "gen") {
					bad.Store("unexpected certificate " + cn)
				}
			}
		}()
	}
	for i := range 20 {
		if _, _, err := s.Set(dir+"/a.pem", ca.leafPEM(t, "ecdsa", "gen"+string(rune('a'+i)), "a.example.com")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Commit(dir + "/a.pem"); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if v := bad.Load(); v != nil {
		t.Fatal(v)
	}
	// The connection made before the commits goes on with its certificate.
	if _, err := early.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := early.Read(buf); err != nil || string(buf) != "ping" {
		t.Fatalf("early connection: %q %v", buf, err)
	}
	if cn := peerCN(early.ConnectionState()); cn != "a.example.com" {
		t.Fatalf("early connection's certificate: %q", cn)
	}
	if _, cn, err := dial(); err != nil || cn != "gent" {
		t.Fatalf("after the commits: %q %v", cn, err)
	}
}
