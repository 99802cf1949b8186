package plane

import (
	"lb/internal/config"
)

// CheckServerTLS checks the TLS of the server lines, as "lb -c" and Start do: every "sni"
// expression must compile (as a sample read when connecting to the server).
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
				if _, err := compileSNI(cfg, px, s, nil, ropt); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errs
}
