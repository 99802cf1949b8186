// Package http1 parses and writes HTTP/1.0 and HTTP/1.1 message heads and
// walks chunked bodies, as HAProxy 2.6's H1 multiplexer does: the same
// messages are accepted, the same are refused, with the same status. It is
// a pure leaf: no I/O, no policy beyond the protocol, no allocation on the
// common path (fields point into the caller's buffer). Everything that
// reads bytes from the network here has a fuzz target.
//
// The handler in internal/proxy reads into a buffer, calls ParseRequest or
// ParseResponse until a head is complete, applies its rules to the Header,
// writes the head out with AppendRequest/AppendResponse and forwards the
// body as the message's Framing says: Length bytes as they are, a chunked
// body through a ChunkScanner that validates it on the way, or until the
// server closes.
package http1

import "errors"

// Framing is how a message's body is delimited (RFC 9112 section 6).
type Framing uint8

const (
	// NoBody: the message has no body (a request without Content-Length
	// or Transfer-Encoding, a response to HEAD, 1xx, 204, 304).
	NoBody Framing = iota
	// Length: the body is Message.ContentLength bytes.
	Length
	// Chunked: the body is chunked ("Transfer-Encoding: chunked" last).
	Chunked
	// UntilClose: the body runs until the server closes (a response
	// without either header).
	UntilClose
	// Tunnel: after this message both sides speak another protocol: a
	// 101 response, or a 2xx response to CONNECT.
	Tunnel
)

// Field is one header field as received: Name without the colon, Value
// without surrounding whitespace. Both point into the parsed buffer or
// into the Header's own arena.
type Field struct {
	Name, Value []byte
}

// Header is an ordered header table. Names keep the case they were
// received in; lookups ignore case. The zero value is an empty table.
// A Header is reset and reused from message to message (Reset keeps its
// storage).
type Header struct {
	Fields []Field
	arena  []byte
}

// Message is a parsed request or response head, and what it says about
// the connection and the body.
type Message struct {
	// Request line: Method and URI (the request target as sent). Empty in
	// a response.
	Method, URI []byte
	// Status line: Status and Reason. Zero and empty in a request.
	Status int
	Reason []byte
	// Minor is the HTTP/1.x minor version: 0 or 1.
	Minor int
	// Header holds every field, in order, hop-by-hop ones included.
	Header Header

	// Framing and ContentLength say where the body ends. For a response,
	// ParseResponse needs to know the request's method (HEAD, CONNECT).
	// A request's Content-Length of 0 is Length with ContentLength 0. A
	// CONNECT request has no body (unless it says otherwise): the tunnel
	// starts with the 2xx response, whose Framing is Tunnel.
	Framing       Framing
	ContentLength int64
	// Close: the connection is to be closed after this message
	// ("Connection: close", HTTP/1.0 without "Connection: keep-alive", a
	// response delimited by the close, or, as HAProxy forces it, a message
	// with both Transfer-Encoding and Content-Length or with
	// Transfer-Encoding in HTTP/1.0).
	Close bool
	// KeepAlive: an HTTP/1.0 message said "Connection: keep-alive".
	KeepAlive bool
	// Upgrade: the message asks for (HTTP/1.1 request) or accepts (101
	// response) a protocol upgrade: "Connection: upgrade" and an Upgrade
	// field.
	Upgrade bool
	// Expect100: the HTTP/1.1 request carries "Expect: 100-continue" (any
	// case; RFC 9110 section 10.1.1 has it ignored in HTTP/1.0, and
	// HAProxy only answers it in 1.1).
	Expect100 bool
	// HeadLen is the length of the head in the buffer, final CRLF
	// included (ParseRequest's n).
	HeadLen int
}

// Options are the parsing options of a proxy.
type Options struct {
	// AcceptInvalid relaxes the checks as HAProxy's "option
	// accept-invalid-http-request" (or -response) does: invalid
	// characters in header names and in the URI are let through. It never
	// lets through what makes framing ambiguous (smuggling).
	AcceptInvalid bool
	// MaxHeaders is tune.http.maxhdr: HAProxy's header list has this
	// many entries, the last of which marks the end, so a head with
	// MaxHeaders fields or more (after Content-Length and Host merging) is
	// refused (400 in a request, 502 for the proxy in a response). 0 means
	// 101, HAProxy's default: 100 fields pass, 101 do not (measured).
	MaxHeaders int
}

// Error is a message lb refuses. Status is what HAProxy answers the
// client for it: 400 for a request (422 for a transfer coding other than
// chunked; HAProxy 2.6 has no 414 or 431), 502 for a response (Scan's
// errors are 400 whichever the body's message: the proxy answers 502 for
// a response's). Pos is the offset of the first offending byte in the
// buffer (for Scan, in the slice it was given), for "show errors".
//
// H1State, H1Flags and H1Len are what HAProxy 2.6's H1 parser would
// report for the same error in "show errors" (its h1m state, its H1_MF_*
// message flags and the content length read so far), measured against
// haproxy for each kind of error the parsers return.
type Error struct {
	Status  int
	Pos     int
	Msg     string
	H1State H1State
	H1Flags uint32
	H1Len   int64
}

func (e *Error) Error() string { return e.Msg }

// ErrIncomplete is what the parsers return while the head is not complete
// in the buffer: read more, and when the buffer is full give up with
// what TooLarge says.
var ErrIncomplete = errors.New("http1: incomplete message head")

// ParseRequest parses the request head at the start of b into m (reset
// first; m's fields point into b) and returns the head's length. It
// returns ErrIncomplete when b holds no complete head yet, and an *Error
// when the head is invalid. Empty lines before the request line are
// skipped, as HAProxy does (their length is part of n). Like HAProxy, it
// writes into b: the line break of an obs-fold continuation is turned
// into spaces, so that the folded value is one slice. Once m has been
// used for a message, parsing does not allocate.
func ParseRequest(b []byte, m *Message, opt *Options) (n int, err error) {
	return parseRequest(b, m, opt)
}

// ParseResponse parses a response head as ParseRequest does a request.
// method is the request's method: a response to HEAD has no body, and a
// 2xx response to CONNECT starts a tunnel. A 1xx response other than 101
// is interim: its Framing is NoBody and the final response follows.
func ParseResponse(b []byte, m *Message, method []byte, opt *Options) (n int, err error) {
	return parseResponse(b, m, method, opt)
}

// TooLarge returns the error for a head that did not fit in a buffer of
// len(b) bytes: 400 for a request, whether its line or its fields did not
// fit (HAProxy 2.6 has no 414 or 431: measured, see tooLarge), 502 for a
// response. Pos is the start of the line that did not end.
func TooLarge(b []byte, request bool) *Error { return tooLarge(b, request) }

// AppendRequest appends m's request head to dst: the request line with
// m.Method, m.URI and HTTP/1.minor, then every field of m.Header but the
// hop-by-hop ones that are the proxy's to set (Connection, Keep-Alive,
// Proxy-Connection, and TE: a TE listing "trailers" is written as "TE:
// trailers", as HAProxy does, any other is dropped), then a Connection
// field saying conn ("" for none: "keep-alive" is implied in HTTP/1.1,
// "close", "upgrade"), then the blank line. The Upgrade field is kept.
func AppendRequest(dst []byte, m *Message, conn string) []byte { return appendRequest(dst, m, conn) }

// AppendResponse appends m's response head to dst as AppendRequest does
// for a request, with the status line "HTTP/1.minor Status Reason".
func AppendResponse(dst []byte, m *Message, conn string) []byte {
	return appendResponse(dst, m, conn)
}

// ChunkScanner walks a chunked body as it passes through, validating
// chunk sizes, extensions, CRLFs and trailers, so that it can be forwarded
// as received without being re-encoded. The zero value is ready for a new
// body.
type ChunkScanner struct {
	state   uint8
	size    int64 // bytes left in the current chunk's data
	digits  int   // hex digits of the current chunk-size line
	line    int   // bytes of the current chunk-size line
	trailer int   // bytes of trailers so far
	// Data is the number of payload bytes seen so far (the body's length
	// once decoded).
	Data int64
}

// Scan consumes the bytes of p that belong to the body and reports how
// many (n <= len(p)); done is set when the body's end (the last chunk and
// the trailers' blank line) is within p[:n], and stays set: later calls
// consume nothing. Bytes after n belong to the next message. The result
// does not depend on how the body is split into calls. An invalid body
// gives an *Error with Status 400 and Pos in p (the proxy answers 502 for
// a response's body); the scanner then stays failed.
func (s *ChunkScanner) Scan(p []byte) (n int, done bool, err error) { return s.scan(p) }

// Reset prepares s for a new body.
func (s *ChunkScanner) Reset() { *s = ChunkScanner{} }
