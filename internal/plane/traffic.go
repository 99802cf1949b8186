package plane

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

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

// formats are a frontend's compiled log-format (nil when it logs nothing) and
// unique-id-format (nil when it has none).
type formats struct{ log, uid *logs.LogFormat }

// logsSessions reports whether the frontend logs its sessions: "option tcplog" or a
// "log-format" line, unless "no log". A mode http proxy, tunnelled until lb has its HTTP
// plane, logs only with a plain "option tcplog": its log-format and unique-id-format
// (HTTP variables, sample expressions) come with HTTP mode, under the start-up warning that
// says HTTP logs are not applied yet.
func logsSessions(fe *config.Proxy) bool {
	if fe.NoLog {
		return false
	}
	if fe.Mode == config.ModeHTTP {
		return fe.TCPLog && fe.LogFormat == ""
	}
	return fe.TCPLog || fe.LogFormat != ""
}

// compileFormats compiles the frontend's log-format (or the tcplog format, when it logs
// with option tcplog) and its unique-id-format, with HAProxy's "failed to parse" words
// at the line of each.
func compileFormats(fe *config.Proxy) (formats, []error) {
	var f formats
	var errs []error
	opt := logs.LogFormatOptions{HTTP: fe.Mode == config.ModeHTTP}
	for _, c := range fe.Captures {
		switch c.Action {
		case "request header":
			opt.ReqCaptures++
		case "response header":
			opt.ResCaptures++
		}
	}
	if fe.Mode == config.ModeHTTP && !logsSessions(fe) {
		return f, nil // HTTP logs: see logsSessions
	}
	if fe.LogFormat != "" || logsSessions(fe) {
		src := fe.LogFormat
		if src == "" {
			src = logs.DefaultTCPLogFormat
		}
		lf, err := logs.CompileLogFormat(src, opt)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: proxy '%s': failed to parse log-format : %v", fe.LogFormatPos, fe.Name, err))
		}
		f.log = lf
	}
	if fe.UniqueIDFormat != "" && fe.Mode != config.ModeHTTP {
		// In mode http the id is HTTP's (unique-id-header, %ID in httplog).
		uopt := opt
		uopt.UniqueID = true
		uid, err := logs.CompileLogFormat(fe.UniqueIDFormat, uopt)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: proxy '%s': failed to parse unique-id-format : %v", fe.UniqueIDFormatPos, fe.Name, err))
		}
		f.uid = uid
	}
	return f, errs
}

// CheckFormats compiles the log-format and unique-id-format strings of every enabled
// frontend, as Start does, and returns their errors: "lb -c" refuses what lb would refuse
// at start.
func CheckFormats(cfg *config.Config) []error {
	var errs []error
	for _, fe := range cfg.Frontends() {
		if fe.Disabled {
			continue
		}
		_, e := compileFormats(fe)
		errs = append(errs, e...)
	}
	return errs
}

// lineBufs are the buffers of one log line and its unique id, reused from session to
// session.
type lineBufs struct{ line, id []byte }

var lineBufPool = sync.Pool{New: func() any { return &lineBufs{line: make([]byte, 0, 256)} }}

// forFrontend returns the frontend's per-session log hook, or nil when it logs nothing:
// sessions are logged with "option tcplog" or a "log-format" line, rendered by the
// frontend's compiled format; %ID prints the id its unique-id-format gives the session.
// HTTP logs come with HTTP mode.
func (t *trafficLogger) forFrontend(fe *config.Proxy, f formats) func(*proxy.LogRecord) {
	if !logsSessions(fe) || f.log == nil {
		return nil
	}
	l := t.logs.Open(targetsOf(t.g, fe.Logs))
	if l == nil {
		return nil
	}
	dontLogNull := fe.Options["dontlognull"]
	lf, uid := f.log, f.uid
	if !lf.UsesUniqueID() {
		uid = nil // the id is only ever printed by %ID in a TCP session
	}
	var logged atomic.Uint64 // %lc
	return func(r *proxy.LogRecord) {
		if !logs.ShouldLog(dontLogNull, r.BytesUploaded) {
			return
		}
		rec := logs.TCPLog{
			Client: r.Client, Accept: r.Accept, Local: r.Local,
			Frontend: r.Frontend, Backend: r.Backend, Server: r.Server,
			Tw: r.Tw, Tc: r.Tc, Tt: r.Tt, Th: r.Th, Td: r.Td,
			Bytes: r.BytesRead, BytesIn: r.BytesUploaded, Term: r.Termination,
			ActConn: r.ActConn, FeConn: r.FeConn, BeConn: r.BeConn, SrvConn: r.SrvConn,
			Retries: r.Retries, Redispatched: r.Redispatch, SrvQueue: r.SrvQueue, BeQueue: r.BackendQueue,
			BindID: r.BindID, ServerLocal: r.ServerLocal, ServerAddr: r.ServerAddr,
			SessionID: r.SessionID, LogCount: logged.Add(1) - 1,
		}
		if rec.Server == "<NOSRV>" {
			rec.Server = ""
		}
		b := lineBufPool.Get().(*lineBufs)
		if uid != nil {
			b.id = uid.GenerateUniqueID(&rec, b.id)
		}
		b.line = lf.AppendFormat(b.line[:0], &rec)
		_ = l.Log(logs.LevelInfo, string(b.line), nil)
		rec.UniqueID = nil
		lineBufPool.Put(b)
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
