// Package systemd_test proves lb's life under a real systemd, end to end: each test boots a
// throwaway systemd container (lb/internal/lbtest/nspawn), installs lb in it and drives it with
// systemctl, lbctl and apt while a load generator inside the container opens a new connection
// per request and counts every failure. Tests named Issue5_* prove the acceptance points of
// issue 5 (systemd integration), Issue6_* those of issue 6 (the .deb).
//
// Each test runs once per release (forEachRelease): on the machine's own root (Debian 12,
// systemd 252) and on a Debian 13 root (systemd 257, pure cgroup v2), which the first run
// builds with debootstrap and later runs reuse (nspawn.Root).
//
// They need root and systemd-nspawn (package systemd-container); they are skipped otherwise,
// and in -short mode. Run them with
//
//	go test -count=1 -v ./internal/e2e/systemd/
package systemd_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lb/internal/lbtest"
	"lb/internal/lbtest/nspawn"
)

// Where the test's tools live in the container.
const (
	toolDir     = "/usr/local/lib/lbtest"
	loadgenPath = toolDir + "/loadgen"
	backendPath = toolDir + "/backend"
)

// world is one booted container with the test tools copied in.
type world struct {
	t      *testing.T
	c      *nspawn.Container
	rel    nspawn.Release
	binDir string // host directory of the binaries built for this world
}

// forEachRelease runs body once per release of nspawn.Releases, as subtests named by the
// release (e.g. TestIssue5Systemd/debian13/...), one after the other: the scenarios measure
// timing under load and must not share the machine's CPUs with another container.
func forEachRelease(t *testing.T, body func(t *testing.T, rel nspawn.Release)) {
	t.Helper()
	skipShort(t)
	for _, rel := range nspawn.Releases {
		t.Run(rel.String(), func(t *testing.T) {
			start := time.Now()
			body(t, rel)
			t.Logf("%s on %s took %v", t.Name(), rel, time.Since(start).Round(100*time.Millisecond))
		})
	}
}

// skipShort skips end-to-end tests in -short mode: they boot containers.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test in a systemd container: skipped in -short mode")
	}
}

// mkWorld builds loadgen and backend, boots a container of release rel and copies them in.
func mkWorld(t *testing.T, rel nspawn.Release) *world {
	t.Helper()
	skipShort(t)
	bin := t.TempDir()
	// Build before booting: a build failure should not cost a boot.
	loadgen := lbtest.MustBuild(t, bin, "./internal/lbtest/loadgen", "")
	backend := lbtest.MustBuild(t, bin, "./internal/lbtest/backend", "")
	c := nspawn.BootWith(t, nspawn.Options{Release: rel})
	w := &world{t: t, c: c, rel: rel, binDir: bin}
	for src, dst := range map[string]string{loadgen: loadgenPath, backend: backendPath} {
		if err := c.CopyIn(src, dst); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// in returns w for use in the (sub)test t: failures go to t, on t's goroutine.
func (w *world) in(t *testing.T) *world {
	c := *w
	c.t = t
	return &c
}

// run runs a command in the container and fails the test when it fails.
func (w *world) run(args ...string) string {
	w.t.Helper()
	return w.c.Run(w.t, args...)
}

// sh runs a shell command line in the container and fails the test when it fails.
func (w *world) sh(script string) string {
	w.t.Helper()
	return w.c.Run(w.t, "sh", "-c", script)
}

// startBackend starts the test backend as a transient unit of the container's systemd
// (Type=notify: systemd-run returns once it listens). It is stopped at power-off.
func (w *world) startBackend(name string, httpAddrs ...string) {
	w.t.Helper()
	w.run("systemd-run", "--unit=lbtest-backend-"+name, "-p", "Type=notify", "--",
		backendPath, "-name", name, "-http", strings.Join(httpAddrs, ","))
}

// loadRun is a running load generator.
type loadRun struct {
	t     *testing.T
	p     *nspawn.Proc
	ready chan struct{}
	mu    sync.Mutex // guards lines
	lines []string
	done  chan struct{}
}

// Report mirrors loadgen's JSON line.
type Report struct {
	OK       int64   `json:"ok"`
	Refused  int64   `json:"refused"`
	Reset    int64   `json:"reset"`
	EOF      int64   `json:"eof"`
	Timeout  int64   `json:"timeout"`
	Non2xx   int64   `json:"non2xx"`
	Other    int64   `json:"other"`
	Failed   int64   `json:"failed"`
	Total    int64   `json:"total"`
	Seconds  float64 `json:"seconds"`
	MaxMilli float64 `json:"max_ms"`
	// Certs counts TLS connections by the served certificate's common name (-tls).
	Certs map[string]int64 `json:"certs"`
	// Full counts the TLS handshakes that did not resume a session (-tls).
	Full   int64 `json:"full"`
	Errors []struct {
		At   float64 `json:"at"`
		Kind string  `json:"kind"`
		Err  string  `json:"err"`
	} `json:"errors"`
}

func (r Report) String() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// startLoad starts loadgen in the container with args (see loadgen's doc) and, when
// waitReady, waits until its first request succeeded.
func (w *world) startLoad(waitReady bool, args ...string) *loadRun {
	w.t.Helper()
	pr, pw := io.Pipe()
	l := &loadRun{t: w.t, ready: make(chan struct{}), done: make(chan struct{})}
	p, err := w.c.Start(pw, os.Stderr, append([]string{loadgenPath}, args...)...)
	if err != nil {
		w.t.Fatal(err)
	}
	l.p = p
	go func() {
		<-p.Done()
		pw.Close()
	}()
	go func() {
		defer close(l.done)
		sc := bufio.NewScanner(pr)
		var once sync.Once
		for sc.Scan() {
			line := sc.Text()
			if line == "ready" {
				once.Do(func() { close(l.ready) })
				continue
			}
			l.mu.Lock()
			l.lines = append(l.lines, line)
			l.mu.Unlock()
		}
	}()
	if waitReady {
		select {
		case <-l.ready:
		case <-l.done:
			w.t.Fatalf("loadgen %v exited before its first successful request: %s", args, l.output())
		case <-time.After(15 * time.Second):
			rep := l.stop()
			w.t.Fatalf("loadgen %v: no successful request in 15s: %v", args, rep)
		}
	}
	return l
}

func (l *loadRun) output() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// stop ends the load (SIGTERM: requests in flight complete) and returns its report.
func (l *loadRun) stop() Report {
	l.t.Helper()
	_ = l.p.Signal(syscall.SIGTERM)
	return l.wait()
}

// wait waits for loadgen to end by itself (-d or -n) and returns its report.
func (l *loadRun) wait() Report {
	l.t.Helper()
	select {
	case <-l.done:
	case <-time.After(2 * time.Minute):
		_ = l.p.Signal(syscall.SIGKILL)
		<-l.done
		l.t.Fatalf("loadgen did not exit")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		l.t.Fatalf("loadgen printed no report (exit: %v)", l.p.Err())
	}
	var r Report
	if err := json.Unmarshal([]byte(l.lines[len(l.lines)-1]), &r); err != nil {
		l.t.Fatalf("loadgen report %q: %v", l.lines[len(l.lines)-1], err)
	}
	return r
}

// requireNoFailure fails the test when the load saw any failed request.
func requireNoFailure(t *testing.T, what string, r Report) {
	t.Helper()
	t.Logf("%s: load %s", what, r)
	if r.OK == 0 {
		t.Errorf("%s: no request succeeded: %v", what, r)
	}
	if r.Failed != 0 {
		t.Errorf("%s: %d of %d requests failed; want 0: %v", what, r.Failed, r.Total, r)
	}
}

// show reads one property of a unit (`systemctl show -P`).
func (w *world) show(unit, prop string) string {
	w.t.Helper()
	return strings.TrimSpace(w.run("systemctl", "show", "-P", prop, unit))
}

// mainPID is the unit's MainPID as seen in the container (0 when none).
func (w *world) mainPID(unit string) int {
	w.t.Helper()
	s := w.show(unit, "MainPID")
	n, err := strconv.Atoi(s)
	if err != nil {
		w.t.Fatalf("MainPID of %s: %q: %v", unit, s, err)
	}
	return n
}

// waitExit waits until the container's process pid has exited.
func (w *world) waitExit(pid int, within time.Duration) {
	w.t.Helper()
	// tail --pid returns when the process is gone, polling every 0.1s.
	_, err := w.c.Exec("timeout", strconv.Itoa(int(within.Seconds())), "tail", "-s", "0.1", "--pid="+strconv.Itoa(pid), "-f", "/dev/null")
	if err != nil {
		w.t.Errorf("process %d still running after %v", pid, within)
	}
}

// lbProcesses lists lb processes left in the container (pid and command line).
func (w *world) lbProcesses() string {
	w.t.Helper()
	out, _ := w.c.Exec("sh", "-c", `for p in /proc/[0-9]*; do [ "$(readlink $p/exe 2>/dev/null)" = /usr/sbin/lb ] && echo "${p#/proc/} $(tr '\0' ' ' < $p/cmdline)"; done; true`)
	return strings.TrimSpace(out)
}

// listening says whether something listens on the container's TCP address addr.
func (w *world) listening(addr string) bool {
	w.t.Helper()
	out := w.run("ss", "-Htln", "src", addr)
	return strings.TrimSpace(out) != ""
}

// writeFile writes a file into the container.
func (w *world) writeFile(path, content string, perm os.FileMode) {
	w.t.Helper()
	if err := w.c.WriteFile(path, []byte(content), perm); err != nil {
		w.t.Fatal(err)
	}
}

// repoFile is a path in the repository.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	root, err := lbtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, rel)
}

// dumpOnFailure logs the unit's journal and status when the test failed.
func (w *world) dumpOnFailure(units ...string) {
	w.t.Cleanup(func() {
		if !w.t.Failed() {
			return
		}
		for _, u := range units {
			st, _ := w.c.Exec("systemctl", "status", "--no-pager", "-l", u)
			w.t.Logf("systemctl status %s:\n%s", u, st)
			w.t.Logf("journal of %s:\n%s", u, tail(w.c.Journal(u), 6000))
		}
	})
}

// journalOnFailure logs unit's journal from now on (precise timestamps) if the test fails,
// so that a failed scenario shows what lb said during it.
func (w *world) journalOnFailure(unit string) {
	since := fmt.Sprintf("@%.6f", float64(time.Now().UnixMicro())/1e6)
	t := w.t
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		_, _ = w.c.Exec("journalctl", "--sync")
		out, _ := w.c.Exec("journalctl", "--no-pager", "-o", "short-precise", "-u", unit, "--since", since)
		t.Logf("journal of %s during this test:\n%s", unit, tail(out, 12000))
	})
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
