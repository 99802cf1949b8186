package health

import (
	"bytes"
	"encoding/binary"
	"strconv"
)

// mysqlCheck is option mysql-check, HAProxy 2.6's ruleset: with a user,
// send the client authentication packet and a COM_QUIT at once; then want
// a whole first packet that is not an error packet (the server's
// handshake), and with a user a whole second one that is not an error
// packet either (the OK to the login). See the MySQL client/server
// protocol, "Protocol::Handshake" and "ERR_Packet".
//
// Results, as HAProxy's: L7OK with the server version from the handshake
// as info; L7STS with the error code as code and the error message as info
// for an error packet; L7RSP for a short or truncated answer; "TCPCHK got
// an empty response at step N" when the server closes without a byte.
func (p *prober) mysqlCheck() Result {
	user := p.cfg.MySQLUser
	if user != "" {
		if _, err := p.conn.Write(mysqlAuthPacket(user, p.cfg.MySQLPre41)); err != nil {
			return p.ioFailure(err, "")
		}
	}
	// HAProxy numbers the rules of its ruleset: connect, [send], expect.
	step := 2
	if user != "" {
		step = 3
	}
	hslen, r, ok := p.mysqlPacket(0, step)
	if !ok {
		return r
	}
	if user != "" {
		if _, r, ok := p.mysqlPacket(hslen, step+1); !ok {
			return r
		}
	}
	// HAProxy reports the C string at offset 5 of what it received: the
	// handshake's server version (after the 4-byte header and the protocol
	// version byte).
	info := ""
	if len(p.buf) > 5 {
		info = cString(p.buf[5:])
	}
	return Result{Status: StatusL7OK, Info: info}
}

// mysqlPacket waits for a whole packet at off in p.buf (3 bytes of length,
// 1 of sequence, the payload) and returns the offset past it; ok is false
// with the failure.
func (p *prober) mysqlPacket(off, step int) (end int, r Result, ok bool) {
	for {
		if len(p.buf) == 0 && p.full() {
			return 0, Result{Status: StatusL7Rsp, Info: "TCPCHK got an empty response at step " + strconv.Itoa(step)}, false
		}
		if len(p.buf) >= off+4 {
			plen := int(p.buf[off]) | int(p.buf[off+1])<<8 | int(p.buf[off+2])<<16
			if len(p.buf) >= off+4+plen {
				if plen > 0 && p.buf[off+4] == 0xff {
					// ERR_Packet: 0xff, the error code (2 bytes, little
					// endian), then the message (with its "#" and SQL state
					// in the 4.1 protocol), up to what was received.
					r := Result{Status: StatusL7Sts}
					if len(p.buf) >= off+7 {
						r.Code = int(binary.LittleEndian.Uint16(p.buf[off+5:]))
						r.Info = cString(p.buf[off+7:])
					}
					return 0, r, false
				}
				return off + 4 + plen, Result{}, true
			}
		}
		if p.full() {
			return 0, Result{Status: StatusL7Rsp}, false
		}
		if err := p.fill(); err != nil {
			return 0, p.ioFailure(err, ""), false
		}
	}
}

// mysqlAuthPacket is the client authentication packet HAProxy 2.6 sends
// for "user <name>" (captured from haproxy 2.6.12), followed by a
// COM_QUIT packet:
//
//	post-41: length, seq 1, capabilities 0x00008200 (PROTOCOL_41 |
//	         SECURE_CONNECTION), max packet 0x01008000, charset 0x21,
//	         23 zero bytes, the user, NUL, an empty auth response
//	pre-41:  length, seq 1, capabilities 0x8000, max packet 0x010000,
//	         the user, NUL, an empty auth response
func mysqlAuthPacket(user string, pre41 bool) []byte {
	var body []byte
	if pre41 {
		body = append(body, 0x00, 0x80, 0x00, 0x00, 0x01)
	} else {
		body = append(body, 0x00, 0x82, 0x00, 0x00, 0x00, 0x80, 0x00, 0x01, 0x21)
		body = append(body, make([]byte, 23)...)
	}
	body = append(body, user...)
	body = append(body, 0, 0)
	n := len(body)
	pkt := append([]byte{byte(n), byte(n >> 8), byte(n >> 16), 1}, body...)
	return append(pkt, 0x01, 0x00, 0x00, 0x00, 0x01) // COM_QUIT, seq 0
}

// cString is b up to its first NUL, as HAProxy copies a check's info.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
