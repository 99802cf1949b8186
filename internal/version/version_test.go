package version

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// headers are the lines of -vv that open a section, in order.
var headers = regexp.MustCompile(`(?m)^(HAProxy version|Status:|Known bugs:|Running on:|Build options :|Feature list :|Default settings :|Available polling systems :|Available multiplexer protocols :|Available services :|Available filters :)`)

// TestLayout: -v and -vv have HAProxy 2.6's layout: the first line is read by scripts
// as "HAProxy version <x.y.z>", and -vv's sections are haproxy -vv's, in its order
// (compared with the installed haproxy when there is one).
func TestLayout(t *testing.T) {
	first := strings.SplitN(Short(), "\n", 2)[0]
	if !regexp.MustCompile(`^HAProxy version 2\.6\.\d+-lb\S+ \S+ - `).MatchString(first) {
		t.Errorf("-v first line %q", first)
	}
	want := []string{"HAProxy version", "Status:", "Known bugs:", "Running on:", "Build options :", "Feature list :",
		"Default settings :", "Available polling systems :", "Available multiplexer protocols :",
		"Available services :", "Available filters :"}
	got := headers.FindAllString(Long(), -1)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("-vv sections %q; want %q", got, want)
	}
	for _, f := range strings.Fields(strings.TrimPrefix(regexp.MustCompile(`(?m)^Feature list : .*$`).FindString(Long()), "Feature list : ")) {
		if f[0] != '+' && f[0] != '-' {
			t.Errorf("feature %q", f)
		}
	}
	out, err := exec.Command("haproxy", "-vv").Output()
	if err != nil {
		t.Skipf("no haproxy to compare with: %v", err)
	}
	if h := headers.FindAllString(string(out), -1); strings.Join(h, "|") != strings.Join(want, "|") {
		t.Errorf("haproxy -vv sections %q; lb's %q", h, got)
	}
	v, _ := exec.Command("haproxy", "-v").Output()
	if h, l := headers.FindAllString(string(v), -1), headers.FindAllString(Short(), -1); strings.Join(h, "|") != strings.Join(l, "|") {
		t.Errorf("haproxy -v lines %q; lb's %q", h, l)
	}
}
