package rules

import (
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lb/internal/config"
)

// fakeBackend is a Backend with fixed figures.
type fakeBackend struct {
	name    string
	conn    int
	usable  int
	slots   int
	servers map[string]bool
}

func (b *fakeBackend) Name() string       { return b.name }
func (b *fakeBackend) Conn() int          { return b.conn }
func (b *fakeBackend) UsableServers() int { return b.usable }
func (b *fakeBackend) ConnSlots() int     { return b.slots }
func (b *fakeBackend) ServerUp(name string) (bool, bool) {
	up, ok := b.servers[name]
	return up, ok
}

// fakeEnv resolves backends by name.
type fakeEnv map[string]*fakeBackend

func (e fakeEnv) Backend(name string) Backend {
	if b, ok := e[name]; ok {
		return b
	}
	return nil
}

// counter is a frontend as fetches see it.
type counter struct {
	name string
	conn int
}

func (c counter) Name() string { return c.name }
func (c counter) Conn() int    { return c.conn }

const prelude = `defaults
    mode tcp
    timeout client 1s
    timeout server 1s
    timeout connect 1s
`

// testEnv is the environment of the tests' backends.
func testEnv() fakeEnv {
	return fakeEnv{
		"be_web": {name: "be_web", conn: 3, usable: 2, slots: 10, servers: map[string]bool{"w1": true, "w2": false}},
		"be_api": {name: "be_api", conn: 1, usable: 0, slots: -1, servers: map[string]bool{"a1": false}},
	}
}

// backends are the backend sections every test configuration ends with.
const backends = `
backend be_web
    server w1 127.0.0.1:1
    server w2 127.0.0.1:2
backend be_api
    server a1 127.0.0.1:3
`

// loadCfg loads a configuration text (prelude and backends added) with
// testdata/ as the current directory for pattern files.
func loadCfg(t testing.TB, text string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "t.cfg")
	abs, _ := filepath.Abs("testdata")
	text = strings.ReplaceAll(prelude+text+backends, "testdata/", abs+"/")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load([]string{path}, config.Options{SkipFDCheck: true})
	for _, d := range diags {
		if d.Severity == config.Alert {
			t.Fatalf("Load: %v", d)
		}
	}
	return cfg
}

// compileProxy loads text and compiles the proxy called name.
func compileProxy(t testing.TB, text, name string) *Proxy {
	t.Helper()
	cfg := loadCfg(t, text)
	var px *config.Proxy
	for _, p := range cfg.Proxies {
		if p.Name == name {
			px = p
		}
	}
	p, errs := Compile(cfg, px, testEnv(), Options{Getenv: func(n string) (string, bool) {
		if n == "LB_TEST" {
			return "hello", true
		}
		return "", false
	}})
	if len(errs) > 0 {
		t.Fatalf("Compile: %v", errs)
	}
	return p
}

// newStream is a stream from 10.1.2.3:40000 to 192.0.2.1:443.
func newStream() *Stream {
	return &Stream{
		Src:      netip.MustParseAddrPort("10.1.2.3:40000"),
		Dst:      netip.MustParseAddrPort("192.0.2.1:443"),
		BindName: "tls",
		Frontend: counter{"fe", 7},
	}
}

// clientHello returns the first record a crypto/tls client sends.
func clientHello(t testing.TB, sni string, alpn ...string) []byte {
	t.Helper()
	c, s := net.Pipe()
	defer s.Close()
	go func() {
		tc := tls.Client(c, &tls.Config{ServerName: sni, NextProtos: alpn, InsecureSkipVerify: true})
		tc.Handshake() // fails when s closes
		c.Close()
	}()
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(s, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(s, body); err != nil {
		t.Fatal(err)
	}
	return append(hdr, body...)
}
