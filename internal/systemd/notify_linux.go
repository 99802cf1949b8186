package systemd

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// notifySendTimeout bounds one sendmsg to PID 1, which reads its notify
// socket at high priority; a full queue for longer means it is stuck.
const notifySendTimeout = 5 * time.Second

// dialNotify opens a connected, blocking unixgram socket to addr ("@x" is an
// abstract address; x/sys/unix turns the '@' into the leading NUL).
func dialNotify(addr string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	tv := unix.NsecToTimeval(notifySendTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("setsockopt SO_SNDTIMEO: %w", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: addr}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect: %w", err)
	}
	return fd, nil
}

func sendNotify(sock int, msg []byte, fds []int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	for {
		err := unix.Sendmsg(sock, msg, oob, nil, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sendmsg: %w", err)
		}
		return nil
	}
}

// isStaleSocket reports whether the connected peer socket is gone.
func isStaleSocket(err error) bool {
	return errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.ENOTCONN)
}

func closeFD(fd int) error { return unix.Close(fd) }

// rawFDs returns the descriptors of files without calling File.Fd, which
// would switch a shared non-blocking socket (and every dup of it, such as a
// net.Listener's) to blocking mode. release keeps files alive until the
// message is sent.
func rawFDs(files []*os.File) (fds []int, release func(), err error) {
	fds = make([]int, 0, len(files))
	for i, f := range files {
		if f == nil {
			return nil, nil, fmt.Errorf("file %d is nil", i)
		}
		rc, err := f.SyscallConn()
		if err != nil {
			return nil, nil, fmt.Errorf("file %q: %w", f.Name(), err)
		}
		var fd int
		if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
			return nil, nil, fmt.Errorf("file %q: %w", f.Name(), err)
		}
		fds = append(fds, fd)
	}
	return fds, func() { runtime.KeepAlive(files) }, nil
}

func monotonicUsec() (int64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, fmt.Errorf("clock_gettime: %w", err)
	}
	return ts.Nano() / 1e3, nil
}

func pipe() (r, w int, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return -1, -1, fmt.Errorf("pipe2: %w", err)
	}
	return p[0], p[1], nil
}

// waitHangup waits until every write end of the pipe r is closed.
func waitHangup(r int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return errBarrierTimeout
		}
		pfd := []unix.PollFd{{Fd: int32(r), Events: 0}}
		n, err := unix.Poll(pfd, int(left.Milliseconds())+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		if n > 0 && pfd[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0 {
			return nil
		}
	}
}
