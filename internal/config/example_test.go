package config_test

import (
	"fmt"
	"os"
	"path/filepath"

	"lb/internal/config"
)

func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "lb-example")
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "lb.cfg")
	os.WriteFile(cfg, []byte(`defaults
    mode tcp
    timeout connect 5s
    timeout client 1m
    timeout server 1m
frontend web
    bind "fd@${FD_WEB-3}" name web
    bind :8080,:8443
    default_backend app
backend app
    balance leastconn
    server a1 127.0.0.1:9001 check inter 2s
    server a2 127.0.0.1:9002 check backup
`), 0o644)
	// This process did not inherit fd 3: do not check it.
	c, diags := config.Load([]string{cfg}, config.Options{SkipFDCheck: true})
	for _, d := range diags {
		fmt.Println(d.Severity, d.Msg)
	}
	fmt.Println("exit", config.ExitCode(c, diags))
	for _, fe := range c.Frontends() {
		for _, b := range fe.Binds {
			for _, a := range b.Addrs {
				fmt.Println(fe.Name, a.Network, a.Addr())
			}
		}
	}
	be := c.Backend("app")
	fmt.Println(be.Balance.Algorithm, be.Timeouts.Server, len(be.Servers), be.Server("a2").Backup)
	// Output:
	// exit 0
	// web fd fd@3
	// web tcp4 :8080
	// web tcp4 :8443
	// leastconn 1m0s 2 true
}

func ExampleEvalCond() {
	for _, expr := range []string{"version_atleast(2.4) && feature(LINUX_SPLICE)", "feature(OPENSSL)", "streq(a"} {
		ok, err := config.EvalCond(expr, config.Options{})
		fmt.Println(ok, err)
	}
	// Output:
	// true <nil>
	// false <nil>
	// false missing arguments (got 1/2), type 'string' expected in argument 1 of predicate 'streq' used in conditional expression
}
