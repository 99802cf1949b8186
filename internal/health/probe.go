package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/sys/unix"

	"lb/internal/socks4"
	"lb/internal/tlsconf"
)

// Result is the outcome of one check.
type Result struct {
	Status Status
	// Code is the HTTP status of an HTTP check, 0 for tcp-check.
	Code int
	// Info is HAProxy's detail text ("Connection refused",
	// "Service Unavailable", "TCPCHK did not match content 'ok' at step 2").
	Info string
	// Duration is the time from the start of the check to its result.
	Duration time.Duration
}

// bufSize bounds what a check reads, as HAProxy's tune.bufsize default.
const bufSize = 16384

// Probe runs one check described by cfg and returns its result, without
// any rise/fall accounting. It returns early with StatusUnknown when ctx is
// done.
func Probe(ctx context.Context, cfg Config) Result {
	return probe(ctx, cfg.withDefaults(), false)
}

// probe runs one check; serverDown tells that the server is DOWN, for
// disable-on-404 (Probe takes it for not DOWN).
func probe(ctx context.Context, cfg Config, serverDown bool) Result {
	p := prober{cfg: &cfg, start: time.Now(), serverDown: serverDown}
	r := p.run(ctx)
	r.Duration = time.Since(p.start)
	return r
}

// prober runs one check.
type prober struct {
	cfg   *Config
	start time.Time
	conn  net.Conn
	// unwatch stops the watch that interrupts conn's I/O when the
	// context is done, so that Run returns at once on cancel.
	unwatch func() bool
	buf     []byte // data received since the last send
	eof     bool   // the server closed its side
	// serverDown is the server's state when the check started.
	serverDown bool
	// state is the run's state for the rules' expressions (Config.NewRun),
	// lf the buffer of their formatted values.
	state any
	lf    []byte
	// serverFirst tells the next connect that an expect follows it: the
	// server speaks first, its SYN-ACK is acknowledged at once (connOpts).
	serverFirst bool
}

func (p *prober) run(ctx context.Context) Result {
	defer p.close()
	if p.cfg.NewRun != nil {
		// Each run starts with no check variables, as HAProxy prunes
		// them when a check starts.
		p.state = p.cfg.NewRun()
	}
	switch p.cfg.Kind {
	case KindTCPCheck:
		return p.tcpCheck(ctx)
	case KindHTTP:
		if len(p.cfg.HTTPSteps) > 0 {
			return p.httpSequence(ctx)
		}
		if rule := p.cfg.HTTPConnect; rule != nil {
			if r, ok := p.connectRule(ctx, rule, 1); !ok {
				return r
			}
		} else if r, ok := p.connect(ctx, p.cfg.Addr, "", p.cfg.TLS); !ok {
			return r
		}
		return p.httpCheck()
	case KindSSLHello:
		if r, ok := p.connect(ctx, p.cfg.Addr, "", p.cfg.TLS); !ok {
			return r
		}
		return p.sslHello()
	case KindMySQL:
		p.serverFirst = true // its greeting
		if r, ok := p.connect(ctx, p.cfg.Addr, "", p.cfg.TLS); !ok {
			return r
		}
		return p.mysqlCheck()
	case KindRedis, KindPgSQL, KindLDAP, KindSMTP:
		p.serverFirst = p.cfg.Kind == KindSMTP // its banner
		if r, ok := p.connect(ctx, p.cfg.Addr, "", p.cfg.TLS); !ok {
			return r
		}
		switch p.cfg.Kind {
		case KindRedis:
			return p.redisCheck()
		case KindPgSQL:
			return p.pgsqlCheck()
		case KindLDAP:
			return p.ldapCheck()
		}
		return p.smtpCheck()
	}
	if r, ok := p.connect(ctx, p.cfg.Addr, "", p.cfg.TLS); !ok {
		return r
	}
	return p.connected()
}

// connected is the status of a check that passes once connected: L6OK
// over TLS, else L4OK.
func (p *prober) connected() Result {
	if _, ok := p.conn.(*tls.Conn); ok {
		return Result{Status: StatusL6OK}
	}
	return Result{Status: StatusL4OK}
}

func (p *prober) close() {
	if p.conn != nil {
		p.unwatch()
		p.conn.Close()
		p.conn = nil
	}
}

// connectTimeout applies "timeout check": min(timeout connect, inter) to
// connect when it is set, else inter for the whole check.
func (p *prober) connectTimeout() time.Duration {
	if p.cfg.Timeout > 0 && p.cfg.ConnectTimeout > 0 && p.cfg.ConnectTimeout < p.cfg.Inter {
		return p.cfg.ConnectTimeout
	}
	return p.cfg.Inter
}

// readDeadline is when the response must be complete.
func (p *prober) readDeadline() time.Time {
	if p.cfg.Timeout > 0 {
		return time.Now().Add(p.cfg.Timeout)
	}
	return p.start.Add(p.cfg.Inter)
}

// connect dials addr as the server's check settings say (its PROXY
// header, its SOCKS4 proxy with check-via-socks4) and makes a TLS
// handshake when tlsc is not nil; suffix is appended to the error info
// (tcp-check step descriptions). ok is false with the failure.
func (p *prober) connect(ctx context.Context, addr, suffix string, tlsc *tls.Config) (Result, bool) {
	return p.dial(ctx, addr, suffix, tlsc, connOpts{proxy: p.cfg.SendProxy, proxyV2: p.cfg.SendProxyV2, socks4: p.cfg.ViaSocks4, quickAck: p.serverFirst})
}

// connOpts are the options of one check connection.
type connOpts struct {
	// proxy and proxyV2 send a PROXY header (v2 wins); socks4 goes
	// through Config.Socks4.
	proxy, proxyV2, socks4 bool
	// quickAck acknowledges the server's SYN-ACK at once: the server
	// speaks first (its banner is expected before anything is sent).
	quickAck bool
}

// dial is connect with explicit options.
func (p *prober) dial(ctx context.Context, addr, suffix string, tlsc *tls.Config, o connOpts) (Result, bool) {
	p.close()
	p.buf, p.eof = p.buf[:0], false
	dialStart := time.Now()
	d := net.Dialer{Timeout: p.connectTimeout()}
	if src := p.cfg.Source; src.IsValid() && !(src.Addr().IsUnspecified() && src.Port() == 0) {
		d.LocalAddr = net.TCPAddrFromAddrPort(src)
	}
	if iface := p.cfg.SourceInterface; iface != "" {
		d.Control = bindToDevice(iface)
	}
	if ut := p.cfg.UserTimeout; ut > 0 {
		d.Control = userTimeout(d.Control, ut)
	}
	if !o.quickAck {
		// As HAProxy unless an expect comes right after the connect: a
		// check that only connects resets before the server accepts.
		d.Control = delayAck(d.Control)
	}
	if p.cfg.Timeout == 0 {
		d.Deadline = p.start.Add(p.cfg.Inter)
	}
	dialTo := addr
	viaSocks := o.socks4 && p.cfg.Socks4 != ""
	if viaSocks {
		dialTo = p.cfg.Socks4
	}
	conn, err := d.DialContext(ctx, "tcp", dialTo)
	if err == nil && viaSocks {
		dst, perr := netip.ParseAddrPort(addr)
		if perr != nil {
			err = socks4.ErrNotIPv4
		} else {
			err = socks4.Connect(conn, dst, dialStart.Add(p.connectTimeout()))
		}
		if err != nil {
			conn.Close()
			if isTimeout(err) {
				return Result{Status: StatusL4Tout, Info: suffix}, false
			}
			return Result{Status: StatusL4Con, Info: strings.SplitN(err.Error(), "\n", 2)[0] + suffix}, false
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return Result{Status: StatusUnknown}, false
		}
		if isTimeout(err) {
			return Result{Status: StatusL4Tout, Info: suffix}, false
		}
		return Result{Status: StatusL4Con, Info: errText(err) + suffix}, false
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		// HAProxy closes check connections with a reset so that frequent
		// checks leave no TIME_WAIT sockets behind.
		tc.SetLinger(0)
	}
	p.conn = conn
	conn.SetDeadline(p.readDeadline())
	p.unwatch = context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	var hdr []byte
	switch {
	case o.proxyV2:
		hdr = proxyV2Local
	case o.proxy:
		hdr = proxyV1Line(conn.LocalAddr(), conn.RemoteAddr())
	}
	if hdr != nil {
		if _, err := conn.Write(hdr); err != nil {
			return p.ioFailure(err, suffix), false
		}
	}
	if tlsc != nil {
		return p.handshake(ctx, tlsc, dialStart, suffix)
	}
	return Result{}, true
}

// handshake makes the TLS handshake of a check within the connect
// timeout counted from dialStart (HAProxy's connection is established
// once its TLS layer is), and replaces p.conn with the TLS connection.
// Its failures are HAProxy's: L6TOUT, or L6RSP with "SSL handshake
// failure" or the certificate name mismatch.
func (p *prober) handshake(ctx context.Context, tlsc *tls.Config, dialStart time.Time, suffix string) (Result, bool) {
	raw := p.conn
	dl := p.readDeadline()
	if hd := dialStart.Add(p.connectTimeout()); hd.Before(dl) {
		dl = hd
	}
	raw.SetDeadline(dl)
	tc := tls.Client(raw, tlsc)
	err := tc.HandshakeContext(ctx)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return Result{Status: StatusUnknown}, false
		case isTimeout(err):
			return Result{Status: StatusL6Tout, Info: suffix}, false
		}
		return Result{Status: StatusL6Rsp, Info: tlsconf.CheckInfo(err) + suffix}, false
	}
	raw.SetDeadline(p.readDeadline())
	p.conn = tc
	return Result{}, true
}

// proxyV2Local is a PROXY protocol v2 header with the LOCAL command, which
// a check sends since it relays no client (PROXY protocol spec §2.2); it
// is what HAProxy 2.6.12 sends on the checks of a send-proxy-v2 server.
var proxyV2Local = []byte("\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00")

// proxyV1Line is the PROXY v1 header of a check connection (PROXY protocol
// spec §2.1). HAProxy 2.6 describes the check connection itself: it
// sent "PROXY TCP4 127.0.0.1 127.0.0.1 50996 31007\r\n" from local port
// 50996 to a server on port 31007, not "PROXY UNKNOWN".
func proxyV1Line(local, remote net.Addr) []byte {
	l, ok1 := local.(*net.TCPAddr)
	r, ok2 := remote.(*net.TCPAddr)
	if !ok1 || !ok2 {
		return []byte("PROXY UNKNOWN\r\n")
	}
	la, ra := l.AddrPort(), r.AddrPort()
	fam := "TCP6"
	switch {
	case la.Addr().Is4() && ra.Addr().Is4():
		fam = "TCP4"
	case la.Addr().Is4() || ra.Addr().Is4():
		return []byte("PROXY UNKNOWN\r\n")
	}
	return fmt.Appendf(nil, "PROXY %s %s %s %d %d\r\n", fam,
		la.Addr().WithZone(""), ra.Addr().WithZone(""), la.Port(), ra.Port())
}

// CheckProxyVersion returns the PROXY protocol version HAProxy 2.6 sends
// at the start of a server's check connections: 0 for none, 2 when the
// server has send-proxy-v2, else 1. It sends one with check-send-proxy,
// and also, without it, for a server that sends one to its traffic
// (send-proxy or send-proxy-v2) and checks its traffic address (neither a
// "port" nor an "addr" for checks), since the checks then go where the
// traffic goes.
func CheckProxyVersion(checkSendProxy, sendProxy, sendProxyV2, checkPortOrAddr bool) int {
	if !checkSendProxy && (checkPortOrAddr || !(sendProxy || sendProxyV2)) {
		return 0
	}
	if sendProxyV2 {
		return 2
	}
	return 1
}

// ioFailure classifies a read or write error after connect.
func (p *prober) ioFailure(err error, suffix string) Result {
	if isTimeout(err) {
		return Result{Status: StatusL7Tout, Info: suffix}
	}
	return Result{Status: StatusSockErr, Info: errText(err) + suffix}
}

// fill reads once more into p.buf; it returns an I/O error other than EOF.
func (p *prober) fill() error {
	if len(p.buf) >= bufSize {
		return nil
	}
	if cap(p.buf) < bufSize {
		nb := make([]byte, len(p.buf), bufSize)
		copy(nb, p.buf)
		p.buf = nb
	}
	n, err := p.conn.Read(p.buf[len(p.buf):bufSize])
	p.buf = p.buf[:len(p.buf)+n]
	if errors.Is(err, io.EOF) {
		p.eof = true
		return nil
	}
	if err != nil && !isTimeout(err) && len(p.buf) > 0 {
		// As HAProxy (tcpcheck_eval_recv): a network error after data is
		// the end of the data, which the rule then judges; it is very
		// common that a server's reset follows its last bytes.
		p.eof = true
		return nil
	}
	return err
}

// full reports whether no more data can be expected.
func (p *prober) full() bool { return p.eof || len(p.buf) >= bufSize }

func (p *prober) tcpCheck(ctx context.Context) Result {
	rules := p.cfg.TCPCheck
	// Variables may come before the first connect.
	first := slices.IndexFunc(rules, func(r Rule) bool { return r.Action != ActVar })
	if first < 0 || rules[first].Action != ActConnect {
		p.serverFirst = first >= 0 && rules[first].Action == ActExpect
		if r, ok := p.connect(ctx, p.cfg.Addr, " at initial connection step of tcp-check", p.cfg.TLS); !ok {
			return r
		}
	}
	layer7 := false
	var last *Rule
	for i := range rules {
		rule := &rules[i]
		step := rule.Step
		if step == 0 {
			step = i + 1
		}
		switch rule.Action {
		case ActConnect:
			// HAProxy's get_next_tcpcheck_rule: comments are no rules.
			p.serverFirst = i+1 < len(rules) && rules[i+1].Action == ActExpect
			if r, ok := p.connectRule(ctx, rule, step); !ok {
				return r
			}
		case ActVar:
			rule.Var(p.state)
		case ActSend:
			layer7 = true
			p.buf, p.eof = p.buf[:0], false
			data := rule.Data
			if rule.Format != nil {
				var ok bool
				if data, ok = p.format(rule); !ok {
					return Result{Status: StatusL7Rsp, Info: fmt.Sprintf("tcp-check send : failed to build log-format string at step %d", step)}
				}
			}
			if _, err := p.conn.Write(data); err != nil {
				return p.ioFailure(err, fmt.Sprintf(" at step %d of tcp-check (send)", step))
			}
		case ActExpect:
			layer7 = true
			last = rule
			r := *rule
			if rule.Format != nil {
				// HAProxy's own reasons, the comment after them, and
				// L7RSP whatever error-status says.
				info := ""
				var ok bool
				if r.Data, ok = p.format(rule); !ok {
					info = "Failed to parse hexastring resulting of eval of a log-format string"
				} else if len(r.Data) == 0 {
					info = "log-format string evaluated to an empty string"
				}
				if info != "" {
					if rule.Comment != "" {
						info += " comment: " + rule.Comment
					}
					return Result{Status: StatusL7Rsp, Info: info, Code: p.statusCode(&rule.ExpectOpts, 0)}
				}
			}
			if r, ok := p.expect(r, step); !ok {
				return r
			}
		}
	}
	if !layer7 {
		return p.connected()
	}
	r := Result{Status: StatusL7OK, Info: "(tcp-check)"}
	if last != nil {
		if last.OKStatus != StatusUnknown {
			r.Status = last.OKStatus
		}
		if last.OnSuccess != "" {
			r.Info = last.OnSuccess
		}
		r.Code = p.statusCode(&last.ExpectOpts, 0)
	}
	return r
}

// statusCode is the check's code after an expect rule with options o
// decided the check: its status-code's value when it has one, else code.
func (p *prober) statusCode(o *ExpectOpts, code int) int {
	if o.StatusCode != nil {
		if v, ok := o.StatusCode(p.state); ok {
			return int(v)
		}
	}
	return code
}

// connectRule runs a tcp-check connect rule: to its addr and port (the
// server's check address otherwise), with TLS, a PROXY header and the
// SOCKS4 proxy as its options say, or as the server's check settings say
// with "default". Its failures name the step and the port, as HAProxy's.
func (p *prober) connectRule(ctx context.Context, rule *Rule, step int) (Result, bool) {
	addr := p.cfg.Addr
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return Result{Status: StatusSockErr, Info: errText(err)}, false
	}
	if rule.Addr != "" {
		host = rule.Addr
	}
	desc := "connect"
	if rule.Port > 0 {
		port = strconv.Itoa(rule.Port)
		desc += " port " + port
	} else if rule.PortExpr != nil {
		// As HAProxy's set_host_port, the value is cut to 16 bits; none,
		// or 0, leaves the check's port. The step's description has no
		// port, as HAProxy's for an expression.
		if v, ok := rule.PortExpr(p.state); ok && uint16(v) != 0 {
			port = strconv.Itoa(int(uint16(v)))
		}
	}
	addr = net.JoinHostPort(host, port)
	suffix := fmt.Sprintf(" at step %d of tcp-check (%s)", step, desc)
	if rule.Comment != "" {
		suffix += " comment: '" + rule.Comment + "'"
	}
	if p.cfg.Kind == KindHTTP {
		// HAProxy's chk_report_conn_err names the step of tcp-check
		// rules only.
		suffix = ""
	}
	if rule.Default {
		return p.connect(ctx, addr, suffix, p.cfg.TLS)
	}
	var tlsc *tls.Config
	if rule.SSL {
		tlsc = p.cfg.RuleTLS
		if tlsc == nil {
			tlsc = &tls.Config{InsecureSkipVerify: true}
		}
		tlsc = tlsc.Clone()
		if rule.SNI != "" {
			tlsc.ServerName = rule.SNI
		}
		if rule.ALPN != nil {
			tlsc.NextProtos = rule.ALPN
		}
	}
	// check-send-proxy applies to every connect rule, as in HAProxy.
	return p.dial(ctx, addr, suffix, tlsc, connOpts{proxy: rule.SendProxy || p.cfg.SendProxy, proxyV2: p.cfg.SendProxyV2, socks4: rule.ViaSocks4, quickAck: p.serverFirst})
}

// expect waits until rule matches the received data or cannot match any
// more (at least MinRecv bytes, or as many as the pattern, unless the
// server closed); ok is false with the failure, in HAProxy's words, its
// statuses replaced by the rule's error-status and tout-status, its info
// by on-error, with the comment appended.
func (p *prober) expect(rule Rule, step int) (Result, bool) {
	fail := func(st Status, info string) (Result, bool) {
		if rule.ErrStatus != StatusUnknown {
			st = rule.ErrStatus
		}
		if rule.OnError != "" {
			info = rule.OnError
		}
		if rule.Comment != "" {
			info += " comment: " + rule.Comment
		}
		return Result{Status: st, Info: info, Code: p.statusCode(&rule.ExpectOpts, 0)}, false
	}
	for {
		enough := len(p.buf) >= max(rule.MinRecv, 0) &&
			(rule.Match != MatchString && rule.Match != MatchBinary || len(p.buf) >= len(rule.Data))
		matched := enough && matchData(rule, p.buf)
		switch {
		case matched && !rule.Negate:
			return Result{}, true
		case matched && rule.Negate:
			return fail(StatusL7Rsp, fmt.Sprintf("TCPCHK matched unwanted content %s at step %d", matchDesc(rule), step))
		case p.full() && rule.Negate:
			return Result{}, true
		case p.full() && len(p.buf) == 0:
			info := fmt.Sprintf("TCPCHK got an empty response at step %d", step)
			if rule.Comment != "" {
				info += " comment: '" + rule.Comment + "'"
			}
			st := StatusL7Rsp
			if rule.ErrStatus != StatusUnknown {
				st = rule.ErrStatus
			}
			return Result{Status: st, Info: info}, false
		case p.full():
			return fail(StatusL7Rsp, fmt.Sprintf("TCPCHK did not match content %s at step %d", matchDesc(rule), step))
		}
		if err := p.fill(); err != nil {
			if isTimeout(err) && rule.Negate && len(p.buf) > 0 {
				return Result{}, true
			}
			r := p.ioFailure(err, fmt.Sprintf(" at step %d of tcp-check (%s)", step, expectDesc(rule)))
			if r.Status == StatusL7Tout && rule.ToutStatus != StatusUnknown {
				r.Status = rule.ToutStatus
			}
			return r, false
		}
	}
}

// format evaluates rule's log-format on the run's state, and decodes it
// from hex for the -binary-lf forms; ok is false when that fails. The
// result is valid until the next call.
func (p *prober) format(rule *Rule) (data []byte, ok bool) {
	p.lf = rule.Format(p.lf[:0], p.state)
	if !rule.Hex {
		return p.lf, true
	}
	n, err := hex.Decode(p.lf, p.lf)
	if err != nil {
		return nil, false
	}
	return p.lf[:n], true
}

func matchData(rule Rule, data []byte) bool {
	switch rule.Match {
	case MatchString, MatchBinary:
		return len(data) > 0 && bytes.Contains(data, rule.Data)
	case MatchRString:
		return rule.Regexp.Match(data)
	case MatchRBinary:
		return rule.Regexp.MatchString(strings.ToUpper(hex.EncodeToString(data)))
	}
	return false
}

// matchDesc is how HAProxy names the pattern in a mismatch message.
func matchDesc(rule Rule) string {
	switch {
	case rule.Format != nil && rule.Match == MatchBinary:
		return "(log-format binary)"
	case rule.Format != nil:
		return "(log-format string)"
	}
	switch rule.Match {
	case MatchString:
		return "'" + printable(rule.Data) + "'"
	case MatchBinary:
		return "(binary)"
	case MatchRBinary:
		return "(binary regex)"
	}
	return "(regex)"
}

// expectDesc describes an expect rule in timeout and error messages.
func expectDesc(rule Rule) string {
	neg := ""
	if rule.Negate {
		neg = "! "
	}
	switch rule.Match {
	case MatchString:
		return "expect " + neg + "string '" + printable(rule.Data) + "'"
	case MatchBinary:
		return "expect " + neg + "binary '" + printable(rule.Data) + "'"
	case MatchRBinary:
		return "expect " + neg + "binary regex"
	}
	return "expect " + neg + "regex"
}

// printable escapes control and non-ASCII bytes as \xHH.
func printable(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			fmt.Fprintf(&sb, "\\x%02x", c)
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// httpRequest renders the check request.
func httpRequest(h *HTTPRequest) []byte {
	return appendHTTPRequest(nil, h, nil)
}

// appendHTTPRequest appends the check request to dst, its log-formats
// evaluated on the run's state.
func appendHTTPRequest(dst []byte, h *HTTPRequest, run any) []byte {
	b := bytes.NewBuffer(dst)
	uri := []byte(h.URI)
	if h.URIFormat != nil {
		uri = h.URIFormat(nil, run)
	}
	fmt.Fprintf(b, "%s %s %s\r\n", h.Method, uri, h.Version)
	hasConn := false
	for i, kv := range h.Headers {
		name := strings.ToLower(kv[0])
		hasConn = hasConn || name == "connection"
		if i < len(h.HeaderFormats) && h.HeaderFormats[i] != nil {
			fmt.Fprintf(b, "%s: %s\r\n", name, h.HeaderFormats[i](nil, run))
			continue
		}
		fmt.Fprintf(b, "%s: %s\r\n", name, kv[1])
	}
	body := []byte(h.Body)
	if h.BodyFormat != nil {
		body = h.BodyFormat(nil, run)
	}
	if len(body) > 0 {
		fmt.Fprintf(b, "content-length: %d\r\n", len(body))
	}
	// HAProxy's HTTP/1 mux adds its "connection: close" at the end of the
	// head, after the content-length of the check's body.
	if !hasConn && h.Version == "HTTP/1.1" {
		b.WriteString("connection: close\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// request is the bytes of the check request h: built once when nothing in
// it is formatted, else at each run.
func (p *prober) request(h *HTTPRequest) []byte {
	if !h.dynamic() {
		return httpRequest(h)
	}
	return appendHTTPRequest(nil, h, p.state)
}

func (p *prober) httpCheck() Result {
	if _, err := p.conn.Write(p.request(&p.cfg.HTTP)); err != nil {
		return p.ioFailure(err, "")
	}
	return p.httpExpect(&p.cfg.Expect)
}

// httpSequence runs the http-check rules of Config.HTTPSteps in order: a
// connect opens a new connection (an implicit one first when the rules do
// not begin with one), a send writes its request, an expect evaluates the
// response to it; the result is the first failure, else the last expect's.
func (p *prober) httpSequence(ctx context.Context) Result {
	steps := p.cfg.HTTPSteps
	// Variables may come before the first connect.
	if i := slices.IndexFunc(steps, func(s HTTPStep) bool { return s.Var == nil }); i < 0 || steps[i].Connect == nil {
		if r, ok := p.connect(ctx, p.cfg.Addr, "", p.cfg.TLS); !ok {
			return r
		}
	}
	var last Result
	for _, st := range steps {
		switch {
		case st.Connect != nil:
			if r, ok := p.connectRule(ctx, st.Connect, st.Connect.Step); !ok {
				return r
			}
		case st.Var != nil:
			st.Var(p.state)
		case st.Send != nil:
			p.buf, p.eof = p.buf[:0], false
			if _, err := p.conn.Write(p.request(st.Send)); err != nil {
				return p.ioFailure(err, "")
			}
		case st.Expect != nil:
			if last = p.httpExpect(st.Expect); !last.Status.Passed() {
				return last
			}
		}
	}
	return last
}

// httpExpect evaluates the response to the request sent with exp and its
// options.
func (p *prober) httpExpect(exp *Expect) Result {
	r := p.httpResult(exp)
	if exp.Match == MatchNone {
		return r
	}
	// The expect rule's options, as tcpcheck_eval_expect_http: a timeout
	// takes tout-status; a success ok-status and on-success; a failure
	// error-status, on-error for its info, and the comment after it.
	switch {
	case r.Status == StatusL7Tout:
		if exp.ToutStatus != StatusUnknown {
			r.Status = exp.ToutStatus
		}
	case r.Status.Passed():
		if exp.OKStatus != StatusUnknown {
			r.Status = exp.OKStatus
		}
		if exp.OnSuccess != "" {
			r.Info = exp.OnSuccess
		}
		r.Code = p.statusCode(&exp.ExpectOpts, r.Code)
	case r.Code != 0:
		if exp.ErrStatus != StatusUnknown {
			r.Status = exp.ErrStatus
		}
		if exp.OnError != "" {
			r.Info = exp.OnError
		}
		if exp.Comment != "" {
			r.Info += " comment: " + exp.Comment
		}
		r.Code = p.statusCode(&exp.ExpectOpts, r.Code)
	}
	return r
}

// httpResult evaluates the response with the expect rule exp, without its
// options.
func (p *prober) httpResult(exp *Expect) Result {
	// Read the status line and headers.
	var end int
	for {
		if end = bytes.Index(p.buf, []byte("\r\n\r\n")); end >= 0 {
			end += 4
			break
		}
		if p.full() {
			return Result{Status: StatusL7Rsp}
		}
		if err := p.fill(); err != nil {
			return p.ioFailure(err, "")
		}
	}
	code, reason, ok := parseStatusLine(p.buf[:end])
	if !ok {
		return Result{Status: StatusL7Rsp}
	}
	if code == 404 && p.cfg.DisableOn404 && !p.serverDown {
		// disable-on-404 has precedence over the expect rule, and HAProxy
		// gives no info with it ("code: 404, check duration: 1ms").
		return Result{Status: StatusL7OKC, Code: code}
	}
	pass := false
	switch exp.Match {
	case MatchNone:
		pass = code >= 200 && code < 400
	case MatchStatus:
		for _, r := range exp.Codes {
			pass = pass || (code >= r.Lo && code <= r.Hi)
		}
	case MatchRStatus:
		pass = exp.Regexp.MatchString(strconv.Itoa(code))
	case MatchHeader:
		pass = headerMatches(&exp.Hdr, p.buf[:end])
	case MatchString, MatchRString:
		return p.httpBody(exp, code, end)
	}
	if pass != exp.Negate {
		return Result{Status: StatusL7OK, Code: code}
	}
	return Result{Status: StatusL7Sts, Code: code, Info: reason}
}

// headerMatches reports whether a header of the response head matches h,
// as HAProxy's http_find_*_header: each comma-separated value of the
// fields whose name matches (whole lines with Full) is tried against the
// value pattern.
func headerMatches(h *HeaderMatch, head []byte) bool {
	lines := strings.Split(string(head), "\r\n")
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		if !matchPattern(h.NameMeth, strings.ToLower(name), strings.ToLower(h.Name), h.NameRe) {
			continue
		}
		if !h.HasValue {
			return true
		}
		values := []string{strings.TrimSpace(value)}
		if !h.Full {
			values = strings.Split(value, ",")
		}
		for _, v := range values {
			if matchPattern(h.ValueMeth, strings.TrimSpace(v), h.Value, h.ValueRe) {
				return true
			}
		}
	}
	return false
}

// matchPattern matches s with pat by method meth (str, beg, end, sub,
// reg).
func matchPattern(meth, s, pat string, re *regexp.Regexp) bool {
	switch meth {
	case "beg":
		return strings.HasPrefix(s, pat)
	case "end":
		return strings.HasSuffix(s, pat)
	case "sub":
		return strings.Contains(s, pat)
	case "reg":
		return re.MatchString(s)
	}
	return s == pat
}

// httpBody reads the body (up to EOF, content-length or the buffer size)
// and matches it, once it has min-recv bytes.
func (p *prober) httpBody(exp *Expect, code, hdrEnd int) Result {
	clen := contentLength(p.buf[:hdrEnd])
	pat := exp.String
	if exp.Format != nil {
		if pat = string(exp.Format(nil, p.state)); pat == "" {
			return Result{Status: StatusL7Rsp, Code: code, Info: "log-format string evaluated to an empty string"}
		}
	}
	for {
		body := p.buf[hdrEnd:]
		var found bool
		if exp.Match == MatchString {
			found = strings.Contains(string(body), pat)
		} else {
			found = exp.Regexp.Match(body)
		}
		done := p.full() || (clen >= 0 && len(body) >= clen)
		if !done && len(body) < exp.MinRecv {
			found = false
		}
		switch {
		case found && exp.Negate:
			return Result{Status: StatusL7Rsp, Code: code, Info: "HTTP check matched unwanted content"}
		case found:
			return Result{Status: StatusL7OK, Code: code}
		case done && exp.Negate:
			return Result{Status: StatusL7OK, Code: code}
		case done:
			return Result{Status: StatusL7Rsp, Code: code, Info: "HTTP content check did not match"}
		}
		if err := p.fill(); err != nil {
			return p.ioFailure(err, "")
		}
	}
}

// sslHello is option ssl-hello-chk, HAProxy's ruleset: send an SSLv3
// ClientHello, then expect at least 5 bytes (a TLS record header) starting
// with the handshake (0x16) or alert (0x15) content type, with the layer 6
// statuses.
func (p *prober) sslHello() Result {
	if _, err := p.conn.Write(sslv3ClientHello(time.Now())); err != nil {
		return p.ioFailure(err, "")
	}
	for len(p.buf) < 5 && !p.full() {
		if err := p.fill(); err != nil {
			if isTimeout(err) {
				return Result{Status: StatusL6Tout}
			}
			return Result{Status: StatusSockErr, Info: errText(err)}
		}
	}
	if len(p.buf) >= 5 && (p.buf[0] == 0x15 || p.buf[0] == 0x16) {
		return Result{Status: StatusL6OK}
	}
	return Result{Status: StatusL6Rsp}
}

// sslv3ClientHello is the record ssl-hello-chk sends, as HAProxy's: an SSLv3
// ClientHello (RFC 6101 §5.6.1.2) with the current time, a fixed random,
// no session, the 39 most common cipher suites (0x0001-0x001B and
// 0x002F-0x003A) and the null compression method.
func sslv3ClientHello(now time.Time) []byte {
	var suites []byte
	for c := 0x01; c <= 0x3a; c++ {
		if c <= 0x1b || c >= 0x2f {
			suites = append(suites, 0, byte(c))
		}
	}
	body := []byte{0x03, 0x00} // client version
	t := uint32(now.Unix())
	body = append(body, byte(t>>24), byte(t>>16), byte(t>>8), byte(t))
	body = append(body, "lb-ssl-hello-chk-random-0001"...) // the 28 random bytes: any will do
	body = append(body, 0)                                 // no session id
	body = append(body, 0, byte(len(suites)))
	body = append(body, suites...)
	body = append(body, 1, 0) // one compression method: null
	hs := append([]byte{0x01, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{0x16, 0x03, 0x00, byte(len(hs) >> 8), byte(len(hs))}, hs...)
}

// parseStatusLine reads "HTTP/1.x NNN reason" from the response head.
func parseStatusLine(head []byte) (code int, reason string, ok bool) {
	line, _, _ := bytes.Cut(head, []byte("\r\n"))
	s := string(line)
	if !strings.HasPrefix(s, "HTTP/") {
		return 0, "", false
	}
	_, rest, ok := strings.Cut(s, " ")
	if !ok {
		return 0, "", false
	}
	num, reason, _ := strings.Cut(rest, " ")
	code, err := strconv.Atoi(num)
	if err != nil || len(num) != 3 {
		return 0, "", false
	}
	return code, reason, true
}

// contentLength returns the response's Content-Length, or -1.
func contentLength(head []byte) int {
	for _, line := range strings.Split(string(head), "\r\n")[1:] {
		name, val, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "content-length") {
			if n, err := strconv.Atoi(strings.TrimSpace(val)); err == nil && n >= 0 {
				return n
			}
		}
	}
	return -1
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// errText renders err as HAProxy does: the C library's strerror text
// ("Connection refused"), which Go spells in lower case.
func errText(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return capitalize(errno.Error())
	}
	return capitalize(err.Error())
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
