package systemd

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// pidfsMagic is the file system type of pidfds on Linux ≥ 6.9 (PID_FS_MAGIC): there each
// process has its own pidfd inode, whose number is never reused while the system runs.
const pidfsMagic = 0x50494446

// PidfdID returns the pidfd inode id of process pid (what systemd ≥ 257 calls the PIDFD ID,
// MAINPIDFDID= in sd_notify(3)). ok is false when the kernel gives no such id: no pidfd_open
// (Linux < 5.3), or pidfds that share one anonymous inode (Linux < 6.9). err is set when the
// process does not exist.
func PidfdID(pid int) (id uint64, ok bool, err error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if err == unix.ESRCH {
			return 0, false, fmt.Errorf("pidfd of %d: %w", pid, err)
		}
		return 0, false, nil
	}
	defer unix.Close(fd)
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil || fs.Type != pidfsMagic {
		return 0, false, nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, false, nil
	}
	// The process may have died and its pid been reused between the caller learning pid and
	// pidfd_open: the pidfd then names the other process. Callers name a process that waits
	// for their go-ahead, so it cannot have exited; a signal 0 proves it is still there.
	if err := unix.PidfdSendSignal(fd, 0, nil, 0); err != nil {
		return 0, false, fmt.Errorf("pidfd of %d: %w", pid, err)
	}
	return st.Ino, true, nil
}
