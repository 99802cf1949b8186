package lifecycle

import (
	"fmt"
	"io"
	"strings"
	"time"

	"lb/internal/admin"
	"lb/internal/plane"
)

// activityFields are the lines of HAProxy 2.6's "show activity" after the thread and
// the date, in its order. lb counts those of its event loops it has an equivalent for
// (see activityValue); the others are HAProxy scheduler's, pool's and fd cache's and
// stay 0.
var activityFields = []string{"ctxsw", "tasksw", "empty_rq", "long_rq", "loops", "wake_tasks", "wake_signal",
	"poll_io", "poll_exp", "poll_drop_fd", "poll_skip_fd", "conn_dead", "stream_calls", "pool_fail", "buf_wait",
	"cpust_ms_tot", "cpust_ms_1s", "cpust_ms_15s", "avg_loop_us", "accepted", "accq_pushed", "accq_full",
	"accq_ring", "fd_takeover"}

// registerActivityCommands installs "show activity" with HAProxy 2.6's help line and
// level (any).
func registerActivityCommands(srv *admin.Server, rt plane.Control, info func() processInfo) {
	srv.Handle(admin.Command{Words: strings.Fields("show activity"),
		Help:  "show activity                           : show per-thread activity stats (for support/developers)",
		Level: admin.LevelUser,
		Run: func(_ []string, w io.Writer) error {
			io.WriteString(w, showActivity(rt.Activity(), info().Threads, time.Now()))
			return nil
		}})
}

// showActivity renders the counters of the loops for nbthread threads as activity.c's
// cli_io_handler_show_activity: the total, then one column per thread when there are
// several. The runtime API is answered as from thread 1.
func showActivity(loops []plane.LoopActivity, nbthread int, now time.Time) string {
	n := max(nbthread, len(loops), 1)
	var b strings.Builder
	fmt.Fprintf(&b, "thread_id: 1 (1..%d)\n", n)
	fmt.Fprintf(&b, "date_now: %d.%06d\n", now.Unix(), now.Nanosecond()/1000)
	for _, name := range activityFields {
		v := make([]uint64, n)
		var tot uint64
		for i := range v {
			if i < len(loops) {
				v[i] = activityValue(&loops[i], name)
			}
			tot += v[i]
		}
		if n == 1 {
			fmt.Fprintf(&b, "%s: %d\n", name, tot)
			continue
		}
		fmt.Fprintf(&b, "%s: %d [", name, tot)
		for _, x := range v {
			fmt.Fprintf(&b, " %d", x)
		}
		b.WriteString(" ]\n")
	}
	return b.String()
}

// activityValue is a loop's counter for a line of "show activity", 0 for those lb has
// no equivalent of.
func activityValue(a *plane.LoopActivity, name string) uint64 {
	switch name {
	case "loops":
		return a.Loops
	case "poll_io":
		return a.PollIO
	case "poll_exp":
		return a.PollExp
	case "accepted":
		return a.Accepted
	case "accq_pushed":
		return a.AccqPushed
	}
	return 0
}
