package stats

import (
	_ "embed"
	"strconv"
	"strings"
)

// JSONSchema is HAProxy 2.6's ";json-schema" document, which describes the
// JSON export (as HAProxy prints it, with its final newline).
//
//go:embed jsonschema.json
var JSONSchema string

// jsonField is how the JSON export types and tags a field of CSVHeader:
// its value type and its origin, nature and scope, as HAProxy 2.6 prints
// them. server and backend override them for those lines.
type jsonField struct {
	typ, origin, nature, scope string
}

// jsonFields are the tags of the fields lb fills (Rows): a field lb leaves
// empty is left out, as HAProxy leaves out the fields that do not apply.
var jsonFields = map[string]jsonField{
	"pxname":        {"str", "Key", "Name", "Service"},
	"svname":        {"str", "Key", "Name", "Service"},
	"qcur":          {"u32", "Metric", "Gauge", "Process"},
	"qmax":          {"u32", "Metric", "Max", "Process"},
	"scur":          {"u32", "Metric", "Gauge", "Process"},
	"smax":          {"u32", "Metric", "Max", "Process"},
	"slim":          {"u32", "Config", "Limit", "Process"},
	"stot":          {"u64", "Metric", "Counter", "Process"},
	"bin":           {"u64", "Metric", "Counter", "Process"},
	"bout":          {"u64", "Metric", "Counter", "Process"},
	"dreq":          {"u64", "Metric", "Counter", "Process"},
	"dresp":         {"u64", "Metric", "Counter", "Process"},
	"econ":          {"u64", "Metric", "Counter", "Process"},
	"wretr":         {"u64", "Metric", "Counter", "Process"},
	"wredis":        {"u64", "Metric", "Counter", "Process"},
	"status":        {"str", "Status", "Gauge", "Process"},
	"weight":        {"u32", "Metric", "Avg", "Process"},
	"act":           {"u32", "Metric", "Gauge", "Process"},
	"bck":           {"u32", "Metric", "Gauge", "Process"},
	"qlimit":        {"u32", "Config", "Gauge", "Service"},
	"pid":           {"u32", "Key", "Gauge", "Process"},
	"iid":           {"u32", "Key", "Gauge", "Service"},
	"sid":           {"u32", "Key", "Gauge", "Service"},
	"type":          {"u32", "Config", "Gauge", "Service"},
	"check_rise":    {"u32", "Config", "Gauge", "Service"},
	"check_fall":    {"u32", "Config", "Gauge", "Service"},
	"addr":          {"str", "Config", "Gauge", "Service"},
	"mode":          {"str", "Config", "Gauge", "Service"},
	"algo":          {"str", "Config", "Gauge", "Service"},
	"dcon":          {"u64", "Metric", "Counter", "Process"},
	"dses":          {"u64", "Metric", "Counter", "Process"},
	"uweight":       {"u32", "Metric", "Avg", "Process"},
	"rate":          {"u32", "Metric", "Rate", "Process"},
	"rate_lim":      {"u32", "Config", "Limit", "Process"},
	"rate_max":      {"u32", "Metric", "Max", "Process"},
	"req_rate":      {"u32", "Metric", "Rate", "Process"},
	"req_rate_max":  {"u32", "Metric", "Max", "Process"},
	"req_tot":       {"u64", "Metric", "Counter", "Process"},
	"conn_rate":     {"u32", "Metric", "Rate", "Process"},
	"conn_rate_max": {"u32", "Metric", "Max", "Process"},
	"conn_tot":      {"u64", "Metric", "Counter", "Process"},
	// The fields below are those of counters lb keeps since, and of features it
	// does not have, printed as HAProxy prints them when off.
	"ereq":                             {"u64", "Metric", "Counter", "Process"},
	"eresp":                            {"u64", "Metric", "Counter", "Process"},
	"chkfail":                          {"u64", "Metric", "Counter", "Process"},
	"chkdown":                          {"u64", "Metric", "Counter", "Process"},
	"lastchg":                          {"u32", "Metric", "Age", "Process"},
	"downtime":                         {"u32", "Metric", "Counter", "Process"},
	"lbtot":                            {"u64", "Metric", "Counter", "Process"},
	"check_status":                     {"str", "Metric", "Output", "Process"},
	"check_code":                       {"u32", "Metric", "Output", "Process"},
	"check_duration":                   {"u64", "Metric", "Duration", "Process"},
	"hrsp_1xx":                         {"u64", "Metric", "Counter", "Process"},
	"hrsp_2xx":                         {"u64", "Metric", "Counter", "Process"},
	"hrsp_3xx":                         {"u64", "Metric", "Counter", "Process"},
	"hrsp_4xx":                         {"u64", "Metric", "Counter", "Process"},
	"hrsp_5xx":                         {"u64", "Metric", "Counter", "Process"},
	"hrsp_other":                       {"u64", "Metric", "Counter", "Process"},
	"cli_abrt":                         {"u64", "Metric", "Counter", "Process"},
	"srv_abrt":                         {"u64", "Metric", "Counter", "Process"},
	"comp_in":                          {"u64", "Metric", "Counter", "Process"},
	"comp_out":                         {"u64", "Metric", "Counter", "Process"},
	"comp_byp":                         {"u64", "Metric", "Counter", "Process"},
	"comp_rsp":                         {"u64", "Metric", "Counter", "Process"},
	"lastsess":                         {"s32", "Metric", "Age", "Process"},
	"last_chk":                         {"str", "Metric", "Output", "Process"},
	"last_agt":                         {"str", "Metric", "Output", "Process"},
	"agent_status":                     {"str", "Metric", "Output", "Process"},
	"agent_code":                       {"u32", "Metric", "Output", "Process"},
	"agent_duration":                   {"u64", "Metric", "Duration", "Process"},
	"agent_desc":                       {"str", "Metric", "Output", "Process"},
	"agent_rise":                       {"u32", "Config", "Gauge", "Service"},
	"agent_fall":                       {"u32", "Config", "Gauge", "Service"},
	"agent_health":                     {"u32", "Config", "Gauge", "Service"},
	"qtime":                            {"u32", "Metric", "Avg", "Process"},
	"ctime":                            {"u32", "Metric", "Avg", "Process"},
	"rtime":                            {"u32", "Metric", "Avg", "Process"},
	"ttime":                            {"u32", "Metric", "Avg", "Process"},
	"check_desc":                       {"str", "Metric", "Output", "Process"},
	"check_health":                     {"u32", "Config", "Gauge", "Service"},
	"intercepted":                      {"u64", "Metric", "Counter", "Process"},
	"wrew":                             {"u64", "Metric", "Counter", "Process"},
	"connect":                          {"u64", "Metric", "Counter", "Process"},
	"reuse":                            {"u64", "Metric", "Counter", "Process"},
	"cache_lookups":                    {"u64", "Metric", "Counter", "Process"},
	"cache_hits":                       {"u64", "Metric", "Counter", "Process"},
	"srv_icur":                         {"u32", "Metric", "Gauge", "Process"},
	"qtime_max":                        {"u32", "Metric", "Max", "Process"},
	"ctime_max":                        {"u32", "Metric", "Max", "Process"},
	"rtime_max":                        {"u32", "Metric", "Max", "Process"},
	"ttime_max":                        {"u32", "Metric", "Max", "Process"},
	"eint":                             {"u64", "Metric", "Counter", "Process"},
	"idle_conn_cur":                    {"u32", "Metric", "Gauge", "Process"},
	"safe_conn_cur":                    {"u32", "Metric", "Gauge", "Process"},
	"used_conn_cur":                    {"u32", "Metric", "Gauge", "Process"},
	"need_conn_est":                    {"u32", "Metric", "Gauge", "Process"},
	"agg_server_status":                {"u32", "Metric", "Gauge", "Process"},
	"agg_server_check_status":          {"u32", "Metric", "Gauge", "Process"},
	"agg_check_status":                 {"u32", "Metric", "Gauge", "Process"},
	"ssl_sess":                         {"u64", "Metric", "Counter", "Process"},
	"ssl_reused_sess":                  {"u64", "Metric", "Counter", "Process"},
	"ssl_failed_handshake":             {"u64", "Metric", "Counter", "Process"},
	"h2_headers_rcvd":                  {"u64", "Metric", "Counter", "Process"},
	"h2_data_rcvd":                     {"u64", "Metric", "Counter", "Process"},
	"h2_settings_rcvd":                 {"u64", "Metric", "Counter", "Process"},
	"h2_rst_stream_rcvd":               {"u64", "Metric", "Counter", "Process"},
	"h2_goaway_rcvd":                   {"u64", "Metric", "Counter", "Process"},
	"h2_detected_conn_protocol_errors": {"u64", "Metric", "Counter", "Process"},
	"h2_detected_strm_protocol_errors": {"u64", "Metric", "Counter", "Process"},
	"h2_rst_stream_resp":               {"u64", "Metric", "Counter", "Process"},
	"h2_goaway_resp":                   {"u64", "Metric", "Counter", "Process"},
	"h2_open_connections":              {"u64", "Metric", "Gauge", "Process"},
	"h2_backend_open_streams":          {"u64", "Metric", "Gauge", "Process"},
	"h2_total_connections":             {"u64", "Metric", "Counter", "Process"},
	"h2_backend_total_streams":         {"u64", "Metric", "Counter", "Process"},
	"h1_open_connections":              {"u64", "Metric", "Gauge", "Process"},
	"h1_open_streams":                  {"u64", "Metric", "Gauge", "Process"},
	"h1_total_connections":             {"u64", "Metric", "Counter", "Process"},
	"h1_total_streams":                 {"u64", "Metric", "Counter", "Process"},
	"h1_bytes_in":                      {"u64", "Metric", "Counter", "Process"},
	"h1_bytes_out":                     {"u64", "Metric", "Counter", "Process"},
	"h1_spliced_bytes_in":              {"u64", "Metric", "Counter", "Process"},
	"h1_spliced_bytes_out":             {"u64", "Metric", "Counter", "Process"},
}

// A backend's rates are tagged gauges.
var jsonBackendFields = map[string]jsonField{
	"rate":     {"u32", "Metric", "Gauge", "Process"},
	"rate_max": {"u32", "Metric", "Gauge", "Process"},
}

// A server's act and bck are statuses, a backend's counts.
var jsonServerFields = map[string]jsonField{
	"act": {"u32", "Status", "Gauge", "Process"},
	"bck": {"u32", "Status", "Gauge", "Process"},
}

// csvNames are the names of CSVHeader's fields by position.
var csvNames = strings.Split(strings.TrimSuffix(strings.TrimPrefix(CSVHeader, "# "), ",\n"), ",")

// JSON renders HAProxy 2.6's ";json" export: an array of lines (the CSV
// export's, in its order), each an array of the line's fields that are set,
// each an object with the line's type, its proxy and server ids, the
// field's position and name, the process number, the field's tags and its
// typed value.
func JSON(s *Snapshot, o *Options) []byte { return JSONRows(Rows(s, o)) }

// JSONRows renders rows as JSON does ("show stat json" on the runtime API).
func JSONRows(rows []Row) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('[')
		for j, f := range r.typedFields() {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"objType":"` + f.obj + `","proxyId":` + f.pid + `,"id":` + f.sid +
				`,"field":{"pos":` + strconv.Itoa(f.pos) + `,"name":"` + f.name + `"},"processNum":1,"tags":{"origin":"` +
				f.origin + `","nature":"` + f.nature + `","scope":"` + f.scope + `"},"value":{"type":"` + f.typ + `","value":`)
			if f.typ == "str" {
				b.WriteString(jsonString(f.value))
			} else {
				b.WriteString(f.value)
			}
			b.WriteString("}}")
		}
		b.WriteByte(']')
	}
	b.WriteString("]\n")
	return []byte(b.String())
}

// Typed renders rows in HAProxy 2.6's typed form ("show stat typed"): a line
// per field set, "<obj>.<iid>.<sid>.<pos>.<name>.<proc>:<tags>:<type>:<value>",
// where obj is F, B, S or L and the tags are one letter each; with desc, the
// field's description follows, quoted.
func Typed(rows []Row, desc bool) []byte {
	var b strings.Builder
	for _, r := range rows {
		for _, f := range r.typedFields() {
			b.WriteString(f.obj[:1] + "." + f.pid + "." + f.sid + "." + strconv.Itoa(f.pos) + "." + f.name + ".1:" +
				tagLetters[f.origin] + tagLetters[f.nature] + tagLetters[f.scope] + ":" + f.typ + ":" + f.value)
			if desc {
				b.WriteString(`:"` + fieldDescs[f.name] + `"`)
			}
			b.WriteByte('\n')
		}
	}
	return []byte(b.String())
}

// tagLetters are the typed form's letters for the words of the tags (the
// nature's and the scope's are case-sensitive: Max is M, Min m; Service S).
var tagLetters = map[string]string{
	"Metric": "M", "Status": "S", "Key": "K", "Config": "C", "Product": "P",
	"Age": "A", "Avg": "a", "Counter": "C", "Duration": "D", "Gauge": "G", "Limit": "L", "Max": "M", "Min": "m",
	"Name": "N", "Output": "O", "Rate": "R", "Time": "T",
	"Cluster": "C", "Process": "P", "Service": "S", "System": "s",
}

// typedField is a field of a line as the typed and JSON forms show it.
type typedField struct {
	jsonField
	obj, pid, sid, name, value string
	pos                        int
}

// typedFields returns the fields of r that are set, with their tags, in
// the order of the CSV export.
func (r Row) typedFields() []typedField {
	obj := map[string]string{"0": "Frontend", "1": "Backend", "2": "Server", "3": "Listener"}[r.Get("type")]
	if obj == "" {
		obj = "Unknown"
	}
	pid, sid := r.Get("iid"), r.Get("sid")
	if pid == "" {
		pid = "0"
	}
	if sid == "" {
		sid = "0"
	}
	var out []typedField
	for pos, v := range r {
		if v == "" || pos >= len(csvNames) {
			continue
		}
		if v == setEmpty {
			v = ""
		}
		name := csvNames[pos]
		f, ok := jsonFields[name]
		if !ok {
			continue
		}
		if sf, ok := jsonServerFields[name]; ok && obj == "Server" {
			f = sf
		}
		if bf, ok := jsonBackendFields[name]; ok && obj == "Backend" {
			f = bf
		}
		if pos > columns["-"] {
			// The statistics modules' fields are numbered on from the
			// proxy's: the CSV's "-" separator is no field.
			pos--
		}
		out = append(out, typedField{jsonField: f, obj: obj, pid: pid, sid: sid, name: name, value: v, pos: pos})
	}
	return out
}

// jsonString quotes v as a JSON string.
func jsonString(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range v {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&15])
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
