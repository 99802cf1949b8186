package health

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kind selects the probe.
type Kind int

const (
	// KindTCP is a plain TCP connect, the default of "check".
	KindTCP Kind = iota
	// KindTCPCheck runs the Config.TCPCheck rules (option tcp-check). With
	// no rules it is a TCP connect reported by "tcp-check".
	KindTCPCheck
	// KindHTTP sends Config.HTTP and evaluates Config.Expect
	// (option httpchk).
	KindHTTP
	// KindSSLHello sends an SSLv3 ClientHello and passes when the server
	// answers with a TLS record of the handshake or alert type, whatever
	// it says (option ssl-hello-chk): the server speaks TLS.
	KindSSLHello
	// KindMySQL is option mysql-check: the server's first packet must be
	// a MySQL handshake, not an error packet; with Config.MySQLUser the
	// check also logs in (without password) and wants the OK packet.
	KindMySQL
	// KindRedis is option redis-check: PING as a RESP array, "+PONG"
	// wanted.
	KindRedis
	// KindPgSQL is option pgsql-check: a startup message for
	// Config.PgSQLUser, an authentication request wanted.
	KindPgSQL
	// KindLDAP is option ldap-check: an anonymous bind, result code 0
	// wanted.
	KindLDAP
	// KindSMTP is option smtpchk: a 2xx banner, then 2xx replies to
	// Config.SMTPCmd and to QUIT.
	KindSMTP
)

// Action is a tcp-check rule's verb.
type Action int

const (
	ActConnect Action = iota // tcp-check connect [port N]
	ActSend                  // tcp-check send / send-binary
	ActExpect                // tcp-check expect
	ActVar                   // tcp-check set-var, set-var-fmt, unset-var
)

// Match is how an expect rule matches received data.
type Match int

const (
	MatchNone    Match = iota // no expect rule: HTTP 2xx and 3xx pass
	MatchString               // string <s>: the data contains s
	MatchBinary               // binary <hex>: the data contains the bytes
	MatchRString              // rstring <re>: re matches the data
	MatchRBinary              // rbinary <re>: re matches the data's hex form
	MatchStatus               // status <codes> (http-check only)
	MatchRStatus              // rstatus <re> (http-check only)
	MatchHeader               // hdr / fhdr (http-check only)
)

// HeaderMatch is "hdr name [-m meth] <name> [value [-m meth] <value>]
// [full]" (Full for fhdr).
type HeaderMatch struct {
	// Name and Value are the patterns, matched by NameMeth and ValueMeth
	// ("str", "beg", "end", "sub", "reg"); NameRe and ValueRe are the
	// compiled "reg" ones. HasValue is false when only the name is
	// tested.
	Name, Value         string
	NameMeth, ValueMeth string
	NameRe, ValueRe     *regexp.Regexp
	HasValue            bool
	// Full compares whole header lines, not their comma-separated values.
	Full bool
}

// Rule is one tcp-check rule.
type Rule struct {
	Action Action
	// Step is the rule's number in messages: its place among the
	// configured rules, comments included, as HAProxy's index + 1; 0
	// means its place among the rules run.
	Step int
	// Comment is the rule's "comment", appended to its failure messages.
	Comment string
	// Port is the connect rule's port; 0 means Config.Addr's port. Addr
	// is its "addr", "" for Config.Addr's host.
	Port int
	Addr string
	// SSL, SNI and ALPN make the connect rule's connection a TLS one
	// (with Config.RuleTLS); SendProxy sends a PROXY header first;
	// ViaSocks4 goes through Config.Socks4; Default takes the server's
	// check settings (port, TLS, PROXY header, SOCKS4) instead.
	SSL       bool
	SNI       string
	ALPN      []string
	SendProxy bool
	ViaSocks4 bool
	Default   bool
	// Data is what send writes, or the string/bytes expect looks for.
	Data []byte
	// Match is the expect rule's matcher; Regexp is used by MatchRString
	// and MatchRBinary.
	Match  Match
	Regexp *regexp.Regexp
	// Negate inverts an expect rule (expect ! …).
	Negate bool
	// Format, when set, replaces Data at each run: the rule's log-format
	// (send-lf, send-binary-lf, expect string-lf, binary-lf) evaluated on
	// the run's state (Config.NewRun); Hex decodes its result (the
	// -binary-lf forms).
	Format func(dst []byte, run any) []byte
	Hex    bool
	// Var is an ActVar rule's action on the run's state.
	Var func(run any)
	// PortExpr, when set, is a connect rule's port given as a sample
	// expression, evaluated at each run: when it has no value, or 0, the
	// connection goes to the check's port, as when Port is 0.
	PortExpr func(run any) (int64, bool)
	// ExpectOpts are the expect rule's options.
	ExpectOpts
}

// Compilers compile what check rules evaluate at each run; the caller,
// which owns the sample and log-format engines, provides them. A nil
// *Compilers refuses the rules that need them.
type Compilers struct {
	// Format compiles a log-format argument of the rule whose action is
	// action ("send-lf", "expect"); the result appends its value on a
	// run's state.
	Format func(action, text string) (func(dst []byte, run any) []byte, error)
	// Var compiles a variable rule: its action word ("set-var(check.a)",
	// "set-var-fmt(…)", "unset-var(…)") and the words after it.
	Var func(action string, args []string) (func(run any), error)
	// Int compiles a sample expression evaluated as an integer on a run's
	// state: the "port" of a connect rule (option "connect port"), the
	// "status-code" of an expect rule (option "status-code"); ok is false
	// when it has no integer value.
	Int func(option, text string) (func(run any) (v int64, ok bool), error)
	// NewRun becomes Config.NewRun when ParseHTTPCheckWith compiles a rule
	// that evaluates something at each run.
	NewRun func() any
}

// ExpectOpts are the options of an expect rule.
type ExpectOpts struct {
	// MinRecv is "min-recv": the bytes to wait for before matching; -1
	// (the default) waits for as many as the pattern needs.
	MinRecv int
	// OKStatus, ErrStatus and ToutStatus replace the statuses of a
	// success, a failure and a timeout (StatusUnknown: the default).
	OKStatus, ErrStatus, ToutStatus Status
	// OnSuccess and OnError replace the info of a success or a failure.
	OnSuccess, OnError string
	// Comment is appended to the failure info.
	Comment string
	// StatusCodeExpr is "status-code <expr>"; StatusCode, compiled from
	// it, gives the check's code (Result.Code) when the rule fails, or when
	// it is the last one and the check passes, as HAProxy's
	// tcpcheck_expect_onerror/onsuccess_message.
	StatusCodeExpr string
	StatusCode     func(run any) (int64, bool)
}

// HTTPRequest is the request of option httpchk and http-check send.
type HTTPRequest struct {
	// Method defaults to OPTIONS, URI to "/", Version to HTTP/1.0, as in
	// HAProxy.
	Method, URI, Version string
	// Headers are sent in order (http-check send hdr <name> <value>).
	// For HTTP/1.1, "connection: close" is added unless present.
	Headers [][2]string
	// Body is sent with a content-length when not empty.
	Body string
	// URIFormat and BodyFormat, when set, replace URI and Body at each run
	// (send uri-lf, body-lf): log-formats evaluated on the run's state
	// (Config.NewRun). HeaderFormats, when not empty, has one entry per
	// header: a non-nil one replaces that header's value (hdr <name>
	// <fmt>, whose value holds a log-format expression).
	URIFormat, BodyFormat func(dst []byte, run any) []byte
	HeaderFormats         []func(dst []byte, run any) []byte
}

// dynamic reports whether the request is formatted at each run.
func (h *HTTPRequest) dynamic() bool {
	return h.URIFormat != nil || h.BodyFormat != nil || len(h.HeaderFormats) > 0
}

// Expect is an http-check expect rule. The zero value (MatchNone) accepts
// the 2xx and 3xx statuses, HAProxy's default.
type Expect struct {
	// Match is MatchNone, MatchStatus, MatchRStatus, MatchString,
	// MatchRString or MatchHeader.
	Match  Match
	Negate bool
	// Hdr is the header pattern of MatchHeader.
	Hdr HeaderMatch
	ExpectOpts
	// Codes are the status ranges of MatchStatus; see ParseStatusCodes.
	Codes []CodeRange
	// String is MatchString's pattern, matched against the body.
	String string
	// Format, when set, replaces String at each run (expect string-lf):
	// a log-format evaluated on the run's state.
	Format func(dst []byte, run any) []byte
	// Regexp is MatchRStatus's or MatchRString's pattern.
	Regexp *regexp.Regexp
}

// HTTPStep is one http-check rule: exactly one of its fields is set.
type HTTPStep struct {
	Connect *Rule
	Send    *HTTPRequest
	Expect  *Expect
	// Var is a set-var, set-var-fmt or unset-var rule's action on the
	// run's state.
	Var func(run any)
}

// CodeRange is an inclusive range of HTTP status codes.
type CodeRange struct{ Lo, Hi int }

// ParseStatusCodes parses http-check expect status's argument: comma
// separated codes or lo-hi ranges ("200", "200-399,404").
func ParseStatusCodes(s string) ([]CodeRange, error) {
	var out []CodeRange
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err := errors.Join(err1, err2); err != nil || l > h || l < 100 || h > 999 {
			return nil, fmt.Errorf("parse status codes: invalid code or range %q: %w", part, errBadCodes)
		}
		out = append(out, CodeRange{l, h})
	}
	return out, nil
}

var errBadCodes = errors.New("want N or N-M with 100 <= N <= M <= 999")

// Config describes the checks of one server.
type Config struct {
	// Name is the server's "backend/server", as the log-health-checks
	// line (Event.LogLine) prints it.
	Name string
	// Addr is the host:port checked: the server's address, with its port
	// replaced by the server's "port" setting when there is one.
	Addr string
	// Inter is the interval between checks while the server is stable
	// (server "inter"); zero means 2s, HAProxy's default.
	Inter time.Duration
	// FastInter is the interval while the server is in transition (UP
	// going down, or DOWN coming up); zero means Inter.
	FastInter time.Duration
	// DownInter is the interval while the server is DOWN; zero means Inter.
	DownInter time.Duration
	// OnError is what a passive check's verdict does (Checker.Analyze,
	// "on-error").
	OnError OnError
	// Rise is the number of consecutive successes that bring a DOWN server
	// UP; zero means 2. Fall is the number of consecutive failures that
	// bring an UP server DOWN; zero means 3.
	Rise, Fall int
	// ConnectTimeout is the proxy's "timeout connect"; zero means none.
	ConnectTimeout time.Duration
	// Timeout is "timeout check". When set, a check connects within
	// min(ConnectTimeout, Inter) and then has Timeout to complete; when
	// zero, the whole check (connect and response) has Inter, as HAProxy.
	Timeout time.Duration
	// Kind selects the probe; TCPCheck, HTTP and Expect are its settings.
	Kind Kind
	// NewRun returns the state of one check run that the rules' Format
	// and Var functions read and write (their check variables); nil when
	// no rule has any.
	NewRun   func() any
	TCPCheck []Rule
	HTTP     HTTPRequest
	Expect   Expect
	// MySQLUser is mysql-check's "user <name>": the check sends a client
	// authentication packet for that user (no password) and a COM_QUIT,
	// and wants an OK packet after the handshake. Empty checks the
	// handshake only. MySQLPre41 sends the pre-4.1 packet ("pre-41")
	// instead of the 4.1 one.
	MySQLUser  string
	MySQLPre41 bool
	// PgSQLUser is pgsql-check's "user <name>".
	PgSQLUser string
	// SMTPCmd is smtpchk's command: "HELO localhost" unless the option
	// names "EHLO <domain>" or "HELO <domain>".
	SMTPCmd string
	// DisableOn404 is "http-check disable-on-404": a 404 answer from a
	// server that is not DOWN gives StatusL7OKC, which counts as a success
	// but puts the server in StateStopping (HAProxy's NOLB: no new
	// sessions from load balancing) until it answers L7OK again. A DOWN
	// server answering 404 stays DOWN (the 404 is a wrong status).
	DisableOn404 bool
	// SendProxy and SendProxyV2 send a PROXY header at the start of each
	// check connection, as HAProxy 2.6 does for check-send-proxy (see
	// CheckProxyVersion): v1 with the check connection's own addresses
	// ("PROXY TCP4 <local> <server> <local port> <server port>"), v2 with
	// the LOCAL command and no address. SendProxyV2 wins when both are set.
	SendProxy, SendProxyV2 bool
	// TLS, when set, makes the check's connection a TLS one (server
	// "check-ssl", or "ssl" checked on the traffic port): the handshake
	// follows the TCP connect (and the PROXY header) within the connect
	// timeout, and its failure fails the check at layer 6 (L6TOUT,
	// L6RSP); a check with nothing to send then passes with L6OK. Its
	// ServerName is the SNI sent ("check-sni"). The explicit connect
	// rules of tcp-check stay plain TCP, as HAProxy's without "ssl".
	TLS *tls.Config
	// Source is the address check connections leave from (the server's
	// or its backend's "source" address, never its "usesrc" one: HAProxy's
	// checks keep the proxy's own address); invalid means the system
	// chooses. SourceInterface binds them to a device ("" none).
	Source          netip.AddrPort
	SourceInterface string
	// UserTimeout is the server's "tcp-ut": TCP_USER_TIMEOUT on the check
	// connections, as HAProxy's tcp_connect_server sets it on them (0 =
	// the system's).
	UserTimeout time.Duration
	// HTTPSteps, when set, are the http-check rules in order, run instead
	// of HTTPConnect, HTTP and Expect (which then hold the first connect,
	// send and expect).
	HTTPSteps []HTTPStep
	// HTTPConnect is the "http-check connect" rule (the first one, lb
	// sends one request per check): nil connects to Addr as the server's
	// check settings say.
	HTTPConnect *Rule
	// RuleTLS is the TLS configuration of the tcp-check rules' "connect
	// ssl" (the server's SSL settings); nil when no rule asks for it.
	RuleTLS *tls.Config
	// Socks4, when set, is the "host:port" of the server's SOCKS4 proxy
	// ("socks4"): a check connects through it with ViaSocks4
	// ("check-via-socks4") or a rule's "connect via-socks4", asking for
	// its address within the connect timeout, before the PROXY header
	// and TLS.
	Socks4    string
	ViaSocks4 bool
	// Backup marks a backup server, for the log-health-checks line
	// ("Health check for backup server …").
	Backup bool
	// StartDown starts the server DOWN (health 0) instead of HAProxy's
	// default: UP with health = rise, so that the first failure marks it
	// DOWN while later ones need fall failures in a row.
	StartDown bool
	// InitialDelay delays the first health check, to spread the checks of
	// many servers (HAProxy starts the n-th of N checks n×inter/N after
	// start-up); zero checks at once. Agent.InitialDelay is the agent's.
	InitialDelay time.Duration
	// Spread is global spread-checks: a percentage of random jitter, each
	// interval is moved by up to ±Spread% of itself. Zero means none.
	Spread int
	// Agent, when set, runs the server's agent check besides its health
	// check (or alone, with NoCheck).
	Agent *Agent
	// NoCheck runs no health check: the server has an agent check only.
	NoCheck bool
	// Logger receives debug logs of check results; nil means
	// slog.Default().
	Logger *slog.Logger
}

// StartInter is the interval of the health check at start, HAProxy's
// srv_getinter for a server just started: Inter when its health is already
// full (fall 1), DownInter for one started DOWN, FastInter otherwise.
func (cfg Config) StartInter() time.Duration {
	c := cfg.withDefaults()
	switch {
	case c.StartDown:
		return c.DownInter
	case c.Fall == 1:
		return c.Inter
	}
	return c.FastInter
}

// AgentInter is the agent check's interval: agent-inter, else Inter.
func (cfg Config) AgentInter() time.Duration {
	if cfg.Agent != nil && cfg.Agent.Inter > 0 {
		return cfg.Agent.Inter
	}
	return cfg.withDefaults().Inter
}

// withDefaults returns cfg with its zero values replaced by the defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Inter <= 0 {
		cfg.Inter = 2 * time.Second
	}
	if cfg.FastInter <= 0 {
		cfg.FastInter = cfg.Inter
	}
	if cfg.DownInter <= 0 {
		cfg.DownInter = cfg.Inter
	}
	if cfg.Rise <= 0 {
		cfg.Rise = 2
	}
	if cfg.Fall <= 0 {
		cfg.Fall = 3
	}
	if cfg.HTTP.Method == "" {
		cfg.HTTP.Method = "OPTIONS"
	}
	if cfg.HTTP.URI == "" {
		cfg.HTTP.URI = "/"
	}
	if cfg.HTTP.Version == "" {
		cfg.HTTP.Version = "HTTP/1.0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}

// validate reports configuration errors New refuses.
func (cfg *Config) validate() error {
	if cfg.Addr == "" {
		return fmt.Errorf("health: %q: %w", cfg.Name, errNoAddr)
	}
	for i, r := range cfg.TCPCheck {
		if r.Action == ActExpect && (r.Match == MatchNone || r.Match > MatchRBinary) {
			return fmt.Errorf("health: %q: tcp-check rule %d: %w", cfg.Name, i+1, errBadMatch)
		}
		if r.Action == ActExpect && (r.Match == MatchRString || r.Match == MatchRBinary) && r.Regexp == nil {
			return fmt.Errorf("health: %q: tcp-check rule %d: %w", cfg.Name, i+1, errNoRegexp)
		}
	}
	if cfg.Kind == KindHTTP {
		if (cfg.Expect.Match == MatchRStatus || cfg.Expect.Match == MatchRString) && cfg.Expect.Regexp == nil {
			return fmt.Errorf("health: %q: http-check expect: %w", cfg.Name, errNoRegexp)
		}
	}
	return nil
}

var (
	errNoAddr   = errors.New("no address to check")
	errNoRegexp = errors.New("regex match without a compiled regexp")
	errBadMatch = errors.New("expect needs string, binary, rstring or rbinary")
)
