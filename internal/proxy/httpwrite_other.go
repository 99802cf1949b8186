//go:build !linux

package proxy

import (
	"net"
	"syscall"
	"time"
)

// fastIO reads and writes the usual way outside Linux: rawConnOf gives no
// RawConn, so read is never called.
type fastIO struct {
	b        []byte
	n        int
	err      error
	rfn, wfn func(uintptr) bool
	sentAt   time.Time
	sfn      func(uintptr) bool
}

func (f *fastIO) read(uintptr) bool { return true }

func (f *fastIO) to(syscall.RawConn, []byte) int { return 0 }

func (f *fastIO) put(uintptr, []byte) int { return 0 }

func (f *fastIO) sendRecv(syscall.RawConn, []byte, []byte) (int, int, error) { return 0, 0, nil }

func (f *fastIO) from(_ syscall.RawConn, c net.Conn, b []byte) (int, error) { return c.Read(b) }

func rawConnOf(net.Conn) syscall.RawConn { return nil }
