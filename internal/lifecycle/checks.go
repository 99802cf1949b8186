package lifecycle

import (
	"lb/internal/config"
)

// checkSet runs the health checks of every server with "check".
type checkSet struct {
	stops []func()
}

func startChecks(p *process, cfg *config.Config, d *dataPlane) *checkSet {
	return &checkSet{}
}

func (c *checkSet) stop() {
	if c == nil {
		return
	}
	for _, s := range c.stops {
		s()
	}
}
