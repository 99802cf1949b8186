package loopback

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestStatsJSON: the ";json" export of lb has HAProxy's layout for the same
// configuration: the same lines, and each field lb fills is in HAProxy's
// line with the same position, tags and value type.
func TestStatsJSON(t *testing.T) {
	app := startHTTPServer(t, "app", nil)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, fmt.Sprintf(`defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 1s
listen st
    bind %s
    stats enable
    stats uri /stats
    stats show-legends
    server web %s maxconn 10 maxqueue 5
backend be
    server s1 %s
    server s2 %s backup
`, addr, app.addr(), app.addr(), app.addr()))
	got := map[string]map[string]string{}
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, _ *outFile) {
		head, body := getStats(t, port, "GET", "/stats;json", "")
		if !strings.Contains(strings.ToLower(head), "content-type: application/json\r\n") {
			t.Errorf("head %q", head)
		}
		got[t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]] = jsonFieldTags(t, body)
		_, schema := getStats(t, port, "GET", "/stats;json-schema", "")
		got[t.Name()[strings.LastIndexByte(t.Name(), '/')+1:]]["schema"] = schema
	})
	lb, hap := got["lb"], got["haproxy"]
	if lb == nil || hap == nil {
		return
	}
	if lb["schema"] != hap["schema"] {
		t.Errorf("json-schema differs:\n%s\n%s", lb["schema"], hap["schema"])
	}
	delete(lb, "schema")
	if len(lb) < 60 {
		t.Errorf("only %d fields from lb", len(lb))
	}
	for k, v := range lb {
		if hap[k] != v {
			t.Errorf("%s: lb %s, haproxy %q", k, v, hap[k])
		}
	}
}

// jsonFieldTags reads a ";json" export: for each line ("objType pxname
// svname") and field, what does not change between two processes: its
// position, tags, value type, and the value of the key fields.
func jsonFieldTags(t *testing.T, body string) map[string]string {
	t.Helper()
	var lines [][]struct {
		ObjType string `json:"objType"`
		Field   struct {
			Pos  int
			Name string
		}
		ProcessNum int `json:"processNum"`
		Tags       struct{ Origin, Nature, Scope string }
		Value      struct {
			Type  string
			Value any
		}
	}
	if err := json.Unmarshal([]byte(body), &lines); err != nil {
		t.Fatalf("json: %v\n%.300s", err, body)
	}
	out := map[string]string{}
	for _, l := range lines {
		line := ""
		for _, f := range l {
			if f.Field.Name == "pxname" || f.Field.Name == "svname" {
				line += " " + fmt.Sprint(f.Value.Value)
			}
		}
		for _, f := range l {
			v := ""
			switch f.Field.Name {
			case "pxname", "svname", "status", "mode", "type", "act", "bck", "weight", "check_rise", "check_fall", "qlimit", "addr", "algo", "sid", "pid":
				v = fmt.Sprint(f.Value.Value)
			}
			out[f.ObjType+line+" "+f.Field.Name] = fmt.Sprintf("pos=%d proc=%d %s/%s/%s %s %s", f.Field.Pos, f.ProcessNum, f.Tags.Origin, f.Tags.Nature, f.Tags.Scope, f.Value.Type, v)
		}
	}
	return out
}
