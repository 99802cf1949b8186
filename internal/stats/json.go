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
func JSON(s *Snapshot, o *Options) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i, r := range Rows(s, o) {
		if i > 0 {
			b.WriteByte(',')
		}
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
		b.WriteByte('[')
		first := true
		for pos, v := range r {
			if v == "" || pos >= len(csvNames) {
				continue
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
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(`{"objType":"` + obj + `","proxyId":` + pid + `,"id":` + sid +
				`,"field":{"pos":` + strconv.Itoa(pos) + `,"name":"` + name + `"},"processNum":1,"tags":{"origin":"` +
				f.origin + `","nature":"` + f.nature + `","scope":"` + f.scope + `"},"value":{"type":"` + f.typ + `","value":`)
			if f.typ == "str" {
				b.WriteString(jsonString(v))
			} else {
				b.WriteString(v)
			}
			b.WriteString("}}")
		}
		b.WriteByte(']')
	}
	b.WriteString("]\n")
	return []byte(b.String())
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
