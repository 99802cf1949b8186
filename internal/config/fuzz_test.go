package config

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary files to Load: it must never panic, and a
// configuration without alerts must have consistent proxies.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"global\n  maxconn 100\n",
		"defaults\n  mode http\n  timeout client 5s\nfrontend f\n  bind :80,:81-83 name x\n  default_backend b\nbackend b\n  server s 127.0.0.1:80 check\n",
		".if defined(HOME) && !feature(OPENSSL)\nglobal\n.elif streq(\"${A-b}\",b)\n.else\n.endif\n",
		"listen l\n  bind \"fd@${FD}\"\n  bind unix@/tmp/x mode 600\n  acl a path_beg /x\n  http-request deny if a || !{ src 1.2.3.4 }\n",
		"global\n  log 127.0.0.1:514 len 1024 format rfc5424 local0 info notice\n  stats socket /run/x.sock mode 660 level admin expose-fd listeners\n  cpu-map auto:1/1-2 0-1\n",
		"frontend 'a\\x41' \"b\"\n  bind 'x y'#c\n",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data string) {
		p := filepath.Join(dir, "f.cfg")
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, diags := Load([]string{p}, Options{
			Env:         func(n string) (string, bool) { return "3", n == "FD" },
			Resolver:    func(string) ([]net.IP, error) { return nil, errors.New("no dns") },
			Stat:        func(string) (os.FileInfo, error) { return nil, os.ErrNotExist },
			SkipFDCheck: true,
			LookupUser:  func(string) (int, error) { return 1, nil },
			LookupGroup: func(string) (int, error) { return 1, nil },
		})
		code := ExitCode(cfg, diags)
		if code == 0 || code == 2 {
			for _, d := range diags {
				if d.Severity == Alert {
					t.Fatalf("exit %d with alert %v", code, d)
				}
			}
			for _, px := range cfg.Proxies {
				checkProxyInvariants(t, cfg, px)
			}
		}
		_, _ = EvalCond(data, Options{Env: func(string) (string, bool) { return "", false }})
	})
}

// checkProxyInvariants states what a configuration without alerts
// guarantees to its users.
func checkProxyInvariants(t *testing.T, cfg *Config, px *Proxy) {
	t.Helper()
	if px.Cap&CapDefaults != 0 || px.Cap == 0 {
		t.Fatalf("proxy %q has cap %v", px.Name, px.Cap)
	}
	for _, b := range px.Binds {
		if len(b.Addrs) == 0 {
			t.Fatalf("proxy %q: bind %q without addresses", px.Name, b.Spec)
		}
		for _, a := range b.Addrs {
			if (a.Network == "tcp4" || a.Network == "tcp6") && (a.Port < 1 || a.Port > 65535) {
				t.Fatalf("proxy %q: bind %q: port %d", px.Name, b.Spec, a.Port)
			}
		}
	}
	seen := map[string]bool{}
	for _, s := range px.Servers {
		if seen[s.Name] {
			t.Fatalf("proxy %q: duplicate server %q", px.Name, s.Name)
		}
		seen[s.Name] = true
		if s.Weight < 0 || s.Weight > 256 || s.Rise < 1 || s.Fall < 1 || s.Inter <= 0 {
			t.Fatalf("proxy %q: server %q: weight %d rise %d fall %d inter %v", px.Name, s.Name, s.Weight, s.Rise, s.Fall, s.Inter)
		}
	}
	if px.DefaultBackend != "" && cfg.Backend(px.DefaultBackend) == nil {
		t.Fatalf("proxy %q: default_backend %q does not exist", px.Name, px.DefaultBackend)
	}
	for _, u := range px.UseBackends {
		if !u.Dynamic && cfg.Backend(u.Backend) == nil {
			t.Fatalf("proxy %q: use_backend %q does not exist", px.Name, u.Backend)
		}
	}
}
