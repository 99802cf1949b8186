package tlsconf

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Refused is a keyword lb knows and does not carry out: the caller
// reports it as "'KEYWORD' is not supported by lb yet".
type Refused struct{ Keyword string }

func (r *Refused) Error() string { return fmt.Sprintf("'%s' is not supported by lb yet", r.Keyword) }

// Bases are the global crt-base and ca-base prefixes of relative paths.
type Bases struct{ Crt, CA string }

// CrtPath prefixes a relative certificate path with crt-base.
func (b Bases) CrtPath(p string) string { return prefix(b.Crt, p) }

// CAPath prefixes a relative ca-file/crl-file path with ca-base.
func (b Bases) CAPath(p string) string { return prefix(b.CA, p) }

func prefix(base, p string) string {
	if base == "" || strings.HasPrefix(p, "/") {
		return p
	}
	return strings.TrimSuffix(base, "/") + "/" + p
}

// LoadCrtList reads a "crt-list" file: one certificate per line,
// "<crtfile> [[<sslbindconf> ...]] [[!]<snifilter> ...]"; lines starting
// with '#' and empty lines are skipped. Each line's certificate loads as
// with "crt" (a file or a bundle). The [sslbindconf] options are those
// of ParseSSLBindConf. Each entry records the list and its line; lines
// is the number of lines read, after which "add ssl crt-list" numbers
// its entries, as HAProxy.
func LoadCrtList(path string, bases Bases, now time.Time) (entries []Entry, lines int, warnings []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("'crt-list' : cannot open file '%s' : %s", path, statErr(err))
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		crt, e, err := ParseCrtListLine(line, bases)
		if err != nil {
			var r *Refused
			if errors.As(err, &r) {
				return nil, 0, nil, err
			}
			return nil, 0, nil, fmt.Errorf("'crt-list' : parsing [%s:%d]: %v", path, n, err)
		}
		if crt == "" {
			continue
		}
		e.List, e.Line = path, n
		c, w, err := loadCrtListCert(crt, now)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("'crt-list' : %v", err)
		}
		e.Cert = c
		warnings = append(warnings, w...)
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, nil, fmt.Errorf("'crt-list' : cannot read file '%s' : %v", path, err)
	}
	return entries, n, warnings, nil
}

// LineError is an error in the layout of a crt-list line, which HAProxy
// reports with the line's position ("parsing [file:line]: ...").
type LineError string

func (e LineError) Error() string { return string(e) }

// ParseCrtListLine parses one crt-list line: its certificate (crt-base
// prefixed; "" for a blank line), and the entry's filters, settings and
// their reprint (Opts); the entry's Cert is left to the caller.
func ParseCrtListLine(line string, bases Bases) (crt string, e Entry, err error) {
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return "", e, nil
	}
	if strings.HasPrefix(fields[0], "[") {
		return "", e, LineError("file must start with a cert")
	}
	crt = bases.CrtPath(fields[0])
	rest := fields[1:]
	if len(rest) > 0 && strings.HasPrefix(rest[0], "[") {
		// The options run to the word ending in ']'.
		joined := strings.Join(rest, " ")
		end := strings.IndexByte(joined, ']')
		if end < 0 {
			return "", e, LineError("missing ']'")
		}
		opts := strings.Fields(joined[1:end])
		rest = strings.Fields(joined[end+1:])
		conf, err := ParseSSLBindConf(opts, bases)
		if err != nil {
			return "", e, err
		}
		e.Opts = conf.reprint()
		if len(opts) > 0 {
			e.Conf = conf
		}
	}
	e.Filters = rest
	return crt, e, nil
}

// reprint is HAProxy's dump_crtlist_sslconf: the options in its order,
// " [...]". Its ALPN list is followed by a NUL byte, as HAProxy 2.6
// writes it.
func (s *Settings) reprint() string {
	var w []string
	switch {
	case s.NoALPN:
		w = append(w, "no-alpn")
	case s.ALPN != nil:
		w = append(w, "alpn "+strings.Join(s.ALPN, ",")+"\x00")
	}
	if s.Verify != "" {
		w = append(w, "verify "+s.Verify)
	}
	if s.NoCANames {
		w = append(w, "no-ca-names")
	}
	for _, kv := range []struct{ k, v string }{
		{"ca-file", caPath(s.CA)}, {"crl-file", caPath(s.CRL)}, {"ciphers", s.Ciphers},
		{"ciphersuites", s.Ciphersuites}, {"curves", s.Curves}, {"ecdhe", s.Ecdhe},
	} {
		if kv.v != "" {
			w = append(w, kv.k+" "+kv.v)
		}
	}
	if s.MinVer != 0 {
		w = append(w, "ssl-min-ver "+versionWords[s.MinVer])
	}
	if s.MaxVer != 0 {
		w = append(w, "ssl-max-ver "+versionWords[s.MaxVer])
	}
	return " [" + strings.Join(w, " ") + "]"
}

func caPath(f *CAFile) string {
	if f == nil {
		return ""
	}
	return f.Path
}

func loadCrtListCert(path string, now time.Time) (*Cert, []string, error) {
	if _, err := os.Stat(path); err != nil {
		if c, w, ok, berr := loadBundle(path, now); ok || berr != nil {
			return c, w, berr
		}
		return nil, nil, fmt.Errorf("unable to stat SSL certificate from file '%s' : %s.", path, statErr(err))
	}
	return LoadCertFile(path, now)
}

// SSLBindConfArgs are the [sslbindconf] keywords of a crt-list line with
// their argument counts; npn and allow-0rtt are known and refused.
// HAProxy 2.6 has no "no-alpn" there: an unknown ssl keyword.
var SSLBindConfArgs = map[string]int{
	"alpn": 1, "ca-file": 1, "ciphers": 1, "ciphersuites": 1, "crl-file": 1, "curves": 1,
	"ecdhe": 1, "no-ca-names": 0, "ssl-min-ver": 1, "ssl-max-ver": 1, "verify": 1,
	"npn": 1, "allow-0rtt": 0,
}

// ParseSSLBindConf parses a crt-list line's options.
func ParseSSLBindConf(args []string, bases Bases) (*Settings, error) {
	s := &Settings{}
	for i := 0; i < len(args); i++ {
		kw := args[i]
		n, ok := SSLBindConfArgs[kw]
		if !ok {
			return nil, LineError(fmt.Sprintf("unknown ssl keyword %s", kw))
		}
		if kw == "npn" || kw == "allow-0rtt" {
			return nil, &Refused{Keyword: kw}
		}
		if i+n >= len(args) {
			return nil, LineError(fmt.Sprintf("ssl args out of '[]' for %s", kw))
		}
		if err := s.Set(kw, args[i+1:i+1+n], bases); err != nil {
			return nil, err
		}
		i += n
	}
	return s, nil
}

// Set applies one keyword shared by bind lines and crt-list lines:
// alpn, no-alpn, ca-file, crl-file, verify, no-ca-names, ciphers,
// ciphersuites, curves, ecdhe, ssl-min-ver, ssl-max-ver. Files load now;
// strings are checked by Build.
func (s *Settings) Set(kw string, v []string, bases Bases) error {
	switch kw {
	case "alpn":
		s.ALPN = []string{}
		for _, p := range strings.Split(v[0], ",") {
			if p == "" || len(p) > 255 {
				return fmt.Errorf("'alpn' : ALPN protocol name too long or empty in '%s'", v[0])
			}
			s.ALPN = append(s.ALPN, p)
		}
		s.NoALPN = false
	case "no-alpn":
		s.ALPN, s.NoALPN = nil, true
	case "ca-file", "crl-file":
		f, err := LoadCAFile(bases.CAPath(v[0]))
		if err != nil {
			return fmt.Errorf("'%s' : %v", kw, err)
		}
		if kw == "ca-file" {
			s.CA = f
		} else {
			s.CRL = f
		}
	case "verify":
		switch v[0] {
		case "none", "optional", "required":
			s.Verify = v[0]
		default:
			return fmt.Errorf("'verify' : unknown verify method '%s', only 'none', 'optional', and 'required' are supported", v[0])
		}
	case "no-ca-names":
		s.NoCANames = true
	case "ciphers":
		s.Ciphers = v[0]
	case "ciphersuites":
		s.Ciphersuites = v[0]
	case "curves":
		s.Curves = v[0]
	case "ecdhe":
		s.Ecdhe = v[0]
	case "ssl-min-ver", "ssl-max-ver":
		x, ok := ParseVersion(v[0])
		if !ok {
			return fmt.Errorf("'%s' : unknown ssl/tls version", v[0])
		}
		if kw == "ssl-min-ver" {
			s.MinVer = x
		} else {
			s.MaxVer = x
		}
	default:
		return fmt.Errorf("unknown ssl keyword %s", kw)
	}
	return nil
}
