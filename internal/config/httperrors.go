package config

import (
	"fmt"
	"strconv"
)

// The error responses of a proxy: "errorfile", "errorloc", "errorloc302",
// "errorloc303", and "errorfiles" naming an "http-errors" section. For a
// status, the last of these lines wins, in the order written (an
// "errorfiles" line as well, though its section is read at the end).

// ErrorLoc is an "errorloc" line: the error answered by a redirect.
type ErrorLoc struct {
	// Code is 302 ("errorloc", "errorloc302") or 303 ("errorloc303").
	Code int
	URL  string
}

// HTTPErrors is an "http-errors" section: its errorfile lines.
type HTTPErrors struct {
	Pos   Pos
	Name  string
	Files map[int]string
}

// errorfilesRef is an "errorfiles" line, resolved by resolveErrorfiles.
type errorfilesRef struct {
	pos   Pos
	name  string
	codes []int // none: every status of the section
	seq   int
}

// noteError records that the line sets the response of status code.
func (c *pctx) noteError(code int) {
	if c.p.errSeq == nil {
		c.p.errSeq = map[int]int{}
	}
	c.l.errorSeq++
	c.p.errSeq[code] = c.l.errorSeq
}

func kwErrorloc(c *pctx) error {
	if len(c.args) < 3 || c.args[2] == "" {
		return fmt.Errorf("%s : expects <status_code> and <url> as arguments.", c.args[0])
	}
	code, err := strconv.Atoi(c.args[1])
	if err != nil || !httpStatusCodes[code] {
		return fmt.Errorf("%s : status code '%s' not handled.", c.args[0], c.args[1])
	}
	redir := 302
	if c.args[0] == "errorloc303" {
		redir = 303
	}
	if c.p.ErrorLocs == nil {
		c.p.ErrorLocs = map[int]ErrorLoc{}
	}
	c.p.ErrorLocs[code] = ErrorLoc{Code: redir, URL: c.args[2]}
	delete(c.p.ErrorFiles, code)
	c.noteError(code)
	c.noteHTTPOnly(c.args[0])
	return nil
}

func kwErrorfiles(c *pctx) error {
	if len(c.args) < 2 || c.args[1] == "" {
		return fmt.Errorf("errorfiles : expects <name> as argument.")
	}
	c.l.errorSeq++
	ref := errorfilesRef{pos: c.pos, name: c.args[1], seq: c.l.errorSeq}
	for _, a := range c.args[2:] {
		code := atol(a)
		if !httpStatusCodes[code] {
			return fmt.Errorf("errorfiles : status code '%d' not handled.", code)
		}
		ref.codes = append(ref.codes, code)
	}
	c.p.errorfiles = append(c.p.errorfiles, ref)
	c.noteHTTPOnly("errorfiles")
	return nil
}

// startHTTPErrors opens an "http-errors" section.
func (l *loader) startHTTPErrors(pos Pos, args []string) {
	if len(args) < 2 || args[1] == "" {
		l.alert(pos, "missing name for http-errors section.")
		l.skipSec = true
		return
	}
	if l.cfg.HTTPErrors == nil {
		l.cfg.HTTPErrors = map[string]*HTTPErrors{}
	}
	if o := l.cfg.HTTPErrors[args[1]]; o != nil {
		l.alert(pos, "http-errors section '%s' already exists (declared at %s).", args[1], o.Pos)
		l.skipSec = true
		return
	}
	l.httpErrors = &HTTPErrors{Pos: pos, Name: args[1], Files: map[int]string{}}
	l.cfg.HTTPErrors[args[1]] = l.httpErrors
}

// httpErrorsLine parses a line of an "http-errors" section.
func (l *loader) httpErrorsLine(pos Pos, args []string) {
	if args[0] != "errorfile" {
		l.alert(pos, "unknown keyword '%s' in 'http-errors' section", args[0])
		return
	}
	p := &Proxy{ErrorFiles: l.httpErrors.Files}
	if err := kwErrorfile(&pctx{l: l, p: p, pos: pos, args: args}); err != nil {
		l.report(pos, err)
	}
}

// resolveErrorfiles applies the "errorfiles" lines of p, each for the
// statuses no later line of p sets.
func (l *loader) resolveErrorfiles(p *Proxy) {
	for _, ref := range p.errorfiles {
		he := l.cfg.HTTPErrors[ref.name]
		if he == nil {
			l.alert(Pos{}, "proxy '%s': unknown http-errors section '%s' (at %s).", p.Name, ref.name, ref.pos)
			continue
		}
		for code, path := range he.Files {
			if len(ref.codes) > 0 && !containsInt(ref.codes, code) || p.errSeq[code] > ref.seq {
				continue
			}
			p.ErrorFiles[code] = path
			delete(p.ErrorLocs, code)
		}
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
