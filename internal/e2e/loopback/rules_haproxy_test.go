package loopback

import (
	"fmt"
	"net"

	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestRulesLogsAsHAProxy runs HAProxy 2.6 and lb on the same configuration and the same
// traffic, one after the other, and compares their tcplog lines for rejections: a content
// reject (PR), a response reject (PD) and a connection reject (no line), with the client port,
// the date and the timers masked. It is skipped when haproxy is not installed.
func TestRulesLogsAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	ok, bad := startNameServer(t, "s1"), startNameServer(t, "BAD banner")
	p1, p2, p3 := freePort(t), freePort(t), freePort(t)
	cfg := writeConfig(t, rulesDefaults+fmt.Sprintf(`
frontend fe
    bind 127.0.0.1:%d
    tcp-request connection reject if { src 127.0.0.3 }
    tcp-request inspect-delay 300ms
    tcp-request content accept if { req.payload(0,4) -m str PING }
    tcp-request content reject
    default_backend be
backend be
    server s1 %s
listen l_bad
    bind 127.0.0.1:%d
    tcp-response inspect-delay 2s
    tcp-response content reject if { res.payload(0,3) -m str BAD }
    server bad %s
listen probe
    bind 127.0.0.1:%d
    no log
    server s1 %s
`, p1, ok.addr(), p2, bad.addr(), p3, ok.addr()))
	run := func(bin string) []string {
		proc := startProc(t, bin, "-db", "-f", cfg)
		defer proc.stop()
		out := proc.out
		waitListen(t, fmt.Sprintf("127.0.0.1:%d", p3))
		a1, a2 := fmt.Sprintf("127.0.0.1:%d", p1), fmt.Sprintf("127.0.0.1:%d", p2)
		// One client at a time, each waiting for its end, so both see the same order.
		// HAProxy may reset a connection it rejects before connect returns.
		d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}
		if c, err := d.Dial("tcp", a1); err == nil {
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			readAllFrom(c)
			c.Close()
		}
		c := dialFrom(t, "127.0.0.2", a1)
		c.Write([]byte("PI"))
		readAllFrom(c)
		c = dialFrom(t, "127.0.0.1", a2)
		readAllFrom(c)
		var lines []string
		deadline := time.Now().Add(5 * time.Second)
		for len(lines) < 2 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond) // polling a log: there is no other signal
			lines = logLines(out.String())
		}
		return lines
	}
	want := run(hap)
	got := run(lbBinary(t))
	if len(want) != 2 {
		t.Fatalf("haproxy logged %q; want 2 lines", want)
	}
	// The lines are compared as sets: HAProxy writes a rejection's line at the end of the
	// stream's processing, which may come after the next client's (seen in CI).
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lb logged\n%s\nHAProxy logged\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// tcplogMask blanks what differs between two runs of the same traffic: the client port, the
// date, the timers and %ac (process-wide: it counts connections still being torn down, which
// varies from run to run in HAProxy too).
var tcplogMask = regexp.MustCompile(`^(\S+):\d+ \[[^]]+\] (\S+ \S+) [-\d]+/[-\d]+/[-\d]+ (\S+ \S+) \d+/(.*)$`)

// logLines returns the tcplog lines of out, masked.
func logLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if m := tcplogMask.FindStringSubmatch(l); m != nil {
			lines = append(lines, m[1]+":* [*] "+m[2]+" */*/* "+m[3]+" */"+m[4])
		}
	}
	return lines
}

// waitListen waits until something accepts on addr.
func waitListen(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing accepts on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond) // a process of another's making: no readiness signal
	}
}
