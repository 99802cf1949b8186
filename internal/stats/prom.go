package stats

import (
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HAProxy 2.6's Prometheus exporter ("http-request use-service
// prometheus-exporter"): the same snapshot as the page, in the Prometheus
// text format, with HAProxy's metric families (names, types, help texts,
// labels) in its order: the process's, the frontends', the backends', then
// the servers'. Each family lists every object it applies to before the
// next family starts, and a family with no object to show is not printed,
// as HAProxy does.
//
// A family lb has no value for is left out rather than printed with a
// made-up value (promLeftOut lists them, by reason). A value lb does not
// have for one object (a server without maxconn) is NaN, as HAProxy prints
// an empty statistic.

// PromContentType is the Content-Type of the exporter's responses.
const PromContentType = "text/plain; version=0.0.4"

// PromScope selects the families to print: "scope" query parameters.
type PromScope uint8

const (
	PromGlobal PromScope = 1 << iota
	PromFrontend
	PromBackend
	PromServer
	// PromListener and PromStickTable are accepted as HAProxy accepts
	// them; lb has no metric of theirs (HAProxy prints listeners' only
	// with "option socket-stats", which lb refuses, and lb has no stick
	// tables).
	PromListener
	PromStickTable

	PromAll = PromGlobal | PromFrontend | PromBackend | PromServer | PromListener | PromStickTable
)

// PromOptions are what the request's query string asks for.
type PromOptions struct {
	Scope PromScope
	// NoMaint ("no-maint") leaves out the servers in maintenance.
	NoMaint bool
}

// ParsePromQuery reads the query string of a request target as HAProxy's
// promex_parse_uri does: every "scope" parameter adds its scope ("*" all,
// empty none: it clears those before it), none means all; "no-maint"
// leaves out the servers in maintenance; other parameters are ignored.
// ok is false for a "scope" without a value or with an unknown one, and
// for a parameter that does not decode: HAProxy answers 400 then.
func ParsePromQuery(target string) (o PromOptions, ok bool) {
	scoped := false
	i := strings.IndexByte(target, '?')
	if i < 0 {
		return PromOptions{Scope: PromAll}, true
	}
	q := target[i+1:]
	if j := strings.IndexByte(q, '#'); j >= 0 {
		q = q[:j]
	}
	for param := range strings.SplitSeq(q, "&") {
		if param == "" {
			continue
		}
		k, v, hasV := strings.Cut(param, "=")
		if hasV && strings.IndexByte(v, '=') >= 0 {
			return o, false
		}
		key, err := url.QueryUnescape(k)
		if err != nil {
			return o, false
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return o, false
		}
		switch key {
		case "scope":
			scoped = true
			if !hasV {
				return o, false
			}
			switch {
			case val == "":
				o.Scope = 0
			case val[0] == '*':
				o.Scope |= PromAll
			case val == "global":
				o.Scope |= PromGlobal
			case val == "frontend":
				o.Scope |= PromFrontend
			case val == "backend":
				o.Scope |= PromBackend
			case val == "server":
				o.Scope |= PromServer
			case val == "listener":
				o.Scope |= PromListener
			case val == "sticktable":
				o.Scope |= PromStickTable
			default:
				return o, false
			}
		case "no-maint":
			o.NoMaint = true
		}
	}
	if !scoped {
		o.Scope = PromAll
	}
	return o, true
}

// PromInfo is what the process families show besides the snapshot.
type PromInfo struct {
	// Version is lb's version (build_info's "version" label).
	Version string
	// Threads is the number of event loops (global nbthread).
	Threads int
	// Stopping: the process is stopping (soft-stop).
	Stopping bool
	// Start is when the process started.
	Start time.Time
	// Fields are the numeric fields of "show info" by name, which the
	// process families show as HAProxy's exporter does; a family whose
	// field is not there (the zlib ones) is NaN. Nil: only the families
	// the fields above and the snapshot give are shown.
	Fields map[string]uint64
}

// promInfoField is the "show info" field each process family shows, as
// HAProxy's exporter fills them from the same fields (stats_fill_info).
var promInfoField = map[string]string{
	"nbthread":                      "Nbthread",
	"nbproc":                        "Nbproc",
	"relative_process_id":           "Process_num",
	"uptime_seconds":                "Uptime_sec",
	"pool_failures_total":           "PoolFailed",
	"max_fds":                       "Ulimit-n",
	"max_sockets":                   "Maxsock",
	"max_connections":               "Maxconn",
	"hard_max_connections":          "Hard_maxconn",
	"current_connections":           "CurrConns",
	"connections_total":             "CumConns",
	"requests_total":                "CumReq",
	"max_ssl_connections":           "MaxSslConns",
	"current_ssl_connections":       "CurrSslConns",
	"ssl_connections_total":         "CumSslConns",
	"max_pipes":                     "Maxpipes",
	"pipes_used_total":              "PipesUsed",
	"pipes_free_total":              "PipesFree",
	"current_connection_rate":       "ConnRate",
	"limit_connection_rate":         "ConnRateLimit",
	"max_connection_rate":           "MaxConnRate",
	"current_session_rate":          "SessRate",
	"limit_session_rate":            "SessRateLimit",
	"max_session_rate":              "MaxSessRate",
	"current_ssl_rate":              "SslRate",
	"limit_ssl_rate":                "SslRateLimit",
	"max_ssl_rate":                  "MaxSslRate",
	"current_frontend_ssl_key_rate": "SslFrontendKeyRate",
	"max_frontend_ssl_key_rate":     "SslFrontendMaxKeyRate",
	"frontend_ssl_reuse":            "SslFrontendSessionReuse_pct",
	"current_backend_ssl_key_rate":  "SslBackendKeyRate",
	"max_backend_ssl_key_rate":      "SslBackendMaxKeyRate",
	"ssl_cache_lookups_total":       "SslCacheLookups",
	"ssl_cache_misses_total":        "SslCacheMisses",
	"http_comp_bytes_in_total":      "CompressBpsIn",
	"http_comp_bytes_out_total":     "CompressBpsOut",
	"limit_http_comp":               "CompressBpsRateLim",
	"current_zlib_memory":           "ZlibMemUsage",
	"max_zlib_memory":               "MaxZlibMemUsage",
	"current_tasks":                 "Tasks",
	"current_run_queue":             "Run_queue",
	"idle_time_percent":             "Idle_pct",
	"stopping":                      "Stopping",
	"jobs":                          "Jobs",
	"unstoppable_jobs":              "Unstoppable Jobs",
	"listeners":                     "Listeners",
	"active_peers":                  "ActivePeers",
	"connected_peers":               "ConnectedPeers",
	"dropped_logs_total":            "DroppedLogs",
	"busy_polling_enabled":          "BusyPolling",
	"failed_resolutions":            "FailedResolutions",
	"bytes_out_total":               "TotalBytesOut",
	"spliced_bytes_out_total":       "TotalSplicdedBytesOut",
	"bytes_out_rate":                "BytesOutRate",
	"recv_logs_total":               "CumRecvLogs",
	"build_info":                    "Build info",
	"max_memory_bytes":              "Memmax_bytes",
	"pool_allocated_bytes":          "PoolAlloc_bytes",
	"pool_used_bytes":               "PoolUsed_bytes",
	"start_time_seconds":            "Start_time_sec",
}

// PromProcessFields are the names of the "show info" fields the process
// families show, in the families' order.
func PromProcessFields() []string {
	var out []string
	for _, f := range promProcess {
		if n := promInfoField[f.name]; !promLeft["haproxy_process_"+f.name] && f.name != "build_info" {
			out = append(out, n)
		}
	}
	return out
}

// promType is a family's TYPE.
type promType string

const (
	gauge   promType = "gauge"
	counter promType = "counter"
)

// promFamily is one metric family; name lacks the "haproxy_<section>_"
// prefix.
type promFamily struct {
	name string
	typ  promType
	help string
}

// The families lb prints, per section, in HAProxy's order.
var (
	promProcess = []promFamily{
		{"nbthread", gauge, "Number of started threads (global.nbthread)"},
		{"nbproc", gauge, "Number of started worker processes (historical, always 1)"},
		{"relative_process_id", gauge, "Relative worker process number (1)"},
		{"uptime_seconds", gauge, "How long ago this worker process was started (seconds)"},
		{"pool_failures_total", counter, "Number of failed pool allocations since this worker was started"},
		{"max_fds", gauge, "Hard limit on the number of per-process file descriptors"},
		{"max_sockets", gauge, "Hard limit on the number of per-process sockets"},
		{"max_connections", gauge, "Hard limit on the number of per-process connections (configured or imposed by Ulimit-n)"},
		{"hard_max_connections", gauge, "Hard limit on the number of per-process connections (imposed by Memmax_MB or Ulimit-n)"},
		{"current_connections", gauge, "Current number of connections on this worker process"},
		{"connections_total", counter, "Total number of connections on this worker process since started"},
		{"requests_total", counter, "Total number of requests on this worker process since started"},
		{"max_ssl_connections", gauge, "Hard limit on the number of per-process SSL endpoints (front+back), 0=unlimited"},
		{"current_ssl_connections", gauge, "Current number of SSL endpoints on this worker process (front+back)"},
		{"ssl_connections_total", counter, "Total number of SSL endpoints on this worker process since started (front+back)"},
		{"max_pipes", gauge, "Hard limit on the number of pipes for splicing, 0=unlimited"},
		{"pipes_used_total", counter, "Current number of pipes in use in this worker process"},
		{"pipes_free_total", counter, "Current number of allocated and available pipes in this worker process"},
		{"current_connection_rate", gauge, "Number of front connections created on this worker process over the last second"},
		{"limit_connection_rate", gauge, "Hard limit for ConnRate (global.maxconnrate)"},
		{"max_connection_rate", gauge, "Highest ConnRate reached on this worker process since started (in connections per second)"},
		{"current_session_rate", gauge, "Number of sessions created on this worker process over the last second"},
		{"limit_session_rate", gauge, "Hard limit for SessRate (global.maxsessrate)"},
		{"max_session_rate", gauge, "Highest SessRate reached on this worker process since started (in sessions per second)"},
		{"current_ssl_rate", gauge, "Number of SSL connections created on this worker process over the last second"},
		{"limit_ssl_rate", gauge, "Hard limit for SslRate (global.maxsslrate)"},
		{"max_ssl_rate", gauge, "Highest SslRate reached on this worker process since started (in connections per second)"},
		{"current_frontend_ssl_key_rate", gauge, "Number of SSL keys created on frontends in this worker process over the last second"},
		{"max_frontend_ssl_key_rate", gauge, "Highest SslFrontendKeyRate reached on this worker process since started (in SSL keys per second)"},
		{"frontend_ssl_reuse", gauge, "Percent of frontend SSL connections which did not require a new key"},
		{"current_backend_ssl_key_rate", gauge, "Number of SSL keys created on backends in this worker process over the last second"},
		{"max_backend_ssl_key_rate", gauge, "Highest SslBackendKeyRate reached on this worker process since started (in SSL keys per second)"},
		{"ssl_cache_lookups_total", counter, "Total number of SSL session ID lookups in the SSL session cache on this worker since started"},
		{"ssl_cache_misses_total", counter, "Total number of SSL session ID lookups that didn't find a session in the SSL session cache on this worker since started"},
		{"http_comp_bytes_in_total", counter, "Number of bytes submitted to the HTTP compressor in this worker process over the last second"},
		{"http_comp_bytes_out_total", counter, "Number of bytes emitted by the HTTP compressor in this worker process over the last second"},
		{"limit_http_comp", gauge, "Limit of CompressBpsOut beyond which HTTP compression is automatically disabled"},
		{"current_zlib_memory", gauge, "Amount of memory currently used by HTTP compression on the current worker process (in bytes)"},
		{"max_zlib_memory", gauge, "Limit on the amount of memory used by HTTP compression above which it is automatically disabled (in bytes, see global.maxzlibmem)"},
		{"current_tasks", gauge, "Total number of tasks in the current worker process (active + sleeping)"},
		{"current_run_queue", gauge, "Total number of active tasks+tasklets in the current worker process"},
		{"idle_time_percent", gauge, "Percentage of last second spent waiting in the current worker thread"},
		{"stopping", gauge, "1 if the worker process is currently stopping, otherwise zero"},
		{"jobs", gauge, "Current number of active jobs on the current worker process (frontend connections, master connections, listeners)"},
		{"unstoppable_jobs", gauge, "Current number of unstoppable jobs on the current worker process (master connections)"},
		{"listeners", gauge, "Current number of active listeners on the current worker process"},
		{"active_peers", gauge, "Current number of verified active peers connections on the current worker process"},
		{"connected_peers", gauge, "Current number of peers having passed the connection step on the current worker process"},
		{"dropped_logs_total", counter, "Total number of dropped logs for current worker process since started"},
		{"busy_polling_enabled", gauge, "1 if busy-polling is currently in use on the worker process, otherwise zero (config.busy-polling)"},
		{"failed_resolutions", counter, "Total number of failed DNS resolutions in current worker process since started"},
		{"bytes_out_total", counter, "Total number of bytes emitted by current worker process since started"},
		{"spliced_bytes_out_total", counter, "Total number of bytes emitted by current worker process through a kernel pipe since started"},
		{"bytes_out_rate", gauge, "Number of bytes emitted by current worker process over the last second"},
		{"recv_logs_total", counter, "Total number of log messages received by log-forwarding listeners on this worker process since started"},
		{"build_info", gauge, "Build info"},
		{"max_memory_bytes", gauge, "Worker process's hard limit on memory usage in byes (-m on command line)"},
		{"pool_allocated_bytes", gauge, "Amount of memory allocated in pools (in bytes)"},
		{"pool_used_bytes", gauge, "Amount of pool memory currently used (in bytes)"},
		{"start_time_seconds", gauge, "Start time in seconds"},
	}
	promFrontend = []promFamily{
		{"current_sessions", gauge, "Number of current sessions on the frontend, backend or server"},
		{"max_sessions", gauge, "Highest value of current sessions encountered since process started"},
		{"limit_sessions", gauge, "Frontend/listener/server's maxconn, backend's fullconn"},
		{"sessions_total", counter, "Total number of sessions since process started"},
		{"bytes_in_total", counter, "Total number of request bytes since process started"},
		{"bytes_out_total", counter, "Total number of response bytes since process started"},
		{"requests_denied_total", counter, "Total number of denied requests since process started"},
		{"responses_denied_total", counter, "Total number of denied responses since process started"},
		{"request_errors_total", counter, "Total number of invalid requests since process started"},
		{"status", gauge, "Current status of the service, per state label value."},
		{"limit_session_rate", gauge, "Limit on the number of sessions accepted in a second (frontend only, 'rate-limit sessions' setting)"},
		{"max_session_rate", gauge, "Highest value of sessions per second observed since the worker process started"},
		{"http_responses_total", counter, "Total number of HTTP responses with status 100-199 returned by this object since the worker process started"},
		{"http_requests_rate_max", gauge, "Highest value of http requests observed since the worker process started"},
		{"http_requests_total", counter, "Total number of HTTP requests processed by this object since the worker process started"},
		{"http_comp_bytes_in_total", counter, "Total number of bytes submitted to the HTTP compressor for this object since the worker process started"},
		{"http_comp_bytes_out_total", counter, "Total number of bytes emitted by the HTTP compressor for this object since the worker process started"},
		{"http_comp_bytes_bypassed_total", counter, "Total number of bytes that bypassed HTTP compression for this object since the worker process started (CPU/memory/bandwidth limitation)"},
		{"http_comp_responses_total", counter, "Total number of HTTP responses that were compressed for this object since the worker process started"},
		{"connections_rate_max", gauge, "Highest value of connections per second observed since the worker process started"},
		{"connections_total", counter, "Total number of new connections accepted on this frontend since the worker process started"},
		{"intercepted_requests_total", counter, "Total number of HTTP requests intercepted on the frontend (redirects/stats/services) since the worker process started"},
		{"denied_connections_total", counter, "Total number of incoming connections blocked on a listener/frontend by a tcp-request connection rule since the worker process started"},
		{"denied_sessions_total", counter, "Total number of incoming sessions blocked on a listener/frontend by a tcp-request connection rule since the worker process started"},
		{"failed_header_rewriting_total", counter, "Total number of failed HTTP header rewrites since the worker process started"},
		{"http_cache_lookups_total", counter, "Total number of HTTP requests looked up in the cache on this frontend/backend since the worker process started"},
		{"http_cache_hits_total", counter, "Total number of HTTP requests not found in the cache on this frontend/backend since the worker process started"},
		{"internal_errors_total", counter, "Total number of internal errors since process started"},
	}
	promBackend = []promFamily{
		{"current_queue", gauge, "Number of current queued connections"},
		{"max_queue", gauge, "Highest value of queued connections encountered since process started"},
		{"current_sessions", gauge, "Number of current sessions on the frontend, backend or server"},
		{"max_sessions", gauge, "Highest value of current sessions encountered since process started"},
		{"limit_sessions", gauge, "Frontend/listener/server's maxconn, backend's fullconn"},
		{"sessions_total", counter, "Total number of sessions since process started"},
		{"bytes_in_total", counter, "Total number of request bytes since process started"},
		{"bytes_out_total", counter, "Total number of response bytes since process started"},
		{"requests_denied_total", counter, "Total number of denied requests since process started"},
		{"responses_denied_total", counter, "Total number of denied responses since process started"},
		{"connection_errors_total", counter, "Total number of failed connections to server since the worker process started"},
		{"response_errors_total", counter, "Total number of invalid responses since the worker process started"},
		{"retry_warnings_total", counter, "Total number of server connection retries since the worker process started"},
		{"redispatch_warnings_total", counter, "Total number of server redispatches due to connection failures since the worker process started"},
		{"status", gauge, "Current status of the service, per state label value."},
		{"weight", gauge, "Server's effective weight, or sum of active servers' effective weights for a backend"},
		{"active_servers", gauge, "Total number of active UP servers with a non-zero weight"},
		{"backup_servers", gauge, "Total number of backup UP servers with a non-zero weight"},
		{"check_up_down_total", counter, "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started"},
		{"check_last_change_seconds", gauge, "How long ago the last server state changed, in seconds"},
		{"downtime_seconds_total", counter, "Total time spent in DOWN state, for server or backend"},
		{"loadbalanced_total", counter, "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)"},
		{"max_session_rate", gauge, "Highest value of sessions per second observed since the worker process started"},
		{"http_responses_total", counter, "Total number of HTTP responses with status 100-199 returned by this object since the worker process started"},
		{"http_requests_total", counter, "Total number of HTTP requests processed by this object since the worker process started"},
		{"client_aborts_total", counter, "Total number of requests or connections aborted by the client since the worker process started"},
		{"server_aborts_total", counter, "Total number of requests or connections aborted by the server since the worker process started"},
		{"http_comp_bytes_in_total", counter, "Total number of bytes submitted to the HTTP compressor for this object since the worker process started"},
		{"http_comp_bytes_out_total", counter, "Total number of bytes emitted by the HTTP compressor for this object since the worker process started"},
		{"http_comp_bytes_bypassed_total", counter, "Total number of bytes that bypassed HTTP compression for this object since the worker process started (CPU/memory/bandwidth limitation)"},
		{"http_comp_responses_total", counter, "Total number of HTTP responses that were compressed for this object since the worker process started"},
		{"last_session_seconds", gauge, "How long ago some traffic was seen on this object on this worker process, in seconds"},
		{"queue_time_average_seconds", gauge, "Avg. queue time for last 1024 successful connections."},
		{"connect_time_average_seconds", gauge, "Avg. connect time for last 1024 successful connections."},
		{"response_time_average_seconds", gauge, "Avg. response time for last 1024 successful connections."},
		{"total_time_average_seconds", gauge, "Avg. total time for last 1024 successful connections."},
		{"failed_header_rewriting_total", counter, "Total number of failed HTTP header rewrites since the worker process started"},
		{"connection_attempts_total", counter, "Total number of outgoing connection attempts on this backend/server since the worker process started"},
		{"connection_reuses_total", counter, "Total number of reused connection on this backend/server since the worker process started"},
		{"http_cache_lookups_total", counter, "Total number of HTTP requests looked up in the cache on this frontend/backend since the worker process started"},
		{"http_cache_hits_total", counter, "Total number of HTTP requests not found in the cache on this frontend/backend since the worker process started"},
		{"max_queue_time_seconds", gauge, "Maximum observed time spent in the queue"},
		{"max_connect_time_seconds", gauge, "Maximum observed time spent waiting for a connection to complete"},
		{"max_response_time_seconds", gauge, "Maximum observed time spent waiting for a server response"},
		{"max_total_time_seconds", gauge, "Maximum observed total request+response time (request+queue+connect+response+processing)"},
		{"internal_errors_total", counter, "Total number of internal errors since process started"},
		{"uweight", gauge, "Server's user weight, or sum of active servers' user weights for a backend"},
		{"agg_server_status", gauge, "Backend's aggregated gauge of servers' status"},
		{"agg_server_check_status", gauge, "Backend's aggregated gauge of servers' state check status"},
		{"agg_check_status", gauge, "Backend's aggregated gauge of servers' state check status"},
	}
	promServer = []promFamily{
		{"current_queue", gauge, "Number of current queued connections"},
		{"max_queue", gauge, "Highest value of queued connections encountered since process started"},
		{"current_sessions", gauge, "Number of current sessions on the frontend, backend or server"},
		{"max_sessions", gauge, "Highest value of current sessions encountered since process started"},
		{"limit_sessions", gauge, "Frontend/listener/server's maxconn, backend's fullconn"},
		{"sessions_total", counter, "Total number of sessions since process started"},
		{"bytes_in_total", counter, "Total number of request bytes since process started"},
		{"bytes_out_total", counter, "Total number of response bytes since process started"},
		{"responses_denied_total", counter, "Total number of denied responses since process started"},
		{"connection_errors_total", counter, "Total number of failed connections to server since the worker process started"},
		{"response_errors_total", counter, "Total number of invalid responses since the worker process started"},
		{"retry_warnings_total", counter, "Total number of server connection retries since the worker process started"},
		{"redispatch_warnings_total", counter, "Total number of server redispatches due to connection failures since the worker process started"},
		{"status", gauge, "Current status of the service, per state label value."},
		{"weight", gauge, "Server's effective weight, or sum of active servers' effective weights for a backend"},
		{"check_failures_total", counter, "Total number of failed individual health checks per server/backend, since the worker process started"},
		{"check_up_down_total", counter, "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started"},
		{"check_last_change_seconds", gauge, "How long ago the last server state changed, in seconds"},
		{"downtime_seconds_total", counter, "Total time spent in DOWN state, for server or backend"},
		{"queue_limit", gauge, "Limit on the number of connections in queue, for servers only (maxqueue argument)"},
		{"current_throttle", gauge, "Throttling ratio applied to a server's maxconn and weight during the slowstart period (0 to 100%)"},
		{"loadbalanced_total", counter, "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)"},
		{"max_session_rate", gauge, "Highest value of sessions per second observed since the worker process started"},
		{"check_status", gauge, "Status of last health check, per state label value."},
		{"check_code", gauge, "layer5-7 code, if available of the last health check."},
		{"check_duration_seconds", gauge, "Total duration of the latest server health check, in seconds."},
		{"http_responses_total", counter, "Total number of HTTP responses with status 100-199 returned by this object since the worker process started"},
		{"client_aborts_total", counter, "Total number of requests or connections aborted by the client since the worker process started"},
		{"server_aborts_total", counter, "Total number of requests or connections aborted by the server since the worker process started"},
		{"last_session_seconds", gauge, "How long ago some traffic was seen on this object on this worker process, in seconds"},
		{"queue_time_average_seconds", gauge, "Avg. queue time for last 1024 successful connections."},
		{"connect_time_average_seconds", gauge, "Avg. connect time for last 1024 successful connections."},
		{"response_time_average_seconds", gauge, "Avg. response time for last 1024 successful connections."},
		{"total_time_average_seconds", gauge, "Avg. total time for last 1024 successful connections."},
		{"failed_header_rewriting_total", counter, "Total number of failed HTTP header rewrites since the worker process started"},
		{"connection_attempts_total", counter, "Total number of outgoing connection attempts on this backend/server since the worker process started"},
		{"connection_reuses_total", counter, "Total number of reused connection on this backend/server since the worker process started"},
		{"idle_connections_current", gauge, "Current number of idle connections available for reuse on this server"},
		{"idle_connections_limit", gauge, "Limit on the number of available idle connections on this server (server 'pool_max_conn' directive)"},
		{"max_queue_time_seconds", gauge, "Maximum observed time spent in the queue"},
		{"max_connect_time_seconds", gauge, "Maximum observed time spent waiting for a connection to complete"},
		{"max_response_time_seconds", gauge, "Maximum observed time spent waiting for a server response"},
		{"max_total_time_seconds", gauge, "Maximum observed total request+response time (request+queue+connect+response+processing)"},
		{"internal_errors_total", counter, "Total number of internal errors since process started"},
		{"unsafe_idle_connections_current", gauge, "Current number of unsafe idle connections"},
		{"safe_idle_connections_current", gauge, "Current number of safe idle connections"},
		{"used_connections_current", gauge, "Current number of connections in use"},
		{"need_connections_current", gauge, "Estimated needed number of connections"},
		{"uweight", gauge, "Server's user weight, or sum of active servers' user weights for a backend"},
	}
)

// promLeftOut are the families HAProxy 2.6 prints (with a configuration
// without stick tables, listeners' statistics or Lua) that lb does not,
// as it keeps no value for them.
var promLeftOut = []string{
	// Process: memory pools and pipes (lb keeps none of its own: splicing
	// takes its pipes from the runtime's pool), SSL connections open and
	// those to servers, the SSL session cache's lookups, tasks and run
	// queue, spliced bytes (counted with the others).
	"haproxy_process_pool_failures_total", "haproxy_process_current_ssl_connections",
	"haproxy_process_ssl_connections_total", "haproxy_process_max_pipes", "haproxy_process_pipes_used_total",
	"haproxy_process_pipes_free_total", "haproxy_process_current_backend_ssl_key_rate",
	"haproxy_process_max_backend_ssl_key_rate", "haproxy_process_ssl_cache_lookups_total",
	"haproxy_process_ssl_cache_misses_total", "haproxy_process_current_tasks", "haproxy_process_current_run_queue",
	"haproxy_process_spliced_bytes_out_total", "haproxy_process_pool_allocated_bytes",
	"haproxy_process_pool_used_bytes",
}

// promLeft is promLeftOut as a set.
var promLeft = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range promLeftOut {
		m[n] = true
	}
	return m
}()

// The "state" label values, in HAProxy's order.
var (
	promProxyStates  = []string{"DOWN", "UP"}
	promServerStates = []string{"DOWN", "UP", "MAINT", "DRAIN", "NOLB"}
	// promCheckStates are the check statuses of a finished check.
	promCheckStates = []string{"HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP",
		"L7TOUT", "L7RSP", "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK"}
)

// promServerState is the index in promServerStates of s's state
// (promex_srv_status).
func promServerState(s *Server) int {
	switch s.State {
	case Up:
		return 1
	case Maint:
		return 2
	case Drain:
		return 3
	case NoLB:
		return 4
	}
	return 0
}

// promWriter writes families: a family's HELP and TYPE lines go before its
// first sample only, so that a family without samples is not printed.
type promWriter struct {
	b      strings.Builder
	prefix string
	fam    *promFamily
	headed bool
}

func (w *promWriter) family(prefix string, f *promFamily) {
	w.prefix, w.fam, w.headed = prefix, f, false
}

// sample writes a sample of the current family; labels are name, value
// pairs. A whole number is written as an integer, as HAProxy writes its
// integer fields.
func (w *promWriter) sample(v float64, labels ...string) { w.write(v, false, labels) }

// sampleFloat writes a sample that HAProxy holds as a float (its times in
// seconds): always with six decimals, "0.000000" rather than "0".
func (w *promWriter) sampleFloat(v float64, labels ...string) { w.write(v, true, labels) }

func (w *promWriter) write(v float64, float bool, labels []string) {
	name := w.prefix + w.fam.name
	if !w.headed {
		w.b.WriteString("# HELP " + name + " " + w.fam.help + "\n")
		w.b.WriteString("# TYPE " + name + " " + string(w.fam.typ) + "\n")
		w.headed = true
	}
	w.b.WriteString(name)
	if len(labels) > 0 {
		w.b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				w.b.WriteByte(',')
			}
			w.b.WriteString(labels[i] + `="` + promEscape(labels[i+1]) + `"`)
		}
		w.b.WriteByte('}')
	}
	w.b.WriteByte(' ')
	switch {
	case math.IsNaN(v):
		w.b.WriteString("NaN")
	case !float && v == math.Trunc(v) && math.Abs(v) < 1e15:
		w.b.WriteString(strconv.FormatInt(int64(v), 10))
	default:
		w.b.WriteString(strconv.FormatFloat(v, 'f', 6, 64))
	}
	w.b.WriteByte('\n')
}

// promEscape escapes a label value as the text format wants.
func promEscape(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// orNaN is n, or NaN when n is 0 (no limit: HAProxy's empty field).
func orNaN(n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	return float64(n)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Prometheus renders the exporter's body for s.
func Prometheus(s *Snapshot, info *PromInfo, o *PromOptions) []byte {
	w := &promWriter{}
	if o.Scope&PromGlobal != 0 {
		for i := range promProcess {
			f := &promProcess[i]
			if promLeft["haproxy_process_"+f.name] {
				continue
			}
			w.family("haproxy_process_", f)
			if info.Fields != nil && f.name != "build_info" {
				if v, ok := info.Fields[promInfoField[f.name]]; ok {
					w.sample(float64(v))
				} else {
					w.sample(math.NaN())
				}
				continue
			}
			switch f.name {
			case "nbthread":
				w.sample(float64(info.Threads))
			case "nbproc", "relative_process_id":
				w.sample(1)
			case "uptime_seconds":
				w.sample(float64(int64(s.Uptime / time.Second)))
			case "max_connections":
				w.sample(orNaN(s.Maxconn))
			case "current_connections":
				w.sample(float64(s.Sessions))
			case "current_connection_rate":
				w.sample(float64(s.Rates.Conn.Cur))
			case "limit_connection_rate":
				w.sample(float64(s.Rates.ConnLimit))
			case "max_connection_rate":
				w.sample(float64(s.Rates.Conn.Max))
			case "current_session_rate":
				w.sample(float64(s.Rates.Sess.Cur))
			case "limit_session_rate":
				w.sample(float64(s.Rates.SessLimit))
			case "max_session_rate":
				w.sample(float64(s.Rates.Sess.Max))
			case "current_ssl_rate":
				w.sample(float64(s.Rates.SSL.Cur))
			case "limit_ssl_rate":
				w.sample(float64(s.Rates.SSLLimit))
			case "max_ssl_rate":
				w.sample(float64(s.Rates.SSL.Max))
			case "current_frontend_ssl_key_rate":
				w.sample(float64(s.Rates.SSLKey.Cur))
			case "max_frontend_ssl_key_rate":
				w.sample(float64(s.Rates.SSLKey.Max))
			case "frontend_ssl_reuse":
				w.sample(float64(s.Rates.SSLReuse()))
			case "stopping":
				w.sample(b2f(info.Stopping))
			case "build_info":
				w.sample(1, "version", info.Version)
			case "start_time_seconds":
				w.sample(float64(info.Start.Unix()))
			}
		}
	}
	if o.Scope&PromFrontend != 0 {
		for i := range promFrontend {
			f := &promFrontend[i]
			w.family("haproxy_frontend_", f)
			if f.name == "http_responses_total" {
				promResponses(w, s, func(p *Proxy) *HTTP {
					if p.Frontend == nil {
						return nil
					}
					return &p.Frontend.HTTP
				})
				continue
			}
			for j := range s.Proxies {
				p := &s.Proxies[j]
				if fe := p.Frontend; fe != nil {
					promFrontendSample(w, f.name, p, fe)
				}
			}
		}
	}
	if o.Scope&PromBackend != 0 {
		for i := range promBackend {
			f := &promBackend[i]
			w.family("haproxy_backend_", f)
			if f.name == "http_responses_total" {
				promResponses(w, s, func(p *Proxy) *HTTP {
					if p.Backend == nil {
						return nil
					}
					return &p.Backend.HTTP
				})
				continue
			}
			for j := range s.Proxies {
				p := &s.Proxies[j]
				if be := p.Backend; be != nil {
					promBackendSample(w, f.name, p, be)
				}
			}
		}
	}
	if o.Scope&PromServer != 0 {
		for i := range promServer {
			f := &promServer[i]
			w.family("haproxy_server_", f)
			if f.name == "http_responses_total" {
				for code := range promCodes {
					for j := range s.Proxies {
						p := &s.Proxies[j]
						if p.Backend == nil || p.Mode != "http" {
							continue
						}
						for k := range p.Backend.Servers {
							sv := &p.Backend.Servers[k]
							if o.NoMaint && sv.State == Maint {
								continue
							}
							w.sample(float64(sv.HTTP.Rsp[promCodeIndex(code)]), "proxy", p.Name, "server", sv.Name, "code", promCodes[code])
						}
					}
				}
				continue
			}
			for j := range s.Proxies {
				p := &s.Proxies[j]
				if p.Backend == nil {
					continue
				}
				for k := range p.Backend.Servers {
					sv := &p.Backend.Servers[k]
					if o.NoMaint && sv.State == Maint {
						continue
					}
					promServerSample(w, f.name, p, sv)
				}
			}
		}
	}
	return []byte(w.b.String())
}

// promResponses samples an http_responses_total family of frontends or backends (of
// each mode http proxy, the counters of's result; nil: none), code by code as HAProxy
// orders them.
func promResponses(w *promWriter, s *Snapshot, of func(*Proxy) *HTTP) {
	for code := range promCodes {
		for j := range s.Proxies {
			p := &s.Proxies[j]
			if h := of(p); h != nil && p.Mode == "http" {
				w.sample(float64(h.Rsp[promCodeIndex(code)]), "proxy", p.Name, "code", promCodes[code])
			}
		}
	}
}

// promCodes are the "code" label values of the http_responses_total
// families, in HAProxy's order.
var promCodes = []string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

// promCodeIndex is the index in HTTP.Rsp of promCodes[i].
func promCodeIndex(i int) int { return (i + 1) % 6 }

// promSeconds is a time in milliseconds, in seconds.
func promSeconds(ms uint32) float64 { return float64(ms) / 1000 }

// promTimes samples the time averages and maxima families.
func promTimes(w *promWriter, name string, t *Times, labels ...string) bool {
	for i, n := range []string{"queue", "connect", "response", "total"} {
		switch name {
		case n + "_time_average_seconds":
			w.sampleFloat(promSeconds(t.Avg[i]), labels...)
			return true
		case "max_" + n + "_time_seconds":
			w.sampleFloat(promSeconds(t.Max[i]), labels...)
			return true
		}
	}
	return false
}

// promHTTP samples the HTTP families of frontends and backends (mode http
// only, as HAProxy's exporter).
func promHTTP(w *promWriter, name string, p *Proxy, h *HTTP) bool {
	var v uint64
	switch name {
	case "http_comp_bytes_in_total":
		v = h.CompIn
	case "http_comp_bytes_out_total":
		v = h.CompOut
	case "http_comp_bytes_bypassed_total":
		v = h.CompByp
	case "http_comp_responses_total":
		v = h.CompRsp
	case "http_cache_lookups_total":
		v = h.CacheLookups
	case "http_cache_hits_total":
		v = h.CacheHits
	case "intercepted_requests_total":
		v = h.Intercepted
	default:
		return false
	}
	if p.Mode == "http" {
		w.sample(float64(v), "proxy", p.Name)
	}
	return true
}

func promFrontendSample(w *promWriter, name string, p *Proxy, f *Frontend) {
	if promHTTP(w, name, p, &f.HTTP) {
		return
	}
	px := p.Name
	switch name {
	case "current_sessions":
		w.sample(float64(f.Cur), "proxy", px)
	case "limit_sessions":
		w.sample(orNaN(f.Limit), "proxy", px)
	case "sessions_total":
		w.sample(float64(f.Total), "proxy", px)
	case "bytes_in_total":
		w.sample(float64(f.BytesIn), "proxy", px)
	case "bytes_out_total":
		w.sample(float64(f.BytesOut), "proxy", px)
	case "requests_denied_total":
		w.sample(float64(f.DeniedReq), "proxy", px)
	case "status":
		// Open, as the page's status says.
		for i, st := range promProxyStates {
			w.sample(b2f(i == 1), "proxy", px, "state", st)
		}
	case "limit_session_rate":
		w.sample(float64(f.RateLimit), "proxy", px)
	case "max_session_rate":
		w.sample(float64(f.SessRate.Max), "proxy", px)
	case "http_requests_rate_max", "http_requests_total":
		// HTTP frontends only, as HAProxy's exporter.
		if p.Mode != "http" {
			return
		}
		if name == "http_requests_total" {
			w.sample(float64(f.Requests), "proxy", px)
		} else {
			w.sample(float64(f.ReqRate.Max), "proxy", px)
		}
	case "connections_rate_max":
		w.sample(float64(f.ConnRate.Max), "proxy", px)
	case "connections_total":
		w.sample(float64(f.Total), "proxy", px)
	case "denied_connections_total":
		w.sample(float64(f.DeniedConn), "proxy", px)
	case "denied_sessions_total":
		w.sample(float64(f.DeniedSess), "proxy", px)
	case "max_sessions":
		w.sample(float64(f.Max), "proxy", px)
	case "responses_denied_total":
		w.sample(float64(f.DeniedResp), "proxy", px)
	case "request_errors_total":
		w.sample(float64(f.FailedReq), "proxy", px)
	case "failed_header_rewriting_total", "internal_errors_total":
		w.sample(0, "proxy", px) // never counts (Row.never)
	}
}

func promBackendSample(w *promWriter, name string, p *Proxy, b *Backend) {
	px := p.Name
	if promHTTP(w, name, p, &b.HTTP) || promTimes(w, name, &b.Times, "proxy", px) {
		return
	}
	weight, act, bck := b.weights()
	switch name {
	case "limit_sessions":
		w.sample(float64(b.Limit), "proxy", px)
	case "http_requests_total":
		if p.Mode == "http" {
			w.sample(float64(b.HTTP.Requests), "proxy", px)
		}
	case "current_queue":
		w.sample(float64(b.Queue), "proxy", px)
	case "max_queue":
		w.sample(float64(b.MaxQueue), "proxy", px)
	case "current_sessions":
		w.sample(float64(b.Cur), "proxy", px)
	case "sessions_total":
		w.sample(float64(b.Total), "proxy", px)
	case "bytes_in_total":
		w.sample(float64(b.BytesIn), "proxy", px)
	case "bytes_out_total":
		w.sample(float64(b.BytesOut), "proxy", px)
	case "requests_denied_total":
		w.sample(float64(b.DeniedReq), "proxy", px)
	case "responses_denied_total":
		w.sample(float64(b.DeniedResp), "proxy", px)
	case "connection_errors_total":
		w.sample(float64(b.failed()), "proxy", px)
	case "response_errors_total":
		w.sample(float64(b.RespErrors), "proxy", px)
	case "client_aborts_total":
		w.sample(float64(b.CliAborts), "proxy", px)
	case "server_aborts_total":
		w.sample(float64(b.SrvAborts), "proxy", px)
	case "max_sessions":
		w.sample(float64(b.Max), "proxy", px)
	case "last_session_seconds":
		w.sample(float64(b.LastSess), "proxy", px)
	case "connection_attempts_total", "connection_reuses_total":
		n, reuse := b.connects()
		if name == "connection_reuses_total" {
			n = reuse
		}
		w.sample(float64(n), "proxy", px)
	case "failed_header_rewriting_total", "internal_errors_total":
		w.sample(0, "proxy", px) // never counts (Row.never)
	case "retry_warnings_total":
		w.sample(float64(b.Retries), "proxy", px)
	case "redispatch_warnings_total":
		w.sample(float64(b.Redispatches), "proxy", px)
	case "status":
		up := b.status() == "UP"
		for i, st := range promProxyStates {
			w.sample(b2f((i == 1) == up), "proxy", px, "state", st)
		}
	case "weight", "uweight":
		w.sample(float64(weight), "proxy", px)
	case "active_servers":
		w.sample(float64(act), "proxy", px)
	case "backup_servers":
		w.sample(float64(bck), "proxy", px)
	case "max_session_rate":
		w.sample(float64(b.SessRate.Max), "proxy", px)
	case "check_up_down_total":
		w.sample(float64(b.DownTrans), "proxy", px)
	case "check_last_change_seconds":
		w.sample(float64(b.LastChange), "proxy", px)
	case "downtime_seconds_total":
		if len(b.Servers) == 0 {
			w.sample(math.NaN(), "proxy", px)
		} else {
			w.sample(float64(b.Downtime), "proxy", px)
		}
	case "loadbalanced_total":
		w.sample(float64(b.LBTotal), "proxy", px)
	case "agg_check_status":
		// The last check status of the servers whose checks run, by
		// status; a backend without servers has no sample.
		if len(b.Servers) == 0 {
			return
		}
		n := map[string]int{}
		for i := range b.Servers {
			if c := b.Servers[i].Check; c != nil && !c.Paused {
				n[c.Status]++
			}
		}
		for _, st := range promCheckStates {
			w.sample(float64(n[st]), "proxy", px, "state", st)
		}
	case "agg_server_status", "agg_server_check_status":
		// Every server counts, those in maintenance included; a
		// backend without servers has no sample.
		if len(b.Servers) == 0 {
			return
		}
		var n [5]int
		for i := range b.Servers {
			n[promServerState(&b.Servers[i])]++
		}
		for i, st := range promServerStates {
			w.sample(float64(n[i]), "proxy", px, "state", st)
		}
	}
}

func promServerSample(w *promWriter, name string, p *Proxy, s *Server) {
	px, sv := p.Name, s.Name
	if promTimes(w, name, &s.Times, "proxy", px, "server", sv) {
		return
	}
	id := &s.Idle
	switch name {
	case "idle_connections_current":
		w.sample(float64(id.Unsafe+id.Safe), "proxy", px, "server", sv)
	case "idle_connections_limit":
		if !id.Limited {
			w.sample(math.NaN(), "proxy", px, "server", sv)
		} else {
			w.sample(float64(id.Limit), "proxy", px, "server", sv)
		}
	case "unsafe_idle_connections_current":
		w.sample(float64(id.Unsafe), "proxy", px, "server", sv)
	case "safe_idle_connections_current":
		w.sample(float64(id.Safe), "proxy", px, "server", sv)
	case "used_connections_current":
		w.sample(float64(id.Used), "proxy", px, "server", sv)
	case "need_connections_current":
		w.sample(float64(id.NeedEst), "proxy", px, "server", sv)
	case "current_queue":
		w.sample(float64(s.Queue), "proxy", px, "server", sv)
	case "max_queue":
		w.sample(float64(s.MaxQueue), "proxy", px, "server", sv)
	case "current_sessions":
		w.sample(float64(s.Cur), "proxy", px, "server", sv)
	case "max_sessions":
		w.sample(float64(s.Max), "proxy", px, "server", sv)
	case "limit_sessions":
		w.sample(orNaN(s.Limit), "proxy", px, "server", sv)
	case "sessions_total":
		w.sample(float64(s.Total), "proxy", px, "server", sv)
	case "bytes_in_total":
		w.sample(float64(s.BytesIn), "proxy", px, "server", sv)
	case "bytes_out_total":
		w.sample(float64(s.BytesOut), "proxy", px, "server", sv)
	case "connection_errors_total":
		w.sample(float64(s.Failed), "proxy", px, "server", sv)
	case "response_errors_total":
		w.sample(float64(s.RespErrors), "proxy", px, "server", sv)
	case "client_aborts_total":
		w.sample(float64(s.CliAborts), "proxy", px, "server", sv)
	case "server_aborts_total":
		w.sample(float64(s.SrvAborts), "proxy", px, "server", sv)
	case "responses_denied_total":
		w.sample(float64(s.DeniedResp), "proxy", px, "server", sv)
	case "connection_attempts_total":
		w.sample(float64(s.Connects), "proxy", px, "server", sv)
	case "last_session_seconds":
		w.sample(float64(s.LastSess), "proxy", px, "server", sv)
	case "connection_reuses_total":
		w.sample(float64(s.Reuses), "proxy", px, "server", sv)
	case "failed_header_rewriting_total", "internal_errors_total":
		w.sample(0, "proxy", px, "server", sv) // never counts (Row.never)
	case "retry_warnings_total":
		w.sample(float64(s.Retries), "proxy", px, "server", sv)
	case "redispatch_warnings_total":
		w.sample(float64(s.Redispatches), "proxy", px, "server", sv)
	case "status":
		cur := promServerState(s)
		for i, st := range promServerStates {
			w.sample(b2f(i == cur), "proxy", px, "server", sv, "state", st)
		}
	case "weight":
		w.sample(float64(s.effWeight()), "proxy", px, "server", sv)
	case "queue_limit":
		w.sample(orNaN(s.QueueLimit), "proxy", px, "server", sv)
	case "current_throttle":
		// HAProxy's empty field outside a slow start: NaN.
		v := math.NaN()
		if s.Throttle > 0 {
			v = float64(s.Throttle)
		}
		w.sample(v, "proxy", px, "server", sv)
	case "max_session_rate":
		w.sample(float64(s.SessRate.Max), "proxy", px, "server", sv)
	case "check_failures_total", "check_up_down_total", "downtime_seconds_total":
		// Empty in the CSV, NaN here, without checks.
		v := math.NaN()
		if c := s.Check; c != nil {
			v = map[string]float64{"check_failures_total": float64(c.Failed),
				"check_up_down_total": float64(s.DownTrans), "downtime_seconds_total": float64(s.Downtime)}[name]
		}
		w.sample(v, "proxy", px, "server", sv)
	case "check_last_change_seconds":
		w.sample(float64(s.LastChange), "proxy", px, "server", sv)
	case "loadbalanced_total":
		w.sample(float64(s.LBTotal), "proxy", px, "server", sv)
	case "check_status", "check_code", "check_duration_seconds":
		// Only for the servers whose checks run.
		c := s.Check
		if c == nil || c.Paused {
			return
		}
		switch name {
		case "check_status":
			for _, st := range promCheckStates {
				w.sample(b2f(st == c.Status), "proxy", px, "server", sv, "state", st)
			}
		case "check_code":
			w.sample(float64(c.Code)*b2f(c.HasCode), "proxy", px, "server", sv)
		default:
			if c.Done {
				// A passive check's verdict: HAProxy's -1 ms, -0.001 s.
				w.sampleFloat(float64(c.Duration.Milliseconds())/1000, "proxy", px, "server", sv)
			}
		}
	case "uweight":
		w.sample(float64(s.Weight), "proxy", px, "server", sv)
	}
}
