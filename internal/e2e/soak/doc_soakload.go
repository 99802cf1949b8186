// Package soak holds lb's soak tests on loopback: the real lb binary under continuous load
// while the test reloads it, starves it of file descriptors or otherwise tries to break it,
// measuring what it loses (requests), leaks (processes, fds) and grows (memory).
//
// Each scenario has a short variant that runs in the default `go test ./...` (skipped with
// -short) and a long one when LB_SOAK=1. Each logs its figures, and appends its row of the
// README's faults table (markdown) to the file named by LB_SOAK_TABLE when it is set.
package soak
