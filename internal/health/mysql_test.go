package health

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"testing"
	"time"
)

// mysqlPkt frames a MySQL protocol packet: 3 bytes of length, the sequence
// number, the payload.
func mysqlPkt(seq byte, payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}

// mysqlGreeting is a protocol 10 handshake (Protocol::HandshakeV10) from
// a server "5.7.99-fake", as the fake server in the HAProxy capture sent.
func mysqlGreeting() []byte {
	p := []byte{0x0a}
	p = append(p, "5.7.99-fake\x00"...)
	p = binary.LittleEndian.AppendUint32(p, 42) // connection id
	p = append(p, "abcdefgh\x00"...)            // auth-plugin-data part 1, filler
	p = binary.LittleEndian.AppendUint16(p, 0xf7ff)
	p = append(p, 0x21) // charset
	p = binary.LittleEndian.AppendUint16(p, 2)
	p = binary.LittleEndian.AppendUint16(p, 0x81ff)
	p = append(p, 0x15)
	p = append(p, make([]byte, 10)...)
	p = append(p, "ijklmnopqrst\x00"...)
	p = append(p, "mysql_native_password\x00"...)
	return mysqlPkt(0, p)
}

func mysqlErr(seq byte, code uint16, msg string) []byte {
	p := binary.LittleEndian.AppendUint16([]byte{0xff}, code)
	return mysqlPkt(seq, append(p, msg...))
}

var mysqlOK = mysqlPkt(2, []byte{0, 0, 0, 2, 0, 0, 0})

// fakeMySQL serves a MySQL server's side of a connection: greet is sent at
// once, then, when login is set, the client's packet is read and login is
// sent back. The client's bytes go to got.
func fakeMySQL(greet, login []byte, got chan<- []byte) func(net.Conn) {
	return func(c net.Conn) {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(greet)
		if login == nil {
			io.Copy(io.Discard, c)
			return
		}
		hdr := make([]byte, 4)
		if _, err := io.ReadFull(c, hdr); err != nil {
			return
		}
		body := make([]byte, int(hdr[0])|int(hdr[1])<<8|int(hdr[2])<<16)
		io.ReadFull(c, body)
		quit := make([]byte, 5)
		io.ReadFull(c, quit)
		if got != nil {
			got <- append(append(hdr, body...), quit...)
		}
		c.Write(login)
		io.Copy(io.Discard, c)
	}
}

// The statuses, codes and infos are those HAProxy 2.6.12 logged for the
// same server answers (option mysql-check, option log-health-checks).
func TestMySQLCheck(t *testing.T) {
	denied := "#28000Access denied for user 'bad'@'localhost' (using password: NO)"
	notAllowed := "Host '127.0.0.1' is not allowed to connect to this MySQL server"
	tests := []struct {
		name    string
		user    string
		handler func(net.Conn) // nil: nothing listens
		status  Status
		code    int
		info    string
	}{
		{"greeting", "", fakeMySQL(mysqlGreeting(), nil, nil), StatusL7OK, 0, "5.7.99-fake"},
		{"error greeting", "", fakeMySQL(mysqlErr(0, 1130, notAllowed), nil, nil), StatusL7Sts, 1130, notAllowed},
		{"closed at once", "", func(net.Conn) {}, StatusL7Rsp, 0, "TCPCHK got an empty response at step 2"},
		{"short greeting", "", func(c net.Conn) { c.Write(mysqlGreeting()[:10]) }, StatusL7Rsp, 0, ""},
		{"three bytes", "", func(c net.Conn) { c.Write([]byte{1, 0, 0}) }, StatusL7Rsp, 0, ""},
		{"refused", "", nil, StatusL4Con, 0, "Connection refused"},
		{"login ok", "haproxy", fakeMySQL(mysqlGreeting(), mysqlOK, nil), StatusL7OK, 0, "5.7.99-fake"},
		{"login denied", "bad", fakeMySQL(mysqlGreeting(), mysqlErr(2, 1045, denied), nil), StatusL7Sts, 1045, denied},
		{"no answer to login", "haproxy", func(c net.Conn) { c.Write(mysqlGreeting()); c.Read(make([]byte, 100)) },
			StatusL7Rsp, 0, ""},
		// A server that reads the login and closes: HAProxy numbers the
		// greeting's expect rule 3 after connect and send.
		{"closed after login with user", "haproxy", func(c net.Conn) { c.Read(make([]byte, 100)) },
			StatusL7Rsp, 0, "TCPCHK got an empty response at step 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Kind: KindMySQL, MySQLUser: tc.user, Inter: 2 * time.Second}
			if tc.handler == nil {
				cfg.Addr = closedAddr(t)
			} else {
				cfg.Addr = serve(t, tc.handler)
			}
			r := Probe(context.Background(), cfg)
			if r.Status != tc.status || r.Code != tc.code || r.Info != tc.info {
				t.Errorf("Probe = %v %d %q; want %v %d %q", r.Status, r.Code, r.Info, tc.status, tc.code, tc.info)
			}
		})
	}
}

func TestMySQLCheckTimeout(t *testing.T) {
	cfg := Config{Kind: KindMySQL, Inter: 2 * time.Second, Timeout: 100 * time.Millisecond, Addr: serve(t, silent)}
	if r := Probe(context.Background(), cfg); r.Status != StatusL7Tout || r.Info != "" {
		t.Errorf("Probe = %v %q; want L7TOUT without info (HAProxy: \"Layer7 timeout, check duration: 1000ms\")", r.Status, r.Info)
	}
}

// TestMySQLAuthPacket wants the bytes HAProxy 2.6.12 sent to the fake
// server for "option mysql-check user haproxy" and "user bad pre-41".
func TestMySQLAuthPacket(t *testing.T) {
	for _, tc := range []struct {
		user  string
		pre41 bool
		want  string
	}{
		{"haproxy", false, "29000001008200000080000121" + "0000000000000000000000000000000000000000000000" +
			"686170726f78790000" + "0100000001"},
		{"bad", true, "0a0000010080000001" + "6261640000" + "0100000001"},
	} {
		got := make(chan []byte, 1)
		cfg := Config{Kind: KindMySQL, MySQLUser: tc.user, MySQLPre41: tc.pre41,
			Addr: serve(t, fakeMySQL(mysqlGreeting(), mysqlOK, got))}
		if r := Probe(context.Background(), cfg); r.Status != StatusL7OK {
			t.Errorf("Probe(user %s) = %v %q; want L7OK", tc.user, r.Status, r.Info)
		}
		if g := hex.EncodeToString(<-got); g != tc.want {
			t.Errorf("user %s pre-41 %v sent\n%s\nwant\n%s", tc.user, tc.pre41, g, tc.want)
		}
	}
}

func TestParseMySQLCheck(t *testing.T) {
	tests := []struct {
		args  []string
		user  string
		pre41 bool
		err   string
	}{
		{nil, "", false, ""},
		{[]string{"user", "haproxy"}, "haproxy", false, ""},
		{[]string{"user", "haproxy", "post-41"}, "haproxy", false, ""},
		{[]string{"user", "bad", "pre-41"}, "bad", true, ""},
		{[]string{"usr", "x"}, "", false, "health: 'option mysql-check' only supports optional values: 'user' (got 'usr'): syntax error"},
		{[]string{"user"}, "", false, "health: 'option mysql-check user' expects <username> as argument: syntax error"},
		{[]string{"user", "x", "41"}, "", false, "health: keyword 'user' only supports 'post-41' and 'pre-41' (got '41'): syntax error"},
	}
	for _, tc := range tests {
		var cfg Config
		err := ParseCheckOption(&cfg, "mysql-check", tc.args)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseCheckOption(mysql-check %q) = %v; want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || cfg.Kind != KindMySQL || cfg.MySQLUser != tc.user || cfg.MySQLPre41 != tc.pre41 {
			t.Errorf("ParseCheckOption(mysql-check %q) = %v, %q %v, %v; want mysql, %q %v", tc.args, cfg.Kind, cfg.MySQLUser, cfg.MySQLPre41, err, tc.user, tc.pre41)
		}
	}
}
