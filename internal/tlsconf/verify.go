package tlsconf

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"
)

// CAFile is a loaded "ca-file" or "crl-file": the certificates and CRLs of
// a PEM file (OpenSSL's X509_STORE takes both from either keyword).
type CAFile struct {
	Path  string
	Certs []*x509.Certificate
	CRLs  []*x509.RevocationList
}

// LoadCAFile loads a ca-file or crl-file. A file with neither a
// certificate nor a CRL is an error, as in HAProxy.
func LoadCAFile(path string) (*CAFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("unable to load %s (Couldn't open the ca-file '%s' (%s).)", path, path, statErr(err))
	}
	f := &CAFile{Path: path}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE", "TRUSTED CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("unable to load %s (%v)", path, err)
			}
			f.Certs = append(f.Certs, c)
		case "X509 CRL":
			crl, err := x509.ParseRevocationList(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("unable to load %s (%v)", path, err)
			}
			f.CRLs = append(f.CRLs, crl)
		}
	}
	if len(f.Certs) == 0 && len(f.CRLs) == 0 {
		return nil, fmt.Errorf("unable to load %s (Couldn't open the ca-file '%s' (no certificate or crl found).)", path, path)
	}
	return f, nil
}

// Pool returns the file's certificates as a pool.
func (f *CAFile) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range f.Certs {
		p.AddCert(c)
	}
	return p
}

// ErrNoCRL and ErrRevoked are the CRL check's failures.
var (
	ErrNoCRL   = errors.New("unable to get certificate CRL")
	ErrRevoked = errors.New("certificate revoked")
	ErrCRLTime = errors.New("CRL has expired or is not yet valid")
)

// CheckCRL checks a verified chain (leaf first, trust anchor last) against
// crls as OpenSSL does with X509_V_FLAG_CRL_CHECK|X509_V_FLAG_CRL_CHECK_ALL
// (what HAProxy sets with "crl-file"): every certificate of the chain,
// the anchor included, needs a current CRL from its issuer, signed by it,
// that does not list its serial number.
func CheckCRL(chain []*x509.Certificate, crls []*x509.RevocationList, now time.Time) error {
	for i, c := range chain {
		issuer := c
		if i+1 < len(chain) {
			issuer = chain[i+1]
		}
		found := false
		for _, crl := range crls {
			if !bytes.Equal(crl.RawIssuer, c.RawIssuer) || crl.CheckSignatureFrom(issuer) != nil {
				continue
			}
			if now.Before(crl.ThisUpdate) || (!crl.NextUpdate.IsZero() && now.After(crl.NextUpdate)) {
				return fmt.Errorf("%w (issuer %s)", ErrCRLTime, c.Issuer)
			}
			found = true
			if revoked(crl, c.SerialNumber) {
				return fmt.Errorf("%w: %s (serial %s)", ErrRevoked, c.Subject, c.SerialNumber)
			}
		}
		if !found {
			return fmt.Errorf("%w: no CRL of %s", ErrNoCRL, c.Issuer)
		}
	}
	return nil
}

func revoked(crl *x509.RevocationList, serial *big.Int) bool {
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}
