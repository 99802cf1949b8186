package health

import (
	"context"
	"strings"
	"time"
)

// Agent is a server's agent check (server "agent-check"): every Inter,
// the checker connects to Addr, sends Send, reads one line and applies
// it as HAProxy 2.6 does. Its health is apart from the health check's,
// with a rise and a fall of 1: "down", "stopped" or "fail" mark the server
// DOWN, "up" lets it come UP again once its health check (if any) agrees;
// failing to reach the agent changes nothing.
type Agent struct {
	// Addr is agent-addr (or the server's address) with agent-port.
	Addr string
	// Inter is agent-inter; zero means the health check's Inter.
	Inter time.Duration
	// Send is agent-send: sent once connected; nothing when empty.
	Send []byte
	// InitialDelay delays the first agent check (see Config.InitialDelay).
	InitialDelay time.Duration
	// OnReply applies the reply's administrative word ("ready",
	// "drain", "maint", or "" for none) and weight ("75%", or "") to the
	// server, before its health word is applied, and returns the warning
	// of a weight it could not apply ("" for none). It may be nil.
	OnReply func(admin, weight string) (warning string)
}

// AgentReply is an agent's reply line as HAProxy 2.6 reads it: words
// separated by spaces, tabs or commas, in any order, the last of each kind
// winning, then an optional description after '#'.
type AgentReply struct {
	// Health is "up", "down", "stopped", "fail" or "".
	Health string
	// Admin is "ready", "drain", "maint" or "".
	Admin string
	// Weight is a word starting with a digit and holding '%' ("50%").
	Weight string
	// MaxConn is a "maxconn:" word's value.
	MaxConn string
	// Err is the first word of none of these kinds.
	Err string
	// Desc is the description after '#'.
	Desc string
}

// ParseAgentReply reads line (without its end).
func ParseAgentReply(line string) AgentReply {
	var r AgentReply
	for line != "" {
		switch c := line[0]; {
		case c == ' ' || c == '\t' || c == ',':
			line = line[1:]
			continue
		case c == '#':
			r.Desc = strings.TrimLeft(line[1:], " \t")
			r.Desc = strings.TrimLeft(r.Desc, " \n")
			return r
		}
		end := strings.IndexAny(line[1:], " \t\n,") + 1
		if end == 0 {
			end = len(line)
		}
		w := line[:end]
		line = line[end:]
		if line != "" {
			line = line[1:]
		}
		lw := strings.ToLower(w)
		switch {
		case lw == "up" || lw == "down" || lw == "stopped" || lw == "fail":
			r.Health = w
		case lw == "ready" || lw == "drain" || lw == "maint":
			r.Admin = lw
		case w[0] >= '0' && w[0] <= '9' && strings.Contains(w, "%"):
			r.Weight = w
		case strings.HasPrefix(lw, "maxconn:"):
			r.MaxConn = w[len("maxconn:"):]
		case r.Err == "":
			r.Err = w
		}
	}
	return r
}

// agentProbe runs one agent check: the reply's line, or the failure to get
// one (whose status is below layer 7 data, so that it changes nothing).
func agentProbe(ctx context.Context, cfg Config) (line string, r Result, ok bool) {
	acfg := cfg
	acfg.Addr, acfg.Inter, acfg.TLS = cfg.Agent.Addr, cfg.Agent.Inter, nil
	acfg.SendProxy, acfg.SendProxyV2 = false, false
	// Without agent-send, the agent speaks first.
	p := prober{cfg: &acfg, start: time.Now(), serverFirst: len(cfg.Agent.Send) == 0}
	defer p.close()
	defer func() { r.Duration = time.Since(p.start) }()
	if r, ok := p.connect(ctx, acfg.Addr, "", nil); !ok {
		return "", r, false
	}
	if len(cfg.Agent.Send) > 0 {
		if _, err := p.conn.Write(cfg.Agent.Send); err != nil {
			return "", p.ioFailure(err, ""), false
		}
	}
	for {
		if i := strings.IndexAny(string(p.buf), "\r\n"); i >= 0 {
			return string(p.buf[:i]), Result{}, true
		}
		if p.full() {
			// HAProxy keeps the status it had: no change.
			return "", Result{Status: StatusChecked, Info: "Ignoring incomplete line from agent"}, false
		}
		if err := p.fill(); err != nil {
			return "", p.ioFailure(err, ""), false
		}
	}
}

// agentResult applies a reply: its administrative and weight words through
// onReply, then its health word, as HAProxy's tcpcheck_agent_expect_reply.
func agentResult(a AgentReply, onReply func(admin, weight string) string) Result {
	wrn := ""
	if onReply != nil && (a.Admin != "" || a.Weight != "") {
		wrn = onReply(a.Admin, a.Weight)
	}
	if a.Health != "" {
		st := StatusL7Sts
		if strings.EqualFold(a.Health, "up") {
			st = StatusL7OK
		}
		msg := a.Desc
		if msg == "" || st == StatusL7OK {
			switch {
			case a.Err != "":
				msg = a.Err
			case wrn != "":
				msg = wrn
			}
		}
		info := "via agent : " + a.Health
		if msg != "" {
			info += " (" + msg + ")"
		}
		return Result{Status: st, Info: info}
	}
	switch {
	case a.Err != "":
		return Result{Status: StatusChecked, Info: "agent reports an error : " + a.Err}
	case wrn != "":
		return Result{Status: StatusChecked, Info: "agent warns : " + wrn}
	}
	return Result{Status: StatusChecked}
}
