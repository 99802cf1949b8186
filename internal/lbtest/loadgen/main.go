// Command loadgen is the load generator of lb's end-to-end tests: it opens a new TCP connection
// for every request, so that every accept of the load balancer is exercised, and counts each
// kind of failure separately.
//
//	loadgen -addr 127.0.0.1:8080 [-mode http|tcp] [-c 4] [-rate 400] [-d 10s] [-n 0]
//	        [-path /] [-timeout 2s] [-hold 0] [-ready FILE] [-tls] [-sni NAME] [-resume]
//	        [-keepalive 1]
//
// It runs until SIGTERM or SIGINT, until -d has passed or until -n requests were made. When the
// first request succeeds it prints the line "ready" on stdout (and creates -ready FILE when
// given), so a test can start its scenario without sleeping. At exit it prints one JSON line
// (see Report) on stdout and exits 0; it exits 2 on bad usage.
//
// Modes: http sends "GET PATH HTTP/1.1" with "Connection: close" and reads the response and its
// body: a 2xx status is ok, any other is non2xx. tcp writes "ping\n" and expects "ping\n" back
// (an echo server behind the load balancer). With -tls each connection is TLS (the certificate
// is not verified: the report counts the subject common names served, in Certs); with -resume
// too, every connection offers the session of the last one (one session cache for all
// workers), and the report counts the handshakes that were not resumed, in Full.
//
// With -keepalive N (N > 1) each worker makes up to N requests on one connection before it
// opens the next: http requests without "Connection: close" (a response that closes ends the
// connection early), tcp up to N pings on one session. An http request that fails on a reused
// connection before a single byte of its response arrived (the server closed the idle
// connection as the request left: what a soft-stopping server does to idle keep-alive clients)
// is sent once more on a new connection, as RFC 9112 §9.3.1 allows for idempotent requests and
// as browsers and Go's own client do; the report counts those in Retried, and only a failed
// retry counts as a failure. A tcp session is never retried: one that breaks is a failure.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Report is the JSON line printed at exit. Failed is the sum of every class but OK.
type Report struct {
	OK       int64   `json:"ok"`
	Refused  int64   `json:"refused"` // connect: ECONNREFUSED
	Reset    int64   `json:"reset"`   // ECONNRESET or EPIPE after connect
	EOF      int64   `json:"eof"`     // closed before a full response
	Timeout  int64   `json:"timeout"` // connect or i/o timeout
	Non2xx   int64   `json:"non2xx"`  // http: a response whose status is not 2xx
	Other    int64   `json:"other"`   // anything else (bad echo, parse error …)
	Failed   int64   `json:"failed"`  // all of the above but ok
	Total    int64   `json:"total"`   // requests made
	Seconds  float64 `json:"seconds"` // run time
	MaxMilli float64 `json:"max_ms"`  // slowest successful request
	// Certs counts the connections by the common name of the certificate served (-tls).
	Certs map[string]int64 `json:"certs,omitempty"`
	// Full counts the TLS handshakes that did not resume a session (-tls).
	Full int64 `json:"full"`
	// Conns counts the connections opened (Total with -keepalive 1).
	Conns int64 `json:"conns"`
	// Retried counts the http requests sent again after their reused connection was closed
	// before any byte of the response (-keepalive).
	Retried int64 `json:"retried"`
	// Errors samples the first failures, in order, with the time since start.
	Errors []Sample `json:"errors,omitempty"`
}

// Sample is one failed request.
type Sample struct {
	At   float64 `json:"at"` // seconds since start
	Kind string  `json:"kind"`
	Err  string  `json:"err"`
}

const maxSamples = 20

type counters struct {
	ok, refused, reset, eof, timeout, non2xx, other, total atomic.Int64
	conns, retried                                         atomic.Int64
	maxNanos                                               atomic.Int64

	mu      sync.Mutex // guards samples
	samples []Sample
}

func (c *counters) fail(start time.Time, kind string, err error) {
	switch kind {
	case "refused":
		c.refused.Add(1)
	case "reset":
		c.reset.Add(1)
	case "eof":
		c.eof.Add(1)
	case "timeout":
		c.timeout.Add(1)
	case "non2xx":
		c.non2xx.Add(1)
	default:
		c.other.Add(1)
	}
	c.mu.Lock()
	if len(c.samples) < maxSamples {
		c.samples = append(c.samples, Sample{At: time.Since(start).Seconds(), Kind: kind, Err: err.Error()})
	}
	c.mu.Unlock()
}

type config struct {
	addr    string
	mode    string
	path    string
	workers int
	rate    float64
	dur     time.Duration
	n       int64
	timeout time.Duration
	hold    time.Duration
	ready   string
	tls     bool
	sni     string
	resume  bool
	cache   tls.ClientSessionCache
	// keepalive is the number of requests per connection (1: a new one each).
	keepalive int
}

func main() {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "`host:port` to connect to")
	flag.StringVar(&cfg.mode, "mode", "http", "http or tcp (echo)")
	flag.StringVar(&cfg.path, "path", "/", "http: request path")
	flag.IntVar(&cfg.workers, "c", 4, "concurrent workers")
	flag.Float64Var(&cfg.rate, "rate", 0, "total requests per second (0 = as fast as possible)")
	flag.DurationVar(&cfg.dur, "d", 0, "run time (0 = until SIGTERM/SIGINT or -n)")
	flag.Int64Var(&cfg.n, "n", 0, "stop after this many requests (0 = no limit)")
	flag.DurationVar(&cfg.timeout, "timeout", 5*time.Second, "per request: connect and i/o deadline")
	flag.DurationVar(&cfg.hold, "hold", 0, "wait this long after connecting before sending (long sessions)")
	flag.StringVar(&cfg.ready, "ready", "", "create this `file` once the first request succeeded")
	flag.BoolVar(&cfg.tls, "tls", false, "speak TLS (the certificate is not verified)")
	flag.StringVar(&cfg.sni, "sni", "", "TLS server name to send (-tls)")
	flag.BoolVar(&cfg.resume, "resume", false, "resume TLS sessions from one cache shared by the workers (-tls)")
	flag.IntVar(&cfg.keepalive, "keepalive", 1, "requests per connection (http keep-alive, tcp pings per session)")
	flag.Parse()
	if cfg.workers < 1 || cfg.keepalive < 1 || (cfg.mode != "http" && cfg.mode != "tcp") || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if cfg.resume {
		cfg.cache = tls.NewLRUClientSessionCache(16)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if cfg.dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.dur)
		defer cancel()
	}
	rep := run(ctx, cfg, os.Stdout)
	b, _ := json.Marshal(rep)
	fmt.Println(string(b))
}

func run(ctx context.Context, cfg config, out io.Writer) Report {
	var c counters
	start := time.Now()
	var readyOnce sync.Once
	ready := func() {
		readyOnce.Do(func() {
			if cfg.ready != "" {
				if f, err := os.Create(cfg.ready); err == nil {
					f.Close()
				}
			}
			fmt.Fprintln(out, "ready")
		})
	}

	// A shared ticker paces all workers when -rate is set.
	var tick <-chan time.Time
	if cfg.rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / cfg.rate))
		defer t.Stop()
		tick = t.C
	}
	var issued atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < cfg.workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var kc kaConn
			defer kc.close()
			for {
				if tick != nil {
					select {
					case <-ctx.Done():
						return
					case <-tick:
					}
				} else if ctx.Err() != nil {
					return
				}
				if cfg.n > 0 && issued.Add(1) > cfg.n {
					return
				}
				c.total.Add(1)
				t0 := time.Now()
				kind, err := kc.request(cfg, &c)
				if err != nil {
					c.fail(start, kind, err)
					continue
				}
				c.ok.Add(1)
				d := int64(time.Since(t0))
				for {
					m := c.maxNanos.Load()
					if d <= m || c.maxNanos.CompareAndSwap(m, d) {
						break
					}
				}
				ready()
			}
		}()
	}
	wg.Wait()

	r := Report{
		OK: c.ok.Load(), Refused: c.refused.Load(), Reset: c.reset.Load(), EOF: c.eof.Load(),
		Timeout: c.timeout.Load(), Non2xx: c.non2xx.Load(), Other: c.other.Load(),
		Total: c.total.Load(), Seconds: time.Since(start).Seconds(),
		MaxMilli: float64(c.maxNanos.Load()) / 1e6,
		Conns:    c.conns.Load(), Retried: c.retried.Load(),
	}
	r.Failed = r.Refused + r.Reset + r.EOF + r.Timeout + r.Non2xx + r.Other
	c.mu.Lock()
	r.Errors = c.samples
	c.mu.Unlock()
	certs.mu.Lock()
	r.Certs, r.Full = certs.n, certs.full
	certs.mu.Unlock()
	return r
}

// kaConn is a worker's connection, kept between its requests with -keepalive.
type kaConn struct {
	conn net.Conn
	cr   *countReader // counts the bytes read since the request was sent
	br   *bufio.Reader
	used int // requests made on conn
}

func (k *kaConn) close() {
	if k.conn != nil {
		k.conn.Close()
	}
	*k = kaConn{}
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// request makes one request, on a new connection or (with -keepalive) the worker's kept one,
// and classifies its failure. An http request that failed on a reused connection before any
// byte of its response is sent once more on a new connection (see the package doc).
func (k *kaConn) request(cfg config, c *counters) (kind string, err error) {
	reused := k.conn != nil
	kind, noReply, err := k.exchange(cfg, c)
	if err != nil && reused && noReply && cfg.mode == "http" {
		c.retried.Add(1)
		kind, _, err = k.exchange(cfg, c)
	}
	return kind, err
}

// exchange makes one request and reports whether it failed before any byte of the answer.
func (k *kaConn) exchange(cfg config, c *counters) (kind string, noReply bool, err error) {
	if k.conn == nil {
		conn, err := dial(cfg)
		if err != nil {
			return failureOf("connect", err, true)
		}
		c.conns.Add(1)
		k.conn = conn
		k.cr = &countReader{r: conn}
		k.br = bufio.NewReader(k.cr)
		if cfg.hold > 0 {
			time.Sleep(cfg.hold)
		}
	}
	k.used++
	last := k.used >= cfg.keepalive
	keep := false
	defer func() {
		if err != nil || !keep || last {
			k.close()
		}
	}()
	conn := k.conn
	k.cr.n = 0
	_ = conn.SetDeadline(time.Now().Add(cfg.timeout))
	switch cfg.mode {
	case "tcp":
		if _, err := io.WriteString(conn, "ping\n"); err != nil {
			return failureOf("write", err, true)
		}
		line, err := k.br.ReadString('\n')
		if err != nil {
			return failureOf("read", err, k.cr.n == 0)
		}
		if line != "ping\n" {
			return "other", false, fmt.Errorf("echo: got %q; want %q", line, "ping\n")
		}
		keep = true
		return "", false, nil
	default:
		hdr := "Connection: close\r\n"
		if cfg.keepalive > 1 {
			hdr = ""
		}
		req := "GET " + cfg.path + " HTTP/1.1\r\nHost: " + cfg.addr + "\r\nUser-Agent: lbtest-loadgen\r\n" + hdr + "\r\n"
		if _, err := io.WriteString(conn, req); err != nil {
			return failureOf("write", err, true)
		}
		resp, err := http.ReadResponse(k.br, nil)
		if err != nil {
			return failureOf("read response", err, k.cr.n == 0)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return failureOf("read body", err, false)
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return "non2xx", false, fmt.Errorf("status %q", resp.Status)
		}
		keep = !resp.Close
		return "", false, nil
	}
}

// dial opens a connection to cfg.addr, with its TLS handshake done when cfg.tls.
func dial(cfg config) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", cfg.addr, cfg.timeout)
	if err != nil {
		return nil, err
	}
	if !cfg.tls {
		return conn, nil
	}
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: cfg.sni, ClientSessionCache: cfg.cache})
	_ = tc.SetDeadline(time.Now().Add(cfg.timeout))
	if err := tc.Handshake(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	cs := tc.ConnectionState()
	if pc := cs.PeerCertificates; len(pc) > 0 {
		servedCert(pc[0].Subject.CommonName)
	}
	if !cs.DidResume {
		certs.mu.Lock()
		certs.full++
		certs.mu.Unlock()
	}
	return tc, nil
}

// failureOf is failure with the noReply flag of exchange.
func failureOf(op string, err error, noReply bool) (string, bool, error) {
	kind, err := failure(op, err)
	return kind, noReply, err
}

// certs counts the certificates served by common name (-tls).
var certs struct {
	mu   sync.Mutex
	n    map[string]int64
	full int64
}

func servedCert(cn string) {
	certs.mu.Lock()
	if certs.n == nil {
		certs.n = map[string]int64{}
	}
	certs.n[cn]++
	certs.mu.Unlock()
}

// failure classifies err and prefixes it with the operation.
func failure(op string, err error) (string, error) {
	return classify(err), fmt.Errorf("%s: %w", op, err)
}

// classify names the failure class of err.
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	}
	return "other"
}
