package proxy

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"time"

	"lb/internal/cache"
	"lb/internal/http1"
)

// cacheStore is the response being stored by an "http-response
// cache-store" rule: its head as the rule saw it and its body as it
// passes to the client.
type cacheStore struct {
	c    *cache.Cache
	key  cache.Key
	obj  *cache.Object
	size int64 // the object's HAProxy (HTX) size so far
	// blocks counts the object's HTX blocks: each takes 4 more bytes in
	// HAProxy's cache.
	blocks int64
	// gone is set once the object outgrew max-object-size.
	gone bool
}

// cacheLookup answers the request from the cache of its cache-use rule
// when it holds a fresh object for it (a hit), as HAProxy's cache
// applet does in place of the server: the response then goes through
// the http-response rules as a server's would. ok is false on a miss.
func (hc *httpConn) cacheLookup(start time.Time, tr time.Duration, be *Backend, mode HTTPConnMode) (keep, ok bool) {
	ch := hc.h.cfg.Caches[hc.txn.CacheUse]
	if ch == nil {
		return false, false
	}
	key, lookup, _, found := cache.RequestKey(&hc.req)
	if !found || !lookup {
		return false, false
	}
	// Counted on the proxy whose rule looked up, as HAProxy does.
	hcs := &be.http
	if hc.feCache {
		hcs = &hc.h.f.http
	}
	hcs.cacheLookups.Add(1)
	now := time.Now()
	o := ch.Get(key, &hc.req, now)
	if o == nil {
		return false, false
	}
	hcs.cacheHits.Add(1)
	if hc.feCache {
		// Answered by the cache at the frontend's stage: intercepted.
		hc.h.f.http.intercepted.Add(1)
	}
	resp := o.AppendAge(nil, now)
	if string(hc.req.Method) != "HEAD" {
		resp = append(resp, o.Body...)
	}
	hc.cached = true
	hc.sc = &cacheConn{r: bytes.NewReader(resp)}
	hc.lg.tw, hc.lg.tc = 0, 0
	return hc.response(start, tr, now, be, mode), true
}

// cacheStart prepares the storing of the response when a cache-store
// rule ran and HAProxy 2.6 would store it; a successful unsafe request
// drops the stored objects of its URL instead (RFC 7234 §4.4).
func (hc *httpConn) cacheStart() {
	hc.store = nil
	name := hc.txn.CacheStore
	if name == "" || hc.txn.CacheUse == "" || hc.cached {
		// Without cache-use the request has no key: HAProxy stores nothing.
		return
	}
	ch := hc.h.cfg.Caches[name]
	if ch == nil {
		return
	}
	key, _, store, ok := cache.RequestKey(&hc.req)
	if !ok {
		return
	}
	res := &hc.res
	switch m := string(hc.req.Method); m {
	case "GET", "HEAD", "OPTIONS", "TRACE":
	default:
		if res.Status >= 200 && res.Status < 400 {
			ch.Invalidate(key)
		}
		return
	}
	if !store || res.Framing != http1.Length && res.Framing != http1.Chunked && res.Framing != http1.NoBody {
		return
	}
	now := time.Now()
	life, ok := ch.Storable(res, now)
	if !ok {
		return
	}
	size := htxSize(res, false, 0)
	if res.Framing == http1.Length {
		size += res.ContentLength
	}
	if size > ch.Config().MaxObjectSize {
		return
	}
	o := &cache.Object{Head: append([]byte(nil), hc.txn.CacheHead...), Stored: now, Expire: now.Add(life)}
	if v, ok := res.Header.Get("age"); ok {
		o.Age, _ = strconv.ParseInt(string(v), 10, 64)
	}
	if v, ok := res.Header.Get("content-encoding"); ok {
		o.Encoding = string(bytes.ToLower(bytes.TrimSpace(v)))
	}
	_, o.Vary = res.Header.Get("vary")
	// HAProxy stores each HTX block with its 4-byte info word: the start
	// line, the fields (Connection fields are not in HTX) and the end of
	// the head.
	blocks := int64(2)
	for _, f := range res.Header.Fields {
		if !http1.EqualFold(f.Name, "connection") {
			blocks++
		}
	}
	hc.store = &cacheStore{c: ch, key: key, obj: o, size: size, blocks: blocks}
}

// cacheBody adds body bytes of the response being stored.
func (hc *httpConn) cacheBody(b []byte, payload int) {
	st := hc.store
	if st == nil || st.gone {
		return
	}
	if payload > 0 {
		// What one read brings HAProxy makes one HTX data block.
		st.blocks++
	}
	if hc.res.Framing == http1.Chunked {
		st.size += int64(payload)
		if st.size > st.c.Config().MaxObjectSize {
			st.gone, st.obj = true, nil
			return
		}
	}
	st.obj.Body = append(st.obj.Body, b...)
}

// cacheEnd stores the response once it was forwarded whole.
func (hc *httpConn) cacheEnd(ok bool) {
	st := hc.store
	hc.store = nil
	if st == nil || st.gone || !ok {
		return
	}
	// The end of a chunked message is one more block.
	if hc.res.Framing == http1.Chunked {
		st.blocks++
	}
	st.obj.StoredLen = cache.EntryOverhead + st.size + 4*st.blocks
	st.c.Put(st.key, st.obj)
}

// cacheConn is the server connection of a cache hit: it reads the
// stored response.
type cacheConn struct {
	r *bytes.Reader
}

func (c *cacheConn) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}
func (c *cacheConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *cacheConn) Close() error                     { return nil }
func (c *cacheConn) LocalAddr() net.Addr              { return cacheAddr{} }
func (c *cacheConn) RemoteAddr() net.Addr             { return cacheAddr{} }
func (c *cacheConn) SetDeadline(time.Time) error      { return nil }
func (c *cacheConn) SetReadDeadline(time.Time) error  { return nil }
func (c *cacheConn) SetWriteDeadline(time.Time) error { return nil }

type cacheAddr struct{}

func (cacheAddr) Network() string { return "cache" }
func (cacheAddr) String() string  { return "<CACHE>" }
