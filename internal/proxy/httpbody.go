package proxy

import (
	"errors"
	"os"
	"time"

	"lb/internal/http1"
)

// bodyWaitLimit is how many payload bytes of req HAProxy 2.6 holds in a
// buffer of size bytes before it calls the buffer full and stops waiting
// for the rest of the body ("option http-buffer-request"): the buffer
// less the reserve for rewrites (tune.maxrewrite) less the message's HTX
// form (a block of 8 bytes plus name and value per header field, the
// start line, the end of the head). Measured with 2.6.12 at tune.bufsize
// 16384: 15214 payload bytes after "POST / HTTP/1.1" with Host and
// Content-Length; each more byte of URI or field, and 8 per more field,
// takes one off; a chunked body holds 8 fewer. lb keeps a chunked body's
// framing in its buffer, so a body of many small chunks fills it with
// less payload than HAProxy holds (10885 bytes of 10-byte chunks, where
// HAProxy holds 15201).
func bodyWaitLimit(req *http1.Message, size int) int {
	n := size - min(1024, size/2) - 101 - len(req.Method) - len(req.URI)
	for _, f := range req.Header.Fields {
		n -= 8 + len(f.Name) + len(f.Value)
	}
	if req.Framing == http1.Chunked {
		n -= 8
	}
	return max(n, 0)
}

// bufferBody waits for the request body as HAProxy 2.6's
// http_wait_for_request_body does ("option http-buffer-request", and
// "balance url_param ... check_post"): until the body is complete or the
// buffer full, "timeout http-request" (else "timeout client") from the
// request's first byte bounding the wait. A request announcing
// "Expect: 100-continue" is answered "100 Continue" first, and the field
// removed. The payload buffered (chunk framing removed) is then what
// req.body reads, and it stays in hc.buf to be forwarded with the head.
// It reports false when the transaction is over: a client that stalled
// got a 408 (logged "cR"), one that closed nothing (logged "CR").
func (hc *httpConn) bufferBody(start time.Time) bool {
	if hc.buffered {
		return true
	}
	hc.buffered = true
	req := &hc.req
	if req.Framing == http1.NoBody || string(req.Method) == "CONNECT" {
		hc.setReqBody()
		return true
	}
	// A full buffer, the head at its start: the parsed head's fields may
	// point into the old one, which is left to the collector.
	headAt := hc.r - req.HeadLen
	if full := hc.fullSize(); headAt > 0 || len(hc.buf) < full {
		var nb []byte
		if full == bufSize {
			nb = getBuf()
			nb = nb[:cap(nb)]
		} else {
			nb = make([]byte, full)
		}
		hc.w = copy(nb, hc.buf[headAt:hc.w])
		hc.r = req.HeadLen
		hc.buf = nb
	}
	// The payload that fills the buffer: as many bytes after the head
	// for a Content-Length body, the payload without its framing for a
	// chunked one (the framing is not kept in HAProxy's buffer).
	want := int64(bodyWaitLimit(req, len(hc.buf)))
	limit := min(hc.r+int(want), len(hc.buf))
	if req.Minor == 1 {
		if i := req.Header.Index("expect", 0); i >= 0 && http1.EqualFold(req.Header.Fields[i].Value, "100-continue") {
			req.Header.DelAt(i)
			_ = hc.cli.SetWriteDeadline(hc.clientDeadline())
			if _, err := hc.cli.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
				hc.ts = [2]byte{TermClientAbort, 'R'}
				hc.logTxn(start, -1, -1, time.Since(start), true)
				return false
			}
		}
	}
	var dl time.Time
	if t := hc.requestTimeout(); t > 0 {
		dl = start.Add(t)
	}
	for {
		switch {
		case req.Framing == http1.Length && int64(hc.w-hc.r) >= req.ContentLength,
			req.Framing == http1.Chunked && (hc.chunkDone || hc.rchunks.Data >= want || hc.w == len(hc.buf)),
			req.Framing == http1.Length && hc.w >= limit:
			hc.setReqBody()
			return true
		}
		_ = hc.cli.SetReadDeadline(dl)
		end := limit
		if req.Framing == http1.Chunked {
			// No more than the payload still wanted: a byte read is at
			// most a byte of payload.
			end = hc.w + int(min(want-hc.rchunks.Data, int64(len(hc.buf)-hc.w)))
		}
		n, err := hc.cli.Read(hc.buf[hc.w:end])
		if n > 0 {
			hc.w += n
			if req.Framing == http1.Chunked {
				k, done, serr := hc.rchunks.Scan(hc.buf[hc.r+hc.chunkN : hc.w])
				if serr != nil {
					hc.captureBodyError(nil, nil, hc.r-req.HeadLen, hc.buf[hc.r-req.HeadLen:hc.w], req, req.HeadLen+hc.chunkN, serr)
					hc.badRequest(start, 400, TermProxy)
					return false
				}
				hc.chunkN += k
				hc.chunkDone = done
			}
			continue
		}
		if err == nil {
			continue
		}
		hc.closing = true
		if errors.Is(err, os.ErrDeadlineExceeded) && !hc.c.aborted() {
			// HAProxy answers 408 and logs the request, Tr unknown.
			hc.ts = [2]byte{TermClientTimeout, 'R'}
			hc.out = hc.local(408, nil)
			if hc.writeClient(hc.out) {
				hc.down += int64(len(hc.out))
			}
			hc.logTxn(start, -1, -1, time.Since(start), true)
			return false
		}
		hc.ts = [2]byte{TermClientAbort, 'R'}
		hc.logTxn(start, time.Since(start), -1, time.Since(start), true)
		return false
	}
}

// setReqBody copies the payload buffered after the head to hc.reqBody
// for req.body (the buffer moves on once the upload runs).
func (hc *httpConn) setReqBody() {
	req := &hc.req
	b := hc.reqBody[:0]
	switch req.Framing {
	case http1.Length:
		b = append(b, hc.buf[hc.r:hc.r+int(min(int64(hc.w-hc.r), req.ContentLength))]...)
	case http1.Chunked:
		b = appendDechunked(b, hc.buf[hc.r:hc.r+hc.chunkN])
	}
	hc.reqBody = b
	hc.txn.ReqBody = b
}

// appendDechunked appends the payload of p, the start of a chunked body
// that a ChunkScanner accepted, without its framing; a last chunk cut
// short gives what is there.
func appendDechunked(dst, p []byte) []byte {
	for len(p) > 0 {
		size, i := 0, 0
		for ; i < len(p); i++ {
			c := p[i]
			switch {
			case c >= '0' && c <= '9':
				size = size<<4 | int(c-'0')
				continue
			case c|0x20 >= 'a' && c|0x20 <= 'f':
				size = size<<4 | int(c|0x20-'a'+10)
				continue
			}
			break
		}
		// The rest of the size line (blanks, extensions).
		for i < len(p) && p[i] != '\n' {
			i++
		}
		if i >= len(p) || size == 0 {
			return dst
		}
		p = p[i+1:]
		n := min(size, len(p))
		dst = append(dst, p[:n]...)
		p = p[n:]
		// The CRLF (or LF) after the data.
		if len(p) > 0 && p[0] == '\r' {
			p = p[1:]
		}
		if len(p) > 0 && p[0] == '\n' {
			p = p[1:]
		}
	}
	return dst
}
