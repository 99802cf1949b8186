package systemd

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
)

// JournalSocket is journald's native protocol socket
// (https://systemd.io/JOURNAL_NATIVE_PROTOCOL/).
const JournalSocket = "/run/systemd/journal/socket"

// DefaultIdentifier is the SYSLOG_IDENTIFIER of lb's journal entries.
const DefaultIdentifier = "lb"

// JournalDetected reports whether lb should log to journald natively: its
// stderr is a journal stream (JOURNAL_STREAM names stderr's device and
// inode), or it runs as a systemd service ($INVOCATION_ID or $NOTIFY_SOCKET
// set) and JournalSocket exists.
func JournalDetected() bool { return journalDetected(JournalSocket) }

func journalDetected(socket string) bool {
	if ok, err := journal.StderrIsJournalStream(); err == nil && ok {
		return true
	}
	if os.Getenv("INVOCATION_ID") == "" && os.Getenv("NOTIFY_SOCKET") == "" {
		return false
	}
	fi, err := os.Stat(socket)
	return err == nil && fi.Mode()&os.ModeSocket != 0
}

// NewLogHandler returns the handler for lb's own logs: a JournalHandler when
// JournalDetected and the journal socket opens, else plain text lines
// (slog.TextHandler) on w. level nil means slog.LevelInfo.
func NewLogHandler(w io.Writer, level slog.Leveler) slog.Handler {
	if JournalDetected() {
		if h, err := NewJournalHandler(JournalOptions{Level: level, Fallback: w}); err == nil {
			return h
		}
	}
	return slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})
}

// JournalOptions configures a JournalHandler.
type JournalOptions struct {
	// Level is the minimum level logged. Nil means slog.LevelInfo.
	Level slog.Leveler
	// Identifier is SYSLOG_IDENTIFIER. Empty means DefaultIdentifier.
	Identifier string
	// AddSource adds CODE_FILE=, CODE_LINE= and CODE_FUNC=.
	AddSource bool
	// Socket is the journal socket path. Empty means JournalSocket.
	Socket string
	// Fallback receives a text line for each record that could not be
	// sent to the journal. Nil means os.Stderr.
	Fallback io.Writer
}

// JournalHandler is a slog.Handler that sends records to journald over its
// native protocol, on a socket connected once (so it keeps working after a
// chroot): MESSAGE=, PRIORITY= (syslog level from the slog level),
// SYSLOG_IDENTIFIER=, and one field per attribute, its key upper-cased with
// groups joined by '_' (proxy → PROXY=, server → SERVER=,
// group "check" + key "status" → CHECK_STATUS=). Keys that would clash with
// the fields above get an "LB_" prefix.
//
// Records larger than a datagram travel in a sealed memfd, as sd_journal does.
type JournalHandler struct {
	conn     *journalConn
	level    slog.Leveler
	ident    string
	source   bool
	prefix   string // group prefix for attributes, "" or "A_B_"
	pre      []byte // serialized attributes of WithAttrs
	fallback slog.Handler
}

// journalConn is the socket shared by a handler and its With* children.
type journalConn struct {
	mu   sync.Mutex // guards sock against Close
	sock int        // connected unixgram socket; -1 once closed
}

// NewJournalHandler connects to the journal socket.
func NewJournalHandler(opt JournalOptions) (*JournalHandler, error) {
	path := opt.Socket
	if path == "" {
		path = JournalSocket
	}
	sock, err := dialNotify(path)
	if err != nil {
		return nil, fmt.Errorf("open journal socket %q: %w", path, err)
	}
	h := &JournalHandler{
		conn:   &journalConn{sock: sock},
		level:  opt.Level,
		ident:  opt.Identifier,
		source: opt.AddSource,
	}
	if h.level == nil {
		h.level = slog.LevelInfo
	}
	if h.ident == "" {
		h.ident = DefaultIdentifier
	}
	fb := opt.Fallback
	if fb == nil {
		fb = os.Stderr
	}
	h.fallback = slog.NewTextHandler(fb, &slog.HandlerOptions{Level: h.level})
	return h, nil
}

// Close closes the journal socket shared with every handler derived from h.
func (h *JournalHandler) Close() error {
	h.conn.mu.Lock()
	defer h.conn.mu.Unlock()
	if h.conn.sock < 0 {
		return nil
	}
	err := closeFD(h.conn.sock)
	h.conn.sock = -1
	return err
}

// Enabled implements slog.Handler.
func (h *JournalHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

// WithAttrs implements slog.Handler.
func (h *JournalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	buf := bytes.NewBuffer(append([]byte(nil), h.pre...))
	for _, a := range attrs {
		appendAttr(buf, h.prefix, a)
	}
	h2.pre = buf.Bytes()
	h2.fallback = h.fallback.WithAttrs(attrs)
	return &h2
}

// WithGroup implements slog.Handler.
func (h *JournalHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + fieldName(name) + "_"
	h2.fallback = h.fallback.WithGroup(name)
	return &h2
}

// Handle implements slog.Handler.
func (h *JournalHandler) Handle(ctx context.Context, r slog.Record) error {
	var buf bytes.Buffer
	appendField(&buf, "MESSAGE", r.Message)
	appendField(&buf, "PRIORITY", strconv.Itoa(journalPriority(r.Level)))
	appendField(&buf, "SYSLOG_IDENTIFIER", h.ident)
	if h.source && r.PC != 0 {
		fs := runtime.CallersFrames([]uintptr{r.PC})
		f, _ := fs.Next()
		appendField(&buf, "CODE_FILE", f.File)
		appendField(&buf, "CODE_LINE", strconv.Itoa(f.Line))
		appendField(&buf, "CODE_FUNC", f.Function)
	}
	buf.Write(h.pre)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&buf, h.prefix, a)
		return true
	})
	if err := h.conn.send(buf.Bytes()); err != nil {
		_ = h.fallback.Handle(ctx, r)
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// SendFields sends one entry with MESSAGE=message, PRIORITY=priority (syslog
// 0–7), SYSLOG_IDENTIFIER= and fields, their names made valid as for
// attributes (proxy → PROXY), on the handler's connected socket: a
// chroot-safe replacement for go-systemd's journal.Send, for log lines that
// do not come through slog (HAProxy-style traffic logs). It ignores the
// handler's level.
func (h *JournalHandler) SendFields(message string, priority int, fields map[string]string) error {
	var buf bytes.Buffer
	appendField(&buf, "MESSAGE", message)
	appendField(&buf, "PRIORITY", strconv.Itoa(min(max(priority, 0), 7)))
	appendField(&buf, "SYSLOG_IDENTIFIER", h.ident)
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		name := fieldName(k)
		if reservedFields[name] {
			name = "LB_" + name
		}
		appendField(&buf, name, fields[k])
	}
	if err := h.conn.send(buf.Bytes()); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

func (c *journalConn) send(data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sock < 0 {
		return errJournalClosed
	}
	return sendJournal(c.sock, data)
}

// journalPriority maps slog levels to syslog priorities: Debug 7, Info 6,
// between Info and Warn (notice) 5, Warn 4, Error 3, Error+4 (critical) 2,
// Error+8 and above (alert) 1.
func journalPriority(l slog.Level) int {
	switch {
	case l < slog.LevelInfo:
		return 7
	case l == slog.LevelInfo:
		return 6
	case l < slog.LevelWarn:
		return 5
	case l < slog.LevelError:
		return 4
	case l < slog.LevelError+4:
		return 3
	case l < slog.LevelError+8:
		return 2
	}
	return 1
}

// reservedFields are set by the handler itself.
var reservedFields = map[string]bool{
	"MESSAGE": true, "PRIORITY": true, "SYSLOG_IDENTIFIER": true,
	"CODE_FILE": true, "CODE_LINE": true, "CODE_FUNC": true,
}

func appendAttr(buf *bytes.Buffer, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += fieldName(a.Key) + "_"
		}
		for _, g := range a.Value.Group() {
			appendAttr(buf, p, g)
		}
		return
	}
	name := prefix + fieldName(a.Key)
	if reservedFields[name] {
		name = "LB_" + name
	}
	var v string
	switch a.Value.Kind() {
	case slog.KindTime:
		v = a.Value.Time().Format(time.RFC3339Nano)
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			v = err.Error()
			break
		}
		v = a.Value.String()
	default:
		v = a.Value.String()
	}
	appendField(buf, name, v)
}

// fieldName turns an attribute key into a journal field name: upper-case
// letters, digits and '_', not starting with '_' or a digit, at most 64
// characters.
func fieldName(key string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(key) {
		if (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), "_")
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		s = "F_" + s
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// appendField writes NAME=value\n, or the binary form for values with a
// newline: NAME\n, little-endian 64-bit length, value, \n.
func appendField(buf *bytes.Buffer, name, value string) {
	if !strings.ContainsRune(value, '\n') {
		buf.WriteString(name)
		buf.WriteByte('=')
		buf.WriteString(value)
		buf.WriteByte('\n')
		return
	}
	buf.WriteString(name)
	buf.WriteByte('\n')
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(value)))
	buf.Write(n[:])
	buf.WriteString(value)
	buf.WriteByte('\n')
}
