package http1

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// chunkCase is one chunked body; hap is what HAProxy 2.6.12 did with it
// in a request (200: forwarded, 400: refused).
type chunkCase struct {
	name string
	in   string // the body, possibly followed by the next message
	hap  int
	next int // bytes of in after the body (the next message)
	n    int // for an invalid body, the error's Pos
	err  bool
	data int64
	done bool
}

var chunkCases = []chunkCase{
	{name: "one chunk", in: "3\r\nabc\r\n0\r\n\r\n", hap: 200, data: 3, done: true},
	{name: "next message after", in: "3\r\nabc\r\n0\r\n\r\nGET /", next: 5, hap: 200, data: 3, done: true},
	{name: "extension", in: "3;x=y\r\nabc\r\n0\r\n\r\n", hap: 200, data: 3, done: true},
	{name: "extension with NUL", in: "3;\x00\r\nabc\r\n0\r\n\r\n", hap: 200, data: 3, done: true},
	{name: "last chunk extension", in: "0;a=b\r\n\r\n", hap: 200, done: true},
	{name: "bare LF everywhere", in: "3\nabc\n0\n\n", hap: 200, data: 3, done: true},
	{name: "extension ended by LF", in: "3;a\nabc\r\n0\r\n\r\n", hap: 200, data: 3, done: true},
	{name: "blank after size", in: "3 \r\nabc\r\n0\r\n\r\n", hap: 200, data: 3, done: true},
	{name: "tab after size", in: "3\t\r\nabc\r\n0\r\n\r\n", hap: 200, data: 3, done: true},
	{name: "blank before extension", in: "3 ;a\r\nabc\r\n0\r\n\r\n", hap: 200, data: 3, done: true},
	{name: "upper-case hex", in: "A\r\n0123456789\r\n0\r\n\r\n", hap: 200, data: 10, done: true},
	{name: "23 leading zeros", in: strings.Repeat("0", 23) + "3\r\nabc\r\n0\r\n\r\n", hap: 200, data: 3, done: true},
	{name: "trailer", in: "3\r\nabc\r\n0\r\nX: y\r\n\r\n", hap: 200, data: 3, done: true},
	{name: "trailer bare LF", in: "0\nX: a\n\n", hap: 200, done: true},
	{name: "trailer folded", in: "0\r\nX: a\r\n b\r\n\r\n", hap: 200, done: true},
	{name: "10 kB trailer", in: "0\r\nX: " + strings.Repeat("a", 10000) + "\r\n\r\n", hap: 200, done: true},
	{name: "1000-byte extension", in: "3;" + strings.Repeat("x", 1000) + "\r\nabc\r\n0\r\n\r\n", hap: 200, data: 3, done: true},
	{name: "13 f's (2^52-1), incomplete", in: "fffffffffffff\r\nabc", hap: 200, data: 3},

	{name: "invalid size", in: "z\r\nabc\r\n0\r\n\r\n", hap: 400, n: 0, err: true},
	{name: "0x prefix", in: "0x3\r\nabc\r\n0\r\n\r\n", hap: 400, n: 1, err: true},
	{name: "empty size", in: "\r\nabc\r\n0\r\n\r\n", hap: 400, n: 0, err: true},
	{name: "blank before size", in: " 3\r\nabc\r\n0\r\n\r\n", hap: 400, n: 0, err: true},
	{name: "junk after size blank", in: "3 x\r\nabc\r\n0\r\n\r\n", hap: 400, n: 2, err: true},
	{name: "2^52", in: "10000000000000\r\nabc", hap: 400, n: 13, err: true},
	{name: "16 f's", in: "ffffffffffffffff\r\nabc", hap: 400, n: 13, err: true},
	{name: "CR in extension", in: "3;a\rb\r\nabc\r\n0\r\n\r\n", hap: 400, n: 4, err: true},
	{name: "no CRLF after data", in: "3\r\nabcX\r\n0\r\n\r\n", hap: 400, n: 6, err: true},
	{name: "CR CR after data", in: "3\r\nabc\r\r\n0\r\n\r\n", hap: 400, n: 7, err: true},
	{name: "trailer without colon", in: "3\r\nabc\r\n0\r\nX y\r\n\r\n", hap: 400, n: 12, err: true},
	{name: "trailer empty name", in: "0\r\n: a\r\n\r\n", hap: 400, n: 3, err: true},
	{name: "first trailer folded", in: "0\r\n X: a\r\n\r\n", hap: 400, n: 3, err: true},
	{name: "trailer line without colon", in: "0\r\nX: y\r\nZ\r\n\r\n", hap: 400, n: 10, err: true},
	{name: "20 kB trailer", in: "0\r\nX: " + strings.Repeat("a", 20000) + "\r\n\r\n", hap: 400, n: maxTrailers + 2, err: true},
	{name: "20 kB extension", in: "3;" + strings.Repeat("x", 20000) + "\r\nabc\r\n0\r\n\r\n", hap: 400, n: maxChunkLine, err: true},
	// 2.6.12 forwards a NUL in a trailer; lb refuses it as in a field.
	{name: "NUL in trailer", in: "0\r\nX: a\x00\r\n\r\n", hap: 200, n: 7, err: true},
	{name: "final CR without LF", in: "0\r\n\rX", hap: 400, n: 4, err: true},
}

func TestChunkScanner(t *testing.T) {
	for _, c := range chunkCases {
		t.Run(c.name, func(t *testing.T) {
			var s ChunkScanner
			n, done, err := s.Scan([]byte(c.in))
			if c.err {
				var e *Error
				if !errors.As(err, &e) || e.Status != 400 || e.Pos != c.n {
					t.Fatalf("got %d, %v, %v; want an error at %d", n, done, err, c.n)
				}
				return
			}
			if want := len(c.in) - c.next; err != nil || n != want || done != c.done || s.Data != c.data {
				t.Fatalf("got n=%d done=%v err=%v data=%d; want %d %v nil %d", n, done, err, s.Data, want, c.done, c.data)
			}
		})
	}
}

func TestChunkScannerHAProxyAgreement(t *testing.T) {
	for _, c := range chunkCases {
		got := 200
		if c.err {
			got = 400
		}
		if got != c.hap && c.name != "NUL in trailer" {
			t.Errorf("%s: lb %d, HAProxy %d", c.name, got, c.hap)
		}
	}
}

// scanPieces runs a fresh scanner over in cut into pieces at cuts (sorted
// offsets) and returns the overall result, with the error's Pos made
// absolute.
func scanPieces(in []byte, cuts []int) (n int, done bool, errPos int) {
	var s ChunkScanner
	prev := 0
	for i := 0; i <= len(cuts); i++ {
		end := len(in)
		if i < len(cuts) {
			end = cuts[i]
		}
		k, d, err := s.Scan(in[prev:end])
		if k > end-prev {
			return -1, false, -1
		}
		n += k
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				return -1, false, -1
			}
			return n, false, prev + e.Pos
		}
		if d {
			return n, true, -1
		}
		if k != end-prev {
			return -1, false, -1 // not done, not failed: must take it all
		}
		prev = end
	}
	return n, false, -1
}

// The scanner is streaming: any split of a body gives the result of the
// whole.
func TestChunkScannerSplits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range chunkCases {
		in := []byte(c.in)
		n0, d0, p0 := scanPieces(in, nil)
		// every single cut, then random multi-cuts
		for cut := 0; cut <= len(in) && cut < 200; cut++ {
			if n, d, p := scanPieces(in, []int{cut}); n != n0 || d != d0 || p != p0 {
				t.Fatalf("%s: cut at %d: %d %v %d, whole: %d %v %d", c.name, cut, n, d, p, n0, d0, p0)
			}
		}
		for r := 0; r < 50; r++ {
			var cuts []int
			for at := 0; at < len(in); at += 1 + rng.IntN(4) {
				cuts = append(cuts, at)
			}
			if n, d, p := scanPieces(in, cuts); n != n0 || d != d0 || p != p0 {
				t.Fatalf("%s: cuts %v: %d %v %d, whole: %d %v %d", c.name, cuts, n, d, p, n0, d0, p0)
			}
		}
	}
}

func TestChunkScannerAfterEnd(t *testing.T) {
	var s ChunkScanner
	if _, done, _ := s.Scan([]byte("0\r\n\r\n")); !done {
		t.Fatal("not done")
	}
	if n, done, err := s.Scan([]byte("GET")); n != 0 || !done || err != nil {
		t.Errorf("after the end: %d %v %v", n, done, err)
	}
	s.Reset()
	if n, done, err := s.Scan([]byte("1\r\na\r\n")); n != 6 || done || err != nil || s.Data != 1 {
		t.Errorf("after Reset: %d %v %v %d", n, done, err, s.Data)
	}
}
