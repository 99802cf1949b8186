// Package tlsconf turns HAProxy's TLS keywords (bind "ssl crt …", server
// "ssl verify …", the global ssl-default-* lines) into crypto/tls
// configurations, and names what crypto/tls negotiated the way OpenSSL
// names it, for the ssl_* fetches and the logs.
package tlsconf

import (
	"crypto/tls"
	"strings"
)

// suite is one cipher suite crypto/tls implements, with its OpenSSL name.
type suite struct {
	id      uint16
	openssl string
	// tls13 is set for TLS 1.3 suites ("ciphersuites"); the others are
	// TLS 1.0–1.2 suites ("ciphers").
	tls13 bool
}

// suites lists every suite crypto/tls offers or accepts, in OpenSSL's
// default preference order where it has one.
var suites = []suite{
	{tls.TLS_AES_256_GCM_SHA384, "TLS_AES_256_GCM_SHA384", true},
	{tls.TLS_CHACHA20_POLY1305_SHA256, "TLS_CHACHA20_POLY1305_SHA256", true},
	{tls.TLS_AES_128_GCM_SHA256, "TLS_AES_128_GCM_SHA256", true},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384", false},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384", false},
	{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305", false},
	{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305", false},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256", false},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256", false},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "ECDHE-ECDSA-AES128-SHA256", false},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "ECDHE-RSA-AES128-SHA256", false},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE-ECDSA-AES256-SHA", false},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE-RSA-AES256-SHA", false},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE-ECDSA-AES128-SHA", false},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE-RSA-AES128-SHA", false},
	{tls.TLS_RSA_WITH_AES_256_GCM_SHA384, "AES256-GCM-SHA384", false},
	{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, "AES128-GCM-SHA256", false},
	{tls.TLS_RSA_WITH_AES_128_CBC_SHA256, "AES128-SHA256", false},
	{tls.TLS_RSA_WITH_AES_256_CBC_SHA, "AES256-SHA", false},
	{tls.TLS_RSA_WITH_AES_128_CBC_SHA, "AES128-SHA", false},
	{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, "ECDHE-RSA-DES-CBC3-SHA", false},
	{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, "DES-CBC3-SHA", false},
	{tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, "ECDHE-ECDSA-RC4-SHA", false},
	{tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA, "ECDHE-RSA-RC4-SHA", false},
	{tls.TLS_RSA_WITH_RC4_128_SHA, "RC4-SHA", false},
}

// CipherName returns OpenSSL's name of a cipher suite ("" when unknown), as
// ssl_fc_cipher and %sslc print it.
func CipherName(id uint16) string {
	for i := range suites {
		if suites[i].id == id {
			return suites[i].openssl
		}
	}
	return ""
}

// CipherID returns the suite OpenSSL calls name.
func CipherID(name string) (id uint16, tls13, ok bool) {
	for i := range suites {
		if suites[i].openssl == name {
			return suites[i].id, suites[i].tls13, true
		}
	}
	return 0, false, false
}

// VersionName returns OpenSSL's name of a protocol version ("TLSv1.3"), as
// ssl_fc_protocol and %sslv print it.
func VersionName(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS10:
		return "TLSv1"
	case 0x0300:
		return "SSLv3"
	}
	return ""
}

// curves maps OpenSSL's group names (as "curves" and "ecdhe" take them) to
// crypto/tls's.
var curves = map[string]tls.CurveID{
	"X25519":             tls.X25519,
	"X25519MLKEM768":     tls.X25519MLKEM768,
	"SecP256r1MLKEM768":  tls.SecP256r1MLKEM768,
	"SecP384r1MLKEM1024": tls.SecP384r1MLKEM1024,
	"P-256":              tls.CurveP256,
	"prime256v1":         tls.CurveP256,
	"secp256r1":          tls.CurveP256,
	"P-384":              tls.CurveP384,
	"secp384r1":          tls.CurveP384,
	"P-521":              tls.CurveP521,
	"secp521r1":          tls.CurveP521,
}

// CurveID returns the group OpenSSL calls name.
func CurveID(name string) (tls.CurveID, bool) {
	c, ok := curves[name]
	return c, ok
}

// CipherBits returns the key sizes OpenSSL reports for a suite
// (SSL_CIPHER_get_bits): the effective strength (ssl_fc_use_keysize)
// and the algorithm's key size (ssl_fc_alg_keysize).
func CipherBits(id uint16) (use, alg int, ok bool) {
	name := CipherName(id)
	switch {
	case name == "":
		return 0, 0, false
	case strings.Contains(name, "AES128") || strings.Contains(name, "AES_128"), strings.Contains(name, "RC4"):
		return 128, 128, true
	case strings.Contains(name, "AES256") || strings.Contains(name, "AES_256"), strings.Contains(name, "CHACHA20"):
		return 256, 256, true
	case strings.Contains(name, "DES-CBC3"):
		return 112, 168, true
	}
	return 0, 0, false
}

// otherCurves are group names OpenSSL knows that crypto/tls does not
// implement: a list naming them is honoured without them (lb offers fewer
// groups, never others).
var otherCurves = map[string]bool{
	"X448": true, "ffdhe2048": true, "ffdhe3072": true, "ffdhe4096": true, "ffdhe6144": true,
	"ffdhe8192": true, "P-224": true, "secp224r1": true, "secp192r1": true, "prime192v1": true,
	"secp256k1": true, "brainpoolP256r1": true, "brainpoolP384r1": true, "brainpoolP512r1": true,
	"brainpoolP256r1tls13": true, "brainpoolP384r1tls13": true, "brainpoolP512r1tls13": true,
	"sect163k1": true, "sect163r1": true, "sect163r2": true, "sect193r1": true, "sect193r2": true,
	"sect233k1": true, "sect233r1": true, "sect239k1": true, "sect283k1": true, "sect283r1": true,
	"sect409k1": true, "sect409r1": true, "sect571k1": true, "sect571r1": true, "secp160k1": true,
	"secp160r1": true, "secp160r2": true, "secp192k1": true, "secp224k1": true,
}
