package logs

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// sampleLog is a session with every field set.
func sampleLog() TCPLog {
	return TCPLog{
		Client: netip.MustParseAddrPort("127.0.0.1:36532"), Local: netip.MustParseAddrPort("127.0.0.1:8080"),
		ServerLocal: netip.MustParseAddrPort("127.0.0.1:40000"), ServerAddr: netip.MustParseAddrPort("10.0.0.1:80"),
		Accept:   time.Date(2026, 11, 25, 12, 19, 37, 254e6, time.UTC),
		Frontend: "fe", Backend: "be", Server: "s1",
		Tw: time.Millisecond, Tc: 2 * time.Millisecond, Tt: 50 * time.Millisecond, Td: 47 * time.Millisecond,
		Bytes: 6, BytesIn: 5, Term: "--", ActConn: 3, FeConn: 2, BeConn: 1, SrvConn: 1,
		SessionID: 17, LogCount: 4, UniqueID: []byte("id-17"), BindID: 1,
	}
}

func TestCompileLogFormatErrors(t *testing.T) {
	tests := []struct {
		name   string
		format string
		opt    LogFormatOptions
		want   string
	}{
		{"sample", "%ci %[src]", LogFormatOptions{}, "'%[' in log-format is not supported by lb yet"},
		{"sample with flags", "%{+Q}[src]", LogFormatOptions{}, "'%[' in log-format is not supported by lb yet"},
		{"sample in unique-id", "%[uuid]", LogFormatOptions{UniqueID: true}, "'%[' in unique-id-format is not supported by lb yet"},
		{"unknown flag", "%{+Foo}b", LogFormatOptions{}, "unknown flag 'Foo' for format variable 'b' (known: M, Q, X, E)"},
		{"newer flag", "%{+json}b", LogFormatOptions{}, "unknown flag 'json' for format variable 'b' (known: M, Q, X, E)"},
		{"flag without sign", "%{Q}ci", LogFormatOptions{}, "flag 'Q' of format variable 'ci' needs a '+' or '-' sign"},
		{"sample in mode http", "%HM %[capture.req.hdr(0)]", LogFormatOptions{HTTP: true}, "'%[' in log-format is not supported by lb yet"},
		{"unknown variable in mode http", "%HX", LogFormatOptions{HTTP: true}, "no such format variable 'HX'. If you wanted to emit the '%' character verbatim, you need to use '%%'"},
		{"http variable in mode tcp", "%Tq", LogFormatOptions{}, "format variable 'Tq' is reserved for HTTP mode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompileLogFormat(tc.format, tc.opt)
			var fe *LogFormatError
			if !errors.As(err, &fe) || err.Error() != tc.want || fe.Format != tc.format {
				t.Errorf("CompileLogFormat(%q) = %v; want %q", tc.format, err, tc.want)
			}
		})
	}
}

// TestDefaultLogFormatIsTCPLog holds the compiled default format to the
// tcplog renderer, field by field.
func TestDefaultLogFormatIsTCPLog(t *testing.T) {
	def, err := CompileLogFormat(DefaultTCPLogFormat, LogFormatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base := sampleLog()
	tests := []struct {
		name string
		edit func(*TCPLog)
	}{
		{"all set", func(*TCPLog) {}},
		// Names are never empty; an empty one would print "-" in log-format.
		{"zero", func(l *TCPLog) { *l = TCPLog{Accept: base.Accept, Frontend: "f", Backend: "b"} }},
		{"no server", func(l *TCPLog) { l.Server, l.Tw, l.Tc = "", -1, -1 }},
		{"no term", func(l *TCPLog) { l.Term = "" }},
		{"odd term", func(l *TCPLog) { l.Term = "X" }},
		{"redispatched", func(l *TCPLog) { l.Redispatched, l.Retries = true, 3 }},
		{"ipv6", func(l *TCPLog) { l.Client = netip.MustParseAddrPort("[::1]:40402") }},
		{"ipv6 zone", func(l *TCPLog) { l.Client = netip.MustParseAddrPort("[fe80::1%eth0]:40402") }},
		{"ipv4 in ipv6", func(l *TCPLog) { l.Client = netip.MustParseAddrPort("[::ffff:127.0.0.1]:1") }},
		{"unix", func(l *TCPLog) { l.Client, l.BindID = netip.AddrPort{}, 5 }},
		{"sub-millisecond", func(l *TCPLog) { l.Tt, l.Tc = 999*time.Microsecond, time.Nanosecond }},
		{"local time", func(l *TCPLog) { l.Accept = l.Accept.In(time.FixedZone("X", -7*3600)) }},
		{"large", func(l *TCPLog) { l.Bytes, l.SrvQueue, l.BeQueue = 1<<40, 12345, 678 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := base
			tc.edit(&l)
			if got, want := string(def.AppendFormat(nil, &l)), l.String(); got != want {
				t.Errorf("default log-format =\n%s\nTCPLog.String =\n%s", got, want)
			}
		})
	}
}

func TestLogFormatRender(t *testing.T) {
	opt := LogFormatOptions{PID: 4660, Hostname: "h"}
	tests := []struct {
		name   string
		format string
		edit   func(*TCPLog)
		want   string
	}{
		// HAProxy 2.6.12 logged "before|" for a unix socket client with
		// "before|%{+X}ci|after": lf_ip fails and the line ends there.
		{"hex unix address ends the line", "before|%{+X}ci|after", func(l *TCPLog) { l.Client = netip.AddrPort{} }, "before|"},
		{"hex unix frontend address", "a %{+X}fi b", func(l *TCPLog) { l.Local = netip.AddrPort{} }, "a "},
		{"unix port is the bind id", "%ci:%cp %fi:%fp", func(l *TCPLog) { l.Client, l.Local, l.BindID = netip.AddrPort{}, netip.AddrPort{}, 3 }, "unix:3 unix:3"},
		{"hex", "%{+X}ci:%{+X}cp %{+X}si %{+X}Ts %{+X}ms %{+X}pid %{+X}rt %{+X}lc", nil,
			"7F000001:8EB4 0A000001 6B06D259 FE 1234 0011 0004"},
		{"hex ipv6", "%{+X}ci", func(l *TCPLog) { l.Client = netip.MustParseAddrPort("[2001:db8::1]:1") },
			"20010DB8000000000000000000000001"},
		{"quoted", "%{+Q}o %ci %cp %b %s %ID %H %ft %ts %B %t", nil,
			`"127.0.0.1" 36532 "be" "s1" "id-17" "h" "fe" -- 6 25/Nov/2026:12:19:37.254`},
		{"escaped", `%{+E}ID %{+Q,+E}ID`, func(l *TCPLog) { l.UniqueID = []byte(`a"b\c]d`) }, `a\"b\\c\]d "a\"b\\c\]d"`},
		{"empty", "%ID %{+Q}ID %{-M}ID| %sslc %{+Q}sslv", func(l *TCPLog) { l.UniqueID = nil }, `- "" | - ""`},
		{"no server", "%s %{+Q}s %si %{+Q}sp %{+X}bi", func(l *TCPLog) { l.Server, l.ServerAddr, l.ServerLocal = "", netip.AddrPort{}, netip.AddrPort{} },
			`<NOSRV> "<NOSRV>" - "" -`},
		{"times", "%Th/%Tw/%Tc/%Tt/%Tu/%Td", func(l *TCPLog) { l.Th, l.Tc, l.Td = 3*time.Millisecond, -1, -1 }, "3/1/-1/50/50/-1"},
		{"spaces", "  a   %hr  %hrl b %{-M}ID  c  ", func(l *TCPLog) { l.UniqueID = nil }, "a b  c "},
		{"percent quirks", "%%|%-|%}|100%%", nil, "%|-|}|100%"},
		{"redispatch", "%rc", func(l *TCPLog) { l.Redispatched, l.Retries = true, 1 }, "+1"},
		{"status and cookie state", "%ST %tsc", func(l *TCPLog) { l.Term = "SC" }, "0 SC--"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := CompileLogFormat(tc.format, opt)
			if err != nil {
				t.Fatalf("CompileLogFormat(%q) = %v", tc.format, err)
			}
			l := sampleLog()
			if tc.edit != nil {
				tc.edit(&l)
			}
			if got := string(f.AppendFormat(nil, &l)); got != tc.want {
				t.Errorf("%q renders\n%s\nwant\n%s", tc.format, got, tc.want)
			}
		})
	}
}

func TestLogFormatCaptures(t *testing.T) {
	f, err := CompileLogFormat("%hr %hrl %hs %hsl|%{+Q}hr %{+Q}hrl", LogFormatOptions{ReqCaptures: 3, ResCaptures: 1})
	if err != nil {
		t.Fatal(err)
	}
	l := sampleLog()
	if got, want := string(f.AppendFormat(nil, &l)), `{||} - - - {} -|"{||}" "" "" ""`; got != want {
		t.Errorf("captures = %s; want %s", got, want)
	}
}

func TestGenerateUniqueID(t *testing.T) {
	l := sampleLog()
	f, err := CompileLogFormat("%ci:%cp_%ID_%sslc_%{+M}sslc_%rt", LogFormatOptions{UniqueID: true})
	if err != nil {
		t.Fatal(err)
	}
	buf := f.GenerateUniqueID(&l, make([]byte, 0, 8))
	// %ID is empty while the id is generated; empty values print nothing
	// in a unique-id-format unless +M asks for "-".
	if want := "127.0.0.1:36532___-_17"; string(l.UniqueID) != want || string(buf) != want {
		t.Errorf("unique id = %q; want %q", l.UniqueID, want)
	}

	// HAProxy keeps 127 bytes: a string is cut, a number that does not fit
	// whole is left out (HAProxy 2.6.12 logged the first 127 bytes of
	// "0123456789"×12 + "%b_%b" for a backend named "uid-long").
	long := strings.Repeat("0123456789", 12)
	for _, tc := range []struct{ format, want string }{
		{long + "%b_%b", long + "be_be"},
		{long + "ab%b_%b", long + "abbe_be"},
		{long + "abcde%b", long + "abcdebe"},
		{long + "abcdef%b", long + "abcdefb"},
		{long + "abcde%rt", long + "abcde17"},
		{long + "abcdef%rt", long + "abcdef"},
		{long + "abcde%{+Q}b", long + "abcde"},
		{long + "abcd%{+E}b", long + "abcdbe"},
		{long + "abcdef%{+E}b", long + "abcdef"},
		{long + "abcd%rt", long + "abcd17"},
		{long + "abcde%pid", long + "abcde"},
	} {
		f, err := CompileLogFormat(tc.format, LogFormatOptions{UniqueID: true, PID: 100})
		if err != nil {
			t.Fatal(err)
		}
		f.GenerateUniqueID(&l, nil)
		if want := tc.want[:min(len(tc.want), 127)]; string(l.UniqueID) != want {
			t.Errorf("unique id of %q = ...%q; want ...%q", tc.format, l.UniqueID[120:], want[120:])
		}
	}
}

func TestLogFormatAllocs(t *testing.T) {
	f, err := CompileLogFormat(withFlag("")+" "+withFlag("{+Q,+E}")+" "+withFlag("{+X}"), LogFormatOptions{ReqCaptures: 1})
	if err != nil {
		t.Fatal(err)
	}
	uid, err := CompileLogFormat("%ci:%cp_%ft_%rt_%Ts", LogFormatOptions{UniqueID: true})
	if err != nil {
		t.Fatal(err)
	}
	l := sampleLog()
	l.Accept = l.Accept.In(time.FixedZone("X", 3600))
	buf := make([]byte, 0, 4096)
	ubuf := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(100, func() {
		ubuf = uid.GenerateUniqueID(&l, ubuf)
		buf = f.AppendFormat(buf[:0], &l)
	}); n != 0 {
		t.Errorf("AppendFormat allocates %v times per line; want 0", n)
	}
}

func TestUsesUniqueID(t *testing.T) {
	for _, tc := range []struct {
		format string
		want   bool
	}{{DefaultTCPLogFormat, false}, {"%ci %ID", true}, {"%{+Q}ID", true}, {"%%ID", false}} {
		f, err := CompileLogFormat(tc.format, LogFormatOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := f.UsesUniqueID(); got != tc.want {
			t.Errorf("CompileLogFormat(%q).UsesUniqueID() = %v; want %v", tc.format, got, tc.want)
		}
	}
}

func BenchmarkLogFormatDefault(b *testing.B) {
	f, err := CompileLogFormat(DefaultTCPLogFormat, LogFormatOptions{})
	if err != nil {
		b.Fatal(err)
	}
	l := sampleLog()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = f.AppendFormat(buf[:0], &l)
	}
}

// FuzzCompileLogFormat holds the compiler to its contract on any string:
// an error is a *LogFormatError, and a compiled format renders without
// panicking, the same bytes each time, with no space at the start nor two
// in a row outside the literal text.
func FuzzCompileLogFormat(f *testing.F) {
	for _, s := range []string{DefaultTCPLogFormat, withFlag("{+Q}"), withFlag("{+X,-M}"), "%{+Q}o %ci %{-Q}b", "%%%-%}",
		"  a  b  ", "%{+E}ID", "%[src]", "%{+Q", "%9", "a % b", "%Ta", "%{Q}b", "%{+Q,,-M}s"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, uid bool) {
		lf, err := CompileLogFormat(s, LogFormatOptions{UniqueID: uid, PID: 1, Hostname: "h", ReqCaptures: 1})
		if err != nil {
			var fe *LogFormatError
			if !errors.As(err, &fe) || fe.Format != s || fe.Msg == "" {
				t.Fatalf("CompileLogFormat(%q) = %#v; want a *LogFormatError", s, err)
			}
			return
		}
		if lf.String() != s {
			t.Fatalf("String() = %q; want %q", lf.String(), s)
		}
		for _, l := range []TCPLog{sampleLog(), {}} {
			a := lf.AppendFormat(nil, &l)
			if b := lf.AppendFormat(nil, &l); string(a) != string(b) {
				t.Fatalf("%q renders %q then %q", s, a, b)
			}
			if !strings.Contains(s, "%") {
				// Plain text: runs of spaces print one space, none first.
				want := strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
				if want != "" && strings.HasSuffix(s, " ") {
					want += " "
				}
				if string(a) != want {
					t.Fatalf("%q renders %q; want %q", s, a, want)
				}
			}
			lf.GenerateUniqueID(&l, nil)
			if len(l.UniqueID) > maxUniqueIDLen {
				t.Fatalf("%q: unique id of %d bytes", s, len(l.UniqueID))
			}
		}
	})
}
