package listener

import (
	"encoding/binary"
	"testing"
)

// FuzzFetchSockets: whatever the old process answers to "_getsocks" (words, a wrong count,
// truncated or inconsistent socket data), FetchSocketsConn returns an error or sockets,
// never panics.
func FuzzFetchSockets(f *testing.F) {
	f.Add([]byte("Permission denied\n\n"))
	f.Add([]byte("Perm"))
	var zero [4]byte
	f.Add(zero[:])
	var one [4]byte
	binary.NativeEndian.PutUint32(one[:], 1)
	f.Add(append(one[:], 0, 0, 0, 0, 0, 0))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3})
	f.Fuzz(func(t *testing.T, reply []byte) {
		a, b := unixPair(t)
		go func() {
			buf := make([]byte, len(GetSocksCommand))
			a.Read(buf)
			a.Write(reply)
			a.Close()
		}()
		socks, _ := FetchSocketsConn(b)
		for _, s := range socks {
			s.File.Close()
		}
	})
}
