package loopback

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The "%[…]" sample expressions of log-format and unique-id-format, compared with HAProxy
// 2.6: what it refuses at a log line (the request headers are gone then), and the lines
// both print, in mode http and in mode tcp.

// haproxyCheck runs "haproxy -c" on cfg and returns its output, skipping the test when
// HAProxy is not installed.
func haproxyCheck(t *testing.T, cfg string) string {
	t.Helper()
	out, _ := exec.Command(haproxyBin(t), "-c", "-f", cfg).CombinedOutput()
	return string(out)
}

// TestLogSampleRefused: a log-format that reads the request headers is refused by lb -c in
// HAProxy's words, which are HAProxy's own refusal.
func TestLogSampleRefused(t *testing.T) {
	cfg := writeConfig(t, httpDefaults+`
frontend fe
    bind 127.0.0.1:1
    http-request set-var(txn.a) str(x)
    log-format "%ci %[req.hdr(host)] %[src] %{+Q}[req.hdr(user-agent)] %[var(txn.a)]"
    default_backend be
backend be
    server s1 127.0.0.1:2
`)
	const want = "failed to parse log-format : sample fetch <req.hdr(host)] %[src] %{+Q}[req.hdr(user-agent)] %[var(txn.a)]> may not be reliably used here because it needs 'HTTP request headers' which is not available here"
	out, err := exec.Command(lbBinary(t), "-c", "-f", cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("lb -c: %v\n%s\nwant %q", err, out, want)
	}
	if hap := haproxyCheck(t, cfg); !strings.Contains(hap, want) {
		t.Errorf("haproxy -c:\n%s\nwant %q", hap, want)
	}
}

// TestLogSampleHTTP: in mode http the samples of the log line read the connection's
// addresses, the variables the http-request rules set (the way to log a request header,
// which is gone at the log line), the method, the status, the proxies; the status is absent there (the response is gone,
// as the request: HAProxy accepts %[status] and prints "-"); an absent sample
// prints "-" ("" quoted), Q and E quote and escape. The unique-id-format's samples make the
// id sent to the server in unique-id-header and printed by %ID.
func TestLogSampleHTTP(t *testing.T) {
	app := startHTTPServer(t, "app", nil)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    http-request set-var(txn.a) str(x)
    http-request set-var(txn.host) req.hdr(host)
    http-request set-var(txn.ua) req.hdr(user-agent)
    log-format "LS %%ci:%%cp %%[var(txn.host)] %%[src] %%{+Q}[var(txn.ua)] %%[var(txn.a)] %%[var(txn.none)] %%{+Q}[var(txn.none)] %%{+Q,+E}[var(txn.ua)] %%[method] %%[status] %%[ssl_fc] %%[fe_name] %%[be_name] %%[src_port,mul(0)] %%{+Q}ID"
    unique-id-format %%[src]-%%[src_port]
    unique-id-header X-Req-ID
    default_backend be
backend be
    server s1 %s
`, addr, app.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		c := dialHTTP(t, addr)
		cli := c.c.LocalAddr().String()
		c.send("GET /s HTTP/1.1\r\nHost: h.example\r\nUser-Agent: ua \"q\" ]x\r\nConnection: close\r\n\r\n")
		head, body := c.response()
		if respStatusLine(head) != "HTTP/1.1 200 OK" {
			t.Fatalf("%q", head)
		}
		id := strings.Replace(cli, ":", "-", 1)
		if !strings.Contains(body, "X-Req-Id: "+id+"\n") {
			t.Errorf("the server got no X-Req-ID: %s:\n%s", id, body)
		}
		ip, _, _ := strings.Cut(cli, ":")
		want := fmt.Sprintf(`LS %s h.example %s "ua "q" ]x" x - "" "ua \"q\" \]x" GET - 0 fe be 0 "%s"`, cli, ip, id)
		line := waitLine(t, out, "LS "+cli+" ")
		if line != want {
			t.Errorf("log line\n%s\nwant\n%s", line, want)
		}
	})
}

// TestLogSampleTCP: in mode tcp the samples read the session, in a frontend without rules
// (lb then makes a stream for the log line) and in one whose rules set a variable; the
// unique-id-format's samples make the id %ID prints.
func TestLogSampleTCP(t *testing.T) {
	s := startNameServer(t, "s1")
	addr1 := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	addr2 := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`
global
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen plain
    bind %s
    log-format "LT1 %%ci:%%cp %%[dst_port] %%[fe_name] %%{+Q}[be_name] %%ID"
    unique-id-format %%[src]-%%[src_port]
    server s1 %s
listen ruled
    bind %s
    tcp-request session set-var(sess.s) str(ses)
    log-format "LT2 %%ci:%%cp %%[dst_port] %%[fe_name] %%[var(sess.s)] %%[var(sess.none)]"
    server s1 %s
`, addr1, s.addr(), addr2, s.addr()))
	onLBAndHAProxy(t, cfg, addr1, func(t *testing.T, out *outFile) {
		waitListen(t, addr2)
		for i, front := range []string{addr1, addr2} {
			c, err := net.DialTimeout("tcp", front, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			cli := c.LocalAddr().String()
			r := bufio.NewReader(c)
			if l, err := r.ReadString('\n'); err != nil || l != "s1\n" {
				t.Fatalf("first line %q, %v; want s1", l, err)
			}
			c.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, r)
			c.Close()
			_, port, _ := strings.Cut(front, ":")
			var want, prefix string
			if i == 0 {
				prefix = "LT1 "
				want = fmt.Sprintf(`LT1 %s %s plain "plain" %s`, cli, port, strings.Replace(cli, ":", "-", 1))
			} else {
				prefix = "LT2 "
				want = fmt.Sprintf(`LT2 %s %s ruled ses -`, cli, port)
			}
			if line := waitLine(t, out, prefix+cli+" "); line != want {
				t.Errorf("log line\n%s\nwant\n%s", line, want)
			}
		}
	})
}

// waitLine waits for the first line of out starting with prefix and returns it.
func waitLine(t *testing.T, out *outFile, prefix string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(prefix) + `.*$`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := re.FindString(out.String()); m != "" {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q line; output:\n%s", prefix, out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a log: there is no other signal
	}
}

// TestUniqueIDSamples: HAProxy makes the unique id once the http-request rules of the
// frontend and of the backend ran, just before the request is sent: its samples read the
// variables both set and the request as the backend's set-header left it (the server, Go's,
// would refuse the control byte X-D has: it is moved to a variable). Control bytes of
// a sample are encoded "%XX" (a tab is kept), as in any HTTP log-format of HAProxy.
func TestUniqueIDSamples(t *testing.T) {
	app := startHTTPServer(t, "app", nil)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    http-request set-var(txn.a) str(x)
    http-request set-var(txn.d) req.hdr(x-d)
    http-request del-header x-d
    unique-id-format "<%%[var(txn.a)]|%%[var(txn.b)]|%%[req.hdr(x-c)]|%%[var(txn.d)]|%%[uuid(),length]>"
    unique-id-header X-Req-ID
    log-format "LU %%ci:%%cp %%ID"
    default_backend be
backend be
    http-request set-var(txn.b) str(y)
    http-request set-header X-C c
    server s1 %s
`, addr, app.addr()))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		c := dialHTTP(t, addr)
		cli := c.c.LocalAddr().String()
		c.send("GET /u HTTP/1.1\r\nHost: h\r\nX-C: orig\r\nX-D: d\x01\te\r\nConnection: close\r\n\r\n")
		_, body := c.response()
		const id = "<x|y|c|d%01\te|36>"
		if !strings.Contains(body, "X-Req-Id: "+id+"\n") {
			t.Errorf("the server got no X-Req-ID: %s:\n%s", id, body)
		}
		if line, want := waitLine(t, out, "LU "+cli+" "), "LU "+cli+" "+id; line != want {
			t.Errorf("log line\n%s\nwant\n%s", line, want)
		}
	})
}
