package rules

import (
	"strings"
	"testing"
)

// TestHTTPTarpit: "http-request tarpit" ends the rules as deny does, with
// 500 by default, deny_status otherwise, and says it is a tarpit.
func TestHTTPTarpit(t *testing.T) {
	for _, tt := range []struct {
		rule   string
		status int
		dflt   bool
	}{
		{"http-request tarpit", 500, true},
		{"http-request tarpit deny_status 429", 429, true},
		{"http-request tarpit deny_status 403 content-type text/plain string hello", 403, false},
	} {
		res := httpProxy(t, "    "+tt.rule+"\n").HTTPRequest(reqTxn())
		if res.Verdict != Reject || !res.Tarpit || res.Status != tt.status || res.DefaultBody != tt.dflt {
			t.Errorf("%q: verdict %v tarpit %v status %d default body %v; want reject, tarpit, %d, %v",
				tt.rule, res.Verdict, res.Tarpit, res.Status, res.DefaultBody, tt.status, tt.dflt)
		}
	}
	if res := httpProxy(t, "    http-request deny\n").HTTPRequest(reqTxn()); res.Tarpit {
		t.Error("deny says it is a tarpit")
	}
}

// TestMonitorFail: the "monitor fail" conditions, if and unless, hold or
// not for the request; a condition on the response is refused.
func TestMonitorFail(t *testing.T) {
	for _, tt := range []struct {
		lines string
		want  bool
	}{
		{"", false},
		{"monitor fail if { path_beg /a/ }", true},
		{"monitor fail unless { path_beg /a/ }", false},
		{"monitor fail if { path_beg /z }\n    monitor fail unless { method POST }", true},
		{"acl ex hdr(host) -m sub Example\n    monitor fail if ex", true},
	} {
		p := httpProxy(t, "    "+tt.lines+"\n    monitor-uri /m\n")
		if got := p.MonitorFail(reqTxn()); got != tt.want {
			t.Errorf("%q: MonitorFail = %v, want %v", tt.lines, got, tt.want)
		}
	}
	cfg := loadCfg(t, httpDefaults+"frontend f\n    mode http\n    bind 127.0.0.1:1\n    monitor fail if { res.hdr(x) y }\n")
	p, errs := Compile(cfg, cfg.Frontend("f"), nil, Options{})
	if len(errs) == 0 && (p == nil || len(p.Warnings) == 0 || !strings.Contains(p.Warnings[0], "will never match")) {
		t.Errorf("a response fetch in monitor fail: no error nor warning (%v)", p)
	}
}

// TestHTTPUseService: "http-request use-service prometheus-exporter" ends
// the rules with the service when its condition holds, and lets the next
// rules run when it does not.
func TestHTTPUseService(t *testing.T) {
	p := httpProxy(t, "    http-request use-service prometheus-exporter if { path /metrics }\n    http-request deny\n")
	s := reqTxn()
	if res := p.HTTPRequest(s); res.Verdict != Reject || res.Service != "" || !res.DefaultBody {
		t.Errorf("other path: %+v; want the deny", res)
	}
	s = reqTxn()
	s.HTTP.Req.URI = []byte("/metrics?scope=global")
	if res := p.HTTPRequest(s); res.Verdict != Reject || res.Service != ServicePrometheus || res.DefaultBody || res.Status != 0 {
		t.Errorf("/metrics: %+v; want the service", res)
	}
}
