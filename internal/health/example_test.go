package health_test

import (
	"context"
	"fmt"
	"time"

	"lb/internal/health"
)

// A backend owner runs one Checker per server with "check", logs the
// log-health-checks lines and turns the state changes into HAProxy's
// messages.
func ExampleChecker() {
	cfg := health.Config{
		Name: "be/srv1", Addr: "127.0.0.1:8080",
		Inter: 2 * time.Second, Rise: 2, Fall: 3,
	}
	// option httpchk GET /health + http-check expect status 200 +
	// http-check disable-on-404
	health.ParseCheckOption(&cfg, "httpchk", nil)
	health.ParseHTTPCheck(&cfg, [][]string{
		{"send", "meth", "GET", "uri", "/health"},
		{"expect", "status", "200"},
		{"disable-on-404"},
	})
	logHealthChecks := true // option log-health-checks
	c, err := health.New(cfg, func(ev health.Event) {
		if logHealthChecks && ev.Report {
			fmt.Println(ev.LogLine) // at notice
		}
		if ev.State == ev.PrevState {
			return
		}
		// The caller applies the state under its backend lock (UP: in
		// the farm; stopping: drain, no new sessions from load
		// balancing; DOWN: out), then counts the servers left.
		st := health.ServerState{Proxy: "be", Server: "srv1", Active: 1}
		msg, severity := health.TransitionMessage(st, ev, logHealthChecks)
		fmt.Println(severity, msg)
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
}

func ExampleServerDownMessage() {
	st := health.ServerState{Proxy: "be", Server: "srv", Active: 1}
	r := health.Result{Status: health.StatusL4Con, Info: "Connection refused"}
	fmt.Println(health.ServerDownMessage(st, r))
	fmt.Println(health.NoServerMessage(health.ProxyType(false, true), "be"))
	// Output:
	// Server be/srv is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.
	// backend be has no server available!
}
