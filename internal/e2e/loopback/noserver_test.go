package loopback

import (
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNoServerAlertAsHAProxy: when a backend and a listen section lose their last server
// to the health checks, the log targets get "backend app has no server available!" and
// stderr gets HAProxy's alert, the name quoted: "[ALERT] (pid) : backend 'app' has no
// server available!", on lb as on haproxy.
func TestNoServerAlertAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	dead := refusingPort(t)
	cfg := writeConfig(t, fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%[1]d
    default_backend app
backend app
    server s1 127.0.0.1:%[2]d check inter 100ms fall 1 rise 1
listen li
    bind 127.0.0.1:%[3]d
    server s1 127.0.0.1:%[2]d check inter 100ms fall 1 rise 1
`, freePort(t), dead, freePort(t)))
	pid := regexp.MustCompile(`\(\d+\)`)
	run := func(bin string) (stdout, stderr []string) {
		cmd := exec.Command(bin, "-db", "-f", cfg)
		out, errs := newOutFile(t), newOutFile(t)
		cmd.Stdout, cmd.Stderr = out.f, errs.f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}()
		pick := func(o *outFile) []string {
			var ls []string
			for _, l := range strings.Split(o.String(), "\n") {
				if strings.Contains(l, "has no server available") {
					ls = append(ls, pid.ReplaceAllString(l, "(pid)"))
				}
			}
			return ls
		}
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) { // polling output: no other signal
			if len(pick(out)) == 2 && len(pick(errs)) == 2 {
				break
			}
		}
		return pick(out), pick(errs)
	}
	lbOut, lbErr := run(lbBinary(t))
	hapOut, hapErr := run(hap)
	// The two sections' checks run apart: compare the lines in one order.
	for _, ls := range [][]string{lbOut, lbErr, hapOut, hapErr} {
		slices.Sort(ls)
	}
	if fmt.Sprint(lbOut) != fmt.Sprint(hapOut) {
		t.Errorf("log lines: lb %q; haproxy %q", lbOut, hapOut)
	}
	// lb adds its attributes to the line on stderr: compare up to them.
	for i := range lbErr {
		if i < len(hapErr) && strings.HasPrefix(lbErr[i], hapErr[i]) {
			lbErr[i] = hapErr[i]
		}
	}
	if fmt.Sprint(lbErr) != fmt.Sprint(hapErr) {
		t.Errorf("stderr: lb %q; haproxy %q", lbErr, hapErr)
	}
}
