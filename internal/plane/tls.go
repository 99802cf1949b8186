package plane

import (
	"crypto/tls"
	"fmt"

	"lb/internal/config"
	"lb/internal/proxy"
	"lb/internal/rules"
	"lb/internal/tlsconf"
)

// bindTLS is the TLS configuration a bind line's connections are served
// with, nil for a plain one. Its session tickets are encrypted with the
// bind line's "tls-ticket-keys", else with the process's keys (handed over
// from generation to generation and process to process, so that a reload
// does not send every client back to a full handshake), else with the keys
// crypto/tls makes and rotates itself. A bind line with "no-tls-tickets"
// resumes sessions from the session cache (tune.ssl.cachesize), none when it
// is 0. Either way a session resumes for "tune.ssl.lifetime".
func (g *Generation) bindTLS(cfg *config.Config, b *config.Bind) *tls.Config {
	t := b.TLS
	if t == nil {
		return nil
	}
	switch {
	case t.NoTickets && g.sessionCache(cfg) != nil:
		g.sessionCache(cfg).Attach(t.Config)
		return t.Config
	case t.NoTickets:
		t.Config.SessionTicketsDisabled = true
		return t.Config
	case len(t.TicketKeys) > 0:
		t.Config.SetSessionTicketKeys(t.TicketKeys)
	case len(g.ticketKeys) > 0:
		t.Config.SetSessionTicketKeys(g.ticketKeys)
	}
	tlsconf.TicketLifetime(t.Config, cfg.Global.SessionLifetime())
	return t.Config
}

// serverTLS sets sc's TLS origination from server s of proxy px: its
// configuration, and its "sni" expression compiled for the moment the
// connection is made.
func serverTLS(cfg *config.Config, px *config.Proxy, s *config.Server, env rules.Env, ropt rules.Options, sc *proxy.ServerConfig) error {
	if s.TLS == nil {
		return nil
	}
	sc.TLS = s.TLS.Config
	if s.TLS.SNI == "" {
		return nil
	}
	sm, err := compileSNI(cfg, px, s, env, ropt)
	if err != nil {
		return err
	}
	sc.SNI = func(c *proxy.Conn) string {
		st := c.RulesStream()
		b, ok := sm.AppendString(nil, st)
		if !ok {
			return ""
		}
		return string(b)
	}
	return nil
}

// compileSNI compiles server s's "sni" expression, with HAProxy's words
// when it is refused.
func compileSNI(cfg *config.Config, px *config.Proxy, s *config.Server, env rules.Env, ropt rules.Options) (*rules.Sample, error) {
	sm, err := rules.CompileSample(cfg, px, env, ropt, s.TLS.SNI, rules.ServerSNI)
	if err != nil {
		return nil, fmt.Errorf("%s: 'server %s/%s' : error detected while parsing sni expression : %v", s.Pos, px.Name, s.Name, err)
	}
	return sm, nil
}

// sessionCache is the generation's TLS session cache, nil when
// "tune.ssl.cachesize" is 0. As HAProxy's, it does not outlive the process.
func (g *Generation) sessionCache(cfg *config.Config) *tlsconf.SessionCache {
	n := cfg.Global.SessionCacheSize()
	if n <= 0 {
		return nil
	}
	if g.sessCache == nil {
		g.sessCache = tlsconf.NewSessionCache(n, cfg.Global.SessionLifetime())
	}
	return g.sessCache
}
