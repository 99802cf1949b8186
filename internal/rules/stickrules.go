package rules

import (
	"lb/internal/config"
	"lb/internal/stick"
)

// Stick rules: "stick on|match|store-request|store-response", which keep a
// client on the server a key was stored with, as HAProxy 2.6's
// process_sticking_rules and process_store_rules (stream.c).

// maxStickStores is HAProxy's size of a stream's store list (s->store).
const maxStickStores = 8

// stickRule is a compiled stick rule.
type stickRule struct {
	cond         *cond
	e            *expr
	t            *stick.Table
	match, store bool
}

// stickState is a stream's pending stores: the keys its stick rules will
// store with the server once it is known; the first nReq come from the
// request's rules.
type stickState struct {
	n, nReq int
	tables  [maxStickStores]*stick.Table
	keys    [maxStickStores][]byte
}

func (c *compiler) compileStickRules(px *config.Proxy) {
	if px.Cap&config.CapBackend == 0 {
		return
	}
	p := c.p
	for _, r := range px.StickRules {
		c.pos = r.Pos
		at, what := placeSwitch, "stick "+r.Kind
		if r.Kind == "store-response" {
			at = placeResponse
		}
		t, err := c.tableFor(r.Table)
		if err != nil {
			c.errorf("%v", err)
			continue
		}
		e, err := c.parseExpr(r.Expr)
		if err != nil {
			c.errorf("'stick': %v", err)
			continue
		}
		if e.use&at == 0 {
			c.errorf("'stick': fetch method '%s' extracts information from '%s', none of which is available for '%s'.", e.kw, e.src, what)
			continue
		}
		sr := &stickRule{cond: c.compileCond(r.Cond, at, what), e: e, t: t, match: r.Matches(), store: r.Stores()}
		if r.Kind == "store-response" {
			sr.store = true
			p.c.stickRes = append(p.c.stickRes, sr)
			continue
		}
		p.c.switchContent = p.c.switchContent || e.content || (sr.cond != nil && sr.cond.content)
		p.c.stickReq = append(p.c.stickReq, sr)
	}
}

// HasStickRules reports whether the backend has stick rules: its handler
// then calls StickRequest before choosing a server, StickStore once the
// server answered, and StickResponse before in mode http.
func (p *Proxy) HasStickRules() bool { return len(p.c.stickReq)+len(p.c.stickRes) > 0 }

// StickRequest runs the request's stick rules (on, match, store-request)
// in order, as final data: the first key found in a table whose server
// may take the stream (usable(server_id)) chooses it, unless assigned (a
// server was chosen already: use-server, a persistence cookie); each
// table's first storing rule records its key for StickStore. It returns
// the id of the server chosen, 0 when none was.
func (p *Proxy) StickRequest(s *Stream, assigned bool, usable func(id int) bool) int {
	ev := s.st.newEval(s, p, true)
	ss := &s.st.stk
	ss.n, ss.nReq = 0, 0
	chosen := 0
	for _, r := range p.c.stickReq {
		if r.store && ss.pending(r.t, 0) {
			// Only a table's first store-request applies.
			continue
		}
		if r.cond != nil && !r.cond.pass(ev) {
			continue
		}
		smp, ok := r.e.eval(ev)
		if !ok {
			continue
		}
		key, ok := ev.stickKey(r.t, smp)
		if !ok {
			continue
		}
		if r.match {
			if e := r.t.Lookup(key); e != nil {
				if !assigned && chosen == 0 {
					if id, _ := r.t.Read(e, stick.ServerID); id != 0 && usable(int(id)) {
						chosen = int(id)
					}
				}
				r.t.Touch(e)
			}
		}
		if r.store {
			ss.add(r.t, key)
		}
	}
	ss.nReq = ss.n
	return chosen
}

// StickResponse runs the store-response rules on the response: each
// table's first matching rule records its key, beside what the request's
// rules recorded (process_store_rules).
func (p *Proxy) StickResponse(s *Stream) {
	if len(p.c.stickRes) == 0 {
		return
	}
	ev := s.st.newEval(s, p, true)
	ev.resp = true
	ss := &s.st.stk
	for _, r := range p.c.stickRes {
		if ss.pending(r.t, ss.nReq) {
			continue
		}
		if r.cond != nil && !r.cond.pass(ev) {
			continue
		}
		smp, ok := r.e.eval(ev)
		if !ok {
			continue
		}
		if key, ok := ev.stickKey(r.t, smp); ok {
			ss.add(r.t, key)
		}
	}
}

// StickStore stores the recorded keys with the server that served the
// stream (its id and name), and forgets them.
func (p *Proxy) StickStore(s *Stream, id int, name string) {
	ss := &s.st.stk
	for i := 0; i < ss.n; i++ {
		t := ss.tables[i]
		if e := t.Get(ss.keys[i]); e != nil {
			t.SetServer(e, id, name)
		}
		ss.tables[i] = nil
	}
	ss.n, ss.nReq = 0, 0
}

// StickForget forgets the recorded keys without storing them: the server
// that served the stream is "non-stick", whose entries HAProxy frees
// instead of storing (process_store_rules).
func (p *Proxy) StickForget(s *Stream) {
	ss := &s.st.stk
	clear(ss.tables[:ss.n])
	ss.n, ss.nReq = 0, 0
}

// pending reports whether table t has a recorded key from index from on.
func (ss *stickState) pending(t *stick.Table, from int) bool {
	for i := from; i < ss.n; i++ {
		if ss.tables[i] == t {
			return true
		}
	}
	return false
}

func (ss *stickState) add(t *stick.Table, key []byte) {
	if ss.n == maxStickStores {
		return
	}
	ss.tables[ss.n] = t
	ss.keys[ss.n] = append(ss.keys[ss.n][:0], key...)
	ss.n++
}
