package health

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

var errUnsupported = errors.New("not supported")

// ParseOption is ParseCheckOption without arguments.
func ParseOption(cfg *Config, option string) error {
	return ParseCheckOption(cfg, option, nil)
}

// ParseCheckOption sets cfg.Kind (and its settings) from a backend's check
// option and the words after it: "" (plain TCP connect), "httpchk",
// "tcp-check", "redis-check", "ssl-hello-chk", "mysql-check" with [user
// <name> [post-41|pre-41]], "pgsql-check" with user <name>, "ldap-check",
// "smtpchk" with [EHLO|HELO <domain>]. Other options return an error.
func ParseCheckOption(cfg *Config, option string, args []string) error {
	switch option {
	case "":
		cfg.Kind = KindTCP
	case "httpchk":
		cfg.Kind = KindHTTP
	case "tcp-check":
		cfg.Kind = KindTCPCheck
	case "ssl-hello-chk":
		cfg.Kind = KindSSLHello
	case "redis-check":
		cfg.Kind = KindRedis
	case "ldap-check":
		cfg.Kind = KindLDAP
	case "pgsql-check":
		if len(args) < 2 || args[0] != "user" || args[1] == "" {
			return fmt.Errorf("health: 'option pgsql-check' expects 'user <username>' as argument: %w", errSyntax)
		}
		cfg.Kind, cfg.PgSQLUser = KindPgSQL, args[1]
	case "smtpchk":
		cfg.Kind, cfg.SMTPCmd = KindSMTP, "HELO localhost"
		if len(args) >= 2 && (args[0] == "EHLO" || args[0] == "HELO") && args[1] != "" {
			cfg.SMTPCmd = args[0] + " " + args[1]
		}
	case "mysql-check":
		return parseMySQLCheck(cfg, args)
	default:
		return fmt.Errorf("health: option %q: %w", option, errUnsupported)
	}
	return nil
}

// parseMySQLCheck reads mysql-check's arguments, with HAProxy 2.6's
// messages.
func parseMySQLCheck(cfg *Config, args []string) error {
	cfg.Kind, cfg.MySQLUser, cfg.MySQLPre41 = KindMySQL, "", false
	if len(args) == 0 {
		return nil
	}
	if args[0] != "user" {
		return fmt.Errorf("health: 'option mysql-check' only supports optional values: 'user' (got '%s'): %w", args[0], errSyntax)
	}
	if len(args) < 2 || args[1] == "" {
		return fmt.Errorf("health: 'option mysql-check user' expects <username> as argument: %w", errSyntax)
	}
	cfg.MySQLUser = args[1]
	if len(args) > 2 {
		switch args[2] {
		case "post-41", "":
		case "pre-41":
			cfg.MySQLPre41 = true
		default:
			return fmt.Errorf("health: keyword 'user' only supports 'post-41' and 'pre-41' (got '%s'): %w", args[2], errSyntax)
		}
	}
	if len(args) > 3 {
		return fmt.Errorf("health: 'option mysql-check user': unexpected %q: %w", args[3], errSyntax)
	}
	return nil
}

// expectOptions are the expect options that take one argument and do not
// change the match (they tune statuses and logging HAProxy reports).
var expectOptions = map[string]bool{
	"min-recv": true, "ok-status": true, "error-status": true, "tout-status": true,
	"on-success": true, "on-error": true, "status-code": true, "comment": true,
}

// parseExpect reads "[options] [!] <match> <pattern>".
func parseExpect(args []string) (m Match, neg bool, pattern string, err error) {
	for len(args) > 0 && expectOptions[args[0]] {
		if len(args) < 2 {
			return 0, false, "", fmt.Errorf("expect: %q needs an argument: %w", args[0], errSyntax)
		}
		args = args[2:]
	}
	if len(args) > 0 && args[0] == "!" {
		neg, args = true, args[1:]
	}
	if len(args) != 2 {
		return 0, false, "", fmt.Errorf("expect: want [!] <match> <pattern>: %w", errSyntax)
	}
	switch args[0] {
	case "string":
		m = MatchString
	case "binary":
		m = MatchBinary
	case "rstring":
		m = MatchRString
	case "rbinary":
		m = MatchRBinary
	case "status":
		m = MatchStatus
	case "rstatus":
		m = MatchRStatus
	default:
		return 0, false, "", fmt.Errorf("expect: match %q: %w", args[0], errUnsupported)
	}
	return m, neg, args[1], nil
}

var errSyntax = errors.New("syntax error")

// ParseTCPCheck converts "tcp-check" lines, each the words after
// "tcp-check" ("send", "PING\r\n"), into rules. Supported: connect
// [port N], send, send-binary, expect [!] string|binary|rstring|rbinary
// (with its status and logging options ignored), comment.
func ParseTCPCheck(lines [][]string) ([]Rule, error) {
	var rules []Rule
	for i, words := range lines {
		if len(words) == 0 {
			continue
		}
		r, skip, err := parseTCPRule(words)
		if err != nil {
			return nil, fmt.Errorf("health: tcp-check rule %d %q: %w", i+1, strings.Join(words, " "), err)
		}
		if !skip {
			rules = append(rules, r)
		}
	}
	return rules, nil
}

func parseTCPRule(words []string) (r Rule, skip bool, err error) {
	args := words[1:]
	switch words[0] {
	case "comment":
		return r, true, nil
	case "connect":
		r.Action = ActConnect
		for len(args) > 0 {
			switch args[0] {
			case "port":
				if len(args) < 2 {
					return r, false, errSyntax
				}
				p, err := strconv.Atoi(args[1])
				if err != nil || p < 1 || p > 65535 {
					return r, false, fmt.Errorf("port %q: %w", args[1], errSyntax)
				}
				r.Port, args = p, args[2:]
			case "linger":
				args = args[1:]
			case "comment":
				if len(args) < 2 {
					return r, false, errSyntax
				}
				args = args[2:]
			default:
				return r, false, fmt.Errorf("connect option %q: %w", args[0], errUnsupported)
			}
		}
	case "send", "send-binary":
		if len(args) < 1 {
			return r, false, errSyntax
		}
		r.Action, r.Data = ActSend, []byte(args[0])
		if words[0] == "send-binary" {
			if r.Data, err = hex.DecodeString(args[0]); err != nil {
				return r, false, fmt.Errorf("hex %q: %w", args[0], err)
			}
		}
	case "expect":
		m, neg, pat, err := parseExpect(args)
		if err != nil {
			return r, false, err
		}
		r.Action, r.Match, r.Negate = ActExpect, m, neg
		switch m {
		case MatchString:
			r.Data = []byte(pat)
		case MatchBinary:
			if r.Data, err = hex.DecodeString(pat); err != nil {
				return r, false, fmt.Errorf("hex %q: %w", pat, err)
			}
		case MatchRString, MatchRBinary:
			if r.Regexp, err = regexp.Compile(pat); err != nil {
				return r, false, err
			}
		default:
			return r, false, fmt.Errorf("tcp-check expect %s: %w", args[len(args)-2], errUnsupported)
		}
	default:
		return r, false, fmt.Errorf("action %q: %w", words[0], errUnsupported)
	}
	return r, false, nil
}

// ParseHTTPCheck applies "http-check" lines, each the words after
// "http-check", to cfg.HTTP, cfg.Expect, cfg.DisableOn404 and cfg.Addr.
// Supported: send [meth M] [uri U] [ver V] [hdr NAME VALUE]… [body S], one
// expect [!] status|rstatus|string|rstring, connect [port N] (before the
// request), disable-on-404, comment, and send-state, which is accepted and
// ignored.
func ParseHTTPCheck(cfg *Config, lines [][]string) error {
	expects := 0
	for i, words := range lines {
		if len(words) == 0 {
			continue
		}
		if err := parseHTTPRule(cfg, words, &expects); err != nil {
			return fmt.Errorf("health: http-check rule %d %q: %w", i+1, strings.Join(words, " "), err)
		}
	}
	return nil
}

func parseHTTPRule(cfg *Config, words []string, expects *int) error {
	args := words[1:]
	switch words[0] {
	case "comment", "send-state":
		return nil
	case "disable-on-404":
		cfg.DisableOn404 = true
		return nil
	case "connect":
		for len(args) > 0 {
			if len(args) < 2 {
				return fmt.Errorf("connect option %q: %w", args[0], errSyntax)
			}
			switch args[0] {
			case "port":
				p, err := strconv.Atoi(args[1])
				if err != nil || p < 1 || p > 65535 {
					return fmt.Errorf("port %q: %w", args[1], errSyntax)
				}
				host, _, err := net.SplitHostPort(cfg.Addr)
				if err != nil {
					return fmt.Errorf("connect port: address %q: %w", cfg.Addr, err)
				}
				cfg.Addr = net.JoinHostPort(host, args[1])
			case "comment":
			default:
				return fmt.Errorf("connect option %q: %w", args[0], errUnsupported)
			}
			args = args[2:]
		}
		return nil
	case "send":
		for len(args) > 0 {
			need := 2
			if args[0] == "hdr" {
				need = 3
			}
			if len(args) < need {
				return fmt.Errorf("send %q needs %d arguments: %w", args[0], need-1, errSyntax)
			}
			switch args[0] {
			case "meth":
				cfg.HTTP.Method = args[1]
			case "uri":
				cfg.HTTP.URI = args[1]
			case "ver":
				cfg.HTTP.Version = args[1]
			case "hdr":
				cfg.HTTP.Headers = append(cfg.HTTP.Headers, [2]string{args[1], args[2]})
			case "body":
				cfg.HTTP.Body = args[1]
			case "comment":
			default:
				return fmt.Errorf("send option %q: %w", args[0], errUnsupported)
			}
			args = args[need:]
		}
		return nil
	case "expect":
		if *expects++; *expects > 1 {
			return fmt.Errorf("more than one expect: %w", errUnsupported)
		}
		m, neg, pat, err := parseExpect(args)
		if err != nil {
			return err
		}
		e := Expect{Match: m, Negate: neg}
		switch m {
		case MatchStatus:
			if e.Codes, err = ParseStatusCodes(pat); err != nil {
				return err
			}
		case MatchString:
			e.String = pat
		case MatchRStatus, MatchRString:
			if e.Regexp, err = regexp.Compile(pat); err != nil {
				return err
			}
		default:
			return fmt.Errorf("http-check expect %s: %w", args[len(args)-2], errUnsupported)
		}
		cfg.Expect = e
		return nil
	}
	return fmt.Errorf("action %q: %w", words[0], errUnsupported)
}
