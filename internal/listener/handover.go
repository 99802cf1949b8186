package listener

import (
	"fmt"
	"net"
	"time"
)

// GetSocksCommand is the runtime-socket command line a new process sends to
// ask for the listening sockets (HAProxy's hidden `_getsocks` CLI command).
const GetSocksCommand = "_getsocks\n"

// ticketKeysRequest is lb's extension of the `_getsocks` exchange: a new lb
// sends it on the same connection, once it has the sockets, to get the old
// process's TLS session ticket keys, and only when the old process offered
// them (a bit in the option bytes of the sockets, which HAProxy ignores and
// sends as zero). So neither a HAProxy nor an lb older than the extension
// ever sees it, and a HAProxy that fetches lb's sockets never gets the keys'
// descriptor, which it would otherwise take for a listener. The old process
// answers ticketKeysReply with the sealed memfd of the keys attached
// (package ticketkeys).
const (
	ticketKeysRequest = "_lb_ticket_keys\n"
	ticketKeysReply   = "_lb_ticket_keys\n"
)

// serverStateRequest is lb's second extension of the `_getsocks` exchange,
// made like ticketKeysRequest: a new lb asks for the old process's server
// state (what operators changed at run time: package srvstate) when the old
// process offered it (optServerState), and gets serverStateReply with the
// sealed memfd of the state attached.
const (
	serverStateRequest = "_lb_server_state\n"
	serverStateReply   = "_lb_server_state\n"
)

// maxSendFD is HAProxy's MAX_SEND_FD: descriptors per sendmsg batch.
const maxSendFD = 252

// handoverTimeout bounds each read of the handover, as HAProxy's SO_RCVTIMEO
// of one second does on both sides.
const handoverTimeout = time.Second

// ServeGetSocks answers a `_getsocks` command, which the caller has already
// read from conn (the runtime socket, when its `stats socket` line says
// `expose-fd listeners`, or an internal socketpair). The wire format is
// HAProxy 2.6's (src/cli.c _getsocks):
//
//   - a native-endian 4-byte int: the number of descriptors;
//   - batches of at most 252 descriptors, one sendmsg each with SCM_RIGHTS,
//     whose data carries per descriptor: 1 byte namespace name length and the
//     name, 1 byte interface name length and the name, 4 zero bytes (the
//     listener options of HAProxy before 2.3);
//   - after each full batch, a 4-byte acknowledgement from the receiver.
//
// Unlike HAProxy, which sends nothing when it has no socket to give, lb sends
// a count of 0, which HAProxy's receiver accepts. Names longer than 255
// bytes are an error. ServeGetSocks does not close conn.
func ServeGetSocks(conn *net.UnixConn, socks []Exported) error {
	if err := serveGetSocks(conn, socks, 0); err != nil {
		return fmt.Errorf("getsocks: %w", err)
	}
	return nil
}

// FetchSockets connects to the old process's runtime socket at path (`-x
// PATH`), sends `_getsocks`, and returns the listening sockets it receives,
// close-on-exec, in the order sent (HAProxy's src/sock.c
// sock_get_old_sockets). Each read waits at most one second, like HAProxy's
// SO_RCVTIMEO. Use Match to pair them with bind lines, Adopt(f, Handed, spec)
// for the ones claimed, and close the others. On error no descriptor is left
// open. An old process that does not expose its listeners closes the
// connection without a count, which is reported as an error.
func FetchSockets(path string) ([]Exported, error) {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("getsocks %q: %w", path, err)
	}
	defer conn.Close()
	socks, _, err := fetchSockets(conn)
	if err != nil {
		return nil, fmt.Errorf("getsocks %q: %w", path, err)
	}
	return socks, nil
}

// FetchSocketsConn is FetchSockets over an already connected stream socket
// (for example one end of a socketpair shared with the old process). It does
// not close conn.
func FetchSocketsConn(conn *net.UnixConn) ([]Exported, error) {
	socks, _, err := fetchSockets(conn)
	if err != nil {
		return nil, fmt.Errorf("getsocks: %w", err)
	}
	return socks, nil
}
