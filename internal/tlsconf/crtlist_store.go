package tlsconf

import (
	"crypto/tls"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// CrtLists returns the names of the crt-lists and "crt" directories, in
// byte order ("show ssl crt-list").
func (s *Store) CrtLists() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n := range s.lists {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ShowCrtList is "show ssl crt-list [-n] <name>": the list's entries in
// HAProxy's layout, with their line numbers when lines is set; ok is
// false when there is no such list.
func (s *Store) ShowCrtList(name string, lines bool) (out string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lists[strings.TrimRight(name, "/")]
	if l == nil {
		return "", false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", l.path)
	for _, e := range l.entries {
		b.WriteString(e.cert)
		if lines {
			fmt.Fprintf(&b, ":%d", e.line)
		}
		b.WriteString(e.opts)
		for _, f := range e.filters {
			b.WriteString(" " + f)
		}
		b.WriteString("\n")
	}
	return b.String(), true
}

// CrtListAdd is what "add ssl crt-list" did: the certificate inserted,
// the list, the number of bind lines tried (HAProxy prints a dot for
// each) and, when one failed, HAProxy's message (the entry is then not
// added).
type CrtListAdd struct {
	Cert, List string
	Binds      int
	Failed     string
}

// AddCrtList is "add ssl crt-list <list> <line>": line is a crt-list line
// (the payload form) or a certificate alone. The certificate must be a
// file of the store with a certificate; the entry is added to every bind
// line that loaded the list at once, the SNI selection included, taking
// the list's next line number. A returned error is HAProxy's reason,
// without its "Can't edit the crt-list: " prefix.
func (s *Store) AddCrtList(list, line string) (CrtListAdd, error) {
	bases := s.Bases
	list = strings.TrimRight(list, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lists[list]
	if l == nil {
		return CrtListAdd{}, StoreError(fmt.Sprintf("crt-list '%s' does not exist!", list))
	}
	// The certificate is prefixed with crt-base below, as HAProxy does it
	// after its directory check.
	crt, e, err := ParseCrtListLine(line, Bases{CA: bases.CA})
	if err != nil {
		if le, ok := err.(LineError); ok {
			return CrtListAdd{}, StoreError(fmt.Sprintf("parsing [CLI:1]: %s", le))
		}
		return CrtListAdd{}, err
	}
	if crt == "" {
		return CrtListAdd{}, StoreError("'add ssl crtlist' should contain the certificate name in the payload")
	}
	if l.dir && path.Dir(crt) != l.path {
		return CrtListAdd{}, StoreError(fmt.Sprintf("'%s' is a directory, certificate path '%s' must contain the directory path", l.path, crt))
	}
	crt = bases.CrtPath(crt)
	f := s.files[crt]
	switch {
	case f == nil:
		return CrtListAdd{}, StoreError(fmt.Sprintf("certificate '%s' does not exist!", crt))
	case f.data == nil || len(f.data.certs) == 0:
		return CrtListAdd{}, StoreError(fmt.Sprintf("certificate '%s' is empty!", crt))
	}
	if l.dir {
		if slices.ContainsFunc(l.entries, func(x listEntry) bool { return x.cert == crt }) {
			return CrtListAdd{}, StoreError("file already exists in this directory!")
		}
		if e.Opts != "" || len(e.Filters) > 0 {
			return CrtListAdd{}, StoreError("this is a directory, SSL configuration, crt-store keywords and filters are not allowed")
		}
	}
	res := CrtListAdd{Cert: crt, List: l.path}
	// Every bind line's settings first, the last bind line first as
	// HAProxy walks them: a failure leaves them all as they were.
	confs := map[*Bind]*entryConf{}
	for i := len(l.binds) - 1; i >= 0; i-- {
		b := l.binds[i]
		res.Binds++
		ec, err := b.lineConf(&e)
		if err != nil {
			msg, why := err.Error(), ""
			if be, ok := err.(*Error); ok {
				msg, why = be.Msg, be.Why
			}
			if why != "" {
				why = ": " + why
			}
			res.Failed = fmt.Sprintf("Proxy '%s': %s for bind '%s' at [%s]%s.\n", b.Proxy, msg, b.Spec, b.Pos, why)
			return res, nil
		}
		confs[b] = ec
	}
	l.lines++
	e.List, e.Line = l.path, l.lines
	chain := f.data.chain()
	e.Cert = &Cert{Path: crt, Chains: []*tls.Certificate{chain}, Names: chainNames([]*tls.Certificate{chain})}
	for _, b := range l.binds {
		old := b.srv.idx.Load()
		b.srv.idx.Store(index(append(slices.Clone(old.entries), e), append(slices.Clone(old.confs), confs[b]),
			append(slices.Clone(old.certs), e.Cert)))
	}
	l.entries = append(l.entries, listEntry{cert: crt, line: e.Line, opts: e.Opts, filters: e.Filters})
	s.reuseLocked()
	return res, nil
}

// DelCrtList is "del ssl crt-list <list> <certfile[:line]>": the entry
// leaves the list and every bind line that loaded it, unless it is a bind
// line's default certificate (without strict-sni). It returns the
// certificate's name; an error is HAProxy's reason, without its "Can't
// delete the entry: " prefix.
func (s *Store) DelCrtList(list, arg string) (string, error) {
	crt, line := arg, 0
	if colon := strings.IndexByte(arg, ':'); colon >= 0 {
		n, err := strconv.Atoi(arg[colon+1:])
		if err != nil {
			return "", StoreError(fmt.Sprintf("wrong line number after colons in '%s'!", arg))
		}
		crt, line = arg[:colon], n
	}
	list = strings.TrimRight(list, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lists[list]
	if l == nil {
		return "", StoreError(fmt.Sprintf("crt-list '%s' does not exist!", list))
	}
	f := s.files[crt]
	switch {
	case f == nil:
		return "", StoreError(fmt.Sprintf("certificate '%s' does not exist!", crt))
	case f.data == nil || len(f.data.certs) == 0:
		return "", StoreError(fmt.Sprintf("certificate '%s' is empty!", crt))
	}
	var found []string
	pick, many := -1, false
	for i, e := range l.entries {
		if e.cert != crt {
			continue
		}
		found = append(found, strconv.Itoa(e.line))
		if line == 0 || e.line == line {
			if pick < 0 {
				pick = i
			} else if line == 0 {
				many = true
			}
		}
	}
	nums := strings.Join(found, ", ")
	switch {
	case len(found) == 0:
		return "", StoreError(fmt.Sprintf("certificate '%s' can't be found in crt-list '%s'!", crt, list))
	case pick < 0:
		return "", StoreError(fmt.Sprintf("found a certificate '%s' but the line number is incorrect, please specify a correct line number preceded by colons (%s)!", crt, nums))
	case many:
		return "", StoreError(fmt.Sprintf("found the certificate '%s' in several entries, please specify a line number preceded by colons (%s)!", crt, nums))
	}
	target := l.entries[pick].line
	is := func(e Entry) bool { return e.List == l.path && e.Line == target }
	var defaults []string
	for _, b := range l.binds {
		if ix := b.srv.idx.Load(); !b.StrictSNI && len(ix.entries) > 0 && is(ix.entries[0]) {
			defaults = append(defaults, "\t- "+b.Pos+"\n")
		}
	}
	if len(defaults) > 0 {
		return "", StoreError(fmt.Sprintf("certificate '%s' cannot be deleted, it is used as default certificate by the following frontends:\n%s", crt, strings.Join(defaults, "")))
	}
	for _, b := range l.binds {
		old := b.srv.idx.Load()
		i := slices.IndexFunc(old.entries, is)
		if i < 0 {
			continue
		}
		b.srv.idx.Store(index(slices.Delete(slices.Clone(old.entries), i, i+1), slices.Delete(slices.Clone(old.confs), i, i+1),
			slices.Delete(slices.Clone(old.certs), i, i+1)))
	}
	l.entries = slices.Delete(l.entries, pick, pick+1)
	s.reuseLocked()
	return crt, nil
}
