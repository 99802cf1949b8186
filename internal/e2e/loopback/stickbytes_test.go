package loopback

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestStickBytes: "tcp-request connection track-sc0 src" in a table that stores
// bytes_in_cnt, bytes_out_cnt, bytes_in_rate and bytes_out_rate (mode tcp): each
// connection's bytes from the client and to it are added once it ends, and the
// src_kbytes_in|out, src_bytes_in|out_rate fetches and table_* converters read them, on
// lb and on haproxy.
func TestStickBytes(t *testing.T) {
	// The server reads the client's 1000 bytes, answers 3000 and closes.
	srv := startRawServer(t, func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 1000)); err != nil {
			return
		}
		_, _ = c.Write([]byte(strings.Repeat("y", 3000)))
	})
	sock := t.TempDir() + "/admin.sock"
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	addr2 := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %s level admin
defaults
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    mode tcp
    bind %s
    stick-table type ip size 10 store bytes_in_cnt,bytes_in_rate(10s),bytes_out_cnt,bytes_out_rate(10s)
    tcp-request connection track-sc0 src
    default_backend be
backend be
    mode tcp
    server s1 %s
frontend read
    mode http
    bind %s
    http-request return status 200 content-type text/plain lf-string "kin=%%[src_kbytes_in(fe)] kout=%%[src_kbytes_out(fe)] rin=%%[src_bytes_in_rate(fe)] rout=%%[src,table_bytes_out_rate(fe)] tkin=%%[src,table_kbytes_in(fe)]"
`, sock, addr, srv, addr2))
	transfer := func(t *testing.T) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(strings.Repeat("x", 1000))); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(c)
		if err != nil || len(b) != 3000 {
			t.Fatalf("read %d bytes, %v; want 3000", len(b), err)
		}
	}
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		clearTables(t, sock, "fe")
		transfer(t)
		transfer(t)
		want := "# table: fe, type: ip, size:10, used:1\n" +
			"<ptr>: key=127.0.0.1 use=0 exp=<ms> bytes_in_cnt=2000 bytes_in_rate(10000)=2000 bytes_out_cnt=6000 bytes_out_rate(10000)=6000\n\n"
		checkTable(t, sock, "fe", want)
		c := dialHTTP(t, addr2)
		c.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		_, body := c.response()
		if want := "kin=1 kout=5 rin=2000 rout=6000 tkin=1"; body != want {
			t.Errorf("fetches = %q; want %q", body, want)
		}
	})
}
