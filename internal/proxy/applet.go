package proxy

import (
	"net/netip"

	"lb/internal/http1"
	"lb/internal/rules"
)

// Applet answers a request itself instead of a server (the statistics page of
// "stats enable"): it returns the whole response to send, or nil to let the request
// go on. closing says the client connection closes after the response (the applet
// writes "connection: close" then). It runs on the transaction's goroutine and must
// not keep req, nor txn past its return.
type Applet func(req *http1.Message, client netip.AddrPort, closing bool, txn AppletTxn) []byte

// AppletTxn is what an applet reads of the transaction besides the request head.
type AppletTxn interface {
	// Stream is the transaction's rules stream, for the applet's conditions (as
	// the http-request rules see the request).
	Stream() *rules.Stream
	// Body waits for the request body as "option http-buffer-request" does and
	// returns what the buffer holds of it; complete says it is the whole body. ok
	// false says the transaction is over (the client left or stalled and was
	// answered): the applet then returns nil.
	Body() (body []byte, complete, ok bool)
}

var _ AppletTxn = (*httpConn)(nil)

// Stream implements AppletTxn.
func (hc *httpConn) Stream() *rules.Stream {
	if st := hc.c.st; st != nil {
		return st
	}
	return hc.c.newStream()
}

// Body implements AppletTxn.
func (hc *httpConn) Body() ([]byte, bool, bool) {
	if !hc.bufferBody(hc.appletStart) {
		hc.appletGone = true
		return nil, false, false
	}
	req := &hc.req
	complete := true
	switch req.Framing {
	case http1.Length:
		complete = int64(len(hc.reqBody)) >= req.ContentLength
	case http1.Chunked:
		complete = hc.chunkDone
	}
	return hc.reqBody, complete, true
}
