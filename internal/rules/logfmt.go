package rules

import (
	"fmt"
	"strings"
)

// logFmt is a compiled log-format string as dynamic "use_backend" and
// "use-server" rules use it: literal text and "%[expr]" samples.
type logFmt struct {
	parts []lfPart
	// http: the format of an HTTP action (see build).
	http bool
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
// cannot be fetched renders as nothing: HAProxy writes "-" only for the
// log line's formats (LOG_OPT_MANDATORY), not for those of rules. In the
// formats of HTTP actions (LOG_OPT_HTTP), control characters of samples
// are written %XX, so that no sample can end a header line.
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
			continue
		}
		if !lf.http {
			out = append(out, smp.b...)
			continue
		}
		for _, c := range smp.b {
			if c < 32 || c == 127 {
				const hexDigits = "0123456789ABCDEF"
				out = append(out, '%', hexDigits[c>>4], hexDigits[c&15])
				continue
			}
			out = append(out, c)
		}
	}
	ev.s.st.fmt = out
	return out
}
