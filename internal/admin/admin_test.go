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
		{" ; ;", nil},
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
		Run: func(args []string, w io.Writer) error { io.WriteString(w, "Name: lb\n\n"); return nil }})
	s.Handle(Command{Words: []string{"shutdown"}, Help: "shutdown : stop", Level: LevelAdmin,
		Run: func(args []string, w io.Writer) error { return nil }})
	path := startServer(t, s)
	if got := ask(t, path, "show info"); got != "Name: lb\n\n" {
		t.Errorf("show info = %q", got)
	}
	if got := ask(t, path, "shutdown"); !strings.HasPrefix(got, "Permission denied") {
		t.Errorf("shutdown at operator level = %q; want Permission denied", got)
	}
	if got := ask(t, path, "bogus"); !strings.Contains(got, "Unknown command: 'bogus'") {
		t.Errorf("bogus = %q", got)
	}
	if got := ask(t, path, "help"); !strings.Contains(got, "show info") || strings.Contains(got, "shutdown") {
		t.Errorf("help lists commands above the level or misses allowed ones:\n%s", got)
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
