package config

import (
	"strings"
	"testing"
)

// TestUseService: "http-request use-service" takes HAProxy's Prometheus
// exporter; the other services are refused with HAProxy's words, the Lua
// ones as what lb does not do yet.
func TestUseService(t *testing.T) {
	for _, tt := range []struct{ rule, want string }{
		{"http-request use-service prometheus-exporter", ""},
		{"http-request use-service prometheus-exporter if { path /metrics }", ""},
		{"http-request use-service", "t.cfg:7: error detected in frontend 'f' while parsing 'http-request use-service' rule : 'use-service' expects a service name.."},
		{"http-request use-service foo", "t.cfg:7: error detected in frontend 'f' while parsing 'http-request use-service' rule : 'foo' unknown service name.."},
		{"http-request use-service lua.hello", "t.cfg:7: 'http-request use-service lua.hello' is not supported by lb yet"},
		{"http-request use-service prometheus-exporter extra", "t.cfg:7: 'http-request use-service' expects either 'if' or 'unless' followed by a condition but found 'extra'."},
		{"http-response use-service prometheus-exporter", "'http-response' expects "},
	} {
		text := "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\nfrontend f\n    " +
			tt.rule + "\n    bind 127.0.0.1:1\n"
		cfg, diags := loadString(t, text)
		var msgs []string
		for _, d := range diags {
			msgs = append(msgs, d.String())
		}
		got := strings.Join(msgs, "\n")
		if tt.want == "" {
			if cfg == nil || got != "" || len(cfg.Frontend("f").HTTPRequest) != 1 {
				t.Errorf("%q: %s", tt.rule, got)
			}
			continue
		}
		if !strings.Contains(got, tt.want) {
			t.Errorf("%q:\n%s\nwant %q", tt.rule, got, tt.want)
		}
	}
}
