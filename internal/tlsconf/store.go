package tlsconf

import (
	"bytes"
	"crypto"
	"crypto/dsa"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Store is the process's certificates by file, as HAProxy's certificate
// store ("ckch store"): one entry per certificate file named in the
// configuration ("crt", a crt directory's files, crt-list lines, each file
// of a bundle), shared by every bind line that loaded it. The runtime API
// changes a file's certificate in a transaction (Set, then Commit or
// Abort); a commit replaces it in every bind line at once for the new
// handshakes, the established connections keeping theirs. Only one
// transaction exists at a time, as in HAProxy. Changes live in memory:
// a reload reads the files again.
//
// The store also holds the crt-lists (and "crt" directories) of the bind
// lines, which the runtime API lists and changes ("show|add|del ssl
// crt-list"), in every bind line that loaded them at once.
type Store struct {
	// Bases are the global crt-base and ca-base, which prefix the relative
	// paths given to "add ssl crt-list" (zero = none).
	Bases Bases

	// mu guards files, tx, lists and the bind lines' indexes (their
	// writers; handshakes read them with an atomic load).
	mu    sync.Mutex
	files map[string]*storeFile
	tx    *storeTx
	lists map[string]*crtList
	binds []*Bind // the built bind lines, in configuration order
}

// crtList is a crt-list file or a "crt" directory, as HAProxy keeps it.
type crtList struct {
	path    string
	dir     bool
	lines   int // the last line number given
	entries []listEntry
	binds   []*Bind // the bind lines that loaded it, in configuration order
}

// listEntry is one line of a crt-list, as "show ssl crt-list" prints it.
type listEntry struct {
	cert    string // the store's file
	line    int
	opts    string
	filters []string
}

// storeFile is one file of the store and the bind lines' entries that
// use it.
type storeFile struct {
	path string
	data *certData // nil: made empty by New, no certificate committed yet
	uses []certUse
}

// certUse is one use of a file: the chain of an entry of a built bind.
type certUse struct {
	srv          *server
	entry, chain int
}

// certData is a file's contents, HAProxy's cert_key_and_chain.
type certData struct {
	certs []*x509.Certificate // the certificate, then its chain
	key   crypto.Signer
	ocsp  []byte
	scts  [][]byte
}

// storeTx is the transaction in progress.
type storeTx struct {
	file *storeFile
	data *certData
}

// StoreError is a refusal, in HAProxy's words (ending with a newline).
type StoreError string

func (e StoreError) Error() string { return string(e) }

// PayloadError is a payload "set ssl cert" cannot load, in HAProxy's
// words (ending with a newline).
type PayloadError string

func (e PayloadError) Error() string { return string(e) }

// ErrStoreUnsupported is a form of a command lb does not carry out: a
// file's companion (".ocsp", ".issuer", ".sctl") set alone, or shown.
var ErrStoreUnsupported = errors.New("not supported by lb")

// NewStore makes the store of the bind lines, built (Build) beforehand.
func NewStore(binds []*Bind) *Store {
	s := &Store{files: map[string]*storeFile{}, lists: map[string]*crtList{}}
	for _, b := range binds {
		if b == nil || b.srv == nil {
			continue
		}
		s.binds = append(s.binds, b)
		ix := b.srv.idx.Load()
		for _, c := range ix.certs {
			for k, ch := range c.Chains {
				path := c.Path
				if k < len(c.Files) {
					path = c.Files[k]
				}
				if s.files[path] == nil {
					s.files[path] = &storeFile{path: path, data: dataOf(ch)}
				}
			}
		}
		for name, lf := range b.Lists {
			l := s.lists[name]
			if l == nil {
				l = &crtList{path: name, dir: lf.Dir, lines: lf.Lines}
				for i, e := range ix.entries {
					if e.List == name {
						l.entries = append(l.entries, listEntry{cert: ix.certs[i].Path, line: e.Line, opts: e.Opts, filters: e.Filters})
					}
				}
				s.lists[name] = l
			}
			if !slices.Contains(l.binds, b) {
				l.binds = append(l.binds, b)
			}
		}
	}
	s.reuseLocked()
	return s
}

// reuseLocked records again which entries of which bind lines use each
// file, after the entries changed. The caller must hold s.mu (or own s).
func (s *Store) reuseLocked() {
	for _, f := range s.files {
		f.uses = nil
	}
	for _, b := range s.binds {
		ix := b.srv.idx.Load()
		for i, c := range ix.certs {
			for k := range c.Chains {
				path := c.Path
				if k < len(c.Files) {
					path = c.Files[k]
				}
				if f := s.files[path]; f != nil {
					f.uses = append(f.uses, certUse{srv: b.srv, entry: i, chain: k})
				}
			}
		}
	}
}

func dataOf(ch *tls.Certificate) *certData {
	d := &certData{ocsp: ch.OCSPStaple, scts: ch.SignedCertificateTimestamps}
	d.key, _ = ch.PrivateKey.(crypto.Signer)
	for i, raw := range ch.Certificate {
		if i == 0 && ch.Leaf != nil {
			d.certs = append(d.certs, ch.Leaf)
			continue
		}
		if x, err := x509.ParseCertificate(raw); err == nil {
			d.certs = append(d.certs, x)
		}
	}
	return d
}

// List returns the files in byte order and the file of the transaction in
// progress ("" = none).
func (s *Store) List() (tx string, paths []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tx != nil {
		tx = s.tx.file.path
	}
	for p := range s.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return tx, paths
}

// storeExts are the extensions of "set ssl cert" that name one part of a
// file (HAProxy's cert_exts): the certificate alone (".crt") is loaded as
// the file itself, the key (".key") replaces the key; the others lb does
// not take at run time.
var storeExts = []string{"crt", "key", "ocsp", "issuer", "sctl"}

// Set is "set ssl cert <arg>" with payload: the file's certificate, chain
// and key (none when the payload has none), or with "<file>.key" its key
// alone, in a transaction, created or updated. path is the transaction's
// file.
func (s *Store) Set(arg string, payload []byte) (path string, created bool, err error) {
	name, ext := arg, ""
	if dot := strings.LastIndexByte(arg, '.'); dot >= 0 {
		for _, e := range storeExts {
			if arg[dot+1:] == e {
				name, ext = arg[:dot], e
				break
			}
		}
	}
	if ext == "ocsp" || ext == "issuer" || ext == "sctl" {
		return "", false, ErrStoreUnsupported
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var f *storeFile
	var base *certData
	if s.tx != nil {
		// HAProxy 2.6 applies the payload to the transaction in progress
		// whatever file is named (its check of the name is only made with
		// ssl-load-extra-del-ext): so does lb.
		f, base = s.tx.file, s.tx.data
	} else if f = s.files[name]; f != nil {
		base = f.data
	}
	if f == nil {
		return "", false, StoreError("Can't replace a certificate which is not referenced by the configuration!\n")
	}
	var nd certData
	if base != nil {
		nd = *base
	}
	certs, key, perr := readPEM(payload)
	switch ext {
	case "key":
		if perr != nil || key == nil {
			return "", false, PayloadError(fmt.Sprintf("unable to load private key from file '%s'.\n", name))
		}
		nd.key = key
	default:
		if perr != nil || len(certs) == 0 {
			return "", false, PayloadError(fmt.Sprintf("unable to load certificate from file '%s'.\n", name))
		}
		if base == nil || len(base.certs) == 0 || !bytes.Equal(certs[0].Raw, base.certs[0].Raw) {
			// The OCSP response was for the certificate replaced (HAProxy
			// would refuse it when committing): lb drops it.
			nd.ocsp = nil
		}
		// The key too: a payload without one leaves the transaction
		// without a key (HAProxy 2.6), until a "<file>.key" payload.
		nd.certs, nd.key = certs, key
	}
	created = s.tx == nil
	if created {
		s.tx = &storeTx{file: f}
	}
	s.tx.data = &nd
	return f.path, created, nil
}

// New is "new ssl cert <path>": an empty file in the store, which "set ssl
// cert" and "commit ssl cert" can fill; no bind line uses it.
func (s *Store) New(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files[path] != nil {
		return StoreError(fmt.Sprintf("Certificate '%s' already exists!\n", path))
	}
	s.files[path] = &storeFile{path: path}
	return nil
}

// Delete is "del ssl cert <path>": only a file no bind line uses, and
// without a transaction, leaves the store.
func (s *Store) Delete(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tx != nil && s.tx.file.path == path {
		return StoreError(fmt.Sprintf("Can't remove the certificate: ongoing transaction for the certificate '%s'\n", path))
	}
	f := s.files[path]
	switch {
	case f == nil:
		return StoreError(fmt.Sprintf("Can't remove the certificate: certificate '%s' doesn't exist!\n\n", path))
	case len(f.uses) > 0:
		return StoreError(fmt.Sprintf("Can't remove the certificate: certificate '%s' in use, can't be deleted!\n\n", path))
	}
	delete(s.files, path)
	return nil
}

// Abort is "abort ssl cert <path>".
func (s *Store) Abort(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tx == nil {
		return StoreError("No ongoing transaction!\n")
	}
	if s.tx.file.path != path {
		return StoreError(fmt.Sprintf("The ongoing transaction is about '%s' but you are trying to abort a transaction for '%s'\n", s.tx.file.path, path))
	}
	s.tx = nil
	return nil
}

// Commit is "commit ssl cert <path>": the transaction's certificate
// replaces the file's in every entry that uses it, and the SNI names of
// those entries without crt-list filters become the new certificate's,
// as HAProxy rebuilds its instances. It returns the number of entries
// (HAProxy's instances, one dot each in its answer).
func (s *Store) Commit(path string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tx == nil {
		return 0, StoreError("No ongoing transaction! !\n")
	}
	if s.tx.file.path != path {
		return 0, StoreError(fmt.Sprintf("The ongoing transaction is about '%s' but you are trying to set '%s'\n", s.tx.file.path, path))
	}
	d, f := s.tx.data, s.tx.file
	if d.key == nil || len(d.certs) == 0 {
		return 0, StoreError("The transaction must contain at least a certificate and a private key!\n")
	}
	if pub, ok := d.key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(d.certs[0].PublicKey) {
		return 0, StoreError(fmt.Sprintf("inconsistencies between private key and certificate loaded '%s'.\n", path))
	}
	tc := d.chain()
	// Per bind line, one new index with every entry of the file replaced.
	var order []*server
	byServer := map[*server][]certUse{}
	for _, u := range f.uses {
		if byServer[u.srv] == nil {
			order = append(order, u.srv)
		}
		byServer[u.srv] = append(byServer[u.srv], u)
	}
	for _, srv := range order {
		old := srv.idx.Load()
		certs := append([]*Cert(nil), old.certs...)
		for _, u := range byServer[srv] {
			c := *certs[u.entry]
			c.Chains = append([]*tls.Certificate(nil), c.Chains...)
			c.Chains[u.chain] = tc
			c.Names = chainNames(c.Chains)
			certs[u.entry] = &c
		}
		srv.idx.Store(index(old.entries, old.confs, certs))
	}
	f.data = d
	s.tx = nil
	return len(f.uses), nil
}

// chain is d as crypto/tls serves it.
func (d *certData) chain() *tls.Certificate {
	tc := &tls.Certificate{PrivateKey: servingKey(d.key), Leaf: d.certs[0], OCSPStaple: d.ocsp, SignedCertificateTimestamps: d.scts}
	for _, c := range d.certs {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return tc
}

// chainNames are the names of a certificate's chains, each once.
func chainNames(chains []*tls.Certificate) []string {
	var names []string
	seen := map[string]bool{}
	for _, ch := range chains {
		for _, n := range certNames(ch.Leaf) {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	return names
}

// Detail is "show ssl cert <arg>" of a file, or of the transaction's with
// "*<file>", in HAProxy's layout; ok is false when there is none.
func (s *Store) Detail(arg string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var d *certData
	name, status := arg, "Used"
	if rest, ok := strings.CutPrefix(arg, "*"); ok {
		if s.tx == nil || s.tx.file.path != rest {
			return "", false
		}
		d, status = s.tx.data, "Unused"
	} else {
		f := s.files[arg]
		if f == nil {
			return "", false
		}
		d = f.data
		if len(f.uses) == 0 {
			status = "Unused"
		}
	}
	var b strings.Builder
	if d == nil || len(d.certs) == 0 {
		fmt.Fprintf(&b, "Filename: %s\nStatus: Empty\nOCSP Response Key: \n", name)
		return b.String(), true
	}
	fmt.Fprintf(&b, "Filename: %s\nStatus: %s\n", name, status)
	writeCertDetail(&b, d.certs[0], d.certs[1:])
	fmt.Fprintf(&b, "OCSP Response Key: %x\n", ocspCertID(d.ocsp))
	return b.String(), true
}

// writeCertDetail is HAProxy's show_cert_detail.
func writeCertDetail(b *strings.Builder, c *x509.Certificate, chain []*x509.Certificate) {
	serial := c.SerialNumber.Bytes()
	if len(serial) == 0 {
		serial = []byte{0}
	}
	fmt.Fprintf(b, "Serial: %X\n", serial)
	fmt.Fprintf(b, "notBefore: %s\n", asn1TimePrint(c.NotBefore))
	fmt.Fprintf(b, "notAfter: %s\n", asn1TimePrint(c.NotAfter))
	fmt.Fprintf(b, "Subject Alternative Name: %s\n", sanOneLine(c))
	b.WriteString("Algorithm: ")
	var algo string
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		algo = fmt.Sprintf("RSA%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		algo = fmt.Sprintf("EC%d", k.Curve.Params().N.BitLen())
	case *dsa.PublicKey:
		algo = fmt.Sprintf("DSA%d", k.P.BitLen())
	default:
		// HAProxy stops there (its cert_get_pkey_algo knows no other).
		return
	}
	b.WriteString(algo + "\n")
	fmt.Fprintf(b, "SHA1 FingerPrint: %X\n", sha1.Sum(c.Raw))
	dn := func(raw []byte) string { s, _ := DNOneLine(raw); return s }
	fmt.Fprintf(b, "Subject: %s\nIssuer: %s\n", dn(c.RawSubject), dn(c.RawIssuer))
	for _, x := range chain {
		fmt.Fprintf(b, "Chain Subject: %s\nChain Issuer: %s\n", dn(x.RawSubject), dn(x.RawIssuer))
	}
}

// asn1TimePrint is OpenSSL's ASN1_TIME_print: "Nov  3 07:46:29 2026 GMT".
func asn1TimePrint(t time.Time) string {
	return t.UTC().Format("Jan _2 15:04:05 2006") + " GMT"
}

// sanOneLine is HAProxy's ssl_sock_get_san_oneline: the DNS names of the
// subjectAltName, ", " between every two names of any type (the others
// print nothing).
func sanOneLine(c *x509.Certificate) string {
	var b strings.Builder
	for _, e := range c.Extensions {
		if !e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
			continue
		}
		var seq asn1.RawValue
		if rest, err := asn1.Unmarshal(e.Value, &seq); err != nil || len(rest) != 0 {
			return ""
		}
		for i, rest := 0, seq.Bytes; len(rest) > 0; i++ {
			var gn asn1.RawValue
			var err error
			if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			if gn.Class == asn1.ClassContextSpecific && gn.Tag == 2 {
				b.WriteString("DNS:" + string(gn.Bytes))
			}
		}
	}
	return b.String()
}

// ocspCertID is the DER CertID of the first response of an OCSP
// response (nil when none), HAProxy's OCSP response key.
func ocspCertID(resp []byte) []byte {
	var r struct {
		Status asn1.Enumerated
		Bytes  struct {
			Type     asn1.ObjectIdentifier
			Response []byte
		} `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(resp, &r); err != nil {
		return nil
	}
	var basic struct {
		TBS  asn1.RawValue
		Rest asn1.RawContent
	}
	if _, err := asn1.Unmarshal(r.Bytes.Response, &basic); err != nil {
		return nil
	}
	// ResponseData: [0] version, responderID, producedAt, responses.
	rest := basic.TBS.Bytes
	for len(rest) > 0 {
		var v asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &v); err != nil {
			return nil
		}
		if v.Class == asn1.ClassUniversal && v.Tag == asn1.TagSequence {
			// responses: SEQUENCE OF SingleResponse; its first field is the CertID.
			var single, certID asn1.RawValue
			if _, err := asn1.Unmarshal(v.Bytes, &single); err != nil {
				return nil
			}
			if _, err := asn1.Unmarshal(single.Bytes, &certID); err != nil {
				return nil
			}
			return certID.FullBytes
		}
	}
	return nil
}
