package proxy

import (
	"time"

	"lb/internal/http1"
	"lb/internal/rules"
)

// monitor answers a request for the frontend's monitor-uri: 200, or 503
// when a "monitor fail" condition holds. Not logged, as HAProxy does.
func (hc *httpConn) monitor(st *rules.Stream) bool {
	status := 200
	if fr := hc.h.f.cfg.Rules; fr != nil && fr.MonitorFail(st) {
		status = 503
	}
	// Counted as HAProxy counts it, though not logged: a request, an
	// intercepted one, and its status.
	f := hc.h.f
	f.reqs.Add(1)
	f.http.intercepted.Add(1)
	f.http.countStatus(status)
	hc.out = appendStreamError(hc.out[:0], status, hc.closing)
	return hc.writeClient(hc.out) && !hc.closing && hc.req.Framing == http1.NoBody
}

// originalTo adds the address the client connected to in the "option
// originalto" field, as HAProxy does: when the frontend or the backend
// sets the option, unless the address is in either's "except" network;
// the field is the backend's when it names one, else the frontend's.
func (hc *httpConn) originalTo(be *Backend) {
	fo, bo := hc.h.cfg.Originalto, be.cfg.HTTP.Originalto
	if fo == nil && bo == nil {
		return
	}
	a := hc.c.local.Addr()
	if st := hc.c.st; st != nil && st.Dst.IsValid() {
		a = st.Dst.Addr()
	}
	if !a.IsValid() {
		return
	}
	a = a.Unmap()
	name := ""
	for _, o := range []*Forwardfor{bo, fo} {
		if o == nil {
			continue
		}
		if o.Except.IsValid() && o.Except.Contains(a) {
			return
		}
		if name == "" {
			name = o.Header
		}
	}
	if name == "" {
		name = "X-Original-To"
	}
	var ip [64]byte
	hc.req.Header.Add(name, a.AppendTo(ip[:0]))
}

// tarpitResponse answers a request an "http-request tarpit" rule stopped:
// held for "timeout tarpit" (the rule's proxy's), then answered as deny
// answers (500 by default). As HAProxy 2.6.12 does (measured): the hold
// lasts even when the client closes meanwhile, the client connection then
// serves its next request, and the log says "PT" with no %TR and the hold
// from the request's start, plus one millisecond, as %Tw.
func (hc *httpConn) tarpitResponse(start time.Time, res *rules.HTTPResult) bool {
	d := hc.h.cfg.TimeoutTarpit
	if hc.be != nil {
		d = hc.be.cfg.HTTP.TimeoutTarpit
	}
	time.Sleep(d)
	hc.h.f.deniedReq.Add(1)
	if hc.req.Framing != http1.NoBody {
		hc.closing = true // the body is not read
	}
	hc.ts = [2]byte{TermProxy, 'T'}
	hc.out = hc.local(res.Status, res)
	if hc.writeClient(hc.out) {
		hc.down = int64(len(hc.out))
	} else {
		hc.closing = true
	}
	held := time.Since(start)
	hc.lg.tw = held.Truncate(time.Millisecond) + time.Millisecond
	hc.logTxn(start, -1, -1, held, true)
	return !hc.closing
}

// ErrorLoc is an "errorloc" line: the error is answered by a redirect to
// URL with Code (302 or 303).
type ErrorLoc struct {
	Code int
	URL  []byte
}

// errorLocMessage makes m the redirect of el, as HAProxy sends it: no
// body, "cache-control: no-cache", "content-length: 0", "location".
func errorLocMessage(m *http1.Message, el ErrorLoc) {
	m.Status = el.Code
	m.Reason = []byte(statusReasons[el.Code])
	m.Header.Add("cache-control", []byte("no-cache"))
	m.Header.Add("content-length", []byte("0"))
	m.Header.Add("location", el.URL)
}
