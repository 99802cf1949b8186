package config

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// lb never accepts what it does not do: every keyword the tables accept
// (keywordTables) is carried out at run time, with a test that shows its
// effect, or is one of the exceptions below, each with its reason. A
// keyword lb does not carry out is refused ("not supported by lb yet").
// TestKeywordEffects holds the tables and this registry to each other.

// effectKind classifies a registry entry.
type effectKind int

const (
	// shown: the running program carries the keyword out; tests show it.
	shown effectKind = iota
	// informational: accepted on purpose without a run-time meaning; why
	// says why (a label, or inert because every keyword reading it is
	// refused).
	informational
	// httpMode: only takes effect in mode http, where lb's HTTP data
	// plane carries it out: tests show it there. Outside mode http,
	// HAProxy ignores it, and lb warns or refuses: tcp is a line showing
	// it, checked by TestHTTPModeKeywordsWarnOutsideHTTP.
	httpMode
	// pendingRuntime: accepted and not carried out (or only in part) yet,
	// because refusing it would lose a corpus file HAProxy accepts, or the
	// part lb does carry out (its tests show that part); the change it
	// needs is in a package others are changing now. why is that change.
	pendingRuntime
	// httpRefused: would only take effect in mode http, where lb does not
	// carry it out yet and refuses it ("not supported by lb yet", by "lb
	// -c" and at start); it stays accepted outside mode http, where HAProxy
	// ignores it too, with the warning lb gives as well (tcp, as for
	// httpMode). tests are the tests of the refusal in mode http
	// (refusalTests).
	httpRefused
)

var effectKindNames = [...]string{"shown", "informational", "http-mode", "pending-runtime", "http-refused"}

// effect is a registry entry.
type effect struct {
	kind effectKind
	// tests show the keyword's effect: "internal/<pkg>.TestName[/subtest]".
	tests []string
	why   string
	// tcp is a line that draws a warning (or an alert) in a mode tcp
	// listen section, or in the global section for global keywords
	// (httpMode, httpRefused, inert ones). "{errorfile}" stands for a file
	// that exists.
	tcp string
}

func show(tests ...string) effect { return effect{tests: tests} }

func info(why string) effect { return effect{kind: informational, why: why} }

func httpOnly(tcp string, tests ...string) effect {
	return effect{kind: httpMode, tcp: tcp, tests: tests}
}

// httpRefusedBy is an httpRefused entry: tcp as for httpOnly, tests the
// refusal's.
func httpRefusedBy(tcp string, tests ...string) effect {
	return effect{kind: httpRefused, tcp: tcp, tests: tests}
}

func pending(change string, tests ...string) effect {
	return effect{kind: pendingRuntime, why: change, tests: tests}
}

// Test names, for readability of the registry.
const (
	e2e       = "internal/e2e/loopback."
	tGolden   = "internal/config.TestGoldenCases"
	tProbe    = "internal/health.TestProbe"
	tTCPCheck = "internal/health.TestParseTCPCheck"
	// tCheckVars runs the tcp-check variable and log-format rules, compiled
	// by the rules engine, against a loopback server.
	tCheckVars = "internal/plane.TestCheckRuleVars"
	// tHTTPCheckVars runs the http-check ones.
	tHTTPCheckVars = "internal/plane.TestHTTPCheckRuleVars"
	// tCheckVarsHAP compares what both rule sets send with HAProxy's.
	tCheckVarsHAP = e2e + "TestCheckVarsBytesAsHAProxy"
	// tCheckExprs runs connect port and status-code expressions.
	tCheckExprs = "internal/plane.TestCheckPortAndStatusCodeExprs"
	tHTTPChk    = "internal/health.TestParseHTTPCheck"
	tRequest    = "internal/health.TestProbeRequest"
	tBindOpts   = "internal/listener.TestBindOptions"
	tStats      = "internal/stats."
	tUnixSock   = "internal/listener.TestUnixAtomicReplace"
	tOrders     = "internal/balance.TestOrders"
	tTimeouts   = "internal/proxy.TestTimeouts"
	tHeader     = "internal/logs.TestAppendHeader"
	tUDP        = "internal/logs.TestUDP"
	tHealth     = e2e + "TestHealthDownUpAndBackup"
	tReload     = e2e + "TestSeamlessReloadZeroLoss"

	// Mode http: the rules engine's tests, and the real binary's.
	tReqActions   = "internal/rules.TestHTTPRequestActions"
	tReplies      = "internal/rules.TestHTTPReplies"
	tResActions   = "internal/rules.TestHTTPResponseActions"
	eReqActions   = e2e + "TestHTTPRequestActions"
	eResActions   = e2e + "TestHTTPResponseActions"
	eAfterActions = e2e + "TestHTTPAfterResponseActions"
	eConnModes    = e2e + "TestHTTPConnectionModes"
	eHTTPTimeouts = e2e + "TestHTTPTimeouts"
	eInvalid      = e2e + "TestHTTPAcceptInvalid"
	eCaptures     = e2e + "TestHTTPLogCaptures"

	// The refusals in mode http (httpRefused): CheckHTTP's, and the rules
	// engine's.
	tCheckHTTP = "internal/plane.TestCheckHTTPRefuses"

	// TLS bind lines: the loader's, and the handshakes of tlsconf.
	tBindTLS     = "internal/config.TestBindTLS"
	tTLS         = "internal/tlsconf."
	tRulesRefuse = "internal/rules.TestHTTPCompileErrors"
)

// The server side of TLS: what the keywords resolve to, the handshakes of
// tlsconf's configurations, the health checks over TLS.
const (
	tServerTLS   = "internal/config.TestServerTLS"
	tSrvTLSPlane = "internal/plane.TestServerTLSChecks"
	tVerify      = "internal/tlsconf.TestVerifyServer"
	tClientTLS   = "internal/tlsconf.TestClientConfig"
	tProbeTLS    = "internal/health.TestProbeTLS"
)

// refusalTests are the tests an httpRefused entry may name.
var refusalTests = []string{tCheckHTTP, tRulesRefuse}

// Reasons shared by several entries.
const (
	checkComment = "a label of the rule in check reports"
)

// effects is the registry: every keyword the tables accept, by table and
// name.
var effects = map[string]effect{
	// The global section.
	"global master-worker": {tests: []string{e2e + "TestMasterWorkerKeyword", e2e + "TestMasterWorkerExitCodes"},
		why: "master-worker mode as -W; 'no-exit-on-failure' changes nothing, as in HAProxy 2.6, whose master still stops every process when the current worker fails"},
	"global daemon":                          show(e2e + "TestGlobalDaemon"),
	"global maxconn":                         show("internal/proxy.TestGlobalMaxconn", e2e+"TestFDLimit"),
	"global maxconnrate":                     show("internal/proxy.TestAcceptRate/maxconnrate", e2e+"TestRateLimitRuntime"),
	"global maxsessrate":                     show("internal/proxy.TestAcceptRate/maxsessrate"),
	"global maxsslrate":                      show(e2e + "TestSSLRateLimit"),
	"global nbthread":                        show(e2e+"TestGlobalProcessSettings", e2e+"TestCPUMap"),
	"global cpu-map":                         show(e2e + "TestCPUMap"),
	"global ulimit-n":                        show(e2e+"TestGlobalProcessSettings", "internal/lifecycle.TestPlanFDs"),
	"global strict-limits":                   show(e2e+"TestStrictLimits", "internal/lifecycle.TestPlanFDs"),
	"global user":                            show(e2e + "TestGlobalPrivileges/user_group"),
	"global group":                           show(e2e + "TestGlobalPrivileges/user_group"),
	"global uid":                             show(e2e + "TestGlobalPrivileges/uid_gid"),
	"global gid":                             show(e2e + "TestGlobalPrivileges/uid_gid"),
	"global chroot":                          show(e2e + "TestGlobalPrivileges"),
	"global hard-stop-after":                 show(e2e + "TestSoftStopDrainsAndHardStopAfter/hard-stop-after_cuts"),
	"global server-state-file":               show(e2e+"TestServerStateFileAsHAProxy", e2e+"TestServerStateSurvivesReloads"),
	"global server-state-base":               show(e2e+"TestServerStateFileAsHAProxy", e2e+"TestServerStateSurvivesReloads"),
	"global grace":                           show(e2e + "TestGlobalGrace"),
	"global noreuseport":                     show(tBindOpts + "/noreuseport"),
	"global nosplice":                        show("internal/proxy.TestNoSplice"),
	"global log":                             show(e2e + "TestLogHeaderAndTCPLog"),
	"global log-tag":                         show(e2e+"TestLogHeaderAndTCPLog", tHeader),
	"global log-send-hostname":               show(e2e+"TestLogHeaderAndTCPLog", tGolden+"/global", tHeader),
	"global stats":                           show(e2e + "TestSIGUSR2Handover"),
	"global stats socket":                    show(e2e+"TestSIGUSR2Handover", "internal/admin.TestCommandsAndLevels"),
	"global stats timeout":                   show(e2e + "TestGlobalStatsTimeout"),
	"global stats bind-process":              info("HAProxy 2.6 warns it has no effect; lb runs one process and says the same"),
	"global setenv":                          show(tGolden + "/global"),
	"global presetenv":                       show(tGolden + "/global"),
	"global localpeer":                       show(e2e + "TestLocalPeerAsHAProxy"),
	"global unsetenv":                        show(tGolden + "/global"),
	"global resetenv":                        show(tGolden + "/global"),
	"global unix-bind":                       show(tGolden+"/bind", tUnixSock),
	"global description":                     info("text for the statistics page"),
	"global node":                            info("a name for the statistics page"),
	"global expose-experimental-directives":  info("only unlocks experimental keywords while parsing; lb has none"),
	"global ca-base":                         show(tServerTLS, tSrvTLSPlane, tBindTLS),
	"global crt-base":                        show(tServerTLS, tSrvTLSPlane, tBindTLS),
	"global ssl-server-verify":               show(tServerTLS + "/global"),
	"global ssl-default-server-options":      show(tServerTLS + "/global"),
	"global ssl-default-bind-ciphers":        show(tBindTLS, tTLS+"TestCiphers"),
	"global ssl-default-bind-ciphersuites":   show(tBindTLS, tTLS+"TestCiphers"),
	"global ssl-default-bind-options":        show(tBindTLS, tTLS+"TestVersions"),
	"global ssl-default-bind-curves":         show(tBindTLS, tTLS+"TestCurves"),
	"global ssl-default-server-ciphers":      show(tServerTLS + "/global"),
	"global ssl-default-server-ciphersuites": show(tServerTLS + "/global"),
	// Spreads the closing of HTTP connections over a window on soft stop;
	// lb closes them at once.
	"global close-spread-time": httpRefusedBy("close-spread-time 1s", tCheckHTTP+"/close-spread-time"),
	"global pidfile": show(e2e+"TestGlobalPidfile/foreground", e2e+"TestGlobalPidfile/daemon",
		e2e+"TestGlobalPidfile/-p_wins"),
	"global spread-checks":      show("internal/plane.TestHealthConfig", "internal/health.TestJitter"),
	"global tune.comp.maxlevel": show(e2e + "TestHTTPCompressionLevel"),
	"global tune.bufsize":       show(e2e + "TestRulesBufsize"),
	"global tune.ssl.cachesize": show(e2e + "TestTLSSessionCacheAsHAProxy"),
	"global tune.ssl.lifetime":  show(e2e + "TestTLSLifetimeAsHAProxy"),
	"global quiet":              show(e2e + "TestCommandLine/global_quiet"),
	"global zero-warning":       show(e2e + "TestCommandLine/global_zero-warning"),
	"global thread-groups":      info("HAProxy 2.6 allows only 1, the one thread group lb has"),

	// Proxy keywords.
	"proxy bind":                        show(e2e + "TestRoundRobinOrder"),
	"proxy mode":                        show(e2e+"TestRoundRobinOrder", e2e+"TestMonitorURI"),
	"proxy disabled":                    show(e2e + "TestFrontendKeywords"),
	"proxy enabled":                     show(e2e + "TestFrontendKeywords"),
	"proxy id":                          info("a number for the statistics and the runtime API"),
	"proxy description":                 info("text for the statistics page"),
	"proxy bind-process":                info("HAProxy 2.6 warns it has no effect; lb says the same"),
	"proxy maxconn":                     show("internal/proxy.TestFrontendMaxconn"),
	"proxy rate-limit":                  show("internal/proxy.TestAcceptRate/rate-limit_sessions"),
	"proxy backlog":                     show(tBindOpts + "/backlog"),
	"proxy retries":                     show("internal/proxy.TestRetriesRedispatch"),
	"proxy fullconn":                    show(e2e + "TestFullconnMinconn"),
	"proxy dispatch":                    show(e2e + "TestDispatchAndSource"),
	"proxy source":                      show(e2e+"TestDispatchAndSource", e2e+"TestTransparentSourceNetns"),
	"proxy usesrc":                      show(e2e+"TestDispatchAndSource", e2e+"TestTransparentSourceNetns"),
	"proxy timeout":                     show(tTimeouts, e2e+"TestMaxconnQueueTimeout"),
	"proxy option":                      show("internal/proxy.TestRetriesRedispatch", "internal/logs.TestShouldLog"),
	"proxy no":                          show(tGolden+"/defaults", "internal/proxy.TestRetriesRedispatch/no_redispatch"),
	"proxy default":                     show(tGolden + "/timeouts-options"),
	"proxy log":                         show(e2e + "TestLogHeaderAndTCPLog"),
	"proxy balance":                     show(e2e+"TestRoundRobinOrder", tOrders),
	"proxy hash-type":                   show("internal/balance.TestSourceStable"),
	"proxy hash-balance-factor":         show(e2e+"TestHashBalanceFactorAsHAProxy", "internal/balance.TestHashBalanceFactor"),
	"proxy max-keep-alive-queue":        httpOnly("max-keep-alive-queue 3", e2e+"TestMaxKeepAliveQueueAsHAProxy"),
	"proxy load-server-state-from-file": show(e2e+"TestServerStateFileAsHAProxy", e2e+"TestServerStateSurvivesReloads"),
	"proxy server-state-file-name":      show(e2e + "TestServerStateFileAsHAProxy"),
	"proxy server":                      show(e2e + "TestRoundRobinOrder"),
	"proxy server-template":             show(e2e + "TestResolversAsHAProxy"),
	"proxy default-server":              show(tGolden + "/server"),
	"proxy default_backend":             show(e2e + "TestFrontendKeywords"),
	"proxy http-check":                  show(tHTTPChk, "internal/health.TestCheckerHTTP"),
	"proxy tcp-check":                   show(tTCPCheck, tProbe),
	"proxy log-format": show(e2e+"TestLogFormat", e2e+"TestLogFormatCheck",
		"internal/logs.TestLogFormatGolden", "internal/proxy.TestLogRecordAddresses"),
	"proxy unique-id-format": show(e2e+"TestLogFormat", e2e+"TestLogFormatCheck", e2e+"TestHTTPUniqueID",
		"internal/logs.TestGenerateUniqueID"),
	"proxy unique-id-header":      httpOnly("unique-id-header X-ID", e2e+"TestHTTPUniqueID"),
	"proxy http-send-name-header": httpOnly("http-send-name-header X-Srv", e2e+"TestSendNameHeaderAsHAProxy"),
	"proxy cookie": show(e2e+"TestCookieInsert", e2e+"TestCookieRewritePrefix",
		"internal/proxy.TestCookieRequestParsing", "internal/proxy.TestCookieResponse", "internal/proxy.TestCookieDates"),
	"proxy http-request": httpOnly("http-request deny if FALSE", eReqActions, e2e+"TestHTTPProxying",
		e2e+"TestHTTPLocalResponses", tReqActions, tReplies),
	"proxy http-response":       httpOnly("http-response deny if FALSE", eResActions, tResActions),
	"proxy http-after-response": httpOnly("http-after-response set-header a b", eAfterActions, tResActions),
	"proxy redirect":            httpOnly("redirect location /x if FALSE", eReqActions, tReplies),
	"proxy stats":               httpOnly("stats enable", e2e+"TestStatsPage", e2e+"TestHTTPStatsInFrontend"),
	"proxy errorfile":           httpOnly("errorfile 503 {errorfile}", e2e+"TestHTTPErrorFiles"),
	"proxy errorloc":            httpOnly("errorloc 503 /sorry", e2e+"TestHTTPErrorLocAndErrorfiles"),
	"proxy errorloc302":         httpOnly("errorloc302 503 /sorry", e2e+"TestHTTPErrorLocAndErrorfiles"),
	"proxy errorloc303":         httpOnly("errorloc303 503 /sorry", e2e+"TestHTTPErrorLocAndErrorfiles"),
	"proxy errorfiles":          httpOnly("errorfiles he", e2e+"TestHTTPErrorLocAndErrorfiles"),
	"proxy http-error":          httpOnly("http-error status 503", e2e+"TestHTTPErrorReplies"),
	"proxy declare":             httpOnly("declare capture request len 8", e2e+"TestHTTPCaptureRules"),
	"proxy monitor-uri":         httpOnly("monitor-uri /healthz", e2e+"TestMonitorURI", e2e+"TestHTTPLocalResponses"),
	"proxy http-reuse":          httpOnly("http-reuse always", e2e+"TestHTTPReuseModes"),
	"proxy monitor":             httpOnly("monitor fail if TRUE", e2e+"TestHTTPMonitorFail", "internal/rules.TestMonitorFail"),
	"proxy compression":         httpOnly("compression algo gzip", e2e+"TestHTTPCompression", e2e+"TestHTTPCompressionStreams"),
	"proxy capture":             httpOnly("capture request header Host len 20", eCaptures, "internal/logs.TestHTTPLogFormats", e2e+"TestHTTPCaptureCookie"),
	// The tcp rules (internal/rules, run by internal/proxy).
	"proxy acl":                           show(e2e+"TestRulesUseBackendSrcFile", e2e+"TestRulesConnectionReject", e2e+"TestRulesHTTPModeL4"),
	"proxy use_backend":                   show(e2e+"TestRulesUseBackendDstPort", e2e+"TestRulesUseBackendSrcFile", e2e+"TestRulesUseBackendSNI", e2e+"TestRulesUseBackendVar"),
	"proxy tcp-request":                   show(e2e+"TestRulesConnectionReject", e2e+"TestRulesInspectDelayExpiry", e2e+"TestRulesExpectProxy", e2e+"TestRulesHTTPModeL4"),
	"proxy tcp-response":                  show(e2e+"TestRulesTCPResponse", e2e+"TestRulesResponseClose"),
	"proxy use-server":                    show(e2e+"TestRulesUseServer", e2e+"TestRulesForcePersist"),
	"proxy force-persist":                 show(e2e + "TestRulesForcePersist"),
	"proxy ignore-persist":                show(e2e + "TestRulesForcePersist"),
	"tcp-request connection accept":       show(e2e + "TestRulesAcceptStops"),
	"tcp-request connection silent-drop":  show(e2e + "TestSilentDrop"),
	"tcp-request content silent-drop":     show(e2e + "TestSilentDrop"),
	"tcp-request connection reject":       show(e2e+"TestRulesConnectionReject", e2e+"TestRulesAcceptStops"),
	"tcp-request connection expect-proxy": show(e2e+"TestRulesExpectProxy", e2e+"TestRulesAcceptStops"),
	"tcp-request connection set-var":      show(e2e + "TestRulesVars"),
	"tcp-request connection unset-var":    show(e2e + "TestRulesVars"),
	"tcp-request session accept":          show(e2e + "TestRulesAcceptStops"),
	"tcp-request session reject":          show(e2e + "TestRulesAcceptStops"),
	"tcp-request session set-var":         show(e2e+"TestRulesVars", e2e+"TestRulesAcceptStops"),
	"tcp-request session unset-var":       show(e2e + "TestRulesVars"),
	"tcp-request content accept":          show(e2e+"TestRulesUseBackendSNI", e2e+"TestRulesInspectDelayExpiry"),
	"tcp-request content reject":          show(e2e+"TestRulesInspectDelayExpiry", e2e+"TestRulesLogsAsHAProxy"),
	"tcp-request content set-var":         show(e2e+"TestRulesVars", e2e+"TestRulesUseBackendVar"),
	"tcp-request content unset-var":       show(e2e + "TestRulesVars"),
	"tcp-request content set-dst":         show(e2e + "TestRulesSetDst"),
	"tcp-request content set-dst-port":    show(e2e + "TestRulesSetDst"),
	"tcp-response content accept":         show(e2e + "TestRulesResponseClose"),
	"tcp-response content reject":         show(e2e+"TestRulesTCPResponse", e2e+"TestRulesLogsAsHAProxy"),
	"tcp-response content close":          show(e2e + "TestRulesResponseClose"),
	"tcp-response content set-var":        show(e2e + "TestRulesResponseClose"),
	"tcp-response content unset-var":      show(e2e + "TestRulesResponseClose"),

	// "option" names.
	"option allbackups":    show(tOrders + "/allbackups"),
	"option dontlognull":   show("internal/logs.TestShouldLog"),
	"option redispatch":    show("internal/proxy.TestRetriesRedispatch"),
	"proxy retry-on":       show("internal/e2e/loopback.TestRetryOn", "internal/e2e/loopback.TestRetryOnExhausted"),
	"option splice-auto":   show("internal/proxy.TestConcurrentTransfers"),
	"option tcplog":        show(e2e+"TestLogHeaderAndTCPLog", "internal/logs.TestTCPLog"),
	"option httpchk":       show("internal/health.TestCheckerHTTP", tProbe, tRequest),
	"option tcp-check":     show(tProbe, tTCPCheck),
	"option redis-check":   show("internal/health.TestProtocolChecks/redis_up", "internal/health.TestProtocolChecks/redis_loading"),
	"option pgsql-check":   show("internal/health.TestProtocolChecks/pgsql_auth_ok", "internal/health.TestProtocolChecks/pgsql_error"),
	"option ldap-check":    show("internal/health.TestProtocolChecks/ldap_success", "internal/health.TestProtocolChecks/ldap_invalid_credentials"),
	"option smtpchk":       show("internal/health.TestProtocolChecks/smtp_EHLO", "internal/health.TestProtocolChecks/smtp_banner_554", "internal/health.TestProtocolCheckLines"),
	"option ssl-hello-chk": show("internal/health.TestSSLHelloCheck"),
	"option mysql-check": show("internal/plane.TestHealthConfig", "internal/health.TestMySQLCheck",
		"internal/health.TestParseMySQLCheck"),
	"option nolinger":      show("internal/listener.TestNolingerInherited", "internal/proxy.TestServerSocketOptions/nolinger"),
	"option clitcpka":      show(e2e + "TestClientKeepAlive/clitcpka"),
	"option srvtcpka":      show("internal/proxy.TestServerSocketOptions/srvtcpka"),
	"option tcpka":         show(e2e+"TestClientKeepAlive/tcpka", "internal/proxy.TestServerSocketOptions/srvtcpka"),
	"proxy clitcpka-cnt":   show(e2e + "TestTCPKeepAliveTimingsAsHAProxy"),
	"proxy clitcpka-idle":  show(e2e + "TestTCPKeepAliveTimingsAsHAProxy"),
	"proxy clitcpka-intvl": show(e2e + "TestTCPKeepAliveTimingsAsHAProxy"),
	"proxy srvtcpka-cnt":   show(e2e + "TestTCPKeepAliveTimingsAsHAProxy"),
	"proxy srvtcpka-idle":  show(e2e + "TestTCPKeepAliveTimingsAsHAProxy"),
	"proxy srvtcpka-intvl": show(e2e + "TestTCPKeepAliveTimingsAsHAProxy"),
	"option log-health-checks": show(e2e+"TestLogHealthChecks", e2e+"TestHTTPCheckDisableOn404",
		"internal/health.TestCheckLogLines"),
	"option httplog": httpOnly("option httplog", eCaptures, "internal/logs.TestHTTPLogFormats",
		"internal/logs.TestHTTPLogAgainstHAProxy"),
	"option httpslog":                     httpOnly("option httpslog", e2e+"TestHTTPSLog"),
	"option forwardfor":                   httpOnly("option forwardfor", e2e+"TestHTTPProxying"),
	"option originalto":                   httpOnly("option originalto", e2e+"TestHTTPOriginalTo"),
	"option http-keep-alive":              httpOnly("option http-keep-alive", eConnModes, e2e+"TestHTTPProxying"),
	"option http-server-close":            httpOnly("option http-server-close", eConnModes),
	"option httpclose":                    httpOnly("option httpclose", eConnModes),
	"option accept-invalid-http-request":  httpOnly("option accept-invalid-http-request", eInvalid),
	"option accept-invalid-http-response": httpOnly("option accept-invalid-http-response", eInvalid),
	"option checkcache":                   httpRefusedBy("option checkcache", tCheckHTTP+"/option_checkcache"),
	"option http-buffer-request":          httpOnly("option http-buffer-request", e2e+"TestHTTPBufferRequest"),
	"option http-ignore-probes":           httpRefusedBy("option http-ignore-probes", tCheckHTTP+"/option_http-ignore-probes"),
	"option http-no-delay":                httpRefusedBy("option http-no-delay", tCheckHTTP+"/option_http-no-delay"),
	"option http-pretend-keepalive":       httpRefusedBy("option http-pretend-keepalive", tCheckHTTP+"/option_http-pretend-keepalive"),
	"option http-use-proxy-header":        httpRefusedBy("option http-use-proxy-header", tCheckHTTP+"/option_http-use-proxy-header"),
	"option disable-h2-upgrade":           httpRefusedBy("option disable-h2-upgrade", tCheckHTTP+"/option_disable-h2-upgrade"),
	"option h1-case-adjust-bogus-client":  httpRefusedBy("option h1-case-adjust-bogus-client", tCheckHTTP+"/option_h1-case-adjust-bogus-client"),
	"option h1-case-adjust-bogus-server":  httpRefusedBy("option h1-case-adjust-bogus-server", tCheckHTTP+"/option_h1-case-adjust-bogus-server"),
	"option idle-close-on-response":       httpRefusedBy("option idle-close-on-response", tCheckHTTP+"/option_idle-close-on-response"),
	"option persist":                      httpRefusedBy("option persist", tCheckHTTP+"/option_persist"),
	"option prefer-last-server":           httpOnly("option prefer-last-server", e2e+"TestPreferLastServer"),

	// "timeout" kinds.
	"timeout client":          show(tTimeouts + "/client"),
	"timeout server":          show(tTimeouts + "/server"),
	"timeout connect":         show(e2e + "TestTimeoutConnect"),
	"timeout queue":           show(e2e + "TestMaxconnQueueTimeout"),
	"timeout tunnel":          show(tTimeouts + "/tunnel_overrides"),
	"timeout client-fin":      show(tTimeouts + "/client-fin"),
	"timeout server-fin":      show(tTimeouts + "/server-fin"),
	"timeout check":           show(tProbe + "/tcp-check_timeout"),
	"timeout http-request":    httpOnly("timeout http-request 5s", eHTTPTimeouts),
	"timeout http-keep-alive": httpOnly("timeout http-keep-alive 5s", eHTTPTimeouts),
	"timeout tarpit":          httpOnly("timeout tarpit 5s", e2e+"TestHTTPTarpit"),

	// Bind options (stats socket lines share them).
	"bind name":         show(e2e + "TestSocketActivation"),
	"bind id":           info("a number for the statistics and the runtime API"),
	"bind backlog":      show(tBindOpts + "/backlog"),
	"bind maxconn":      show(e2e + "TestBindMaxconnAsHAProxy"),
	"bind transparent":  show(tBindOpts+"/transparent", "internal/listener.TestTransparentFallback"),
	"bind defer-accept": show(tBindOpts + "/defer-accept"),
	"bind tfo":          show(tBindOpts + "/tfo_with_backlog"),
	"bind tcp-ut":       show(e2e + "TestTCPUserTimeoutAsHAProxy"),
	"bind v4v6":         show("internal/listener.TestV6OnlyOption"),
	"bind v6only":       show("internal/listener.TestV6OnlyOption"),
	"bind interface":    show(tBindOpts + "/interface_lo"),
	"bind accept-proxy": show(e2e+"TestProxyProtocol", "internal/proxy.TestProxyProtocolInOut"),
	"bind user":         show(tGolden+"/bind", tUnixSock),
	"bind group":        show(tGolden+"/bind", tUnixSock),
	"bind uid":          show(tUnixSock),
	"bind gid":          show(tUnixSock),
	"bind mode":         show(tUnixSock),
	"bind level":        show("internal/admin.TestCommandsAndLevels"),
	"bind expose-fd":    show(tReload, "internal/listener.TestHandoverRoundTrip"),

	// TLS: each builds Bind.TLS.Config, whose effect the handshakes of
	// internal/tlsconf show; the data plane does not serve it yet.
	"bind ssl":             show(tBindTLS, tTLS+"TestSNISelection", e2e+"TestTLSSNIDirectoryAndCrtList"),
	"bind crt":             show(tBindTLS, tTLS+"TestLoadCertFile", tTLS+"TestLoadCrtDirectory", tTLS+"TestBundleByKeyType", e2e+"TestTLSSNIDirectoryAndCrtList"),
	"bind crt-list":        show(tTLS+"TestCrtList", e2e+"TestTLSSNIDirectoryAndCrtList"),
	"bind strict-sni":      show(tTLS+"TestSNISelection", e2e+"TestTLSSNIDirectoryAndCrtList"),
	"bind alpn":            show(tBindTLS, tTLS+"TestCrtList", e2e+"TestTLSSNIDirectoryAndCrtList"),
	"bind no-alpn":         show(tBindTLS),
	"bind ca-file":         show(tTLS+"TestClientVerification", e2e+"TestTLSMinVersionAndMutual"),
	"bind crl-file":        show(tTLS + "TestClientVerification"),
	"bind verify":          show(tTLS+"TestClientVerification", tTLS+"TestCrtList", e2e+"TestTLSMinVersionAndMutual"),
	"bind no-ca-names":     show(tTLS + "TestClientVerification"),
	"bind ciphers":         show(tBindTLS, tTLS+"TestCiphers"),
	"bind ciphersuites":    show(tTLS + "TestCiphers"),
	"bind curves":          show(tTLS + "TestCurves"),
	"bind ecdhe":           show(tTLS + "TestCurves"),
	"bind ssl-min-ver":     show(tTLS+"TestVersions", e2e+"TestTLSMinVersionAndMutual"),
	"bind ssl-max-ver":     show(tTLS+"TestVersions", tTLS+"TestCrtList"),
	"bind no-sslv3":        show(tTLS + "TestVersions"),
	"bind no-tlsv10":       show(tTLS + "TestVersions"),
	"bind no-tlsv11":       show(tTLS + "TestVersions"),
	"bind no-tlsv12":       show(tTLS + "TestVersions"),
	"bind no-tlsv13":       show(tBindTLS, tTLS+"TestVersions"),
	"bind force-sslv3":     show(tTLS + "TestVersions"),
	"bind force-tlsv10":    show(tTLS + "TestVersions"),
	"bind force-tlsv11":    show(tTLS + "TestVersions"),
	"bind force-tlsv12":    show(tTLS + "TestVersions"),
	"bind force-tlsv13":    show(tTLS + "TestVersions"),
	"bind no-tls-tickets":  show(tTLS+"TestTicketKeys", e2e+"TestTLSResumeAcrossReloads", e2e+"TestTLSTicketKeysFile"),
	"bind tls-ticket-keys": show(tTLS+"TestTicketKeys", e2e+"TestTLSTicketKeysFile"),

	// Server and default-server options.
	"server ssl":                 show(tServerTLS+"/ssl", tServerTLS+"/check-ssl", tProbeTLS, tSrvTLSPlane),
	"server no-ssl":              show(tServerTLS + "/default-server"),
	"server check-ssl":           show(tServerTLS+"/check-ssl", tProbeTLS, tSrvTLSPlane),
	"server no-check-ssl":        show(tServerTLS + "/check-ssl"),
	"server check-sni":           show(tServerTLS+"/check-ssl", tProbeTLS+"/check-sni_and_check-alpn_sent", tSrvTLSPlane),
	"server check-alpn":          show(tServerTLS+"/check-ssl", tProbeTLS+"/check-sni_and_check-alpn_sent"),
	"server verify":              show(tServerTLS, tVerify, tProbeTLS),
	"server ca-file":             show(tServerTLS+"/ssl", tVerify, tProbeTLS+"/unknown_CA"),
	"server crl-file":            show(tServerTLS+"/ssl", tVerify+"/revoked"),
	"server crt":                 show(tServerTLS+"/ssl", tClientTLS),
	"server verifyhost":          show(tServerTLS+"/ssl", tVerify, tProbeTLS+"/verifyhost_mismatch"),
	"server alpn":                show(tServerTLS+"/ssl", tClientTLS),
	"server ciphers":             show(tServerTLS+"/ssl", tClientTLS),
	"server ciphersuites":        show(tServerTLS + "/some_TLS_1.3_suites"),
	"server ssl-min-ver":         show(tServerTLS+"/ssl", tClientTLS),
	"server ssl-max-ver":         show(tServerTLS+"/default-server", tClientTLS),
	"server no-sslv3":            show("internal/tlsconf.TestMethodsRange"),
	"server no-tlsv10":           show("internal/tlsconf.TestMethodsRange"),
	"server no-tlsv11":           show(tServerTLS+"/hole", "internal/tlsconf.TestMethodsRange"),
	"server no-tlsv12":           show("internal/tlsconf.TestMethodsRange"),
	"server no-tlsv13":           show("internal/tlsconf.TestMethodsRange"),
	"server force-sslv3":         show(tServerTLS + "/all_disabled"),
	"server force-tlsv10":        show("internal/tlsconf.TestMethodsRange"),
	"server force-tlsv11":        show("internal/tlsconf.TestMethodsRange"),
	"server force-tlsv12":        show(tServerTLS+"/default-server", tClientTLS),
	"server force-tlsv13":        show("internal/tlsconf.TestMethodsRange"),
	"server sni":                 show(tServerTLS+"/ssl", tSrvTLSPlane, e2e+"TestTLSOffloadTCPAndOrigination"),
	"server no-ssl-reuse":        show(tServerTLS+"/default-server", tClientTLS, e2e+"TestTLSServerSessionReuse"),
	"server ssl-reuse":           show(tServerTLS+"/default-server", tClientTLS, e2e+"TestTLSServerSessionReuse"),
	"server no-tls-tickets":      show(tServerTLS+"/default-server", tClientTLS, e2e+"TestTLSServerSessionReuse"),
	"server tls-tickets":         show(tServerTLS+"/default-server", e2e+"TestTLSServerSessionReuse"),
	"server check":               show(tHealth),
	"server no-check":            show(tGolden + "/server"),
	"server backup":              show(tHealth),
	"server no-backup":           show(tGolden + "/server"),
	"server disabled":            show(e2e + "TestServerCheckPortAddrDisabled"),
	"server enabled":             show(tGolden + "/server"),
	"server send-proxy":          show(e2e + "TestProxyProtocol"),
	"server no-send-proxy":       show(tGolden + "/server"),
	"server send-proxy-v2":       show(e2e + "TestProxyProtocol"),
	"server no-send-proxy-v2":    show(tGolden + "/server"),
	"server no-check-send-proxy": show(tGolden + "/server"),
	"server check-send-proxy": show(e2e+"TestCheckSendProxy", "internal/plane.TestHealthConfig",
		tRequest+"/send-proxy"),
	"server inter":            show(tHealth, "internal/health.TestCheckerIntervals"),
	"server fastinter":        show("internal/health.TestCheckerIntervals"),
	"server downinter":        show("internal/health.TestCheckerIntervals"),
	"server rise":             show(tHealth, "internal/health.TestCheckerFallRise"),
	"server fall":             show(tHealth, "internal/health.TestCheckerFallRise"),
	"server weight":           show("internal/balance.TestRoundRobinExact", tOrders),
	"server minconn":          show(e2e + "TestFullconnMinconn"),
	"server socks4":           show(e2e+"TestSocks4", "internal/socks4.TestRequest"),
	"server check-via-socks4": show(e2e + "TestSocks4"),
	"server source":           show(e2e+"TestDispatchAndSource", e2e+"TestTransparentSourceNetns"),
	"server usesrc":           show(e2e+"TestDispatchAndSource", e2e+"TestTransparentSourceNetns"),
	"server maxconn":          show(e2e + "TestMaxconnQueueTimeout"),
	"server maxqueue":         show("internal/proxy.TestQueues"),
	"server id":               show(tOrders + "/first_by_id"),
	"server port":             show(e2e + "TestServerCheckPortAddrDisabled"),
	"server agent-check":      show(e2e+"TestAgentCheckEffects", "internal/health.TestAgentCheck", "internal/health.TestParseAgentReply"),
	"server no-agent-check":   show("internal/health.TestAgentCheck"),
	"server agent-port":       show("internal/health.TestAgentCheck"),
	"server agent-inter":      show("internal/health.TestAgentCheck"),
	"server agent-addr":       show("internal/health.TestAgentCheck"),
	"server agent-send":       show("internal/health.TestAgentCheck"),
	"server addr":             show(e2e + "TestServerCheckPortAddrDisabled"),
	"server init-addr":        show(tGolden+"/server", tGolden+"/resolve", e2e+"TestResolversAsHAProxy"),
	"server resolvers":        show(e2e + "TestResolversAsHAProxy"),
	"server resolve-prefer":   show(e2e + "TestResolversAsHAProxy"),
	"server on-marked-down":   show("internal/proxy.TestServerStateAndShutdown", e2e+"TestOnMarkedAsHAProxy"),
	"server on-marked-up":     show("internal/proxy.TestOnMarkedUp", e2e+"TestOnMarkedAsHAProxy"),
	// Passive health checks: the traffic's errors count as checks.
	"server observe":     show(e2e+"TestPassiveChecksAsHAProxy", e2e+"TestObserveLayer7OutsideHTTP"),
	"server error-limit": show(e2e + "TestPassiveChecksAsHAProxy"),
	"server on-error":    show(e2e+"TestPassiveChecksAsHAProxy", "internal/health.TestAnalyze"),
	// The stick rules store nothing for a non-stick server.
	"server non-stick": show(e2e + "TestNonStickAsHAProxy"),
	"server stick":     show(e2e + "TestNonStickAsHAProxy"),
	// GET and HEAD requests redirected instead of forwarded.
	"server redir": show(e2e + "TestServerRedirAsHAProxy"),
	// A server whose state follows another's.
	"server track": show(e2e + "TestTrackAsHAProxy"),
	// A server back from DOWN or maintenance warms up.
	"server slowstart": show(e2e+"TestSlowstartAsHAProxy", "internal/proxy.TestSlowstart"),
	"server tcp-ut":    show(e2e + "TestTCPUserTimeoutAsHAProxy"),
	// The idle pools of HTTP server connections (none in mode tcp, in
	// HAProxy as in lb).
	"server pool-max-conn":    show(e2e + "TestHTTPPoolMaxConn"),
	"server pool-purge-delay": show(e2e + "TestHTTPPoolPurgeDelay"),
	"server cookie":           show(e2e+"TestCookieInsert", "internal/proxy.TestCookieRequestServerStates"),

	// "stats" in a proxy: the statistics page.
	"stats enable":       httpOnly("stats enable", e2e+"TestStatsPage", e2e+"TestHTTPStatsInFrontend", tStats+"TestServe"),
	"stats uri":          httpOnly("stats uri /stats", e2e+"TestStatsPage", e2e+"TestHTTPStatsInFrontend", tStats+"TestServe"),
	"stats realm":        httpOnly("stats realm lb", tStats+"TestServe"),
	"stats auth":         httpOnly("stats auth admin:secret", e2e+"TestStatsPage", tStats+"TestServe"),
	"stats refresh":      httpOnly("stats refresh 10s", e2e+"TestStatsPage", tStats+"TestServe"),
	"stats hide-version": httpOnly("stats hide-version", tStats+"TestHTML"),
	"stats show-legends": httpOnly("stats show-legends", tStats+"TestCSVOptions", tStats+"TestHTML"),
	"stats show-node":    httpOnly("stats show-node", tStats+"TestHTML"),
	"stats show-desc":    httpOnly("stats show-desc lb", tStats+"TestHTML"),
	"stats scope":        httpOnly("stats scope t", tStats+"TestCSVOptions", tStats+"TestHTML"),
	"stats admin":        httpOnly("stats admin if TRUE", e2e+"TestStatsAdmin", e2e+"TestStatsPageInBrowser", tStats+"TestAdminPage"),
	"stats http-request": httpRefusedBy("stats http-request allow", tCheckHTTP+"/stats_http-request"),

	// Health-check rules and their options.
	"http-check connect":        show(tHTTPChk),
	"http-check send":           show(tHTTPChk, tRequest),
	"http-check expect":         show(tProbe),
	"http-check comment":        info(checkComment),
	"http-check disable-on-404": show(e2e+"TestHTTPCheckDisableOn404", "internal/health.TestCheckerDisableOn404"),
	"http-check send meth":      show(tHTTPChk),
	"http-check send uri":       show(tHTTPChk),
	"http-check send ver":       show(tHTTPChk),
	"http-check send hdr":       show(tHTTPChk, tRequest),
	"http-check send body":      show(tRequest),
	"http-check send comment":   info(checkComment),
	"http-check expect status":  show(tProbe + "/expect_status_range"),
	"http-check expect rstatus": show(tProbe + "/expect_rstatus"),
	"http-check expect string":  show(tProbe + "/expect_string_found"),
	"http-check expect rstring": show(tProbe + "/expect_rstring"),
	// tHTTPCheckVars sends what HAProxy sent to the same rules.
	"http-check set-var":          show(tHTTPCheckVars, tCheckVarsHAP),
	"http-check set-var-fmt":      show(tHTTPCheckVars),
	"http-check unset-var":        show(tHTTPCheckVars),
	"http-check send uri-lf":      show(tHTTPCheckVars, tCheckVarsHAP),
	"http-check send body-lf":     show(tHTTPCheckVars, tCheckVarsHAP),
	"http-check expect string-lf": show(tHTTPCheckVars, "internal/plane.TestHTTPCheckStringLF"),
	"tcp-check connect":           show(tProbe+"/tcp-check_explicit_connect_refused", tTCPCheck),
	"tcp-check send":              show(tProbe+"/tcp-check_pass", tTCPCheck),
	"tcp-check send-binary":       show(tTCPCheck),
	"tcp-check expect":            show(tProbe + "/tcp-check_pass"),
	"tcp-check comment":           info(checkComment),
	"tcp-check expect string":     show(tProbe + "/tcp-check_pass"),
	"tcp-check expect binary":     show(tProbe + "/tcp-check_binary_mismatch"),
	"tcp-check expect rstring":    show(tProbe + "/tcp-check_regex_mismatch"),
	"tcp-check expect rbinary":    show(tProbe + "/tcp-check_rbinary"),
	"tcp-check set-var":           show(tCheckVars, "internal/plane.TestCheckStreamVarsPerRun"),
	"tcp-check set-var-fmt":       show(tCheckVars),
	"tcp-check unset-var":         show(tCheckVars),
	"tcp-check send-lf":           show(tCheckVars, tCheckVarsHAP),
	"tcp-check send-binary-lf":    show(tCheckVars, tCheckVarsHAP),
	"tcp-check expect string-lf":  show(tCheckVars),
	"tcp-check expect binary-lf":  show("internal/health.TestTCPCheckFormat"),
	"check connect port":          show(tTCPCheck, tHTTPChk, tCheckExprs, e2e+"TestCheckRulesReasonsAsHAProxy"),
	"check connect comment":       show(e2e + "TestCheckRulesReasonsAsHAProxy"),
	"expect option comment":       show(e2e + "TestCheckRulesReasonsAsHAProxy"),
	"expect option status-code":   show(tCheckExprs, e2e+"TestCheckRulesReasonsAsHAProxy"),
	"http-check expect hdr":       show(e2e+"TestCheckRulesReasonsAsHAProxy", "internal/health.TestParseHTTPCheck"),
	"http-check expect fhdr":      show(e2e + "TestCheckRulesReasonsAsHAProxy"),
	"check connect addr":          show(e2e+"TestCheckRulesReasonsAsHAProxy", "internal/health.TestParseTCPCheck"),
	"check connect ssl":           show(e2e+"TestCheckRulesReasonsAsHAProxy", e2e+"TestCheckConnectOptions"),
	"check connect sni":           show(e2e + "TestCheckConnectOptions"),
	"check connect alpn":          show(e2e + "TestCheckConnectOptions"),
	"check connect send-proxy":    show(e2e+"TestCheckRulesReasonsAsHAProxy", e2e+"TestCheckConnectOptions"),
	"check connect via-socks4":    show(e2e + "TestCheckConnectOptions"),
	"check connect default":       show(e2e + "TestCheckConnectOptions"),
	"check connect linger":        info("lb closes every check connection with a reset (SO_LINGER 0), which is what linger asks"),
	"expect option min-recv":      show(e2e + "TestCheckRulesReasonsAsHAProxy"),
	"expect option ok-status":     show(e2e + "TestCheckConnectOptions"),
	"expect option error-status":  show(e2e + "TestCheckRulesReasonsAsHAProxy"),
	"expect option tout-status":   show(e2e + "TestCheckRulesReasonsAsHAProxy"),
	"expect option on-success":    show(e2e + "TestCheckConnectOptions"),
	"expect option on-error":      show(e2e + "TestCheckRulesReasonsAsHAProxy"),

	// balance algorithms and hash-type.
	"balance roundrobin":   show(e2e+"TestRoundRobinOrder", "internal/balance.TestRoundRobinExact"),
	"balance static-rr":    show(tOrders),
	"balance leastconn":    show(tOrders, "internal/balance.TestLeastconnFollowsLoad"),
	"balance first":        show(tOrders + "/first_by_id"),
	"balance source":       show("internal/balance.TestSourceStable", "internal/balance.TestSourceHashAddr"),
	"balance random":       show("internal/balance.TestRandomDraws"),
	"balance uri":          httpOnly("balance uri", "internal/balance.TestMatchesHAProxy", e2e+"TestHTTPHashBalance"),
	"balance url_param":    httpOnly("balance url_param id", "internal/balance.TestMatchesHAProxy", e2e+"TestHTTPHashBalance", e2e+"TestHTTPBufferRequest"),
	"balance hdr":          httpOnly("balance hdr(host)", "internal/balance.TestMatchesHAProxy", e2e+"TestHTTPHashBalance"),
	"hash-type consistent": show("internal/balance.TestSourceStable", "internal/balance.TestMatchesHAProxy", e2e+"TestHTTPHashBalance"),
	"hash-type map-based":  show("internal/balance.TestMatchesHAProxy", e2e+"TestHTTPHashBalance"),
	"hash-type sdbm":       show("internal/balance.TestMatchesHAProxy", e2e+"TestHTTPHashBalance"),
	"hash-type djb2":       show("internal/balance.TestMatchesHAProxy", e2e+"TestHTTPHashBalance"),
	"hash-type crc32":      show("internal/balance.TestMatchesHAProxy"),
	"hash-type wt6":        show("internal/balance.TestMatchesHAProxy"),
	"hash-type avalanche":  show("internal/balance.TestMatchesHAProxy"),

	// log lines: target forms, options, formats.
	"log stdout":          show(e2e+"TestLogHeaderAndTCPLog", "internal/logs.TestFD"),
	"log stderr":          show("internal/logs.TestFD"),
	"log fd@":             show("internal/logs.TestFD", tGolden+"/global"),
	"log /path":           show("internal/logs.TestUnixgram", tGolden+"/global"),
	"log unix@":           show("internal/logs.TestUnixgram", tGolden+"/global"),
	"log host:port":       show(tUDP, tGolden+"/global"),
	"log udp@":            show(tUDP, tGolden+"/global"),
	"log udp4@":           show(tUDP, tGolden+"/global"),
	"log udp6@":           show(tUDP, tGolden+"/global"),
	"log ipv4@":           show(tUDP, tGolden+"/global"),
	"log ipv6@":           show(tUDP, tGolden+"/global"),
	"log option len":      show(tUDP),
	"log option format":   show(tHeader, e2e+"TestLogHeaderAndTCPLog"),
	"log format local":    show(tHeader + "/local"),
	"log format rfc3164":  show(tHeader+"/rfc3164", e2e+"TestLogHeaderAndTCPLog"),
	"log format rfc5424":  show(tHeader + "/rfc5424"),
	"log format priority": show(tHeader + "/priority"),
	"log format short":    show(tHeader + "/short"),
	"log format timed":    show(tHeader + "/timed"),
	"log format iso":      show(tHeader + "/iso"),
	"log format raw":      show(tHeader + "/raw"),

	// The HTTP rule actions, which take effect where their rule set
	// ("proxy http-request" …) does: in mode http.
	"http-request add-header":      show(eReqActions, tReqActions),
	"http-request set-header":      show(eReqActions, e2e+"TestHTTPProxying", tReqActions),
	"http-request del-header":      show(eReqActions, tReqActions),
	"http-request replace-header":  show(eReqActions, tReqActions),
	"http-request replace-value":   show(eReqActions, tReqActions),
	"http-request set-path":        show(eReqActions, tReqActions),
	"http-request set-pathq":       show(eReqActions, tReqActions),
	"http-request replace-path":    show(eReqActions, tReqActions),
	"http-request replace-pathq":   show(eReqActions, tReqActions),
	"http-request set-uri":         show(eReqActions, tReqActions),
	"http-request replace-uri":     show(eReqActions, tReqActions),
	"http-request set-query":       show(eReqActions, tReqActions),
	"http-request set-method":      show(eReqActions, tReqActions),
	"http-request redirect":        show(eReqActions, e2e+"TestHTTPLocalResponses", tReplies),
	"http-request deny":            show(eReqActions, e2e+"TestHTTPLocalResponses", tReplies),
	"http-request return":          show(eReqActions, e2e+"TestHTTPLocalResponses", tReplies),
	"http-request allow":           show(eReqActions, tReqActions),
	"http-request silent-drop":     show(e2e + "TestSilentDrop"),
	"http-request tarpit":          show(e2e+"TestHTTPTarpit", "internal/rules.TestHTTPTarpit"),
	"http-request use-service":     show(e2e+"TestPrometheusExporter", tStats+"TestPrometheusAgainstGolden", "internal/rules.TestHTTPUseService", "internal/config.TestUseService"),
	"http-request auth":            show(e2e + "TestHTTPAuth"),
	"http-response add-header":     show(eResActions),
	"http-response set-header":     show(eResActions, tResActions),
	"http-response del-header":     show(eResActions, tResActions),
	"http-response replace-header": show(eResActions),
	"http-response replace-value":  show(eResActions, tResActions),
	// allow in a backend stops the backend's rules only: the frontend's
	// still run, in HAProxy 2.6.12 as in lb (TestHTTPBackendAllow).
	"http-response allow": show(eResActions, tResActions, e2e+"TestHTTPBackendAllow"),
	"http-response deny":  show(eResActions, tResActions),
	// Only "location" is carried out; "prefix" and "scheme" are refused
	// by the rules engine (TestHTTPCompileErrors).
	"http-response redirect":             show(eResActions, tRulesRefuse),
	"http-response return":               show(eResActions),
	"http-response set-status":           show(eResActions, tResActions),
	"http-after-response add-header":     show(eAfterActions),
	"http-after-response set-header":     show(eAfterActions, tResActions),
	"http-after-response del-header":     show(eAfterActions),
	"http-after-response replace-header": show(eAfterActions),
	"http-after-response replace-value":  show(eAfterActions),
	// As "http-response allow".
	"http-after-response allow":      show(eAfterActions, tResActions, e2e+"TestHTTPBackendAllow"),
	"http-after-response set-status": show(eAfterActions, tResActions),
	"http-request set-var":           show(e2e+"TestHTTPVarsAndLogLevel", e2e+"TestHTTPBackendAllow", "internal/rules.TestHTTPVarsLogLevel"),
	"http-request set-dst":           show(e2e+"TestHTTPSetDst", "internal/rules.TestURLAddr"),
	"http-request set-dst-port":      show(e2e+"TestHTTPSetDst", "internal/rules.TestURLAddr"),
	"http-request unset-var":         show(e2e+"TestHTTPVarsAndLogLevel", "internal/rules.TestHTTPVarsLogLevel"),
	"http-request set-log-level":     show(e2e+"TestHTTPVarsAndLogLevel", "internal/rules.TestHTTPVarsLogLevel"),
	"http-response set-var":          show(e2e + "TestHTTPVarsAndLogLevel"),
	"http-response unset-var":        show(e2e + "TestHTTPVarsAndLogLevel"),
	"http-response set-log-level":    show(e2e + "TestHTTPVarsAndLogLevel"),
	"http-request capture":           show(e2e + "TestHTTPCaptureRules"),
	"http-response capture":          show(e2e + "TestHTTPCaptureRules"),
	"http-after-response set-var":    show(e2e + "TestHTTPVarsAndLogLevel"),
	"http-after-response unset-var":  show(e2e + "TestHTTPVarsAndLogLevel"),

	// Stick tables. track-sc2 runs the code of track-sc0 and track-sc1
	// with another counter index.
	"proxy stick-table":                show(e2e+"TestStickTableRateLimit", e2e+"TestStickTableConnCur", "internal/stick.TestTableEviction", "internal/stick.TestTableExpire", "internal/stick.TestFreqCtr"),
	"http-request track-sc0":           show(e2e + "TestStickTableRateLimit"),
	"http-request track-sc1":           show(e2e + "TestStickTableRateLimit"),
	"http-request track-sc2":           show(e2e + "TestStickTableRateLimit"),
	"http-request sc-inc-gpc0":         show(e2e + "TestStickTableRateLimit"),
	"http-request sc-set-gpt0":         show(e2e + "TestStickTableSetGPT0"),
	"http-request cache-use":           show(e2e + "TestHTTPCache"),
	"http-response cache-store":        show(e2e + "TestHTTPCache"),
	"tcp-request connection track-sc0": show(e2e + "TestStickTableConnCur"),
	"tcp-request connection track-sc1": show(e2e + "TestStickTableConnCur"),
	"tcp-request connection track-sc2": show(e2e + "TestStickTableConnCur"),
	"tcp-request session track-sc0":    show(e2e + "TestStickTrackSessionContent"),
	"tcp-request session track-sc1":    show(e2e + "TestStickTrackSessionContent"),
	"tcp-request session track-sc2":    show(e2e + "TestStickTrackSessionContent"),
	"tcp-request session sc-set-gpt0":  show(e2e + "TestStickTrackSessionContent"),
	"tcp-request session sc-inc-gpc0":  show(e2e + "TestStickTrackSessionContent"),
	"tcp-request content track-sc0":    show(e2e + "TestStickTrackSessionContent"),
	"tcp-request content track-sc1":    show(e2e + "TestStickTrackSessionContent"),
	"tcp-request content track-sc2":    show(e2e + "TestStickTrackSessionContent"),
	"tcp-request content sc-inc-gpc0":  show(e2e + "TestStickTrackSessionContent"),
	"tcp-request content sc-set-gpt0":  show(e2e + "TestStickTrackSessionContent"),
	"http-response track-sc0":          show(e2e + "TestStickTrackHTTPResponse"),
	"http-response track-sc1":          show(e2e + "TestStickTrackHTTPResponse"),
	"http-response track-sc2":          show(e2e + "TestStickTrackHTTPResponse"),
	"proxy stick":                      show(e2e+"TestStickOnTCP", e2e+"TestStickStoreResponseHTTP"),
}

// moduleRoot is the directory of go.mod above the working directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// pkgSource is what effects_test.go checks a test reference against: the
// Test functions declared in the _test.go files of a package, and the
// string literals of all its files (where table-driven subtests get their
// names).
type pkgSource struct {
	tests, strings map[string]bool
}

func parsePackage(t *testing.T, dir string) pkgSource {
	t.Helper()
	pkgs, err := parser.ParseDir(token.NewFileSet(), dir, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parse %s: %v", dir, err)
	}
	src := pkgSource{tests: map[string]bool{}, strings: map[string]bool{}}
	for _, p := range pkgs {
		for name, f := range p.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if v, err := strconv.Unquote(lit.Value); err == nil {
						src.strings[v] = true
					}
				}
				return true
			})
			if !strings.HasSuffix(name, "_test.go") {
				continue
			}
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && strings.HasPrefix(fd.Name.Name, "Test") {
					src.tests[fd.Name.Name] = true
				}
			}
		}
	}
	return src
}

// hasSubtest reports whether sub (as go test names it: blanks become
// underscores) can name a subtest: a string of the package, or a case
// file of TestGoldenCases.
func (src pkgSource) hasSubtest(root, pkg, test, sub string) bool {
	if pkg == "internal/config" && test == "TestGoldenCases" {
		_, err := os.Stat(filepath.Join(root, "testdata/config/cases", sub+".cfg"))
		return err == nil
	}
	return src.strings[sub] || src.strings[strings.ReplaceAll(sub, "_", " ")]
}

// splitKey separates a registry key into its table and keyword: the
// longest table name that prefixes it.
func splitKey(key string, tables map[string]map[string]kwStatus) (table, kw string, ok bool) {
	for name := range tables {
		if k, found := strings.CutPrefix(key, name+" "); found && len(name) > len(table) {
			table, kw, ok = name, k, true
		}
	}
	return table, kw, ok
}

var testRef = regexp.MustCompile(`^(internal/[a-z0-9/]+)\.(Test[A-Za-z0-9_]+)(/[^ /]+)?$`)

// The global keywords with no meaning in lb's design are accepted with a
// notice saying why (noeffect.go, TestNoEffectKeywords): informational.
func init() {
	for kw, ne := range noEffectKeywords {
		effects["global "+kw] = info("a notice says it has no effect in lb: " + ne.why)
	}
}

// TestKeywordEffects fails when a keyword the tables accept has no registry
// entry, when an entry names a test that does not exist (a Test function,
// and a subtest name the package holds), or when an entry names a keyword
// the tables do not accept.
func TestKeywordEffects(t *testing.T) {
	tables := keywordTables()
	for name, table := range tables {
		for kw, st := range table {
			if st != kwSupported {
				continue
			}
			if _, ok := effects[name+" "+kw]; !ok {
				t.Errorf("%q is accepted (table %q) but the registry says nothing of its run-time effect: "+
					"add a test that shows it, or refuse it", name+" "+kw, name)
			}
		}
	}
	root := moduleRoot(t)
	pkgs := map[string]pkgSource{}
	counts := map[effectKind]int{}
	for key, e := range effects {
		table, kw, ok := splitKey(key, tables)
		switch st, known := tables[table][kw]; {
		case !ok || !known:
			t.Errorf("registry entry %q: no such keyword in the tables", key)
		case st != kwSupported:
			t.Errorf("registry entry %q: the keyword is refused (%s); drop the entry", key,
				map[kwStatus]string{kwUnsupported: "not supported by lb yet", kwRemoved: "removed from HAProxy"}[st])
		}
		counts[e.kind]++
		switch e.kind {
		case shown:
			if len(e.tests) == 0 {
				t.Errorf("registry entry %q: no test shows the effect", key)
			}
		case informational, pendingRuntime:
			if e.why == "" {
				t.Errorf("registry entry %q (%s): no reason given", key, effectKindNames[e.kind])
			}
		case httpMode:
			switch {
			case e.tcp == "" && e.why == "":
				t.Errorf("registry entry %q: http-mode without a tcp line nor a reason", key)
			case len(e.tests) == 0:
				t.Errorf("registry entry %q: no test shows its effect in mode http", key)
			}
		case httpRefused:
			if len(e.tests) == 0 {
				t.Errorf("registry entry %q: no test shows its refusal in mode http", key)
			}
			for _, ref := range e.tests {
				if !slices.ContainsFunc(refusalTests, func(r string) bool { return ref == r || strings.HasPrefix(ref, r+"/") }) {
					t.Errorf("registry entry %q: %q is not a test of a refusal in mode http (%v)", key, ref, refusalTests)
				}
			}
		}
		for _, ref := range e.tests {
			m := testRef.FindStringSubmatch(ref)
			if m == nil {
				t.Errorf("registry entry %q: test %q is not \"internal/<pkg>.TestName[/subtest]\"", key, ref)
				continue
			}
			src, ok := pkgs[m[1]]
			if !ok {
				src = parsePackage(t, filepath.Join(root, m[1]))
				pkgs[m[1]] = src
			}
			switch sub := strings.TrimPrefix(m[3], "/"); {
			case !src.tests[m[2]]:
				t.Errorf("registry entry %q: no func %s in the _test.go files of %s", key, m[2], m[1])
			case sub != "" && !src.hasSubtest(root, m[1], m[2], sub):
				t.Errorf("registry entry %q: %s has no subtest named %q", key, m[1]+"."+m[2], sub)
			}
		}
	}
	t.Logf("registry: %d keywords: %d shown, %d informational, %d http-mode, %d pending-runtime, %d http-refused",
		len(effects), counts[shown], counts[informational], counts[httpMode], counts[pendingRuntime], counts[httpRefused])
}

// httpModeConfig is a configuration with a mode tcp listen section holding
// line (or a global section holding it, for global keywords).
func httpModeConfig(key, line, errorfile string) string {
	line = strings.ReplaceAll(line, "{errorfile}", errorfile)
	global, proxy := "", ""
	if strings.HasPrefix(key, "global ") {
		global = "\n    " + line
	} else if line != "" {
		proxy = "    " + line + "\n"
	}
	return fmt.Sprintf(`global%s
defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
listen t
    bind 127.0.0.1:1
%s    server s 192.0.2.1:80
`, global, proxy)
}

// httpModeEntries returns the registry entries with a tcp line (http-mode,
// http-refused, inert ones), sorted.
func httpModeEntries() []string {
	var keys []string
	for key, e := range effects {
		if e.tcp != "" {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	return keys
}

// warnsHTTP reports whether a diagnostic says that something needs mode
// http, in one of HAProxy's phrasings.
func warnsHTTP(msg string) bool {
	return strings.Contains(msg, "HTTP mode") || strings.Contains(msg, "'mode http'")
}

// TestHTTPModeKeywordsWarnOutsideHTTP: every http-mode keyword written in a
// mode tcp proxy draws a warning saying it needs mode http (or an alert):
// none takes effect nowhere without a word.
func TestHTTPModeKeywordsWarnOutsideHTTP(t *testing.T) {
	errorfile := filepath.Join(t.TempDir(), "503.http")
	if err := os.WriteFile(errorfile, []byte("HTTP/1.0 503 Unavailable\r\n\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	load := func(name, text string) []Diag {
		path := filepath.Join(dir, name+".cfg")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, diags := Load([]string{path}, Options{Resolver: fakeResolver, Env: testEnv(nil)})
		return diags
	}
	base := map[string]bool{}
	for _, d := range load("base", httpModeConfig("proxy", "", errorfile)) {
		base[d.Msg] = true
	}
	for _, key := range httpModeEntries() {
		t.Run(strings.ReplaceAll(key, " ", "_"), func(t *testing.T) {
			diags := load("kw", httpModeConfig(key, effects[key].tcp, errorfile))
			for _, d := range diags {
				if d.Severity == Alert || (d.Severity == Warning && !base[d.Msg] && warnsHTTP(d.Msg)) {
					return
				}
			}
			t.Errorf("%q in a mode tcp proxy draws no warning that it needs mode http: %v", effects[key].tcp, diags)
		})
	}
}

// TestHTTPModeWarningsMatchHAProxy runs HAProxy (when installed) on the
// same configurations: each of its warnings that a keyword needs mode http
// must be lb's too, word for word.
func TestHTTPModeWarningsMatchHAProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs haproxy once per keyword")
	}
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed")
	}
	errorfile := filepath.Join(t.TempDir(), "503.http")
	if err := os.WriteFile(errorfile, []byte("HTTP/1.0 503 Unavailable\r\n\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	haWarning := regexp.MustCompile(`\[WARNING\] +\([0-9]+\) : config : (?:parsing \[[^]]*\] : )?(.*)`)
	for _, key := range httpModeEntries() {
		t.Run(strings.ReplaceAll(key, " ", "_"), func(t *testing.T) {
			path := filepath.Join(dir, "kw.cfg")
			if err := os.WriteFile(path, []byte(httpModeConfig(key, effects[key].tcp, errorfile)), 0o644); err != nil {
				t.Fatal(err)
			}
			out, _ := exec.Command(haproxy, "-c", "-f", path).CombinedOutput()
			_, diags := Load([]string{path}, Options{Resolver: fakeResolver, Env: testEnv(nil)})
			lb := map[string]bool{}
			for _, d := range diags {
				lb[d.Msg] = true
			}
			for _, line := range strings.Split(string(out), "\n") {
				m := haWarning.FindStringSubmatch(line)
				if m != nil && warnsHTTP(m[1]) && !lb[m[1]] {
					t.Errorf("HAProxy warns %q; lb does not: %v", m[1], diags)
				}
			}
		})
	}
}
