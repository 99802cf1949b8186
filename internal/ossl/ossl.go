// Package ossl signs with an RSA private key through the system's OpenSSL 3
// (libcrypto.so.3, loaded with dlopen at the first use), for TLS handshakes.
//
// An RSA-2048 signature, the one every full handshake with an RSA certificate
// makes, took Go's crypto/rsa 1.06 ms on the machines lb is measured on and
// OpenSSL 3.0 0.25 ms (openssl speed rsa2048): lb spent twice HAProxy's CPU
// per full RSA handshake. The signature is the only operation handed over:
// the key exchange, the record layer and ECDSA stay in crypto/tls, which is as
// fast as OpenSSL or faster there.
//
// Without cgo NewRSASigner says so and the caller keeps Go's key; where
// libcrypto.so.3 cannot be loaded, the signer signs with Go's key: the
// handshakes are the same, only slower.
package ossl

import (
	"crypto"
	"crypto/rsa"
	"errors"
)

// ErrUnavailable is returned by NewRSASigner when lb was built without cgo.
var ErrUnavailable = errors.New("lb built without cgo")

// Signer is an RSA private key held by OpenSSL. It signs as crypto/rsa's
// PrivateKey does for TLS: PKCS #1 v1.5 and PSS over a SHA-1 or SHA-2 digest;
// anything else (MD5+SHA1 for TLS 1.0 and 1.1, other salt lengths) goes to
// the Go key it was made from.
type Signer struct {
	key  *rsa.PrivateKey
	impl signerImpl
}

// Public returns the public half of the key.
func (s *Signer) Public() crypto.PublicKey { return &s.key.PublicKey }

// GoKey returns the crypto/rsa key the signer was made from.
func (s *Signer) GoKey() *rsa.PrivateKey { return s.key }
