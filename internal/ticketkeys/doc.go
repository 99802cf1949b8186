// Package ticketkeys holds the keys lb encrypts and decrypts TLS session
// tickets with, and carries them from process to process: in a sealed memfd
// that travels beside the listening sockets (the `_getsocks` exchange of -x,
// the descriptors a child generation inherits, systemd's fd store). A client
// then resumes its TLS session across reloads and restarts instead of going
// back to a full handshake.
//
// The first process of a lineage generates the keys (crypto/rand); every
// process after it reads them from the memfd it was handed. They never touch
// a file on disk, the environment or a log line. Rotation is not done: the
// keys live as long as the lineage of processes (a systemctl stop and start
// without the fd store's preservation, or a start without any hand-over,
// makes new ones). crypto/tls's own keys, which it rotates, are what a
// process without this package would use, and they die with each process.
package ticketkeys

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
)

// Name is the reserved name the keys travel under: the FDNAME= of their
// memfd in systemd's fd store, the key of their descriptor among those a
// child generation inherits, and the memfd's own name.
const Name = "lb-tls-ticket-keys"

// KeySize is the size of one key (crypto/tls's SetSessionTicketKeys).
const KeySize = 32

// MaxKeys is the most keys a memfd may hold to be accepted.
const MaxKeys = 64

// Keys is a process's session ticket keys, the first one encrypting, all of
// them decrypting, and the sealed memfd they travel in.
type Keys struct {
	keys [][KeySize]byte
	// file is the sealed memfd holding keys; nil when none could be made
	// (the keys then die with the process).
	file *os.File
}

var (
	errSize     = errors.New("size is not a positive multiple of 32 bytes within bounds")
	errUnsealed = errors.New("not sealed against writes and resizing")
)

// Generate makes one fresh key and the memfd that carries it. When the
// memfd cannot be made (a kernel or seccomp filter without memfd_create),
// it still returns usable keys, with a nil File, and the error.
func Generate() (*Keys, error) {
	k := &Keys{keys: make([][KeySize]byte, 1)}
	if _, err := rand.Read(k.keys[0][:]); err != nil {
		return nil, fmt.Errorf("tls ticket keys: %w", err)
	}
	f, err := seal(encode(k.keys))
	if err != nil {
		return k, fmt.Errorf("tls ticket keys: memfd: %w", err)
	}
	k.file = f
	return k, nil
}

// FromFile reads the keys of a memfd another lb made (see Generate). It
// checks that the memfd is sealed (its content cannot change after it was
// read) and holds 1 to MaxKeys keys. It takes f: on success the Keys keep
// it, on error it is closed.
func FromFile(f *os.File) (*Keys, error) {
	b, err := unseal(f)
	if err == nil {
		var keys [][KeySize]byte
		if keys, err = decode(b); err == nil {
			return &Keys{keys: keys, file: f}, nil
		}
	}
	f.Close()
	return nil, fmt.Errorf("tls ticket keys: %w", err)
}

// Keys returns the keys for plane.Options.TicketKeys: nil for nil Keys.
func (k *Keys) Keys() [][32]byte {
	if k == nil {
		return nil
	}
	return k.keys
}

// File returns the memfd the keys travel in; nil when there is none. The
// Keys keep it open for the life of the process: callers pass a duplicate
// (or let SCM_RIGHTS duplicate it).
func (k *Keys) File() *os.File {
	if k == nil {
		return nil
	}
	return k.file
}

// encode is the memfd's content: the keys, 32 bytes each, back to back.
func encode(keys [][KeySize]byte) []byte {
	b := make([]byte, 0, len(keys)*KeySize)
	for _, k := range keys {
		b = append(b, k[:]...)
	}
	return b
}

// decode reads encode's output.
func decode(b []byte) ([][KeySize]byte, error) {
	if len(b) == 0 || len(b)%KeySize != 0 || len(b)/KeySize > MaxKeys {
		return nil, fmt.Errorf("%d bytes: %w", len(b), errSize)
	}
	keys := make([][KeySize]byte, len(b)/KeySize)
	for i := range keys {
		copy(keys[i][:], b[i*KeySize:])
	}
	return keys, nil
}
