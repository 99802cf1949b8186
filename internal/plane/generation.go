package plane

import (
	"lb/internal/cache"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"lb/internal/config"
	"lb/internal/proxy"
	"lb/internal/rules"
	"lb/internal/tlsconf"
)

// Generation is one configuration running: its backends and their health checks, and its
// frontends serving their listeners. It lives from Start until Stop; the process that runs
// it drains it or closes it first.
type Generation struct {
	// cacheOnce makes cacheSet, the "cache" sections' objects (see caches).
	cacheOnce      sync.Once
	cacheSet       map[string]*cache.Cache
	log            *slog.Logger
	onServerChange func() // Options.OnServerChange; nil: none
	onAdminChange  func() // Options.OnAdminChange; nil: none
	// frontendPaused is Options.FrontendPaused; nil: never.
	frontendPaused func(string) bool
	ticketKeys     [][32]byte                      // Options.TicketKeys
	processInfo    func(Control) map[string]uint64 // Options.ProcessInfo; nil: none
	sessCache      *tlsconf.SessionCache           // made by the first bind line that needs it
	// ropt are the rules' compile options: one store of proc.* variables for
	// every rule and sample of the generation.
	ropt    rules.Options
	logs    *Logs // the frontends' log targets
	ownLogs bool  // logs was opened by Start: Stop closes it

	eng      *proxy.Engine
	backends map[string]*proxy.Backend
	order    []*proxy.Backend // the backends in the configuration's order
	// ptypes are the backends' proxy types in messages ("backend", or "proxy" for a
	// listen section).
	ptypes map[string]string
	// mu guards serving.
	mu      sync.Mutex
	serving []*proxy.Binding
	// checks is set once the checks start, while the rates sampler may read it.
	checks atomic.Pointer[checkSet]
	// resolvers asks the servers' names at run time (nil: none does).
	resolvers *resolverSet
	// nsCounters are the nameservers' counters by resolvers section, in the
	// order of their nameservers (set before the generation serves).
	nsCounters map[string][]*nsCounters
	// maxconn is the process's maxconn the generation started with, and fullconn
	// the backends' fullconn by name: "show stat"'s slim of frontends that set
	// none, and of backends.
	maxconn  int
	fullconn map[string]int
	// failedResolutions counts the resolutions that ended in an error ("show
	// info"'s FailedResolutions).
	failedResolutions atomic.Uint64

	// cfg is the configuration the generation runs.
	cfg *config.Config
	// admMu guards the srvRTs (serverstate.go): the two halves of each
	// server's state. rts are in the configuration's order, then the
	// servers "add server" added; rtByName has one map per backend, fixed
	// once Start made it, whose contents "add server" and "del server"
	// change (addsrv.go).
	admMu    sync.Mutex
	rts      []*srvRT
	rtByName map[string]map[string]*srvRT
	rtBySrv  map[*proxy.Server]*srvRT

	// warned holds the keys of the warnings given once (see warnOnce).
	warned sync.Map
}

// Options are what Start needs besides the configuration and the listeners.
type Options struct {
	// Logger receives the generation's messages: server state changes in HAProxy's
	// words, what the configuration asks that lb does not do yet. Nil means
	// slog.Default().
	Logger *slog.Logger
	// Maxconn is the process-wide limit of concurrent sessions (-n, or what the process
	// derived from its limit of open files). Zero means the configuration's global maxconn.
	Maxconn int
	// ProxyMaxconn is the maxconn of a frontend whose configuration sets none (-N).
	// Zero means no such default.
	ProxyMaxconn int
	// OnServerChange is called after a health check changed a server's state and the
	// change was logged, from the checker's goroutine: it must not block. Nil means
	// nothing is called.
	OnServerChange func()
	// OnAdminChange is called after an operator changed a server's
	// administrative state or weight (SetServerAdmin, SetServerWeight), from
	// the caller's goroutine: it must not block. The process hands
	// CarriedState to its successors; this is when it re-reads it. Nil
	// means nothing is called.
	OnAdminChange func()
	// FrontendPaused reports whether a frontend's listeners are paused
	// (SIGTTOU, "disable frontend"): its statistics say PAUSED. Nil means
	// never.
	FrontendPaused func(name string) bool
	// CarriedState is the server state the previous process handed over
	// (its CarriedState), applied at Start after the server state files;
	// CarriedFrom says where it came from, for the log. Nil: none.
	CarriedState []byte
	CarriedFrom  string
	// Logs opens the log targets of the frontends' "log" lines. The caller closes it
	// once nothing logs any more, after Stop: lb does at exit, since closing flushes
	// what stdout targets queued. Nil means the generation opens its own, which Stop
	// closes; a session still finishing after CloseAll may then lose its log line.
	Logs *Logs
	// TicketKeys encrypt the TLS session tickets of bind lines with no
	// "tls-ticket-keys" of their own, the first one encrypting, all of them
	// decrypting: the process keeps them across reloads and restarts. Nil
	// means crypto/tls's own keys, rotated, lost at the next reload.
	TicketKeys [][32]byte
	// NoSplice is -dS: data is copied through buffers, never spliced (as
	// the global "nosplice").
	NoSplice bool
	// ProcessInfo returns the numeric fields of "show info" by name, for
	// the exporter's process families, rt being this generation. Nil: the
	// exporter shows the few the generation knows itself.
	ProcessInfo func(rt Control) map[string]uint64
}

// Listener is one listening socket a generation serves and the bind line it comes from.
type Listener struct {
	// Frontend is the frontend (or listen section) of the bind line. A Listener of a
	// frontend that is not in the configuration, or is disabled, is not served.
	Frontend *config.Proxy
	// Bind is the bind line: its name and accept-proxy apply to the connections.
	Bind *config.Bind
	// L accepts the connections.
	L net.Listener
}
