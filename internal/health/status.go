// Package health owns active server health checks: TCP connect,
// option tcp-check, option httpchk (with http-check disable-on-404),
// option ssl-hello-chk, mysql-check, redis-check, pgsql-check, ldap-check
// and smtpchk probes, with the PROXY header
// of check-send-proxy, scheduled with inter/fastinter/downinter, rise/fall
// state tracking, and HAProxy's check_status codes, server state messages
// and option log-health-checks lines.
//
// It implements the health-check part of HAProxy 2.6's configuration manual
// (configuration.txt §5.2 "check", "inter", "rise", "fall",
// "check-send-proxy", §4.2 "option httpchk", "http-check", "option
// tcp-check", "tcp-check", "option ssl-hello-chk", "option mysql-check",
// "option log-health-checks", "timeout check").
package health

// Status is a check result code, HAProxy's check_status (the "check_status"
// column of "show stat").
type Status int

// The statuses, in HAProxy's order. Codes are shown in messages for the
// statuses after L7RSP (HCHK_STATUS_L57DATA).
const (
	StatusUnknown Status = iota // UNK: no check yet
	StatusInit                  // INI: initializing
	StatusSockErr               // SOCKERR: socket error (RST, …)
	StatusL4OK                  // L4OK: TCP connect succeeded
	StatusL4Tout                // L4TOUT: TCP connect timed out
	StatusL4Con                 // L4CON: TCP connect failed (refused, unreachable)
	StatusL6OK                  // L6OK
	StatusL6Tout                // L6TOUT
	StatusL6Rsp                 // L6RSP
	StatusL7Tout                // L7TOUT: response timed out
	StatusL7Rsp                 // L7RSP: invalid or non-matching response
	StatusL7OK                  // L7OK: layer-7 check passed
	StatusL7OKC                 // L7OKC: conditionally passed
	StatusL7Sts                 // L7STS: wrong HTTP status
	// StatusChecked is an agent's reply that changes no health (CHECKED:
	// "No status change").
	StatusChecked
	// StatusHANA is a passive check's verdict (HANA: "Health analyze"):
	// the server's traffic failed error-limit times in a row
	// (Checker.Analyze).
	StatusHANA
)

var statusNames = [...]struct{ code, desc string }{
	StatusUnknown: {"UNK", "Unknown"},
	StatusInit:    {"INI", "Initializing"},
	StatusSockErr: {"SOCKERR", "Socket error"},
	StatusL4OK:    {"L4OK", "Layer4 check passed"},
	StatusL4Tout:  {"L4TOUT", "Layer4 timeout"},
	StatusL4Con:   {"L4CON", "Layer4 connection problem"},
	StatusL6OK:    {"L6OK", "Layer6 check passed"},
	StatusL6Tout:  {"L6TOUT", "Layer6 timeout"},
	StatusL6Rsp:   {"L6RSP", "Layer6 invalid response"},
	StatusL7Tout:  {"L7TOUT", "Layer7 timeout"},
	StatusL7Rsp:   {"L7RSP", "Layer7 invalid response"},
	StatusL7OK:    {"L7OK", "Layer7 check passed"},
	StatusL7OKC:   {"L7OKC", "Layer7 check conditionally passed"},
	StatusL7Sts:   {"L7STS", "Layer7 wrong status"},
	StatusChecked: {"CHECKED", "No status change"},
	StatusHANA:    {"HANA", "Health analyze"},
}

// String returns the short code, as in "show stat" ("L4CON").
func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return "UNK"
	}
	return statusNames[s].code
}

// Description returns the words HAProxy uses after "reason: " in server
// state messages ("Layer4 connection problem").
func (s Status) Description() string {
	if s < 0 || int(s) >= len(statusNames) {
		return "Unknown"
	}
	return statusNames[s].desc
}

// Passed reports whether the status counts as a successful check.
func (s Status) Passed() bool {
	return s == StatusL4OK || s == StatusL6OK || s == StatusL7OK || s == StatusL7OKC
}

// HasCode reports whether s carries a code: messages show ", code: N" and
// the statistics check_code (HAProxy's HCHK_STATUS_L57DATA and after).
func (s Status) HasCode() bool { return s >= StatusL7OK && s <= StatusL7Sts }

// Num returns HAProxy 2.6's number for the status (enum
// healthcheck_status), as "show servers state" prints it in
// srv_check_status: its order differs from lb's, which has no START,
// L57DATA or external-check statuses.
func (s Status) Num() int {
	switch s {
	case StatusInit:
		return 1
	case StatusChecked:
		return 3
	case StatusHANA:
		return 4
	case StatusSockErr:
		return 5
	case StatusL4OK:
		return 6
	case StatusL4Tout:
		return 7
	case StatusL4Con:
		return 8
	case StatusL6OK:
		return 9
	case StatusL6Tout:
		return 10
	case StatusL6Rsp:
		return 11
	case StatusL7Tout:
		return 12
	case StatusL7Rsp:
		return 13
	case StatusL7OK:
		return 15
	case StatusL7OKC:
		return 16
	case StatusL7Sts:
		return 17
	}
	return 0
}

// StatusOfNum is the status whose Num is n; ok is false for UNK and for the
// statuses lb does not have.
func StatusOfNum(n int) (s Status, ok bool) {
	for s := StatusInit; s <= StatusHANA; s++ {
		if s.Num() == n {
			return s, true
		}
	}
	return StatusUnknown, false
}

// The results of a check (HAProxy's enum chk_result), "show servers
// state"'s srv_check_result.
const (
	ResultUnknown  = 0 // no check done, or one in progress
	ResultNeutral  = 1 // an agent's reply that changes no health
	ResultFailed   = 2
	ResultPassed   = 3
	ResultCondPass = 4 // passed, but the server asks to take no new sessions
)

// ResultNum returns the chk_result HAProxy 2.6 records with the status
// (its check_statuses table): ResultUnknown for UNK and INI.
func (s Status) ResultNum() int {
	switch {
	case s == StatusUnknown || s == StatusInit:
		return ResultUnknown
	case s == StatusChecked:
		return ResultNeutral
	case s == StatusL7OKC:
		return ResultCondPass
	case s.Passed():
		return ResultPassed
	}
	return ResultFailed
}
