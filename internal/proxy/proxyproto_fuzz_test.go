package proxy

import (
	"bytes"
	"net/netip"
	"testing"
	"testing/iotest"
)

// FuzzProxyHeader feeds hostile bytes to the PROXY protocol reader, whole and one byte at a
// time (as a slow peer sends them): it never panics, both ways agree, what it accepts stays
// within the header, and a header it accepts encodes back to one that parses the same.
func FuzzProxyHeader(f *testing.F) {
	src, dst := netip.MustParseAddrPort("192.0.2.1:4000"), netip.MustParseAddrPort("198.51.100.2:443")
	src6, dst6 := netip.MustParseAddrPort("[2001:db8::1]:4000"), netip.MustParseAddrPort("[2001:db8::2]:443")
	f.Add(AppendProxyV1(nil, src, dst))
	f.Add(AppendProxyV1(nil, src6, dst6))
	f.Add(AppendProxyV2(nil, src, dst))
	f.Add(append(AppendProxyV2(nil, src6, dst6), "GET / HTTP/1.1\r\n\r\n"...))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 65535 0\r\npayload"))
	f.Add([]byte("PROXY TCP6 ::1 ::1 1 2\r\n"))
	f.Add([]byte("\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00"))
	f.Add([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\x7f\x00\x00\x01\x7f\x00\x00\x01\x00\x50\x01\xbb"))
	f.Add([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h1, rest1, err1 := ReadProxyHeader(bytes.NewReader(b))
		h2, rest2, err2 := ReadProxyHeader(iotest.OneByteReader(bytes.NewReader(b)))
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("whole: %v; byte by byte: %v", err1, err2)
		}
		if err1 != nil {
			return
		}
		if h1 != h2 {
			t.Fatalf("whole: %+v; byte by byte: %+v", h1, h2)
		}
		need, err := proxyHeaderLen(b)
		if err != nil || need <= 0 || need > len(b) || !bytes.HasPrefix(b[need:], rest1) || len(rest2) != 0 {
			t.Fatalf("rest %q (byte by byte %q) is not what follows the header (%d bytes, %v) in %q", rest1, rest2, need, err, b)
		}
		if h1.Version != 1 && h1.Version != 2 {
			t.Fatalf("version %d", h1.Version)
		}
		if h1.Local {
			return
		}
		if !h1.Src.IsValid() || !h1.Dst.IsValid() {
			t.Fatalf("accepted %+v with invalid addresses", h1)
		}
		var enc []byte
		if h1.Version == 1 {
			enc = AppendProxyV1(nil, h1.Src, h1.Dst)
		} else {
			enc = AppendProxyV2(nil, h1.Src, h1.Dst)
		}
		h3, err := ParseProxyHeader(enc)
		if err != nil || h3.Src != h1.Src || h3.Dst != h1.Dst {
			t.Fatalf("%+v encodes to %q which parses to %+v, %v", h1, enc, h3, err)
		}
	})
}
