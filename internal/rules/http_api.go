package rules

import "lb/internal/http1"

// HTTPTxn is the HTTP transaction a mode http proxy's rules read and
// change. The HTTP handler sets Stream.HTTP for each request (a new
// HTTPTxn, or the same one refilled) before running any rule set of the
// transaction, tcp-request content rules and switching rules included:
// HTTP fetches in them read it, as HAProxy evaluates them on the parsed
// request head.
type HTTPTxn struct {
	// Req is the request head as it will be sent to the server. Actions
	// change it in place: header actions through its Header's methods
	// (which copy into the Header's own storage), set-path, set-uri,
	// set-method and the like by pointing Method and URI at storage the
	// Stream owns (valid until the Stream's next HTTPRequest call). The
	// handler must copy what it logs of the original request line
	// ("%r") before running the rules.
	Req *http1.Message
	// Res is the response head: nil before the response is received.
	// http-response and http-after-response rules change it as
	// http-request rules change Req (set-status sets Status and points
	// Reason at the Stream's storage).
	Res *http1.Message
	// ReqBody is the request body buffered so far ("option
	// http-buffer-request"), else nil: req.body and req.body_len read it.
	ReqBody []byte
	// ReqLine is the request line as received, without its CRLF ("%r"):
	// capture.req.method, capture.req.uri and capture.req.ver read it.
	ReqLine []byte
	// ReqCaps and ResCaps are the frontend's request and response capture
	// slots, in declaration order ("capture request|response header",
	// "declare capture", "http-request capture … len"): the handler fills
	// the header captures, "http-request|http-response capture" sets a
	// slot (a new slice each time), capture.req.hdr and capture.res.hdr
	// read them. Nil when the frontend has none.
	ReqCaps, ResCaps [][]byte

	// LogLevel is what the last "set-log-level" action that ran chose for
	// the transaction's log line: LogLevelUnset (the proxy's level),
	// LogLevelSilent (no log line), or a syslog severity (0 emerg … 7
	// debug) plus one.
	LogLevel int8

	// CacheUse is the cache of the last "http-request cache-use" rule
	// that ran ("" = none): the handler looks the request up in it once
	// the request rules are done.
	CacheUse string
	// CacheStore is the cache of the last "http-response cache-store"
	// rule that ran ("" = none), and CacheHead the response head as that
	// rule saw it (what the cache stores, with the body that follows).
	CacheStore string
	CacheHead  []byte
}

// LogLevel values of HTTPTxn besides the syslog severities (1 + severity).
const (
	LogLevelUnset  int8 = 0
	LogLevelSilent int8 = -1
)

// HTTPResult is what an HTTP rule set decided.
//
// Verdict is Continue when no rule ended the rule set (the transaction goes
// on), Accept when an "allow" rule matched (the remaining rules of the
// set, and of the same set in the next proxy for http-response, are
// skipped; see the entry points), and Reject when a deny, return,
// redirect or use-service rule ended the transaction: the handler then
// sends, instead of forwarding the request (or the server's response), the
// response this result describes (or its Service's), runs the
// http-after-response rules on it, and forwards nothing more of the
// request. Wait and Close are never returned.
type HTTPResult struct {
	Verdict Verdict
	// Status is the status of the response to send when Verdict is
	// Reject: deny's deny_status (403 for http-request, 502 for
	// http-response by default), return's status (200 by default), the
	// redirect code (302 by default).
	Status int
	// Location is the Location of a redirect (nil otherwise), fully built
	// as HAProxy builds it: location, or prefix/scheme with the request's
	// path, drop-query and append-slash applied.
	Location []byte
	// ContentType and Body are the payload of "return" and of "deny" with
	// content options (string, lf-string, file, lf-file); both nil when
	// the response has no payload. A redirect has an empty body
	// ("Content-Length: 0").
	ContentType, Body []byte
	// Headers are the extra header fields of the response, in order:
	// "return … hdr <name> <fmt>" fields; for a redirect, "Cache-Control:
	// no-cache" (codes 302, 303, 307) then "Set-Cookie" (set-cookie,
	// clear-cookie options). The handler writes the status line, then
	// for a redirect "Content-Length: 0" and "Location", for a response
	// with a payload "Content-Type" and "Content-Length", then these.
	Headers []http1.Field
	// DefaultBody is set for a deny without content options: the handler
	// sends HAProxy's error page for Status (the proxy's errorfile for it
	// when there is one, else the built-in page).
	DefaultBody bool
	// ErrorFile is the complete response to send, as an errorfile is
	// sent, for deny and return with "errorfile <file>" or "errorfiles
	// <name>" (nil otherwise).
	ErrorFile []byte
	// Tarpit: the reply of "http-request tarpit" (500 by default), which
	// the handler sends after holding the request for "timeout tarpit".
	Tarpit bool
	// Denied marks the result of a deny or tarpit rule (HAProxy's
	// TX_CLDENY, TX_CLTARPIT), not of a return.
	Denied bool
	// Authenticate is set by "http-request auth": the value of the
	// WWW-Authenticate field ("Basic realm=…") that the handler adds, in
	// place of any the error page has, to the 401 page (Status, with
	// DefaultBody) it sends; the transaction is logged as answered
	// locally ("LR"), not denied.
	Authenticate []byte
	// Service is set by "http-request use-service": the service
	// (ServicePrometheus) answers the request in place of a server, as
	// HAProxy's applets do; Status and the payload fields are unset.
	Service string
	// SilentDrop is set by "http-request silent-drop": the handler closes
	// the client connection without a response (Stream.SilentDrop).
	SilentDrop bool

	// LogLevel mirrors HTTPTxn.LogLevel after the rules ran.
	LogLevel int8
}

// ServicePrometheus is the service of "http-request use-service
// prometheus-exporter", the only one lb carries out.
const ServicePrometheus = "prometheus-exporter"

// The result's byte slices (Location, ContentType, Body, Headers) point
// into the Stream's storage or into the compiled Proxy: they are valid
// until the Stream's next rule evaluation and must not be written to.

// HTTPRequest runs the proxy's "http-request" rules on s.HTTP.Req, then, if
// none ended the transaction ("allow" does not: it only stops the
// http-request rules), its "redirect" lines, as HAProxy 2.6's
// http_process_req_common does. The handler calls it for the frontend,
// then, after UseBackend chose a backend that is another proxy, for the
// backend (whatever the frontend's verdict was unless Reject), then
// UseServer. s.HTTP must be set. Conditions see the request as final.
func (p *Proxy) HTTPRequest(s *Stream) HTTPResult { return p.runHTTPRequest(s) }

// HTTPResponse runs the proxy's "http-response" rules on s.HTTP.Res (set
// by the handler first). The handler calls it for the backend, then for
// the frontend if it is another proxy and the backend's verdict was
// Continue (an "allow" in the backend skips the frontend's rules, as in
// HAProxy's http_process_res_common). Reject: send the described response
// instead of the server's (deny's default status is 502).
func (p *Proxy) HTTPResponse(s *Stream) HTTPResult { return p.runHTTPResponse(s) }

// HTTPAfterResponse runs the proxy's "http-after-response" rules on
// s.HTTP.Res: the response about to be sent to the client, whether it
// came from the server or from lb itself (a deny, return or redirect
// result, an error page: the handler then sets Res to the head it built).
// The handler calls it for the backend, then for the frontend if it is
// another proxy and the backend's verdict was Continue or Accept. Its
// verdict is Continue or Accept: these rules cannot end the transaction.
func (p *Proxy) HTTPAfterResponse(s *Stream) HTTPResult { return p.runHTTPAfterResponse(s) }

// ErrorReply builds the response of the proxy's "http-error" line for
// status, on s (whose HTTP must be set), for the handler to send as it
// sends a return's: ok is false when the proxy has no such line (or one
// naming a complete response, which the configuration records as an
// errorfile). The result's slices are valid as HTTPRequest's.
func (p *Proxy) ErrorReply(s *Stream, status int) (r HTTPResult, ok bool) {
	rp := p.c.errReplies[status]
	if rp == nil || s == nil || s.HTTP == nil {
		return HTTPResult{}, false
	}
	return p.doReply(s.st.newEval(s, p, true), rp), true
}

// HasErrorReply reports whether ErrorReply has a response for status.
func (p *Proxy) HasErrorReply(status int) bool { return p.c.errReplies[status] != nil }

// HasHTTPRules reports whether the proxy has http-request rules or
// redirect lines (HasHTTPRequestRules), http-response rules or
// http-after-response rules: a proxy without any can skip the calls.
func (p *Proxy) HasHTTPRules() bool {
	return p.HasHTTPRequestRules() || len(p.c.httpRes) > 0 || len(p.c.httpAfter) > 0
}

// HasHTTPRequestRules reports whether HTTPRequest has anything to run.
func (p *Proxy) HasHTTPRequestRules() bool { return len(p.c.httpReq) > 0 || len(p.c.redirects) > 0 }
