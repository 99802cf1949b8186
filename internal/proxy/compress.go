package proxy

import (
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"strconv"
	"sync"

	"lb/internal/http1"
)

// HTTP compression as HAProxy 2.6's compression filter does it
// ("compression algo|type|offload", flt_http_comp.c): the algorithm is
// chosen from the request's Accept-Encoding, the response is compressed
// when HAProxy would compress it, and the body is compressed as it
// streams, one chunk out per block read from the server. Every rule below
// was measured against haproxy 2.6.12 (TestHTTPCompression runs the same
// requests through both).

// CompAlgo is a compression algorithm of "compression algo".
type CompAlgo uint8

const (
	// CompIdentity compresses nothing, but the response is still made
	// chunked and gets "Vary: Accept-Encoding", as in HAProxy.
	CompIdentity CompAlgo = iota + 1
	// CompGzip is gzip (RFC 1952).
	CompGzip
	// CompDeflate is the zlib format (RFC 1950), "Content-Encoding:
	// deflate".
	CompDeflate
	// CompRawDeflate is raw deflate (RFC 1951) under the same name,
	// "deflate", for the clients that take that.
	CompRawDeflate
)

// token is the name the algorithm has in Accept-Encoding and
// Content-Encoding.
func (a CompAlgo) token() string {
	switch a {
	case CompGzip:
		return "gzip"
	case CompDeflate, CompRawDeflate:
		return "deflate"
	}
	return "identity"
}

// CompressionConfig is a proxy's "compression" lines. A frontend's or a
// backend's is nil when it has none; the backend's algorithms and types
// win over the frontend's when it has some, as in HAProxy.
type CompressionConfig struct {
	// Algos are the algorithms in the order of the lines ("algo"); none:
	// the other proxy's are used.
	Algos []CompAlgo
	// Types are the Content-Type prefixes compressed, compared ignoring
	// case ("type"); none: any type but multipart.
	Types []string
	// Offload removes Accept-Encoding from a request whose response will
	// be compressed ("offload").
	Offload bool
	// Level is the compression level ("tune.comp.maxlevel"); 0 is 1,
	// HAProxy's default.
	Level int
}

// selectCompression chooses the algorithm of the transaction from the
// request's Accept-Encoding (HAProxy's select_compression_request_header),
// and removes the field when "offload" says so. It runs once the
// http-request rules ran, before the request is sent.
func (hc *httpConn) selectCompression(be *Backend) {
	hc.comp = 0
	fc, bc := hc.h.cfg.Compression, be.cfg.HTTP.Compression
	if fc == nil && bc == nil {
		return
	}
	req := &hc.req
	// Old user agents announcing "Mozilla/4" get nothing, but MSIE 6 SP2
	// and later (HAProxy's test, byte for byte).
	if ua, ok := req.Header.Get("user-agent"); ok && len(ua) >= 9 && string(ua[:9]) == "Mozilla/4" &&
		(len(ua) < 31 || string(ua[25:30]) != "MSIE " || ua[30] < '6' ||
			ua[30] == '6' && (len(ua) < 54 || string(ua[51:54]) != "SV1")) {
		return
	}
	var algos []CompAlgo
	if bc != nil && len(bc.Algos) > 0 {
		algos = bc.Algos
	} else if fc != nil {
		algos = fc.Algos
	}
	if len(algos) == 0 {
		return
	}
	best := 0
	for _, f := range req.Header.Fields {
		if !http1.EqualFold(f.Name, "accept-encoding") {
			continue
		}
		for v := f.Value; len(v) > 0; {
			e := http1.ValueEnd(v)
			elem := v[:e]
			if e < len(v) {
				v = v[e+1:]
			} else {
				v = nil
			}
			for len(elem) > 0 && (elem[0] == ' ' || elem[0] == '\t') {
				elem = elem[1:]
			}
			if len(elem) == 0 {
				continue
			}
			tok, q := acceptCoding(elem)
			if q <= best {
				continue
			}
			// HAProxy keeps its algorithms in a list each line
			// prepends to: "*" takes the last one written, and a
			// token the first that matches from the end.
			for i := len(algos) - 1; i >= 0; i-- {
				if elem[0] == '*' || http1.EqualFold(tok, algos[i].token()) {
					hc.comp, best = algos[i], q
					break
				}
			}
		}
	}
	if hc.comp != 0 {
		if fc != nil && fc.Offload || bc != nil && bc.Offload {
			req.Header.Del("accept-encoding")
		}
		return
	}
	// Identity needs nothing from the client.
	for i := len(algos) - 1; i >= 0; i-- {
		if algos[i] == CompIdentity {
			hc.comp = CompIdentity
			return
		}
	}
}

// acceptCoding splits an Accept-Encoding element into its coding and its
// q-value in thousandths (1000 when none), as HAProxy reads them: the
// token, then parameters until one starts with "q=".
func acceptCoding(elem []byte) (tok []byte, q int) {
	n := 0
	for n < len(elem) && isTokenChar(elem[n]) {
		n++
	}
	tok, p := elem[:n], elem[n:]
	for {
		for len(p) > 0 && isLWSByte(p[0]) {
			p = p[1:]
		}
		if len(p) == 0 || p[0] != ';' {
			return tok, 1000
		}
		p = p[1:]
		for len(p) > 0 && isLWSByte(p[0]) {
			p = p[1:]
		}
		if len(p) == 0 {
			return tok, 1000
		}
		if len(p) >= 2 && p[0] == 'q' && p[1] == '=' || len(p) == 1 && p[0] == 'q' {
			return tok, parseQValue(p[min(2, len(p)):])
		}
		for len(p) > 0 && p[0] != ';' {
			p = p[1:]
		}
	}
}

// parseQValue reads a q-value in thousandths as HAProxy's
// http_parse_qvalue: a first digit and up to three decimals, capped at
// 1000; what does not start with a digit is 1000.
func parseQValue(p []byte) int {
	if len(p) == 0 || p[0] < '0' || p[0] > '9' {
		return 1000
	}
	q := int(p[0]-'0') * 1000
	if len(p) > 1 && p[1] == '.' {
		mul := 100
		for i := 2; i < 5 && i < len(p) && p[i] >= '0' && p[i] <= '9'; i++ {
			q += int(p[i]-'0') * mul
			mul /= 10
		}
	}
	return min(q, 1000)
}

func isLWSByte(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// isTokenChar is RFC 9110's tchar.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// compressResponse says whether the response is to be compressed with the
// algorithm chosen for the request (HAProxy's
// select_compression_response_header), and if so rewrites its head as
// HAProxy does: Content-Length removed, "Transfer-Encoding: chunked",
// "Vary: Accept-Encoding" and the Content-Encoding appended, a strong
// ETag made weak. It runs after the http-after-response rules, which see
// the response as the server sent it (measured).
func (hc *httpConn) compressResponse(be *Backend) bool {
	res, req := &hc.res, &hc.req
	if hc.comp == 0 || res.Minor != 1 || req.Minor != 1 || string(req.Method) == "HEAD" {
		return false
	}
	if res.Status < 200 || res.Status > 203 {
		return false
	}
	// A body delimited by the close is not compressed either (measured).
	if res.Framing != http1.Chunked && (res.Framing != http1.Length || res.ContentLength == 0) {
		return false
	}
	if _, ok := res.Header.Get("content-encoding"); ok {
		return false
	}
	for _, f := range res.Header.Fields {
		if http1.EqualFold(f.Name, "cache-control") && http1.HasToken(f.Value, "no-transform") {
			return false
		}
	}
	fc, bc := hc.h.cfg.Compression, be.cfg.HTTP.Compression
	var types []string
	if bc != nil && len(bc.Types) > 0 {
		types = bc.Types
	} else if fc != nil {
		types = fc.Types
	}
	if ct, ok := res.Header.Get("content-type"); ok {
		if len(ct) >= 9 && http1.EqualFold(ct[:9], "multipart") {
			return false
		}
		if len(types) > 0 {
			found := false
			for _, t := range types {
				if len(ct) >= len(t) && http1.EqualFold(ct[:len(t)], t) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
	} else if len(types) > 0 {
		return false
	}
	h := &res.Header
	if res.Framing == http1.Length {
		h.Del("content-length")
		h.Add("transfer-encoding", []byte("chunked"))
	}
	if i := h.Index("etag", 0); i >= 0 {
		if v := h.Fields[i].Value; len(v) > 0 && v[0] == '"' {
			h.SetValue(i, append([]byte("W/"), v...))
		}
	}
	h.Add("vary", []byte("Accept-Encoding"))
	if hc.comp != CompIdentity {
		h.Add("content-encoding", []byte(hc.comp.token()))
	}
	return true
}

// compressor compresses one response body into out.
type compressor struct {
	algo CompAlgo
	w    interface {
		io.Writer
		Flush() error
		Close() error
	}
	out []byte
	// in counts the bytes given to add (comp_in).
	in int64
}

func (z *compressor) Write(p []byte) (int, error) {
	z.out = append(z.out, p...)
	return len(p), nil
}

// Writers are pooled by algorithm and level: a deflate state is hundreds
// of kilobytes, too much to allocate per response.
var compPools sync.Map // compPoolKey → *sync.Pool

type compPoolKey struct {
	algo  CompAlgo
	level int
}

func getCompressor(algo CompAlgo, level int) *compressor {
	if level <= 0 {
		level = 1
	}
	if algo == CompIdentity {
		return &compressor{algo: algo}
	}
	key := compPoolKey{algo, level}
	pi, _ := compPools.LoadOrStore(key, &sync.Pool{})
	pool := pi.(*sync.Pool)
	if z, ok := pool.Get().(*compressor); ok {
		z.out = z.out[:0]
		switch w := z.w.(type) {
		case *gzip.Writer:
			w.Reset(z)
		case *flate.Writer:
			w.Reset(z)
		case *zlib.Writer:
			w.Reset(z)
		}
		return z
	}
	z := &compressor{algo: algo}
	switch algo {
	case CompGzip:
		z.w, _ = gzip.NewWriterLevel(z, level)
	case CompRawDeflate:
		z.w, _ = flate.NewWriter(z, level)
	default:
		z.w, _ = zlib.NewWriterLevel(z, level)
	}
	return z
}

func putCompressor(z *compressor, level int) {
	if z == nil || z.algo == CompIdentity {
		return
	}
	if level <= 0 {
		level = 1
	}
	if pi, ok := compPools.Load(compPoolKey{z.algo, level}); ok {
		if cap(z.out) > 64<<10 {
			z.out = nil
		}
		pi.(*sync.Pool).Put(z)
	}
}

// add compresses p (identity: copies it).
func (z *compressor) add(p []byte) {
	z.in += int64(len(p))
	if z.w == nil {
		z.out = append(z.out, p...)
		return
	}
	_, _ = z.w.Write(p)
}

// flush ends the block read so far (a sync flush), or the stream when
// last, so that what is written can be sent.
func (z *compressor) flush(last bool) {
	if z.w == nil {
		return
	}
	if last {
		_ = z.w.Close()
	} else {
		_ = z.w.Flush()
	}
}

// appendChunk appends out as one chunk of a chunked body to dst and
// empties out.
func (z *compressor) appendChunk(dst []byte) []byte {
	if len(z.out) == 0 {
		return dst
	}
	dst = strconv.AppendInt(dst, int64(len(z.out)), 16)
	dst = append(dst, "\r\n"...)
	dst = append(dst, z.out...)
	dst = append(dst, "\r\n"...)
	z.out = z.out[:0]
	return dst
}

// compLevel is the compression level of the transaction's proxies.
func (hc *httpConn) compLevel(be *Backend) int {
	if bc := be.cfg.HTTP.Compression; bc != nil {
		return bc.Level
	}
	if fc := hc.h.cfg.Compression; fc != nil {
		return fc.Level
	}
	return 1
}

// forwardCompressed writes the response head (in hc.out) and its body,
// compressed, as a chunked body: each block read from the server is
// compressed and flushed as one chunk, as HAProxy flushes per block, so
// that a body that comes slowly goes out as it comes. The trailers of a
// chunked body follow the last chunk.
func (hc *httpConn) forwardCompressed(be *Backend) bool {
	res := &hc.res
	level := hc.compLevel(be)
	z := getCompressor(hc.comp, level)
	z.in = 0
	defer putCompressor(z, level)
	out0 := hc.compN
	defer func() {
		// comp_in and comp_out, as HAProxy counts them: the payload
		// given to the compressor and what came out of it.
		f := hc.h.f
		f.http.compIn.Add(uint64(z.in))
		be.http.compIn.Add(uint64(z.in))
		out := uint64(hc.compN - out0)
		f.http.compOut.Add(out)
		be.http.compOut.Add(out)
	}()
	chunked := res.Framing == http1.Chunked
	hc.chunks.Reset()
	var dc dechunker
	dc.trailer = dc.trailer[:0]
	left := res.ContentLength
	grown := false
	for {
		if p := hc.sbuf[hc.sr:hc.sw]; len(p) > 0 {
			end := false
			if chunked {
				n, done, err := hc.chunks.Scan(p)
				if err != nil {
					if hs := hc.sr - res.HeadLen; hs >= 0 && !grown {
						hc.captureBodyError(be, hc.lg.server, hs, hc.sbuf[hs:hc.sw], res, res.HeadLen, err)
					}
					hc.ts = [2]byte{TermServerAbort, 'D'}
					return false
				}
				dc.feed(p[:n], z)
				hc.sr += n
				end = done
			} else {
				k := min(int64(len(p)), left)
				z.add(p[:k])
				hc.sr += int(k)
				left -= k
				hc.resBodyN += k
				end = left == 0
			}
			z.flush(end)
			hc.compN += int64(len(z.out))
			hc.out = z.appendChunk(hc.out)
			if end {
				hc.out = append(hc.out, "0\r\n"...)
				if len(dc.trailer) > 0 {
					hc.out = append(hc.out, dc.trailer...)
				} else {
					hc.out = append(hc.out, "\r\n"...)
				}
			}
			if len(hc.out) > 0 {
				if !hc.writeClient(hc.out) {
					return hc.clientFailed()
				}
				hc.down += int64(len(hc.out))
				hc.out = hc.out[:0]
			}
			if end {
				return true
			}
		} else if len(hc.out) > 0 {
			// The head alone: the body is not here yet.
			if !hc.writeClient(hc.out) {
				return hc.clientFailed()
			}
			hc.down += int64(len(hc.out))
			hc.out = hc.out[:0]
		}
		if !grown {
			grown = true
			hc.grow(&hc.sbuf, 0) // what it held was consumed
		}
		hc.sr, hc.sw = 0, 0
		lim := len(hc.sbuf)
		if !chunked && int64(lim) > left {
			lim = int(left)
		}
		_ = hc.sc.SetReadDeadline(hc.serverDeadline(be))
		k, err := hc.sc.Read(hc.sbuf[:lim])
		hc.sw = k
		if k == 0 && err != nil {
			hc.serverFailed(err, 'D')
			return false
		}
	}
}

// dechunker takes the payload out of a chunked body that a ChunkScanner
// accepted, block by block, and keeps the trailers' bytes (with the final
// empty line).
type dechunker struct {
	state   uint8
	size    int64
	trailer []byte
}

const (
	dcSize    = iota // chunk-size digits
	dcLine           // the rest of the size line
	dcData           // size bytes of data left
	dcDataEnd        // the CRLF after the data
	dcTrailer        // after the last chunk: trailers and the empty line
)

func (d *dechunker) feed(p []byte, z *compressor) {
	for len(p) > 0 {
		switch d.state {
		case dcSize:
			c := p[0]
			switch {
			case c >= '0' && c <= '9':
				d.size = d.size<<4 | int64(c-'0')
			case c|0x20 >= 'a' && c|0x20 <= 'f':
				d.size = d.size<<4 | int64(c|0x20-'a'+10)
			case c == '\n':
				d.sizeDone()
			default:
				d.state = dcLine
			}
			p = p[1:]
		case dcLine:
			if p[0] == '\n' {
				d.sizeDone()
			}
			p = p[1:]
		case dcData:
			k := min(int64(len(p)), d.size)
			z.add(p[:k])
			p = p[k:]
			if d.size -= k; d.size == 0 {
				d.state = dcDataEnd
			}
		case dcDataEnd:
			if p[0] == '\n' {
				d.state, d.size = dcSize, 0
			}
			p = p[1:]
		case dcTrailer:
			d.trailer = append(d.trailer, p...)
			return
		}
	}
}

func (d *dechunker) sizeDone() {
	if d.size == 0 {
		d.state = dcTrailer
		return
	}
	d.state = dcData
}
