// Package admin serves lb's runtime socket ("stats socket"), HAProxy's CLI: one command line
// in, its answer out, then the connection closes unless "prompt" made it interactive; the
// hidden `_getsocks` command hands the listening sockets to a new process (-x).
package admin

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Level is a CLI access level, as "stats socket … level".
type Level int

const (
	// LevelUser may only read statistics.
	LevelUser Level = iota
	// LevelOperator may also change non-sensitive state (HAProxy's default).
	LevelOperator
	// LevelAdmin may do everything.
	LevelAdmin
)

// ParseLevel maps "user", "operator", "admin" ("" = operator).
func ParseLevel(s string) Level {
	switch s {
	case "user":
		return LevelUser
	case "admin":
		return LevelAdmin
	default:
		return LevelOperator
	}
}

func (l Level) String() string {
	return [...]string{"user", "operator", "admin"}[l]
}

// Command is one CLI command.
type Command struct {
	// Words are the fixed leading words, e.g. {"show", "info"}.
	Words []string
	// Help is the command's line in "help", in HAProxy's words and layout, without the
	// two leading spaces ("" = hidden).
	Help string
	// Level is the lowest level allowed to run it: below it, the answer is "Permission
	// denied".
	Level Level
	// Denied is the answer below Level ("" = "Permission denied\n"): some of HAProxy's
	// commands word it their own way.
	Denied string
	// Run writes the answer to w, without the empty line that ends every answer (the
	// server adds it). A returned error's text is written as the answer instead, as is:
	// HAProxy's messages end with a newline, most of them.
	Run func(args []string, w io.Writer) error
	// RunPayload, when set, runs the command instead of Run and receives its payload: the
	// lines sent after a command line ending with "<<", up to an empty line, joined by
	// newlines (nil = the command came without one). Other commands ignore a payload, as
	// in HAProxy.
	RunPayload func(args []string, payload []byte, w io.Writer) error
	// RunSession, when set, runs the command instead of Run with the connection's
	// session, whose level it may lower ("operator", "user") and whose idle timeout it
	// may change ("set timeout cli").
	RunSession func(ss *Session, args []string, w io.Writer) error
}

// Session is what a connection to the runtime API carries from one command to the
// next.
type Session struct {
	// Level is the session's level: the socket's, unless "operator" or "user"
	// lowered it.
	Level Level
	// Timeout is how long the session waits for a command ("stats timeout", or
	// "set timeout cli").
	Timeout time.Duration
}

// ErrUnknown, returned by a command's Run before it writes anything, answers the command
// as one lb does not know: a form of a command that lb does not have gets HAProxy's reply
// to an unknown command, never a made-up answer.
var ErrUnknown = errors.New("unknown command")

// ErrNoEnd, returned by a command's Run after its answer, leaves out the empty line that
// ends every other answer: HAProxy 2.6's "get var" ends its answer with a NUL byte that
// its CLI stops at, the empty line with it.
var ErrNoEnd = errors.New("answer without its empty line")

// Server answers CLI connections on one listener.
type Server struct {
	// Level is the socket's access level.
	Level Level
	// ExposeFD is "expose-fd listeners": `_getsocks` is allowed.
	ExposeFD bool
	// GetSocks sends the listening sockets over conn (nil = `_getsocks` refused).
	GetSocks func(conn *net.UnixConn) error
	// Timeout is the idle timeout of a connection ("stats timeout"; 0 = 10s).
	Timeout time.Duration
	// Log receives errors; nil = slog.Default().
	Log *slog.Logger
	// Conns, when set, counts the connections served ("show info"'s CumConns, CumReq
	// and Jobs count the runtime API's sessions); servers may share one. nil: not
	// counted.
	Conns *ConnCounters

	// mu guards cmds.
	mu   sync.Mutex
	cmds []Command
}

// ConnCounters count the connections of one or more Servers.
type ConnCounters struct {
	// Total counts the connections ever served, Cur those being served.
	Total, Cur atomic.Int64
}

// Handle registers a command.
func (s *Server) Handle(c Command) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmds = append(s.cmds, c)
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Serve accepts connections on ln until it is closed.
func (s *Server) Serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// A paused or handed-over socket: stop serving it.
			return err
		}
		go s.serveConn(c)
	}
}

// ServeConn answers one connection accepted elsewhere (the master CLI's forwarded
// commands), as Serve answers each of its connections. It closes c.
func (s *Server) ServeConn(c net.Conn) { s.serveConn(c) }

func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	if n := s.Conns; n != nil {
		n.Total.Add(1)
		n.Cur.Add(1)
		defer n.Cur.Add(-1)
	}
	ss := &Session{Level: s.Level, Timeout: s.Timeout}
	if ss.Timeout <= 0 {
		ss.Timeout = 10 * time.Second
	}
	r := bufio.NewReader(c)
	interactive := false
	for {
		_ = c.SetReadDeadline(time.Now().Add(ss.Timeout))
		line, err := r.ReadString('\n')
		if err != nil && line == "" {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		_ = c.SetReadDeadline(time.Time{})
		parts := splitCommandsAt(line)
		last := false
		for i, part := range parts {
			if last {
				break
			}
			cmd := part.cmd
			switch cmd {
			case "_getsocks":
				s.getSocks(c)
				return
			case "quit":
				return
			}
			var payload []byte
			if strings.HasSuffix(part.raw, payloadPattern) {
				// HAProxy's payload mode: the rest of the line, if the command ended
				// with ';', then the next lines up to an empty one, are the payload.
				var lines []string
				if i < len(parts)-1 {
					lines = append(lines, line[part.end+1:])
				}
				for {
					if len(lines) > 0 && lines[len(lines)-1] == "" {
						lines = lines[:len(lines)-1]
						break
					}
					if interactive {
						if _, err := io.WriteString(c, "+ "); err != nil {
							return
						}
					}
					_ = c.SetReadDeadline(time.Now().Add(ss.Timeout))
					l, err := r.ReadString('\n')
					if err != nil {
						// Closed before the empty line: the command is not run.
						return
					}
					lines = append(lines, strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r"))
				}
				_ = c.SetReadDeadline(time.Time{})
				cmd = strings.TrimSuffix(cmd, payloadPattern)
				payload = []byte(strings.Join(lines, "\n"))
				if len(lines) == 0 {
					// HAProxy 2.6 gives an empty payload as one newline: "add map M
					// <<" then an empty line says "Missing value for key '\n'.", and
					// "set ssl cert F <<" goes past its check for a payload.
					payload = []byte("\n")
				}
				last = true // the rest of the line was payload
			}
			var out strings.Builder
			end := true
			if cmd == "prompt" {
				interactive = !interactive
			} else {
				end = s.execAt(ss, cmd, payload, &out)
			}
			// Every answer ends with an empty line (but ErrNoEnd's), then the prompt in
			// interactive mode.
			if end {
				out.WriteString("\n")
			}
			if interactive {
				out.WriteString("> ")
			}
			if _, err := io.WriteString(c, out.String()); err != nil {
				return
			}
		}
		if !interactive {
			return
		}
	}
}

func (s *Server) getSocks(c net.Conn) {
	uc, ok := c.(*net.UnixConn)
	if !ok || !s.ExposeFD || s.GetSocks == nil || s.Level < LevelAdmin {
		_, _ = io.WriteString(c, "Permission denied\n\n")
		return
	}
	if err := s.GetSocks(uc); err != nil {
		s.log().Warn("handing listeners over", "err", err)
	}
}

// payloadPattern ends a command line that a payload follows (HAProxy's PAYLOAD_PATTERN).
const payloadPattern = "<<"

// SplitPayload splits line as SplitCommands does, up to the first command that ends with
// "<<" (HAProxy's payload pattern), which is then the last one returned, "<<" included,
// with payload set. The rest of the line after that command's ';', when there is one, is
// the first line of its payload (hasRest).
func SplitPayload(line string) (cmds []string, payload bool, rest string, hasRest bool) {
	parts := splitCommandsAt(line)
	for i, p := range parts {
		cmds = append(cmds, p.cmd)
		if strings.HasSuffix(p.raw, payloadPattern) {
			if i < len(parts)-1 {
				return cmds, true, line[p.end+1:], true
			}
			return cmds, true, "", false
		}
	}
	return cmds, false, "", false
}

// splitCommands splits a line on unescaped ';' as HAProxy's CLI does: every part is a
// command, an empty one too (it gets the list of commands). "\;" is a ';' in a word; other
// escapes are left for splitWords.
func splitCommands(line string) []string {
	var out []string
	for _, p := range splitCommandsAt(line) {
		out = append(out, p.cmd)
	}
	return out
}

// SplitCommands splits a CLI line into its commands as HAProxy does: on every ';' that no
// backslash escapes, each command trimmed of spaces.
func SplitCommands(line string) []string { return splitCommands(line) }

// command is one command of a line: cmd as splitCommands gives it, raw as written, and
// end the index of the ';' that ends it (len(line) for the last one).
type command struct {
	cmd, raw string
	end      int
}

func splitCommandsAt(line string) []command {
	var out []command
	var cur strings.Builder
	start := 0
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == ';':
			i++
			cur.WriteByte(';')
		case line[i] == '\\' && i+1 < len(line):
			cur.WriteByte(line[i])
			i++
			cur.WriteByte(line[i])
		case line[i] == ';':
			out = append(out, command{cmd: strings.TrimSpace(cur.String()), raw: line[start:i], end: i})
			cur.Reset()
			start = i + 1
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(out, command{cmd: strings.TrimSpace(cur.String()), raw: line[start:], end: len(line)})
}

// splitWords splits a command into its words as HAProxy's cli_parse_request: words are
// separated by spaces and tabs, a backslash makes the next character part of the word
// ("\\" is a backslash), at most maxArgs words are read.
func splitWords(cmd string) []string {
	var words []string
	i := 0
	for len(words) < maxArgs {
		for i < len(cmd) && (cmd[i] == ' ' || cmd[i] == '\t') {
			i++
		}
		if i >= len(cmd) {
			break
		}
		var w strings.Builder
		for i < len(cmd) && cmd[i] != ' ' && cmd[i] != '\t' {
			if cmd[i] == '\\' {
				i++
				if i >= len(cmd) {
					break
				}
			}
			w.WriteByte(cmd[i])
			i++
		}
		words = append(words, w.String())
	}
	return words
}

// maxArgs is HAProxy's MAX_CLI_ARGS.
const maxArgs = 64

// Exec runs one command (one part of a line between ';') and writes its answer to w,
// without the empty line that ends it. Any command gets an answer: an unknown or empty
// one gets HAProxy's list of the commands that may have been meant.
func (s *Server) Exec(cmd string, w io.Writer) {
	s.ExecPayload(cmd, nil, w)
}

// ExecPayload is Exec with the command's payload (nil = none).
func (s *Server) ExecPayload(cmd string, payload []byte, w io.Writer) {
	s.execAt(&Session{Level: s.Level, Timeout: s.Timeout}, cmd, payload, w)
}

// execAt is ExecPayload in session ss.
func (s *Server) execAt(ss *Session, cmd string, payload []byte, w io.Writer) (end bool) {
	words := splitWords(cmd)
	if len(words) > 0 && words[0] == "help" {
		s.usage(words, w)
		return true
	}
	s.mu.Lock()
	var best *Command
	for i := range s.cmds {
		c := &s.cmds[i]
		if len(c.Words) <= len(words) && equalWords(c.Words, words[:len(c.Words)]) &&
			(best == nil || len(c.Words) > len(best.Words)) {
			best = c
		}
	}
	s.mu.Unlock()
	if best == nil {
		s.usage(words, w)
		return true
	}
	if ss.Level < best.Level {
		if best.Denied != "" {
			io.WriteString(w, best.Denied)
		} else {
			io.WriteString(w, "Permission denied\n")
		}
		return true
	}
	run := best.Run
	switch {
	case best.RunSession != nil:
		run = func(args []string, w io.Writer) error { return best.RunSession(ss, args, w) }
	case best.RunPayload != nil:
		run = func(args []string, w io.Writer) error { return best.RunPayload(args, payload, w) }
	}
	switch err := run(words[len(best.Words):], w); {
	case errors.Is(err, ErrNoEnd):
		return false
	case errors.Is(err, ErrUnknown):
		s.usage(words, w)
	case err != nil:
		io.WriteString(w, err.Error())
	}
	return true
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
