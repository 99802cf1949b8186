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

// TestSendRecv: sendRecv writes the request and returns the reply read after it, whether
// the peer answers at once or later, with when the request went; a reply that came before
// the call is not lost; the read deadline, the peer's close and a request larger than the
// socket takes end it as a read would (the rest of the request is the caller's). It
// allocates nothing.
func TestSendRecv(t *testing.T) {
	c, peer := tcpPair(t)
	rc := rawConnOf(c)
	var f fastIO
	req, reply := []byte("GET / HTTP/1.1\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\n\r\n")
	got, pbuf := make([]byte, 64), make([]byte, 64)
	// The peer answers each request it reads, after delay.
	answer := func(delay time.Duration) {
		if _, err := io.ReadFull(peer, pbuf[:len(req)]); err != nil {
			return
		}
		time.Sleep(delay)
		_, _ = peer.Write(reply)
	}
	for _, delay := range []time.Duration{0, 30 * time.Millisecond} {
		go answer(delay)
		before := time.Now()
		sent, n, err := f.sendRecv(rc, req, got)
		if sent != len(req) || err != nil || !bytes.Equal(got[:n], reply) {
			t.Fatalf("sendRecv (reply after %v) = %d, %d (%q), %v; want the request sent and the reply", delay, sent, n, got[:n], err)
		}
		if f.sentAt.Before(before) || time.Since(f.sentAt) < delay {
			t.Errorf("sentAt %v: not when the request went (reply after %v)", f.sentAt.Sub(before), delay)
		}
	}
	// Bytes there before the call (a server that sent unasked) are read with the reply:
	// the wait is for what comes after the write.
	if _, err := peer.Write([]byte("early")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the runtime's poller sees them before the call
	go answer(0)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	sent, total, err := f.sendRecv(rc, req, got)
	for err == nil && total > 0 && total < len("early")+len(reply) {
		var n int
		n, err = f.from(rc, c, got[total:])
		total += n
	}
	if sent != len(req) || err != nil || string(got[:total]) != "early"+string(reply) {
		t.Errorf("sendRecv after early bytes: %d sent, read %q, %v; want the early bytes then the reply", sent, got[:total], err)
	}
	_ = c.SetReadDeadline(time.Time{})

	var f2 fastIO
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			answer(0)
		}
	}()
	if n := testing.AllocsPerRun(19, func() { _, _, _ = f2.sendRecv(rc, req, got) }); n != 0 {
		t.Errorf("sendRecv: %v allocations per call", n)
	}
	<-done

	// No reply: the read deadline.
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	go func() { _, _ = io.ReadFull(peer, pbuf[:len(req)]) }()
	if sent, n, err := f.sendRecv(rc, req, got); sent != len(req) || n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("sendRecv with no reply = %d, %d, %v; want the request sent, then os.ErrDeadlineExceeded", sent, n, err)
	}
	_ = c.SetReadDeadline(time.Time{})

	// A request larger than the socket takes: the part that went, no read.
	big := make([]byte, 64<<20)
	sent, n, _ := f.sendRecv(rc, big, got)
	if sent <= 0 || sent >= len(big) || n != 0 {
		t.Errorf("sendRecv of %d bytes = %d sent, %d read; want a part sent, nothing read", len(big), sent, n)
	}
	for drained := 0; drained < sent; {
		k, err := peer.Read(big[:1<<20])
		if err != nil {
			t.Fatal(err)
		}
		drained += k
	}

	// The peer closes instead of answering: io.EOF.
	go func() {
		_, _ = io.ReadFull(peer, pbuf[:len(req)])
		peer.Close()
	}()
	if sent, n, err := f.sendRecv(rc, req, got); sent != len(req) || n != 0 || err != io.EOF {
		t.Errorf("sendRecv to a peer that closes = %d, %d, %v; want io.EOF", sent, n, err)
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
