//go:build !linux

package health

import (
	"errors"
	"syscall"
)

// bindToDevice: binding to a device needs Linux.
func bindToDevice(string) func(network, address string, c syscall.RawConn) error {
	return func(string, string, syscall.RawConn) error {
		return errors.New("binding to an interface needs Linux")
	}
}

// delayAck: TCP_QUICKACK is Linux's; elsewhere the ACK goes at once.
func delayAck(ctl func(network, address string, c syscall.RawConn) error) func(network, address string, c syscall.RawConn) error {
	return ctl
}
