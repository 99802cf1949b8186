//go:build !linux

package proxy

import (
	"net"
	"syscall"
)

// fastIO reads and writes the usual way outside Linux.
type fastIO struct{ rfn, wfn func(uintptr) bool }

func (f *fastIO) to(syscall.RawConn, []byte) int { return 0 }

func (f *fastIO) from(_ syscall.RawConn, c net.Conn, b []byte) (int, error) { return c.Read(b) }

func rawConnOf(net.Conn) syscall.RawConn { return nil }
