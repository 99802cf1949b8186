package health

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
)

// The protocol checks of HAProxy 2.6 (option redis-check, pgsql-check,
// ldap-check, smtpchk): HAProxy runs each as a built-in tcp-check rule
// set; these functions run the same rules, with the same bytes on the wire
// and the same statuses and infos.

// redisPing is what option redis-check sends: PING as a RESP array.
var redisPing = []byte("*1\r\n$4\r\nPING\r\n")

// redisCheck sends PING and expects "+PONG\r\n"; anything else is L7STS
// with the reply (cut at its first CR or LF) as the info.
func (p *prober) redisCheck() Result {
	if _, err := p.conn.Write(redisPing); err != nil {
		return p.ioFailure(err, "")
	}
	want := []byte("+PONG\r\n")
	for !bytes.Contains(p.buf, want) {
		if p.full() {
			return Result{Status: StatusL7Sts, Info: cutCRLF(string(p.buf))}
		}
		if err := p.fill(); err != nil {
			return p.ioFailure(err, "")
		}
	}
	return Result{Status: StatusL7OK, Info: "Redis server is ok"}
}

// pgsqlStartup is the startup message of option pgsql-check: its length
// (which counts itself), protocol 3.0, and the "user" parameter only.
func pgsqlStartup(user string) []byte {
	body := []byte{0, 3, 0, 0}
	body = append(body, "user\x00"...)
	body = append(body, user...)
	body = append(body, 0, 0)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body)+4)), body...)
}

// pgsqlAuth is HAProxy's pattern for the answer it wants: an
// authentication request ('R', length 8, 10 or 12) of type ok, kerberos,
// cleartext, md5, scm or gss.
var pgsqlAuth = regexp.MustCompile(`^52000000(08|0A|0C)000000(00|02|03|04|05|06)`)

// pgsqlCheck sends the startup message for the configured user. An error
// response ('E') fails with L7RSP and the error's first field as info; an
// authentication request passes; anything else is L7STS.
func (p *prober) pgsqlCheck() Result {
	if _, err := p.conn.Write(pgsqlStartup(p.cfg.PgSQLUser)); err != nil {
		return p.ioFailure(err, "")
	}
	if r, ok := p.waitFor(5); !ok {
		return r
	}
	if len(p.buf) > 0 && p.buf[0] == 'E' {
		info := ""
		if len(p.buf) > 6 {
			info, _, _ = strings.Cut(string(p.buf[6:]), "\x00")
		}
		return Result{Status: StatusL7Rsp, Info: info}
	}
	if r, ok := p.waitFor(9); !ok {
		return r
	}
	if pgsqlAuth.MatchString(strings.ToUpper(hex.EncodeToString(p.buf))) {
		return Result{Status: StatusL7OK, Info: "PostgreSQL server is ok"}
	}
	return Result{Status: StatusL7Sts, Info: "PostgreSQL unknown error"}
}

// ldapBind is option ldap-check's request: an anonymous LDAPv3 simple bind
// (message id 1).
var ldapBind = []byte{0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00}

// ldapCheck sends the bind request and reads the bind response as HAProxy
// does: a BER sequence with message id 1 and a bindResponse whose result
// code is the check's code, 0 (success) passing.
func (p *prober) ldapCheck() Result {
	if _, err := p.conn.Write(ldapBind); err != nil {
		return p.ioFailure(err, "")
	}
	if r, ok := p.waitFor(14); !ok {
		return r
	}
	notLDAP := Result{Status: StatusL7Rsp, Info: "Not LDAPv3 protocol"}
	b := p.buf
	at := func(i int) byte {
		if i < len(b) {
			return b[i]
		}
		return 0
	}
	if len(b) < 14 || b[0] != 0x30 {
		return notLDAP
	}
	msglen := 0
	if at(1)&0x80 != 0 {
		msglen = int(at(1) & 0x7f)
	}
	if msglen > 2 || !bytes.HasPrefix(b[min(2+msglen, len(b)):], []byte{0x02, 0x01, 0x01, 0x61}) {
		return notLDAP
	}
	if at(msglen+6)&0x80 != 0 {
		msglen += int(at(msglen+6) & 0x7f)
	}
	if msglen > 4 || !bytes.HasPrefix(b[min(7+msglen, len(b)):], []byte{0x0a, 0x01}) {
		return notLDAP
	}
	if code := int(at(msglen + 9)); code != 0 {
		return Result{Status: StatusL7Sts, Code: code, Info: "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9"}
	}
	return Result{Status: StatusL7OK, Info: "Success"}
}

// smtpAny and smtp2xx are the patterns of option smtpchk's expect rules.
var (
	smtpAny = regexp.MustCompile(`^[0-9]{3}[ \r]`)
	smtp2xx = regexp.MustCompile(`^2[0-9]{2}[ \r]`)
)

// smtpCheck expects a 2xx banner, sends the HELO/EHLO command, expects a
// 2xx reply, sends QUIT and expects a 2xx reply, whose code and text are
// the result. A reply that is not SMTP fails with L7RSP, a non-2xx one
// with L7STS and its code and text.
func (p *prober) smtpCheck() Result {
	for _, send := range []string{"", p.cfg.SMTPCmd + "\r\n", "QUIT\r\n"} {
		if send != "" {
			p.buf, p.eof = p.buf[:0], false
			if _, err := p.conn.Write([]byte(send)); err != nil {
				return p.ioFailure(err, "")
			}
		}
		if r, ok := p.smtpReply(); !ok {
			return r
		}
	}
	code, _ := strconv.Atoi(string(p.buf[:3]))
	return Result{Status: StatusL7OK, Code: code, Info: smtpText(p.buf)}
}

// smtpReply waits for a reply that passes both of smtpchk's expect rules.
func (p *prober) smtpReply() (Result, bool) {
	for len(p.buf) < 4 || !smtpAny.Match(p.buf) {
		if len(p.buf) >= 4 && p.full() || p.eof {
			return Result{Status: StatusL7Rsp, Info: cutCRLF(string(p.buf))}, false
		}
		if err := p.fill(); err != nil {
			return p.ioFailure(err, ""), false
		}
	}
	if !smtp2xx.Match(p.buf) {
		code, _ := strconv.Atoi(string(p.buf[:3]))
		return Result{Status: StatusL7Sts, Code: code, Info: smtpText(p.buf)}, false
	}
	return Result{}, true
}

// smtpText is a reply's text: after the code, left-trimmed, up to the end
// of the line.
func smtpText(b []byte) string {
	return cutCRLF(strings.TrimLeft(string(b[4:]), " "))
}

// cutCRLF cuts s at its first CR or LF, as HAProxy's cut_crlf.
func cutCRLF(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// waitFor reads until p.buf holds n bytes or no more can come; ok is false
// with the failure of a read error.
func (p *prober) waitFor(n int) (Result, bool) {
	for len(p.buf) < n && !p.full() {
		if err := p.fill(); err != nil {
			return p.ioFailure(err, ""), false
		}
	}
	return Result{}, true
}
