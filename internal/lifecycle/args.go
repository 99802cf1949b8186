package lifecycle

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Args is lb's command line, which is HAProxy 2.6's (haproxy(1), "management.txt" §3).
type Args struct {
	// Files are the -f arguments (files or directories) in command-line order, followed by
	// every argument after "--".
	Files []string
	// Check is -c: check the configuration and exit (0 valid, 1 errors, 2 no listener).
	Check bool
	// CondExpr is the expression of -cc; empty when -cc is not given.
	CondExpr string
	HasCond  bool
	// Daemon is -D: the parent exits 0 once the child accepts. Foreground (-db, -d) wins.
	Daemon bool
	// Foreground is -db or -d.
	Foreground bool
	// Debug is -d: foreground, and every event is logged.
	Debug bool
	// PidFile is -p; empty means none.
	PidFile string
	// SoftStopPids are the -sf pids (SIGUSR1 once the new process accepts).
	SoftStopPids []int
	// HardStopPids are the -st pids (SIGTERM once the new process accepts).
	HardStopPids []int
	// OldSocket is -x: the old process's runtime socket to fetch listeners from. "/dev/null"
	// turns the fetch off, as in HAProxy.
	OldSocket string
	// Quiet is -q; Verbose (-V) undoes it.
	Quiet bool
	// Version is 1 for -v and 2 for -vv; 0 otherwise.
	Version int
	// Maxconn is -n (global maxconn); 0 = from the configuration.
	Maxconn int
	// ProxyMaxconn is -N (default per-proxy maxconn); 0 = from the configuration.
	ProxyMaxconn int
	// Chdir is -C: directory to change into before loading the configuration.
	Chdir string
	// IgnoreResolveErrors is -dr.
	IgnoreResolveErrors bool
	// NoServerVerify is -dV: server certificates are not verified by default.
	NoServerVerify bool
	// MemMax is -m: the process's memory limit in MiB (0: none).
	MemMax int
	// LocalPeer is -L: the local peer name, exported as HAPROXY_LOCALPEER (the host name
	// when not given), which the configuration may expand.
	LocalPeer string
	// NoReusePort is -dR (no SO_REUSEPORT).
	NoReusePort bool
	// NoSplice is -dS.
	NoSplice bool
	// ZeroWarning is -dW: refuse to start on any warning.
	ZeroWarning bool
	// MasterWorker is -W or -Ws: a master process starts the worker that serves, keeps
	// the listening sockets, and re-executes itself on SIGUSR2 (master.go).
	MasterWorker bool
	// Systemd is -Ws: the master stays in the foreground and speaks sd_notify.
	Systemd bool
	// MasterCLI are the -S arguments: "<address>[,<option>…]" of the master CLI.
	MasterCLI []string
}

var errUsage = errors.New("usage")

// ParseArgs parses argv (without the program name) the way HAProxy 2.6 does: pid lists of
// -sf and -st end at the next argument that starts with '-', and may be empty.
func ParseArgs(argv []string) (*Args, error) {
	a := &Args{}
	for i := 0; i < len(argv); i++ {
		arg := argv[i]
		next := func() (string, error) {
			if i+1 >= len(argv) {
				return "", fmt.Errorf("option %q requires an argument", arg)
			}
			i++
			return argv[i], nil
		}
		nextInt := func() (int, error) {
			s, err := next()
			if err != nil {
				return 0, err
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("option %q: invalid number %q", arg, s)
			}
			return n, nil
		}
		var err error
		switch arg {
		case "--":
			a.Files = append(a.Files, argv[i+1:]...)
			i = len(argv)
		case "-f":
			var f string
			f, err = next()
			a.Files = append(a.Files, f)
		case "-c":
			a.Check = true
		case "-cc":
			a.CondExpr, err = next()
			a.HasCond = true
		case "-D":
			a.Daemon = true
		case "-db":
			a.Foreground = true
		case "-d":
			a.Foreground, a.Debug = true, true
		case "-W":
			a.MasterWorker = true
		case "-Ws":
			a.MasterWorker, a.Systemd = true, true
		case "-S":
			var v string
			v, err = next()
			a.MasterCLI = append(a.MasterCLI, v)
		case "-p":
			a.PidFile, err = next()
		case "-sf", "-st":
			var pids []int
			for i+1 < len(argv) && !strings.HasPrefix(argv[i+1], "-") {
				i++
				pid, perr := strconv.Atoi(argv[i])
				if perr != nil || pid <= 0 {
					return nil, fmt.Errorf("option %q: invalid pid %q", arg, argv[i])
				}
				pids = append(pids, pid)
			}
			if arg == "-sf" {
				a.SoftStopPids = append(a.SoftStopPids, pids...)
			} else {
				a.HardStopPids = append(a.HardStopPids, pids...)
			}
		case "-x":
			a.OldSocket, err = next()
		case "-q":
			a.Quiet = true
		case "-V":
			a.Quiet = false
		case "-v":
			a.Version = 1
		case "-vv":
			a.Version = 2
		case "-n":
			a.Maxconn, err = nextInt()
		case "-N":
			a.ProxyMaxconn, err = nextInt()
		case "-C":
			a.Chdir, err = next()
		case "-dr":
			a.IgnoreResolveErrors = true
		case "-dR":
			a.NoReusePort = true
		case "-dS":
			a.NoSplice = true
		case "-dW":
			a.ZeroWarning = true
		case "-m":
			a.MemMax, err = nextInt()
		case "-L":
			a.LocalPeer, err = next()
		case "-dV":
			a.NoServerVerify = true
		case "-dD", "-dG", "-de", "-dp", "-dk":
			// Accepted for compatibility: they tune HAProxy internals lb does not have.
		case "-h", "--help", "-?":
			return nil, errUsage
		default:
			if strings.HasPrefix(arg, "-dM") {
				continue // memory poisoning: accepted, no effect in Go
			}
			if strings.HasPrefix(arg, "-") {
				return nil, fmt.Errorf("unknown option %q", arg)
			}
			return nil, fmt.Errorf("unexpected argument %q (config files are given with -f)", arg)
		}
		if err != nil {
			return nil, err
		}
	}
	if a.Version == 0 && !a.HasCond && len(a.Files) == 0 {
		return nil, errors.New("no configuration file given (use -f FILE)")
	}
	return a, nil
}

// Usage is printed on -h and on a command-line error.
const Usage = `Usage: lb [-f <cfgfile|cfgdir>]* [ -vdVD ] [ -n <maxconn> ] [ -N <maxpconn> ]
        [ -p <pidfile> ] [ -sf/-st [pid ]* ] [ -x <unix_socket> ] [ -C <dir> ] [ -- <cfgfile>* ]
        -v displays version ; -vv shows known build options.
        -d enters debug mode ; -db only disables background mode.
        -dr ignores server address resolution failures
        -V enters verbose mode (disables quiet mode)
        -D goes daemon ; -C changes to <dir> before loading files.
        -W master-worker mode.
        -Ws master-worker mode with systemd notify support.
        -S <bind>[,<bind options>...] new master CLI
        -q quiet mode : don't display messages
        -c check mode : only check config files and exit
        -cc check condition : evaluate a condition and exit
        -n sets the maximum total # of connections
        -m limits the usable amount of memory (in MB)
        -N sets the default, per-proxy maximum # of connections
        -L set local peer name (default to hostname)
        -p writes pids of all children to this file
        -dR disables SO_REUSEPORT usage
        -dS disables splice usage
        -dV disables SSL verify on servers side
        -dW fails if any warning is emitted
        -sf/-st [pid ]* finishes/terminates old pids.
        -x <unix_socket> get listening sockets from a unix socket
`
