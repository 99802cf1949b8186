package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unsafe"

	"lb/internal/admin"
	"lb/internal/plane"
	"lb/internal/stick"
)

// registerTableCommands installs HAProxy 2.6's stick table commands, with its help
// lines, layout, replies and levels: "show table" (operator), "clear table" and "set
// table" (admin).
func registerTableCommands(srv *admin.Server, rt plane.Control) {
	tb, ok := rt.(plane.Tables)
	if !ok {
		return
	}
	find := func(name string) *stick.Table {
		for _, t := range tb.StickTables() {
			if t.Name() == name {
				return t
			}
		}
		return nil
	}
	srv.Handle(admin.Command{Words: []string{"show", "table"}, Level: admin.LevelOperator,
		Help: "show table <table> [<filter>]*          : report table usage stats or dump this table's contents (filter: data/key)",
		Run: func(args []string, w io.Writer) error {
			if arg(args, 0) == "" {
				for _, t := range tb.StickTables() {
					tableHeader(w, t)
				}
				return nil
			}
			t := find(args[0])
			if t == nil {
				return errors.New("No such table\n")
			}
			sel, err := parseTableFilter(t, args[1:], "Showing")
			if err != nil {
				return err
			}
			if sel.key != nil {
				e := t.Lookup(sel.key)
				if e == nil {
					return nil
				}
				tableHeader(w, t)
				if sel.match(t, e) {
					tableEntry(w, t, e)
				}
				return nil
			}
			tableHeader(w, t)
			for _, e := range t.Entries() {
				if sel.match(t, e) {
					tableEntry(w, t, e)
				}
			}
			return nil
		}})
	srv.Handle(admin.Command{Words: []string{"clear", "table"}, Level: admin.LevelAdmin,
		Help: "clear table <table> [<filter>]*         : remove an entry from a table (filter: data/key)",
		Run: func(args []string, w io.Writer) error {
			if arg(args, 0) == "" {
				return errors.New("Required arguments: <table> \"data.<store_data_type>\" <operator> <value> or <table> key <key>\n")
			}
			t := find(args[0])
			if t == nil {
				return errors.New("No such table\n")
			}
			sel, err := parseTableFilter(t, args[1:], "Removing")
			if errors.Is(err, errTableOptional) {
				return errors.New("Required arguments: <table> \"data.<store_data_type>\" <operator> <value> or <table> key <key>\n")
			}
			if err != nil {
				return err
			}
			if sel.key != nil {
				if e := t.Lookup(sel.key); e != nil && sel.match(t, e) {
					t.Remove(sel.key)
				}
				return nil
			}
			if len(sel.filters) == 0 {
				t.Clear()
				return nil
			}
			for _, e := range t.Entries() {
				if sel.match(t, e) {
					t.Remove([]byte(e.Key()))
				}
			}
			return nil
		}})
	srv.Handle(admin.Command{Words: []string{"set", "table"}, Level: admin.LevelAdmin,
		Help: "set table <table> key <k> [data.* <v>]* : update or create a table entry's data",
		Run: func(args []string, w io.Writer) error {
			if arg(args, 0) == "" {
				return errors.New("Required arguments: <table> key <key> [data.<store_data_type> <value>]*\n")
			}
			t := find(args[0])
			if t == nil {
				return errors.New("No such table\n")
			}
			if arg(args, 1) != "key" {
				// HAProxy 2.6 answers nothing here.
				return nil
			}
			if arg(args, 2) == "" {
				return errors.New("Key value expected\n")
			}
			if t.Type() == stick.KeyBinary {
				return errors.New("Inserting keys into tables of type other than ip, ipv6, string and integer is not supported\n")
			}
			key, err := t.ParseKey(args[2])
			if err != nil {
				return errors.New("Invalid key\n")
			}
			type set struct {
				d stick.Data
				v uint64
			}
			var sets []set
			for i := 3; i < len(args) && args[i] != ""; i += 2 {
				name, ok := strings.CutPrefix(args[i], "data.")
				if !ok || arg(args, i+1) == "" {
					return errors.New("\"data.<type>\" followed by a value expected\n")
				}
				d, ok := stick.ParseData(name)
				if !ok {
					return errors.New("Unknown data type\n")
				}
				if !t.Stores(d) {
					return errors.New("Data type not stored in this table\n")
				}
				v, err := strconv.ParseUint(args[i+1], 10, 64)
				if err != nil {
					return errors.New("Require a valid integer value to store\n")
				}
				sets = append(sets, set{d, v})
			}
			e := t.Get(key)
			if e == nil {
				return errors.New("Unable to allocate a new entry\n")
			}
			for _, s := range sets {
				t.Set(e, s.d, s.v)
			}
			return nil
		}})
}

// tableHeader writes "show table"'s line for t.
func tableHeader(w io.Writer, t *stick.Table) {
	fmt.Fprintf(w, "# table: %s, type: %s, size:%d, used:%d\n", t.Name(), t.Type(), t.Size(), t.Used())
}

// tableEntry writes one entry as HAProxy 2.6's table_dump_entry_to_buffer: its address
// (here the entry's), key, users, time to expiry in ms, then each stored data type in
// HAProxy's order, rates with their period in ms.
func tableEntry(w io.Writer, t *stick.Table, e *stick.Entry) {
	var b strings.Builder
	exp := 0
	if d, ok := t.ExpireIn(e); ok {
		exp = int(d.Milliseconds())
	}
	fmt.Fprintf(&b, "%p: key=%s use=%d exp=%d", unsafe.Pointer(e), t.FormatKey(e.Key()), e.Refs(), exp)
	for d := stick.Data(0); d < stick.NumData; d++ {
		if d == stick.ServerKey {
			if k, ok := t.ServerKey(e); ok {
				if k == "" {
					k = "-"
				}
				fmt.Fprintf(&b, " %s=%s", d, k)
			}
			continue
		}
		v, ok := t.Read(e, d)
		if !ok {
			continue
		}
		if d.IsRate() {
			fmt.Fprintf(&b, " %s(%d)=%d", d, t.Period(d).Milliseconds(), v)
		} else {
			fmt.Fprintf(&b, " %s=%d", d, v)
		}
	}
	b.WriteByte('\n')
	io.WriteString(w, b.String())
}

// errTableOptional is "show table"'s answer to a word it does not know.
var errTableOptional = errors.New("Optional argument only supports \"data.<store_data_type>\" <operator> <value> and key <key>\n")

// tableSelect is the filter of "show table" and "clear table": one key, or up to four
// "data.<type> <op> <value>" conditions that must all hold.
type tableSelect struct {
	key     []byte
	filters []tableFilter
}

type tableFilter struct {
	d  stick.Data
	op string
	v  uint64
}

func (s *tableSelect) match(t *stick.Table, e *stick.Entry) bool {
	for _, f := range s.filters {
		v, _ := t.Read(e, f.d)
		var ok bool
		switch f.op {
		case "eq":
			ok = v == f.v
		case "ne":
			ok = v != f.v
		case "le":
			ok = v <= f.v
		case "ge":
			ok = v >= f.v
		case "lt":
			ok = v < f.v
		case "gt":
			ok = v > f.v
		}
		if !ok {
			return false
		}
	}
	return true
}

// parseTableFilter reads the words after the table's name. verb is how HAProxy's
// message about binary keys starts ("Showing", "Removing").
func parseTableFilter(t *stick.Table, args []string, verb string) (*tableSelect, error) {
	sel := &tableSelect{}
	const maxFilters = 4
	for i := 0; i < len(args) && args[i] != ""; {
		switch {
		case args[i] == "key" && sel.key == nil:
			if arg(args, i+1) == "" {
				return nil, errors.New("Key value expected\n")
			}
			if t.Type() == stick.KeyBinary {
				return nil, fmt.Errorf("%s keys from tables of type other than ip, ipv6, string and integer is not supported\n", verb)
			}
			k, err := t.ParseKey(args[i+1])
			if err != nil {
				if t.Type() == stick.KeyIP || t.Type() == stick.KeyIPv6 {
					// HAProxy 2.6 shows nothing for an address it cannot read.
					return &tableSelect{key: []byte{}}, nil
				}
				return nil, errors.New("Invalid key\n")
			}
			sel.key = k
			i += 2
		case strings.HasPrefix(args[i], "data."):
			n := len(sel.filters) + 1
			if n > maxFilters {
				return nil, fmt.Errorf("Detected extra data in filter, %dth word of input, after '%s'\n", 3*maxFilters+4, args[i-1])
			}
			d, ok := stick.ParseData(strings.TrimPrefix(args[i], "data."))
			if !ok {
				return nil, fmt.Errorf("Filter entry #%d: Unknown data type\n", n)
			}
			if !t.Stores(d) {
				return nil, fmt.Errorf("Filter entry #%d: Data type not stored in this table\n", n)
			}
			op := arg(args, i+1)
			switch op {
			case "eq", "ne", "le", "ge", "lt", "gt":
			default:
				return nil, fmt.Errorf("Filter entry #%d: Require and operator among \"eq\", \"ne\", \"le\", \"ge\", \"lt\", \"gt\"\n", n)
			}
			v, err := strconv.ParseUint(arg(args, i+2), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("Filter entry #%d: Require a valid integer value to compare against\n", n)
			}
			sel.filters = append(sel.filters, tableFilter{d, op, v})
			i += 3
		default:
			return nil, errTableOptional
		}
	}
	return sel, nil
}
