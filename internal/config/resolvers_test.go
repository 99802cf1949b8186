package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loadWith loads one configuration text with the golden cases' options changed by opt.
func loadWith(t *testing.T, text string, opt func(*Options)) (*Config, []Diag) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.cfg")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	o := caseOptions("t")
	opt(&o)
	return Load([]string{path}, o)
}

// TestImplicitDefaultResolvers: without a "default" resolvers section, HAProxy 2.6 makes
// one of /etc/resolv.conf's nameservers, which servers may name; none without the file;
// a declared one stays as written.
func TestImplicitDefaultResolvers(t *testing.T) {
	const cfgText = `defaults
    mode tcp
    timeout client 1s
    timeout server 1s
    timeout connect 1s
backend b
    server s app.test:80 resolvers default init-addr none
`
	conf := func(data string, err error) func(*Options) {
		return func(o *Options) { o.ReadResolvConf = func() ([]byte, error) { return []byte(data), err } }
	}
	cfg, diags := loadWith(t, cfgText, conf("nameserver 127.0.0.77\nnameserver bogus\nnameserver ::1\n", nil))
	if ExitCode(cfg, diags) == 1 || len(diags) != 0 {
		t.Fatalf("with /etc/resolv.conf: %v", diags)
	}
	r := cfg.Resolvers["default"]
	if r == nil || len(r.Nameservers) != 2 || r.Nameservers[0].ID != "127.0.0.77" || r.Nameservers[0].Addr.String() != "127.0.0.77:53" || r.Nameservers[1].Addr.String() != "[::1]:53" {
		t.Fatalf("implicit section: %+v", r)
	}
	cfg, diags = loadWith(t, cfgText, conf("", fs.ErrNotExist))
	if ExitCode(cfg, diags) != 1 || len(diags) == 0 || !strings.Contains(diags[0].Msg, "unable to find required resolvers 'default'") {
		t.Fatalf("without /etc/resolv.conf: %v", diags)
	}
	cfg, diags = loadWith(t, "resolvers default\n    nameserver ns1 127.0.0.1:5353\n"+cfgText, conf("nameserver 127.0.0.77\n", nil))
	if r := cfg.Resolvers["default"]; len(diags) != 0 || r == nil || len(r.Nameservers) != 1 || r.Nameservers[0].ID != "ns1" {
		t.Fatalf("declared default: %+v %v", r, diags)
	}
}
