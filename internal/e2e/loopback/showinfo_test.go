package loopback

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// "show info" in its three forms and the columns "show stat" fills, on lb and HAProxy 2.6
// with the same configuration and the same traffic: the same fields in the same order,
// with the same positions, tags and types, and the same values but where they must differ.

// infoMasked are the "show info" fields whose values differ between lb and HAProxy by
// nature: the product, the process, the limits lb derives with its own reserve of
// descriptors, what HAProxy counts beside the traffic (its checks' connections, its
// memory pools, its tasks), the rates and what depends on when each was asked.
var infoMasked = map[string]bool{
	"Name": true, "Version": true, "Release_date": true, "Build info": true,
	"Pid": true, "Uptime": true, "Uptime_sec": true, "Start_time_sec": true,
	"Maxsock": true, "Maxconn": true, "Hard_maxconn": true,
	"CumConns": true, "CumReq": true, "Jobs": true,
	"PoolAlloc_MB": true, "PoolUsed_MB": true, "PoolAlloc_bytes": true, "PoolUsed_bytes": true,
	"Tasks": true, "Run_queue": true, "Idle_pct": true,
	"ConnRate": true, "MaxConnRate": true, "SessRate": true, "MaxSessRate": true,
	"TotalBytesOut": true, "BytesOutRate": true,
}

// statEmptyRacy are columns HAProxy fills or not depending on when it is asked: a
// server's check_duration is empty while a check runs.
var statEmptyRacy = map[string]bool{"check_duration": true}

// showInfoConfig has a frontend fe to a backend be of two checked servers, a mode tcp
// listen section li, and an admin stats socket.
func showInfoConfig(t *testing.T, dir, s1, s2 string) (cfg, fe, li string) {
	fe, li = fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg = writeConfig(t, fmt.Sprintf(`global
    stats socket %[1]s/admin.sock level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind %[2]s
    default_backend be
backend be
    server s1 %[4]s check inter 200ms
    server s2 %[5]s check inter 200ms
listen li
    bind %[3]s
    server t1 %[4]s check inter 200ms
`, dir, fe, li, s1, s2))
	return cfg, fe, li
}

// TestShowInfoAndStatColumns: "show info", "show info typed" and "show info json" have
// HAProxy's fields, in its order, with its positions, tags and types and, but for
// infoMasked, its values; "show stat" fills the columns HAProxy fills, and only those.
func TestShowInfoAndStatColumns(t *testing.T) {
	dir := t.TempDir()
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	cfg, fe, li := showInfoConfig(t, dir, s1.addr(), s2.addr())
	cmds := []string{"show info", "show info typed", "show info json", "show stat"}
	replies := map[string][]string{}
	onLBAndHAProxy(t, cfg, fe, func(t *testing.T, out *outFile) {
		sock := filepath.Join(dir, "admin.sock")
		waitSock(t, sock)
		engine := t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]
		if engine == "lb" {
			// HAProxy's start was awaited with a connection through fe: one for lb too.
			if _, err := askName(fe); err != nil {
				t.Fatal(err)
			}
		}
		for _, a := range []string{fe, fe, li, li} {
			if _, err := askName(a); err != nil {
				t.Fatal(err)
			}
		}
		waitStatIdle(t, sock)
		for _, c := range cmds {
			replies[engine] = append(replies[engine], adminCommand(t, sock, c))
		}
	})
	lb, hap := replies["lb"], replies["haproxy"]
	if len(lb) != len(cmds) || len(hap) != len(cmds) {
		t.Skip("no HAProxy to compare with")
	}
	compareInfoPlain(t, lb[0], hap[0])
	compareInfoTyped(t, lb[1], hap[1])
	compareInfoJSON(t, lb[2], hap[2])
	if n := compareStatFilled(t, lb[3], hap[3]); n != 7 {
		t.Errorf("show stat: %d lines compared; want 7", n)
	}
}

// waitStatIdle waits until no session is open on any line of "show stat".
func waitStatIdle(t *testing.T, sock string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		idle := true
		for _, l := range strings.Split(adminCommand(t, sock, "show stat"), "\n")[1:] {
			if f := strings.Split(l, ","); len(f) > 4 && f[4] != "0" {
				idle = false
			}
		}
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("sessions still open")
		}
	}
}

func compareInfoPlain(t *testing.T, lb, hap string) {
	t.Helper()
	if !strings.HasSuffix(lb, "\n\n") || strings.HasSuffix(lb, "\n\n\n") {
		t.Errorf("show info: not ended by one empty line: %q", lb[max(0, len(lb)-20):])
	}
	mask := func(s string) (out []string) {
		for _, l := range strings.Split(strings.TrimSuffix(s, "\n\n"), "\n") {
			name, _, _ := strings.Cut(l, ": ")
			if infoMasked[name] {
				l = name + ": *"
			}
			out = append(out, l)
		}
		return out
	}
	if l, h := mask(lb), mask(hap); !slices.Equal(l, h) {
		t.Errorf("show info = %q;\nhaproxy %q", l, h)
	}
}

func compareInfoTyped(t *testing.T, lb, hap string) {
	t.Helper()
	if !strings.HasSuffix(lb, "\n\n") || strings.HasSuffix(lb, "\n\n\n") {
		t.Errorf("show info typed: not ended by one empty line: %q", lb[max(0, len(lb)-20):])
	}
	// "pos.name.1:tags:type:value"
	mask := func(s string) (out []string) {
		for _, l := range strings.Split(strings.TrimSuffix(s, "\n\n"), "\n") {
			f := strings.SplitN(l, ":", 4)
			if len(f) == 4 {
				name := strings.TrimSuffix(f[0][strings.IndexByte(f[0], '.')+1:], ".1")
				if infoMasked[name] {
					f[3] = "*"
				}
			}
			out = append(out, strings.Join(f, ":"))
		}
		return out
	}
	if l, h := mask(lb), mask(hap); !slices.Equal(l, h) {
		t.Errorf("show info typed = %q;\nhaproxy %q", l, h)
	}
}

func compareInfoJSON(t *testing.T, lb, hap string) {
	t.Helper()
	type field struct {
		Field struct {
			Pos  int    `json:"pos"`
			Name string `json:"name"`
		} `json:"field"`
		ProcessNum int               `json:"processNum"`
		Tags       map[string]string `json:"tags"`
		Value      struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"value"`
	}
	read := func(engine, s string) []field {
		var fs []field
		if err := json.Unmarshal([]byte(s), &fs); err != nil {
			t.Fatalf("show info json: %s: %v", engine, err)
		}
		for i := range fs {
			if infoMasked[fs[i].Field.Name] {
				fs[i].Value.Value = json.RawMessage(`"*"`)
			}
		}
		return fs
	}
	l, h := read("lb", lb), read("haproxy", hap)
	if len(l) != len(h) {
		t.Errorf("show info json: %d fields; haproxy %d", len(l), len(h))
	}
	for i := range min(len(l), len(h)) {
		if g, w := fmt.Sprintf("%+v", l[i]), fmt.Sprintf("%+v", h[i]); g != w {
			t.Errorf("show info json: field %d = %s; haproxy %s", i, g, w)
		}
	}
	if !strings.HasSuffix(lb, "}]\n\n") {
		t.Errorf("show info json: ends with %q", lb[max(0, len(lb)-10):])
	}
}
