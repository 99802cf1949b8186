package loopback

import (
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestServerLineErrorsAsHAProxy: `lb -c` reports a bad server or default-server line with
// haproxy -c's words, byte for byte but the pid and the program's name: the place as
// HAProxy's server parser prints it ("[file:line] :", not "parsing [file:line] :"), the
// period HAProxy adds after a keyword's own message, its words for a missing value, and
// the same exit code.
func TestServerLineErrorsAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	lines := []string{
		"server s",
		"server s/x 127.0.0.1:80",
		"server s 127.0.0.1:99999",
		"server s 127.0.0.1:abc",
		"server s 127.0.0.1:80-90",
		"server s 127.0.0.1:80 bogus",
		"server s 127.0.0.1:80 inter 0",
		"server s 127.0.0.1:80 inter 1x",
		"server s 127.0.0.1:80 fastinter 0",
		"server s 127.0.0.1:80 downinter x",
		"server s 127.0.0.1:80 agent-inter 0",
		"server s 127.0.0.1:80 rise 0",
		"server s 127.0.0.1:80 rise x",
		"server s 127.0.0.1:80 fall x",
		"server s 127.0.0.1:80 fall",
		"server s 127.0.0.1:80 weight 300",
		"server s 127.0.0.1:80 port",
		"server s 127.0.0.1:80 addr",
		"server s 127.0.0.1:80 cookie",
		"server s 127.0.0.1:80 agent-send",
		"server s 127.0.0.1:80 agent-addr",
		"server s 127.0.0.1:80 on-marked-down x",
		"server s 127.0.0.1:80 resolve-prefer x",
		"server s 127.0.0.1:80 pool-max-conn -2",
		"server s 127.0.0.1:80 pool-purge-delay x",
		"server s 127.0.0.1:80 socks4 1.2.3.4",
		"server s 127.0.0.1:80 socks4",
		"server s 127.0.0.1:80 source",
		"server s 127.0.0.1:80 init-addr dns",
		"server s 127.0.0.1:80 verify sometimes",
		"server s 127.0.0.1:80 ca-file /nosuch",
		"server s 127.0.0.1:80 ssl-min-ver x",
		"server s 127.0.0.1:80 ssl-max-ver",
		"server s 127.0.0.1:80 id 0",
		"server s 127.0.0.1:80 sni",
		"server s 127.0.0.1:80 alpn",
		"server s 127.0.0.1:80 ciphers",
		"server s 127.0.0.1:80 check-sni",
		"server s 127.0.0.1:80 observe",
		"server s 127.0.0.1:80 observe foo",
		"server s 127.0.0.1:80 observe layer7",
		"server s 127.0.0.1:80 error-limit 0",
		"server s 127.0.0.1:80 error-limit",
		"server s 127.0.0.1:80 on-error x",
		"server s 127.0.0.1:80 on-error",
		"server s 127.0.0.1:80 slowstart",
		"server s 127.0.0.1:80 slowstart 1x",
		"server s 127.0.0.1:80 slowstart 0.5s",
		"server s 127.0.0.1:80 slowstart 99999999999",
		"server s 127.0.0.1:80 slowstart 1500ms",
		"server s 127.0.0.1:80 slowstart 5sx",
		"server s 127.0.0.1:80 inter 5sx fastinter 3sz slowstart 4sy",
		"server s 127.0.0.1:80 redir",
		"server s 127.0.0.1:80 redir http://x.example",
		"server s 127.0.0.1:80 track",
		"server s 127.0.0.1:80 track nope/x",
		"server s 127.0.0.1:80 track l/x",
		"server s 127.0.0.1:80 track s",
		"server s 127.0.0.1:80 track l/s check",
		"server s 127.0.0.1:80 check\n    server t 127.0.0.1:81 track u\n    server u 127.0.0.1:82 track t",
		"default-server slowstart 5sy",
		"default-server inter 5sx slowstart 3sy",
		"default-server rise 0",
		"default-server inter 0",
		"default-server inter 1x",
		"default-server fall",
		"default-server weight 300",
	}
	pid := regexp.MustCompile(`\(\d+\)`)
	run := func(bin, cfg string) (string, int) {
		out, err := exec.Command(bin, "-c", "-f", cfg).CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "[ALERT]") || strings.HasPrefix(l, "[WARNING]") || strings.HasPrefix(l, "Configuration") {
				keep = append(keep, pid.ReplaceAllString(l, "(pid)"))
			}
		}
		return strings.Join(keep, "\n"), code
	}
	for _, line := range lines {
		cfg := writeConfig(t, fmt.Sprintf(`defaults
    timeout connect 1s
    timeout client 1s
    timeout server 1s
listen l
    mode tcp
    bind 127.0.0.1:%d
    %s
`, freePort(t), line))
		want, wantCode := run(hap, cfg)
		got, gotCode := run(lbBinary(t), cfg)
		if got != want || gotCode != wantCode {
			t.Errorf("%q:\nhaproxy -c (%d):\n%s\nlb -c (%d):\n%s", line, wantCode, want, gotCode, got)
		}
	}
}
