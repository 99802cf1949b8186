// Package logs owns HAProxy-style logging: the targets of "log" lines
// (stdout, stderr, fd@N, unix datagram sockets such as /dev/log, UDP
// syslog), their syslog framing and level filters, and the TCP log line
// formats ("option tcplog", the default "Connect from" line,
// "option dontlognull", log-format and unique-id-format strings).
//
// It follows HAProxy 2.6's configuration manual (configuration.txt §3.1
// "log", §8.2.2 "TCP log format", §8.2.6 "Custom log format") and RFC 3164
// / RFC 5424 for the framing.
package logs

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// StderrKey is the key of a process log record's attribute holding the
// line to print on stderr when it differs from the one sent to the log
// targets: HAProxy's ha_alert and send_log word some events apart.
const StderrKey = "stderr"

// Level is a syslog severity (RFC 5424 §6.2.1): lower is more severe.
type Level int

const (
	LevelEmerg Level = iota
	LevelAlert
	LevelCrit
	LevelErr
	LevelWarning
	LevelNotice
	LevelInfo
	LevelDebug
)

var levelNames = [...]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// String returns HAProxy's name of the level ("notice").
func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return "level(" + strconv.Itoa(int(l)) + ")"
	}
	return levelNames[l]
}

// ParseLevel parses a level name as written in a log line.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if s == n {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("parse level %q: %w", s, errUnknownName)
}

// Facility is a syslog facility (RFC 5424 §6.2.1).
type Facility int

var facilityNames = [...]string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "auth2", "ftp", "ntp", "audit", "alert", "cron2",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

// String returns HAProxy's name of the facility ("local0").
func (f Facility) String() string {
	if f < 0 || int(f) >= len(facilityNames) {
		return "facility(" + strconv.Itoa(int(f)) + ")"
	}
	return facilityNames[f]
}

// ParseFacility parses one of the 24 facility names HAProxy accepts.
func ParseFacility(s string) (Facility, error) {
	for i, n := range facilityNames {
		if s == n {
			return Facility(i), nil
		}
	}
	return 0, fmt.Errorf("parse facility %q: %w", s, errUnknownName)
}

// Format is the framing of a log message (the "format" of a log line).
type Format int

const (
	// FormatLocal is RFC 3164 without the hostname, HAProxy's default:
	// "<134>Nov 25 12:19:37 lb[42]: msg".
	FormatLocal Format = iota
	// FormatRFC3164 adds the hostname: "<134>Nov 25 12:19:37 host lb[42]: msg".
	FormatRFC3164
	// FormatRFC5424: "<134>1 2026-11-25T12:19:37.305904+00:00 - lb 42 - - msg".
	FormatRFC5424
	// FormatPriority: "<134>msg".
	FormatPriority
	// FormatShort: "<6>msg" (the level only, what systemd's stdout
	// logging understands).
	FormatShort
	// FormatTimed: "<6>2026-11-25T12:19:37.305904+00:00 msg".
	FormatTimed
	// FormatISO: "2026-11-25T12:19:37.305904+00:00 msg".
	FormatISO
	// FormatRaw: the message alone.
	FormatRaw
)

var formatNames = [...]string{"local", "rfc3164", "rfc5424", "priority", "short", "timed", "iso", "raw"}

// String returns the format's keyword.
func (f Format) String() string {
	if f < 0 || int(f) >= len(formatNames) {
		return "format(" + strconv.Itoa(int(f)) + ")"
	}
	return formatNames[f]
}

// ParseFormat parses a format keyword.
func ParseFormat(s string) (Format, error) {
	for i, n := range formatNames {
		if s == n {
			return Format(i), nil
		}
	}
	return 0, fmt.Errorf("parse format %q: %w", s, errUnknownName)
}

// Kind is the transport of a target.
type Kind int

const (
	KindFD       Kind = iota // a file descriptor: stdout, stderr, fd@N
	KindUnixgram             // a unix datagram socket path (/dev/log)
	KindUDP                  // UDP syslog, host:port
)

// DefaultLen is HAProxy's default maximum line length.
const DefaultLen = 1024

// Target is one "log" line.
type Target struct {
	// Kind, FD (KindFD) and Addr (the socket path, or host:port for UDP)
	// say where messages go.
	Kind Kind
	FD   int
	Addr string
	// Len is the maximum length of a message with its header, not counting
	// the trailing newline; longer messages are truncated. Zero means
	// DefaultLen. fd targets are never truncated, as in HAProxy.
	Len int
	// Format is the framing; the zero value is FormatLocal, the default.
	Format Format
	// Facility goes into the syslog priority.
	Facility Facility
	// MaxLevel drops messages less severe than it. Note that the zero
	// value is LevelEmerg; ParseTarget sets LevelDebug (everything) when
	// the line has no level.
	MaxLevel Level
	// MinLevel caps more severe messages to it (so that emerg does not
	// reach every terminal); the zero value LevelEmerg caps nothing.
	MinLevel Level
}

var (
	errUnknownName = errors.New("unknown name")
	errSyntax      = errors.New("syntax: log <address> [len <length>] [format <format>] <facility> [<level> [<minlevel>]]")
	errUnsupported = errors.New("unsupported log address")
)

// ParseTarget parses the words after "log" in a global, defaults or proxy
// section (not "log global", which the caller resolves to the global
// targets). A "sample" clause is accepted and ignored.
func ParseTarget(args []string) (Target, error) {
	t := Target{MaxLevel: LevelDebug, MinLevel: LevelEmerg}
	if len(args) < 2 {
		return t, fmt.Errorf("log: %q: %w", strings.Join(args, " "), errSyntax)
	}
	if err := t.parseAddr(args[0]); err != nil {
		return t, err
	}
	rest := args[1:]
	for len(rest) >= 2 {
		switch rest[0] {
		case "len":
			n, err := strconv.Atoi(rest[1])
			if err != nil || n < 80 || n > 65535 {
				return t, fmt.Errorf("log: invalid log length %q, must be between 80 and 65535: %w", rest[1], errSyntax)
			}
			t.Len = n
		case "format":
			f, err := ParseFormat(rest[1])
			if err != nil {
				return t, fmt.Errorf("log: %w", err)
			}
			t.Format = f
		case "sample":
		default:
			goto facility
		}
		rest = rest[2:]
	}
facility:
	if len(rest) == 0 || len(rest) > 3 {
		return t, fmt.Errorf("log: %q: %w", strings.Join(args, " "), errSyntax)
	}
	var err error
	if t.Facility, err = ParseFacility(rest[0]); err != nil {
		return t, fmt.Errorf("log: %w", err)
	}
	if len(rest) > 1 {
		if t.MaxLevel, err = ParseLevel(rest[1]); err != nil {
			return t, fmt.Errorf("log: %w", err)
		}
	}
	if len(rest) > 2 {
		if t.MinLevel, err = ParseLevel(rest[2]); err != nil {
			return t, fmt.Errorf("log: %w", err)
		}
	}
	return t, nil
}

// parseAddr reads HAProxy's log address forms: stdout, stderr, fd@N,
// /path or unix@/path (datagram), and UDP as [udp@|udp4@|udp6@|ipv4@|ipv6@]
// host[:port] with port 514 by default, where an IPv6 address takes its
// port after the last colon ("::1:514") or in brackets ("[::1]:514").
func (t *Target) parseAddr(a string) error {
	switch {
	case a == "stdout":
		t.Kind, t.FD = KindFD, 1
		return nil
	case a == "stderr":
		t.Kind, t.FD = KindFD, 2
		return nil
	case strings.HasPrefix(a, "fd@"):
		n, err := strconv.Atoi(a[3:])
		if err != nil || n < 0 {
			return fmt.Errorf("log: invalid fd in %q: %w", a, errSyntax)
		}
		t.Kind, t.FD = KindFD, n
		return nil
	case strings.HasPrefix(a, "/"):
		t.Kind, t.Addr = KindUnixgram, a
		return nil
	case strings.HasPrefix(a, "unix@"):
		t.Kind, t.Addr = KindUnixgram, a[5:]
		return nil
	case strings.HasPrefix(a, "ring@"), strings.HasPrefix(a, "abns@"), strings.HasPrefix(a, "tcp@"):
		return fmt.Errorf("log: %q: %w", a, errUnsupported)
	}
	for _, p := range []string{"udp@", "udp4@", "udp6@", "ipv4@", "ipv6@"} {
		a = strings.TrimPrefix(a, p)
	}
	host, port := a, "514"
	if strings.HasPrefix(a, "[") {
		h, p, err := net.SplitHostPort(a)
		if err != nil {
			h, p = strings.Trim(a, "[]"), ""
		}
		host, port = h, p
	} else if i := strings.LastIndexByte(a, ':'); i >= 0 {
		host, port = a[:i], a[i+1:]
	}
	if port == "" {
		port = "514"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
		return fmt.Errorf("log: invalid address %q: %w", a, errSyntax)
	}
	t.Kind, t.Addr = KindUDP, net.JoinHostPort(host, port)
	return nil
}

// TargetOf builds a Target from the fields of an already parsed log line:
// network is "udp", "unix" (a datagram path), "stdout", "stderr" or "fd";
// addr is host:port, the path or the fd number; format, level and minLevel
// may be empty (local format, every level, no cap).
func TargetOf(network, addr string, length int, format, facility, level, minLevel string) (Target, error) {
	t := Target{Len: length, MaxLevel: LevelDebug, MinLevel: LevelEmerg}
	switch network {
	case "stdout":
		t.Kind, t.FD = KindFD, 1
	case "stderr":
		t.Kind, t.FD = KindFD, 2
	case "fd":
		n, err := strconv.Atoi(addr)
		if err != nil || n < 0 {
			return t, fmt.Errorf("log: invalid fd %q: %w", addr, errSyntax)
		}
		t.Kind, t.FD = KindFD, n
	case "unix", "unixgram":
		t.Kind, t.Addr = KindUnixgram, addr
	case "udp", "udp4", "udp6":
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return t, fmt.Errorf("log: address %q: %w", addr, err)
		}
		t.Kind, t.Addr = KindUDP, addr
	default:
		return t, fmt.Errorf("log: network %q: %w", network, errUnsupported)
	}
	var err error
	if format != "" {
		if t.Format, err = ParseFormat(format); err != nil {
			return t, fmt.Errorf("log: %w", err)
		}
	}
	if t.Facility, err = ParseFacility(facility); err != nil {
		return t, fmt.Errorf("log: %w", err)
	}
	if level != "" {
		if t.MaxLevel, err = ParseLevel(level); err != nil {
			return t, fmt.Errorf("log: %w", err)
		}
	}
	if minLevel != "" {
		if t.MinLevel, err = ParseLevel(minLevel); err != nil {
			return t, fmt.Errorf("log: %w", err)
		}
	}
	return t, nil
}
