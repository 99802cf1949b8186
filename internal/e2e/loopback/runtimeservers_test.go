package loopback

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The runtime API's commands on servers and sessions, by their effect on traffic, in lb
// and in HAProxy alike: an address set at run time moves the traffic, a server's maxconn
// queues and dequeues, "clear counters" resets what "show stat" shows, "shutdown
// session" ends the session "show sess" lists.

func serversConfig(t *testing.T, dir, s1, s2 string) (cfg, addr string) {
	addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg = writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s/admin.sock level admin
defaults
    mode tcp
    timeout connect 1s
    timeout queue 10s
    timeout client 10s
    timeout server 10s
frontend fe
    bind %[2]s
    default_backend be
backend be
    server s1 %[3]s
    server s2 %[4]s disabled
`, dir, addr, s1, s2))
	return cfg, addr
}

// statField returns field i of be/<sv>'s "show stat" line.
func statField(t *testing.T, sock, sv string, i int) string {
	t.Helper()
	for _, l := range strings.Split(adminCommand(t, sock, "show stat"), "\n") {
		if f := strings.Split(l, ","); len(f) > i && f[0] == "be" && f[1] == sv {
			return f[i]
		}
	}
	t.Fatalf("no be/%s in show stat", sv)
	return ""
}

// waitSock waits for the stats socket: HAProxy may bind it after the frontend.
func waitSock(t *testing.T, sock string) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("no stats socket %s", sock)
}

// holdName connects to addr and reads the server's name, keeping the connection open.
func holdName(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func TestRuntimeAPISetServerAddr(t *testing.T) {
	dir := t.TempDir()
	s1, s2, s3 := startNameServer(t, "s1"), startNameServer(t, "s2"), startNameServer(t, "s3")
	cfg, addr := serversConfig(t, dir, s1.addr(), s2.addr())
	sock := filepath.Join(dir, "admin.sock")
	_, port, _ := net.SplitHostPort(s3.addr())
	_, port1, _ := net.SplitHostPort(s1.addr())
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		waitSock(t, sock)
		if name, err := askName(addr); err != nil || name != "s1" {
			t.Fatalf("before: %q %v", name, err)
		}
		want := fmt.Sprintf("no need to change the addr, port changed from '%s' to '%s' by 'stats socket command'\n", port1, port)
		if got := adminCommand(t, sock, "set server be/s1 addr 127.0.0.1 port "+port); got != want+"\n" {
			t.Errorf("reply %q, want %q", got, want)
		}
		for i := 0; i < 3; i++ {
			if name, err := askName(addr); err != nil || name != "s3" {
				t.Errorf("after the move: %q %v", name, err)
			}
		}
		if st := adminCommand(t, sock, "show servers state be"); !strings.Contains(st, " s1 127.0.0.1 ") || !regexp.MustCompile(`(?m) s1 .* `+port+` - 0 0 - - 0$`).MatchString(st) {
			t.Errorf("show servers state after the move:\n%s", st)
		}
		adminCommand(t, sock, "set server be/s1 addr 127.0.0.1 port "+port1)
		if name, err := askName(addr); err != nil || name != "s1" {
			t.Errorf("moved back: %q %v", name, err)
		}
	})
}

func TestRuntimeAPIMaxconnAndCounters(t *testing.T) {
	dir := t.TempDir()
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	cfg, addr := serversConfig(t, dir, s1.addr(), s2.addr())
	sock := filepath.Join(dir, "admin.sock")
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		waitSock(t, sock)
		if got := adminCommand(t, sock, "set maxconn server be/s1 1"); got != "\n" {
			t.Fatalf("set maxconn = %q", got)
		}
		_, r1 := holdName(t, addr)
		if l, err := r1.ReadString('\n'); err != nil || l != "s1\n" {
			t.Fatalf("first: %q %v", l, err)
		}
		c2, r2 := holdName(t, addr)
		deadline := time.Now().Add(3 * time.Second)
		// Every server full, it waits in the backend's queue.
		for statField(t, sock, "BACKEND", 2) != "1" && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if q := statField(t, sock, "BACKEND", 2); q != "1" {
			t.Fatalf("second connection not queued with maxconn 1: qcur %s", q)
		}
		if l := statField(t, sock, "s1", 6); l != "1" {
			t.Errorf("slim %q, want 1", l)
		}
		adminCommand(t, sock, "set maxconn server be/s1 2")
		_ = c2.SetReadDeadline(time.Now().Add(3 * time.Second))
		if l, err := r2.ReadString('\n'); err != nil || l != "s1\n" {
			t.Fatalf("queued connection after maxconn 2: %q %v", l, err)
		}
		// smax is 2 (stot 2 in lb, 3 in HAProxy, which counts the queued connection
		// twice); "clear counters" resets smax to 0 (as HAProxy, not to the current
		// sessions), "clear counters all" stot too.
		m, tot := statField(t, sock, "s1", 5), statField(t, sock, "s1", 7)
		if m != "2" || tot == "0" {
			t.Fatalf("smax %s stot %s, want 2 and some", m, tot)
		}
		adminCommand(t, sock, "clear counters")
		if m, tot2 := statField(t, sock, "s1", 5), statField(t, sock, "s1", 7); m != "0" || tot2 != tot {
			t.Errorf("after clear counters: smax %s stot %s, want 0 %s", m, tot2, tot)
		}
		adminCommand(t, sock, "clear counters all")
		if tot := statField(t, sock, "s1", 7); tot != "0" {
			t.Errorf("after clear counters all: stot %s, want 0", tot)
		}
	})
}

func TestRuntimeAPIShowSessShutdown(t *testing.T) {
	dir := t.TempDir()
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	cfg, addr := serversConfig(t, dir, s1.addr(), s2.addr())
	sock := filepath.Join(dir, "admin.sock")
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		waitSock(t, sock)
		c, r := holdName(t, addr)
		if l, err := r.ReadString('\n'); err != nil || l != "s1\n" {
			t.Fatalf("first: %q %v", l, err)
		}
		src := c.LocalAddr().String()
		sess := adminCommand(t, sock, "show sess")
		m := regexp.MustCompile(`(?m)^(0x[0-9a-f]+): proto=tcpv4 src=` + regexp.QuoteMeta(src) + ` fe=fe be=be srv=s1 ts=[0-9a-f]+ epoch=\S+ age=\d+s calls=\d+ rate=\d+ cpu=\d+ lat=\d+ rq\[.*\] rp\[.*\] scf=\[.*\] scb=\[.*\] exp=\S* rc=\d+ c_exp=\S*$`).FindStringSubmatch(sess)
		if m == nil {
			t.Fatalf("show sess has no line for %s in HAProxy's layout:\n%s", src, sess)
		}
		if got := adminCommand(t, sock, "shutdown session "+m[1]); got != "\n" {
			t.Errorf("shutdown session = %q", got)
		}
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := r.ReadString('\n'); err == nil {
			t.Errorf("the session goes on after shutdown session")
		}
		if sess := adminCommand(t, sock, "show sess"); strings.Contains(sess, "src="+src+" ") {
			t.Errorf("show sess still lists the session:\n%s", sess)
		}
	})
}
