package srvstate

import (
	"errors"
	"strings"
	"testing"
)

const good = "1 app 1 s1 127.0.0.1 2 1 1 1 10 0 0 0 0 0 0 0 - 8001 - 0 0 - - 0\n"

func TestReadAsHAProxy(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		lines      int
		err        error
		corrupt    int
	}{
		{"ok", "1\n" + Header + "\n" + good + "\n", 1, nil, 0},
		{"version with blanks before", " 1\n" + good, 1, nil, 0},
		{"empty", "", 0, ErrNoVersion, 0},
		{"version 2", "2\n" + good, 0, ErrNoVersion, 0},
		{"version then space", "1 \n" + good, 0, ErrNoVersion, 0},
		{"no newline at the end", "1\n" + strings.TrimSuffix(good, "\n"), 0, nil, 1},
		{"too few fields", "1\n" + good + "1 app 1 s1 short\n", 1, nil, 2},
		{"too long a line", "1\n" + strings.Repeat("x ", 1500) + "\n", 0, nil, 1},
		{"extra fields ignored", "1\n" + strings.TrimSuffix(good, "\n") + " 1 2 3\n", 1, nil, 0},
		{"tabs and comments", "1\n\t# x\n\n" + strings.ReplaceAll(good, " ", "\t"), 1, nil, 0},
	} {
		f, err := Read([]byte(tc.text))
		var c *CorruptedError
		switch {
		case tc.corrupt > 0:
			if !errors.As(err, &c) || c.Line != tc.corrupt {
				t.Errorf("%s: err %v; want corrupted at line %d", tc.name, err, tc.corrupt)
			}
		case err != tc.err:
			t.Errorf("%s: err %v; want %v", tc.name, err, tc.err)
		case len(f.Lines) != tc.lines:
			t.Errorf("%s: %d lines; want %d", tc.name, len(f.Lines), tc.lines)
		}
	}
}

// TestCheckWarnings: the problems srv_state_srv_update reports, in its words.
func TestCheckWarnings(t *testing.T) {
	field := func(i int, v string) Line {
		p := strings.Fields(good)
		p[i] = v
		return Line{Params: p}
	}
	for _, tc := range []struct {
		l    Line
		want string
	}{
		{field(5, "4"), ", invalid srv_op_state value '4'"},
		{field(5, "x"), ", invalid srv_op_state value 'x'"},
		{field(6, "9"), ", invalid srv_admin_state value '9'"},
		{field(6, "3"), ""}, // IMAINT is dropped: FMAINT
		{field(7, "257"), ", invalid srv_uweight value '257'"},
		{field(7, "-1"), ", invalid srv_uweight value '-1'"},
		{field(8, "y"), ", invalid srv_iweight value 'y'"},
		{field(15, "2"), ", invalid bk_f_forced_id value '2'"},
		{field(17, "a b!"), ", invalid srv_fqdn value 'a b!'"},
		{field(18, "70000"), ", invalid srv_port value '70000'"},
		{field(13, "64"), ", invalid srv_check_state value '64'"},
		{field(13, "32"), ", invalid srv_check_state value '32'"},
		{field(14, "31"), ""},
		{field(10, "20"), ""}, // PROCOK, the last status
		{field(10, "21"), ", invalid srv_check_status value '21'"},
		{field(11, "5"), ", invalid srv_check_result value '5'"},
		{field(9, "x"), ", invalid srv_last_time_change value 'x'"},
	} {
		if _, got := tc.l.Check(); got != tc.want {
			t.Errorf("%v: %q; want %q", tc.l.Params, got, tc.want)
		}
	}
	v, msg := Line{Params: strings.Fields(good)}.Check()
	if msg != "" || v.Admin != AdminFMaint || v.Op != OpRunning || v.Port != 8001 || v.UWeight != 1 {
		t.Errorf("good line: %+v %q", v, msg)
	}
}

func TestLookupLocal(t *testing.T) {
	f, err := Read([]byte("1\n" + good +
		"7 app 2 s2 127.0.0.1 2 1 1 1 10 0 0 0 0 0 0 0 - 8001 - 0 0 - - 0\n" +
		"1 other 3 s3 127.0.0.1 2 1 1 1 10 0 0 0 0 0 0 0 - 8001 - 0 0 - - 0\n" +
		"1 forced 4 s4 127.0.0.1 2 1 1 1 10 0 0 0 0 0 1 0 - 8001 - 0 0 - - 0\n" +
		"9 nope 5 s5 127.0.0.1 2 1 1 1 10 0 0 0 0 0 0 0 - 8001 - 0 0 - - 0\n" +
		"1 app 1 s1 127.0.0.1 2 0 1 1 10 0 0 0 0 0 0 0 - 8001 - 0 0 - - 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	lines, warns := f.Lookup("app", 1, true)
	if len(lines) != 3 || lines["s1"].Num != 1 || lines["s2"].Num != 2 || lines["s4"].Num != 4 {
		t.Errorf("lines %v", lines)
	}
	want := []string{
		"Proxy 'app': backend ID mismatch: from server state file: '7', from running config '1'",
		"Proxy 'app': backend name mismatch: from server state file: 'other', from running config 'app'",
		"Proxy 'app': backend name mismatch: from server state file: 'forced', from running config 'app'",
	}
	if strings.Join(warns, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s", strings.Join(warns, "\n"))
	}
	if g, w := f.Lookup("app", 1, false); len(g) != 2 || len(w) != 0 {
		t.Errorf("global lookup: %v %v", g, w)
	}
}

func TestWriteReadBack(t *testing.T) {
	var b strings.Builder
	srv := []Server{
		{BackendID: 2, BackendName: "app", ID: 1, Name: "s1", Addr: "127.0.0.1", Op: OpStopped, Admin: AdminFMaint | AdminCMaint,
			UWeight: 3, IWeight: 1, SinceChange: 12, Port: 80, CheckStatus: 15, CheckResult: 3, CheckHealth: 0,
			CheckState: ChkConfigured | ChkEnabled | ChkPaused, AgentState: ChkAgent | ChkConfigured, UseSSL: -1,
			CheckPort: 81, CheckAddr: "127.0.0.2", AgentAddr: "127.0.0.2", AgentPort: 82},
		{BackendID: 2, BackendName: "app", ID: 2, Name: "s2", Addr: "-", Op: OpRunning, UWeight: 1, IWeight: 1,
			CheckStatus: 1, CheckHealth: 2, FQDN: "localhost", Port: 80, ServerForced: true},
	}
	if err := Write(&b, srv); err != nil {
		t.Fatal(err)
	}
	want := "1\n" + Header + "\n" +
		"2 app 1 s1 127.0.0.1 0 5 3 1 12 15 3 0 14 18 0 0 - 80 - -1 81 127.0.0.2 127.0.0.2 82\n" +
		"2 app 2 s2 - 2 0 1 1 0 1 0 2 0 0 0 1 localhost 80 - 0 0 - - 0\n"
	if b.String() != want {
		t.Errorf("written:\n%s\nwant:\n%s", b.String(), want)
	}
	f, err := Read([]byte(b.String()))
	if err != nil || len(f.Lines) != 2 {
		t.Fatalf("%v %v", f, err)
	}
	v, msg := f.Lines[0].Check()
	if msg != "" || v.Admin != AdminFMaint|AdminCMaint || v.UWeight != 3 || v.Port != 80 || v.SinceChange != 12 ||
		v.CheckStatus != 15 || v.CheckResult != 3 || v.CheckState != 14 || v.AgentState != 18 ||
		!v.HasUseSSL || v.UseSSL != -1 || v.CheckPort != "81" || v.CheckAddr != "127.0.0.2" || v.AgentAddr != "127.0.0.2" || v.AgentPort != "82" {
		t.Errorf("%+v %q", v, msg)
	}
	if v, _ := f.Lines[1].Check(); v.CheckPort != "" || v.CheckAddr != "" || v.AgentAddr != "" || v.AgentPort != "" || v.FQDN != "localhost" {
		t.Errorf("no check or agent address: %+v", v)
	}
}

// TestCheckAddrPort: the checks' and the agent's address and port from a state line,
// validated as srv_update_check_addr_port and srv_update_agent_addr_port.
func TestCheckAddrPort(t *testing.T) {
	names := func(s string) (string, bool) {
		if s == "localhost" {
			return "127.0.0.1", true
		}
		return "", false
	}
	for _, tc := range []struct {
		addr, port string
		names      bool
		ip         string
		p          int
		problem    string
	}{
		{"127.0.0.2", "81", false, "127.0.0.2", 81, ""},
		{"::1", "", false, "::1", -1, ""},
		{"", "0081", false, "", 81, ""},
		{"localhost", "", false, "", 0, "invalid addr 'localhost'"},
		{"localhost", "1", true, "127.0.0.1", 1, ""},
		{"nowhere", "1", true, "", 0, "invalid addr 'nowhere'"},
		{"", "8a", false, "", 0, "provided port is not an integer"},
		{"", "65536", false, "", 0, "provided port is invalid"},
		{"", "-1", false, "", 0, "provided port is invalid"},
	} {
		var parse func(string) (string, bool)
		if tc.names {
			parse = names
		}
		ip, p, problem := CheckAddrPort(tc.addr, tc.port, parse)
		if ip != tc.ip || p != tc.p || problem != tc.problem {
			t.Errorf("%q %q: %q %d %q; want %q %d %q", tc.addr, tc.port, ip, p, problem, tc.ip, tc.p, tc.problem)
		}
	}
}

// FuzzRead: no input makes the reader or the checks fail other than by an error.
func FuzzRead(f *testing.F) {
	f.Add([]byte("1\n" + good))
	f.Add([]byte("1\n1 a 1 s - - - - - - - - - - - - - - - - -\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, _ := Read(b)
		for _, l := range file.Lines {
			l.Check()
		}
		file.Lookup("a", 1, true)
	})
}
