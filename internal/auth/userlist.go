package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"slices"
	"sync"
)

// User is a "user" line of a userlist.
type User struct {
	Name string
	// Hash is the crypt(3) hash of a "password" line, Plain the password
	// of an "insecure-password" line; both empty for a user without a
	// password, whom no password authenticates (as in HAProxy).
	Hash, Plain string
	Insecure    bool
	// Groups are the groups the user belongs to, from the user's "groups"
	// and the groups' "users".
	Groups []string
}

// Userlist is a "userlist" section, shared by the proxies of a
// generation. Its methods are safe for concurrent use.
type Userlist struct {
	Name  string
	users map[string]*User

	// ok remembers the (user, password) pairs already verified against a
	// hash, so that a client sending the same credentials on every request
	// costs one hash, not one per request. Only successes are kept: a
	// stranger cannot fill it, and a wrong password costs what it costs
	// HAProxy, one hash. Keys are SHA-256 digests, not the passwords.
	mu sync.Mutex
	ok map[[sha256.Size]byte]struct{}
}

// maxCached bounds a userlist's cache of verified credentials; when it is
// full an arbitrary entry makes room.
const maxCached = 1024

// NewUserlist returns the userlist name of users.
func NewUserlist(name string, users []*User) *Userlist {
	u := &Userlist{Name: name, users: make(map[string]*User, len(users))}
	for _, x := range users {
		u.users[x.Name] = x
	}
	return u
}

// Check reports whether pass is user's password (HAProxy's check_user).
func (u *Userlist) Check(user, pass []byte) bool {
	x := u.users[string(user)]
	if x == nil {
		return false
	}
	if x.Insecure {
		return subtle.ConstantTimeCompare([]byte(x.Plain), pass) == 1
	}
	if x.Hash == "" {
		return false
	}
	key := cacheKey(user, pass)
	u.mu.Lock()
	_, hit := u.ok[key]
	u.mu.Unlock()
	if hit {
		return true
	}
	if !Verify(string(pass), x.Hash) {
		return false
	}
	u.mu.Lock()
	if u.ok == nil {
		u.ok = make(map[[sha256.Size]byte]struct{})
	}
	if len(u.ok) >= maxCached {
		for k := range u.ok {
			delete(u.ok, k)
			break
		}
	}
	u.ok[key] = struct{}{}
	u.mu.Unlock()
	return true
}

// cacheKey is the digest of user and pass, unambiguous for any bytes.
func cacheKey(user, pass []byte) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for i, l := 0, len(user); i < 8; i, l = i+1, l>>8 {
		n[i] = byte(l)
	}
	h.Write(n[:])
	h.Write(user)
	h.Write(pass)
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// InGroup reports whether user exists and belongs to one of groups
// (HAProxy's pat_match_auth).
func (u *Userlist) InGroup(user []byte, groups []string) bool {
	x := u.users[string(user)]
	if x == nil {
		return false
	}
	for _, g := range groups {
		if slices.Contains(x.Groups, g) {
			return true
		}
	}
	return false
}
