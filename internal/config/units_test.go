package config

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in       string
		unit     time.Duration
		want     time.Duration
		err      string
		trailing bool
	}{
		{"0", time.Millisecond, 0, "", false},
		{"1500", time.Millisecond, 1500 * time.Millisecond, "", false},
		{"10", time.Second, 10 * time.Second, "", false},
		{"100us", time.Millisecond, 100 * time.Microsecond, "", false},
		{"5ms", time.Second, 5 * time.Millisecond, "", false},
		{"5s", time.Millisecond, 5 * time.Second, "", false},
		{"2m", time.Millisecond, 2 * time.Minute, "", false},
		{"3h", time.Millisecond, 3 * time.Hour, "", false},
		{"1d", time.Millisecond, 24 * time.Hour, "", false},
		{"24d", time.Millisecond, 24 * 24 * time.Hour, "", false},
		{"2147483647", time.Millisecond, 2147483647 * time.Millisecond, "", false},
		{"2147483648", time.Millisecond, 0, "timer overflow (maximum value is 2147483647 ms or ~24.8 days)", false},
		{"25d", time.Millisecond, 0, "timer overflow (maximum value is 2147483647 ms or ~24.8 days)", false},
		{"99999999999999999999", time.Millisecond, 0, "timer overflow (maximum value is 2147483647 ms or ~24.8 days)", false},
		{"", time.Millisecond, 0, "empty value", false},
		{"x", time.Millisecond, 0, "unexpected character 'x'", false},
		{"-1", time.Millisecond, 0, "unexpected character '-'", false},
		{"5x", time.Millisecond, 0, "unexpected character 'x'", false},
		{"15min", time.Millisecond, 15 * time.Minute, "unexpected character 'i' after the timer value '15min', only (us=microseconds,ms=milliseconds,s=seconds,m=minutes,h=hours,d=days) are supported. This will be reported as an error in next versions.", true},
		{"2sec", time.Millisecond, 2 * time.Second, "unexpected character 'e' after the timer value '2sec', only (us=microseconds,ms=milliseconds,s=seconds,m=minutes,h=hours,d=days) are supported. This will be reported as an error in next versions.", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseTime(tt.in, tt.unit)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			_, trailing := err.(*trailingError)
			if gotErr != tt.err || trailing != tt.trailing || (tt.err == "" || tt.trailing) && got != tt.want {
				t.Errorf("parseTime(%q) = %v, %q; want %v, %q", tt.in, got, gotErr, tt.want, tt.err)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{"0", 0, ""},
		{"16384", 16384, ""},
		{"16k", 16 << 10, ""},
		{"16K", 16 << 10, ""},
		{"2m", 2 << 20, ""},
		{"1g", 1 << 30, ""},
		{"2g", 0, "value too large"},
		{"", 0, "empty value"},
		{"k", 0, "unexpected character 'k'"},
		{"1t", 0, "unexpected character 't'"},
		{"1kb", 0, "unexpected character 'b'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSize(tt.in)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tt.want || gotErr != tt.err {
				t.Errorf("parseSize(%q) = %d, %q; want %d, %q", tt.in, got, gotErr, tt.want, tt.err)
			}
		})
	}
}

func TestAtol(t *testing.T) {
	for in, want := range map[string]int{"12": 12, "12x": 12, "x": 0, "-3": -3, " +7": 7, "": 0} {
		if got := atol(in); got != want {
			t.Errorf("atol(%q) = %d; want %d", in, got, want)
		}
	}
}
