// Package cache owns HAProxy's small object cache: the objects of a
// "cache" section, which requests may use them and which responses are
// stored, as HAProxy 2.6's cache.c decides (measured against haproxy
// 2.6.12; configuration.txt §6, RFC 7234).
package cache

import (
	"bytes"
	"cmp"
	"container/list"
	"crypto/sha1"
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"lb/internal/http1"
)

// Config is a cache section's settings.
type Config struct {
	// Name is the section's name.
	Name string
	// TotalMaxSize bounds the stored objects' sizes together, in bytes.
	TotalMaxSize int64
	// MaxObjectSize bounds one object (head and body), in bytes.
	MaxObjectSize int64
	// MaxAge bounds an object's lifetime.
	MaxAge time.Duration
	// ProcessVary stores responses varying on Accept-Encoding (else a
	// response with a Vary field is not stored).
	ProcessVary bool
	// MaxSecondaryEntries bounds the variants kept of one URL.
	MaxSecondaryEntries int
}

// Key is an object's primary key: the SHA-1 of the request target when it
// is an absolute URI, else of "https://", the Host field and the target,
// as HAProxy 2.6's sha1_hosturi (so that "show cache" prints the same
// hashes).
type Key [sha1.Size]byte

// Object is a stored response.
type Object struct {
	// Head is the response head as the cache-store rule saw it, ending
	// with its blank line; Body the body as the server framed it.
	Head, Body []byte
	// Stored is when it was stored, Expire when it stops being served.
	Stored, Expire time.Time
	// Age is the server's Age field (seconds) when it was stored.
	Age int64
	// Encoding is the response's Content-Encoding (lower case, "" for
	// identity): Accept-Encoding decides which variant a request gets.
	Encoding string
	// Vary tells that the response varied on Accept-Encoding.
	Vary bool
	// StoredLen is the object's size as HAProxy's cache stores it
	// (EntryOverhead plus its HTX blocks), for "show cache".
	StoredLen int64

	key  Key
	size int64
	elem *list.Element
}

// Size is what the object counts against the cache's total size.
func (o *Object) Size() int64 { return o.size }

// Cache is one cache section's objects.
type Cache struct {
	cfg Config
	// mu guards objects, lru and used.
	mu      sync.Mutex
	objects map[Key][]*Object
	lru     list.List // *Object, most recently used first
	used    int64
}

// New makes an empty cache.
func New(cfg Config) *Cache {
	if cfg.MaxSecondaryEntries <= 0 {
		cfg.MaxSecondaryEntries = 10
	}
	return &Cache{cfg: cfg, objects: map[Key][]*Object{}}
}

// Config is the cache's configuration.
func (c *Cache) Config() Config { return c.cfg }

// RequestKey is the key of a request and whether the cache may answer
// it (lookup) and may store its response (store), by HAProxy 2.6's
// rules: HTTP/1.1 GET or HEAD requests only (an unsafe method still gets
// a key, for the invalidation of RFC 7234 §4.4); never with an
// Authorization field; "Cache-Control: no-cache" (or "Pragma: no-cache"
// without Cache-Control) forbids the lookup, "no-store" the store. A
// request without a Host field has no key (ok false).
func RequestKey(req *http1.Message) (k Key, lookup, store, ok bool) {
	host, found := req.Header.Get("host")
	if !found {
		return k, false, false, false
	}
	h := sha1.New()
	if !hasAuthority(req.URI) {
		h.Write([]byte("https://"))
		h.Write(host)
	}
	h.Write(req.URI)
	h.Sum(k[:0])
	get := string(req.Method) == "GET"
	lookup = req.Minor == 1 && (get || string(req.Method) == "HEAD")
	store = lookup && get
	pragma, cc := false, false
	for _, f := range req.Header.Fields {
		switch {
		case http1.EqualFold(f.Name, "authorization"):
			lookup, store = false, false
		case http1.EqualFold(f.Name, "pragma"):
			pragma = pragma || hasPrefixFold(f.Value, "no-cache")
		case http1.EqualFold(f.Name, "cache-control"):
			cc = true
			for _, v := range splitList(f.Value) {
				switch {
				case hasPrefixFold(v, "no-cache"):
					lookup = false
				case hasPrefixFold(v, "no-store"):
					store = false
				}
			}
		}
	}
	if pragma && !cc {
		lookup = false
	}
	return k, lookup, store, true
}

// hasAuthority tells whether a request target is an absolute URI (HTX's
// HTX_SL_F_HAS_AUTHORITY).
func hasAuthority(uri []byte) bool {
	return len(uri) > 0 && uri[0] != '/' && bytes.Contains(uri, []byte("://"))
}

// Storable tells whether a response to a storable request may be stored
// and for how long, by HAProxy 2.6's rules: status 200 only; not with
// "Cache-Control: private|no-cache|no-store|max-age=0|s-maxage=0" nor
// "Pragma: no-cache"; it needs freshness (s-maxage, max-age, Expires) or
// a validator (ETag, Last-Modified); a Vary field other than
// Accept-Encoding (or any, without process-vary) keeps it out. The
// lifetime is s-maxage, else max-age, else Expires, at most max-age of
// the cache.
func (c *Cache) Storable(res *http1.Message, now time.Time) (time.Duration, bool) {
	if res.Status != 200 {
		return 0, false
	}
	smaxage, maxage := -1, -1
	expires, validator := false, false
	var exp time.Time
	for _, f := range res.Header.Fields {
		switch {
		case http1.EqualFold(f.Name, "pragma"):
			if hasPrefixFold(f.Value, "no-cache") {
				return 0, false
			}
		case http1.EqualFold(f.Name, "vary"):
			for _, v := range splitList(f.Value) {
				if !c.cfg.ProcessVary || !http1.EqualFold(v, "accept-encoding") {
					return 0, false
				}
			}
		case http1.EqualFold(f.Name, "cache-control"):
			for _, v := range splitList(f.Value) {
				switch {
				case equalFold(v, "private"), equalFold(v, "no-cache"), equalFold(v, "no-store"),
					equalFold(v, "max-age=0"), equalFold(v, "s-maxage=0"):
					return 0, false
				case hasPrefixFold(v, "s-maxage="):
					smaxage = atoi(v[9:])
				case hasPrefixFold(v, "max-age="):
					maxage = atoi(v[8:])
				}
			}
		case http1.EqualFold(f.Name, "expires"):
			if t, err := time.Parse(time.RFC1123, string(f.Value)); err == nil {
				exp = t
			}
			expires = true
		case http1.EqualFold(f.Name, "etag"), http1.EqualFold(f.Name, "last-modified"):
			validator = true
		}
	}
	if smaxage < 0 && maxage < 0 && !expires && !validator {
		return 0, false
	}
	life := c.cfg.MaxAge
	switch {
	case smaxage > 0:
		life = min(life, time.Duration(smaxage)*time.Second)
	case maxage > 0:
		life = min(life, time.Duration(maxage)*time.Second)
	case !exp.IsZero():
		life = min(life, max(exp.Sub(now).Truncate(time.Second), 0))
	}
	return life, life > 0
}

// Get returns the fresh object stored for key that the request may get
// (its Accept-Encoding accepting the object's encoding), else nil.
func (c *Cache) Get(key Key, req *http1.Message, now time.Time) *Object {
	ae, hasAE := req.Header.Get("accept-encoding")
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.objects[key] {
		if !now.Before(o.Expire) {
			c.removeLocked(o)
			continue
		}
		if o.Encoding != "" && hasAE && !accepts(ae, o.Encoding) {
			continue
		}
		c.lru.MoveToFront(o.elem)
		return o
	}
	return nil
}

// Put stores o under key in place of the variant of the same encoding,
// evicting the least recently used objects to make room.
func (c *Cache) Put(key Key, o *Object) {
	o.key = key
	o.size = int64(len(o.Head) + len(o.Body))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, old := range c.objects[key] {
		if old.Encoding == o.Encoding {
			c.removeLocked(old)
		}
	}
	if len(c.objects[key]) >= c.cfg.MaxSecondaryEntries {
		return
	}
	for c.used+o.size > c.cfg.TotalMaxSize && c.lru.Len() > 0 {
		c.removeLocked(c.lru.Back().Value.(*Object))
	}
	o.elem = c.lru.PushFront(o)
	c.objects[key] = append(c.objects[key], o)
	c.used += o.size
}

// Invalidate drops the objects of key: a successful unsafe request
// (POST, PUT, DELETE …) changed the resource (RFC 7234 §4.4).
func (c *Cache) Invalidate(key Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.objects[key] {
		c.removeLocked(o)
	}
}

// removeLocked drops o. The caller must hold c.mu.
func (c *Cache) removeLocked(o *Object) {
	vs := c.objects[o.key]
	for i, v := range vs {
		if v == o {
			vs = append(vs[:i:i], vs[i+1:]...)
			break
		}
	}
	if len(vs) == 0 {
		delete(c.objects, o.key)
	} else {
		c.objects[o.key] = vs
	}
	c.lru.Remove(o.elem)
	c.used -= o.size
}

// BlockSize is the size of the blocks HAProxy's cache keeps its objects
// in (CACHE_BLOCKSIZE): "show cache" counts objects and room in blocks.
const BlockSize = 1024

// EntryOverhead is what HAProxy's cache adds to each object's HTX data:
// its struct cache_entry (measured on haproxy 2.6.12, amd64).
const EntryOverhead = 112

// Entry is one object as "show cache" lists it (HAProxy 2.6's
// cli_io_handler_show_cache).
type Entry struct {
	// Object is the stored object (its address stands for HAProxy's).
	Object *Object
	// Hash is the first four bytes of the key, read as HAProxy reads
	// them (little-endian): the object's place in the listing.
	Hash uint32
	// Vary is the secondary key: the Accept-Encoding part (the bitmap of
	// the response's Content-Encoding) then the Referer part (always
	// zero: lb stores no response varying on Referer); all zero when the
	// response did not vary.
	Vary [8]byte
	// Size is the object's size as HAProxy stores it (EntryOverhead plus
	// its HTX blocks); Blocks how many BlockSize blocks that takes.
	Size, Blocks int64
	// ExpireIn is the seconds left before the object expires (negative
	// once expired and not yet dropped).
	ExpireIn int64
}

// Entries lists the objects in HAProxy's order (by Hash, the variants of
// one key in the order they were stored).
func (c *Cache) Entries(now time.Time) []Entry {
	c.mu.Lock()
	var es []Entry
	for e := c.lru.Back(); e != nil; e = e.Prev() {
		o := e.Value.(*Object)
		en := Entry{
			Object:   o,
			Hash:     binary.LittleEndian.Uint32(o.key[:4]),
			Size:     o.StoredLen,
			Blocks:   (o.StoredLen + BlockSize - 1) / BlockSize,
			ExpireIn: o.Expire.Unix() - now.Unix(),
		}
		if o.Vary {
			binary.LittleEndian.PutUint32(en.Vary[:4], encodingBits(o.Encoding))
		}
		es = append(es, en)
	}
	c.mu.Unlock()
	slices.SortStableFunc(es, func(a, b Entry) int { return cmp.Compare(a.Hash, b.Hash) })
	return es
}

// encodingBits is HAProxy's bitmap of a Content-Encoding value
// (cache.c's vary_encoding; identity when there is none).
func encodingBits(enc string) uint32 {
	var b uint32
	for _, v := range strings.Split(enc, ",") {
		b |= encodingBit[strings.TrimSpace(v)]
	}
	if b == 0 {
		b = encodingBit["identity"]
	}
	return b
}

var encodingBit = map[string]uint32{"gzip": 1 << 0, "x-gzip": 1 << 0, "deflate": 1 << 1,
	"br": 1 << 2, "compress": 1 << 3, "x-compress": 1 << 3, "aes128gcm": 1 << 4,
	"exi": 1 << 5, "pack200-gzip": 1 << 6, "zstd": 1 << 7, "identity": 1 << 8}

// AppendAge appends the head of o for a hit at now: the stored head with
// an Age field (the server's Age plus the time spent in the cache), as
// HAProxy's cache applet adds it after the stored fields.
func (o *Object) AppendAge(dst []byte, now time.Time) []byte {
	head := o.Head
	if n := len(head); n >= 2 && head[n-2] == '\r' && head[n-1] == '\n' {
		head = head[:n-2]
	}
	age := o.Age + now.Unix() - o.Stored.Unix()
	dst = append(dst, head...)
	dst = append(dst, "age: "...)
	dst = strconv.AppendInt(dst, max(age, 0), 10)
	return append(dst, "\r\n\r\n"...)
}

// accepts reports whether an Accept-Encoding value accepts enc.
func accepts(ae []byte, enc string) bool {
	for _, v := range splitList(ae) {
		name, params, _ := bytes.Cut(v, []byte(";"))
		name = bytes.TrimSpace(name)
		if !equalFold(name, enc) && !equalFold(name, "*") {
			continue
		}
		if q, ok := bytes.CutPrefix(bytes.TrimSpace(params), []byte("q=")); ok {
			if f, err := strconv.ParseFloat(string(q), 64); err == nil && f == 0 {
				continue
			}
		}
		return true
	}
	return false
}

// splitList splits a comma-separated field value into trimmed elements.
func splitList(v []byte) [][]byte {
	var out [][]byte
	for _, e := range bytes.Split(v, []byte(",")) {
		if e = bytes.TrimSpace(e); len(e) > 0 {
			out = append(out, e)
		}
	}
	return out
}

func equalFold(b []byte, s string) bool { return http1.EqualFold(b, s) }

func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && http1.EqualFold(b[:len(s)], s)
}

func atoi(b []byte) int {
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return 0
	}
	return n
}
