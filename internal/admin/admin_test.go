package admin

import (
	"bufio"
	"io"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSplitCommands(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"show info", []string{"show info"}},
		{"show info; show stat", []string{"show info", "show stat"}},
		{`set var a\;b`, []string{"set var a;b"}},
		{" ; ;", []string{"", "", ""}},
		{`get weight be\/s1`, []string{`get weight be\/s1`}},
	}
	for _, tt := range tests {
		if got := splitCommands(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitCommands(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// world is a runtime socket server on a real unix socket.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go s.Serve(ln)
	return path
}

func ask(t *testing.T, path, line string) string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, line+"\n")
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading answer to %q: %v", line, err)
	}
	return string(b)
}

func TestCommandsAndLevels(t *testing.T) {
	s := &Server{Level: LevelOperator}
	s.Handle(Command{Words: []string{"show", "info"}, Help: "show info : process information", Level: LevelUser,
		Run: func(args []string, w io.Writer) error { io.WriteString(w, "Name: lb\n"); return nil }})
	s.Handle(Command{Words: []string{"shutdown"}, Help: "shutdown : stop", Level: LevelAdmin,
		Run: func(args []string, w io.Writer) error { return nil }})
	path := startServer(t, s)
	if got := ask(t, path, "show info"); got != "Name: lb\n\n" {
		t.Errorf("show info = %q", got)
	}
	if got := ask(t, path, "shutdown"); !strings.HasPrefix(got, "Permission denied") {
		t.Errorf("shutdown at operator level = %q; want Permission denied", got)
	}
	if got := ask(t, path, "bogus"); !strings.HasPrefix(got, "Unknown command, but maybe one of the following ones is a better match:\n") {
		t.Errorf("bogus = %q", got)
	}
	// As HAProxy 2.6, help lists every command whatever the level.
	if got := ask(t, path, "help"); !strings.Contains(got, "show info") || !strings.Contains(got, "shutdown") {
		t.Errorf("help misses commands:\n%s", got)
	}
	if got := ask(t, path, ""); !strings.HasPrefix(got, "Unknown command. Please enter one of the following commands only:\n") {
		t.Errorf("empty line = %q", got)
	}
	if got := ask(t, path, "show info;show info"); got != "Name: lb\n\nName: lb\n\n" {
		t.Errorf("two commands = %q", got)
	}
}

func TestPromptMode(t *testing.T) {
	s := &Server{Level: LevelAdmin}
	s.Handle(Command{Words: []string{"show", "info"}, Level: LevelUser,
		Run: func(args []string, w io.Writer) error { io.WriteString(w, "Name: lb\n"); return nil }})
	path := startServer(t, s)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	r := bufio.NewReader(c)
	io.WriteString(c, "prompt\n")
	if p, err := r.ReadString(' '); err != nil || p != "\n> " {
		t.Fatalf("prompt = %q, %v", p, err)
	}
	io.WriteString(c, "show info\n")
	if l, err := r.ReadString('\n'); err != nil || l != "Name: lb\n" {
		t.Fatalf("interactive show info = %q, %v", l, err)
	}
}

func TestGetSocksRefused(t *testing.T) {
	s := &Server{Level: LevelAdmin} // no expose-fd listeners
	path := startServer(t, s)
	if got := ask(t, path, "_getsocks"); !strings.HasPrefix(got, "Permission denied") {
		t.Errorf("_getsocks without expose-fd = %q; want Permission denied", got)
	}
}

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"show  version", []string{"show", "version"}},
		{"show\tversion", []string{"show", "version"}},
		{`get weight be\/s1`, []string{"get", "weight", "be/s1"}},
		{`a\ b c\\`, []string{"a b", `c\`}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := splitWords(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitWords(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzExec: whatever the line, the dispatcher answers every command of it, and never
// panics.
func FuzzExec(f *testing.F) {
	for _, s := range []string{"", "help", "show info", "bogus", "show;;show info", `a\;b`, "help show", "help foo bar",
		"get weight be/s1", "set weight be/s1 50%", "\\", "show info typed", "x\x00y", strings.Repeat("a ", 100)} {
		f.Add(s)
	}
	s := &Server{Level: LevelOperator}
	for _, c := range []Command{
		{Words: []string{"show", "info"}, Help: "show info [desc|json|typed|float]*      : report information about the running process", Level: LevelUser},
		{Words: []string{"show", "stat"}, Help: "show stat [desc|json|no-maint|typed|up]*: report counters for each proxy and server", Level: LevelUser},
		{Words: []string{"get", "weight"}, Help: "get weight <bk>/<srv>                   : report a server's current weight", Level: LevelUser},
		{Words: []string{"set", "weight"}, Help: "set weight <bk>/<srv>  (DEPRECATED)     : change a server's weight (use 'set server' instead)", Level: LevelAdmin},
	} {
		c.Run = func(args []string, w io.Writer) error {
			if len(args) > 0 && args[0] == "typed" {
				return ErrUnknown
			}
			io.WriteString(w, "ok\n")
			return nil
		}
		s.Handle(c)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\r\n") {
			return // one line
		}
		for _, cmd := range splitCommands(line) {
			var out strings.Builder
			s.Exec(cmd, &out)
			if out.Len() == 0 || !strings.HasSuffix(out.String(), "\n") {
				t.Fatalf("command %q of line %q: answer %q", cmd, line, out.String())
			}
		}
	})
}

// TestPayload: a command line ending with "<<" takes the next lines, up to an empty one,
// as its payload, as HAProxy's CLI; without lines its payload is one newline.
func TestPayload(t *testing.T) {
	s := &Server{Level: LevelAdmin}
	s.Handle(Command{Words: []string{"set", "thing"}, Level: LevelAdmin,
		RunPayload: func(args []string, payload []byte, w io.Writer) error {
			if payload == nil {
				_, err := io.WriteString(w, strings.Join(args, ",")+" without payload\n")
				return err
			}
			_, err := io.WriteString(w, strings.Join(args, ",")+" got "+strings.ReplaceAll(string(payload), "\n", "|")+"\n")
			return err
		}})
	s.Handle(Command{Words: []string{"show", "info"}, Level: LevelUser,
		Run: func(args []string, w io.Writer) error { io.WriteString(w, "Name: lb\n"); return nil }})
	path := startServer(t, s)
	for _, tt := range []struct{ in, want string }{
		{"set thing a <<\nl1\nl2\r\n\n", "a got l1|l2\n\n"},
		{"set thing a<<\nl1\n\n", "a got l1\n\n"},
		{"set thing a <<\n\n", "a got |\n\n"}, // HAProxy's empty payload: one newline
		{"set thing a << \nl1\n\n", "a,<< without payload\n\n"},
		{"show info; set thing b <<;first\nsecond\n\n", "Name: lb\n\nb got first|second\n\n"},
		{"set thing a <<\nl1\n", ""}, // closed before the empty line: not run
	} {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		io.WriteString(c, tt.in)
		c.(*net.UnixConn).CloseWrite()
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(b) != tt.want {
			t.Errorf("%q: answer %q, %v; want %q", tt.in, b, err, tt.want)
		}
	}
	// Interactive: "+ " after the command line and each payload line.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, "prompt\nset thing z <<\nx\n\nquit\n")
	b, _ := io.ReadAll(c)
	if want := "\n> + + z got x\n\n> "; string(b) != want {
		t.Errorf("interactive payload: %q; want %q", b, want)
	}
}
