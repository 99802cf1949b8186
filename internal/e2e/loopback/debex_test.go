package loopback

// Tests of the keywords of the configurations Debian ships with HAProxy
// (issue 14): strict-limits, source/usesrc, dispatch, socks4 and set-dst.

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
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
	if _, err := exec.LookPath("haproxy"); err == nil {
		hout, err := withLimit("haproxy", strict).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("haproxy on the same file: %v; want exit 1 as lb\n%s", err, hout)
		}
	}

	cmd := withLimit(lbBinary(t), writeConfig(t, "global\n    maxconn 5000\n    no strict-limits\n"+base))
	o := newOutFile(t)
	cmd.Stdout, cmd.Stderr = o.f, o.f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &lbProc{t: t, cmd: cmd, out: o, done: make(chan struct{})}
	go func() { p.status = cmd.Wait(); close(p.done) }()
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
