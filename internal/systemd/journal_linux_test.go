package systemd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeJournal is journald's native socket: a real unixgram socket.
type fakeJournal struct {
	conn *net.UnixConn
	path string
}

func newFakeJournal(t *testing.T) *fakeJournal {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.socket")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadBuffer(4 << 20)
	t.Cleanup(func() { conn.Close() })
	return &fakeJournal{conn: conn, path: path}
}

// recv returns the fields of one entry, reading a passed memfd as journald does.
func (j *fakeJournal) recv(t *testing.T) map[string][]string {
	t.Helper()
	buf := make([]byte, 1<<20)
	oob := make([]byte, unix.CmsgSpace(4))
	j.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, oobn, _, _, err := j.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatalf("journal receive: %v", err)
	}
	data := buf[:n]
	if oobn > 0 {
		cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(cmsgs) != 1 {
			t.Fatalf("journal control message: %v", err)
		}
		fds, err := unix.ParseUnixRights(&cmsgs[0])
		if err != nil || len(fds) != 1 {
			t.Fatalf("journal fds: %v %v", fds, err)
		}
		f := os.NewFile(uintptr(fds[0]), "memfd")
		defer f.Close()
		seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
		if err != nil || seals&unix.F_SEAL_WRITE == 0 {
			t.Errorf("passed memfd seals = %#x, %v; want sealed for writing", seals, err)
		}
		// journald maps the memfd; the sender's writes moved the shared offset.
		if data, err = io.ReadAll(io.NewSectionReader(f, 0, 1<<30)); err != nil {
			t.Fatal(err)
		}
	}
	fields, err := parseNative(data)
	if err != nil {
		t.Fatalf("parse entry %q: %v", data, err)
	}
	return fields
}

func parseNative(b []byte) (map[string][]string, error) {
	fields := map[string][]string{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			return nil, errors.New("missing newline")
		}
		line := b[:nl]
		if eq := bytes.IndexByte(line, '='); eq >= 0 {
			fields[string(line[:eq])] = append(fields[string(line[:eq])], string(line[eq+1:]))
			b = b[nl+1:]
			continue
		}
		name := string(line)
		b = b[nl+1:]
		if len(b) < 8 {
			return nil, errors.New("short binary field")
		}
		n := binary.LittleEndian.Uint64(b[:8])
		b = b[8:]
		if uint64(len(b)) < n+1 || b[n] != '\n' {
			return nil, errors.New("bad binary field length")
		}
		fields[name] = append(fields[name], string(b[:n]))
		b = b[n+1:]
	}
	return fields, nil
}

func TestJournalHandler(t *testing.T) {
	j := newFakeJournal(t)
	var fallback bytes.Buffer
	h, err := NewJournalHandler(JournalOptions{Socket: j.path, Level: slog.LevelDebug, Fallback: &fallback})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	log := slog.New(h)

	tests := []struct {
		name string
		log  func()
		want map[string]string
	}{
		{
			name: "server down",
			log: func() {
				log.Warn("server is DOWN", "proxy", "be_app", "server", "s1", "check-duration", 3*time.Millisecond)
			},
			want: map[string]string{
				"MESSAGE": "server is DOWN", "PRIORITY": "4", "SYSLOG_IDENTIFIER": "lb",
				"PROXY": "be_app", "SERVER": "s1", "CHECK_DURATION": "3ms",
			},
		},
		{
			name: "levels and error",
			log:  func() { log.Error("bind failed", "err", fmt.Errorf("listen: %w", unix.EADDRINUSE)) },
			want: map[string]string{"PRIORITY": "3", "ERR": "listen: address already in use"},
		},
		{name: "debug", log: func() { log.Debug("d") }, want: map[string]string{"PRIORITY": "7"}},
		{name: "info", log: func() { log.Info("i") }, want: map[string]string{"PRIORITY": "6"}},
		{name: "notice", log: func() { log.Log(nil, slog.LevelInfo+2, "n") }, want: map[string]string{"PRIORITY": "5"}},
		{name: "critical", log: func() { log.Log(nil, slog.LevelError+4, "c") }, want: map[string]string{"PRIORITY": "2"}},
		{
			name: "groups and With",
			log: func() {
				log.With("proxy", "fe").WithGroup("check").Info("x", "status", "L4OK", slog.Group("", "code", 200))
			},
			want: map[string]string{"PROXY": "fe", "CHECK_STATUS": "L4OK", "CHECK_CODE": "200"},
		},
		{
			name: "multi-line message, odd keys",
			log:  func() { log.Info("line1\nline2", "_private", 1, "9lives", 2, "message", "m") },
			want: map[string]string{"MESSAGE": "line1\nline2", "PRIVATE": "1", "F_9LIVES": "2", "LB_MESSAGE": "m"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.log()
			got := j.recv(t)
			for k, v := range tt.want {
				if len(got[k]) != 1 || got[k][0] != v {
					t.Errorf("field %s = %q; want [%q]", k, got[k], v)
				}
			}
		})
	}
	if fallback.Len() != 0 {
		t.Errorf("fallback got %q; want nothing", fallback.String())
	}
}

func TestJournalSendFields(t *testing.T) {
	j := newFakeJournal(t)
	h, err := NewJournalHandler(JournalOptions{Socket: j.path, Level: slog.LevelError})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	err = h.SendFields("127.0.0.1:5000 [fe] be/s1 0/0/1 12 --", 6, map[string]string{"proxy": "fe", "server": "s1", "message": "x"})
	if err != nil {
		t.Fatalf("SendFields() = %v", err)
	}
	got := j.recv(t)
	for k, v := range map[string]string{
		"MESSAGE": "127.0.0.1:5000 [fe] be/s1 0/0/1 12 --", "PRIORITY": "6", "SYSLOG_IDENTIFIER": "lb",
		"PROXY": "fe", "SERVER": "s1", "LB_MESSAGE": "x",
	} {
		if len(got[k]) != 1 || got[k][0] != v {
			t.Errorf("field %s = %q; want [%q]", k, got[k], v)
		}
	}
}

func TestJournalHandlerLarge(t *testing.T) {
	j := newFakeJournal(t)
	h, err := NewJournalHandler(JournalOptions{Socket: j.path})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	big := strings.Repeat("x", 600<<10) // above the default datagram limit
	slog.New(h).Info("big", "dump", big)
	if got := j.recv(t)["DUMP"]; len(got) != 1 || got[0] != big {
		t.Errorf("large field lost (%d values)", len(got))
	}
}

func TestJournalHandlerFallback(t *testing.T) {
	j := newFakeJournal(t)
	var fallback bytes.Buffer
	h, err := NewJournalHandler(JournalOptions{Socket: j.path, Fallback: &fallback})
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	slog.New(h).Info("after close", "proxy", "p")
	if !strings.Contains(fallback.String(), `msg="after close" proxy=p`) {
		t.Errorf("fallback = %q; want the record as text", fallback.String())
	}
}

func TestJournalDetected(t *testing.T) {
	j := newFakeJournal(t)
	var st unix.Stat_t
	if err := unix.Fstat(2, &st); err != nil {
		t.Fatal(err)
	}
	stderrStream := fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	tests := []struct {
		name, stream, invocation, socket string
		want                             bool
	}{
		{name: "nothing", socket: j.path},
		{name: "stderr is the journal stream", stream: stderrStream, want: true},
		{name: "stream of another fd", stream: "1:1", socket: filepath.Join(t.TempDir(), "none")},
		{name: "service with socket", invocation: "abc", socket: j.path, want: true},
		{name: "service without socket", invocation: "abc", socket: filepath.Join(t.TempDir(), "none")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("JOURNAL_STREAM", tt.stream)
			t.Setenv("INVOCATION_ID", tt.invocation)
			t.Setenv("NOTIFY_SOCKET", "")
			if got := journalDetected(tt.socket); got != tt.want {
				t.Errorf("journalDetected(%q) = %t; want %t", tt.socket, got, tt.want)
			}
		})
	}
}

func TestNewLogHandlerPlain(t *testing.T) {
	t.Setenv("JOURNAL_STREAM", "")
	t.Setenv("INVOCATION_ID", "")
	t.Setenv("NOTIFY_SOCKET", "")
	var buf bytes.Buffer
	slog.New(NewLogHandler(&buf, nil)).Info("hello", "proxy", "p")
	if !strings.Contains(buf.String(), "msg=hello proxy=p") {
		t.Errorf("plain handler wrote %q", buf.String())
	}
}
