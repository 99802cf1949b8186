// Package auth checks the users of HAProxy's "userlist" sections: the
// crypt(3) hashes of "password" lines (SHA-256-crypt, SHA-512-crypt,
// MD5-crypt, bcrypt) and the plain "insecure-password" ones.
package auth

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"hash"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Scheme names the crypt(3) method of a hash by its prefix, as glibc's
// libcrypt (libxcrypt) chooses it: "sha256", "sha512", "md5", "bcrypt", the
// name of a method lb does not implement ("yescrypt", "des", …), or ""
// for a string that is no hash any crypt(3) produces (such as "*" or "!",
// which lock an account: no password matches them).
func Scheme(h string) string {
	switch {
	case strings.HasPrefix(h, "$5$"):
		return "sha256"
	case strings.HasPrefix(h, "$6$"):
		return "sha512"
	case strings.HasPrefix(h, "$1$"):
		return "md5"
	case strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"), strings.HasPrefix(h, "$2y$"):
		return "bcrypt"
	case strings.HasPrefix(h, "$2x$"):
		return "bcrypt $2x$"
	case strings.HasPrefix(h, "$y$"):
		return "yescrypt"
	case strings.HasPrefix(h, "$gy$"):
		return "gost-yescrypt"
	case strings.HasPrefix(h, "$7$"):
		return "scrypt"
	case strings.HasPrefix(h, "$sha1$"):
		return "sha1crypt"
	case strings.HasPrefix(h, "$md5"):
		return "sunmd5"
	case strings.HasPrefix(h, "$3$"):
		return "nthash"
	case strings.HasPrefix(h, "_"):
		return "bsdi-des"
	case len(h) == 13 && isSaltChar(h[0]) && isSaltChar(h[1]):
		return "des"
	}
	return ""
}

// Supported reports whether lb computes the hashes of scheme.
func Supported(scheme string) bool {
	switch scheme {
	case "sha256", "sha512", "md5", "bcrypt", "":
		return true
	}
	return false
}

func isSaltChar(c byte) bool {
	return c == '.' || c == '/' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// Verify reports whether crypt(pass, h) is h, as HAProxy's check_user
// compares them. A hash of a scheme lb does not implement never matches
// (configurations refuse them first).
func Verify(pass, h string) bool {
	var out string
	switch Scheme(h) {
	case "sha256":
		out = shaCrypt(pass, h, "$5$", sha256.New, sha256Perm)
	case "sha512":
		out = shaCrypt(pass, h, "$6$", sha512.New, sha512Perm)
	case "md5":
		out = md5Crypt(pass, h)
	case "bcrypt":
		return bcrypt.CompareHashAndPassword([]byte(h), []byte(pass)) == nil
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(out), []byte(h)) == 1
}

// cryptB64 is crypt(3)'s base 64 alphabet.
const cryptB64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// b64From24 appends the n low sextets of b2:b1:b0, lowest first
// (b64_from_24bit).
func b64From24(dst []byte, b2, b1, b0 byte, n int) []byte {
	w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
	for ; n > 0; n-- {
		dst = append(dst, cryptB64[w&0x3f])
		w >>= 6
	}
	return dst
}

// SHA-crypt's rounds, as Ulrich Drepper's specification bounds them.
const (
	shaRoundsDefault = 5000
	shaRoundsMin     = 1000
	shaRoundsMax     = 999999999
	shaSaltMax       = 16
)

// The byte triples of the final encodings, from the specification.
var sha256Perm = [][4]int{{0, 10, 20, 4}, {21, 1, 11, 4}, {12, 22, 2, 4}, {3, 13, 23, 4}, {24, 4, 14, 4},
	{15, 25, 5, 4}, {6, 16, 26, 4}, {27, 7, 17, 4}, {18, 28, 8, 4}, {9, 19, 29, 4}, {-1, 31, 30, 3}}

var sha512Perm = [][4]int{{0, 21, 42, 4}, {22, 43, 1, 4}, {44, 2, 23, 4}, {3, 24, 45, 4}, {25, 46, 4, 4},
	{47, 5, 26, 4}, {6, 27, 48, 4}, {28, 49, 7, 4}, {50, 8, 29, 4}, {9, 30, 51, 4}, {31, 52, 10, 4},
	{53, 11, 32, 4}, {12, 33, 54, 4}, {34, 55, 13, 4}, {56, 14, 35, 4}, {15, 36, 57, 4}, {37, 58, 16, 4},
	{59, 17, 38, 4}, {18, 39, 60, 4}, {40, 61, 19, 4}, {62, 20, 41, 4}, {-1, -1, 63, 2}}

// shaCrypt is SHA-crypt ("Unix crypt using SHA-256 and SHA-512", Ulrich
// Drepper, 2007-2008) of key with the setting in h (magic, optional
// "rounds=N$", salt of at most 16 characters ended by '$' or the end).
func shaCrypt(key, h, magic string, newHash func() hash.Hash, perm [][4]int) string {
	setting := h[len(magic):]
	rounds, custom := shaRoundsDefault, false
	if rest, ok := strings.CutPrefix(setting, "rounds="); ok {
		if n, after, ok := strings.Cut(rest, "$"); ok {
			if v, err := strconv.ParseUint(n, 10, 64); err == nil {
				rounds = int(max(shaRoundsMin, min(v, shaRoundsMax)))
				custom = true
				setting = after
			}
		}
	}
	salt := setting
	if i := strings.IndexByte(salt, '$'); i >= 0 {
		salt = salt[:i]
	}
	if len(salt) > shaSaltMax {
		salt = salt[:shaSaltMax]
	}
	k, s := []byte(key), []byte(salt)

	// Digest B: key, salt, key.
	d := newHash()
	d.Write(k)
	d.Write(s)
	d.Write(k)
	b := d.Sum(nil)
	size := len(b)

	// Digest A: key, salt, B for each full block of the key's length and
	// part of it for the rest, then B or the key for each bit of the
	// key's length.
	d.Reset()
	d.Write(k)
	d.Write(s)
	n := len(k)
	for ; n > size; n -= size {
		d.Write(b)
	}
	d.Write(b[:n])
	for n = len(k); n > 0; n >>= 1 {
		if n&1 != 0 {
			d.Write(b)
		} else {
			d.Write(k)
		}
	}
	a := d.Sum(nil)

	// P: the digest of the key repeated len(key) times, cut to its length.
	d.Reset()
	for range len(k) {
		d.Write(k)
	}
	dp := d.Sum(nil)
	p := make([]byte, 0, len(k))
	for len(p) < len(k) {
		p = append(p, dp[:min(size, len(k)-len(p))]...)
	}
	// S: the digest of the salt repeated 16 + A[0] times, cut to its length.
	d.Reset()
	for range 16 + int(a[0]) {
		d.Write(s)
	}
	ds := d.Sum(nil)
	sp := ds[:len(s)]

	c := cryptRounds(d, a, p, sp, rounds)

	out := make([]byte, 0, 128)
	out = append(out, magic...)
	if custom {
		out = append(out, "rounds="...)
		out = strconv.AppendInt(out, int64(rounds), 10)
		out = append(out, '$')
	}
	out = append(out, salt...)
	out = append(out, '$')
	at := func(i int) byte {
		if i < 0 {
			return 0
		}
		return c[i]
	}
	for _, t := range perm {
		out = b64From24(out, at(t[0]), at(t[1]), c[t[2]], t[3])
	}
	return string(out)
}

// cryptRounds is the loop MD5-crypt and SHA-crypt share: each round digests
// the key part p or the previous digest c first, the salt part s unless the
// round is a multiple of 3, p unless it is a multiple of 7, then the other of
// c and p. It returns the last digest, in c's storage.
func cryptRounds(d hash.Hash, c, p, s []byte, rounds int) []byte {
	for i := range rounds {
		d.Reset()
		if i&1 != 0 {
			d.Write(p)
		} else {
			d.Write(c)
		}
		if i%3 != 0 {
			d.Write(s)
		}
		if i%7 != 0 {
			d.Write(p)
		}
		if i&1 != 0 {
			d.Write(c)
		} else {
			d.Write(p)
		}
		c = d.Sum(c[:0])
	}
	return c
}

// md5Crypt is Poul-Henning Kamp's MD5-crypt ("$1$", salt of at most 8
// characters).
func md5Crypt(key, h string) string {
	const magic = "$1$"
	salt := h[len(magic):]
	if i := strings.IndexByte(salt, '$'); i >= 0 {
		salt = salt[:i]
	}
	if len(salt) > 8 {
		salt = salt[:8]
	}
	k, s := []byte(key), []byte(salt)
	alt := md5.New()
	alt.Write(k)
	alt.Write(s)
	alt.Write(k)
	fin := alt.Sum(nil)

	d := md5.New()
	d.Write(k)
	d.Write([]byte(magic))
	d.Write(s)
	for n := len(k); n > 0; n -= 16 {
		d.Write(fin[:min(n, 16)])
	}
	for n := len(k); n > 0; n >>= 1 {
		if n&1 != 0 {
			d.Write([]byte{0})
		} else {
			d.Write(k[:1])
		}
	}
	fin = cryptRounds(d, d.Sum(nil), k, s, 1000)
	out := make([]byte, 0, 40)
	out = append(out, magic...)
	out = append(out, salt...)
	out = append(out, '$')
	for _, t := range [][3]int{{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}} {
		out = b64From24(out, fin[t[0]], fin[t[1]], fin[t[2]], 4)
	}
	out = b64From24(out, 0, 0, fin[11], 2)
	return string(out)
}
