package plane

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lb/internal/config"
	"lb/internal/health"
	"lb/internal/rules"
)

// loadCheckConfig loads a configuration whose backend "b" has rules and a
// server s on port.
func loadCheckConfig(t *testing.T, rules string, port int) *config.Config {
	t.Helper()
	return loadCheckConfigOpt(t, "tcp-check", rules, port)
}

// loadCheckConfigOpt is loadCheckConfig with "option <opt>".
func loadCheckConfigOpt(t *testing.T, opt, rules string, port int) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lb.cfg")
	text := fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
    timeout check 1s
backend b
    option %s
%s    server s 127.0.0.1:%d check
`, opt, rules, port)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load([]string{path}, config.Options{})
	if config.ExitCode(cfg, diags) == 1 {
		t.Fatalf("config: %v", diags)
	}
	return cfg
}

// TestCheckRuleVars: the tcp-check variable rules and log-format forms,
// compiled by the rules engine, send what HAProxy 2.6.12 sent to the same
// rules (recorded on loopback: "A:|\nB:foo P: F:F-foo-<host>\nhi\nC:\n"),
// expect string-lf matches the formatted pattern, and a check variable does
// not outlive its run while a proc one does.
func TestCheckRuleVars(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("xxfooyy"))
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			b, _ := io.ReadAll(c)
			c.Close()
			got <- string(b)
		}
	}()
	host, _ := os.Hostname()
	cfg := loadCheckConfig(t, `    tcp-check send-lf "A:%[var(check.x)]|%[var(proc.n)]|%[var(proc.seen)]\n"
    tcp-check set-var(check.x) str(foo)
    tcp-check set-var(proc.n) var(proc.n),add(1)
    tcp-check set-var-fmt(check.f) "F-%[var(check.x)]-%H"
    tcp-check send-lf "B:%[var(check.x)] P:%[var(proc.n)] F:%[var(check.f)]\n"
    tcp-check send-binary-lf "%[str(hi),hex]0a"
    tcp-check expect string-lf "%[var(check.x)]"
    tcp-check unset-var(check.x)
    tcp-check send-lf "C:%[var(check.x)]\n"
    tcp-check set-var(proc.seen) int(1)
`, ln.Addr().(*net.TCPAddr).Port)
	if errs := CheckHealthRules(cfg); len(errs) != 0 {
		t.Fatalf("CheckHealthRules = %v; want none", errs)
	}
	g := &Generation{log: slog.New(slog.NewTextHandler(io.Discard, nil)), ropt: ruleOptions(cfg)}
	px := cfg.Backends()[0]
	hc, err := g.healthConfig(cfg, px, px.Server("s"))
	if err != nil {
		t.Fatal(err)
	}
	if hc.NewRun == nil {
		t.Fatal("NewRun not set")
	}
	want := fmt.Sprintf("A:||\nB:foo P: F:F-foo-%s\nhi\nC:\n", host)
	for run := 1; run <= 2; run++ {
		r := health.Probe(context.Background(), hc)
		if r.Status != health.StatusL7OK {
			t.Fatalf("run %d: Probe = %v %q; want L7OK", run, r.Status, r.Info)
		}
		b := <-got
		if run == 2 {
			// proc.seen outlives the run; check.x does not (A: is empty).
			want = strings.Replace(want, "A:||", "A:||1", 1)
		}
		if b != want {
			t.Errorf("run %d: server got %q; want %q", run, b, want)
		}
	}
}

// TestCheckRuleRefusals: what HAProxy refuses in a check rule is refused
// in its words, and what lb cannot evaluate there is refused by name.
func TestCheckRuleRefusals(t *testing.T) {
	tests := []struct{ rule, want string }{
		{"tcp-check set-var(check.a) req.hdr(host)", "'tcp-check set-var(check.a)' : 'set-var' : fetch method 'set-var(check.a)' extracts information from 'HTTP request headers', none of which is available here."},
		{"tcp-check set-var(check.a) fe_name", "'tcp-check set-var(check.a)' : 'set-var' : fetch method 'set-var(check.a)' extracts information from 'frontend', none of which is available here."},
		{`tcp-check send-lf "%[req.hdr(x)]"`, "'tcp-check send-lf' : '%[req.hdr(x)]' invalid log-format string (sample fetch <req.hdr(x)]> may not be reliably used here because it needs 'HTTP request headers' which is not available here)."},
		{`tcp-check set-var-fmt(check.a) "%[req.len]"`, "'tcp-check set-var-fmt(check.a)' : 'set-var-fmt' : sample fetch <req.len]> may not be reliably used here because it needs 'request buffer' which is not available here."},
		{"tcp-check set-var(check.a) src", "'src' in a health-check rule is not supported by lb yet"},
		{"tcp-check set-var(txn.a) str(x)", "'txn.a' in a health-check rule is not supported by lb yet"},
		{`tcp-check send-lf "%ci"`, "format variable 'ci' in a health-check rule is not supported by lb yet"},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			cfg := loadCheckConfig(t, "    "+tt.rule+"\n", 1)
			errs := CheckHealthRules(cfg)
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want) || !strings.Contains(errs[0].Error(), "lb.cfg:9: ") {
				t.Errorf("CheckHealthRules(%q) = %v; want one error at line 9 containing %q", tt.rule, errs, tt.want)
			}
		})
	}
}

// TestCheckStreamVarsPerRun: a check variable set on one run's stream is
// not on the next one's, a proc variable is.
func TestCheckStreamVarsPerRun(t *testing.T) {
	cfg := loadCheckConfig(t, "", 1)
	px, ropt := cfg.Backends()[0], ruleOptions(cfg)
	for _, spec := range []string{"check.x", "proc.y"} {
		v, err := rules.CompileVar(cfg, px, nil, ropt, spec, rules.CheckRule)
		if err != nil {
			t.Fatal(err)
		}
		sm, err := rules.CompileSample(cfg, px, nil, ropt, "var("+spec+")", rules.CheckRule)
		if err != nil {
			t.Fatal(err)
		}
		first := rules.NewCheckStream()
		v.SetString(first, []byte("v"))
		if b, ok := sm.AppendString(nil, first); !ok || string(b) != "v" {
			t.Fatalf("%s on its run = %q %v; want \"v\"", spec, b, ok)
		}
		b, ok := sm.AppendString(nil, rules.NewCheckStream())
		if wantOK := spec == "proc.y"; ok != wantOK {
			t.Errorf("%s on the next run = %q %v; want found=%v", spec, b, ok, wantOK)
		}
	}
}

// TestHTTPCheckRuleVars: the http-check variable rules and log-format forms
// send what HAProxy 2.6.12 sent to the same rules (recorded on loopback),
// built at each run: the proc variable set at the end of the first run is
// in the second one's URI.
func TestHTTPCheckRuleVars(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			var req []byte
			buf := make([]byte, 4096)
			for !strings.HasSuffix(string(req), "b=foo") {
				n, err := c.Read(buf)
				req = append(req, buf[:n]...)
				if err != nil {
					break
				}
			}
			c.Write([]byte("HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nxfooy\n"))
			c.Close()
			got <- string(req)
		}
	}()
	cfg := loadCheckConfigOpt(t, "httpchk", `    http-check set-var(check.x) str(foo)
    http-check set-var-fmt(check.f) "F-%[var(check.x)]"
    http-check send meth POST uri-lf "/p/%[var(check.x)]?n=%[var(proc.n)]" ver HTTP/1.1 hdr X-A "%[var(check.f)]" hdr X-B plain body-lf "b=%[var(check.x)]"
    http-check expect string-lf "%[var(check.x)]"
    http-check unset-var(check.x)
    http-check set-var(proc.n) int(1)
`, ln.Addr().(*net.TCPAddr).Port)
	if errs := CheckHealthRules(cfg); len(errs) != 0 {
		t.Fatalf("CheckHealthRules = %v; want none", errs)
	}
	g := &Generation{log: slog.New(slog.NewTextHandler(io.Discard, nil)), ropt: ruleOptions(cfg)}
	px := cfg.Backends()[0]
	hc, err := g.healthConfig(cfg, px, px.Server("s"))
	if err != nil {
		t.Fatal(err)
	}
	for run, n := range []string{"", "1"} {
		r := health.Probe(context.Background(), hc)
		if r.Status != health.StatusL7OK {
			t.Fatalf("run %d: Probe = %v %q; want L7OK", run+1, r.Status, r.Info)
		}
		want := "POST /p/foo?n=" + n + " HTTP/1.1\r\nx-a: F-foo\r\nx-b: plain\r\ncontent-length: 5\r\nconnection: close\r\n\r\nb=foo"
		if b := <-got; b != want {
			t.Errorf("run %d: server got %q; want %q", run+1, b, want)
		}
	}
}

// TestHTTPCheckStringLF: expect string-lf matches the body with the
// formatted pattern, and fails in HAProxy's words.
func TestHTTPCheckStringLF(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("HTTP/1.0 200 OK\r\ncontent-length: 6\r\n\r\nxfooy\n"))
			c.Close()
		}
	}()
	tests := []struct {
		name, rules string
		status      health.Status
		info        string
	}{
		{"match", "http-check set-var(check.x) str(foo)\n    http-check expect string-lf %[var(check.x)]", health.StatusL7OK, ""},
		{"mismatch", "http-check set-var(check.x) str(bar)\n    http-check expect string-lf %[var(check.x)]", health.StatusL7Rsp, "HTTP content check did not match"},
		{"unwanted", "http-check set-var(check.x) str(foo)\n    http-check expect ! string-lf %[var(check.x)]", health.StatusL7Rsp, "HTTP check matched unwanted content"},
		{"empty", "http-check expect string-lf %[var(check.x)]", health.StatusL7Rsp, "log-format string evaluated to an empty string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadCheckConfigOpt(t, "httpchk", "    "+tt.rules+"\n", ln.Addr().(*net.TCPAddr).Port)
			g := &Generation{log: slog.New(slog.NewTextHandler(io.Discard, nil)), ropt: ruleOptions(cfg)}
			px := cfg.Backends()[0]
			hc, err := g.healthConfig(cfg, px, px.Server("s"))
			if err != nil {
				t.Fatal(err)
			}
			if r := health.Probe(context.Background(), hc); r.Status != tt.status || r.Info != tt.info {
				t.Errorf("Probe(%q) = %v %q; want %v %q", tt.rules, r.Status, r.Info, tt.status, tt.info)
			}
		})
	}
}

// TestHTTPCheckRuleRefusals: what HAProxy 2.6.12 refuses in an http-check
// rule's expression is refused in its words.
func TestHTTPCheckRuleRefusals(t *testing.T) {
	tests := []struct{ rule, want string }{
		{`http-check send uri-lf "%[req.hdr(x)]"`, "'http-check send' : '%[req.hdr(x)]' invalid log-format string (sample fetch <req.hdr(x)]> may not be reliably used here because it needs 'HTTP request headers' which is not available here)."},
		{`http-check send body-lf "%[req.hdr(x)]"`, "'http-check send' : '%[req.hdr(x)]' invalid log-format string (sample fetch <req.hdr(x)]> may not be reliably used here because it needs 'HTTP request headers' which is not available here)."},
		{`http-check send hdr x-a "%[req.hdr(x)]"`, "'http-check send' : sample fetch <req.hdr(x)]> may not be reliably used here because it needs 'HTTP request headers' which is not available here."},
		{`http-check expect string-lf "%[req.hdr(x)]"`, "'http-check expect' : '%[req.hdr(x)]' invalid log-format string (sample fetch <req.hdr(x)]> may not be reliably used here because it needs 'HTTP request headers' which is not available here)."},
		{"http-check set-var(check.a) req.hdr(host)", "'http-check set-var(check.a)' : 'set-var' : fetch method 'set-var(check.a)' extracts information from 'HTTP request headers', none of which is available here."},
		{`http-check set-var-fmt(check.a) "%[req.len]"`, "'http-check set-var-fmt(check.a)' : 'set-var-fmt' : sample fetch <req.len]> may not be reliably used here because it needs 'request buffer' which is not available here."},
		{"http-check send uri-lf /%[src]", "'src' in a health-check rule is not supported by lb yet"},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			cfg := loadCheckConfigOpt(t, "httpchk", "    "+tt.rule+"\n", 1)
			errs := CheckHealthRules(cfg)
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want) || !strings.Contains(errs[0].Error(), "lb.cfg:9: ") {
				t.Errorf("CheckHealthRules(%q) = %v; want one error at line 9 containing %q", tt.rule, errs, tt.want)
			}
		})
	}
}

// TestCheckPortAndStatusCodeExprs: "connect port <expr>" connects to the
// expression's value at each run (the server's port when it has none),
// and "status-code <expr>" is the check's code when the last expect rule
// passes or when an expect rule fails, as HAProxy 2.6.12 reports them
// (code: 42 on "Layer7 check passed").
func TestCheckPortAndStatusCodeExprs(t *testing.T) {
	serve := func(reply string) int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte(reply))
				c.Close()
			}
		}()
		return ln.Addr().(*net.TCPAddr).Port
	}
	ok := serve("ok\n")
	httpOK := serve("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n")
	tests := []struct {
		name, opt, rules string
		port             int // the server line's
		status           health.Status
		code             int
	}{
		{"tcp port var", "tcp-check", fmt.Sprintf("tcp-check set-var(check.p) int(%d)\n    tcp-check connect port var(check.p)\n    tcp-check expect string ok status-code int(42)", ok), 1, health.StatusL7OK, 42},
		{"tcp port none", "tcp-check", "tcp-check connect port var(check.none)\n    tcp-check expect string ok", ok, health.StatusL7OK, 0},
		{"tcp status-code on error", "tcp-check", "tcp-check expect string nope status-code int(43)", ok, health.StatusL7Rsp, 43},
		{"tcp status-code after var", "tcp-check", "tcp-check expect string ok status-code var(check.c)\n    tcp-check set-var(check.c) int(44)", ok, health.StatusL7OK, 44},
		{"http port expr", "httpchk", fmt.Sprintf("http-check connect port int(%d)\n    http-check send uri /\n    http-check expect status 200 status-code int(299)", httpOK), 1, health.StatusL7OK, 299},
		{"http status-code none", "httpchk", "http-check expect status 200 status-code var(check.none)", httpOK, health.StatusL7OK, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadCheckConfigOpt(t, tt.opt, "    "+tt.rules+"\n", tt.port)
			if errs := CheckHealthRules(cfg); len(errs) != 0 {
				t.Fatalf("CheckHealthRules = %v; want none", errs)
			}
			g := &Generation{log: slog.New(slog.NewTextHandler(io.Discard, nil)), ropt: ruleOptions(cfg)}
			px := cfg.Backends()[0]
			hc, err := g.healthConfig(cfg, px, px.Server("s"))
			if err != nil {
				t.Fatal(err)
			}
			if r := health.Probe(context.Background(), hc); r.Status != tt.status || r.Code != tt.code {
				t.Errorf("Probe(%q) = %v code %d (%q); want %v code %d", tt.rules, r.Status, r.Code, r.Info, tt.status, tt.code)
			}
		})
	}
}

// TestCheckExprRefusals: port and status-code expressions are refused in
// HAProxy 2.6.12's words.
func TestCheckExprRefusals(t *testing.T) {
	tests := []struct{ opt, rule, want string }{
		{"httpchk", "http-check connect port req.len", "'http-check connect' : error detected while parsing port expression :  fetch method 'req.len' extracts information from 'request buffer', none of which is available here."},
		{"tcp-check", "tcp-check expect string ok status-code req.len", "'tcp-check expect' : error detected while parsing status-code expression :  fetch method 'req.len' extracts information from 'request buffer', none of which is available here."},
		{"tcp-check", "tcp-check connect port src", "'src' in a health-check rule is not supported by lb yet"},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			cfg := loadCheckConfigOpt(t, tt.opt, "    "+tt.rule+"\n", 1)
			errs := CheckHealthRules(cfg)
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want) {
				t.Errorf("CheckHealthRules(%q) = %v; want one error containing %q", tt.rule, errs, tt.want)
			}
		})
	}
}
