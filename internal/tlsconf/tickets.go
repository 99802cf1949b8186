package tlsconf

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
)

// ticketsNo is HAProxy's TLS_TICKETS_NO: the keys it keeps from a
// tls-ticket-keys file (the last ones), and the least the file must hold.
const ticketsNo = 3

// LoadTicketKeys reads a "tls-ticket-keys" file as HAProxy does: one
// base64 key per line, all of 48 bytes (AES-128) or all of 80 bytes
// (AES-256), at least 3; the last 3 are kept, the penultimate one
// encrypts and all three decrypt (append a key and reload to rotate).
//
// crypto/tls takes 32-byte keys and derives its own cipher and MAC keys
// from them, so each key becomes the SHA-256 of its decoded bytes: the
// file's keys keep their roles (which one encrypts, which ones are still
// accepted, shared by every process reading the file), not their
// ticket format. The result lists the encrypting key first, as
// tls.Config.SetSessionTicketKeys wants.
func LoadTicketKeys(path string) ([][32]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("'%s' : unable to load ssl tickets keys file", path)
	}
	defer f.Close()
	var ring [ticketsNo][32]byte
	size, i := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		d, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("'%s' : unable to decode base64 key on line %d", path, i+1)
		}
		if (len(d) != 48 && len(d) != 80) || (size != 0 && len(d) != size) {
			return nil, fmt.Errorf("'%s' : wrong sized key on line %d", path, i+1)
		}
		size = len(d)
		ring[i%ticketsNo] = sha256.Sum256(d)
		i++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("'%s' : unable to load ssl tickets keys file", path)
	}
	if i < ticketsNo {
		return nil, fmt.Errorf("'%s' : please supply at least %d keys in the tls-tickets-file", path, ticketsNo)
	}
	enc := (i - 2) % ticketsNo
	out := make([][32]byte, 0, ticketsNo)
	for k := 0; k < ticketsNo; k++ {
		out = append(out, ring[(enc+k)%ticketsNo])
	}
	return out, nil
}
