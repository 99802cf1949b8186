package tlsconf

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"
)

// This file builds the client side of TLS: what a server line's "ssl"
// and its keywords (and the global ssl-default-server-* lines) ask of the
// connections to the server and of its health checks.

// versions are the protocol versions HAProxy's methodVersions table lists,
// in order; index i is bit 1<<i of Methods.No.
var versions = [...]struct {
	v    uint16
	name string
	// ok: crypto/tls implements it (SSLv3 it does not, and neither does
	// the OpenSSL of current distributions).
	ok bool
}{
	{0x0300, "SSLv3", false},
	{tls.VersionTLS10, "TLSv1.0", true},
	{tls.VersionTLS11, "TLSv1.1", true},
	{tls.VersionTLS12, "TLSv1.2", true},
	{tls.VersionTLS13, "TLSv1.3", true},
}

// VersionID reads a version as ssl-min-ver and ssl-max-ver name it
// ("SSLv3", "TLSv1.0" … "TLSv1.3") into its protocol number.
func VersionID(name string) (uint16, bool) {
	for _, v := range versions {
		if v.name == name {
			return v.v, true
		}
	}
	return 0, false
}

// VersionBit is the bit of Methods.No that disables version v
// ("no-tlsv11" is VersionBit(tls.VersionTLS11)); 0 for an unknown version.
func VersionBit(v uint16) uint8 {
	for i, x := range versions {
		if x.v == v {
			return 1 << i
		}
	}
	return 0
}

// Methods is the protocol-version part of the keywords: "no-sslv3",
// "no-tlsv1x" (No), "ssl-min-ver" and "ssl-max-ver" (Min, Max), and
// "force-*", which sets both Min and Max.
type Methods struct {
	No       uint8
	Min, Max uint16
}

// Range resolves m as HAProxy 2.6 does (ssl_sock_prepare_srv_ctx): the
// no-* flags are ignored when a bound is set (IgnoredNo); the versions
// left are those of the flags and the bounds that the library implements;
// a disabled version between two enabled ones (Hole, reported by HAProxy
// with a warning) is not disabled, as OpenSSL only takes a range. ok is
// false when no version is left.
func (m Methods) Range() (min, max uint16, ignoredNo bool, hole string, ok bool) {
	flags := m.No
	if m.No != 0 && (m.Min != 0 || m.Max != 0) {
		ignoredNo, flags = true, 0
	}
	if b := VersionBit(m.Min); b != 0 {
		flags |= b - 1
	}
	if b := VersionBit(m.Max); b != 0 {
		flags |= ^(b<<1 - 1)
	}
	holeAt := -1
	for i, v := range versions {
		if v.ok && flags&(1<<i) == 0 {
			if min != 0 {
				if holeAt >= 0 {
					hole = versions[holeAt].name
					holeAt = -1
				}
				max = v.v
			} else {
				min, max = v.v, v.v
			}
		} else if min != 0 {
			holeAt = i
		}
	}
	return min, max, ignoredNo, hole, min != 0
}

// CipherError is a "ciphers" element lb cannot map onto crypto/tls: a
// keyword or an operator of OpenSSL's cipher string language ("HIGH",
// "ECDHE+AESGCM", "!aNULL", "@STRENGTH").
type CipherError struct{ Element string }

func (e *CipherError) Error() string {
	return fmt.Sprintf("cipher string element '%s' is not supported by lb yet (lb reads lists of OpenSSL suite names)", e.Element)
}

// ErrNoCipher is a cipher list of which no suite is left.
var ErrNoCipher = errors.New("no cipher suite left")

// CipherSuites13 reads a TLS 1.3 suite list ("ciphersuites"). all is true
// when it names every TLS 1.3 suite crypto/tls implements, which is what
// crypto/tls offers whatever its configuration: crypto/tls does not let
// its TLS 1.3 suites be chosen, so a list naming only some of them cannot
// be carried out. Names crypto/tls lacks are returned in missing; a list
// naming none it has is ErrNoCipher.
func CipherSuites13(s string) (all bool, missing []string, err error) {
	seen := map[uint16]bool{}
	for _, el := range splitList(s) {
		if id, tls13, ok := CipherID(el); ok && tls13 {
			seen[id] = true
			continue
		}
		if !isSuiteName(strings.ReplaceAll(el, "_", "-")) {
			return false, nil, &CipherError{Element: el}
		}
		missing = append(missing, el)
	}
	if len(seen) == 0 {
		return false, missing, ErrNoCipher
	}
	n := 0
	for i := range suites {
		if suites[i].tls13 {
			n++
		}
	}
	return len(seen) == n, missing, nil
}

// splitList splits an OpenSSL list on its separators (':', ',', ' ').
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == ',' || r == ' ' })
}

// isSuiteName reports whether el has the shape of an OpenSSL suite name
// (upper-case words joined by '-'), not of a keyword or an operator.
func isSuiteName(el string) bool {
	if !strings.Contains(el, "-") || strings.HasPrefix(el, "-") || strings.HasSuffix(el, "-") {
		return false
	}
	for _, c := range el {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ParseALPN reads a comma-delimited protocol list ("h2,http/1.1").
func ParseALPN(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p == "" || len(p) > 255 {
			return nil, fmt.Errorf("invalid protocol name '%s'", p)
		}
		out = append(out, p)
	}
	return out, nil
}

// SystemCA is the ca-file name of the system's trusted CAs.
const SystemCA = "@system-ca"

// LoadCAPool reads the certificates of a PEM file into a pool, as a
// server's "ca-file" does; SystemCA is the system's pool. The error is
// HAProxy's words.
func LoadCAPool(path string) (*x509.CertPool, error) {
	if path == SystemCA {
		pool, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("Couldn't open the ca-file '%s' (%v).", path, err)
		}
		return pool, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("Couldn't open the ca-file '%s' (%s).", path, strerror(err))
	}
	pool := x509.NewCertPool()
	n := 0
	for _, b := range pemBlocks(data, "CERTIFICATE") {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, fmt.Errorf("Couldn't open the ca-file '%s' (%v).", path, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("Couldn't open the ca-file '%s' (no certificate or crl found).", path)
	}
	return pool, nil
}

// LoadCRLFile reads the CRLs of a PEM file ("crl-file"). Certificates in
// the file are not read: HAProxy would trust them as CAs too; lb trusts
// only those of ca-file. The error is HAProxy's words, which name the
// file a ca-file.
func LoadCRLFile(path string) ([]*x509.RevocationList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("Couldn't open the ca-file '%s' (%s).", path, strerror(err))
	}
	var out []*x509.RevocationList
	for _, b := range pemBlocks(data, "X509 CRL") {
		crl, err := x509.ParseRevocationList(b)
		if err != nil {
			return nil, fmt.Errorf("Couldn't open the ca-file '%s' (%v).", path, err)
		}
		out = append(out, crl)
	}
	if len(out) == 0 && len(pemBlocks(data, "CERTIFICATE")) == 0 {
		return nil, fmt.Errorf("Couldn't open the ca-file '%s' (no certificate or crl found).", path)
	}
	return out, nil
}

// LoadClientCert reads a PEM file holding a certificate (and its chain)
// and its private key, as a server line's "crt"; without a key in the
// file, the key is read from the same path suffixed with ".key", as
// HAProxy does by default. The error is HAProxy's words.
func LoadClientCert(path string) (tls.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("unable to stat SSL certificate from file '%s' : %s.", path, strerror(err))
	}
	certs := pemBlocks(data, "CERTIFICATE")
	if len(certs) == 0 {
		return tls.Certificate{}, fmt.Errorf("unable to load certificate from file '%s'.", path)
	}
	keyPEM, keyFile := data, path
	if !hasKey(data) {
		keyFile = path + ".key"
		keyPEM, err = os.ReadFile(keyFile)
		if err != nil || !hasKey(keyPEM) {
			return tls.Certificate{}, fmt.Errorf("No Private Key found in '%s'.", keyFile)
		}
	}
	var certPEM []byte
	for _, c := range certs {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})...)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return tls.Certificate{}, fmt.Errorf("inconsistencies between private key and certificate loaded '%s'.", path)
		}
		return tls.Certificate{}, fmt.Errorf("unable to load SSL private key from file '%s'.", keyFile)
	}
	if k, ok := cert.PrivateKey.(crypto.Signer); ok {
		cert.PrivateKey = servingKey(k)
	}
	return cert, nil
}

func hasKey(data []byte) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			return true
		}
	}
}

// pemBlocks returns the DER bytes of the blocks of type typ.
func pemBlocks(data []byte, typ string) [][]byte {
	var out [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		if b.Type == typ {
			out = append(out, b.Bytes)
		}
	}
}

// strerror is the C library's text of a file error ("No such file or
// directory").
func strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	if errors.Is(err, fs.ErrNotExist) {
		return "No such file or directory"
	}
	return err.Error()
}

// ServerOptions are the settings of a server line's TLS.
type ServerOptions struct {
	// Verify is "verify required": the server's chain must verify against
	// Roots, pass CRLs, and match the expected name (see VerifyServer).
	Verify bool
	Roots  *x509.CertPool
	CRLs   []*x509.RevocationList
	// VerifyHost is "verifyhost" ("" = none).
	VerifyHost string
	// Certificate is "crt": the client certificate (nil = none).
	Certificate *tls.Certificate
	// CipherSuites are the TLS 1.0–1.2 suites of "ciphers" (nil = the
	// library's defaults).
	CipherSuites []uint16
	// MinVersion and MaxVersion bound the protocol (0 = the library's
	// defaults).
	MinVersion, MaxVersion uint16
	// ALPN is "alpn" (nil = no ALPN extension).
	ALPN []string
	// NoReuse is "no-ssl-reuse": no session cache, every connection makes
	// a full handshake. NoTickets is "no-tls-tickets": crypto/tls resumes
	// sessions by tickets only, so it too disables resumption.
	NoReuse, NoTickets bool
}

// ClientConfig returns the client-side configuration of o. Its ServerName
// is empty: whoever dials sets it, on a clone, to the name to send in the
// SNI extension. It carries its own session cache unless resumption is
// disabled, shared by its clones.
//
// Verification is done by VerifyConnection, with InsecureSkipVerify set,
// because HAProxy's rules differ from crypto/tls's: the name checked is
// the SNI sent, else "verifyhost", else none (the chain alone), whereas
// crypto/tls checks ServerName, which is also the SNI sent, and nothing
// else; HAProxy also accepts a certificate's common name when no
// subjectAltName matches, which crypto/tls no longer does; and the CRLs
// are checked for every certificate of the chain.
func ClientConfig(o ServerOptions) *tls.Config {
	c := &tls.Config{
		InsecureSkipVerify:     true,
		CipherSuites:           o.CipherSuites,
		MinVersion:             o.MinVersion,
		MaxVersion:             o.MaxVersion,
		NextProtos:             o.ALPN,
		SessionTicketsDisabled: o.NoTickets || o.NoReuse,
	}
	if o.Certificate != nil {
		c.Certificates = []tls.Certificate{*o.Certificate}
	}
	if !o.NoReuse && !o.NoTickets {
		c.ClientSessionCache = tls.NewLRUClientSessionCache(0)
	}
	if o.Verify {
		c.VerifyConnection = VerifyServer(o.Roots, o.CRLs, o.VerifyHost)
	}
	return c
}

// HostError is a server certificate that does not match the expected
// name. FromSNI tells whether the name was the SNI sent (else it was
// "verifyhost"): HAProxy's health checks word the two differently.
type HostError struct {
	Name    string
	FromSNI bool
}

func (e *HostError) Error() string {
	return fmt.Sprintf("server certificate is not valid for '%s'", e.Name)
}

// CheckInfo is HAProxy's info text of a failed TLS handshake of a health
// check: "Server presented an SSL certificate different from the
// expected one" (SNI) or "… configured one" (verifyhost) for a name
// mismatch, else "SSL handshake failure".
func CheckInfo(err error) string {
	var he *HostError
	if errors.As(err, &he) {
		if he.FromSNI {
			return "Server presented an SSL certificate different from the expected one"
		}
		return "Server presented an SSL certificate different from the configured one"
	}
	return "SSL handshake failure"
}

// VerifyServer returns the VerifyConnection of "verify required", as
// HAProxy's ssl_sock_srv_verifycbk: the chain the server sent must verify
// against roots (for server authentication), no certificate of it may be
// revoked by crls (when crls is not nil, every certificate needs a CRL
// from its issuer, as OpenSSL's X509_V_FLAG_CRL_CHECK_ALL), and the leaf
// must match the name sent in the SNI extension, or verifyHost when none
// was sent, or any name when there is neither.
func VerifyServer(roots *x509.CertPool, crls []*x509.RevocationList, verifyHost string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("server presented no certificate")
		}
		leaf := cs.PeerCertificates[0]
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if roots == nil {
			roots = x509.NewCertPool()
		}
		chains, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if err != nil {
			return err
		}
		if crls != nil {
			if err := checkCRLs(chains, crls, time.Now()); err != nil {
				return err
			}
		}
		name, fromSNI := cs.ServerName, true
		if name == "" {
			name, fromSNI = verifyHost, false
		}
		if name != "" && !MatchesHost(leaf, name) {
			return &HostError{Name: name, FromSNI: fromSNI}
		}
		return nil
	}
}

// checkCRLs accepts the first chain whose every certificate has a valid,
// current CRL from its issuer that does not list it.
func checkCRLs(chains [][]*x509.Certificate, crls []*x509.RevocationList, now time.Time) error {
	var err error
	for _, chain := range chains {
		if err = checkChainCRL(chain, crls, now); err == nil {
			return nil
		}
	}
	return err
}

func checkChainCRL(chain []*x509.Certificate, crls []*x509.RevocationList, now time.Time) error {
	for i, c := range chain {
		issuer := c
		if i+1 < len(chain) {
			issuer = chain[i+1]
		}
		var found *x509.RevocationList
		for _, crl := range crls {
			if bytes.Equal(crl.RawIssuer, c.RawIssuer) && crl.CheckSignatureFrom(issuer) == nil {
				found = crl
				break
			}
		}
		if found == nil {
			return fmt.Errorf("unable to get certificate CRL for '%s'", c.Subject)
		}
		if !found.NextUpdate.IsZero() && now.After(found.NextUpdate) {
			return errors.New("CRL has expired")
		}
		for _, r := range found.RevokedCertificateEntries {
			if r.SerialNumber.Cmp(c.SerialNumber) == 0 {
				return fmt.Errorf("certificate revoked: '%s'", c.Subject)
			}
		}
	}
	return nil
}

// MatchesHost reports whether the certificate is valid for host as
// HAProxy checks it: one of its DNS subjectAltNames, or else one of its
// subject's common names, matches host (ssl_sock_srv_hostcheck).
func MatchesHost(c *x509.Certificate, host string) bool {
	for _, n := range c.DNSNames {
		if HostMatch(n, host) {
			return true
		}
	}
	for _, n := range c.Subject.Names {
		if n.Type.Equal(oidCommonName) {
			if s, ok := n.Value.(string); ok && HostMatch(s, host) {
				return true
			}
		}
	}
	return false
}

// HostMatch is HAProxy's ssl_sock_srv_hostcheck (RFC 6125 §6.4.3): a
// case-insensitive match, or one wildcard in the left-most label of
// pattern, which matches at least one character of hostname's left-most
// label, the other labels being equal.
func HostMatch(pattern, hostname string) bool {
	if strings.EqualFold(pattern, hostname) {
		return true
	}
	dot := strings.IndexByte(pattern, '.')
	if dot < 0 {
		return false
	}
	left := pattern[:dot]
	star := strings.IndexByte(left, '*')
	if star < 0 || strings.Count(left, "*") > 1 {
		return false
	}
	hdot := strings.IndexByte(hostname, '.')
	if hdot < 0 || !strings.EqualFold(pattern[dot:], hostname[hdot:]) {
		return false
	}
	if hdot < dot-1 {
		return false
	}
	prefix, suffix := left[:star], left[star+1:]
	hl := hostname[:hdot]
	return strings.EqualFold(hl[:len(prefix)], prefix) && strings.EqualFold(hl[len(hl)-len(suffix):], suffix)
}
