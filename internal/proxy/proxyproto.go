package proxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
)

// PROXY protocol (https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt).

// proxyV2Sig is the 12-byte signature opening a version 2 header (§2.2).
var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

const (
	proxyV1Max    = 107 // longest v1 line, CRLF included (§2.1)
	proxyV2Header = 16  // signature, version/command, family, length
	// proxyV2MaxLen bounds the TLV area we accept; HAProxy refuses headers
	// that do not fit its buffer, we keep a smaller, generous limit.
	proxyV2MaxLen = 4096
)

var (
	errProxyNotProxy = errors.New("not a PROXY protocol header")
	errProxyBad      = errors.New("malformed PROXY protocol header")
)

// ProxyHeader is a decoded PROXY protocol header.
type ProxyHeader struct {
	// Version is 1 (text) or 2 (binary).
	Version int
	// Local is true for a v2 LOCAL command or a v1 "UNKNOWN" line, and for
	// v2 address families other than TCP over IPv4/IPv6: the connection's
	// own addresses must be used, Src and Dst are not valid.
	Local bool
	// Src and Dst are the original client and destination addresses.
	Src, Dst netip.AddrPort
}

// ReadProxyHeader reads one PROXY protocol header of either version from r,
// auto-detected from its first bytes as HAProxy's accept-proxy does. It reads
// what r returns and never waits for bytes beyond the header; any bytes read
// past the header are returned in rest and belong to the payload. A deadline
// on r bounds the wait.
func ReadProxyHeader(r io.Reader) (h ProxyHeader, rest []byte, err error) {
	buf := make([]byte, 0, 256)
	for {
		need, perr := proxyHeaderLen(buf)
		if perr != nil {
			return ProxyHeader{}, nil, fmt.Errorf("read proxy header: %w", perr)
		}
		if need > 0 && len(buf) >= need {
			h, err := ParseProxyHeader(buf[:need])
			if err != nil {
				return ProxyHeader{}, nil, err
			}
			return h, buf[need:], nil
		}
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), 2*cap(buf)+proxyV2Header)
			copy(nb, buf)
			buf = nb
		}
		n, rerr := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if rerr != nil && n == 0 {
			if errors.Is(rerr, io.EOF) {
				rerr = io.ErrUnexpectedEOF
			}
			return ProxyHeader{}, nil, fmt.Errorf("read proxy header: %w", rerr)
		}
	}
}

// proxyHeaderLen returns the full length of the header starting b, or 0 when
// more bytes are needed to know it.
func proxyHeaderLen(b []byte) (int, error) {
	v1 := []byte("PROXY ")
	switch {
	case len(b) == 0:
		return 0, nil
	case b[0] == 'P':
		if !bytes.HasPrefix(b, v1) && !bytes.HasPrefix(v1, b) {
			return 0, errProxyNotProxy
		}
		if i := bytes.Index(b, []byte("\r\n")); i >= 0 {
			if i+2 > proxyV1Max {
				return 0, errProxyBad
			}
			return i + 2, nil
		}
		if len(b) >= proxyV1Max {
			return 0, errProxyBad
		}
		return 0, nil
	case b[0] == '\r':
		m := min(len(b), len(proxyV2Sig))
		if !bytes.Equal(b[:m], proxyV2Sig[:m]) {
			return 0, errProxyNotProxy
		}
		if len(b) < proxyV2Header {
			return 0, nil
		}
		l := int(binary.BigEndian.Uint16(b[14:16]))
		if l > proxyV2MaxLen {
			return 0, errProxyBad
		}
		return proxyV2Header + l, nil
	}
	return 0, errProxyNotProxy
}

// ParseProxyHeader decodes exactly one complete PROXY header (v1 line with
// its CRLF, or v2 header with its TLVs).
func ParseProxyHeader(b []byte) (ProxyHeader, error) {
	if bytes.HasPrefix(b, proxyV2Sig) {
		return parseProxyV2(b)
	}
	return parseProxyV1(b)
}

func parseProxyV1(b []byte) (ProxyHeader, error) {
	bad := func(why string) (ProxyHeader, error) {
		return ProxyHeader{}, fmt.Errorf("parse proxy v1 %q: %s: %w", b, why, errProxyBad)
	}
	if len(b) > proxyV1Max || !bytes.HasSuffix(b, []byte("\r\n")) {
		return bad("no CRLF within 107 bytes")
	}
	f := bytes.Split(b[:len(b)-2], []byte(" "))
	if string(f[0]) != "PROXY" || len(f) < 2 {
		return bad("no PROXY prefix")
	}
	h := ProxyHeader{Version: 1}
	switch string(f[1]) {
	case "UNKNOWN":
		// The receiver must ignore anything after UNKNOWN (§2.1).
		h.Local = true
		return h, nil
	case "TCP4", "TCP6":
	default:
		return bad("unknown protocol")
	}
	if len(f) != 6 {
		return bad("wrong field count")
	}
	src, err1 := netip.ParseAddr(string(f[2]))
	dst, err2 := netip.ParseAddr(string(f[3]))
	if err1 != nil || err2 != nil {
		return bad("bad address")
	}
	want4 := string(f[1]) == "TCP4"
	if src.Is4() != want4 || dst.Is4() != want4 || src.Zone() != "" || dst.Zone() != "" {
		return bad("address family mismatch")
	}
	sp, ok1 := parsePort(f[4])
	dp, ok2 := parsePort(f[5])
	if !ok1 || !ok2 {
		return bad("bad port")
	}
	h.Src = netip.AddrPortFrom(src, sp)
	h.Dst = netip.AddrPortFrom(dst, dp)
	return h, nil
}

// parsePort parses a decimal port without sign or leading zeros (§2.1).
func parsePort(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

func parseProxyV2(b []byte) (ProxyHeader, error) {
	bad := func(why string) (ProxyHeader, error) {
		return ProxyHeader{}, fmt.Errorf("parse proxy v2: %s: %w", why, errProxyBad)
	}
	if len(b) < proxyV2Header || len(b) != proxyV2Header+int(binary.BigEndian.Uint16(b[14:16])) {
		return bad("length mismatch")
	}
	if b[12]>>4 != 2 {
		return bad("version is not 2")
	}
	h := ProxyHeader{Version: 2}
	switch b[12] & 0xf {
	case 0: // LOCAL: health checks of a proxy; use the real addresses
		h.Local = true
		return h, nil
	case 1: // PROXY
	default:
		return bad("unknown command")
	}
	body := b[proxyV2Header:]
	switch b[13] {
	case 0x11, 0x12: // TCP or UDP over IPv4
		if len(body) < 12 {
			return bad("short IPv4 address block")
		}
		h.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[0:4])), binary.BigEndian.Uint16(body[8:10]))
		h.Dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[4:8])), binary.BigEndian.Uint16(body[10:12]))
	case 0x21, 0x22: // TCP or UDP over IPv6
		if len(body) < 36 {
			return bad("short IPv6 address block")
		}
		h.Src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[0:16])), binary.BigEndian.Uint16(body[32:34]))
		h.Dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[16:32])), binary.BigEndian.Uint16(body[34:36]))
	default:
		// UNSPEC and unix families: accepted, addresses not usable (§2.2).
		h.Local = true
	}
	return h, nil
}

// AppendProxyV1 appends a v1 header for a connection from src to dst. Mixed
// families are sent as TCP6 with IPv4-mapped addresses; invalid addresses
// give "PROXY UNKNOWN".
func AppendProxyV1(b []byte, src, dst netip.AddrPort) []byte {
	sa, da, ok := proxyAddrs(src, dst)
	if !ok {
		return append(b, "PROXY UNKNOWN\r\n"...)
	}
	if sa.Is4() {
		b = append(b, "PROXY TCP4 "...)
	} else {
		b = append(b, "PROXY TCP6 "...)
	}
	b = sa.AppendTo(b)
	b = append(b, ' ')
	b = da.AppendTo(b)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(src.Port()), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(dst.Port()), 10)
	return append(b, "\r\n"...)
}

// AppendProxyV2 appends a v2 PROXY header (no TLV) for a connection from src
// to dst; invalid addresses give a LOCAL header.
func AppendProxyV2(b []byte, src, dst netip.AddrPort) []byte {
	b = append(b, proxyV2Sig...)
	sa, da, ok := proxyAddrs(src, dst)
	switch {
	case !ok:
		return append(b, 0x20, 0x00, 0, 0)
	case sa.Is4():
		b = append(b, 0x21, 0x11, 0, 12)
		s4, d4 := sa.As4(), da.As4()
		b = append(b, s4[:]...)
		b = append(b, d4[:]...)
	default:
		b = append(b, 0x21, 0x21, 0, 36)
		s16, d16 := sa.As16(), da.As16()
		b = append(b, s16[:]...)
		b = append(b, d16[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}

// proxyAddrs returns src and dst addresses of one family: IPv4 when both
// are IPv4 (or mapped), IPv6 otherwise.
func proxyAddrs(src, dst netip.AddrPort) (sa, da netip.Addr, ok bool) {
	if !src.IsValid() || !dst.IsValid() {
		return sa, da, false
	}
	sa, da = src.Addr().Unmap().WithZone(""), dst.Addr().Unmap().WithZone("")
	if sa.Is4() != da.Is4() {
		sa, da = netip.AddrFrom16(sa.As16()), netip.AddrFrom16(da.As16())
	}
	return sa, da, true
}
