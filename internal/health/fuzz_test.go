package health

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// fuzzChecks are the probes whose replies FuzzCheckReply feeds: every protocol lb speaks to a
// server in a health check, and tcp-check and http-check rule lists that read the reply.
var fuzzChecks = []struct {
	option string
	args   []string
	tcp    [][]string // tcp-check lines
	http   [][]string // http-check lines
}{
	{option: "httpchk"},
	{option: "httpchk", http: [][]string{{"expect", "string", "ok"}}},
	{option: "httpchk", http: [][]string{{"expect", "rstatus", "^2"}}},
	{option: "httpchk", http: [][]string{{"disable-on-404"}}},
	{option: "ssl-hello-chk"},
	{option: "mysql-check"},
	{option: "mysql-check", args: []string{"user", "bob"}},
	{option: "redis-check"},
	{option: "pgsql-check", args: []string{"user", "bob"}},
	{option: "ldap-check"},
	{option: "smtpchk", args: []string{"EHLO", "lb.example"}},
	{option: "tcp-check", tcp: [][]string{{"send", "PING\\r\\n"}, {"expect", "string", "+PONG"}}},
	{option: "tcp-check", tcp: [][]string{{"expect", "rstring", "^2[0-9]{2} "}, {"send", "QUIT\\r\\n"}, {"expect", "!", "binary", "00"}}},
	{option: "tcp-check", tcp: [][]string{{"expect", "rbinary", "^16030[0-3]"}}},
}

// FuzzCheckReply answers health checks with hostile bytes, whole or in pieces: the check never
// panics, never hangs past its interval, and its result is one of HAProxy's statuses (the
// agent's reply parser gets the same bytes).
func FuzzCheckReply(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
		"HTTP/1.0 404 Not Found\r\n\r\n",
		"HTTP/1.1 99999999999999999999 x\r\n",
		"+PONG\r\n",
		"-ERR\r\n",
		"220 mail ESMTP\r\n250 ok\r\n221 bye\r\n",
		"R\x00\x00\x00\x08\x00\x00\x00\x00",
		"0\x0c\x02\x01\x01a\x07\x0a\x01\x00\x04\x00\x04\x00",
		"\x4a\x00\x00\x00\x0a5.7.1\x00",
		"\x16\x03\x01\x00\x02\x02\x00",
		"up 50%\n", "drain\n", "maint #reason\n", "down\n", "100000000000%\n",
	} {
		for k := range fuzzChecks {
			f.Add(uint8(k), uint8(0), []byte(seed))
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	f.Fuzz(func(t *testing.T, which, chunk uint8, reply []byte) {
		_ = ParseAgentReply(string(reply))
		fc := fuzzChecks[int(which)%len(fuzzChecks)]
		cfg := Config{Addr: ln.Addr().String(), Inter: 2 * time.Second}
		if err := ParseCheckOption(&cfg, fc.option, fc.args); err != nil {
			t.Fatal(err)
		}
		if fc.tcp != nil {
			rules, err := ParseTCPCheck(fc.tcp)
			if err != nil {
				t.Fatal(err)
			}
			cfg.TCPCheck = rules
		}
		if fc.http != nil {
			if err := ParseHTTPCheck(&cfg, fc.http); err != nil {
				t.Fatal(err)
			}
		}
		served := make(chan struct{})
		go func() {
			defer close(served)
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(3 * time.Second))
			step := int(chunk)
			if step == 0 {
				step = len(reply) + 1
			}
			for b := reply; len(b) > 0; {
				n := min(step, len(b))
				if _, err := c.Write(b[:n]); err != nil {
					return
				}
				b = b[n:]
			}
			c.(*net.TCPConn).CloseWrite()
			buf := make([]byte, 4096)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
		start := time.Now()
		r := Probe(context.Background(), cfg)
		<-served
		if r.Status < StatusUnknown || r.Status > StatusChecked || strings.HasPrefix(r.Status.String(), "Status(") {
			t.Fatalf("status %d (%q) for %q", r.Status, r.Status.String(), reply)
		}
		if d := time.Since(start); d > cfg.Inter+time.Second {
			t.Fatalf("check took %s, interval %s", d, cfg.Inter)
		}
	})
}
