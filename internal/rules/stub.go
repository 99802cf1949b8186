package rules

// This file holds the placeholders the implementation replaces.

import "lb/internal/config"

type streamState struct{}

type compiled struct{}

func compile(cfg *config.Config, px *config.Proxy, env Env, opt Options) (*Proxy, []error) {
	return &Proxy{Name: px.Name, InspectDelay: px.InspectDelay, ResponseInspectDelay: px.ResponseInspectDelay}, nil
}

func (p *Proxy) needsContent() bool                            { return false }
func (p *Proxy) needsResponse() bool                           { return false }
func (p *Proxy) runConnection(s *Stream) Verdict               { return Continue }
func (p *Proxy) runSession(s *Stream) Verdict                  { return Continue }
func (p *Proxy) runContent(s *Stream) Verdict                  { return Continue }
func (p *Proxy) runResponse(s *Stream) Verdict                 { return Continue }
func (p *Proxy) useBackend(s *Stream) (Backend, bool, Verdict) { return nil, false, Continue }
func (p *Proxy) useServer(s *Stream) (string, bool)            { return "", false }
func (s *Stream) reset()                                       {}
