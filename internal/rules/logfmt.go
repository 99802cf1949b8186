package rules

import (
	"fmt"
	"strings"
)

// logFmt is a compiled log-format string as dynamic "use_backend" and
// "use-server" rules use it: literal text and "%[expr]" samples.
type logFmt struct {
	parts []lfPart
}

type lfPart struct {
	lit []byte
	e   *expr
}

// parseLogFmt compiles s. Only literal text, "%%" and "%[expr]" are
// supported; other log-format variables are refused.
func (c *compiler) parseLogFmt(s string) (*logFmt, error) {
	lf := &logFmt{}
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			lf.parts = append(lf.parts, lfPart{lit: lit})
			lit = nil
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			lit = append(lit, s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			lit = append(lit, '%')
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '[' {
			end := strings.IndexByte(s[i+2:], ']')
			if end < 0 {
				return nil, fmt.Errorf("missing ']' after '%s'", s[i:])
			}
			e, err := c.parseExpr(s[i+2 : i+2+end])
			if err != nil {
				return nil, err
			}
			flush()
			lf.parts = append(lf.parts, lfPart{e: e})
			i += 2 + end
			continue
		}
		j := i + 1
		for j < len(s) && s[j] != ' ' && s[j] != '%' {
			j++
		}
		return nil, unsupported("log-format variable " + s[i:j])
	}
	flush()
	return lf, nil
}

// build renders the format into the stream's format buffer. A sample that
// cannot be fetched renders as "-", as in HAProxy's logs.
func (lf *logFmt) build(ev *evalCtx) []byte {
	out := ev.s.st.fmt[:0]
	for i := range lf.parts {
		pt := &lf.parts[i]
		if pt.e == nil {
			out = append(out, pt.lit...)
			continue
		}
		smp, ok := pt.e.eval(ev)
		if ok {
			smp, ok = ev.cast(smp, tStr)
		}
		if !ok {
			out = append(out, '-')
			continue
		}
		out = append(out, smp.b...)
	}
	ev.s.st.fmt = out
	return out
}
