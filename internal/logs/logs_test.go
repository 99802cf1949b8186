package logs

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseTarget(t *testing.T) {
	all := func(t Target) Target { t.MaxLevel, t.MinLevel = LevelDebug, LevelEmerg; return t }
	tests := []struct {
		line string
		want Target
		err  bool
	}{
		{"stdout format raw local0", all(Target{Kind: KindFD, FD: 1, Format: FormatRaw, Facility: 16}), false},
		{"stderr daemon", all(Target{Kind: KindFD, FD: 2, Facility: 3}), false},
		{"fd@3 local1", all(Target{Kind: KindFD, FD: 3, Facility: 17}), false},
		{"/dev/log local0", all(Target{Kind: KindUnixgram, Addr: "/dev/log", Facility: 16}), false},
		{"unix@/run/x.sock local3", all(Target{Kind: KindUnixgram, Addr: "/run/x.sock", Facility: 19}), false},
		{"127.0.0.1 local0", all(Target{Kind: KindUDP, Addr: "127.0.0.1:514", Facility: 16}), false},
		{"127.0.0.1:1514 local2 notice", Target{Kind: KindUDP, Addr: "127.0.0.1:1514", Facility: 18,
			MaxLevel: LevelNotice}, false},
		{"udp@10.0.0.1:515 len 4096 format rfc5424 local4 info notice", Target{Kind: KindUDP,
			Addr: "10.0.0.1:515", Len: 4096, Format: FormatRFC5424, Facility: 20, MaxLevel: LevelInfo, MinLevel: LevelNotice}, false},
		{"::1:514 local0", all(Target{Kind: KindUDP, Addr: "[::1]:514", Facility: 16}), false},
		{"[::1]:1514 local0", all(Target{Kind: KindUDP, Addr: "[::1]:1514", Facility: 16}), false},
		{"ipv6@[::1] local0", all(Target{Kind: KindUDP, Addr: "[::1]:514", Facility: 16}), false},
		{"localhost:514 sample 1:2 local0", all(Target{Kind: KindUDP, Addr: "localhost:514", Facility: 16}), false},
		{"127.0.0.1 len 60 local0", Target{}, true},
		{"127.0.0.1 format json local0", Target{}, true},
		{"127.0.0.1 local9", Target{}, true},
		{"127.0.0.1 local0 loud", Target{}, true},
		{"127.0.0.1", Target{}, true},
		{"ring@buf local0", Target{}, true},
		{"127.0.0.1:99999 local0", Target{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			got, err := ParseTarget(strings.Fields(tc.line))
			if tc.err {
				if err == nil {
					t.Errorf("ParseTarget(%q) = %+v; want an error", tc.line, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", tc.line, got, err, tc.want)
			}
		})
	}
}

func TestTargetOf(t *testing.T) {
	got, err := TargetOf("udp", "127.0.0.1:514", 2048, "rfc5424", "local2", "info", "notice")
	want := Target{Kind: KindUDP, Addr: "127.0.0.1:514", Len: 2048, Format: FormatRFC5424, Facility: 18,
		MaxLevel: LevelInfo, MinLevel: LevelNotice}
	if err != nil || got != want {
		t.Errorf("TargetOf(udp) = %+v, %v; want %+v", got, err, want)
	}
	got, err = TargetOf("stdout", "", 0, "", "daemon", "", "")
	want = Target{Kind: KindFD, FD: 1, Facility: 3, MaxLevel: LevelDebug}
	if err != nil || got != want {
		t.Errorf("TargetOf(stdout) = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range [][]string{{"ring", "buf"}, {"tcp", "127.0.0.1:514"}, {"fd", "x"}, {"udp", "nohost"}} {
		if _, err := TargetOf(bad[0], bad[1], 0, "", "local0", "", ""); err == nil {
			t.Errorf("TargetOf(%q, %q) = nil error; want an error", bad[0], bad[1])
		}
	}
}

// The wanted headers are those HAProxy 2.6.12 sent for the same settings
// (tag haproxy, pid 16687, 2026-11-25 12:19:37.305904 UTC).
func TestAppendHeader(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 19, 37, 305904000, time.UTC)
	tests := []struct {
		format Format
		fac    Facility
		level  Level
		host   string
		want   string
	}{
		{FormatLocal, 17, LevelInfo, "", "<142>Nov 25 12:19:37 haproxy[16687]: "},
		{FormatRFC3164, 17, LevelAlert, "", "<137>Nov 25 12:19:37 localhost haproxy[16687]: "},
		{FormatRFC3164, 17, LevelAlert, "web1", "<137>Nov 25 12:19:37 web1 haproxy[16687]: "},
		{FormatRFC5424, 18, LevelInfo, "", "<150>1 2026-11-25T12:19:37.305904+00:00 - haproxy 16687 - - "},
		{FormatPriority, 18, LevelAlert, "", "<145>"},
		{FormatShort, 3, LevelInfo, "", "<6>"},
		{FormatTimed, 19, LevelNotice, "", "<5>2026-11-25T12:19:37.305904+00:00 "},
		{FormatISO, 21, LevelInfo, "", "2026-11-25T12:19:37.305904+00:00 "},
		{FormatRaw, 16, LevelInfo, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.format.String(), func(t *testing.T) {
			got := string(AppendHeader(nil, tc.format, tc.fac, tc.level, now, tc.host, "haproxy", "16687"))
			if got != tc.want {
				t.Errorf("AppendHeader(%v) = %q; want %q", tc.format, got, tc.want)
			}
		})
	}
	// Single-digit days are space padded, as in RFC 3164.
	d := time.Date(2026, 3, 5, 1, 2, 3, 0, time.UTC)
	if got, want := string(AppendHeader(nil, FormatLocal, 16, LevelInfo, d, "", "lb", "1")), "<134>Mar  5 01:02:03 lb[1]: "; got != want {
		t.Errorf("AppendHeader(day 5) = %q; want %q", got, want)
	}
}

// udpServer returns a UDP socket on 127.0.0.1:0.
func udpServer(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// unixgramServer returns a unix datagram socket in a temporary directory.
func unixgramServer(t *testing.T) (*net.UnixConn, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, path
}

func recv(t *testing.T, c net.PacketConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 65536)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("read log datagram: %v", err)
	}
	return string(buf[:n])
}

// quiet discards the Logger's own warnings in tests that provoke them.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func fixedOpts() Options {
	now := time.Date(2026, 11, 25, 12, 19, 55, 0, time.UTC)
	return Options{Tag: "haproxy", PID: 17045, Now: func() time.Time { return now }, Logger: quiet}
}

func newLogger(t *testing.T, targets []Target, opt Options) *Logger {
	t.Helper()
	l, err := New(targets, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

const downMsg = `Server bk/s2 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`

func TestUDP(t *testing.T) {
	srv := udpServer(t)
	tgt, err := ParseTarget([]string{srv.LocalAddr().String(), "len", "90", "format", "rfc3164", "local1"})
	if err != nil {
		t.Fatal(err)
	}
	l := newLogger(t, []Target{tgt}, fixedOpts())
	if err := l.Log(LevelAlert, downMsg, nil); err != nil {
		t.Fatal(err)
	}
	// HAProxy 2.6 sent exactly this for "len 90 format rfc3164 local1".
	want := "<137>Nov 25 12:19:55 localhost haproxy[17045]: Server bk/s2 is DOWN, reason: Layer4 connec\n"
	if got := recv(t, srv); got != want {
		t.Errorf("datagram = %q; want %q", got, want)
	}
}

func TestUnixgram(t *testing.T) {
	srv, path := unixgramServer(t)
	tgt, err := ParseTarget([]string{path, "local3"})
	if err != nil {
		t.Fatal(err)
	}
	l := newLogger(t, []Target{tgt}, fixedOpts())
	l.Log(LevelInfo, "Connect from 127.0.0.1:33312 to 127.0.0.1:19310 (dl/TCP)", nil)
	want := "<158>Nov 25 12:19:55 haproxy[17045]: Connect from 127.0.0.1:33312 to 127.0.0.1:19310 (dl/TCP)\n"
	if got := recv(t, srv); got != want {
		t.Errorf("datagram = %q; want %q", got, want)
	}
}

func TestLevels(t *testing.T) {
	srv := udpServer(t)
	addr := srv.LocalAddr().String()
	// "format timed local3 info notice": debug dropped, info kept, alert
	// capped to notice (HAProxy sent <5> for a DOWN alert).
	tgt, err := ParseTarget([]string{addr, "format", "timed", "local3", "info", "notice"})
	if err != nil {
		t.Fatal(err)
	}
	l := newLogger(t, []Target{tgt}, fixedOpts())
	if l.Enabled(LevelDebug) || !l.Enabled(LevelInfo) {
		t.Errorf("Enabled(debug, info) = %v, %v; want false, true", l.Enabled(LevelDebug), l.Enabled(LevelInfo))
	}
	l.Log(LevelDebug, "dropped", nil)
	l.Log(LevelAlert, "alert", nil)
	l.Log(LevelInfo, "info", nil)
	for _, want := range []string{
		"<5>2026-11-25T12:19:55.000000+00:00 alert\n",
		"<6>2026-11-25T12:19:55.000000+00:00 info\n",
	} {
		if got := recv(t, srv); got != want {
			t.Errorf("datagram = %q; want %q", got, want)
		}
	}
	if d := l.Dropped(); d != 0 {
		t.Errorf("Dropped = %d; want 0 (filtered messages are not drops)", d)
	}
}

func TestFD(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	tgt, err := ParseTarget([]string{"fd@" + strconv.Itoa(int(w.Fd())), "format", "raw", "local0"})
	if err != nil {
		t.Fatal(err)
	}
	l := newLogger(t, []Target{tgt}, fixedOpts())
	long := strings.Repeat("x", 3000) // fd targets are never truncated
	l.Log(LevelInfo, "first", nil)
	l.Log(LevelInfo, long, nil)
	br := bufio.NewReader(r)
	for _, want := range []string{"first\n", long + "\n"} {
		got, err := br.ReadString('\n')
		if err != nil || got != want {
			t.Errorf("line = %.40q…, %v; want %.40q…", got, err, want)
		}
	}
}

// TestNeverBlocks: a log reader that stops reading must not block Log;
// messages are dropped and counted instead.
func TestNeverBlocks(t *testing.T) {
	_, path := unixgramServer(t) // never read
	r, w, err := os.Pipe()       // never read
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, tc := range []struct {
		name string
		tgt  []string
	}{
		{"unixgram", []string{path, "local0"}},
		{"fd", []string{"fd@" + strconv.Itoa(int(w.Fd())), "format", "raw", "local0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tgt, err := ParseTarget(tc.tgt)
			if err != nil {
				t.Fatal(err)
			}
			l := newLogger(t, []Target{tgt}, Options{QueueLen: 64, Logger: quiet})
			msg := strings.Repeat("y", 900)
			start := time.Now()
			for range 20000 {
				l.Log(LevelInfo, msg, nil)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("20000 logs took %v; want no blocking", el)
			}
			if l.Dropped() == 0 {
				t.Errorf("Dropped = 0; want drops once the reader stalls")
			}
		})
	}
}

// TestUnixgramLate: /dev/log may appear after start (syslog daemon
// restarted); the target reconnects.
func TestUnixgramLate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "late.sock")
	tgt, _ := ParseTarget([]string{path, "local0"})
	l := newLogger(t, []Target{tgt}, fixedOpts())
	if err := l.Log(LevelInfo, "lost", nil); err == nil {
		t.Errorf("Log with no socket = nil; want an error")
	}
	if l.Dropped() != 1 {
		t.Errorf("Dropped = %d; want 1", l.Dropped())
	}
	srv, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// Redials happen at most once a second: retry until one succeeds.
	deadline := time.Now().Add(5 * time.Second)
	for l.Log(LevelInfo, "found", nil) != nil {
		if time.Now().After(deadline) {
			t.Fatal("target did not reconnect within 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := recv(t, srv); !strings.HasSuffix(got, "found\n") {
		t.Errorf("datagram = %q; want the message", got)
	}
}

type memSink struct {
	mu   sync.Mutex
	msgs []string
	fail bool
}

func (m *memSink) Log(level Level, msg string, fields map[string]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("sink down")
	}
	m.msgs = append(m.msgs, level.String()+" "+msg+" "+fields["backend"])
	return nil
}

func TestSinks(t *testing.T) {
	a, b := &memSink{}, &memSink{fail: true}
	l := newLogger(t, nil, Options{Sinks: []Sink{a, b}})
	l.Log(LevelNotice, "hello", map[string]string{"backend": "be"})
	if len(a.msgs) != 1 || a.msgs[0] != "notice hello be" || l.Dropped() != 1 {
		t.Errorf("sink got %q, dropped %d; want [notice hello be], 1", a.msgs, l.Dropped())
	}
	c := &memSink{}
	Tee(l, c).Log(LevelErr, "both", nil)
	if len(a.msgs) != 2 || len(c.msgs) != 1 {
		t.Errorf("Tee: sinks got %d and %d messages; want 2 and 1", len(a.msgs), len(c.msgs))
	}
	as := Async(c, 4)
	as.Log(LevelInfo, "async", nil)
	as.Close()
	if len(c.msgs) != 2 || c.msgs[1] != "info async " {
		t.Errorf("Async: sink got %q", c.msgs)
	}
}

func TestTCPLog(t *testing.T) {
	acc := time.Date(2026, 11, 25, 12, 19, 37, 254000000, time.UTC)
	tests := []struct {
		name string
		l    TCPLog
		want string // printed by HAProxy 2.6.12 for the same connection
	}{
		{"normal", TCPLog{Client: netip.MustParseAddrPort("127.0.0.1:36532"), Accept: acc,
			Frontend: "tl", Backend: "tl", Server: "s1", Tw: time.Millisecond, Tc: 0, Tt: 50 * time.Millisecond,
			Bytes: 6, Term: "--", ActConn: 1, FeConn: 1},
			"127.0.0.1:36532 [25/Nov/2026:12:19:37.254] tl tl/s1 1/0/50 6 -- 1/1/0/0/0 0/0"},
		{"server refused", TCPLog{Client: netip.MustParseAddrPort("127.0.0.1:38222"),
			Accept: acc.Add(954 * time.Millisecond), Frontend: "dead", Backend: "dead", Server: "s1",
			Tw: time.Millisecond, Tc: -1, Tt: 3004 * time.Millisecond, Term: "SC", ActConn: 1, FeConn: 1, Retries: 3},
			"127.0.0.1:38222 [25/Nov/2026:12:19:38.208] dead dead/s1 1/-1/3004 0 SC 1/1/0/0/3 0/0"},
		{"no server redispatched ipv6", TCPLog{Client: netip.MustParseAddrPort("[::1]:40402"),
			Accept: time.Date(2026, 1, 2, 3, 4, 5, 6000000, time.UTC), Frontend: "fe", Backend: "be",
			Tw: -1, Tc: -1, Tt: 12 * time.Millisecond, Term: "SQ", Retries: 1, Redispatched: true, SrvQueue: 2, BeQueue: 5},
			"::1:40402 [02/Jan/2026:03:04:05.006] fe be/<NOSRV> -1/-1/12 0 SQ 0/0/0/0/+1 2/5"},
		{"unix socket client", TCPLog{BindID: 5, Accept: time.Date(2026, 11, 30, 0, 29, 44, 981e6, time.UTC),
			Frontend: "l2", Backend: "l2", Server: "s1", Tw: time.Millisecond, Tt: 5 * time.Millisecond,
			Bytes: 3, Term: "--", ActConn: 1, FeConn: 1},
			"unix:5 [30/Nov/2026:00:29:44.981] l2 l2/s1 1/0/5 3 -- 1/1/0/0/0 0/0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.l.String(); got != tc.want {
				t.Errorf("TCPLog =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestConnectMessage(t *testing.T) {
	got := ConnectMessage(netip.MustParseAddrPort("127.0.0.1:33312"), netip.MustParseAddrPort("127.0.0.1:19310"), "dl", "TCP")
	if want := "Connect from 127.0.0.1:33312 to 127.0.0.1:19310 (dl/TCP)"; got != want {
		t.Errorf("ConnectMessage = %q; want %q", got, want)
	}
}

func TestShouldLog(t *testing.T) {
	for _, tc := range []struct {
		dontLogNull bool
		in          int64
		want        bool
	}{
		{false, 0, true}, {true, 0, false}, {true, 1, true}, {false, 5, true},
	} {
		if got := ShouldLog(tc.dontLogNull, tc.in); got != tc.want {
			t.Errorf("ShouldLog(%v, %d) = %v; want %v", tc.dontLogNull, tc.in, got, tc.want)
		}
	}
}

func BenchmarkLogUDP(b *testing.B) {
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	go io.Copy(io.Discard, readerOf(srv))
	tgt, _ := ParseTarget([]string{srv.LocalAddr().String(), "local0"})
	l, err := New([]Target{tgt}, Options{Tag: "lb"})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	tl := TCPLog{Client: netip.MustParseAddrPort("127.0.0.1:36532"), Accept: time.Now(), Frontend: "fe", Backend: "be", Server: "s1"}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = tl.AppendFormat(buf[:0])
		l.Log(LevelInfo, string(buf), nil)
	}
}

type packetReader struct{ c net.PacketConn }

func (p packetReader) Read(b []byte) (int, error) { n, _, err := p.c.ReadFrom(b); return n, err }

func readerOf(c net.PacketConn) io.Reader { return packetReader{c} }

func TestConcurrent(t *testing.T) {
	srv := udpServer(t)
	go io.Copy(io.Discard, readerOf(srv))
	_, path := unixgramServer(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	go io.Copy(io.Discard, r)
	var targets []Target
	for _, line := range [][]string{
		{srv.LocalAddr().String(), "local0"},
		{path, "format", "rfc5424", "local1"},
		{"fd@" + strconv.Itoa(int(w.Fd())), "format", "raw", "daemon"},
	} {
		tgt, err := ParseTarget(line)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, tgt)
	}
	sink := &memSink{}
	l := newLogger(t, targets, Options{Sinks: []Sink{sink}, Logger: quiet})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				l.Log(LevelInfo, "goroutine "+strconv.Itoa(g)+" message "+strconv.Itoa(i), nil)
			}
		}()
	}
	wg.Wait()
	if n := len(sink.msgs); n != 8*500 {
		t.Errorf("sink got %d messages; want %d", n, 8*500)
	}
}
