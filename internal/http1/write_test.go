package http1

import (
	"strings"
	"testing"
)

func TestAppendRequest(t *testing.T) {
	for _, c := range []struct {
		name, in, conn, want string
	}{
		{"plain", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"close", "GET /x?y HTTP/1.0\r\nHost: a\r\n\r\n", "close", "GET /x?y HTTP/1.0\r\nHost: a\r\nConnection: close\r\n\r\n"},
		// What HAProxy 2.6.12 forwarded: TE kept as "trailers" only,
		// "TE: gzip" dropped. It also kept Keep-Alive, Proxy-Connection and
		// the other Connection tokens; lb drops them, as documented.
		{"hop-by-hop", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, keep-alive\r\nFoo: bar\r\nKeep-Alive: 5\r\nProxy-Connection: x\r\nTE: trailers, deflate\r\n\r\n", "",
			"GET / HTTP/1.1\r\nHost: a\r\nFoo: bar\r\nTE: trailers\r\n\r\n"},
		{"TE gzip dropped", "GET / HTTP/1.1\r\nTE: gzip\r\n\r\n", "", "GET / HTTP/1.1\r\n\r\n"},
		{"upgrade", "GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", "upgrade",
			"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"},
		{"folded and merged", "POST / HTTP/1.1\r\nX: a\r\n b\r\nContent-Length: 1, 1\r\n\r\n", "",
			"POST / HTTP/1.1\r\nX: a   b\r\nContent-Length: 1\r\n\r\n"},
		{"TE and CL", "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "close",
			"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"},
		{"2.0 as 1.1", "GET / HTTP/2.0\r\n\r\n", "", "GET / HTTP/1.1\r\n\r\n"},
	} {
		var m Message
		if _, err := ParseRequest([]byte(c.in), &m, nil); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got, want := string(AppendRequest([]byte("pre:"), &m, c.conn)), "pre:"+lowerNames(c.want); got != want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, want)
		}
	}
}

func TestAppendResponse(t *testing.T) {
	for _, c := range []struct {
		name, in, conn, want string
	}{
		{"plain", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"},
		// HAProxy 2.6.12 forwards "HTTP/1.1 200" as "HTTP/1.1 200 ".
		{"no reason", "HTTP/1.1 200\r\n\r\n", "close", "HTTP/1.1 200 \r\nConnection: close\r\n\r\n"},
		{"1.0 keep-alive", "HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", "keep-alive",
			"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"},
		{"101", "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n", "upgrade",
			"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n"},
	} {
		var m Message
		if _, err := ParseResponse([]byte(c.in), &m, []byte("GET"), nil); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got, want := string(AppendResponse(nil, &m, c.conn)), lowerNames(c.want); got != want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, want)
		}
	}
}

// The proxy's loop: parse, edit the Header, write; none of it allocates
// once the Message and the output buffer have grown.
func TestNoAllocs(t *testing.T) {
	req := []byte(browserRequest)
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1234\r\nCache-Control: no-cache\r\n\r\n")
	var m Message
	out := make([]byte, 0, 4096)
	run := func() {
		if _, err := ParseRequest(req, &m, nil); err != nil {
			t.Fatal(err)
		}
		m.Header.Set("X-Forwarded-For", []byte("127.0.0.1"))
		out = AppendRequest(out[:0], &m, "")
		if _, err := ParseResponse(resp, &m, []byte("GET"), nil); err != nil {
			t.Fatal(err)
		}
		out = AppendResponse(out[:0], &m, "close")
	}
	run()
	if a := testing.AllocsPerRun(200, run); a != 0 {
		t.Errorf("%v allocations per message", a)
	}
}

// lowerNames lowers the field names of a head written as it was received:
// lb, as HAProxy 2.6, forwards names in lower case.
func lowerNames(head string) string {
	lines := strings.Split(head, "\r\n")
	for i := 1; i < len(lines); i++ {
		if k, v, ok := strings.Cut(lines[i], ":"); ok {
			lines[i] = strings.ToLower(k) + ":" + v
		}
	}
	return strings.Join(lines, "\r\n")
}
