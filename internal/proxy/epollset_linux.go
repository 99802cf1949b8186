package proxy

import (
	"os"

	"golang.org/x/sys/unix"
)

// epollSet is an epoll set of the data plane's own (idle parking, FIN watching). Its
// descriptor is non-blocking and itself watched by the runtime's poller, so no thread blocks
// in epoll_wait: one goroutine dispatches each ready event's 64-bit id to a callback.
type epollSet struct {
	fd int
	// file owns fd; kept reachable so that its finalizer never closes it.
	file *os.File
}

// newEpollSet creates the set and starts its dispatcher; it returns nil when the kernel
// refuses (the callers then keep their plain behaviour). on runs on the dispatcher
// goroutine for every ready event.
func newEpollSet(name string, on func(id uint64)) *epollSet {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil
	}
	f := os.NewFile(uintptr(fd), name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil
	}
	go func() {
		evs := make([]unix.EpollEvent, 128)
		for {
			_ = rc.Read(func(fd uintptr) bool {
				for {
					n, err := unix.EpollWait(int(fd), evs, 0)
					if err == unix.EINTR {
						continue
					}
					if n <= 0 {
						return false // wait for the set to become readable
					}
					for i := range evs[:n] {
						on(uint64(uint32(evs[i].Fd)) | uint64(uint32(evs[i].Pad))<<32)
					}
				}
			})
		}
	}()
	return &epollSet{fd: fd, file: f}
}

// add registers fd for events, reported with id.
func (s *epollSet) add(fd int, events uint32, id uint64) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
	return unix.EpollCtl(s.fd, unix.EPOLL_CTL_ADD, fd, &ev)
}

// del unregisters fd, which must still be open.
func (s *epollSet) del(fd int) { _ = unix.EpollCtl(s.fd, unix.EPOLL_CTL_DEL, fd, nil) }
