//go:build !linux

package listener

import (
	"net"
	"os"
)

// Only Linux is supported; these stubs keep the module building elsewhere.

func bind(Spec) (*Listener, error)                     { return nil, errUnsupported }
func adopt(*os.File, Origin, *Spec) (*Listener, error) { return nil, errUnsupported }
func match(Spec, []*os.File) int                       { return -1 }
func suspend(*os.File, int) error                      { return errUnsupported }
func relisten(*os.File, int, sockaddr) error           { return errUnsupported }
func unlinkIfSame(string, uint64, uint64)              {}
func unwatchFile(*os.File) error                       { return errUnsupported }
func unwatchListener(any) error                        { return errUnsupported }

type sockaddr = any

func serveGetSocks(*net.UnixConn, []Exported, uint32) error  { return errUnsupported }
func fetchSockets(*net.UnixConn) ([]Exported, uint32, error) { return nil, 0, errUnsupported }
func sendTicketKeys(*net.UnixConn, *os.File) error           { return errUnsupported }
func requestTicketKeys(*net.UnixConn) (*os.File, error)      { return nil, errUnsupported }
func sendServerState(*net.UnixConn, *os.File) error          { return errUnsupported }
func requestServerState(*net.UnixConn) (*os.File, error)     { return nil, errUnsupported }

func socketKey(*os.File) string          { return "" }
func socketAddr(*os.File) string         { return "?" }
func dupFile(*os.File) (*os.File, error) { return nil, errUnsupported }
