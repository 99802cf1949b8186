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

// TestLogFormat: a frontend with log-format logs each session with the variables it
// names, and unique-id-format gives each session the id %ID prints; "log stdout format
// raw" shows the lines as rendered.
func TestLogFormat(t *testing.T) {
	s := startNameServer(t, "s1")
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
global
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen app
    bind 127.0.0.1:%d id 7
    log-format "LF %%ci:%%cp %%fi:%%fp %%bi:%%bp %%si:%%sp %%ft %%b/%%s %%rt %%lc %%Th %%ts %%U %%B %%{+Q}ID"
    unique-id-format %%{+X}ci:%%{+X}cp_%%rt_%%f
    server s1 %s
`, port, s.addr()))
	p := startLB(t, "-db", "-f", cfg)
	front := fmt.Sprintf("127.0.0.1:%d", port)
	var clients []string
	for range 2 {
		c, err := net.DialTimeout("tcp", front, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		clients = append(clients, c.LocalAddr().String())
		r := bufio.NewReader(c)
		if l, err := r.ReadString('\n'); err != nil || l != "s1\n" {
			t.Fatalf("first line %q, %v; want s1", l, err)
		}
		io.WriteString(c, "hello\n")
		if l, err := r.ReadString('\n'); err != nil || l != "hello\n" {
			t.Fatalf("echo %q, %v", l, err)
		}
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, r)
		c.Close()
		// One session at a time, so that the lines come in order.
		waitLines(t, p, "LF ", len(clients))
	}
	var lines []string
	for _, l := range strings.Split(p.out.String(), "\n") {
		if strings.HasPrefix(l, "LF ") {
			lines = append(lines, l)
		}
	}
	for i, line := range lines {
		cli := mustAddrPort(clients[i])
		id := fmt.Sprintf("%02X%02X%02X%02X:%04X_%d_app", cli.Addr().As4()[0], cli.Addr().As4()[1],
			cli.Addr().As4()[2], cli.Addr().As4()[3], cli.Port(), i)
		want := regexp.MustCompile("^" + regexp.QuoteMeta(fmt.Sprintf("LF %s %s ", clients[i], front)) +
			`127\.0\.0\.1:[1-9][0-9]* ` + regexp.QuoteMeta(fmt.Sprintf("%s app app/s1 %d %d 0 -- 6 9 %q", s.addr(), i, i, id)) + "$")
		if !want.MatchString(line) {
			t.Errorf("line %d:\n%s\nwant\n%s", i, line, want)
		}
	}
}

// waitLines waits until the output holds n lines starting with prefix.
func waitLines(t *testing.T, p *lbProc, prefix string, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for strings.Count("\n"+p.out.String(), "\n"+prefix) < n {
		if time.Now().After(deadline) {
			t.Fatalf("want %d lines starting with %q; output:\n%s", n, prefix, p.out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a log: there is no other signal
	}
}

// TestLogFormatCheck: "lb -c" refuses a log-format or unique-id-format it could not
// render, at its line, as HAProxy does.
func TestLogFormatCheck(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"log-format %ci:%zz", ":8: proxy 'app': failed to parse log-format : no such format variable 'zz'"},
		{"unique-id-format %[req.len]", ":8: proxy 'app': failed to parse unique-id-format : failed to parse sample expression <req.len]> : 'req.len' in unique-id-format is not supported by lb yet"},
		{"log-format %[res.len]", ":8: proxy 'app': failed to parse log-format : sample fetch <res.len]> may not be reliably used here because it needs 'response buffer' which is not available here"},
	} {
		cfg := writeConfig(t, fmt.Sprintf(`defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen app
    bind 127.0.0.1:%d
    %s
    server s1 127.0.0.1:1
`, freePort(t), tc.line))
		out, err := exec.Command(lbBinary(t), "-c", "-f", cfg).CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Errorf("%s: lb -c: %v; want exit 1", tc.line, err)
		}
		if want := " : config : " + cfg + tc.want; !strings.Contains(string(out), want) {
			t.Errorf("%s: lb -c said:\n%s\nwant %q", tc.line, out, want)
		}
	}
}
