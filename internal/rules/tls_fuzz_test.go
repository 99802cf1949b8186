package rules

import "testing"

// FuzzParseHello feeds hostile bytes to the ClientHello reader behind req.ssl_*: it never
// panics, what it locates lies inside the buffer, and a buffer it reads is never refused
// while it is still arriving (every prefix of it is "short", never "bad"), so a client that
// sends its ClientHello in pieces is judged as one that sends it whole.
func FuzzParseHello(f *testing.F) {
	f.Add(clientHello(f, "www.example.com", "h2", "http/1.1"))
	f.Add(clientHello(f, "a.example"))
	f.Add(clientHello(f, ""))
	f.Add([]byte("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, st := parseHello(b)
		if st > helloBad {
			t.Fatalf("status %d", st)
		}
		if st != helloOK {
			return
		}
		if h.sniLen >= 0 && (h.sniOff < 0 || h.sniOff+h.sniLen > len(b)) {
			t.Fatalf("SNI at %d+%d outside %d bytes", h.sniOff, h.sniLen, len(b))
		}
		if h.alpnLen >= 0 && (h.alpnOff < 0 || h.alpnOff+h.alpnLen > len(b)) {
			t.Fatalf("ALPN at %d+%d outside %d bytes", h.alpnOff, h.alpnLen, len(b))
		}
		if h.stExt < 0 || h.stExt > 2 {
			t.Fatalf("session ticket extension %d", h.stExt)
		}
		if len(b) > 1024 {
			return
		}
		for k := 0; k < len(b); k++ {
			if _, pst := parseHello(b[:k]); pst == helloBad {
				t.Fatalf("the first %d bytes of a readable ClientHello are refused", k)
			}
		}
	})
}
