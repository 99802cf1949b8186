package rules

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// convDef describes a converter keyword.
type convDef struct {
	in       smpType
	min, max int
	// build returns the converter and its output type given its input's.
	build func(c *compiler, args []string, in smpType) (convFn, smpType, error)
}

// converters are the converters lb implements, by name.
var converters map[string]*convDef

func simple(in, out smpType, fn convFn) *convDef {
	return &convDef{in: in, build: func(*compiler, []string, smpType) (convFn, smpType, error) { return fn, out, nil }}
}

func init() {
	converters = map[string]*convDef{
		"lower": simple(tStr, tStr, func(ev *evalCtx, in sample) (sample, bool) {
			p := ev.next()
			for _, c := range in.b {
				*p = append(*p, lowerASCII(c))
			}
			return strSample(*p), true
		}),
		"upper": simple(tStr, tStr, func(ev *evalCtx, in sample) (sample, bool) {
			p := ev.next()
			for _, c := range in.b {
				if 'a' <= c && c <= 'z' {
					c -= 'a' - 'A'
				}
				*p = append(*p, c)
			}
			return strSample(*p), true
		}),
		"length": simple(tStr, tInt, func(_ *evalCtx, in sample) (sample, bool) {
			return intSample(int64(len(in.b))), true
		}),
		"hex": simple(tBin, tStr, func(ev *evalCtx, in sample) (sample, bool) {
			const digits = "0123456789ABCDEF"
			p := ev.next()
			for _, c := range in.b {
				*p = append(*p, digits[c>>4], digits[c&15])
			}
			return strSample(*p), true
		}),
		"base64": simple(tBin, tStr, func(ev *evalCtx, in sample) (sample, bool) {
			p := ev.next()
			*p = base64.StdEncoding.AppendEncode(*p, in.b)
			return strSample(*p), true
		}),
		"bool": simple(tInt, tBool, func(_ *evalCtx, in sample) (sample, bool) { return boolSample(in.i != 0), true }),
		"not":  simple(tInt, tBool, func(_ *evalCtx, in sample) (sample, bool) { return boolSample(in.i == 0), true }),
		"odd":  simple(tInt, tBool, func(_ *evalCtx, in sample) (sample, bool) { return boolSample(in.i&1 == 1), true }),
		"even": simple(tInt, tBool, func(_ *evalCtx, in sample) (sample, bool) { return boolSample(in.i&1 == 0), true }),
		"cpl":  simple(tInt, tInt, func(_ *evalCtx, in sample) (sample, bool) { return intSample(^in.i), true }),
		"neg": simple(tInt, tInt, func(_ *evalCtx, in sample) (sample, bool) {
			if in.i == math.MinInt64 {
				return intSample(math.MaxInt64), true
			}
			return intSample(-in.i), true
		}),
		"add": arith(arithAdd),
		"sub": arith(func(a, b int64) int64 {
			if b == math.MinInt64 {
				r := arithAdd(a, math.MaxInt64)
				if r < math.MaxInt64 {
					r++
				}
				return r
			}
			return arithAdd(a, -b)
		}),
		"mul": arith(arithMul),
		"div": arith(func(a, b int64) int64 {
			switch {
			case b == 0:
				return math.MaxInt64
			case a == math.MinInt64 && b == -1:
				return math.MaxInt64
			}
			return a / b
		}),
		"mod": arith(func(a, b int64) int64 {
			if b == 0 || (a == math.MinInt64 && b == -1) {
				return 0
			}
			return a % b
		}),
		"and": arith(func(a, b int64) int64 { return a & b }),
		"or":  arith(func(a, b int64) int64 { return a | b }),
		"xor": arith(func(a, b int64) int64 { return a ^ b }),
		"bytes": {in: tBin, min: 1, max: 2, build: func(c *compiler, args []string, _ smpType) (convFn, smpType, error) {
			off, err := strconv.ParseUint(args[0], 10, 31)
			if err != nil {
				return nil, 0, fmt.Errorf("expects a positive offset")
			}
			n := -1
			if len(args) == 2 {
				v, err := strconv.ParseUint(args[1], 10, 31)
				if err != nil {
					return nil, 0, fmt.Errorf("expects a positive length")
				}
				n = int(v)
			}
			o := int(off)
			return func(_ *evalCtx, in sample) (sample, bool) {
				if o >= len(in.b) {
					return sample{}, false
				}
				b := in.b[o:]
				if n >= 0 && n < len(b) {
					b = b[:n]
				}
				return binSample(b), true
			}, tBin, nil
		}},
		"ltrim":  trim(true),
		"rtrim":  trim(false),
		"field":  {in: tStr, min: 2, max: 3, build: buildField(false)},
		"word":   {in: tStr, min: 2, max: 3, build: buildField(true)},
		"ipmask": {in: tAddr, min: 1, max: 2, build: buildIPMask},
		"json":   {in: tStr, max: 1, build: buildJSON},
		"regsub": {in: tStr, min: 2, max: 3, build: buildRegsub},
		"set-var": {in: tAny, min: 1, max: 5, build: func(c *compiler, args []string, in smpType) (convFn, smpType, error) {
			sv, err := c.parseSetVar(args)
			if err != nil {
				return nil, 0, err
			}
			return func(ev *evalCtx, smp sample) (sample, bool) {
				sv.apply(ev, smp)
				return smp, true
			}, in, nil
		}},
		"unset-var": {in: tAny, min: 1, max: 1, build: func(c *compiler, args []string, in smpType) (convFn, smpType, error) {
			v, err := c.varRef(args[0])
			if err != nil {
				return nil, 0, err
			}
			return func(ev *evalCtx, smp sample) (sample, bool) {
				v.unset(ev)
				return smp, true
			}, in, nil
		}},
	}
	for _, m := range []string{"str", "beg", "sub", "dir", "dom", "end", "reg", "int", "ip"} {
		for _, out := range []string{"", "_str", "_int", "_ip"} {
			name := "map_" + m + out
			if out == "_str" {
				// HAProxy spells map_<match>_str as map_<match>.
				continue
			}
			converters[name] = mapConv(matchNames[m], out)
		}
	}
	converters["map"] = mapConv(mStr, "")
}

// arithAdd adds with saturation, as HAProxy's arith_add.
func arithAdd(a, b int64) int64 {
	if (a ^ b) >= 0 {
		if a < 0 && math.MinInt64-a > b {
			return math.MinInt64
		}
		if a >= 0 && math.MaxInt64-a < b {
			return math.MaxInt64
		}
	}
	return a + b
}

// arithMul multiplies with saturation, as HAProxy's sample_conv_arith_mul.
func arithMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a == math.MinInt64 && b == -1 {
		return math.MaxInt64
	}
	c := a * b
	if a != c/b {
		if (a < 0) == (b < 0) {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return c
}

// arith builds an integer converter whose argument is an integer or the
// name of a variable holding one.
func arith(op func(a, b int64) int64) *convDef {
	return &convDef{in: tInt, min: 1, max: 1, build: func(c *compiler, args []string, _ smpType) (convFn, smpType, error) {
		if n, err := strconv.ParseInt(args[0], 10, 64); err == nil {
			return func(_ *evalCtx, in sample) (sample, bool) { return intSample(op(in.i, n)), true }, tInt, nil
		}
		if !strings.Contains(args[0], ".") {
			return nil, 0, fmt.Errorf("expects an integer or a variable name")
		}
		v, err := c.varRef(args[0])
		if err != nil {
			return nil, 0, err
		}
		return func(ev *evalCtx, in sample) (sample, bool) {
			w, ok := v.get(ev)
			if !ok {
				return sample{}, false
			}
			if w, ok = ev.cast(w, tInt); !ok {
				return sample{}, false
			}
			return intSample(op(in.i, w.i)), true
		}, tInt, nil
	}}
}

func trim(left bool) *convDef {
	return &convDef{in: tStr, min: 1, max: 1, build: func(_ *compiler, args []string, _ smpType) (convFn, smpType, error) {
		set := args[0]
		return func(_ *evalCtx, in sample) (sample, bool) {
			b := in.b
			if left {
				for len(b) > 0 && strings.IndexByte(set, b[0]) >= 0 {
					b = b[1:]
				}
			} else {
				for len(b) > 0 && strings.IndexByte(set, b[len(b)-1]) >= 0 {
					b = b[:len(b)-1]
				}
			}
			return strSample(b), true
		}, tStr, nil
	}}
}

// buildField compiles field(index,delims[,count]) and word(…), ports of
// sample_conv_field and sample_conv_word: a negative index counts from the
// end; count 0 keeps all the remaining fields.
func buildField(words bool) func(*compiler, []string, smpType) (convFn, smpType, error) {
	return func(_ *compiler, args []string, _ smpType) (convFn, smpType, error) {
		idx, err := strconv.Atoi(args[0])
		if err != nil {
			return nil, 0, fmt.Errorf("Unexpected arg type")
		}
		if idx == 0 {
			return nil, 0, fmt.Errorf("Unexpected value 0 for index")
		}
		delims := args[1]
		if delims == "" {
			return nil, 0, fmt.Errorf("Empty separators list")
		}
		count := 1
		if len(args) == 3 {
			if count, err = strconv.Atoi(args[2]); err != nil {
				return nil, 0, fmt.Errorf("Unexpected arg type")
			}
		}
		isSep := func(c byte) bool { return strings.IndexByte(delims, c) >= 0 }
		if words {
			return func(_ *evalCtx, in sample) (sample, bool) {
				b, ok := word(in.b, idx, count, isSep)
				return strSample(b), ok
			}, tStr, nil
		}
		return func(_ *evalCtx, in sample) (sample, bool) {
			b, ok := field(in.b, idx, count, isSep)
			return strSample(b), ok
		}, tStr, nil
	}
}

func field(s []byte, idx, count int, isSep func(byte) bool) ([]byte, bool) {
	if idx < 0 {
		f, start, end := -1, len(s), len(s)
		for ; start > 0; start-- {
			if isSep(s[start-1]) {
				if f == idx {
					if count == 1 {
						return s[start:end], true
					} else if count > 1 {
						count--
					}
				} else {
					end = start - 1
					f--
				}
			}
		}
		if f != idx {
			return nil, false
		}
		return s[start:end], true
	}
	f, start, end := 1, 0, 0
	for ; end < len(s); end++ {
		if isSep(s[end]) {
			if f == idx {
				if count == 1 {
					return s[start:end], true
				} else if count > 1 {
					count--
				}
			} else {
				start = end + 1
				f++
			}
		}
	}
	if f != idx {
		return nil, false
	}
	return s[start:end], true
}

func word(s []byte, idx, count int, isSep func(byte) bool) ([]byte, bool) {
	w, inWord := 0, false
	if idx < 0 {
		start, end := len(s), len(s)
		for ; start > 0; start-- {
			sep := isSep(s[start-1])
			if !inWord {
				if !sep {
					if w != idx {
						w--
						end = start
					}
					inWord = true
				}
			} else if sep {
				if w == idx {
					if count == 1 {
						return s[start:end], true
					} else if count > 1 {
						count--
					}
				}
				inWord = false
			}
		}
		if w != idx {
			return nil, true
		}
		return s[start:end], true
	}
	start, end := 0, 0
	for ; end < len(s); end++ {
		sep := isSep(s[end])
		if !inWord {
			if !sep {
				if w != idx {
					w++
					start = end
				}
				inWord = true
			}
		} else if sep {
			if w == idx {
				if count == 1 {
					return s[start:end], true
				} else if count > 1 {
					count--
				}
			}
			inWord = false
		}
	}
	if w != idx {
		return nil, true
	}
	return s[start:end], true
}

// buildIPMask compiles ipmask(mask4[,mask6]); without mask6 an IPv6
// address fails to convert, as in HAProxy.
func buildIPMask(_ *compiler, args []string, _ smpType) (convFn, smpType, error) {
	m4, ok := parseMask(args[0], 32)
	if !ok {
		return nil, 0, fmt.Errorf("'%s' is not a valid IPv4 mask", args[0])
	}
	m6 := -1
	if len(args) == 2 {
		if m6, ok = parseMask(args[1], 128); !ok {
			return nil, 0, fmt.Errorf("'%s' is not a valid IPv6 mask", args[1])
		}
	}
	return func(_ *evalCtx, in sample) (sample, bool) {
		if in.ip.Is4() {
			p, _ := in.ip.Prefix(m4)
			return addrSample(p.Addr()), true
		}
		if m6 < 0 {
			return sample{}, false
		}
		p, _ := in.ip.Prefix(m6)
		return sample{t: tIPv6, ip: p.Addr()}, true
	}, tAddr, nil
}

// parseMask reads a mask as a prefix length or in address form.
func parseMask(s string, bits int) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, n >= 0 && n <= bits
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.BitLen() != bits {
		return 0, false
	}
	b := a.AsSlice()
	n := 0
	for n < bits && b[n/8]&(0x80>>(n%8)) != 0 {
		n++
	}
	for i := n; i < bits; i++ {
		if b[i/8]&(0x80>>(i%8)) != 0 {
			return 0, false
		}
	}
	return n, true
}

// buildJSON compiles json([input-code]) (sample_conv_json). The
// permissive variants accept what the strict ones accept: Go's UTF-8
// decoder rejects overlong forms.
func buildJSON(_ *compiler, args []string, _ smpType) (convFn, smpType, error) {
	mode := "ascii"
	if len(args) == 1 && args[0] != "" {
		mode = args[0]
	}
	var utf, skip bool
	switch mode {
	case "ascii":
	case "utf8", "utf8p":
		utf = true
	case "utf8s", "utf8ps":
		utf, skip = true, true
	default:
		return nil, 0, fmt.Errorf("Unexpected input code type. Allowed value are 'ascii', 'utf8', 'utf8s', 'utf8p' and 'utf8ps'")
	}
	return func(ev *evalCtx, in sample) (sample, bool) {
		const hexd = "0123456789abcdef"
		p := ev.next()
		out := *p
		for i := 0; i < len(in.b); {
			c := rune(in.b[i])
			n := 1
			if utf && c >= 0x80 {
				c, n = utf8.DecodeRune(in.b[i:])
				if (c == utf8.RuneError && n <= 1) || c > 0xffff {
					if !skip {
						*p = out
						return sample{}, false
					}
					i += max(n, 1)
					continue
				}
			}
			i += n
			switch {
			case c == '"':
				out = append(out, '\\', '"')
			case c == '\\':
				out = append(out, '\\', '\\')
			case c == '/':
				out = append(out, '\\', '/')
			case c == '\b':
				out = append(out, '\\', 'b')
			case c == '\f':
				out = append(out, '\\', 'f')
			case c == '\r':
				out = append(out, '\\', 'r')
			case c == '\n':
				out = append(out, '\\', 'n')
			case c == '\t':
				out = append(out, '\\', 't')
			case c < 0x20 || c > 0x7e:
				out = append(out, '\\', 'u', hexd[c>>12&15], hexd[c>>8&15], hexd[c>>4&15], hexd[c&15])
			default:
				out = append(out, byte(c))
			}
		}
		*p = out
		return strSample(out), true
	}, tStr, nil
}

// buildRegsub compiles regsub(regex,subst[,flags]). Go's regexp is RE2:
// PCRE-only syntax is refused. \1…\9 in subst are the groups. Unlike the
// other converters it allocates the positions of each match.
func buildRegsub(_ *compiler, args []string, _ smpType) (convFn, smpType, error) {
	global, expr := false, args[0]
	if len(args) == 3 {
		for _, f := range args[2] {
			switch f {
			case 'i':
				expr = "(?i)" + args[0]
			case 'g':
				global = true
			default:
				return nil, 0, fmt.Errorf("invalid regex flag '%c', only 'i' and 'g' are supported", f)
			}
		}
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, 0, fmt.Errorf("regex '%s' is not supported by lb yet: %v", args[0], err)
	}
	subst := args[1]
	return func(ev *evalCtx, in sample) (sample, bool) {
		p := ev.next()
		out, s := *p, in.b
		for first := true; first || global; first = false {
			m := re.FindSubmatchIndex(s)
			if m == nil {
				break
			}
			out = append(out, s[:m[0]]...)
			out = expandSubst(out, subst, s, m)
			if m[1] == 0 {
				if len(s) == 0 {
					break
				}
				// An empty match sits before a character: copy it and go on.
				out = append(out, s[0])
				m[1] = 1
			}
			s = s[m[1]:]
			if len(s) == 0 {
				break
			}
		}
		out = append(out, s...)
		*p = out
		return strSample(out), true
	}, tStr, nil
}

// expandSubst appends subst with \0…\9 replaced by the groups of match m
// in s and \xHH by the byte it codes (HAProxy's exp_replace).
func expandSubst[T string | []byte](out []byte, subst T, s []byte, m []int) []byte {
	for i := 0; i < len(subst); i++ {
		c := subst[i]
		if c == '\\' && i+1 < len(subst) {
			n := subst[i+1]
			if n >= '0' && n <= '9' {
				g := int(n - '0')
				if 2*g+1 < len(m) && m[2*g] >= 0 {
					out = append(out, s[m[2*g]:m[2*g+1]]...)
				}
				i++
				continue
			}
			if n == 'x' && i+3 < len(subst) && isHex(subst[i+2]) && isHex(subst[i+3]) {
				out = append(out, unhex(subst[i+2])<<4|unhex(subst[i+3]))
				i += 3
				continue
			}
			out = append(out, n)
			i++
			continue
		}
		out = append(out, c)
	}
	return out
}

// mapConv builds map_<match>[_<out>](file[,default]).
func mapConv(kind matchKind, out string) *convDef {
	in := kind.in()
	if kind == mIP {
		in = tAddr
	}
	return &convDef{in: in, min: 1, max: 2, build: func(c *compiler, args []string, _ smpType) (convFn, smpType, error) {
		otype := tStr
		switch out {
		case "_int":
			otype = tInt
		case "_ip":
			otype = tAddr
		}
		b, err := c.loadMap(args[0], kind, otype)
		if err != nil {
			return nil, 0, err
		}
		def, hasDef := sample{}, len(args) == 2
		if hasDef {
			if def, err = mapValue(args[1], otype); err != nil {
				return nil, 0, err
			}
		}
		return func(ev *evalCtx, in sample) (sample, bool) {
			cs := b.cur.Load()
			if i, ok := cs.match(ev, in); ok {
				return cs.vals[i], true
			}
			return def, hasDef
		}, otype, nil
	}}
}

// mapValue parses a map value of the output type.
func mapValue(s string, t smpType) (sample, error) {
	switch t {
	case tInt:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return sample{}, fmt.Errorf("'%s' is not an integer", s)
		}
		return intSample(n), nil
	case tAddr:
		a, err := netip.ParseAddr(s)
		if err != nil {
			return sample{}, fmt.Errorf("'%s' is not a valid IPv4 or IPv6 address", s)
		}
		return addrSample(a), nil
	}
	return strSample([]byte(s)), nil
}

// loadMap binds a map converter to its file's pattern reference, reading
// the file the first time: "key value" per line, the key up to the first
// blank, the value the rest of the line (pat_ref_read_from_file_smp).
// Lines starting with '#' and blank lines are skipped.
func (c *compiler) loadMap(name string, kind matchKind, otype smpType) (*boundSet, error) {
	ref, u, err := c.patternRefs().fileRef(name, true, true, false, c.late, c.pos, func() ([]string, error) { return c.readLines(name) })
	if err != nil {
		return nil, err
	}
	b, err := ref.bind(&boundSet{kind: kind, forMap: true, otype: otype, use: u})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// patternRefs are the generation's pattern references (Options.Patterns),
// or this compilation's own.
func (c *compiler) patternRefs() *PatternRefs {
	if c.opt.Patterns == nil {
		c.opt.Patterns = NewPatternRefs(c.cfg.Files)
	}
	return c.opt.Patterns
}

// readLines reads a pattern or map file, split into lines without their
// line endings. Files are read once per compilation.
func (c *compiler) readLines(name string) ([]string, error) {
	if l, ok := c.files[name]; ok {
		return l, nil
	}
	read := c.opt.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	data, err := read(name)
	if err != nil {
		return nil, fmt.Errorf("failed to open pattern file <%s>", name)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(l, '\r'); i >= 0 {
			l = l[:i]
		}
		lines = append(lines, l)
	}
	if c.files == nil {
		c.files = map[string][]string{}
	}
	c.files[name] = lines
	return lines, nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
