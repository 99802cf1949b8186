package soak

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// attempt is one request (HTTP) or one connection (TCP) of the load, as its client saw it.
type attempt struct {
	id         string // the HTTP path, or the TCP client's local address
	start, end time.Time
	err        string // "" when it succeeded
}

// loadRecorder collects the attempts of concurrent clients.
type loadRecorder struct {
	mu       sync.Mutex // guards failed
	failed   []attempt
	sent, ok atomic.Int64
}

func (r *loadRecorder) record(a attempt) {
	r.sent.Add(1)
	if a.err == "" {
		r.ok.Add(1)
		return
	}
	r.mu.Lock()
	r.failed = append(r.failed, a)
	r.mu.Unlock()
}

// failures returns the failed attempts by start time.
func (r *loadRecorder) failures() []attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := append([]attempt(nil), r.failed...)
	sort.Slice(f, func(i, j int) bool { return f[i].start.Before(f[j].start) })
	return f
}

// httpLoad runs a keep-alive HTTP client on addr until stop is closed: GET /<tag>-<n>, each
// answer read whole; anything but a complete 200 is a failure. A failed or closed connection
// is replaced by a new one. No request is retried by the client.
func httpLoad(addr, tag string, rec *loadRecorder, stop <-chan struct{}, timeout time.Duration) {
	var c net.Conn
	var br *bufio.Reader
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		a := attempt{id: fmt.Sprintf("/%s-%d", tag, n), start: time.Now()}
		if c == nil {
			var err error
			if c, err = net.DialTimeout("tcp", addr, timeout); err != nil {
				a.end, a.err = time.Now(), "dial: "+err.Error()
				rec.record(a)
				c = nil
				continue
			}
			br = bufio.NewReader(c)
		}
		_ = c.SetDeadline(time.Now().Add(timeout))
		keep := false
		if _, err := io.WriteString(c, "GET "+a.id+" HTTP/1.1\r\nHost: soak\r\n\r\n"); err != nil {
			a.err = "write: " + err.Error()
		} else if resp, err := http.ReadResponse(br, nil); err != nil {
			a.err = "read: " + err.Error()
		} else {
			_, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch {
			case err != nil:
				a.err = fmt.Sprintf("%d body: %v", resp.StatusCode, err)
			case resp.StatusCode != 200:
				a.err = resp.Status
			}
			keep = err == nil && !resp.Close
		}
		a.end = time.Now()
		rec.record(a)
		if !keep {
			c.Close()
			c = nil
		}
	}
}

// tcpLoad opens connections to addr until stop is closed: each writes a line and must read
// the same line back (an echo server behind the proxy), then closes.
func tcpLoad(addr string, rec *loadRecorder, stop <-chan struct{}, timeout time.Duration) {
	msg := []byte("soak ping\n")
	buf := make([]byte, len(msg))
	for {
		select {
		case <-stop:
			return
		default:
		}
		a := attempt{start: time.Now()}
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			a.end, a.err = time.Now(), "dial: "+err.Error()
			rec.record(a)
			continue
		}
		a.id = c.LocalAddr().String()
		_ = c.SetDeadline(time.Now().Add(timeout))
		if _, err := c.Write(msg); err != nil {
			a.err = "write: " + err.Error()
		} else if _, err := io.ReadFull(c, buf); err != nil {
			a.err = "read: " + err.Error()
		} else if string(buf) != string(msg) {
			a.err = fmt.Sprintf("read %q", buf)
		}
		c.Close()
		a.end = time.Now()
		rec.record(a)
	}
}

// interval is a span of time [from, to].
type interval struct{ from, to time.Time }

func (iv interval) overlaps(a, b time.Time) bool { return !b.Before(iv.from) && !a.After(iv.to) }

// fmtFailures lists up to max failures with their times relative to t0.
func fmtFailures(t0 time.Time, f []attempt, max int) string {
	var b strings.Builder
	for i, a := range f {
		if i == max {
			fmt.Fprintf(&b, "  … %d more\n", len(f)-max)
			break
		}
		fmt.Fprintf(&b, "  %s at %.3fs–%.3fs: %s\n", a.id, a.start.Sub(t0).Seconds(), a.end.Sub(t0).Seconds(), a.err)
	}
	return b.String()
}
