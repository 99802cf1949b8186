package plane

import "lb/internal/rules"

// Maps is what the runtime API's map and ACL commands read and change: the pattern
// references of the running generation (pattern files, maps, ACLs' inline patterns).
// Generation implements it.
type Maps interface {
	// PatternRefs returns the generation's pattern references.
	PatternRefs() *rules.PatternRefs
}

var _ Maps = (*Generation)(nil)

// PatternRefs implements Maps.
func (g *Generation) PatternRefs() *rules.PatternRefs { return g.ropt.Patterns }
