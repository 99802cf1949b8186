package loopback

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// statRow returns the named columns of backend/server's line in "show stat", read as a
// CSV line (a quoted field may hold commas).
func statRow(t *testing.T, sock, backend, server string, cols ...string) []string {
	t.Helper()
	out := adminCommand(t, sock, "show stat")
	var head []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "# ") {
			head = strings.Split(strings.TrimPrefix(l, "# "), ",")
			continue
		}
		f := splitCSV(l)
		if len(f) < 2 || f[0] != backend || f[1] != server {
			continue
		}
		var got []string
		for _, c := range cols {
			i := slices.Index(head, c)
			if i < 0 || i >= len(f) {
				t.Fatalf("no column %q in show stat:\n%s", c, out)
			}
			got = append(got, c+"="+f[i])
		}
		return got
	}
	t.Fatalf("no %s/%s in show stat:\n%s", backend, server, out)
	return nil
}

// splitCSV splits a line of HAProxy's CSV export: fields between double quotes may hold
// commas, and a doubled quote within stands for one.
func splitCSV(l string) []string {
	var f []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case quoted && c == '"' && i+1 < len(l) && l[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			f = append(f, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(f, cur.String())
}

// TestPassiveChecksAsHAProxy: "observe layer4|layer7", "error-limit" and "on-error" make
// a checked server's own traffic count as checks, as in HAProxy 2.6: error-limit errors
// in a row are one "Health analyze" verdict, which on-error applies (mark-down: DOWN at
// once; fail-check: one failed check; sudden-death: one failure from DOWN), a good event
// clears the count, and 501 and 505 answer the client's request, not the server's state.
// lb and haproxy run the same configuration and traffic; the server's "show stat"
// columns and the DOWN message must be the same.
func TestPassiveChecksAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	// The health checks connect to a port that always accepts; the traffic goes to a
	// refusing port (layer4) or to an HTTP server whose answers the test picks (layer7).
	chk := &acceptCloser{addr: "127.0.0.1:0"}
	chk.start(t)
	t.Cleanup(chk.stop)
	checkPort := chk.ln.Addr().(*net.TCPAddr).Port
	refused := refusingPort(t)
	web := startHTTPServer(t, "web", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.WriteHeader(code)
	})
	cols := []string{"status", "chkfail", "chkdown", "check_status", "check_duration", "hanafail", "last_chk",
		"check_desc", "check_health"}

	type step struct {
		paths []string // requests sent, in order: the status each asks for
		want  []string // the server's columns after them (both proxies must agree)
	}
	cases := []struct {
		name, server string
		tcp          bool // mode tcp: each request is a connection
		steps        []step
		downMsg      string // the DOWN message both log
	}{
		{
			name:   "layer4-tcp-fail-check",
			tcp:    true,
			server: fmt.Sprintf("127.0.0.1:%d check port %d inter 60s fall 2 observe layer4 error-limit 2", refused, checkPort),
			steps: []step{
				{paths: []string{"x", "x"}, want: []string{"status=UP 1/2", "chkfail=1", "hanafail=1", "check_health=2"}},
				{paths: []string{"x", "x"}, want: []string{"status=DOWN", "chkfail=2", "chkdown=1", "hanafail=2", "check_health=0"}},
				{paths: []string{"x"}, want: []string{"status=DOWN", "hanafail=2", "backend econ=5"}},
			},
			downMsg: `Server b/s is DOWN, reason: Health analyze, info: "Detected 2 consecutive errors, last one was: L4 unsuccessful connection". 0 active and 0 backup servers left. 1 sessions active, 0 requeued, 0 remaining in queue.`,
		},
		{
			name:   "layer4-mark-down",
			server: fmt.Sprintf("127.0.0.1:%d check port %d inter 60s observe layer4 error-limit 2 on-error mark-down", refused, checkPort),
			steps: []step{
				{paths: []string{"200"}, want: []string{"status=UP", "chkfail=0", "hanafail=0"}},
				{paths: []string{"200"}, want: []string{"status=DOWN", "chkfail=1", "chkdown=1", "check_status=HANA",
					"check_duration=18446744073709551615", "hanafail=1",
					"last_chk=Detected 2 consecutive errors, last one was: L4 unsuccessful connection",
					"check_desc=Health analyze", "check_health=0"}},
				{paths: []string{"200", "200"}, want: []string{"status=DOWN", "hanafail=1", "backend econ=4"}},
			},
			downMsg: `Server b/s is DOWN, reason: Health analyze, info: "Detected 2 consecutive errors, last one was: L4 unsuccessful connection". 0 active and 0 backup servers left. 1 sessions active, 0 requeued, 0 remaining in queue.`,
		},
		{
			name:   "layer7-fail-check",
			server: web.addr() + fmt.Sprintf(" check port %d inter 60s observe layer7 error-limit 3", checkPort),
			steps: []step{
				// Two errors, a good response, two errors: no verdict.
				{paths: []string{"500", "503", "200", "502", "500"}, want: []string{"status=UP", "hanafail=0", "chkfail=0"}},
				// The third in a row: one failed check (health 4 to 3).
				{paths: []string{"504"}, want: []string{"status=UP 2/3", "hanafail=1", "chkfail=1", "check_status=HANA",
					"last_chk=Detected 3 consecutive errors, last one was: Wrong http response", "check_health=3"}},
				// 501 and 505 are the client's doing; 404 is a good response.
				{paths: []string{"501", "505", "500", "404", "500", "500"}, want: []string{"status=UP 2/3", "hanafail=1", "chkfail=1"}},
				{paths: []string{"500", "599", "500", "500", "500", "500"}, want: []string{"status=DOWN", "hanafail=3", "chkfail=3", "chkdown=1", "check_health=0"}},
			},
			downMsg: `Server b/s is DOWN, reason: Health analyze, info: "Detected 3 consecutive errors, last one was: Wrong http response". 0 active and 0 backup servers left. 1 sessions active, 0 requeued, 0 remaining in queue.`,
		},
		{
			name:   "layer7-sudden-death",
			server: web.addr() + fmt.Sprintf(" check port %d inter 60s rise 2 fall 5 observe layer7 error-limit 1 on-error sudden-death", checkPort),
			steps: []step{
				// Fully UP (health 6): one verdict leaves it one failure from DOWN.
				{paths: []string{"500"}, want: []string{"status=UP 1/5", "hanafail=1", "chkfail=1", "check_health=2"}},
				{paths: []string{"500"}, want: []string{"status=DOWN", "hanafail=2", "chkfail=2", "check_health=0"}},
			},
			downMsg: `Server b/s is DOWN, reason: Health analyze, info: "Detected 1 consecutive errors, last one was: Wrong http response". 0 active and 0 backup servers left. 1 sessions active, 0 requeued, 0 remaining in queue.`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			results := map[string][][]string{}
			for _, name := range []string{"haproxy", "lb"} {
				sock := filepath.Join(dir, name+".sock")
				port, stPort := freePort(t), freePort(t)
				cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %s level admin
defaults
    mode %s
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    retries 0
frontend f
    bind 127.0.0.1:%d
    default_backend b
frontend st
    mode http
    bind 127.0.0.1:%d
    http-request use-service prometheus-exporter if { path /metrics }
    stats enable
    stats uri /stats
backend b
    server s %s
`, sock, map[bool]string{false: "http", true: "tcp"}[tc.tcp], port, stPort, tc.server))
				p := startNamed(t, name, hap, cfg, sock)
				// The first check passes before the traffic starts.
				deadline := time.Now().Add(5 * time.Second)
				for statRow(t, sock, "b", "s", "check_status")[0] != "check_status=L4OK" {
					if time.Now().After(deadline) {
						t.Fatalf("%s: the first check did not pass", name)
					}
					time.Sleep(20 * time.Millisecond) // polling the stats: no other signal
				}
				base := fmt.Sprintf("http://127.0.0.1:%d/", port)
				cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
				for i, st := range tc.steps {
					for _, path := range st.paths {
						if tc.tcp {
							// The proxy closes once the server refused.
							c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
							if err != nil {
								t.Fatal(err)
							}
							_ = c.SetDeadline(time.Now().Add(5 * time.Second))
							io.Copy(io.Discard, c)
							c.Close()
							continue
						}
						resp, err := cl.Get(base + path)
						if err != nil {
							t.Fatalf("%s: GET /%s: %v", name, path, err)
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					got := statRow(t, sock, "b", "s", cols...)
					for i, f := range got {
						// A real check's duration is the machine's (1 ms
						// under -race); a verdict's is HAProxy's -1.
						if strings.HasPrefix(f, "check_duration=") && f != "check_duration=18446744073709551615" {
							got[i] = "check_duration=(a check's)"
						}
					}
					// With the server DOWN, the connections find none: HAProxy
					// counts them in the backend's econ.
					be := statRow(t, sock, "b", "BACKEND", "econ")
					results[name] = append(results[name], append(got, "backend "+be[0]))
					for _, w := range st.want {
						if !slices.Contains(results[name][i], w) {
							t.Errorf("%s step %d: want %s, show stat has %q", name, i+1, w, got)
						}
					}
				}
				// The session that brought the verdict is active; the one
				// before it may still be ending when it comes (haproxy
				// said 2 in a CI run).
				before, after, _ := strings.Cut(tc.downMsg, " 1 sessions active")
				p.waitOutput(before, 5*time.Second)
				if re := regexp.MustCompile(regexp.QuoteMeta(before) + ` [12] sessions active` + regexp.QuoteMeta(after)); !re.MatchString(p.out.String()) {
					t.Errorf("%s: output has no %q (1 or 2 sessions active):\n%s", name, tc.downMsg, p.out.String())
				}
				// The verdict's duration, HAProxy's -1 ms, as its statistics page and
				// its Prometheus exporter print it.
				page := httpGetBody(t, fmt.Sprintf("http://127.0.0.1:%d/stats", stPort))
				metrics := httpGetBody(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", stPort))
				if want := "HANA in 18446744073709551615ms"; !strings.Contains(page, want) {
					t.Errorf("%s: the statistics page has no %q", name, want)
				}
				if want := `haproxy_server_check_duration_seconds{proxy="b",server="s"} -0.001000`; !strings.Contains(metrics, want) {
					t.Errorf("%s: the metrics have no %q", name, want)
				}
			}
			for i := range tc.steps {
				if !slices.Equal(results["lb"][i], results["haproxy"][i]) {
					t.Errorf("step %d: lb and haproxy differ:\n  lb:      %q\n  haproxy: %q", i+1, results["lb"][i], results["haproxy"][i])
				}
			}
		})
	}
}

// TestObserveLayer7OutsideHTTP: "observe layer7" in a mode tcp proxy is an alert that
// leaves the configuration valid and the server unobserved, as haproxy -c says it.
func TestObserveLayer7OutsideHTTP(t *testing.T) {
	cfg := writeConfig(t, fmt.Sprintf(`
defaults
    timeout connect 1s
    timeout client 1s
    timeout server 1s
listen l
    mode tcp
    bind 127.0.0.1:%d
    server s 127.0.0.1:80 observe layer7
`, freePort(t)))
	const want = `'server l/s' : 'layer7' can only be used in http proxies..`
	for _, bin := range []string{lbBinary(t), haproxyBin(t)} {
		b, err := exec.Command(bin, "-c", "-f", cfg).CombinedOutput()
		out := string(b)
		if err != nil {
			t.Errorf("%s -c: %v\n%s", bin, err, out)
		}
		if !strings.Contains(out, want) || !strings.Contains(out, "[ALERT]") || !strings.Contains(out, "Configuration file is valid") {
			t.Errorf("%s -c: want an alert %q and a valid configuration:\n%s", bin, want, out)
		}
	}
}

// httpGetBody returns the body of a GET of url.
func httpGetBody(t *testing.T, url string) string {
	t.Helper()
	return httpGetBodyWith(t, http.DefaultClient, url)
}

// httpGetBodyWith is httpGetBody through client cl.
func httpGetBodyWith(t *testing.T, cl *http.Client, url string) string {
	t.Helper()
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
