package plane

import (
	"slices"

	"lb/internal/cache"
)

// CacheView is what "show cache" reads.
type CacheView interface {
	// Caches returns the generation's caches, one per "cache" section, in the
	// configuration's order.
	Caches() []*cache.Cache
}

var _ CacheView = (*Generation)(nil)

// Caches returns the generation's caches in the configuration's order (the
// files in the order they were read, the sections in each file by line), as
// HAProxy lists them.
func (g *Generation) Caches() []*cache.Cache {
	set := g.caches(g.cfg)
	out := make([]*cache.Cache, 0, len(set))
	for _, c := range set {
		out = append(out, c)
	}
	file := func(c *cache.Cache) int {
		return slices.Index(g.cfg.Files, g.cfg.Caches[c.Config().Name].Pos.File)
	}
	slices.SortFunc(out, func(a, b *cache.Cache) int {
		if fa, fb := file(a), file(b); fa != fb {
			return fa - fb
		}
		return g.cfg.Caches[a.Config().Name].Pos.Line - g.cfg.Caches[b.Config().Name].Pos.Line
	})
	return out
}
