package plane

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"lb/internal/config"
	"lb/internal/logs"
	"lb/internal/proxy"
	"lb/internal/systemd"
)

// Logs opens the loggers of "log" lines: one logs.Logger per distinct set of lines, kept
// until Close. Under journald, stdout and stderr lines go to the journal natively, with
// their priority. It is safe for concurrent use.
type Logs struct {
	g   *config.Global // for log-tag and log-send-hostname
	log *slog.Logger   // receives the targets' own errors

	// mu guards open and order.
	mu    sync.Mutex
	open  map[string]*logs.Logger // by the fmt.Sprint of the lines
	order []*logs.Logger          // in the order opened, for Close
}

// NewLogs returns a Logs for the configuration's global section g. log receives what
// goes wrong with the targets; nil means slog.Default().
func NewLogs(g *config.Global, log *slog.Logger) *Logs {
	if log == nil {
		log = slog.Default()
	}
	return &Logs{g: g, log: log, open: map[string]*logs.Logger{}}
}

// Open returns the logs.Logger of a set of log lines, opening it the first time, or nil
// when the lines have no usable target. A target that cannot be used is logged and left
// out.
func (l *Logs) Open(lines []config.LogTarget) *logs.Logger {
	if len(lines) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	key := fmt.Sprint(lines)
	if lg, ok := l.open[key]; ok {
		return lg
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
			l.log.Warn("log target not usable", "pos", t.Pos.String(), "err", err)
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
	lg, err := logs.New(targets, logs.Options{Tag: l.g.LogTag, Hostname: l.g.LogSendHostname, Logger: l.log, Sinks: sinks})
	if err != nil {
		l.log.Warn("log targets", "err", err)
		return nil
	}
	l.open[key] = lg
	l.order = append(l.order, lg)
	return lg
}

// Close closes every logger opened, the last opened first, flushing what stdout and
// stderr targets have queued.
func (l *Logs) Close() {
	l.mu.Lock()
	order := l.order
	l.order, l.open = nil, map[string]*logs.Logger{}
	l.mu.Unlock()
	for i := len(order) - 1; i >= 0; i-- {
		order[i].Close()
	}
}

// trafficLogger sends per-connection log lines (option tcplog) to the proxies' log targets.
type trafficLogger struct {
	g    *config.Global
	logs *Logs
}

func newTrafficLogger(g *Generation, cfg *config.Config) *trafficLogger {
	return &trafficLogger{g: &cfg.Global, logs: g.logs}
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

// forFrontend returns the frontend's per-session log hook, or nil when it logs nothing.
// Only "option tcplog" lines exist so far; HTTP logs come with HTTP mode.
func (t *trafficLogger) forFrontend(fe *config.Proxy) func(*proxy.LogRecord) {
	if fe.NoLog || !fe.TCPLog {
		return nil
	}
	l := t.logs.Open(targetsOf(t.g, fe.Logs))
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
