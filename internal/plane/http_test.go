package plane

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lb/internal/config"
)

// httpRefusalConfig is a configuration with a mode http listen section holding line, a
// global section holding global, and extra sections after; {errorfile} stands for a file
// that exists.
func httpRefusalConfig(t *testing.T, mode, global, line, extra string) (path, text string) {
	t.Helper()
	dir := t.TempDir()
	errorfile := filepath.Join(dir, "503.http")
	if err := os.WriteFile(errorfile, []byte("HTTP/1.0 503 Unavailable\r\n\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text = fmt.Sprintf(`global
    %s
defaults
    mode %s
    timeout connect 1s
    timeout client 1s
    timeout server 1s
listen l
    bind 127.0.0.1:1
    %s
    server s 127.0.0.1:2
%s`, global, mode, line, extra)
	text = strings.ReplaceAll(text, "{errorfile}", errorfile)
	path = filepath.Join(dir, "lb.cfg")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, text
}

// TestCheckHTTPRefuses: each keyword lb accepts but does not carry out in mode http is
// refused there by CheckHTTP (as "lb -c" and the start refuse it), at a line of the
// configuration, by name; in mode tcp, where HAProxy ignores it (with a warning lb gives
// too), it is not refused.
func TestCheckHTTPRefuses(t *testing.T) {
	tests := []struct {
		name         string // the subtest, named by the keyword refused
		global, line string
		extra        string
		want         string // the refused keyword
		at           string // text of the line the refusal names
	}{
		{name: "option checkcache", line: "option checkcache", want: "option checkcache", at: "listen l"},
		{name: "option http-ignore-probes", line: "option http-ignore-probes", want: "option http-ignore-probes", at: "listen l"},
		{name: "option http-no-delay", line: "option http-no-delay", want: "option http-no-delay", at: "listen l"},
		{name: "option http-pretend-keepalive", line: "option http-pretend-keepalive", want: "option http-pretend-keepalive", at: "listen l"},
		{name: "option http-use-proxy-header", line: "option http-use-proxy-header", want: "option http-use-proxy-header", at: "listen l"},
		{name: "option disable-h2-upgrade", line: "option disable-h2-upgrade", want: "option disable-h2-upgrade", at: "listen l"},
		{name: "option h1-case-adjust-bogus-client", line: "option h1-case-adjust-bogus-client", want: "option h1-case-adjust-bogus-client", at: "listen l"},
		{name: "option h1-case-adjust-bogus-server", line: "option h1-case-adjust-bogus-server", want: "option h1-case-adjust-bogus-server", at: "listen l"},
		{name: "option idle-close-on-response", line: "option idle-close-on-response", want: "option idle-close-on-response", at: "listen l"},
		{name: "option persist", line: "option persist", want: "option persist", at: "listen l"},
		{name: "cookie dynamic", line: "cookie SRV insert dynamic", want: "cookie dynamic", at: "cookie SRV"},
		{name: "cookie postonly", line: "cookie SRV insert postonly", want: "cookie postonly", at: "cookie SRV"},
		{name: "cookie maxidle", line: "cookie SRV insert maxidle 30", want: "cookie maxidle", at: "cookie SRV"},
		{name: "cookie maxlife", line: "cookie SRV insert maxlife 30", want: "cookie maxlife", at: "cookie SRV"},
		{name: "force-persist with cookie", line: "cookie SRV insert\n    force-persist if TRUE", want: "force-persist", at: "force-persist"},
		{name: "ignore-persist with cookie", line: "cookie SRV insert\n    ignore-persist if TRUE", want: "ignore-persist", at: "ignore-persist"},
		{name: "tcp-response", line: "tcp-response content accept", want: "tcp-response content accept", at: "tcp-response content accept"},
		{name: "stats http-request", line: "stats enable\n    stats http-request deny", want: "stats http-request", at: "stats http-request deny"},
		{name: "close-spread-time", global: "close-spread-time 1s", want: "close-spread-time", at: "global"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, text := httpRefusalConfig(t, "http", tt.global, tt.line, tt.extra)
			cfg, diags := config.Load([]string{path}, config.Options{})
			for _, d := range diags {
				if d.Severity == config.Alert {
					t.Fatalf("config: %s", d)
				}
			}
			line := 0
			for i, l := range strings.Split(text, "\n") {
				if strings.HasPrefix(strings.TrimSpace(l), tt.at) {
					line = i + 1
					break
				}
			}
			want := fmt.Sprintf("%s:%d: '%s' is not supported by lb yet", path, line, tt.want)
			errs := CheckHTTP(cfg)
			found := false
			for _, err := range errs {
				found = found || err.Error() == want
			}
			if !found {
				t.Errorf("CheckHTTP = %v; want %q", errs, want)
			}

			// In mode tcp, HAProxy ignores it (the configuration warns and drops it).
			path, _ = httpRefusalConfig(t, "tcp", tt.global, tt.line, "")
			cfg, _ = config.Load([]string{path}, config.Options{})
			if errs := CheckHTTP(cfg); len(errs) != 0 {
				t.Errorf("mode tcp: CheckHTTP = %v; want nothing", errs)
			}
		})
	}
}
