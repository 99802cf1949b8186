//go:build !linux

package proxy

// silentFD does nothing outside Linux: the connection is closed as any
// rejected one.
func silentFD(int) {}

func (x *rconn) fd() int { return -1 }
