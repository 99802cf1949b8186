package listener

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"lb/internal/config"
)

// socketKey is Key for an open socket, from the address it reports: "" when
// it cannot say. A unix socket bound under a rename-bind's temporary name
// PATH.PID.tmp reports that name; its key is PATH's.
func socketKey(f *os.File) string {
	sa, err := unix.Getsockname(int(f.Fd()))
	if err != nil {
		return ""
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return Key(config.BindAddr{Network: "tcp4", Host: net.IP(a.Addr[:]).String(), Port: a.Port})
	case *unix.SockaddrInet6:
		return Key(config.BindAddr{Network: "tcp6", Host: net.IP(a.Addr[:]).String(), Port: a.Port})
	case *unix.SockaddrUnix:
		if strings.HasPrefix(a.Name, "@") {
			return "abns " + strings.TrimRight(a.Name[1:], "\x00")
		}
		return "unix " + stripTmp(a.Name)
	}
	return ""
}

// socketAddr is the address an open socket reports, for log lines; "?" when
// it cannot say.
func socketAddr(f *os.File) string {
	sa, err := unix.Getsockname(int(f.Fd()))
	if err != nil {
		return "?"
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrUnix:
		return a.Name
	}
	return "?"
}

// dupFile returns a close-on-exec duplicate of f's descriptor.
func dupFile(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dup: %w", err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}
