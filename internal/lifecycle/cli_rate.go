package lifecycle

import (
	"errors"
	"io"
	"strings"

	"lb/internal/admin"
	"lb/internal/plane"
)

// rateUsage is HAProxy 2.6's reply to a "set rate-limit" it does not know.
const rateUsage = "'set rate-limit' only supports :\n" +
	"   - 'connections global' to set the per-process maximum connection rate\n" +
	"   - 'sessions global' to set the per-process maximum session rate\n" +
	"   - 'ssl-sessions global' to set the per-process maximum SSL session rate\n" +
	"   - 'http-compression global' to set the per-process maximum compression speed in kB/s\n"

// registerRateCommands installs "set rate-limit", with HAProxy 2.6's help line, replies
// and level. "connections global", "sessions global" and "ssl-sessions global" change
// maxconnrate, maxsessrate and maxsslrate (0: no limit); the value is read as C's atoi
// reads it. lb has no compression rate limit: that setting is refused as not supported
// rather than accepted and ignored.
func registerRateCommands(srv *admin.Server, rt plane.Control) {
	srv.Handle(admin.Command{Words: strings.Fields("set rate-limit"),
		Help:  "set rate-limit <setting> <value>        : change a rate limiting value",
		Level: admin.LevelAdmin,
		Run: func(args []string, w io.Writer) error {
			var set func(int)
			switch arg(args, 0) {
			case "connections":
				set = rt.SetConnRateLimit
			case "sessions":
				set = rt.SetSessRateLimit
			case "ssl-sessions":
				set = rt.SetSSLRateLimit
			case "http-compression":
				if arg(args, 1) == "global" {
					return errors.New("'set rate-limit " + arg(args, 0) + " global' is not supported by lb yet.\n")
				}
			}
			if set == nil || arg(args, 1) != "global" {
				return errors.New(rateUsage)
			}
			s := arg(args, 2)
			if s == "" {
				return errors.New("Expects an integer value.\n")
			}
			n := atoi(s)
			if n < 0 {
				return errors.New("Value out of range.\n")
			}
			set(n)
			return nil
		}})
}
