package loopback

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// maskStartupLogs hides what differs between lb and haproxy in "show
// startup-logs": pids, the version and the binary's path, and the
// "parsing [file:line] : " lb puts before the warnings of the checks after
// parsing, which haproxy prints without.
func maskStartupLogs(s string) string {
	for _, r := range []struct{ re, to string }{
		{`\(\d+\)`, "(PID)"},
		{`haproxy version is .*`, "haproxy version is V"},
		{`path to executable is .*`, "path to executable is P"},
		{`config : parsing \[[^]]*\] : missing timeouts`, "config : missing timeouts"},
	} {
		s = regexp.MustCompile(r.re).ReplaceAllString(s, r.to)
	}
	return s
}

// TestShowStartupLogs: "show startup-logs" on a worker's stats socket, and
// "@1 show startup-logs" from the master CLI, print what the process printed
// while it started, as haproxy 2.6 does: the version and path notices before
// the first warning, then the warnings (a worker has its master's); a
// process that printed nothing answers an empty line. lb's reply is what its
// standard error shows; haproxy's, masked, is the same.
func TestShowStartupLogs(t *testing.T) {
	const warn = "missing timeouts for proxy 'fe'."
	for _, tc := range []struct {
		name     string
		timeouts string
		mw       bool
	}{
		{"warnings", "", false},
		{"none", "defaults\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n", false},
		{"master-worker", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sock, master := filepath.Join(dir, "stats.sock"), filepath.Join(dir, "master.sock")
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			cfg := writeConfig(t, fmt.Sprintf(`global
    maxconn 100
    stats socket %s level admin
%slisten fe
    mode tcp
    bind %s
    server s1 127.0.0.1:%d
`, sock, tc.timeouts, addr, refusingPort(t)))
			args := []string{"-db", "-f", cfg}
			if tc.mw {
				args = []string{"-Ws", "-S", master, "-f", cfg}
			}
			p := startLB(t, args...)
			waitSock(t, sock)
			lb := adminCommand(t, sock, "show startup-logs")
			if tc.mw {
				if via := masterCLI(t, master, "@1 show startup-logs"); via != lb {
					t.Errorf("@1 show startup-logs = %q; want the worker's %q", via, lb)
				}
			}
			if tc.timeouts != "" {
				if lb != "\n\n" {
					t.Errorf("show startup-logs = %q; want %q", lb, "\n\n")
				}
			} else {
				logs := strings.TrimSuffix(lb, "\n")
				if !strings.Contains(logs, warn) || !strings.HasPrefix(p.out.String(), logs) {
					t.Errorf("show startup-logs = %q; want what lb printed first, with %q:\n%s", lb, warn, p.out.String())
				}
			}
			p.signal(syscall.SIGTERM)
			p.wait(10 * time.Second)
			var hap string
			if tc.mw {
				if startHAProxyMW(t, master, "-W", "-db", "-S", master, "-f", cfg) == nil {
					t.Skip("haproxy is not installed")
				}
				waitSock(t, sock)
				hap = masterCLI(t, master, "@1 show startup-logs")
			} else {
				startHAProxyArgs(t, addr, "-db", "-f", cfg)
				waitSock(t, sock)
				hap = adminCommand(t, sock, "show startup-logs")
			}
			if m, h := maskStartupLogs(lb), maskStartupLogs(hap); m != h {
				t.Errorf("show startup-logs: lb and haproxy differ:\n%s", lineDiff(h, m))
			}
		})
	}
}
