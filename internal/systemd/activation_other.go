//go:build !linux

package systemd

import "os"

const (
	sockStream    = 1
	sockSeqpacket = 5
)

func setCloseOnExec(int) {}

func inspectSocket(*os.File) (SocketInfo, error) { return SocketInfo{}, errUnsupported }
