package nspawn

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// debootstrapTimeout bounds building a root (about a minute with a near mirror).
const debootstrapTimeout = 15 * time.Minute

// Root returns the host path of release r's root file system, building it first when it is
// not in the cache yet (Trixie: debootstrap from the machine's Debian archive, about a minute
// and 220 MB once). Concurrent callers, in this process or in other test runs on the machine,
// wait for one build (a lock file in the cache directory).
//
// Without debootstrap the test is skipped, or fails when $CI is set; so does a failed build.
func Root(t testing.TB, r Release) string {
	t.Helper()
	if r == "" || r == Host {
		return "/"
	}
	if r != Trixie {
		t.Fatalf("nspawn: unknown release %q", r)
	}
	skip := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") != "" {
			t.Fatalf("nspawn: %s (CI is set, so this is a failure)", msg)
		}
		t.Skipf("nspawn: %s", msg)
	}
	if why := unusable(); why != "" {
		skip("%s", why)
	}
	cache := CacheDir()
	root := filepath.Join(cache, r.dirName())
	stamp := filepath.Join(root, ".lbtest-recipe")
	if b, err := os.ReadFile(stamp); err == nil && string(b) == r.recipe() {
		return root
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		skip("the %s root %s is not built and debootstrap is not installed (apt-get install debootstrap)", r, root)
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatalf("nspawn: %v", err)
	}
	lock, err := os.OpenFile(filepath.Join(cache, r.dirName()+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("nspawn: %v", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatalf("nspawn: lock %s: %v", lock.Name(), err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	// Another run may have built it while this one waited for the lock.
	if b, err := os.ReadFile(stamp); err == nil && string(b) == r.recipe() {
		return root
	}

	start := time.Now()
	tmp := root + ".new"
	if err := os.RemoveAll(tmp); err != nil { // a build that was interrupted
		t.Fatalf("nspawn: %v", err)
	}
	_ = os.RemoveAll(root) // a root without its stamp is an interrupted rename
	mirror := aptMirror()
	t.Logf("nspawn: building the %s root in %s from %s (once; reused by later runs)", r, root, mirror)
	ctx, cancel := context.WithTimeout(context.Background(), debootstrapTimeout)
	defer cancel()
	log := filepath.Join(cache, r.dirName()+".log")
	logf, err := os.Create(log)
	if err != nil {
		t.Fatalf("nspawn: %v", err)
	}
	defer logf.Close()
	for _, args := range [][]string{
		{"debootstrap", "--variant=minbase", "--include=" + joinComma(TrixiePackages), string(r), tmp, mirror},
		// apt's downloaded archives are of no use inside: 60 MB less.
		{"chroot", tmp, "apt-get", "clean"},
	} {
		fmt.Fprintf(logf, "+ %q\n", args)
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive"}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Run(); err != nil {
			skip("building the %s root: %s: %v (log %s):\n%s", r, args[0], err, log, bootLogTail(log, 3000))
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".lbtest-recipe"), []byte(r.recipe()), 0o644); err != nil {
		t.Fatalf("nspawn: %v", err)
	}
	if err := os.Rename(tmp, root); err != nil {
		t.Fatalf("nspawn: %v", err)
	}
	t.Logf("nspawn: the %s root was built in %v", r, time.Since(start).Round(time.Second))
	return root
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}
