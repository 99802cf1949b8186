package main

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// serve accepts on a loopback listener and handles each connection with h.
func serve(t *testing.T, h func(c *net.TCPConn)) string {
	t.Helper()
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
				h(c.(*net.TCPConn))
			}()
		}
	}()
	return ln.Addr().String()
}

// readRequest reads until the end of the request's header.
func readRequest(c *net.TCPConn) {
	buf := make([]byte, 4096)
	var got []byte
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil || len(got) >= 4 && string(got[len(got)-4:]) == "\r\n\r\n" {
			return
		}
	}
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestRunCountsEachClass(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode string
		addr func(t *testing.T) string
		want func(r Report) int64
	}{
		{"ok", "http", func(t *testing.T) string {
			return serve(t, func(c *net.TCPConn) {
				readRequest(c)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
			})
		}, func(r Report) int64 { return r.OK }},
		{"non2xx", "http", func(t *testing.T) string {
			return serve(t, func(c *net.TCPConn) {
				readRequest(c)
				io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
			})
		}, func(r Report) int64 { return r.Non2xx }},
		{"refused", "http", closedPort, func(r Report) int64 { return r.Refused }},
		{"eof", "http", func(t *testing.T) string {
			return serve(t, func(c *net.TCPConn) { readRequest(c) })
		}, func(r Report) int64 { return r.EOF }},
		{"reset", "http", func(t *testing.T) string {
			return serve(t, func(c *net.TCPConn) {
				readRequest(c)
				c.SetLinger(0) // close with RST
			})
		}, func(r Report) int64 { return r.Reset }},
		{"timeout", "http", func(t *testing.T) string {
			return serve(t, func(c *net.TCPConn) { readRequest(c); time.Sleep(time.Second) })
		}, func(r Report) int64 { return r.Timeout }},
		{"echo ok", "tcp", func(t *testing.T) string {
			return serve(t, func(c *net.TCPConn) { io.Copy(c, c) })
		}, func(r Report) int64 { return r.OK }},
		{"echo wrong", "tcp", func(t *testing.T) string {
			return serve(t, func(c *net.TCPConn) { io.WriteString(c, "pong\n") })
		}, func(r Report) int64 { return r.Other }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config{addr: tc.addr(t), mode: tc.mode, path: "/", workers: 1, n: 3, timeout: 200 * time.Millisecond}
			r := run(context.Background(), cfg, io.Discard)
			if got := tc.want(r); got != 3 || r.Total != 3 {
				t.Errorf("run against %s server = %+v; want 3 of 3 in the class", tc.name, r)
			}
			if r.Failed != r.Total-r.OK {
				t.Errorf("Failed = %d; want Total-OK = %d", r.Failed, r.Total-r.OK)
			}
		})
	}
}

// TestKeepAlive: with -keepalive the requests share connections; a reused connection the
// server closes before answering is retried once on a new one (Retried, not Failed); a tcp
// session that breaks is a failure, never retried.
func TestKeepAlive(t *testing.T) {
	t.Run("http reuses", func(t *testing.T) {
		addr := serve(t, func(c *net.TCPConn) {
			for {
				readRequest(c)
				if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"); err != nil {
					return
				}
			}
		})
		r := run(context.Background(), config{addr: addr, mode: "http", path: "/", workers: 1, n: 10, keepalive: 5, timeout: time.Second}, io.Discard)
		if r.OK != 10 || r.Conns != 2 || r.Failed != 0 {
			t.Errorf("10 requests, keep-alive 5: %+v; want 10 ok on 2 connections", r)
		}
	})
	t.Run("http retries a closed idle connection", func(t *testing.T) {
		// Each connection answers one request and then closes without answering the next:
		// every second request finds its connection closed and is sent again.
		addr := serve(t, func(c *net.TCPConn) {
			readRequest(c)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
			readRequest(c)
			c.SetLinger(0)
		})
		r := run(context.Background(), config{addr: addr, mode: "http", path: "/", workers: 1, n: 6, keepalive: 100, timeout: time.Second}, io.Discard)
		if r.OK != 6 || r.Failed != 0 || r.Retried == 0 {
			t.Errorf("server closing each idle connection: %+v; want 6 ok, retries counted, none failed", r)
		}
	})
	t.Run("tcp session broken is a failure", func(t *testing.T) {
		addr := serve(t, func(c *net.TCPConn) {
			buf := make([]byte, 5)
			io.ReadFull(c, buf)
			c.Write(buf)
			io.ReadFull(c, buf)
			c.SetLinger(0)
		})
		r := run(context.Background(), config{addr: addr, mode: "tcp", workers: 1, n: 4, keepalive: 100, timeout: time.Second}, io.Discard)
		if r.OK != 2 || r.Failed != 2 || r.Retried != 0 {
			t.Errorf("echo breaking each session after one ping: %+v; want 2 ok, 2 failed, no retry", r)
		}
	})
}
