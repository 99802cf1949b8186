package config

import "syscall"

// checkFD reports whether fd is an open socket of this process, as HAProxy
// checks "fd@N" and "sockpair@N" bind addresses while parsing.
func checkFD(fd int) error {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
		return syscall.ENOTSOCK
	}
	return nil
}
