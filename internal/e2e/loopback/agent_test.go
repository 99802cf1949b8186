package loopback

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestAgentCheckEffects: an agent's replies change a running server as in HAProxy: "drain"
// puts it in drain, "ready" takes it out, "50%" halves its weight, "maint" puts it in
// maintenance; on lb and on haproxy alike, read from "show servers state" (admin bits and
// weight).
func TestAgentCheckEffects(t *testing.T) {
	var reply atomic.Value
	reply.Store("ready\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, reply.Load().(string))
			c.Close()
		}
	}()
	srv := startNameServer(t, "s1")
	agentPort := ln.Addr().(*net.TCPAddr).Port
	sock := filepath.Join(t.TempDir(), "admin.sock")
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
global
    stats socket %s mode 600 level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen app
    bind 127.0.0.1:%d
    server s1 %s weight 10 agent-check agent-port %d agent-inter 100ms
`, sock, port, srv.addr(), agentPort))
	checkLB(t, cfg)
	onLBAndHAProxy(t, cfg, fmt.Sprintf("127.0.0.1:%d", port), func(t *testing.T, out *outFile) {
		// state returns srv_admin_state and srv_uweight of app/s1.
		state := func() string {
			for _, l := range strings.Split(adminCommand(t, sock, "show servers state app"), "\n") {
				f := strings.Fields(l)
				if len(f) > 8 && f[3] == "s1" {
					return f[6] + " " + f[7]
				}
			}
			return ""
		}
		for _, step := range []struct{ reply, want string }{
			{"drain\n", "8 10"},
			{"ready\n", "0 10"},
			{"50%\n", "0 5"},
			{"100%\n", "0 10"},
			{"maint\n", "1 10"},
			{"ready\n", "0 10"},
		} {
			reply.Store(step.reply)
			deadline := time.Now().Add(3 * time.Second)
			got := state()
			for got != step.want && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond) // the agent is polled every 100 ms: no other signal
				got = state()
			}
			if got != step.want {
				t.Errorf("agent replied %q: admin and weight %q, want %q", strings.TrimSpace(step.reply), got, step.want)
			}
		}
	})
}
