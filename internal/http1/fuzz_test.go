package http1

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// checkErr: every failure is ErrIncomplete or an *Error with a status and
// a position inside the buffer.
func checkErr(t *testing.T, err error, size int) {
	t.Helper()
	if err == ErrIncomplete {
		return
	}
	var e *Error
	if !errors.As(err, &e) || e.Status == 0 || e.Pos < 0 || e.Pos > size {
		t.Fatalf("bad error %#v", err)
	}
}

// forwarded returns the fields AppendRequest/AppendResponse write for h:
// hop-by-hop ones dropped, a TE listing trailers reduced to "trailers".
func forwarded(h *Header) string {
	var out Header
	for _, f := range h.Fields {
		switch {
		case EqualFold(f.Name, "connection"), EqualFold(f.Name, "keep-alive"), EqualFold(f.Name, "proxy-connection"):
		case EqualFold(f.Name, "te"):
			if HasToken(f.Value, "trailers") {
				out.Fields = append(out.Fields, Field{[]byte("te"), []byte("trailers")})
			}
		default:
			// Names go out in lower case.
			out.Fields = append(out.Fields, Field{appendLower(nil, f.Name), f.Value})
		}
	}
	return fieldsString(&out)
}

func FuzzParseRequest(f *testing.F) {
	for _, c := range requestCases {
		f.Add([]byte(c.in), c.acc)
	}
	f.Add([]byte(browserRequest), false)
	f.Add([]byte("POST /x HTTP/1.1\r\nTE: trailers\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, acc bool) {
		opt := &Options{AcceptInvalid: acc}
		orig := bytes.Clone(data)
		var m Message
		n, err := ParseRequest(data, &m, opt)
		if err != nil {
			checkErr(t, err, len(data))
			return
		}
		if n <= 0 || n > len(data) || m.HeadLen != n {
			t.Fatalf("n = %d, HeadLen = %d, len = %d", n, m.HeadLen, len(data))
		}
		if m.Minor != 0 && m.Minor != 1 || m.Framing > Tunnel {
			t.Fatalf("bad message %+v", m)
		}
		// Every proper prefix of the head is incomplete.
		if n <= 1024 {
			var p Message
			for k := 0; k < n; k++ {
				if _, err := ParseRequest(bytes.Clone(orig[:k]), &p, opt); err != ErrIncomplete {
					t.Fatalf("prefix %q of %q: %v", orig[:k], orig[:n], err)
				}
			}
		}
		// What lb writes parses back to the same request.
		out := AppendRequest(nil, &m, "")
		var m2 Message
		n2, err := ParseRequest(out, &m2, opt)
		if err != nil || n2 != len(out) {
			t.Fatalf("re-parse of %q: %d, %v", out, n2, err)
		}
		if !bytes.Equal(m.Method, m2.Method) || !bytes.Equal(m.URI, m2.URI) || m.Minor != m2.Minor {
			t.Fatalf("request line changed: %q %q %d -> %q %q %d", m.Method, m.URI, m.Minor, m2.Method, m2.URI, m2.Minor)
		}
		if a, b := forwarded(&m.Header), fieldsString(&m2.Header); a != b {
			t.Fatalf("fields changed:\n%q\n%q", a, b)
		}
		if m.Framing != m2.Framing || m.ContentLength != m2.ContentLength {
			t.Fatalf("framing changed: %d/%d -> %d/%d", m.Framing, m.ContentLength, m2.Framing, m2.ContentLength)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, c := range responseCases {
		f.Add([]byte(c.in), c.acc, uint8(0))
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), false, uint8(1))
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n"), false, uint8(2))
	methods := []string{"GET", "HEAD", "CONNECT", "POST"}
	f.Fuzz(func(t *testing.T, data []byte, acc bool, mi uint8) {
		opt := &Options{AcceptInvalid: acc}
		method := []byte(methods[int(mi)%len(methods)])
		orig := bytes.Clone(data)
		var m Message
		n, err := ParseResponse(data, &m, method, opt)
		if err != nil {
			checkErr(t, err, len(data))
			return
		}
		if n <= 0 || n > len(data) || m.HeadLen != n || m.Status < 100 || m.Status > 999 {
			t.Fatalf("n = %d, message %+v", n, m)
		}
		if n <= 1024 {
			var p Message
			for k := 0; k < n; k++ {
				if _, err := ParseResponse(bytes.Clone(orig[:k]), &p, method, opt); err != ErrIncomplete {
					t.Fatalf("prefix %q of %q: %v", orig[:k], orig[:n], err)
				}
			}
		}
		out := AppendResponse(nil, &m, "")
		var m2 Message
		n2, err := ParseResponse(out, &m2, method, opt)
		if err != nil || n2 != len(out) {
			t.Fatalf("re-parse of %q: %d, %v", out, n2, err)
		}
		if m.Status != m2.Status || !bytes.Equal(m.Reason, m2.Reason) || m.Minor != m2.Minor {
			t.Fatalf("status line changed: %d %q -> %d %q", m.Status, m.Reason, m2.Status, m2.Reason)
		}
		if a, b := forwarded(&m.Header), fieldsString(&m2.Header); a != b {
			t.Fatalf("fields changed:\n%q\n%q", a, b)
		}
	})
}

func FuzzChunkScanner(f *testing.F) {
	for _, c := range chunkCases {
		f.Add([]byte(c.in), uint64(1))
	}
	f.Add([]byte("5\r\nhello\r\n5;x\r\nworld\r\n0\r\nA: b\r\n\tc\r\n\r\n"), uint64(7))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		n0, d0, p0 := scanPieces(data, nil)
		if n0 < 0 || n0 > len(data) {
			t.Fatalf("n = %d of %d", n0, len(data))
		}
		rng := rand.New(rand.NewPCG(seed, seed>>7))
		var cuts []int
		for at := rng.IntN(8); at < len(data); at += 1 + rng.IntN(8) {
			cuts = append(cuts, at)
		}
		if n, d, p := scanPieces(data, cuts); n != n0 || d != d0 || p != p0 {
			t.Fatalf("cuts %v: %d %v %d, whole: %d %v %d", cuts, n, d, p, n0, d0, p0)
		}
		var s ChunkScanner
		s.Scan(data)
		if d0 && s.Data > int64(len(data)) {
			t.Fatalf("Data %d > %d", s.Data, len(data))
		}
	})
}
