package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// logFacilities are syslog facility names in HAProxy's order.
var logFacilities = []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "auth2", "ftp", "ntp", "audit", "alert", "cron2",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

// logLevels are syslog severities, most severe first.
var logLevels = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

var logFormats = map[string]bool{"local": true, "rfc3164": true, "rfc5424": true, "priority": true,
	"short": true, "timed": true, "iso": true, "raw": true}

// logTargetForms are the address forms of a "log" line (see logForm).
var logTargetForms = map[string]kwStatus{
	"stdout": kwSupported, "stderr": kwSupported, "fd@": kwSupported,
	"/path": kwSupported, "unix@": kwSupported, // unix datagram sockets
	"host:port": kwSupported, "udp@": kwSupported, "udp4@": kwSupported, "udp6@": kwSupported,
	"ipv4@": kwSupported, "ipv6@": kwSupported, // UDP syslog
	"ring@": kwUnsupported, "abns@": kwUnsupported, "tcp@": kwUnsupported, "tcp4@": kwUnsupported,
	"tcp6@": kwUnsupported,
}

// logOptions are the options of a "log" line before its facility.
var logOptions = map[string]kwStatus{"len": kwSupported, "format": kwSupported, "sample": kwUnsupported}

// logForm names the form of a log address, a key of logTargetForms ("" for
// an unknown prefix).
func logForm(addr string) string {
	switch {
	case addr == "stdout" || addr == "stderr":
		return addr
	case strings.HasPrefix(addr, "/"):
		return "/path"
	}
	if i := strings.IndexByte(addr, '@'); i > 0 {
		if _, ok := logTargetForms[addr[:i+1]]; ok {
			return addr[:i+1]
		}
		return ""
	}
	return "host:port"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseLogTarget parses "log <target> [len N] [format F] [sample R:S]
// <facility> [level [minlevel]]" (args[0] is "log"). "log global" is handled
// by the caller.
func parseLogTarget(l *loader, pos Pos, args []string) (LogTarget, error) {
	t := LogTarget{Pos: pos}
	if len(args) < 3 {
		return t, fmt.Errorf("log : expects <address> and <facility>  as arguments")
	}
	addr := args[1]
	rest := args[2:]
	for len(rest) > 0 {
		switch rest[0] {
		case "len":
			if len(rest) < 2 {
				return t, fmt.Errorf("'log' : missing value for 'len'.")
			}
			n, err := parseInt(rest[1])
			if err != nil || n < 80 || n > 65535 {
				return t, fmt.Errorf("log : invalid log length '%s', must be between 80 and 65535", rest[1])
			}
			t.Len = n
		case "format":
			if len(rest) < 2 || !logFormats[rest[1]] {
				v := ""
				if len(rest) > 1 {
					v = rest[1]
				}
				return t, fmt.Errorf("'log' : unknown log format '%s'", v)
			}
			t.Format = rest[1]
		case "sample":
			if len(rest) < 2 || !strings.Contains(rest[1], ":") {
				return t, fmt.Errorf("'log' : 'sample' expects <ranges>:<size>")
			}
			return t, fmt.Errorf("'log sample' is not supported by lb yet")
		default:
			goto facility
		}
		rest = rest[2:]
	}
facility:
	if len(rest) == 0 {
		return t, fmt.Errorf("log : expects <address> and <facility>  as arguments")
	}
	if !contains(logFacilities, rest[0]) {
		return t, fmt.Errorf("log : unknown log facility '%s'", rest[0])
	}
	t.Facility = rest[0]
	if len(rest) > 1 {
		if !contains(logLevels, rest[1]) {
			return t, fmt.Errorf("log : unknown optional log level '%s'", rest[1])
		}
		t.Level = rest[1]
	}
	if len(rest) > 2 {
		if !contains(logLevels, rest[2]) {
			return t, fmt.Errorf("log : unknown optional minimum log level '%s'", rest[2])
		}
		t.MinLevel = rest[2]
	}
	if len(rest) > 3 {
		return t, fmt.Errorf("'log' cannot handle unexpected argument '%s'.", rest[3])
	}
	return t, l.logAddr(&t, addr)
}

// logAddr fills Network and Addr from a log target address.
func (l *loader) logAddr(t *LogTarget, addr string) error {
	if form := logForm(addr); logTargetForms[form] == kwUnsupported && form != "" {
		return fmt.Errorf("'%s' log targets are not supported by lb yet", form)
	}
	switch {
	case addr == "stdout" || addr == "stderr":
		t.Network = addr
		return nil
	case strings.HasPrefix(addr, "fd@"):
		n, err := strconv.Atoi(addr[3:])
		if err != nil || n < 0 {
			return fmt.Errorf("log : invalid address: '%s' in '%s'", addr, addr)
		}
		t.Network, t.Addr = "fd", addr[3:]
		return nil
	case strings.HasPrefix(addr, "/"):
		t.Network, t.Addr = "unix", addr
		return nil
	case strings.HasPrefix(addr, "unix@"):
		t.Network, t.Addr = "unix", addr[5:]
		return nil
	}
	s := addr
	for _, p := range []string{"udp@", "udp4@", "udp6@", "ipv4@", "ipv6@"} {
		s = strings.TrimPrefix(s, p)
	}
	host, port := s, "514"
	if i := strings.LastIndexByte(s, ':'); i >= 0 && (strings.Count(s, ":") == 1 || strings.HasPrefix(s, "[")) {
		host, port = s[:i], s[i+1:]
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("log : invalid port '%s'", port)
	}
	if net.ParseIP(host) == nil {
		ips, err := l.opt.Resolver(host)
		if err != nil || len(ips) == 0 {
			return fmt.Errorf("log : invalid address: '%s' in '%s'", host, addr)
		}
		host = ips[0].String()
	}
	t.Network, t.Addr = "udp", net.JoinHostPort(host, port)
	return nil
}
