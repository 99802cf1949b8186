package plane

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lb/internal/config"
)

// TestServerTLSChecks: a check-ssl server is checked over TLS (its
// checker gets Server.CheckTLS), and the sni expressions are compiled by
// "lb -c" and at start.
func TestServerTLSChecks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lb.cfg")
	text := `defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
backend b
    server c 127.0.0.1:443 check check-ssl verify none check-sni chk
    server p 127.0.0.1:80 check
`
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load([]string{path}, config.Options{})
	if config.ExitCode(cfg, diags) == 1 {
		t.Fatalf("config: %v", diags)
	}
	if errs := CheckServerTLS(cfg); len(errs) != 0 {
		t.Fatalf("check-ssl refused: %v", errs)
	}
	g := &Generation{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	px := cfg.Backends()[0]
	hc, err := g.healthConfig(cfg, px, px.Server("c"))
	if err != nil || hc.TLS == nil || hc.TLS.ServerName != "chk" {
		t.Fatalf("c: %+v %v", hc.TLS, err)
	}
	if hc, _ := g.healthConfig(cfg, px, px.Server("p")); hc.TLS != nil {
		t.Fatal("p: checked over TLS")
	}

	text += "    server s 127.0.0.1:443 ssl verify none sni nosuchfetch\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags = config.Load([]string{path}, config.Options{})
	if config.ExitCode(cfg, diags) == 1 {
		t.Fatalf("config: %v", diags)
	}
	var msgs []string
	for _, e := range CheckServerTLS(cfg) {
		msgs = append(msgs, e.Error())
	}
	got := strings.Join(msgs, "\n")
	if len(msgs) != 1 {
		t.Errorf("%d errors, want 1:\n%s", len(msgs), got)
	}
	for _, want := range []string{
		"lb.cfg:9: 'server b/s' : error detected while parsing sni expression : unknown fetch method 'nosuchfetch'",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("got:\n%s\nwant %q", got, want)
		}
	}
}
