package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"testing"
	"time"
)

// testCA is a self-signed CA that issues test certificates.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
}

var serial int64 = 100

func newKey(t *testing.T, kind string) crypto.Signer {
	t.Helper()
	if kind == "rsa" {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	k := newKey(t, "ecdsa")
	serial++
	tpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: k, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf certificate (PEM) and its key (PEM).
func (ca *testCA) issue(t *testing.T, kind, cn string, dns []string, client bool, nb, na time.Time) (certPEM, keyPEM []byte, c *x509.Certificate) {
	t.Helper()
	k := newKey(t, kind)
	serial++
	tpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, DNSNames: dns,
		NotBefore: nb, NotAfter: na, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if client {
		tpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.cert, k.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ = x509.ParseCertificate(der)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), c
}

// leafPEM is a valid server certificate with its key in one PEM.
func (ca *testCA) leafPEM(t *testing.T, kind, cn string, dns ...string) []byte {
	c, k, _ := ca.issue(t, kind, cn, dns, false, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	return append(c, k...)
}

func write(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// handshake runs a TLS handshake of client against server over a
// loopback TCP connection (kernel buffers: both sides may write at once,
// as in a HelloRetryRequest) and returns the client's connection state
// and the errors of both sides.
func handshake(t *testing.T, server, client *tls.Config) (tls.ConnectionState, error, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	deadline := time.Now().Add(10 * time.Second)
	srvErr := make(chan error, 1)
	go func() {
		a, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer a.Close()
		a.SetDeadline(deadline)
		s := tls.Server(a, server)
		err = s.Handshake()
		if err == nil {
			// With TLS 1.3 the server reads the client's certificate
			// and Finished only now.
			_, err = s.Read(make([]byte, 1))
			if err == io.EOF {
				err = nil
			}
		}
		srvErr <- err
	}()
	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.SetDeadline(deadline)
	c := tls.Client(b, client)
	cerr := c.Handshake()
	if cerr == nil {
		// Let the server finish (and fail on our certificate if it does),
		// then see its alert, if any.
		c.CloseWrite()
		_, rerr := c.Read(make([]byte, 1))
		if rerr != nil && rerr != io.EOF {
			cerr = rerr
		}
	}
	serr := <-srvErr
	return c.ConnectionState(), cerr, serr
}

// clientFor trusts ca and asks for name.
func clientFor(ca *testCA, name string) *tls.Config {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return &tls.Config{RootCAs: p, ServerName: name}
}

// peerCN is the CN of the certificate the server presented.
func peerCN(st tls.ConnectionState) string {
	if len(st.PeerCertificates) == 0 {
		return ""
	}
	return st.PeerCertificates[0].Subject.CommonName
}
