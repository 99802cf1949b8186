package srvstate

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

const sealsWanted = unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL

// Seal writes b (the CarriedState of a generation) to a new memfd,
// close-on-exec, sealed against any change: the form in which it travels.
func Seal(b []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate(Name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("server state: memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+Name)
	if _, err := f.WriteAt(b, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("server state: memfd: %w", err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, sealsWanted); err != nil {
		f.Close()
		return nil, fmt.Errorf("server state: seal: %w", err)
	}
	return f, nil
}

// FromFile reads a memfd Seal made, after checking its seals and size. It
// does not close f.
func FromFile(f *os.File) ([]byte, error) {
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, fmt.Errorf("server state: seals: %w", err)
	}
	if seals&sealsWanted != sealsWanted {
		return nil, errors.New("server state: not sealed against writes and resizing")
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("server state: %w", err)
	}
	if st.Size <= 0 || st.Size > maxMemfd {
		return nil, fmt.Errorf("server state: %d bytes", st.Size)
	}
	b := make([]byte, st.Size)
	if n, err := f.ReadAt(b, 0); n != len(b) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("server state: %w", err)
	}
	return b, nil
}
