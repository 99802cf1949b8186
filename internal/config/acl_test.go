package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// loadString loads one configuration text with the golden cases' options.
func loadString(t *testing.T, text string) (*Config, []Diag) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.cfg")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load([]string{path}, caseOptions("t"))
}

const condPrelude = `defaults
    mode tcp
    timeout client 1s
    timeout server 1s
    timeout connect 1s
backend b
    server s1 127.0.0.1:1
    server s2 127.0.0.1:2
    acl a src 10.0.0.1
    acl c dst_port 80
`

func TestParseCond(t *testing.T) {
	anon := func(fetch string, values ...string) *ACL {
		return &ACL{Pos: Pos{Line: 11}, Fetch: fetch, Values: values}
	}
	or := CondTerm{Or: true}
	tests := []struct {
		cond string
		want []CondTerm
	}{
		{"if a", []CondTerm{{Name: "a"}}},
		{"if !a c", []CondTerm{{Name: "a", Neg: true}, {Name: "c"}}},
		{"if ! a !!c", []CondTerm{{Name: "a", Neg: true}, {Name: "c"}}},
		{"if a || c", []CondTerm{{Name: "a"}, or, {Name: "c"}}},
		{"if a OR c or TRUE", []CondTerm{{Name: "a"}, or, {Name: "c"}, or, {Name: "TRUE"}}},
		// HAProxy ignores empty groups: leading, trailing and doubled "||".
		{"if || a || || c ||", []CondTerm{{Name: "a"}, or, {Name: "c"}}},
		{"if", nil},
		{"if !", nil},
		// The negation does not cross an "||".
		{"if ! || a", []CondTerm{{Name: "a"}}},
		{"if { src 1.2.3.4 } !{ dst_port 80 81 }", []CondTerm{{Anon: anon("src", "1.2.3.4")}, {Neg: true, Anon: anon("dst_port", "80", "81")}}},
		{"if ! { req.payload(0,1) -m bin 16 }", []CondTerm{{Neg: true, Anon: &ACL{Pos: Pos{Line: 11}, Fetch: "req.payload(0,1)", Flags: []string{"-m", "bin"}, Values: []string{"16"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			cfg, diags := loadString(t, condPrelude+"    tcp-request content accept "+tt.cond+"\n")
			for _, d := range diags {
				if d.Severity == Alert {
					t.Fatalf("Load: %v", d)
				}
			}
			r := cfg.Backend("b").TCPRequest[0]
			for _, term := range r.Cond.Terms {
				if term.Anon != nil {
					term.Anon.Pos.File = ""
				}
			}
			if !reflect.DeepEqual(r.Cond.Terms, tt.want) {
				t.Errorf("parseCond(%q) = %+v; want %+v", tt.cond, r.Cond.Terms, tt.want)
			}
			if r.Cond.Unless {
				t.Errorf("parseCond(%q).Unless = true", tt.cond)
			}
		})
	}
}

func TestParseCondErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{"tcp-request content accept if nope", "no such ACL : 'nope'"},
		{"tcp-request content accept if a }", "no such ACL : '}'"},
		{"tcp-request content accept if { src 1.2.3.4", "missing closing '}' in condition"},
		{"tcp-request content accept if { }", "missing fetch method in ACL expression ''"},
		{"use-server", "'use-server' expects a server name."},
		{"use-server s1", "'use-server' requires either 'if' or 'unless' followed by a condition."},
		{"use-server s1 when a", "'use-server' requires either 'if' or 'unless' followed by a condition."},
		{"use-server s1 if nope", "error detected while parsing switching rule : no such ACL : 'nope'."},
		{"use-server s9 if a", "backend 'b' : unable to find server 's9' referenced in a 'use-server' rule."},
		{"force-persist", "'force-persist' requires either 'if' or 'unless' followed by a condition."},
		{"ignore-persist a", "'ignore-persist' requires either 'if' or 'unless' followed by a condition."},
		{"ignore-persist if nope", "error detected while parsing a 'ignore-persist' rule : no such ACL : 'nope'."},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			_, diags := loadString(t, condPrelude+"    "+tt.line+"\n")
			var alerts []string
			for _, d := range diags {
				if d.Severity == Alert {
					alerts = append(alerts, d.Msg)
				}
			}
			if len(alerts) == 0 || !strings.Contains(alerts[0], tt.want) {
				t.Errorf("Load(%q) alerts = %q; want %q", tt.line, alerts, tt.want)
			}
		})
	}
}

func TestUseServerPersist(t *testing.T) {
	cfg, diags := loadString(t, condPrelude+`    force-persist if a
    use-server s1 if c
    use-server %[str(s2)] unless a
    ignore-persist unless c
frontend f
    bind 127.0.0.1:8080
    use-server s1 if TRUE
    default_backend b
`)
	var got []string
	for _, d := range diags {
		got = append(got, d.Severity.String()+" "+d.Msg)
	}
	want := []string{
		"WARNING 'use-server' ignored because frontend 'f' has no backend capability.",
		"ALERT frontend 'f' : unable to find server 's1' referenced in a 'use-server' rule.",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("diagnostics = %q; want %q", got, want)
	}
	b := cfg.Backend("b")
	if len(b.UseServers) != 2 || b.UseServers[0].Server != "s1" || b.UseServers[0].Dynamic ||
		b.UseServers[1].Server != "%[str(s2)]" || !b.UseServers[1].Dynamic || !b.UseServers[1].Cond.Unless {
		t.Errorf("UseServers = %+v", b.UseServers)
	}
	if len(b.PersistRules) != 2 || b.PersistRules[0].Ignore || !b.PersistRules[1].Ignore || !b.PersistRules[1].Cond.Unless {
		t.Errorf("PersistRules = %+v", b.PersistRules)
	}
}
