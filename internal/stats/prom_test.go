package stats

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"lb/internal/lbtest"
)

// promGolden is HAProxy 2.6.12's /metrics for testdata/prom.cfg, captured
// after one request to a server: its families, types, help texts and label
// sets are the reference (its values are not).
const promGolden = "testdata/prom-haproxy-2.6.txt"

// promSnapshot is the snapshot of testdata/prom.cfg in the same state as
// the golden capture: s2 down (its check fails), s3 in maintenance.
func promSnapshot() *Snapshot {
	return &Snapshot{PID: 1, Uptime: 3 * time.Second, Sessions: 1, Maxconn: 100, Proxies: []Proxy{
		{Name: "fe", ID: 2, Mode: "http", Frontend: &Frontend{Cur: 1, Limit: 100, Total: 2, BytesIn: 120, BytesOut: 900}},
		{Name: "fe2", ID: 3, Mode: "http", Frontend: &Frontend{Limit: 50}},
		{Name: "be", ID: 4, Mode: "http", Algo: "roundrobin", Backend: &Backend{Total: 1, BytesIn: 80, BytesOut: 600, Servers: []Server{
			{Name: "s1", ID: 1, Weight: 1, Max: 1, Total: 1, BytesIn: 80, BytesOut: 600},
			{Name: "s2", ID: 2, Weight: 1, State: Down, Checked: true, Rise: 2, Fall: 1, Failed: 0,
				LastChange: 1, Downtime: 1, DownTrans: 1, Check: &Check{Status: "L4CON", Done: true, Failed: 1}},
			{Name: "s3", ID: 3, Weight: 1, State: Maint},
			{Name: "s4", ID: 4, Weight: 5, Backup: true, Limit: 10, QueueLimit: 3},
		}}},
		{Name: "empty", ID: 5, Mode: "http", Algo: "roundrobin", Backend: &Backend{}},
		{Name: "tcpl", ID: 6, Mode: "tcp", Algo: "roundrobin", Frontend: &Frontend{Limit: 100},
			Backend: &Backend{Servers: []Server{{Name: "t1", ID: 1, Weight: 1}}}},
	}}
}

func parseProm(t *testing.T, what string, b []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return fams
}

// familyOrder returns the family names of a text exposition in order.
func familyOrder(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 4 && f[0] == "#" && f[1] == "TYPE" {
			out = append(out, f[2])
		}
	}
	return out
}

// labelSets returns a family's samples' label sets ("name=value,…").
func labelSets(f *dto.MetricFamily) []string {
	var out []string
	for _, m := range f.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(ls)
		out = append(out, strings.Join(ls, ","))
	}
	sort.Strings(out)
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	return math.NaN()
}

// TestPrometheusAgainstGolden checks lb's families against HAProxy's: each
// one lb prints is HAProxy's (name, type, help text, and the same label
// sets for the same objects), in HAProxy's order, and HAProxy's are
// exactly lb's plus promLeftOut.
func TestPrometheusAgainstGolden(t *testing.T) {
	golden, err := os.ReadFile(promGolden)
	if err != nil {
		t.Fatal(err)
	}
	// The process families show "show info"'s fields; the zlib ones are
	// not among them (NaN, as in HAProxy's build without zlib).
	fields := map[string]uint64{}
	for i, n := range PromProcessFields() {
		fields[n] = uint64(i)
	}
	delete(fields, "ZlibMemUsage")
	delete(fields, "MaxZlibMemUsage")
	fields["Nbthread"], fields["Maxconn"], fields["Uptime_sec"], fields["Start_time_sec"] = 2, 100, 3, 1700000000
	info := &PromInfo{Version: "1.2.3", Threads: 2, Start: time.Unix(1700000000, 0), Fields: fields}
	out := Prometheus(promSnapshot(), info, &PromOptions{Scope: PromAll})
	// HAProxy's float fields (times in seconds) keep their six decimals.
	for _, line := range []string{
		`haproxy_backend_connect_time_average_seconds{proxy="be"} 0.000000`,
		`haproxy_server_max_total_time_seconds{proxy="be",server="s1"} 0.000000`,
		`haproxy_process_current_zlib_memory NaN`,
		`haproxy_server_current_throttle{proxy="be",server="s1"} NaN`,
	} {
		if !bytes.Contains(out, []byte("\n"+line+"\n")) {
			t.Errorf("no line %q", line)
		}
	}
	ref, got := parseProm(t, "golden", golden), parseProm(t, "lb", out)
	for name, f := range got {
		r, ok := ref[name]
		if !ok {
			t.Errorf("%s: not a family of HAProxy's", name)
			continue
		}
		if f.GetType() != r.GetType() || f.GetHelp() != r.GetHelp() {
			t.Errorf("%s: type %v help %q; HAProxy's: %v %q", name, f.GetType(), f.GetHelp(), r.GetType(), r.GetHelp())
		}
		ls, rs := labelSets(f), labelSets(r)
		if name == "haproxy_process_build_info" {
			rs = []string{"version=1.2.3"}
		}
		if !slices.Equal(ls, rs) {
			t.Errorf("%s: label sets\n%q\nHAProxy's:\n%q", name, ls, rs)
		}
	}
	// The order: lb's families are a subsequence of HAProxy's.
	refOrder, i := familyOrder(golden), 0
	for _, name := range familyOrder(out) {
		for i < len(refOrder) && refOrder[i] != name {
			i++
		}
		if i == len(refOrder) {
			t.Errorf("%s is out of HAProxy's order", name)
			break
		}
	}
	// What lb leaves out is listed, and only that.
	left := map[string]bool{}
	for _, n := range promLeftOut {
		if left[n] {
			t.Errorf("%s left out twice", n)
		}
		left[n] = true
		if got[n] != nil {
			t.Errorf("%s is printed and listed as left out", n)
		}
	}
	for name := range ref {
		if got[name] == nil && !left[name] {
			t.Errorf("HAProxy's %s is neither printed nor listed as left out", name)
		}
	}
	for n := range left {
		if ref[n] == nil {
			t.Errorf("%s is listed as left out but is not HAProxy's", n)
		}
	}

	// A few values.
	want := map[string]float64{
		"haproxy_process_connections_total":  float64(fields["CumConns"]),
		"haproxy_process_max_connections":    100,
		"haproxy_process_nbthread":           2,
		"haproxy_process_start_time_seconds": 1700000000,
		"haproxy_process_uptime_seconds":     3,
	}
	for name, v := range want {
		if f := got[name]; f == nil || value(f.GetMetric()[0]) != v {
			t.Errorf("%s: want %v", name, v)
		}
	}
	states := map[string]string{}
	for _, m := range got["haproxy_server_status"].GetMetric() {
		if value(m) == 1 {
			var sv, st string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "server":
					sv = l.GetValue()
				case "state":
					st = l.GetValue()
				}
			}
			states[sv] = st
		}
	}
	if fmt.Sprint(states) != "map[s1:UP s2:DOWN s3:MAINT s4:UP t1:UP]" {
		t.Errorf("server states %v", states)
	}
	// The check columns of s2, the only checked server: NaN for the others.
	for _, m := range got["haproxy_server_check_failures_total"].GetMetric() {
		if sv, v := m.GetLabel()[1].GetValue(), value(m); (sv == "s2") != (v == 1) || sv != "s2" && !math.IsNaN(v) {
			t.Errorf("check_failures_total of %s = %v", sv, v)
		}
	}
	for _, m := range got["haproxy_server_check_status"].GetMetric() {
		if st, v := m.GetLabel()[2].GetValue(), value(m); (st == "L4CON") != (v == 1) {
			t.Errorf("check_status of s2, state %s = %v", st, v)
		}
	}
	for _, m := range got["haproxy_server_limit_sessions"].GetMetric() {
		if sv := m.GetLabel()[1].GetValue(); (sv == "s4") != !math.IsNaN(value(m)) {
			t.Errorf("limit_sessions of %s = %v", sv, value(m))
		}
	}
}

func TestPrometheusOptions(t *testing.T) {
	for _, tc := range []struct {
		target string
		want   PromScope
		noMnt  bool
		ok     bool
	}{
		{"/metrics", PromAll, false, true},
		{"/metrics?", PromAll, false, true},
		{"/metrics?scope=global", PromGlobal, false, true},
		{"/metrics?scope=backend&scope=server&no-maint", PromBackend | PromServer, true, true},
		{"/metrics?scope=global&scope=", 0, false, true},
		{"/metrics?scope=&scope=frontend", PromFrontend, false, true},
		{"/metrics?scope=*", PromAll, false, true},
		{"/metrics?scope=%67lobal", PromGlobal, false, true},
		{"/metrics?foo=bar&no-maint=1", PromAll, true, true},
		{"/metrics?scope=bad", 0, false, false},
		{"/metrics?scope", 0, false, false},
		{"/metrics?scope=a=b", 0, false, false},
		{"/metrics?scope=%zz", 0, false, false},
	} {
		o, ok := ParsePromQuery(tc.target)
		if ok != tc.ok || ok && (o.Scope != tc.want || o.NoMaint != tc.noMnt) {
			t.Errorf("%s: %+v %v; want scope %b no-maint %v ok %v", tc.target, o, ok, tc.want, tc.noMnt, tc.ok)
		}
	}
	s, info := promSnapshot(), &PromInfo{Version: "x", Threads: 1}
	out := string(Prometheus(s, info, &PromOptions{Scope: PromServer, NoMaint: true}))
	if strings.Contains(out, "haproxy_process_") || strings.Contains(out, "haproxy_backend_") ||
		strings.Contains(out, `server="s3"`) || !strings.Contains(out, `server="s2"`) {
		t.Errorf("scope=server&no-maint:\n%s", out)
	}
	if out := Prometheus(s, info, &PromOptions{}); len(out) != 0 {
		t.Errorf("empty scope: %q", out)
	}
}

// TestPrometheusGoldenIsHAProxys runs HAProxy with testdata/prom.cfg, when
// it is installed, and checks that the golden file still lists its
// families, in its order.
func TestPrometheusGoldenIsHAProxys(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy not installed")
	}
	if out, _ := exec.Command(bin, "-vv").CombinedOutput(); !bytes.Contains(out, []byte("USE_PROMEX")) ||
		!bytes.Contains(out, []byte("version 2.6.")) {
		t.Skip("haproxy is not a 2.6 with the Prometheus exporter")
	}
	cfg, err := os.ReadFile("testdata/prom.cfg")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go http.Serve(srv, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }))
	port := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	}
	fe := port()
	// s2's port refuses connections for the whole test (a port merely closed
	// again was taken by another test's server in a CI run, and s2 never went
	// DOWN).
	down := func() string { return fmt.Sprint(lbtest.RefusingPort(t)) }
	vars := map[string]string{"FE": fe, "FE2": port(), "TCPL": port(), "DOWN": down(), "MAINT": port(),
		"SRV": fmt.Sprint(srv.Addr().(*net.TCPAddr).Port)}
	path := filepath.Join(t.TempDir(), "h.cfg")
	if err := os.WriteFile(path, []byte(os.Expand(string(cfg), func(k string) string { return vars[k] })), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-q", "-f", path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	get := func(path string) ([]byte, error) {
		resp, err := http.Get("http://127.0.0.1:" + fe + path)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	var body []byte
	deadline := time.Now().Add(5 * time.Second)
	for {
		// One request to a server, then the metrics once s2's check
		// failed (its check status family appears then).
		_, err := get("/")
		if err == nil {
			body, err = get("/metrics")
		}
		if err == nil && bytes.Contains(body, []byte(`haproxy_server_status{proxy="be",server="s2",state="DOWN"} 1`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy's metrics: %v\n%s", err, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	golden, err := os.ReadFile(promGolden)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := familyOrder(body), familyOrder(golden); !slices.Equal(got, want) {
		t.Errorf("haproxy's families:\n%q\ngolden's:\n%q", got, want)
	}
	ref, live := parseProm(t, "golden", golden), parseProm(t, "haproxy", body)
	for name, f := range live {
		if g := ref[name]; g == nil || g.GetHelp() != f.GetHelp() || g.GetType() != f.GetType() {
			t.Errorf("%s differs from the golden file", name)
		}
	}
}
