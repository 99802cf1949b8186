package balance

import "slices"

// HAProxy's weight constants (include/haproxy/backend-t.h, server-t.h).
const (
	// beWeightScale is BE_WEIGHT_SCALE: a server of user weight w owns
	// w*16 points of the consistent-hash ring.
	beWeightScale = 16
	// srvEwghtRange is SRV_EWGHT_RANGE (SRV_UWGHT_RANGE 256 * 16): the
	// spacing of two servers' point numbers, full_hash(puid*4096 + n).
	srvEwghtRange = 256 * beWeightScale
)

// srvSnap is what a hash placement depends on for one server: the map or
// the ring is rebuilt when any of it changes, as HAProxy rebuilds it when a
// server changes state or weight.
type srvSnap struct {
	id, weight, conf int
	// ew is the eweight (Server.EWeight): a consistent-hash server owns
	// that many points.
	ew             int
	backup, usable bool
}

// placement tracks the servers a hash placement was built for.
type placement struct {
	opt  Options
	seen []srvSnap
	init bool
	// l7 marks uri, url_param and hdr, which ignore HashAddr's keys.
	l7 bool
}

// hash returns the key's hash and whether there is one for this
// algorithm.
func (p *placement) hash(key uint64) (uint32, bool) {
	if p.l7 && key&srcKeyBit != 0 {
		return 0, false
	}
	return keyHash(key)
}

// changed reports whether srvs differ from the servers of the last build
// and records them. It allocates only when the backend grows.
func (p *placement) changed(srvs []Server) bool {
	diff := !p.init || len(p.seen) != len(srvs)
	if len(p.seen) != len(srvs) {
		p.seen = slices.Grow(p.seen[:0], len(srvs))[:len(srvs)]
	}
	for i := range srvs {
		s := &srvs[i]
		n := srvSnap{id: s.ID, weight: s.Weight, conf: s.ConfWeight, ew: int(s.ew()), backup: s.Backup,
			usable: s.Usable && s.Weight > 0}
		if p.seen[i] != n {
			p.seen[i] = n
			diff = true
		}
	}
	p.init = true
	return diff
}

// candidates finds HAProxy's server group for a lookup (recount_servers,
// update_backend_weight): the usable active servers if any, else the first
// usable backup alone (fbck) unless AllBackups, else all usable backups.
// fbck is -1 when there is no first-backup-only group; ok is false when no
// server is usable.
func (p *placement) candidates() (backup bool, fbck int, ok bool) {
	fbck = -1
	for i := range p.seen {
		s := &p.seen[i]
		if !s.usable {
			continue
		}
		if !s.backup {
			return false, -1, true
		}
		if fbck < 0 {
			fbck = i
		}
	}
	if fbck < 0 {
		return false, -1, false
	}
	if p.opt.AllBackups {
		return true, -1, true
	}
	return true, fbck, true
}

// mapHash is "hash-type map-based" (src/lb_map.c), HAProxy 2.6's default
// for source, uri, url_param and hdr: the servers are laid out in a table
// of total-weight slots, each repeated by its weight in the interleaved
// order of recalc_server_map, and the hash picks slot hash % total
// (map_get_server_hash). Any change of the server set reshuffles most
// keys. Without a key it walks the table in turn (map_get_server_rr).
type mapHash struct {
	placement
	// slots holds a server index per map slot; its length is HAProxy's
	// tot_weight.
	slots []int
	// wscore is recalc_server_map's per-server score, kept to avoid
	// allocating on rebuilds.
	wscore []int
	// rr is lbprm.map.rr_idx, the next slot of the round-robin walk.
	rr int
	// oneZero applies the shortcut of get_server_sh, get_server_uh and
	// get_server_hh (not get_server_ph, so not url_param): when the group
	// holds a single server (tot_used 1), the hash is 0, so slot 0 is
	// used whatever the key.
	oneZero bool
	// single reports that the group holds one server: one usable active,
	// or the first backup serving alone (whose group, in the map, still
	// interleaves every usable backup).
	single bool
}

func (m *mapHash) Pick(srvs []Server, key uint64) int {
	if m.changed(srvs) {
		m.rebuild()
	}
	tot := len(m.slots)
	if tot == 0 {
		return -1
	}
	if h, ok := m.hash(key); ok {
		// The hashed server is returned even when full: the caller
		// queues on it, as HAProxy does.
		if m.single && m.oneZero {
			return m.slots[0]
		}
		return m.slots[m.opt.HashType.finish(h)%uint32(tot)]
	}
	// map_get_server_rr: the first slot from rr_idx whose server is not
	// full.
	if m.rr < 0 || m.rr >= tot {
		m.rr = 0
	}
	i := m.rr
	for {
		s := m.slots[i]
		i++
		if !srvs[s].full() {
			m.rr = i
			return s
		}
		if i == tot {
			i = 0
		}
		if i == m.rr {
			return -1
		}
	}
}

// mapGCD returns init_server_map's weight divisor: the greatest common
// divisor of the servers' configured weights, which HAProxy divides every
// weight by to keep the table small (lbprm.wmult).
func (p *placement) mapGCD() int {
	g := 0
	for i := range p.seen {
		w := p.seen[i].conf
		if w <= 0 {
			w = p.seen[i].weight
		}
		if w <= 0 {
			continue
		}
		if g == 0 {
			g = w
			continue
		}
		for w != 0 {
			g, w = w, g%w
		}
		if g == 1 {
			break
		}
	}
	return max(g, 1)
}

// rebuild is recalc_server_map after recount_servers and
// update_backend_weight.
func (m *mapHash) rebuild() {
	m.slots = m.slots[:0]
	backup, fbck, ok := m.candidates()
	if !ok {
		return
	}
	g := m.mapGCD()
	// eweight is (uweight*wdiv + wmult - 1) / wmult with wdiv 1, wmult g.
	eweight := func(i int) int { return (m.seen[i].weight + g - 1) / g }
	cand := func(i int) bool { return m.seen[i].usable && m.seen[i].backup == backup }
	tot, used := 0, 0
	if fbck >= 0 {
		tot, used = eweight(fbck), 1
	} else {
		for i := range m.seen {
			if cand(i) {
				tot += eweight(i)
				used++
			}
		}
	}
	m.single = used == 1
	if cap(m.wscore) < len(m.seen) {
		m.wscore = make([]int, len(m.seen))
	}
	m.wscore = m.wscore[:len(m.seen)]
	clear(m.wscore)
	// With a first backup alone, tot is its weight but every usable backup
	// still competes for the slots, as in HAProxy.
	for range tot {
		best, hi := -1, 0
		for i := range m.seen {
			if !cand(i) {
				continue
			}
			if tot == 1 {
				best = i
				break
			}
			m.wscore[i] += eweight(i)
			v := (m.wscore[i] + tot) / tot
			if best < 0 || v > hi {
				best, hi = i, v
			}
		}
		m.slots = append(m.slots, best)
		m.wscore[best] -= tot
	}
}

// ringNode is one point of the consistent-hash ring: its key and the index
// of its server.
type ringNode struct {
	key uint32
	srv int
}

// chash is "hash-type consistent" (src/lb_chash.c): a server of eweight w
// (its weight × 16, less during a slow start)
// owns the w points full_hash(id*4096 + n), n < w, of a 32-bit ring
// (chash_init_server_tree), and a hash goes to the server of the nearest
// point on either side, the one before on a tie (chash_get_server_hash).
// A server that goes down takes its points away, so only its keys move.
// Without a key it walks the points in order (chash_get_next_server).
type chash struct {
	placement
	// nodes is the ring sorted by key (the ebtree), for the active
	// servers, or the backups when no active server is usable.
	nodes []ringNode
	// fbck is the first usable backup when it serves alone (no active
	// server, no allbackups), else -1.
	fbck int
	// last is lbprm.chash.last, the index in nodes of the point the
	// round-robin walk stopped at, -1 for none.
	last    int
	lastKey uint32
	// cum is each server's cumulative_weight (the eweights of the
	// servers of its group before it, in configuration order) and totW
	// the group's total eweight (lbprm.tot_weight), for bounded loads.
	cum  []int64
	totW int64
}

func (c *chash) Pick(srvs []Server, key uint64) int {
	if c.changed(srvs) {
		c.rebuild()
	}
	if c.fbck >= 0 {
		return c.fbck
	}
	n := len(c.nodes)
	if n == 0 {
		return -1
	}
	if h, ok := c.hash(key); ok {
		return c.lookup(srvs, c.opt.HashType.finish(h))
	}
	// chash_get_next_server: from the point after last, the first point
	// whose server is not full. Starting with no last point, only the
	// first point is tried.
	node, stop := c.last, c.last
	for {
		node++
		if node >= n {
			node = 0
		}
		if stop < 0 {
			stop = node
		}
		s := c.nodes[node].srv
		if !srvs[s].full() {
			c.last, c.lastKey = node, c.nodes[node].key
			return s
		}
		if node == stop {
			c.last = -1
			return -1
		}
	}
}

// lookup is chash_get_server_hash: the first point at or after h
// (eb32_lookup_ge, wrapping to the first) and the one before it (wrapping
// to the last); the nearer one wins, the one before on a tie. The hashed
// server is returned even when full. With a hash-balance-factor, the walk
// goes on along the ring from that point to the first server within its
// bound, at most twice round (then the ring's last point's server).
func (c *chash) lookup(srvs []Server, h uint32) int {
	lo, hi := 0, len(c.nodes)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if c.nodes[mid].key < h {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	next := lo
	if next == len(c.nodes) {
		next = 0
	}
	prev := next - 1
	if prev < 0 {
		prev = len(c.nodes) - 1
	}
	dp := h - c.nodes[prev].key
	dn := c.nodes[next].key - h
	i := next
	if dp <= dn {
		i = prev
	}
	if c.opt.HashBalanceFactor == 0 {
		return c.nodes[i].srv
	}
	var served int64
	for j := range srvs {
		served += int64(srvs[j].Served)
	}
	loop := 0
	for !c.eligible(srvs, c.nodes[i].srv, served) {
		j := i + 1
		if j == len(c.nodes) {
			j = 0
			if loop++; loop > 1 {
				break
			}
		}
		i = j
	}
	return c.nodes[i].srv
}

// eligible is chash_server_is_eligible: the backend's served connections
// plus the one being placed, times the factor, make the slots (rounded up),
// shared out by eweight, the remainder in proportion to the cumulative
// weights, at least one per server; server s is eligible while it serves
// fewer than its slots.
func (c *chash) eligible(srvs []Server, s int, served int64) bool {
	if c.totW == 0 {
		return true
	}
	tot := ((served+1)*int64(c.opt.HashBalanceFactor) + 99) / 100
	perWeight, rem := tot/c.totW, tot%c.totW
	ew, cum := int64(c.seen[s].ew), c.cum[s]
	slots := ew*perWeight + ((cum+ew)*rem)/c.totW - (cum*rem)/c.totW
	if slots == 0 {
		slots = 1
	}
	return int64(srvs[s].Served) < slots
}

// rebuild lays the points of the current group on the ring.
func (c *chash) rebuild() {
	c.nodes = c.nodes[:0]
	c.fbck = -1
	backup, fbck, ok := c.candidates()
	if !ok {
		c.last = -1
		return
	}
	if fbck >= 0 {
		c.fbck = fbck
		return
	}
	if cap(c.cum) < len(c.seen) {
		c.cum = make([]int64, len(c.seen))
	}
	c.cum, c.totW = c.cum[:len(c.seen)], 0
	for i := range c.seen {
		s := &c.seen[i]
		if !s.usable || s.backup != backup {
			continue
		}
		c.cum[i] = c.totW
		c.totW += int64(s.ew)
		base := uint32(s.id) * srvEwghtRange
		for n := range s.ew {
			c.nodes = append(c.nodes, ringNode{key: fullHash(base + uint32(n)), srv: i})
		}
	}
	// Points are distinct for ids below 2^20 and weights up to 256
	// (full_hash is a bijection); ebtree keeps equal keys in insertion
	// order, which the stable sort keeps too.
	slices.SortStableFunc(c.nodes, func(a, b ringNode) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	// The walk goes on from the same point; when that point left the
	// ring, chash_skip_node moved last to the point after it.
	if c.last >= 0 && len(c.nodes) > 0 {
		i, _ := slices.BinarySearchFunc(c.nodes, c.lastKey, func(n ringNode, k uint32) int {
			switch {
			case n.key < k:
				return -1
			case n.key > k:
				return 1
			}
			return 0
		})
		if i == len(c.nodes) {
			i = 0
		}
		c.last = i
	} else {
		c.last = -1
	}
}
