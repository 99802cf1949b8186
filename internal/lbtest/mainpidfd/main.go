// Command mainpidfd is a test service for systemd's MAINPIDFDID= check: run as the main process
// of a Type=notify unit, it starts a child (sleep) and names it the unit's main process with
// the message lb sends at a hand-over (systemd.MainPIDFields: MAINPID= and, on kernels with
// pidfs, MAINPIDFDID=) plus READY=1, then waits for SIGTERM.
//
//	mainpidfd -id right   the child's own pidfd id: systemd 257 must take the child as main
//	mainpidfd -id wrong   the id plus one: systemd 257 must refuse it and keep this process
//
// It prints "child PID" and the message it sent.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"

	"lb/internal/systemd"
)

func main() {
	which := flag.String("id", "right", "right or wrong")
	flag.Parse()
	if err := run(*which); err != nil {
		fmt.Fprintln(os.Stderr, "mainpidfd:", err)
		os.Exit(1)
	}
}

func run(which string) error {
	n, err := systemd.OpenNotifier()
	if err != nil {
		return err
	}
	if !n.Enabled() {
		return fmt.Errorf("NOTIFY_SOCKET is not set: run me as a Type=notify service")
	}
	child := exec.Command("sleep", "infinity")
	if err := child.Start(); err != nil {
		return err
	}
	pid := child.Process.Pid
	var msg string
	switch which {
	case "right":
		if msg, err = systemd.MainPIDFields(pid); err != nil {
			return err
		}
	case "wrong":
		id, ok, err := systemd.PidfdID(pid)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("this kernel has no pidfd ids")
		}
		msg = "MAINPID=" + strconv.Itoa(pid) + "\nMAINPIDFDID=" + strconv.FormatUint(id+1, 10)
	default:
		return fmt.Errorf("-id %q: want right or wrong", which)
	}
	msg += "\nREADY=1"
	fmt.Printf("child %d\n%q\n", pid, msg)
	if err := n.Send(msg); err != nil {
		return err
	}
	if err := n.Barrier(); err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	_ = child.Process.Kill()
	_ = child.Wait()
	return nil
}
