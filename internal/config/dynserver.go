package config

import (
	"fmt"
	"os"
)

// dynamicServerOptions are the keywords HAProxy 2.6 accepts on the runtime
// API's "add server" (its SRV_PARSE_DYNAMIC ones), true for those lb
// carries out on a server added at run time.
var dynamicServerOptions = map[string]bool{
	"backup": true, "disabled": true, "enabled": true, "id": true, "weight": true,
	"maxconn": true, "maxqueue": true, "check": true, "inter": true, "fastinter": true,
	"downinter": true, "rise": true, "fall": true, "port": true, "addr": true,
	"send-proxy": true, "send-proxy-v2": true, "on-marked-down": true,
	"pool-max-conn": true, "pool-purge-delay": true,

	"agent-check": false, "agent-addr": false, "agent-inter": false, "agent-port": false,
	"agent-send": false, "allow-0rtt": false, "alpn": false, "ca-file": false,
	"check-alpn": false, "check-proto": false, "check-send-proxy": false, "check-sni": false,
	"check-ssl": false, "check-via-socks4": false, "ciphers": false, "ciphersuites": false,
	"crl-file": false, "crt": false, "error-limit": false, "force-sslv3": false,
	"force-tlsv10": false, "force-tlsv11": false, "force-tlsv12": false, "force-tlsv13": false,
	"minconn": false, "no-ssl-reuse": false, "no-sslv3": false, "no-tlsv10": false,
	"no-tlsv11": false, "no-tlsv12": false, "no-tlsv13": false, "no-tls-tickets": false,
	"npn": false, "observe": false, "on-error": false, "on-marked-up": false,
	"pool-low-conn": false, "proto": false, "proxy-v2-options": false,
	"send-proxy-v2-ssl": false, "send-proxy-v2-ssl-cn": false, "slowstart": false,
	"sni": false, "source": false, "ssl": false, "ssl-max-ver": false, "ssl-min-ver": false,
	"tfo": false, "tls-tickets": false, "track": false, "usesrc": false, "verify": false,
	"verifyhost": false, "ws": false,
}

// ParseDynamicServer parses the arguments of the runtime API's "add server
// <p>/<name> <addr> [kw …]" (args are name, address and keywords) as HAProxy
// 2.6 does, for a server of p: none of p's default-server settings apply,
// and only the keywords HAProxy accepts on a dynamic server do, of which lb
// refuses those it does not carry out at run time. The address must be an
// IP address or a unix socket: as HAProxy (whose dynamic servers have
// "init-addr none"), lb resolves no name at run time. The errors are
// HAProxy's replies, without their final newline.
func ParseDynamicServer(p *Proxy, args []string) (*Server, error) {
	if len(args) < 2 || args[0] == "" || args[1] == "" {
		return nil, fmt.Errorf("'server' expects <name> and <addr>[:<port>] as arguments.")
	}
	l := &loader{env: os.LookupEnv, cfg: &Config{}}
	name := args[0]
	if bad, ok := validName(name); !ok {
		return nil, fmt.Errorf("character '%c' is not permitted in server name '%s'.", bad, name)
	}
	s := newServer()
	s.Name, s.Addr = name, args[1]
	if err := l.serverAddr(s, args[1]); err != nil {
		return nil, err
	}
	opts := args[2:]
	for i := 0; i < len(opts); i++ {
		o, ok := serverOptions[opts[i]]
		if !ok {
			return nil, fmt.Errorf("unknown keyword '%s'%s", opts[i], didYouMean(opts[i], serverOptions))
		}
		carried, dyn := dynamicServerOptions[opts[i]]
		switch {
		case !dyn:
			return nil, fmt.Errorf("'%s' option is not accepted for dynamic server", opts[i])
		case !carried:
			return nil, fmt.Errorf("'%s' is not supported by lb on a server added at run time", opts[i])
		}
		v := ""
		if o.nargs > 0 {
			switch {
			case i+1 < len(opts) && opts[i+1] != "":
				v = opts[i+1]
			case o.missing != "":
				return nil, fmt.Errorf("%s.", o.missing)
			default:
				return nil, fmt.Errorf("'%s' expects an integer argument..", opts[i])
			}
		}
		// A keyword's own message ends with HAProxy's period, as on a
		// server line (kwServer).
		if err := o.fn(l, s, v); err != nil {
			return nil, fmt.Errorf("%v.", err)
		}
		i += o.nargs
	}
	switch {
	case s.Network == "abns":
		return nil, fmt.Errorf("'abns@' is not supported by lb on a server added at run time")
	case s.Network != "unix" && s.Host != "" && len(s.IPs) == 0:
		return nil, fmt.Errorf("lb resolves no name at run time: '%s' is not an IP address", s.Host)
	}
	return s, nil
}
