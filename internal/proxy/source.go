package proxy

import (
	"errors"
	"net"
	"net/netip"
)

// errSourceHeader: a "usesrc hdr_ip(…)" source found no address in the
// request; HAProxy ends such a request with a 500 (termination "IC").
var errSourceHeader = errors.New("no source address in the request header")

// SourceUse is what "usesrc" asks of a Source: the foreign address the
// connections to servers leave from (transparent proxying).
type SourceUse int

const (
	// SourceBind: no usesrc, only the local address Source.Addr.
	SourceBind SourceUse = iota
	// SourceClient: the client's address and port ("usesrc client").
	SourceClient
	// SourceClientIP: the client's address, any port ("usesrc clientip").
	SourceClientIP
	// SourceAddr: Source.UseAddr ("usesrc <addr>[:<port>]").
	SourceAddr
	// SourceHeader: the address in a request header ("usesrc
	// hdr_ip(name,occ)"), read through ConnectRequest.HeaderIP.
	SourceHeader
)

// Source says where the connections to a server leave from ("source …" on
// the server line or its backend). The zero value binds to no address:
// the system chooses.
type Source struct {
	// Addr is bound when Use is SourceBind, and when a transparent
	// source has no address to use (a header absent, a client of the
	// other address family). Its port 0 lets the system choose one.
	Addr netip.AddrPort
	Use  SourceUse
	// UseAddr is the address of SourceAddr.
	UseAddr netip.AddrPort
	// Header and Occ name the header of SourceHeader and its occurrence
	// (0 or -1: the last one; N from the first; -N from the last).
	Header string
	Occ    int
	// Interface binds the connections to a device (SO_BINDTODEVICE), ""
	// for none.
	Interface string
}

// local is the address a connection for req leaves from, and whether it is
// foreign (IP_TRANSPARENT). An invalid address means no bind. family4
// says the server is at an IPv4 address: a source of the other family is
// not bound. It fails with errSourceHeader when a header should give the
// address and the request has none (mode http).
func (s *Source) local(req *ConnectRequest, family4 bool) (netip.AddrPort, bool, error) {
	bind := s.Addr
	if bind.Addr().IsUnspecified() && bind.Port() == 0 {
		bind = netip.AddrPort{}
	}
	var a netip.AddrPort
	switch s.Use {
	case SourceBind:
		return sameFamily(bind, family4), false, nil
	case SourceClient:
		a = req.Src
	case SourceClientIP:
		a = netip.AddrPortFrom(req.Src.Addr(), 0)
	case SourceAddr:
		a = s.UseAddr
	case SourceHeader:
		if req.HeaderIP != nil {
			ip, ok := req.HeaderIP(s.Header, s.Occ)
			if !ok {
				return netip.AddrPort{}, false, errSourceHeader
			}
			a = netip.AddrPortFrom(ip, 0)
		}
	}
	a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	if a = sameFamily(a, family4); !a.IsValid() {
		return sameFamily(bind, family4), false, nil
	}
	return a, true, nil
}

// sameFamily is a when it is of the family of the server (family4: IPv4),
// else the invalid address.
func sameFamily(a netip.AddrPort, family4 bool) netip.AddrPort {
	if !a.IsValid() || a.Addr().Is4() != family4 {
		return netip.AddrPort{}
	}
	return a
}

// dialer sets d up to leave from s for req towards addr ("host:port"); the
// error is local's.
func (s *Source) dialer(d *net.Dialer, req *ConnectRequest, addr string) error {
	family4 := true
	if host, _, err := net.SplitHostPort(addr); err == nil {
		if ip, err := netip.ParseAddr(host); err == nil {
			family4 = ip.Unmap().Is4()
		}
	}
	local, foreign, err := s.local(req, family4)
	if err != nil {
		return err
	}
	if local.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(local)
	}
	if foreign || s.Interface != "" || local.IsValid() {
		d.Control = sourceControl(foreign, local.IsValid() && local.Port() != 0, s.Interface)
	}
	return nil
}

// source is where the connections to s leave from: its own Source, else
// its backend's; nil when neither has one.
func (s *Server) source() *Source {
	if s.cfg.Source != nil {
		return s.cfg.Source
	}
	return s.be.cfg.Source
}
