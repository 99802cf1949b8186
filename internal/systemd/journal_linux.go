package systemd

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

var errJournalClosed = errors.New("journal socket closed")

// sendJournal sends one entry; an entry too large for a datagram goes in a
// sealed memfd passed with SCM_RIGHTS (JOURNAL_NATIVE_PROTOCOL).
func sendJournal(sock int, data []byte) error {
	err := sendNotify(sock, data, nil)
	if err == nil || !(errors.Is(err, unix.EMSGSIZE) || errors.Is(err, unix.ENOBUFS)) {
		return err
	}
	fd, err := unix.MemfdCreate("journal-entry", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return fmt.Errorf("memfd_create: %w", err)
	}
	defer unix.Close(fd)
	for b := data; len(b) > 0; {
		n, err := unix.Write(fd, b)
		if err != nil {
			return fmt.Errorf("write memfd: %w", err)
		}
		b = b[n:]
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS,
		unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
		return fmt.Errorf("seal memfd: %w", err)
	}
	return sendNotify(sock, nil, []int{fd})
}
