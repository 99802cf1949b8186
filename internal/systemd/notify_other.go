//go:build !linux

package systemd

import (
	"os"
	"time"
)

func dialNotify(string) (int, error)           { return -1, errUnsupported }
func sendNotify(int, []byte, []int) error      { return errUnsupported }
func isStaleSocket(error) bool                 { return false }
func closeFD(int) error                        { return nil }
func monotonicUsec() (int64, error)            { return 0, errUnsupported }
func pipe() (int, int, error)                  { return -1, -1, errUnsupported }
func waitHangup(int, time.Duration) error      { return errUnsupported }
func rawFDs([]*os.File) ([]int, func(), error) { return nil, nil, errUnsupported }

// PidfdID reports no id: pidfds exist on Linux only.
func PidfdID(int) (uint64, bool, error) { return 0, false, nil }
