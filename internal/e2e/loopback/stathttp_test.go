package loopback

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The HTTP columns of "show stat" (hrsp_*, req_tot, intercepted, cache_*, comp_*) and
// the time averages (qtime … ttime_max) on lb and on HAProxy 2.6, with the same mode
// http traffic: the same values where both count the same events, the same columns
// filled.

// httpStatCols are the columns whose values lb and HAProxy must share after
// TestShowStatHTTP's traffic.
var httpStatCols = []string{"stot", "dreq", "ereq", "econ", "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx",
	"hrsp_5xx", "hrsp_other", "req_tot", "intercepted", "cache_lookups", "cache_hits", "comp_in", "comp_byp",
	"comp_rsp", "lbtot"}

// TestShowStatHTTP: answers of the frontend (monitor-uri, redirect, return, deny, a
// bad request), of the backend (return), of the server (2xx, 5xx, an interim 100, a
// compressed body, a slow one) and of the cache count as HAProxy counts them, in the
// frontend's, the backend's and the server's lines; the slow response shows in the
// response and total time maxima.
func TestShowStatHTTP(t *testing.T) {
	dir := t.TempDir()
	body := strings.Repeat("compress me please ", 200)
	app := startHTTPServer(t, "app", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		switch r.URL.Path {
		case "/a":
			io.WriteString(w, body)
		case "/500":
			w.WriteHeader(500)
		case "/c":
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "cached")
		case "/slow":
			time.Sleep(300 * time.Millisecond)
			io.WriteString(w, "slow")
		default:
			io.WriteString(w, "ok")
		}
	})
	fe := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s/admin.sock level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
cache c
    total-max-size 4
    max-age 60
frontend fe
    bind %[2]s
    monitor-uri /health
    http-request redirect location /elsewhere if { path /r }
    http-request deny if { path /d }
    http-request return status 200 content-type text/plain string ok if { path /ret }
    compression algo gzip
    compression type text/plain
    default_backend be
backend be
    http-request return status 404 content-type text/plain string nf if { path /nf }
    http-request cache-use c if { path /c }
    http-response cache-store c
    server s %[3]s
`, dir, fe, app.addr()))
	type result map[string]string
	got := map[string]result{}
	onLBAndHAProxy(t, cfg, fe, func(t *testing.T, _ *outFile) {
		sock := filepath.Join(dir, "admin.sock")
		waitSock(t, sock)
		engine := t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]
		if engine == "lb" {
			// HAProxy's start was awaited with a connection to fe: one for lb too.
			if c, err := net.Dial("tcp", fe); err == nil {
				c.Close()
			}
		}
		for _, p := range []string{"/health", "/r", "/d", "/ret", "/nf", "/500", "/c", "/c", "/slow", "/x"} {
			if st := statusDrained(t, fe, "GET "+p+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); st == 0 {
				t.Fatalf("GET %s: no response", p)
			}
		}
		if st := statusDrained(t, fe, "GET /a HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"); st != 200 {
			t.Fatalf("GET /a: %d", st)
		}
		expectContinue(t, fe)
		talk(t, fe, "GET\x01 / HTTP/1.1\r\n\r\n", false)
		waitStatIdle(t, sock)
		csv := adminCommand(t, sock, "show stat")
		res := result{}
		for line, v := range statFields(csv, httpStatCols...) {
			res[line] = v
		}
		times := statFields(csv, "rtime_max", "ttime_max")
		for _, line := range []string{"be/BACKEND", "be/s"} {
			var rt, tt int
			if _, err := fmt.Sscanf(times[line], "rtime_max=%d ttime_max=%d", &rt, &tt); err != nil {
				t.Fatalf("%s: %q: %v", line, times[line], err)
			}
			if rt < 300 || rt > 2000 || tt < rt {
				t.Errorf("%s: %s; want a response time maximum of the slow response's 300 ms", line, times[line])
			}
		}
		if out := statFields(csv, "comp_out")["fe/FRONTEND"]; out == "comp_out=0" || out == "comp_out=" {
			t.Errorf("fe/FRONTEND: %s; want what the compressor gave", out)
		}
		got[engine] = res
		// What is filled is HAProxy's: the whole export is kept to compare.
		res["csv"] = csv
	})
	lb, hap := got["lb"], got["haproxy"]
	if lb == nil || hap == nil {
		t.Skip("no HAProxy to compare with")
	}
	for line, h := range hap {
		if line == "csv" {
			continue
		}
		if lb[line] != h {
			t.Errorf("show stat %s:\n lb      %s\n haproxy %s", line, lb[line], h)
		}
	}
	compareStatFilled(t, lb["csv"], hap["csv"])
}

// statusDrained sends req on a new connection to addr and returns the status of the
// response (0: none), read to its end.
func statusDrained(t *testing.T, addr, req string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || len(line) < 12 {
		return 0
	}
	n, _ := strconv.Atoi(line[9:12])
	_, _ = io.Copy(io.Discard, c)
	return n
}

// expectContinue sends a request with "Expect: 100-continue", its body once the
// interim response came, and reads the final one.
func expectContinue(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("expect 100-continue: %q, %v", line, err)
	}
	for l := line; l != "\r\n"; {
		if l, err = br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	io.WriteString(c, "body")
	if line, err = br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("after 100-continue: %q, %v", line, err)
	}
	_, _ = io.Copy(io.Discard, br)
}

// h1Columns are the columns of HAProxy's H1 multiplexer: lb, which has no such
// layer, does not keep them (empty in mode http, 0 without HTTP as HAProxy's).
var h1Columns = []string{"h1_open_connections", "h1_open_streams", "h1_total_connections", "h1_total_streams",
	"h1_bytes_in", "h1_bytes_out", "h1_spliced_bytes_in", "h1_spliced_bytes_out"}

// compareStatFilled: lb's "show stat" fills the same columns of the same lines as
// HAProxy's (but for statEmptyRacy's), but for the h1Columns of mode http frontends and
// backends; it returns the number of lines compared.
func compareStatFilled(t *testing.T, lb, hap string) int {
	t.Helper()
	ll, hl := strings.Split(lb, "\n"), strings.Split(hap, "\n")
	if ll[0] != hl[0] {
		t.Fatalf("show stat header = %q;\nhaproxy %q", ll[0], hl[0])
	}
	names := strings.Split(strings.TrimPrefix(ll[0], "# "), ",")
	n := 0
	rows := map[string][]string{}
	for _, l := range ll[1:] {
		if f := strings.Split(l, ","); len(f) > 1 {
			rows[f[0]+"/"+f[1]] = f
		}
	}
	for _, l := range hl[1:] {
		h := strings.Split(l, ",")
		if len(h) < 2 {
			continue
		}
		f, ok := rows[h[0]+"/"+h[1]]
		if !ok || len(f) != len(h) {
			t.Errorf("show stat: lb's line %s/%s = %q; haproxy %q", h[0], h[1], f, h)
			continue
		}
		n++
		var empty, extra []string
		for k := range h {
			switch {
			case statEmptyRacy[names[k]]:
			case slices.Contains(h1Columns, names[k]) && f[k] == "" && (h[1] == "FRONTEND" || h[1] == "BACKEND"):
			case h[k] != "" && f[k] == "":
				empty = append(empty, names[k])
			case h[k] == "" && f[k] != "":
				extra = append(extra, names[k])
			}
		}
		if len(empty) > 0 || len(extra) > 0 {
			t.Errorf("show stat %s/%s: lb leaves empty %q and fills %q, unlike haproxy", h[0], h[1], empty, extra)
		}
	}
	return n
}
