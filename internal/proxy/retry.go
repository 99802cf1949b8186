package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"time"
)

// RetryOn is the set of failures "retry-on" retries, a bit per keyword.
// The zero value is HAProxy's default, "conn-failure" alone; RetrySet
// marks a list written in the configuration.
type RetryOn uint32

const (
	RetryConnFailure RetryOn = 1 << iota
	RetryEmptyResponse
	RetryJunkResponse
	RetryResponseTimeout
	Retry404
	Retry408
	Retry425
	Retry500
	Retry501
	Retry502
	Retry503
	Retry504
	// RetrySet says the set was configured ("retry-on none" is RetrySet
	// alone).
	RetrySet
)

// retryStatus are the status codes "retry-on" can name.
var retryStatus = map[int]RetryOn{404: Retry404, 408: Retry408, 425: Retry425, 500: Retry500,
	501: Retry501, 502: Retry502, 503: Retry503, 504: Retry504}

// ParseRetryOn turns the keywords of "retry-on" into a set; nil gives
// the default. Unknown keywords are ignored (the configuration checked
// them).
func ParseRetryOn(kws []string) RetryOn {
	if kws == nil {
		return 0
	}
	r := RetrySet
	for _, k := range kws {
		switch k {
		case "conn-failure":
			r |= RetryConnFailure
		case "empty-response":
			r |= RetryEmptyResponse
		case "junk-response":
			r |= RetryJunkResponse
		case "response-timeout":
			r |= RetryResponseTimeout
		case "all-retryable-errors":
			r |= RetryConnFailure | RetryEmptyResponse | RetryJunkResponse | RetryResponseTimeout |
				Retry500 | Retry502 | Retry503 | Retry504
		default:
			for code, bit := range retryStatus {
				if k == itoa(code) {
					r |= bit
				}
			}
		}
	}
	return r
}

func itoa(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}

// connFailure reports whether a failed connection attempt is retried.
func (r RetryOn) connFailure() bool { return r&RetrySet == 0 || r&RetryConnFailure != 0 }

// layer7 reports whether some response failure is retried.
func (r RetryOn) layer7() bool { return r&RetrySet != 0 && r&^(RetrySet|RetryConnFailure) != 0 }

// retryResponse reports whether the transaction's response (or the error
// reading it) is one "retry-on" retries, and a retry is still allowed:
// retries left, the request whole in hand (sent in one write, no upload
// running), nothing forwarded to the client yet. It then gives up the
// server connection, as HAProxy's do_l7_retry, for connect to make a new
// one.
func (hc *httpConn) retryResponse(be *Backend, err error, interim int) bool {
	ro := be.cfg.RetryOn
	if !ro.layer7() || !hc.retryable || hc.upload != nil || interim > 0 || hc.c.aborted() ||
		int(hc.lg.retries) >= be.cfg.Retries {
		return false
	}
	var bit RetryOn
	var ne net.Error
	switch {
	case err == nil:
		bit = retryStatus[hc.res.Status]
	case errors.Is(err, os.ErrDeadlineExceeded):
		bit = RetryResponseTimeout
	case errors.Is(err, io.EOF) || errors.As(err, &ne):
		// Closed (or reset) before a response.
		bit = RetryEmptyResponse
	default:
		// Not a valid response.
		bit = RetryJunkResponse
	}
	if bit == 0 || ro&bit == 0 {
		return false
	}
	if sc := hc.c.DetachServerConn(); sc != nil {
		_ = sc.Close()
	}
	hc.reused = false
	return true
}

// retry sends the request again after retryResponse allowed it: to the
// same server, or with "option redispatch" and HAProxy's rule, to another
// one, counting the retry in %rc.
func (hc *httpConn) retry(start time.Time, tr time.Duration, be *Backend, forced *Server, mode HTTPConnMode) bool {
	lg := &hc.lg
	n := int(lg.retries) + 1
	srv, redisp := lg.server, lg.redispatch
	c := hc.c
	req := ConnectRequest{Retried: n, Src: c.client, Dst: c.st.Dst, Key: be.key.of(&hc.req, c.client, hc.reqBody)}
	// HAProxy's do_l7_retry counts a retry, then the server is chosen
	// again, counted as after a failed connection: a retry when it is the
	// same one, a redispatch when it is another.
	be.countRetry(srv)
	if be.cfg.Redispatch && (forced == nil || hc.persisted) && redispatchNow(n, be.cfg.Retries, be.cfg.RedispatchInterval) {
		req.Avoid = srv
	} else {
		req.Server, req.Persist = srv, forced == nil || hc.persisted
		be.countRetry(srv)
	}
	ok := hc.connectWith(be, &req)
	if req.Avoid != nil && lg.server != nil {
		be.countReassign(srv, lg.server)
	}
	lg.redispatch = lg.redispatch || redisp
	if !ok {
		return hc.errorTxn(start, tr, 503)
	}
	hc.sr, hc.sw = 0, 0
	return hc.resend(start, tr, be, mode)
}
