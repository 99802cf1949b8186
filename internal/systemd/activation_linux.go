package systemd

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

const (
	sockStream    = unix.SOCK_STREAM
	sockSeqpacket = unix.SOCK_SEQPACKET
)

func setCloseOnExec(fd int) { unix.CloseOnExec(fd) }

func inspectSocket(f *os.File) (SocketInfo, error) {
	var si SocketInfo
	rc, err := f.SyscallConn()
	if err != nil {
		return si, fmt.Errorf("inspect %q: %w", f.Name(), err)
	}
	var opErr error
	err = rc.Control(func(u uintptr) {
		fd := int(u)
		typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
		if err != nil {
			if errors.Is(err, unix.ENOTSOCK) {
				err = errNotSocket
			}
			opErr = fmt.Errorf("getsockopt SO_TYPE: %w", err)
			return
		}
		si.Type = typ
		if si.Family, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil {
			opErr = fmt.Errorf("getsockopt SO_DOMAIN: %w", err)
			return
		}
		acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
		if err != nil {
			opErr = fmt.Errorf("getsockopt SO_ACCEPTCONN: %w", err)
			return
		}
		si.Listening = acc != 0
		sa, err := unix.Getsockname(fd)
		if err != nil {
			opErr = fmt.Errorf("getsockname: %w", err)
			return
		}
		si.Addr = sockaddrToAddr(sa, typ)
	})
	if err == nil {
		err = opErr
	}
	if err != nil {
		return si, fmt.Errorf("inspect %q: %w", f.Name(), err)
	}
	return si, nil
}

func sockaddrToAddr(sa unix.Sockaddr, typ int) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		ip := net.IP(append([]byte(nil), sa.Addr[:]...))
		if typ == unix.SOCK_DGRAM {
			return &net.UDPAddr{IP: ip, Port: sa.Port}
		}
		return &net.TCPAddr{IP: ip, Port: sa.Port}
	case *unix.SockaddrInet6:
		ip := net.IP(append([]byte(nil), sa.Addr[:]...))
		zone := ""
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				zone = ifi.Name
			}
		}
		if typ == unix.SOCK_DGRAM {
			return &net.UDPAddr{IP: ip, Port: sa.Port, Zone: zone}
		}
		return &net.TCPAddr{IP: ip, Port: sa.Port, Zone: zone}
	case *unix.SockaddrUnix:
		network := "unix"
		switch typ {
		case unix.SOCK_DGRAM:
			network = "unixgram"
		case unix.SOCK_SEQPACKET:
			network = "unixpacket"
		}
		return &net.UnixAddr{Name: sa.Name, Net: network}
	}
	return nil
}
