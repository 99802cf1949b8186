package systemd

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestWatchdogInterval(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	tests := []struct {
		name    string
		usec    string
		pid     string
		passed  string
		want    time.Duration
		wantErr bool
	}{
		{name: "none"},
		{name: "ours", usec: "30000000", pid: me, want: 30 * time.Second},
		{name: "no pid", usec: "2000000", want: 2 * time.Second},
		{name: "other pid", usec: "30000000", pid: "1"},
		{name: "other pid, passed on", usec: "30000000", pid: "1", passed: "20000000", want: 20 * time.Second},
		{name: "passed on only", passed: "10000000", want: 10 * time.Second},
		{name: "ours wins over passed", usec: "4000000", pid: me, passed: "9", want: 4 * time.Second},
		{name: "zero", usec: "0", pid: me},
		{name: "bad usec", usec: "soon", pid: me, wantErr: true},
		{name: "bad pid", usec: "1", pid: "x", wantErr: true},
		{name: "bad passed", passed: "-1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", tt.usec)
			t.Setenv("WATCHDOG_PID", tt.pid)
			t.Setenv(WatchdogPassOnEnv, tt.passed)
			got, err := WatchdogInterval(true)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("WatchdogInterval() = %v, %v; want %v, error %t", got, err, tt.want, tt.wantErr)
			}
			for _, v := range []string{"WATCHDOG_USEC", "WATCHDOG_PID", WatchdogPassOnEnv} {
				if _, ok := os.LookupEnv(v); ok {
					t.Errorf("%s still set after WatchdogInterval(true)", v)
				}
			}
		})
	}
}

func TestWatchdogEnvRoundTrip(t *testing.T) {
	if got := WatchdogEnv(0); got != nil {
		t.Errorf("WatchdogEnv(0) = %q; want nil", got)
	}
	env := WatchdogEnv(15 * time.Second)
	if len(env) != 1 || env[0] != "LB_WATCHDOG_USEC=15000000" {
		t.Fatalf("WatchdogEnv(15s) = %q; want [LB_WATCHDOG_USEC=15000000]", env)
	}
	t.Setenv("WATCHDOG_USEC", "")
	t.Setenv(WatchdogPassOnEnv, "15000000")
	if got, err := WatchdogInterval(false); err != nil || got != 15*time.Second {
		t.Errorf("WatchdogInterval() in the successor = %v, %v; want 15s", got, err)
	}
}

func TestRunWatchdog(t *testing.T) {
	m := newFakeManager(t, false)
	n := openTestNotifier(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		n.RunWatchdog(ctx, 40*time.Millisecond, nil)
		close(done)
	}()
	for i := range 3 {
		if msg := m.mustRecv(t); msg.state != "WATCHDOG=1" {
			t.Fatalf("ping %d: got %q; want WATCHDOG=1", i, msg.state)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunWatchdog did not return after cancel")
	}
}

func TestRunWatchdogDisabled(t *testing.T) {
	// Returns at once: no interval, or no manager.
	var n *Notifier
	n.RunWatchdog(context.Background(), time.Second, nil)
	newFakeManager(t, false)
	openTestNotifier(t).RunWatchdog(context.Background(), 0, nil)
}
