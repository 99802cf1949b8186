package proxy

import (
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sockoptHandler connects to the backend and reports the server socket's
// SO_KEEPALIVE and SO_LINGER.
type sockoptHandler struct {
	be  atomic.Pointer[Backend] // set once the world is built
	got chan [3]int             // keepalive, linger on/off, linger seconds
}

func (h *sockoptHandler) Serve(c *Conn) {
	defer c.End()
	sc, _, err := h.be.Load().Connect(c, &ConnectRequest{Src: c.Client(), Dst: c.Local()})
	if err != nil {
		h.got <- [3]int{-1, -1, -1}
		return
	}
	defer sc.Close()
	var r [3]int
	rc, _ := sc.(syscall.Conn).SyscallConn()
	_ = rc.Control(func(fd uintptr) {
		r[0], _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
		if l, err := unix.GetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER); err == nil {
			r[1], r[2] = int(l.Onoff), int(l.Linger)
		}
	})
	h.got <- r
}

// TestServerSocketOptions: "option srvtcpka" (or tcpka) turns SO_KEEPALIVE on for server
// connections, "option nolinger" in a backend closes them with a reset (SO_LINGER 0); neither
// is set without the option.
func TestServerSocketOptions(t *testing.T) {
	for _, tc := range []struct {
		name            string
		ka, nolinger    bool
		wantKA, wantLin int
	}{
		{"default", false, false, 0, 0},
		{"srvtcpka", true, false, 1, 0},
		{"nolinger", false, true, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &sockoptHandler{got: make(chan [3]int, 1)}
			w := mkWorld(t, FrontendConfig{Handler: h}, BackendConfig{
				Servers:         []ServerConfig{{Name: "a", Addr: startServer(t, namedServer("a"))}},
				TimeoutConnect:  time.Second,
				ServerKeepAlive: tc.ka, NoLinger: tc.nolinger,
			}, BindConfig{})
			h.be.Store(w.be)
			c := w.dial()
			defer c.Close()
			var r [3]int
			select {
			case r = <-h.got:
			case <-time.After(5 * time.Second):
				t.Fatal("no connection to the server")
			}
			if r[0] != tc.wantKA || r[1] != tc.wantLin || r[2] != 0 {
				t.Errorf("server socket: SO_KEEPALIVE %d, SO_LINGER {%d, %d}; want %d, {%d, 0}",
					r[0], r[1], r[2], tc.wantKA, tc.wantLin)
			}
		})
	}
}
