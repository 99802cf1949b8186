package plane

// RateControl is what the runtime API changes of the accept rate limits:
// "maxconnrate" and "maxsessrate".
type RateControl interface {
	// ConnRateLimit and SessRateLimit return the limits, 0 when none.
	ConnRateLimit() int
	SessRateLimit() int
	// SetConnRateLimit and SetSessRateLimit change them (0: none).
	SetConnRateLimit(n int)
	SetSessRateLimit(n int)
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
