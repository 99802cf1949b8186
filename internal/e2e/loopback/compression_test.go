package loopback

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startCompServer is a backend that answers as its query string says: st (status), ct
// (Content-Type), ce (Content-Encoding), cc (Cache-Control), etag, vary, v (the response's
// minor version), fr (cl, chunked or close framing) and n (how many times the body's
// sentence repeats). It echoes the Accept-Encoding it received in X-Got-AE.
func startCompServer(t *testing.T) string {
	return startRawServer(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			q := req.URL.Query()
			n := 100
			if s := q.Get("n"); s != "" {
				n, _ = strconv.Atoi(s)
			}
			body := compBody(n)
			st := 200
			if s := q.Get("st"); s != "" {
				st, _ = strconv.Atoi(s)
			}
			v := "1.1"
			if q.Get("v") != "" {
				v = q.Get("v")
			}
			var h strings.Builder
			fmt.Fprintf(&h, "HTTP/%s %d X\r\n", v, st)
			for _, k := range []string{"ct:Content-Type", "ce:Content-Encoding", "cc:Cache-Control", "etag:ETag", "vary:Vary"} {
				p, name, _ := strings.Cut(k, ":")
				if s := q.Get(p); s != "" {
					fmt.Fprintf(&h, "%s: %s\r\n", name, s)
				}
			}
			fmt.Fprintf(&h, "X-Got-AE: %s\r\n", strings.Join(req.Header.Values("Accept-Encoding"), "|"))
			bodyless := req.Method == "HEAD" || st == 204 || st == 304
			switch fr := q.Get("fr"); {
			case bodyless:
				h.WriteString("\r\n")
				io.WriteString(c, h.String())
			case fr == "chunked":
				h.WriteString("Transfer-Encoding: chunked\r\n\r\n")
				for i := 0; i < len(body); i += 500 {
					p := body[i:min(i+500, len(body))]
					fmt.Fprintf(&h, "%x\r\n%s\r\n", len(p), p)
				}
				h.WriteString("0\r\n\r\n")
				io.WriteString(c, h.String())
			case fr == "close":
				h.WriteString("\r\n")
				io.WriteString(c, h.String()+body)
				return
			default:
				fmt.Fprintf(&h, "Content-Length: %d\r\n\r\n", len(body))
				io.WriteString(c, h.String()+body)
			}
		}
	})
}

// head reads a response head only (the answer to HEAD).
func (hc *httpClient) head() string {
	hc.t.Helper()
	var h strings.Builder
	for {
		l, err := hc.br.ReadString('\n')
		if err != nil {
			hc.t.Fatalf("response head: %v after %q", err, h.String())
		}
		h.WriteString(l)
		if l == "\r\n" {
			return h.String()
		}
	}
}

func compBody(n int) string { return strings.Repeat("hello compressed world ", n) }

// decodeBody undoes the Content-Encoding of a response body; raw says a "deflate" body
// is raw deflate (raw-deflate) rather than zlib.
func decodeBody(t *testing.T, ce, body string, raw bool) string {
	t.Helper()
	var r io.Reader
	var err error
	switch {
	case ce == "" || ce == "br": // the fixture's "br" is a label only
		return body
	case ce == "gzip":
		r, err = gzip.NewReader(strings.NewReader(body))
	case ce == "deflate" && raw:
		r = flate.NewReader(strings.NewReader(body))
	case ce == "deflate":
		r, err = zlib.NewReader(strings.NewReader(body))
	default:
		t.Fatalf("content-encoding %q", ce)
	}
	if err != nil {
		t.Fatalf("%s body: %v", ce, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s body: %v", ce, err)
	}
	return string(b)
}

// respFieldNames are the lower-case names of a response head's fields, in order.
func respFieldNames(head string) string {
	var names []string
	for _, l := range strings.Split(head, "\r\n")[1:] {
		if k, _, ok := strings.Cut(l, ":"); ok {
			names = append(names, strings.ToLower(k))
		}
	}
	return strings.Join(names, " ")
}

// TestHTTPCompression: "compression algo|type|offload" compress what HAProxy 2.6 compresses
// and nothing else: the algorithm chosen from Accept-Encoding (q-values, "*", the first of
// equal ones, two fields, any case), statuses 200 to 203 only, Content-Type prefixes from
// "compression type" (parameters, case; multipart never), no compression of an encoded
// response, of "Cache-Control: no-transform", of HTTP/1.0 on either side, of HEAD, 204, 304,
// an empty body, a body delimited by the close or an old "Mozilla/4" client; the head
// rewritten as HAProxy rewrites it (Content-Length out, "transfer-encoding: chunked",
// "vary: Accept-Encoding" and "content-encoding" appended in that order, a strong ETag made
// weak); identity (chunked, no Content-Encoding), raw-deflate and offload (Accept-Encoding
// not sent to the server). The same requests go through haproxy; the body decompresses to
// the server's and is smaller.
func TestHTTPCompression(t *testing.T) {
	srv := startCompServer(t)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
frontend fe
    bind %s
    option httplog
    compression algo gzip deflate
    http-response set-header X-Seen "%%[res.hdr(content-encoding)]|%%[res.hdr(content-length)]"
    use_backend b_any if { path_beg /any }
    use_backend b_id if { path_beg /id }
    use_backend b_raw if { path_beg /raw }
    use_backend b_off if { path_beg /off }
    default_backend be
backend be
    compression type text/html text/plain
    server s %[2]s
backend b_any
    server s %[2]s
backend b_id
    compression algo identity
    server s %[2]s
backend b_raw
    compression algo raw-deflate
    server s %[2]s
backend b_off
    compression offload
    server s %[2]s
`, addr, srv))
	type tc struct {
		name   string
		req    string // request line and fields but Host
		n      int    // the body's repeats (100 when 0)
		ce     string // the Content-Encoding wanted ("" none)
		chunk  bool   // a chunked response wanted (compressed or identity)
		fields string // the response's field names in order, when given
		etag   string // the ETag wanted, when given
		gotAE  string // what the server saw of Accept-Encoding, when given
	}
	const ae = "Accept-Encoding: gzip\r\n"
	cases := []tc{
		{name: "gzip", req: "GET /?ct=text/html HTTP/1.1\r\n" + ae, ce: "gzip", chunk: true,
			fields: "content-type x-got-ae x-seen transfer-encoding vary content-encoding"},
		{name: "q-values", req: "GET /?ct=text/html HTTP/1.1\r\nAccept-Encoding: gzip;q=0.5, deflate;q=0.8\r\n", ce: "deflate", chunk: true},
		{name: "star takes the last algo", req: "GET /?ct=text/html HTTP/1.1\r\nAccept-Encoding: *\r\n", ce: "deflate", chunk: true},
		{name: "first of equal q", req: "GET /?ct=text/html HTTP/1.1\r\nAccept-Encoding: deflate, gzip\r\n", ce: "deflate", chunk: true},
		{name: "q=0", req: "GET /?ct=text/html HTTP/1.1\r\nAccept-Encoding: gzip;q=0\r\n"},
		{name: "upper case", req: "GET /?ct=text/html HTTP/1.1\r\nAccept-Encoding: GZIP\r\n", ce: "gzip", chunk: true},
		{name: "two fields", req: "GET /?ct=text/html HTTP/1.1\r\nAccept-Encoding: br\r\nAccept-Encoding: deflate;q=0.1\r\n", ce: "deflate", chunk: true},
		{name: "parameters before q", req: "GET /?ct=text/html HTTP/1.1\r\nAccept-Encoding: gzip;x=1;q=0.2, deflate ; q=0.3\r\n", ce: "deflate", chunk: true},
		{name: "no accept-encoding", req: "GET /?ct=text/html HTTP/1.1\r\n"},
		{name: "unknown coding", req: "GET /?ct=text/html HTTP/1.1\r\nAccept-Encoding: br\r\n"},
		{name: "201", req: "GET /?ct=text/html&st=201 HTTP/1.1\r\n" + ae, ce: "gzip", chunk: true},
		{name: "203", req: "GET /?ct=text/html&st=203 HTTP/1.1\r\n" + ae, ce: "gzip", chunk: true},
		{name: "206", req: "GET /?ct=text/html&st=206 HTTP/1.1\r\n" + ae},
		{name: "404", req: "GET /?ct=text/html&st=404 HTTP/1.1\r\n" + ae},
		{name: "type parameters", req: "GET /?ct=text/html%3Bcharset=utf-8 HTTP/1.1\r\n" + ae, ce: "gzip", chunk: true},
		{name: "type case", req: "GET /?ct=TEXT/PLAIN HTTP/1.1\r\n" + ae, ce: "gzip", chunk: true},
		{name: "type prefix", req: "GET /?ct=text/htmlx HTTP/1.1\r\n" + ae, ce: "gzip", chunk: true},
		{name: "type not listed", req: "GET /?ct=image/png HTTP/1.1\r\n" + ae},
		{name: "no type with types", req: "GET /?x=1 HTTP/1.1\r\n" + ae},
		{name: "no type without types", req: "GET /any?x=1 HTTP/1.1\r\n" + ae, ce: "gzip", chunk: true},
		{name: "multipart", req: "GET /any?ct=multipart/mixed HTTP/1.1\r\n" + ae},
		{name: "already encoded", req: "GET /?ct=text/html&ce=br HTTP/1.1\r\n" + ae, ce: "br"},
		{name: "no-transform", req: "GET /?ct=text/html&cc=public,+no-transform HTTP/1.1\r\n" + ae},
		{name: "no-transform in the request", req: "GET /?ct=text/html HTTP/1.1\r\nCache-Control: no-transform\r\n" + ae, ce: "gzip", chunk: true},
		{name: "HTTP/1.0 request", req: "GET /?ct=text/html HTTP/1.0\r\n" + ae},
		{name: "HTTP/1.0 response", req: "GET /?ct=text/html&v=1.0 HTTP/1.1\r\n" + ae},
		{name: "HEAD", req: "HEAD /?ct=text/html HTTP/1.1\r\n" + ae},
		{name: "204", req: "GET /?ct=text/html&st=204 HTTP/1.1\r\n" + ae},
		{name: "304", req: "GET /?ct=text/html&st=304 HTTP/1.1\r\n" + ae},
		{name: "empty body", req: "GET /?ct=text/html&n=0 HTTP/1.1\r\n" + ae, n: -1},
		{name: "chunked", req: "GET /?ct=text/html&fr=chunked&n=500 HTTP/1.1\r\n" + ae, n: 500, ce: "gzip", chunk: true},
		{name: "until close", req: "GET /?ct=text/html&fr=close HTTP/1.1\r\n" + ae},
		{name: "Mozilla/4", req: "GET /?ct=text/html HTTP/1.1\r\nUser-Agent: Mozilla/4.0 (compatible)\r\n" + ae},
		{name: "strong etag", req: "GET /?ct=text/html&etag=%22abc%22 HTTP/1.1\r\n" + ae, ce: "gzip", chunk: true, etag: `W/"abc"`},
		{name: "weak etag", req: "GET /?ct=text/html&etag=W/%22abc%22 HTTP/1.1\r\n" + ae, ce: "gzip", chunk: true, etag: `W/"abc"`},
		{name: "vary kept", req: "GET /?ct=text/html&vary=Origin HTTP/1.1\r\n" + ae, ce: "gzip", chunk: true,
			fields: "content-type vary x-got-ae x-seen transfer-encoding vary content-encoding"},
		{name: "identity", req: "GET /id?ct=text/html HTTP/1.1\r\n" + ae, chunk: true,
			fields: "content-type x-got-ae x-seen transfer-encoding vary"},
		{name: "raw-deflate", req: "GET /raw?ct=text/html HTTP/1.1\r\nAccept-Encoding: deflate\r\n", ce: "deflate", chunk: true},
		{name: "offload", req: "GET /off?ct=text/html HTTP/1.1\r\nAccept-Encoding: gzip, deflate\r\n", ce: "gzip", chunk: true, gotAE: ""},
		{name: "offload without a choice", req: "GET /off?ct=text/html HTTP/1.1\r\nAccept-Encoding: br\r\n", gotAE: "br"},
		{name: "no offload", req: "GET /?ct=text/html HTTP/1.1\r\nAccept-Encoding: gzip, deflate\r\n", ce: "gzip", chunk: true, gotAE: "gzip, deflate"},
	}
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		for _, k := range cases {
			c := dialHTTP(t, addr)
			line, rest, _ := strings.Cut(k.req, "\r\n")
			c.send(line + "\r\nHost: x\r\n" + rest + "\r\n")
			var head, body string
			if strings.HasPrefix(line, "HEAD") {
				head = c.head()
			} else {
				head, body = c.response()
			}
			f := respFields(head)
			n := k.n
			if n == 0 {
				n = 100
			}
			want := compBody(max(n, 0))
			if strings.HasPrefix(line, "HEAD") || strings.Contains(line, "st=204") || strings.Contains(line, "st=304") {
				want = ""
			}
			ce := strings.Join(f["content-encoding"], ",")
			if ce != k.ce {
				t.Errorf("%s: content-encoding %q; want %q\n%s", k.name, ce, k.ce, head)
				continue
			}
			if got := strings.Join(f["transfer-encoding"], ","); (got == "chunked") != k.chunk {
				t.Errorf("%s: transfer-encoding %q; want chunked %v\n%s", k.name, got, k.chunk, head)
			}
			if k.chunk && len(f["content-length"]) > 0 {
				t.Errorf("%s: content-length kept in a chunked response\n%s", k.name, head)
			}
			if vary := strings.Join(f["vary"], ","); k.chunk != strings.HasSuffix(vary, "Accept-Encoding") {
				t.Errorf("%s: vary %q\n%s", k.name, vary, head)
			}
			if got := decodeBody(t, ce, body, strings.HasPrefix(line, "GET /raw")); got != want {
				t.Errorf("%s: body decodes to %d bytes; want %d", k.name, len(got), len(want))
			}
			if ce != "" && ce != "br" && len(body) >= len(want)/4 {
				t.Errorf("%s: %d bytes compressed to %d", k.name, len(want), len(body))
			}
			if k.fields != "" {
				if got := respFieldNames(head); got != k.fields {
					t.Errorf("%s: fields %q; want %q", k.name, got, k.fields)
				}
			}
			if k.etag != "" {
				if got := strings.Join(f["etag"], ","); got != k.etag {
					t.Errorf("%s: etag %q; want %q", k.name, got, k.etag)
				}
			}
			if k.gotAE != "" || strings.HasPrefix(line, "GET /off") {
				if got := strings.Join(f["x-got-ae"], ","); got != k.gotAE {
					t.Errorf("%s: the server saw accept-encoding %q; want %q", k.name, got, k.gotAE)
				}
			}
			// The http-response rules see the response as the server sent it,
			// and so does the log.
			if seen := strings.Join(f["x-seen"], ","); k.chunk && !strings.Contains(line, "fr=chunked") && seen != fmt.Sprintf("|%d", len(want)) {
				t.Errorf("%s: the rules saw %q", k.name, seen)
			}
		}
		// "two fields": %B is the size of the response as the server sent it
		// (HAProxy's internal form: 33 + names and values + 2300 bytes),
		// not of the compressed one.
		waitLog(t, out, ` 200 2396 - - ---- `)
	})
}

// TestHTTPCompressionStreams: a compressed body goes out as it comes, one chunk per block
// read from the server: the client has a chunk of the first half while the server still
// holds back the second, and the connection then carries a second compressed response
// (at tune.comp.maxlevel 9).
func TestHTTPCompressionStreams(t *testing.T) {
	// The first response of each connection waits for a token.
	release := make(chan struct{}, 1)
	half := compBody(200)
	srv := startRawServer(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", 2*len(half), half)
			if i == 0 {
				<-release
			}
			io.WriteString(c, half)
		}
	})
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, httpDefaults+fmt.Sprintf(`
global
    tune.comp.maxlevel 9
frontend fe
    bind %s
    compression algo gzip
    default_backend be
backend be
    server s %s
`, addr, srv))
	onLBAndHAProxy(t, cfg, addr, func(t *testing.T, out *outFile) {
		c := dialHTTP(t, addr)
		c.send("GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
		if head := c.head(); strings.Join(respFields(head)["content-encoding"], "") != "gzip" {
			t.Fatalf("not compressed:\n%s", head)
		}
		// A chunk of the compressed body comes before the server sends the
		// rest. (lb flushes each block whole; haproxy keeps the end of a
		// block in zlib's window until more comes, measured: the chunk is
		// checked, not what it decompresses to.)
		var z []byte
		chunk := func() int {
			l, err := c.br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			n, err := strconv.ParseInt(strings.TrimSpace(l), 16, 64)
			if err != nil {
				t.Fatalf("chunk size line %q", l)
			}
			b := make([]byte, n+2)
			if _, err := io.ReadFull(c.br, b); err != nil {
				t.Fatal(err)
			}
			z = append(z, b[:n]...)
			return int(n)
		}
		if chunk() == 0 {
			t.Fatal("no data chunk before the end of the body")
		}
		release <- struct{}{}
		for chunk() > 0 {
		}
		if got := decodeBody(t, "gzip", string(z), false); got != half+half {
			t.Fatalf("body decodes to %d bytes; want %d", len(got), 2*len(half))
		}
		// The next response on the same connection.
		c.send("GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
		h2, body := c.response()
		if got := decodeBody(t, strings.Join(respFields(h2)["content-encoding"], ""), body, false); got != half+half {
			t.Errorf("second response: %d bytes", len(got))
		}
	})
}

// TestHTTPCompressionLevel: tune.comp.maxlevel is the level the body is compressed at: the
// same text comes out smaller at 9 than at the default, 1.
func TestHTTPCompressionLevel(t *testing.T) {
	// Text with some entropy: words drawn by a fixed generator.
	words := strings.Fields("load balancer server backend frontend request response header body chunk")
	var b strings.Builder
	x := uint32(1)
	for b.Len() < 64<<10 {
		x = x*1664525 + 1013904223
		b.WriteString(words[x>>28%uint32(len(words))])
		b.WriteByte(' ')
	}
	text := b.String()
	app := startHTTPServer(t, "app", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(len(text)))
		io.WriteString(w, text)
	})
	size := map[string]int{}
	for _, level := range []string{"", "9"} {
		port := freePort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		global := ""
		if level != "" {
			global = "global\n    tune.comp.maxlevel " + level + "\n"
		}
		cfg := writeConfig(t, httpDefaults+global+fmt.Sprintf(`
frontend fe
    bind %s
    compression algo gzip
    default_backend be
backend be
    server s %s
`, addr, app.addr()))
		p := startLB(t, "-db", "-f", cfg)
		c := dialHTTP(t, addr)
		c.send("GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
		head, body := c.response()
		if got := decodeBody(t, strings.Join(respFields(head)["content-encoding"], ""), body, false); got != text {
			t.Fatalf("level %q: body decodes to %d bytes; want %d", level, len(got), len(text))
		}
		size[level] = len(body)
		p.signal(syscall.SIGTERM)
		p.wait(5 * time.Second)
	}
	if size["9"] >= size[""] {
		t.Errorf("compressed to %d bytes at level 9, %d at 1", size["9"], size[""])
	}
}
