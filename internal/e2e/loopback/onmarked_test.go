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

// TestOnMarkedAsHAProxy: the sessions a server change kills end as in
// HAProxy 2.6, log line and message alike. "on-marked-up
// shutdown-backup-sessions" kills the backup servers' sessions when the
// server leaves maintenance ("U-"); "on-marked-down shutdown-sessions" kills
// the server's own when it goes into maintenance ("D-"), whose message says
// the backend runs on its backup; "shutdown sessions server" kills them too
// ("K-").
func TestOnMarkedAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	a := startHTTPServer(t, "a", nil)
	bk := startHTTPServer(t, "bk", nil)
	tcplog := regexp.MustCompile(` l l/(\S+) \S+ \d+ (\S\S) `)
	cases := []struct {
		name, server, cmd string
		want              []string // in the output, after the command
	}{
		{"on-marked-up", "on-marked-up shutdown-backup-sessions disabled", "set server l/a state ready",
			[]string{"Server l/a is UP/READY (leaving forced maintenance).", "l/bk U-"}},
		{"on-marked-down", "on-marked-down shutdown-sessions", "set server l/a state maint",
			// HAProxy's session count races with the kill it starts (0 or
			// 1 under -race): not compared.
			[]string{"Server l/a is going DOWN for maintenance. 0 active and 1 backup servers left. Running on backup. ", "l/a D-"}},
		{"shutdown-sessions", "", "shutdown sessions server l/a", []string{"l/a K-"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range []string{"haproxy", "lb"} {
				sock := filepath.Join(dir, name+".sock")
				port := freePort(t)
				cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %s level admin
defaults
    mode tcp
    log stdout format raw local0
    option tcplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:%d
    server a %s %s
    server bk %s backup
`, sock, port, a.addr(), tc.server, bk.addr()))
				p := startNamed(t, name, hap, cfg, sock)
				// A session that stays open once its first answer came.
				c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(c)
				if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n")); err != nil {
					t.Fatal(err)
				}
				if l, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(l, "HTTP/1.1 200") {
					t.Fatalf("%s: first answer %q %v", name, l, err)
				}
				adminCommand(t, sock, tc.cmd)
				// The proxy closes the killed session.
				if _, err := br.ReadString(0); err == nil || strings.Contains(err.Error(), "timeout") {
					t.Errorf("%s: the session was not closed: %v", name, err)
				}
				for _, w := range tc.want {
					if strings.HasPrefix(w, "l/") {
						deadline := time.Now().Add(5 * time.Second)
						for {
							var got []string
							for _, m := range tcplog.FindAllStringSubmatch(p.out.String(), -1) {
								got = append(got, "l/"+m[1]+" "+m[2])
							}
							if len(got) == 1 && got[0] == w {
								break
							}
							if time.Now().After(deadline) {
								t.Errorf("%s: log lines %q; want one %q", name, got, w)
								break
							}
							time.Sleep(20 * time.Millisecond) // the log line is written after the close
						}
						continue
					}
					p.waitOutput(w, 5*time.Second)
				}
			}
		})
	}
}
