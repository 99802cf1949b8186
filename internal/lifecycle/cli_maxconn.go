package lifecycle

import (
	"errors"
	"io"
	"strings"

	"lb/internal/admin"
	"lb/internal/plane"
)

// registerMaxconnCommands installs "set maxconn frontend" and "set maxconn global", with
// HAProxy 2.6's help lines, replies and level. Their values are read as C's atoi reads
// them: "x" is 0, "5x" is 5.
func registerMaxconnCommands(srv *admin.Server, rt plane.Control, info func() processInfo) {
	handle := func(words, help string, run func([]string, io.Writer) error) {
		srv.Handle(admin.Command{Words: strings.Fields(words), Help: help, Level: admin.LevelAdmin, Run: run})
	}
	handle("set maxconn frontend", "set maxconn frontend <frontend> <value> : change a frontend's maxconn setting",
		func(args []string, w io.Writer) error {
			name := arg(args, 0)
			if name == "" {
				return errors.New("A frontend name is expected.\n")
			}
			if !hasFrontend(rt, name) {
				return errors.New("No such frontend.\n")
			}
			s := arg(args, 1)
			if s == "" {
				return errors.New("Integer value expected.\n")
			}
			n := atoi(s)
			if n < 0 {
				return errors.New("Value out of range.\n")
			}
			if rt.SetFrontendMaxconn(name, n) != nil {
				return errors.New("No such frontend.\n")
			}
			return nil
		})
	handle("set maxconn global", "set maxconn global <value>              : change the per-process maxconn setting",
		func(args []string, w io.Writer) error {
			s := arg(args, 0)
			if s == "" {
				return errors.New("Expects an integer value.\n")
			}
			// HAProxy caps it with the maxconn the process started with, which the
			// descriptors were counted for; 0 or less means that one.
			hard := info().Maxconn
			n := atoi(s)
			if hard > 0 && n > hard {
				return errors.New("Value out of range.\n")
			}
			if n <= 0 {
				n = hard
			}
			rt.SetGlobalMaxconn(n)
			return nil
		})
}

// hasFrontend reports whether name is a running frontend or listen section.
func hasFrontend(rt plane.Control, name string) bool {
	for _, px := range rt.Stats().Proxies {
		if px.Name == name && px.Frontend != nil {
			return true
		}
	}
	return false
}

// curMaxconn is "show info"'s Maxconn: the global maxconn as the runtime API may have
// changed it, else the one the process started with.
func curMaxconn(rt plane.Control, pi processInfo) int {
	if n, ok := rt.GlobalMaxconn(); ok {
		return n
	}
	return pi.Maxconn
}
