package lifecycle

import (
	"lb/internal/config"
	"lb/internal/proxy"
)

// trafficLogger sends per-connection log lines (option tcplog) to the proxies' log targets.
type trafficLogger struct{}

func newTrafficLogger(p *process, cfg *config.Config) *trafficLogger { return &trafficLogger{} }

func (t *trafficLogger) forFrontend(fe *config.Proxy) func(*proxy.LogRecord) { return nil }
