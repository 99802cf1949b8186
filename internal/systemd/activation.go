package systemd

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
)

// listenFDsStart corresponds to SD_LISTEN_FDS_START.
const listenFDsStart = 3

// Activated is one fd passed by systemd in LISTEN_FDS: a socket of a .socket
// unit, or an fd from the fd store.
type Activated struct {
	// Name is its LISTEN_FDNAMES entry: the socket unit's
	// FileDescriptorName= (default: the socket unit's name, e.g.
	// "lb.socket"), or the FDNAME= it was stored under (default "stored").
	// Empty when LISTEN_FDNAMES does not name it.
	Name string
	// File is the fd, with FD_CLOEXEC set. Its blocking mode is untouched
	// (systemd's NonBlocking=, default off for socket fds).
	File *os.File
}

// ListenFDs returns the fds systemd passed to this process (sd_listen_fds(3)):
// LISTEN_FDS fds from fd 3 on, named by LISTEN_FDNAMES, and only when
// LISTEN_PID is this process. It returns nil when there are none.
//
// It unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES in every case, so only
// the first call in a process sees anything and children never inherit them;
// this is the semantics of go-systemd's activation.Files(true).
//
// Order: sockets of .socket units come first (no order between several
// socket units), fd store entries last in any order, so match fds by Name
// and by what the socket reports ([InspectSocket]), never by position.
func ListenFDs() []Activated {
	pidEnv, nEnv, namesEnv := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")

	pid, err := strconv.Atoi(pidEnv)
	if err != nil || pid != os.Getpid() {
		return nil
	}
	n, err := strconv.Atoi(nEnv)
	if err != nil || n <= 0 {
		return nil
	}
	var names []string
	if namesEnv != "" {
		names = strings.Split(namesEnv, ":")
	}
	acts := make([]Activated, 0, n)
	for i := range n {
		fd := listenFDsStart + i
		setCloseOnExec(fd)
		var name string
		if i < len(names) {
			name = names[i]
		}
		fileName := name
		if fileName == "" {
			fileName = "LISTEN_FD_" + strconv.Itoa(fd)
		}
		acts = append(acts, Activated{Name: name, File: os.NewFile(uintptr(fd), fileName)})
	}
	return acts
}

// Named returns the entries of acts called name, in order.
func Named(acts []Activated, name string) []Activated {
	var out []Activated
	for _, a := range acts {
		if a.Name == name {
			out = append(out, a)
		}
	}
	return out
}

// errNotSocket is returned by InspectSocket for an fd that is no socket
// (a memfd or a pipe from the fd store).
var errNotSocket = errors.New("not a socket")

// IsNotSocket reports whether err says the fd inspected is not a socket.
func IsNotSocket(err error) bool { return errors.Is(err, errNotSocket) }

// SocketInfo is what a socket fd reports about itself.
type SocketInfo struct {
	// Family is the address family (unix.AF_INET, AF_INET6, AF_UNIX, …).
	Family int
	// Type is the socket type (unix.SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET).
	Type int
	// Listening is SO_ACCEPTCONN: listen(2) was called on it.
	Listening bool
	// Addr is the local address (getsockname): *net.TCPAddr, *net.UDPAddr
	// or *net.UnixAddr ("@name" for an abstract one). Nil for other
	// families.
	Addr net.Addr
}

// Stream reports whether the socket is connection-oriented (stream or
// seqpacket), i.e. one lb may accept on once it listens.
func (si SocketInfo) Stream() bool { return si.Type == sockStream || si.Type == sockSeqpacket }

// InspectSocket reads the family, type, SO_ACCEPTCONN and local address of
// the socket f without changing its blocking mode. For an fd that is not a
// socket the error satisfies [IsNotSocket].
func InspectSocket(f *os.File) (SocketInfo, error) { return inspectSocket(f) }

// LocalAddr returns the local address of the socket f (see SocketInfo.Addr).
func LocalAddr(f *os.File) (net.Addr, error) {
	si, err := inspectSocket(f)
	return si.Addr, err
}
