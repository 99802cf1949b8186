package tlsconf

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
	"time"
)

// This file prints certificates the way OpenSSL does for HAProxy's
// ssl_c_* and ssl_f_* fetches: distinguished names, dates, algorithms.

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// shortNames are OpenSSL's short names (OBJ_nid2sn) of the attributes
// found in distinguished names.
var shortNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.5": "serialNumber", "2.5.4.6": "C",
	"2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.9": "street", "2.5.4.10": "O",
	"2.5.4.11": "OU", "2.5.4.12": "title", "2.5.4.13": "description",
	"2.5.4.15": "businessCategory", "2.5.4.17": "postalCode", "2.5.4.41": "name",
	"2.5.4.42": "GN", "2.5.4.43": "initials", "2.5.4.44": "generationQualifier",
	"2.5.4.46": "dnQualifier", "2.5.4.65": "pseudonym", "2.5.4.97": "organizationIdentifier",
	"1.2.840.113549.1.9.1":       "emailAddress",
	"0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
	"1.3.6.1.4.1.311.60.2.1.1": "jurisdictionL", "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionST",
	"1.3.6.1.4.1.311.60.2.1.3": "jurisdictionC",
}

// attrName is OpenSSL's short name of an attribute, or its dotted form.
func attrName(oid asn1.ObjectIdentifier) string {
	s := oid.String()
	if n, ok := shortNames[s]; ok {
		return n
	}
	return s
}

// rdns parses a raw distinguished name (Certificate.RawSubject,
// RawIssuer).
func rdns(raw []byte) (pkix.RDNSequence, bool) {
	var seq pkix.RDNSequence
	rest, err := asn1.Unmarshal(raw, &seq)
	return seq, err == nil && len(rest) == 0
}

func attrValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// DNOneLine prints a raw distinguished name as HAProxy's default DN
// format (ssl_sock_get_dn_oneline, OpenSSL's X509_NAME_oneline layout):
// "/C=FR/O=Org/CN=name", the values as they are. Every attribute gets its
// '/', those of a multi-valued RDN too (where OpenSSL's own one-line form
// joins them with '+').
func DNOneLine(raw []byte) (string, bool) {
	seq, ok := rdns(raw)
	if !ok {
		return "", false
	}
	var b strings.Builder
	for _, rdn := range seq {
		for _, a := range rdn {
			b.WriteByte('/')
			b.WriteString(attrName(a.Type))
			b.WriteByte('=')
			b.WriteString(attrValue(a.Value))
		}
	}
	return b.String(), true
}

// DNRFC2253 prints a raw distinguished name as OpenSSL's
// X509_NAME_print_ex with XN_FLAG_RFC2253 (the "rfc2253" format of the
// *_dn fetches): the attributes last first, those of one RDN separated by
// '+', the RDNs by ',', with RFC 2253's escapes and the bytes of non-ASCII
// characters as \XX.
func DNRFC2253(raw []byte) (string, bool) {
	seq, ok := rdns(raw)
	if !ok {
		return "", false
	}
	var b strings.Builder
	for i := len(seq) - 1; i >= 0; i-- {
		if i != len(seq)-1 {
			b.WriteByte(',')
		}
		// The attributes of a multi-valued RDN are reversed too.
		for j := len(seq[i]) - 1; j >= 0; j-- {
			if j != len(seq[i])-1 {
				b.WriteByte('+')
			}
			a := seq[i][j]
			b.WriteString(attrName(a.Type))
			b.WriteByte('=')
			escape2253(&b, attrValue(a.Value))
		}
	}
	return b.String(), true
}

func escape2253(b *strings.Builder, v string) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case strings.IndexByte(",+\"\\<>;", c) >= 0,
			c == '#' && i == 0, c == ' ' && (i == 0 || i == len(v)-1):
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(b, "\\%02X", c)
		default:
			b.WriteByte(c)
		}
	}
}

// DNEntry returns the value of the occ-th attribute called entry (a short
// name such as "CN", case-insensitive, or a dotted OID) of a raw
// distinguished name, counting from the start when occ > 0 and from the
// end when occ < 0, as HAProxy's ssl_sock_get_dn_entry.
func DNEntry(raw []byte, entry string, occ int) (string, bool) {
	seq, ok := rdns(raw)
	if !ok || occ == 0 {
		return "", false
	}
	var attrs []pkix.AttributeTypeAndValue
	for _, rdn := range seq {
		attrs = append(attrs, rdn...)
	}
	step, i, n := 1, 0, occ
	if occ < 0 {
		step, i, n = -1, len(attrs)-1, -occ
	}
	for ; i >= 0 && i < len(attrs); i += step {
		a := attrs[i]
		if !strings.EqualFold(attrName(a.Type), entry) && a.Type.String() != entry {
			continue
		}
		if n--; n == 0 {
			return attrValue(a.Value), true
		}
	}
	return "", false
}

// ASN1Time prints a certificate date as HAProxy's ssl_c_notbefore and
// ssl_c_notafter: "YYMMDDhhmmssZ", for the dates of 1950–2099 (OpenSSL's
// UTCTime, and GeneralizedTime of this century without its "20").
func ASN1Time(t time.Time) (string, bool) {
	t = t.UTC()
	if t.Year() < 1950 || t.Year() > 2099 {
		return "", false
	}
	return t.Format("060102150405") + "Z", true
}

// SigAlgName is OpenSSL's short name of a certificate's signature
// algorithm ("RSA-SHA256", "ecdsa-with-SHA256"), as ssl_c_sig_alg.
func SigAlgName(a x509.SignatureAlgorithm) (string, bool) {
	n, ok := map[x509.SignatureAlgorithm]string{
		x509.MD5WithRSA: "RSA-MD5", x509.SHA1WithRSA: "RSA-SHA1", x509.SHA256WithRSA: "RSA-SHA256",
		x509.SHA384WithRSA: "RSA-SHA384", x509.SHA512WithRSA: "RSA-SHA512",
		x509.SHA256WithRSAPSS: "RSASSA-PSS", x509.SHA384WithRSAPSS: "RSASSA-PSS", x509.SHA512WithRSAPSS: "RSASSA-PSS",
		x509.ECDSAWithSHA1: "ecdsa-with-SHA1", x509.ECDSAWithSHA256: "ecdsa-with-SHA256",
		x509.ECDSAWithSHA384: "ecdsa-with-SHA384", x509.ECDSAWithSHA512: "ecdsa-with-SHA512",
		x509.DSAWithSHA1: "DSA-SHA1", x509.DSAWithSHA256: "dsa_with_SHA256", x509.PureEd25519: "ED25519",
	}[a]
	return n, ok
}

// KeyAlgName is OpenSSL's short name of a certificate's public key
// algorithm ("rsaEncryption", "id-ecPublicKey"), as ssl_c_key_alg.
func KeyAlgName(a x509.PublicKeyAlgorithm) (string, bool) {
	n, ok := map[x509.PublicKeyAlgorithm]string{
		x509.RSA: "rsaEncryption", x509.ECDSA: "id-ecPublicKey", x509.Ed25519: "ED25519", x509.DSA: "DSA",
	}[a]
	return n, ok
}
