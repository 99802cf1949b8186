package config

import (
	"strconv"
)

// Cache is a "cache" section: HAProxy's small object cache, used by the
// "http-request cache-use" and "http-response cache-store" actions
// (HAProxy 2.6 configuration.txt §6).
type Cache struct {
	// Pos is the section's line.
	Pos Pos
	// Name is the section's name.
	Name string
	// TotalMaxSize is "total-max-size" in bytes (given in megabytes,
	// 1 to 4095); required.
	TotalMaxSize int64
	// MaxObjectSize is "max-object-size" in bytes; 0 means HAProxy's
	// default, a 256th of TotalMaxSize.
	MaxObjectSize int64
	// MaxAge is "max-age" in seconds (HAProxy's default: 60).
	MaxAge int
	// ProcessVary is "process-vary on": responses with a Vary field are
	// stored (else they are not).
	ProcessVary bool
	// MaxSecondaryEntries is "max-secondary-entries": how many variants
	// of one URL are kept (HAProxy's default: 10).
	MaxSecondaryEntries int
}

// startCache opens a "cache" section.
func (l *loader) startCache(pos Pos, args []string) {
	if len(args) < 2 || args[1] == "" {
		l.alert(pos, "'cache' expects a name.")
		l.skipSec = true
		return
	}
	if l.cfg.Caches == nil {
		l.cfg.Caches = map[string]*Cache{}
	}
	if o := l.cfg.Caches[args[1]]; o != nil {
		l.alert(pos, "Duplicate cache name '%s'.", args[1])
		l.skipSec = true
		return
	}
	l.cache = &Cache{Pos: pos, Name: args[1], MaxAge: 60, MaxSecondaryEntries: 10}
	l.cfg.Caches[args[1]] = l.cache
}

// cacheLine parses a line of a "cache" section.
func (l *loader) cacheLine(pos Pos, args []string) {
	c := l.cache
	num := func(max int64) (int64, bool) {
		if len(args) < 2 {
			l.alert(pos, "'%s' expects an integer argument.", args[0])
			return 0, false
		}
		n, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil || n < 0 {
			l.alert(pos, "'%s' expects a positive integer argument.", args[0])
			return 0, false
		}
		if max > 0 && n > max {
			l.alert(pos, "\"%s\" (%d) must not be greater than %d", args[0], n, max)
			return 0, false
		}
		return n, true
	}
	switch args[0] {
	case "total-max-size":
		if n, ok := num(4095); ok {
			c.TotalMaxSize = n << 20
		}
	case "max-object-size":
		if n, ok := num(0); ok {
			c.MaxObjectSize = n
		}
	case "max-age":
		if n, ok := num(1<<31 - 1); ok {
			c.MaxAge = int(n)
		}
	case "max-secondary-entries":
		if n, ok := num(1<<31 - 1); ok {
			if n == 0 {
				l.alert(pos, "'max-secondary-entries' expects a strictly positive number.")
				return
			}
			c.MaxSecondaryEntries = int(n)
		}
	case "process-vary":
		if len(args) < 2 || args[1] != "on" && args[1] != "off" {
			l.alert(pos, "'process-vary' expects \"on\" or \"off\" (enable or disable vary processing).")
			return
		}
		c.ProcessVary = args[1] == "on"
	default:
		l.alert(pos, "unknown keyword '%s' in 'cache' section", args[0])
	}
}

// endCache checks a cache section once it is read.
func (l *loader) endCache() {
	c := l.cache
	l.cache = nil
	if c == nil {
		return
	}
	if c.TotalMaxSize == 0 {
		l.alert(c.Pos, "Size not specified for cache '%s'", c.Name)
		return
	}
	if c.MaxObjectSize == 0 {
		c.MaxObjectSize = c.TotalMaxSize / 256
	}
	if half := c.TotalMaxSize / 2; c.MaxObjectSize > half {
		l.alert(c.Pos, "\"max-object-size\" is limited to an half of \"total-max-size\" => %d", half)
	}
}

// checkCacheRules resolves the cache names of p's cache-use and
// cache-store rules.
func (l *loader) checkCacheRules(p *Proxy) {
	for _, set := range [][]*Rule{p.HTTPRequest, p.HTTPResponse} {
		for _, r := range set {
			if r.Action != "cache-use" && r.Action != "cache-store" {
				continue
			}
			if len(r.Args) != 1 {
				continue // the rules compiler reports it
			}
			if l.cfg.Caches[r.Args[0]] == nil {
				l.alert(r.Pos, "unable to find cache '%s' referenced by %s '%s'.", r.Args[0], proxyTypeStr(p.Cap), p.Name)
			}
		}
	}
}
