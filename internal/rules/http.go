package rules

// httpRule is a compiled http-request, http-response,
// http-after-response or redirect rule.
type httpRule struct {
	cond *cond
}

func (p *Proxy) runHTTPRequest(s *Stream) HTTPResult       { return HTTPResult{} }
func (p *Proxy) runHTTPResponse(s *Stream) HTTPResult      { return HTTPResult{} }
func (p *Proxy) runHTTPAfterResponse(s *Stream) HTTPResult { return HTTPResult{} }
