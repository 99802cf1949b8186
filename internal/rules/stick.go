package rules

import (
	"fmt"
	"strconv"
	"strings"

	"lb/internal/config"
	"lb/internal/stick"
)

// Stick tables: the track-sc actions, sc-inc-gpc0 and sc-set-gpt0, the
// sc*_, src_ and table_ fetches and the table_* converters, as HAProxy
// 2.6's stick_table.c.

// numCounters is HAProxy's MAX_SESS_STKCTR: sc0, sc1, sc2.
const numCounters = 3

// NewTables returns a table for every stick-table line of cfg, by proxy
// name: the tables of one generation.
func NewTables(cfg *config.Config) map[string]*stick.Table {
	out := map[string]*stick.Table{}
	for _, px := range cfg.Tables() {
		st := px.StickTable
		kt, _ := stick.ParseKeyType(st.Type)
		sc := stick.Config{Name: px.Name, Type: kt, KeyLen: st.KeyLen, Size: st.Size, Expire: st.Expire, NoPurge: st.NoPurge}
		for _, d := range st.Store {
			if dt, ok := stick.ParseData(d.Name); ok {
				sc.Store[dt], sc.Periods[dt] = true, d.Period
			}
		}
		out[px.Name] = stick.New(sc)
	}
	return out
}

// tracker is one tracked counter (HAProxy's struct stkctr).
type tracker struct {
	t *stick.Table
	e *stick.Entry
	// errCounted: an http-response track-sc counted the transaction's
	// 4xx itself when it tracked (HAProxy counts errors when the
	// response arrives, before the http-response rules).
	errCounted bool
}

// trackState is the Stream's tracked counters: sess those of the
// tcp-request connection and session rules (the session's, kept until
// the connection ends), strm those of the content and HTTP rules (the
// stream's: in mode http, one transaction's).
type trackState struct {
	sess, strm [numCounters]tracker
	any        bool
	key        []byte
}

// counter returns the tracker the sc fetches read for counter n: the
// stream's, else the session's (smp_fetch_sc_stkctr).
func (ts *trackState) counter(n int) *tracker {
	if ts.strm[n].e != nil {
		return &ts.strm[n]
	}
	if ts.sess[n].e != nil {
		return &ts.sess[n]
	}
	return nil
}

func (ts *trackState) releaseStream() {
	for i := range ts.strm {
		if tr := &ts.strm[i]; tr.e != nil {
			tr.t.Release(tr.e)
			*tr = tracker{}
		}
	}
	ts.any = false
	for i := range ts.sess {
		if ts.sess[i].e != nil {
			ts.any = true
		}
	}
}

func (ts *trackState) releaseAll() {
	for i := range ts.sess {
		if tr := &ts.sess[i]; tr.e != nil {
			tr.t.Release(tr.e)
			*tr = tracker{}
		}
	}
	ts.releaseStream()
}

// Tracking reports whether the stream tracks a counter: the handler then
// keeps it until the connection ends, when Reset releases the counters.
func (s *Stream) Tracking() bool { return s.st.trk.any }

// CountSession counts a new session in the counters tracked by the
// tcp-request connection and session rules (sess_cnt, sess_rate), as
// HAProxy's session_count_new. The handler calls it once the session
// rules accepted the connection.
func (s *Stream) CountSession() {
	if !s.st.trk.any {
		return
	}
	for i := range s.st.trk.sess {
		if tr := &s.st.trk.sess[i]; tr.e != nil {
			tr.t.Inc(tr.e, stick.SessCnt, stick.SessRate)
		}
	}
}

// StartHTTPRequest counts an HTTP request in the tracked counters
// (http_req_cnt, http_req_rate), as HAProxy's stream_inc_http_req_ctr
// when a request head is parsed: the handler calls it after the
// frontend's tcp-request content rules, before its http-request rules
// (which count the request in what they track themselves).
func (s *Stream) StartHTTPRequest() {
	if !s.st.trk.any {
		return
	}
	s.incTracked(stick.HTTPReqCnt, stick.HTTPReqRate)
}

// EndHTTPTxn ends an HTTP transaction whose response had status: a 4xx
// counts an error in the tracked counters (http_err_cnt, http_err_rate)
// and the counters the transaction tracked are released, as HAProxy
// releases a stream's.
func (s *Stream) EndHTTPTxn(status int) {
	if !s.st.trk.any {
		return
	}
	if status >= 400 && status < 500 {
		ts := &s.st.trk
		for i := 0; i < numCounters; i++ {
			if tr := ts.counter(i); tr != nil && !tr.errCounted {
				tr.t.Inc(tr.e, stick.HTTPErrCnt, stick.HTTPErrRate)
			}
		}
	}
	s.st.trk.releaseStream()
}

// AddBytes adds a stream's bytes, in from the client and out to it, to
// the tracked counters (bytes_in_cnt, bytes_in_rate, bytes_out_cnt,
// bytes_out_rate): for each counter number the stream's, else the
// session's, as HAProxy's stream_process_counters. The handler calls it
// at the end of each transfer (an HTTP transaction, a TCP session), and
// only when Tracking: an untracked stream pays nothing.
func (s *Stream) AddBytes(in, out int64) {
	ts := &s.st.trk
	if !ts.any {
		return
	}
	for i := 0; i < numCounters; i++ {
		tr := ts.counter(i)
		if tr == nil {
			continue
		}
		if in > 0 {
			tr.t.Add(tr.e, uint64(in), stick.BytesInCnt, stick.BytesInRate)
		}
		if out > 0 {
			tr.t.Add(tr.e, uint64(out), stick.BytesOutCnt, stick.BytesOutRate)
		}
	}
}

func (s *Stream) incTracked(ds ...stick.Data) {
	ts := &s.st.trk
	for i := 0; i < numCounters; i++ {
		if tr := ts.counter(i); tr != nil {
			tr.t.Inc(tr.e, ds...)
		}
	}
}

// trackRule is a compiled track-sc, sc-inc-gpc0 or sc-set-gpt0 action.
type trackRule struct {
	n int
	t *stick.Table
	e *expr
	// sess: the rule is a tcp-request connection or session rule, whose
	// counters are the session's.
	sess bool
	// http: an http-request rule, which counts the request it tracks.
	http bool
	// res: an http-response rule, which counts the request it tracks
	// and its error when the status is a 4xx (http_res_get_intercept_rule).
	res bool
	// gpt is sc-set-gpt0's constant value when e is nil.
	gpt int64
}

// tableFor returns the table a rule or fetch names, the proxy's own when
// name is "".
func (c *compiler) tableFor(name string) (*stick.Table, error) {
	if c.tables == nil {
		c.tables = c.opt.Tables
		if c.tables == nil {
			c.tables = NewTables(c.cfg)
		}
	}
	if name == "" {
		name = c.px.Name
		if t := c.tables[name]; t != nil {
			return t, nil
		}
		return nil, fmt.Errorf("unable to find table '%s'", name)
	}
	if t := c.tables[name]; t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("unable to find table '%s'", name)
}

// parseTrack compiles "track-scN <key> [table <t>]"; at is where it runs.
func (c *compiler) parseTrack(act string, args []string, at place) (*trackRule, error) {
	n := int(act[len(act)-1] - '0')
	if len(args) != 1 && !(len(args) == 3 && args[1] == "table") {
		return nil, fmt.Errorf("expects a sample expression and an optional 'table <name>'")
	}
	tname := ""
	if len(args) == 3 {
		tname = args[2]
	}
	if args[0] == "" {
		return nil, fmt.Errorf("missing fetch method")
	}
	t, err := c.tableFor(tname)
	if err != nil {
		return nil, fmt.Errorf("%v referenced by %s", err, act)
	}
	e, err := c.parseExpr(args[0])
	if err != nil {
		return nil, err
	}
	if e.use&at == 0 {
		return nil, fmt.Errorf("fetch method '%s' extracts information from '%s', none of which is available here", e.kw, e.src)
	}
	return &trackRule{n: n, t: t, e: e, sess: at&(placeConn|placeSess) != 0, http: at == placeHTTPReq, res: at == placeHTTPRes}, nil
}

// parseSCAction compiles "sc-inc-gpc0(<n>)" and "sc-set-gpt0(<n>) <value>".
func (c *compiler) parseSCAction(act string, args []string) (*trackRule, error) {
	base, cargs, _, err := splitCall(act)
	if err != nil {
		return nil, err
	}
	if len(cargs) != 1 || len(cargs[0]) != 1 || cargs[0][0] < '0' || cargs[0][0] > '2' {
		return nil, fmt.Errorf("invalid stick table track ID. The max allowed ID is 2")
	}
	r := &trackRule{n: int(cargs[0][0] - '0')}
	if base == "sc-set-gpt0" {
		if len(args) > 1 {
			return nil, fmt.Errorf("expects an integer or a sample expression")
		}
		if len(args) == 0 {
			// HAProxy 2.6 takes a missing value as 0.
		} else if v, err := strconv.ParseInt(args[0], 10, 64); err == nil {
			r.gpt = v
		} else if r.e, err = c.parseExpr(args[0]); err != nil {
			return nil, err
		}
	} else if len(args) != 0 {
		return nil, fmt.Errorf("unexpected argument '%s'", args[0])
	}
	return r, nil
}

// stickKey evaluates smp into t's key in the stream's key buffer.
func (ev *evalCtx) stickKey(t *stick.Table, smp sample) ([]byte, bool) {
	ts := &ev.s.st.trk
	switch t.Type() {
	case stick.KeyIP, stick.KeyIPv6:
		a, ok := ev.cast(smp, tAddr)
		if !ok {
			return nil, false
		}
		ts.key, ok = t.KeyFromAddr(a.ip, ts.key)
		return ts.key, ok
	case stick.KeyInteger:
		v, ok := ev.cast(smp, tInt)
		if !ok {
			return nil, false
		}
		ts.key = t.KeyFromInt(v.i, ts.key)
		return ts.key, true
	case stick.KeyString:
		v, ok := ev.cast(smp, tStr)
		if !ok {
			return nil, false
		}
		ts.key = t.KeyFromBytes(v.b, ts.key)
		return ts.key, true
	}
	v, ok := ev.cast(smp, tBin)
	if !ok {
		return nil, false
	}
	ts.key = t.KeyFromBytes(v.b, ts.key)
	return ts.key, true
}

// track runs a track-sc action: a counter already tracked at the same
// level stays as it is.
func (r *trackRule) track(ev *evalCtx) {
	ts := &ev.s.st.trk
	slot := &ts.strm[r.n]
	if r.sess {
		slot = &ts.sess[r.n]
	}
	if slot.e != nil {
		return
	}
	smp, ok := r.e.eval(ev)
	if !ok {
		return
	}
	key, ok := ev.stickKey(r.t, smp)
	if !ok {
		return
	}
	e := r.t.Track(key)
	if e == nil {
		return
	}
	*slot = tracker{t: r.t, e: e}
	ts.any = true
	r.t.StartCounters(e)
	if r.http || r.res {
		r.t.Inc(e, stick.HTTPReqCnt, stick.HTTPReqRate)
	}
	if r.res {
		if txn := ev.s.HTTP; txn != nil && txn.Res != nil && txn.Res.Status >= 400 && txn.Res.Status < 500 {
			r.t.Inc(e, stick.HTTPErrCnt, stick.HTTPErrRate)
			slot.errCounted = true
		}
	}
}

// incGPC0 runs sc-inc-gpc0.
func (r *trackRule) incGPC0(ev *evalCtx) {
	if tr := ev.s.st.trk.counter(r.n); tr != nil {
		tr.t.IncGPC0(tr.e)
	}
}

// setGPT0 runs sc-set-gpt0.
func (r *trackRule) setGPT0(ev *evalCtx) {
	tr := ev.s.st.trk.counter(r.n)
	if tr == nil {
		return
	}
	v := r.gpt
	if r.e != nil {
		smp, ok := r.e.eval(ev)
		if !ok {
			return
		}
		if smp, ok = ev.cast(smp, tInt); !ok {
			return
		}
		v = smp.i
	}
	tr.t.Set(tr.e, stick.GPT0, uint64(v))
}

// scFetches are the data the sc_*, scN_* and src_* fetches and the
// table_* converters read, by suffix.
var scData = map[string]stick.Data{
	"conn_cur": stick.ConnCur, "conn_cnt": stick.ConnCnt, "conn_rate": stick.ConnRate,
	"sess_cnt": stick.SessCnt, "sess_rate": stick.SessRate,
	"http_req_cnt": stick.HTTPReqCnt, "http_req_rate": stick.HTTPReqRate,
	"http_err_cnt": stick.HTTPErrCnt, "http_err_rate": stick.HTTPErrRate,
	"get_gpc0": stick.GPC0, "gpc0_rate": stick.GPC0Rate, "get_gpt0": stick.GPT0,
	"bytes_in_rate": stick.BytesInRate, "bytes_out_rate": stick.BytesOutRate,
}

// kbData are the byte counts the *_kbytes_in|out fetches and converters
// read in kilobytes (the count shifted right by 10, as HAProxy's).
var kbData = map[string]stick.Data{"kbytes_in": stick.BytesInCnt, "kbytes_out": stick.BytesOutCnt}

// scOps are the fetches that do something else than read one data type.
const (
	scRead = iota
	scIncGPC0
	scClrGPC0
	scTracked
	scTrackers
	scReadKB
)

func init() {
	add := func(suffix string, op int, d stick.Data) {
		out := tInt
		if op == scTracked {
			out = tBool
		}
		fetches["sc_"+suffix] = &fetchDef{out: out, use: placeAll, min: 1, max: 2,
			build: func(c *compiler, args []string) (fetchFn, smpType, error) {
				if len(args[0]) != 1 || args[0][0] < '0' || args[0][0] > '9' {
					return nil, 0, fmt.Errorf("invalid stick table track ID '%s'", args[0])
				}
				return c.buildSC(int(args[0][0]-'0'), args[1:], op, d)
			}}
		for n := 0; n < numCounters; n++ {
			n := n
			fetches["sc"+strconv.Itoa(n)+"_"+suffix] = &fetchDef{out: out, use: placeAll, max: 1,
				build: func(c *compiler, args []string) (fetchFn, smpType, error) { return c.buildSC(n, args, op, d) }}
		}
		if op == scTracked {
			return
		}
		fetches["src_"+suffix] = &fetchDef{out: tInt, use: placeAll, max: 1,
			build: func(c *compiler, args []string) (fetchFn, smpType, error) { return c.buildSrc(args, op, d) }}
	}
	for suffix, d := range scData {
		add(suffix, scRead, d)
	}
	for suffix, d := range kbData {
		add(suffix, scReadKB, d)
	}
	add("inc_gpc0", scIncGPC0, stick.GPC0)
	add("clr_gpc0", scClrGPC0, stick.GPC0)
	add("tracked", scTracked, 0)
	add("trackers", scTrackers, 0)
	for _, name := range []string{"table_avl", "table_cnt"} {
		avl := name == "table_avl"
		fetches[name] = &fetchDef{out: tInt, use: placeAll, max: 1,
			build: func(c *compiler, args []string) (fetchFn, smpType, error) {
				t, err := c.tableFor(arg0(args))
				if err != nil {
					return nil, 0, err
				}
				return func(*evalCtx, *int) (sample, bool) {
					if avl {
						return intSample(int64(t.Size() - t.Used())), true
					}
					return intSample(int64(t.Used())), true
				}, tInt, nil
			}}
	}
	convData := map[string]stick.Data{"server_id": stick.ServerID, "gpt0": stick.GPT0, "gpc0": stick.GPC0}
	for suffix, d := range scData {
		if !strings.HasPrefix(suffix, "get_") {
			convData[suffix] = d
		}
	}
	for suffix, d := range kbData {
		convData[suffix] = d
	}
	for suffix, d := range convData {
		d := d
		_, kb := kbData[suffix]
		converters["table_"+suffix] = &convDef{in: tAny, min: 1, max: 1,
			build: func(c *compiler, args []string, _ smpType) (convFn, smpType, error) {
				t, err := c.tableFor(args[0])
				if err != nil {
					return nil, 0, err
				}
				return func(ev *evalCtx, in sample) (sample, bool) {
					key, ok := ev.stickKey(t, in)
					if !ok {
						return sample{}, false
					}
					e := t.Lookup(key)
					if e == nil {
						if !t.Stores(d) {
							return sample{}, false
						}
						return intSample(0), true
					}
					v, ok := t.Read(e, d)
					if kb {
						v >>= 10
					}
					return intSample(int64(v)), ok
				}, tInt, nil
			}}
	}
	converters["table_trackers"] = &convDef{in: tAny, min: 1, max: 1,
		build: func(c *compiler, args []string, _ smpType) (convFn, smpType, error) {
			t, err := c.tableFor(args[0])
			if err != nil {
				return nil, 0, err
			}
			return func(ev *evalCtx, in sample) (sample, bool) {
				key, ok := ev.stickKey(t, in)
				if !ok {
					return sample{}, false
				}
				if e := t.Lookup(key); e != nil {
					return intSample(int64(e.Refs())), true
				}
				return intSample(0), true
			}, tInt, nil
		}}
	converters["in_table"] = &convDef{in: tAny, min: 1, max: 1,
		build: func(c *compiler, args []string, _ smpType) (convFn, smpType, error) {
			t, err := c.tableFor(args[0])
			if err != nil {
				return nil, 0, err
			}
			return func(ev *evalCtx, in sample) (sample, bool) {
				key, ok := ev.stickKey(t, in)
				if !ok {
					return sample{}, false
				}
				return boolSample(t.Lookup(key) != nil), true
			}, tBool, nil
		}}
}

func arg0(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return ""
}

// entryOp applies op to e of t (d for reads) as the sc_/src_ fetches do.
func entryOp(ev *evalCtx, t *stick.Table, e *stick.Entry, op int, d stick.Data) (sample, bool) {
	switch op {
	case scIncGPC0:
		if e == nil {
			return intSample(0), t.Stores(stick.GPC0) || t.Stores(stick.GPC0Rate)
		}
		v, ok := t.IncGPC0(e)
		return intSample(int64(v)), ok
	case scClrGPC0:
		if !t.Stores(stick.GPC0) {
			return sample{}, false
		}
		if e == nil {
			return intSample(0), true
		}
		v, _ := t.Read(e, stick.GPC0)
		t.Set(e, stick.GPC0, 0)
		return intSample(int64(v)), true
	case scTrackers:
		if e == nil {
			return intSample(0), true
		}
		return intSample(int64(e.Refs())), true
	}
	if !t.Stores(d) {
		return sample{}, false
	}
	if e == nil {
		return intSample(0), true
	}
	v, _ := t.Read(e, d)
	if op == scReadKB {
		v >>= 10
	}
	return intSample(int64(v)), true
}

// buildSC compiles an sc_* or scN_* fetch of counter n; args may name
// another table, in which the tracked key is looked up.
func (c *compiler) buildSC(n int, args []string, op int, d stick.Data) (fetchFn, smpType, error) {
	if n >= numCounters {
		// HAProxy accepts counters past its MAX_SESS_STKCTR and finds
		// nothing there.
		return func(*evalCtx, *int) (sample, bool) { return sample{}, false }, tInt, nil
	}
	if op == scTracked {
		return func(ev *evalCtx, _ *int) (sample, bool) {
			return boolSample(ev.s.st.trk.counter(n) != nil), true
		}, tBool, nil
	}
	var other *stick.Table
	if len(args) > 0 {
		t, err := c.tableFor(args[0])
		if err != nil {
			return nil, 0, err
		}
		other = t
	}
	return func(ev *evalCtx, _ *int) (sample, bool) {
		tr := ev.s.st.trk.counter(n)
		if tr == nil {
			return sample{}, false
		}
		t, e := tr.t, tr.e
		if other != nil && other != t {
			t = other
			if op == scIncGPC0 {
				e = t.Get([]byte(tr.e.Key()))
			} else {
				e = t.Lookup([]byte(tr.e.Key()))
			}
		}
		return entryOp(ev, t, e, op, d)
	}, tInt, nil
}

// buildSrc compiles a src_* fetch: the client's address looked up in the
// proxy's table or the one named.
func (c *compiler) buildSrc(args []string, op int, d stick.Data) (fetchFn, smpType, error) {
	t, err := c.tableFor(arg0(args))
	if err != nil {
		return nil, 0, err
	}
	return func(ev *evalCtx, _ *int) (sample, bool) {
		a := ev.s.Src.Addr()
		if !a.IsValid() {
			return sample{}, false
		}
		key, ok := ev.stickKey(t, addrSample(a))
		if !ok {
			return sample{}, false
		}
		var e *stick.Entry
		if op == scIncGPC0 {
			e = t.Get(key)
		} else {
			e = t.Lookup(key)
		}
		return entryOp(ev, t, e, op, d)
	}, tInt, nil
}
