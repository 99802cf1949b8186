package config

import (
	"fmt"
	"testing"
)

func TestThreadCPUs(t *testing.T) {
	for _, tc := range []struct {
		lines   string
		threads int
		want    string
	}{
		{"cpu-map auto:1/1-2 0-1", 2, "[[0] [1]]"},
		{"cpu-map 1/all 0-1", 2, "[[0 1] [0 1]]"},
		{"cpu-map 1 2-3\n    cpu-map 1/2 0", 3, "[[2 3] [0] [2 3]]"},
		{"cpu-map 2 0", 2, "[[] []]"},
		{"cpu-map 1/3 1", 2, "[[] []]"},
		{"", 2, "[]"},
	} {
		cfg, _ := loadString(t, "global\n    "+tc.lines+"\n")
		if cfg == nil {
			t.Fatalf("%q: not loaded", tc.lines)
		}
		if got := fmt.Sprint(cfg.Global.ThreadCPUs(tc.threads)); got != tc.want {
			t.Errorf("%q over %d threads: %s; want %s", tc.lines, tc.threads, got, tc.want)
		}
	}
}
