// Package version holds lb's version and build information, printed by `lb -v` and `-vv`
// in the layout of HAProxy 2.6's, so that the scripts that read "HAProxy version X.Y.Z"
// keep working: the version lb follows is HAProxy's 2.6.12, and lb's own comes after it
// ("2.6.12-lb0.1.0").
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"lb/internal/ossl"
)

// Version is set at build time with -ldflags "-X lb/internal/version.Version=…".
var Version = "0.1.0-dev"

// Date is the release date ("2006/01/02"), set at build time like Version; empty means
// the date of the commit built, or "unreleased".
var Date = ""

// HAProxy is the HAProxy version whose configuration, command line and lifecycle lb follows.
const HAProxy = "2.6.12"

// URL is printed where HAProxy prints its web site.
const URL = "lb, a load balancer compatible with HAProxy 2.6"

func date() string {
	if Date != "" {
		return Date
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" {
				if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
					return t.UTC().Format("2006/01/02")
				}
			}
		}
	}
	return "unreleased"
}

func uname() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return runtime.GOOS + " " + runtime.GOARCH
	}
	return fmt.Sprintf("%s %s %s %s", unix.ByteSliceToString(u.Sysname[:]), unix.ByteSliceToString(u.Release[:]),
		unix.ByteSliceToString(u.Version[:]), unix.ByteSliceToString(u.Machine[:]))
}

// Short is what `lb -v` prints, as `haproxy -v` does: the version line, the status,
// the known bugs and the system.
func Short() string {
	return fmt.Sprintf("HAProxy version %s-lb%s %s - %s\n"+
		"Status: lb version %s, following the HAProxy 2.6 long-term supported branch.\n"+
		"Known bugs: see lb's README (what lb refuses: \"'KEYWORD' is not supported by lb yet\").\n"+
		"Running on: %s\n",
		HAProxy, Version, date(), URL, Version, uname())
}

// Long is what `lb -vv` prints, with the sections of `haproxy -vv` in the same order,
// each saying what lb has.
func Long() string {
	var b strings.Builder
	b.WriteString(Short())
	fmt.Fprintf(&b, "Build options :\n  TARGET  = %s-%s\n  GO      = %s\n", runtime.GOOS, runtime.GOARCH, runtime.Version())
	if bi, ok := debug.ReadBuildInfo(); ok {
		var opts []string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision", "vcs.time", "vcs.modified", "CGO_ENABLED", "-trimpath":
				opts = append(opts, strings.ToUpper(strings.NewReplacer("-", "", ".", "_").Replace(s.Key))+"="+s.Value)
			}
		}
		fmt.Fprintf(&b, "  OPTIONS = %s\n", strings.Join(opts, " "))
	}
	// What lb has (+) and lacks (-) of HAProxy's features.
	b.WriteString("\nFeature list : +ACCEPT4 +CPU_AFFINITY +EPOLL -EVPORTS -GETADDRINFO -KQUEUE +LINUX_SPLICE -LUA" +
		" -OPENSSL -PCRE -PCRE2 -POLL +PROMEX -QUIC +SYSTEMD +THREAD -ZLIB\n")
	b.WriteString("\nDefault settings :\n  bufsize = 16384, maxrewrite = 1024\n\n")
	fmt.Fprintf(&b, "Built with multi-threading support (MAX_THREADS=64, default=%d).\n", min(runtime.NumCPU(), 64))
	fmt.Fprintf(&b, "Built with Go version : %s\n", runtime.Version())
	b.WriteString("Built with Go's crypto/tls instead of OpenSSL.\n")
	if v, err := ossl.Version(); err == nil {
		fmt.Fprintf(&b, "RSA signatures by : %s (libcrypto.so.3)\n", v)
	} else {
		fmt.Fprintf(&b, "RSA signatures by : Go's crypto/rsa (%v)\n", err)
	}
	b.WriteString("TLS library supports TLS extensions : yes\nTLS library supports SNI : yes\n")
	b.WriteString("TLS library supports : TLSv1.0 TLSv1.1 TLSv1.2 TLSv1.3\n")
	b.WriteString("Built with the Prometheus exporter as a service\n")
	b.WriteString("Compression algorithms supported : identity(\"identity\"), deflate(\"deflate\"), raw-deflate(\"deflate\"), gzip(\"gzip\")\n")
	b.WriteString("Built with Go's regexp (RE2 syntax) instead of PCRE.\n")
	b.WriteString("\nAvailable polling systems :\n      epoll : pref=300,  test result OK\nTotal: 1 (1 usable), will use epoll.\n")
	b.WriteString("\nAvailable multiplexer protocols :\n(protocols marked as <default> cannot be specified using 'proto' keyword)\n")
	b.WriteString("  <default> : mode=HTTP  side=FE|BE  mux=H1    flags=HTX\n")
	b.WriteString("  <default> : mode=TCP   side=FE|BE  mux=PASS  flags=\n")
	b.WriteString("\nAvailable services : prometheus-exporter\n")
	b.WriteString("Available filters :\n\t[COMP] compression\n")
	return b.String()
}

// ReleaseDate is the release date ("2006/01/02"), as `lb -v` prints it: Date, else the
// date of the commit built, else "unreleased".
func ReleaseDate() string { return date() }
