// Package version holds lb's version and build information, printed by `lb -v` and `-vv`.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is set at build time with -ldflags "-X lb/internal/version.Version=…".
var Version = "0.1.0-dev"

// Short is the line `lb -v` prints.
func Short() string {
	return fmt.Sprintf("lb version %s - HAProxy 2.6 configuration compatible load balancer", Version)
}

// Long is what `lb -vv` prints: the version, then the build: Go version, target, VCS state
// and the modules compiled in.
func Long() string {
	var b strings.Builder
	b.WriteString(Short() + "\n\n")
	fmt.Fprintf(&b, "Build options :\n  GO_VERSION=%s\n  TARGET=%s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision", "vcs.time", "vcs.modified", "CGO_ENABLED", "-trimpath":
				fmt.Fprintf(&b, "  %s=%s\n", strings.ToUpper(strings.TrimPrefix(s.Key, "-")), s.Value)
			}
		}
		b.WriteString("\nModules :\n")
		for _, m := range bi.Deps {
			fmt.Fprintf(&b, "  %s %s\n", m.Path, m.Version)
		}
	}
	b.WriteString("\nFeature list : +LINUX_SPLICE +TPROXY +CPU_AFFINITY +SYSTEMD +GETADDRINFO -OPENSSL -LUA -PROMEX\n")
	b.WriteString("\nAvailable polling systems :\n      epoll : pref=300,  test result OK (Go runtime netpoller)\n")
	return b.String()
}
