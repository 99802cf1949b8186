package proxy

import (
	"bytes"

	"lb/internal/http1"
)

// "capture cookie <name> len <n>": the first request cookie and the first
// Set-Cookie whose name starts with <name>, logged as "name=value" cut to
// <n> bytes (%CC, %CS), as HAProxy 2.6's http_manage_client_side_cookies
// and http_manage_server_side_cookies capture them.

// captureCookie returns the first cookie of the request's Cookie fields
// (res false) or of the response's Set-Cookie fields (the first pair of
// each) whose name starts with name, as "name=value" without the spaces
// around '=', cut to n bytes, appended to dst[:0]; nil when none. Cookies
// without '=' and the "$" attributes are skipped.
func captureCookie(dst []byte, h *http1.Header, res bool, name string, n int) []byte {
	field := "cookie"
	if res {
		field = "set-cookie"
	}
	for i := range h.Fields {
		f := &h.Fields[i]
		if !equalFold(f.Name, field) {
			continue
		}
		v := f.Value
		for p := 0; p < len(v); {
			for p < len(v) && isSPHT(v[p]) {
				p++
			}
			attBeg := p
			eq := p
			for eq < len(v) && v[eq] != '=' && v[eq] != ';' && v[eq] != ',' {
				eq++
			}
			attEnd := eq
			for attEnd > attBeg && isSPHT(v[attEnd-1]) {
				attEnd--
			}
			if eq >= len(v) || v[eq] != '=' {
				// No value: not a cookie to capture.
				if res {
					break
				}
				p = eq + 1
				continue
			}
			valBeg := eq + 1
			for valBeg < len(v) && isSPHT(v[valBeg]) {
				valBeg++
			}
			next := valBeg + http1.CookieValueEnd(v[valBeg:])
			valEnd := next
			for valEnd > valBeg && isSPHT(v[valEnd-1]) {
				valEnd--
			}
			att, val := v[attBeg:attEnd], v[valBeg:valEnd]
			if (len(att) == 0 || att[0] != '$') && len(att)+1+len(val) >= len(name) && hasPrefixEq(att, val, name) {
				dst = append(append(append(dst[:0], att...), '='), val...)
				if len(dst) > n {
					dst = dst[:n]
				}
				return dst
			}
			if res {
				break // only the first pair of a Set-Cookie is a cookie
			}
			p = next + 1
		}
	}
	return nil
}

// hasPrefixEq reports whether "att=val" starts with name.
func hasPrefixEq(att, val []byte, name string) bool {
	if len(name) <= len(att) {
		return string(att[:len(name)]) == name
	}
	if string(att) != name[:len(att)] || name[len(att)] != '=' {
		return false
	}
	return bytes.HasPrefix(val, []byte(name[len(att)+1:]))
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// captureReqCookie captures the request's cookie for "capture cookie".
func (hc *httpConn) captureReqCookie() {
	if name := hc.h.cfg.CaptureCookie; name != "" {
		hc.capCli = captureCookie(hc.capCliBuf, &hc.req.Header, false, name, hc.h.cfg.CaptureCookieLen)
		if hc.capCli != nil {
			hc.capCliBuf = hc.capCli
		}
	}
}
