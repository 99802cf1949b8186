package lifecycle

import (
	"errors"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"lb/internal/admin"
)

// A worker of a master (-W) serves the commands the master CLI forwards to it: the master
// sends, on the control socket it keeps, one byte (the session's level) with one end of a
// fresh socket pair, and the worker answers that connection as its runtime socket would.
// When the control socket ends, the master is gone: the worker stops, as HAProxy's do.
//
// One more byte, ctlServerState, is lb's own: the master asks for the state operators
// changed at run time (the generation's CarriedState), which the worker writes on the
// connection and closes it. The master hands it to the next worker at a reload, as -x
// hands it to the next process, so that a reload of the master loses no operator change.

// ctlServerState, sent on the control socket instead of a level, asks for the server
// state; levels are small numbers (admin.Level), so no level can be taken for it.
const ctlServerState = 0xff

// serveMasterCtl serves the forwarded commands on the control socket fd, with the same
// commands as the stats sockets (newAdmin makes a server at a level), and the requests
// for the server state (state gives it; nil when no operator changed anything). It
// returns when the master is gone.
func serveMasterCtl(fd int, newAdmin func(admin.Level) *admin.Server, state func() []byte) error {
	unix.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "master-ctl")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return errors.New("control socket: not a unix socket")
	}
	defer uc.Close()
	servers := map[admin.Level]*admin.Server{}
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			return errors.New("the master process is gone")
		}
		var fds []int
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if got, err := unix.ParseUnixRights(&m); err == nil {
					fds = append(fds, got...)
				}
			}
		}
		stateReq := buf[0] == ctlServerState
		level := admin.Level(buf[0])
		if level > admin.LevelAdmin {
			level = admin.LevelUser
		}
		for i, fd := range fds {
			unix.CloseOnExec(fd)
			if i > 0 {
				unix.Close(fd)
				continue
			}
			cf := os.NewFile(uintptr(fd), "forwarded")
			conn, err := net.FileConn(cf)
			cf.Close()
			if err != nil {
				continue
			}
			if stateReq {
				go sendCtlState(conn, state())
				continue
			}
			srv := servers[level]
			if srv == nil {
				srv = newAdmin(level)
				servers[level] = srv
			}
			go srv.ServeConn(conn)
		}
	}
}

// sendCtlState writes the server state b to c and closes it: the master reads until the
// end, so an empty answer means "nothing to carry".
func sendCtlState(c net.Conn, b []byte) {
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(ctlStateTimeout))
	_, _ = c.Write(b)
}
