package logs

import (
	"errors"
	"strings"
	"testing"
)

// fakeSamples is a LogFormatOptions.Sample whose expressions name the keys of the
// map[string]string the record carries as its Sample; "bad" does not compile, and a key
// absent from the map is an absent sample.
func fakeSamples(compiled *[]string) func(expr, rest string) (SampleFunc, error) {
	return func(expr, rest string) (SampleFunc, error) {
		if expr == "bad" {
			return nil, errors.New("failed to parse sample expression <" + rest + "> : unknown fetch method 'bad'")
		}
		*compiled = append(*compiled, expr)
		return func(dst []byte, ctx any) ([]byte, bool) {
			m, _ := ctx.(map[string]string)
			v, ok := m[expr]
			if !ok {
				// What an evaluation that fails may have left is dropped.
				return append(dst, "junk"...), false
			}
			return append(dst, v...), true
		}, nil
	}
}

func TestLogFormatSamples(t *testing.T) {
	ctx := map[string]string{"host": "h.example", "ua": `ua "q" ]x`, "empty": "", "ctl": "a\x01\tb\x7f"}
	tests := []struct {
		format string
		uid    bool
		want   string
	}{
		{"%ci %[host] %b", false, "127.0.0.1 h.example be"},
		// Absent or empty: "-" (M), "" quoted, nothing without M.
		{"%[none]|%[empty]|%{+Q}[none]|%{-M}[none]|%{+Q}[host]", false, `-|-|""||"h.example"`},
		// Q and E as lf_text_len: quotes around, '"', '\' and ']' escaped.
		{"%{+Q}[ua] %{+E}[ua] %{+Q,+E}[ua]", false, `"ua "q" ]x" ua \"q\" \]x "ua \"q\" \]x"`},
		// X means nothing to a string; %o sets the default flags.
		{"%{+X}[host] %o %{+Q}o %[host]", false, `h.example "h.example"`},
		// No space at the start; a sample printing nothing still counts as printed
		// (HAProxy's LOG_FMT_EXPR clears last_isspace), so the space after it is kept.
		{" %{-M}[none]  %[host]", false, " h.example"},
		// A unique-id-format (LOG_OPT_HTTP): control bytes but HTAB as "%XX", never
		// quoted, nothing for an absent sample.
		{"<%[ctl]|%{+Q}[host]|%[none]|%{+M}[none]|%{+E}[ua]>", true, "<a%01\tb%7F|h.example|||ua \\\"q\\\" \\]x>"},
	}
	for _, tc := range tests {
		var compiled []string
		f, err := CompileLogFormat(tc.format, LogFormatOptions{UniqueID: tc.uid, Sample: fakeSamples(&compiled), PID: 1, Hostname: "h"})
		if err != nil {
			t.Errorf("%q: %v", tc.format, err)
			continue
		}
		if !f.UsesSamples() {
			t.Errorf("%q: UsesSamples false", tc.format)
		}
		r := sampleLog()
		r.Sample = ctx
		if got := string(f.AppendFormat([]byte("pre:"), &r)); got != "pre:"+tc.want {
			t.Errorf("%q: got %q, want %q", tc.format, got, "pre:"+tc.want)
		}
	}
}

func TestLogFormatSampleErrors(t *testing.T) {
	var compiled []string
	hook := fakeSamples(&compiled)
	tests := []struct {
		format string
		opt    LogFormatOptions
		want   string
	}{
		{"%ci %[host]", LogFormatOptions{}, "'%[' in log-format is not supported by lb yet"},
		{"%{+Q}[host]", LogFormatOptions{UniqueID: true}, "'%[' in unique-id-format is not supported by lb yet"},
		{"%ci %[host", LogFormatOptions{Sample: hook}, "missing ']' after 'host'"},
		{"%[bad] tail", LogFormatOptions{Sample: hook}, "failed to parse sample expression <bad] tail> : unknown fetch method 'bad'"},
		{"%{+Z}[host]", LogFormatOptions{Sample: hook}, "unknown flag 'Z' for format variable '[host]' (known: M, Q, X, E)"},
	}
	for _, tc := range tests {
		_, err := CompileLogFormat(tc.format, tc.opt)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: %v; want %q", tc.format, err, tc.want)
		}
	}
	f, err := CompileLogFormat("%ci %b", LogFormatOptions{Sample: hook})
	if err != nil || f.UsesSamples() {
		t.Errorf("%%ci %%b: %v, UsesSamples %v", err, err == nil && f.UsesSamples())
	}
}

// TestUniqueIDSampleLimit: a unique id keeps 127 bytes; a sample is cut there, an escape
// whole or not at all.
func TestUniqueIDSampleLimit(t *testing.T) {
	var compiled []string
	f, err := CompileLogFormat("%[long]", LogFormatOptions{UniqueID: true, Sample: fakeSamples(&compiled)})
	if err != nil {
		t.Fatal(err)
	}
	r := sampleLog()
	r.Sample = map[string]string{"long": strings.Repeat("a", 126) + "\x01b"}
	if got := string(f.GenerateUniqueID(&r, nil)); got != strings.Repeat("a", 126) {
		t.Errorf("got %q (%d bytes)", got, len(got))
	}
	r.Sample = map[string]string{"long": strings.Repeat("a", 200)}
	if got := string(f.GenerateUniqueID(&r, nil)); got != strings.Repeat("a", 127) {
		t.Errorf("got %d bytes", len(got))
	}
}
