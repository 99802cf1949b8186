package loopback

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The servers of a "resolvers" section, run by lb and by HAProxy 2.6 on the same
// configuration against the test's own DNS server on 127.0.0.1 (no real DNS): the
// addresses follow the answers, a name that stops resolving puts its server in
// maintenance after "hold nx" and a valid answer brings it back, the log lines and
// "show servers state" are HAProxy's.

// stateRows are the server lines of "show servers state <be>" reduced to what both
// processes must agree on: name, address, op and admin states, fqdn and port. The
// servers of a template with resolvers may take the answer's addresses in another
// order than HAProxy's: their names are replaced by prefix+"*" and the rows sorted.
func stateRows(reply string, templates ...string) []string {
	var rows []string
	for _, l := range strings.Split(reply, "\n") {
		f := strings.Fields(l)
		if len(f) < 19 || strings.HasPrefix(l, "#") {
			continue
		}
		id, name := f[2], f[3]
		for _, p := range templates {
			if strings.HasPrefix(name, p) {
				id, name = "*", p+"*"
			}
		}
		rows = append(rows, strings.Join([]string{f[1], id, name, f[4], f[5], f[6], f[17], f[18]}, " "))
	}
	if len(templates) > 0 {
		slices.Sort(rows)
	}
	return rows
}

func TestResolversAsHAProxy(t *testing.T) {
	dns := startDNSServer(t)
	a := startNameServerOn(t, "A", "127.0.0.1:0")
	port := a.ln.Addr().(interface{ String() string }).String()
	port = port[strings.LastIndexByte(port, ':')+1:]
	startNameServerOn(t, "B", "127.0.0.2:"+port)
	dir := t.TempDir()
	sock := dir + "/admin.sock"
	fe := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s level admin
resolvers dns
    nameserver ns1 %[2]s
    accepted_payload_size 1232
    resolve_retries 2
    timeout resolve 100ms
    timeout retry 200ms
    hold valid 200ms
    hold nx 300ms
    hold other 300ms
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %[3]s
    default_backend app
backend app
    default-server init-addr none
    server s1 app.test:%[4]s resolvers dns resolve-prefer ipv4
backend tpl
    server-template web 3 web.test:80 resolvers dns init-addr none
    server-template x 5-6 127.0.0.9:81
`, sock, dns.addr(), fe, port))

	// The names answer before each process starts. resolve-prefer ipv4: s1 takes the A
	// record, not the AAAA one.
	initial := func() {
		dns.set("app.test", "127.0.0.1", "::1")
		dns.set("web.test", "127.0.0.11", "127.0.0.12")
	}
	initial()
	states := map[string][][]string{}
	onLBAndHAProxy(t, cfg, fe, func(t *testing.T, out *outFile) {
		defer initial()
		var got [][]string
		wait := func(be string, want func(rows []string) bool, templates ...string) {
			t.Helper()
			deadline := time.Now().Add(15 * time.Second)
			for {
				rows := stateRows(adminCommand(t, sock, "show servers state "+be), templates...)
				if want(rows) {
					got = append(got, rows)
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("show servers state %s: %q", be, rows)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		waitLines := func(line string, n int) {
			t.Helper()
			deadline := time.Now().Add(15 * time.Second)
			for strings.Count(out.String(), line) < n {
				if time.Now().After(deadline) {
					t.Fatalf("no line %q in:\n%s", line, out.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		waitLine := func(line string) { t.Helper(); waitLines(line, 1) }
		ask := func(want string) {
			t.Helper()
			if got, err := askName(fe); err != nil || got != want {
				t.Fatalf("server answered %q, %v; want %q", got, err, want)
			}
		}
		wait("app", func(r []string) bool { return len(r) == 1 && strings.Contains(r[0], " 127.0.0.1 ") })
		waitLine("app/s1 changed its IP from (none) to 127.0.0.1 by dns/ns1.")
		waitLine("Server app/s1 ('app.test') is UP/READY (resolves again).")
		waitLine("Server app/s1 administratively READY thanks to valid DNS answer.")
		ask("A")
		wait("tpl", func(r []string) bool {
			return slices.Contains(r, "tpl * web* 127.0.0.11 2 0 web.test 80") && slices.Contains(r, "tpl * web* 127.0.0.12 2 0 web.test 80")
		}, "web")

		dns.set("app.test", "127.0.0.2")
		waitLine("app/s1 changed its IP from 127.0.0.1 to 127.0.0.2 by dns/ns1.")
		wait("app", func(r []string) bool { return len(r) == 1 && strings.Contains(r[0], " 127.0.0.2 ") })
		ask("B")

		dns.set("app.test")
		waitLine("Server app/s1 is going DOWN for maintenance (DNS NX status). 0 active and 0 backup servers left.")
		waitLine("has no server available!") // lb: "backend app …", HAProxy's stderr quotes the name
		wait("app", func(r []string) bool { return len(r) == 1 && strings.Contains(r[0], " - 0 32 ") })
		if st := statStatus(t, sock, "app", "s1"); st != "MAINT (resolution)" {
			t.Errorf("show stat: s1 is %q, want MAINT (resolution)", st)
		}

		dns.set("app.test", "127.0.0.1")
		waitLines("app/s1 changed its IP from (none) to 127.0.0.1 by dns/ns1.", 2)
		waitLines("Server app/s1 ('app.test') is UP/READY (resolves again).", 2)
		wait("app", func(r []string) bool { return len(r) == 1 && strings.Contains(r[0], " 127.0.0.1 2 0 ") })
		ask("A")

		dns.set("web.test", "127.0.0.12", "127.0.0.13", "127.0.0.14")
		wait("tpl", func(r []string) bool {
			return slices.Contains(r, "tpl * web* 127.0.0.14 2 0 web.test 80") && slices.Contains(r, "tpl * web* 127.0.0.13 2 0 web.test 80")
		}, "web")
		states[t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]] = got
	})
	if h, l := states["haproxy"], states["lb"]; h != nil && l != nil {
		for i := range h {
			if !slices.Equal(h[i], l[i]) {
				t.Errorf("show servers state, step %d:\n lb      %q\n haproxy %q", i, l[i], h[i])
			}
		}
	}
}

// TestResolversNameLaterAsHAProxy: a server with resolvers and no init-addr whose name
// does not resolve when the process starts does not stop the start, in HAProxy 2.6: it
// warns, leaves the server in maintenance, and the first valid answer of its resolvers
// brings it into service. Without resolvers, the same name stays fatal.
func TestResolversNameLaterAsHAProxy(t *testing.T) {
	dns := startDNSServer(t)
	a := startNameServer(t, "A")
	_, port, _ := strings.Cut(a.addr(), ":")
	dir := t.TempDir()
	sock := dir + "/admin.sock"
	fe := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	const name = "later.invalid"
	text := fmt.Sprintf(`global
    stats socket %[1]s level admin
resolvers dns
    nameserver ns1 %[2]s
    timeout resolve 100ms
    timeout retry 200ms
    hold valid 200ms
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %[3]s
    default_backend app
backend app
    server s1 %[4]s:%[5]s resolvers dns
`, sock, dns.addr(), fe, name, port)
	cfg := writeConfig(t, text)
	const warning = "'server app/s1' : could not resolve address '" + name + "', disabling server."
	onLBAndHAProxy(t, cfg, fe, func(t *testing.T, out *outFile) {
		dns.set(name)
		defer dns.set(name)
		if !strings.Contains(out.String(), warning) {
			t.Errorf("no warning %q in:\n%s", warning, out.String())
		}
		if rows := stateRows(adminCommand(t, sock, "show servers state app")); len(rows) != 1 || !strings.Contains(rows[0], " - 0 32 ") {
			t.Fatalf("at start: %q, want the server in maintenance from resolution", rows)
		}
		dns.set(name, "127.0.0.1")
		waitResolvedUp(t, sock, "app")
		if got, err := askName(fe); err != nil || got != "A" {
			t.Fatalf("server answered %q, %v", got, err)
		}
	})
	noResolvers := writeConfig(t, strings.Replace(text, " resolvers dns\n", "\n", 1))
	code, lbOut, haCode, haOut := checkBoth(t, noResolvers)
	if code != 1 || haCode != 1 {
		t.Errorf("without resolvers: lb -c exits %d, haproxy %d; want 1:\n%s\n%s", code, haCode, lbOut, haOut)
	}
	if l, h := haproxyLines(lbOut), haproxyLines(haOut); l != h {
		t.Errorf("without resolvers, lb -c says:\n%s\nhaproxy:\n%s", l, h)
	}
}

// TestParseResolvConfAsHAProxy: "parse-resolv-conf" takes the nameservers of
// /etc/resolv.conf, on port 53, named after their addresses, and warns as HAProxy 2.6 of
// the lines it leaves out; a server then resolves through them, as one of the implicit
// "default" section, made of the same file. lb and haproxy each run
// in a mount namespace of their own where the test's file is /etc/resolv.conf, and ask
// the test's DNS server on 127.0.0.77:53 (root only).
func TestParseResolvConfAsHAProxy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: a mount namespace and port 53")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("no unshare")
	}
	hap := haproxyBin(t)
	dns := startDNSServerOn(t, "127.0.0.77:53")
	a := startNameServer(t, "A")
	_, port, _ := strings.Cut(a.addr(), ":")
	dns.set("app.test", "127.0.0.1")
	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("# the test's\nnameserver 127.0.0.77\nnameserver\nnameservers 10.0.0.1\nnameserver bogus\nnameserver 127.0.0.77\nsearch example.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "admin.sock")
	fe := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s level admin
resolvers dns
    parse-resolv-conf
    timeout resolve 100ms
    hold valid 200ms
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %[2]s
    default_backend app
backend app
    server s1 app.test:%[3]s resolvers dns init-addr none
backend implicit
    server s2 app.test:%[3]s resolvers default init-addr none
`, sock, fe, port))
	warning := "config : parsing [" + cfg + ":4]: \n" +
		"        parsing [/etc/resolv.conf:3] : nameserver line is missing address.\n" +
		"        parsing [/etc/resolv.conf:5] : address 'bogus' could not be recognized, nameserver will be excluded.\n" +
		"        Parsing [/etc/resolv.conf:6] : generated name for /etc/resolv.conf nameserver '127.0.0.77' conflicts with another nameserver (declared at /etc/resolv.conf:2), it appears to be a duplicate and will be excluded.\n"
	for _, bin := range []string{lbBinary(t), hap} {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			p := startCmd(t, exec.Command(unshare, "-m", "sh", "-c",
				fmt.Sprintf("mount --bind %s /etc/resolv.conf && exec %s -db -f %s", resolv, bin, cfg)))
			waitListen(t, fe)
			waitUnix(t, sock)
			if !strings.Contains(p.out.String(), warning) {
				t.Errorf("no warning\n%s\nin:\n%s", warning, p.out.String())
			}
			// The implicit "default" section is /etc/resolv.conf's too.
			for _, be := range []string{"app", "implicit"} {
				waitResolvedUp(t, sock, be)
			}
			if got, err := askName(fe); err != nil || got != "A" {
				t.Fatalf("server answered %q, %v", got, err)
			}
			if out := adminCommand(t, sock, "show resolvers dns"); !strings.Contains(out, " nameserver 127.0.0.77:\n") {
				t.Errorf("show resolvers dns names no nameserver 127.0.0.77:\n%s", out)
			}
		})
	}
}

// waitResolvedUp waits until the one server of backend be is UP at 127.0.0.1, which its
// resolvers answered, in "show servers state".
func waitResolvedUp(t *testing.T, sock, be string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		rows := stateRows(adminCommand(t, sock, "show servers state "+be))
		if len(rows) == 1 && strings.Contains(rows[0], " 127.0.0.1 2 0 ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the server did not resolve: %q", be, rows)
		}
		time.Sleep(50 * time.Millisecond) // polling the runtime API: the state is the signal
	}
}
