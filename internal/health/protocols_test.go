package health

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net"
	"testing"
	"time"
)

// exchange is a fake server's script: it writes banner, then, for each
// request, reads exactly that request and writes the reply. A connection
// that sends anything else is closed without a word, so that a check
// sending other bytes than HAProxy 2.6.12 fails (want StatusUnknown: any
// failure).
func exchange(banner string, steps ...[2]string) func(net.Conn) {
	return func(c net.Conn) {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(c, banner)
		for _, s := range steps {
			got := make([]byte, len(s[0]))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, []byte(s[0])) {
				return
			}
			io.WriteString(c, s[1])
		}
		time.Sleep(20 * time.Millisecond) // then close, as the servers did
	}
}

func unhex(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// The requests below are what HAProxy 2.6.12 sent, captured on the wire;
// the results are the statuses, codes and infos it logged with option
// log-health-checks for the same replies.
const (
	wireRedis = "*1\r\n$4\r\nPING\r\n"
	wirePgSQL = "\x00\x00\x00\x12\x00\x03\x00\x00user\x00bob\x00\x00"
	wireLDAP  = "0\x0c\x02\x01\x01`\x07\x02\x01\x03\x04\x00\x80\x00"
)

func TestProtocolChecks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		option string
		args   []string
		srv    func(net.Conn)
		status Status
		code   int
		info   string
	}{
		{"redis up", "redis-check", nil, exchange("", [2]string{wireRedis, "+PONG\r\n"}), StatusL7OK, 0, "Redis server is ok"},
		{"redis loading", "redis-check", nil, exchange("", [2]string{wireRedis, "-LOADING Redis is loading\r\n"}), StatusL7Sts, 0, "-LOADING Redis is loading"},
		{"redis old PING", "redis-check", nil, exchange("", [2]string{"PING\r\n", "+PONG\r\n"}), StatusUnknown, 0, ""},
		{"pgsql auth ok", "pgsql-check", []string{"user", "bob"}, exchange("", [2]string{wirePgSQL, "R\x00\x00\x00\x08\x00\x00\x00\x00"}), StatusL7OK, 0, "PostgreSQL server is ok"},
		{"pgsql md5", "pgsql-check", []string{"user", "bob"}, exchange("", [2]string{wirePgSQL, "R\x00\x00\x00\x0c\x00\x00\x00\x05abcd"}), StatusL7OK, 0, "PostgreSQL server is ok"},
		{"pgsql error", "pgsql-check", []string{"user", "bob"}, exchange("", [2]string{wirePgSQL, "E\x00\x00\x00\x20SFATAL\x00C28000\x00Mno such role\x00\x00"}), StatusL7Rsp, 0, "FATAL"},
		{"pgsql other user", "pgsql-check", []string{"user", "alice"}, exchange("", [2]string{wirePgSQL, "R\x00\x00\x00\x08\x00\x00\x00\x00"}), StatusUnknown, 0, ""},
		{"pgsql not auth", "pgsql-check", []string{"user", "bob"}, exchange("", [2]string{wirePgSQL, "S\x00\x00\x00\x08\x00\x00\x00\x00"}), StatusL7Sts, 0, "PostgreSQL unknown error"},
		{"ldap success", "ldap-check", nil, exchange("", [2]string{wireLDAP, unhex("300c02010161070a010004000400")}), StatusL7OK, 0, "Success"},
		{"ldap invalid credentials", "ldap-check", nil, exchange("", [2]string{wireLDAP, unhex("300c02010161070a013104000400")}), StatusL7Sts, 49, "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9"},
		{"ldap garbage", "ldap-check", nil, exchange("", [2]string{wireLDAP, "garbage-garbage-garbage"}), StatusL7Rsp, 0, "Not LDAPv3 protocol"},
		{"smtp EHLO", "smtpchk", []string{"EHLO", "me.example"}, exchange("220 mail ESMTP\r\n", [2]string{"EHLO me.example\r\n", "250 hello there\r\n"}, [2]string{"QUIT\r\n", "221 bye\r\n"}), StatusL7OK, 221, "bye"},
		{"smtp default HELO", "smtpchk", nil, exchange("220 mail ESMTP\r\n", [2]string{"HELO localhost\r\n", "250 hello\r\n"}, [2]string{"QUIT\r\n", "221 bye\r\n"}), StatusL7OK, 221, "bye"},
		{"smtp banner 554", "smtpchk", nil, exchange("554 go away\r\n"), StatusL7Sts, 554, "go away"},
		{"smtp HELO refused", "smtpchk", nil, exchange("220 x\r\n", [2]string{"HELO localhost\r\n", "501 bad helo\r\n"}), StatusL7Sts, 501, "bad helo"},
		{"smtp not smtp", "smtpchk", nil, exchange("hello\r\n"), StatusL7Rsp, 0, "hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Name: "be/srv", Addr: serve(t, tc.srv), Inter: time.Second}
			if err := ParseCheckOption(&cfg, tc.option, tc.args); err != nil {
				t.Fatal(err)
			}
			r := Probe(context.Background(), cfg)
			if tc.status == StatusUnknown {
				if r.Status.Passed() {
					t.Errorf("got %v: the check passed", r.Status)
				}
				return
			}
			if r.Status != tc.status || r.Code != tc.code || r.Info != tc.info {
				t.Errorf("got %v code %d info %q; want %v code %d info %q", r.Status, r.Code, r.Info, tc.status, tc.code, tc.info)
			}
		})
	}
}

// TestProtocolCheckLines compares the log-health-checks lines with those
// HAProxy 2.6.12 logged for the same replies.
func TestProtocolCheckLines(t *testing.T) {
	cfg := Config{Name: "smtp/s", Addr: serve(t, exchange("554 go away\r\n")), Inter: time.Second, Rise: 1, Fall: 1}
	ParseCheckOption(&cfg, "smtpchk", nil)
	c, _ := New(cfg, nil)
	ev := c.record(Probe(context.Background(), cfg))
	ev.Duration = 2 * time.Millisecond
	want := `Health check for server smtp/s failed, reason: Layer7 wrong status, code: 554, info: "go away", check duration: 2ms, status: 0/1 DOWN.`
	if got := healthCheckLine(cfg.Name, false, ev, 1, 1); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
