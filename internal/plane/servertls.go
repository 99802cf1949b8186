package plane

import (
	"fmt"

	"lb/internal/config"
	"lb/internal/rules"
)

// CheckServerTLS checks the TLS of the server lines, as "lb -c" and Start do: every "sni"
// expression must compile (as a sample read when connecting to the server), and "ssl" on
// the traffic is refused: the connections to servers are not wrapped in TLS yet (the
// health checks are: config.Server.CheckTLS).
func CheckServerTLS(cfg *config.Config) []error {
	var errs []error
	ropt := ruleOptions(cfg)
	for _, px := range cfg.Backends() {
		if px.Disabled {
			continue
		}
		for _, s := range px.Servers {
			if s.TLS == nil {
				continue
			}
			if s.TLS.SNI != "" {
				if _, err := rules.CompileSample(cfg, px, nil, ropt, s.TLS.SNI, rules.ServerSNI); err != nil {
					errs = append(errs, fmt.Errorf("%s: 'server %s/%s' : error detected while parsing sni expression : %v", s.Pos, px.Name, s.Name, err))
				}
			}
			errs = append(errs, fmt.Errorf("%s: 'server %s/%s' : 'ssl' is not supported by lb yet (the connections to the server are not made over TLS yet)", s.Pos, px.Name, s.Name))
		}
	}
	return errs
}
