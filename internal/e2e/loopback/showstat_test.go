package loopback

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// statForms are "show stat" command lines whose replies are compared with HAProxy's: exact
// ones byte for byte, the others field by field (lb fills fewer fields than HAProxy).
var statForms = []struct {
	sock, cmd string
	exact     bool
}{
	{"user", "show schema json", true},
	{"admin", "show stat domain dns", true},
	{"admin", "show stat domain", true},
	{"admin", "show stat typed be 4 -1", true},
	{"admin", "show stat nope -1 -1 json", true},
	{"admin", "show stat be x y typed", true},
	{"admin", "show stat typed", false},
	{"admin", "show stat json typed desc", true},
	{"admin", "show stat -1 -1 -1 json typed desc", false},
	{"admin", "show stat be 4 -1 typed", false},
	{"admin", "show stat domain proxy -1 4 2 typed desc up", false},
	{"user", "show stat typed", false},
	{"admin", "show stat json", false},
	{"admin", "show stat typed json", false},
	{"admin", "show stat 3 -1 -1 json desc", false},
	{"user", "show stat json", false},
	{"admin", "show stat", false},
	{"user", "show stat", false},
	{"admin", "show stat desc no-maint", false},
}

// TestShowStatForms: "show stat" in its typed, json and desc forms, with filters and
// options, and "show schema json", on lb and HAProxy 2.6. Every line and field lb prints
// is HAProxy's, at the same place, with the same tags, type, description and value; and
// lb prints every object HAProxy prints.
func TestShowStatForms(t *testing.T) {
	dir := t.TempDir()
	s1, s2 := startNameServer(t, "s1"), startNameServer(t, "s2")
	cfg, addr := runtimeConfig(t, dir, s1.addr(), s2.addr())
	replies := map[string][]string{}
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		waitSock(t, filepath.Join(dir, "user.sock"))
		engine := t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]
		if engine == "lb" {
			// HAProxy's start was awaited with a connection through fe: one for lb too.
			if _, err := askName(addr); err != nil {
				t.Fatal(err)
			}
		}
		// Ask once that connection is over, counted in fe.
		deadline := time.Now().Add(5 * time.Second)
		over := func() bool {
			for _, l := range strings.Split(adminCommand(t, filepath.Join(dir, "admin.sock"), "show stat"), "\n")[1:] {
				if f := strings.Split(l, ","); len(f) > 7 && (f[4] != "0" || f[0] == "fe" && f[1] == "FRONTEND" && f[7] != "1") {
					return false
				}
			}
			return true
		}
		for !over() {
			if time.Now().After(deadline) {
				t.Fatal("the first connection is not over")
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, c := range statForms {
			replies[engine] = append(replies[engine], adminCommand(t, filepath.Join(dir, c.sock+".sock"), c.cmd))
		}
	})
	lb, hap := replies["lb"], replies["haproxy"]
	if len(lb) != len(statForms) || len(hap) != len(statForms) {
		t.Skip("no HAProxy to compare with")
	}
	for i, c := range statForms {
		l, h := maskVolatile(lb[i]), maskVolatile(hap[i])
		switch {
		case c.exact:
			if l != h {
				t.Errorf("%s: %s = %q; haproxy %q", c.sock, c.cmd, trunc(l), trunc(h))
			}
		case strings.HasPrefix(l, "["):
			compareStatJSON(t, c.sock+": "+c.cmd, l, h)
		case strings.HasPrefix(l, "#"):
			compareStatCSV(t, c.sock+": "+c.cmd, l, h)
		default:
			compareStatTyped(t, c.sock+": "+c.cmd, l, h)
		}
	}
}

// volatile are the fields whose values depend on when each engine was asked: the rates and
// their maxima over the last seconds, and the bytes of the connection through which the harness saw
// HAProxy ready (it closes without reading the answer, which may or may not be counted, and
// may reset the connection: a client abort; it may still be open when the next one comes,
// two sessions at once); and
// slim, derived from the process's maxconn, which lb derives from the limit of open files
// with its own reserve; the seconds since a state change, since the last session (lb
// dates it within a second) and spent down, and the last
// check's duration and whether one runs ("* " before check_status); the time averages and
// maxima, in milliseconds, which a session may or may not reach; and the estimated need of
// connections, which lb takes over the last one to two seconds and HAProxy halves at every
// pool purge.
var (
	volatileTyped = regexp.MustCompile(`(\.(?:smax|rate|conn_rate|req_rate|rate_max|conn_rate_max|req_rate_max|bin|bout|cli_abrt|lastsess|slim|lastchg|downtime|check_duration|[qcrt]time|[qcrt]time_max|need_conn_est)\.1:...:[us]\d\d:)-?\d+`)
	volatileJSON  = regexp.MustCompile(`("name":"(?:smax|rate|conn_rate|req_rate|rate_max|conn_rate_max|req_rate_max|bin|bout|cli_abrt|lastsess|slim|lastchg|downtime|check_duration|[qcrt]time|[qcrt]time_max|need_conn_est)"\},[^}]*\},"value":\{"type":"[us]\d\d","value":)-?\d+`)
	checkRunning  = regexp.MustCompile(`\* (L[4-7][A-Z]+|INI|SOCKERR)`)
)

func maskVolatile(s string) string {
	if strings.HasPrefix(s, "#") {
		s = checkRunning.ReplaceAllString(s, "$1")
		lines := strings.Split(s, "\n")
		for i := 1; i < len(lines); i++ {
			f := strings.Split(lines[i], ",")
			for _, k := range []int{5, 6, 8, 9, 23, 24, 33, 35, 38, 46, 47, 49, 55, 58, 59, 60, 61, 77, 78, 90, 91, 92, 93, 98} {
				if k < len(f) && f[k] != "" {
					f[k] = "R"
				}
			}
			lines[i] = strings.Join(f, ",")
		}
		return strings.Join(lines, "\n")
	}
	s = checkRunning.ReplaceAllString(s, "$1")
	return volatileJSON.ReplaceAllString(volatileTyped.ReplaceAllString(s, "${1}R"), `${1}"R"`)
}

func trunc(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// compareStatTyped: lb's lines are a subsequence of HAProxy's, with the same objects.
func compareStatTyped(t *testing.T, cmd, lb, hap string) {
	t.Helper()
	if !strings.HasSuffix(lb, "\n\n") || !strings.HasSuffix(hap, "\n\n") {
		t.Errorf("%s: reply not ended by an empty line: lb %q", cmd, trunc(lb))
	}
	objects := func(s string) (out []string) {
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, ".1.svname.1:") {
				out = append(out, l)
			}
		}
		return out
	}
	if lo, ho := objects(lb), objects(hap); strings.Join(lo, "\n") != strings.Join(ho, "\n") {
		t.Errorf("%s: objects %q; haproxy %q", cmd, lo, ho)
	}
	hl := strings.Split(hap, "\n")
	j, n := 0, 0
	for _, l := range strings.Split(strings.TrimSuffix(lb, "\n\n"), "\n") {
		for j < len(hl) && hl[j] != l {
			j++
		}
		if j == len(hl) {
			near := ""
			if k := strings.Index(hap, l[:strings.IndexByte(l, ':')+1]); k >= 0 {
				near, _, _ = strings.Cut(hap[k:], "\n")
			}
			t.Errorf("%s: lb's line %q is not HAProxy's, or not in its order (HAProxy's: %q)", cmd, l, near)
			return
		}
		n++
	}
	if n < 10 {
		t.Errorf("%s: only %d lines from lb", cmd, n)
	}
}

// compareStatJSON: the same lines, and each field lb prints is HAProxy's field object.
func compareStatJSON(t *testing.T, cmd, lb, hap string) {
	t.Helper()
	var l, h [][]json.RawMessage
	if err := json.Unmarshal([]byte(lb), &l); err != nil {
		t.Fatalf("%s: lb: %v", cmd, err)
	}
	if err := json.Unmarshal([]byte(hap), &h); err != nil {
		t.Fatalf("%s: haproxy: %v", cmd, err)
	}
	if len(l) != len(h) {
		t.Errorf("%s: %d lines; haproxy %d", cmd, len(l), len(h))
		return
	}
	for i := range l {
		have := map[string]bool{}
		for _, f := range h[i] {
			have[string(f)] = true
		}
		for _, f := range l[i] {
			if !have[string(f)] {
				t.Errorf("%s: line %d: lb's field %s is not HAProxy's", cmd, i, f)
			}
		}
	}
	if !strings.HasSuffix(lb, "]]\n\n") {
		t.Errorf("%s: ends with %q", cmd, lb[max(0, len(lb)-10):])
	}
}

// compareStatCSV: the same header and lines; each field lb fills is HAProxy's.
func compareStatCSV(t *testing.T, cmd, lb, hap string) {
	t.Helper()
	ll, hl := strings.Split(lb, "\n"), strings.Split(hap, "\n")
	if len(ll) != len(hl) || ll[0] != hl[0] {
		t.Errorf("%s: %d lines; haproxy %d:\n%s\n%s", cmd, len(ll), len(hl), trunc(lb), trunc(hap))
		return
	}
	for i := 1; i < len(ll); i++ {
		lf, hf := strings.Split(ll[i], ","), strings.Split(hl[i], ",")
		if len(lf) != len(hf) {
			t.Errorf("%s: line %d has %d fields; haproxy %d", cmd, i, len(lf), len(hf))
			continue
		}
		for k := range lf {
			if lf[k] != "" && lf[k] != hf[k] {
				t.Errorf("%s: line %d field %d = %q; haproxy %q", cmd, i, k, lf[k], hf[k])
			}
		}
	}
}
