package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxTimeMS is the largest timer HAProxy accepts: 2^31-1 milliseconds.
const maxTimeMS = 2147483647

// parseTime reads an HAProxy time value: a non-negative integer followed by
// an optional unit (us, ms, s, m, h, d); defUnit applies when no unit is
// given (HAProxy's TIME_UNIT_MS for timeouts). The error names the first
// offending character or the overflow, like parse_time_err().
func parseTime(s string, defUnit time.Duration) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty value")
	}
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("unexpected character '%c'", s[0])
	}
	n, err := strconv.ParseUint(s[:i], 10, 63)
	if err != nil {
		return 0, fmt.Errorf("timer overflow (maximum value is 2147483647 ms or ~24.8 days)")
	}
	unit := defUnit
	switch rest := s[i:]; rest {
	case "":
	case "us":
		unit = time.Microsecond
	case "ms":
		unit = time.Millisecond
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	default:
		// HAProxy 2.6 accepts garbage after a valid unit ("15min") with a
		// warning, but refuses a value whose unit is unknown ("5x").
		j := 0
		for _, u := range []string{"us", "ms", "s", "m", "h", "d"} {
			if strings.HasPrefix(rest, u) && len(u) > j {
				j = len(u)
			}
		}
		if j == 0 {
			return 0, fmt.Errorf("unexpected character '%c'", rest[0])
		}
		d, err := parseTime(s[:i+j], defUnit)
		if err != nil {
			return 0, err
		}
		return d, &trailingError{c: rest[j], value: s}
	}
	if n > uint64(maxTimeMS)*uint64(time.Millisecond)/uint64(unit)+1 {
		return 0, fmt.Errorf("timer overflow (maximum value is 2147483647 ms or ~24.8 days)")
	}
	d := time.Duration(n) * unit
	if d > maxTimeMS*time.Millisecond {
		return 0, fmt.Errorf("timer overflow (maximum value is 2147483647 ms or ~24.8 days)")
	}
	return d, nil
}

// parseSize reads an HAProxy size: an integer with an optional k, m or g
// suffix (case-insensitive, powers of 1024), as parse_size_err() does.
func parseSize(s string) (int64, error) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == 0 {
		if s == "" {
			return 0, fmt.Errorf("empty value")
		}
		return 0, fmt.Errorf("unexpected character '%c'", s[0])
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("value too large")
	}
	mul := int64(1)
	if i < len(s) {
		switch s[i] {
		case 'k', 'K':
			mul = 1 << 10
		case 'm', 'M':
			mul = 1 << 20
		case 'g', 'G':
			mul = 1 << 30
		default:
			return 0, fmt.Errorf("unexpected character '%c'", s[i])
		}
		if i+1 < len(s) {
			return 0, fmt.Errorf("unexpected character '%c'", s[i+1])
		}
	}
	if n > (1<<31-1)/mul {
		return 0, fmt.Errorf("value too large")
	}
	return n * mul, nil
}

// parseInt reads a decimal integer the strict way (no trailing garbage).
func parseInt(s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// trailingError is parse_time_err's lenient case: the value is usable and
// HAProxy 2.6 only warns.
type trailingError struct {
	c     byte
	value string
}

func (e *trailingError) Error() string {
	return fmt.Sprintf("unexpected character '%c' after the timer value '%s', only (us=microseconds,ms=milliseconds,s=seconds,m=minutes,h=hours,d=days) are supported. This will be reported as an error in next versions.", e.c, e.value)
}

// timeArg parses a time value, turning HAProxy's lenient trailing-garbage
// case into a warning at pos.
func (l *loader) timeArg(pos Pos, s string, unit time.Duration) (time.Duration, error) {
	d, err := parseTime(s, unit)
	if te, ok := err.(*trailingError); ok {
		l.bare(pos, Warning, "%v", te) // parse_time_err says no place
		return d, nil
	}
	return d, err
}

// timeErr says why parseTimeIn refused a value, as parse_time_err() does:
// the unexpected character, or the result out of range.
type timeErr struct {
	char        byte // the unexpected character; 0 for a range error
	over, under bool
	// trailing is set for characters after a valid unit ("5sx"): HAProxy
	// 2.6 warns and takes the value.
	trailing *trailingError
}

// parseTimeIn reads an HAProxy time value into the unit out (time.Second
// for TIME_UNIT_S), as HAProxy 2.6's parse_time_err(): no unit is out
// itself, the result is rounded up, 2^31 or more overflows, and a non-null
// value that rounds to 0 underflows.
func parseTimeIn(s string, out time.Duration) (int64, *timeErr) {
	if s == "" || !isDigit(s[0]) {
		var c byte
		if s != "" {
			c = s[0]
		}
		return 0, &timeErr{char: c}
	}
	i := 0
	var value uint64
	for i < len(s) && isDigit(s[i]) {
		value = value*10 + uint64(s[i]-'0')
		if value >= 1<<40 {
			return 0, &timeErr{over: true}
		}
		i++
	}
	in := out
	rest := s[i:]
	switch {
	case rest == "":
	case strings.HasPrefix(rest, "us"):
		in, rest = time.Microsecond, rest[2:]
	case strings.HasPrefix(rest, "ms"):
		in, rest = time.Millisecond, rest[2:]
	case rest[0] == 's':
		in, rest = time.Second, rest[1:]
	case rest[0] == 'm':
		in, rest = time.Minute, rest[1:]
	case rest[0] == 'h':
		in, rest = time.Hour, rest[1:]
	case rest[0] == 'd':
		in, rest = 24*time.Hour, rest[1:]
	default:
		return 0, &timeErr{char: rest[0]}
	}
	r := (value*uint64(in) + uint64(out) - 1) / uint64(out)
	if r >= 1<<31 {
		return 0, &timeErr{over: true}
	}
	if r == 0 && value != 0 {
		return 0, &timeErr{under: true}
	}
	if rest != "" && len(rest) < len(s[i:]) {
		return int64(r), &timeErr{trailing: &trailingError{c: rest[0], value: s}}
	}
	return int64(r), nil
}

// ParseSeconds reads an HAProxy time value whose default unit is the
// second, as parse_time_err(TIME_UNIT_S) does for the runtime API's "set
// timeout cli": ok is false for a value it refuses; characters after a
// valid unit are ignored ("5sx" is 5).
func ParseSeconds(s string) (n int64, ok bool) {
	n, err := parseTimeIn(s, time.Second)
	return n, err == nil || err.trailing != nil
}
