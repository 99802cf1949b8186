package logs

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// httpSuffix ends the log-format of the frontends TestHTTPLogAgainstHAProxy
// reads back: the values of the transaction that no client can know (timers,
// counters, the server side's addresses), from which the test rebuilds the
// record. It holds no '|', so that the last '|' of a line starts it.
const httpSuffix = "|%{-Q}o%Ts %ms %Th %Ti %TR %Tw %Tc %Tr %Tt %B %U %ts %ac %fc %bc %sc %rc %sq %bq %rt %lc %bi %bp %si %sp %b %s"

// httpAllVars prints every HTTP variable, with and without flags, and the
// TCP ones whose meaning changes in mode http.
const httpAllVars = `%r|%{+Q}r|%{+E}r|%{+Q,+E}r|%HM|%HU|%HP|%HPO|%HQ|%HV|` +
	`%{+Q}HM|%{+Q}HU|%{+Q}HP|%{+Q}HPO|%{+Q}HQ|%{+Q}HV|%{+E}HU|%{-M}HQ|` +
	`%ST|%Ti|%Tq|%TR|%Tr|%Ta|%Tt|%Tu|%Td|%Th|%Tw|%Tc|%tr|%trg|%trl|%t|%T|%Tl|%Ts|%ms|` +
	`%CC|%CS|%{+Q}CC|%{-M}CS|%{+E}CC|%tsc|%ts|` +
	`%hr|%hrl|%hs|%hsl|%{+Q}hr|%{+Q}hrl|%{+Q}hs|%{+Q}hsl|%{+E}hr|%{+E,+Q}hrl|` +
	`%ID|%{+Q}ID|%B|%U|%b|%s|%f|%ft|%ci:%cp|%fi:%fp`

// httpCase is one connection to a frontend of TestHTTPLogAgainstHAProxy.
type httpCase struct {
	name string
	// reqs are the requests sent one after the other on the connection
	// (keep-alive), each read back to its response's end. A request
	// without "\r\n\r\n" (or none) is a truncated one: the client
	// half-closes after it and reads what HAProxy answers.
	reqs []string
	// idle is the client's wait before each request but the first.
	idle time.Duration
}

var httpCases = []httpCase{
	{name: "get-query", reqs: []string{"GET /a/b?x=1&y=\"2\"&z=caf\xc3\xa9 HTTP/1.1\r\nHost: www.example.com:8080\r\nX-Foo: ab{c|d}ef\"gh\r\nConnection: close\r\n\r\n"}},
	{name: "escapes", reqs: []string{"GET /%23x?a#b HTTP/1.1\r\nHost: a\"\\]{}\r\nX-Foo: \x01\x7f\xc3|}x\r\nConnection: close\r\n\r\n"}},
	{name: "chunked", reqs: []string{"PUT /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"}},
	{name: "post", reqs: []string{"POST /post/it HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\nhello=world"}},
	{name: "404", reqs: []string{"GET /404?q HTTP/1.1\r\nHost: h\r\nX-Foo: \r\nConnection: close\r\n\r\n"}},
	{name: "absolute", reqs: []string{"GET http://example.com:81/abs/p?q=1 HTTP/1.1\r\nHost: example.com:81\r\nConnection: close\r\n\r\n"}},
	{name: "authority", reqs: []string{"GET http://example.com HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"}},
	{name: "http10", reqs: []string{"GET /v10 HTTP/1.0\r\n\r\n"}},
	{name: "noresponse", reqs: []string{"GET /close HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"}},
	{name: "keepalive", idle: 15 * time.Millisecond,
		reqs: []string{"GET /slow HTTP/1.1\r\nHost: h\r\n\r\n", "HEAD /two?x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"}},
	{name: "badreq", reqs: []string{"GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n"}},
	{name: "partial", reqs: []string{"GET /partial HTTP/1.1\r\nHost: h\r\n"}},
	{name: "empty", reqs: []string{""}},
}

// httpServer serves the backend of TestHTTPLogAgainstHAProxy: 404 under
// /404, a closed connection without a response under /close, else 200.
func httpServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch {
		case strings.HasPrefix(r.URL.Path, "/close"):
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				c.Close()
			}
			return
		case strings.HasPrefix(r.URL.Path, "/slow"):
			time.Sleep(20 * time.Millisecond) // a response time to log
		case strings.HasPrefix(r.URL.Path, "/chunked"):
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "hello\n")
			http.NewResponseController(w).Flush()
			io.WriteString(w, "world\n")
			return
		case strings.HasPrefix(r.URL.Path, "/404"):
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(404)
			io.WriteString(w, "not here\n")
			return
		}
		w.Header().Set("Content-Type", "text/html; \"charset\"={utf-8|x}")
		io.WriteString(w, "hello\n")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// recordingReader keeps what it reads.
type recordingReader struct {
	r   io.Reader
	buf bytes.Buffer
}

func (c *recordingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.buf.Write(p[:n])
	return n, err
}

// httpResult is what the client saw of one request.
type httpResult struct {
	// sent and received are the bytes of the request and of its response;
	// htxIn and htxOut what HAProxy counts of them (HTXSize).
	sent, received int64
	htxIn, htxOut  int64
	status         int
	contentType    []byte // nil without the header
}

// wireHTXSize parses an HTTP/1 message as sent on the wire and returns
// HTXSize of it: the three words of its start line, its header fields but
// Connection (which HAProxy drops), its payload without the chunk framing.
func wireHTXSize(t *testing.T, msg []byte, noBody bool) int64 {
	t.Helper()
	head, body, ok := bytes.Cut(msg, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("message %q has no end of head", msg)
	}
	lines := strings.Split(string(head), "\r\n")
	w := strings.SplitN(lines[0], " ", 3)
	if len(w) == 2 {
		w = append(w, "")
	}
	startLine := len(w[0]) + len(w[1]) + len(w[2])
	fields, chunked := 0, false
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		v = strings.Trim(v, " \t")
		if strings.EqualFold(k, "Connection") {
			continue
		}
		if strings.EqualFold(k, "Transfer-Encoding") && strings.EqualFold(v, "chunked") {
			chunked = true
		}
		fields += len(k) + len(v)
	}
	payload := int64(len(body))
	if noBody {
		payload = 0
	} else if chunked {
		payload = 0
		br := bufio.NewReader(bytes.NewReader(body))
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("chunked body %q: %v", body, err)
			}
			n, err := strconv.ParseInt(strings.TrimSpace(l), 16, 64)
			if err != nil {
				t.Fatalf("chunk size %q: %v", l, err)
			}
			if n == 0 {
				break
			}
			payload += n
			br.Discard(int(n) + 2)
		}
	}
	return HTXSize(startLine, fields, payload, chunked)
}

// runHTTPCase makes the connection of c to addr and returns its client
// address and what it saw of each request.
func runHTTPCase(t *testing.T, addr string, c httpCase) (netip.AddrPort, []httpResult) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	client := netip.MustParseAddrPort(conn.LocalAddr().String())
	cr := &recordingReader{r: conn}
	br := bufio.NewReader(cr)
	var out []httpResult
	for i, req := range c.reqs {
		if i > 0 {
			time.Sleep(c.idle) // an idle time to log
		}
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		before := cr.buf.Len() - br.Buffered()
		res := httpResult{sent: int64(len(req))}
		if strings.Contains(req, "\r\n\r\n") {
			res.htxIn = wireHTXSize(t, []byte(req), false)
		}
		if !strings.Contains(req, "\r\n\r\n") {
			conn.(*net.TCPConn).CloseWrite()
		}
		method, _, _ := strings.Cut(req, " ")
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err == nil {
			res.status = resp.StatusCode
			if v, ok := resp.Header["Content-Type"]; ok {
				res.contentType = []byte(v[0])
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if !strings.Contains(req, "\r\n\r\n") || resp == nil || resp.Close {
			io.Copy(io.Discard, br)
		}
		after := cr.buf.Len() - br.Buffered()
		res.received = int64(after - before)
		if res.status != 0 {
			res.htxOut = wireHTXSize(t, cr.buf.Bytes()[before:after], method == "HEAD")
		}
		out = append(out, res)
	}
	return client, out
}

// TestHTTPLogAgainstHAProxy runs HAProxy 2.6 in mode http on loopback,
// logging to a UDP socket of the test, makes the connections of httpCases
// through frontends with "option httplog", a log-format of every HTTP
// variable, the CLF format, and "option dontlognull", and checks that lb
// prints the same bytes from the record of each transaction: what the
// client knows (its port, the request line, the status, the bytes it
// received, the captured headers), the rest (timers, counters) read from
// HAProxy's line. It is skipped when haproxy is not installed.
func TestHTTPLogAgainstHAProxy(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/haproxy"); err2 != nil {
			t.Skip("haproxy not installed")
		}
		bin = "/usr/sbin/haproxy"
	}
	logConn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer logConn.Close()
	lines := make(chan string, 64)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := logConn.ReadFrom(buf)
			if err != nil {
				close(lines)
				return
			}
			lines <- strings.TrimSuffix(string(buf[:n]), "\n")
		}
	}()
	srv := httpServer(t)
	ports := map[string]int{}
	for _, fe := range []string{"ready", "hl", "hx", "clf", "dn"} {
		ports[fe] = freePort(t)
	}
	const captures = "    capture request header Host len 20\n    capture request header X-Foo len 5\n" +
		"    capture response header Content-Type len 30\n"
	cfg := fmt.Sprintf(`global
    log %s len 8192 format raw local0
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout http-request 5s
    option accept-invalid-http-request
frontend ready
    bind 127.0.0.1:%d
    no log
    default_backend be
frontend hl
    bind 127.0.0.1:%d
    option httplog
%s    default_backend be
frontend hx
    bind 127.0.0.1:%d
    unique-id-format id-%%rt
    log-format %s
%s    default_backend be
frontend clf
    bind 127.0.0.1:%d
    log-format %s
%s    default_backend be
frontend dn
    bind 127.0.0.1:%d
    option httplog
    option dontlognull
    default_backend be
backend be
    server s1 %s
`, logConn.LocalAddr(), ports["ready"], ports["hl"], captures, ports["hx"], quoteCfg(httpAllVars+httpSuffix), captures,
		ports["clf"], quoteCfg(CLFHTTPLogFormat+httpSuffix), captures, ports["dn"], srv)
	path := filepath.Join(t.TempDir(), "h.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	cmd.Env = append(os.Environ(), "TZ="+goldenTZ)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", ports["ready"]))

	readLine := func(what string) string {
		t.Helper()
		select {
		case l := <-lines:
			return l
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no log line from haproxy within 5s\n%s", what, stderr.String())
		}
		return ""
	}
	capsOpt := LogFormatOptions{HTTP: true, ReqCaptures: 2, ResCaptures: 1}
	compile := func(src string, opt LogFormatOptions) *LogFormat {
		t.Helper()
		lf, err := CompileLogFormat(src, opt)
		if err != nil {
			t.Fatalf("CompileLogFormat(%q) = %v", src, err)
		}
		return lf
	}
	httplog := compile(DefaultHTTPLogFormat, capsOpt)
	allVars := compile(httpAllVars+httpSuffix, capsOpt)
	clf := compile(CLFHTTPLogFormat+httpSuffix, capsOpt)
	httplogNoCaps := compile(DefaultHTTPLogFormat, LogFormatOptions{HTTP: true})

	for _, fe := range []string{"hl", "hx", "clf"} {
		for _, c := range httpCases {
			t.Run(fe+"/"+c.name, func(t *testing.T) {
				client, results := runHTTPCase(t, fmt.Sprintf("127.0.0.1:%d", ports[fe]), c)
				for i, res := range results {
					line := readLine(c.name)
					t.Log(line)
					r := httpRecord(c, i, res, client, fe)
					r.Local = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(ports[fe]))
					var lf *LogFormat
					if fe == "hl" {
						fillFromHTTPLog(t, &r, line)
						lf = httplog
					} else {
						fillFromSuffix(t, &r, line)
						lf = allVars
						if fe == "clf" {
							lf = clf
						}
					}
					if got := string(lf.AppendFormat(nil, &r)); got != line {
						t.Errorf("request %d:\n got %s\nwant %s", i, got, line)
					}
				}
			})
		}
	}

	// dontlognull: a connection that sends nothing is not logged, one that
	// sends a part of a request is, as is a request.
	t.Run("dontlognull", func(t *testing.T) {
		addr := fmt.Sprintf("127.0.0.1:%d", ports["dn"])
		for _, c := range []httpCase{httpCases[len(httpCases)-1], httpCases[len(httpCases)-2], httpCases[0]} {
			client, results := runHTTPCase(t, addr, c)
			res := results[0]
			r := httpRecord(c, 0, res, client, "dn")
			if !ShouldLogHTTP(true, r.HTTP.Request, res.sent) {
				continue // the next line must be the next case's
			}
			if !ShouldLogHTTP(false, r.HTTP.Request, res.sent) {
				t.Fatalf("%s: not logged without dontlognull", c.name)
			}
			line := readLine(c.name)
			fillFromHTTPLog(t, &r, line)
			if got := string(httplogNoCaps.AppendFormat(nil, &r)); got != line {
				t.Errorf("%s:\n got %s\nwant %s", c.name, got, line)
			}
		}
		if ShouldLogHTTP(true, nil, 0) {
			t.Error("ShouldLogHTTP(true, nil, 0) = true")
		}
	})
	select {
	case l := <-lines:
		t.Errorf("unexpected log line %q", l)
	default:
	}
}

// httpRecord is the record lb's HTTP plane makes of request i of c, from
// what the client knows; the rest is read from HAProxy's line.
func httpRecord(c httpCase, i int, res httpResult, client netip.AddrPort, fe string) TCPLog {
	req := c.reqs[i]
	head, _, complete := strings.Cut(req, "\r\n\r\n")
	r := TCPLog{
		Client: client, Frontend: fe, Backend: "be", Server: "s1",
		Bytes: res.htxOut, BytesIn: res.htxIn,
		HTTP: HTTPLog{Set: true, Status: res.status},
	}
	hdrs := strings.Split(head, "\r\n")
	// A request HAProxy could not parse has no line, hence no stream,
	// whatever the record holds.
	if complete && !strings.Contains(req, "Content-Length: abc") {
		r.HTTP.Request = []byte(hdrs[0])
	}
	if len(r.HTTP.Request) == 0 {
		r.Backend, r.Server = fe, ""
	}
	if strings.HasPrefix(req, "GET /close") {
		r.HTTP.Status = 502 // HAProxy's own response
	}
	capture := func(name string, n int) []byte {
		for _, h := range hdrs[1:] {
			if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(k, name) {
				v = strings.TrimSpace(v)
				return []byte(v[:min(n, len(v))])
			}
		}
		return nil
	}
	r.HTTP.ReqCaptures = [][]byte{capture("Host", 20), capture("X-Foo", 5)}
	ct := res.contentType
	if ct != nil && len(ct) > 30 {
		ct = ct[:30]
	}
	if strings.HasPrefix(req, "GET /close") {
		ct = nil // HAProxy's 502 is not the server's response
	}
	r.HTTP.ResCaptures = [][]byte{ct}
	return r
}

// fillFromSuffix reads httpSuffix at the end of line into r.
func fillFromSuffix(t *testing.T, r *TCPLog, line string) {
	t.Helper()
	i := strings.LastIndexByte(line, '|')
	if i < 0 {
		t.Fatalf("line %q has no suffix", line)
	}
	f := strings.Fields(line[i+1:])
	if len(f) != 27 {
		t.Fatalf("suffix %q: %d fields, want 27", line[i+1:], len(f))
	}
	num := func(s string) int64 {
		n, err := strconv.ParseInt(strings.TrimPrefix(s, "+"), 10, 64)
		if err != nil {
			t.Fatalf("suffix %q: %q is not a number", line[i+1:], s)
		}
		return n
	}
	ms := func(s string) time.Duration {
		if n := num(s); n >= 0 {
			return time.Duration(n) * time.Millisecond
		}
		return -1
	}
	addr := func(ip, port string) netip.AddrPort {
		if ip == "-" {
			return netip.AddrPort{}
		}
		return netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(num(port)))
	}
	r.Accept = time.Unix(num(f[0]), num(f[1])*1e6).In(goldenZone)
	r.Th, r.HTTP.Ti, r.HTTP.TR, r.Tw, r.Tc, r.HTTP.Tr, r.Tt = ms(f[2]), ms(f[3]), ms(f[4]), ms(f[5]), ms(f[6]), ms(f[7]), ms(f[8])
	if len(r.HTTP.Request) > 0 {
		// The bytes of a stream are HTXSize of the messages; those of a
		// transaction without one print 0 whatever the record holds.
		if got := num(f[9]); got != r.Bytes {
			t.Errorf("haproxy %%B = %d; HTXSize of the response is %d", got, r.Bytes)
		}
		if got := num(f[10]); got != r.BytesIn {
			t.Errorf("haproxy %%U = %d; HTXSize of the request is %d", got, r.BytesIn)
		}
	}
	r.Term = f[11]
	r.ActConn, r.FeConn, r.BeConn, r.SrvConn = int(num(f[12])), int(num(f[13])), int(num(f[14])), int(num(f[15]))
	r.Retries, r.Redispatched = int(num(f[16])), strings.HasPrefix(f[16], "+")
	r.SrvQueue, r.BeQueue = int(num(f[17])), int(num(f[18]))
	r.SessionID, r.LogCount = uint64(num(f[19])), uint64(num(f[20]))
	r.ServerLocal, r.ServerAddr = addr(f[21], f[22]), addr(f[23], f[24])
	if f[25] != r.Backend || strings.TrimPrefix(f[26], "<NOSRV>") != r.Server {
		t.Errorf("haproxy %%b/%%s = %s/%s; the record has %s/%s", f[25], f[26], r.Backend, r.Server)
	}
	if len(r.HTTP.Request) > 0 {
		r.UniqueID = []byte("id-" + f[19])
	} else {
		r.UniqueID = []byte("not printed")
	}
}

// httpLogLine is the shape of an "option httplog" line.
var httpLogLine = regexp.MustCompile(`^(\S+):(\d+) \[(\S+)\] (\S+) (\S+)/(\S+) (-?\d+)/(-?\d+)/(-?\d+)/(-?\d+)/(\+?-?\d+) (-?\d+) (\+?\d+) (\S+) (\S+) (\S\S)(\S\S) (\d+)/(\d+)/(\d+)/(\d+)/(\+?)(\d+) (\d+)/(\d+) (.*)$`)

// fillFromHTTPLog reads the timers and counters of an "option httplog"
// line into r; the client, names, status, bytes and request line must be
// r's already.
func fillFromHTTPLog(t *testing.T, r *TCPLog, line string) {
	t.Helper()
	m := httpLogLine.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("haproxy line %q does not have the httplog shape", line)
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	ms := func(s string) time.Duration {
		if n := atoi(s); n >= 0 {
			return time.Duration(n) * time.Millisecond
		}
		return -1
	}
	date, err := time.ParseInLocation(dateLayout, m[3], goldenZone)
	if err != nil {
		t.Fatalf("date %q: %v", m[3], err)
	}
	// The line has neither Ti nor Th: with both 0, Accept is the request's
	// date and Ta the whole time.
	r.Accept, r.HTTP.Date = date, date
	r.HTTP.TR, r.Tw, r.Tc, r.HTTP.Tr, r.Tt = ms(m[7]), ms(m[8]), ms(m[9]), ms(m[10]), ms(m[11])
	if len(r.HTTP.Request) > 0 && int64(atoi(m[13])) != r.Bytes {
		t.Errorf("haproxy %%B = %s; HTXSize of the response is %d", m[13], r.Bytes)
	}
	r.Term = m[16]
	r.ActConn, r.FeConn, r.BeConn, r.SrvConn = atoi(m[18]), atoi(m[19]), atoi(m[20]), atoi(m[21])
	r.Redispatched, r.Retries = m[22] == "+", atoi(m[23])
	r.SrvQueue, r.BeQueue = atoi(m[24]), atoi(m[25])
}
