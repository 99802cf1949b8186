//go:build !linux || !cgo

package ossl

import (
	"crypto"
	"crypto/rsa"
	"io"
)

type signerImpl struct{}

// Version says that lb was built without cgo.
func Version() (string, error) { return "", ErrUnavailable }

// InOpenSSL is false: lb was built without cgo.
func (s *Signer) InOpenSSL() bool { return false }

// NewRSASigner says that lb was built without cgo.
func NewRSASigner(*rsa.PrivateKey) (*Signer, error) { return nil, ErrUnavailable }

// Sign signs with the Go key.
func (s *Signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.key.Sign(rand, digest, opts)
}
