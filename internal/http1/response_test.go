package http1

import (
	"errors"
	"testing"
)

// respCase is one response head. hap is what HAProxy 2.6.12 answered the
// client for it (the status it forwarded, or 502).
type respCase struct {
	name    string
	in      string
	method  string
	acc     bool
	hap     int
	status  int // 0: valid
	framing Framing
	check   func(t *testing.T, m *Message)
}

var responseCases = []respCase{
	{name: "plain", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", hap: 200, framing: Length, check: wantMsg(func(m *Message) bool {
		return m.Status == 200 && string(m.Reason) == "OK" && m.ContentLength == 2 && !m.Close && m.Minor == 1
	}, "200 OK")},
	{name: "no reason", in: "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\n", hap: 200, framing: Length, check: wantMsg(func(m *Message) bool { return len(m.Reason) == 0 }, "empty reason")},
	{name: "empty reason", in: "HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\n", hap: 200, framing: Length},
	{name: "blanks around status", in: "HTTP/1.1  200  OK\r\nContent-Length: 2\r\n\r\n", hap: 200, framing: Length, check: wantMsg(func(m *Message) bool { return string(m.Reason) == "OK" }, "reason")},
	{name: "no blank after version", in: "HTTP/1.1200 OK\r\n\r\n", hap: 502, status: 502},
	{name: "no status", in: "HTTP/1.1 \r\n\r\n", hap: 502, status: 502},
	{name: "status 2 digits", in: "HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\n", hap: 20, status: 502},
	{name: "status 4 digits", in: "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\n", hap: 200, status: 502},
	{name: "status 099", in: "HTTP/1.1 099 OK\r\nContent-Length: 2\r\n\r\n", hap: 99, status: 502},
	{name: "status 999", in: "HTTP/1.1 999 OK\r\nContent-Length: 2\r\n\r\n", hap: 999, framing: Length},
	{name: "status 600", in: "HTTP/1.1 600 OK\r\nContent-Length: 2\r\n\r\n", hap: 600, framing: Length},
	{name: "status 2x0", in: "HTTP/1.1 2x0 OK\r\n\r\n", hap: 502, status: 502},
	{name: "HTTP/1.0", in: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", hap: 200, framing: Length, check: wantMsg(func(m *Message) bool { return m.Minor == 0 && m.Close }, "1.0 closes")},
	{name: "HTTP/1.2", in: "HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\n", hap: 200, framing: Length, check: wantMsg(func(m *Message) bool { return m.Minor == 1 }, "minor 1")},
	{name: "HTTP/2.0", in: "HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\n", hap: 200, framing: Length},
	{name: "version lower case", in: "http/1.1 200 OK\r\n\r\n", hap: 502, status: 502},
	{name: "HTTP/1.10", in: "HTTP/1.10 200 OK\r\n\r\n", hap: 502, status: 502},
	{name: "HTTP/1.10 acc", in: "HTTP/1.10 200 OK\r\nContent-Length: 2\r\n\r\n", acc: true, hap: 200, framing: Length},
	{name: "FOOO/1.1", in: "FOOO/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", hap: 200, framing: Length},
	{name: "control char in reason", in: "HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\n", hap: 200, framing: Length},
	{name: "bad CL", in: "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", hap: 502, status: 502},
	{name: "CL differ", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", hap: 502, status: 502},
	{name: "CL repeated", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", hap: 200, framing: Length, check: wantFields("Content-Length: 2")},
	{name: "TE gzip", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", hap: 502, status: 502},
	{name: "TE chunked, gzip", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", hap: 502, status: 502},
	{name: "TE gzip, chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", hap: 502, status: 502},
	{name: "TE chunked twice", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", hap: 502, status: 502},
	{name: "TE and CL", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", hap: 200, framing: Chunked, check: func(t *testing.T, m *Message) {
		wantFields("Transfer-Encoding: chunked")(t, m)
		if !m.Close || m.ContentLength != 0 {
			t.Errorf("got %+v", *m)
		}
	}},
	{name: "TE empty", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n", hap: 200, framing: UntilClose, check: wantMsg(func(m *Message) bool { return m.Close }, "Close")},
	{name: "until close", in: "HTTP/1.1 200 OK\r\n\r\n", hap: 200, framing: UntilClose, check: wantMsg(func(m *Message) bool { return m.Close }, "Close")},
	{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", hap: 200, framing: Chunked},
	{name: "bad field name", in: "HTTP/1.1 200 OK\r\nX(y: z\r\n\r\n", hap: 502, status: 502},
	{name: "bad field name acc", in: "HTTP/1.1 200 OK\r\nX(y: z\r\nContent-Length: 2\r\n\r\n", acc: true, hap: 200, framing: Length},
	{name: "empty field name", in: "HTTP/1.1 200 OK\r\n: z\r\n\r\n", hap: 502, status: 502},
	{name: "NUL in value", in: "HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", hap: 200, status: 502},
	{name: "obs-fold", in: "HTTP/1.1 200 OK\r\nX: a\r\n\tb\r\nContent-Length: 2\r\n\r\n", hap: 200, framing: Length, check: wantFields("X: a  \tb|Content-Length: 2")},
	{name: "LF only", in: "HTTP/1.1 200 OK\nContent-Length: 2\n\n", hap: 200, framing: Length},
	{name: "leading CRLF", in: "\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", hap: 200, framing: Length},
	{name: "204", in: "HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\n", hap: 204, framing: NoBody},
	{name: "304", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 2\r\n\r\n", hap: 304, framing: NoBody},
	{name: "100", in: "HTTP/1.1 100 Continue\r\n\r\n", hap: 100, framing: NoBody},
	{name: "103 with CL", in: "HTTP/1.1 103 Early\r\nContent-Length: 5\r\n\r\n", hap: 103, framing: NoBody},
	{name: "101", in: "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", hap: 101, framing: Tunnel, check: wantMsg(func(m *Message) bool { return m.Upgrade }, "Upgrade")},
	{name: "HEAD", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", method: "HEAD", hap: 200, framing: NoBody},
	{name: "HEAD chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", method: "HEAD", hap: 200, framing: NoBody},
	{name: "CONNECT 200", in: "HTTP/1.1 200 OK\r\n\r\n", method: "CONNECT", hap: 200, framing: Tunnel},
	{name: "CONNECT 407", in: "HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n", method: "CONNECT", hap: 407, framing: Length},
	{name: "100 fields", in: "HTTP/1.1 200 OK\r\n" + manyFields(99) + "Content-Length: 2\r\n\r\n", hap: 200, framing: Length},
	{name: "101 fields", in: "HTTP/1.1 200 OK\r\n" + manyFields(100) + "Content-Length: 2\r\n\r\n", hap: 502, status: 502},
}

func TestParseResponse(t *testing.T) {
	for _, c := range responseCases {
		t.Run(c.name, func(t *testing.T) {
			var m Message
			method := c.method
			if method == "" {
				method = "GET"
			}
			n, err := ParseResponse([]byte(c.in), &m, []byte(method), &Options{AcceptInvalid: c.acc})
			if c.status != 0 {
				var e *Error
				if !errors.As(err, &e) || e.Status != c.status {
					t.Fatalf("error %v, want status %d", err, c.status)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if n != len(c.in) || m.HeadLen != n {
				t.Errorf("n = %d, HeadLen = %d, want %d", n, m.HeadLen, len(c.in))
			}
			if m.Framing != c.framing {
				t.Errorf("framing %d, want %d", m.Framing, c.framing)
			}
			if c.check != nil {
				c.check(t, &m)
			}
		})
	}
}

func TestParseResponseHAProxyAgreement(t *testing.T) {
	allowed := map[string]bool{
		"status 2 digits": true, "status 4 digits": true, "status 099": true, "NUL in value": true,
	}
	for _, c := range responseCases {
		var m Message
		method := c.method
		if method == "" {
			method = "GET"
		}
		_, err := ParseResponse([]byte(c.in), &m, []byte(method), &Options{AcceptInvalid: c.acc})
		got := m.Status
		if err != nil {
			got = 502
		}
		if got != c.hap && !allowed[c.name] {
			t.Errorf("%s: lb %d, HAProxy %d", c.name, got, c.hap)
		}
	}
}

func TestParseResponsePrefixes(t *testing.T) {
	for _, c := range responseCases {
		if c.status != 0 || c.acc {
			continue
		}
		for k := 0; k < len(c.in); k++ {
			var m Message
			if _, err := ParseResponse([]byte(c.in[:k]), &m, []byte("GET"), nil); err != ErrIncomplete {
				t.Errorf("%s: prefix %q: %v, want ErrIncomplete", c.name, c.in[:k], err)
				break
			}
		}
	}
}

func TestParseResponseErrorPos(t *testing.T) {
	for _, c := range []struct {
		in  string
		pos int
	}{
		{"HTTP/1.1200 OK\r\n\r\n", 0}, // the version runs into the digits
		{"HTTP/1.1 2x0 OK\r\n\r\n", 10},
		{"HTTP/1.1 20 OK\r\n\r\n", 9},
		{"http/1.1 200 OK\r\n\r\n", 0},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", 52},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 44},
	} {
		var m Message
		_, err := ParseResponse([]byte(c.in), &m, nil, nil)
		var e *Error
		if !errors.As(err, &e) || e.Pos != c.pos || e.Status != 502 {
			t.Errorf("%q: %+v, want 502 at %d", c.in, err, c.pos)
		}
	}
}

// TooLarge: measured with 2.6.12's defaults, a 20 kB URI, a 20 kB field
// and 50 fields of 400 bytes were all answered 400; a 20 kB response
// field 502.
func TestTooLarge(t *testing.T) {
	for _, c := range []struct {
		in      string
		request bool
		status  int
		pos     int
	}{
		{"GET /aaaaaaaa", true, 400, 0},
		{"GET / HTTP/1.1\r\nX: aaaa", true, 400, 16},
		{"HTTP/1.1 200 OK\r\nX: aaaa", false, 502, 17},
	} {
		e := TooLarge([]byte(c.in), c.request)
		if e.Status != c.status || e.Pos != c.pos {
			t.Errorf("%q: %+v, want %d at %d", c.in, e, c.status, c.pos)
		}
	}
}
