package lifecycle

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"lb/internal/config"
	"lb/internal/logs"
	"lb/internal/systemd"
)

// newLogger returns the process's own logger: natively to journald when stderr is the
// journal (under systemd), HAProxy-style lines on stderr otherwise
// ("[NOTICE]   (pid) : message key=value").
func newLogger(args *Args, cfg *config.Config) *slog.Logger {
	level := slog.LevelInfo
	if args.Quiet {
		level = slog.LevelWarn
	}
	if args.Debug {
		level = slog.LevelDebug
	}
	if systemd.JournalDetected() {
		if h, err := systemd.NewJournalHandler(systemd.JournalOptions{Level: level}); err == nil {
			return slog.New(h)
		}
	}
	return slog.New(&lineHandler{mu: &sync.Mutex{}, w: startupLogs, level: level, pid: os.Getpid()})
}

// lineHandler writes one HAProxy-style line per record.
type lineHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	level slog.Level
	pid   int
	attrs []slog.Attr
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	tag := "NOTICE"
	switch {
	case r.Level >= slog.LevelError:
		tag = "ALERT"
	case r.Level >= slog.LevelWarn:
		tag = "WARNING"
	case r.Level < slog.LevelInfo:
		tag = "DEBUG"
	}
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == logs.StderrKey {
			msg = a.Value.String()
			return false
		}
		return true
	})
	// HAProxy pads "[TAG]" to 11 columns: "[NOTICE]   (pid) : ".
	fmt.Fprintf(&b, "[%s]%s(%d) : %s", tag, strings.Repeat(" ", 9-len(tag)), h.pid, msg)
	write := func(a slog.Attr) bool {
		if a.Key != logs.StderrKey {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	b.WriteByte('\n')
	if h.mu != nil {
		h.mu.Lock()
		defer h.mu.Unlock()
	}
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append(append([]slog.Attr{}, h.attrs...), as...)
	return &n
}

func (h *lineHandler) WithGroup(string) slog.Handler { return h }

// globalLogHandler also sends the process's own messages (server state changes, stops) to
// the global log targets, as HAProxy does.
type globalLogHandler struct {
	slog.Handler
	out *logs.Logger
}

func (h globalLogHandler) Handle(ctx context.Context, r slog.Record) error {
	lvl := logs.LevelNotice
	switch {
	case r.Level >= slog.LevelError:
		lvl = logs.LevelAlert
	case r.Level >= slog.LevelWarn:
		lvl = logs.LevelWarning
	case r.Level < slog.LevelInfo:
		lvl = logs.LevelDebug
	}
	// Server transitions are alerts in HAProxy (a server DOWN), notices when UP; a
	// message may say its syslog severity itself.
	if strings.HasPrefix(r.Message, "Server ") && strings.Contains(r.Message, " is DOWN") {
		lvl = logs.LevelAlert
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "severity" && a.Value.Kind() == slog.KindInt64 {
			lvl = logs.Level(a.Value.Int64())
			return false
		}
		return true
	})
	_ = h.out.Log(lvl, r.Message, nil)
	return h.Handler.Handle(ctx, r)
}

func (h globalLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return globalLogHandler{h.Handler.WithAttrs(as), h.out}
}

func (h globalLogHandler) WithGroup(n string) slog.Handler {
	return globalLogHandler{h.Handler.WithGroup(n), h.out}
}
