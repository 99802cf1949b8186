package loopback

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// promScrape is what a scrape of the exporter shows: its families by name.
type promScrape map[string]*dto.MetricFamily

func scrapeProm(t *testing.T, addr, target string) (head string, fams promScrape) {
	t.Helper()
	c := dialHTTP(t, addr)
	c.send("GET " + target + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	head, body := c.response()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v\n%s", target, err, body)
	}
	return head, fams
}

// sample returns the value of a family's sample with these labels
// ("name=value" pairs), NaN when there is none.
func (s promScrape) sample(name string, labels ...string) float64 {
	for _, m := range s[name].GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		if slices.Equal(ls, labels) {
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
			return m.Counter.GetValue()
		}
	}
	return math.NaN()
}

// describe sums up a family: type, help and its samples' label sets.
func describe(f *dto.MetricFamily) string {
	var sets []string
	for _, m := range f.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			if l.GetName() == "version" {
				continue // build_info: lb's version, not HAProxy's
			}
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		sets = append(sets, "{"+strings.Join(ls, ",")+"}")
	}
	sort.Strings(sets)
	return f.GetType().String() + " " + f.GetHelp() + " " + strings.Join(sets, " ")
}

// TestPrometheusExporter: "http-request use-service prometheus-exporter", in
// the frontend and in the backend, answers HAProxy's metrics with its
// Content-Type, through the http-after-response rules, with the requests
// counted and the servers' states; scope and no-maint select as in HAProxy,
// a bad scope gets a 400. lb's families are HAProxy's for the same
// configuration and traffic: same names, types, help texts and label sets.
func TestPrometheusExporter(t *testing.T) {
	app := startHTTPServer(t, "app", nil)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    option httplog
    http-request use-service prometheus-exporter if { path /metrics }
    http-after-response set-header X-After 1
    default_backend be
backend be
    http-request use-service prometheus-exporter if { path /be-metrics }
    server up %s
    server down 127.0.0.1:%d check inter 100 fall 1 rise 1
    server maint 127.0.0.1:%d disabled
`, addr, app.addr(), freePort(t), freePort(t)))
	got := map[string]promScrape{}
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		// The down server's check fails first.
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, m := scrapeProm(t, addr, "/metrics?scope=server")
			if m.sample("haproxy_server_status", "proxy=be", "server=down", "state=DOWN") == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the down server is not DOWN within 5s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		for range 3 {
			c := dialHTTP(t, addr)
			c.send("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			if head, body := c.response(); respStatusLine(head) != "HTTP/1.1 200 OK" || !strings.HasPrefix(body, "app GET /") {
				t.Fatalf("request: %q %q", head, body)
			}
		}
		head, m := scrapeProm(t, addr, "/metrics")
		f := respFields(head)
		if respStatusLine(head) != "HTTP/1.1 200 OK" || strings.Join(f["content-type"], ",") != "text/plain; version=0.0.4" ||
			strings.Join(f["cache-control"], ",") != "no-cache" || strings.Join(f["x-after"], ",") != "1" {
			t.Errorf("head %q", head)
		}
		for _, w := range []struct {
			name   string
			labels []string
			want   float64
		}{
			{"haproxy_backend_sessions_total", []string{"proxy=be"}, 3},
			{"haproxy_server_sessions_total", []string{"proxy=be", "server=up"}, 3},
			{"haproxy_server_sessions_total", []string{"proxy=be", "server=down"}, 0},
			{"haproxy_server_status", []string{"proxy=be", "server=up", "state=UP"}, 1},
			{"haproxy_server_status", []string{"proxy=be", "server=down", "state=DOWN"}, 1},
			{"haproxy_server_status", []string{"proxy=be", "server=maint", "state=MAINT"}, 1},
			{"haproxy_server_status", []string{"proxy=be", "server=maint", "state=UP"}, 0},
			{"haproxy_backend_status", []string{"proxy=be", "state=UP"}, 1},
			{"haproxy_backend_active_servers", []string{"proxy=be"}, 1},
			{"haproxy_backend_agg_server_status", []string{"proxy=be", "state=DOWN"}, 1},
			{"haproxy_frontend_status", []string{"proxy=fe", "state=UP"}, 1},
			{"haproxy_process_nbproc", nil, 1},
		} {
			if v := m.sample(w.name, w.labels...); v != w.want {
				t.Errorf("%s%v = %v; want %v", w.name, w.labels, v, w.want)
			}
		}
		// The frontend counted the three connections, the first scrapes'
		// and this one's.
		if v := m.sample("haproxy_frontend_sessions_total", "proxy=fe"); !(v >= 5) {
			t.Errorf("frontend sessions_total = %v", v)
		}
		got[t.Name()] = m

		// The backend's rule answers too.
		if head, m := scrapeProm(t, addr, "/be-metrics?scope=backend"); respStatusLine(head) != "HTTP/1.1 200 OK" ||
			m["haproxy_backend_status"] == nil || m["haproxy_frontend_status"] != nil || m["haproxy_process_nbproc"] != nil {
			t.Errorf("/be-metrics?scope=backend: %q %d families", head, len(m))
		}
		// scope and no-maint.
		_, m = scrapeProm(t, addr, "/metrics?scope=server&scope=global&no-maint")
		if m["haproxy_process_nbproc"] == nil || m["haproxy_server_status"] == nil || m["haproxy_backend_status"] != nil ||
			m["haproxy_frontend_status"] != nil || !math.IsNaN(m.sample("haproxy_server_status", "proxy=be", "server=maint", "state=MAINT")) {
			t.Errorf("scope=server&scope=global&no-maint: %d families", len(m))
		}
		if _, m = scrapeProm(t, addr, "/metrics?scope=frontend&scope="); len(m) != 0 {
			t.Errorf("scope=frontend&scope=: %d families", len(m))
		}
		c := dialHTTP(t, addr)
		c.send("GET /metrics?scope=nope HTTP/1.1\r\nHost: h\r\n\r\n")
		if head, _ := c.response(); respStatusLine(head) != "HTTP/1.1 400 Bad request" || !c.closed() {
			t.Errorf("bad scope: %q", head)
		}
		// HEAD: the head only, then the next response on the connection.
		c = dialHTTP(t, addr)
		c.send("HEAD /metrics HTTP/1.1\r\nHost: h\r\n\r\nGET /metrics?scope=global HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		var head1 strings.Builder
		for {
			line, err := c.br.ReadString('\n')
			if err != nil {
				t.Fatalf("HEAD: %v after %q", err, head1.String())
			}
			head1.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		if respStatusLine(head1.String()) != "HTTP/1.1 200 OK" {
			t.Errorf("HEAD: %q", head1.String())
		}
		if head, body := c.response(); respStatusLine(head) != "HTTP/1.1 200 OK" || !strings.HasPrefix(body, "# HELP haproxy_process_") {
			t.Errorf("after HEAD: %q %.80q", head, body)
		}
		// The log names the applet.
		deadline = time.Now().Add(3 * time.Second)
		for !strings.Contains(out.String(), " fe/<PROMEX> ") || !strings.Contains(out.String(), " be/<PROMEX> ") {
			if time.Now().After(deadline) {
				t.Errorf("no fe/<PROMEX> and be/<PROMEX> log lines in\n%s", out.String())
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	lb, hap := got["TestPrometheusExporter/lb"], got["TestPrometheusExporter/haproxy"]
	if lb == nil || hap == nil {
		return
	}
	for name, f := range lb {
		h := hap[name]
		if h == nil {
			t.Errorf("lb's %s is not HAProxy's", name)
			continue
		}
		if l, r := describe(f), describe(h); l != r {
			t.Errorf("%s:\nlb      %s\nhaproxy %s", name, l, r)
		}
	}
	// The process families that do not depend on timing or on the
	// implementation have HAProxy's values.
	// jobs counts the connections open as well as the listeners: one more
	// at least, the scrape's; a connection before it may still be ending
	// (haproxy counted 3 where lb counted 2 in a CI run).
	for name, m := range map[string]promScrape{"lb": lb, "haproxy": hap} {
		if j, l := m.sample("haproxy_process_jobs"), m.sample("haproxy_process_listeners"); !(j >= l+1) {
			t.Errorf("%s: haproxy_process_jobs = %v with %v listeners: want at least one connection more", name, j, l)
		}
	}
	for _, name := range []string{"listeners", "unstoppable_jobs", "active_peers", "connected_peers",
		"busy_polling_enabled", "limit_http_comp", "http_comp_bytes_in_total", "max_memory_bytes",
		"recv_logs_total", "dropped_logs_total", "failed_resolutions", "current_zlib_memory", "max_zlib_memory",
		"max_ssl_connections", "stopping"} {
		name = "haproxy_process_" + name
		if l, h := fmt.Sprint(lb.sample(name)), fmt.Sprint(hap.sample(name)); l != h {
			t.Errorf("%s = %s; HAProxy's %s", name, l, h)
		}
	}
	for _, name := range []string{"connections_total", "requests_total", "bytes_out_total", "hard_max_connections", "max_fds"} {
		name = "haproxy_process_" + name
		if v := lb.sample(name); !(v > 0) {
			t.Errorf("%s = %v", name, v)
		}
	}
	var left []string
	for name := range hap {
		if lb[name] == nil {
			left = append(left, name)
		}
	}
	sort.Strings(left)
	t.Logf("%d families of HAProxy's printed, %d left out", len(lb), len(left))
}
