package lifecycle

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"lb/internal/admin"
	"lb/internal/version"
)

// The master CLI (-S), HAProxy 2.6's: the master's own commands ("show proc", "reload",
// …), and any command prefixed by "@<relative pid>" or "@!<pid>" forwarded to a worker's
// runtime API, with the session's level. Each worker serves the forwarded commands on a
// socket pair its master keeps (the control socket): for each command the master sends
// it one end of a fresh socket pair, as HAProxy's "sockpair@".

// masterCLI is one -S socket.
type masterCLI struct {
	// arg is the -S argument, the socket's identity across re-executions.
	arg string
	ln  net.Listener
	// file is a duplicate of the socket kept for the re-execution.
	file *os.File
	// level is the sessions' level at start.
	level admin.Level
}

// cliSpec is a parsed -S argument: "<address>[,<option>…]", the options being bind
// keywords with their values, separated by commas as HAProxy reads them.
type cliSpec struct {
	network, addr string
	mode          os.FileMode
	uid, gid      int
	level         admin.Level
}

func parseCLIArg(arg string) (cliSpec, error) {
	words := strings.Split(arg, ",")
	s := cliSpec{uid: -1, gid: -1, level: admin.LevelAdmin}
	a := words[0]
	switch {
	case strings.HasPrefix(a, "unix@"):
		s.network, s.addr = "unix", strings.TrimPrefix(a, "unix@")
	case strings.HasPrefix(a, "/"), strings.HasPrefix(a, "./"):
		s.network, s.addr = "unix", a
	case strings.HasPrefix(a, "ipv4@"):
		s.network, s.addr = "tcp4", strings.TrimPrefix(a, "ipv4@")
	case strings.HasPrefix(a, "ipv6@"):
		s.network, s.addr = "tcp6", strings.TrimPrefix(a, "ipv6@")
	case strings.Contains(a, ":") && !strings.Contains(a, "@"):
		s.network, s.addr = "tcp", a
	default:
		return s, fmt.Errorf("'%s' is not supported by lb yet (master CLI on a unix socket path, ipv4@ or ipv6@ only)", a)
	}
	if s.addr == "" {
		return s, fmt.Errorf("master CLI: missing address in '%s'", arg)
	}
	for i := 1; i < len(words); i++ {
		kw := words[i]
		if i+1 >= len(words) {
			if kw == "" {
				continue
			}
			return s, fmt.Errorf("master CLI: '%s' expects an argument", kw)
		}
		v := words[i+1]
		i++
		switch kw {
		case "mode":
			n, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				return s, fmt.Errorf("master CLI: 'mode' : invalid mode '%s' (octal expected)", v)
			}
			s.mode = os.FileMode(n)
		case "user", "uid":
			if n, err := strconv.Atoi(v); err == nil {
				s.uid = n
			} else if u, err := user.Lookup(v); err == nil {
				s.uid, _ = strconv.Atoi(u.Uid)
			} else {
				return s, fmt.Errorf("master CLI: '%s' : unknown user '%s'", kw, v)
			}
		case "group", "gid":
			if n, err := strconv.Atoi(v); err == nil {
				s.gid = n
			} else if g, err := user.LookupGroup(v); err == nil {
				s.gid, _ = strconv.Atoi(g.Gid)
			} else {
				return s, fmt.Errorf("master CLI: '%s' : unknown group '%s'", kw, v)
			}
		case "level":
			switch v {
			case "user", "operator", "admin":
				s.level = admin.ParseLevel(v)
			default:
				return s, fmt.Errorf("master CLI: 'level' only supports 'user', 'operator', and 'admin' (got '%s')", v)
			}
		default:
			return s, fmt.Errorf("master CLI: '%s' is not supported by lb yet", kw)
		}
	}
	return s, nil
}

// openCLI opens the -S sockets: those the previous image kept (by their argument), the
// others anew. A socket that cannot be opened is an error.
func (m *master) openCLI(kept []keptFD) error {
	byArg := map[string]int{}
	for _, k := range kept {
		byArg[k.Key] = k.FD
	}
	for _, arg := range m.args.MasterCLI {
		spec, err := parseCLIArg(arg)
		if err != nil {
			return err
		}
		c := &masterCLI{arg: arg, level: spec.level}
		if fd, ok := byArg[arg]; ok {
			delete(byArg, arg)
			unix.CloseOnExec(fd)
			c.file = os.NewFile(uintptr(fd), "master-cli")
			if c.ln, err = net.FileListener(c.file); err != nil {
				return fmt.Errorf("master CLI %s: %w", arg, err)
			}
		} else {
			if spec.network == "unix" {
				_ = os.Remove(spec.addr)
			}
			if c.ln, err = net.Listen(spec.network, spec.addr); err != nil {
				return fmt.Errorf("master CLI: cannot bind %s: %w", arg, err)
			}
			if spec.network == "unix" {
				ul := c.ln.(*net.UnixListener)
				ul.SetUnlinkOnClose(false)
				if spec.mode != 0 {
					_ = os.Chmod(spec.addr, spec.mode)
				}
				if spec.uid >= 0 || spec.gid >= 0 {
					_ = os.Chown(spec.addr, spec.uid, spec.gid)
				}
			}
			var f *os.File
			switch l := c.ln.(type) {
			case *net.UnixListener:
				f, err = l.File()
			case *net.TCPListener:
				f, err = l.File()
			}
			if err != nil {
				return fmt.Errorf("master CLI %s: %w", arg, err)
			}
			c.file = f
		}
		m.cli = append(m.cli, c)
		go m.serveCLI(c)
	}
	// Sockets of -S arguments given no more are closed.
	for _, fd := range byArg {
		unix.Close(fd)
	}
	return nil
}

func (m *master) serveCLI(c *masterCLI) {
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		go m.serveCLIConn(conn, c.level)
	}
}

// cliIdle is the idle timeout of a master CLI session.
const cliIdle = 10 * time.Minute

// serveCLIConn is one master CLI session: one line of commands then the connection closes,
// unless "prompt" made it interactive.
func (m *master) serveCLIConn(c net.Conn, level admin.Level) {
	defer c.Close()
	r := bufio.NewReader(c)
	interactive := false
	// target is the worker an interactive session sends its commands to after a lone
	// prefix ("@1"); 0 is the master.
	target := 0
	prompt := func() string {
		if !interactive {
			return ""
		}
		if target != 0 {
			return strconv.Itoa(target) + "> "
		}
		m.mu.Lock()
		failed := m.lastFailed
		m.mu.Unlock()
		if failed {
			return "master[ReloadFailed]> "
		}
		return "master> "
	}
	for {
		_ = c.SetReadDeadline(time.Now().Add(cliIdle))
		line, err := r.ReadString('\n')
		if err != nil && line == "" {
			return
		}
		_ = c.SetReadDeadline(time.Time{})
		line = strings.TrimRight(line, "\r\n")
		cmds, hasPayload, rest, hasRest := admin.SplitPayload(line)
		// payload is what follows the last command of cmds when it ends with "<<": its
		// lines up to an empty one, read at once, as HAProxy's master reads them before
		// it forwards the command.
		var payload []string
		if hasPayload {
			if hasRest {
				payload = append(payload, rest)
			}
			for len(payload) == 0 || payload[len(payload)-1] != "" {
				if interactive {
					if _, err := io.WriteString(c, "+ "); err != nil {
						return
					}
				}
				_ = c.SetReadDeadline(time.Now().Add(cliIdle))
				l, err := r.ReadString('\n')
				if err != nil {
					// Closed before the empty line: the command is not run.
					return
				}
				payload = append(payload, strings.TrimRight(l, "\r\n"))
			}
			payload = payload[:len(payload)-1]
			_ = c.SetReadDeadline(time.Time{})
		}
		for i, cmd := range cmds {
			var pl []string
			if hasPayload && i == len(cmds)-1 {
				pl = payload
				if pl == nil {
					pl = []string{}
				}
			}
			words := strings.Fields(cmd)
			switch {
			case cmd == "quit":
				return
			case cmd == "prompt":
				interactive = !interactive
				if _, err := io.WriteString(c, prompt()); err != nil {
					return
				}
				continue
			case len(words) > 0 && strings.HasPrefix(words[0], "@"):
				pid, err := m.prefixTarget(words[0])
				if err != nil {
					io.WriteString(c, err.Error())
					return
				}
				rest := strings.TrimSpace(strings.TrimPrefix(cmd, words[0]))
				if rest == "" {
					if interactive {
						target = pid
					}
					if _, err := io.WriteString(c, prompt()); err != nil {
						return
					}
					continue
				}
				if pid != 0 {
					if err := m.forward(c, pid, rest, pl, level); err != nil {
						return
					}
					io.WriteString(c, prompt())
					continue
				}
				cmd = rest
			case target != 0:
				if err := m.forward(c, target, cmd, pl, level); err != nil {
					return
				}
				io.WriteString(c, prompt())
				continue
			}
			words = strings.Fields(cmd)
			switch {
			case len(words) == 1 && words[0] == "reload":
				// As HAProxy's: the master re-executes and the session ends without an
				// answer.
				select {
				case m.reloadC <- struct{}{}:
				default:
				}
				return
			case len(words) == 1 && (words[0] == "user" || words[0] == "operator"):
				if l := admin.ParseLevel(words[0]); l < level {
					level = l
				}
				io.WriteString(c, prompt())
				continue
			}
			var out strings.Builder
			// The master has no command that takes a payload: HAProxy's reads it and
			// looks the command up with its "<<".
			m.cliServer(level).Exec(cmd, &out)
			out.WriteString("\n")
			out.WriteString(prompt())
			if _, err := io.WriteString(c, out.String()); err != nil {
				return
			}
		}
		if !interactive {
			return
		}
		if hasPayload {
			// HAProxy's master prompts once more after a payload (the empty line that
			// ended it).
			if _, err := io.WriteString(c, prompt()); err != nil {
				return
			}
		}
	}
}

// prefixTarget reads a "@…" prefix: the pid of the worker it names, or 0 for the master.
func (m *master) prefixTarget(prefix string) (int, error) {
	notFound := fmt.Errorf("Can't find the target PID matching the prefix '%s'\n", prefix)
	p := strings.TrimPrefix(prefix, "@")
	if p == "" || p == "master" {
		return 0, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if strings.HasPrefix(p, "!") {
		pid, err := strconv.Atoi(p[1:])
		if err != nil {
			return 0, notFound
		}
		for _, w := range m.workers {
			if w.pid == pid {
				return pid, nil
			}
		}
		return 0, notFound
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return 0, notFound
	}
	if n == 0 {
		return 0, nil
	}
	// The relative pid of the current worker is 1 (lb has one worker, as nbproc 1);
	// leaving workers have none.
	if n == 1 {
		for _, w := range m.workers {
			if w.current {
				return w.pid, nil
			}
		}
	}
	return 0, notFound
}

// forward runs cmd on the runtime API of worker pid at level and copies its answer to c.
// payload, when not nil, are the lines of cmd's payload (cmd ends with "<<").
func (m *master) forward(c net.Conn, pid int, cmd string, payload []string, level admin.Level) error {
	m.mu.Lock()
	var w *worker
	for _, x := range m.workers {
		if x.pid == pid {
			w = x
		}
	}
	m.mu.Unlock()
	if w == nil || w.ctl == nil {
		_, err := fmt.Fprintf(c, "Can't find the target PID matching the prefix '@!%d'\n", pid)
		return err
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	w.ctlMu.Lock()
	_, _, err = w.ctl.WriteMsgUnix([]byte{byte(level)}, unix.UnixRights(pair[1]), nil)
	w.ctlMu.Unlock()
	unix.Close(pair[1])
	if err != nil {
		unix.Close(pair[0])
		_, err = fmt.Fprintf(c, "Can't find the target PID matching the prefix '@!%d'\n", pid)
		return err
	}
	f := os.NewFile(uintptr(pair[0]), "forward")
	wc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return err
	}
	defer wc.Close()
	_ = wc.SetDeadline(time.Now().Add(cliIdle))
	msg := cmd + "\n"
	if payload != nil {
		msg += strings.Join(append(payload, ""), "\n") + "\n"
	}
	if _, err := io.WriteString(wc, msg); err != nil {
		return err
	}
	_, err = io.Copy(c, wc)
	return err
}

// cliServer is the master's own commands at level.
func (m *master) cliServer(level admin.Level) *admin.Server {
	srv := &admin.Server{Level: level, Log: m.log}
	user := admin.LevelUser
	handle := func(words []string, help string, run func([]string, io.Writer) error) {
		srv.Handle(admin.Command{Words: words, Help: help, Level: user, Run: run})
	}
	// The prefixes and the session commands are answered by serveCLIConn; they are
	// listed here for "help" and for the proposals to a mistyped command.
	none := func([]string, io.Writer) error { return admin.ErrUnknown }
	handle([]string{"@!<pid>"}, "@!<pid>                                 : send a command to the <pid> process", none)
	handle([]string{"@<relative pid>"}, "@<relative pid>                         : send a command to the <relative pid> process", none)
	handle([]string{"@master"}, "@master                                 : send a command to the master process", none)
	handle([]string{"operator"}, "operator                                : lower the level of the current CLI session to operator", none)
	handle([]string{"user"}, "user                                    : lower the level of the current CLI session to user", none)
	handle([]string{"reload"}, "reload                                  : reload haproxy", none)
	handle([]string{"show", "cli", "level"}, "show cli level                          : display the level of the current CLI session",
		func(_ []string, w io.Writer) error { io.WriteString(w, level.String()+"\n"); return nil })
	// HAProxy 2.6's master lists no socket here (its own are in no proxy it walks).
	handle([]string{"show", "cli", "sockets"}, "show cli sockets                        : dump list of cli sockets",
		func([]string, io.Writer) error { return nil })
	handle([]string{"show", "proc"}, "show proc                               : show processes status",
		func(_ []string, w io.Writer) error { m.showProc(w); return nil })
	handle([]string{"show", "version"}, "show version                            : show version of the current process",
		func(_ []string, w io.Writer) error { io.WriteString(w, version.Version+"\n"); return nil })
	return srv
}

// showProc is "show proc" in HAProxy 2.6's layout.
func (m *master) showProc(w io.Writer) {
	now := time.Now()
	uptime := func(t time.Time) string {
		s := int(now.Sub(t).Seconds())
		return fmt.Sprintf("%dd%02dh%02dm%02ds", s/86400, s/3600%24, s/60%60, s%60)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "#%-14s %-15s %-15s %-15s %-15s\n", "<PID>", "<type>", "<reloads>", "<uptime>", "<version>")
	fmt.Fprintf(&b, "%-15d %-15s %-15s %-15s %-15s\n", os.Getpid(), "master",
		fmt.Sprintf("%d [failed: %d]", m.reloads, m.failed), uptime(m.start), version.Version)
	b.WriteString("# workers\n")
	for _, x := range m.workers {
		if x.current {
			fmt.Fprintf(&b, "%-15d %-15s %-15d %-15s %-15s\n", x.pid, "worker", x.reloads, uptime(x.start), x.version)
		}
	}
	old := false
	for _, x := range m.workers {
		if !x.current {
			if !old {
				b.WriteString("# old workers\n")
				old = true
			}
			fmt.Fprintf(&b, "%-15d %-15s %-15d %-15s %-15s\n", x.pid, "worker", x.reloads, uptime(x.start), x.version)
		}
	}
	b.WriteString("# programs\n")
	io.WriteString(w, b.String())
}
