package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"os"
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
// forms number them), its name, its tags (origin, nature, scope) and its value.
type infoField struct {
	pos        int
	name, tags string
	str        string // a "str" value
	num        int64  // a "u32" value, when str is not set
	isStr      bool
}

// infoFields are the fields of HAProxy's "show info" that mean something in lb, in
// HAProxy's order; the others (memory pools, SSL connection counts, compression, peers,
// tasks, idle time …) are left out rather than made up. The rates are sampled from the
// counters once a second (see plane's rates.go).
func infoFields(rt plane.Control, pi processInfo) []infoField {
	up := time.Since(startTime)
	var nofile syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile)
	stopping := int64(0)
	if pi.Stopping {
		stopping = 1
	}
	s := func(pos int, name, tags, v string) infoField {
		return infoField{pos: pos, name: name, tags: tags, str: v, isStr: true}
	}
	n := func(pos int, name, tags string, v int64) infoField {
		return infoField{pos: pos, name: name, tags: tags, num: v}
	}
	r := rt.Stats().Rates
	return []infoField{
		s(0, "Name", "POS", "lb"),
		s(1, "Version", "POS", version.Version),
		n(3, "Nbthread", "CGS", int64(pi.Threads)),
		n(4, "Nbproc", "CGS", 1),
		n(5, "Process_num", "KGP", 1),
		n(6, "Pid", "SGP", int64(os.Getpid())),
		s(7, "Uptime", "MDP", fmtUptime(up)),
		n(8, "Uptime_sec", "MDP", int64(up.Seconds())),
		n(9, "Memmax_MB", "CLP", int64(pi.MemMax)),
		n(13, "Ulimit-n", "CLP", int64(nofile.Cur)),
		n(15, "Maxconn", "CLP", int64(curMaxconn(rt, pi))),
		n(16, "Hard_maxconn", "CLP", int64(pi.Maxconn)),
		n(17, "CurrConns", "MGP", int64(rt.Snapshot().Sessions)),
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
		n(52, "Stopping", "MGP", stopping),
		n(55, "Listeners", "MGP", int64(pi.Listeners)),
		n(67, "Memmax_bytes", "CLP", int64(pi.MemMax)<<20),
		n(70, "Start_time_sec", "MDP", startTime.Unix()),
	}
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
			typ, v := "u32", strconv.FormatInt(f.num, 10)
			if f.isStr {
				typ, v = "str", f.str
			}
			fmt.Fprintf(&b, "%d.%s.1:%s:%s:%s\n", f.pos, f.name, f.tags, typ, v)
		}
	case "json":
		b.WriteString("[")
		for i, f := range fields {
			if i > 0 {
				b.WriteString(",")
			}
			v := `{"type":"u32","value":` + strconv.FormatInt(f.num, 10) + `}`
			if f.isStr {
				v = `{"type":"str","value":` + strconv.Quote(f.str) + `}`
			}
			fmt.Fprintf(&b, `{"field":{"pos":%d,"name":%q},"processNum":1,"tags":{"origin":%q,"nature":%q,"scope":%q},"value":%s}`,
				f.pos, f.name, tagWords[0][f.tags[0]], tagWords[1][f.tags[1]], tagWords[2][f.tags[2]], v)
		}
		b.WriteString("]\n")
	default:
		for _, f := range fields {
			if f.isStr {
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
		for _, f := range r {
			b.WriteString(f)
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	io.WriteString(w, b.String())
	return nil
}

// atoi is C's atoi: the leading number of s, 0 when none.
func atoi(s string) int {
	n, _, _ := strtol(s)
	return int(int32(n))
}
