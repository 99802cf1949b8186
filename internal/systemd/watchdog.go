package systemd

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"
)

// WatchdogPassOnEnv carries the watchdog interval, in µs, from an lb process
// to the successor it starts at a reload. systemd gives WATCHDOG_USEC and
// WATCHDOG_PID to ExecStart= only, and WATCHDOG_PID names that first process,
// so a successor learns the interval from its predecessor instead.
const WatchdogPassOnEnv = "LB_WATCHDOG_USEC"

// WatchdogInterval returns the unit's WatchdogSec= as this process should
// honour it: from WATCHDOG_USEC when WATCHDOG_PID is unset or this process,
// else from WatchdogPassOnEnv. Ping at half of it ([Notifier.RunWatchdog]).
//
//	(0, nil)   - no watchdog for this process
//	(d, nil)   - send WATCHDOG=1 at least every d/2
//	(0, error) - a variable is set but malformed
//
// With unsetEnv the three variables are removed from the environment, so
// children never inherit a WATCHDOG_PID that is not theirs.
func WatchdogInterval(unsetEnv bool) (time.Duration, error) {
	usec, pidStr, passed := os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getenv(WatchdogPassOnEnv)
	if unsetEnv {
		os.Unsetenv("WATCHDOG_USEC")
		os.Unsetenv("WATCHDOG_PID")
		os.Unsetenv(WatchdogPassOnEnv)
	}
	if usec != "" {
		mine := pidStr == ""
		if !mine {
			pid, err := strconv.Atoi(pidStr)
			if err != nil {
				return 0, fmt.Errorf("watchdog: WATCHDOG_PID=%q: %w", pidStr, err)
			}
			mine = pid == os.Getpid()
		}
		if mine {
			return parseUsec("WATCHDOG_USEC", usec)
		}
	}
	if passed != "" {
		return parseUsec(WatchdogPassOnEnv, passed)
	}
	return 0, nil
}

func parseUsec(name, v string) (time.Duration, error) {
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil {
		return 0, fmt.Errorf("watchdog: %s=%q: %w", name, v, err)
	}
	if n == 0 {
		return 0, nil
	}
	return time.Duration(n) * time.Microsecond, nil
}

// WatchdogEnv returns the environment entry that passes interval d on to a
// successor ("LB_WATCHDOG_USEC=<µs>"), or nil when d is zero.
func WatchdogEnv(d time.Duration) []string {
	if d <= 0 {
		return nil
	}
	return []string{WatchdogPassOnEnv + "=" + strconv.FormatInt(d.Microseconds(), 10)}
}

// RunWatchdog sends WATCHDOG=1 now and then every interval/2 until ctx is
// done; it returns at once when interval is zero or n is disabled. Failures
// are logged once on log (nil = slog.Default()).
//
// Across a hand-over the old and the new process both ping for a moment;
// systemd counts the main process's pings only. Stop the old loop (cancel
// ctx) as soon as MAINPID= names the successor: under NotifyAccess=exec,
// pings from a process that is no longer main are logged by systemd 252 as
// warnings.
func (n *Notifier) RunWatchdog(ctx context.Context, interval time.Duration, log *slog.Logger) {
	if interval <= 0 || !n.Enabled() {
		return
	}
	if log == nil {
		log = slog.Default()
	}
	logged := false
	ping := func() {
		if err := n.Watchdog(); err != nil && !logged {
			logged = true
			log.Warn("watchdog ping failed", "err", err)
		}
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		ping()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
