package listener

import (
	"net"
	"strconv"
	"strings"

	"lb/internal/config"
)

// StoredPrefix starts the FDNAME= of every listener lb pushes to systemd's fd
// store, so that on a restart they are told apart from the sockets of
// .socket units, which come back in the same LISTEN_FDS.
const StoredPrefix = "lbstored-"

// maxFDName is the longest FDNAME= systemd accepts (sd_notify(3)).
const maxFDName = 255

// Key identifies a bind address across generations: two processes that read
// the same address from their configurations compute the same key, and Key
// of what an open socket reports (see socketKey) is the key of the address
// it was bound to. It reads "NETWORK ADDRESS": "tcp4 127.0.0.1:80",
// "tcp6 [::]:443", "unix /run/lb/admin.sock", "abns name", "fd 3".
//
// A TCP host is written as getsockname reports it: an IPv6 address in its
// canonical form, and an empty host or "*" as 0.0.0.0 (tcp4) or :: (tcp6).
func Key(a config.BindAddr) string {
	switch a.Network {
	case "tcp4", "tcp6":
		host := a.Host
		if ip := net.ParseIP(host); ip != nil {
			host = ip.String()
		}
		switch {
		case (host == "" || host == "*") && a.Network == "tcp4":
			host = "0.0.0.0"
		case host == "" || host == "*":
			host = "::"
		}
		return a.Network + " " + net.JoinHostPort(host, strconv.Itoa(a.Port))
	case "unix":
		return "unix " + a.Path
	case "abns":
		return "abns " + a.Path
	default:
		return a.Network + " " + strconv.Itoa(a.FD)
	}
}

// StoreName is the FDNAME= under which a self-bound listener with key is
// kept in systemd's fd store: StoredPrefix and the key, with the characters
// an fd name may not hold (':' and space) replaced, cut to systemd's 255
// bytes.
func StoreName(key string) string {
	n := strings.NewReplacer(":", "_", " ", "-").Replace(key)
	if len(StoredPrefix)+len(n) > maxFDName {
		n = n[:maxFDName-len(StoredPrefix)]
	}
	return StoredPrefix + n
}
