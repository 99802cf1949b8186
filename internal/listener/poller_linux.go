package listener

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Listening sockets out of the runtime poller.
//
// The Go runtime registers every descriptor an *os.File or a net.Listener is made from with
// its own epoll set, edge-triggered, and a Listener has two: file and the dup behind ln. Each
// connection queued on the socket then wakes a runtime thread blocked in epoll_wait, whether
// a goroutine waits to accept or not. For a socket accepted from by lb's event loops (which
// watch it in epoll sets of their own) that was one wake-up of a runtime thread per
// connection for nothing: measured under a connection per request at nbthread 1, 2.3 context
// switches per connection against HAProxy's 0.23, and 14% of lb's CPU time in the kernel's
// finish_task_switch. file, which nothing reads through the poller (only Control, the fd
// store and SCM_RIGHTS use it), is taken out at creation; ln when the event loops take the
// socket over (Detach).
//
// The runtime keeps its epoll descriptor to itself; it is found as the one epoll descriptor
// of the process that watches a descriptor the runtime registered (/proc/self/fdinfo lists
// the targets of an epoll descriptor). Taking a descriptor out of that set is what the
// runtime does itself when the descriptor is closed, and it ignores the ENOENT it then gets.
// Where /proc cannot tell, nothing is taken out and the sockets work as before.

var runtimePoller struct {
	sync.Mutex
	fd int // the runtime poller's epoll descriptor once found, else 0
}

var errNoPoller = errors.New("runtime poller not found")

// runtimeEpoll returns the runtime poller's epoll descriptor, found through fd, a descriptor
// it watches.
func runtimeEpoll(fd int) (int, error) {
	runtimePoller.Lock()
	defer runtimePoller.Unlock()
	if runtimePoller.fd > 0 {
		return runtimePoller.fd, nil
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	want := strconv.Itoa(fd)
	found := 0
	for _, e := range ents {
		if link, err := os.Readlink("/proc/self/fd/" + e.Name()); err != nil || link != "anon_inode:[eventpoll]" {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(info), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "tfd:" && f[1] == want {
				if found != 0 {
					return 0, errNoPoller // two sets watch fd: cannot tell which is the runtime's
				}
				found, _ = strconv.Atoi(e.Name())
			}
		}
	}
	if found == 0 {
		return 0, errNoPoller
	}
	runtimePoller.fd = found
	return found, nil
}

// unwatch takes fd out of the runtime poller's set. fd must be a descriptor the runtime
// registered, and nothing may wait on it through the poller afterwards.
func unwatch(fd int) error {
	ep, err := runtimeEpoll(fd)
	if err != nil {
		return err
	}
	return unix.EpollCtl(ep, unix.EPOLL_CTL_DEL, fd, nil)
}

// unwatchFile takes f's descriptor out of the runtime poller's set.
func unwatchFile(f *os.File) error {
	return control(f, unwatch)
}

// unwatchListener takes ln's descriptor out of the runtime poller's set.
func unwatchListener(ln any) error {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return errNoPoller
	}
	return control(sc, unwatch)
}
