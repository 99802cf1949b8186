package ticketkeys

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// sealsWanted are the seals a memfd must carry to be read: nobody, not even
// a process holding it, can change what it says afterwards.
const sealsWanted = unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL

// seal writes b to a new memfd (close-on-exec) and seals it.
func seal(b []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate(Name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "memfd:"+Name)
	// WriteAt: the offset belongs to the open file description, which other
	// processes share once the memfd is passed on; nothing relies on it.
	if _, err := f.WriteAt(b, 0); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, sealsWanted); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal: %w", err)
	}
	return f, nil
}

// unseal checks f's seals and size and reads it whole.
func unseal(f *os.File) ([]byte, error) {
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		// EINVAL: not a memfd (nor any file that takes seals).
		return nil, fmt.Errorf("seals: %w", err)
	}
	if seals&sealsWanted != sealsWanted {
		return nil, errUnsealed
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, err
	}
	if st.Size <= 0 || st.Size%KeySize != 0 || st.Size/KeySize > MaxKeys {
		return nil, fmt.Errorf("%d bytes: %w", st.Size, errSize)
	}
	b := make([]byte, st.Size)
	// ReadAt (pread): the shared offset is left alone.
	if n, err := f.ReadAt(b, 0); n != len(b) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}
