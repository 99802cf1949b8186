package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// TLS on the client side runs in the connection's prologue, after the
// tcp-request connection rules and the PROXY header and before the
// tcp-request session rules, as in HAProxy: the session rules (and
// everything after them) see the handshake's outcome (ssl_fc, ssl_c_*).
// A TLS connection is served by goroutines: the event loops and splice
// move raw bytes. A keep-alive TLS client is parked on its socket like a
// plain one (Conn.Park), once a read timed out with nothing: crypto/tls
// then holds no complete record, so whatever comes next comes from the
// socket.

// prefixConn replays bytes read before the handshake (with the PROXY
// header) ahead of the socket's.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.pre) > 0 {
		n := copy(b, p.pre)
		p.pre = p.pre[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// Embryonic connection errors: the words HAProxy logs for a connection that
// failed before it became a session (conn_err_code_str).
const (
	errSSLEmpty     = "Connection closed during SSL handshake"
	errSSLAbort     = "Connection error during SSL handshake"
	errSSLTimeout   = "Timeout during SSL handshake"
	errSSLHandshake = "SSL handshake failure"
	errSSLCAFail    = "SSL client CA chain cannot be verified"
	errSSLCrtFail   = "SSL client certificate not trusted"
)

// handshake terminates TLS on c's client connection with cfg, bounded by
// "timeout client" (HAProxy's embryonic session timeout). On success c's
// socket is the TLS connection and c.tls its state; on failure c records
// the termination letter and the error its log line prints.
func (c *Conn) handshake(cfg *tls.Config) bool {
	raw := fastSocket(c.c)
	if len(c.req) > 0 {
		raw = &prefixConn{Conn: raw, pre: append([]byte(nil), c.req...)}
		putBuf(c.req)
		c.req = nil
	}
	tc := tls.Server(raw, cfg)
	c.mu.Lock()
	c.sock, c.c = c.c, tc
	c.mu.Unlock()
	if c.aborted() {
		return false
	}
	if t := c.f.cfg.TimeoutClient; t > 0 {
		_ = tc.SetDeadline(time.Now().Add(t))
	}
	err := tc.HandshakeContext(context.Background())
	if err != nil {
		term, msg := handshakeError(err, c.aborted())
		c.SetTerm(term)
		c.connErr = msg
		return false
	}
	_ = tc.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.tls = &st
	if !st.DidResume {
		c.f.eng.sslKeys.Add(1)
	}
	return true
}

// handshakeError classifies a failed server-side handshake as HAProxy
// does: the termination letter and the words of its log line.
func handshakeError(err error, killed bool) (byte, string) {
	var ne net.Error
	var ce *tls.CertificateVerificationError
	switch {
	case killed:
		return TermKilled, errSSLAbort
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return TermClientTimeout, errSSLTimeout
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return TermClientAbort, errSSLEmpty
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return TermClientAbort, errSSLAbort
	case errors.As(err, &ce):
		if verifyErrorDepth(ce) > 0 {
			return TermClientAbort, errSSLCAFail
		}
		return TermClientAbort, errSSLCrtFail
	}
	return TermClientAbort, errSSLHandshake
}

// verifyErrorDepth is the depth in the client's chain of the certificate
// OpenSSL would report the failed verification of ce at: HAProxy logs an
// error at depth 0 (the client's own certificate: expired, or signed by
// an unknown CA) as "certificate not trusted", and one above it (an
// intermediate CA) as "CA chain cannot be verified". An unknown authority
// is reported at the top of the chain the client sent, an invalid
// certificate where it is.
func verifyErrorDepth(ce *tls.CertificateVerificationError) int {
	certs := ce.UnverifiedCertificates
	var ue x509.UnknownAuthorityError
	var ie x509.CertificateInvalidError
	switch {
	case errors.As(ce.Err, &ue):
		// OpenSSL builds the chain from the leaf with the certificates
		// the client sent; the issuer of its top is not found.
		d := 0
		for d+1 < len(certs) && certs[d].CheckSignatureFrom(certs[d+1]) == nil {
			d++
		}
		return d
	case errors.As(ce.Err, &ie):
		for d, c := range certs {
			if c == ie.Cert || ie.Cert != nil && c.Equal(ie.Cert) {
				return d
			}
		}
	}
	return 0
}

// TLS returns the state of c's client TLS connection, nil when c is plain
// TCP. It is set once the handshake completed, before the session rules.
func (c *Conn) TLS() *tls.ConnectionState { return c.tls }

// tlsServerConn is a TLS connection to a server, with its socket: an idle
// pooled connection is probed on the socket (stillOpen) without reading
// through TLS. It deliberately exposes no syscall.Conn: the parking and
// splice paths must not see a socket with plaintext buffered above it.
type tlsServerConn struct {
	*tls.Conn
	raw net.Conn
}

// clientTLS originates TLS on sc, a fresh connection to srv, with cfg and
// server name sni (none when empty), bounded by deadline (the rest of
// "timeout connect": HAProxy counts a server connection as established
// once its handshake is done).
func clientTLS(sc net.Conn, cfg *tls.Config, sni string, deadline time.Time) (net.Conn, error) {
	if sni != "" && sni != cfg.ServerName {
		cfg = cfg.Clone()
		cfg.ServerName = sni
	}
	tc := tls.Client(fastSocket(sc), cfg)
	_ = sc.SetDeadline(deadline)
	if err := tc.HandshakeContext(context.Background()); err != nil {
		return nil, err
	}
	_ = sc.SetDeadline(time.Time{})
	return &tlsServerConn{Conn: tc, raw: sc}, nil
}

// fastConn is a plain socket under crypto/tls, read and written without the
// runtime's entersyscall (httpwrite_linux.go): TLS records cross the same
// system calls as plaintext does in mode http. A tls.Conn reads and writes
// from different goroutines, hence one fastIO per direction.
type fastConn struct {
	net.Conn
	rc   syscall.RawConn
	r, w fastIO
}

// fastSocket is c as a fastConn when it is a plain socket, else c.
func fastSocket(c net.Conn) net.Conn {
	if rc := rawConnOf(c); rc != nil {
		return &fastConn{Conn: c, rc: rc}
	}
	return c
}

func (f *fastConn) Read(b []byte) (int, error) { return f.r.from(f.rc, f.Conn, b) }

func (f *fastConn) Write(b []byte) (int, error) {
	n := f.w.to(f.rc, b)
	if n == len(b) {
		return n, nil
	}
	m, err := f.Conn.Write(b[n:])
	return n + m, err
}

// SyscallConn is the socket's, for the silent drop.
func (f *fastConn) SyscallConn() (syscall.RawConn, error) { return f.rc, nil }
