// Package srvstate reads and writes HAProxy's server state file: the output
// of the runtime API's "show servers state" (format version 1), which
// HAProxy 2.6 applies at start to the backends with
// "load-server-state-from-file", and which lb also hands to the process
// that takes over from it, so that what an operator changed at run time
// (maintenance, drain, weights) survives a reload or a restart.
//
// Parse reads a file as HAProxy 2.6's apply_server_state does (lines of at
// most 1999 bytes, each ended by a newline, 20 to 25 fields; a bad line
// makes the whole file unusable); Lookup matches its lines to the servers of
// a backend; Check validates a line's values as srv_state_srv_update does,
// with its warning.
package srvstate

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Version is the only format version HAProxy 2.6 and lb know.
const Version = 1

// Header is the comment line "show servers state" prints after the version.
const Header = "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port"

// A server's administrative state bits (HAProxy's enum srv_admin).
const (
	AdminFMaint = 0x01 // forced maintenance (runtime API)
	AdminIMaint = 0x02 // inherited from a tracked server
	AdminCMaint = 0x04 // "disabled" in the configuration
	AdminFDrain = 0x08 // forced drain (runtime API)
	AdminIDrain = 0x10 // inherited drain
	AdminRMaint = 0x20 // maintenance after a failed resolution
	AdminHMaint = 0x40 // FQDN set from the runtime API
)

// A check's state bits (HAProxy's CHK_ST_*), srv_check_state and
// srv_agent_state.
const (
	ChkInProgress = 0x01 // a check runs
	ChkConfigured = 0x02 // the server has this check
	ChkEnabled    = 0x04 // not stopped by "disable health" or "disable agent"
	ChkPaused     = 0x08 // stopped by maintenance (health checks only)
	ChkAgent      = 0x10 // the agent check
)

// A server's operational state (HAProxy's enum srv_state).
const (
	OpStopped  = 0
	OpStarting = 1
	OpRunning  = 2
	OpStopping = 3
)

const (
	lineMax   = 2000 // SRV_STATE_LINE_MAXLEN: fgets reads at most 1999 bytes
	minFields = 20   // SRV_STATE_FILE_MIN_FIELDS_VERSION_1
	maxFields = 25   // SRV_STATE_FILE_MAX_FIELDS_VERSION_1
	weightMax = 256  // SRV_UWGHT_MAX
)

// Line is one server's line of a state file.
type Line struct {
	// Num is its number, counted as HAProxy does: 1 is the line after the
	// version.
	Num int
	// Params are its fields: be_id, be_name, srv_id, srv_name, srv_addr,
	// srv_op_state… (Header), 20 to 25 of them.
	Params []string
}

// BackendID, BackendName and ServerName are the line's first fields.
func (l Line) BackendID() string   { return l.Params[0] }
func (l Line) BackendName() string { return l.Params[1] }
func (l Line) ServerName() string  { return l.Params[3] }

// File is a parsed state file: its lines in order, comments and blank lines
// left out.
type File struct {
	Lines []Line
}

// ErrNoVersion is a file whose first line is not a version lb knows (an
// empty file included, as in HAProxy 2.6).
var ErrNoVersion = errors.New("can't get version")

// CorruptedError is a line that is not a server state line: HAProxy then
// ignores the whole file.
type CorruptedError struct{ Line int }

func (e *CorruptedError) Error() string { return fmt.Sprintf("corrupted at line %d", e.Line) }

// Parse reads a state file as HAProxy 2.6 does. On a CorruptedError, the
// lines before the bad one are returned but must not be applied.
func Parse(r io.Reader) (*File, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, err
	}
	return parse(b)
}

// Read is Parse of a file's content.
func Read(b []byte) (*File, error) { return parse(b) }

func parse(b []byte) (*File, error) {
	f := &File{}
	chunks := fgets(b)
	if len(chunks) == 0 {
		return f, ErrNoVersion
	}
	v, rest, ok := strtol(chunks[0])
	if !ok || rest != "\n" || v != Version {
		return f, ErrNoVersion
	}
	for i, c := range chunks[1:] {
		num := i + 1
		if !strings.HasSuffix(c, "\n") {
			return f, &CorruptedError{Line: num}
		}
		c = strings.TrimLeft(c, " \t")
		if c == "\n" || c[0] == '#' {
			continue
		}
		params := splitFields(c[:len(c)-1])
		if len(params) < minFields || len(params) > maxFields {
			return f, &CorruptedError{Line: num}
		}
		f.Lines = append(f.Lines, Line{Num: num, Params: params})
	}
	return f, nil
}

// fgets cuts b as repeated fgets(buf, 2000) calls would: at each newline,
// and after 1999 bytes.
func fgets(b []byte) []string {
	var out []string
	for len(b) > 0 {
		n := 0
		for n < len(b) && n < lineMax-1 {
			n++
			if b[n-1] == '\n' {
				break
			}
		}
		// A NUL byte ends the string fgets returned (strlen).
		s := string(b[:n])
		if i := strings.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		out = append(out, s)
		b = b[n:]
	}
	return out
}

// splitFields splits on spaces and tabs, keeping at most maxFields fields
// (HAProxy stops reading further ones).
func splitFields(s string) []string {
	var out []string
	for len(s) > 0 && len(out) < maxFields {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		i := strings.IndexAny(s, " \t")
		if i < 0 {
			i = len(s)
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	return out
}

// Lookup returns the lines of f that apply to the backend named name whose
// id is id, by server name, as HAProxy 2.6 does. For a backend's own file
// (local), lines are matched on the backend's id and name: a line that
// matches neither is skipped, one whose id differs is used with a warning,
// one whose name differs is skipped with a warning unless bk_f_forced_id
// is set. For the global file (local false) only the names count. The
// first line of a server wins; later ones are dropped.
func (f *File) Lookup(name string, id int, local bool) (lines map[string]Line, warnings []string) {
	lines = map[string]Line{}
	for _, l := range f.Lines {
		if local {
			checkID := atoi(l.BackendID()) == id
			checkName := l.BackendName() == name
			forced := atoi(l.Params[15])&1 != 0 // PR_O_FORCED_ID
			switch {
			case !checkID && !checkName:
				continue
			case !checkID:
				warnings = append(warnings, fmt.Sprintf("Proxy '%s': backend ID mismatch: from server state file: '%s', from running config '%d'", name, l.BackendID(), id))
			case !checkName:
				warnings = append(warnings, fmt.Sprintf("Proxy '%s': backend name mismatch: from server state file: '%s', from running config '%s'", name, l.BackendName(), name))
				if !forced {
					continue
				}
			}
		} else if l.BackendName() != name {
			continue
		}
		if _, dup := lines[l.ServerName()]; !dup {
			lines[l.ServerName()] = l
		}
	}
	return lines, warnings
}

// Values are a line's values that lb applies, once Check found them valid.
type Values struct {
	Addr    string // srv_addr ("-": none)
	Op      int    // srv_op_state
	Admin   int    // srv_admin_state without the inherited bits
	UWeight int    // srv_uweight: the weight at run time
	IWeight int    // srv_iweight: the weight configured
	Port    int    // srv_port; -1 when invalid or absent
	FQDN    string // srv_fqdn, "" for none
	// SinceChange is srv_time_since_last_change, in seconds.
	SinceChange int64
	// CheckStatus, CheckResult, CheckHealth, CheckState and AgentState are
	// the check columns: HAProxy's numbers.
	CheckStatus, CheckResult, CheckHealth int
	CheckState, AgentState                int
	// UseSSL is srv_use_ssl, when the line has it (HasUseSSL).
	UseSSL    int
	HasUseSSL bool
	// CheckPort, CheckAddr, AgentAddr and AgentPort are the checks' and the
	// agent's port and address as written, "" for none (absent, "0", "-").
	CheckPort, CheckAddr, AgentAddr, AgentPort string
}

// Check validates a line's values as HAProxy 2.6's srv_state_srv_update
// does. problems is what HAProxy appends to "server-state application
// failed for server 'BE/SRV'" (", invalid srv_op_state value 'x'"...):
// nothing may be applied when it is not empty.
func (l Line) Check() (v Values, problems string) {
	p := func(i int) string {
		if i < len(l.Params) {
			return l.Params[i]
		}
		return ""
	}
	var msg strings.Builder
	bad := func(field string, i int) { fmt.Fprintf(&msg, ", invalid %s value '%s'", field, p(i)) }
	num := func(i int) (int64, bool) {
		n, _, ok := strtol(p(i))
		return n, ok
	}
	v.Addr = p(4)
	if n, ok := num(5); !ok || uint32(n) > OpStopping {
		bad("srv_op_state", 5)
	} else {
		v.Op = int(uint32(n))
	}
	n, ok := num(6)
	adm := int(uint32(n)) &^ (AdminIDrain | AdminIMaint | AdminHMaint | AdminRMaint)
	switch {
	case !ok:
		bad("srv_admin_state", 6)
	case adm != 0 && adm != AdminFMaint && adm != AdminCMaint && adm != AdminCMaint|AdminFMaint &&
		adm != AdminCMaint|AdminFDrain && adm != AdminFDrain:
		bad("srv_admin_state", 6)
	}
	v.Admin = adm
	if n, ok := num(7); !ok || uint32(n) > weightMax {
		bad("srv_uweight", 7)
	} else {
		v.UWeight = int(n)
	}
	if n, ok := num(8); !ok || uint32(n) > weightMax {
		bad("srv_iweight", 8)
	} else {
		v.IWeight = int(n)
	}
	if n, ok := num(9); !ok {
		bad("srv_last_time_change", 9)
	} else {
		v.SinceChange = n
	}
	if n, ok := num(10); !ok || int16(n) >= 21 { // HCHK_STATUS_SIZE
		bad("srv_check_status", 10)
	} else {
		v.CheckStatus = int(int16(n))
	}
	if n, ok := num(11); !ok || uint32(n) > 4 { // CHK_RES_CONDPASS
		bad("srv_check_result", 11)
	} else {
		v.CheckResult = int(n)
	}
	if n, ok := num(12); !ok {
		bad("srv_check_health", 12)
	} else {
		v.CheckHealth = int(int32(n))
	}
	const chkStates = ChkInProgress | ChkConfigured | ChkEnabled | ChkPaused | ChkAgent
	if n, ok := num(13); !ok || int32(n)&^chkStates != 0 {
		bad("srv_check_state", 13)
	} else {
		v.CheckState = int(int32(n))
	}
	if n, ok := num(14); !ok || int32(n)&^chkStates != 0 {
		bad("srv_agent_state", 14)
	} else {
		v.AgentState = int(int32(n))
	}
	if n, ok := num(15); !ok || (int32(n) != 0 && int32(n) != 1) {
		bad("bk_f_forced_id", 15)
	}
	if n, ok := num(16); !ok || (int32(n) != 0 && int32(n) != 1) {
		bad("srv_f_forced_id", 16)
	}
	if fq := p(17); fq != "" && fq[0] != '-' {
		if len(fq) > 255 || invalidDomainChar(fq) {
			bad("srv_fqdn", 17)
		} else {
			v.FQDN = fq
		}
	}
	v.Port = -1
	if len(l.Params) > 18 {
		if port := strl2uic(p(18)); port > 65535 {
			bad("srv_port", 18)
		} else {
			v.Port = int(port)
		}
	}
	if len(l.Params) > 20 {
		v.UseSSL, v.HasUseSSL = atoi(p(20)), true
	}
	// The checks' and the agent's port and address, when set: "0" and "-"
	// are none. They are read when applied (CheckAddrPort).
	if f := p(21); f != "" && f != "0" {
		v.CheckPort = f
	}
	if f := p(22); f != "" && f != "-" {
		v.CheckAddr = f
	}
	if f := p(23); f != "" && f != "-" {
		v.AgentAddr = f
	}
	if f := p(24); f != "" && f != "0" {
		v.AgentPort = f
	}
	return v, msg.String()
}

// CheckAddrPort validates the address and port a state file gives a
// server's checks or its agent, as HAProxy 2.6's srv_update_check_addr_port
// and srv_update_agent_addr_port: its complaint, or the port (-1 for none)
// to apply along with addr. An address must be an IP address; parseName,
// when not nil, reads one that is not (the agent's may be a name).
func CheckAddrPort(addr, port string, parseName func(string) (string, bool)) (ip string, p int, problem string) {
	p = -1
	if addr != "" {
		if a, err := netip.ParseAddr(addr); err == nil {
			ip = a.String()
		} else if parseName != nil {
			if ip, _ = parseName(addr); ip == "" {
				return "", 0, fmt.Sprintf("invalid addr '%s'", addr)
			}
		} else {
			return "", 0, fmt.Sprintf("invalid addr '%s'", addr)
		}
	}
	if port != "" {
		n, ok := strl2irc(port)
		if !ok {
			return "", 0, "provided port is not an integer"
		}
		if n < 0 || n > 65535 {
			return "", 0, "provided port is invalid"
		}
		p = n
	}
	return ip, p, ""
}

// strl2irc is HAProxy's: the whole string as a signed decimal int, ok false
// when a byte is not a digit.
func strl2irc(s string) (int, bool) {
	if s == "" {
		return 0, true
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
		if n > 1<<31 {
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	return int(n), true
}

// strtol reads a base-10 long as C's strtol: leading white space, a sign,
// digits; ok is false when no digit was read. It saturates on overflow
// (ERANGE, which HAProxy refuses: ok false too).
func strtol(s string) (n int64, rest string, ok bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == start {
		return 0, s, false
	}
	u, err := strconv.ParseInt(s[start:i], 10, 64)
	if err != nil {
		return 0, s[i:], false
	}
	if neg {
		u = -u
	}
	return u, s[i:], true
}

func atoi(s string) int {
	n, _, _ := strtol(s)
	return int(int32(n))
}

// strl2uic is HAProxy's: the leading digits as an unsigned int.
func strl2uic(s string) uint32 {
	var n uint32
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + uint32(s[i]-'0')
	}
	return n
}

// invalidDomainChar is HAProxy's invalid_domainchar: a byte that is neither
// alphanumeric nor '.', '-' or '_'.
func invalidDomainChar(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return true
		}
	}
	return false
}

// Server is one server as "show servers state" prints it.
type Server struct {
	BackendID     int
	BackendName   string
	ID            int
	Name          string
	Addr          string // the address without the port ("-" for none)
	Op, Admin     int
	UWeight       int
	IWeight       int
	SinceChange   int64 // seconds since the last state change
	Port          int
	BackendForced bool   // the backend's id was set ("id")
	ServerForced  bool   // the server's id was set ("id")
	FQDN          string // the name the address was given as ("" = none, printed "-")
	// CheckStatus is the health check's status (HAProxy's enum
	// healthcheck_status), CheckResult its result (enum chk_result),
	// CheckHealth its health counter.
	CheckStatus, CheckResult, CheckHealth int
	// CheckState and AgentState are the health and agent checks' state
	// bits (Chk*).
	CheckState, AgentState int
	// UseSSL is 1 for "ssl", -1 for "no-ssl", 0 for neither.
	UseSSL int
	// CheckPort is the checks' own port (0 = the server's); CheckAddr,
	// AgentAddr and AgentPort are the checks' own address and the agent's
	// ("" or "-" = none).
	CheckPort int
	CheckAddr string
	AgentAddr string
	AgentPort int
}

// Write prints servers as "show servers state" does: the version, the
// header, one line per server. The runtime API ends the answer with its
// empty line.
func Write(w io.Writer, servers []Server) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n%s\n", Version, Header)
	for _, s := range servers {
		fqdn := s.FQDN
		if fqdn == "" {
			fqdn = "-"
		}
		fmt.Fprintf(&b, "%d %s %d %s %s %d %d %d %d %d %d %d %d %d %d %d %d %s %d - %d %d %s %s %d\n",
			s.BackendID, s.BackendName, s.ID, s.Name, dash(s.Addr), s.Op, s.Admin, s.UWeight, s.IWeight,
			s.SinceChange, s.CheckStatus, s.CheckResult, s.CheckHealth, s.CheckState, s.AgentState,
			b2i(s.BackendForced), b2i(s.ServerForced), fqdn, s.Port,
			s.UseSSL, s.CheckPort, dash(s.CheckAddr), dash(s.AgentAddr), s.AgentPort)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// dash is s, "-" when empty.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
