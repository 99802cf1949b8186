package loopback

// The tcp-check and http-check rule lists against HAProxy's: each case is a backend whose
// only server is a fake one with a fixed answer; HAProxy and lb run the same configuration
// and must log the same reason for the failed check (option log-health-checks).

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// checkCase is a backend of the comparison: its rules and what its server does.
type checkCase struct {
	name  string
	rules string // lines of the backend, after "option tcp-check" or "option httpchk"
	http  bool   // option httpchk instead of option tcp-check
	// reply is written at once; close says the server then closes (else it waits for the
	// check to end). ports may refer to {refused}: a port nothing listens on.
	reply string
	close bool
	// echo sends back the first line received (a PROXY header), then waits.
	echo bool
}

var checkCases = []checkCase{
	{name: "string", rules: "tcp-check expect string ok", reply: "nope\n", close: true},
	{name: "send-then-string", rules: "tcp-check send PING\\r\\n\n    tcp-check expect string +PONG", reply: "-ERR\r\n", close: true},
	{name: "not-string", rules: "tcp-check expect ! string ERR", reply: "ERR\n", close: true},
	{name: "rstring", rules: "tcp-check expect rstring ^OK", reply: "NO\n", close: true},
	{name: "binary", rules: "tcp-check expect binary 4f4b", reply: "NO", close: true},
	{name: "rbinary", rules: "tcp-check expect rbinary ^4F4B", reply: "NO", close: true},
	{name: "empty", rules: "tcp-check expect string ok", reply: "", close: true},
	{name: "timeout", rules: "tcp-check expect string ok", reply: "no"},
	{name: "comment", rules: "tcp-check comment greeting\n    tcp-check expect string ok comment banner", reply: "nope\n", close: true},
	{name: "refused", rules: "tcp-check connect port {refused}", reply: "", close: true},
	{name: "refused-addr", rules: "tcp-check connect addr 127.0.0.1 port {refused} linger comment cx", reply: "", close: true},
	{name: "on-error", rules: "tcp-check expect string ok on-error \"no ok here\"", reply: "nope\n", close: true},
	{name: "error-status", rules: "tcp-check expect string ok error-status L4CON", reply: "nope\n", close: true},
	{name: "min-recv", rules: "tcp-check expect min-recv 10 string ok", reply: "ok"},
	{name: "tout-status", rules: "tcp-check expect string ok tout-status L6TOUT", reply: "no"},
	{name: "empty-comment", rules: "tcp-check expect string ok comment hello", reply: "", close: true},
	{name: "ssl-on-plain", rules: "tcp-check connect ssl\n    tcp-check expect string ok", reply: "SSH-2.0-x\r\n", close: true},
	{name: "send-proxy", rules: "tcp-check connect send-proxy\n    tcp-check expect string TCP6", reply: "", echo: true},
	{name: "http-hdr", http: true, rules: "http-check expect hdr name x-state value up", reply: "HTTP/1.0 200 OK\r\nX-State: down\r\nContent-Length: 0\r\n\r\n", close: true},
	{name: "http-hdr-beg", http: true, rules: "http-check expect hdr name -m beg x-st value -m sub ok", reply: "HTTP/1.0 200 OK\r\nX-State: down\r\nContent-Length: 0\r\n\r\n", close: true},
	{name: "http-fhdr", http: true, rules: "http-check expect fhdr name x-list value -m end \"b, c\"", reply: "HTTP/1.0 200 OK\r\nX-List: a, b\r\nContent-Length: 0\r\n\r\n", close: true},
	{name: "http-status-comment", http: true, rules: "http-check expect status 200 comment mine", reply: "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", close: true},
	{name: "http-seq", http: true, rules: "http-check connect\n    http-check send uri /a\n    http-check expect status 200\n    http-check connect\n    http-check send meth GET uri /b ver HTTP/1.1 hdr Host x\n    http-check expect string ok", reply: "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nbad", close: true},
	{name: "http-implicit", http: true, rules: "http-check connect\n    http-check send uri /a\n    http-check expect status 503\n    http-check connect\n    http-check send uri /b", reply: "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", close: true},
	{name: "http-on-error", http: true, rules: "http-check expect status 200 on-error \"bad status\"", reply: "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", close: true},
	{name: "http-status", http: true, rules: "http-check expect status 200", reply: "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", close: true},
	{name: "http-rstatus", http: true, rules: "http-check expect rstatus ^2", reply: "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n", close: true},
	{name: "http-string", http: true, rules: "http-check expect string ok", reply: "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nbad", close: true},
	{name: "http-not-string", http: true, rules: "http-check expect ! string bad", reply: "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nbad", close: true},
	{name: "http-default", http: true, rules: "", reply: "HTTP/1.0 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", close: true},
	{name: "http-garbage", http: true, rules: "", reply: "SSH-2.0-OpenSSH\r\n", close: true},
	// The check's code is status-code's value; a connect port may be an expression.
	{name: "status-code", rules: "tcp-check expect string ok status-code int(42) comment c", reply: "nope\n", close: true},
	{name: "http-status-code", http: true, rules: "http-check expect status 200 status-code int(299)", reply: "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", close: true},
	{name: "port-expr", rules: "tcp-check set-var(check.p) int({refused})\n    tcp-check connect port var(check.p)", reply: "", close: true},
	{name: "http-port-expr", http: true, rules: "http-check connect port int({refused}),add(0)", reply: "", close: true},
	{name: "string-lf-empty", rules: "tcp-check expect string-lf %[var(check.none)] comment c status-code int(7)", reply: "x", close: true},
	{name: "http-string-lf", http: true, rules: "http-check set-var(check.x) str(ok)\n    http-check expect string-lf %[var(check.x)]", reply: "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nbad", close: true},
}

// fakeCheckServer answers every connection with c's reply.
func fakeCheckServer(t *testing.T, c checkCase) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				if c.http {
					// Read the request head first, as a server does.
					buf := make([]byte, 4096)
					n := 0
					for !strings.Contains(string(buf[:n]), "\r\n\r\n") && n < len(buf) {
						k, err := conn.Read(buf[n:])
						n += k
						if err != nil {
							break
						}
					}
				}
				if c.echo {
					line, _ := bufio.NewReader(conn).ReadString('\n')
					io.WriteString(conn, line)
				}
				io.WriteString(conn, c.reply)
				if c.close {
					// A FIN, then what the check sends is read: a close
					// with unread data would reset the connection.
					conn.(*net.TCPConn).CloseWrite()
				}
				io.Copy(io.Discard, conn)
			}()
		}
	}()
	return ln.Addr().String()
}

var checkLogLine = regexp.MustCompile(`^Health check for server (\S+)/s failed, (.*), check duration: \d+ms, (status: .*)$`)

// checkReasons runs bin on cfg until every backend of cases logged its failed check, and
// returns "backend: reason" lines.
func checkReasons(t *testing.T, bin, cfg string, cases []checkCase) []string {
	t.Helper()
	proc := startProc(t, bin, "-db", "-f", cfg)
	defer proc.stop()
	out := proc.out
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-proc.done:
			t.Fatalf("%s exited:\n%s", bin, out.String())
		default:
		}
		got := map[string]string{}
		for _, l := range strings.Split(out.String(), "\n") {
			if m := checkLogLine.FindStringSubmatch(l); m != nil {
				if _, ok := got[m[1]]; !ok {
					got[m[1]] = m[2] + ", " + m[3]
				}
			}
		}
		if len(got) == len(cases) || time.Now().After(deadline) {
			var lines []string
			for be, r := range got {
				lines = append(lines, be+": "+r)
			}
			sort.Strings(lines)
			if len(got) != len(cases) {
				t.Errorf("%s: %d of %d backends logged a failed check:\n%s", bin, len(got), len(cases), out.String())
			}
			return lines
		}
		time.Sleep(50 * time.Millisecond) // polling a log: there is no other signal
	}
}

// checkCasesConfig is the configuration of cases, each a backend "c_<name>".
func checkCasesConfig(t *testing.T, cases []checkCase) string {
	var b strings.Builder
	b.WriteString(`
global
    log stdout format raw local0
    ssl-server-verify none
defaults
    mode tcp
    log global
    option log-health-checks
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 500ms
`)
	refused := fmt.Sprint(refusingPort(t))
	fmt.Fprintf(&b, "frontend fe\n    bind 127.0.0.1:%d\n    default_backend c_%s\n", freePort(t), cases[0].name)
	for _, c := range cases {
		opt := "option tcp-check"
		if c.http {
			opt = "option httpchk GET /"
		}
		fmt.Fprintf(&b, "backend c_%s\n    %s\n", c.name, opt)
		if c.rules != "" {
			fmt.Fprintf(&b, "    %s\n", strings.ReplaceAll(c.rules, "{refused}", refused))
		}
		fmt.Fprintf(&b, "    server s %s check inter 300ms rise 1 fall 1\n", fakeCheckServer(t, c))
	}
	return writeConfig(t, b.String())
}

// TestCheckRulesReasonsAsHAProxy compares the reasons HAProxy and lb log for each case.
func TestCheckRulesReasonsAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	cfg := checkCasesConfig(t, checkCases)
	want := checkReasons(t, hap, cfg, checkCases)
	got := checkReasons(t, lbBinary(t), cfg, checkCases)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lb logged\n%s\n\nHAProxy logged\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCheckConnectOptions: the options of "tcp-check connect" (ssl with sni and alpn,
// send-proxy, via-socks4, default) and the success options of "expect" (ok-status,
// on-success), against HAProxy. Each server answers "no" until the test turns it good,
// then "ok" to a check that reached it as the rule says; the lines logged when the
// servers come back UP must be HAProxy's, and the TLS server must have seen the SNI and
// the ALPN protocol of the rule.
func TestCheckConnectOptions(t *testing.T) {
	hap := haproxyBin(t)
	var good atomic.Bool
	answer := func(ok bool) string {
		if ok && good.Load() {
			return "ok\n"
		}
		return "no\n"
	}
	// A plain server: "ok" to anything, or to a PROXY header only (proxied).
	plain := func(proxied bool) string {
		return startRawServer(t, func(c net.Conn) {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if !proxied {
				io.WriteString(c, answer(true))
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			io.WriteString(c, answer(strings.HasPrefix(line, "PROXY TCP4 ")))
		})
	}
	// A TLS server that records the SNI and ALPN protocols it was offered.
	ca := newTestCA(t, "check CA")
	cert, key := ca.issue(t, "check.example", []string{"check.example"}, false, false)
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var hellos []string
	tlsLn, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			mu.Lock()
			hellos = append(hellos, h.ServerName+" "+strings.Join(h.SupportedProtos, ","))
			mu.Unlock()
			return nil, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tlsLn.Close() })
	go func() {
		for {
			c, err := tlsLn.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				io.WriteString(c, answer(true))
			}()
		}
	}()
	socks := startSocks4Server(t, map[string]string{"192.0.2.1:25": plain(false)})
	cfg := writeConfig(t, fmt.Sprintf(`
global
    log stdout format raw local0
    ssl-server-verify none
defaults
    mode tcp
    log global
    option log-health-checks
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 1s
frontend fe
    bind 127.0.0.1:%d
    default_backend c_ssl
backend c_ssl
    option tcp-check
    tcp-check connect ssl sni check.example alpn x-check
    tcp-check expect string ok ok-status L6OK on-success "all good"
    server s %s check inter 100ms rise 1 fall 1
backend c_proxy
    option tcp-check
    tcp-check connect send-proxy
    tcp-check expect string ok
    server s %s check inter 100ms rise 1 fall 1
backend c_socks
    option tcp-check
    tcp-check connect via-socks4
    tcp-check expect string ok
    server s 192.0.2.1:25 socks4 %s check inter 100ms rise 1 fall 1
backend c_default
    option tcp-check
    tcp-check connect default
    tcp-check expect string ok
    server s %s check-ssl check inter 100ms rise 1 fall 1
`, freePort(t), tlsLn.Addr(), plain(true), socks.addr, tlsLn.Addr()))
	backends := []string{"c_default", "c_proxy", "c_socks", "c_ssl"}
	run := func(bin string) []string {
		t.Helper()
		good.Store(false)
		proc := startProc(t, bin, "-db", "-f", cfg)
		defer proc.stop()
		out := proc.out
		wait := func(verb string) []string {
			re := regexp.MustCompile(`^(Health check for server (\S+)/s ` + verb + `, .*), check duration: \d+ms, (status: .*)$`)
			deadline := time.Now().Add(10 * time.Second)
			for {
				seen := map[string]string{}
				for _, l := range strings.Split(out.String(), "\n") {
					if m := re.FindStringSubmatch(l); m != nil {
						seen[m[2]] = m[1] + ", " + m[3]
					}
				}
				if len(seen) == len(backends) {
					var lines []string
					for _, be := range backends {
						lines = append(lines, seen[be])
					}
					return lines
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: %d of %d backends logged %s checks:\n%s", bin, len(seen), len(backends), verb, out.String())
				}
				time.Sleep(50 * time.Millisecond) // polling a log: there is no other signal
			}
		}
		wait("failed")
		good.Store(true)
		return wait("succeeded")
	}
	check := func(bin string, lines []string) {
		mu.Lock()
		defer mu.Unlock()
		if !slices.Contains(hellos, "check.example x-check") {
			t.Errorf("%s: the TLS server saw %q; want SNI check.example and ALPN x-check", bin, hellos)
		}
		hellos = nil
		if !strings.Contains(strings.Join(lines, "\n"), `reason: Layer6 check passed, info: "all good"`) {
			t.Errorf("%s: no ok-status and on-success in\n%s", bin, strings.Join(lines, "\n"))
		}
	}
	want := run(hap)
	check("haproxy", want)
	got := run(lbBinary(t))
	check("lb", got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lb logged\n%s\n\nHAProxy logged\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
