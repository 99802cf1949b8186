package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// maxNestedConds is HAProxy 2.6's MAXNESTEDCONDS: the 100th nested ".if"
// is refused.
const maxNestedConds = 100

// Load reads the configuration files and directories in paths, in order,
// as "haproxy -f P1 -f P2 …" does: a directory contributes its non-hidden
// regular files ending in ".cfg", in C-locale lexical order. It returns the
// configuration and every diagnostic (parse alerts, warnings, notices and
// semantic checks). The configuration is usable only when no diagnostic is
// an Alert; see ExitCode. As in HAProxy, semantic checks (unknown
// backends, modes, address resolution) run only when parsing raised no
// alert, so each run reports every error of one stage. Reading no file at
// all (only empty directories) is an alert, as HAProxy refuses to start.
func Load(paths []string, opt Options) (*Config, []Diag) {
	l := newLoader(opt)
	for _, p := range paths {
		if l.aborted {
			break // HAProxy exits at the file that aborted
		}
		l.loadPath(p)
	}
	l.endSection()
	l.resolveUserlists()
	l.cfg.backends = map[string]*Proxy{}
	for _, p := range l.cfg.Proxies {
		if _, dup := l.cfg.backends[p.Name]; p.Cap&CapBackend != 0 && !dup {
			l.cfg.backends[p.Name] = p
		}
	}
	if len(l.cfg.Files) == 0 && !l.hasAlert() {
		// HAProxy prints its usage and exits with 1 in this case.
		l.alert(Pos{}, "no configuration file to load (empty directory or no -f argument)")
	}
	if !l.hasAlert() {
		l.implicitResolvers()
		l.check()
	}
	return l.cfg, l.diags
}

// ExitCode maps a Load result to "haproxy -c"'s exit status: 1 when any
// diagnostic is an Alert (or cfg is nil), 2 when the configuration is
// valid but declares no listener, 0 otherwise.
func ExitCode(cfg *Config, diags []Diag) int {
	if cfg == nil {
		return 1
	}
	for _, d := range diags {
		if d.Severity == Alert {
			return 1
		}
	}
	if cfg.Listeners() == 0 {
		return 2
	}
	return 0
}

// condState tracks one ".if" level.
type condState struct {
	pos      Pos
	taking   bool // lines are currently used
	taken    bool // a branch of this block was already used
	parentOn bool // the enclosing level is taking lines
	seenElse bool
}

type loader struct {
	// aborted is set by a diagnostic that stops the reading (Diag.Abort).
	aborted bool
	// srvWho is what HAProxy names before a message of the server line
	// being read ("'server be/a' : ", "" on a default-server line);
	// srvWarned says the line already had a warning (srvWarn).
	srvWho    string
	srvWarned bool
	// after holds what HAProxy prints after a server line's error (its
	// "'ca-file' : unable to load …"), added once that error is.
	after []Diag
	opt   Options
	env   func(string) (string, bool)
	cfg   *Config
	diags []Diag

	// linePos is the position of the line being parsed.
	linePos Pos

	// section state
	sec string // current section keyword ("" = none)
	// httpErrors is the current http-errors section; errorSeq orders
	// the error lines of the proxies (httperrors.go).
	httpErrors *HTTPErrors
	// cache is the "cache" section being read.
	cache *Cache
	// userlist is the "userlist" section being read.
	userlist *Userlist
	// resolvers is the "resolvers" section being read.
	resolvers *Resolvers
	errorSeq  int
	secPos    Pos
	skipSec   bool   // inside an unsupported section: ignore its lines
	noProxy   bool   // the proxy section header was refused: its lines fail
	cur       *Proxy // current proxy or defaults section
	globalOK  bool

	defaults     map[string]*Proxy             // named defaults sections
	byName       map[string][]*Proxy           // proxies by name, for duplicate checks
	srvNames     map[*Proxy]map[string]*Server // servers by name per proxy
	lastDefaults *Proxy                        // the last defaults section seen
	defaultsPos  map[*Proxy]Pos
	envOverride  map[string]*string // setenv/unsetenv from the global section
	envKeep      map[string]bool    // after resetenv: the variables kept (nil = all)
}

func newLoader(opt Options) *loader {
	l := &loader{
		opt:         opt,
		cfg:         &Config{Global: Global{UID: -1, GID: -1, UnixBind: UnixBind{UID: -1, GID: -1}}},
		defaults:    map[string]*Proxy{},
		byName:      map[string][]*Proxy{},
		srvNames:    map[*Proxy]map[string]*Server{},
		defaultsPos: map[*Proxy]Pos{},
		envOverride: map[string]*string{},
	}
	if opt.NoServerVerify {
		l.cfg.Global.SSLServerVerify = "none"
	}
	if l.opt.Stat == nil {
		l.opt.Stat = os.Stat
	}
	if l.opt.Resolver == nil {
		l.opt.Resolver = net.LookupIP
	}
	base := opt.Env
	if base == nil {
		base = os.LookupEnv
	}
	l.env = func(name string) (string, bool) {
		if v, ok := l.envOverride[name]; ok {
			if v == nil {
				return "", false
			}
			return *v, true
		}
		if l.envKeep != nil && !l.envKeep[name] {
			return "", false
		}
		return base(name)
	}
	return l
}

func (l *loader) add(pos Pos, sev Severity, format string, a ...any) {
	l.diags = append(l.diags, Diag{Pos: pos, Severity: sev, Msg: fmt.Sprintf(format, a...)})
}

// raw adds a diagnostic of the line reader (Diag.Raw); abort marks it as
// stopping the reading (Diag.Abort), which the caller then does.
func (l *loader) raw(pos Pos, sev Severity, abort bool, format string, a ...any) {
	l.diags = append(l.diags, Diag{Pos: pos, Severity: sev, Msg: fmt.Sprintf(format, a...), Raw: true, Abort: abort})
	l.aborted = l.aborted || abort
}

// bare adds a diagnostic that names its place itself (Diag.Bare).
func (l *loader) bare(pos Pos, sev Severity, format string, a ...any) {
	l.diags = append(l.diags, Diag{Pos: pos, Severity: sev, Msg: fmt.Sprintf(format, a...), Bare: true})
}

func (l *loader) alert(pos Pos, format string, a ...any) { l.add(pos, Alert, format, a...) }
func (l *loader) warn(pos Pos, format string, a ...any)  { l.add(pos, Warning, format, a...) }

// srvWarn is a warning of a server keyword's parser, which HAProxy prints as
// its server line parser's errors ("[file:line] : 'server be/a' : …"): the
// first one of a line; the following ones come with no place (HAProxy 2.6,
// measured).
func (l *loader) srvWarn(msg string) {
	if l.srvWarned {
		l.bare(l.linePos, Warning, "%s", msg)
		return
	}
	l.srvWarned = true
	l.diags = append(l.diags, Diag{Pos: l.linePos, Severity: Warning, Msg: l.srvWho + msg, Bracket: true})
}

func (l *loader) lookupUser(name string) (int, error) {
	if l.opt.LookupUser != nil {
		return l.opt.LookupUser(name)
	}
	u, err := user.Lookup(name)
	if err != nil {
		return -1, err
	}
	return strconv.Atoi(u.Uid)
}

func (l *loader) hostname() (string, error) {
	if l.opt.Hostname != nil {
		return l.opt.Hostname()
	}
	return os.Hostname()
}

func (l *loader) lookupGroup(name string) (int, error) {
	if l.opt.LookupGroup != nil {
		return l.opt.LookupGroup(name)
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return -1, err
	}
	return strconv.Atoi(g.Gid)
}

// report turns a keyword error into a diagnostic. HAProxy's messages that
// end in "Continuing." (a repeated global setting) are printed as alerts but
// do not fail the configuration; lb reports them as warnings.
// rawError is a keyword's error that HAProxy prints as the line reader's
// ("parsing [file:line]: …", Diag.Raw).
type rawError struct{ msg string }

func (e *rawError) Error() string { return e.msg }

// srvLineError is an error of a server or default-server line, which
// HAProxy prints as "[file:line] : …" (Diag.Bracket).
type srvLineError struct{ msg string }

func (e *srvLineError) Error() string { return e.msg }

func (l *loader) report(pos Pos, err error) {
	if re, ok := err.(*rawError); ok {
		l.raw(pos, Alert, false, "%s", re.msg)
		return
	}
	if se, ok := err.(*srvLineError); ok {
		l.diags = append(l.diags, Diag{Pos: pos, Severity: Alert, Msg: se.msg, Bracket: true})
		for _, d := range l.after {
			// Printed with no place, but counted with the file's errors.
			d.Pos, d.Bare = Pos{File: pos.File}, true
			l.diags = append(l.diags, d)
		}
		l.after = nil
		return
	}
	if msg := err.Error(); strings.HasSuffix(msg, "Continuing.") {
		l.warn(pos, "%s", msg)
		return
	}
	l.alert(pos, "%v", err)
}

func (l *loader) hasAlert() bool {
	for _, d := range l.diags {
		if d.Severity == Alert {
			return true
		}
	}
	return false
}

// loadPath loads one -f argument (file or directory).
func (l *loader) loadPath(p string) {
	fi, err := os.Stat(p)
	if err != nil {
		l.alert(Pos{}, "Cannot open configuration file/directory %s : %s", p, errText(err))
		return
	}
	if !fi.IsDir() {
		l.loadFile(p)
		return
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		l.alert(Pos{}, "Cannot open configuration directory %s : %s", p, errText(err))
		return
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".cfg") {
			continue
		}
		fi, err := os.Stat(filepath.Join(p, n))
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names) // byte order, as strcmp() in the C locale
	for _, n := range names {
		if l.aborted {
			return
		}
		l.loadFile(filepath.Join(p, n))
	}
}

// sanitizeForPrinting is HAProxy's sanitize_for_printing: line as an
// error message shows it, white space as spaces and other unprintable
// bytes as '?', at most width characters; when pos (where the caret
// goes) is past width, the line is shifted to put it in the middle,
// with "..." on both sides. It returns the text and pos in it.
func sanitizeForPrinting(line string, pos, width int) (string, int) {
	if pos < 0 {
		pos = 0
	}
	var out []byte
	in, end, shift := 0, width, 0
	if pos >= width {
		shift = pos - width/2
		in, end = shift+3, width-3
		out = append(out, "..."...)
	}
	for ; len(out) < end && in < len(line); in++ {
		switch c := line[in]; {
		case isSpace(c):
			out = append(out, ' ')
		case c >= 0x20 && c < 0x7f:
			out = append(out, c)
		default:
			out = append(out, '?')
		}
	}
	if end < width {
		out = append(out, "..."...)
	}
	return string(out), pos - shift
}

// errText returns the C-style text of a file error ("No such file or
// directory"), as HAProxy prints strerror(errno).
func errText(err error) string {
	var pe *os.PathError
	if e, ok := err.(*os.PathError); ok {
		pe = e
		err = pe.Err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return "No such file or directory"
	}
	s := err.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// loadFile reads one configuration file. Each file starts outside any
// section, as HAProxy requires.
func (l *loader) loadFile(name string) {
	data, err := os.ReadFile(name)
	if err != nil {
		l.alert(Pos{}, "Could not open configuration file %s : %s", name, errText(err))
		return
	}
	l.cfg.Files = append(l.cfg.Files, name)
	l.endSection()
	var conds []*condState
	taking := func() bool { return len(conds) == 0 || conds[len(conds)-1].taking }
	text := string(data)
	lineNo := 0
	// missingLF is where the last line read ended without its LF, as
	// HAProxy's fgets-based reader sees it: a NUL ends the line there (the
	// rest of it is not read), which is a "Stray NUL character" when more
	// data follows, and "Missing LF on last line" after the last one.
	missingLF := -1
	for len(text) > 0 {
		if missingLF >= 0 {
			l.raw(Pos{File: name, Line: lineNo}, Alert, false, "Stray NUL character at position %d.", missingLF+1)
			missingLF = -1
			break
		}
		lineNo++
		line, rest, found := strings.Cut(text, "\n")
		text = rest
		pos := Pos{File: name, Line: lineNo}
		if i := strings.IndexByte(line, 0); i >= 0 {
			line, missingLF = line[:i], i
		} else if !found {
			missingLF = len(line)
		}
		args, err := splitLine(line, l.env)
		if err != nil {
			// HAProxy reports syntax errors even inside skipped blocks.
			var le *lexError
			switch {
			case errors.As(err, &le) && le.tooMany:
				// Its position is in the words as read, each followed by a NUL.
				off := 0
				for _, w := range args[:maxLineArgs-1] {
					off += len(w) + 1
				}
				l.raw(pos, Alert, false, "too many words, truncating after word %d, position %d: <%s>.", maxLineArgs, off+1, args[maxLineArgs-1])
				continue
			case errors.As(err, &le):
				// The line is shown from its first non-blank character.
				lead := len(line) - len(strings.TrimLeft(line, " \t\r\n\v\f"))
				shown, at := sanitizeForPrinting(line[lead:], le.pos-lead, 80)
				l.raw(pos, Alert, false, "%s at position %d:\n  %s\n  %s^", le.msg, le.pos+1, shown, strings.Repeat(" ", at))
			default:
				l.alert(pos, "%v", err)
			}
			if len(args) == 0 {
				continue
			}
		}
		if len(args) == 0 {
			continue
		}
		// Conditional directives are handled whatever the current state.
		switch args[0] {
		case ".if", ".elif", ".else", ".endif":
			expr := strings.Join(args[1:], " ")
			var ok bool
			conds, ok = l.condDirective(conds, pos, args[0], expr)
			if !ok {
				return // HAProxy aborts on a broken conditional block
			}
			continue
		}
		if !taking() {
			continue
		}
		switch args[0] {
		case ".notice", ".warning", ".alert", ".diag":
			if len(args) > 2 {
				l.raw(pos, Alert, false, "Unexpected argument '%s' for '%s'. Use quotes if the message should contain spaces.", args[2], args[0])
				continue
			}
			msg := ""
			if len(args) > 1 {
				msg = args[1]
			}
			switch args[0] {
			case ".notice":
				l.raw(pos, Notice, false, "'%s'.", msg)
			case ".warning":
				l.raw(pos, Warning, false, "'%s'.", msg)
			case ".alert":
				// HAProxy stops reading the configuration on ".alert".
				l.raw(pos, Alert, true, "'%s'.", msg)
				return
			}
			continue
		}
		l.line(pos, args)
	}
	if missingLF >= 0 {
		l.raw(Pos{File: name, Line: lineNo}, Alert, false, "Missing LF on last line, file might have been truncated at position %d.", missingLF+1)
	}
	if len(conds) > 0 {
		l.raw(Pos{File: name, Line: lineNo}, Alert, true, "non-terminated '.if' block.")
	}
}

// condDirective applies .if/.elif/.else/.endif; ok=false aborts the file.
func (l *loader) condDirective(conds []*condState, pos Pos, dir, expr string) ([]*condState, bool) {
	top := func() *condState { return conds[len(conds)-1] }
	eval := func() (bool, bool) {
		v, err := evalCond(expr, l.env)
		var ce *CondError
		switch {
		case errors.As(err, &ce):
			// The expression under the message, a caret at the error.
			shown, at := sanitizeForPrinting(expr, ce.Pos, 80-len(dir)-1)
			l.raw(pos, Alert, true, "%s in '%s' at position %d:\n  %s %s\n  %s^", ce.Msg, dir, ce.Pos+1, dir, shown, strings.Repeat(" ", at+len(dir)+1))
			return false, false
		case err != nil:
			l.raw(pos, Alert, true, "%v in '%s'.", err, dir)
			return false, false
		}
		return v, true
	}
	switch dir {
	case ".if":
		if len(conds)+1 >= maxNestedConds {
			l.raw(pos, Alert, true, "too many nested '.if', max is %d.", maxNestedConds)
			return conds, false
		}
		parentOn := len(conds) == 0 || top().taking
		st := &condState{pos: pos, parentOn: parentOn}
		if parentOn {
			v, ok := eval()
			if !ok {
				return conds, false
			}
			st.taking, st.taken = v, v
		}
		return append(conds, st), true
	case ".elif":
		if len(conds) == 0 {
			l.raw(pos, Alert, true, "lone '.elif' with no matching '.if'.")
			return conds, false
		}
		st := top()
		if st.seenElse {
			l.raw(pos, Alert, true, "'.elif' after '.else' is not permitted.")
			return conds, false
		}
		st.taking = false
		if st.parentOn && !st.taken {
			v, ok := eval()
			if !ok {
				return conds, false
			}
			st.taking, st.taken = v, v
		}
	case ".else":
		if len(conds) == 0 {
			l.raw(pos, Alert, true, "lone '.else' with no matching '.if'.")
			return conds, false
		}
		st := top()
		if st.seenElse {
			l.raw(pos, Alert, true, "'.else' after '.else' is not permitted.")
			return conds, false
		}
		st.seenElse = true
		st.taking = st.parentOn && !st.taken
		st.taken = true
	case ".endif":
		if len(conds) == 0 {
			l.raw(pos, Alert, true, "lone '.endif' with no matching '.if'.")
			return conds, false
		}
		return conds[:len(conds)-1], true
	}
	return conds, true
}

// sectionKinds lists every section keyword HAProxy 2.6 knows. Supported
// ones have a parser; the others are reported as not supported by lb yet.
var sectionKinds = map[string]bool{
	"global":         true,
	"defaults":       true,
	"frontend":       true,
	"backend":        true,
	"listen":         true,
	"peers":          false,
	"resolvers":      true,
	"userlist":       true,
	"mailers":        false,
	"cache":          true,
	"program":        false,
	"http-errors":    true,
	"ring":           false,
	"log-forward":    false,
	"fcgi-app":       false,
	"dynamic-update": false,
}

// line dispatches one non-empty, non-conditional line.
func (l *loader) line(pos Pos, args []string) {
	l.linePos = pos
	if supported, ok := sectionKinds[args[0]]; ok {
		l.endSection()
		l.sec, l.secPos = args[0], pos
		if !supported {
			l.alert(pos, "'%s' section is not supported by lb yet", args[0])
			l.skipSec = true
			return
		}
		switch args[0] {
		case "global":
			l.startGlobal(pos, args)
		case "http-errors":
			l.startHTTPErrors(pos, args)
		case "userlist":
			l.startUserlist(pos, args)
		case "cache":
			l.startCache(pos, args)
		case "resolvers":
			l.startResolvers(pos, args)
		default:
			l.startProxy(pos, args)
		}
		return
	}
	switch {
	case l.skipSec:
		return
	case l.sec == "":
		l.raw(pos, Alert, false, "unknown keyword '%s' out of section.", args[0])
	case l.sec == "global":
		l.globalLine(pos, args)
	case l.sec == "http-errors":
		l.httpErrorsLine(pos, args)
	case l.sec == "userlist":
		l.userlistLine(pos, args)
	case l.sec == "cache":
		l.cacheLine(pos, args)
	case l.sec == "resolvers":
		l.resolversLine(pos, args)
	case l.noProxy:
		l.alert(pos, "'listen' or 'defaults' expected.")
	case l.cur != nil:
		l.proxyLine(pos, args)
	}
}

// endSection closes the current section.
func (l *loader) endSection() {
	l.endCache()
	if l.cur != nil && l.cur.Cap&CapDefaults == 0 {
		if l.cur.Disabled && l.cur.Cap&CapBackend != 0 {
			l.alert(l.cur.disabledPos, "'disabled' is not supported by lb yet in backend and listen sections")
		}
		l.cfg.Proxies = append(l.cfg.Proxies, l.cur)
	}
	l.sec, l.skipSec, l.noProxy, l.cur, l.resolvers = "", false, false, nil, nil
}
