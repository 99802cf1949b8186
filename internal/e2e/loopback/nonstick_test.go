package loopback

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestNonStickAsHAProxy: the stick rules store nothing for a "non-stick"
// server, so its clients stay balanced, while those of the other server
// stick to it; "stick" on the server line undoes a default-server's
// "non-stick". Which server answers each request, and the table, are
// haproxy's.
func TestNonStickAsHAProxy(t *testing.T) {
	hap := haproxyBin(t)
	a := startHTTPServer(t, "a", nil)
	b := startHTTPServer(t, "b", nil)
	c := startHTTPServer(t, "c", nil)
	dir := t.TempDir()
	entry := regexp.MustCompile(`(?m)^0x[0-9a-f]+: (key=\S+) use=\d+ exp=\d+ (.*)$`)
	got := map[string][]string{}
	for _, name := range []string{"haproxy", "lb"} {
		sock := filepath.Join(dir, name+".sock")
		port := freePort(t)
		cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %s level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    default_backend be
backend be
    default-server non-stick
    stick-table type string len 32 size 1k
    stick on path
    server s1 %s
    server s2 %s stick
    server s3 %s
`, sock, port, a.addr(), b.addr(), c.addr()))
		startNamed(t, name, hap, cfg, sock)
		cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		var served []string
		for _, p := range []string{"/x", "/y", "/z", "/x", "/y", "/z", "/w"} {
			body := httpGetBodyWith(t, cl, fmt.Sprintf("http://127.0.0.1:%d%s", port, p))
			served = append(served, p+"="+strings.Fields(body)[0])
		}
		got[name] = append(got[name], strings.Join(served, " "))
		table := adminCommand(t, sock, "show table be")
		for _, m := range entry.FindAllStringSubmatch(table, -1) {
			got[name] = append(got[name], m[1]+" "+m[2])
		}
	}
	// Only s2 sticks: /y, then /x (s2's turn in the second round).
	if n := len(got["lb"]) - 1; n != 2 || !strings.Contains(strings.Join(got["lb"], " "), "server_key=s2") {
		t.Errorf("lb: %d table entries in %q; want two, of s2", n, got["lb"])
	}
	if !slices.Equal(got["lb"], got["haproxy"]) {
		t.Errorf("lb and haproxy differ:\n  lb:      %q\n  haproxy: %q", got["lb"], got["haproxy"])
	}
}
