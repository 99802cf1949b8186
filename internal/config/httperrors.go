package config

import (
	"fmt"
	"slices"
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

// ErrorReply is an "http-error" line whose response lb builds from its
// arguments (status, content-type, a payload or none, hdr fields), as an
// "http-request return" builds its own. The forms that name a complete
// response are recorded as the lines they stand for: "errorfile <file>"
// in ErrorFiles, "errorfiles <name>" as an "errorfiles" line for the
// status, "default-errorfiles" by forgetting the status's response.
type ErrorReply struct {
	Pos    Pos
	Status int
	// Args are the words after "http-error", "status <code>" included.
	Args []string
}

// errorfilesRef is an "errorfiles" line, resolved by resolveErrorfiles.
type errorfilesRef struct {
	pos   Pos
	name  string
	codes []int // none: every status of the section
	seq   int
	// httpError: an "http-error status <code> errorfiles <name>" line,
	// which HAProxy warns about when the section lacks the status.
	httpError bool
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
	delete(c.p.ErrorReplies, code)
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
		if ref.httpError && he.Files[ref.codes[0]] == "" {
			l.warn(Pos{}, "config: proxy '%s' : status '%d' not declared in http-errors section '%s' (at %s).", p.Name, ref.codes[0], ref.name, ref.pos)
		}
		for code, path := range he.Files {
			if len(ref.codes) > 0 && !containsInt(ref.codes, code) || p.errSeq[code] > ref.seq {
				continue
			}
			p.ErrorFiles[code] = path
			delete(p.ErrorLocs, code)
			delete(p.ErrorReplies, code)
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

// kwHTTPError parses "http-error status <code> [content-type <type>]
// [default-errorfiles | errorfile <file> | errorfiles <name> | file <file>
// | lf-file <file> | string <str> | lf-string <fmt>] [hdr <name> <fmt>]*"
// (HAProxy's proxy_parse_http_error and http_parse_http_reply).
func kwHTTPError(c *pctx) error {
	args := c.args[1:]
	status, payload, arg, ctype := 0, "", "", ""
	nhdr := 0
	for i := 0; i < len(args); i++ {
		a := args[i]
		need := func() (string, error) {
			if i+1 >= len(args) || args[i+1] == "" {
				what := map[string]string{"status": "<status_code>", "content-type": "<ctype>",
					"errorfiles": "<name>", "errorfile": "<fmt>", "file": "<file>", "lf-file": "<file>",
					"string": "<str>", "lf-string": "<fmt>"}[a]
				return "", fmt.Errorf("http-error : '%s' expects %s as argument", a, what)
			}
			i++
			return args[i], nil
		}
		switch a {
		case "status":
			v, err := need()
			if err != nil {
				return err
			}
			status = atol(v)
			if status < 200 || status > 599 {
				return fmt.Errorf("http-error : Unexpected status code '%d'", status)
			}
		case "content-type":
			v, err := need()
			if err != nil {
				return err
			}
			ctype = v
		case "errorfiles", "default-errorfiles", "errorfile", "file", "string", "lf-file", "lf-string":
			if payload != "" {
				return fmt.Errorf("http-error : unexpected '%s' argument, '%s' already defined", a, payload)
			}
			payload = a
			if a != "default-errorfiles" {
				v, err := need()
				if err != nil {
					return err
				}
				arg = v
			}
			switch a {
			case "errorfile", "file", "lf-file":
				if _, err := c.l.opt.Stat(arg); err != nil {
					return fmt.Errorf("http-error : error opening file '%s'", arg)
				}
			}
		case "hdr":
			if i+2 >= len(args) || args[i+1] == "" || args[i+2] == "" {
				return fmt.Errorf("http-error : 'hdr' expects <name> and <value> as arguments")
			}
			nhdr++
			i += 2
		default:
			return fmt.Errorf("http-error : unknown keyword '%s'.", a)
		}
	}
	if status == 0 {
		return fmt.Errorf("http-error : expects at least a <status> as arguments.")
	}
	if !httpStatusCodes[status] {
		return fmt.Errorf("http-error: status code '%d' not handled.", status)
	}
	switch payload {
	case "errorfiles", "default-errorfiles", "errorfile":
		if ctype != "" {
			c.l.warn(c.pos, "content-type '%s' ignored by the http reply when used with an erorrfile.", ctype)
		}
		if nhdr > 0 {
			c.l.warn(c.pos, "hdr parameters ignored by the http reply when used with an erorrfile.")
		}
	case "string", "file", "lf-string", "lf-file":
		if ctype == "" {
			if payload == "lf-string" || payload == "lf-file" {
				return fmt.Errorf("http-error : a content type must be defined with a log-format payload")
			}
			return fmt.Errorf("http-error : a content type must be defined when non-empty payload is configured")
		}
	case "":
		if ctype != "" {
			c.l.warn(c.pos, "content-type '%s' ignored by the http reply because neither errorfile nor payload defined.", ctype)
		}
	}
	c.noteHTTPOnly("http-error")
	switch payload {
	case "errorfiles":
		c.l.errorSeq++
		c.p.errorfiles = append(c.p.errorfiles, errorfilesRef{pos: c.pos, name: arg, codes: []int{status}, seq: c.l.errorSeq, httpError: true})
		return nil
	case "errorfile":
		c.p.ErrorFiles[status] = arg
	default:
		delete(c.p.ErrorFiles, status)
	}
	delete(c.p.ErrorLocs, status)
	delete(c.p.ErrorReplies, status)
	if payload != "errorfile" && payload != "default-errorfiles" {
		if c.p.ErrorReplies == nil {
			c.p.ErrorReplies = map[int]*ErrorReply{}
		}
		c.p.ErrorReplies[status] = &ErrorReply{Pos: c.pos, Status: status, Args: slices.Clone(args)}
	}
	c.noteError(status)
	return nil
}
