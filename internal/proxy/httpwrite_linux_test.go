package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestFastIO: fastIO writes what the socket takes at once and says how much, never waits
// for the rest, writes nothing to a connection past its write deadline or closed; it reads
// as net.Conn's Read does (waiting for data, io.EOF at the end, the read deadline's error);
// neither allocates; it is not used for TLS or other wrapped connections.
func TestFastIO(t *testing.T) {
	c, peer := tcpPair(t)

	var w fastIO
	rc := rawConnOf(c)
	if rc == nil {
		t.Fatal("rawConnOf(*net.TCPConn) = nil")
	}
	msg := []byte("GET / HTTP/1.1\r\nhost: x\r\n\r\n")
	if n := w.to(rc, msg); n != len(msg) {
		t.Fatalf("to: wrote %d of %d bytes", n, len(msg))
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(peer, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("peer read %q, %v; want %q", got, err, msg)
	}
	if n := testing.AllocsPerRun(100, func() {
		w.to(rc, msg[:1])
		_, _ = peer.Read(got[:1])
	}); n != 0 {
		t.Errorf("to: %v allocations per call", n)
	}

	// Reads: the data there, then a wait for more, then the deadline, then the end.
	prc := rawConnOf(peer)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if n, err := w.from(prc, peer, got); n != len(msg) || err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("from = %d, %v (%q); want the request", n, err, got[:max(n, 0)])
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		_, _ = c.Write([]byte("x"))
	}()
	if n, err := w.from(prc, peer, got); n != 1 || err != nil {
		t.Fatalf("from, data after a wait = %d, %v; want 1 byte", n, err)
	}
	if n := testing.AllocsPerRun(100, func() {
		_, _ = c.Write(msg[:1])
		_, _ = w.from(prc, peer, got)
	}); n != 0 {
		t.Errorf("from: %v allocations per call", n)
	}
	_ = peer.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if n, err := w.from(prc, peer, got); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("from past the read deadline = %d, %v; want os.ErrDeadlineExceeded", n, err)
	}
	_ = peer.SetReadDeadline(time.Time{})

	// A socket whose buffers are full: part of a large write, at once.
	big := make([]byte, 64<<20)
	done := make(chan int, 1)
	go func() { done <- w.to(rc, big) }()
	select {
	case n := <-done:
		if n <= 0 || n >= len(big) {
			t.Errorf("to with full buffers: wrote %d of %d bytes; want a part", n, len(big))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("to waited for the socket to drain")
	}

	// Past its write deadline: nothing.
	if err := c.SetWriteDeadline(time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	if n := w.to(rc, msg); n != 0 {
		t.Errorf("to past the write deadline wrote %d bytes", n)
	}
	c.Close()
	if n := w.to(rc, msg); n != 0 {
		t.Errorf("to on a closed connection wrote %d bytes", n)
	}
	// The peer sees the end of the stream after what the large write left.
	for {
		n, err := w.from(prc, peer, big[:1<<20])
		if err == io.EOF {
			break
		}
		if n == 0 || err != nil {
			t.Fatalf("from after the close = %d, %v; want data then io.EOF", n, err)
		}
	}

	// Connections whose bytes are not the socket's are written the usual way.
	type wrapped struct{ net.Conn }
	if rawConnOf(wrapped{c}) != nil {
		t.Error("rawConnOf(wrapped) != nil")
	}
	if n := w.to(nil, msg); n != 0 {
		t.Errorf("to(nil) wrote %d bytes", n)
	}
}

// TestFastSocket: a plain socket under crypto/tls becomes a fastConn that reads and writes
// the socket's bytes and gives its descriptor to the silent drop; anything else stays as
// it is.
func TestFastSocket(t *testing.T) {
	c, peer := tcpPair(t)

	f, ok := fastSocket(c).(*fastConn)
	if !ok {
		t.Fatal("fastSocket(*net.TCPConn) is not a fastConn")
	}
	if _, err := f.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != "hello" {
		t.Fatalf("peer read %q, %v", got, err)
	}
	if _, err := peer.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(f, got); err != nil || string(got) != "world" {
		t.Fatalf("fastConn read %q, %v", got, err)
	}
	if rc, err := f.SyscallConn(); rc == nil || err != nil {
		t.Errorf("SyscallConn = %v, %v", rc, err)
	}
	p := &prefixConn{Conn: c}
	if fastSocket(p) != net.Conn(p) {
		t.Error("fastSocket changed a wrapped connection")
	}
}

// tcpPair is both ends of a TCP connection on loopback, closed with the test.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return c, peer
}
