package loopback

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"lb/internal/lbtest"
)

// corpusDir finds the real-world haproxy.cfg corpus beside the repository.
func corpusDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("LB_CORPUS_DIR"); d != "" {
		return d
	}
	root, err := lbtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(root, "..", "shared", "corpus", "haproxy-cfg")
	if _, err := os.Stat(filepath.Join(d, "VERDICTS.tsv")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("corpus not found at %s", d)
		}
		t.Skipf("corpus not found at %s", d)
	}
	return d
}

// TestCheckCorpusCLI runs `lb -c -dr -f FILE` on every corpus file and compares the exit code
// with HAProxy 2.6.12's verdict; a file lb answers "not supported by lb yet" may differ only
// where HAProxy accepted it, and at least 35 of the 39 files HAProxy accepts must pass (issue 2).
func TestCheckCorpusCLI(t *testing.T) {
	dir := corpusDir(t)
	tsv, err := os.ReadFile(filepath.Join(dir, "VERDICTS.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	bin := lbBinary(t)
	accepted, acceptedByLB, unsupported := 0, 0, 0
	for _, line := range strings.Split(strings.TrimSpace(string(tsv)), "\n")[1:] {
		f := strings.Split(line, "\t")
		want, _ := strconv.Atoi(f[1])
		out, err := exec.Command(bin, "-c", "-dr", "-f", filepath.Join(dir, f[0])).CombinedOutput()
		got := 0
		if ee, ok := err.(*exec.ExitError); ok {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if want == 0 {
			accepted++
			if got == 0 {
				acceptedByLB++
			}
		}
		if got == want {
			continue
		}
		if want == 0 && got == 1 && strings.Contains(string(out), "is not supported by lb yet") {
			unsupported++
			continue
		}
		t.Errorf("%s: lb -c exit %d; HAProxy 2.6 %d (%s)\n%s", f[0], got, want, strings.Join(f[2:], " "), out)
	}
	t.Logf("HAProxy accepts %d files; lb accepts %d; %d refused as not supported yet", accepted, acceptedByLB, unsupported)
	if acceptedByLB < 35 {
		t.Errorf("lb accepts %d of the %d files HAProxy accepts; want at least 35", acceptedByLB, accepted)
	}
}
