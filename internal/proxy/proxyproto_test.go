package proxy

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"testing"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseProxyHeader(t *testing.T) {
	v2sig := "0d0a0d0a000d0a515549540a"
	ap := netip.MustParseAddrPort
	tests := []struct {
		name    string
		in      string // text, or hex when it starts with "hex:"
		want    ProxyHeader
		wantErr bool
	}{
		{name: "v1 tcp4", in: "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n",
			want: ProxyHeader{Version: 1, Src: ap("192.0.2.1:56324"), Dst: ap("198.51.100.2:443")}},
		{name: "v1 tcp6", in: "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n",
			want: ProxyHeader{Version: 1, Src: ap("[2001:db8::1]:1"), Dst: ap("[2001:db8::2]:65535")}},
		{name: "v1 unknown", in: "PROXY UNKNOWN\r\n", want: ProxyHeader{Version: 1, Local: true}},
		{name: "v1 unknown with junk", in: "PROXY UNKNOWN ffff:f...f:ffff 1 2 3\r\n", want: ProxyHeader{Version: 1, Local: true}},
		{name: "v1 family mismatch", in: "PROXY TCP4 2001:db8::1 192.0.2.1 1 2\r\n", wantErr: true},
		{name: "v1 port too big", in: "PROXY TCP4 192.0.2.1 192.0.2.2 65536 2\r\n", wantErr: true},
		{name: "v1 port leading zero", in: "PROXY TCP4 192.0.2.1 192.0.2.2 080 2\r\n", wantErr: true},
		{name: "v1 missing field", in: "PROXY TCP4 192.0.2.1 192.0.2.2 80\r\n", wantErr: true},
		{name: "v1 bad proto", in: "PROXY UDP4 192.0.2.1 192.0.2.2 80 81\r\n", wantErr: true},
		{name: "v1 bare LF", in: "PROXY TCP4 192.0.2.1 192.0.2.2 80 81\n", wantErr: true},
		{name: "v1 double space", in: "PROXY TCP4  192.0.2.1 192.0.2.2 80 81\r\n", wantErr: true},
		{name: "v2 tcp4", in: "hex:" + v2sig + "21" + "11" + "000c" + "c0000201" + "c6336402" + "dc04" + "01bb",
			want: ProxyHeader{Version: 2, Src: ap("192.0.2.1:56324"), Dst: ap("198.51.100.2:443")}},
		{name: "v2 tcp4 with TLV", in: "hex:" + v2sig + "21" + "11" + "0010" + "c0000201" + "c6336402" + "dc04" + "01bb" + "01000141",
			want: ProxyHeader{Version: 2, Src: ap("192.0.2.1:56324"), Dst: ap("198.51.100.2:443")}},
		{name: "v2 tcp6", in: "hex:" + v2sig + "21" + "21" + "0024" + "20010db8000000000000000000000001" + "20010db8000000000000000000000002" + "0001" + "0002",
			want: ProxyHeader{Version: 2, Src: ap("[2001:db8::1]:1"), Dst: ap("[2001:db8::2]:2")}},
		{name: "v2 local", in: "hex:" + v2sig + "20" + "00" + "0000", want: ProxyHeader{Version: 2, Local: true}},
		{name: "v2 unix family", in: "hex:" + v2sig + "21" + "31" + "0000", want: ProxyHeader{Version: 2, Local: true}},
		{name: "v2 version 1", in: "hex:" + v2sig + "11" + "11" + "000c" + "c0000201c6336402dc0401bb", wantErr: true},
		{name: "v2 bad command", in: "hex:" + v2sig + "22" + "11" + "000c" + "c0000201c6336402dc0401bb", wantErr: true},
		{name: "v2 short ipv4 block", in: "hex:" + v2sig + "21" + "11" + "0004" + "c0000201", wantErr: true},
		{name: "not proxy", in: "GET / HTTP/1.1\r\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			if h, ok := bytes.CutPrefix(in, []byte("hex:")); ok {
				in = mustHex(t, string(h))
			}
			// Through the reader, with payload behind the header.
			payload := []byte("payload")
			h, rest, err := ReadProxyHeader(io.MultiReader(bytes.NewReader(in), bytes.NewReader(payload)))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ReadProxyHeader(%q) error = %v; want error %v", in, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if h != tt.want {
				t.Errorf("ReadProxyHeader(%q) = %+v; want %+v", in, h, tt.want)
			}
			if len(rest) > 0 && !bytes.HasPrefix(payload, rest) {
				t.Errorf("ReadProxyHeader(%q) rest = %q; want a prefix of %q", in, rest, payload)
			}
		})
	}
}

// TestReadProxyHeaderNoOverwait checks that a header is returned as soon as
// it is complete, without waiting for payload (a client may wait for the
// server to speak first).
func TestReadProxyHeaderNoOverwait(t *testing.T) {
	for _, in := range []string{"PROXY UNKNOWN\r\n", string(AppendProxyV2(nil, netip.AddrPort{}, netip.AddrPort{}))} {
		r := &oneShot{b: []byte(in)}
		if _, rest, err := ReadProxyHeader(r); err != nil || len(rest) != 0 {
			t.Errorf("ReadProxyHeader(%q) = rest %q, %v; want no rest, nil", in, rest, err)
		}
	}
}

// oneShot returns its bytes once, then fails the test by returning an error
// a caller waiting for more would see.
type oneShot struct {
	b    []byte
	done bool
}

func (o *oneShot) Read(p []byte) (int, error) {
	if o.done {
		return 0, errors.New("read past the header")
	}
	o.done = true
	return copy(p, o.b), nil
}

func TestAppendProxy(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name     string
		src, dst netip.AddrPort
		v1       string
	}{
		{"ipv4", ap("192.0.2.1:1234"), ap("198.51.100.2:80"), "PROXY TCP4 192.0.2.1 198.51.100.2 1234 80\r\n"},
		{"mapped ipv4", ap("[::ffff:192.0.2.1]:1234"), ap("[::ffff:198.51.100.2]:80"), "PROXY TCP4 192.0.2.1 198.51.100.2 1234 80\r\n"},
		{"ipv6", ap("[2001:db8::1]:1"), ap("[2001:db8::2]:2"), "PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n"},
		{"mixed", ap("192.0.2.1:1"), ap("[2001:db8::2]:2"), "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 1 2\r\n"},
		{"unknown", netip.AddrPort{}, ap("192.0.2.1:1"), "PROXY UNKNOWN\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendProxyV1(nil, tt.src, tt.dst)); got != tt.v1 {
				t.Errorf("AppendProxyV1(%v, %v) = %q; want %q", tt.src, tt.dst, got, tt.v1)
			}
			// v1 and v2 must decode to the same addresses.
			h1, err1 := ParseProxyHeader([]byte(tt.v1))
			h2, err2 := ParseProxyHeader(AppendProxyV2(nil, tt.src, tt.dst))
			if err1 != nil || err2 != nil {
				t.Fatalf("parse back: %v, %v", err1, err2)
			}
			if h1.Src != h2.Src || h1.Dst != h2.Dst || h1.Local != h2.Local {
				t.Errorf("v1 %+v and v2 %+v differ", h1, h2)
			}
		})
	}
}
