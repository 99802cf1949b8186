package plane

import "lb/internal/stick"

// Tables is what the runtime API's table commands read and change: the stick tables
// of the running generation. Generation implements it.
type Tables interface {
	// StickTables returns the generation's stick tables, in the order "show table"
	// lists them (HAProxy 2.6's: the last declared first).
	StickTables() []*stick.Table
}

var _ Tables = (*Generation)(nil)

// StickTables implements Tables.
func (g *Generation) StickTables() []*stick.Table {
	var out []*stick.Table
	for _, px := range g.cfg.Tables() {
		if t := g.ropt.Tables[px.Name]; t != nil {
			out = append([]*stick.Table{t}, out...)
		}
	}
	return out
}
