//go:build !linux

package proxy

// copyDir copies src to dst; outside Linux the portable copier is used.
func (s *session) copyDir(src, dst *side) int64 { return s.copyGeneric(src, dst) }
