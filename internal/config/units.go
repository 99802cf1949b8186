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
		l.warn(pos, "%v", te)
		return d, nil
	}
	return d, err
}
