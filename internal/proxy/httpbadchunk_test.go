package proxy

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestHTTPBadChunkWithHead: a chunked response whose bad chunk size arrives with the head is
// an invalid response, as HAProxy's H1 layer parses the body bytes it read with the head:
// the client gets a 502 and the log PH, not a cut response (which a bad size arriving later
// still gets, logged SD). Issue 16 (found by the bad-server soak: lb sent nothing and logged
// 200 SD).
func TestHTTPBadChunkWithHead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				line, _ := br.ReadString('\n')
				for {
					if h, err := br.ReadString('\n'); err != nil || h == "\r\n" {
						break
					}
				}
				head := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n"
				if strings.Contains(line, "/late") {
					io.WriteString(c, head)
					time.Sleep(100 * time.Millisecond) // the head goes to the client first
					io.WriteString(c, "zz\r\n")
				} else {
					io.WriteString(c, head+"zz\r\n") // one write: read with the head
				}
				time.Sleep(20 * time.Millisecond) // read before the close
			}()
		}
	}()
	fc := FrontendConfig{TimeoutClient: 5 * time.Second, HTTP: &HTTPFrontendConfig{}}
	bc := BackendConfig{TimeoutConnect: 2 * time.Second, TimeoutServer: 5 * time.Second,
		HTTP:    HTTPBackendConfig{Enabled: true},
		Servers: []ServerConfig{{Name: "s1", Addr: ln.Addr().String()}}}
	w := &world{t: t, eng: newTestEngine(EngineConfig{Logger: quiet}), logs: make(chan *LogRecord, 10)}
	w = w.start(fc, bc, BindConfig{Name: "b"})
	for _, tc := range []struct {
		path, answer string
		status       int
		term         string
	}{
		{"/now", "HTTP/1.1 502 Bad Gateway\r\n", 502, "PH"},
		{"/late", "HTTP/1.1 200 OK\r\n", 200, "SD"},
	} {
		c := w.dial()
		io.WriteString(c, "GET "+tc.path+" HTTP/1.1\r\nHost: a\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		if !strings.HasPrefix(string(b), tc.answer) {
			t.Errorf("%s: answer %q; want %q", tc.path, b, tc.answer)
		}
		if r := w.nextLog(); r.HTTP.Status != tc.status || r.Termination != tc.term {
			t.Errorf("%s: logged %d %s; want %d %s", tc.path, r.HTTP.Status, r.Termination, tc.status, tc.term)
		}
	}
}
