// Package rules compiles a proxy's ACLs, conditions, sample expressions and
// TCP actions ("tcp-request connection|session|content", "tcp-response
// content", "use_backend", "use-server", "force-persist", "ignore-persist")
// once per configuration, and evaluates them per connection without
// allocating.
//
// The handler that runs a connection (the TCP handler in internal/proxy
// today, the HTTP handler next) owns one Stream per connection, fills in
// what the fetches read (addresses, the bytes buffered so far), and calls
// the compiled rule sets at HAProxy's points of the connection's life.
package rules

import (
	"crypto/tls"
	"lb/internal/auth"
	"net/netip"
	"time"

	"lb/internal/config"
	"lb/internal/stick"
)

// Counter is a frontend or backend as fetches see it.
type Counter interface {
	// Name is the proxy's name (fe_name, be_name).
	Name() string
	// Conn is its current number of connections (fe_conn, be_conn).
	Conn() int
}

// Backend is what fetches and switching rules read of a backend.
type Backend interface {
	Counter
	// UsableServers is the number of servers a connection may go to now:
	// the usable active servers, or the usable backups when none is (nbsrv).
	UsableServers() int
	// ConnSlots is the number of connection slots left on the usable
	// servers, queues included (connslots); -1 means unlimited.
	ConnSlots() int
	// ServerUp reports whether the server called name is up; ok is false
	// when the backend has no such server (srv_is_up).
	ServerUp(name string) (up, ok bool)
}

// Env is what compilation looks up: the running generation's backends.
// Compile resolves every backend of the configuration through it once;
// rules keep what it returned.
type Env interface {
	// Backend returns the backend called name, or nil.
	Backend(name string) Backend
}

// Verdict is what a rule set decided.
type Verdict uint8

const (
	// Continue: no rule decided; the connection goes on to the next step.
	Continue Verdict = iota
	// Accept: an "accept" rule matched; the remaining rules of the set are
	// skipped.
	Accept
	// Reject: a "reject" rule matched; close the connection and count it.
	Reject
	// Close: a "close" rule matched (tcp-response content close,
	// tcp-request content close): close the connection once what was
	// accepted so far is written.
	Close
	// Wait: a rule's condition needs more data than the Stream holds and
	// the Stream is not final: read more (up to the inspect delay) and run
	// the set again from the same rule.
	Wait
)

// Stream is the per-connection state that fetches read and actions write.
// A handler allocates one per connection (or reuses one with Reset); the
// zero value is a stream with no addresses and no data. A Stream is used
// by one goroutine at a time, and only with Proxies compiled from the same
// config.Config, which agree on where each variable is kept.
type Stream struct {
	// Src and Dst are the client's address and the address it connected
	// to: from the PROXY header when there was one, Dst as changed by
	// set-dst/set-dst-port.
	Src, Dst netip.AddrPort
	// BindName is the "name" of the bind line that accepted (so_name).
	BindName string
	// Frontend is the frontend; Backend the chosen backend, nil before
	// switching rules ran.
	Frontend Counter
	Backend  Backend
	// Req is the request data buffered so far (req.len, req.payload,
	// req.ssl_*), Res the response data (res.len, res.payload).
	Req, Res []byte
	// ReqFinal and ResFinal say that no more data will be considered:
	// the inspect delay expired, the buffer is full or the peer shut its
	// side. A condition that lacks data then evaluates to false. A proxy
	// without an inspect delay treats its data as final whatever these
	// say, as HAProxy does.
	ReqFinal, ResFinal bool
	// ExpectProxy is set by "tcp-request connection expect-proxy layer4":
	// the handler reads a PROXY header next.
	ExpectProxy bool
	// SilentDrop is set with a Reject verdict by a "silent-drop" rule:
	// the handler closes the client connection without sending anything,
	// neither a response nor a FIN or RST where the system allows it.
	SilentDrop bool
	// HTTP is the HTTP transaction of a mode http proxy (nil in mode
	// tcp, and before the request head is parsed): HTTP fetches read
	// it, HTTP actions change it. Reset clears it.
	HTTP *HTTPTxn
	// TLS is the state of the client connection's TLS layer, set by the
	// handler once the handshake is complete (nil: the connection is not
	// TLS). The ssl_fc* and ssl_c_* fetches read it; ssl_c_verify reads
	// VerifiedChains, so a handler that verifies client certificates
	// outside crypto/tls must fill them in. Reset clears it.
	TLS *tls.ConnectionState

	// vars, scratch buffers and resume points are private.
	st streamState
}

// Proxy is the compiled rules of one frontend, backend or listen section.
// It is immutable and safe for concurrent use by many Streams.
type Proxy struct {
	// Name is the proxy's name.
	Name string
	// InspectDelay is "tcp-request inspect-delay", ResponseInspectDelay
	// "tcp-response inspect-delay" (0: rules see only what is there).
	InspectDelay, ResponseInspectDelay time.Duration
	// Warnings are what Compile accepted but HAProxy warns about, such as
	// an ACL that can never match where it is used, each prefixed with
	// its file and line. Nil when there is nothing to say.
	Warnings []string

	c compiled
}

// Options tune Compile.
type Options struct {
	// ReadFile reads pattern and map files (acl -f, map converters); nil
	// means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
	// Getenv reads environment variables for the env() fetch; nil means
	// os.LookupEnv.
	Getenv func(name string) (string, bool)
	// ProcVars holds the "proc" scope variables. Pass the same store to
	// every Compile of a generation so that its proxies share them; nil
	// gives the Proxy a store of its own.
	ProcVars *ProcVars
	// Patterns holds the pattern references (pattern files, ACLs' inline
	// patterns) that the runtime API changes. Pass the same to every
	// Compile of a generation; nil gives each Compile its own.
	Patterns *PatternRefs
	// Tables are the generation's stick tables by proxy name
	// (NewTables); the track-sc actions and the sc_, src_ and table_
	// fetches use them. Pass the same to every Compile of a generation;
	// nil gives each Compile tables of its own.
	Tables map[string]*stick.Table
	// Userlists are the generation's userlists by name (NewUserlists),
	// which remember the credentials they verified. Pass the same to
	// every Compile of a generation; nil gives each Compile its own.
	Userlists map[string]*auth.Userlist
}

// Compile compiles the rules of px. cfg is the whole configuration (for
// backend names); env resolves backends at run time for nbsrv(), be_conn()
// and dynamic use_backend; it may be nil when only checking ("lb -c").
// Every problem is returned, each naming its file and line, e.g.
// "cfg:12: 'hdr' is not supported by lb yet" for a fetch lb lacks.
func Compile(cfg *config.Config, px *config.Proxy, env Env, opt Options) (*Proxy, []error) {
	return compile(cfg, px, env, opt)
}

// NeedsContent reports whether px has tcp-request content rules or
// switching rules that read request data: the handler must then buffer
// request data for up to InspectDelay before choosing the backend, calling
// TCPContent after each read until it returns something other than Wait.
func (p *Proxy) NeedsContent() bool { return p.needsContent() }

// NeedsResponse reports whether px has tcp-response content rules.
func (p *Proxy) NeedsResponse() bool { return p.needsResponse() }

// TCPConnection runs the "tcp-request connection" rules (right after
// accept; no content fetch may be used there).
func (p *Proxy) TCPConnection(s *Stream) Verdict { return p.runConnection(s) }

// TCPSession runs the "tcp-request session" rules (after the PROXY header).
func (p *Proxy) TCPSession(s *Stream) Verdict { return p.runSession(s) }

// TCPContent runs the "tcp-request content" rules from where an earlier
// call returned Wait. A frontend's rules run first, then, once the backend
// is chosen and if it is another proxy, the backend's. It returns Wait
// only while s.ReqFinal is false and InspectDelay is not zero; rules
// before the waiting one are not run again. Rules that only read
// layer-4 data never wait.
func (p *Proxy) TCPContent(s *Stream) Verdict { return p.runContent(s) }

// TCPResponse runs the backend's "tcp-response content" rules, waiting
// (Wait) as TCPContent does, on s.ResFinal and ResponseInspectDelay. Close
// ends the rules: the handler closes the server side.
func (p *Proxy) TCPResponse(s *Stream) Verdict { return p.runResponse(s) }

// UseBackend evaluates the switching rules in order and returns the
// backend of the first that matches: a static one, or a dynamic one looked
// up by the name its format produced. ok is false when no rule matched,
// or when the first matching rule is dynamic and names no backend (HAProxy
// then stops there and uses the default backend): use default_backend.
// be is nil with ok true only when Compile had no Env. As in HAProxy's
// process_switching_rules, conditions see the data buffered so far as
// final, so v is always Continue: run TCPContent first to wait for data.
func (p *Proxy) UseBackend(s *Stream) (be Backend, ok bool, v Verdict) {
	return p.useBackend(s)
}

// UseServer evaluates a backend's "use-server" rules and returns the
// server name of the first that matches and whose server is up, or may be
// used down ("option persist" or a matching "force-persist"); "" for none.
// A dynamic name that is not a server of the backend ends the evaluation
// with "". force reports whether the first matching force-persist or
// ignore-persist rule was a force-persist one. Server states come from
// s.Backend, else from the proxy's own backend through Env.
func (p *Proxy) UseServer(s *Stream) (server string, force bool) { return p.useServer(s) }

// Reset clears s for a new connection, keeping its buffers (Req and Res
// are truncated to zero length) and its variables' storage. The
// counters it tracks are released.
func (s *Stream) Reset() { s.reset() }

// Idle reports whether s, between two HTTP transactions (after EndTxn),
// holds nothing the connection's next transaction needs but what a new
// stream starts with: no tracked counters, no variable set (a session's),
// no pending stick store, no PROXY header expected. The caller compares
// Src and Dst with the connection's own addresses (set-src, set-dst).
func (s *Stream) Idle() bool {
	st := &s.st
	if st.trk.any || st.stk.n > 0 || s.ExpectProxy {
		return false
	}
	for i := range st.vars {
		if st.vars[i].set {
			return false
		}
	}
	return true
}
