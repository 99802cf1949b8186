package ossl

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"testing"
	"time"
)

var testKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

func signer(tb testing.TB) *Signer {
	tb.Helper()
	s, err := NewRSASigner(testKey)
	if errors.Is(err, ErrUnavailable) {
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	if !s.InOpenSSL() {
		if _, err := Version(); err != nil {
			tb.Fatal(err)
		}
		tb.Fatal("OpenSSL refused the key")
	}
	return s
}

// TestSignaturesVerify: every signature TLS asks for verifies with crypto/rsa,
// and the ones handed to Go still work.
func TestSignaturesVerify(t *testing.T) {
	s := signer(t)
	msg := []byte("lb")
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		hh := h.New()
		hh.Write(msg)
		d := hh.Sum(nil)
		sig, err := s.Sign(rand.Reader, d, h)
		if err != nil {
			t.Fatalf("%v PKCS #1 v1.5: %v", h, err)
		}
		if err := rsa.VerifyPKCS1v15(&testKey.PublicKey, h, d, sig); err != nil {
			t.Errorf("%v PKCS #1 v1.5: %v", h, err)
		}
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
		if sig, err = s.Sign(rand.Reader, d, opts); err != nil {
			t.Fatalf("%v PSS: %v", h, err)
		}
		if err := rsa.VerifyPSS(&testKey.PublicKey, h, d, sig, opts); err != nil {
			t.Errorf("%v PSS: %v", h, err)
		}
	}
	// TLS 1.0 and 1.1: MD5+SHA1, no DigestInfo; Go's key signs it.
	d := make([]byte, 36)
	sig, err := s.Sign(rand.Reader, d, crypto.MD5SHA1)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(&testKey.PublicKey, crypto.MD5SHA1, d, sig); err != nil {
		t.Error(err)
	}
	if _, err := s.Sign(rand.Reader, d[:5], crypto.SHA256); err == nil {
		t.Error("a digest of the wrong size was signed")
	}
}

// TestHandshake: crypto/tls serves an RSA certificate with the signer, in TLS
// 1.2 (PKCS #1 v1.5 or PSS) and 1.3 (PSS).
func TestHandshake(t *testing.T) {
	s := signer(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lb.test"},
		DNSNames: []string{"lb.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &testKey.PublicKey, testKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		c1, c2 := net.Pipe()
		cs := &countSigner{Signer: s}
		srv := tls.Server(c1, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: cs}}})
		go srv.Handshake()
		cli := tls.Client(c2, &tls.Config{ServerName: "lb.test", RootCAs: pool, MinVersion: v, MaxVersion: v})
		if err := cli.Handshake(); err != nil {
			t.Errorf("TLS %x: %v", v, err)
		}
		if cs.n != 1 {
			t.Errorf("TLS %x: %d signatures by OpenSSL; want 1", v, cs.n)
		}
		c1.Close()
		c2.Close()
	}
}

type countSigner struct {
	*Signer
	n int
}

func (c *countSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	c.n++
	return c.Signer.Sign(r, d, o)
}

func BenchmarkSignPSS(b *testing.B) {
	s := signer(b)
	d := sha256.Sum256([]byte("lb"))
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	b.Run("openssl", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Sign(rand.Reader, d[:], opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			if _, err := testKey.Sign(rand.Reader, d[:], opts); err != nil {
				b.Fatal(err)
			}
		}
	})
}
