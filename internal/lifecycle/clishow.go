package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"

	"lb/internal/admin"
	"lb/internal/plane"
	"lb/internal/stats"
	"lb/internal/version"
)

// infoField is a line of "show info": its position in HAProxy's list (typed and json
// forms number them), its name, its tags (origin, nature, scope), its type and value.
type infoField struct {
	pos        int
	name, tags string
	typ        string // "str", "u32" or "u64"
	str        string // a "str" value
	num        uint64 // a "u32" or "u64" value
}

// infoFields are the fields of HAProxy 2.6's "show info", in its order, with its types.
// A field whose feature lb does not have (memory pools, pipes, SSL session cache,
// compression, peers, log receivers, debug commands) shows what HAProxy shows without
// it, 0, rather than nothing: scripts read the fields by position as much as by name.
// HAProxy's zlib fields (45, 46) are left out as by its build without zlib, and
// "description" (51) is shown only when set, as HAProxy does. The rates are sampled
// from the counters once a second (see plane's rates.go).
func infoFields(rt plane.Control, pi processInfo) []infoField {
	up := time.Since(startTime)
	var nofile syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile)
	stopping := uint64(0)
	if pi.Stopping {
		stopping = 1
	}
	s := func(pos int, name, tags, v string) infoField {
		return infoField{pos: pos, name: name, tags: tags, typ: "str", str: v}
	}
	n := func(pos int, name, tags string, v int64) infoField {
		return infoField{pos: pos, name: name, tags: tags, typ: "u32", num: uint64(uint32(v))}
	}
	n64 := func(pos int, name, tags string, v uint64) infoField {
		return infoField{pos: pos, name: name, tags: tags, typ: "u64", num: v}
	}
	st := rt.Stats()
	r := st.Rates
	pc := rt.ProcessCounters()
	var feConns, streams uint64
	for i := range st.Proxies {
		if f := st.Proxies[i].Frontend; f != nil {
			feConns += f.Total
			// HAProxy's CumReq counts streams: one per HTTP request, one per
			// session of a mode tcp frontend.
			if st.Proxies[i].Mode == "http" {
				streams += f.Requests
			} else {
				streams += f.Total - min(f.Total, f.DeniedConn+f.DeniedSess)
			}
		}
	}
	cli := uint64(pi.CLITotal)
	node := pi.Node
	if node == "" {
		node, _ = os.Hostname() // HAProxy's default node name
	}
	sched := []metrics.Sample{{Name: "/sched/goroutines:goroutines"}, {Name: "/sched/goroutines/runnable:goroutines"}}
	metrics.Read(sched)
	gauge := func(i int) int64 {
		if sched[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return int64(sched[i].Value.Uint64())
	}
	cur := int64(rt.Snapshot().Sessions)
	fields := []infoField{
		s(0, "Name", "POS", "lb"),
		s(1, "Version", "POS", version.Version),
		s(2, "Release_date", "POS", version.ReleaseDate()),
		n(3, "Nbthread", "CGS", int64(pi.Threads)),
		n(4, "Nbproc", "CGS", 1),
		n(5, "Process_num", "KGP", 1),
		n(6, "Pid", "SGP", int64(os.Getpid())),
		s(7, "Uptime", "MDP", fmtUptime(up)),
		n(8, "Uptime_sec", "MDP", int64(up.Seconds())),
		n(9, "Memmax_MB", "CLP", int64(pi.MemMax)),
		n(10, "PoolAlloc_MB", "MGP", 0), // lb keeps no memory pools of its own
		n(11, "PoolUsed_MB", "MGP", 0),
		n(12, "PoolFailed", "MCP", 0),
		n(13, "Ulimit-n", "CLP", int64(nofile.Cur)),
		n(14, "Maxsock", "CLP", int64(pi.Maxsock)),
		n(15, "Maxconn", "CLP", int64(curMaxconn(rt, pi))),
		n(16, "Hard_maxconn", "CLP", int64(pi.Maxconn)),
		n(17, "CurrConns", "MGP", cur),
		// Connections accepted by the frontends and the runtime API; HAProxy
		// also counts its health checks' connections.
		n(18, "CumConns", "MCP", int64(feConns+cli)),
		n(19, "CumReq", "MCP", int64(streams+cli)),
		n(20, "MaxSslConns", "MMP", 0), // no maxsslconn in lb
		// lb counts its TLS connections, not those open: the gauge is not kept.
		n(21, "CurrSslConns", "MGP", 0),
		// The TLS connections accepted; HAProxy also counts those to servers.
		n(22, "CumSslConns", "MCP", int64(pc.SSLConns)),
		n(23, "Maxpipes", "CLP", 0), // no pipe pool: splicing, where used, is the Go runtime's
		n(24, "PipesUsed", "MGP", 0),
		n(25, "PipesFree", "MGP", 0),
		n(26, "ConnRate", "MRP", int64(r.Conn.Cur)),
		n(27, "ConnRateLimit", "CLP", int64(rt.ConnRateLimit())),
		n(28, "MaxConnRate", "MMP", int64(r.Conn.Max)),
		n(29, "SessRate", "MRP", int64(r.Sess.Cur)),
		n(30, "SessRateLimit", "CLP", int64(rt.SessRateLimit())),
		n(31, "MaxSessRate", "MRP", int64(r.Sess.Max)),
		n(32, "SslRate", "MRP", int64(r.SSL.Cur)),
		n(33, "SslRateLimit", "CLP", int64(rt.SSLRateLimit())),
		n(34, "MaxSslRate", "MMP", int64(r.SSL.Max)),
		n(35, "SslFrontendKeyRate", "MGP", int64(r.SSLKey.Cur)),
		n(36, "SslFrontendMaxKeyRate", "MMP", int64(r.SSLKey.Max)),
		n(37, "SslFrontendSessionReuse_pct", "MGP", int64(r.SSLReuse())),
		// The handshakes with servers are not counted.
		n(38, "SslBackendKeyRate", "MRP", 0),
		n(39, "SslBackendMaxKeyRate", "MMP", 0),
		n(40, "SslCacheLookups", "MCP", 0), // no SSL session cache: TLS resumes with tickets
		n(41, "SslCacheMisses", "MCP", 0),
		// The bytes per second given to the compressor and produced by it.
		n(42, "CompressBpsIn", "MRP", int64(r.CompIn.Cur)),
		n(43, "CompressBpsOut", "MRP", int64(r.CompOut.Cur)),
		n(44, "CompressBpsRateLim", "CLP", 0), // no maxcomprate in lb
		// lb's tasks are goroutines, its run queue the runnable ones.
		n(47, "Tasks", "MGP", gauge(0)),
		n(48, "Run_queue", "MGP", gauge(1)),
		n(49, "Idle_pct", "MaP", int64(r.Idle)),
		s(50, "node", "COS", node),
	}
	if pi.Description != "" {
		fields = append(fields, s(51, "description", "COS", pi.Description))
	}
	return append(fields,
		n(52, "Stopping", "MGP", int64(stopping)),
		// HAProxy's jobs: the listeners and the sessions, the runtime API's
		// included.
		n(53, "Jobs", "MGP", int64(pi.Listeners)+cur+pi.CLICur),
		n(54, "Unstoppable Jobs", "MGP", 0), // only the master CLI's in HAProxy
		n(55, "Listeners", "MGP", int64(pi.Listeners)),
		n(56, "ActivePeers", "MGP", 0), // no peers in lb
		n(57, "ConnectedPeers", "MGP", 0),
		n(58, "DroppedLogs", "MGP", int64(pc.DroppedLogs)),
		n(59, "BusyPolling", "MGP", 0), // lb does not busy-poll
		n(60, "FailedResolutions", "MGP", int64(pc.FailedResolutions)),
		// The bytes the proxies sent to clients and servers; the runtime API's
		// and the health checks' are not counted.
		n64(61, "TotalBytesOut", "MGP", st.BytesOut()),
		// Spliced bytes are counted with the others, not apart.
		n64(62, "TotalSplicdedBytesOut", "MGP", 0),
		n64(63, "BytesOutRate", "MRP", uint64(r.BytesOut.Cur)),
		n(64, "DebugCommandsIssued", "MGP", 0), // no "debug dev" commands in lb
		n(65, "CumRecvLogs", "MCP", 0),         // no log-forward in lb
		s(66, "Build info", "POS", version.Version),
		n(67, "Memmax_bytes", "CLP", int64(pi.MemMax)<<20),
		n64(68, "PoolAlloc_bytes", "MGP", 0),
		n64(69, "PoolUsed_bytes", "MGP", 0),
		n(70, "Start_time_sec", "MDP", startTime.Unix()),
		// HAProxy's taint flags: experimental or unsafe features used. lb has none.
		s(71, "Tainted", "SGP", "0"),
	)
}

// infoNumbers are the numeric fields of "show info" by name, rt being the running
// generation: the exporter's process families (plane.Options.ProcessInfo).
func (p *process) infoNumbers(rt plane.Control) map[string]uint64 {
	fields := infoFields(rt, p.info())
	m := make(map[string]uint64, len(fields))
	for _, f := range fields {
		if f.typ != "str" {
			m[f.name] = f.num
		}
	}
	return m
}

// tagWords are the words of the json form for the letters of the tags.
var tagWords = [3]map[byte]string{
	{'M': "Metric", 'S': "Status", 'K': "Key", 'C': "Config", 'P': "Product"},
	{'A': "Age", 'a': "Avg", 'C': "Counter", 'D': "Duration", 'G': "Gauge", 'L': "Limit", 'M': "Max", 'm': "Min", 'N': "Name", 'O': "Output", 'R': "Rate", 'T': "Time"},
	{'C': "Cluster", 'P': "Process", 'S': "Service", 'G': "Global"},
}

// showInfo is "show info [typed|json]".
func showInfo(args []string, w io.Writer, rt plane.Control, pi processInfo) error {
	form := ""
	for _, a := range args {
		switch a {
		case "typed", "json":
			form = a
		case "desc", "float":
			return admin.ErrUnknown // descriptions and floats are not lb's
		}
	}
	fields := infoFields(rt, pi)
	var b strings.Builder
	switch form {
	case "typed":
		for _, f := range fields {
			v := f.str
			if f.typ != "str" {
				v = strconv.FormatUint(f.num, 10)
			}
			fmt.Fprintf(&b, "%d.%s.1:%s:%s:%s\n", f.pos, f.name, f.tags, f.typ, v)
		}
	case "json":
		b.WriteString("[")
		for i, f := range fields {
			if i > 0 {
				b.WriteString(",")
			}
			v := `{"type":"` + f.typ + `","value":` + strconv.FormatUint(f.num, 10) + `}`
			if f.typ == "str" {
				v = `{"type":"str","value":` + strconv.Quote(f.str) + `}`
			}
			fmt.Fprintf(&b, `{"field":{"pos":%d,"name":%q},"processNum":1,"tags":{"origin":%q,"nature":%q,"scope":%q},"value":%s}`,
				f.pos, f.name, tagWords[0][f.tags[0]], tagWords[1][f.tags[1]], tagWords[2][f.tags[2]], v)
		}
		b.WriteString("]\n")
	default:
		for _, f := range fields {
			if f.typ == "str" {
				fmt.Fprintf(&b, "%s: %s\n", f.name, f.str)
			} else {
				fmt.Fprintf(&b, "%s: %d\n", f.name, f.num)
			}
		}
	}
	io.WriteString(w, b.String())
	return nil
}

// showStat is "show stat [domain proxy] [{<proxy>|<iid>} <type> <sid>] [typed|json] [desc]
// [up|no-maint]", read as HAProxy 2.6's cli_parse_show_stat: the filter is the three
// words after "domain proxy" when there are three, the options are the words after it (an
// unknown one is ignored, the last form wins). The CSV is the statistics page's; legends
// (servers' addresses, backends' algorithms) are shown at the operator and admin levels.
func showStat(args []string, w io.Writer, rt plane.Control, legends bool) error {
	if arg(args, 0) == "domain" {
		if arg(args, 1) != "proxy" {
			return errors.New("Invalid statistics domain.\n")
		}
		args = args[2:]
	}
	o := stats.Options{ShowLegends: legends}
	rows := stats.Rows(rt.Stats(), &o)
	iid, typ, sid := -1, -1, -1
	if arg(args, 0) != "" && arg(args, 1) != "" && arg(args, 2) != "" {
		iid = 0
		for _, r := range rows {
			if r.Get("pxname") == args[0] {
				iid, _ = strconv.Atoi(r.Get("iid"))
				break
			}
		}
		if iid == 0 {
			iid = atoi(args[0])
		}
		if iid == 0 {
			return errors.New("No such proxy.\n")
		}
		typ, sid = atoi(args[1]), atoi(args[2])
		args = args[3:]
	}
	form, desc := "", false
	for _, a := range args {
		switch a {
		case "typed", "json":
			form = a
		case "desc":
			desc = true
		case "up":
			o.HideDown = true
		case "no-maint":
			o.HideMaint = true
		}
	}
	var shown []stats.Row
	for _, r := range stats.Rows(rt.Stats(), &o) {
		t := atoi(r.Get("type"))
		if iid != -1 && r.Get("iid") != strconv.Itoa(iid) || typ&(1<<t) == 0 ||
			t == 2 && sid != -1 && r.Get("sid") != strconv.Itoa(sid) {
			continue
		}
		shown = append(shown, r)
	}
	switch form {
	case "typed":
		w.Write(stats.Typed(shown, desc))
		return nil
	case "json":
		// HAProxy 2.6 prints no description in the JSON form.
		w.Write(stats.JSONRows(shown))
		return nil
	}
	var b strings.Builder
	b.WriteString(stats.CSVHeader)
	for _, r := range shown {
		r.WriteCSV(&b)
	}
	io.WriteString(w, b.String())
	return nil
}

// atoi is C's atoi: the leading number of s, 0 when none.
func atoi(s string) int {
	n, _, _ := strtol(s)
	return int(int32(n))
}
