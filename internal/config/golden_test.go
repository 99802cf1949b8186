package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// caseDir holds the keyword-family cases: NAME.cfg is loaded and its
// diagnostics, exit code and (for accepted files) parsed structures are
// compared with NAME.golden.
const caseDir = goldenDir + "/cases"

// fakeStat pretends that files under /exists/ exist and nothing else does.
func fakeStat(name string) (os.FileInfo, error) {
	if strings.HasPrefix(name, "/exists/") {
		return nil, nil
	}
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

// fakeResolver knows a few names; everything else fails.
func fakeResolver(host string) ([]net.IP, error) {
	switch host {
	case "localhost":
		return []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}, nil
	case "app1.example":
		return []net.IP{net.ParseIP("192.0.2.10")}, nil
	case "app6.example":
		return []net.IP{net.ParseIP("2001:db8::10")}, nil
	}
	return nil, errors.New("no such host")
}

func fakeUsers(name string) (int, error) {
	switch name {
	case "root":
		return 0, nil
	case "lb":
		return 101, nil
	case "haproxy":
		return 102, nil
	case "nobody":
		return 65534, nil
	}
	return -1, errors.New("unknown user")
}

// caseOptions are the options of the golden cases; a case whose name ends
// in "-dr" runs with IgnoreResolveErrors.
func caseOptions(name string) Options {
	return Options{
		IgnoreResolveErrors: strings.HasSuffix(name, "-dr"),
		SkipFDCheck:         true,
		Env: testEnv(map[string]string{
			"FD_HTTP": "3", "PORT": "8080", "OPTS": "name opts  backlog 10", "ADDRS": ":81 :82", "EMPTY": "", "HOME": "/root",
		}),
		Resolver:    fakeResolver,
		Stat:        fakeStat,
		LookupUser:  fakeUsers,
		LookupGroup: fakeUsers,
		Hostname:    func() (string, error) { return "lbhost", nil },
		// No /etc/resolv.conf: no implicit "default" resolvers section.
		ReadResolvConf: func() ([]byte, error) { return nil, fs.ErrNotExist },
	}
}

// render formats a Load result for golden comparison: diagnostics with
// the case directory stripped, the exit code, then the configuration as
// JSON when it is valid.
func render(cfg *Config, diags []Diag, dir string) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(strings.ReplaceAll(d.String(), dir+"/", ""))
		b.WriteByte('\n')
	}
	code := ExitCode(cfg, diags)
	fmt.Fprintf(&b, "exit %d\n", code)
	if code != 1 {
		cfg.Files = nil
		stripPos(cfg, dir)
		j, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			panic(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// stripPos makes positions relative to the case directory.
func stripPos(cfg *Config, dir string) {
	fix := func(p *Pos) { p.File = strings.TrimPrefix(p.File, dir+"/") }
	fix(&cfg.Global.Pos)
	for i := range cfg.Global.StatsSockets {
		fix(&cfg.Global.StatsSockets[i].Pos)
		fix(&cfg.Global.StatsSockets[i].Bind.Pos)
	}
	for i := range cfg.Global.Logs {
		fix(&cfg.Global.Logs[i].Pos)
	}
	for i := range cfg.Global.CPUMaps {
		fix(&cfg.Global.CPUMaps[i].Pos)
	}
	for _, p := range cfg.Proxies {
		fix(&p.Pos)
		fix(&p.Balance.Pos)
		if p.Cookie != nil {
			fix(&p.Cookie.Pos)
		}
		for _, b := range p.Binds {
			fix(&b.Pos)
		}
		for _, s := range p.Servers {
			fix(&s.Pos)
		}
		for i := range p.Logs {
			fix(&p.Logs[i].Pos)
		}
		for _, a := range p.ACLs {
			fix(&a.Pos)
		}
		for _, u := range p.UseBackends {
			fix(&u.Pos)
		}
		for _, rs := range [][]*Rule{p.HTTPRequest, p.HTTPResponse, p.HTTPAfterResponse, p.TCPRequest,
			p.TCPResponse, p.Redirects, p.Captures, p.Check.HTTPCheck, p.Check.TCPCheck, p.Stats.HTTPRequest} {
			for _, r := range rs {
				fix(&r.Pos)
			}
		}
	}
}

func TestGoldenCases(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(caseDir, "*.cfg"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases in %s: %v", caseDir, err)
	}
	sort.Strings(files)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".cfg")
		t.Run(name, func(t *testing.T) {
			cfg, diags := Load([]string{f}, caseOptions(name))
			got := render(cfg, diags, caseDir)
			checkGolden(t, "cases/"+name+".golden", got)
		})
	}
}

// TestLoadDirectory checks -f DIR: non-hidden regular *.cfg files in
// byte order, each starting outside any section.
func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.cfg", "backend b\n  server s 127.0.0.1:80\n")
	write("A.cfg", "defaults\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\n")
	write("a.cfg", "frontend f\n  bind 127.0.0.1:0\n  default_backend b\n")
	write(".hidden.cfg", "frontend hidden\n")
	write("notes.txt", "garbage\n")
	write("c.cfg.bak", "garbage\n")
	if err := os.Mkdir(filepath.Join(dir, "sub.cfg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "b.cfg"), filepath.Join(dir, "link.cfg")); err != nil {
		t.Fatal(err)
	}
	extra := filepath.Join(t.TempDir(), "z.cfg")
	if err := os.WriteFile(extra, []byte("global\n  maxconn 10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := Load([]string{extra, dir}, Options{Resolver: fakeResolver})
	var names []string
	for _, f := range cfg.Files {
		names = append(names, filepath.Base(f))
	}
	want := []string{"z.cfg", "A.cfg", "a.cfg", "b.cfg", "link.cfg"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("Load(dir) read %v; want %v", names, want)
	}
	// link.cfg redeclares backend b: proves the symlinked file was read.
	if code := ExitCode(cfg, diags); code != 1 {
		t.Errorf("ExitCode = %d; want 1 (duplicate backend from link.cfg): %v", code, diags)
	}
	if cfg.Global.Maxconn != 10 {
		t.Errorf("Global.Maxconn = %d; want 10", cfg.Global.Maxconn)
	}
	if f := cfg.Frontend("f"); f == nil || f.Timeouts.Client != time.Second {
		t.Errorf("frontend f did not inherit A.cfg's defaults: %+v", f)
	}
}

func TestLoadMissingFile(t *testing.T) {
	cfg, diags := Load([]string{filepath.Join(t.TempDir(), "nope.cfg")}, Options{})
	if ExitCode(cfg, diags) != 1 || len(diags) != 1 || !strings.Contains(diags[0].Msg, "No such file or directory") {
		t.Fatalf("Load(missing) = %v; want one alert about the missing file", diags)
	}
}

func TestExitCode(t *testing.T) {
	withBind := &Config{Proxies: []*Proxy{{Cap: CapFrontend, Binds: []*Bind{{Addrs: []BindAddr{{Network: "tcp4", Port: 80}}}}}}}
	tests := []struct {
		name  string
		cfg   *Config
		diags []Diag
		want  int
	}{
		{"nil config", nil, nil, 1},
		{"valid", withBind, nil, 0},
		{"warnings only", withBind, []Diag{{Severity: Warning}, {Severity: Notice}}, 0},
		{"alert", withBind, []Diag{{Severity: Alert}}, 1},
		{"no listener", &Config{}, nil, 2},
		{"backend only", &Config{Proxies: []*Proxy{{Cap: CapBackend}}}, nil, 2},
		{"disabled frontend", &Config{Proxies: []*Proxy{{Cap: CapFrontend, Disabled: true, Binds: withBind.Proxies[0].Binds}}}, nil, 2},
		{"stats socket only", &Config{Global: Global{StatsSockets: []StatsSocket{{}}}}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.cfg, tt.diags); got != tt.want {
				t.Errorf("ExitCode = %d; want %d", got, tt.want)
			}
		})
	}
}

func TestLoadEmptyDirectory(t *testing.T) {
	cfg, diags := Load([]string{t.TempDir()}, Options{})
	if ExitCode(cfg, diags) != 1 || len(diags) != 1 {
		t.Fatalf("Load(empty dir) = %v; want one alert", diags)
	}
}

// TestBindFDCheck checks that "fd@N" must name an open socket, as HAProxy
// checks it while parsing (unless Options.SkipFDCheck).
func TestBindFDCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sock, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	closed, _ := os.Open(os.DevNull)
	closedFD := int(closed.Fd())
	closed.Close()

	tests := []struct {
		name string
		fd   uintptr
		skip bool
		want string // "" = accepted
	}{
		{"socket", sock.Fd(), false, ""},
		{"pipe", pr.Fd(), false, "cannot use file descriptor '%d' : Socket operation on non-socket."},
		{"closed", uintptr(closedFD), false, "cannot use file descriptor '%d' : Bad file descriptor."},
		{"pipe skipped", pr.Fd(), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "fd.cfg")
			body := fmt.Sprintf("defaults\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\nfrontend f\n  bind fd@%d\n", tt.fd)
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, diags := Load([]string{p}, Options{SkipFDCheck: tt.skip})
			if tt.want == "" {
				if code := ExitCode(cfg, diags); code != 0 {
					t.Fatalf("Load(bind fd@%d) exit %d: %v", tt.fd, code, diags)
				}
				return
			}
			want := fmt.Sprintf("'bind' : "+tt.want, tt.fd)
			if len(diags) == 0 || diags[0].Msg != want {
				t.Fatalf("Load(bind fd@%d) = %v; want %q", tt.fd, diags, want)
			}
		})
	}
}

// TestACLPatternFile checks that address pattern files are read as HAProxy
// reads them: leading blanks skipped, '#' comments and empty lines ignored,
// trailing blanks kept (and then invalid).
func TestACLPatternFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.lst")
	bad := filepath.Join(dir, "bad.lst")
	os.WriteFile(good, []byte("# allowed\n\n10.0.0.0/8\r\n  192.168.1.1\n::1\n10.0.0.0/255.0.0.0\n"), 0o644)
	os.WriteFile(bad, []byte("10.0.0.1\n 10.1.2.3 \n"), 0o644)
	tests := []struct {
		file, want string
	}{
		{good, ""},
		{bad, "error detected while parsing ACL 'a' : '10.1.2.3 ' is not a valid IPv4 or IPv6 address at line 2 of file '" + bad + "'."},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "acl.cfg")
			os.WriteFile(cfg, []byte("frontend f\n  bind :80\n  acl a src -f "+tt.file+"\n"), 0o644)
			_, diags := Load([]string{cfg}, Options{})
			var alerts []string
			for _, d := range diags {
				if d.Severity == Alert {
					alerts = append(alerts, d.Msg)
				}
			}
			if tt.want == "" && len(alerts) > 0 || tt.want != "" && (len(alerts) != 1 || alerts[0] != tt.want) {
				t.Errorf("Load(acl src -f %s) alerts = %q; want %q", tt.file, alerts, tt.want)
			}
		})
	}
}
