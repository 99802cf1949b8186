//go:build !linux

package nspawn

import (
	"testing"
)

// Boot skips the test: systemd containers exist on Linux only.
func Boot(t testing.TB) *Container { return BootWith(t, Options{}) }

// BootWith skips the test: systemd containers exist on Linux only.
func BootWith(t testing.TB, opt Options) *Container {
	t.Helper()
	t.Skip("nspawn: systemd containers need Linux")
	return nil
}
