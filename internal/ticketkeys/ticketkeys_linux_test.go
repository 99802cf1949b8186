package ticketkeys

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// memfd makes a memfd holding b, sealed with seals (0: none).
func memfd(t *testing.T, b []byte, seals int) *os.File {
	t.Helper()
	fd, err := unix.MemfdCreate("test", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		t.Skipf("memfd_create: %v", err)
	}
	f := os.NewFile(uintptr(fd), "test")
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if seals != 0 {
		if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func keyBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}

// TestGenerateRoundTrip: Generate's memfd is sealed and reads back as the
// same keys; two lineages get different keys.
func TestGenerateRoundTrip(t *testing.T) {
	k, err := Generate()
	if err != nil {
		t.Fatalf("Generate = %v", err)
	}
	if len(k.Keys()) != 1 || k.Keys()[0] == ([32]byte{}) {
		t.Fatalf("Generate made %d keys (%x)", len(k.Keys()), k.Keys())
	}
	if k.File() == nil {
		t.Fatal("Generate made no memfd")
	}
	seals, err := unix.FcntlInt(k.File().Fd(), unix.F_GET_SEALS, 0)
	if err != nil || seals&sealsWanted != sealsWanted {
		t.Errorf("seals = %#x, %v; want %#x set", seals, err, sealsWanted)
	}
	if fl, _ := unix.FcntlInt(k.File().Fd(), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC == 0 {
		t.Error("memfd without FD_CLOEXEC")
	}
	if _, err := k.File().WriteAt([]byte{1}, 0); err == nil {
		t.Error("a write to the sealed memfd succeeded")
	}

	dup, err := unix.Dup(int(k.File().Fd()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := FromFile(os.NewFile(uintptr(dup), "dup"))
	if err != nil {
		t.Fatalf("FromFile = %v", err)
	}
	if len(got.Keys()) != 1 || got.Keys()[0] != k.Keys()[0] {
		t.Errorf("FromFile keys differ from Generate's")
	}

	other, _ := Generate()
	if other.Keys()[0] == k.Keys()[0] {
		t.Error("two Generate calls made the same key")
	}
}

// TestFromFileRejects: whatever is not a sealed memfd of 1 to MaxKeys keys
// is refused, and the file is closed.
func TestFromFileRejects(t *testing.T) {
	all := unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL
	for _, tc := range []struct {
		name  string
		file  func(t *testing.T) *os.File
		isErr error
	}{
		{"empty", func(t *testing.T) *os.File { return memfd(t, nil, all) }, errSize},
		{"truncated", func(t *testing.T) *os.File { return memfd(t, keyBytes(31), all) }, errSize},
		{"not a multiple", func(t *testing.T) *os.File { return memfd(t, keyBytes(33), all) }, errSize},
		{"too many", func(t *testing.T) *os.File { return memfd(t, keyBytes(32*(MaxKeys+1)), all) }, errSize},
		{"unsealed", func(t *testing.T) *os.File { return memfd(t, keyBytes(32), 0) }, errUnsealed},
		{"writable", func(t *testing.T) *os.File {
			return memfd(t, keyBytes(32), unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL)
		}, errUnsealed},
		{"resizable", func(t *testing.T) *os.File { return memfd(t, keyBytes(32), unix.F_SEAL_WRITE) }, errUnsealed},
		{"regular file", func(t *testing.T) *os.File {
			f, err := os.CreateTemp(t.TempDir(), "keys")
			if err != nil {
				t.Fatal(err)
			}
			f.Write(keyBytes(32))
			return f
		}, nil},
		{"pipe", func(t *testing.T) *os.File {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			w.Close()
			return r
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.file(t)
			k, err := FromFile(f)
			if err == nil {
				t.Fatalf("FromFile = %d keys, nil; want an error", len(k.Keys()))
			}
			if tc.isErr != nil && !errors.Is(err, tc.isErr) {
				t.Errorf("FromFile = %v; want %v", err, tc.isErr)
			}
			if _, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0); err == nil {
				t.Error("the refused file was left open")
			}
		})
	}
}

// TestFromFileSeveralKeys: a memfd of three keys gives three keys, in order.
func TestFromFileSeveralKeys(t *testing.T) {
	b := keyBytes(3 * 32)
	all := unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL
	k, err := FromFile(memfd(t, b, all))
	if err != nil {
		t.Fatalf("FromFile = %v", err)
	}
	if len(k.Keys()) != 3 {
		t.Fatalf("%d keys; want 3", len(k.Keys()))
	}
	if !bytes.Equal(encode(k.Keys()), b) {
		t.Error("keys differ from the memfd's bytes")
	}
}

// TestNilKeys: nil Keys have no keys and no file.
func TestNilKeys(t *testing.T) {
	var k *Keys
	if k.Keys() != nil || k.File() != nil {
		t.Error("nil Keys have keys or a file")
	}
}
