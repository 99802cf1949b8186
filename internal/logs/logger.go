package logs

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Sink receives log messages. Log must not block: the data plane calls it
// for every connection. Wrap a sink that may block in Async.
type Sink interface {
	Log(level Level, msg string, fields map[string]string) error
}

// Options tunes a Logger.
type Options struct {
	// Tag is the program name in syslog headers (HAProxy's log-tag); empty
	// means the base name of os.Args[0].
	Tag string
	// Hostname goes into rfc3164 and rfc5424 headers (log-send-hostname).
	// Empty means what HAProxy 2.6 sends without log-send-hostname:
	// "localhost" for rfc3164 and the nil value "-" for rfc5424.
	Hostname string
	// PID goes into the headers; zero means os.Getpid().
	PID int
	// QueueLen is the number of messages an fd target (stdout, stderr,
	// fd@N) buffers before dropping; zero means 1024.
	QueueLen int
	// Sinks also receive every message, after the targets; they do their
	// own level filtering. The journald sink is plugged in here.
	Sinks []Sink
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the Logger's own errors (a log server that cannot be
	// reached), once per target until it works again; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Logger sends messages to the targets of one set of "log" lines. It is
// safe for concurrent use and never blocks: a message that cannot be sent
// at once is dropped and counted (HAProxy's DroppedLogs).
type Logger struct {
	opt     Options
	outs    []*output // immutable after New
	maxLvl  Level     // the least severe level any output accepts
	dropped atomic.Uint64
	pidStr  string
}

// output is one target with its transport.
type output struct {
	t    Target
	send func(b []byte) error // non-blocking
	stop func()               // releases the transport
	// failing is set while the target fails, so its errors are logged once.
	failing atomic.Bool
}

// New opens the targets. Unix datagram paths that do not exist yet (no
// syslog daemon) are retried at most once a second when messages come.
func New(targets []Target, opt Options) (*Logger, error) {
	if opt.Tag == "" {
		opt.Tag = filepath.Base(os.Args[0])
	}
	if opt.PID == 0 {
		opt.PID = os.Getpid()
	}
	if opt.QueueLen <= 0 {
		opt.QueueLen = 1024
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	l := &Logger{opt: opt, maxLvl: -1, pidStr: strconv.Itoa(opt.PID)}
	if len(opt.Sinks) > 0 {
		l.maxLvl = LevelDebug
	}
	for _, t := range targets {
		o := &output{t: t}
		var err error
		switch t.Kind {
		case KindFD:
			w := newFDWriter(t.FD, opt.QueueLen)
			o.send, o.stop = w.send, w.close
		case KindUDP:
			o.send, o.stop, err = dialDgram("udp", t.Addr, false)
		case KindUnixgram:
			o.send, o.stop, err = dialDgram("unixgram", t.Addr, true)
		default:
			err = fmt.Errorf("logs: target kind %d: %w", t.Kind, errUnsupported)
		}
		if err != nil {
			l.Close()
			return nil, err
		}
		if t.MaxLevel > l.maxLvl {
			l.maxLvl = t.MaxLevel
		}
		l.outs = append(l.outs, o)
	}
	return l, nil
}

// Enabled reports whether any target takes messages at level, so callers
// can skip building lines nobody receives.
func (l *Logger) Enabled(level Level) bool { return l != nil && level <= l.maxLvl }

// Dropped returns the number of messages dropped so far.
func (l *Logger) Dropped() uint64 { return l.dropped.Load() }

// bufPool recycles message buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Log sends msg to every target whose level filter accepts level, framed
// in the target's format. fields are passed to the Options.Sinks only. It
// returns an error only when every destination failed.
func (l *Logger) Log(level Level, msg string, fields map[string]string) error {
	if l == nil || level > l.maxLvl {
		return nil
	}
	now := l.opt.Now()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	var errs []error
	sent := 0
	for _, o := range l.outs {
		if level > o.t.MaxLevel {
			continue
		}
		lvl := level
		if lvl < o.t.MinLevel {
			lvl = o.t.MinLevel
		}
		b := l.frame((*bp)[:0], o, lvl, now, msg)
		*bp = b
		if err := o.send(b); err != nil {
			l.dropped.Add(1)
			errs = append(errs, err)
			if !o.failing.Swap(true) && !errors.Is(err, errQueueFull) {
				l.opt.Logger.Warn("log target failing", "target", o.t.String(), "err", err)
			}
			continue
		}
		o.failing.Store(false)
		sent++
	}
	for _, s := range l.opt.Sinks {
		if err := s.Log(level, msg, fields); err != nil {
			l.dropped.Add(1)
			errs = append(errs, err)
			continue
		}
		sent++
	}
	if sent == 0 && len(errs) > 0 {
		return fmt.Errorf("logs: %w", errors.Join(errs...))
	}
	return nil
}

// frame appends the message to b with o's header, truncated to o's length
// (not for fd targets), and a trailing newline that the length does not
// count (HAProxy 2.6 sent 91 bytes for "len 90").
func (l *Logger) frame(b []byte, o *output, level Level, now time.Time, msg string) []byte {
	b = AppendHeader(b, o.t.Format, o.t.Facility, level, now, l.opt.Hostname, l.opt.Tag, l.pidStr)
	if o.t.Kind != KindFD {
		limit := o.t.Len
		if limit == 0 {
			limit = DefaultLen
		}
		if room := limit - len(b); len(msg) > room {
			msg = msg[:max(room, 0)]
		}
	}
	b = append(b, msg...)
	return append(b, '\n')
}

// AppendHeader appends the header of format f to b. hostname may be empty
// (see Options.Hostname).
func AppendHeader(b []byte, f Format, fac Facility, level Level, now time.Time, hostname, tag, pid string) []byte {
	pri := func(b []byte, v int) []byte {
		b = append(b, '<')
		b = strconv.AppendInt(b, int64(v), 10)
		return append(b, '>')
	}
	switch f {
	case FormatLocal, FormatRFC3164:
		b = pri(b, int(fac)*8+int(level))
		b = now.AppendFormat(b, "Jan _2 15:04:05 ")
		if f == FormatRFC3164 {
			if hostname == "" {
				hostname = "localhost"
			}
			b = append(b, hostname...)
			b = append(b, ' ')
		}
		b = append(b, tag...)
		b = append(b, '[')
		b = append(b, pid...)
		b = append(b, "]: "...)
	case FormatRFC5424:
		b = pri(b, int(fac)*8+int(level))
		b = append(b, "1 "...)
		b = now.AppendFormat(b, isoLayout)
		if hostname == "" {
			hostname = "-"
		}
		b = append(b, ' ')
		b = append(b, hostname...)
		b = append(b, ' ')
		b = append(b, tag...)
		b = append(b, ' ')
		b = append(b, pid...)
		b = append(b, " - - "...)
	case FormatPriority:
		b = pri(b, int(fac)*8+int(level))
	case FormatShort:
		b = pri(b, int(level))
	case FormatTimed:
		b = pri(b, int(level))
		b = now.AppendFormat(b, isoLayout)
		b = append(b, ' ')
	case FormatISO:
		b = now.AppendFormat(b, isoLayout)
		b = append(b, ' ')
	}
	return b
}

// isoLayout is HAProxy's ISO 8601 timestamp: microseconds and a numeric
// offset, "+00:00" rather than "Z" for UTC.
const isoLayout = "2006-01-02T15:04:05.000000-07:00"

// Close stops the targets, flushing what fd targets have queued (for at
// most a second).
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	for _, o := range l.outs {
		if o.stop != nil {
			o.stop()
		}
	}
	return nil
}

// String renders the target as in a log line.
func (t Target) String() string {
	switch t.Kind {
	case KindFD:
		switch t.FD {
		case 1:
			return "stdout"
		case 2:
			return "stderr"
		}
		return "fd@" + strconv.Itoa(t.FD)
	}
	return t.Addr
}

// Tee returns a Sink that logs to every sink in turn: a proxy with both
// "log global" and its own log lines logs to Tee(global, own).
func Tee(sinks ...Sink) Sink { return tee(sinks) }

type tee []Sink

func (t tee) Log(level Level, msg string, fields map[string]string) error {
	var errs []error
	for _, s := range t {
		if err := s.Log(level, msg, fields); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

var errQueueFull = errors.New("queue full, message dropped")

// AsyncSink runs a Sink that may block in its own goroutine, behind a
// bounded queue: Log never blocks and drops messages when the queue is full.
type AsyncSink struct {
	sink    Sink
	queue   chan asyncMsg
	done    chan struct{}
	dropped atomic.Uint64
	once    sync.Once
}

type asyncMsg struct {
	level  Level
	msg    string
	fields map[string]string
}

// Async starts an AsyncSink with a queue of n messages (0 means 1024).
func Async(s Sink, n int) *AsyncSink {
	if n <= 0 {
		n = 1024
	}
	a := &AsyncSink{sink: s, queue: make(chan asyncMsg, n), done: make(chan struct{})}
	go a.run()
	return a
}

func (a *AsyncSink) run() {
	defer close(a.done)
	for m := range a.queue {
		if err := a.sink.Log(m.level, m.msg, m.fields); err != nil {
			a.dropped.Add(1)
		}
	}
}

// Log queues the message, or drops it with errQueueFull.
func (a *AsyncSink) Log(level Level, msg string, fields map[string]string) error {
	select {
	case a.queue <- asyncMsg{level, msg, fields}:
		return nil
	default:
		a.dropped.Add(1)
		return errQueueFull
	}
}

// Dropped counts the messages dropped by the queue or failed by the sink.
func (a *AsyncSink) Dropped() uint64 { return a.dropped.Load() }

// Close stops accepting messages and waits (at most a second) for the
// queued ones to be sent. Log must not be called after Close.
func (a *AsyncSink) Close() error {
	a.once.Do(func() { close(a.queue) })
	select {
	case <-a.done:
	case <-time.After(time.Second):
	}
	return nil
}
