package loopback

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// checkBoth runs "-c -f cfg" with lb and haproxy and returns their exit codes and outputs,
// the process ids and the files' directory masked; it skips without haproxy.
func checkBoth(t *testing.T, cfg string) (lbCode int, lbOut string, haCode int, haOut string) {
	t.Helper()
	hap := haproxyBin(t)
	pid := regexp.MustCompile(`\(\d+\)`)
	run := func(bin string) (int, string) {
		out, err := exec.Command(bin, "-c", "-f", cfg).CombinedOutput()
		s := pid.ReplaceAllString(string(out), "(pid)")
		s = strings.ReplaceAll(s, filepath.Dir(cfg), "DIR")
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), s
		}
		return 0, s
	}
	lbCode, lbOut = run(lbBinary(t))
	haCode, haOut = run(hap)
	return lbCode, lbOut, haCode, haOut
}

// haproxyLines are the lines of a "-c" output but HAProxy's banner (its version and path).
func haproxyLines(out string) string {
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "haproxy version is") || strings.Contains(l, "path to executable is") {
			continue
		}
		ls = append(ls, l)
	}
	return strings.Join(ls, "\n")
}

// TestCrtListNoALPNAsHAProxy: HAProxy 2.6 has no "no-alpn" among a crt-list line's
// options, an unknown ssl keyword: lb -c fails with haproxy's message.
func TestCrtListNoALPNAsHAProxy(t *testing.T) {
	dir := t.TempDir()
	crt := writeCertPEM(t, dir)
	list := filepath.Join(dir, "list.txt")
	if err := os.WriteFile(list, []byte(crt+" [no-alpn]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, bind string
		code       int
	}{
		{"crt-list", "crt-list " + list, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(dir, tc.name+".cfg")
			text := fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d ssl %s
    default_backend be
backend be
    server s 127.0.0.1:%d
`, freePort(t), tc.bind, freePort(t))
			if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			lbCode, lbOut, haCode, haOut := checkBoth(t, cfg)
			if lbCode != tc.code || haCode != tc.code {
				t.Errorf("lb exits %d, haproxy %d; want %d\nlb:\n%s\nhaproxy:\n%s", lbCode, haCode, tc.code, lbOut, haOut)
			}
			if tc.code != 0 && !strings.Contains(haproxyLines(haOut), firstAlert(lbOut)) {
				t.Errorf("lb says:\n%s\nhaproxy:\n%s", lbOut, haOut)
			}
		})
	}
}

// firstAlert is the first "[ALERT]" line of out.
func firstAlert(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "[ALERT]") {
			return l
		}
	}
	return "\x00no alert"
}

// TestInitAddrNoneCheckAsHAProxy: a server whose name does not resolve, with "init-addr"
// ending in "none", starts in maintenance; lb -c warns about it only when an earlier method
// failed, as haproxy -c does ("init-addr none" alone says nothing).
func TestInitAddrNoneCheckAsHAProxy(t *testing.T) {
	for _, initAddr := range []string{"none", "libc,none", "last,none", "last,libc,none", "127.0.0.2,none"} {
		t.Run(initAddr, func(t *testing.T) {
			cfg := writeConfig(t, fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen app
    bind 127.0.0.1:%d
    server s nowhere.invalid:80 init-addr %s
`, freePort(t), initAddr))
			lbCode, lbOut, haCode, haOut := checkBoth(t, cfg)
			warnings := func(out string) []string {
				var ws []string
				for _, l := range strings.Split(haproxyLines(out), "\n") {
					if strings.HasPrefix(l, "[") {
						ws = append(ws, l)
					}
				}
				return ws
			}
			if lbCode != haCode || fmt.Sprint(warnings(lbOut)) != fmt.Sprint(warnings(haOut)) {
				t.Errorf("lb exits %d, haproxy %d\nlb:\n%s\nhaproxy:\n%s", lbCode, haCode, lbOut, haOut)
			}
		})
	}
}

// TestReaderMessagesAsHAProxy: "lb -c" says what "haproxy -c" says, byte for byte but the
// process id, about what HAProxy 2.6's line reader finds: lines without their LF, NUL
// characters, unmatched quotes and braces, bad variable names, too many words, long lines
// shown around their error, ".if" expressions with the position of their error,
// conditional blocks out of order or nested too deep, ".notice"/".warning"/".alert", and
// keywords out of any section (testdata/config/reader, one case a file); and, for a
// directory of files with errors, "Error(s) found in configuration file" after each file's
// diagnostics (testdata/config/reader-dir).
func TestReaderMessagesAsHAProxy(t *testing.T) {
	haproxyBin(t)
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "config", "reader", "*.cfg"))
	if len(files) < 40 {
		t.Fatalf("found only %d cases", len(files))
	}
	files = append(files, filepath.Join("..", "..", "..", "testdata", "config", "reader-dir"))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			lbCode, lbOut, haCode, haOut := checkBoth(t, f)
			if lbCode != haCode || haproxyLines(lbOut) != haproxyLines(haOut) {
				t.Errorf("lb -c exits %d:\n%s\nhaproxy -c exits %d:\n%s", lbCode, lbOut, haCode, haOut)
			}
		})
	}
}
