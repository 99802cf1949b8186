package stats

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestJSON: the ";json" export is HAProxy 2.6's layout: one array per CSV
// line, of the fields set, each typed and tagged as HAProxy does.
func TestJSON(t *testing.T) {
	var lines [][]struct {
		ObjType string `json:"objType"`
		ProxyID int    `json:"proxyId"`
		ID      int    `json:"id"`
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
	out := JSON(sample(), &Options{ShowLegends: true})
	if err := json.Unmarshal(out, &lines); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rows := Rows(sample(), &Options{ShowLegends: true})
	if len(lines) != len(rows) {
		t.Fatalf("%d lines, want %d", len(lines), len(rows))
	}
	for i, l := range lines {
		for _, f := range l {
			// last_chk may be set empty (a Layer4 check): shown, as by HAProxy.
			if want := rows[i].Get(f.Field.Name); want == "" && f.Field.Name != "last_chk" || csvNames[f.Field.Pos] != f.Field.Name {
				t.Errorf("line %d: field %+v not in the CSV line", i, f.Field)
			}
			if f.ProcessNum != 1 || f.ProxyID != atoiT(rows[i].Get("iid")) || f.ID != atoiT(rows[i].Get("sid")) {
				t.Errorf("line %d: %+v", i, f)
			}
		}
	}
	// A server line as HAProxy 2.6 prints it (its proxy 2, server 1).
	want := `[{"objType":"Server","proxyId":2,"id":1,"field":{"pos":0,"name":"pxname"},"processNum":1,"tags":{"origin":"Key","nature":"Name","scope":"Service"},"value":{"type":"str","value":"be"}},{"objType":"Server","proxyId":2,"id":1,"field":{"pos":1,"name":"svname"},"processNum":1,"tags":{"origin":"Key","nature":"Name","scope":"Service"},"value":{"type":"str","value":"s1"}},{"objType":"Server","proxyId":2,"id":1,"field":{"pos":2,"name":"qcur"},"processNum":1,"tags":{"origin":"Metric","nature":"Gauge","scope":"Process"},"value":{"type":"u32","value":0}}`
	if !strings.Contains(string(out), want) {
		t.Errorf("no server line as HAProxy's:\n%s", out)
	}
	for _, w := range []string{`"name":"act"},"processNum":1,"tags":{"origin":"Status","nature":"Gauge","scope":"Process"}`,
		`"objType":"Backend","proxyId":2,"id":0,"field":{"pos":19,"name":"act"},"processNum":1,"tags":{"origin":"Metric","nature":"Gauge","scope":"Process"}`} {
		if !strings.Contains(string(out), w) {
			t.Errorf("no %s", w)
		}
	}
	if !strings.HasSuffix(string(out), "]]\n") {
		t.Errorf("end: %q", out[len(out)-10:])
	}
}

func atoiT(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
