package http1

import "testing"

// browserRequest is what a browser sends for a page: 11 fields.
const browserRequest = "GET /products/index.html?page=2&sort=price HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Referer: https://www.example.com/products/\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; lang=en\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"Sec-Fetch-Dest: document\r\n" +
	"Priority: u=0, i\r\n" +
	"\r\n"

func BenchmarkParseRequest(b *testing.B) {
	buf := []byte(browserRequest)
	var m Message
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(buf, &m, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendRequest(b *testing.B) {
	var m Message
	if _, err := ParseRequest([]byte(browserRequest), &m, nil); err != nil {
		b.Fatal(err)
	}
	out := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		out = AppendRequest(out[:0], &m, "")
	}
}

func BenchmarkChunkScanner(b *testing.B) {
	body := []byte("1000\r\n" + string(make([]byte, 4096)) + "\r\n400;ext=1\r\n" + string(make([]byte, 1024)) + "\r\n0\r\nX-Sum: 1\r\n\r\n")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var s ChunkScanner
		if _, done, err := s.Scan(body); !done || err != nil {
			b.Fatal(done, err)
		}
	}
}
