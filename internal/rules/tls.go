package rules

// This file reads TLS ClientHello messages from a stream's request data
// for the req.ssl_* fetches, following the layout of RFC 8446 §4.1.2 and
// the checks of HAProxy's payload.c. The data is hostile: every length is
// checked against the bytes actually present before it is used.

// helloStatus is the outcome of parsing a ClientHello.
type helloStatus uint8

const (
	helloOK helloStatus = iota
	// helloShort: the bytes so far are a valid prefix; more may complete it.
	helloShort
	// helloBad: not a ClientHello lb can read.
	helloBad
)

// hello locates the parts of a ClientHello in the request data. Offsets
// index the buffer passed to parseHello; a length of -1 means absent.
type hello struct {
	sniOff, sniLen   int
	alpnOff, alpnLen int // the protocol_name_list, without its length
	ecExt            bool
	stExt            int // 0 absent, 1 empty, 2 with a ticket
}

// extension types (IANA TLS ExtensionType Values).
const (
	extServerName    = 0
	extEllipticCurve = 10 // supported_groups, formerly elliptic_curves
	extALPN          = 16
	extSessionTicket = 35
)

// parseHello parses the ClientHello at the start of b: a handshake record
// (type 22, version 3.x) whose first message is a ClientHello (type 1)
// held entirely in that record, with version TLS 1.0 or later and an
// extension block. A message split over several records is not read (as
// in HAProxy).
func parseHello(b []byte) (h hello, st helloStatus) {
	h.sniLen, h.alpnLen = -1, -1
	if len(b) == 0 {
		return h, helloShort
	}
	if b[0] != 0x16 {
		return h, helloBad
	}
	if len(b) < 3 {
		return h, helloShort
	}
	if b[1] < 0x03 {
		return h, helloBad
	}
	if len(b) < 5 {
		return h, helloShort
	}
	recLen := int(b[3])<<8 | int(b[4])
	// type, length, version, random, session id length, cipher suites
	// length and one suite, compression methods and one, extensions length.
	const minRec = 1 + 3 + 2 + 32 + 1 + 2 + 2 + 1 + 1 + 2
	if recLen < minRec {
		return h, helloBad
	}
	if len(b) < 6 {
		return h, helloShort
	}
	if b[5] != 0x01 {
		return h, helloBad
	}
	if len(b) < 9 {
		return h, helloShort
	}
	hsLen := int(b[6])<<16 | int(b[7])<<8 | int(b[8])
	if hsLen < minRec-4 || hsLen+4 > recLen {
		return h, helloBad
	}
	if len(b) < 9+hsLen {
		return h, helloShort
	}
	m := b[9 : 9+hsLen] // the ClientHello body
	base := 9
	if m[0] < 0x03 || m[1] < 0x01 {
		return h, helloBad // TLSv1 minimum
	}
	p := 34 // legacy_version, random
	sid := int(m[p])
	if sid > 32 || p+1+sid > len(m) {
		return h, helloBad
	}
	p += 1 + sid
	if p+2 > len(m) {
		return h, helloBad
	}
	cs := int(m[p])<<8 | int(m[p+1])
	if cs < 2 || p+2+cs > len(m) {
		return h, helloBad
	}
	p += 2 + cs
	if p+1 > len(m) {
		return h, helloBad
	}
	cm := int(m[p])
	if cm < 1 || p+1+cm > len(m) {
		return h, helloBad
	}
	p += 1 + cm
	if p+2 > len(m) {
		return h, helloBad
	}
	extLen := int(m[p])<<8 | int(m[p+1])
	p += 2
	if p+extLen > len(m) {
		return h, helloBad
	}
	exts := m[p : p+extLen]
	base += p
	for q := 0; q+4 <= len(exts); {
		typ := int(exts[q])<<8 | int(exts[q+1])
		n := int(exts[q+2])<<8 | int(exts[q+3])
		q += 4
		if q+n > len(exts) {
			return h, helloBad
		}
		d := exts[q : q+n]
		switch typ {
		case extServerName:
			if h.sniLen >= 0 {
				break
			}
			// server_name_list: length, then name_type 0 (host_name),
			// length and the name.
			if len(d) < 2 {
				return h, helloBad
			}
			list := int(d[0])<<8 | int(d[1])
			if list < 4 || 2+list > len(d) {
				return h, helloBad
			}
			if d[2] == 0 {
				nl := int(d[3])<<8 | int(d[4])
				if 5+nl > 2+list {
					return h, helloBad
				}
				h.sniOff, h.sniLen = base+q+5, nl
			}
		case extALPN:
			if h.alpnLen >= 0 {
				break
			}
			if len(d) < 3 {
				return h, helloBad
			}
			list := int(d[0])<<8 | int(d[1])
			if 2+list > len(d) {
				return h, helloBad
			}
			h.alpnOff, h.alpnLen = base+q+2, list
		case extEllipticCurve:
			h.ecExt = true
		case extSessionTicket:
			if h.stExt == 0 {
				h.stExt = 1
				if n > 0 {
					h.stExt = 2
				}
			}
		}
		q += n
	}
	return h, helloOK
}

// helloFetch wraps a reader of a parsed ClientHello into a fetch.
func helloFetch(get func(ev *evalCtx, b []byte, h *hello, it *int) (sample, bool)) fetchFn {
	return func(ev *evalCtx, it *int) (sample, bool) {
		b := ev.s.Req
		h, st := parseHello(b)
		switch st {
		case helloShort:
			return sample{mayChange: true}, false
		case helloBad:
			return sample{}, false
		}
		return get(ev, b, &h, it)
	}
}

// fetchSNI is req.ssl_sni: the first host_name of the server_name
// extension (RFC 6066 §3).
var fetchSNI = helloFetch(func(_ *evalCtx, b []byte, h *hello, _ *int) (sample, bool) {
	if h.sniLen < 0 {
		return sample{}, false
	}
	return strSample(b[h.sniOff : h.sniOff+h.sniLen]), true
})

// fetchALPN is req.ssl_alpn: each protocol name of the ALPN extension
// (RFC 7301 §3.1) in turn, as HAProxy iterates them for ACLs.
var fetchALPN = helloFetch(func(_ *evalCtx, b []byte, h *hello, it *int) (sample, bool) {
	if h.alpnLen < 0 {
		return sample{}, false
	}
	list := b[h.alpnOff : h.alpnOff+h.alpnLen]
	p := *it
	if p >= len(list) {
		return sample{}, false
	}
	n := int(list[p])
	if p+1+n > len(list) {
		return sample{}, false
	}
	smp := strSample(list[p+1 : p+1+n])
	if p+1+n < len(list) {
		*it = p + 1 + n
		smp.notLast = true
	}
	return smp, true
})

// fetchECExt is req.ssl_ec_ext: the supported_groups extension is present.
var fetchECExt = helloFetch(func(_ *evalCtx, _ []byte, h *hello, _ *int) (sample, bool) {
	return boolSample(true), h.ecExt
})

// fetchSTExt is req.ssl_st_ext: 0 without a SessionTicket extension, 1
// with an empty one, 2 with a ticket.
var fetchSTExt = helloFetch(func(_ *evalCtx, _ []byte, h *hello, _ *int) (sample, bool) {
	return intSample(int64(h.stExt)), true
})

// fetchHelloType is req.ssl_hello_type / res.ssl_hello_type: the type of
// the first handshake message, once it is complete (smp_fetch_ssl_hello_type).
func fetchHelloType(res bool) fetchFn {
	return func(ev *evalCtx, _ *int) (sample, bool) {
		b := ev.data(res)
		if len(b) == 0 {
			return sample{mayChange: true}, false
		}
		if !(b[0] >= 0x14 && b[0] <= 0x17) && b[0] != 0xff {
			return sample{}, false
		}
		if len(b) < 9 {
			return sample{mayChange: true}, false
		}
		if b[1] < 0x03 {
			return sample{}, false
		}
		if int(b[3])<<8|int(b[4]) < 4 {
			return sample{}, false
		}
		hsLen := int(b[6])<<16 | int(b[7])<<8 | int(b[8])
		if len(b) < 9+hsLen {
			return sample{mayChange: true}, false
		}
		return intSample(int64(b[5])), true
	}
}

// fetchSSLVer is req.ssl_ver: the ClientHello's client_version (not the
// record layer's, and not supported_versions: TLS 1.3 clients report 3.3),
// major*65536+minor, once the whole first record is there. SSLv2-format
// hellos are read as in smp_fetch_req_ssl_ver.
func fetchSSLVer(ev *evalCtx, _ *int) (sample, bool) {
	b := ev.s.Req
	short := sample{mayChange: true}
	if len(b) == 0 {
		return short, false
	}
	var version, msgLen, left int
	if (b[0] >= 0x14 && b[0] <= 0x17) || b[0] == 0xff {
		if len(b) < 11 {
			return short, false
		}
		version = int(b[1])<<16 | int(b[2])
		msgLen = int(b[3])<<8 | int(b[4])
		if version < 0x30000 || msgLen < 6 || msgLen > 1<<14+2048 {
			return sample{}, false
		}
		left = len(b) - 5
		version = int(b[9])<<16 | int(b[10])
	} else {
		var rlen, plen, p int
		if b[0]&0x80 != 0 {
			if len(b) < 3 {
				return short, false
			}
			rlen, p = int(b[0]&0x7f)<<8|int(b[1]), 2
		} else {
			if len(b) < 4 {
				return short, false
			}
			rlen, plen, p = int(b[0]&0x3f)<<8|int(b[1]), int(b[2]), 3
		}
		if b[p] != 0x01 {
			return sample{}, false
		}
		p++
		if len(b)-p < 8 {
			return short, false
		}
		version = int(b[p])<<16 | int(b[p+1])
		cilen := int(b[p+2])<<8 | int(b[p+3])
		silen := int(b[p+4])<<8 | int(b[p+5])
		chlen := int(b[p+6])<<8 | int(b[p+7])
		p += 8
		if cilen%3 != 0 || (silen != 0 && silen != 16) || chlen < 16 || chlen > 32 || rlen != 9+cilen+silen+chlen {
			return sample{}, false
		}
		msgLen, left = cilen+silen+chlen+plen, len(b)-p
	}
	if msgLen > recvLimit {
		msgLen = recvLimit
	}
	if left < msgLen {
		return short, false
	}
	return intSample(int64(version)), true
}
