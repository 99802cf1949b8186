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
	Framing       Framing
	ContentLength int64
	// Close: the sender will close after this message ("Connection:
	// close", or HTTP/1.0 without "Connection: keep-alive").
	Close bool
	// KeepAlive: an HTTP/1.0 message said "Connection: keep-alive".
	KeepAlive bool
	// Upgrade: the message asks for (request) or accepts (101 response)
	// a protocol upgrade: "Connection: upgrade" and an Upgrade field.
	Upgrade bool
	// Expect100: the request carries "Expect: 100-continue".
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
	// MaxHeaders is tune.http.maxhdr: more fields than this are refused
	// (400 in a request, 502 for the proxy in a response). 0 means 101,
	// HAProxy's default.
	MaxHeaders int
}

// Error is a message lb refuses. Status is what HAProxy answers the
// client for it (400, 413, 414, 431, 501, ... for a request; a response
// error is answered 502 by the proxy). Pos is the offset of the first
// offending byte in the buffer, for "show errors".
type Error struct {
	Status int
	Pos    int
	Msg    string
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
// skipped, as HAProxy does (their length is part of n).
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
// len(b) bytes: 414 while the request line is not complete, 431 when the
// fields are not (HAProxy 2.6 answers both 400; see the function), for a
// request; 502 for a response.
func TooLarge(b []byte, request bool) *Error { return tooLarge(b, request) }

// AppendRequest appends m's request head to dst: the request line with
// m.Method, m.URI and HTTP/1.minor, then every field of m.Header but the
// hop-by-hop ones that are the proxy's to set (Connection, Keep-Alive,
// Proxy-Connection, and TE other than "trailers"), then a Connection
// field saying conn ("" for none: "keep-alive" is implied in HTTP/1.1,
// "close", "upgrade"), then the blank line.
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
	digits  int
	trailer int // bytes of trailers so far
	// Data is the number of payload bytes seen so far (the body's length
	// once decoded).
	Data int64
}

// Scan consumes the bytes of p that belong to the body and reports how
// many (n <= len(p)); done is set when the body's end (the last chunk and
// the trailers' blank line) is within p[:n]. Bytes after n belong to the
// next message. An invalid body gives an *Error (status 400 for a request
// body, 502 for a response).
func (s *ChunkScanner) Scan(p []byte) (n int, done bool, err error) { return s.scan(p) }

// Reset prepares s for a new body.
func (s *ChunkScanner) Reset() { *s = ChunkScanner{} }
