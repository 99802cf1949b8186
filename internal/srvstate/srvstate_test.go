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
	srv := []Server{{BackendID: 2, BackendName: "app", ID: 1, Name: "s1", Addr: "127.0.0.1", Op: OpStopped, Admin: AdminFMaint, UWeight: 3, IWeight: 1, Port: 80}}
	if err := Write(&b, srv); err != nil {
		t.Fatal(err)
	}
	f, err := Read([]byte(b.String()))
	if err != nil || len(f.Lines) != 1 {
		t.Fatalf("%v %v", f, err)
	}
	v, msg := f.Lines[0].Check()
	if msg != "" || v.Admin != AdminFMaint || v.UWeight != 3 || v.Port != 80 {
		t.Errorf("%+v %q", v, msg)
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
