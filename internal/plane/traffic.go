package plane

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"lb/internal/config"
	"lb/internal/logs"
	"lb/internal/proxy"
	"lb/internal/rules"
	"lb/internal/systemd"
	"lb/internal/tlsconf"
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

// Dropped returns the number of messages the targets dropped so far (their queues were
// full); a nil Logs has none.
func (l *Logs) Dropped() uint64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var n uint64
	for _, lg := range l.order {
		n += lg.Dropped()
	}
	return n
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

// samples reports whether the log line evaluates sample expressions, in the log-format
// or in the unique-id-format it prints with %ID: the records need a rules stream.
func (f formats) samples() bool {
	if f.log == nil {
		return false
	}
	return f.log.UsesSamples() || f.uid != nil && f.uid.UsesSamples() && f.log.UsesUniqueID()
}

// logsSessions reports whether the frontend logs its sessions (its HTTP transactions in
// mode http): "option tcplog", "option httplog" (which the configuration turns into
// tcplog outside mode http) or a "log-format" line, unless "no log".
func logsSessions(fe *config.Proxy) bool {
	return !fe.NoLog && (fe.TCPLog || fe.HTTPLog || fe.LogFormat != "")
}

// logsTunnels reports whether the frontend logs the sessions it tunnels as TCP, whose
// records have no HTTP part: all of them in mode tcp; in mode http, where the tunnel is
// what lb does for a proxy its HTTP plane does not serve, only with a plain "option
// tcplog", whose line means something for a TCP session (an httplog line or a log-format
// of HTTP variables would print "<BADREQ>").
func logsTunnels(fe *config.Proxy) bool {
	return fe.Mode != config.ModeHTTP || (fe.TCPLog && fe.LogFormat == "")
}

// logFormatOf is the log-format the frontend logs with: its "log-format" line, else that
// of "option httplog" (HAProxy's default or CLF one) or httpslog in mode http, else the tcplog format.
func logFormatOf(fe *config.Proxy) string {
	switch {
	case fe.LogFormat != "":
		return fe.LogFormat
	case fe.HTTPLog && fe.HTTPLogCLF && fe.Mode == config.ModeHTTP:
		return logs.CLFHTTPLogFormat
	case fe.HTTPLog && fe.HTTPSLog && fe.Mode == config.ModeHTTP:
		return logs.HTTPSLogFormat
	case fe.HTTPLog && fe.Mode == config.ModeHTTP:
		return logs.DefaultHTTPLogFormat
	}
	return logs.DefaultTCPLogFormat
}

// compileFormats compiles the frontend's log-format (or that of option httplog or
// tcplog, the one it logs with) and its unique-id-format, with HAProxy's "failed to
// parse" words at the line of each. In mode http the HTTP variables are accepted. Their
// sample expressions ("%[…]") are compiled by the rules engine for fe, with the
// generation's env (nil when only checking) and rule options (its proc variables).
func compileFormats(cfg *config.Config, fe *config.Proxy, env rules.Env, ropt rules.Options) (formats, []error) {
	var f formats
	var errs []error
	opt := logs.LogFormatOptions{HTTP: fe.Mode == config.ModeHTTP}
	opt.Sample = sampleCompiler(cfg, fe, env, ropt, rules.LogFormat)
	for _, c := range fe.Captures {
		if strings.HasPrefix(c.Action, "request ") {
			opt.ReqCaptures++
		} else {
			opt.ResCaptures++
		}
	}
	if fe.LogFormat != "" || logsSessions(fe) {
		src := logFormatOf(fe)
		lf, err := logs.CompileLogFormat(src, opt)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: proxy '%s': failed to parse log-format : %v", fe.LogFormatPos, fe.Name, err))
		}
		f.log = lf
	}
	if fe.UniqueIDFormat != "" {
		// In mode http the id is generated by the HTTP handler when the request head is
		// complete (uniqueIDHook), for unique-id-header and the log's %ID.
		uopt := opt
		uopt.UniqueID = true
		uopt.Sample = sampleCompiler(cfg, fe, env, ropt, rules.UniqueIDFormat)
		uid, err := logs.CompileLogFormat(fe.UniqueIDFormat, uopt)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: proxy '%s': failed to parse unique-id-format : %v", fe.UniqueIDFormatPos, fe.Name, err))
		}
		f.uid = uid
	}
	return f, errs
}

// sampleCompiler is the logs.LogFormatOptions.Sample of fe's formats: the rules engine
// compiles each "%[expr]" for place at, with HAProxy's words when it refuses it; the
// compiled sample reads the record's rules stream (LogRecord.Stream, carried as
// logs.TCPLog.Sample), and is absent ("-") on a record without one.
func sampleCompiler(cfg *config.Config, fe *config.Proxy, env rules.Env, ropt rules.Options, at rules.SamplePlace) func(expr, rest string) (logs.SampleFunc, error) {
	return func(expr, rest string) (logs.SampleFunc, error) {
		sm, err := rules.CompileSample(cfg, fe, env, ropt, expr, at)
		if err != nil {
			var ue *rules.SampleUseError
			if errors.As(err, &ue) {
				return nil, fmt.Errorf("sample fetch <%s> may not be reliably used here because it needs '%s' which is not available here", rest, ue.Needs)
			}
			return nil, fmt.Errorf("failed to parse sample expression <%s> : %v", rest, err)
		}
		return func(dst []byte, ctx any) ([]byte, bool) {
			st, _ := ctx.(*rules.Stream)
			if st == nil {
				return dst, false
			}
			return sm.AppendString(dst, st)
		}, nil
	}
}

// CheckFormats compiles the log-format and unique-id-format strings of every enabled
// frontend, as Start does, and returns their errors: "lb -c" refuses what lb would refuse
// at start.
func CheckFormats(cfg *config.Config) []error {
	var errs []error
	ropt := ruleOptions(cfg)
	for _, fe := range cfg.Frontends() {
		if fe.Disabled {
			continue
		}
		_, e := compileFormats(cfg, fe, nil, ropt)
		errs = append(errs, e...)
	}
	return errs
}

// lineBufs are the buffers of one log line and its unique id, reused from session to
// session.
type lineBufs struct{ line, id []byte }

var lineBufPool = sync.Pool{New: func() any { return &lineBufs{line: make([]byte, 0, 256)} }}

// forFrontend returns the frontend's per-session log hook, or nil when it logs nothing:
// sessions are logged with "option tcplog", "option httplog" or a "log-format" line,
// rendered by the frontend's compiled format; %ID prints the id its unique-id-format
// gives the session. In mode http, each HTTP transaction's record (HTTP.Set) is one
// line; a record of a session tunnelled as TCP is logged only as logsTunnels says.
func (t *trafficLogger) forFrontend(fe *config.Proxy, f formats) func(*proxy.LogRecord) {
	sessions := logsSessions(fe) && f.log != nil
	if !sessions && !(hasTLSBind(fe) && len(fe.Logs) > 0) {
		return nil
	}
	l := t.logs.Open(targetsOf(t.g, fe.Logs))
	if l == nil {
		return nil
	}
	dontLogNull := fe.Options["dontlognull"]
	if !sessions {
		// A TLS frontend logs its failed handshakes whatever its options.
		return func(r *proxy.LogRecord) {
			if r.ConnError != "" {
				logConnError(l, r, dontLogNull)
			}
		}
	}
	lf, uid := f.log, f.uid
	if !lf.UsesUniqueID() {
		uid = nil // the id is only ever printed by %ID in a TCP session
	}
	tunnels := logsTunnels(fe)
	var logged atomic.Uint64 // %lc
	return func(r *proxy.LogRecord) {
		if r.ConnError != "" {
			logConnError(l, r, dontLogNull)
			return
		}
		if r.HTTP.Set {
			// HAProxy's rule: a connection closed (or timed out) before it sent a byte
			// of a request is not logged; a request always is.
			if !logs.ShouldLogHTTP(dontLogNull, r.HTTP.RequestLine, r.BytesUploaded) {
				return
			}
		} else if !tunnels || !logs.ShouldLog(dontLogNull, r.BytesUploaded) {
			return
		}
		rec := tcpLogOf(r)
		rec.LogCount = logged.Add(1) - 1
		if r.Stream != nil {
			rec.Sample = r.Stream
		}
		b := lineBufPool.Get().(*lineBufs)
		if uid != nil && !r.HTTP.Set {
			b.id = uid.GenerateUniqueID(&rec, b.id)
		}
		b.line = lf.AppendFormat(b.line[:0], &rec)
		level := logs.LevelInfo
		if r.HTTP.Level > 0 { // set-log-level
			level = logs.Level(r.HTTP.Level - 1)
		}
		_ = l.Log(level, string(b.line), nil)
		rec.UniqueID, rec.Sample = nil, nil
		lineBufPool.Put(b)
	}
}

// tcpLogOf is the logs package's record of a proxy record.
func tcpLogOf(r *proxy.LogRecord) logs.TCPLog {
	rec := logs.TCPLog{
		Client: r.Client, Accept: r.Accept, Local: r.Local,
		Frontend: r.Frontend, Backend: r.Backend, Server: r.Server,
		Tw: r.Tw, Tc: r.Tc, Tt: r.Tt, Th: r.Th, Td: r.Td,
		Bytes: r.BytesRead, BytesIn: r.BytesUploaded, Term: r.Termination,
		ActConn: r.ActConn, FeConn: r.FeConn, BeConn: r.BeConn, SrvConn: r.SrvConn,
		Retries: r.Retries, Redispatched: r.Redispatch, SrvQueue: r.SrvQueue, BeQueue: r.BackendQueue,
		BindID: r.BindID, ServerLocal: r.ServerLocal, ServerAddr: r.ServerAddr,
		SessionID: r.SessionID, TLS: r.TLS,
	}
	if r.TLS {
		rec.SSLCipher, rec.SSLVersion = tlsconf.CipherName(r.TLSCipher), tlsconf.VersionName(r.TLSVersion)
	}
	if rec.Server == "<NOSRV>" {
		rec.Server = ""
	}
	if r.HTTP.Set {
		setHTTP(&rec, r)
	}
	return rec
}

// uniqueIDHook returns the HTTP handler's unique-id generator of a mode http frontend
// with a unique-id-format, nil without one: the id is made from the request's record as
// it stands when the request head is complete.
func uniqueIDHook(uid *logs.LogFormat) func(*proxy.LogRecord, []byte) []byte {
	if uid == nil {
		return nil
	}
	return func(r *proxy.LogRecord, buf []byte) []byte {
		rec := tcpLogOf(r)
		if r.Stream != nil {
			rec.Sample = r.Stream
		}
		return uid.GenerateUniqueID(&rec, buf)
	}
}

// setHTTP fills the HTTP part of rec from the record of an HTTP transaction, whose
// Accept is the start of the request and Tt counted from there: logs.TCPLog counts from
// HAProxy's accept date, Th + Ti earlier, as HAProxy does.
func setHTTP(rec *logs.TCPLog, r *proxy.LogRecord) {
	h := &r.HTTP
	ti := max(h.Ti, 0)
	ta := h.Ta
	if ta < 0 {
		ta = r.Tt
	}
	rec.Accept = r.Accept.Add(-(r.Th + ti))
	rec.Tt = r.Th + ti + ta
	rec.UniqueID = h.UniqueID
	rec.HTTP = logs.HTTPLog{
		Set: true, Request: h.RequestLine, Status: h.Status, Date: r.Accept,
		Ti: h.Ti, TR: h.TR, Tr: h.Tr,
		ReqCaptures: h.ReqCaptures, ResCaptures: h.ResCaptures,
		CookieCli: h.CookieCli, CookieSrv: h.CookieSrv,
		CapturedCookieCli: h.CapturedCookieCli, CapturedCookieSrv: h.CapturedCookieSrv,
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

// hasTLSBind reports whether one of fe's bind lines has "ssl".
func hasTLSBind(fe *config.Proxy) bool {
	for _, b := range fe.Binds {
		if b.TLS != nil {
			return true
		}
	}
	return false
}

// logConnError logs a connection that failed before it became a session (a
// TLS handshake) as HAProxy 2.6 does (sess_log_embryonic): "client [accept
// date] frontend/listener: reason", the listener named by its bind line's
// "name", else its number. With "option dontlognull", a connection closed
// or reset during its handshake is not logged.
func logConnError(l *logs.Logger, r *proxy.LogRecord, dontLogNull bool) {
	if dontLogNull && (r.ConnError == "Connection closed during SSL handshake" || r.ConnError == "Connection error during SSL handshake") {
		return
	}
	ln := r.Bind
	if ln == "" {
		ln = strconv.Itoa(r.BindID)
	}
	var b []byte
	if r.Client.IsValid() {
		b = append(b, r.Client.Addr().Unmap().String()...)
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(r.Client.Port()), 10)
	} else {
		b = append(b, "unix:"...)
		b = strconv.AppendInt(b, int64(r.BindID), 10)
	}
	b = append(b, " ["...)
	b = r.Accept.Local().AppendFormat(b, "02/Jan/2006:15:04:05.000")
	b = append(b, "] "...)
	b = append(b, r.Frontend...)
	b = append(b, '/')
	b = append(b, ln...)
	b = append(b, ": "...)
	b = append(b, r.ConnError...)
	_ = l.Log(logs.LevelInfo, string(b), nil)
}
