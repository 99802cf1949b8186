//go:build !linux

package health

import (
	"errors"
	"syscall"
	"time"
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

// userTimeout: TCP_USER_TIMEOUT is Linux's; elsewhere the system's applies.
func userTimeout(ctl func(network, address string, c syscall.RawConn) error, _ time.Duration) func(network, address string, c syscall.RawConn) error {
	return ctl
}
