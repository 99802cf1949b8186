package tlsconf

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// enabled is every TLS 1.0–1.2 suite a cipher string can select: the
// suites crypto/tls implements that OpenSSL 3 also builds by default. The
// 3DES and RC4 suites are left out: OpenSSL 3 builds them only with
// "enable-weak-ssl-ciphers", so HAProxy on a stock OpenSSL 3 never offers
// them, whatever the string says; lb does not either.
//
// words are the OpenSSL aliases that match the suite (its own name aside),
// as "openssl ciphers" evaluates them.
var enabled = []struct {
	id    uint16
	words string
}{
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "kECDHE aECDSA AES256GCM TLSv1.2"},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "kECDHE aRSA AES256GCM TLSv1.2"},
	{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "kECDHE aECDSA CHACHA20 TLSv1.2"},
	{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "kECDHE aRSA CHACHA20 TLSv1.2"},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "kECDHE aECDSA AES128GCM TLSv1.2"},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "kECDHE aRSA AES128GCM TLSv1.2"},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "kECDHE aECDSA AES128 SHA256 TLSv1.2"},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "kECDHE aRSA AES128 SHA256 TLSv1.2"},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "kECDHE aECDSA AES256 SHA1 TLSv1.0"},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "kECDHE aRSA AES256 SHA1 TLSv1.0"},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "kECDHE aECDSA AES128 SHA1 TLSv1.0"},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "kECDHE aRSA AES128 SHA1 TLSv1.0"},
	{tls.TLS_RSA_WITH_AES_256_GCM_SHA384, "kRSA aRSA AES256GCM TLSv1.2"},
	{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, "kRSA aRSA AES128GCM TLSv1.2"},
	{tls.TLS_RSA_WITH_AES_128_CBC_SHA256, "kRSA aRSA AES128 SHA256 TLSv1.2"},
	{tls.TLS_RSA_WITH_AES_256_CBC_SHA, "kRSA aRSA AES256 SHA1 SSLv3"},
	{tls.TLS_RSA_WITH_AES_128_CBC_SHA, "kRSA aRSA AES128 SHA1 SSLv3"},
}

// aliasOf expands the attribute words above into every OpenSSL alias that
// names them. An alias absent here and from the suite names matches none
// of the enabled suites (DHE, PSK, CAMELLIA, aNULL, …), as OpenSSL's
// unknown words match nothing.
var aliasOf = map[string][]string{
	"kECDHE":    {"kECDHE", "kEECDH", "ECDHE", "EECDH", "ECDH"},
	"kRSA":      {"kRSA", "RSA"},
	"aECDSA":    {"aECDSA", "ECDSA"},
	"aRSA":      {"aRSA"},
	"AES256GCM": {"AES256", "AES", "AESGCM"},
	"AES128GCM": {"AES128", "AES", "AESGCM"},
	"AES256":    {"AES256", "AES"},
	"AES128":    {"AES128", "AES"},
	"CHACHA20":  {"CHACHA20"},
	"SHA1":      {"SHA1", "SHA"},
	"SHA256":    {"SHA256"},
	"TLSv1.2":   {"TLSv1.2"},
	"TLSv1.0":   {"TLSv1.0", "TLSv1"},
	"SSLv3":     {"SSLv3"},
}

// matches reports whether the enabled suite i matches one word of a cipher
// string (a suite name or an alias).
func matches(i int, word string) bool {
	e := enabled[i]
	if CipherName(e.id) == word {
		return true
	}
	switch word {
	case "ALL", "DEFAULT", "HIGH":
		// Every enabled suite is HIGH; none is in COMPLEMENTOFDEFAULT.
		return true
	case "FIPS":
		return !strings.Contains(e.words, "CHACHA20")
	}
	for _, w := range strings.Fields(e.words) {
		for _, a := range aliasOf[w] {
			if a == word {
				return true
			}
		}
	}
	return false
}

// Ciphers evaluates an OpenSSL cipher string ("ciphers",
// "ssl-default-bind-ciphers") into the set of TLS 1.0–1.2 suites to
// enable, as OpenSSL's SSL_CTX_set_cipher_list() selects them, restricted
// to what crypto/tls implements:
//
//   - items are separated by ':', ',', ';' or spaces; an item is a suite
//     name or an alias (HIGH, ECDHE, AESGCM, kRSA, …), or several joined
//     by '+' (all must match);
//   - "X" adds, "-X" removes (a later item may add it back), "!X" removes
//     for good, "+X" only moves (order), "@STRENGTH" only sorts;
//   - words OpenSSL does not know, and suites crypto/tls does not
//     implement (DHE, CAMELLIA, CCM, …), select nothing, as unknown words
//     do in OpenSSL: lb then offers fewer suites than HAProxy, never
//     others.
//
// The preference order of the string is not kept: crypto/tls chooses
// among the enabled suites by its own order (AEAD and forward secrecy
// first). "@SECLEVEL" and the "SUITEB" aliases, which change more than the
// suites, are refused. A string that selects no suite lb can offer is an
// error.
func Ciphers(s string) ([]uint16, error) {
	on := make([]bool, len(enabled))
	dead := make([]bool, len(enabled))
	for _, item := range strings.FieldsFunc(s, func(r rune) bool {
		return r == ':' || r == ',' || r == ';' || r == ' '
	}) {
		op := byte(0)
		switch item[0] {
		case '!', '-', '+':
			op, item = item[0], item[1:]
		}
		if strings.HasPrefix(item, "@") {
			if item == "@STRENGTH" {
				continue
			}
			return nil, fmt.Errorf("'%s' in a cipher list is not supported by lb yet", item)
		}
		if strings.HasPrefix(item, "SUITEB") {
			return nil, fmt.Errorf("'%s' in a cipher list is not supported by lb yet", item)
		}
		words := strings.Split(item, "+")
		for i := range enabled {
			all := true
			for _, w := range words {
				if !matches(i, w) {
					all = false
					break
				}
			}
			if !all {
				continue
			}
			switch op {
			case 0:
				if !dead[i] {
					on[i] = true
				}
			case '-':
				on[i] = false
			case '!':
				on[i], dead[i] = false, true
			}
		}
	}
	var out []uint16
	for i, e := range enabled {
		if on[i] {
			out = append(out, e.id)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no cipher of '%s' is implemented by lb (crypto/tls)", s)
	}
	return out, nil
}

// tls13Suites are OpenSSL's TLS 1.3 suite names; true for those
// crypto/tls implements (and always enables).
var tls13Suites = map[string]bool{
	"TLS_AES_256_GCM_SHA384":       true,
	"TLS_CHACHA20_POLY1305_SHA256": true,
	"TLS_AES_128_GCM_SHA256":       true,
	"TLS_AES_128_CCM_SHA256":       false,
	"TLS_AES_128_CCM_8_SHA256":     false,
}

// Ciphersuites checks a TLS 1.3 suite list ("ciphersuites",
// "ssl-default-bind-ciphersuites"; ':'-separated). crypto/tls does not let
// a program choose its TLS 1.3 suites: it always enables
// TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and
// TLS_CHACHA20_POLY1305_SHA256. A list naming all three is honoured (its
// order aside; the CCM suites it may add are not offered: fewer, never
// others). A list leaving one out cannot be honoured and is an error
// naming it. Unknown names are skipped, as OpenSSL skips them; a list of
// unknown names only is an error.
func Ciphersuites(s string) error {
	seen := map[string]bool{}
	known := 0
	for _, n := range strings.Split(s, ":") {
		if _, ok := tls13Suites[n]; ok {
			seen[n] = true
			known++
		}
	}
	if known == 0 {
		return fmt.Errorf("no TLS 1.3 cipher suite in '%s'", s)
	}
	for _, n := range []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"} {
		if !seen[n] {
			return fmt.Errorf("'%s' leaves out %s, which crypto/tls always enables with TLS 1.3: lb cannot honour it", s, n)
		}
	}
	return nil
}

// Curves evaluates an OpenSSL group list ("curves", "ecdhe",
// "ssl-default-bind-curves"; ':'-separated) into crypto/tls's key
// exchange mechanisms. A name OpenSSL does not know is an error, as in
// SSL_CTX_set1_curves_list(); groups OpenSSL knows and crypto/tls does
// not implement (X448, ffdhe*, brainpool, …) are skipped, and a list
// with no group lb can offer is an error. crypto/tls chooses among them
// by its own order.
func Curves(s string) ([]tls.CurveID, error) {
	var out []tls.CurveID
	for _, n := range strings.Split(s, ":") {
		if c, ok := CurveID(n); ok {
			out = append(out, c)
			continue
		}
		if !otherCurves[n] {
			return nil, fmt.Errorf("unknown group '%s'", n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no group of '%s' is implemented by lb (crypto/tls)", s)
	}
	return out, nil
}
