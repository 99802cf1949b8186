package listener_test

import (
	"log"
	"os"

	"lb/internal/listener"
)

// The -x start-up path: take the old process's sockets, let each bind line
// claim its own, bind the rest, close what nobody claimed.
func ExampleFetchSockets() {
	binds := []listener.Spec{
		{Network: "tcp4", Addr: "127.0.0.1:8080", Backlog: 2000},
		{Network: "unix", Addr: "/run/lb/admin.sock", Mode: 0o600, UID: -1, GID: -1},
	}
	old, err := listener.FetchSockets("/run/lb/admin.sock")
	if err != nil {
		log.Printf("no sockets from the old process: %v", err) // bind everything
	}
	files := make([]*os.File, len(old))
	for i := range old {
		files[i] = old[i].File
	}
	var ls []*listener.Listener
	for _, spec := range binds {
		var l *listener.Listener
		if i := listener.Match(spec, files); i >= 0 {
			l, err = listener.Adopt(files[i], listener.Handed, spec)
			files[i] = nil
		} else {
			l, err = listener.Bind(spec)
		}
		if err != nil {
			log.Fatal(err)
		}
		ls = append(ls, l)
	}
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
	_ = ls // hand each to the data plane: for { c, err := l.Accept() … }
}
