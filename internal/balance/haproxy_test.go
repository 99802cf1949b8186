package balance

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lb/internal/lbtest"
)

// This file checks the hash-based algorithms against the real HAProxy: it
// starts haproxy on loopback in front of tiny HTTP servers that answer
// their own name, sends a few hundred keys to each backend and asserts
// that Pick chooses the server HAProxy chose for every key.

// hapServer is one "server" line of a test backend. Its name is also the
// name of the Go listener it points to, which answers with that name.
type hapServer struct {
	name     string
	weight   int
	id       int // explicit "id", 0 for HAProxy's automatic one
	backup   bool
	disabled bool // "disabled": in maintenance from the start
}

// hapKind says which part of a request carries the key.
type hapKind int

const (
	kindURI hapKind = iota
	kindParam
	kindHeader
	kindSource
	kindPost // a POST to /post whose body holds the parameter
)

// hapCase is one frontend/backend pair of the HAProxy configuration.
type hapCase struct {
	name       string
	balance    string // the balance line's arguments
	hashType   string // "" for no hash-type line (HAProxy's default)
	allBackups bool
	servers    []hapServer
	kind       hapKind
	// keys returns the request keys: URIs, header values or client
	// addresses (as strings).
	keys func() []string
	// fallback marks a case whose requests carry no key: the sequence of
	// round-robin picks must match too.
	fallback bool
}

// weighted is five active servers of different weights.
var weighted = []hapServer{
	{name: "s1", weight: 1}, {name: "s2", weight: 3}, {name: "s3", weight: 2},
	{name: "s4", weight: 5}, {name: "s5", weight: 1},
}

// uriKeys returns n request URIs of assorted shapes: directories, query
// strings, parameters named id (first, later, empty, absent, decoys).
func uriKeys(n int) []string {
	words := []string{"img", "static", "api", "v1", "users", "a", "B", "x-y", "z.z", "%41", "index.html", "~me"}
	var keys []string
	for i := range n {
		w := func(k int) string { return words[(i*k+k*k)%len(words)] }
		var u string
		switch i % 6 {
		case 0:
			u = fmt.Sprintf("/%s/%s/%d", w(3), w(5), i)
		case 1:
			u = fmt.Sprintf("/%s/%d?id=%d&x=%s", w(7), i%17, i*7919%1000, w(2))
		case 2:
			u = fmt.Sprintf("/%s?x=1&id=%s%d&y=2", w(11), w(13), i)
		case 3:
			u = fmt.Sprintf("/%s/%s/%s/%d?xid=3&ids=4&id=", w(1), w(2), w(3), i)
		case 4:
			u = fmt.Sprintf("/p%d?q=%d&idx=%d", i, i, i) // no id parameter
		case 5:
			u = fmt.Sprintf("/%s%d/%s/", w(17), i, w(19))
		}
		keys = append(keys, u)
	}
	return keys
}

// absKeys mixes absolute URIs (scheme and authority, with or without a
// path) with origin-form ones, for path-only.
func absKeys(n int) []string {
	var keys []string
	for i := range n {
		switch i % 4 {
		case 0:
			keys = append(keys, fmt.Sprintf("http://h%d.example:80/dir%d/f%d?q=%d", i%7, i%5, i, i))
		case 1:
			keys = append(keys, fmt.Sprintf("https://user@h%d.example/d/%d", i%3, i))
		case 2:
			keys = append(keys, fmt.Sprintf("http://h%d.example", i))
		case 3:
			keys = append(keys, fmt.Sprintf("/dir%d/f%d?q=%d", i%5, i, i))
		}
	}
	return keys
}

// headerKeys returns header values: plain tokens, lists (only the first
// element counts), quoted commas and blanks.
func headerKeys(n int) []string {
	var keys []string
	for i := range n {
		switch i % 5 {
		case 0:
			keys = append(keys, fmt.Sprintf("user-%d", i))
		case 1:
			keys = append(keys, fmt.Sprintf("k%d, other%d", i, i))
		case 2:
			keys = append(keys, fmt.Sprintf(`"q,%d", z`, i))
		case 3:
			keys = append(keys, fmt.Sprintf("%d", i*2654435761%100000))
		case 4:
			keys = append(keys, fmt.Sprintf("a b %d ,c", i))
		}
	}
	return keys
}

// hostKeys returns Host-like values for use_domain_only.
func hostKeys(n int) []string {
	var keys []string
	for i := range n {
		switch i % 4 {
		case 0:
			keys = append(keys, fmt.Sprintf("www.site%d.example.com", i))
		case 1:
			keys = append(keys, fmt.Sprintf("site%d.org", i))
		case 2:
			keys = append(keys, fmt.Sprintf("localhost%d", i))
		case 3:
			keys = append(keys, fmt.Sprintf("a.b%d.c%d:8080", i, i))
		}
	}
	return keys
}

// postKeys returns POST bodies for url_param check_post: the parameter
// first, later, empty, starting with a blank or a non-token character, or
// absent.
func postKeys(n int) []string {
	var keys []string
	for i := range n {
		switch i % 6 {
		case 0:
			keys = append(keys, fmt.Sprintf("id=%d&x=1", i*7919))
		case 1:
			keys = append(keys, fmt.Sprintf("a=%d&id=v%d", i, i))
		case 2:
			keys = append(keys, fmt.Sprintf("id= x%d", i))
		case 3:
			keys = append(keys, fmt.Sprintf("xid=1&id=/p%d", i)) // not a token: no key
		case 4:
			keys = append(keys, fmt.Sprintf("id=%%41%d*", i))
		case 5:
			keys = append(keys, fmt.Sprintf("idx=%d", i))
		}
	}
	return keys
}

// sourceKeys returns client addresses spread over 127.0.0.0/8.
func sourceKeys(n int) []string {
	var keys []string
	for i := range n {
		keys = append(keys, fmt.Sprintf("127.%d.%d.%d", i*37%256, i*91%256, 1+i*13%250))
	}
	return keys
}

func hapCases() []hapCase {
	const n = 300
	uris := func() []string { return uriKeys(n) }
	hdrs := func() []string { return headerKeys(n) }
	srcs := func() []string { return sourceKeys(n) }
	withIDs := []hapServer{
		{name: "s1", weight: 2, id: 3}, {name: "s2", weight: 1}, {name: "s3", weight: 4},
		{name: "s4", weight: 1, id: 1}, {name: "s5", weight: 3, id: 40},
	}
	someDown := []hapServer{
		{name: "s1", weight: 6, disabled: true}, {name: "s2", weight: 4}, {name: "s3", weight: 8},
		{name: "s4", weight: 2, disabled: true}, {name: "s5", weight: 12},
	}
	backups := []hapServer{
		{name: "s1", weight: 1, disabled: true}, {name: "s2", weight: 1, disabled: true},
		{name: "b1", weight: 2, backup: true}, {name: "b2", weight: 3, backup: true},
		{name: "s3", weight: 1, backup: true, disabled: true}, {name: "s4", weight: 4, backup: true},
	}
	return []hapCase{
		{name: "uri default", balance: "uri", servers: weighted, kind: kindURI, keys: uris},
		{name: "uri map sdbm", balance: "uri", hashType: "map-based sdbm", servers: withIDs, kind: kindURI, keys: uris},
		{name: "uri consistent", balance: "uri", hashType: "consistent", servers: weighted, kind: kindURI, keys: uris},
		{name: "uri consistent ids", balance: "uri", hashType: "consistent", servers: withIDs, kind: kindURI, keys: uris},
		{name: "uri depth djb2 avalanche", balance: "uri depth 2", hashType: "consistent djb2 avalanche", servers: weighted, kind: kindURI, keys: uris},
		{name: "uri len whole wt6", balance: "uri len 12 whole", hashType: "map-based wt6", servers: weighted, kind: kindURI, keys: uris},
		{name: "uri whole crc32", balance: "uri whole", hashType: "consistent crc32", servers: weighted, kind: kindURI, keys: uris},
		{name: "uri path-only", balance: "uri path-only", hashType: "map-based", servers: weighted, kind: kindURI,
			keys: func() []string { return absKeys(n) }},
		{name: "uri path-only consistent", balance: "uri path-only whole", hashType: "consistent sdbm avalanche", servers: withIDs, kind: kindURI,
			keys: func() []string { return absKeys(n) }},
		{name: "url_param map", balance: "url_param id", servers: weighted, kind: kindParam, keys: uris},
		{name: "url_param consistent wt6", balance: "url_param id", hashType: "consistent wt6", servers: withIDs, kind: kindParam, keys: uris},
		{name: "hdr map", balance: "hdr(X-Key)", servers: weighted, kind: kindHeader, keys: hdrs},
		{name: "hdr consistent crc32 avalanche", balance: "hdr(X-Key)", hashType: "consistent crc32 avalanche", servers: weighted, kind: kindHeader, keys: hdrs},
		{name: "hdr use_domain_only", balance: "hdr(X-Key) use_domain_only", hashType: "map-based djb2", servers: weighted, kind: kindHeader,
			keys: func() []string { return hostKeys(n) }},
		{name: "source map", balance: "source", servers: weighted, kind: kindSource, keys: srcs},
		{name: "source map avalanche", balance: "source", hashType: "map-based sdbm avalanche", servers: withIDs, kind: kindSource, keys: srcs},
		{name: "source consistent", balance: "source", hashType: "consistent", servers: withIDs, kind: kindSource, keys: srcs},
		{name: "source consistent avalanche", balance: "source", hashType: "consistent djb2 avalanche", servers: weighted, kind: kindSource, keys: srcs},
		{name: "map gcd with down servers", balance: "uri", servers: someDown, kind: kindURI, keys: uris},
		{name: "consistent down servers", balance: "uri", hashType: "consistent", servers: someDown, kind: kindURI, keys: uris},
		{name: "map first backup", balance: "uri", servers: backups, kind: kindURI, keys: uris},
		{name: "map allbackups", balance: "uri", allBackups: true, servers: backups, kind: kindURI, keys: uris},
		{name: "consistent first backup", balance: "url_param id", hashType: "consistent", servers: backups, kind: kindParam, keys: uris},
		{name: "consistent allbackups", balance: "hdr(X-Key)", hashType: "consistent", allBackups: true, servers: backups, kind: kindHeader, keys: hdrs},
		{name: "uri depth len crc32 avalanche", balance: "uri depth 1 len 9", hashType: "map-based crc32 avalanche", servers: withIDs, kind: kindURI, keys: uris},
		{name: "url_param post", balance: "url_param id check_post", servers: weighted, kind: kindPost,
			keys: func() []string { return postKeys(n) }},
		{name: "url_param map first backup", balance: "url_param id", servers: backups, kind: kindParam, keys: uris},
		{name: "hdr map first backup", balance: "hdr(X-Key)", servers: backups, kind: kindHeader, keys: hdrs},
		{name: "source map first backup", balance: "source", hashType: "map-based wt6", servers: backups, kind: kindSource, keys: srcs},
		{name: "map fallback", balance: "url_param id", servers: weighted, kind: kindParam, fallback: true,
			keys: func() []string { return []string{"/a", "/b?x=1", "/c?idx=2", "/d?ID=3"} }},
		{name: "consistent fallback", balance: "hdr(X-Key)", hashType: "consistent", servers: withIDs, kind: kindHeader, fallback: true,
			keys: func() []string { return []string{"", ",x", " , y"} }},
	}
}

// servers returns the balance view of c's servers: HAProxy's ids, weights
// (0 while down, as the proxy reports them) and states.
func (c *hapCase) balanceServers() []Server {
	explicit := make([]int, len(c.servers))
	for i, s := range c.servers {
		explicit[i] = s.id
	}
	ids := ServerIDs(explicit)
	srvs := make([]Server, len(c.servers))
	for i, s := range c.servers {
		w := s.weight
		if s.disabled {
			w = 0
		}
		srvs[i] = Server{ID: ids[i], Weight: w, ConfWeight: s.weight, Backup: s.backup, Usable: !s.disabled}
	}
	return srvs
}

// key derives the Pick key of one request the way the HTTP handler does.
func (c *hapCase) key(t *testing.T, k string, ht HashType) uint64 {
	t.Helper()
	args := strings.Fields(c.balance)
	switch c.kind {
	case kindURI:
		o, err := ParseURIOptions(args[1:])
		if err != nil {
			t.Fatal(err)
		}
		return Key(HashURI([]byte(k), o, ht.Func))
	case kindParam:
		return Key(HashParam([]byte(k), args[1], ht.Func))
	case kindPost:
		// assign_server looks in the body when the query has no parameter.
		if key := Key(HashParam([]byte("/post"), args[1], ht.Func)); key != 0 {
			return key
		}
		return Key(HashParamBody([]byte(k), args[1], ht.Func))
	case kindHeader:
		return Key(HashHeader([]byte(k), len(args) > 1 && args[1] == "use_domain_only", ht.Func))
	case kindSource:
		return HashAddr(netip.MustParseAddr(k))
	}
	panic("unknown kind")
}

// findHAProxy returns the haproxy binary, or "" when there is none.
func findHAProxy() string {
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy"
	}
	return ""
}

// startNamed starts one HTTP listener per name on 127.0.0.1, each
// answering its own name, and returns their addresses.
func startNamed(t *testing.T, names []string) map[string]string {
	t.Helper()
	addrs := make(map[string]string)
	for _, name := range names {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, name)
		}), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		addrs[name] = ln.Addr().String()
	}
	return addrs
}

// freePorts returns n distinct loopback ports, reserved for the whole test
// (lbtest.ReservePort).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = lbtest.ReservePort(t)
	}
	return ports
}

// startHAProxy runs haproxy in the foreground on cfg and waits until every
// port accepts connections. The process is stopped by its pid at cleanup.
func startHAProxy(t *testing.T, bin, cfg string, ports []int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-q", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s\n%s", err, out, cfg)
	}
	var stderr strings.Builder
	cmd := exec.Command(bin, "-db", "-f", path)
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range ports {
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-exited:
				t.Fatalf("haproxy exited: %v\n%s", err, stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("haproxy port %d not ready: %v\n%s", p, err, stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// ask sends one request to port and returns the name of the server that
// answered. uri, header (X-Key) and the client's source address come from
// the case's kind.
func ask(port int, kind hapKind, k string) (string, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	method, uri, hdr, host, body := "GET", "/", "", "test", ""
	switch kind {
	case kindPost:
		method, uri, body = "POST", "/post", k
		hdr = fmt.Sprintf("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n", len(k))
	case kindURI, kindParam:
		uri = k
		// HAProxy refuses an absolute URI whose authority is not the Host.
		if _, rest, ok := strings.Cut(k, "://"); ok {
			host, _, _ = strings.Cut(rest, "/")
			if _, h, ok := strings.Cut(host, "@"); ok {
				host = h
			}
		}
	case kindHeader:
		hdr = "X-Key: " + k + "\r\n"
	case kindSource:
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(k)}
	}
	c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n%s", method, uri, host, hdr, body); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %q", resp.StatusCode, got)
	}
	return string(got), nil
}

// TestMatchesHAProxy runs every case of hapCases through HAProxy 2.6 and
// through Pick, and requires the same server for every key.
func TestMatchesHAProxy(t *testing.T) {
	bin := findHAProxy()
	if bin == "" {
		t.Skip("haproxy is not installed: cannot compare with HAProxy")
	}
	if testing.Short() {
		t.Skip("starts haproxy and sends thousands of requests")
	}
	if out, err := exec.Command(bin, "-v").Output(); err != nil || !strings.Contains(string(out), "version 2.6") {
		t.Skipf("the placement is HAProxy 2.6's; %s -v says %q (%v)", bin, strings.SplitN(string(out), "\n", 2)[0], err)
	}
	cases := hapCases()
	addrs := startNamed(t, []string{"s1", "s2", "s3", "s4", "s5", "b1", "b2"})

	var cfg strings.Builder
	// nbthread 1 keeps the round-robin walks in request order;
	// noreuseport makes a port taken meanwhile fail the start instead of
	// sharing its connections.
	cfg.WriteString("global\n\tnbthread 1\n\tnoreuseport\n\ndefaults\n\tmode http\n\ttimeout connect 5s\n\ttimeout client 10s\n\ttimeout server 10s\n")
	ports := freePorts(t, len(cases))
	for i, c := range cases {
		fmt.Fprintf(&cfg, "\nfrontend fe%d\n\tbind 127.0.0.1:%d\n\tdefault_backend be%d\n", i, ports[i], i)
		fmt.Fprintf(&cfg, "\nbackend be%d\n\tbalance %s\n", i, c.balance)
		if c.hashType != "" {
			fmt.Fprintf(&cfg, "\thash-type %s\n", c.hashType)
		}
		if c.allBackups {
			cfg.WriteString("\toption allbackups\n")
		}
		for _, s := range c.servers {
			fmt.Fprintf(&cfg, "\tserver %s %s weight %d", s.name, addrs[s.name], s.weight)
			if s.id != 0 {
				fmt.Fprintf(&cfg, " id %d", s.id)
			}
			if s.backup {
				cfg.WriteString(" backup")
			}
			if s.disabled {
				cfg.WriteString(" disabled")
			}
			cfg.WriteString("\n")
		}
	}
	startHAProxy(t, bin, cfg.String(), ports)

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ht, err := ParseHashType(c.hashType)
			if err != nil {
				t.Fatal(err)
			}
			algo := mustNew(t, strings.Fields(c.balance)[0], Options{HashType: ht, AllBackups: c.allBackups})
			srvs := c.balanceServers()
			keys := c.keys()
			if c.fallback {
				// The round-robin walk is per backend state: go through
				// the keys several times in the same order on both sides.
				keys = append(append(append([]string(nil), keys...), keys...), keys...)
				keys = append(keys, keys...)
			}
			compared, mismatches := 0, 0
			for _, k := range keys {
				key := c.key(t, k, ht)
				if key == 0 && !c.fallback {
					continue // no key: round robin, whose state the hashed requests do not share
				}
				if key != 0 && c.fallback {
					t.Fatalf("fallback case has a key for %q", k)
				}
				got, err := ask(ports[i], c.kind, k)
				if err != nil {
					t.Fatalf("request %q: %v", k, err)
				}
				idx := algo.Pick(srvs, key)
				want := "none"
				if idx >= 0 {
					want = c.servers[idx].name
				}
				compared++
				if got != want {
					mismatches++
					if mismatches <= 10 {
						t.Errorf("key %q (hash %#08x): HAProxy picked %s, Pick %s", k, uint32(key), got, want)
					}
				}
			}
			t.Logf("%d keys compared with HAProxy", compared)
			if mismatches > 0 {
				t.Errorf("%d of %d keys differ from HAProxy", mismatches, compared)
			}
			if compared < len(keys)/2 {
				t.Errorf("only %d of %d keys compared", compared, len(keys))
			}
		})
	}
}
