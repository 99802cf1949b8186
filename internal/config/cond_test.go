package config

import (
	"strings"
	"testing"
)

func TestEvalCond(t *testing.T) {
	env := testEnv(map[string]string{"HOME": "/root", "EMPTY": ""})
	tests := []struct {
		expr string
		want bool
		err  string
	}{
		{"", false, ""},
		{"1", true, ""},
		{"0", false, ""},
		{"-1", true, ""},
		{"2 || 0", true, ""},
		{"1 && 0", false, ""},
		{"0 || 1 && 0", false, ""},
		{"1 || 1 && 0", true, ""},
		{"!0", true, ""},
		{"!!1", true, ""},
		{"!(0 || 0)", true, ""},
		{"(1 && (0 || 1))", true, ""},
		{"defined(HOME)", true, ""},
		{"defined(EMPTY)", true, ""},
		{"defined(NOPE)", false, ""},
		{"defined(HOME) && defined(NOPE)", false, ""},
		{"defined(HOME)&&!defined(NOPE)", true, ""},
		{"feature(LINUX_SPLICE)", true, ""},
		{"feature(OPENSSL)", false, ""},
		{"feature(NOSUCH)", false, ""},
		{"streq(a,a)", true, ""},
		{"streq(a,b)", false, ""},
		{`streq("a b",'a b')`, true, ""},
		{`streq("a,b",a)`, false, ""},
		{"strneq(a,b)", true, ""},
		{"version_atleast(2.6)", true, ""},
		{"version_atleast(2.5-dev0)", true, ""},
		{"version_atleast(2.6.12)", true, ""},
		{"version_atleast(2.6.13)", false, ""},
		{"version_atleast(2.7-dev1)", false, ""},
		{"version_atleast(3.0)", false, ""},
		{"version_before(2.6.13)", true, ""},
		{"version_before(2.6)", false, ""},
		{"version_before(2.6.12)", false, ""},
		{"version_atleast(x)", true, ""}, // unparsable versions compare lower, as in HAProxy
		{"foo", false, "unparsable conditional expression 'foo'"},
		{"foo(1)", false, "unparsable conditional expression 'foo(1)'"},
		{"(1", false, "expected ')' after conditional expression '(1'"},
		{"0 1", false, "unexpected character '1' at the end of conditional expression '0 1'"},
		{"defined(A,B)", false, "expected ')' before ',B)' in argument 1 of predicate 'defined' used in conditional expression"},
		{"streq(a)", false, "missing arguments (got 1/2), type 'string' expected in argument 1 of predicate 'streq' used in conditional expression"},
		{"defined(A", false, "expected ')' in argument 1 of predicate 'defined' used in conditional expression"},
		{"1 &&", false, "unparsable conditional expression '&&'"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := evalCond(tt.expr, env)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("EvalCond(%q) error = %v; want %q", tt.expr, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("EvalCond(%q) = %v, %v; want %v", tt.expr, got, err, tt.want)
			}
		})
	}
}

// TestEvalCondDepth checks HAProxy 2.6's nesting limits: 340 parentheses
// are accepted, 341 are not; negations do not count.
func TestEvalCondDepth(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("(", n) + "1" + strings.Repeat(")", n) }
	if v, err := evalCond(nest(340), testEnv(nil)); err != nil || !v {
		t.Errorf("EvalCond(340 parentheses) = %v, %v; want true", v, err)
	}
	if _, err := evalCond(nest(341), testEnv(nil)); err == nil || !strings.HasPrefix(err.Error(), "unparsable conditional sub-expression '1)") {
		t.Errorf("EvalCond(341 parentheses) error = %v; want unparsable sub-expression", err)
	}
	if v, err := evalCond(strings.Repeat("!", 1100)+"1", testEnv(nil)); err != nil || !v {
		t.Errorf("EvalCond(1100 negations) = %v, %v; want true", v, err)
	}
}

func TestEvalCondEnv(t *testing.T) {
	got, err := EvalCond("defined(LB_TEST_VAR)", Options{Env: testEnv(map[string]string{"LB_TEST_VAR": "1"})})
	if err != nil || !got {
		t.Fatalf("EvalCond(defined(LB_TEST_VAR)) = %v, %v; want true", got, err)
	}
	t.Setenv("LB_TEST_VAR2", "x")
	got, err = EvalCond("defined(LB_TEST_VAR2)", Options{})
	if err != nil || !got {
		t.Fatalf("EvalCond with process environment = %v, %v; want true", got, err)
	}
}

func TestCompareVersion(t *testing.T) {
	tests := []struct {
		v    string
		want int
	}{
		{"2.6.12", 0}, {"2.6", -1}, {"2.6.0", -1}, {"2.6.13", 1}, {"2.7", 1}, {"1.8", -1},
		{"2.6-dev1", -1}, {"2.6.12-rc1", -1}, {"2.6.12-1", 0}, {"bogus", -1},
	}
	for _, tt := range tests {
		if got := compareVersion(tt.v); got != tt.want {
			t.Errorf("compareVersion(%q) = %d; want %d", tt.v, got, tt.want)
		}
	}
}

// TestEvalCondExpands: -cc expands "$VAR" and "${VAR}" inside double quotes
// as HAProxy 2.6 does (an unset variable is empty); outside quotes they are
// literal. The results are haproxy -cc's.
func TestEvalCondExpands(t *testing.T) {
	env := testEnv(map[string]string{"HOME": "/root", "E": ""})
	for expr, want := range map[string]bool{
		`streq("$HOME",/root)`:   true,
		`streq("${HOME}",/root)`: true,
		`streq("${NOPE}",)`:      true,
		`streq("a${NOPE}b",ab)`:  true,
		`streq(${HOME},/root)`:   false,
		`streq($HOME,/root)`:     false,
		`streq('$HOME',/root)`:   false,
		`defined(E)`:             true,
	} {
		got, err := EvalCond(expr, Options{Env: env})
		if err != nil || got != want {
			t.Errorf("EvalCond(%s) = %v, %v; want %v", expr, got, err, want)
		}
	}
}
