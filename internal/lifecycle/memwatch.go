package lifecycle

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"lb/internal/proxy"
)

// A memory limit on lb's cgroup (a unit's MemoryMax=, a container's limit) is enforced by the
// kernel's OOM killer: past it the whole process dies, every connection with it. lb reads the
// limit at start and
//   - keeps the Go heap under memSoftPct of it (debug.SetMemoryLimit, unless GOMEMLIMIT says
//     otherwise), so that garbage is collected before the limit rather than after;
//   - has the accept paths watch the cgroup's usage (proxy.WatchMemory) and, above
//     memHighPct, pause the listeners: new clients wait in the kernel's accept queue,
//     accepted connections go on; they resume below memLowPct.
// Without a limit nothing of this runs.

const (
	memSoftPct = 80
	memHighPct = 90
	memLowPct  = 80
)

// memLimit is the memory limit of a cgroup, or -m's, and where its usage is read.
type memLimit struct {
	limit int64    // bytes
	usage *os.File // memory.current (v2) or memory.usage_in_bytes (v1); /proc/self/statm
	where string   // the limit's file, or "-m", for messages
	pages bool     // usage is statm: resident pages less shared ones
}

// rssLimit is -m's limit: the process's own resident memory. HAProxy sets RLIMIT_AS to it,
// where an allocation beyond fails; a Go process maps much more address space than it uses
// (its heap arenas are reserved ahead), so lb watches its anonymous resident memory instead
// (heap, stacks, buffers: statm's resident pages less the shared, file-backed ones, which
// are the binary's and the libraries' code and which the kernel shares and may drop), with
// the same pause of the listeners as under a cgroup's limit.
func rssLimit(limit int64) (*memLimit, error) {
	f, err := os.Open("/proc/self/statm")
	if err != nil {
		return nil, err
	}
	return &memLimit{limit: limit, usage: f, where: "-m", pages: true}, nil
}

// findMemLimit returns the smallest memory limit on the cgroup of this process or an
// ancestor, from /proc/self/cgroup and the cgroup file systems under root ("/" but in
// tests), or nil when there is none.
func findMemLimit(root string) (*memLimit, error) {
	b, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return nil, nil // no cgroups: no limit
	}
	var v1, v2 string // the cgroup's path in the v1 memory hierarchy, in the unified one
	hasV2 := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 {
			continue
		}
		switch {
		case f[0] == "0" && f[1] == "":
			v2, hasV2 = f[2], true
		case controllerListed(f[1], "memory"):
			v1 = f[2]
		}
	}
	// The memory controller of a v1 (or hybrid) hierarchy, else the unified one.
	var dir, cg, limitFile, usageFile string
	switch {
	case v1 != "":
		dir, cg, limitFile, usageFile = filepath.Join(root, "sys/fs/cgroup/memory"), v1, "memory.limit_in_bytes", "memory.usage_in_bytes"
	case hasV2:
		dir, cg, limitFile, usageFile = filepath.Join(root, "sys/fs/cgroup"), v2, "memory.max", "memory.current"
	default:
		return nil, nil
	}
	var best *memLimit
	for p := filepath.Clean("/" + cg); ; p = filepath.Dir(p) {
		d := filepath.Join(dir, p)
		if n, ok := readLimit(filepath.Join(d, limitFile)); ok && (best == nil || n < best.limit) {
			if best != nil {
				best.usage.Close()
			}
			u, err := os.Open(filepath.Join(d, usageFile))
			if err == nil {
				best = &memLimit{limit: n, usage: u, where: filepath.Join(d, limitFile)}
			}
		}
		if p == "/" {
			break
		}
	}
	return best, nil
}

func controllerListed(list, c string) bool {
	for _, x := range strings.Split(list, ",") {
		if x == c {
			return true
		}
	}
	return false
}

// readLimit reads a limit file: "max" (v2) or a v1 value near 2^63 (page-rounded) mean none.
func readLimit(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(b))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0, false
	}
	return n, true
}

// read returns the cgroup's current usage.
func (m *memLimit) read() (int64, error) {
	var buf [128]byte
	n, err := m.usage.ReadAt(buf[:], 0)
	if err != nil && err != io.EOF {
		return 0, err
	}
	s := strings.TrimSpace(string(buf[:n]))
	if m.pages {
		f := strings.Fields(s)
		if len(f) < 3 {
			return 0, fmt.Errorf("statm: %q", s)
		}
		resident, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, err
		}
		shared, err := strconv.ParseInt(f[2], 10, 64)
		return (resident - shared) * int64(os.Getpagesize()), err
	}
	return strconv.ParseInt(s, 10, 64)
}

// start applies the soft limit and has the engines watch the usage.
func (m *memLimit) start(log *slog.Logger) {
	soft := ""
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(m.limit * memSoftPct / 100)
		soft = fmt.Sprintf(", Go heap kept under %d%%", memSoftPct)
	}
	log.Info(fmt.Sprintf("memory limit of %d MiB (%s)%s; listeners paused above %d%% of it",
		m.limit>>20, m.where, soft, memHighPct))
	proxy.WatchMemory(m.limit*memHighPct/100, m.limit*memLowPct/100, m.read, func(s string) { log.Info(s) })
}
