package health

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve runs handler for each connection accepted on a 127.0.0.1:0
// listener until the test ends, and returns the address.
func serve(t *testing.T, handler func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handler(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// closedAddr returns an address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// httpReply answers one HTTP request with the given raw response.
func httpReply(resp string) func(net.Conn) {
	return func(c net.Conn) {
		readHead(c)
		io.WriteString(c, resp)
	}
}

// readHead reads a request head up to the blank line.
func readHead(c net.Conn) string {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil || line == "\r\n" {
			return b.String()
		}
	}
}

// silent accepts and never answers, until the peer leaves.
func silent(c net.Conn) { io.Copy(io.Discard, c) }

// respond answers each chunk read with reply.
func respond(reply string) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 512)
		if _, err := c.Read(buf); err != nil {
			return
		}
		io.WriteString(c, reply)
	}
}

func TestProbe(t *testing.T) {
	ok200 := "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello ok\n"
	s503 := "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
	s301 := "HTTP/1.0 301 Moved Permanently\r\n\r\n"
	tests := []struct {
		name    string
		handler func(net.Conn) // nil: nothing listens
		cfg     Config
		want    Result
	}{
		{"tcp ok", silent, Config{}, Result{Status: StatusL4OK}},
		{"tcp refused", nil, Config{}, Result{Status: StatusL4Con, Info: "Connection refused"}},
		{"http default 200", httpReply(ok200), Config{Kind: KindHTTP}, Result{Status: StatusL7OK, Code: 200}},
		{"http default 301", httpReply(s301), Config{Kind: KindHTTP}, Result{Status: StatusL7OK, Code: 301}},
		{"http default 503", httpReply(s503), Config{Kind: KindHTTP},
			Result{Status: StatusL7Sts, Code: 503, Info: "Service Unavailable"}},
		{"http refused", nil, Config{Kind: KindHTTP}, Result{Status: StatusL4Con, Info: "Connection refused"}},
		{"expect status mismatch", httpReply("HTTP/1.1 404 Not Found\r\n\r\n"),
			Config{Kind: KindHTTP, Expect: Expect{Match: MatchStatus, Codes: []CodeRange{{200, 200}}}},
			Result{Status: StatusL7Sts, Code: 404, Info: "Not Found"}},
		{"expect status range", httpReply("HTTP/1.1 204 No Content\r\n\r\n"),
			Config{Kind: KindHTTP, Expect: Expect{Match: MatchStatus, Codes: []CodeRange{{200, 299}}}},
			Result{Status: StatusL7OK, Code: 204}},
		{"expect ! status", httpReply(s503),
			Config{Kind: KindHTTP, Expect: Expect{Match: MatchStatus, Negate: true, Codes: []CodeRange{{503, 503}}}},
			Result{Status: StatusL7Sts, Code: 503, Info: "Service Unavailable"}},
		{"expect ! status other", httpReply(ok200),
			Config{Kind: KindHTTP, Expect: Expect{Match: MatchStatus, Negate: true, Codes: []CodeRange{{503, 503}}}},
			Result{Status: StatusL7OK, Code: 200}},
		{"expect rstatus", httpReply(s301),
			Config{Kind: KindHTTP, Expect: Expect{Match: MatchRStatus, Regexp: regexp.MustCompile(`^2`)}},
			Result{Status: StatusL7Sts, Code: 301, Info: "Moved Permanently"}},
		{"expect string found", httpReply(ok200),
			Config{Kind: KindHTTP, Expect: Expect{Match: MatchString, String: "ok"}},
			Result{Status: StatusL7OK, Code: 200}},
		{"expect string found despite 503", httpReply("HTTP/1.0 503 Service Unavailable\r\n\r\nall ok"),
			Config{Kind: KindHTTP, Expect: Expect{Match: MatchString, String: "ok"}},
			Result{Status: StatusL7OK, Code: 503}},
		{"expect string missing", httpReply(ok200),
			Config{Kind: KindHTTP, Expect: Expect{Match: MatchString, String: "nope"}},
			Result{Status: StatusL7Rsp, Code: 200, Info: "HTTP content check did not match"}},
		{"expect ! string", httpReply(ok200),
			Config{Kind: KindHTTP, Expect: Expect{Match: MatchString, Negate: true, String: "hello"}},
			Result{Status: StatusL7Rsp, Code: 200, Info: "HTTP check matched unwanted content"}},
		{"expect rstring", httpReply(ok200),
			Config{Kind: KindHTTP, Expect: Expect{Match: MatchRString, Regexp: regexp.MustCompile(`hel+o`)}},
			Result{Status: StatusL7OK, Code: 200}},
		{"http silent", silent, Config{Kind: KindHTTP, Timeout: 100 * time.Millisecond},
			Result{Status: StatusL7Tout}},
		{"http garbage", httpReply("garbage\r\n\r\n"), Config{Kind: KindHTTP}, Result{Status: StatusL7Rsp}},
		{"http closed early", func(c net.Conn) { readHead(c) }, Config{Kind: KindHTTP}, Result{Status: StatusL7Rsp}},
		{"tcp-check no rules", silent, Config{Kind: KindTCPCheck}, Result{Status: StatusL4OK}},
		{"tcp-check refused", nil, Config{Kind: KindTCPCheck},
			Result{Status: StatusL4Con, Info: "Connection refused at initial connection step of tcp-check"}},
		{"tcp-check explicit connect refused", nil,
			Config{Kind: KindTCPCheck, TCPCheck: []Rule{{Action: ActConnect}}},
			Result{Status: StatusL4Con, Info: "Connection refused at step 1 of tcp-check (connect)"}},
		{"tcp-check pass", respond("+PONG\r\n"),
			Config{Kind: KindTCPCheck, TCPCheck: []Rule{
				{Action: ActSend, Data: []byte("PING\r\n")},
				{Action: ActExpect, Match: MatchString, Data: []byte("PONG")}}},
			Result{Status: StatusL7OK, Info: "(tcp-check)"}},
		{"tcp-check mismatch", respond("hello ok\n"),
			Config{Kind: KindTCPCheck, TCPCheck: []Rule{
				{Action: ActSend, Data: []byte("GET / HTTP/1.0\r\n\r\n")},
				{Action: ActExpect, Match: MatchString, Data: []byte("zzz")}}},
			Result{Status: StatusL7Rsp, Info: "TCPCHK did not match content 'zzz' at step 2"}},
		{"tcp-check binary mismatch", respond("HTTP/1.0 400 Bad\r\n\r\n"),
			Config{Kind: KindTCPCheck, TCPCheck: []Rule{
				{Action: ActConnect},
				{Action: ActSend, Data: []byte("PING\r\n")},
				{Action: ActExpect, Match: MatchBinary, Data: []byte("OK")}}},
			Result{Status: StatusL7Rsp, Info: "TCPCHK did not match content (binary) at step 3"}},
		{"tcp-check regex mismatch", respond("hello\n"),
			Config{Kind: KindTCPCheck, TCPCheck: []Rule{
				{Action: ActConnect},
				{Action: ActSend, Data: []byte("x")},
				{Action: ActExpect, Match: MatchRString, Regexp: regexp.MustCompile(`^zz`)}}},
			Result{Status: StatusL7Rsp, Info: "TCPCHK did not match content (regex) at step 3"}},
		{"tcp-check rbinary", respond("OK\n"),
			Config{Kind: KindTCPCheck, TCPCheck: []Rule{
				{Action: ActSend, Data: []byte("x")},
				{Action: ActExpect, Match: MatchRBinary, Regexp: regexp.MustCompile(`^4F4B`)}}},
			Result{Status: StatusL7OK, Info: "(tcp-check)"}},
		{"tcp-check timeout", silent,
			Config{Kind: KindTCPCheck, Timeout: 100 * time.Millisecond, TCPCheck: []Rule{
				{Action: ActSend, Data: []byte("GET / HTTP/1.0\r\n\r\n")},
				{Action: ActExpect, Match: MatchString, Data: []byte("ok")}}},
			Result{Status: StatusL7Tout, Info: " at step 2 of tcp-check (expect string 'ok')"}},
		{"tcp-check binary timeout", silent,
			Config{Kind: KindTCPCheck, Timeout: 100 * time.Millisecond, TCPCheck: []Rule{
				{Action: ActExpect, Match: MatchBinary, Data: []byte("OK")}}},
			Result{Status: StatusL7Tout, Info: " at step 1 of tcp-check (expect binary 'OK')"}},
		{"tcp-check empty", func(c net.Conn) {},
			Config{Kind: KindTCPCheck, TCPCheck: []Rule{{Action: ActExpect, Match: MatchString, Data: []byte("ok")}}},
			Result{Status: StatusL7Rsp, Info: "TCPCHK got an empty response at step 1"}},
		{"tcp-check ! string", respond("-ERR\r\n"),
			Config{Kind: KindTCPCheck, TCPCheck: []Rule{
				{Action: ActSend, Data: []byte("x")},
				{Action: ActExpect, Match: MatchString, Negate: true, Data: []byte("ERR")}}},
			Result{Status: StatusL7Rsp, Info: "TCPCHK matched unwanted content 'ERR' at step 2"}},
		{"tcp-check send only", silent,
			Config{Kind: KindTCPCheck, TCPCheck: []Rule{{Action: ActSend, Data: []byte("PING\r\n")}}},
			Result{Status: StatusL7OK, Info: "(tcp-check)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if tc.handler != nil {
				cfg.Addr = serve(t, tc.handler)
			} else {
				cfg.Addr = closedAddr(t)
			}
			if cfg.Inter == 0 {
				cfg.Inter = 2 * time.Second
			}
			got := Probe(context.Background(), cfg)
			if got.Status != tc.want.Status || got.Code != tc.want.Code || got.Info != tc.want.Info {
				t.Errorf("Probe = {%v %d %q}; want {%v %d %q}", got.Status, got.Code, got.Info,
					tc.want.Status, tc.want.Code, tc.want.Info)
			}
			if got.Duration <= 0 || got.Duration > 2*time.Second {
				t.Errorf("Probe duration = %v; want in (0, 2s]", got.Duration)
			}
		})
	}
}

// TestProbeRequest checks the bytes of the check request; the expected
// heads are what HAProxy 2.6 sent to a capturing server.
func TestProbeRequest(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"default", Config{Kind: KindHTTP}, "OPTIONS / HTTP/1.0\r\n\r\n"},
		{"get 1.1 host", Config{Kind: KindHTTP, HTTP: HTTPRequest{Method: "GET", URI: "/health", Version: "HTTP/1.1",
			Headers: [][2]string{{"Host", "example.org"}}}},
			"GET /health HTTP/1.1\r\nhost: example.org\r\nconnection: close\r\n\r\n"},
		{"body", Config{Kind: KindHTTP, HTTP: HTTPRequest{Method: "POST", Body: "ping"}},
			"POST / HTTP/1.0\r\ncontent-length: 4\r\n\r\n"},
		// HAProxy 2.6.12 sent "PROXY TCP4 127.0.0.1 127.0.0.1 50996 31007\r\n"
		// from its check connection's port 50996 to a server on 31007.
		{"send-proxy", Config{Kind: KindHTTP, SendProxy: true}, "PROXY TCP4 127.0.0.1 127.0.0.1 {cport} {sport}\r\nOPTIONS / HTTP/1.0\r\n\r\n"},
		{"send-proxy-v2", Config{Kind: KindHTTP, SendProxyV2: true},
			"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00OPTIONS / HTTP/1.0\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan string, 1)
			want := make(chan string, 1)
			cfg := tc.cfg
			cfg.Addr = serve(t, func(c net.Conn) {
				want <- strings.NewReplacer(
					"{cport}", strconv.Itoa(c.RemoteAddr().(*net.TCPAddr).Port),
					"{sport}", strconv.Itoa(c.LocalAddr().(*net.TCPAddr).Port)).Replace(tc.want)
				var prefix []byte
				if cfg.SendProxyV2 {
					// The v2 signature starts with CRLF: read its 16 bytes first.
					prefix = make([]byte, 16)
					io.ReadFull(c, prefix)
				}
				head := readHead(c)
				got <- string(prefix) + head
				io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\n")
			})
			if r := Probe(context.Background(), cfg); r.Status != StatusL7OK {
				t.Errorf("Probe = %v %q; want L7OK", r.Status, r.Info)
			}
			if g, w := <-got, <-want; g != w {
				t.Errorf("request = %q; want %q", g, w)
			}
		})
	}
}

func TestProbeBodyCap(t *testing.T) {
	// A body longer than the buffer that never closes: the string must be
	// searched in the first bufSize bytes only, without waiting for EOF.
	addr := serve(t, func(c net.Conn) {
		readHead(c)
		io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\n")
		c.Write(bytes.Repeat([]byte("x"), 2*bufSize))
		silent(c)
	})
	r := Probe(context.Background(), Config{Addr: addr, Kind: KindHTTP, Inter: 5 * time.Second,
		Expect: Expect{Match: MatchString, String: "ok"}})
	if r.Status != StatusL7Rsp || r.Duration > 2*time.Second {
		t.Errorf("Probe = %v in %v; want L7RSP at once", r.Status, r.Duration)
	}
}

func TestParseStatusCodes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []CodeRange
		err  bool
	}{
		{"200", []CodeRange{{200, 200}}, false},
		{"200-399,404", []CodeRange{{200, 399}, {404, 404}}, false},
		{"abc", nil, true},
		{"399-200", nil, true},
	} {
		got, err := ParseStatusCodes(tc.in)
		if (err != nil) != tc.err || len(got) != len(tc.want) {
			t.Errorf("ParseStatusCodes(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("ParseStatusCodes(%q) = %v; want %v", tc.in, got, tc.want)
			}
		}
	}
}

// TestSSLHelloCheck: option ssl-hello-chk sends an SSLv3 ClientHello and
// passes at layer 6 when the server answers with a TLS record, whatever it
// says: a real TLS server (Go's) refuses SSLv3 with an alert, which proves
// it speaks TLS; a server answering anything else fails.
func TestSSLHelloCheck(t *testing.T) {
	tlsServer := func(c net.Conn) {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		_ = tls.Server(c, &tls.Config{}).Handshake() // fails, after sending its alert
	}
	hello := make(chan []byte, 1)
	recorder := func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 126)
		n, _ := io.ReadFull(c, b)
		hello <- b[:n]
		c.Write([]byte{0x16, 0x03, 0x00, 0x00, 0x00})
	}
	for _, tc := range []struct {
		name    string
		handler func(net.Conn)
		timeout time.Duration
		want    Status
	}{
		{"tls server alert", tlsServer, 0, StatusL6OK},
		{"handshake record", recorder, 0, StatusL6OK},
		{"http server", respond("HTTP/1.0 400 Bad Request\r\n\r\n"), 0, StatusL6Rsp},
		{"closed without answer", func(c net.Conn) { c.Read(make([]byte, 512)) }, 0, StatusL6Rsp},
		{"silent", silent, 100 * time.Millisecond, StatusL6Tout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Addr: serve(t, tc.handler), Timeout: tc.timeout}
			if err := ParseOption(&cfg, "ssl-hello-chk"); err != nil {
				t.Fatal(err)
			}
			if r := Probe(context.Background(), cfg); r.Status != tc.want {
				t.Errorf("Probe = %v %q; want %v", r.Status, r.Info, tc.want)
			}
		})
	}
	// The record is a well-formed SSLv3 ClientHello: handshake record of
	// version 3.0 holding a ClientHello of its declared length.
	b := <-hello
	if len(b) != 126 || b[0] != 0x16 || b[1] != 3 || b[2] != 0 || int(b[3])<<8|int(b[4]) != 121 ||
		b[5] != 0x01 || int(b[6])<<16|int(b[7])<<8|int(b[8]) != 117 || b[9] != 3 || b[10] != 0 {
		t.Errorf("hello = % x; want an SSLv3 ClientHello record of 126 bytes", b)
	}
}

func TestCheckProxyVersion(t *testing.T) {
	tests := []struct {
		check, v1, v2, portOrAddr bool
		want                      int
	}{
		{false, false, false, false, 0},
		{true, false, false, false, 1},
		{true, true, false, true, 1},
		{true, false, true, true, 2},
		{true, false, true, false, 2},
		// Without check-send-proxy, the checks of a server that sends a
		// header to its traffic send it too (HAProxy 2.6.12 sent the v1
		// line for "send-proxy" and the v2 LOCAL header for
		// "send-proxy-v2"), unless they go to another port or address.
		{false, true, false, false, 1},
		{false, false, true, false, 2},
		{false, true, false, true, 0},
		{false, false, true, true, 0},
	}
	for _, tc := range tests {
		if got := CheckProxyVersion(tc.check, tc.v1, tc.v2, tc.portOrAddr); got != tc.want {
			t.Errorf("CheckProxyVersion(check-send-proxy %v, send-proxy %v, send-proxy-v2 %v, port/addr %v) = %d; want %d",
				tc.check, tc.v1, tc.v2, tc.portOrAddr, got, tc.want)
		}
	}
}

// TestTCPCheckFormat: the log-format rules evaluate their format at each
// run on the run's state, with HAProxy 2.6.12's messages (checked on
// loopback) when the hex of a -binary-lf form does not decode or a
// formatted pattern is not found.
func TestTCPCheckFormat(t *testing.T) {
	addr := serve(t, func(c net.Conn) {
		// All of it, then EOF: a pattern not found is a mismatch.
		c.Write([]byte("xxfooyy"))
	})
	compile := &Compilers{
		Format: func(_, text string) (func([]byte, any) []byte, error) {
			// The run's state is the pattern itself, formatted as text.
			return func(dst []byte, run any) []byte { return append(dst, run.(string)...) }, nil
		},
	}
	tests := []struct {
		name, rule, state string
		status            Status
		info              string
	}{
		{"binary-lf match", "expect binary-lf %[x]", "666f6f", StatusL7OK, "(tcp-check)"},
		{"binary-lf mismatch", "expect binary-lf %[x]", "7a7a", StatusL7Rsp, "TCPCHK did not match content (log-format binary) at step 1"},
		{"binary-lf bad hex", "expect binary-lf %[x]", "zq", StatusL7Rsp, "Failed to parse hexastring resulting of eval of a log-format string"},
		{"string-lf unwanted", "expect ! string-lf %[x]", "foo", StatusL7Rsp, "TCPCHK matched unwanted content (log-format string) at step 1"},
		{"send-binary-lf bad hex", "send-binary-lf %[x]", "zz", StatusL7Rsp, "tcp-check send : failed to build log-format string at step 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := ParseTCPCheckWith([][]string{strings.Fields(tt.rule)}, compile)
			if err != nil {
				t.Fatal(err)
			}
			state := tt.state
			cfg := Config{Addr: addr, Kind: KindTCPCheck, TCPCheck: rules, Inter: time.Second, NewRun: func() any { return state }}
			r := Probe(context.Background(), cfg)
			if r.Status != tt.status || r.Info != tt.info {
				t.Errorf("Probe(%q with %q) = %v %q; want %v %q", tt.rule, tt.state, r.Status, r.Info, tt.status, tt.info)
			}
		})
	}
	if _, err := ParseTCPCheck([][]string{{"send-lf", "x"}}); !errors.Is(err, errUnsupported) {
		t.Errorf("ParseTCPCheck(send-lf) without compilers = %v; want not supported", err)
	}
}
