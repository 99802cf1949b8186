package logs_test

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"lb/internal/logs"
)

// The global section's "log" lines become one Logger; a proxy with
// "log global" uses it, a proxy with its own lines gets another, and
// logs.Tee combines both.
func ExampleNew() {
	var targets []logs.Target
	for _, line := range []string{
		"stdout format raw local0",
		"/dev/log local0 info",
		"127.0.0.1:514 len 4096 format rfc5424 local1 notice",
	} {
		t, err := logs.ParseTarget(strings.Fields(line))
		if err != nil {
			fmt.Println(err)
			return
		}
		targets = append(targets, t)
	}
	global, err := logs.New(targets, logs.Options{Tag: "lb"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer global.Close()

	// When a connection ends (option tcplog, option dontlognull):
	var fromClient int64 = 6
	if global.Enabled(logs.LevelInfo) && logs.ShouldLog(true, fromClient) {
		tl := logs.TCPLog{Client: netip.MustParseAddrPort("127.0.0.1:36532"), Accept: time.Now(),
			Frontend: "fe", Backend: "be", Server: "s1", Tt: 50 * time.Millisecond, Bytes: 6}
		global.Log(logs.LevelInfo, tl.String(), map[string]string{"backend": "be"})
	}
}

func ExampleTCPLog() {
	tl := logs.TCPLog{
		Client:   netip.MustParseAddrPort("127.0.0.1:36532"),
		Accept:   time.Date(2026, 11, 25, 12, 19, 37, 254e6, time.UTC),
		Frontend: "tl", Backend: "tl", Server: "s1",
		Tw: time.Millisecond, Tc: 0, Tt: 50 * time.Millisecond,
		Bytes: 6, Term: "--", ActConn: 1, FeConn: 1,
	}
	fmt.Println(tl.String())
	// Output:
	// 127.0.0.1:36532 [25/Nov/2026:12:19:37.254] tl tl/s1 1/0/50 6 -- 1/1/0/0/0 0/0
}
