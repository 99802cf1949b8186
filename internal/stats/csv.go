package stats

import (
	"fmt"
	"strconv"
	"strings"
)

// CSVHeader is the first line of HAProxy 2.6's CSV export, as it prints it:
// the 103 fields of a proxy line, "-", then the fields of the ssl, h2 and h1
// statistics modules, each followed by a comma.
const CSVHeader = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,\n"

// columns maps a field name of CSVHeader to its position.
var columns = func() map[string]int {
	names := strings.Split(strings.TrimSuffix(strings.TrimPrefix(CSVHeader, "# "), ",\n"), ",")
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return m
}()

// ncols is the number of fields of a line.
var ncols = len(columns)

// Row is one line of the export: its fields by name; a field not set is
// empty, as HAProxy prints a field that does not apply (and lb prints one
// it does not count).
type Row []string

func newRow(px, sv string) Row {
	r := make(Row, ncols)
	r.set("pxname", px)
	r.set("svname", sv)
	r.set("pid", "1") // HAProxy's process number, always 1 in 2.6
	r.set("-", "-")
	return r
}

func (r Row) set(name, v string) {
	i, ok := columns[name]
	if !ok {
		panic("stats: no field " + name)
	}
	r[i] = v
}

// setEmpty marks a field set to the empty string: HAProxy's typed and JSON
// forms show it (last_chk after a Layer4 check), where they leave out a
// field not set; the CSV form prints both as nothing.
const setEmpty = "\x00"

// text sets a text field that may be empty and is shown even so.
func (r Row) text(name, v string) {
	if v == "" {
		v = setEmpty
	}
	r.set(name, v)
}

func (r Row) num(name string, v int) { r.set(name, strconv.Itoa(v)) }

func (r Row) u64(name string, v uint64) { r.set(name, strconv.FormatUint(v, 10)) }

func (r Row) i64(name string, v int64) { r.set(name, strconv.FormatInt(v, 10)) }

// Get returns the field name of r ("" when unknown).
func (r Row) Get(name string) string {
	if i, ok := columns[name]; ok && i < len(r) && r[i] != setEmpty {
		return r[i]
	}
	return ""
}

// Options are what the page's configuration and the request change in what
// is shown.
type Options struct {
	// ShowLegends is "stats show-legends": servers' addresses and the
	// backends' algorithms are shown.
	ShowLegends bool
	// Scope is "stats scope": only these proxies are shown ("." is the
	// proxy serving the page, Self); none means all.
	Scope []string
	Self  string
	// HideDown is ";up" in the URI: servers DOWN or in maintenance are
	// left out; HideMaint is ";no-maint": servers in maintenance are.
	HideDown, HideMaint bool
}

// inScope reports whether proxy name is shown.
func (o *Options) inScope(name string) bool {
	if len(o.Scope) == 0 {
		return true
	}
	for _, s := range o.Scope {
		if s == name || (s == "." && name == o.Self) {
			return true
		}
	}
	return false
}

// hidden reports whether server s is left out.
func (o *Options) hidden(s *Server) bool {
	// A DOWN server whose checks pass on its way up stays, as in HAProxy.
	down := s.State == Down && s.hlt() != hltGoingUp
	return (o.HideDown && (down || s.State == Maint)) || (o.HideMaint && s.State == Maint)
}

// Rows returns the export's lines in HAProxy's order: for each proxy in
// scope, its FRONTEND line, its servers' lines, its BACKEND line.
func Rows(s *Snapshot, o *Options) []Row {
	var out []Row
	for i := range s.Proxies {
		p := &s.Proxies[i]
		if !o.inScope(p.Name) {
			continue
		}
		if f := p.Frontend; f != nil {
			out = append(out, frontendRow(p, f))
		}
		if b := p.Backend; b != nil {
			for j := range b.Servers {
				if sv := &b.Servers[j]; !o.hidden(sv) {
					out = append(out, serverRow(p, sv, o))
				}
			}
			out = append(out, backendRow(p, b, o))
		}
	}
	return out
}

// The columns of each feature of Off.
var (
	compColumns = []string{"comp_in", "comp_out", "comp_byp", "comp_rsp"}
	sslColumns  = []string{"ssl_sess", "ssl_reused_sess", "ssl_failed_handshake"}
	h2Columns   = []string{"h2_headers_rcvd", "h2_data_rcvd", "h2_settings_rcvd", "h2_rst_stream_rcvd",
		"h2_goaway_rcvd", "h2_detected_conn_protocol_errors", "h2_detected_strm_protocol_errors",
		"h2_rst_stream_resp", "h2_goaway_resp", "h2_open_connections", "h2_backend_open_streams",
		"h2_total_connections", "h2_backend_total_streams"}
	h1Columns = []string{"h1_open_connections", "h1_open_streams", "h1_total_connections", "h1_total_streams",
		"h1_bytes_in", "h1_bytes_out", "h1_spliced_bytes_in", "h1_spliced_bytes_out"}
)

// never sets to 0 the counters of events lb cannot have: failed header
// rewrites (wrew: its rewrites have no buffer to overflow, where HAProxy's
// are bounded by tune.maxrewrite) and internal errors (eint: no action of
// lb's rules fails as HAProxy's may, on an allocation or a rewrite).
func (r Row) never() {
	r.set("wrew", "0")
	r.set("eint", "0")
}

// http sets the columns of a mode http proxy's or server's HTTP counters:
// the status classes, and req_tot unless it is a frontend's (set apart).
func (r Row) http(h *HTTP, reqs bool) {
	for i, c := range []string{"hrsp_other", "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx"} {
		r.u64(c, h.Rsp[i])
	}
	if reqs {
		r.u64("req_tot", h.Requests)
	}
}

// cache sets the cache columns (mode http frontends and backends).
func (r Row) cache(h *HTTP) {
	r.u64("cache_lookups", h.CacheLookups)
	r.u64("cache_hits", h.CacheHits)
}

// comp sets the compression columns (frontends and backends, any mode).
func (r Row) comp(h *HTTP) {
	r.u64("comp_in", h.CompIn)
	r.u64("comp_out", h.CompOut)
	r.u64("comp_byp", h.CompByp)
	r.u64("comp_rsp", h.CompRsp)
}

// times sets the time averages and maxima (backends and servers).
func (r Row) times(t *Times) {
	for i, c := range []string{"qtime", "ctime", "rtime", "ttime"} {
		r.u64(c, uint64(t.Avg[i]))
		r.u64(c+"_max", uint64(t.Max[i]))
	}
}

// zero sets the columns of the features that are off to 0.
func (r Row) zero(o Off) {
	for _, f := range []struct {
		off  bool
		cols []string
	}{{o.Comp, compColumns}, {o.SSL, sslColumns}, {o.H2, h2Columns}, {o.H1, h1Columns}} {
		if f.off {
			for _, c := range f.cols {
				r.set(c, "0")
			}
		}
	}
}

func frontendRow(p *Proxy, f *Frontend) Row {
	r := newRow(p.Name, "FRONTEND")
	r.num("scur", f.Cur)
	r.num("smax", f.Max)
	if f.Limit > 0 {
		r.num("slim", f.Limit)
	}
	r.u64("stot", f.Total)
	r.u64("bin", f.BytesIn)
	r.u64("bout", f.BytesOut)
	r.u64("dreq", f.DeniedReq)
	r.u64("dresp", f.DeniedResp)
	r.u64("ereq", f.FailedReq)
	r.set("status", f.status())
	r.num("iid", p.ID)
	r.set("sid", "0")
	r.set("type", "0")
	r.set("mode", p.Mode)
	r.u64("dcon", f.DeniedConn)
	r.u64("dses", f.DeniedSess)
	r.num("rate", f.SessRate.Cur)
	r.num("rate_lim", f.RateLimit)
	r.num("rate_max", f.SessRate.Max)
	r.num("req_rate", f.ReqRate.Cur)
	r.num("req_rate_max", f.ReqRate.Max)
	r.u64("req_tot", f.Requests)
	r.num("conn_rate", f.ConnRate.Cur)
	r.num("conn_rate_max", f.ConnRate.Max)
	r.u64("conn_tot", f.Total)
	if p.Mode == "http" {
		r.http(&f.HTTP, false)
		r.u64("intercepted", f.HTTP.Intercepted)
		r.cache(&f.HTTP)
	}
	r.comp(&f.HTTP)
	r.never()
	r.zero(f.Off)
	return r
}

func serverRow(p *Proxy, s *Server, o *Options) Row {
	r := newRow(p.Name, s.Name)
	r.num("qcur", s.Queue)
	r.num("qmax", s.MaxQueue)
	r.num("scur", s.Cur)
	r.num("smax", s.Max)
	if s.Limit > 0 {
		r.num("slim", s.Limit)
	}
	r.u64("stot", s.Total)
	r.u64("bin", s.BytesIn)
	r.u64("bout", s.BytesOut)
	r.u64("dresp", s.DeniedResp)
	r.u64("econ", s.Failed)
	r.u64("eresp", s.RespErrors)
	r.u64("wretr", s.Retries)
	r.u64("wredis", s.Redispatches)
	r.set("status", s.status())
	r.num("weight", s.effWeight())
	if s.Backup {
		r.set("act", "0")
		r.set("bck", "1")
	} else {
		r.set("act", "1")
		r.set("bck", "0")
	}
	if s.QueueLimit > 0 {
		r.num("qlimit", s.QueueLimit)
	}
	r.num("iid", p.ID)
	r.num("sid", s.ID)
	if s.Throttle > 0 {
		r.num("throttle", s.Throttle)
	}
	if s.Tracked != "" {
		r.set("tracked", s.Tracked)
	}
	r.u64("lbtot", s.LBTotal)
	r.set("type", "2")
	r.num("rate", s.SessRate.Cur)
	r.num("rate_max", s.SessRate.Max)
	r.u64("cli_abrt", s.CliAborts)
	r.u64("srv_abrt", s.SrvAborts)
	r.i64("lastsess", s.LastSess)
	r.i64("lastchg", s.LastChange)
	if s.Observe {
		r.u64("hanafail", s.HANAFail)
	}
	if c := s.Check; c != nil {
		r.u64("chkfail", c.Failed)
		r.u64("chkdown", s.DownTrans)
		r.i64("downtime", s.Downtime)
		if !c.Paused {
			r.set("check_status", c.statusWord())
			if c.HasCode {
				r.num("check_code", c.Code)
			}
			if c.Done {
				// Unsigned, as HAProxy prints a passive check's -1 ms.
				r.u64("check_duration", uint64(c.Duration.Milliseconds()))
			}
			r.set("check_desc", c.Desc)
			r.text("last_chk", c.Info)
			r.num("check_rise", s.Rise)
			r.num("check_fall", s.Fall)
			r.num("check_health", c.Health)
		}
	}
	if a := s.Agent; a != nil {
		r.set("agent_status", a.statusWord())
		if a.HasCode {
			r.num("agent_code", a.Code)
		}
		if a.Done {
			r.i64("agent_duration", a.Duration.Milliseconds())
		}
		r.set("agent_desc", a.Desc)
		r.text("last_agt", a.Info)
		r.num("agent_rise", 1)
		r.num("agent_fall", 1)
		r.num("agent_health", a.Health)
	}
	if o.ShowLegends {
		r.set("addr", s.Addr)
	}
	r.set("mode", p.Mode)
	r.num("uweight", s.Weight)
	r.u64("connect", s.Connects)
	r.u64("reuse", s.Reuses)
	if p.Mode == "http" {
		r.http(&s.HTTP, true)
	}
	r.times(&s.Times)
	id := &s.Idle
	r.num("srv_icur", id.Unsafe+id.Safe)
	if id.Limited {
		r.num("src_ilim", id.Limit)
	}
	r.num("idle_conn_cur", id.Unsafe)
	r.num("safe_conn_cur", id.Safe)
	r.num("used_conn_cur", id.Used)
	r.num("need_conn_est", id.NeedEst)
	r.never()
	r.zero(Off{SSL: s.NoSSL})
	return r
}

func backendRow(p *Proxy, b *Backend, o *Options) Row {
	r := newRow(p.Name, "BACKEND")
	r.num("qcur", b.Queue)
	r.num("qmax", b.MaxQueue)
	r.num("scur", b.Cur)
	r.num("smax", b.Max)
	if b.Limit > 0 {
		r.num("slim", b.Limit)
	}
	r.u64("stot", b.Total)
	r.u64("bin", b.BytesIn)
	r.u64("bout", b.BytesOut)
	r.u64("dreq", b.DeniedReq)
	r.u64("dresp", b.DeniedResp)
	r.u64("econ", b.failed())
	r.u64("eresp", b.RespErrors)
	r.u64("wretr", b.Retries)
	r.u64("wredis", b.Redispatches)
	r.u64("chkdown", b.DownTrans)
	r.i64("lastchg", b.LastChange)
	if len(b.Servers) > 0 {
		r.i64("downtime", b.Downtime)
	}
	// HAProxy 2.6 does not aggregate these yet: always 0.
	r.set("agg_server_status", "0")
	r.set("agg_server_check_status", "0")
	r.set("agg_check_status", "0")
	status := b.status()
	if o.HideDown || o.HideMaint {
		// With ";up" or ";no-maint", HAProxy adds how many of the servers are
		// not down nor in maintenance, hidden ones included.
		up := 0
		for i := range b.Servers {
			if st := b.Servers[i].State; st != Down && st != Maint {
				up++
			}
		}
		status += fmt.Sprintf(" (%d/%d)", up, len(b.Servers))
	}
	r.set("status", status)
	w, act, bck := b.weights()
	r.num("weight", w)
	r.num("act", act)
	r.num("bck", bck)
	r.num("iid", p.ID)
	r.set("sid", "0")
	r.u64("lbtot", b.LBTotal)
	r.set("type", "1")
	r.num("rate", b.SessRate.Cur)
	r.num("rate_max", b.SessRate.Max)
	r.u64("cli_abrt", b.CliAborts)
	r.u64("srv_abrt", b.SrvAborts)
	r.i64("lastsess", b.LastSess)
	r.set("mode", p.Mode)
	if o.ShowLegends {
		r.set("algo", p.Algo)
	}
	r.num("uweight", w)
	conns, reuses := b.connects()
	r.u64("connect", conns)
	r.u64("reuse", reuses)
	if p.Mode == "http" {
		r.http(&b.HTTP, true)
		r.cache(&b.HTTP)
	}
	r.comp(&b.HTTP)
	r.times(&b.Times)
	r.never()
	r.zero(b.Off)
	return r
}

// WriteCSV writes r as a line of the CSV export: each field followed by a
// comma, then a newline.
func (r Row) WriteCSV(b *strings.Builder) {
	for _, f := range r {
		if f != setEmpty {
			writeCSVField(b, f)
		}
		b.WriteByte(',')
	}
	b.WriteByte('\n')
}

// writeCSVField writes f, between double quotes (its own doubled) when it
// holds a comma, a double quote or a line break, as HAProxy's csv_enc does
// for the text fields ("Detected 2 consecutive errors, last one was: …").
func writeCSVField(b *strings.Builder, f string) {
	if !strings.ContainsAny(f, ",\"\r\n") {
		b.WriteString(f)
		return
	}
	b.WriteByte('"')
	b.WriteString(strings.ReplaceAll(f, `"`, `""`))
	b.WriteByte('"')
}

// CSV renders the export: the header line, then one line per row, each
// field followed by a comma, as HAProxy prints them. Fields are written as
// they are: proxy and server names cannot hold a comma.
func CSV(s *Snapshot, o *Options) []byte {
	var b strings.Builder
	b.WriteString(CSVHeader)
	for _, r := range Rows(s, o) {
		r.WriteCSV(&b)
	}
	return []byte(b.String())
}
