package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// StickTable is a proxy's "stick-table" line.
type StickTable struct {
	Pos Pos `json:"-"`
	// Type is the key type: "ip", "ipv6", "integer", "string" or
	// "binary".
	Type string
	// KeyLen is the key length of string and binary keys (32 unless
	// "len" says otherwise); 0 for the other types.
	KeyLen int
	// Size is the maximum number of entries.
	Size int
	// Expire is "expire" (0: entries never expire).
	Expire time.Duration
	// NoPurge is "nopurge": a full table refuses new keys.
	NoPurge bool
	// Store are the stored data types, in the order written, each once.
	Store []StickData
}

// StickData is one data type of "store": Period is the period of a rate
// (0 for the other types).
type StickData struct {
	Name   string
	Period time.Duration
}

// Stores reports whether the table stores the data type called name.
func (t *StickTable) Stores(name string) bool {
	for _, d := range t.Store {
		if d.Name == name {
			return true
		}
	}
	return false
}

// stickData lists HAProxy 2.6's data types: true for those lb carries
// out, each with whether it takes a period (a rate).
var stickData = map[string]struct{ supported, rate bool }{
	"server_id": {true, false}, "gpt0": {true, false}, "gpc0": {true, false}, "gpc0_rate": {true, true},
	"conn_cnt": {true, false}, "conn_rate": {true, true}, "conn_cur": {true, false},
	"sess_cnt": {true, false}, "sess_rate": {true, true},
	"http_req_cnt": {true, false}, "http_req_rate": {true, true},
	"http_err_cnt": {true, false}, "http_err_rate": {true, true},
	"bytes_in_cnt": {true, false}, "bytes_in_rate": {true, true},
	"bytes_out_cnt": {true, false}, "bytes_out_rate": {true, true},
	"gpc1": {false, false}, "gpc1_rate": {false, true}, "server_key": {true, false},
	"http_fail_cnt": {false, false}, "http_fail_rate": {false, true},
	"gpt": {false, false}, "gpc": {false, false}, "gpc_rate": {false, true},
}

// kwStickTable parses "stick-table type <t> [len n] size <n> [expire <d>]
// [nopurge] [store <data>[,…]]…" as HAProxy's stktable_parse_fields.
func kwStickTable(c *pctx) error {
	if c.p.StickTable != nil {
		return fmt.Errorf("stick-table: only one stick-table per proxy is allowed.")
	}
	t := &StickTable{Pos: c.pos}
	args := c.args[1:]
	for i := 0; i < len(args); i++ {
		next := func() (string, bool) {
			if i+1 >= len(args) || args[i+1] == "" {
				return "", false
			}
			i++
			return args[i], true
		}
		switch w := args[i]; w {
		case "type":
			v, ok := next()
			if !ok {
				return fmt.Errorf("stick-table: missing type.")
			}
			switch v {
			case "ip", "ipv6", "integer":
				t.Type = v
			case "string", "binary":
				t.Type, t.KeyLen = v, 32
				if i+1 < len(args) && args[i+1] == "len" {
					i++
					s, ok := next()
					n, err := strconv.Atoi(s)
					if !ok || err != nil || n <= 0 {
						return fmt.Errorf("stick-table: unknown type '%s'.", s)
					}
					t.KeyLen = n
				}
			default:
				return fmt.Errorf("stick-table: unknown type '%s'.", v)
			}
		case "size":
			v, _ := next()
			n, err := parseSize(v)
			if err != nil {
				return fmt.Errorf("stick-table: %v in argument of 'size'.", err)
			}
			t.Size = int(n)
		case "expire":
			v, ok := next()
			if !ok {
				return fmt.Errorf("stick-table: missing argument to 'expire'.")
			}
			d, err := parseTime(v, time.Millisecond)
			if err != nil {
				if te, ok := err.(*trailingError); ok {
					return fmt.Errorf("stick-table: unexpected character '%c' in argument of 'expire'.", te.c)
				}
				return fmt.Errorf("stick-table: %v in argument of 'expire'.", err)
			}
			t.Expire = d
		case "nopurge":
			t.NoPurge = true
		case "peers", "srvkey", "write-to", "recv-only":
			return fmt.Errorf("'stick-table %s' is not supported by lb yet", w)
		case "store":
			v, ok := next()
			if !ok {
				return fmt.Errorf("stick-table: missing argument after 'store'.")
			}
			for _, item := range strings.Split(v, ",") {
				name, arg, hasArg := strings.Cut(item, "(")
				def, known := stickData[name]
				if !known {
					return fmt.Errorf("stick-table: unknown store option '%s'.", name)
				}
				if def.rate && !hasArg {
					return fmt.Errorf("stick-table: missing argument to store option '%s'.", name)
				}
				if !def.rate && hasArg {
					return fmt.Errorf("stick-table: unexpected argument to store option '%s'.", name)
				}
				if !def.supported {
					return fmt.Errorf("'stick-table store %s' is not supported by lb yet", name)
				}
				var period time.Duration
				if def.rate {
					arg = strings.TrimSuffix(arg, ")")
					d, err := parseTime(arg, time.Millisecond)
					if err != nil || d <= 0 {
						return fmt.Errorf("stick-table: invalid argument to store option '%s'.", name)
					}
					period = d
				}
				if t.Stores(name) {
					c.l.warn(c.pos, "stick-table: store option '%s' already enabled, ignored.", name)
					continue
				}
				t.Store = append(t.Store, StickData{Name: name, Period: period})
			}
		default:
			return fmt.Errorf("stick-table: unknown argument '%s'.", w)
		}
	}
	if t.Type == "" {
		return fmt.Errorf("stick-table: missing type.")
	}
	if t.Size <= 0 {
		return fmt.Errorf("stick-table: missing size.")
	}
	c.p.StickTable = t
	return nil
}

// Tables returns the proxies that hold a stick table, in the order of the
// configuration.
func (c *Config) Tables() []*Proxy {
	var out []*Proxy
	for _, p := range c.Proxies {
		if p.StickTable != nil {
			out = append(out, p)
		}
	}
	return out
}
