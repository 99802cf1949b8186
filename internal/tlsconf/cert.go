package tlsconf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"

	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Cert is one certificate of a bind line as HAProxy loads it: a "crt"
// file, one file of a "crt" directory, the file of a crt-list line, or a
// multi-cert bundle (FILE.rsa, FILE.ecdsa named FILE).
type Cert struct {
	// Path is the file as named (a bundle's name has no key extension).
	Path string
	// Chains are the certificates with their keys: one, or one per key
	// type of a bundle (ECDSA first). Each Leaf is parsed.
	Chains []*tls.Certificate
	// Files are the files of Chains, one each, for a bundle (FILE.rsa,
	// FILE.ecdsa); nil = Path, for the one chain.
	Files []string
	// Names are the names the certificate answers for in SNI selection,
	// lower-cased: its SAN DNS names and its subject's CNs, as HAProxy
	// takes both; "*.example.com" is a wildcard.
	Names []string
}

// certExtras are the companions HAProxy's ssl-load-extra-files (default
// "all") looks for beside a certificate, and skips in a crt directory.
var certExtras = []string{".key", ".issuer", ".ocsp", ".sctl"}

// bundleExts are the key-type extensions of a multi-cert bundle, in the
// order HAProxy tries them.
var bundleExts = []string{".rsa", ".dsa", ".ecdsa"}

// statErr is HAProxy's wording of a stat error ("No such file or
// directory").
func statErr(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return err.Error()
}

// LoadCrt loads the argument of a "crt" keyword (path already prefixed by
// crt-base): a PEM file, a bundle, or a directory of them (every regular
// file, in byte order, skipping dotfiles and the companions .key,
// .issuer, .ocsp, .sctl). Warnings are about certificates that load but
// are expired or not yet valid (HAProxy accepts them silently).
func LoadCrt(path string, now time.Time) (certs []*Cert, warnings []string, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		if c, w, ok, berr := loadBundle(path, now); ok || berr != nil {
			if berr != nil {
				return nil, nil, berr
			}
			return []*Cert{c}, w, nil
		}
		return nil, nil, fmt.Errorf("unable to stat SSL certificate from file '%s' : %s.", path, statErr(err))
	}
	if !fi.IsDir() {
		c, w, err := LoadCertFile(path, now)
		if err != nil {
			return nil, nil, err
		}
		return []*Cert{c}, w, nil
	}
	dir := strings.TrimSuffix(path, "/")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("unable to scan directory '%s' : %s.", dir, statErr(err))
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	bundles := map[string]bool{}
	for _, n := range names {
		if strings.HasPrefix(n, ".") || hasSuffix(n, certExtras) {
			continue
		}
		p := dir + "/" + n
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if ext := filepath.Ext(n); hasSuffix(ext, bundleExts) {
			base := strings.TrimSuffix(p, ext)
			if bundles[base] {
				continue
			}
			bundles[base] = true
			c, w, _, err := loadBundle(base, now)
			if err != nil {
				return nil, nil, err
			}
			certs, warnings = append(certs, c), append(warnings, w...)
			continue
		}
		c, w, err := LoadCertFile(p, now)
		if err != nil {
			return nil, nil, err
		}
		certs, warnings = append(certs, c), append(warnings, w...)
	}
	return certs, warnings, nil
}

func hasSuffix(s string, exts []string) bool {
	for _, e := range exts {
		if strings.HasSuffix(s, e) {
			return true
		}
	}
	return false
}

// loadBundle loads path.rsa, path.dsa and path.ecdsa, those that exist, as
// one certificate; ok is false when none exists.
func loadBundle(path string, now time.Time) (c *Cert, warnings []string, ok bool, err error) {
	c = &Cert{Path: path}
	seen := map[string]bool{}
	for _, ext := range bundleExts {
		p := path + ext
		if _, err := os.Stat(p); err != nil {
			continue
		}
		ok = true
		one, w, err := LoadCertFile(p, now)
		if err != nil {
			return nil, nil, true, err
		}
		warnings = append(warnings, w...)
		c.Chains = append(c.Chains, one.Chains...)
		c.Files = append(c.Files, p)
		for _, n := range one.Names {
			if !seen[n] {
				seen[n] = true
				c.Names = append(c.Names, n)
			}
		}
	}
	if !ok {
		return nil, nil, false, nil
	}
	// ECDSA first: SelectChain prefers it when the client supports it.
	var ecd, other []int
	for i, ch := range c.Chains {
		if keyIsECDSA(ch) {
			ecd = append(ecd, i)
		} else {
			other = append(other, i)
		}
	}
	chains, files := c.Chains, c.Files
	c.Chains, c.Files = nil, nil
	for _, i := range append(ecd, other...) {
		c.Chains, c.Files = append(c.Chains, chains[i]), append(c.Files, files[i])
	}
	return c, warnings, true, nil
}

// LoadCertFile loads one PEM file with the certificate, its chain and
// normally its key; without a key in the file, the key comes from
// FILE.key. FILE.issuer (the issuer, for OCSP), FILE.ocsp (a DER OCSP
// response, stapled) and FILE.sctl (a SignedCertificateTimestampList,
// sent) are loaded when present, as HAProxy does by default. Other PEM
// blocks (DH parameters) are ignored: they only serve DHE suites, which
// crypto/tls never negotiates.
func LoadCertFile(path string, now time.Time) (*Cert, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("unable to load SSL certificate from file '%s' : %s.", path, statErr(err))
	}
	certs, key, err := readPEM(data)
	if err != nil {
		return nil, nil, fmt.Errorf("unable to load SSL private key from PEM file '%s' : %v.", path, err)
	}
	if len(certs) == 0 {
		return nil, nil, fmt.Errorf("unable to load certificate from file '%s'.", path)
	}
	if key == nil {
		if kd, err := os.ReadFile(path + ".key"); err == nil {
			var kerr error
			_, key, kerr = readPEM(kd)
			if kerr != nil {
				return nil, nil, fmt.Errorf("unable to load SSL private key from PEM file '%s.key' : %v.", path, kerr)
			}
		}
	}
	if key == nil {
		return nil, nil, fmt.Errorf("No Private Key found in '%s.key'.", path)
	}
	leaf := certs[0]
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(leaf.PublicKey) {
		return nil, nil, fmt.Errorf("inconsistencies between private key and certificate loaded '%s'.", path)
	}
	tc := &tls.Certificate{PrivateKey: servingKey(key), Leaf: leaf}
	for _, c := range certs {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	var issuer *x509.Certificate
	if len(certs) > 1 && certs[1].Subject.String() == leaf.Issuer.String() {
		issuer = certs[1]
	}
	if d, err := os.ReadFile(path + ".issuer"); err == nil {
		ic, _, _ := readPEM(d)
		if len(ic) == 0 {
			return nil, nil, fmt.Errorf("unable to load issuer from file '%s.issuer'.", path)
		}
		if issuer == nil {
			issuer = ic[0]
		}
	}
	if d, err := os.ReadFile(path + ".ocsp"); err == nil {
		if issuer == nil {
			return nil, nil, fmt.Errorf(" '%s.ocsp' is present and activates OCSP but it is impossible to compute the OCSP certificate ID (maybe the issuer could not be found)'.", path)
		}
		if err := checkOCSP(d); err != nil {
			return nil, nil, fmt.Errorf("'%s.ocsp' : %v", path, err)
		}
		tc.OCSPStaple = d
	}
	if d, err := os.ReadFile(path + ".sctl"); err == nil {
		scts, err := parseSCTList(d)
		if err != nil {
			return nil, nil, fmt.Errorf("'%s.sctl' : %v", path, err)
		}
		tc.SignedCertificateTimestamps = scts
	}
	var warnings []string
	switch {
	case now.After(leaf.NotAfter):
		warnings = append(warnings, fmt.Sprintf("certificate '%s' (%s) expired on %s.", path, leaf.Subject, leaf.NotAfter.UTC().Format(time.RFC3339)))
	case now.Before(leaf.NotBefore):
		warnings = append(warnings, fmt.Sprintf("certificate '%s' (%s) is not valid before %s.", path, leaf.Subject, leaf.NotBefore.UTC().Format(time.RFC3339)))
	}
	return &Cert{Path: path, Chains: []*tls.Certificate{tc}, Names: certNames(leaf)}, warnings, nil
}

// readPEM returns the certificates and the first private key of a PEM
// file.
func readPEM(data []byte) (certs []*x509.Certificate, key crypto.Signer, err error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return certs, key, nil
		}
		switch {
		case b.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, nil, err
			}
			certs = append(certs, c)
		case strings.HasSuffix(b.Type, "PRIVATE KEY") && key == nil:
			if b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "" {
				return nil, nil, fmt.Errorf("encrypted private keys are not supported by lb yet")
			}
			key, err = parseKey(b)
			if err != nil {
				return nil, nil, err
			}
		}
	}
}

func parseKey(b *pem.Block) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		switch k := k.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case *ecdsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		}
		return nil, fmt.Errorf("unsupported private key type")
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("unsupported or invalid private key (%s)", b.Type)
}

// certNames are the SNI names of a certificate: SAN DNS names, then CNs.
func certNames(c *x509.Certificate) []string {
	var out []string
	seen := map[string]bool{}
	add := func(n string) {
		n = strings.ToLower(n)
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, n := range c.DNSNames {
		add(n)
	}
	for _, atv := range c.Subject.Names {
		if atv.Type.Equal(asn1.ObjectIdentifier{2, 5, 4, 3}) {
			if s, ok := atv.Value.(string); ok {
				add(s)
			}
		}
	}
	return out
}

// checkOCSP checks that d is a DER OCSPResponse whose status is
// "successful" (HAProxy refuses others). The response's certificate ID is
// not matched against the certificate: a stale or foreign response is the
// client's to reject.
func checkOCSP(d []byte) error {
	var resp struct {
		Status asn1.Enumerated
		Rest   asn1.RawValue `asn1:"optional,explicit,tag:0"`
	}
	rest, err := asn1.Unmarshal(d, &resp)
	if err != nil || len(rest) != 0 {
		return fmt.Errorf("not a DER OCSP response")
	}
	if resp.Status != 0 {
		return fmt.Errorf("OCSP response status not successful")
	}
	return nil
}

// parseSCTList splits a TLS-encoded SignedCertificateTimestampList
// (RFC 6962 §3.3) into its SCTs.
func parseSCTList(d []byte) ([][]byte, error) {
	if len(d) < 2 || int(binary.BigEndian.Uint16(d)) != len(d)-2 {
		return nil, fmt.Errorf("invalid SignedCertificateTimestampList")
	}
	var out [][]byte
	for d = d[2:]; len(d) > 0; {
		if len(d) < 2 {
			return nil, fmt.Errorf("invalid SignedCertificateTimestampList")
		}
		n := int(binary.BigEndian.Uint16(d))
		if n == 0 || len(d) < 2+n {
			return nil, fmt.Errorf("invalid SignedCertificateTimestampList")
		}
		out = append(out, bytes.Clone(d[2:2+n]))
		d = d[2+n:]
	}
	return out, nil
}
