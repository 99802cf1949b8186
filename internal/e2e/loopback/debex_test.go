package loopback

// Tests of the keywords of the configurations Debian ships with HAProxy
// (issue 14): strict-limits, source/usesrc, dispatch, socks4 and set-dst.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestStrictLimits: "strict-limits" is HAProxy 2.6's default, a start whose file
// descriptor limit cannot be raised to what maxconn needs fails; "no strict-limits" starts
// with the limit it has and HAProxy's two warnings. HAProxy is run on the same files
// for the verdict of the strict case.
func TestStrictLimits(t *testing.T) {
	s := startNameServer(t, "s1")
	port := freePort(t)
	base := fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen app
    bind 127.0.0.1:%d
    server s1 %s
`, port, s.addr())
	withLimit := func(bin, cfg string) *exec.Cmd {
		return exec.Command("/bin/sh", "-c", `ulimit -Sn 1024 && ulimit -Hn 1024 && exec "$0" -db -f "$1"`, bin, cfg)
	}
	strict := writeConfig(t, "global\n    maxconn 5000\n    strict-limits\n"+base)
	out, err := withLimit(lbBinary(t), strict).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("strict-limits, maxconn 5000 under a hard limit of 1024: %v; want exit 1\n%s", err, out)
	}
	if hap, ok := haproxyPath(); ok {
		hout, err := withLimit(hap, strict).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("haproxy on the same file: %v; want exit 1 as lb\n%s", err, hout)
		}
	}

	cmd := withLimit(lbBinary(t), writeConfig(t, "global\n    maxconn 5000\n    no strict-limits\n"+base))
	p := startCmd(t, cmd)
	o := p.out
	defer func() { cmd.Process.Signal(syscall.SIGTERM); p.wait(5 * time.Second) }()
	p.waitOutput("Cannot raise FD limit to 10", 5*time.Second)
	p.waitOutput("FD limit (1024) too low for maxconn=5000", 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n, err := askName(fmt.Sprintf("127.0.0.1:%d", port)); err == nil && n == "s1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lb with 'no strict-limits' does not serve:\n%s", o.String())
		}
		time.Sleep(20 * time.Millisecond) // the warnings came first; the accept follows
	}
	if strings.Contains(o.String(), "ALERT") {
		t.Errorf("no strict-limits gave an alert:\n%s", o.String())
	}
}

// peerServer is a server that writes the address it sees its client at ("peer
// IP:PORT\n"), and over HTTP answers it as the body of each response.
func peerServer(t *testing.T) string {
	return startRawServer(t, func(c net.Conn) {
		defer c.Close()
		fmt.Fprintf(c, "peer %s\n", c.RemoteAddr())
	})
}

func peerHTTPServer(t *testing.T) string {
	return serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "peer %s\n", r.RemoteAddr)
	})
}

// serveHTTP serves h on a fresh loopback port until the test ends and returns its address.
func serveHTTP(t *testing.T, h http.HandlerFunc) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// onLBThenHAProxy runs run with lb's binary, then with HAProxy's when it is installed.
func onLBThenHAProxy(t *testing.T, run func(bin string)) {
	t.Helper()
	run(lbBinary(t))
	if hap, ok := haproxyPath(); ok {
		run(hap)
	}
}

// askPeer connects to addr from src (any local address when ""), sends req and returns
// the first line that begins with "peer " the server sent back through the proxy.
func askPeer(src, addr, req string) (string, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if req != "" {
		io.WriteString(c, req)
	}
	r := bufio.NewReader(c)
	for {
		l, err := r.ReadString('\n')
		if strings.HasPrefix(l, "peer ") {
			return strings.TrimSpace(l), nil
		}
		if err != nil {
			return "", fmt.Errorf("no peer line: %v", err)
		}
	}
}

// TestDispatchAndSource runs one configuration under HAProxy and lb and compares where
// the connections reached and from which address: "dispatch" takes every connection
// whatever the servers (the log names no server), "source" binds the backend's or the
// server's own address, "usesrc clientip" the client's and "usesrc hdr_ip(…)" the address
// of a request header (addresses of 127/8, local: the foreign case is
// TestTransparentSourceNetns's).
func TestDispatchAndSource(t *testing.T) {
	peer, hpeer := peerServer(t), peerHTTPServer(t)
	ports := []int{freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)}
	cfg := writeConfig(t, fmt.Sprintf(`
global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen disp
    bind 127.0.0.1:%d
    dispatch %s
    server never 127.0.0.1:%d
listen src
    bind 127.0.0.1:%d
    source 127.0.0.2
    server s %s
listen srvsrc
    bind 127.0.0.1:%d
    source 127.0.0.2
    server s %s source 127.0.0.3
listen clientip
    bind 127.0.0.1:%d
    no log
    source 0.0.0.0 usesrc clientip
    server s %s
listen hdr
    bind 127.0.0.1:%d
    no log
    mode http
    source 127.0.0.5 usesrc hdr_ip(x-client)
    server s %s
`, ports[0], peer, refusingPort(t), ports[1], peer, ports[2], peer, ports[3], peer, ports[4], hpeer))
	peerHost := func(l string) string { // "peer 127.0.0.2:41234" -> "127.0.0.2"
		h, _, _ := net.SplitHostPort(strings.TrimPrefix(l, "peer "))
		return h
	}
	type result struct{ disp, src, srvsrc, clientip, hdr, hdrMissing string }
	run := func(bin string) (result, []string) {
		proc := startProc(t, bin, "-db", "-f", cfg)
		defer proc.stop()
		out := proc.out
		for _, p := range ports {
			waitListen(t, fmt.Sprintf("127.0.0.1:%d", p))
		}
		// The probes of waitListen are logged first (disp, src and srvsrc log).
		waitLines := func(n int) []string {
			var lines []string
			deadline := time.Now().Add(5 * time.Second)
			for len(lines) < n && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond) // polling a log: there is no other signal
				lines = logLines(out.String())
			}
			return lines
		}
		probes := len(waitLines(3))
		var r result
		ask := func(dst *string, src string, port int, req string, host bool) {
			l, err := askPeer(src, fmt.Sprintf("127.0.0.1:%d", port), req)
			if err != nil {
				t.Errorf("%s: port %d: %v\n%s", bin, port, err, out.String())
			}
			*dst = l
			if host {
				*dst = peerHost(l)
			}
		}
		ask(&r.disp, "", ports[0], "", false)
		ask(&r.src, "", ports[1], "", true)
		ask(&r.srvsrc, "", ports[2], "", true)
		ask(&r.clientip, "127.0.0.7", ports[3], "", true)
		ask(&r.hdr, "", ports[4], "GET / HTTP/1.1\r\nHost: x\r\nX-Client: 10.0.0.1\r\nX-Client: 127.0.0.9\r\nConnection: close\r\n\r\n", true)
		// No header: HAProxy answers 500 (termination IC).
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ports[4]), 2*time.Second); err == nil {
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			r.hdrMissing, _ = bufio.NewReader(c).ReadString('\n')
			r.hdrMissing = strings.TrimSpace(r.hdrMissing)
			c.Close()
		}
		return r, waitLines(probes + 3)[probes:]
	}
	got, gotLog := run(lbBinary(t))
	want := result{disp: "peer " + "127.0.0.1", src: "127.0.0.2", srvsrc: "127.0.0.3", clientip: "127.0.0.7", hdr: "127.0.0.9", hdrMissing: "HTTP/1.1 500 Internal Server Error"}
	if !strings.HasPrefix(got.disp, want.disp) {
		t.Errorf("dispatch: the dispatch server said %q", got.disp)
	}
	got.disp = want.disp
	if got != want {
		t.Errorf("lb: the servers saw %+v; want %+v", got, want)
	}
	bin, ok := haproxyPath()
	if !ok {
		return
	}
	hap, hapLog := run(bin)
	hap.disp = want.disp
	if hap != want {
		t.Errorf("haproxy: the servers saw %+v; want %+v as lb", hap, want)
	}
	// The sessions end together: either proxy may log them in another order.
	sort.Strings(gotLog)
	sort.Strings(hapLog)
	if strings.Join(gotLog, "\n") != strings.Join(hapLog, "\n") {
		t.Errorf("lb logged\n%s\nHAProxy logged\n%s", strings.Join(gotLog, "\n"), strings.Join(hapLog, "\n"))
	}
}

// netnsWorld is three network namespaces the test makes, joined by two veth pairs:
// cli (10.71.1.2) — mid (10.71.1.1, 10.71.2.1) — srv (10.71.2.2). cli and srv route
// through mid, where the proxy runs. mid routes what comes from srv to itself (HAProxy's
// documented policy routing for transparent proxying, keyed here on the interface as no
// packet filter is installed): the replies to the client's address reach the proxy's
// transparent sockets.
type netnsWorld struct{ cli, mid, srv string }

func newNetnsWorld(t *testing.T) *netnsWorld {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command")
	}
	id := fmt.Sprintf("lbt%d", os.Getpid())
	w := &netnsWorld{cli: id + "cli", mid: id + "mid", srv: id + "srv"}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []string{w.cli, w.mid, w.srv} {
		ip("netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		ip("-n", ns, "link", "set", "lo", "up")
	}
	ip("-n", w.mid, "link", "add", "tocli", "type", "veth", "peer", "name", "eth0", "netns", w.cli)
	ip("-n", w.mid, "link", "add", "tosrv", "type", "veth", "peer", "name", "eth0", "netns", w.srv)
	ip("-n", w.cli, "addr", "add", "10.71.1.2/24", "dev", "eth0")
	ip("-n", w.mid, "addr", "add", "10.71.1.1/24", "dev", "tocli")
	ip("-n", w.mid, "addr", "add", "10.71.2.1/24", "dev", "tosrv")
	ip("-n", w.srv, "addr", "add", "10.71.2.2/24", "dev", "eth0")
	for _, l := range [][2]string{{w.cli, "eth0"}, {w.mid, "tocli"}, {w.mid, "tosrv"}, {w.srv, "eth0"}} {
		ip("-n", l[0], "link", "set", l[1], "up")
	}
	ip("-n", w.cli, "route", "add", "default", "via", "10.71.1.1")
	ip("-n", w.srv, "route", "add", "default", "via", "10.71.2.1")
	ip("-n", w.mid, "rule", "add", "iif", "tosrv", "lookup", "100")
	ip("-n", w.mid, "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "100")
	return w
}

// in runs fn on an OS thread that entered namespace ns: the sockets fn creates stay in it.
func (w *netnsWorld) in(t *testing.T, ns string, fn func()) {
	t.Helper()
	f, err := os.Open("/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	errc := make(chan error, 1)
	go func() {
		// The thread goes back to its namespace before it is unlocked; if that fails it stays
		// locked and ends with the goroutine (unless it is the main thread, which Go parks
		// instead: /proc/net, the main thread's, would then show the other namespace).
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer home.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		fn()
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatalf("setns %s: %v", ns, err)
	}
}

// TestTransparentSourceNetns: "usesrc clientip" and "usesrc client" connect to the server
// from the client's address (and port), a foreign address to the proxy (IP_TRANSPARENT),
// across namespaces the test makes; without usesrc the server sees the proxy's address.
// HAProxy runs on the same configuration for the same verdicts.
func TestTransparentSourceNetns(t *testing.T) {
	w := newNetnsWorld(t)
	var ln net.Listener
	w.in(t, w.srv, func() {
		var err error
		if ln, err = net.Listen("tcp", "10.71.2.2:8080"); err != nil {
			t.Error(err)
		}
	})
	if ln == nil {
		t.FailNow()
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "peer %s\n", c.RemoteAddr())
			c.Close()
		}
	}()
	cfg := writeConfig(t, `
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen clientip
    bind 10.71.1.1:8001
    source 0.0.0.0 usesrc clientip
    server s 10.71.2.2:8080
listen client
    bind 10.71.1.1:8002
    server s 10.71.2.2:8080 source 0.0.0.0 usesrc client
listen plain
    bind 10.71.1.1:8003
    server s 10.71.2.2:8080
`)
	// ask connects from the client's namespace and returns the client's own address and
	// what the server saw.
	ask := func(port int) (local, peer string, err error) {
		w.in(t, w.cli, func() {
			var c net.Conn
			if c, err = net.DialTimeout("tcp", fmt.Sprintf("10.71.1.1:%d", port), 2*time.Second); err != nil {
				return
			}
			defer c.Close()
			local = c.LocalAddr().String()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			peer, err = bufio.NewReader(c).ReadString('\n')
			peer = strings.TrimPrefix(strings.TrimSpace(peer), "peer ")
		})
		return local, peer, err
	}
	check := func(who string) {
		t.Helper()
		local, peer, err := ask(8001)
		if err != nil || !strings.HasPrefix(peer, "10.71.1.2:") || peer == local {
			t.Errorf("%s: usesrc clientip: the server saw %q (client %s): %v; want 10.71.1.2 and another port", who, peer, local, err)
		}
		local, peer, err = ask(8002)
		if err != nil || peer != local {
			t.Errorf("%s: usesrc client: the server saw %q; want the client's %s: %v", who, peer, local, err)
		}
		_, peer, err = ask(8003)
		if err != nil || !strings.HasPrefix(peer, "10.71.2.1:") {
			t.Errorf("%s: no source: the server saw %q; want the proxy's 10.71.2.1: %v", who, peer, err)
		}
	}

	n := newNotifySocket(t)
	cmd := exec.Command("ip", "netns", "exec", w.mid, lbBinary(t), "-db", "-f", cfg)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+n.path)
	p := startCmd(t, cmd)
	n.waitFor(t, "READY=1", 15*time.Second)
	check("lb")
	p.signal(syscall.SIGTERM)
	p.wait(5 * time.Second)

	hap, ok := haproxyPath()
	if !ok {
		return
	}
	hproc := startCmd(t, exec.Command("ip", "netns", "exec", w.mid, hap, "-db", "-f", cfg))
	defer hproc.stop()
	hout := hproc.out
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, err := ask(8003); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy does not serve:\n%s", hout.String())
		}
		time.Sleep(20 * time.Millisecond) // another's process: no readiness signal
	}
	check("haproxy")
}

// socks4Server is a SOCKS4 proxy that answers only the request HAProxy sends (VN 4, CD 1,
// port, IPv4 address, USERID "HAProxy"), and only for addresses of its map: it grants the
// request, connects to the mapped address and relays. It records the destinations asked.
type socks4Server struct {
	addr string
	mu   sync.Mutex
	seen []string
}

func startSocks4Server(t *testing.T, routes map[string]string) *socks4Server {
	s := &socks4Server{}
	s.addr = startRawServer(t, func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		var req [16]byte
		if _, err := io.ReadFull(c, req[:]); err != nil {
			return
		}
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte(req[4:8])), uint16(req[2])<<8|uint16(req[3]))
		if req[0] != 4 || req[1] != 1 || string(req[8:]) != "HAProxy\x00" {
			return
		}
		s.mu.Lock()
		s.seen = append(s.seen, dst.String())
		s.mu.Unlock()
		to, ok := routes[dst.String()]
		if !ok {
			c.Write([]byte{0, 91, 0, 0, 0, 0, 0, 0})
			return
		}
		up, err := net.DialTimeout("tcp", to, 2*time.Second)
		if err != nil {
			c.Write([]byte{0, 91, 0, 0, 0, 0, 0, 0})
			return
		}
		defer up.Close()
		c.Write([]byte{0, 90, 0, 0, 0, 0, 0, 0})
		_ = c.SetDeadline(time.Time{})
		go io.Copy(up, c)
		io.Copy(c, up)
	})
	return s
}

func (s *socks4Server) asked(dst string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.seen, dst)
}

// TestSocks4: a server behind "socks4" is reached through the SOCKS4 proxy with HAProxy's
// request (its address, 192.0.2.1, is not reachable otherwise), and "check-via-socks4"
// sends the health checks through it too (to the check port). HAProxy runs on the same
// configuration; the proxy answers both alike.
func TestSocks4(t *testing.T) {
	peer := peerServer(t)
	socks := startSocks4Server(t, map[string]string{"192.0.2.1:25": peer, "192.0.2.1:26": peer})
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen s4
    bind 127.0.0.1:%d
    server s 192.0.2.1:25 socks4 %s check-via-socks4 check port 26 inter 100ms
`, port, socks.addr))
	run := func(bin string) {
		t.Helper()
		socks.mu.Lock()
		socks.seen = nil // what the previous run asked for
		socks.mu.Unlock()
		proc := startProc(t, bin, "-db", "-f", cfg)
		defer proc.stop()
		out := proc.out
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		var l string
		var err error
		deadline := time.Now().Add(10 * time.Second)
		for {
			if l, err = askPeer("", addr, ""); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond) // the process starts: no readiness signal for both
		}
		if err != nil || !strings.HasPrefix(l, "peer 127.0.0.1:") {
			t.Errorf("%s: through the SOCKS4 proxy: %q, %v\n%s", bin, l, err, out.String())
		}
		for !socks.asked("192.0.2.1:26") {
			if time.Now().After(deadline) {
				t.Errorf("%s: no check through the SOCKS4 proxy; it was asked for %v\n%s", bin, socks.seen, out.String())
				break
			}
			time.Sleep(20 * time.Millisecond) // the next check comes within inter (100ms)
		}
	}
	onLBThenHAProxy(t, run)
}

// TestHTTPSetDst: the backend of Debian's option-http_proxy.cfg, an HTTP forward proxy:
// "http-request set-dst url_ip" and "set-dst-port url_port" send each request to the
// address of its absolute URL through "server next-hop 0.0.0.0", "set-uri %[pathq]"
// turns it into origin form, and a url_ip ACL denies a network. Two requests on one
// client connection go to two servers (an idle server connection is not reused for
// another destination). HAProxy answers the same requests alike.
func TestHTTPSetDst(t *testing.T) {
	named := func(name string) string {
		return serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s", name, r.RequestURI)
		})
	}
	a1, a2 := named("one"), named("two")
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend test-proxy
    bind 127.0.0.1:%d
    mode http
    acl forbidden_dst url_ip 10.0.0.0/8
    http-request deny if forbidden_dst
    default_backend test-proxy-srv
backend test-proxy-srv
    mode http
    http-request set-dst url_ip
    http-request set-dst-port url_port
    http-request set-uri %%[pathq]
    server next-hop 0.0.0.0
`, port))
	run := func(bin string) []string {
		t.Helper()
		proc := startProc(t, bin, "-db", "-f", cfg)
		defer proc.stop()
		out := proc.out
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		waitListen(t, addr)
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		var got []string
		for _, target := range []string{"http://" + a1 + "/a?x=1", "http://" + a2 + "/b", "http://10.1.2.3/c"} {
			host, _, _ := strings.Cut(strings.TrimPrefix(target, "http://"), "/")
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, host)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Errorf("%s: %s: %v\n%s", bin, target, err, out.String())
				break
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				body = nil
			}
			got = append(got, fmt.Sprintf("%d %s", res.StatusCode, body))
		}
		return got
	}
	want := []string{"200 one /a?x=1", "200 two /b", "403 "}
	if got := run(lbBinary(t)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lb answered %q; want %q", got, want)
	}
	hap, ok := haproxyPath()
	if !ok {
		return
	}
	if got := run(hap); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("haproxy answered %q; want %q as lb", got, want)
	}
}

// TestFullconnMinconn: Debian's content-sw-sample.cfg gives servers "minconn" and the
// backend "fullconn": a server's limit is max(minconn, backend load × maxconn / fullconn)
// below fullconn. With fullconn 100, maxconn 10 and minconn 2, five clients at once get
// two server connections, three wait in the backend's queue (show stat), as in HAProxy.
func TestFullconnMinconn(t *testing.T) {
	// The server holds each connection until its client side ends.
	var mu sync.Mutex
	open := 0
	srv := startRawServer(t, func(c net.Conn) {
		mu.Lock()
		open++
		mu.Unlock()
		io.Copy(io.Discard, c)
		c.Close()
		mu.Lock()
		open--
		mu.Unlock()
	})
	served := func() int {
		mu.Lock()
		defer mu.Unlock()
		return open
	}
	dir := t.TempDir()
	sock := dir + "/admin.sock"
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout queue 30s
listen fc
    bind 127.0.0.1:%d
    fullconn 100
    server s %s maxconn 10 minconn 2
`, sock, port, srv))
	run := func(bin string) {
		t.Helper()
		proc := startProc(t, bin, "-db", "-f", cfg)
		defer proc.stop()
		out := proc.out
		waitListen(t, fmt.Sprintf("127.0.0.1:%d", port))
		waitUnix(t, sock) // the stats socket may come after the listener
		// waitListen's own connection must be gone before the clients come: with one
		// listener per thread, lb may accept it after them, and a queued session
		// whose client left waits for its turn (HAProxy's too).
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			idle := false
			for _, l := range strings.Split(adminCommand(t, sock, "show stat"), "\n") {
				if f := strings.Split(l, ","); strings.HasPrefix(l, "fc,FRONTEND,") && len(f) > 7 {
					idle = f[4] == "0" && f[7] != "0"
				}
			}
			if idle {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the probe connection never ended", bin)
			}
		}
		var clients []net.Conn
		for range 5 {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			clients = append(clients, c)
		}
		defer func() {
			for _, c := range clients {
				c.Close()
			}
		}()
		deadline := time.Now().Add(10 * time.Second)
		for {
			var srow, brow []string
			for _, l := range strings.Split(adminCommand(t, sock, "show stat"), "\n") {
				switch {
				case strings.HasPrefix(l, "fc,s,"):
					srow = strings.Split(l, ",")
				case strings.HasPrefix(l, "fc,BACKEND,"):
					brow = strings.Split(l, ",")
				}
			}
			if len(srow) > 4 && len(brow) > 4 && srow[4] == "2" && brow[2] == "3" && served() == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: show stat: server %q, backend %q; the server took %d connections; want scur 2, backend qcur 3\n%s",
					bin, srow, brow, served(), out.String())
			}
			time.Sleep(20 * time.Millisecond) // polling the runtime API: there is no other signal
		}
		if n := served(); n != 2 {
			t.Errorf("%s: the server took %d connections; want 2 (minconn)", bin, n)
		}
	}
	onLBThenHAProxy(t, run)
}

// TestPreferLastServer: with "option prefer-last-server" (content-sw-sample.cfg) and
// "http-reuse never" the requests of a keep-alive client stay on the server of its first
// one; without it, or with the default "http-reuse safe" (HAProxy 2.6's session then holds
// no server connection), round robin alternates. HAProxy answers the same.
func TestPreferLastServer(t *testing.T) {
	named := func(name string) string {
		return serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name)
		})
	}
	a1, a2 := named("one"), named("two")
	p1, p2, p3 := freePort(t), freePort(t), freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen prefer
    bind 127.0.0.1:%d
    option prefer-last-server
    http-reuse never
    server one %s
    server two %s
listen rr
    bind 127.0.0.1:%d
    server one %s
    server two %s
listen safe
    bind 127.0.0.1:%d
    option prefer-last-server
    server one %s
    server two %s
`, p1, a1, a2, p2, a1, a2, p3, a1, a2))
	run := func(bin string) (prefer, rr, safe string) {
		t.Helper()
		proc := startProc(t, bin, "-db", "-f", cfg)
		defer proc.stop()
		out := proc.out
		four := func(port int) string {
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			waitListen(t, addr)
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(c)
			var names []string
			for range 4 {
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Errorf("%s: %v\n%s", bin, err, out.String())
					break
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				names = append(names, string(b))
			}
			return strings.Join(names, " ")
		}
		return four(p1), four(p2), four(p3)
	}
	check := func(bin string) {
		prefer, rr, safe := run(bin)
		if safe != "one two one two" && safe != "two one two one" {
			t.Errorf("%s: prefer-last-server, http-reuse safe: %q; want both servers in turn", bin, safe)
		}
		if prefer != "one one one one" && prefer != "two two two two" {
			t.Errorf("%s: prefer-last-server: %q; want one server", bin, prefer)
		}
		if rr != "one two one two" && rr != "two one two one" {
			t.Errorf("%s: round robin: %q; want both servers in turn", bin, rr)
		}
	}
	onLBThenHAProxy(t, check)
}

// TestCheckDebianExamples is issue 14's acceptance: for every configuration Debian ships
// with HAProxy (/etc/haproxy/haproxy.cfg, /usr/share/doc/haproxy/examples/*.cfg), lb -c -dr
// exits as haproxy -c -dr does, and never with "not supported by lb yet" where HAProxy
// accepts the file.
func TestCheckDebianExamples(t *testing.T) {
	hap := haproxyBin(t)
	files, _ := filepath.Glob("/usr/share/doc/haproxy/examples/*.cfg")
	if _, err := os.Stat("/etc/haproxy/haproxy.cfg"); err == nil {
		files = append(files, "/etc/haproxy/haproxy.cfg")
	}
	if len(files) == 0 {
		t.Skip("no Debian haproxy configuration here")
	}
	code := func(bin, f string) (int, string) {
		out, err := exec.Command(bin, "-c", "-dr", "-f", f).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	for _, f := range files {
		want, _ := code(hap, f)
		got, out := code(lbBinary(t), f)
		if got != want {
			t.Errorf("%s: lb -c -dr exit %d; haproxy -c -dr %d\n%s", f, got, want, out)
		}
	}
}

// TestSourceHealthChecks: "source" is also where health checks leave from, its address
// and not its "usesrc" one (HAProxy's manual, and HAProxy on the same configuration).
func TestSourceHealthChecks(t *testing.T) {
	seen := make(chan string, 64)
	srv := startRawServer(t, func(c net.Conn) {
		h, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		select {
		case seen <- h:
		default:
		}
		io.WriteString(c, "ok\n")
		c.Close()
	})
	cfg := writeConfig(t, fmt.Sprintf(`
global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option log-health-checks
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    source 127.0.0.3 usesrc clientip
    # A check that waits for the server's answer: HAProxy's plain connect check resets
    # its connection before the test's server accepts it.
    option tcp-check
    tcp-check expect string ok
    server s %s check inter 100ms
`, freePort(t), srv))
	run := func(bin string) {
		t.Helper()
		for len(seen) > 0 { // what the previous run's checks left
			<-seen
		}
		proc := startProc(t, bin, "-db", "-f", cfg)
		defer proc.stop()
		out := proc.out
		select {
		case h := <-seen:
			if h != "127.0.0.3" {
				t.Errorf("%s: a check came from %s; want the source address 127.0.0.3", bin, h)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no check reached the server\n%s", bin, out.String())
		}
	}
	onLBThenHAProxy(t, run)
}
