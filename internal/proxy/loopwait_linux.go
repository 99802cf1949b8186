package proxy

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A loop without the spare P (procs.go) must not block in epoll_wait: its
// thread would hold one of the nbthread Ps there, and the goroutines (mode
// http, TLS, checks) would wait for the runtime's monitor to take it back,
// two of its ticks, up to 20 ms once it sleeps long. Such a loop waits in
// the runtime's poller instead, through a second epoll set that holds the
// loop's own only for the wait: the runtime's poller hears of the loop's
// events only then, not while it blocks in epoll_wait with the spare P.
// (With the loop's set left in it, one-shot, the runtime's poller woke for
// each of the loop's events, since nobody takes the one event from the
// second set that would disarm it: 10 k polls of its own set in 2 s of a
// connection per request, against 130.)

// loopPark is a loop's way into the runtime's poller.
type loopPark struct {
	fd   int      // the second epoll set
	file *os.File // owns fd; watched by the runtime's poller
	rc   syscall.RawConn
}

// newLoopPark returns nil when the kernel refuses: the loop then always
// blocks in epoll_wait.
func newLoopPark() *loopPark {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	if unix.SetNonblock(fd, true) != nil {
		_ = unix.Close(fd)
		return nil
	}
	f := os.NewFile(uintptr(fd), "lb-loop-park")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil
	}
	return &loopPark{fd: fd, file: f, rc: rc}
}

// wait waits up to wait ms (-1: no limit) for l's events in the runtime's
// poller, as epoll_wait would.
func (p *loopPark) wait(l *loop, wait int) (int, error) {
	// In the second set before the first look: an event from then on
	// wakes the wait.
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(l.epfd)}
	if err := unix.EpollCtl(p.fd, unix.EPOLL_CTL_ADD, l.epfd, &ev); err != nil {
		return unix.EpollWait(l.epfd, l.events, wait)
	}
	defer unix.EpollCtl(p.fd, unix.EPOLL_CTL_DEL, l.epfd, nil)
	var dl time.Time
	if wait > 0 {
		dl = time.Now().Add(time.Duration(wait) * time.Millisecond)
	}
	_ = p.file.SetReadDeadline(dl)
	var n int
	var err error
	rerr := p.rc.Read(func(uintptr) bool {
		n, err = unix.EpollWait(l.epfd, l.events, 0)
		return n > 0 || err != nil && err != unix.EINTR
	})
	if rerr != nil {
		return 0, nil // the deadline: a timer is due
	}
	return n, err
}

func (p *loopPark) close() { _ = p.file.Close() }
