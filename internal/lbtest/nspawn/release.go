package nspawn

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
)

// Release names the root file system a container boots.
type Release string

const (
	// Host is the machine's own root, seen through the overlay: Debian 12 (systemd 252) on
	// the machines that build and test lb. The zero Release means Host.
	Host Release = "host"
	// Trixie is a Debian 13 root (systemd 257), booted with a pure cgroup v2 hierarchy as a
	// real Debian 13 machine has. It is built with debootstrap the first time it is needed and
	// kept in the cache directory (CacheDir).
	Trixie Release = "trixie"
)

// Releases are the roots the end-to-end tests run on, in this order.
var Releases = []Release{Host, Trixie}

// TrixiePackages are installed into the Debian 13 root besides debootstrap's minbase: what the
// tests run inside (systemctl, journalctl, busctl, ss, kill, useradd) and what lb's package
// depends on (adduser), since the container has no network to install anything later.
var TrixiePackages = []string{"systemd", "systemd-sysv", "dbus", "iproute2", "procps", "adduser", "passwd"}

// DefaultCacheDir is where built roots are kept unless $LB_TEST_CACHE names another directory.
const DefaultCacheDir = "/var/cache/lb-test"

// CacheDir is the directory of built roots: $LB_TEST_CACHE, or DefaultCacheDir.
func CacheDir() string {
	if d := os.Getenv("LB_TEST_CACHE"); d != "" {
		return d
	}
	return DefaultCacheDir
}

// String is the release's name for test names: the host's ID and VERSION_ID from
// /etc/os-release (e.g. "debian12"), or "debian13" for Trixie.
func (r Release) String() string {
	switch r {
	case Trixie:
		return "debian13"
	case "", Host:
		id, ver := osRelease("/etc/os-release")
		if id == "" {
			return "host"
		}
		return id + ver
	}
	return string(r)
}

// recipe identifies how a built root is made: a root built by another recipe is never reused
// (nor removed, since a container of another test run may still use it).
func (r Release) recipe() string {
	return "debootstrap --variant=minbase --include=" + strings.Join(TrixiePackages, ",") + " " + string(r)
}

// dirName is the root's directory in the cache: the suite and a hash of the recipe.
func (r Release) dirName() string {
	sum := sha256.Sum256([]byte(r.recipe()))
	return string(r) + "-" + hex.EncodeToString(sum[:4])
}

// osRelease reads ID and VERSION_ID (without quotes) from an os-release file.
func osRelease(path string) (id, version string) {
	f, err := os.Open(path)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			id = v
		case "VERSION_ID":
			version = v
		}
	}
	return id, version
}

// aptMirror is the Debian archive apt already uses on this machine (the first URIs: line of
// a deb822 source, or the first deb line naming /debian), so that building a root needs no
// other network access than installing packages does. $LB_TEST_DEBIAN_MIRROR overrides it.
func aptMirror() string {
	if m := os.Getenv("LB_TEST_DEBIAN_MIRROR"); m != "" {
		return m
	}
	if b, err := os.ReadFile("/etc/apt/sources.list.d/debian.sources"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "URIs:"); ok {
				if f := strings.Fields(v); len(f) > 0 {
					return f[0]
				}
			}
		}
	}
	if b, err := os.ReadFile("/etc/apt/sources.list"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[0] == "deb" {
				u := f[1]
				if strings.HasPrefix(u, "[") { // deb [options] URI suite
					for i, x := range f {
						if strings.HasSuffix(x, "]") && i+1 < len(f) {
							u = f[i+1]
							break
						}
					}
				}
				if strings.HasSuffix(strings.TrimRight(u, "/"), "/debian") {
					return u
				}
			}
		}
	}
	return "http://deb.debian.org/debian"
}
