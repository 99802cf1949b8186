package health

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

func TestParseAgentReply(t *testing.T) {
	for line, want := range map[string]AgentReply{
		"up":                 {Health: "up"},
		"down # bad disk":    {Health: "down", Desc: "bad disk"},
		"ready 200%":         {Admin: "ready", Weight: "200%"},
		"stopped,100%":       {Health: "stopped", Weight: "100%"},
		"DRAIN\tfoo bar":     {Admin: "drain", Err: "foo"},
		"maxconn:30 up 50%":  {Health: "up", Weight: "50%", MaxConn: "30"},
		"up down fail":       {Health: "fail"},
		"maint, ready,drain": {Admin: "drain"},
	} {
		if got := ParseAgentReply(line); got != want {
			t.Errorf("ParseAgentReply(%q) = %+v; want %+v", line, got, want)
		}
	}
}

// TestAgentCheck runs an agent answering, one connection each, what the
// agent of HAProxy 2.6.12's capture answered, and compares the infos and
// log lines with those HAProxy logged.
func TestAgentCheck(t *testing.T) {
	replies := make(chan string, 16)
	addr := serve(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(time.Second))
		if l, _ := bufio.NewReader(c).ReadString('\n'); l != "hello\n" {
			return // not agent-send's string: no reply
		}
		io.WriteString(c, <-replies)
	})
	var mu sync.Mutex
	var admins, weights []string
	events := make(chan Event, 16)
	cfg := Config{Name: "b/s", Addr: closedAddr(t), Inter: time.Hour, NoCheck: true,
		Agent: &Agent{Addr: addr, Inter: 20 * time.Millisecond, Send: []byte("hello\n"),
			OnReply: func(admin, weight string) string {
				mu.Lock()
				defer mu.Unlock()
				admins, weights = append(admins, admin), append(weights, weight)
				return ""
			}}}
	c, err := New(cfg, func(ev Event) { events <- ev })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	for _, step := range []struct {
		reply string
		state State
		line  string // with the duration as 0ms
	}{
		{"up\n", StateUp, `Agent check for server b/s succeeded, reason: Layer7 check passed, code: 0, info: "via agent : up", check duration: 0ms, status: 1/1 UP.`},
		{"drain 50%\n", StateUp, ""},
		{"down # bad disk\n", StateDown, `Agent check for server b/s failed, reason: Layer7 wrong status, code: 0, info: "via agent : down (bad disk)", check duration: 0ms, status: 0/1 DOWN.`},
		{"foo\n", StateDown, ""},
		{"up\n", StateUp, `Agent check for server b/s succeeded, reason: Layer7 check passed, code: 0, info: "via agent : up", check duration: 0ms, status: 1/1 UP.`},
		{"fail\n", StateDown, `Agent check for server b/s failed, reason: Layer7 wrong status, code: 0, info: "via agent : fail", check duration: 0ms, status: 0/1 DOWN.`},
		{"ready up 100%\n", StateUp, `Agent check for server b/s succeeded, reason: Layer7 check passed, code: 0, info: "via agent : up", check duration: 0ms, status: 1/1 UP.`},
	} {
		replies <- step.reply
		var ev Event
		select {
		case ev = <-events:
		case <-time.After(2 * time.Second):
			t.Fatalf("%q: no event", step.reply)
		}
		if ev.State != step.state || !ev.Agent {
			t.Errorf("%q: state %v agent %v; want %v", step.reply, ev.State, ev.Agent, step.state)
		}
		ev.Duration = 0
		if ev.Report {
			ev.LogLine = "Agent" + healthCheckLine(cfg.Name, false, ev, 1, 1)[len("Health"):]
		}
		if ev.Report != (step.line != "") || ev.Report && ev.LogLine != step.line {
			t.Errorf("%q: report %v line %q; want %q", step.reply, ev.Report, ev.LogLine, step.line)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(admins) != 2 || admins[0] != "drain" || weights[0] != "50%" || admins[1] != "ready" || weights[1] != "100%" {
		t.Errorf("OnReply got admins %q weights %q", admins, weights)
	}
}
