//go:build !linux

package proxy

import (
	"errors"
	"syscall"
)

// sourceControl: transparent sources and interfaces need Linux.
func sourceControl(foreign, port bool, iface string) func(network, address string, c syscall.RawConn) error {
	return func(string, string, syscall.RawConn) error {
		if foreign || iface != "" {
			return errors.New("transparent sources and interfaces need Linux")
		}
		return nil
	}
}
