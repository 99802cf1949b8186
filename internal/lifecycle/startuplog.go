package lifecycle

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"lb/internal/version"
)

// maxStartupLog bounds what startupLog keeps: the oldest lines go first, as
// in HAProxy's ring of start-up messages.
const maxStartupLog = 64 << 10

// startupLog is the process's standard error while it starts: it keeps
// every line written there until the process serves, for "show
// startup-logs", and, as HAProxy 2.6 does (errors.c), puts the "haproxy
// version is" and "path to executable is" notices before the first
// warning or alert of the start-up.
type startupLog struct {
	w io.Writer
	// mu guards buf, versioned and done.
	mu        sync.Mutex
	buf       []byte
	versioned bool
	done      bool
}

// startupLogs is this process's: there is one standard error.
var startupLogs = &startupLog{w: os.Stderr}

// Write writes p to standard error, and keeps it while the process starts.
func (s *startupLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return s.w.Write(p)
	}
	if !s.versioned && (strings.HasPrefix(string(p), "[WARNING]") || strings.HasPrefix(string(p), "[ALERT]")) {
		s.versioned = true
		exe, _ := os.Executable()
		pid := os.Getpid()
		v := fmt.Sprintf("[NOTICE]   (%d) : haproxy version is %s\n[NOTICE]   (%d) : path to executable is %s\n",
			pid, version.Version, pid, exe)
		if _, err := io.WriteString(s.w, v); err != nil {
			return 0, err
		}
		s.keepLocked([]byte(v))
	}
	s.keepLocked(p)
	return s.w.Write(p)
}

// keepLocked appends p to what is kept. The caller must hold s.mu.
func (s *startupLog) keepLocked(p []byte) {
	s.buf = append(s.buf, p...)
	if over := len(s.buf) - maxStartupLog; over > 0 {
		if i := strings.IndexByte(string(s.buf[over:]), '\n'); i >= 0 {
			over += i + 1
		}
		s.buf = append(s.buf[:0], s.buf[over:]...)
	}
}

// seed starts the log with what the master kept of its own start-up (a
// worker's log begins with its master's, as HAProxy's forked workers
// inherit it).
func (s *startupLog) seed(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append([]byte(text), s.buf...)
	s.versioned = s.versioned || strings.Contains(text, "[WARNING]") || strings.Contains(text, "[ALERT]")
}

// end stops keeping: the process serves.
func (s *startupLog) end() {
	s.mu.Lock()
	s.done = true
	s.mu.Unlock()
}

// String returns what was kept.
func (s *startupLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.buf)
}
