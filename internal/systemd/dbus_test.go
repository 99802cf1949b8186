package systemd

import (
	"strings"
	"testing"
)

func TestUnitStatusCheck(t *testing.T) {
	good := UnitStatus{Unit: "lb.service", LoadState: "loaded", Type: "notify", NotifyAccess: "exec", FileDescriptorStoreMax: 64}
	tests := []struct {
		name   string
		modify func(*UnitStatus)
		want   []string // substrings, one per warning
	}{
		{name: "fits", modify: func(*UnitStatus) {}},
		{name: "notify-reload fits", modify: func(s *UnitStatus) { s.Type = "notify-reload" }},
		{name: "no fd store", modify: func(s *UnitStatus) { s.FileDescriptorStoreMax = 0 }, want: []string{"FileDescriptorStoreMax=0"}},
		{name: "notify access main", modify: func(s *UnitStatus) { s.NotifyAccess = "main" }, want: []string{"NotifyAccess=main"}},
		{name: "notify access all", modify: func(s *UnitStatus) { s.NotifyAccess = "all" }, want: []string{"NotifyAccess=all"}},
		{
			name:   "simple, no store, main",
			modify: func(s *UnitStatus) { s.Type = "simple"; s.FileDescriptorStoreMax = 0; s.NotifyAccess = "main" },
			want:   []string{"Type=simple", "FileDescriptorStoreMax=0", "NotifyAccess=main"},
		},
		{name: "not found", modify: func(s *UnitStatus) { s.LoadState = "not-found" }, want: []string{"not-found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := good
			tt.modify(&st)
			got := st.Check()
			if len(got) != len(tt.want) {
				t.Fatalf("Check() = %q; want %d warnings", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %d = %q; want it to mention %q", i, got[i], w)
				}
			}
		})
	}
}

func TestUnitFromCgroup(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"v2", "0::/system.slice/lb.service\n", "lb.service"},
		{"v2 sub-cgroup", "0::/system.slice/lb.service/worker\n", "lb.service"},
		{"v2 template", "0::/system.slice/system-lb.slice/lb@edge.service\n", "lb@edge.service"},
		{"v1", "12:pids:/system.slice/lb.service\n1:name=systemd:/system.slice/lb.service\n", "lb.service"},
		{"session scope", "0::/user.slice/user-0.slice/session-3.scope\n", ""},
		{"no systemd", "0::/\n", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unitFromCgroup(tt.in); got != tt.want {
				t.Errorf("unitFromCgroup(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}
