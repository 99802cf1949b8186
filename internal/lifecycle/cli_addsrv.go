package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"lb/internal/admin"
	"lb/internal/plane"
)

// registerAddServerCommands installs "add server" and "del server" with HAProxy 2.6's
// help lines, levels and replies (the replies of "del server", and some of "add
// server", end without a newline, as HAProxy's do).
func registerAddServerCommands(srv *admin.Server, rt plane.Control) {
	handle := func(words, help string, run func([]string, io.Writer) error) {
		srv.Handle(admin.Command{Words: strings.Fields(words), Help: help, Level: admin.LevelAdmin, Run: run})
	}
	handle("add server", "add server <bk>/<srv>                   : create a new server", func(args []string, w io.Writer) error {
		be, sv, ok := strings.Cut(arg(args, 0), "/")
		if !ok {
			return errors.New("Require 'backend/server'.")
		}
		err := rt.AddServer(be, append([]string{sv}, args[1:]...))
		switch {
		case err == nil:
			io.WriteString(w, "New server registered.\n")
			return nil
		case errors.Is(err, plane.ErrNoBackend):
			return errors.New("No such backend.")
		case errors.Is(err, plane.ErrStaticLB):
			return err
		}
		return fmt.Errorf("%v\n", err)
	})
	handle("del server", "del server <bk>/<srv>                   : remove a dynamically added server", func(args []string, w io.Writer) error {
		be, sv, ok := strings.Cut(arg(args, 0), "/")
		if !ok {
			return errors.New("Require 'backend/server'.")
		}
		switch err := rt.DelServer(be, sv); {
		case err == nil:
			io.WriteString(w, "Server deleted.")
			return nil
		case errors.Is(err, plane.ErrNoBackend):
			return errors.New("No such backend.")
		case errors.Is(err, plane.ErrNoServer):
			return errors.New("No such server.")
		default:
			return err
		}
	})
}
