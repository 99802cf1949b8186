package lbtest

import (
	"fmt"
	"net"
	"testing"
)

// TestReservePort checks both halves of the reservation: a listener with
// SO_REUSEADDR can take the port, and ":0" binds never get it.
func TestReservePort(t *testing.T) {
	port := ReservePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on the reserved port: %v", err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial the reserved port: %v", err)
	}
	c.Close()
	ln.Close()
	// With the listener gone, ephemeral binds still skip the port.
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range 2000 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, l)
		if l.Addr().(*net.TCPAddr).Port == port {
			t.Fatalf("an ephemeral bind got the reserved port %d", port)
		}
	}
}

// TestRefusingPort: connections to the port are refused, and no listener can
// take it, SO_REUSEADDR or not.
func TestRefusingPort(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", RefusingPort(t))
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("a connection to the refusing port was accepted")
	}
	if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
		t.Fatal("a listener took the refusing port")
	}
}
