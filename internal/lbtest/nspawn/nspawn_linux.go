package nspawn

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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

// Boot boots a container with the zero Options. See BootWith.
func Boot(t testing.TB) *Container { return BootWith(t, Options{}) }

// BootWith boots a container and registers its teardown with t.Cleanup: stop the processes
// started with Start, power off, wait for systemd-nspawn (a second SIGTERM forces it), unmount
// the overlay and remove its directories. The teardown runs on failure too.
//
// The test is skipped when not root or when systemd-nspawn is missing, unless the CI
// environment variable is set: then it fails. opt.Release picks the root (see Root).
func BootWith(t testing.TB, opt Options) *Container {
	t.Helper()
	if why := unusable(); why != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("nspawn: %s (CI is set, so this is a failure)", why)
		}
		t.Skipf("nspawn: %s", why)
	}
	if opt.Release == "" {
		opt.Release = Host
	}
	lower := Root(t, opt.Release)
	if opt.Name == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		opt.Name = "lbt-" + hex.EncodeToString(b[:])
	}
	if opt.BootTimeout == 0 {
		opt.BootTimeout = 90 * time.Second
	}
	dir, err := os.MkdirTemp(opt.Dir, "lbtest-nspawn-")
	if err != nil {
		t.Fatalf("nspawn: %v", err)
	}
	c := &Container{
		Name:    opt.Name,
		Root:    filepath.Join(dir, "root"),
		Release: opt.Release,
		dir:     dir,
		bootLog: filepath.Join(dir, "boot.log"),
		exited:  make(chan struct{}),
		procs:   map[*Proc]struct{}{},
	}
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatalf("nspawn: %v", err)
		}
	}
	data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	if err := unix.Mount("overlay", c.Root, "overlay", 0, data); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("nspawn: mount overlay on %q: %v", c.Root, err)
	}
	t.Cleanup(func() { c.teardown(t) })

	masks := append(append([]string{}, DefaultMask...), hostLBUnits(lower)...)
	masks = append(masks, opt.Mask...)
	for _, u := range masks {
		if err := c.mask(u); err != nil {
			t.Fatalf("nspawn: %v", err)
		}
	}

	logf, err := os.Create(c.bootLog)
	if err != nil {
		t.Fatalf("nspawn: %v", err)
	}
	defer logf.Close()
	cmd := exec.Command("systemd-nspawn", "-D", c.Root, "--register=no", "--keep-unit",
		"-M", c.Name, "--private-network", "--console=pipe", "-b")
	cmd.Stdout, cmd.Stderr = logf, logf
	if opt.Release == Trixie {
		// Pure cgroup v2, as a Debian 13 machine boots; otherwise the container would get the
		// host's layout.
		cmd.Env = append(os.Environ(), "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1")
	}
	// Its own session: the terminal's signals must not reach it, and it must not take ours.
	// If the test process dies without its cleanup (a panic, a -timeout, SIGKILL), SIGTERM
	// makes systemd-nspawn power the container off; the overlay then stays mounted below
	// os.TempDir()/lbtest-nspawn-*.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		t.Fatalf("nspawn: start systemd-nspawn: %v", err)
	}
	c.nspawn = cmd
	go func() {
		_ = cmd.Wait()
		close(c.exited)
	}()

	deadline := time.Now().Add(opt.BootTimeout)
	pid1, err := c.findPID1(deadline)
	if err != nil {
		t.Fatalf("nspawn: %v\nboot log:\n%s", err, bootLogTail(c.bootLog, 4096))
	}
	c.PID1 = pid1
	state, err := c.waitRunning(deadline)
	if err != nil {
		failed, _ := c.Exec("systemctl", "--failed", "--no-pager")
		t.Fatalf("nspawn: boot of %s: %v\nfailed units:\n%s\nboot log:\n%s", c.Name, err, failed, bootLogTail(c.bootLog, 4096))
	}
	t.Logf("nspawn: container %s (%s) booted (%s) in %v, PID 1 = host pid %d, root %s", c.Name, opt.Release, state,
		time.Since(deadline.Add(-opt.BootTimeout)).Round(time.Millisecond), c.PID1, c.Root)
	return c
}

// unusable says why containers cannot be booted here, or "" when they can.
func unusable() string {
	if os.Geteuid() != 0 {
		return "end-to-end tests in a systemd container need root"
	}
	for _, p := range []string{"systemd-nspawn", "nsenter"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Sprintf("%s not found (apt-get install systemd-container util-linux)", p)
		}
	}
	return ""
}

// hostLBUnits lists lb's units installed in the root the container boots (below lower),
// masked in the container so that a test starts from a system where lb does not run (Unmask
// lets a test install its own).
func hostLBUnits(lower string) []string {
	var units []string
	seen := map[string]bool{}
	for _, d := range []string{"/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"} {
		for _, pat := range []string{"lb.service", "lb.socket", "lb@*.service", "lb-*.socket"} {
			m, _ := filepath.Glob(filepath.Join(lower, d, pat))
			for _, p := range m {
				if b := filepath.Base(p); !seen[b] {
					seen[b] = true
					units = append(units, b)
				}
			}
		}
	}
	return units
}

// mask masks unit in the overlay, like `systemctl mask` does: a link to /dev/null in /etc.
func (c *Container) mask(unit string) error {
	p := c.Path("/etc/systemd/system/" + unit)
	_ = os.Remove(p)
	if err := os.Symlink("/dev/null", p); err != nil {
		return fmt.Errorf("mask %q: %w", unit, err)
	}
	return nil
}

// Unmask removes masks set before boot (DefaultMask, host lb units, Options.Mask) and
// reloads systemd, so a test can install and start those units itself.
func (c *Container) Unmask(units ...string) error {
	for _, u := range units {
		p := c.Path("/etc/systemd/system/" + u)
		if dst, err := os.Readlink(p); err == nil && dst == "/dev/null" {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("unmask %q: %w", u, err)
			}
		}
	}
	if out, err := c.Exec("systemctl", "daemon-reload"); err != nil {
		return fmt.Errorf("unmask: daemon-reload: %w: %s", err, out)
	}
	return nil
}

// findPID1 finds the container's systemd as the child of the systemd-nspawn process started
// by Boot whose pid in its own namespace is 1 (never by a search by name: other containers
// may run on the machine).
func (c *Container) findPID1(deadline time.Time) (int, error) {
	ns := c.nspawn.Process.Pid
	for {
		select {
		case <-c.exited:
			return 0, fmt.Errorf("systemd-nspawn (pid %d) exited before the container started", ns)
		default:
		}
		for _, child := range children(ns) {
			if nsPIDIsOne(child) {
				return child, nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no container PID 1 below systemd-nspawn pid %d", ns)
		}
		// The kernel gives no event for "a child was cloned"; poll briefly.
		time.Sleep(20 * time.Millisecond)
	}
}

// children reads /proc/PID/task/*/children.
func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// nsPIDIsOne reports whether the process is PID 1 of a pid namespace nested in ours
// (the last field of NSpid in /proc/PID/status).
func nsPIDIsOne(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	return parseNSpidIsOne(string(b))
}

func parseNSpidIsOne(status string) bool {
	for _, line := range strings.Split(status, "\n") {
		if f, ok := strings.CutPrefix(line, "NSpid:"); ok {
			fs := strings.Fields(f)
			return len(fs) >= 2 && fs[len(fs)-1] == "1"
		}
	}
	return false
}

// waitRunning waits for `systemctl is-system-running --wait` to say running or degraded.
// Early calls can fail while PID 1 sets up its private socket: those are retried.
func (c *Container) waitRunning(deadline time.Time) (string, error) {
	var last string
	for {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		out, _ := c.ExecContext(ctx, "systemctl", "is-system-running", "--wait")
		cancel()
		last = strings.TrimSpace(out)
		switch last {
		case "running", "degraded":
			return last, nil
		}
		select {
		case <-c.exited:
			return "", fmt.Errorf("systemd-nspawn exited during boot (last state %q)", last)
		default:
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("system not running in time: %q", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Path is the host path of the container's path p (below the overlay's merged root).
func (c *Container) Path(p string) string {
	return filepath.Join(c.Root, filepath.Clean("/"+p))
}

// command builds `nsenter -t PID1 -a args...`.
func (c *Container) command(ctx context.Context, args ...string) *exec.Cmd {
	a := append([]string{"-t", strconv.Itoa(c.PID1), "-a"}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", a...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "SYSTEMD_PAGER=", "DEBIAN_FRONTEND=noninteractive"}
	// Its own process group: nsenter forks to enter the pid namespace and does not forward
	// signals, so signals and timeouts go to the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Exec runs args in the container (all its namespaces, as root) and returns the combined
// output. The error is non-nil when the command fails; its exit status is in an *exec.ExitError.
// It gives up after 2 minutes.
func (c *Container) Exec(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return c.ExecContext(ctx, args...)
}

// ExecContext is Exec bounded by ctx.
func (c *Container) ExecContext(ctx context.Context, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := c.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("exec %q: %w", strings.Join(args, " "), err)
	}
	return out.String(), err
}

// Run is Exec that fails the test when the command fails. Call it from the test goroutine.
func (c *Container) Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := c.Exec(args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// Start starts args in the container in the background with the given stdout (nil = discard);
// stderr goes to the same writer when errw is nil. The process is killed at teardown if still
// running. Stop it with Signal and wait with Done/Err.
func (c *Container) Start(stdout, errw io.Writer, args ...string) (*Proc, error) {
	cmd := c.command(context.Background(), args...)
	cmd.Stdout = stdout
	cmd.Stderr = errw
	if errw == nil {
		cmd.Stderr = stdout
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %q: %w", strings.Join(args, " "), err)
	}
	p := &Proc{Cmd: cmd, c: c, done: make(chan struct{})}
	c.mu.Lock()
	c.procs[p] = struct{}{}
	c.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		c.mu.Lock()
		delete(c.procs, p)
		c.mu.Unlock()
	}()
	return p, nil
}

// Signal sends sig to the process group of p (nsenter and the program it runs).
func (p *Proc) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := syscall.Kill(-p.Cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v: %w", sig, err)
	}
	return nil
}

// CopyIn copies the host file hostPath to containerPath (parents created, mode kept) by
// writing below the overlay's merged root. The container mounts its own /tmp, /run, /dev,
// /proc and /sys over the overlay: files written there are not seen inside. Absolute symbolic
// links on the way would resolve on the host: write to plain paths (/etc, /usr, /var, /lib).
func (c *Container) CopyIn(hostPath, containerPath string) error {
	src, err := os.Open(hostPath)
	if err != nil {
		return fmt.Errorf("copy in: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return fmt.Errorf("copy in: %w", err)
	}
	dst := c.Path(containerPath)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("copy in: %w", err)
	}
	// Write a new file and rename it: replacing a running binary in place fails with ETXTBSY.
	tmp := dst + ".lbtest-tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return fmt.Errorf("copy in: %w", err)
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return fmt.Errorf("copy in %q: %w", hostPath, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("copy in %q: %w", hostPath, err)
	}
	if err := os.Chmod(tmp, st.Mode().Perm()); err != nil {
		return fmt.Errorf("copy in: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("copy in: %w", err)
	}
	return nil
}

// WriteFile writes data to containerPath (parents created).
func (c *Container) WriteFile(containerPath string, data []byte, perm os.FileMode) error {
	dst := c.Path(containerPath)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("write file: %w", err)
	}
	tmp := dst + ".lbtest-tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return fmt.Errorf("write file: %w", err)
	}
	if err := os.Chmod(tmp, perm); err != nil {
		return fmt.Errorf("write file: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("write file: %w", err)
	}
	return nil
}

// Journal returns the journal of unit in the container (`journalctl -u UNIT -o cat`), after
// a journal sync so that the latest lines are there.
func (c *Container) Journal(unit string) string {
	_, _ = c.Exec("journalctl", "--sync")
	out, err := c.Exec("journalctl", "--no-pager", "-o", "cat", "-u", unit)
	if err != nil {
		return out + "\n(journalctl: " + err.Error() + ")"
	}
	return out
}

// teardown stops everything Boot started, also when the test failed.
func (c *Container) teardown(t testing.TB) {
	c.mu.Lock()
	procs := make([]*Proc, 0, len(c.procs))
	for p := range c.procs {
		procs = append(procs, p)
	}
	c.mu.Unlock()
	for _, p := range procs {
		_ = p.Signal(syscall.SIGKILL)
		<-p.done
	}

	if c.nspawn != nil {
		if t.Failed() {
			t.Logf("nspawn: console of %s (tail):\n%s", c.Name, bootLogTail(c.bootLog, 2048))
		}
		if c.PID1 != 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			_, _ = c.ExecContext(ctx, "systemctl", "poweroff", "--no-block")
			cancel()
		}
		if !c.waitExit(30 * time.Second) {
			t.Logf("nspawn: %s did not power off; SIGTERM to systemd-nspawn", c.Name)
			_ = c.nspawn.Process.Signal(syscall.SIGTERM)
			if !c.waitExit(10 * time.Second) {
				// The second SIGTERM makes systemd-nspawn terminate the container at once.
				_ = c.nspawn.Process.Signal(syscall.SIGTERM)
				if !c.waitExit(10 * time.Second) {
					_ = c.nspawn.Process.Kill()
					if !c.waitExit(10 * time.Second) {
						t.Errorf("nspawn: systemd-nspawn pid %d would not exit; leaving %s mounted", c.nspawn.Process.Pid, c.Root)
						return
					}
				}
			}
		}
	}
	var err error
	for i := 0; i < 50; i++ {
		if err = unix.Unmount(c.Root, 0); err == nil || errors.Is(err, unix.EINVAL) {
			err = nil
			break
		}
		// EBUSY right after the container's exit: the last references go away shortly.
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("nspawn: umount %q: %v (directory %s kept)", c.Root, err, c.dir)
		return
	}
	if err := os.RemoveAll(c.dir); err != nil {
		t.Errorf("nspawn: remove %q: %v", c.dir, err)
	}
}

func (c *Container) waitExit(d time.Duration) bool {
	select {
	case <-c.exited:
		return true
	case <-time.After(d):
		return false
	}
}
