package plane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"lb/internal/config"
	"lb/internal/health"
	"lb/internal/proxy"
)

// Run-time name resolution of the servers that name a "resolvers" section, as
// HAProxy 2.6's resolvers.c does: each name is asked again once its last answer
// is older than "hold valid" (looked at every "timeout resolve"); a changed answer
// moves the servers to addresses of the answer, one address per server of a
// backend; a name that stops resolving puts its servers in maintenance (RMAINT)
// once the last valid answer is older than the hold of that error, and a valid
// answer brings them back.

// resolution is one name asked of one resolvers section for the servers that
// use it (the servers of a server-template share one).
type resolution struct {
	rs   *config.Resolvers
	name string // the FQDN, with its final dot
	// prefer is the family asked first (resolve-prefer; IPv6 by default).
	prefer dnsmessage.Type
	rts    []*srvRT
	// last is when the name was last asked, lastValid when it last
	// resolved.
	last, lastValid time.Time
	// seen is when each address of the answers was last in one; the
	// addresses missing from the last answer go after "hold obsolete".
	seen  map[netip.Addr]time.Time
	order []netip.Addr
}

// resolverSet runs the resolutions of a generation: one goroutine per
// resolvers section.
type resolverSet struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (r *resolverSet) stop() {
	if r == nil || r.cancel == nil {
		return
	}
	r.cancel()
	r.wg.Wait()
}

// nsCounters are a nameserver's counters, as "show resolvers" prints them.
type nsCounters struct {
	sent, sndError, valid, update, cname, cnameError, anyErr, nx, timeout, refused,
	other, invalid, tooBig, truncated, outdated atomic.Int64
}

// ResolversCounters is one nameserver's line of "show resolvers".
type ResolversCounters struct {
	Section, Nameserver string
	Sent, SndError, Valid, Update, Cname, CnameError, AnyErr, NX, Timeout, Refused,
	Other, Invalid, TooBig, Truncated, Outdated int64
}

// ResolversView is what "show resolvers" reads.
type ResolversView interface {
	// ResolversCounters returns the counters of the nameservers of the resolvers
	// section called section (of every section when ""), in the configuration's
	// order; ErrNoResolvers when there is no such section.
	ResolversCounters(section string) ([]ResolversCounters, error)
}

var _ ResolversView = (*Generation)(nil)

// ErrNoResolvers: there is no resolvers section of that name.
var ErrNoResolvers = errors.New("no such resolvers section")

// ResolversCounters returns the counters of the nameservers of the resolvers
// section called section (of every section when ""), in the configuration's
// order; ErrNoResolvers when there is no such section.
func (g *Generation) ResolversCounters(section string) ([]ResolversCounters, error) {
	if section != "" && g.cfg.Resolvers[section] == nil {
		return nil, ErrNoResolvers
	}
	var out []ResolversCounters
	for _, name := range g.cfg.ResolversOrder {
		if section != "" && name != section {
			continue
		}
		for i, ns := range g.cfg.Resolvers[name].Nameservers {
			c := &nsCounters{}
			if i < len(g.nsCounters[name]) {
				c = g.nsCounters[name][i]
			}
			out = append(out, ResolversCounters{Section: name, Nameserver: ns.ID,
				Sent: c.sent.Load(), SndError: c.sndError.Load(), Valid: c.valid.Load(), Update: c.update.Load(),
				Cname: c.cname.Load(), CnameError: c.cnameError.Load(), AnyErr: c.anyErr.Load(), NX: c.nx.Load(),
				Timeout: c.timeout.Load(), Refused: c.refused.Load(), Other: c.other.Load(), Invalid: c.invalid.Load(),
				TooBig: c.tooBig.Load(), Truncated: c.truncated.Load(), Outdated: c.outdated.Load()})
		}
	}
	return out, nil
}

// startResolvers starts asking the names of the servers that have "resolvers".
func startResolvers(g *Generation, cfg *config.Config) *resolverSet {
	g.nsCounters = map[string][]*nsCounters{}
	for name, rs := range cfg.Resolvers {
		for range rs.Nameservers {
			g.nsCounters[name] = append(g.nsCounters[name], &nsCounters{})
		}
	}
	g.admMu.Lock()
	defer g.admMu.Unlock()
	bySection := map[string][]*resolution{}
	byKey := map[string]*resolution{}
	for _, rt := range g.rts {
		s := rt.cfg
		if s.Resolvers == "" || s.Host == "" || net.ParseIP(s.Host) != nil || s.Network == "unix" {
			continue
		}
		rs := cfg.Resolvers[s.Resolvers]
		if rs == nil || len(rs.Nameservers) == 0 {
			continue
		}
		prefer := dnsmessage.TypeAAAA
		if s.ResolvePrefer == "ipv4" || s.Network == "tcp4" && s.ResolvePrefer == "" {
			prefer = dnsmessage.TypeA
		}
		key := rs.Name + "\x00" + strings.ToLower(s.Host) + "\x00" + prefer.String()
		res := byKey[key]
		if res == nil {
			res = &resolution{rs: rs, name: strings.TrimSuffix(s.Host, ".") + ".", prefer: prefer, seen: map[netip.Addr]time.Time{}}
			byKey[key] = res
			bySection[rs.Name] = append(bySection[rs.Name], res)
		}
		if ip := rt.srv.Config().Addr; !s.Unresolved {
			if a, err := netip.ParseAddrPort(ip); err == nil {
				rt.dnsIP = a.Addr().Unmap()
			}
		}
		rt.dns = true
		res.rts = append(res.rts, rt)
	}
	if len(bySection) == 0 {
		return &resolverSet{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	set := &resolverSet{cancel: cancel}
	for name, list := range bySection {
		set.wg.Add(1)
		go func(rs *config.Resolvers, list []*resolution) {
			defer set.wg.Done()
			g.runResolvers(ctx, rs, list, g.nsCounters[rs.Name])
		}(cfg.Resolvers[name], list)
	}
	return set
}

// runResolvers asks the due names of one section every "timeout resolve".
func (g *Generation) runResolvers(ctx context.Context, rs *config.Resolvers, list []*resolution, cnt []*nsCounters) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, res := range list {
			if !res.last.IsZero() && time.Since(res.last) < rs.HoldValid {
				continue
			}
			res.last = time.Now()
			addrs, ns, err := resolve(ctx, rs, cnt, res.name, res.prefer)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				g.failedResolutions.Add(1)
			}
			g.applyResolution(res, addrs, ns, err, cnt)
		}
		t.Reset(rs.TimeoutResolve)
	}
}

// dnsError is a failed resolution: its kind names the "hold" that applies.
type dnsError struct {
	kind   string // "nx", "refused", "timeout" or "other"
	reason string // the maintenance reason HAProxy logs
}

func (e *dnsError) Error() string { return e.reason }

var (
	errNX      = &dnsError{"nx", "DNS NX status"}
	errRefused = &dnsError{"refused", "DNS refused status"}
	errTimeout = &dnsError{"timeout", "DNS timeout status"}
	errOther   = &dnsError{"other", "unspecified DNS error"}
)

// resolve asks rs's nameservers for name's addresses of family prefer, then of
// the other family when the first has none or the name does not exist. It returns the addresses and the
// id of the nameserver that answered.
func resolve(ctx context.Context, rs *config.Resolvers, cnt []*nsCounters, name string, prefer dnsmessage.Type) ([]netip.Addr, string, error) {
	addrs, ns, err := query(ctx, rs, cnt, name, prefer)
	// As HAProxy's, a name without records of the preferred family, or that does
	// not exist, is asked again in the other family.
	if err == errNX || err == nil && len(addrs) == 0 {
		first := err
		other := dnsmessage.TypeA
		if prefer == dnsmessage.TypeA {
			other = dnsmessage.TypeAAAA
		}
		addrs, ns, err = query(ctx, rs, cnt, name, other)
		if err == nil && len(addrs) == 0 {
			err = first
			if err == nil {
				err = errOther
			}
		}
	}
	return addrs, ns, err
}

// query sends one question to every nameserver of rs, up to "resolve_retries"
// times "timeout retry" apart, and reads the first answer.
func query(ctx context.Context, rs *config.Resolvers, cnt []*nsCounters, name string, qtype dnsmessage.Type) ([]netip.Addr, string, error) {
	qname, err := dnsmessage.NewName(name)
	if err != nil {
		return nil, "", errOther
	}
	pc, err := net.ListenUDP("udp", nil)
	if err != nil {
		return nil, "", errOther
	}
	defer pc.Close()
	stop := context.AfterFunc(ctx, func() { pc.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, rs.AcceptedPayloadSize)
	for try := 0; try < rs.ResolveRetries; try++ {
		id := uint16(rand.Uint32())
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
		_ = b.StartQuestions()
		_ = b.Question(dnsmessage.Question{Name: qname, Type: qtype, Class: dnsmessage.ClassINET})
		_ = b.StartAdditionals()
		var opt dnsmessage.ResourceHeader
		_ = opt.SetEDNS0(rs.AcceptedPayloadSize, dnsmessage.RCodeSuccess, false)
		_ = b.OPTResource(opt, dnsmessage.OPTResource{})
		msg, err := b.Finish()
		if err != nil {
			return nil, "", errOther
		}
		for i, ns := range rs.Nameservers {
			if _, err := pc.WriteToUDPAddrPort(msg, ns.Addr); err != nil {
				cnt[i].sndError.Add(1)
			} else {
				cnt[i].sent.Add(1)
			}
		}
		deadline := time.Now().Add(rs.TimeoutRetry)
		_ = pc.SetReadDeadline(deadline)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				if ctx.Err() != nil {
					return nil, "", ctx.Err()
				}
				break // timed out: send again
			}
			nsID, c := "", (*nsCounters)(nil)
			for i, ns := range rs.Nameservers {
				if ns.Addr.Addr() == from.Addr().Unmap() && ns.Addr.Port() == from.Port() {
					nsID, c = ns.ID, cnt[i]
				}
			}
			if nsID == "" {
				continue
			}
			addrs, err := parseAnswer(buf[:n], id, qtype)
			switch {
			case errors.Is(err, errForeign):
				continue
			case errors.Is(err, errTruncated):
				c.truncated.Add(1)
				err = errOther
			case errors.Is(err, errInvalid):
				c.invalid.Add(1)
				err = errOther
			case err == errNX:
				c.nx.Add(1)
			case err == errRefused:
				c.refused.Add(1)
			case err == errOther:
				c.other.Add(1)
			case len(addrs) == 0:
				c.anyErr.Add(1)
			default:
				c.valid.Add(1)
			}
			return addrs, nsID, err
		}
	}
	for _, c := range cnt {
		c.timeout.Add(1)
	}
	return nil, "", errTimeout
}

var (
	errForeign   = errors.New("not an answer to the question")
	errTruncated = errors.New("truncated answer")
	errInvalid   = errors.New("invalid answer")
)

// parseAnswer reads a DNS answer to question id: the addresses of type qtype.
func parseAnswer(msg []byte, id uint16, qtype dnsmessage.Type) ([]netip.Addr, error) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil || h.ID != id || !h.Response {
		return nil, errForeign
	}
	if h.Truncated {
		return nil, errTruncated
	}
	switch h.RCode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return nil, errNX
	case dnsmessage.RCodeRefused:
		return nil, errRefused
	default:
		return nil, errOther
	}
	if err := p.SkipAllQuestions(); err != nil {
		return nil, errInvalid
	}
	var out []netip.Addr
	for {
		rh, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			break
		}
		if err != nil {
			return nil, errInvalid
		}
		switch {
		case rh.Type == dnsmessage.TypeA && qtype == dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return nil, errOther
			}
			out = append(out, netip.AddrFrom4(r.A))
		case rh.Type == dnsmessage.TypeAAAA && qtype == dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return nil, errOther
			}
			out = append(out, netip.AddrFrom16(r.AAAA))
		default:
			if err := p.SkipAnswer(); err != nil {
				return nil, errOther
			}
		}
	}
	return out, nil
}

// applyResolution applies an answer (or an error) to the servers of res, and logs
// what changed in HAProxy's words.
func (g *Generation) applyResolution(res *resolution, addrs []netip.Addr, ns string, err error, cnt []*nsCounters) {
	now := time.Now()
	var msgs [][2]string // proxy, message
	g.admMu.Lock()
	if err != nil {
		var de *dnsError
		if !errors.As(err, &de) {
			de = errOther
		}
		hold := map[string]time.Duration{"nx": res.rs.HoldNX, "refused": res.rs.HoldRefused,
			"timeout": res.rs.HoldTimeout, "other": res.rs.HoldOther}[de.kind]
		if !res.lastValid.IsZero() && now.Sub(res.lastValid) < hold {
			g.admMu.Unlock()
			return
		}
		clear(res.seen)
		res.order = nil
		for _, rt := range res.rts {
			if rt.rmaint {
				continue
			}
			rt.dnsIP = netip.Addr{}
			msgs = append(msgs, [2]string{rt.px.Name, g.dnsMaintLocked(rt, de.reason)})
		}
	} else {
		res.lastValid = now
		for _, a := range addrs {
			if _, ok := res.seen[a]; !ok {
				res.order = append(res.order, a)
			}
			res.seen[a] = now
		}
		kept := res.order[:0]
		for _, a := range res.order {
			if now.Sub(res.seen[a]) <= res.rs.HoldObsolete {
				kept = append(kept, a)
			} else {
				delete(res.seen, a)
			}
		}
		res.order = kept
		by := res.rs.Name + "/" + ns
		var c *nsCounters
		for i, n := range res.rs.Nameservers {
			if n.ID == ns {
				c = cnt[i]
			}
		}
		for i, rt := range res.rts {
			if i > 0 {
				by = "DNS cache"
			}
			if _, ok := res.seen[rt.dnsIP]; ok && rt.dnsIP.IsValid() {
				continue
			}
			ip, ok := g.pickAddrLocked(res, rt)
			if !ok {
				if rt.dnsIP.IsValid() {
					rt.dnsIP = netip.Addr{}
					msgs = append(msgs, [2]string{rt.px.Name, g.dnsMaintLocked(rt, "No IP for server ")})
				}
				continue
			}
			from := "(none)"
			if rt.dnsIP.IsValid() {
				from = rt.dnsIP.String()
			}
			if i == 0 && c != nil {
				c.update.Add(1)
			}
			rt.dnsIP = ip
			_ = rt.srv.SetAddr(ip, true, 0, false, false)
			g.moveChecksLocked(rt.srv, rt)
			who := rt.px.Name + "/" + rt.cfg.Name
			msgs = append(msgs, [2]string{rt.px.Name, fmt.Sprintf("%s changed its IP from %s to %s by %s.", who, from, ip, by)})
			if rt.rmaint {
				rt.rmaint = false
				if !rt.inMaint() {
					rt.op = proxy.StateUp
					g.leaveMaintLocked(rt)
				}
				rt.srv.SetState(rt.effective())
				msgs = append(msgs,
					[2]string{rt.px.Name, fmt.Sprintf("%s ('%s') is UP/READY (resolves again).", srvWho(rt), rt.cfg.Host)},
					[2]string{rt.px.Name, fmt.Sprintf("%s administratively READY thanks to valid DNS answer.", srvWho(rt))})
			}
		}
	}
	// The servers tracking those that changed follow them.
	var notes []trackNote
	for _, rt := range g.rts {
		if rt.dns && len(rt.trackers) > 0 {
			notes = append(notes, g.inheritLocked(rt, true)...)
		}
	}
	g.admMu.Unlock()
	for _, m := range msgs {
		g.log.Warn(m[1], slog.String("proxy", m[0]), slog.Int("severity", health.SeverityServerUp))
	}
	defer g.logTrackNotes(notes)
	if err != nil && len(msgs) > 0 {
		be := res.rts[0].srv.Backend()
		if act, bck := be.UsableServers(); act == 0 && bck == 0 {
			g.log.Error(health.NoServerMessage(g.ptypes[be.Name()], be.Name()), noServerAttrs(g.ptypes[be.Name()], be.Name())...)
		}
	}
	if len(msgs) > 0 && g.onServerChange != nil {
		g.onServerChange()
	}
}

// srvWho is "Server be/srv" or "Backup Server be/srv", as HAProxy's state messages.
func srvWho(rt *srvRT) string {
	if rt.cfg.Backup {
		return "Backup Server " + rt.px.Name + "/" + rt.cfg.Name
	}
	return "Server " + rt.px.Name + "/" + rt.cfg.Name
}

// dnsMaintLocked puts rt in maintenance for reason and returns HAProxy's message.
// Caller holds g.admMu.
func (g *Generation) dnsMaintLocked(rt *srvRT, reason string) string {
	was := rt.effective()
	if !rt.inMaint() {
		g.enterMaintLocked(rt, was == proxy.StateDown)
	}
	rt.rmaint = true
	rt.srv.SetState(rt.effective())
	if was == proxy.StateMaint || was == proxy.StateDown {
		return fmt.Sprintf("%s was DOWN and now enters maintenance (%s).", srvWho(rt), reason)
	}
	st := rt.srv.Stats()
	act, bck := rt.srv.Backend().UsableServers()
	return fmt.Sprintf("%s is going DOWN for maintenance (%s). %d active and %d backup servers left.%s %d sessions active, %d requeued, %d remaining in queue.",
		srvWho(rt), reason, act, bck, onBackup(act, bck), st.Cur, 0, st.Queue)
}

// pickAddrLocked chooses rt's address among res's: one no other server of the
// backend uses, of the preferred family (resolve-prefer) and network
// (resolve-net) when there is one, the first of the answer otherwise. Caller
// holds g.admMu.
func (g *Generation) pickAddrLocked(res *resolution, rt *srvRT) (netip.Addr, bool) {
	best, score := netip.Addr{}, -1
	for _, a := range res.order {
		used := false
		for _, o := range g.rts {
			if o != rt && o.px == rt.px && o.dns && o.dnsIP == a {
				used = true
				break
			}
		}
		if used {
			continue
		}
		s := 0
		if a.Is4() == (res.prefer == dnsmessage.TypeA) {
			s += 8
		}
		for _, n := range rt.cfg.ResolveNet {
			if n.Contains(a) {
				s += 4
				break
			}
		}
		if s > score {
			best, score = a, s
		}
	}
	return best, score >= 0
}
