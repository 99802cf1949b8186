package proxy

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// lenHandler is a Handler with HTTP's shape, on a toy protocol: each
// request is a 4-byte big-endian length and that many bytes. Per request it
// connects to a server of the frontend's backend (Backend.Connect), copies
// exactly the body there (Copy with a limit), half-closes, copies the
// server's answer back (Copy to EOF) and lets the server go; between
// requests it parks the client alone (Conn.Park). It reports the server of
// each request, or an error, on served.
type lenHandler struct {
	served chan string
}

// lenOwner is the copiers' owner for one exchange of lenHandler.
type lenOwner struct{ c *Conn }

func (o lenOwner) Dead() bool                     { return o.c.Dead() }
func (o lenOwner) Timeout(sd *Side) time.Duration { return sd.Timeout }
func (o lenOwner) Fail(code byte)                 { o.c.Kill(code) }
func (o lenOwner) EndOfStream(*Side)              {} // the client stays open for more requests

func (o lenOwner) Deadline(sd *Side) time.Time {
	if sd.Timeout <= 0 {
		return time.Time{}
	}
	return time.Unix(0, sd.LastActive()).Add(sd.Timeout)
}

func (h *lenHandler) Serve(c *Conn) { go h.loop(c) }

// loop serves the requests that have arrived, then parks c.
func (h *lenHandler) loop(c *Conn) {
	for {
		if c.Dead() {
			c.End()
			return
		}
		if c.Park(time.Now().Add(5*time.Second), func() { go h.loop(c) }) {
			return
		}
		if !h.exchange(c) {
			c.End()
			return
		}
	}
}

// exchange serves one request and reports whether c may go on.
func (h *lenHandler) exchange(c *Conn) bool {
	o := lenOwner{c}
	cli := Side{Conn: c.NetConn(), Timeout: 5 * time.Second, TimeoutCode: TermClientTimeout, AbortCode: TermClientAbort}
	var hdr [4]byte
	_ = cli.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(cli.Conn, hdr[:]); err != nil {
		return false // the client is done
	}
	cli.Touch()
	n := int64(binary.BigEndian.Uint32(hdr[:]))
	be := c.f.cfg.Backend(nil)
	sc, r, err := be.Connect(c, &ConnectRequest{Src: c.Client(), Dst: c.Local()})
	if err != nil {
		h.served <- fmt.Sprintf("connect: %v (%c%c)", err, r.Term, r.Phase)
		return false
	}
	srv := Side{Conn: sc, Timeout: 5 * time.Second, TimeoutCode: TermServerTimeout, AbortCode: TermServerAbort}
	srv.Touch()
	if got, end := Copy(o, &cli, &srv, n); got != n || end != CopyLimit {
		h.served <- fmt.Sprintf("request copy = %d, %d; want %d, CopyLimit", got, end, n)
		return false
	}
	closeWrite(sc)
	if _, end := Copy(o, &srv, &cli, 0); end != CopyEOF {
		h.served <- fmt.Sprintf("response copy ended %d; want CopyEOF", end)
		return false
	}
	_ = c.DetachServerConn().Close()
	name := c.Server().Name()
	c.ReleaseServer()
	h.served <- name
	return true
}

// sumServer reads until EOF and answers its name and the SHA-256 of what
// it read.
func sumServer(name string) func(net.Conn) {
	return func(c net.Conn) {
		h := sha256.New()
		io.Copy(h, c)
		fmt.Fprintf(c, "%s %x\n", name, h.Sum(nil))
	}
}

// TestHandlerSeam runs a handler of HTTP's shape on the engine: a server
// chosen per request, bodies copied with a limit (one bulk enough to
// splice), two requests pipelined in one write, the client parked alone
// between requests, and a kill of the parked connection.
func TestHandlerSeam(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("idle parking needs Linux's epoll")
	}
	base := parkedSessions()
	spliced := splicedBytes.Load()
	h := &lenHandler{served: make(chan string, 10)}
	w := mkWorld(t, FrontendConfig{Handler: h}, BackendConfig{Servers: []ServerConfig{
		{Name: "a", Addr: startServer(t, sumServer("a"))},
		{Name: "b", Addr: startServer(t, sumServer("b"))},
	}, TimeoutConnect: time.Second}, BindConfig{})
	c := w.dial()
	rd := bufio.NewReader(c)
	sizes := []int{100, 1<<20 + 123, 7}
	reqs := make([][]byte, len(sizes))
	sums := make([][32]byte, len(sizes))
	for i, n := range sizes {
		body := make([]byte, n)
		rand.NewChaCha8([32]byte{byte(i)}).Read(body)
		sums[i] = sha256.Sum256(body)
		reqs[i] = append(binary.BigEndian.AppendUint32(nil, uint32(n)), body...)
	}
	// The first two requests in one write: the first body's copy must
	// stop at its length.
	go c.Write(append(reqs[0], reqs[1]...))
	for i, name := range []string{"a", "b", "a"} {
		if i == 2 {
			// The last request once the client is parked, alone.
			waitParked(t, base+1)
			c.Write(reqs[2])
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if want := name + " " + hex.EncodeToString(sums[i][:]); strings.TrimSpace(line) != want {
			t.Errorf("response %d = %q; want %q", i, strings.TrimSpace(line), want)
		}
		if got := <-h.served; got != name {
			t.Errorf("request %d served by %q; want %q", i, got, name)
		}
	}
	if splicedBytes.Load() == spliced {
		t.Errorf("the bulk body did not use splice")
	}
	// Idle again: parked with no server connection, then killed.
	waitParked(t, base+1)
	w.eng.CloseAll("test")
	expectClosed(t, c, 5*time.Second)
	waitParked(t, base)
}

// waitParked waits until n connections are parked.
func waitParked(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for parkedSessions() != n {
		if time.Now().After(deadline) {
			t.Fatalf("parked connections = %d; want %d", parkedSessions(), n)
		}
		time.Sleep(time.Millisecond) // polling a counter: there is no event for "parked"
	}
}
