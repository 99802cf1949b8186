package lifecycle

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want *Args
	}{
		{"files in order", []string{"-f", "a.cfg", "-f", "conf.d"}, &Args{Files: []string{"a.cfg", "conf.d"}}},
		{"check", []string{"-c", "-q", "-f", "a.cfg"}, &Args{Files: []string{"a.cfg"}, Check: true, Quiet: true}},
		{"verbose undoes quiet", []string{"-q", "-V", "-f", "a"}, &Args{Files: []string{"a"}}},
		{"sf list ends at next option", []string{"-f", "a", "-sf", "12", "34", "-x", "/run/lb.sock", "-p", "p"},
			&Args{Files: []string{"a"}, SoftStopPids: []int{12, 34}, OldSocket: "/run/lb.sock", PidFile: "p"}},
		{"empty sf list", []string{"-sf", "-f", "a"}, &Args{Files: []string{"a"}}},
		{"st at the end", []string{"-f", "a", "-st", "7"}, &Args{Files: []string{"a"}, HardStopPids: []int{7}}},
		{"daemon and foreground", []string{"-D", "-db", "-f", "a"}, &Args{Files: []string{"a"}, Daemon: true, Foreground: true}},
		{"debug", []string{"-d", "-f", "a"}, &Args{Files: []string{"a"}, Foreground: true, Debug: true}},
		{"double dash", []string{"-c", "--", "a", "b"}, &Args{Files: []string{"a", "b"}, Check: true}},
		{"cc", []string{"-cc", "defined(HOME)"}, &Args{CondExpr: "defined(HOME)", HasCond: true}},
		{"version", []string{"-vv"}, &Args{Version: 2}},
		{"numbers and dirs", []string{"-n", "100", "-N", "50", "-C", "/etc", "-f", "a", "-dr", "-dR", "-dS", "-dW"},
			&Args{Files: []string{"a"}, Maxconn: 100, ProxyMaxconn: 50, Chdir: "/etc", IgnoreResolveErrors: true, NoReusePort: true, NoSplice: true, ZeroWarning: true}},
		{"master-worker accepted", []string{"-Ws", "-f", "a"}, &Args{Files: []string{"a"}, MasterWorker: true, Systemd: true}},
		{"master CLI", []string{"-W", "-S", "/run/m.sock,mode,600", "-f", "a"}, &Args{Files: []string{"a"}, MasterWorker: true, MasterCLI: []string{"/run/m.sock,mode,600"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseArgs(tt.argv)
			if err != nil {
				t.Fatalf("ParseArgs(%q) error: %v", tt.argv, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseArgs(%q) = %+v; want %+v", tt.argv, got, tt.want)
			}
		})
	}
}

func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"-f"}, `option "-f" requires an argument`},
		{[]string{"-f", "a", "-Z"}, `unknown option "-Z"`},
		{[]string{"-f", "a", "-sf", "x1"}, `invalid pid "x1"`},
		{[]string{"-f", "a", "-n", "lots"}, `invalid number "lots"`},
		{[]string{"a.cfg"}, `unexpected argument "a.cfg"`},
		{[]string{"-c"}, "no configuration file given"},
	}
	for _, tt := range tests {
		_, err := ParseArgs(tt.argv)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseArgs(%q) error = %v; want it to contain %q", tt.argv, err, tt.want)
		}
	}
}

func TestPlanFDs(t *testing.T) {
	tests := []struct {
		name                 string
		ulimitN, maxconn, ex int
		hard                 uint64
		wantLimit            uint64
		wantMaxconn          int
		wantErr              string
		wantNotice           bool
		noStrict             bool
		wantWarnings         int
	}{
		{"explicit maxconn fits", 0, 4000, 10, 20000, 8074, 4000, "", false, false, 0},
		{"explicit maxconn above hard limit", 0, 50000, 10, 20000, 0, 0, "LimitNOFILE=", false, false, 0},
		{"derived from hard limit", 0, 0, 10, 20000, 20000, 9963, "", true, false, 0},
		{"ulimit-n sets the limit and maxconn", 5000, 0, 10, 20000, 5000, 2463, "", false, false, 0},
		{"ulimit-n above hard limit", 40000, 0, 10, 20000, 0, 0, "above the hard limit", false, false, 0},
		{"ulimit-n too small for maxconn", 1000, 4000, 10, 20000, 0, 0, "raise ulimit-n", false, false, 0},
		// "no strict-limits": HAProxy's warnings, the hard limit, maxconn kept.
		{"no strict-limits: maxconn above hard limit", 0, 50000, 10, 20000, 20000, 50000, "", false, true, 2},
		{"no strict-limits: ulimit-n above hard limit", 40000, 0, 10, 20000, 20000, 9963, "", false, true, 1},
		{"no strict-limits: ulimit-n too small for maxconn", 1000, 4000, 10, 20000, 1000, 4000, "", false, true, 1},
		{"no strict-limits: maxconn fits", 0, 4000, 10, 20000, 8074, 4000, "", false, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := planFDs(tt.ulimitN, tt.maxconn, tt.ex, tt.hard, !tt.noStrict)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("planFDs error = %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Limit != tt.wantLimit || p.Maxconn != tt.wantMaxconn || (p.Notice != "") != tt.wantNotice || len(p.Warnings) != tt.wantWarnings {
				t.Errorf("planFDs = %+v; want limit %d maxconn %d notice %v", p, tt.wantLimit, tt.wantMaxconn, tt.wantNotice)
			}
		})
	}
}
