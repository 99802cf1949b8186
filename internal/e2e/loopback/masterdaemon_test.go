package loopback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMasterWorkerDaemon: -W -D starts the master in the background, as HAProxy 2.6 does:
// the command exits 0, the pidfile names the master, which leads a session of its own with
// its standard streams on /dev/null, reloads on SIGUSR2 and stops on SIGTERM. lb's command
// exits only once the worker serves: a client connects right after it, without retrying.
// A master that cannot bind makes the command exit 1 with the reason on its stderr.
func TestMasterWorkerDaemon(t *testing.T) {
	echo := startRawServer(t, func(c net.Conn) { defer c.Close(); _, _ = io.Copy(c, c) })
	bins := map[string]string{"lb": lbBinary(t)}
	if hap, ok := haproxyPath(); ok {
		bins["haproxy"] = hap
	}
	for _, name := range []string{"lb", "haproxy"} {
		bin, ok := bins[name]
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			pidfile, msock := filepath.Join(dir, "lb.pid"), filepath.Join(dir, "master.sock")
			cfg := writeConfig(t, fmt.Sprintf(`global
    pidfile %s
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen echo
    bind %s
    server e %s
`, pidfile, addr, echo))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, "-W", "-D", "-S", msock, "-f", cfg).CombinedOutput()
			if err != nil {
				t.Fatalf("%s -W -D: %v\n%s", name, err, out)
			}
			b, err := os.ReadFile(pidfile)
			if err != nil {
				t.Fatal(err)
			}
			master, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("pidfile %q: %v", b, err)
			}
			t.Cleanup(func() {
				if alive(master) {
					_ = syscall.Kill(master, syscall.SIGKILL)
				}
			})
			if name == "lb" {
				// Served as soon as the command is back.
				if err := echoLine(addr); err != nil {
					t.Fatalf("no service right after the command exited: %v", err)
				}
			}
			procs := waitWorkers(t, msock, 1)
			if sid, err := unix.Getsid(master); err != nil || sid != master {
				t.Errorf("master %d: session %d (%v); want a session of its own", master, sid, err)
			}
			for _, fd := range []int{0, 1, 2} {
				if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", master, fd)); err != nil || l != os.DevNull {
					t.Errorf("master's fd %d is %q (%v); want %s", fd, l, err, os.DevNull)
				}
			}
			w := workersIn(procs, "workers")
			if len(w) != 1 {
				t.Fatalf("show proc: %+v", procs)
			}
			if name == "lb" {
				for _, fd := range []int{1, 2} {
					if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", w[0], fd)); err != nil || l != os.DevNull {
						t.Errorf("worker's fd %d is %q (%v); want %s", fd, l, err, os.DevNull)
					}
				}
			}
			if err := echoLine(addr); err != nil {
				t.Fatal(err)
			}

			if name == "lb" {
				daemonReload(t, master, msock, addr, w[0])
			}

			// SIGTERM: everything stops.
			if err := syscall.Kill(master, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			waitGone(t, master, 10*time.Second)
		})
	}
	t.Run("bind fails", func(t *testing.T) { daemonBindFails(t, echo) })
}

// daemonReload: SIGUSR2 to a master in the background starts a new worker; the master
// stays. (HAProxy's takes seconds to re-execute here: not timed in every run.)
func daemonReload(t *testing.T, master int, msock, addr string, worker int) {
	t.Helper()
	w := []int{worker}
	var procs []procLine
	// SIGUSR2: a new worker, the master stays.
	if err := syscall.Kill(master, syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		// HAProxy's master CLI is away while its master re-executes.
		if c, err := net.Dial("unix", msock); err == nil {
			c.Close()
			procs = showProc(t, masterCLI(t, msock, "show proc"))
			if nw := workersIn(procs, "workers"); len(nw) == 1 && nw[0] != w[0] && procs[0].pid == master {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new worker after SIGUSR2: %+v", procs)
		}
		time.Sleep(20 * time.Millisecond) // the master gives no other signal of a reload
	}
	if err := echoLine(addr); err != nil {
		t.Fatalf("after the reload: %v", err)
	}
}

// daemonBindFails: a master in the background that cannot bind makes the command exit 1,
// with the reason on the command's stderr.
func daemonBindFails(t *testing.T, echo string) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	// Go's listener has no SO_REUSEPORT: lb cannot bind beside it.
	cfg := writeConfig(t, fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen echo
    bind %s
    server e %s
`, taken.Addr(), echo))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, lbBinary(t), "-W", "-D", "-f", cfg).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("lb -W -D on a taken port: %v; want exit 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "address already in use") {
		t.Errorf("the reason is not on the command's stderr:\n%s", out)
	}
}

// waitWorkers waits until the master CLI at sock lists n current workers.
func waitWorkers(t *testing.T, sock string, n int) []procLine {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// HAProxy's command may exit before its master listens, and its master
		// re-executes itself once the workers run (wait mode): its socket is
		// closed for a moment then.
		var procs []procLine
		if c, err := net.Dial("unix", sock); err == nil {
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, "show proc\n")
			b, _ := io.ReadAll(c)
			c.Close()
			procs = showProc(t, string(b))
			if len(workersIn(procs, "workers")) == n {
				return procs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("show proc: %+v; want %d workers", procs, n)
		}
		time.Sleep(20 * time.Millisecond) // HAProxy gives no readiness signal with -W -D
	}
}

// echoLine sends a line through addr and expects it back.
func echoLine(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return err
	}
	b := make([]byte, 5)
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	if string(b) != "ping\n" {
		return fmt.Errorf("echoed %q", b)
	}
	return nil
}
