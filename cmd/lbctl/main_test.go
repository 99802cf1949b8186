package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"lb/internal/systemd"
)

func TestRunUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"help", []string{"--help"}, 0, "usage: lbctl", ""},
		{"no command", nil, 2, "", "want exactly one command"},
		{"two commands", []string{"status", "reload"}, 2, "", "want exactly one command"},
		{"unknown command", []string{"restart"}, 2, "", `unknown command "restart"`},
		{"unknown flag", []string{"--bogus", "status"}, 2, "", "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errb)
			if code != tt.wantCode {
				t.Errorf("run(%q) = %d; want %d (stderr %q)", tt.args, code, tt.wantCode, errb.String())
			}
			if !strings.Contains(out.String(), tt.wantStdout) || !strings.Contains(errb.String(), tt.wantStderr) {
				t.Errorf("run(%q) stdout %q, stderr %q; want %q, %q", tt.args, out.String(), errb.String(), tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

func TestPrintStatus(t *testing.T) {
	var out bytes.Buffer
	printStatus(&out, systemd.UnitStatus{
		Unit: "lb.service", LoadState: "loaded", ActiveState: "active", SubState: "running",
		Type: "notify", MainPID: 4242, StatusText: "ready: 2 listeners", ReloadResult: "success",
		NotifyAccess: "exec", NFileDescriptorStore: 2, FileDescriptorStoreMax: 64,
	})
	want := "Unit: lb.service\nMainPID: 4242\nState: active (running)\nStatusText: ready: 2 listeners\n" +
		"NFileDescriptorStore: 2 (max 64)\nReloadResult: success\n"
	if out.String() != want {
		t.Errorf("printStatus wrote\n%s\nwant\n%s", out.String(), want)
	}
}
