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

// A frontend with log-format and unique-id-format compiles both once per
// generation (lb -c reports their errors) and renders each session into
// reused buffers when it ends.
func ExampleLogFormat() {
	opt := logs.LogFormatOptions{PID: 4242, Hostname: "lb1"}
	lf, err := logs.CompileLogFormat(`%ci:%cp %ft %b/%s %Tt %B %U %ts %{+Q}ID`, opt)
	if err != nil {
		fmt.Println("failed to parse log-format :", err)
		return
	}
	uopt := opt
	uopt.UniqueID = true
	uid, err := logs.CompileLogFormat(`%{+X}ci:%{+X}cp_%{+X}Ts_%{+X}rt:%{+X}pid`, uopt)
	if err != nil {
		fmt.Println("failed to parse unique-id-format :", err)
		return
	}
	var line, id []byte // per goroutine, reused
	r := logs.TCPLog{
		Client: netip.MustParseAddrPort("192.168.0.10:40000"), Local: netip.MustParseAddrPort("192.168.0.1:80"),
		Accept:   time.Date(2026, 11, 25, 12, 19, 37, 254e6, time.UTC),
		Frontend: "fe", Backend: "be", Server: "s1", Tt: 50 * time.Millisecond, Bytes: 6, BytesIn: 5,
		Term: "--", SessionID: 17,
	}
	id = uid.GenerateUniqueID(&r, id)
	line = lf.AppendFormat(line[:0], &r)
	fmt.Println(string(line))
	// Output:
	// 192.168.0.10:40000 fe be/s1 50 6 5 -- "C0A8000A:9C40_6B06D259_0011:1092"
}
