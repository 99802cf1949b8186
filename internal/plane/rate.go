package plane

// RateControl is what the runtime API changes of the accept rate limits:
// "maxconnrate", "maxsessrate" and "maxsslrate".
type RateControl interface {
	// ConnRateLimit, SessRateLimit and SSLRateLimit return the limits, 0 when
	// none.
	ConnRateLimit() int
	SessRateLimit() int
	SSLRateLimit() int
	// SetConnRateLimit, SetSessRateLimit and SetSSLRateLimit change them (0:
	// none).
	SetConnRateLimit(n int)
	SetSessRateLimit(n int)
	SetSSLRateLimit(n int)
}

var _ RateControl = (*Generation)(nil)

// ConnRateLimit implements RateControl.
func (g *Generation) ConnRateLimit() int { return g.eng.ConnRateLimit() }

// SessRateLimit implements RateControl.
func (g *Generation) SessRateLimit() int { return g.eng.SessRateLimit() }

// SetConnRateLimit implements RateControl.
func (g *Generation) SetConnRateLimit(n int) { g.eng.SetConnRateLimit(n) }

// SetSessRateLimit implements RateControl.
func (g *Generation) SetSessRateLimit(n int) { g.eng.SetSessRateLimit(n) }

// SSLRateLimit implements RateControl.
func (g *Generation) SSLRateLimit() int { return g.eng.SSLRateLimit() }

// SetSSLRateLimit implements RateControl.
func (g *Generation) SetSSLRateLimit(n int) { g.eng.SetSSLRateLimit(n) }
