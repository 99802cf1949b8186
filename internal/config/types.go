package config

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"lb/internal/tlsconf"
)

// Pos is a position in a configuration file. Line counts from 1; a zero
// Pos means "no particular line" (whole-configuration diagnostics).
type Pos struct {
	File string
	Line int
}

// String formats the position as "file:line", or "file" without a line.
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Severity classifies a diagnostic. Only Alert makes a configuration invalid.
type Severity int

const (
	// Notice is informational (".notice" lines, hints).
	Notice Severity = iota
	// Warning reports something accepted but probably wrong, as HAProxy warns.
	Warning
	// Alert is an error: the configuration is invalid (exit code 1).
	Alert
	// AlertSoft is an error HAProxy reports as an alert but survives
	// (ERR_ALERT without ERR_FATAL): the line's setting is dropped and the
	// configuration stays valid.
	AlertSoft
)

// String returns "NOTICE", "WARNING" or "ALERT", as HAProxy prints them.
func (s Severity) String() string {
	switch s {
	case Alert, AlertSoft:
		return "ALERT"
	case Warning:
		return "WARNING"
	default:
		return "NOTICE"
	}
}

// Diag is one diagnostic. Msg holds the reason only; callers print
// "[SEVERITY] pos: msg". Multi-line messages (HAProxy's "missing timeouts")
// use "\n   | " continuation lines exactly as HAProxy does.
type Diag struct {
	Pos      Pos
	Severity Severity
	Msg      string
	// Raw is a diagnostic of the line reader itself (HAProxy's
	// readcfgfile: "parsing [file:line]: …", no space before the colon),
	// Abort one that stops the reading there (HAProxy's ERR_ABORT: no
	// further file is read, no "Fatal errors found in configuration.").
	Raw, Abort bool
	// Bare is a message that names its place itself ("Parsing [file:line]:
	// …", as a few of HAProxy's do): no prefix is added, Pos only counts
	// the file among those with errors.
	Bare bool
	// Bracket is a message of HAProxy's server line parser, which names
	// the place without "parsing": "[file:line] : …".
	Bracket bool
	// Late is an error of the checks HAProxy runs once every file is read
	// (check_config_validity): it names its place, but no "Error(s) found
	// in configuration file" line follows it.
	Late bool
}

// String formats the diagnostic as lb prints it: "[ALERT] file:line: reason".
func (d Diag) String() string {
	if d.Pos.File == "" {
		return fmt.Sprintf("[%s] %s", d.Severity, d.Msg)
	}
	return fmt.Sprintf("[%s] %s: %s", d.Severity, d.Pos, d.Msg)
}

// Format formats the diagnostic as HAProxy 2.6 prints it on stderr, pid
// being the process's: "[ALERT]    (pid) : config : parsing [file:line] :
// reason". A diagnostic without a position is "… : config : reason".
func (d Diag) Format(pid int) string {
	head := fmt.Sprintf("%-11s(%d) : config : ", "["+d.Severity.String()+"]", pid)
	if d.Pos.File == "" || d.Bare {
		return head + d.Msg
	}
	if d.Raw {
		return head + "parsing [" + d.Pos.String() + "]: " + d.Msg
	}
	if d.Bracket {
		return head + "[" + d.Pos.String() + "] : " + d.Msg
	}
	return head + "parsing [" + d.Pos.String() + "] : " + d.Msg
}

// Options tunes Load. The zero value reads the process environment and
// resolves host names with the system resolver.
type Options struct {
	// IgnoreResolveErrors is -dr: a server address that does not resolve is
	// a warning instead of an error (the server starts in maintenance).
	IgnoreResolveErrors bool
	// NoServerVerify is -dV: servers' certificates are not verified unless a server line
	// says "verify required" or the global section "ssl-server-verify required" (the
	// command line only changes the default, as in HAProxy).
	NoServerVerify bool
	// LocalPeerArg tells that -L named the local peer: a "localpeer" line is then ignored
	// with a warning, as in HAProxy.
	LocalPeerArg bool
	// Env looks up environment variables for "${VAR}" expansion, defined()
	// and streq(). Nil means os.LookupEnv.
	Env func(name string) (string, bool)
	// Resolver resolves server host names. Nil means net.LookupIP.
	Resolver func(host string) ([]net.IP, error)
	// Stat checks that referenced files (errorfile, crt, acl -f, ca-file)
	// exist. Nil means os.Stat. Tests use it to pretend files exist.
	Stat func(name string) (os.FileInfo, error)
	// SkipFDCheck does not check that "fd@N" and "sockpair@N" bind
	// addresses are open sockets of this process, which HAProxy checks
	// while parsing. Set it to check a configuration away from the process
	// that will inherit the descriptors.
	SkipFDCheck bool
	// Now is the clock of the certificate validity warnings (nil =
	// time.Now).
	Now func() time.Time
	// LookupUser and LookupGroup resolve the "user" and "group" names of
	// the global section and of unix bind lines to numeric ids, as HAProxy
	// does while parsing (an unknown name is an error). Nil means os/user.
	LookupUser, LookupGroup func(name string) (int, error)
	// Hostname names this machine for "log-send-hostname" without an
	// argument. Nil means os.Hostname.
	Hostname func() (string, error)
	// ReadResolvConf reads /etc/resolv.conf, for "parse-resolv-conf" and the
	// implicit "default" resolvers section. Nil means os.ReadFile.
	ReadResolvConf func() ([]byte, error)
}

// Config is a whole parsed configuration. It is not modified after Load.
type Config struct {
	// Files lists the configuration files read, in order (directories
	// expanded), as HAPROXY_CFGFILES would.
	Files []string
	// Global holds the global section (all of them merged, in order).
	Global Global
	// Proxies are the frontend, backend and listen sections in
	// configuration order, with their defaults section already applied.
	// Defaults sections themselves are not listed.
	Proxies []*Proxy
	// HTTPErrors are the "http-errors" sections by name.
	HTTPErrors map[string]*HTTPErrors
	// Userlists are the "userlist" sections by name.
	Userlists map[string]*Userlist `json:",omitempty"`
	// Caches are the "cache" sections by name.
	Caches map[string]*Cache `json:",omitempty"`
	// Resolvers are the "resolvers" sections by name.
	Resolvers map[string]*Resolvers `json:",omitempty"`
	// ResolversOrder are the names of Resolvers in the configuration's order.
	ResolversOrder []string `json:",omitempty"`
	// The other auxiliary sections (peers, resolvers, …) are not
	// supported yet: Load reports them as alerts.

	// backends indexes the backend-capable proxies by name once Load is
	// done (nil for a Config built by hand).
	backends map[string]*Proxy
}

// Frontends returns the proxies able to accept connections (frontend and
// listen), in configuration order.
func (c *Config) Frontends() []*Proxy {
	var out []*Proxy
	for _, p := range c.Proxies {
		if p.Cap&CapFrontend != 0 {
			out = append(out, p)
		}
	}
	return out
}

// Backends returns the proxies able to hold servers (backend and listen),
// in configuration order.
func (c *Config) Backends() []*Proxy {
	var out []*Proxy
	for _, p := range c.Proxies {
		if p.Cap&CapBackend != 0 {
			out = append(out, p)
		}
	}
	return out
}

// Backend returns the backend-capable proxy called name, or nil.
func (c *Config) Backend(name string) *Proxy {
	if c.backends != nil {
		return c.backends[name]
	}
	for _, p := range c.Proxies {
		if p.Cap&CapBackend != 0 && p.Name == name {
			return p
		}
	}
	return nil
}

// Frontend returns the frontend-capable proxy called name, or nil.
func (c *Config) Frontend(name string) *Proxy {
	for _, p := range c.Proxies {
		if p.Cap&CapFrontend != 0 && p.Name == name {
			return p
		}
	}
	return nil
}

// Listeners counts the addresses lb will listen on: the bind addresses
// of the enabled frontends and the stats sockets, which HAProxy counts too.
// Zero means "valid but will not start" (exit code 2).
func (c *Config) Listeners() int {
	n := len(c.Global.StatsSockets)
	for _, p := range c.Frontends() {
		if p.Disabled {
			continue
		}
		for _, b := range p.Binds {
			n += len(b.Addrs)
		}
	}
	return n
}

// Global is the global section. Zero values mean "not set"; the documented
// HAProxy default then applies.
type Global struct {
	// Pos is where it was read (Global: its first global section).
	Pos Pos
	// Daemon is "daemon" (or -D): fork into the background.
	Daemon bool
	// MasterWorker is "master-worker": the master-worker mode of -W.
	MasterWorker bool
	// Maxconn is the process-wide connection limit; 0 = derived from
	// ulimit-n as HAProxy does.
	Maxconn int
	// MaxConnRate and MaxSessRate ("maxconnrate", "maxsessrate") limit the
	// connections and sessions the process accepts per second; 0 = none.
	MaxConnRate, MaxSessRate int
	// MaxSSLRate ("maxsslrate") limits the connections accepted per second
	// on listeners with "ssl"; 0 = none.
	MaxSSLRate int
	// Nbthread is the number of worker threads; 0 = one per CPU.
	Nbthread int
	// UlimitN is "ulimit-n"; 0 = computed from maxconn.
	UlimitN int
	// NoStrictLimits is "no strict-limits": a file descriptor limit
	// that cannot be raised to what maxconn needs is a warning, and lb
	// starts with the limit it has. The zero value is HAProxy 2.6's
	// default ("strict-limits"): such a start fails.
	NoStrictLimits bool
	// User and Group are names to switch to after binding ("" = stay).
	User, Group string
	// UID and GID are numeric identities; -1 = not set.
	UID, GID int
	// Chroot is a directory to chroot into after binding ("" = none).
	Chroot string
	// Pidfile is the pid file path ("" = none; -p overrides).
	Pidfile string
	// ServerStateFile is "server-state-file": the file of "show servers
	// state" output the backends with "load-server-state-from-file global"
	// apply at start ("" = none). ServerStateBase is "server-state-base":
	// the directory relative state file names are found in ("" = none).
	ServerStateFile, ServerStateBase string
	// StatsSockets are the "stats socket" lines, in order.
	StatsSockets []StatsSocket
	// StatsTimeout is "stats timeout" (default 10s when zero).
	StatsTimeout time.Duration
	// Logs are the global "log" targets.
	Logs []LogTarget
	// LogSendHostname is "log-send-hostname": the name sent in syslog
	// headers, the system's host name when the line names none ("" = not
	// set).
	LogSendHostname string
	// LogTag is "log-tag" ("" = program name).
	LogTag string
	// HardStopAfter bounds how long an old process drains; 0 = forever.
	HardStopAfter time.Duration
	// Grace delays the stop of listeners after a soft-stop signal; 0 = none.
	Grace time.Duration
	// CloseSpreadTime spreads idle connection closes on soft stop; 0 = none.
	CloseSpreadTime time.Duration
	// NoReusePort disables SO_REUSEPORT on fresh binds.
	NoReusePort bool
	// CPUMaps are the "cpu-map" lines.
	CPUMaps []CPUMap
	// TuneBufsize is "tune.bufsize" in bytes; 0 = 16384.
	TuneBufsize int
	// SSLCacheSize is "tune.ssl.cachesize" when SSLCacheSizeSet: the TLS
	// sessions kept for the bind lines with "no-tls-tickets" (0 = none).
	// Unset, HAProxy's default of 20000 applies (SessionCacheSize).
	SSLCacheSize    int
	SSLCacheSizeSet bool
	// SSLLifetime is "tune.ssl.lifetime" when SSLLifetimeSet: how long a TLS
	// session resumes, by ticket or from the cache (SessionLifetime).
	SSLLifetime    time.Duration
	SSLLifetimeSet bool
	// CompMaxLevel is "tune.comp.maxlevel", the level HTTP compression
	// runs at (1 to 9); 0 = 1, HAProxy's default.
	CompMaxLevel int
	// NoSplice is "nosplice": data is copied through buffers, never
	// spliced (as -dS).
	NoSplice bool
	// SpreadChecks is the percentage of random jitter on check intervals.
	SpreadChecks int
	// CABase and CRTBase are "ca-base" and "crt-base", the directories of
	// relative ca-file/crl-file and crt/crt-list paths.
	CABase, CRTBase string
	// SSLDefaultBind and SSLDefaultServer are the "ssl-default-*" settings
	// (ciphers, ciphersuites, curves, options). The bind ones are the
	// defaults of every "ssl" bind line declared after them.
	SSLDefaultBind, SSLDefaultServer SSLDefaults
	// SSLServerVerify is "ssl-server-verify" ("none", "required"; "" =
	// required): the verify of server lines that do not set theirs.
	SSLServerVerify string
	// SetEnv lists "setenv"/"presetenv"/"unsetenv"/"resetenv" effects already
	// applied to the environment view used for expansion.
	SetEnv map[string]string
	// Node and Description are informational ("node", "description").
	Node, Description string
	// UnixBind is the "unix-bind" prefix and defaults for unix binds.
	UnixBind UnixBind
	// ExposeExperimental is "expose-experimental-directives".
	ExposeExperimental bool
	// Quiet is "quiet" (as -q); ZeroWarning is "zero-warning" (as -dW).
	Quiet, ZeroWarning bool

	// closeSpreadPos is the line of "close-spread-time", for its warning.
	closeSpreadPos Pos
}

// SSLDefaults is one set of ssl-default-{bind,server}-* values.
type SSLDefaults struct {
	// Ciphers and Ciphersuites are the OpenSSL cipher strings ("" = the
	// library default).
	Ciphers, Ciphersuites string
	// Curves is ssl-default-bind-curves ("" = the library default).
	Curves string
	// Options are the option words as written (e.g. "ssl-min-ver",
	// "TLSv1.2", "no-tls-tickets").
	Options []string
}

// UnixBind is the global "unix-bind" statement.
type UnixBind struct {
	// Prefix is prepended to the path of every unix bind and stats socket
	// declared after it, as written ("" = none).
	Prefix string
	// Mode is the socket file mode (0 = umask default).
	Mode os.FileMode
	// User and Group own the socket file ("" = unchanged); their ids are
	// resolved into UID/GID (-1 = unchanged).
	User, Group string
	UID, GID    int
}

// CPUMap is one "cpu-map [auto:]<process/thread> <cpu-set>" line.
type CPUMap struct {
	// Pos is the line it was read from.
	Pos Pos
	// Auto is the "auto:" prefix: threads are spread over the CPU set.
	Auto bool
	// Process is the process range ("1" or "all"); lb always runs one.
	Process string
	// ThreadLow..ThreadHigh is the thread range (1-based); both 0 = all.
	ThreadLow, ThreadHigh int
	// CPUs is the set of CPU numbers, sorted.
	CPUs []int
}

// StatsSocket is a "stats socket" line of the global section.
type StatsSocket struct {
	// Pos is the line it was read from.
	Pos Pos
	// Addr is the socket's single address (unix path, abns or TCP).
	Addr BindAddr
	// Level is "user", "operator" or "admin"; "" means HAProxy's default,
	// "operator".
	Level string
	// Mode is the unix socket file mode (0 = umask default).
	Mode os.FileMode
	// User and Group own the socket ("" = unchanged); UID/GID -1 = unchanged.
	User, Group string
	UID, GID    int
	// ExposeFDListeners is "expose-fd listeners": the socket hands
	// listening fds to a new process (-x).
	ExposeFDListeners bool
	// Bind holds all options as on a bind line (maxconn, backlog, …).
	Bind *Bind
}

// LogTarget is one "log" line.
type LogTarget struct {
	// Pos is the line it was read from.
	Pos Pos
	// Global is "log global": use the global section's targets.
	Global bool
	// Network is "udp", "tcp", "unix" (unixgram), "stdout", "stderr",
	// "fd" or "ring".
	Network string
	// Addr is host:port, the unix path, the fd number or the ring name.
	Addr string
	// Len is the maximum line length (0 = 1024).
	Len int
	// Format is "rfc3164" (default ""), "rfc5424", "short", "raw", …
	Format string
	// Facility is the syslog facility name (required except "log global").
	Facility string
	// Level is the maximum level sent ("" = all); MinLevel the minimum.
	Level, MinLevel string
}

// Cap is the capability of a proxy.
type Cap uint8

const (
	// CapFrontend means the proxy accepts connections (frontend, listen).
	CapFrontend Cap = 1 << iota
	// CapBackend means the proxy holds servers (backend, listen).
	CapBackend
	// CapDefaults marks a defaults section (never in Config.Proxies).
	CapDefaults
	// CapListen is both frontend and backend.
	CapListen = CapFrontend | CapBackend
)

// Mode is a proxy mode.
type Mode string

const (
	// ModeTCP is layer-4 proxying, HAProxy's default.
	ModeTCP Mode = "tcp"
	// ModeHTTP is HTTP proxying.
	ModeHTTP Mode = "http"
)

// Timeouts are a proxy's "timeout" settings. Zero means "not set", which
// HAProxy treats as infinite, except where noted.
type Timeouts struct {
	// Client and Server are the inactivity timeouts of each side.
	Client, Server time.Duration
	// Connect bounds a connection attempt to a server.
	Connect time.Duration
	// Queue bounds the wait in a server or backend queue (0 = Connect).
	Queue time.Duration
	// Check bounds a health check's read after connecting (0 = Inter).
	Check time.Duration
	// Tunnel replaces Client and Server once a connection is a tunnel
	// (always, in TCP mode, when set).
	Tunnel time.Duration
	// HTTPRequest and HTTPKeepAlive bound the wait for a request and
	// between requests (0 = Client).
	HTTPRequest, HTTPKeepAlive time.Duration
	// ClientFin and ServerFin are the inactivity timeouts once that side
	// has shut its writes (0 = Client / Server).
	ClientFin, ServerFin time.Duration
	// Tarpit is how long "tarpit" rules hold a request (0 = Connect).
	Tarpit time.Duration
}

// Proxy is a frontend, backend or listen section, with its defaults applied.
type Proxy struct {
	// Pos is the section's first line.
	Pos Pos
	// Name is the proxy name.
	Name string
	// Cap is CapFrontend, CapBackend or CapListen.
	Cap Cap
	// Defaults is the name of the defaults section applied ("" for the
	// unnamed one or none).
	Defaults string
	// Mode is the proxy mode (default ModeTCP).
	Mode Mode
	// Disabled is "disabled" (the proxy is not started).
	Disabled bool
	// ID is "id" (0 = automatic).
	ID int
	// Description is "description".
	Description string
	// Binds are the bind lines (frontend capability only).
	Binds []*Bind
	// Maxconn is the frontend connection limit; 0 means HAProxy's default
	// (the -N value, else the global maxconn).
	Maxconn int
	// RateLimitSessions is "rate-limit sessions": the sessions the frontend
	// starts per second at most; 0 = none.
	RateLimitSessions int
	// Backlog is the proxy-level listen backlog (0 = maxconn).
	Backlog int
	// Timeouts are the proxy timeouts.
	Timeouts Timeouts
	// Retries is the number of connection retries (default 3).
	Retries int
	// RetryOn are the keywords of "retry-on", as written; nil means
	// HAProxy's default, "conn-failure".
	RetryOn []string
	// Options holds the boolean "option X" / "no option X" settings by name
	// (e.g. "redispatch", "dontlognull", "http-server-close"). A name
	// absent from the map is unset (HAProxy's default).
	Options map[string]bool
	// RedispatchInterval is "option redispatch <interval>" (0: the last retry).
	RedispatchInterval int `json:",omitempty"`
	// Forwardfor is "option forwardfor" (nil = not set).
	Forwardfor *Forwardfor
	// Originalto is "option originalto" (nil = not set; IfNone unused).
	Originalto *Forwardfor
	// HTTPLog / TCPLog are "option httplog [clf]" / "option tcplog".
	HTTPLog, HTTPLogCLF, TCPLog bool
	// HTTPSLog is "option httpslog": HTTPLog is set too, and the line
	// adds the TLS fields of HAProxy's httpslog format.
	HTTPSLog bool `json:",omitempty"`
	// LogFormat is "log-format" ("" = default for the log option used).
	LogFormat string
	// LogFormatPos and UniqueIDFormatPos are the lines of "log-format"
	// and "unique-id-format", for the errors of their strings.
	LogFormatPos, UniqueIDFormatPos Pos `json:"-"`
	// Logs are the proxy's log lines as written, "log global" included as
	// a target with Global set; LogTargets expands them.
	Logs []LogTarget
	// NoLog is "no log": discard inherited targets.
	NoLog bool
	// CliTCPKA and SrvTCPKA are "clitcpka-*" and "srvtcpka-*": the timings of
	// TCP keep-alive on client and server sockets, when "option clitcpka",
	// "option srvtcpka" or "option tcpka" turns it on.
	CliTCPKA, SrvTCPKA TCPKeepAlive
	// SendNameHeader is "http-send-name-header": the request header that
	// carries the name of the server chosen, in mode http.
	SendNameHeader string
	// UniqueIDFormat and UniqueIDHeader are the unique-id settings.
	UniqueIDFormat, UniqueIDHeader string
	// Balance is the load-balancing algorithm (backend capability).
	Balance Balance
	// HashType is "hash-type" ("" = map-based).
	HashType string
	// HashBalanceFactor is "hash-balance-factor" (0 = none, else above
	// 100): bounded loads for consistent hashing. HashBalanceFactorPos is
	// where it was set.
	HashBalanceFactor    int
	HashBalanceFactorPos Pos
	// MaxKeepAliveQueue is "max-keep-alive-queue" plus one, as HAProxy
	// stores it: 0 (the default, -1) and below mean no limit; n+1 means a
	// keep-alive request leaves its last server ("option
	// prefer-last-server") for the balancing when that server is full
	// with n requests or more in its queue.
	MaxKeepAliveQueue int
	// LoadServerStateFromFile is "load-server-state-from-file": "global",
	// "local" or "" (none, the default). ServerStateFileName is
	// "server-state-file-name" for "local" ("" = the backend's name).
	LoadServerStateFromFile, ServerStateFileName string
	// Servers are the server lines (backend capability).
	Servers []*Server
	// Fullconn is "fullconn": the backend load at which servers with a
	// minconn reach their maxconn (0 = HAProxy's default, 10% of the sum
	// of the maxconn of the frontends that use the backend).
	Fullconn int
	// Dispatch is "dispatch <addr>:<port>": every connection goes there,
	// whatever servers the backend has (invalid = none).
	Dispatch netip.AddrPort
	// Source is "source …": where the connections to servers without a
	// "source" of their own leave from (nil = the system chooses).
	Source *Source
	// DefaultServer holds the accumulated "default-server" settings.
	DefaultServer *Server
	// Cookie is "cookie <name> …" (nil = no cookie persistence).
	Cookie *Cookie
	// Check is the health-check configuration.
	Check HealthCheck
	// ACLs are the named ACL lines, in order.
	ACLs []*ACL
	// DefaultBackend is "default_backend" ("" = none).
	DefaultBackend string
	// UseBackends are the "use_backend" rules, in order.
	UseBackends []*UseBackend
	// UseServers are the "use-server" rules, in order.
	UseServers []*UseServer
	// PersistRules are the "force-persist" and "ignore-persist" rules,
	// in order.
	PersistRules []*PersistRule
	// StickRules are the "stick on|match|store-request|store-response"
	// rules, in order.
	StickRules []*StickRule
	// HTTPRequest, HTTPResponse and HTTPAfterResponse are the HTTP rules.
	HTTPRequest, HTTPResponse, HTTPAfterResponse []*Rule
	// TCPRequest holds the "tcp-request" rules (Action "connection accept",
	// "content reject", …), TCPResponse the "tcp-response" ones.
	TCPRequest, TCPResponse []*Rule
	// InspectDelay and ResponseInspectDelay are "tcp-request inspect-delay"
	// and "tcp-response inspect-delay" (0 = no waiting for content).
	InspectDelay, ResponseInspectDelay time.Duration
	// Redirects are "redirect" lines (HTTP only).
	Redirects []*Rule
	// Stats is the HTTP statistics page configuration.
	Stats StatsPage
	// ErrorFiles maps an HTTP status to a file ("errorfile").
	ErrorFiles map[int]string
	// ErrorLocs maps an HTTP status to a redirect ("errorloc",
	// "errorloc302", "errorloc303"); a status is in ErrorFiles or here,
	// as the last line for it said.
	ErrorLocs map[int]ErrorLoc
	// ErrorReplies maps an HTTP status to the response of an "http-error"
	// line that lb builds itself; a status is in at most one of
	// ErrorFiles, ErrorLocs and ErrorReplies, as the last line for it
	// said.
	ErrorReplies map[int]*ErrorReply
	// MonitorURI is "monitor-uri" ("" = none).
	MonitorURI string
	// MonitorFail are the "monitor fail if|unless" lines.
	MonitorFail []*MonitorFail
	// HTTPReuse is "http-reuse": "never", "safe", "aggressive" or
	// "always" ("" = safe, HAProxy's default).
	HTTPReuse string
	// Compression is "compression algo/type" (algorithms and types).
	Compression Compression
	// Captures are "capture request/response header" lines.
	Captures []*Rule
	// CaptureCookie is the "capture cookie" line (the last one), nil
	// without.
	CaptureCookie *CaptureCookie `json:",omitempty"`
	// StickTable is the "stick-table" line (nil: the proxy has no table).
	StickTable *StickTable

	// ruleSeen records which rule kinds were declared, in HAProxy's
	// evaluation order, to warn about misplaced rules.
	ruleSeen [ruleKinds]bool
	// errorfiles are the "errorfiles" lines; errSeq orders the other
	// error lines by status (httperrors.go).
	errorfiles []errorfilesRef
	errSeq     map[int]int
	// httpLogPos is the line of "option httplog" (or httpslog), for its
	// warnings.
	httpLogPos Pos
	// disabledPos is the line of "disabled", which lb refuses for a
	// backend: it would still check and use its servers.
	disabledPos Pos
	// httpOnly are the HTTP keywords written in the section that HAProxy
	// ignores silently outside mode http (see checkHTTPOnly).
	httpOnly []httpOnlyUse
}

// LogTargets returns the proxy's log targets with "log global" replaced by
// the global section's targets; nil after "no log".
func (p *Proxy) LogTargets(g *Global) []LogTarget {
	if p.NoLog {
		return nil
	}
	var out []LogTarget
	for _, t := range p.Logs {
		if t.Global {
			out = append(out, g.Logs...)
			continue
		}
		out = append(out, t)
	}
	return out
}

// IsFrontend reports whether the proxy accepts connections.
func (p *Proxy) IsFrontend() bool { return p.Cap&CapFrontend != 0 }

// IsBackend reports whether the proxy holds servers.
func (p *Proxy) IsBackend() bool { return p.Cap&CapBackend != 0 }

// Server returns the server called name, or nil.
func (p *Proxy) Server(name string) *Server {
	for _, s := range p.Servers {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Forwardfor is "option forwardfor [except <net>] [header <name>] [if-none]".
type Forwardfor struct {
	Except string
	// Header is the header name (default "X-Forwarded-For" when "").
	Header string
	IfNone bool
}

// Balance is a "balance" line. Zero value = roundrobin.
type Balance struct {
	// Pos is the line it was read from.
	Pos Pos
	// Algorithm is roundrobin (default), static-rr, leastconn, first,
	// source, uri, url_param, hdr, random, rdp-cookie or hash.
	Algorithm string
	// Args are the algorithm's arguments (e.g. the header name for
	// "hdr(name)", the random draws, uri's "len"/"depth"/"whole").
	Args []string
}

// IsHTTP reports whether the algorithm needs HTTP mode.
func (b Balance) IsHTTP() bool {
	switch b.Algorithm {
	case "uri", "url_param", "hdr":
		return true
	}
	return false
}

// Cookie is "cookie <name> [rewrite|insert|prefix] [indirect] [nocache] …".
type Cookie struct {
	// Pos is the line it was read from.
	Pos Pos
	// Name is the cookie name.
	Name string
	// Options are the option words as written ("insert", "indirect",
	// "domain", ".example.com", …).
	Options []string
}

// HealthCheck is the backend's check configuration.
type HealthCheck struct {
	// Type is "" (TCP connect), "httpchk", "tcp-check", "ssl-hello-chk",
	// "mysql-check", "pgsql-check", "redis-check", "smtpchk", "ldap-check".
	Type string
	// Method, URI and Version are "option httpchk" arguments (defaults
	// OPTIONS / HTTP/1.0).
	Method, URI, Version string
	// Args holds the remaining arguments of the check option (e.g.
	// mysql-check "user X").
	Args []string
	// HTTPCheck are the "http-check" rules, TCPCheck the "tcp-check" ones.
	HTTPCheck, TCPCheck []*Rule
	// LogHealthChecks is "option log-health-checks".
	LogHealthChecks bool
}

// ACL is an "acl <name> <criterion> [flags] [operator] <value>…" line, or
// the anonymous ACL "{ <criterion> [flags] <value>… }" of a condition.
type ACL struct {
	// Pos is the line it was read from.
	Pos Pos
	// Name is the ACL name; "" for an anonymous ACL.
	Name string
	// Fetch is the sample fetch (with converters), e.g. "hdr(host)".
	Fetch string
	// Flags are the "-i", "-m beg", "-f file" … flags, each flag followed
	// by its argument when it takes one.
	Flags []string
	// Files are the pattern files of "-f" flags.
	Files []string
	// Values are the patterns.
	Values []string
}

// Cond is an "if|unless <condition>" suffix: AND groups of terms separated
// by "||" (or "or"), as HAProxy's parse_acl_cond builds them. An empty
// condition (no terms) never matches, so "unless" with it always does.
type Cond struct {
	// Unless is true for "unless".
	Unless bool
	// Terms are the condition's terms in order. Terms between two Or
	// terms form an AND group; the groups are ORed. Or terms only ever
	// separate two non-empty groups.
	Terms []CondTerm
}

// CondTerm is one term of a condition: a named ACL, an anonymous ACL or
// the "||" operator.
type CondTerm struct {
	// Or is the "||"/"or" operator; the other fields are then zero.
	Or bool
	// Neg is true when an odd number of "!" preceded the ACL.
	Neg bool
	// Name is the name of a named ACL: one declared by the proxy (every
	// "acl" line of that name, those after the rule included, as in
	// HAProxy) or a predefined one ("TRUE", "LOCALHOST", …). "" when Anon
	// is set.
	Name string
	// Anon is the anonymous ACL "{ … }" (nil for a named ACL).
	Anon *ACL
}

// UseBackend is "use_backend <name> [if|unless cond]".
type UseBackend struct {
	// Pos is the line it was read from.
	Pos Pos
	// Backend is the backend name or a log-format string ("%[…]").
	Backend string
	// Dynamic is true when Backend is a log-format expression.
	Dynamic bool
	// Cond is the condition (nil = always).
	Cond *Cond
}

// MonitorFail is "monitor fail if|unless <cond>": the monitor-uri answers
// 503 when the condition holds.
type MonitorFail struct {
	Pos  Pos
	Cond *Cond
}

// UseServer is "use-server <server> if|unless <cond>".
type UseServer struct {
	// Pos is the line it was read from.
	Pos Pos
	// Server is the server name or a log-format string ("%[…]").
	Server string
	// Dynamic is true when Server is a log-format expression: it is then
	// resolved at run time and not checked against the servers.
	Dynamic bool
	// Cond is the condition (never nil: HAProxy requires one).
	Cond *Cond
}

// PersistRule is "force-persist if|unless <cond>" or "ignore-persist
// if|unless <cond>". The rules of a proxy are evaluated in order and the
// first whose condition matches decides, as in HAProxy.
type PersistRule struct {
	// Pos is the line it was read from.
	Pos Pos
	// Ignore is true for "ignore-persist", false for "force-persist".
	Ignore bool
	// Cond is the condition (never nil).
	Cond *Cond
}

// StickRule is a "stick" line of a backend.
type StickRule struct {
	// Pos is the line it was read from.
	Pos Pos
	// Kind is "on", "match", "store-request" or "store-response".
	Kind string
	// Expr is the sample expression of the key.
	Expr string
	// Table is the table's proxy, "" for the rule's own.
	Table string
	// Cond is the optional condition.
	Cond *Cond
}

// Matches reports whether r looks the key up ("on", "match").
func (r *StickRule) Matches() bool { return r.Kind == "on" || r.Kind == "match" }

// Stores reports whether r stores the key with the server on the request
// side ("on", "store-request").
func (r *StickRule) Stores() bool { return r.Kind == "on" || r.Kind == "store-request" }

// Rule is a generic action rule (http-request, tcp-request, redirect,
// http-check …).
type Rule struct {
	// Pos is the line it was read from.
	Pos Pos
	// Action is the action keyword (e.g. "set-header", "deny", "expect").
	// For tcp-request it is "<ruleset> <action>", e.g. "content accept".
	Action string
	// Args are the action's arguments.
	Args []string
	// Cond is the optional condition.
	Cond *Cond
}

// StatsPage is the HTTP statistics page ("stats …" in a proxy).
type StatsPage struct {
	// Enabled is set by "stats enable" and by any other stats keyword.
	Enabled bool
	// URI is the page's URI prefix ("" = HAProxy's default "/haproxy?stats").
	URI string
	// Realm is the HTTP authentication realm ("" = default).
	Realm string
	// Auths are the "user:password" accounts (none = no authentication).
	Auths []string
	// Refresh is the page's auto-refresh interval (0 = none).
	Refresh time.Duration
	// HideVersion hides the version; ShowLegends shows legends.
	HideVersion, ShowLegends bool
	// ShowNode is the node name shown ("(hostname)" for the host name,
	// "" = not shown); ShowDesc the description shown ("" = none).
	ShowNode, ShowDesc string
	// Scope restricts the page to these proxies (none = all).
	Scope []string
	// Admin is the "stats admin" condition (nil = read-only page), AdminPos
	// its line.
	Admin    *Cond
	AdminPos Pos
	// HTTPRequest are the "stats http-request" rules.
	HTTPRequest []*Rule
}

// Compression is the "compression" configuration.
type Compression struct {
	// Algos are the algorithms in order of preference (none = off).
	Algos []string
	// Types are the MIME types compressed (none = all).
	Types []string
	// Offload removes Accept-Encoding before forwarding.
	Offload bool
}

// Bind is a bind line: one or more addresses sharing options.
type Bind struct {
	// Pos is the line it was read from.
	Pos Pos
	// Spec is the address argument as written (after expansion).
	Spec string
	// Addrs are the expanded addresses: one per comma-list element and per
	// port of a range.
	Addrs []BindAddr
	// Name is "name" ("" = none).
	Name string
	// ID is "id" (0 = automatic).
	ID int
	// Backlog is the listen backlog (0 = the frontend's maxconn).
	Backlog int
	// Maxconn is "maxconn": the listener's own limit of connections at
	// once (0 = none but the frontend's and the process's).
	Maxconn int
	// Transparent, DeferAccept, V4V6, V6Only, AcceptProxy and Tfo are the
	// options of the same names (false = off; V6Only wins over V4V6).
	Transparent, DeferAccept, V4V6, V6Only, AcceptProxy, Tfo bool
	// TCPUserTimeout is "tcp-ut", in milliseconds: TCP_USER_TIMEOUT on the
	// listening socket, which the connections it accepts inherit (0 = the
	// system's).
	TCPUserTimeout int
	// Interface is SO_BINDTODEVICE ("" = any).
	Interface string
	// Mode, User, Group, UID, GID set unix socket ownership (unix-bind
	// gives the defaults). "user"/"group" names are resolved into UID/GID
	// while parsing; UID/GID -1 = unchanged, Mode 0 = umask default.
	Mode        os.FileMode
	User, Group string
	UID, GID    int
	// Level and ExposeFDListeners apply to stats sockets only.
	Level             string
	ExposeFDListeners bool
	// TLS is the bind line's "ssl" with its keywords; nil = plain TCP.
	TLS *BindTLS

	// ssl is the "ssl" keyword; tls collects the TLS keywords (and the
	// certificates, loaded while parsing) until the checks build TLS.
	ssl bool
	tls *tlsconf.Bind
}

// BindTLS is what a bind line's "ssl" and its keywords (and the global
// ssl-default-bind-* lines) resolve to, certificates loaded.
type BindTLS struct {
	// Config is the server-side configuration: certificates with their SNI
	// selection (crt, crt-list, strict-sni), versions, suites, groups,
	// ALPN, client verification (ca-file, verify, crl-file). The process
	// sets its session ticket keys (SetSessionTicketKeys) unless
	// NoTickets; everything else is final. (Not in JSON dumps: it holds
	// functions.)
	Config *tls.Config `json:"-"`
	// NoTickets is "no-tls-tickets": no session tickets are issued
	// (resumption by the session cache only).
	NoTickets bool
	// TicketKeys are the keys of "tls-ticket-keys FILE", first one
	// encrypting (nil = the process's own keys, handed over on reload).
	TicketKeys [][32]byte `json:"-"`
	// Verify is "verify" ("none", "optional", "required"; "" = none).
	Verify string
	// StrictSNI is "strict-sni": a handshake without a server name that
	// matches a certificate fails.
	StrictSNI bool
	// Bind is what Config was built from (certificates, SNI filters,
	// crt-list lines' settings), for the runtime API and the fetches.
	Bind *tlsconf.Bind `json:"-"`
}

// ServerTLS is a server line's "ssl" with its keywords (and the global
// ssl-default-server-* lines).
type ServerTLS struct {
	// Config is the client-side configuration: versions, suites, the
	// client certificate ("crt"), the CAs ("ca-file") and verification
	// ("verify", "verifyhost", "crl-file"), ALPN. Its ServerName is
	// empty: the SNI comes from SNI per connection.
	Config *tls.Config
	// SNI is the "sni" sample expression as written ("" = none), evaluated
	// per connection when connecting (rules.ServerSNI); the result is the
	// ServerName to set on a clone of Config: the name sent and, with
	// "verify required", the name checked (before "verifyhost", which
	// is checked only when no SNI was sent, as in HAProxy).
	SNI string
	// NoReuse is "no-ssl-reuse": no session resumption toward the server.
	NoReuse bool
}

// BindAddr is one expanded bind address.
type BindAddr struct {
	// Network is "tcp4", "tcp6", "unix", "abns", "fd", "sockpair" or
	// "udp4"/"udp6".
	Network string
	// Host is the IP literal or host name for tcp4/tcp6 ("" = any address).
	Host string
	// Port is the TCP port (tcp4/tcp6).
	Port int
	// Path is the unix path (unix, with the unix-bind prefix applied) or the
	// abstract name without its NUL (abns).
	Path string
	// FD is the file descriptor number (fd, sockpair).
	FD int
}

// Addr returns host:port for TCP, the path for unix/abns, "fd@N" for fds.
func (a BindAddr) Addr() string {
	switch a.Network {
	case "tcp4", "tcp6", "udp4", "udp6":
		return net.JoinHostPort(a.Host, fmt.Sprint(a.Port))
	case "unix":
		return a.Path
	case "abns":
		return "@" + a.Path
	default:
		return fmt.Sprintf("%s@%d", a.Network, a.FD)
	}
}

// Server is a server or default-server line, with default-server settings
// applied.
type Server struct {
	// Pos is the line it was read from.
	Pos Pos
	// Name is the server name ("" for default-server).
	Name string
	// Addr is the address as written (host or IP, possibly with prefix).
	Addr string
	// Network is "tcp4", "tcp6", "unix" or "abns"; "" when Host is empty
	// or did not resolve.
	Network string
	// Host is the host part as written ("" = 0.0.0.0: connect to the
	// client's original destination). IPs are its addresses (literal or
	// resolved through Options.Resolver / init-addr), first one preferred.
	Host string
	IPs  []net.IP
	// Source is the server's "source …" (nil = the backend's).
	Source *Source
	// Port is the port (0 = same as the client's destination port);
	// PortOffset is true for "+N"/"-N" relative ports.
	Port       int
	PortOffset bool
	// Path is the unix socket path for unix/abns servers.
	Path string
	// Unresolved is true when the host did not resolve and -dr or init-addr
	// allowed it: the server starts in maintenance.
	Unresolved bool
	// ID is "id" (0 = automatic).
	ID int
	// Check enables health checks; CheckPort overrides their port ("port").
	Check     bool
	CheckPort int
	// CheckAddr is "addr" for checks ("" = the server address).
	CheckAddr string
	// AgentCheck is "agent-check": the agent check runs on AgentPort
	// ("agent-port"), at AgentAddr ("agent-addr", "" = the server's
	// address), every AgentInter ("agent-inter", 0 = Inter), sending
	// AgentSend ("agent-send").
	AgentCheck bool
	AgentPort  int
	AgentAddr  string
	AgentInter time.Duration
	AgentSend  string
	// Inter, FastInter, DownInter are check intervals (Inter default 2s;
	// the other two default to Inter when zero).
	Inter, FastInter, DownInter time.Duration
	// Rise and Fall are the thresholds (defaults 2 and 3).
	Rise, Fall int
	// Weight is 0..256 (default 1).
	Weight int
	// Backup marks a backup server.
	Backup bool
	// Maxconn and Maxqueue limit the server (0 = unlimited).
	Maxconn, Maxqueue int
	// Minconn is "minconn": the server's limit when the backend is idle,
	// rising to Maxconn as the backend's load reaches its fullconn
	// (0 = Maxconn: a static limit).
	Minconn int
	// Slowstart is "slowstart", in whole seconds as HAProxy keeps it
	// (rounded up): after coming back from DOWN or maintenance, the server's
	// weight and maxconn ramp up over that time (0 = at once).
	Slowstart int
	// TCPUserTimeout is "tcp-ut", in milliseconds: TCP_USER_TIMEOUT on
	// the server's connections and health checks (0 = the system's).
	TCPUserTimeout int
	// Disabled starts the server in maintenance.
	Disabled bool
	// SendProxy / SendProxyV2 emit a PROXY header on server connections.
	SendProxy, SendProxyV2 bool
	// Socks4 is "socks4 <addr>:<port>": the connections reach the server
	// through that SOCKS4 proxy (invalid = directly). CheckViaSocks4 is
	// "check-via-socks4": the health checks too.
	Socks4         netip.AddrPort
	CheckViaSocks4 bool
	// Cookie is the persistence cookie value.
	Cookie string
	// Resolvers is "resolvers <name>": the section whose nameservers lb asks
	// for Host's addresses at run time ("" = Host is resolved once, at start).
	Resolvers string `json:",omitempty"`
	// ResolvePrefer is "resolve-prefer": "ipv4" or "ipv6" ("" = ipv6, as
	// HAProxy: the family asked first).
	ResolvePrefer string `json:",omitempty"`
	// ResolveNet is "resolve-net": addresses in these networks are taken first.
	ResolveNet []netip.Prefix `json:",omitempty"`
	// InitAddr is the init-addr method list (default "last,libc").
	InitAddr []string
	// NonStick is "non-stick" ("stick" clears it): the stick rules store
	// nothing for the sessions this server serves.
	NonStick bool `json:",omitempty"`
	// Redir is "redir <prefix>" ("" = none): in mode http, GET and HEAD
	// requests for this server get a 302 to the prefix and their path.
	Redir string `json:",omitempty"`
	// Track is "track [<proxy>/]<server>" as written ("" = none); Tracked
	// the server it names, resolved once the configuration is read: this
	// server's state follows that one's, which has checks or tracks
	// another in turn.
	Track   string  `json:",omitempty"`
	Tracked *Server `json:"-"`
	// OnMarkedDown is "on-marked-down" ("shutdown-sessions" or "");
	// OnMarkedUp "on-marked-up" ("shutdown-backup-sessions" or "").
	OnMarkedDown string
	OnMarkedUp   string `json:",omitempty"`
	// Observe is "observe": "layer4", "layer7", or "" / "none" for no
	// passive check; ErrorLimit is "error-limit" (0: 10), OnError
	// "on-error" ("": fail-check).
	Observe    string `json:",omitempty"`
	ErrorLimit int    `json:",omitempty"`
	OnError    string `json:",omitempty"`
	// PoolMaxConn is "pool-max-conn": the most idle connections kept
	// for the server (-1 = unlimited, the default; 0 = none).
	PoolMaxConn int
	// PoolPurgeDelay is "pool-purge-delay" (0 = HAProxy's 5s).
	PoolPurgeDelay time.Duration
	// Flags holds other accepted flags by name ("check-send-proxy").
	Flags map[string]string
	// TLS is "ssl" and its keywords; nil = plain TCP.
	TLS *ServerTLS
	// CheckTLS is the configuration health checks use: set by
	// "check-ssl", or when TLS is set and checks go to the traffic port
	// (nil = plain checks). CheckSNI is "check-sni" ("" = none).
	CheckTLS *tls.Config
	CheckSNI string
	// RuleTLS is the configuration of the check rules' "connect ssl":
	// set when the backend has such a rule (nil = none).
	RuleTLS *tls.Config

	// tls is what the TLS keywords said, built into TLS and CheckTLS by
	// the check stage.
	tls serverTLSSpec
}

// CaptureCookie is "capture cookie <name> len <len>": the first request
// cookie and response Set-Cookie whose name starts with Name are logged
// (%CC, %CS), cut to Len bytes.
type CaptureCookie struct {
	Pos  Pos
	Name string
	Len  int
}

// SessionCacheSize is the size of the TLS session cache: "tune.ssl.cachesize",
// or HAProxy's default, 20000.
func (g *Global) SessionCacheSize() int {
	if !g.SSLCacheSizeSet {
		return 20000
	}
	return g.SSLCacheSize
}

// SessionLifetime is how long a TLS session resumes: "tune.ssl.lifetime",
// or HAProxy's default, 300 s; 0 leaves OpenSSL's default in HAProxy, 7200 s.
func (g *Global) SessionLifetime() time.Duration {
	switch {
	case !g.SSLLifetimeSet:
		return 300 * time.Second
	case g.SSLLifetime == 0:
		return 7200 * time.Second
	}
	return g.SSLLifetime
}

// TCPKeepAlive are the timings of TCP keep-alive probes on a socket; zero
// leaves the system's (HAProxy sets only what is not zero).
type TCPKeepAlive struct {
	Count          int           // TCP_KEEPCNT
	Idle, Interval time.Duration // TCP_KEEPIDLE, TCP_KEEPINTVL, whole seconds
}
