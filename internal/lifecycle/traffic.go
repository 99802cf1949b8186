package lifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"lb/internal/config"
	"lb/internal/logs"
	"lb/internal/proxy"
	"lb/internal/systemd"
)

// trafficLogger sends per-connection log lines (option tcplog) to the proxies' log targets.
type trafficLogger struct {
	p *process
	// loggers caches one logs.Logger per distinct set of targets.
	mu      sync.Mutex
	loggers map[string]*logs.Logger
}

func newTrafficLogger(p *process, cfg *config.Config) *trafficLogger {
	return &trafficLogger{p: p, loggers: map[string]*logs.Logger{}}
}

// targetsOf expands a proxy's log lines ("log global" to the global section's).
func targetsOf(g *config.Global, lines []config.LogTarget) []config.LogTarget {
	var out []config.LogTarget
	for _, t := range lines {
		if t.Global {
			out = append(out, g.Logs...)
			continue
		}
		out = append(out, t)
	}
	return out
}

// openLogger returns the logs.Logger of a set of log lines, or nil when there is none.
func openLogger(g *config.Global, lines []config.LogTarget, p *process, cache map[string]*logs.Logger) *logs.Logger {
	if len(lines) == 0 {
		return nil
	}
	key := fmt.Sprint(lines)
	if l, ok := cache[key]; ok {
		return l
	}
	var targets []logs.Target
	var sinks []logs.Sink
	journal := systemd.JournalDetected()
	for _, t := range lines {
		if journal && (t.Network == "stdout" || t.Network == "stderr") {
			// Under systemd, stdout/stderr lines reach journald natively, with their priority.
			if js, err := newJournalSink(); err == nil {
				sinks = append(sinks, js)
				continue
			}
		}
		lt, err := logs.TargetOf(t.Network, t.Addr, t.Len, t.Format, t.Facility, t.Level, t.MinLevel)
		if err != nil {
			p.log.Warn("log target not usable", "pos", t.Pos.String(), "err", err)
			continue
		}
		targets = append(targets, lt)
	}
	if len(targets) == 0 && len(sinks) == 0 {
		return nil
	}
	if len(sinks) > 1 {
		sinks = sinks[:1]
	}
	l, err := logs.New(targets, logs.Options{Tag: g.LogTag, Hostname: g.LogSendHostname, Logger: p.log, Sinks: sinks})
	if err != nil {
		p.log.Warn("log targets", "err", err)
		return nil
	}
	cache[key] = l
	p.closeAtExit(func() { l.Close() })
	return l
}

// forFrontend returns the frontend's per-session log hook, or nil when it logs nothing.
// Only "option tcplog" lines exist so far; HTTP logs come with HTTP mode.
func (t *trafficLogger) forFrontend(fe *config.Proxy) func(*proxy.LogRecord) {
	if fe.NoLog || !fe.TCPLog {
		return nil
	}
	t.mu.Lock()
	l := openLogger(&t.p.cfg.Global, targetsOf(&t.p.cfg.Global, fe.Logs), t.p, t.loggers)
	t.mu.Unlock()
	if l == nil {
		return nil
	}
	dontLogNull := fe.Options["dontlognull"]
	return func(r *proxy.LogRecord) {
		if !logs.ShouldLog(dontLogNull, r.BytesUploaded) {
			return
		}
		line := logs.TCPLog{
			Client: r.Client, Accept: r.Accept.Local(),
			Frontend: r.Frontend, Backend: r.Backend, Server: r.Server,
			Tw: r.Tw, Tc: r.Tc, Tt: r.Tt, Bytes: r.BytesRead, Term: r.Termination,
			ActConn: r.ActConn, FeConn: r.FeConn, BeConn: r.BeConn, SrvConn: r.SrvConn,
			Retries: r.Retries, Redispatched: r.Redispatch, SrvQueue: r.SrvQueue, BeQueue: r.BackendQueue,
		}
		_ = l.Log(logs.LevelInfo, line.String(), nil)
	}
}

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
	// Server transitions are alerts in HAProxy (a server DOWN), notices when UP.
	if strings.HasPrefix(r.Message, "Server ") && strings.Contains(r.Message, " is DOWN") {
		lvl = logs.LevelAlert
	}
	_ = h.out.Log(lvl, r.Message, nil)
	return h.Handler.Handle(ctx, r)
}

func (h globalLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return globalLogHandler{h.Handler.WithAttrs(as), h.out}
}

func (h globalLogHandler) WithGroup(n string) slog.Handler {
	return globalLogHandler{h.Handler.WithGroup(n), h.out}
}

// journalSink sends log lines to journald with their syslog priority, on a socket opened
// once (so it keeps working in a chroot).
type journalSink struct{ h *systemd.JournalHandler }

func newJournalSink() (journalSink, error) {
	h, err := systemd.NewJournalHandler(systemd.JournalOptions{})
	if err != nil {
		return journalSink{}, err
	}
	return journalSink{h}, nil
}

func (j journalSink) Log(level logs.Level, msg string, fields map[string]string) error {
	vars := make(map[string]string, len(fields))
	for k, v := range fields {
		vars[strings.ToUpper(k)] = v
	}
	return j.h.SendFields(msg, int(level), vars)
}
