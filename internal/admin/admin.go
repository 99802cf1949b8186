// Package admin serves lb's runtime socket ("stats socket"), HAProxy's CLI: one command line
// in, its answer out, then the connection closes unless "prompt" made it interactive; the
// hidden `_getsocks` command hands the listening sockets to a new process (-x).
package admin

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
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

// Command is one CLI command. Run writes the answer to w; an error is printed as the answer.
type Command struct {
	// Words are the fixed leading words, e.g. {"show", "info"}.
	Words []string
	// Help is the line "help" prints ("" = hidden).
	Help string
	// Level is the lowest level allowed to run it.
	Level Level
	Run   func(args []string, w io.Writer) error
}

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

	// mu guards cmds.
	mu   sync.Mutex
	cmds []Command
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

func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	r := bufio.NewReader(c)
	interactive := false
	for {
		_ = c.SetReadDeadline(time.Now().Add(timeout))
		line, err := r.ReadString('\n')
		if err != nil && line == "" {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		_ = c.SetReadDeadline(time.Time{})
		for _, cmd := range splitCommands(line) {
			if cmd == "_getsocks" {
				s.getSocks(c)
				return
			}
			if cmd == "prompt" {
				interactive = !interactive
				continue
			}
			if cmd == "quit" {
				return
			}
			var out strings.Builder
			s.run(cmd, &out)
			_, _ = io.WriteString(c, out.String())
		}
		if !interactive {
			return
		}
		_, _ = io.WriteString(c, "\n> ")
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

// splitCommands splits a line on unescaped ';' as HAProxy's CLI does.
func splitCommands(line string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case line[i] == ';':
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	out = append(out, strings.TrimSpace(cur.String()))
	var res []string
	for _, c := range out {
		if c != "" {
			res = append(res, c)
		}
	}
	return res
}

func (s *Server) run(line string, w io.Writer) {
	words := strings.Fields(line)
	if len(words) == 0 {
		return
	}
	if words[0] == "help" {
		s.help(w)
		return
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
		fmt.Fprintf(w, "Unknown command: '%s'\n\n", words[0])
		s.help(w)
		return
	}
	if s.Level < best.Level {
		io.WriteString(w, "Permission denied\n\n")
		return
	}
	if err := best.Run(words[len(best.Words):], w); err != nil {
		fmt.Fprintf(w, "%s\n\n", err)
	}
}

func (s *Server) help(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := []string{"  help           : full commands list", "  prompt         : toggle interactive mode with prompt", "  quit           : disconnect"}
	for _, c := range s.cmds {
		if c.Help != "" && s.Level >= c.Level {
			lines = append(lines, "  "+c.Help)
		}
	}
	sort.Strings(lines[3:])
	io.WriteString(w, "The following commands are valid at this level:\n"+strings.Join(lines, "\n")+"\n\n")
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
