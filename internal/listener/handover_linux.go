package listener

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"lb/internal/srvstate"
	"lb/internal/ticketkeys"
)

// perFDMax is the largest per-descriptor record: two length-prefixed names
// of at most 255 bytes and the 4 option bytes.
const perFDMax = 1 + 255 + 1 + 255 + 4

// serveGetSocks sends socks; offers are the option bits of lb's extensions
// the sender offers (optTicketKeys, optServerState).
func serveGetSocks(conn *net.UnixConn, socks []Exported, offers uint32) error {
	var count [4]byte
	binary.NativeEndian.PutUint32(count[:], uint32(len(socks)))
	if _, _, err := conn.WriteMsgUnix(count[:], nil, nil); err != nil {
		return fmt.Errorf("send count: %w", err)
	}
	for start := 0; start < len(socks); start += maxSendFD {
		batch := socks[start:min(start+maxSendFD, len(socks))]
		data := make([]byte, 0, len(batch)*perFDMax)
		fds := make([]int, 0, len(batch))
		for _, s := range batch {
			if len(s.Namespace) > 255 || len(s.Interface) > 255 {
				return fmt.Errorf("names %q/%q: longer than 255 bytes", s.Namespace, s.Interface)
			}
			if s.File == nil {
				return fmt.Errorf("socket %d: %w", start+len(fds), errBadFD)
			}
			var fd int
			if err := control(s.File, func(n int) error { fd = n; return nil }); err != nil {
				return fmt.Errorf("socket %q: %w", s.File.Name(), err)
			}
			fds = append(fds, fd)
			data = append(data, byte(len(s.Namespace)))
			data = append(data, s.Namespace...)
			data = append(data, byte(len(s.Interface)))
			data = append(data, s.Interface...)
			opts := offers & (optTicketKeys | optServerState)
			if s.Activated {
				opts |= optActivated
			}
			data = binary.NativeEndian.AppendUint32(data, opts)
		}
		_, _, err := conn.WriteMsgUnix(data, unix.UnixRights(fds...), nil)
		for _, s := range batch {
			runtime.KeepAlive(s.File) // the descriptors must stay open until sent
		}
		if err != nil {
			return fmt.Errorf("send %d sockets: %w", len(batch), err)
		}
		if len(batch) == maxSendFD {
			// HAProxy waits for the receiver's ack after each full batch.
			var ack [4]byte
			_ = conn.SetReadDeadline(time.Now().Add(handoverTimeout))
			_, err := io.ReadFull(conn, ack[:])
			_ = conn.SetReadDeadline(time.Time{})
			if err != nil {
				return fmt.Errorf("wait for ack: %w", err)
			}
		}
	}
	return nil
}

// fetchSockets is FetchSocketsConn; offered are the option bits of lb's
// extensions the old process offers (optTicketKeys: requestTicketKeys,
// optServerState: requestServerState).
func fetchSockets(conn *net.UnixConn) (socks []Exported, offered uint32, err error) {
	var got []int
	defer func() {
		if err != nil {
			for _, fd := range got {
				unix.Close(fd)
			}
		}
	}()
	if _, err := conn.Write([]byte(GetSocksCommand)); err != nil {
		return nil, 0, fmt.Errorf("send command: %w", err)
	}
	oob := make([]byte, unix.CmsgSpace(4*maxSendFD))

	// The count: 4 bytes, read as HAProxy's recvmsg(MSG_WAITALL) would.
	var count [4]byte
	for n := 0; n < len(count); {
		_ = conn.SetReadDeadline(time.Now().Add(handoverTimeout))
		m, oobn, _, _, err := conn.ReadMsgUnix(count[n:], oob)
		m, oobn = max(m, 0), max(oobn, 0) // a failed recvmsg(2) may report -1
		fds, perr := parseRights(oob[:oobn])
		got = append(got, fds...)
		switch {
		case perr != nil:
			return nil, 0, perr
		case len(fds) > 0:
			return nil, 0, errors.New("descriptors sent with the count")
		case m == 0 && (err == nil || errors.Is(err, io.EOF)):
			return nil, 0, errNoSockets
		case err != nil:
			return nil, 0, fmt.Errorf("read count: %w", err)
		}
		n += m
	}
	want := int(int32(binary.NativeEndian.Uint32(count[:])))
	if want < 0 {
		return nil, 0, fmt.Errorf("bad socket count %d", want)
	}

	var data []byte
	buf := make([]byte, maxSendFD*perFDMax)
	for len(got) < want {
		_ = conn.SetReadDeadline(time.Now().Add(handoverTimeout))
		n, oobn, flags, _, err := conn.ReadMsgUnix(buf, oob)
		oobn = max(oobn, 0)
		fds, perr := parseRights(oob[:oobn])
		got = append(got, fds...)
		if perr != nil {
			return nil, 0, perr
		}
		if flags&unix.MSG_CTRUNC != 0 {
			return nil, 0, errors.New("control message truncated")
		}
		if n < 0 {
			n = 0 // a failed recvmsg(2) may report -1 with its error
		}
		if n == 0 && len(fds) == 0 {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return nil, 0, fmt.Errorf("got %d of %d sockets: %w", len(got), want, err)
		}
		data = append(data, buf[:n]...)
		// Ack every message, as HAProxy's receiver does; the sender only
		// waits for one after a full batch, and may already be gone.
		var ack [4]byte
		binary.NativeEndian.PutUint32(ack[:], uint32(len(got)))
		_, _ = conn.Write(ack[:])
	}
	_ = conn.SetReadDeadline(time.Time{})
	if len(got) > want {
		return nil, 0, fmt.Errorf("got %d sockets, expected %d", len(got), want)
	}

	socks = make([]Exported, 0, want)
	for range got {
		var e Exported
		var ok bool
		if e.Namespace, data, ok = lenPrefixed(data); !ok {
			return nil, 0, errors.New("inconsistent socket data")
		}
		if e.Interface, data, ok = lenPrefixed(data); !ok {
			return nil, 0, errors.New("inconsistent socket data")
		}
		if len(data) < 4 {
			return nil, 0, errors.New("inconsistent socket data")
		}
		// Listener options before HAProxy 2.3, which HAProxy 2.6 sends as zero and ignores;
		// lb marks sockets of a .socket unit there.
		opts := binary.NativeEndian.Uint32(data[:4])
		e.Activated = opts&optActivated != 0
		offered |= opts & (optTicketKeys | optServerState)
		data = data[4:]
		socks = append(socks, e)
	}
	for i, fd := range got {
		socks[i].File = os.NewFile(uintptr(fd), "getsocks:"+sockName(fd))
	}
	return socks, offered, nil
}

func lenPrefixed(b []byte) (string, []byte, bool) {
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return "", b, false
	}
	n := int(b[0])
	return string(b[1 : 1+n]), b[1+n:], true
}

// parseRights returns the descriptors of the SCM_RIGHTS messages in oob.
func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	var fds []int
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_RIGHTS {
			continue
		}
		r, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			return fds, fmt.Errorf("control message: %w", err)
		}
		fds = append(fds, r...)
	}
	return fds, nil
}

func sockName(fd int) string {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "?"
	}
	n, a := describe(sa)
	return n + ":" + a
}

// sendTicketKeys answers ticketKeysRequest: the reply line with f's
// descriptor attached, or alone when f is nil.
func sendTicketKeys(conn *net.UnixConn, f *os.File) error {
	return sendExtension(conn, ticketKeysReply, f)
}

// sendServerState answers serverStateRequest, as sendTicketKeys does.
func sendServerState(conn *net.UnixConn, f *os.File) error {
	return sendExtension(conn, serverStateReply, f)
}

// sendExtension answers one of lb's requests: the reply line with f's
// descriptor attached, or alone when f is nil.
func sendExtension(conn *net.UnixConn, reply string, f *os.File) error {
	var oob []byte
	if f != nil {
		var fd int
		if err := control(f, func(n int) error { fd = n; return nil }); err != nil {
			return err
		}
		oob = unix.UnixRights(fd)
	}
	_ = conn.SetWriteDeadline(time.Now().Add(handoverTimeout))
	_, _, err := conn.WriteMsgUnix([]byte(reply), oob, nil)
	_ = conn.SetWriteDeadline(time.Time{})
	runtime.KeepAlive(f)
	return err
}

// requestTicketKeys asks the old process for its TLS session ticket keys, on
// the connection the `_getsocks` exchange just used, and returns the
// descriptor that comes with the reply, close-on-exec: nil when the reply
// has none. Any other descriptor received is closed. It waits at most
// handoverTimeout.
func requestTicketKeys(conn *net.UnixConn) (*os.File, error) {
	return requestExtension(conn, ticketKeysRequest, ticketKeysReply, ticketkeys.Name)
}

// requestServerState asks the old process for the state of its servers, as
// requestTicketKeys does.
func requestServerState(conn *net.UnixConn) (*os.File, error) {
	return requestExtension(conn, serverStateRequest, serverStateReply, srvstate.Name)
}

// requestExtension sends one of lb's requests and returns the descriptor
// that comes with the reply (see requestTicketKeys); name names it.
func requestExtension(conn *net.UnixConn, request, reply, name string) (_ *os.File, err error) {
	var got []int
	defer func() {
		if err != nil {
			for _, fd := range got {
				unix.Close(fd)
			}
		}
	}()
	_ = conn.SetDeadline(time.Now().Add(handoverTimeout))
	defer conn.SetDeadline(time.Time{})
	if _, err := conn.Write([]byte(request)); err != nil {
		return nil, fmt.Errorf("send request: %w", err)
	}
	var line []byte
	buf := make([]byte, len(reply))
	oob := make([]byte, unix.CmsgSpace(4*maxSendFD))
	for !bytes.HasSuffix(line, []byte("\n")) {
		n, oobn, flags, _, err := conn.ReadMsgUnix(buf[:len(reply)-len(line)], oob)
		n, oobn = max(n, 0), max(oobn, 0) // a failed recvmsg(2) may report -1
		fds, perr := parseRights(oob[:oobn])
		got = append(got, fds...)
		switch {
		case perr != nil:
			return nil, perr
		case flags&unix.MSG_CTRUNC != 0:
			return nil, errors.New("control message truncated")
		case n == 0 && (err == nil || errors.Is(err, io.EOF)):
			return nil, io.ErrUnexpectedEOF
		case err != nil:
			return nil, err
		}
		line = append(line, buf[:n]...)
		if len(line) >= len(reply) && !bytes.HasSuffix(line, []byte("\n")) {
			break
		}
	}
	if string(line) != reply {
		return nil, fmt.Errorf("unexpected reply %q", line)
	}
	if len(got) == 0 {
		return nil, nil
	}
	for _, fd := range got[1:] {
		unix.Close(fd)
	}
	return os.NewFile(uintptr(got[0]), "getsocks:"+name), nil
}
