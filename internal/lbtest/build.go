// Package lbtest holds helpers shared by lb's end-to-end tests: building the repository's
// commands with the Go toolchain that runs the tests. The container harness is in
// lbtest/nspawn, the load generator in lbtest/loadgen, the test backend in lbtest/backend.
package lbtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// ModuleRoot is the directory holding lb's go.mod, found from the working directory up.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module lb\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root: no go.mod of module lb above the working directory")
		}
		dir = parent
	}
}

var (
	goToolOnce sync.Once
	goTool     string
	goToolErr  error
)

// GoTool is the go command of the toolchain running the tests: `go env GOROOT`/bin/go, so
// binaries built by a test match the one `go test` used.
func GoTool() (string, error) {
	goToolOnce.Do(func() {
		goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goCmd); err != nil {
			if goCmd, err = exec.LookPath("go"); err != nil {
				goToolErr = fmt.Errorf("go tool: %w", err)
				return
			}
		}
		out, err := exec.Command(goCmd, "env", "GOROOT").Output()
		if err != nil {
			goToolErr = fmt.Errorf("go tool: go env GOROOT: %w", err)
			return
		}
		goTool = filepath.Join(strings.TrimSpace(string(out)), "bin", "go")
	})
	return goTool, goToolErr
}

// Race reports whether the tests run with LB_TEST_RACE=1: the binaries they build then carry
// the race detector (cgo, dynamically linked), and a binary that saw a data race says
// "WARNING: DATA RACE" on its standard error and exits with status 66.
func Race() bool { return os.Getenv("LB_TEST_RACE") == "1" }

// RaceReport is the line the race detector prints when it finds a race.
const RaceReport = "WARNING: DATA RACE"

// Build compiles the package pkg (a path relative to the module root, e.g. "./cmd/lb") into
// dir and returns the binary's path, built as the Makefile builds it: lb with cgo where gcc
// is (it then loads libcrypto for RSA signatures) and Go's own resolver, the other
// binaries static (CGO_ENABLED=0); every one with the race detector when Race. ldflags are
// passed to -ldflags when not empty (e.g. "-X lb/internal/version.Version=2").
func Build(dir, pkg, ldflags string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	goCmd, err := GoTool()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, filepath.Base(pkg))
	args := []string{"build", "-trimpath", "-o", out}
	cgo := "CGO_ENABLED=0"
	env := os.Environ()
	if filepath.Base(pkg) == "lb" {
		args = append(args, "-tags", "netgo,osusergo")
	}
	if filepath.Base(pkg) == "lb" && !Race() {
		if _, err := exec.LookPath("gcc"); err == nil {
			cgo = "CGO_ENABLED=1"
		}
		args = append(args, "-buildmode=pie")
		ldflags = strings.TrimSpace(ldflags + " -extldflags '-Wl,-z,relro,-z,now'")
		env = append(env, "CGO_CFLAGS=-O2 -g0 -D_FORTIFY_SOURCE=2")
	}
	if ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	if Race() {
		args = append(args, "-race")
		cgo = "CGO_ENABLED=1"
	}
	cmd := exec.Command(goCmd, append(args, pkg)...)
	cmd.Dir = root
	cmd.Env = append(env, cgo)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %q: %w\n%s", pkg, err, b)
	}
	return out, nil
}

// MustBuild is Build that fails the test.
func MustBuild(t testing.TB, dir, pkg, ldflags string) string {
	t.Helper()
	p, err := Build(dir, pkg, ldflags)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
