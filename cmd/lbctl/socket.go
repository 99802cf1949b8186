package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"text/tabwriter"
	"time"
)

// The runtime API commands: lbctl sends one command line to lb's stats
// socket (HAProxy's runtime API, which lb answers as HAProxy does) and
// shows the reply, as tables for people or JSON for scripts.

// defaultSocket is the stats socket of the packaged configuration.
const defaultSocket = "/run/lb/admin.sock"

// ask sends one command line over the stats socket at path and returns the
// reply, without the empty line that ends it.
func ask(path, line string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return "", fmt.Errorf("stats socket: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", fmt.Errorf("stats socket: %w", err)
	}
	b, err := io.ReadAll(bufio.NewReader(c))
	if err != nil {
		return "", fmt.Errorf("stats socket: %w", err)
	}
	return strings.TrimRight(string(b), "\n"), nil
}

// errReply is a reply that says a change was refused (HAProxy answers a
// change that succeeded with an empty line).
type errReply string

func (e errReply) Error() string { return string(e) }

// changeOK are the replies of the changes that do not answer with an empty
// line on success.
var changeOK = map[string]bool{"New server registered.": true, "Server deleted.": true}

// sockCommand maps lbctl's words to a runtime API line; change says the
// reply is empty (or one of changeOK) on success.
func sockCommand(args []string) (line string, change bool, err error) {
	need := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("%q takes %d argument(s)", strings.Join(args[:min(len(args), 2)], " "), n-2)
		}
		return nil
	}
	if len(args) < 2 {
		return "", false, errors.New("want a command")
	}
	switch args[0] + " " + args[1] {
	case "show stat", "show info", "show servers", "show backend", "show version":
		if args[1] == "servers" {
			return "show servers state " + strings.Join(args[2:], " "), false, nil
		}
		return strings.Join(args, " "), false, nil
	case "disable server", "enable server", "drain server", "ready server":
		if err := need(3); err != nil {
			return "", false, err
		}
		switch args[0] {
		case "drain":
			return "set server " + args[2] + " state drain", true, nil
		case "ready":
			return "set server " + args[2] + " state ready", true, nil
		}
		return args[0] + " server " + args[2], true, nil
	case "add server":
		if len(args) < 4 {
			return "", false, errors.New(`"add server" takes BE/SRV ADDR[:PORT] [keywords]`)
		}
		return strings.Join(args, " "), true, nil
	case "del server":
		if err := need(3); err != nil {
			return "", false, err
		}
		return "del server " + args[2], true, nil
	case "set weight":
		if err := need(4); err != nil {
			return "", false, err
		}
		return "set weight " + args[2] + " " + args[3], true, nil
	case "get weight":
		if err := need(3); err != nil {
			return "", false, err
		}
		return "get weight " + args[2], false, nil
	}
	return "", false, fmt.Errorf("unknown command %q", strings.Join(args, " "))
}

// runSocket runs a runtime API command and prints its reply: "show stat"
// and "show servers" as aligned tables (or JSON), the others as lb wrote
// them. A refused change exits 1.
func runSocket(path string, timeout time.Duration, asJSON bool, args []string, stdout, stderr io.Writer) int {
	line, change, err := sockCommand(args)
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: %v\n", err)
		return 2
	}
	reply, err := ask(path, line, timeout)
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: %v\n", err)
		return 1
	}
	if change {
		if r := strings.TrimSpace(reply); r != "" && !changeOK[r] {
			fmt.Fprintf(stderr, "lbctl: %s: %s\n", line, strings.TrimSpace(reply))
			return 1
		}
		return 0
	}
	if strings.HasPrefix(reply, "Unknown command") || reply == "Permission denied" ||
		strings.HasPrefix(reply, "No such") || strings.HasPrefix(reply, "Can't find") {
		fmt.Fprintf(stderr, "lbctl: %s: %s\n", line, reply)
		return 1
	}
	var rows [][]string
	switch {
	case strings.HasPrefix(line, "show stat"):
		rows, err = statRows(reply)
	case strings.HasPrefix(line, "show servers state"):
		rows, err = stateRows(reply)
	default:
		if asJSON {
			rows = kvRows(reply)
			break
		}
		fmt.Fprintln(stdout, reply)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: %s: %v\n", line, err)
		return 1
	}
	if asJSON {
		return printJSON(rows, stdout, stderr)
	}
	printTable(rows, stdout)
	return 0
}

// statColumns are the "show stat" columns the table shows.
var statColumns = []string{"pxname", "svname", "status", "weight", "scur", "smax", "stot", "bin", "bout", "ereq", "econ", "eresp", "chkfail", "lastchg"}

// statRows reads "show stat"'s CSV: the header, then one row per line; the
// table keeps statColumns, JSON every column.
func statRows(reply string) ([][]string, error) {
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(reply, "# ")))
	r.FieldsPerRecord = -1
	all, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, errors.New("empty reply")
	}
	return all, nil
}

// stateRows reads "show servers state": a version line, the header (after
// "# "), then one line per server.
func stateRows(reply string) ([][]string, error) {
	lines := strings.Split(reply, "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "# ") {
		return nil, fmt.Errorf("unexpected reply %q", reply)
	}
	rows := [][]string{strings.Fields(strings.TrimPrefix(lines[1], "# "))}
	for _, l := range lines[2:] {
		if f := strings.Fields(l); len(f) > 0 {
			rows = append(rows, f)
		}
	}
	return rows, nil
}

// kvRows reads "Name: value" lines (show info) as a header and one row.
func kvRows(reply string) [][]string {
	var keys, vals []string
	for _, l := range strings.Split(reply, "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok {
			keys, vals = append(keys, k), append(vals, v)
		}
	}
	return [][]string{keys, vals}
}

// serverColumns are the "show servers state" columns the table shows.
var serverColumns = []string{"be_name", "srv_name", "srv_addr", "srv_port", "srv_op_state", "srv_admin_state", "srv_uweight", "srv_iweight"}

// printTable prints rows aligned; a "show stat" or "show servers" table
// keeps the columns people read (statColumns, serverColumns).
func printTable(rows [][]string, w io.Writer) {
	var keep []string
	if len(rows[0]) > 0 {
		switch rows[0][0] {
		case "pxname":
			keep = statColumns
		case "be_id":
			keep = serverColumns
		}
	}
	idx := make([]int, 0, len(rows[0]))
	for _, c := range keep {
		for i, h := range rows[0] {
			if h == c {
				idx = append(idx, i)
			}
		}
	}
	if keep == nil {
		for i := range rows[0] {
			idx = append(idx, i)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		var cells []string
		for _, i := range idx {
			v := ""
			if i < len(r) {
				v = r[i]
			}
			if v == "" {
				v = "-"
			}
			cells = append(cells, v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
}

// printJSON prints rows as an array of objects keyed by the header.
func printJSON(rows [][]string, w, stderr io.Writer) int {
	out := []map[string]string{}
	for _, r := range rows[1:] {
		m := map[string]string{}
		for i, h := range rows[0] {
			if h == "" {
				continue
			}
			if i < len(r) {
				m[h] = r[i]
			}
		}
		out = append(out, m)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(stderr, "lbctl: %v\n", err)
		return 1
	}
	return 0
}
