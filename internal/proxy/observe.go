package proxy

import (
	"fmt"
	"sync/atomic"
)

// Passive health checks ("observe layer4|layer7", "error-limit",
// "on-error"): the server's own traffic counts as checks, as HAProxy
// 2.6's health_adjust does. Each connection attempt and each response is
// an event; the observe mode says which events are errors, which clear the
// count of consecutive errors and which do not count. error-limit
// consecutive errors make one "Health analyze" verdict, which the server's
// checker applies as on-error says (plane, health.Checker.Analyze).

// Observe is a server's "observe" mode.
type Observe uint8

const (
	ObserveNone   Observe = iota // no passive check (the default)
	ObserveLayer4                // "observe layer4": connection attempts
	ObserveLayer7                // "observe layer7": HTTP responses (mode http)
)

// hana is an event of a server's traffic, HAProxy's HANA_STATUS_*.
type hana uint8

const (
	hanaL4OK           hana = iota // the connection was established
	hanaL4Err                      // a connection attempt failed (refused, timed out, TLS)
	hanaHTTPOK                     // a response whose status is below 500, or 501, 505
	hanaHTTPSts                    // a response with another 5xx status
	hanaHTTPHdrRsp                 // an invalid response head
	hanaHTTPReadError              // a read error before the response
	hanaHTTPReadTout               // no response within timeout server
	hanaHTTPBrokenPipe             // the server closed before the response
)

// hanaEvents are the events' descriptions, as HAProxy words "last one was",
// and what each observe mode makes of them: 0 ignored, 1 an error, 2 a
// success (HAProxy's analyze_statuses).
var hanaEvents = [...]struct {
	desc   string
	l4, l7 uint8
}{
	hanaL4OK:           {"L4 successful connection", 2, 0},
	hanaL4Err:          {"L4 unsuccessful connection", 1, 1},
	hanaHTTPOK:         {"Correct http response", 0, 2},
	hanaHTTPSts:        {"Wrong http response", 0, 1},
	hanaHTTPHdrRsp:     {"Invalid http response (headers)", 0, 1},
	hanaHTTPReadError:  {"Read error (http)", 0, 1},
	hanaHTTPReadTout:   {"Read timeout (http)", 0, 1},
	hanaHTTPBrokenPipe: {"Close from server (http)", 0, 1},
}

// hanaStatus is the event of a response with status code st.
func hanaStatus(st int) hana {
	if st >= 100 && (st < 500 || st == 501 || st == 505) {
		return hanaHTTPOK // 501 and 505 answer the client's request
	}
	return hanaHTTPSts
}

// passive is a server's passive-check state.
type passive struct {
	mode  Observe
	limit int32 // error-limit (10 by default)
	// errs counts the consecutive errors; failed the verdicts (hanafail).
	errs   atomic.Int32
	failed atomic.Uint64
	// analyze receives a verdict: the description HAProxy logs ("Detected
	// 10 consecutive errors, last one was: …"). Set once by SetAnalyzer
	// before traffic, read by the goroutines observing.
	analyze atomic.Pointer[func(string)]
}

// SetObserve sets s's "observe" mode and "error-limit" (0: 10), as
// ServerConfig gives them.
func (s *Server) SetObserve(mode Observe, limit int) {
	if limit <= 0 {
		limit = 10
	}
	s.hana.mode, s.hana.limit = mode, int32(limit)
}

// SetAnalyzer makes fn receive s's passive-check verdicts; nil: none. A
// server without one (no "check") observes nothing.
func (s *Server) SetAnalyzer(fn func(desc string)) {
	if fn == nil {
		s.hana.analyze.Store(nil)
		return
	}
	s.hana.analyze.Store(&fn)
}

// HANAFailed counts s's passive-check verdicts (hanafail).
func (s *Server) HANAFailed() uint64 { return s.hana.failed.Load() }

// observe accounts event ev of s's traffic. A server without health
// checks (no analyzer) counts nothing, as HAProxy's health_adjust returns
// at once without a check task.
func (s *Server) observe(ev hana) {
	p := &s.hana
	if p.mode == ObserveNone {
		return
	}
	fn := p.analyze.Load()
	if fn == nil {
		return
	}
	var v uint8
	switch p.mode {
	case ObserveLayer4:
		v = hanaEvents[ev].l4
	default:
		v = hanaEvents[ev].l7
	}
	switch v {
	case 2:
		if p.errs.Load() != 0 {
			p.errs.Store(0)
		}
		return
	case 0:
		return
	}
	n := p.errs.Add(1)
	if n < p.limit {
		return
	}
	// Another goroutine may pass the limit at once: one verdict only.
	if !p.errs.CompareAndSwap(n, 0) {
		return
	}
	p.failed.Add(1)
	(*fn)(fmt.Sprintf("Detected %d consecutive errors, last one was: %s", n, hanaEvents[ev].desc))
}
