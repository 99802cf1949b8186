package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"

	"lb/internal/ossl"
)

// servingKey is the key crypto/tls signs handshakes with: an RSA key is
// handed to OpenSSL's libcrypto (internal/ossl), which signs four times
// faster than crypto/rsa; every other key, or an RSA key where libcrypto
// cannot be loaded, is used as it is.
func servingKey(k crypto.Signer) crypto.Signer {
	r, ok := k.(*rsa.PrivateKey)
	if !ok {
		return k
	}
	s, err := ossl.NewRSASigner(r)
	if err != nil {
		return k
	}
	return s
}

// keyIsECDSA and keyIsRSA tell a chain's key type from its public half: an
// RSA key may be held by OpenSSL.
func keyIsECDSA(c *tls.Certificate) bool { _, ok := publicKey(c).(*ecdsa.PublicKey); return ok }
func keyIsRSA(c *tls.Certificate) bool   { _, ok := publicKey(c).(*rsa.PublicKey); return ok }

func publicKey(c *tls.Certificate) crypto.PublicKey {
	if s, ok := c.PrivateKey.(crypto.Signer); ok {
		return s.Public()
	}
	return nil
}
