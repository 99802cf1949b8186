package loopback

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromium runs Debian's headless chromium with args and the page's URL and
// returns its standard output; each run has a profile of its own.
func chromium(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir()}, args...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// artifactDir is where a test keeps what a person may want to look at
// afterwards: $LB_TEST_ARTIFACTS/<test> when set, else a new directory
// under the system's temporary directory; its path is logged.
func artifactDir(t *testing.T) string {
	t.Helper()
	name := strings.ReplaceAll(t.Name(), "/", "_")
	var dir string
	var err error
	if base := os.Getenv("LB_TEST_ARTIFACTS"); base != "" {
		dir = filepath.Join(base, name)
		err = os.MkdirAll(dir, 0o755)
	} else {
		dir, err = os.MkdirTemp("", "lb-"+name+"-")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("artifacts in %s", dir)
	return dir
}

// TestStatsPageInBrowser: the statistics page with "stats admin if TRUE", as
// a browser renders it: headless chromium loads it (a screenshot is kept),
// its DOM has the servers with their states and the admin form (a checkbox
// named "s" per server, the "action" list, the hidden "b" with the
// backend's id); the POST the form sends puts a server in maintenance, and
// the page then shows HAProxy's message and the server in MAINT, as does
// "show servers state" on the runtime socket.
func TestStatsPageInBrowser(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed: this test loads the statistics page in headless chromium " +
			"(Debian package chromium, which `make test` installs)")
	}
	start := time.Now()
	app := startHTTPServer(t, "app", nil)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	sock := filepath.Join(t.TempDir(), "lb.sock")
	startLB(t, "-db", "-f", writeConfig(t, fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 1s
listen st
    bind %s
    stats enable
    stats uri /stats
    stats admin if TRUE
    server web %s
backend be
    server s1 %s
    server s2 %s
`, sock, addr, app.addr(), app.addr(), app.addr())))
	arts := artifactDir(t)
	page := "http://" + addr + "/stats"

	dom := chromium(t, bin, "--dump-dom", page)
	if err := os.WriteFile(filepath.Join(arts, "before.html"), []byte(dom), 0o644); err != nil {
		t.Fatal(err)
	}
	// The servers and their states, as rows of their backend's table.
	row := func(dom, sv string) string {
		m := regexp.MustCompile(`<tr class="([a-z_]+)"><td><input class="be-checkbox" type="checkbox" name="s" value="` + sv +
			`"></td><td class="ac"><a name="be/` + sv + `"></a><a class="lfsb" href="#be/` + sv + `">` + sv + `</a></td>(?s:.*?)<td class="ac">(?:<i>)?(?:[0-9dhms]+ )?([A-Za-z ]+)(?:</i>)?</td>`).FindStringSubmatch(dom)
		if m == nil {
			return ""
		}
		return m[1] + " " + m[2]
	}
	for _, sv := range []string{"s1", "s2"} {
		if got := row(dom, sv); got != "active_no_check no check" {
			t.Errorf("%s: row %q, want an active server not checked", sv, got)
		}
	}
	// The form the page posts: its field names and the action's value.
	form := regexp.MustCompile(`<form method="post">(?s:.*?)<input type="hidden" name="b" value="(#\d+)">&nbsp;<input type="submit" value="Apply"></form>`).FindAllStringSubmatch(dom, -1)
	if len(form) != 2 {
		t.Fatalf("%d admin forms in the DOM, want 2 (st and be)", len(form))
	}
	beForm, beID := form[1][0], form[1][1]
	for _, want := range []string{`name="s" value="s1"`, `<select name="action">`, `<option value="maint">Set state to MAINT</option>`} {
		if !strings.Contains(beForm, want) {
			t.Errorf("be's form lacks %s", want)
		}
	}

	// Submitting the form with s1 checked and MAINT chosen.
	body := url.Values{"s": {"s1"}, "action": {"maint"}, "b": {beID}}.Encode()
	if head := postStats(t, addr, "/stats", body); !strings.HasPrefix(head, "HTTP/1.1 303 See Other\r\n") ||
		!strings.Contains(head, "\r\nlocation: /stats;st=DONE\r\n") {
		t.Fatalf("POST %s: %q", body, head)
	}
	shot := filepath.Join(arts, "after.png")
	chromium(t, bin, "--screenshot="+shot, "--window-size=1400,900", page+";st=DONE")
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 1000 {
		t.Errorf("screenshot %s: %v", shot, err)
	}
	dom = chromium(t, bin, "--dump-dom", page+";st=DONE")
	if err := os.WriteFile(filepath.Join(arts, "after.html"), []byte(dom), 0o644); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dom, `title="Remove this message">[X]</a> Action processed successfully.</div>`) {
		t.Errorf("no success message in the page after the POST")
	}
	if got := row(dom, "s1"); got != "maintain MAINT" {
		t.Errorf("s1 after the POST: %q, want in maintenance", got)
	}
	if got := row(dom, "s2"); got != "active_no_check no check" {
		t.Errorf("s2 after the POST: %q", got)
	}
	state := adminCommand(t, sock, "show servers state be")
	if !regexp.MustCompile(`(?m)^\d+ be 1 s1 127\.0\.0\.1 0 1 `).MatchString(state) {
		t.Errorf("show servers state be: s1 not in maintenance:\n%s", state)
	}
	t.Logf("took %s", time.Since(start).Round(time.Millisecond))
}
