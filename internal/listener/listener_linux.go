package listener

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sunPathLen is the size of sockaddr_un.sun_path on Linux.
const sunPathLen = len(unix.RawSockaddrUnix{}.Path)

func bind(spec Spec) (*Listener, error) {
	switch spec.Network {
	case "tcp4", "tcp6":
		return bindTCP(spec)
	case "unix":
		return bindUnix(spec)
	case "abns":
		return bindAbns(spec)
	}
	return nil, fmt.Errorf("bind %q: unknown network %q", spec.Addr, spec.Network)
}

// backlogOf returns the listen() backlog for spec.
func backlogOf(spec *Spec) int {
	if spec != nil && spec.Backlog > 0 {
		return spec.Backlog
	}
	return somaxconn()
}

var somaxconn = sync.OnceValue(func() int {
	// What net.Listen uses; the kernel caps any larger value at it anyway.
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
			return n
		}
	}
	return unix.SOMAXCONN
})

// inetAddr parses a tcp4/tcp6 Spec address into a sockaddr.
func inetAddr(spec *Spec) (family int, sa unix.Sockaddr, ap netip.AddrPort, err error) {
	host, portStr, err := net.SplitHostPort(spec.Addr)
	if err != nil {
		return 0, nil, ap, fmt.Errorf("address %q: %w", spec.Addr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return 0, nil, ap, fmt.Errorf("address %q: bad port: %w", spec.Addr, err)
	}
	var ip netip.Addr
	switch {
	case host == "" || host == "*":
		if spec.Network == "tcp4" {
			ip = netip.IPv4Unspecified()
		} else {
			ip = netip.IPv6Unspecified()
		}
	default:
		ip, err = netip.ParseAddr(host)
		if err != nil {
			return 0, nil, ap, fmt.Errorf("address %q: host must be numeric: %w", spec.Addr, err)
		}
	}
	ap = netip.AddrPortFrom(ip, uint16(port))
	switch spec.Network {
	case "tcp4":
		if !ip.Is4() {
			return 0, nil, ap, fmt.Errorf("address %q: %w", spec.Addr, errFamily)
		}
		return unix.AF_INET, &unix.SockaddrInet4{Port: int(port), Addr: ip.As4()}, ap, nil
	case "tcp6":
		if !ip.Is6() {
			return 0, nil, ap, fmt.Errorf("address %q: %w", spec.Addr, errFamily)
		}
		sa6 := &unix.SockaddrInet6{Port: int(port), Addr: ip.As16()}
		if z := ip.Zone(); z != "" {
			ifi, err := net.InterfaceByName(z)
			if err != nil {
				return 0, nil, ap, fmt.Errorf("address %q: zone: %w", spec.Addr, err)
			}
			sa6.ZoneId = uint32(ifi.Index)
		}
		return unix.AF_INET6, sa6, ap, nil
	}
	return 0, nil, ap, fmt.Errorf("address %q: unknown network %q", spec.Addr, spec.Network)
}

var errFamily = errors.New("address family does not match the network")

func bindTCP(spec Spec) (_ *Listener, err error) {
	family, sa, _, err := inetAddr(&spec)
	if err != nil {
		return nil, fmt.Errorf("bind: %w", err)
	}
	warn := func(msg string, err error) {
		spec.logger().Warn(msg, "network", spec.Network, "addr", spec.Addr, "err", err)
	}
	fd, err := tcpSocket(&spec, family, warn)
	if err != nil {
		return nil, fmt.Errorf("bind %s %q: socket: %w", spec.Network, spec.Addr, err)
	}
	owned := true // fd is ours to close on error until wrap takes it
	defer func() {
		if err != nil && owned {
			unix.Close(fd)
		}
	}()
	if err := unix.Bind(fd, sa); err != nil {
		return nil, fmt.Errorf("bind %s %q: %w", spec.Network, spec.Addr, err)
	}
	backlog := backlogOf(&spec)
	tcpOptions(fd, &spec, backlog, false, warn)
	if err := unix.Listen(fd, backlog); err != nil {
		return nil, fmt.Errorf("listen %s %q: %w", spec.Network, spec.Addr, err)
	}
	owned = false
	l, err := wrap(fd, fileName(&spec), Self, spec, backlog)
	if err != nil {
		return nil, err
	}
	// Keep the bound address: Resume binds it again when the kernel gave
	// an ephemeral port back during the pause (port 0 in Spec.Addr).
	l.bound, _ = unix.Getsockname(fd)
	return l, nil
}

// tcpSocket creates a TCP socket with the options HAProxy sets before
// bind() (sock_inet_bind_receiver).
func tcpSocket(spec *Spec, family int, warn func(string, error)) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		warn("cannot do so_reuseaddr", err)
	}
	if !spec.NoReusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			warn("cannot do so_reuseport", err)
		}
	}
	if spec.Transparent {
		if err := makeForeign(fd, family, unix.SetsockoptInt); err != nil {
			warn("cannot make listening socket transparent", err)
		}
	}
	if spec.Interface != "" {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, spec.Interface); err != nil {
			warn("cannot bind listener to device", err)
		}
	}
	if family == unix.AF_INET6 {
		// v6only wins over v4v6; with neither, the kernel default stays.
		// Binding a specific (not v4-mapped) IPv6 address makes the kernel
		// force IPV6_V6ONLY to 1 whatever was set here.
		var err error
		switch {
		case spec.V6Only:
			err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
		case spec.V4V6:
			err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
		}
		if err != nil {
			warn("cannot set ipv6_v6only", err)
		}
	}
	return fd, nil
}

// wrap turns the listening descriptor fd into a Listener; fd is closed on
// error.
func wrap(fd int, name string, origin Origin, spec Spec, backlog int) (*Listener, error) {
	f := os.NewFile(uintptr(fd), name)
	l, err := newListener(f, origin, spec, backlog)
	if err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// makeForeign lets the socket bind a non-local address: IP_TRANSPARENT
// (IPV6_TRANSPARENT), which needs CAP_NET_ADMIN, else IP_FREEBIND, in
// HAProxy's order (sock_inet_make_foreign).
func makeForeign(fd, family int, setsockopt func(fd, level, opt, value int) error) error {
	var err error
	if family == unix.AF_INET6 {
		err = setsockopt(fd, unix.IPPROTO_IPV6, unix.IPV6_TRANSPARENT, 1)
	} else {
		err = setsockopt(fd, unix.IPPROTO_IP, unix.IP_TRANSPARENT, 1)
	}
	if err == nil {
		return nil
	}
	if ferr := setsockopt(fd, unix.IPPROTO_IP, unix.IP_FREEBIND, 1); ferr != nil {
		return errors.Join(err, ferr)
	}
	return nil
}

// tcpOptions applies the options HAProxy sets in tcp_bind_listener, on fresh
// and on transferred sockets. With reset, options the Spec does not ask for
// are cleared when the socket has them (a socket from a previous
// configuration); TCP_FASTOPEN is only cleared when set, so that no fast
// open queue is created for nothing.
func tcpOptions(fd int, spec *Spec, backlog int, reset bool, warn func(string, error)) {
	switch {
	case spec.Nolinger:
		if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}); err != nil {
			warn("cannot set so_linger", err)
		}
	case reset:
		if lg, err := unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER); err == nil && lg.Onoff != 0 {
			_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{})
		}
	}
	switch {
	case spec.DeferAccept:
		// HAProxy defers accept by up to one second.
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 1); err != nil {
			warn("cannot enable defer_accept", err)
		}
	case reset:
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 0)
	}
	switch {
	case spec.UserTimeout > 0:
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(spec.UserTimeout.Milliseconds())); err != nil {
			warn("cannot set TCP User Timeout", err)
		}
	case reset:
		if v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT); err == nil && v != 0 {
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, 0)
		}
	}
	switch {
	case spec.Tfo:
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN, backlog); err != nil {
			warn("cannot enable tcp_fastopen", err)
		}
	case reset:
		if q, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN); err == nil && q != 0 {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN, 0); err != nil {
				warn("cannot disable tcp_fastopen", err)
			}
		}
	}
}

func fileName(spec *Spec) string {
	if spec.Name != "" {
		return spec.Name
	}
	return spec.Network + ":" + spec.Addr
}

func bindUnix(spec Spec) (_ *Listener, err error) {
	path := spec.Addr
	if path == "" {
		return nil, fmt.Errorf("bind unix: empty path")
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	bak := fmt.Sprintf("%s.%d.bak", path, os.Getpid())
	if len(tmp) >= sunPathLen {
		return nil, fmt.Errorf("bind unix %q: name too long for unix socket (limit %d with the .PID.tmp suffix)", path, sunPathLen-1)
	}
	// Clean orphans of a previous process with our pid, then keep a link
	// to the current socket so that a failed rename can put it back.
	for _, p := range []string{tmp, bak} {
		if err := unix.Unlink(p); err != nil && err != unix.ENOENT {
			return nil, fmt.Errorf("bind unix %q: remove %q: %w", path, p, err)
		}
	}
	if err := unix.Link(path, bak); err != nil && err != unix.ENOENT {
		return nil, fmt.Errorf("bind unix %q: preserve previous socket: %w", path, err)
	}
	defer unix.Unlink(bak)

	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("bind unix %q: socket: %w", path, err)
	}
	owned, renamed := true, false
	defer func() {
		if err == nil {
			return
		}
		if owned {
			unix.Close(fd)
		}
		if !renamed {
			unix.Unlink(tmp)
		}
	}()
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: tmp}); err != nil {
		return nil, fmt.Errorf("bind unix %q: %w", path, err)
	}
	if spec.UID != -1 || spec.GID != -1 {
		if err := unix.Chown(tmp, spec.UID, spec.GID); err != nil {
			return nil, fmt.Errorf("bind unix %q: cannot change unix socket ownership: %w", path, err)
		}
	}
	if spec.Mode != 0 {
		if err := unix.Chmod(tmp, uint32(spec.Mode.Perm())); err != nil {
			return nil, fmt.Errorf("bind unix %q: cannot change unix socket mode: %w", path, err)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(tmp, &st); err != nil {
		return nil, fmt.Errorf("bind unix %q: %w", path, err)
	}
	backlog := backlogOf(&spec)
	// Listen before the rename, so PATH always names a listening socket.
	if err := unix.Listen(fd, backlog); err != nil {
		return nil, fmt.Errorf("listen unix %q: %w", path, err)
	}
	if err := unix.Rename(tmp, path); err != nil {
		// Put the previous socket back, as HAProxy's err_rename does.
		if rerr := unix.Rename(bak, path); rerr == unix.ENOENT {
			unix.Unlink(path)
		}
		return nil, fmt.Errorf("bind unix %q: cannot switch final and temporary unix sockets: %w", path, err)
	}
	renamed, owned = true, false
	l, err := wrap(fd, fileName(&spec), Self, spec, backlog)
	if err != nil {
		unlinkIfSame(path, uint64(st.Dev), st.Ino)
		return nil, err
	}
	l.unixPath, l.unixDev, l.unixIno = path, uint64(st.Dev), st.Ino
	l.addr = &net.UnixAddr{Name: path, Net: "unix"}
	return l, nil
}

// abnsSockaddr is HAProxy's abns address: a NUL, the name, and NUL padding
// up to the full sun_path.
func abnsSockaddr(name string) (unix.RawSockaddrUnix, error) {
	var rsa unix.RawSockaddrUnix
	if name == "" || len(name) > sunPathLen-1 {
		return rsa, fmt.Errorf("abns name %q: length must be 1 to %d", name, sunPathLen-1)
	}
	rsa.Family = unix.AF_UNIX
	for i := 0; i < len(name); i++ {
		rsa.Path[1+i] = int8(name[i])
	}
	return rsa, nil
}

func bindAbns(spec Spec) (_ *Listener, err error) {
	rsa, err := abnsSockaddr(spec.Addr)
	if err != nil {
		return nil, fmt.Errorf("bind: %w", err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("bind abns %q: socket: %w", spec.Addr, err)
	}
	owned := true
	defer func() {
		if err != nil && owned {
			unix.Close(fd)
		}
	}()
	// unix.Bind would trim the address to the name's length; HAProxy binds
	// with addrlen = sizeof(struct sockaddr_un).
	if _, _, e := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), unsafe.Sizeof(rsa)); e != 0 {
		return nil, fmt.Errorf("bind abns %q: %w", spec.Addr, e)
	}
	backlog := backlogOf(&spec)
	if err := unix.Listen(fd, backlog); err != nil {
		return nil, fmt.Errorf("listen abns %q: %w", spec.Addr, err)
	}
	owned = false
	return wrap(fd, fileName(&spec), Self, spec, backlog)
}

// control runs fn on f's descriptor (an *os.File's without calling its Fd).
func control(f syscall.Conn, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

func adopt(f *os.File, origin Origin, spec *Spec) (_ *Listener, err error) {
	if f == nil {
		return nil, fmt.Errorf("adopt: %w", errBadFD)
	}
	name := f.Name()
	nfd := -1
	err = control(f, func(fd int) error {
		var err error
		nfd, err = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		return err
	})
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("adopt %q: %w: %w", name, errBadFD, err)
	}
	owned := true
	defer func() {
		if err != nil && owned {
			unix.Close(nfd)
		}
	}()
	if typ, err := unix.GetsockoptInt(nfd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_STREAM {
		return nil, fmt.Errorf("adopt %q: %w", name, errNotStream)
	}
	sa, err := unix.Getsockname(nfd)
	if err != nil {
		return nil, fmt.Errorf("adopt %q: getsockname: %w", name, err)
	}
	// The open file description is shared with whoever passed it; HAProxy
	// also makes inherited sockets non-blocking.
	if err := unix.SetNonblock(nfd, true); err != nil {
		return nil, fmt.Errorf("adopt %q: %w", name, err)
	}
	var s Spec
	if spec != nil {
		s = *spec
	}
	s.Network, s.Addr = describe(sa)
	backlog := backlogOf(spec)
	inet := s.Network == "tcp4" || s.Network == "tcp6"
	if inet && spec != nil && origin != Activated {
		tcpOptions(nfd, spec, backlog, true, func(msg string, err error) {
			spec.logger().Warn(msg, "network", s.Network, "addr", s.Addr, "origin", origin.String(), "err", err)
		})
	} else if inet && spec != nil {
		tcpOptions(nfd, spec, backlog, false, func(msg string, err error) {
			spec.logger().Warn(msg, "network", s.Network, "addr", s.Addr, "origin", origin.String(), "err", err)
		})
	}
	listening, _ := unix.GetsockoptInt(nfd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	relisten := listening == 0 || (spec != nil && spec.Backlog > 0 && origin != Activated)
	if relisten {
		if err := unix.Listen(nfd, backlog); err != nil {
			return nil, fmt.Errorf("adopt %q: listen: %w", name, err)
		}
	}
	owned = false
	l, err := wrap(nfd, name, origin, s, backlog)
	if err != nil {
		return nil, fmt.Errorf("adopt %q: %w", name, err)
	}
	return l, nil
}

// describe returns the Spec network and address a socket reports.
func describe(sa unix.Sockaddr) (network, addr string) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return "tcp4", netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		return "tcp6", netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrUnix:
		if strings.HasPrefix(a.Name, "@") {
			return "abns", a.Name[1:]
		}
		return "unix", a.Name
	}
	return "", ""
}

// suspend takes a listening TCP socket out of LISTEN state the way HAProxy
// pauses a listener: connect(AF_UNSPEC), which disconnects it
// (tcp_disconnect: the socket becomes CLOSE and keeps an explicitly bound
// port), as HAProxy 2.6.12 does (tcp_suspend_receiver, seen with strace on
// SIGTTOU). If the socket still listens, it falls back to the sequence of
// HAProxy 2.6.0 (tcp_pause_listener): shutdown(SHUT_WR), a no-op on a Linux
// listener, listen() and shutdown(SHUT_RD), which disconnects it too. A
// socket that already does not listen (paused through another descriptor)
// is fine.
func suspend(f *os.File, backlog int) error {
	return control(f, func(fd int) error {
		listening := func() (bool, error) {
			on, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
			if err != nil {
				return false, fmt.Errorf("so_acceptconn: %w", err)
			}
			return on != 0, nil
		}
		cerr := disconnect(fd)
		if on, err := listening(); err != nil || !on {
			return err
		}
		_ = unix.Shutdown(fd, unix.SHUT_WR)
		_ = unix.Listen(fd, backlog)
		serr := unix.Shutdown(fd, unix.SHUT_RD)
		on, err := listening()
		if err != nil {
			return err
		}
		if on {
			return fmt.Errorf("socket still listening: %w", errors.Join(cerr, serr))
		}
		return nil
	})
}

// disconnect is connect(fd, {AF_UNSPEC}).
func disconnect(fd int) error {
	unspec := unix.RawSockaddr{Family: unix.AF_UNSPEC}
	if _, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&unspec)), unsafe.Sizeof(unspec)); e != 0 {
		return fmt.Errorf("connect(AF_UNSPEC): %w", e)
	}
	return nil
}

// relisten resumes a suspended socket. A socket bound to port 0 lost its
// ephemeral port when it was disconnected (the kernel only keeps ports that
// were asked for explicitly, SOCK_BINDPORT_LOCK), so it is bound again to
// the address it had; an explicitly bound one keeps its port.
func relisten(f *os.File, backlog int, bound unix.Sockaddr) error {
	return control(f, func(fd int) error {
		if bound != nil {
			// EINVAL: the socket kept its port.
			if err := unix.Bind(fd, bound); err != nil && err != unix.EINVAL {
				return fmt.Errorf("bind: %w", err)
			}
		}
		if err := unix.Listen(fd, backlog); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		return nil
	})
}

// unlinkIfSame removes path when it still names the socket file dev/ino.
func unlinkIfSame(path string, dev, ino uint64) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return
	}
	if uint64(st.Dev) == dev && st.Ino == ino {
		_ = unix.Unlink(path)
	}
}

// sockInfo is what matching compares, as the socket reports it.
type sockInfo struct {
	family  int
	dgram   bool
	foreign bool
	v6only  bool
	iface   string
	inet    netip.AddrPort
	path    string // unix path, a ".PID.tmp" suffix removed
	raw     string // abns: sun_path bytes as bound (addrlen - 2 bytes)
}

func inspect(f *os.File) (sockInfo, error) {
	var si sockInfo
	err := control(f, func(fd int) error {
		rsa, n, err := rawSockname(fd)
		if err != nil {
			return err
		}
		si.family = int(rsa.Addr.Family)
		if typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil {
			return err
		} else if typ == unix.SOCK_DGRAM {
			si.dgram = true
		}
		switch si.family {
		case unix.AF_INET, unix.AF_INET6:
			sa, err := unix.Getsockname(fd)
			if err != nil {
				return err
			}
			_, a := describe(sa)
			si.inet, err = netip.ParseAddrPort(a)
			if err != nil {
				return err
			}
			si.foreign = isForeign(fd, si.family)
			if si.family == unix.AF_INET6 {
				v, err := unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
				si.v6only = err == nil && v != 0
			}
			si.iface, _ = unix.GetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE)
		case unix.AF_UNIX:
			p := (*unix.RawSockaddrUnix)(unsafe.Pointer(&rsa))
			plen := n - 2 // minus sun_family
			if plen < 1 {
				return errors.New("unnamed unix socket")
			}
			b := unsafe.Slice((*byte)(unsafe.Pointer(&p.Path[0])), plen)
			if b[0] == 0 {
				si.raw = string(b)
			} else {
				end := 0
				for end < len(b) && b[end] != 0 {
					end++
				}
				si.path = stripTmp(string(b[:end]))
			}
		default:
			return fmt.Errorf("address family %d", si.family)
		}
		return nil
	})
	return si, err
}

// rawSockname is getsockname keeping the address length, which matters for
// abstract unix sockets.
func rawSockname(fd int) (unix.RawSockaddrAny, int, error) {
	var rsa unix.RawSockaddrAny
	n := uint32(unsafe.Sizeof(rsa))
	if _, _, e := unix.RawSyscall(unix.SYS_GETSOCKNAME, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n))); e != 0 {
		return rsa, 0, fmt.Errorf("getsockname: %w", e)
	}
	return rsa, int(n), nil
}

// isForeign is HAProxy's sock_inet_is_foreign.
func isForeign(fd, family int) bool {
	on := func(level, opt int) bool {
		v, err := unix.GetsockoptInt(fd, level, opt)
		return err == nil && v != 0
	}
	if family == unix.AF_INET6 && on(unix.IPPROTO_IPV6, unix.IPV6_TRANSPARENT) {
		return true
	}
	return on(unix.IPPROTO_IP, unix.IP_TRANSPARENT) || on(unix.IPPROTO_IP, unix.IP_FREEBIND)
}

// stripTmp removes the ".<digits>.tmp" suffix a rename-bind leaves in the
// name the socket reports (HAProxy's sock_unix_addrcmp ignores it).
func stripTmp(p string) string {
	s, ok := strings.CutSuffix(p, ".tmp")
	if !ok {
		return p
	}
	dot := strings.LastIndexByte(s, '.')
	if dot < 0 || dot == len(s)-1 {
		return p
	}
	for _, c := range s[dot+1:] {
		if c < '0' || c > '9' {
			return p
		}
	}
	return s[:dot]
}

// v6onlyDefault is the kernel's IPV6_V6ONLY default (net.ipv6.bindv6only),
// read from a fresh socket as HAProxy does at start-up.
var v6onlyDefault = sync.OnceValue(func() bool {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	v, err := unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
	return err == nil && v != 0
})

// wanted is the sockInfo a socket bound for spec would report.
func wanted(spec *Spec) (sockInfo, error) {
	var w sockInfo
	switch spec.Network {
	case "tcp4", "tcp6":
		family, _, ap, err := inetAddr(spec)
		if err != nil {
			return w, err
		}
		if ap.Port() == 0 {
			return w, errors.New("port 0")
		}
		w.family, w.inet, w.foreign, w.iface = family, ap, spec.Transparent, spec.Interface
		if family == unix.AF_INET6 {
			w.v6only = spec.V6Only || (v6onlyDefault() && !spec.V4V6)
		}
	case "unix":
		if spec.Addr == "" {
			return w, errors.New("empty path")
		}
		w.family, w.path = unix.AF_UNIX, stripTmp(filepath.Clean(spec.Addr))
	case "abns":
		rsa, err := abnsSockaddr(spec.Addr)
		if err != nil {
			return w, err
		}
		w.family = unix.AF_UNIX
		w.raw = string(unsafe.Slice((*byte)(unsafe.Pointer(&rsa.Path[0])), sunPathLen))
	default:
		return w, fmt.Errorf("unknown network %q", spec.Network)
	}
	return w, nil
}

func match(spec Spec, candidates []*os.File) int {
	w, err := wanted(&spec)
	if err != nil {
		return -1
	}
	for i, f := range candidates {
		if f == nil {
			continue
		}
		got, err := inspect(f)
		if err != nil {
			continue
		}
		if got.path != "" {
			got.path = filepath.Clean(got.path)
		}
		if compatible(w, got) {
			return i
		}
	}
	return -1
}

type sockaddr = unix.Sockaddr

// compatible reports whether a socket that reports got fits the wanted w.
// IPV6_V6ONLY only tells something for the unspecified address: binding a
// specific, not v4-mapped, IPv6 address makes the kernel force it to 1.
func compatible(w, got sockInfo) bool {
	if w.family == unix.AF_INET6 && got.family == unix.AF_INET6 &&
		!w.inet.Addr().IsUnspecified() && !w.inet.Addr().Is4In6() {
		got.v6only = w.v6only
	}
	return got == w
}
