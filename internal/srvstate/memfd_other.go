//go:build !linux

package srvstate

import (
	"errors"
	"os"
)

var errUnsupported = errors.New("server state: memfds are not supported on this system")

// Seal needs a memfd: only Linux has them.
func Seal([]byte) (*os.File, error) { return nil, errUnsupported }

// FromFile needs a memfd: only Linux has them.
func FromFile(*os.File) ([]byte, error) { return nil, errUnsupported }
