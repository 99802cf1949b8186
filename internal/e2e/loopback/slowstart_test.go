package loopback

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSlowstartAsHAProxy: a server with "slowstart 3s" that leaves
// maintenance warms up as in HAProxy 2.6, second by second: its status, its
// shown weight and throttle, the backend's weight, its operational state in
// "show servers state" (STARTING, 1), the exporter's weight and throttle and
// the page's throttle cell are haproxy's at the same moments; the traffic
// follows its weight (a sixteenth of it at first); its end is logged as
// HAProxy logs it.
func TestSlowstartAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	a := startHTTPServer(t, "a", nil)
	s := startHTTPServer(t, "s", nil)
	dir := t.TempDir()
	opState := regexp.MustCompile(`(?m)^\d+ b \d+ s \S+ (\d+) `)
	results := map[string][]string{}
	for _, name := range []string{"haproxy", "lb"} {
		sock := filepath.Join(dir, name+".sock")
		port, stPort := freePort(t), freePort(t)
		cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %s level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    default_backend b
frontend st
    bind 127.0.0.1:%d
    http-request use-service prometheus-exporter if { path /metrics }
    stats enable
    stats uri /stats
backend b
    server a %s weight 10
    server s %s weight 10 slowstart 3s disabled
`, sock, port, stPort, a.addr(), s.addr()))
		p := startNamed(t, name, hap, cfg, sock)
		adminCommand(t, sock, "set server b/s state ready")
		t0 := time.Now()
		cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		for k := range 4 {
			// Half way between two of the warmup's steps, once a second.
			time.Sleep(time.Until(t0.Add(time.Duration(k)*time.Second + 500*time.Millisecond)))
			row := statRow(t, sock, "b", "s", "status", "weight", "throttle")
			row = append(row, "backend "+statRow(t, sock, "b", "BACKEND", "weight")[0])
			if m := opState.FindStringSubmatch(adminCommand(t, sock, "show servers state b")); m != nil {
				row = append(row, "srv_op_state="+m[1])
			}
			metrics := httpGetBody(t, fmt.Sprintf("http://127.0.0.1:%d/metrics?scope=server", stPort))
			for _, l := range strings.Split(metrics, "\n") {
				if strings.HasPrefix(l, `haproxy_server_weight{proxy="b",server="s"}`) ||
					strings.HasPrefix(l, `haproxy_server_current_throttle{proxy="b",server="s"}`) {
					row = append(row, l)
				}
			}
			page := httpGetBody(t, fmt.Sprintf("http://127.0.0.1:%d/stats", stPort))
			row = append(row, fmt.Sprintf("page has 6 %% cell: %v", strings.Contains(page, "<td class=ac>6 %</td>")))
			results[name] = append(results[name], strings.Join(row, " "))
			if k == 0 {
				// 34 choices at eweights 160 and 10: s gets about two
				// (HAProxy's weighted round-robin places it in its own
				// order: 0 or 1 in the first 17), half of them at full
				// weight. A slow machine may reach the next step (60)
				// before the last ones: still far from half.
				n := 0
				for range 34 {
					if strings.HasPrefix(httpGetBodyWith(t, cl, fmt.Sprintf("http://127.0.0.1:%d/", port)), "s ") {
						n++
					}
				}
				if n > 6 {
					t.Errorf("%s: s served %d of 34 requests at a sixteenth of its weight", name, n)
				}
			}
		}
		// The end of the slow start is logged.
		p.waitOutput("Server b/s is UP. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.", 3*time.Second)
	}
	want := []string{
		"status=no check weight=1 throttle=6 backend weight=11 srv_op_state=1",
		"status=no check weight=4 throttle=37 backend weight=14 srv_op_state=1",
		"status=no check weight=7 throttle=68 backend weight=17 srv_op_state=1",
		"status=no check weight=10 throttle= backend weight=20 srv_op_state=2",
	}
	for k := range want {
		for _, name := range []string{"lb", "haproxy"} {
			if k >= len(results[name]) || !strings.HasPrefix(results[name][k], want[k]) {
				t.Errorf("%s after %d.5 s: %q; want it to begin with %q", name, k, results[name], want[k])
			}
		}
	}
	if !slices.Equal(results["lb"], results["haproxy"]) {
		t.Errorf("lb and haproxy differ:\n  lb:      %q\n  haproxy: %q", results["lb"], results["haproxy"])
	}
}
