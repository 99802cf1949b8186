package rules

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"lb/internal/config"
)

// PatternRefs are the pattern references of one generation, as HAProxy's
// pat_ref list: every pattern file an ACL ("-f") or a map converter reads,
// and the inline patterns of every ACL expression, each with its list of
// entries. The runtime API reads and changes them ("show acl", "add map",
// …); a change is seen at once by every expression compiled from the
// reference. Pass the same PatternRefs to every Compile of a generation
// (Options.Patterns), as files are shared between proxies as in HAProxy.
type PatternRefs struct {
	mu    sync.Mutex
	files []string // the configuration files, in order, for numbering
	refs  []*PatRef
	// byFile finds a file's reference.
	byFile map[string]*PatRef
	// seq orders the references created on one configuration line.
	seq int
	// numbered: IDs were given (after compilation, at the first query).
	numbered bool
	nextElt  uint64
}

// NewPatternRefs returns an empty set of references; files are the
// configuration files in the order they were read (config.Config.Files).
func NewPatternRefs(files []string) *PatternRefs {
	return &PatternRefs{files: files, byFile: map[string]*PatRef{}, nextElt: 0x1000000}
}

// refUse is one use of a file: by an ACL or a map, at a line.
type refUse struct {
	isMap bool
	// late: made after the configuration was read (refUse order).
	late bool
	pos  config.Pos
	seq  int
}

// PatRef is one pattern reference.
type PatRef struct {
	refs *PatternRefs
	// id is its number ("#id"); fixedID is set by "-u".
	id      int
	fixedID int
	hasID   bool
	file    string // "" for an ACL's inline patterns
	display string // for inline patterns
	isACL   bool
	isMap   bool
	// smp: entries carry a value (a map's file).
	smp  bool
	uses []refUse // the first use numbers the reference

	mu      sync.Mutex
	entries []PatEntry
	// lines are the file's line of each loaded entry, for errors.
	lines []int
	exprs []*boundSet
	// failedAdds counts the refused "add"s, for EntryCount.
	failedAdds int
	// curGen is the version the expressions match ("commit"), nextGen the
	// last one "prepare" made; entries of other versions wait in entries.
	curGen, nextGen uint32
}

// PatEntry is one entry of a reference: a pattern (a map's key) and, for
// a map, its value. ID is what "#0x…" designates.
type PatEntry struct {
	ID       uint64
	Key      string
	Value    string
	HasValue bool
	// gen is the entry's version (0 at load).
	gen uint32
}

// boundSet is one expression's compiled view of a reference: its entries
// parsed for one match method. Evaluation loads cur without locking; a
// change of the reference stores a new compiledSet.
type boundSet struct {
	kind   matchKind
	icase  bool
	forMap bool
	otype  smpType
	use    refUse
	cur    atomic.Pointer[compiledSet]
}

// compiledSet is an immutable set of patterns and, for a map, the values
// indexed by pattern index.
type compiledSet struct {
	ps   *patSet
	vals []sample
	// keys are the entries' patterns, by index, for "get map|acl".
	keys []string
}

// build compiles entries for b. line gives, on error, the index of the
// entry that failed.
func (b *boundSet) build(entries []PatEntry) (*compiledSet, int, error) {
	cs := &compiledSet{ps: newPatSet(b.kind, b.icase, b.forMap), keys: make([]string, len(entries))}
	if b.forMap {
		cs.vals = make([]sample, len(entries))
	}
	for i, e := range entries {
		if err := cs.ps.add(e.Key, i); err != nil {
			return nil, i, err
		}
		cs.keys[i] = e.Key
		if b.forMap {
			v, err := mapValue(e.Value, b.otype)
			if err != nil {
				return nil, i, fmt.Errorf("unable to parse '%s'", e.Value)
			}
			cs.vals[i] = v
		}
	}
	cs.ps.done()
	return cs, 0, nil
}

// match matches a sample already cast to b.kind.in().
func (cs *compiledSet) match(ev *evalCtx, smp sample) (int, bool) {
	return cs.ps.match(ev, smp)
}

// newEntry returns an entry with a new ID.
func (r *PatternRefs) newEntry(key, value string, hasValue bool) PatEntry {
	r.nextElt += 0x50
	return PatEntry{ID: r.nextElt, Key: key, Value: value, HasValue: hasValue}
}

// use records a use at pos (for numbering and the description).
func (r *PatternRefs) use(isMap, late bool, pos config.Pos) refUse {
	r.seq++
	return refUse{isMap: isMap, late: late, pos: pos, seq: r.seq}
}

// fileRef returns the reference of a pattern file, reading it the first
// time: lines gives its lines. asMap: entries are "key value". It fails as
// HAProxy does when a file is used both with and without values.
// cut: only the first word of a line is the pattern ("-M").
func (r *PatternRefs) fileRef(name string, asMap, smp, cut, late bool, pos config.Pos, lines func() ([]string, error)) (*PatRef, refUse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	u := r.use(asMap, late, pos)
	ref := r.byFile[name]
	if ref != nil {
		if smp && !ref.smp {
			return nil, u, fmt.Errorf("The file \"%s\" is already used as one column file and cannot be used by as two column file.", name)
		}
		if !smp && ref.smp {
			return nil, u, fmt.Errorf("The file \"%s\" is already used as two column file and cannot be used by as one column file.", name)
		}
		ref.uses = append(ref.uses, u)
		ref.isMap = ref.isMap || asMap
		ref.isACL = ref.isACL || !asMap
		return ref, u, nil
	}
	l, err := lines()
	if err != nil {
		return nil, u, err
	}
	ref = &PatRef{refs: r, file: name, isMap: asMap, isACL: !asMap, smp: smp, uses: []refUse{u}}
	for n, line := range l {
		if !smp && line != "" && line[0] == '#' {
			continue // an ACL file's comment starts the line
		}
		line = strings.TrimLeft(line, " \t")
		if line == "" || smp && line[0] == '#' {
			continue
		}
		e := r.newEntry(line, "", false)
		switch {
		case smp:
			key, val := line, ""
			if i := strings.IndexAny(line, " \t"); i >= 0 {
				key, val = line[:i], strings.TrimLeft(line[i:], " \t")
			}
			e.Key, e.Value, e.HasValue = key, val, true
		case cut:
			e.Key, _, _ = strings.Cut(line, " ")
		}
		ref.entries = append(ref.entries, e)
		ref.lines = append(ref.lines, n+1)
	}
	r.refs = append(r.refs, ref)
	r.byFile[name] = ref
	return ref, u, nil
}

// inlineRef returns a new reference for the inline patterns of an ACL
// expression whose keyword is kw, at pos; id is "-u"'s (-1: none).
func (r *PatternRefs) inlineRef(kw string, late bool, pos config.Pos, id int, pats []string) (*PatRef, refUse) {
	r.mu.Lock()
	defer r.mu.Unlock()
	u := r.use(false, late, pos)
	ref := &PatRef{refs: r, isACL: true, uses: []refUse{u},
		display: fmt.Sprintf("acl '%s' file '%s' line %d", kw, pos.File, pos.Line)}
	if id >= 0 {
		ref.fixedID, ref.hasID = id, true
	}
	for _, p := range pats {
		ref.entries = append(ref.entries, r.newEntry(p, "", false))
	}
	r.refs = append(r.refs, ref)
	return ref, u
}

// bind compiles ref's entries for an expression and keeps them up to date
// with the reference. An expression of the same match method, case and
// value type shares the set already bound, as HAProxy's pattern_new_expr
// shares its pattern_expr. The error names the file's line, as at load
// time.
func (ref *PatRef) bind(b *boundSet) (*boundSet, error) {
	ref.mu.Lock()
	defer ref.mu.Unlock()
	for _, x := range ref.exprs {
		if x.kind == b.kind && x.icase == b.icase && x.forMap == b.forMap && x.otype == b.otype {
			return x, nil
		}
	}
	cs, i, err := b.build(ref.entries)
	if err != nil {
		if ref.file != "" && i < len(ref.lines) {
			return nil, fmt.Errorf("%v at line %d of file '%s'", err, ref.lines[i], ref.file)
		}
		return nil, err
	}
	b.cur.Store(cs)
	ref.exprs = append(ref.exprs, b)
	return b, nil
}

// before orders uses by their place in the configuration.
func (r *PatternRefs) before(a, b refUse) bool {
	if a.late != b.late {
		return b.late
	}
	fa, fb := r.fileIndex(a.pos.File), r.fileIndex(b.pos.File)
	if fa != fb {
		return fa < fb
	}
	if a.pos.Line != b.pos.Line {
		return a.pos.Line < b.pos.Line
	}
	return a.seq < b.seq
}

func (r *PatternRefs) fileIndex(f string) int {
	for i, x := range r.files {
		if x == f {
			return i
		}
	}
	return -1
}

// httpClientACLs is the number of pattern references of HAProxy 2.6's
// internal HTTP client, made after the configuration is read and before
// what HAProxy parses once it is read.
const httpClientACLs = 2

// number gives the references their IDs, once compilation is over: in the
// order HAProxy creates them (the configuration's), "-u" IDs kept, the
// others taking the first free numbers.
func (r *PatternRefs) number() {
	if r.numbered {
		return
	}
	r.numbered = true
	for _, ref := range r.refs {
		sort.SliceStable(ref.uses, func(i, j int) bool { return r.before(ref.uses[i], ref.uses[j]) })
		sort.SliceStable(ref.exprs, func(i, j int) bool { return r.before(ref.exprs[i].use, ref.exprs[j].use) })
	}
	sort.SliceStable(r.refs, func(i, j int) bool { return r.before(r.refs[i].uses[0], r.refs[j].uses[0]) })
	used := map[int]bool{}
	for _, ref := range r.refs {
		if ref.hasID {
			ref.id = ref.fixedID
			used[ref.id] = true
		}
	}
	next, gap := 0, false
	for _, ref := range r.refs {
		if ref.hasID {
			continue
		}
		if ref.uses[0].late && !gap {
			// HAProxy's internal HTTP client made two ACLs in between,
			// which lb has not.
			gap = true
			for n := 0; n < httpClientACLs; n++ {
				for used[next] {
					next++
				}
				used[next] = true
			}
		}
		for used[next] {
			next++
		}
		ref.id = next
		used[next] = true
	}
	sort.SliceStable(r.refs, func(i, j int) bool { return r.refs[i].id < r.refs[j].id })
}

// List returns the references shown by "show map" (maps) or "show acl".
func (r *PatternRefs) List(maps bool) []*PatRef {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.number()
	var out []*PatRef
	for _, ref := range r.refs {
		if maps && ref.isMap || !maps && ref.isACL {
			out = append(out, ref)
		}
	}
	return out
}

// Lookup finds a reference as pat_ref_lookup_ref: "#<id>" or a file name.
func (r *PatternRefs) Lookup(name string) *PatRef {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.number()
	if strings.HasPrefix(name, "#") {
		id, err := strconv.Atoi(name[1:])
		if err != nil {
			// atoi stops at the first non-digit.
			n := 0
			for _, c := range name[1:] {
				if c < '0' || c > '9' {
					break
				}
				n = n*10 + int(c-'0')
			}
			id = n
		}
		for _, ref := range r.refs {
			if ref.id == id {
				return ref
			}
		}
		return nil
	}
	return r.byFile[name]
}

// ID is the reference's number.
func (ref *PatRef) ID() int { return ref.id }

// File is the pattern file, "" for an ACL's inline patterns.
func (ref *PatRef) File() string { return ref.file }

// IsMap and IsACL tell whether maps or ACLs use the reference; HasValues
// whether its entries carry values (a map's file).
func (ref *PatRef) IsMap() bool     { return ref.isMap }
func (ref *PatRef) IsACL() bool     { return ref.isACL }
func (ref *PatRef) HasValues() bool { return ref.smp }

// Display is HAProxy's description of the reference.
func (ref *PatRef) Display() string {
	if ref.file == "" {
		return ref.display
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pattern loaded from file '%s' used by ", ref.file)
	for i, u := range ref.uses {
		if i > 0 {
			b.WriteString(", by ")
		}
		what := "acl"
		if u.isMap {
			what = "map"
		}
		fmt.Fprintf(&b, "%s at file '%s' line %d", what, u.pos.File, u.pos.Line)
	}
	return b.String()
}

// Entries returns a copy of the current version's entries, in order.
func (ref *PatRef) Entries() []PatEntry {
	ref.mu.Lock()
	defer ref.mu.Unlock()
	return ref.ofGen(ref.entries, ref.curGen)
}

// EntriesOf returns a copy of the entries of version gen, in order.
func (ref *PatRef) EntriesOf(gen uint32) []PatEntry {
	ref.mu.Lock()
	defer ref.mu.Unlock()
	return ref.ofGen(ref.entries, gen)
}

// ofGen returns the entries of version gen.
func (ref *PatRef) ofGen(entries []PatEntry, gen uint32) []PatEntry {
	var out []PatEntry
	for _, e := range entries {
		if e.gen == gen {
			out = append(out, e)
		}
	}
	return out
}

// Versions are the current version and the last one prepared ("curr_ver",
// "next_ver").
func (ref *PatRef) Versions() (cur, next uint32) {
	ref.mu.Lock()
	defer ref.mu.Unlock()
	return ref.curGen, ref.nextGen
}

// Prepare makes a new version, empty, and returns its number ("prepare map").
func (ref *PatRef) Prepare() uint32 {
	ref.mu.Lock()
	defer ref.mu.Unlock()
	ref.nextGen++
	return ref.nextGen
}

// Version errors, as HAProxy 2.6 words them (without the kind).
var (
	// ErrFutureVersion: "add" to a version "prepare" has not made yet.
	ErrFutureVersion = errors.New("version in the future")
	// ErrVersionRange: "commit" of a version not after the current one or
	// not prepared.
	ErrVersionRange = errors.New("Version number out of range")
)

// CommitVersion makes version gen the current one, at once for every
// expression, and drops the entries of the versions before it, the former
// current one's included; later versions stay pending ("commit map").
func (ref *PatRef) CommitVersion(gen uint32) error {
	ref.mu.Lock()
	defer ref.mu.Unlock()
	if int32(gen-ref.curGen) <= 0 || int32(gen-ref.nextGen) > 0 {
		return ErrVersionRange
	}
	var entries []PatEntry
	for _, e := range ref.entries {
		if int32(e.gen-gen) >= 0 {
			entries = append(entries, e)
		}
	}
	old := ref.curGen
	ref.curGen = gen
	if err := ref.commit(entries); err != nil {
		// Every entry was checked when added: not reached.
		ref.curGen = old
		return err
	}
	return nil
}

// ClearVersion removes the entries of version gen ("clear map @<ver>").
func (ref *PatRef) ClearVersion(gen uint32) {
	ref.mu.Lock()
	defer ref.mu.Unlock()
	var entries []PatEntry
	for _, e := range ref.entries {
		if e.gen != gen {
			entries = append(entries, e)
		}
	}
	_ = ref.commit(entries)
}

// commit compiles entries for every expression and, when all succeed,
// makes them the reference's: each expression sees the new set at once.
//
// entries holds every version's; the expressions get the current one's.
func (ref *PatRef) commit(entries []PatEntry) error {
	cur := ref.ofGen(entries, ref.curGen)
	sets := make([]*compiledSet, len(ref.exprs))
	for i, b := range ref.exprs {
		cs, _, err := b.build(cur)
		if err != nil {
			return runtimeErr(err)
		}
		sets[i] = cs
	}
	ref.entries = entries
	for i, b := range ref.exprs {
		b.cur.Store(sets[i])
	}
	return nil
}

// runtimeErr words an error of build for the runtime API.
func runtimeErr(err error) error {
	var h hostPatternError
	if errors.As(err, &h) {
		// Host names are resolved only while starting.
		return fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", h.s)
	}
	return err
}

// Add appends an entry to the current version (pat_ref_add); value is
// kept when hasValue.
func (ref *PatRef) Add(key, value string, hasValue bool) error {
	ref.mu.Lock()
	gen := ref.curGen
	ref.mu.Unlock()
	return ref.AddVersion(gen, key, value, hasValue)
}

// AddVersion appends an entry to version gen ("add map @<ver>"): one of a
// version other than the current one is checked against every expression
// and waits for its commit. ErrFutureVersion when gen was not prepared.
func (ref *PatRef) AddVersion(gen uint32, key, value string, hasValue bool) error {
	ref.refs.mu.Lock()
	e := ref.refs.newEntry(key, value, hasValue)
	ref.refs.mu.Unlock()
	e.gen = gen
	ref.mu.Lock()
	defer ref.mu.Unlock()
	if int32(gen-ref.nextGen) > 0 {
		return ErrFutureVersion
	}
	entries := append(append(make([]PatEntry, 0, len(ref.entries)+1), ref.entries...), e)
	var err error
	if gen == ref.curGen {
		err = ref.commit(entries)
	} else {
		for _, b := range ref.exprs {
			if _, _, err = b.build([]PatEntry{e}); err != nil {
				err = runtimeErr(err)
				break
			}
		}
		if err == nil {
			ref.entries = entries
		}
	}
	if err != nil {
		ref.failedAdds++
	}
	return err
}

// EntryCount is the entry count "show map|acl" prints: HAProxy 2.6's
// entry_cnt, which a refused "add" leaves one lower than the number of
// entries (it counts the entry out twice), wrapping below zero as an
// unsigned counter.
func (ref *PatRef) EntryCount() uint64 {
	ref.mu.Lock()
	defer ref.mu.Unlock()
	return uint64(len(ref.entries) - ref.failedAdds)
}

// ErrEntryNotFound: no entry has that key or ID.
var ErrEntryNotFound = errors.New("entry not found")

// Set changes the value of every entry whose key is key (byID: whose ID
// is id).
func (ref *PatRef) Set(key string, id uint64, byID bool, value string) error {
	ref.mu.Lock()
	defer ref.mu.Unlock()
	entries := append([]PatEntry(nil), ref.entries...)
	found := false
	for i := range entries {
		if byID && entries[i].ID == id || !byID && entries[i].Key == key {
			entries[i].Value, entries[i].HasValue = value, true
			found = true
			if byID {
				break
			}
		}
	}
	if !found {
		return ErrEntryNotFound
	}
	return ref.commit(entries)
}

// Delete removes every entry whose key is key (byID: the entry of that
// ID); false when there was none.
func (ref *PatRef) Delete(key string, id uint64, byID bool) bool {
	ref.mu.Lock()
	defer ref.mu.Unlock()
	var entries []PatEntry
	for _, e := range ref.entries {
		if byID && e.ID == id || !byID && e.Key == key {
			continue
		}
		entries = append(entries, e)
	}
	if len(entries) == len(ref.entries) {
		return false
	}
	return ref.commit(entries) == nil
}

// Clear removes the entries of the current version.
func (ref *PatRef) Clear() {
	ref.mu.Lock()
	gen := ref.curGen
	ref.mu.Unlock()
	ref.ClearVersion(gen)
}

// matchNamesByKind are HAProxy's pat_match_names.
var matchNamesByKind = map[matchKind]string{mFound: "found", mBool: "bool", mInt: "int", mIP: "ip", mBin: "bin",
	mLen: "len", mStr: "str", mSub: "sub", mReg: "reg", mBeg: "beg", mEnd: "end", mDir: "dir", mDom: "dom"}

// valueTypes are the names of a map value's type (smp_to_type).
var valueTypes = map[smpType]string{tBool: "bool", tInt: "sint", tIPv4: "ipv4", tIPv6: "ipv6", tStr: "str", tBin: "bin"}

// Lookup matches value, as a string sample, against every expression of
// the reference and describes the outcome as "get map" (maps) or "get acl"
// does, one line per expression.
func (ref *PatRef) Lookup(value string, maps bool) []string {
	ref.mu.Lock()
	defer ref.mu.Unlock()
	var out []string
	for _, b := range ref.exprs {
		var line strings.Builder
		name, ok := matchNamesByKind[b.kind]
		if !ok {
			name = "unknown"
		}
		fmt.Fprintf(&line, "type=%s", name)
		if b.icase {
			line.WriteString(", case=insensitive")
		} else {
			line.WriteString(", case=sensitive")
		}
		cs := b.cur.Load()
		ev := &evalCtx{s: &Stream{}}
		idx, hit := -1, false
		if b.kind != mFound && b.kind != mBool {
			if smp, ok := ev.cast(strSample([]byte(value)), b.kind.in()); ok {
				idx, hit = cs.match(ev, smp)
			}
		}
		word := "match"
		if maps {
			word = "found"
		}
		if !hit {
			fmt.Fprintf(&line, ", %s=no", word)
			out = append(out, line.String())
			continue
		}
		fmt.Fprintf(&line, ", %s=yes", word)
		if b.kind == mIP || b.kind == mStr && !b.icase || b.kind == mBeg && !b.icase || b.kind == mBin {
			line.WriteString(", idx=tree")
		} else {
			line.WriteString(", idx=list")
		}
		key := ""
		if idx >= 0 && idx < len(cs.keys) {
			key = cs.keys[idx]
		}
		if maps {
			fmt.Fprintf(&line, ", key=\"%s\"", key)
			if b.forMap && idx < len(cs.vals) {
				e := ref.ofGen(ref.entries, ref.curGen)[idx]
				v := cs.vals[idx]
				fmt.Fprintf(&line, ", value=\"%s\", type=\"%s\"", e.Value, valueTypes[v.t])
			} else {
				line.WriteString(", value=none")
			}
		} else {
			fmt.Fprintf(&line, ", pattern=\"%s\"", key)
		}
		out = append(out, line.String())
	}
	return out
}
