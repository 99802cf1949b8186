package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"lb/internal/config"
	"lb/internal/plane"
	"lb/internal/version"
)

// Main runs lb with HAProxy's command line and returns the process exit code.
func Main(argv []string) int {
	if ok, code := runTrampoline(); ok {
		return code
	}
	args, err := ParseArgs(argv)
	if err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprint(os.Stderr, Usage)
			return 1
		}
		fmt.Fprintf(os.Stderr, "[ALERT] %v\n%s", err, Usage)
		return 1
	}
	switch {
	case args.Version == 1:
		fmt.Print(version.Short())
		return 0
	case args.Version == 2:
		fmt.Print(version.Long())
		return 0
	case args.HasCond:
		ok, err := config.EvalCond(args.CondExpr, config.Options{})
		if err != nil {
			// As HAProxy's, after its version notices.
			fmt.Fprintln(startupLogs, config.Diag{Severity: config.Alert, Msg: "Failed to evaluate condition: " + err.Error()}.Format(os.Getpid()))
			return 2
		}
		if ok {
			return 0
		}
		return 1
	}
	if args.Chdir != "" {
		if err := os.Chdir(args.Chdir); err != nil {
			fmt.Fprintf(os.Stderr, "[ALERT] cannot change directory to %q: %v\n", args.Chdir, err)
			return 1
		}
	}
	child, err := childFromEnv()
	if err != nil {
		fmt.Fprintf(os.Stderr, "[ALERT] %v\n", err)
		return 1
	}
	if child == nil && !args.Check {
		// A master's new image after a reload reads the configuration itself: a broken
		// one leaves the workers of the previous image serving.
		st, err := masterFromEnv()
		if err != nil {
			fmt.Fprintf(os.Stderr, "[ALERT] %v\n", err)
			return 1
		}
		if st != nil {
			return masterMain(args, argv, nil, st)
		}
	}
	if child != nil && child.Worker {
		// The master printed the configuration's warnings already.
		quiet := *args
		quiet.Quiet = true
		startupLogs.seed(child.StartupLogs)
		cfg, code := loadConfig(&quiet, startupLogs)
		if code != 0 {
			newReadyReporter(child.ReadyFD).fail(errors.New("configuration is invalid"))
			return 1
		}
		return run(args, argv, cfg, child)
	}
	failChild := func(err error) {
		if child != nil {
			newReadyReporter(child.ReadyFD).fail(err)
		}
	}
	loadArgs := args
	if _, ok := os.LookupEnv(envMasterDaemon); ok {
		// A master started in the background: the command that started it printed the
		// configuration's warnings already.
		quiet := *args
		quiet.Quiet = true
		loadArgs = &quiet
	}
	cfg, code := loadConfig(loadArgs, startupLogs)
	if args.Check {
		if code == 0 && !args.Quiet && !cfg.Global.Quiet {
			fmt.Println("Configuration file is valid")
		}
		if code == 2 {
			fmt.Fprintln(os.Stderr, "Configuration file has no error but will not start (no listener) => exit(2).")
		}
		return code
	}
	switch code {
	case 1:
		failChild(errors.New("configuration is invalid"))
		return 1
	case 2:
		fmt.Fprintln(startupLogs, "[ALERT] No enabled listener found (check for 'bind' directives) ! Exiting.")
		failChild(errors.New("no enabled listener found"))
		return 1
	}
	if child == nil && (args.MasterWorker || cfg.Global.MasterWorker) {
		return masterMain(args, argv, cfg, nil)
	}
	return run(args, argv, cfg, child)
}

// loadConfig reads and checks the configuration, prints every diagnostic as
// "[SEVERITY] file:line: reason" and returns the -c exit code (0, 1 or 2).
// Alerts are always printed; warnings and notices are not with -q.
func loadConfig(args *Args, w io.Writer) (*config.Config, int) {
	// HAProxy exports the local peer name before reading its configuration.
	peer := args.LocalPeer
	if peer == "" {
		peer, _ = os.Hostname()
	}
	os.Setenv("HAPROXY_LOCALPEER", peer)
	cfg, diags := config.Load(args.Files, config.Options{IgnoreResolveErrors: args.IgnoreResolveErrors, NoServerVerify: args.NoServerVerify,
		LocalPeerArg: args.LocalPeer != ""})
	if cfg != nil && config.ExitCode(cfg, diags) != 1 {
		// The rules are compiled here too, so that "lb -c" refuses what
		// lb would refuse at start (a fetch or action it lacks), and warns
		// as HAProxy does about conditions that can never match.
		errs, warnings := plane.CheckRules(cfg)
		for _, w := range warnings {
			diags = append(diags, config.Diag{Severity: config.Warning, Msg: w})
		}
		// The log-format and unique-id-format strings too.
		errs = append(errs, plane.CheckFormats(cfg)...)
		// And what lb's HTTP plane does not carry out yet.
		errs = append(errs, plane.CheckHTTP(cfg)...)
		// And the TLS of the server lines.
		errs = append(errs, plane.CheckServerTLS(cfg)...)
		// And the expressions of the health checks' rules.
		errs = append(errs, plane.CheckHealthRules(cfg)...)
		if len(args.MasterCLI) > 0 && !args.MasterWorker && !cfg.Global.MasterWorker {
			diags = append(diags, config.Diag{Severity: config.Warning,
				Msg: "a master CLI socket was defined, but master-worker mode (-W) is not enabled."})
		}
		for _, err := range errs {
			diags = append(diags, config.Diag{Severity: config.Alert, Msg: err.Error()})
		}
	}
	// As HAProxy: each diagnostic on a line of its own; after the
	// diagnostics of each file with errors, "Error(s) found in
	// configuration file" (HAProxy says it as it ends reading the file);
	// and a last line saying whether the configuration failed or only
	// warned.
	pid := os.Getpid()
	warned, initAddr, aborted := false, false, false
	var badFiles []string
	pending := "" // a file with errors whose diagnostics are being printed
	flush := func() {
		if pending != "" {
			fmt.Fprintln(w, config.Diag{Severity: config.Alert, Msg: "Error(s) found in configuration file : " + pending}.Format(pid))
			pending = ""
		}
	}
	for _, d := range diags {
		if d.Severity == config.Warning {
			warned = true
		}
		initAddr = initAddr || d.Severity == config.Alert && d.Msg == config.MsgInitAddrFailed
		aborted = aborted || d.Abort
		if d.Pos.File != pending {
			flush()
		}
		if d.Severity == config.Alert && d.Pos.Line > 0 && !d.Late && !slices.Contains(badFiles, d.Pos.File) {
			badFiles = append(badFiles, d.Pos.File)
			pending = d.Pos.File
		}
		if args.Quiet && d.Severity != config.Alert && d.Severity != config.AlertSoft {
			continue
		}
		fmt.Fprintln(w, d.Format(pid))
	}
	flush()
	code := config.ExitCode(cfg, diags)
	zeroWarning := args.ZeroWarning || cfg != nil && cfg.Global.ZeroWarning
	if code != 1 && warned && zeroWarning {
		fmt.Fprintln(w, config.Diag{Severity: config.Alert,
			Msg: "Some warnings were found and 'zero-warning' is set. Aborting."}.Format(pid))
		return cfg, 1
	}
	if code == 1 && initAddr && len(badFiles) == 0 {
		// HAProxy resolves the servers' names after the checks passed and
		// exits at the failure, with nothing after it.
	} else if code == 1 {
		if !aborted {
			// HAProxy exits right after the file that aborted.
			fmt.Fprintln(w, config.Diag{Severity: config.Alert, Msg: "Fatal errors found in configuration."}.Format(pid))
		}
	} else if warned && !args.Quiet && args.Check {
		fmt.Fprintln(w, "Warnings were found.")
	}
	return cfg, code
}
