//go:build !linux

package proxy

import (
	"net"
	"syscall"
)

// copyDir copies src to dst; outside Linux the portable copier is used.
func copyDir(o CopyOwner, src, dst *Side, limit int64) (int64, CopyEnd) {
	return copyGeneric(o, src, dst, limit)
}

// rawFD and rawOf: outside Linux no connection is driven raw, so readers of
// a descriptor (rules.go) fall back to doing nothing.
type rawFD struct {
	rc syscall.RawConn
	fd int
}

func rawOf(net.Conn) (rawFD, bool) { return rawFD{}, false }
