package proxy

import (
	"errors"
	"net/netip"
	"sync/atomic"
	"time"

	"lb/internal/http1"
)

// ErrorSnapshot is the last message of one direction a proxy could not
// parse, as HAProxy 2.6 keeps it for "show errors" (struct error_snapshot,
// filled by its H1 multiplexer): a copy of the bytes received, where the
// error is, and the parser's state there.
type ErrorSnapshot struct {
	// When the error was found; Event its number among all those of the
	// process (HAProxy's error_snapshot_id).
	When  time.Time
	Event uint32
	// Response is set for a response (captured on the backend), clear for
	// a request (captured on the frontend).
	Response bool
	// Other is the proxy at the other end: the frontend of a response;
	// "" for a request (lb captures those before a backend is chosen, as
	// HAProxy's H1 layer does, which says "<NONE>").
	Other string
	// Server and ServerID name the server of a response ("" for none).
	Server   string
	ServerID int
	// Src is the client's address.
	Src netip.AddrPort
	// Buf is a copy of the message's bytes, at most BufSize of them;
	// ErrPos is the error's offset in it.
	Buf    []byte
	ErrPos int
	// BufSize is tune.bufsize, which the dump's free space is counted
	// against; Offset is where the message started in the connection's
	// buffer (a pipelined request after others), which HAProxy's "wraps
	// at" counts from.
	BufSize, Offset int
	// What HAProxy's H1 multiplexer reports of its connection, stream and
	// message (H1C_F_*, H1S_F_*, H1_MF_* flags, h1m state, chunk and body
	// lengths), for the same error where measured: see http1.Error.
	ConnFlags, StreamFlags, MsgFlags uint32
	State                            http1.H1State
	ChunkLen, BodyLen                int64
}

// errorEvents numbers the captured errors of the process.
var errorEvents atomic.Uint32

// ErrorEvents returns how many errors the process captured ("Total events
// captured" of "show errors").
func ErrorEvents() uint32 { return errorEvents.Load() }

// HAProxy 2.6's flags of an H1 connection and stream (mux_h1.c), as
// measured in "show errors" for a request refused before a stream exists
// and for a server's response.
const (
	h1cEmbryonic = 0x00000100
	h1cInFull    = 0x00000020
	h1cAttached  = 0x00000200
	h1cReady     = 0x00002000
	h1cIsBack    = 0x80000000
	h1sWantKAL   = 0x00000010
	h1sNotFirst  = 0x00000080
	h1sParseErr  = 0x00000800
	h1sHaveOConn = 0x00004000
)

// errorCapture is the last invalid request and response of a proxy; one
// buffer per direction, replaced whole by the next error.
type errorCapture struct {
	req, res atomic.Pointer[ErrorSnapshot]
}

// LastInvalidRequest returns the last request f refused because it could
// not parse it, nil when none.
func (f *Frontend) LastInvalidRequest() *ErrorSnapshot { return f.errs.req.Load() }

// LastInvalidResponse returns the last response of one of b's servers that
// could not be parsed, nil when none.
func (b *Backend) LastInvalidResponse() *ErrorSnapshot { return b.errs.res.Load() }

// newSnapshot copies buf (at most bufSize bytes) into a snapshot of the
// error err found at its offset pos (err's own position when it is an
// *http1.Error and pos < 0).
func newSnapshot(buf []byte, bufSize int, err error, pos int) *ErrorSnapshot {
	if bufSize <= 0 {
		bufSize = 16384
	}
	es := &ErrorSnapshot{When: time.Now(), BufSize: bufSize, ErrPos: pos}
	var pe *http1.Error
	if errors.As(err, &pe) {
		if pos < 0 {
			es.ErrPos = pe.Pos
		}
		es.State, es.MsgFlags = pe.H1State, pe.H1Flags
		es.ChunkLen, es.BodyLen = pe.H1Len, pe.H1Len
	}
	es.Buf = append([]byte(nil), buf[:min(len(buf), bufSize)]...)
	es.Event = errorEvents.Add(1) - 1
	return es
}

// captureRequestError records the request in hc.buf[off:end] that hc could
// not parse (err, at pos when pos >= 0) as its frontend's last invalid
// request.
func (hc *httpConn) captureRequestError(off, end int, err error, pos int) {
	es := newSnapshot(hc.buf[off:end], hc.fullSize(), err, pos)
	es.Offset = off
	es.Src = hc.c.client
	es.ConnFlags, es.StreamFlags = h1cEmbryonic, h1sParseErr|h1sWantKAL
	if len(es.Buf) >= es.BufSize || isTooLarge(err) {
		es.ConnFlags |= h1cInFull
	}
	if hc.nreq > 0 {
		es.StreamFlags |= h1sNotFirst
	}
	hc.h.f.errs.req.Store(es)
}

// captureResponseError records the response in buf that be's server srv
// sent and hc could not parse as be's last invalid response.
func (hc *httpConn) captureResponseError(be *Backend, srv *Server, buf []byte, err error, pos int) {
	es := newSnapshot(buf, hc.fullSize(), err, pos)
	es.Response = true
	es.Src = hc.c.client
	es.Other = hc.h.f.Name()
	if srv != nil {
		es.Server, es.ServerID = srv.Name(), srv.ID()
	}
	es.ConnFlags, es.StreamFlags = h1cIsBack|h1cReady|h1cAttached, h1sHaveOConn|h1sParseErr|h1sWantKAL
	be.errs.res.Store(es)
}

// isTooLarge reports whether err is a head that did not fit in a buffer.
func isTooLarge(err error) bool {
	var pe *http1.Error
	return errors.As(err, &pe) && (pe.Msg == "request head too large" || pe.Msg == "response head too large")
}

// captureBodyError records a chunked body that could not be parsed: buf
// (hc.buf[off:] for a request) starts with the message's head of length
// head, m is the head parsed, err the chunk scanner's error (its position
// counted from the body's start). be is nil for a request, the backend of
// a response from srv.
func (hc *httpConn) captureBodyError(be *Backend, srv *Server, off int, buf []byte, m *http1.Message, head int, err error) {
	pos := head
	var pe *http1.Error
	if errors.As(err, &pe) {
		pos += pe.Pos
	}
	e := &http1.Error{Pos: pos, H1State: http1.StateChunkSize, H1Flags: http1.MsgFlags(m, be != nil)}
	if be == nil {
		hc.captureRequestError(off, off+len(buf), e, -1)
		return
	}
	hc.captureResponseError(be, srv, buf, e, -1)
}
