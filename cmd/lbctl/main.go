// Command lbctl drives and observes the lb service through systemd's D-Bus
// API: `lbctl reload` reloads the unit and waits for the result, `lbctl
// status` shows its main process, state, status text and fd store. Its other
// commands go to lb's stats socket (the runtime API): `lbctl show stat`,
// `lbctl disable server be/srv`, `lbctl set weight be/srv 50` …
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"lb/internal/systemd"
)

const usage = `usage: lbctl [--unit NAME] [--timeout D] reload|status
       lbctl [--socket PATH] [--json] COMMAND [ARGS]

Commands (systemd, over D-Bus):
  reload   ask systemd to reload the unit, wait for the job and print its
           result and the new MainPID; exit 1 when the reload failed
  status   print MainPID, ActiveState/SubState, StatusText,
           NFileDescriptorStore and ReloadResult

Commands (lb's runtime API, over the stats socket):
  show stat [PROXY TYPE SID]     counters: a table (--json: every column)
  show servers [BACKEND]         servers' state and weights
  show info | show backend | show version
  disable server BE/SRV          put a server in maintenance
  enable server BE/SRV           take it out of maintenance
  drain server BE/SRV            no new sessions but persistent ones
  ready server BE/SRV            leave drain or maintenance
  add server BE/SRV ADDR [KW…]   add a server (in maintenance, as HAProxy)
  del server BE/SRV              delete a server in maintenance
  set weight BE/SRV W[%]         change a server's weight
  get weight BE/SRV
  A change that lb refuses prints its reason and exits 1.

Options:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run returns the exit status: 0 success, 1 failure, 2 usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lbctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	unit := fs.String("unit", "lb.service", "systemd `unit` to act on")
	timeout := fs.Duration("timeout", 3*time.Minute, "give up waiting after `duration`")
	socket := fs.String("socket", defaultSocket, "lb's stats socket (`path`) for the runtime API commands")
	asJSON := fs.Bool("json", false, "print the runtime API's tables as JSON")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
		return 2
	}
	if fs.NArg() >= 2 && fs.Arg(0) != "reload" && fs.Arg(0) != "status" {
		return runSocket(*socket, min(*timeout, 10*time.Second), *asJSON, fs.Args(), stdout, stderr)
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "lbctl: want exactly one command")
		fs.Usage()
		return 2
	}
	cmd := fs.Arg(0)
	if cmd != "reload" && cmd != "status" {
		fmt.Fprintf(stderr, "lbctl: unknown command %q\n", cmd)
		fs.Usage()
		return 2
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	bus, err := systemd.DialBus(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: %v\n", err)
		return 1
	}
	defer bus.Close()
	if cmd == "reload" {
		return reload(ctx, bus, *unit, stdout, stderr)
	}
	return status(ctx, bus, *unit, stdout, stderr)
}

func reload(ctx context.Context, bus *systemd.Bus, unit string, stdout, stderr io.Writer) int {
	before, err := bus.UnitStatus(ctx, unit)
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: %v\n", err)
		return 1
	}
	if before.LoadState != "loaded" {
		fmt.Fprintf(stderr, "lbctl: unit %s is %s\n", unit, before.LoadState)
		return 1
	}
	result, err := bus.ReloadUnit(ctx, unit)
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: %v\n", err)
		return 1
	}
	after, err := bus.UnitStatus(ctx, unit)
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "reload %s: %s\n", unit, result)
	fmt.Fprintf(stdout, "MainPID: %d (was %d)\n", after.MainPID, before.MainPID)
	fmt.Fprintf(stdout, "ReloadResult: %s\n", after.ReloadResult)
	if after.StatusText != "" {
		fmt.Fprintf(stdout, "StatusText: %s\n", after.StatusText)
	}
	if result != systemd.JobDone {
		fmt.Fprintf(stderr, "lbctl: reload of %s failed (job %s); see: journalctl -u %s\n", unit, result, unit)
		return 1
	}
	return 0
}

func status(ctx context.Context, bus *systemd.Bus, unit string, stdout, stderr io.Writer) int {
	st, err := bus.UnitStatus(ctx, unit)
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: %v\n", err)
		return 1
	}
	if st.LoadState != "loaded" {
		fmt.Fprintf(stderr, "lbctl: unit %s is %s\n", unit, st.LoadState)
		return 1
	}
	printStatus(stdout, st)
	return 0
}

func printStatus(w io.Writer, st systemd.UnitStatus) {
	fmt.Fprintf(w, "Unit: %s\n", st.Unit)
	fmt.Fprintf(w, "MainPID: %d\n", st.MainPID)
	fmt.Fprintf(w, "State: %s (%s)\n", st.ActiveState, st.SubState)
	fmt.Fprintf(w, "StatusText: %s\n", st.StatusText)
	fmt.Fprintf(w, "NFileDescriptorStore: %d (max %d)\n", st.NFileDescriptorStore, st.FileDescriptorStoreMax)
	fmt.Fprintf(w, "ReloadResult: %s\n", st.ReloadResult)
	for _, warn := range st.Check() {
		fmt.Fprintf(w, "Warning: %s\n", warn)
	}
}
