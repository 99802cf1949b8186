package plane

import (
	"errors"
	"weak"
)

// MaxconnControl is what the runtime API changes of the connection limits: a
// frontend's maxconn and the process's.
type MaxconnControl interface {
	// SetFrontendMaxconn changes the maxconn of a frontend or listen section: 0
	// accepts no more connections, as HAProxy's; ErrNoFrontend when there is none
	// of that name.
	SetFrontendMaxconn(frontend string, n int) error
	// GlobalMaxconn returns the process's connection limit and whether it has one.
	GlobalMaxconn() (n int, ok bool)
	// SetGlobalMaxconn changes the process's connection limit.
	SetGlobalMaxconn(n int)
}

var _ MaxconnControl = (*Generation)(nil)

// ErrNoFrontend: no frontend (or listen section) of that name is running.
var ErrNoFrontend = errors.New("no such frontend")

// SetFrontendMaxconn implements MaxconnControl.
func (g *Generation) SetFrontendMaxconn(frontend string, n int) error {
	v, ok := statsStates.Load(weak.Make(g))
	if !ok {
		return ErrNoFrontend
	}
	st := v.(*statsState)
	st.mu.Lock()
	defer st.mu.Unlock()
	for px, wf := range st.fronts {
		if px.Name != frontend {
			continue
		}
		if f := wf.Value(); f != nil {
			f.SetMaxconn(n)
			return nil
		}
	}
	return ErrNoFrontend
}

// GlobalMaxconn implements MaxconnControl.
func (g *Generation) GlobalMaxconn() (int, bool) { return g.eng.Maxconn() }

// SetGlobalMaxconn implements MaxconnControl.
func (g *Generation) SetGlobalMaxconn(n int) { g.eng.SetMaxconn(n) }
