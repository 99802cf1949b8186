package config

import (
	"reflect"
	"testing"
)

func testEnv(vars map[string]string) func(string) (string, bool) {
	return func(n string) (string, bool) {
		v, ok := vars[n]
		return v, ok
	}
}

func TestSplitLine(t *testing.T) {
	env := testEnv(map[string]string{"A": "alpha", "EMPTY": "", "LIST": "a  b c", "FD": "3"})
	tests := []struct {
		name, line string
		want       []string
		err        string
	}{
		{"empty", "", nil, ""},
		{"blanks", " \t ", nil, ""},
		{"words", "  bind :80  name x", []string{"bind", ":80", "name", "x"}, ""},
		{"tabs and CR", "\tmaxconn\t10\r", []string{"maxconn", "10"}, ""},
		{"comment", "maxconn 10 # a comment", []string{"maxconn", "10"}, ""},
		{"comment glued", "maxconn 10#x", []string{"maxconn", "10"}, ""},
		{"comment line", "# only", nil, ""},
		{"escaped hash", `x a\#b`, []string{"x", "a#b"}, ""},
		{"escaped space", `x a\ b`, []string{"x", "a b"}, ""},
		{"escaped backslash", `x a\\b`, []string{"x", `a\b`}, ""},
		{"control escapes", `x \t\n\r`, []string{"x", "\t\n\r"}, ""},
		{"hex escape", `x \x41\x7a`, []string{"x", "Az"}, ""},
		{"bad hex", `x \x4`, nil, "truncated or invalid hexadecimal sequence at position 3"},
		{"regex escape kept", `x ^/a\.b\d`, []string{"x", `^/a\.b\d`}, ""},
		{"escaped quotes", `x \"a\'`, []string{"x", `"a'`}, ""},
		{"double quotes", `x "a b" c`, []string{"x", "a b", "c"}, ""},
		{"single quotes", `x 'a b' c`, []string{"x", "a b", "c"}, ""},
		{"quotes glue", `x a"b c"'d e'f`, []string{"x", "ab cd ef"}, ""},
		{"hash in quotes", `x "a#b" 'c#d'`, []string{"x", "a#b", "c#d"}, ""},
		{"empty quoted word", `x "" y`, []string{"x", "", "y"}, ""},
		{"single quotes literal", `x '\x41 ${A}'`, []string{"x", `\x41 ${A}`}, ""},
		{"dquote in squote", `x '"'`, []string{"x", `"`}, ""},
		{"unmatched double", `maxconn "abc`, nil, "unmatched quote at position 9"},
		{"unmatched single", `x 'abc`, nil, "unmatched quote at position 3"},
		{"env braces", `x "${A}"`, []string{"x", "alpha"}, ""},
		{"env bare", `x "$A-$A"`, []string{"x", "alpha-alpha"}, ""},
		{"env not outside quotes", `x ${A} $A`, []string{"x", "${A}", "$A"}, ""},
		{"env in single quotes", `x '${A}'`, []string{"x", "${A}"}, ""},
		{"env unset", `x "${NOPE}"`, []string{"x", ""}, ""},
		{"env default unset", `x "${NOPE-def val}"`, []string{"x", "def val"}, ""},
		{"env default set", `x "${A-def}"`, []string{"x", "alpha"}, ""},
		{"env default not for empty", `x "${EMPTY-def}"`, []string{"x", ""}, ""},
		{"env glued", `bind "fd@${FD}"`, []string{"bind", "fd@3"}, ""},
		{"env escaped dollar", `x "\${A}"`, []string{"x", "${A}"}, ""},
		{"env word expansion", `x "${LIST[*]}" y`, []string{"x", "a", "b", "c", "y"}, ""},
		{"env word expansion unset", `x "${NOPE[*]}"`, []string{"x", ""}, ""},
		{"env bad expansion", `x "${LIST[1]}"`, nil, "unsupported word expansion at position 10"},
		{"env unmatched brace", `x "${A"`, nil, "unmatched brace in environment variable name at position 5"},
		{"env bad name", `x "$1"`, nil, "forbidden first char in environment variable name at position 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitLine(tt.line, env)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("splitLine(%q) error = %v; want %q", tt.line, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("splitLine(%q) error = %v", tt.line, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("splitLine(%q) = %q; want %q", tt.line, got, tt.want)
			}
		})
	}
}

func TestSplitLineTooManyWords(t *testing.T) {
	line := ""
	for i := 0; i < 70; i++ {
		line += "w "
	}
	got, err := splitLine(line, testEnv(nil))
	if err == nil || len(got) != maxLineArgs {
		t.Fatalf("splitLine(70 words) = %d words, %v; want %d words and an error", len(got), err, maxLineArgs)
	}
}
