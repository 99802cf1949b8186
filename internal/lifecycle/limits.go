package lifecycle

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// fdReserve is what a process needs besides two fds per connection: stdio, the notify and
// journal sockets, the runtime socket and its clients, log sockets, pidfile, pipes.
const fdReserve = 64

// fdPlan is the outcome of planFDs: the RLIMIT_NOFILE soft limit to set and the maxconn to
// run with.
type fdPlan struct {
	Limit   uint64
	Maxconn int
	// Notice is set when maxconn was derived from the limit, to be logged.
	Notice string
	// Warnings are set under "no strict-limits" when the hard limit is
	// below what is needed: lb starts with the hard limit, as HAProxy.
	Warnings []string
}

// planFDs applies LIFECYCLE.md §1 step 5. ulimitN is global ulimit-n (0 = unset); maxconn is
// global maxconn (0 = unset); extra counts listeners and health checks; hard is the hard
// RLIMIT_NOFILE. With maxconn set explicitly and a hard limit too low for it, it fails naming
// the limit and LimitNOFILE=; without maxconn, maxconn is derived from what the limit allows.
// With strict false ("no strict-limits"), a hard limit below what is needed is not an error:
// the plan keeps maxconn, takes the hard limit and carries HAProxy's two warnings.
func planFDs(ulimitN, maxconn, extra int, hard uint64, strict bool) (fdPlan, error) {
	need := func(mc int) uint64 { return uint64(2*mc + extra + fdReserve) }
	if !strict && (ulimitN > 0 || maxconn > 0) {
		want := uint64(ulimitN)
		if ulimitN == 0 {
			want = need(maxconn)
		}
		p := fdPlan{Limit: min(want, hard), Maxconn: maxconn}
		if want > hard {
			p.Warnings = append(p.Warnings, fmt.Sprintf("Cannot raise FD limit to %d, limit is %d.", want, hard))
		}
		if p.Maxconn == 0 {
			p.Maxconn = max(1, (int(p.Limit)-extra-fdReserve)/2)
		}
		if n := need(p.Maxconn); n > p.Limit {
			p.Warnings = append(p.Warnings, fmt.Sprintf("FD limit (%d) too low for maxconn=%d/maxsock=%d. Please raise 'ulimit-n' to %d or more to avoid any trouble.", p.Limit, p.Maxconn, n, n))
		}
		if len(p.Warnings) > 0 {
			return p, nil
		}
	}
	if ulimitN > 0 {
		if uint64(ulimitN) > hard {
			return fdPlan{}, fmt.Errorf("ulimit-n %d is above the hard limit of open files (%d): raise it (LimitNOFILE= under systemd, ulimit -Hn otherwise) or lower ulimit-n", ulimitN, hard)
		}
		if maxconn == 0 {
			mc := (ulimitN - extra - fdReserve) / 2
			if mc < 1 {
				return fdPlan{}, fmt.Errorf("ulimit-n %d leaves no room for connections (%d fds are needed by listeners, checks and the process itself)", ulimitN, extra+fdReserve)
			}
			return fdPlan{Limit: uint64(ulimitN), Maxconn: mc}, nil
		}
		if need(maxconn) > uint64(ulimitN) {
			return fdPlan{}, fmt.Errorf("maxconn %d needs %d file descriptors but ulimit-n is %d: raise ulimit-n or lower maxconn", maxconn, need(maxconn), ulimitN)
		}
		return fdPlan{Limit: uint64(ulimitN), Maxconn: maxconn}, nil
	}
	if maxconn > 0 {
		if need(maxconn) > hard {
			return fdPlan{}, fmt.Errorf("maxconn %d needs %d file descriptors but the hard limit of open files is %d: raise it (LimitNOFILE= under systemd, ulimit -Hn otherwise) or lower maxconn", maxconn, need(maxconn), hard)
		}
		return fdPlan{Limit: need(maxconn), Maxconn: maxconn}, nil
	}
	mc := int((hard - min(hard, uint64(extra+fdReserve))) / 2)
	if mc < 1 {
		return fdPlan{}, fmt.Errorf("the hard limit of open files (%d) leaves no room for connections", hard)
	}
	return fdPlan{Limit: hard, Maxconn: mc,
		Notice: fmt.Sprintf("maxconn not set: using %d, derived from the hard limit of open files (%d)", mc, hard)}, nil
}

// applyFDPlan raises the soft RLIMIT_NOFILE to plan.Limit.
func applyFDPlan(p fdPlan) error {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if rl.Cur == p.Limit {
		return nil
	}
	rl.Cur = p.Limit
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("setrlimit nofile %d: %w", p.Limit, err)
	}
	return nil
}

func hardNOFILE() (uint64, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	return rl.Max, nil
}
