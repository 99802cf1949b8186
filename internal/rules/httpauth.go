package rules

import (
	"bytes"
	"encoding/base64"
	"fmt"

	"lb/internal/auth"
	"lb/internal/config"
)

// HTTP authentication: the http_auth* fetches against "userlist"
// sections, and "http-request auth".

// NewUserlists returns the userlists of cfg by name, to share between the
// Compiles of a generation (Options.Userlists).
func NewUserlists(cfg *config.Config) map[string]*auth.Userlist {
	out := make(map[string]*auth.Userlist, len(cfg.Userlists))
	for name, ul := range cfg.Userlists {
		users := make([]*auth.User, 0, len(ul.Users))
		for _, u := range ul.Users {
			x := &auth.User{Name: u.Name, Insecure: u.Insecure, Groups: u.Groups}
			if u.Insecure {
				x.Plain = u.Password
			} else {
				x.Hash = u.Password
			}
			users = append(users, x)
		}
		out[name] = auth.NewUserlist(name, users)
	}
	return out
}

// userlist returns the userlist called name, or nil.
func (c *compiler) userlist(name string) *auth.Userlist {
	if c.uls == nil {
		c.uls = c.opt.Userlists
		if c.uls == nil {
			c.uls = NewUserlists(c.cfg)
		}
	}
	return c.uls[name]
}

// Authorization schemes get_http_auth recognises.
const (
	authNone = iota
	authBasic
	authBearer
)

var (
	strBasic  = []byte("Basic")
	strBearer = []byte("Bearer")
)

// httpAuth reads the request's Authorization field as HAProxy 2.6's
// get_http_auth does: the first value (up to a comma), a scheme before a
// space, compared case-insensitively on the scheme's length (so "Bas"
// counts as Basic), the rest after the spaces; Basic credentials are
// base64 "user:password". data is the rest for Bearer.
func httpAuth(ev *evalCtx) (scheme int, user, pass, data []byte) {
	m := ev.msg(false)
	if m == nil {
		return authNone, nil, nil, nil
	}
	v, ok := firstHdr(m.Header.Fields, "authorization")
	if !ok {
		return authNone, nil, nil, nil
	}
	sp := bytes.IndexByte(v, ' ')
	if sp <= 0 {
		return authNone, nil, nil, nil
	}
	method, rest := v[:sp], bytes.TrimLeft(v[sp:], " ")
	switch {
	case len(method) <= len(strBasic) && bytes.EqualFold(method, strBasic[:len(method)]):
		b := ev.next()
		n := base64.StdEncoding.DecodedLen(len(rest))
		if cap(*b) < n {
			*b = make([]byte, n)
		}
		*b = (*b)[:n]
		n, err := base64.StdEncoding.Strict().Decode(*b, rest)
		if err != nil || len(rest)%4 != 0 {
			return authNone, nil, nil, nil
		}
		dec := (*b)[:n]
		if z := bytes.IndexByte(dec, 0); z >= 0 {
			dec = dec[:z] // a C string in HAProxy
		}
		i := bytes.IndexByte(dec, ':')
		if i < 0 {
			return authNone, nil, nil, nil
		}
		return authBasic, dec[:i], dec[i+1:], rest
	case len(method) <= len(strBearer) && bytes.EqualFold(method, strBearer[:len(method)]):
		return authBearer, nil, nil, rest
	}
	return authNone, nil, nil, nil
}

func init() {
	authFetch := func(out smpType, min, max int, build func(c *compiler, args []string) (fetchFn, error)) *fetchDef {
		return &fetchDef{out: out, use: placeHTTPReqHdr, http: true, min: min, max: max, src: "HTTP request headers",
			build: func(c *compiler, args []string) (fetchFn, smpType, error) {
				fn, err := build(c, args)
				return fn, out, err
			}}
	}
	withList := func(fn func(ul *auth.Userlist) fetchFn) func(*compiler, []string) (fetchFn, error) {
		return func(c *compiler, args []string) (fetchFn, error) {
			if len(args) == 0 || args[0] == "" {
				return nil, fmt.Errorf("missing userlist name")
			}
			ul := c.userlist(args[0])
			if ul == nil {
				return nil, fmt.Errorf("unable to find userlist '%s'", args[0])
			}
			return fn(ul), nil
		}
	}
	fetches["http_auth"] = authFetch(tBool, 1, 1, withList(func(ul *auth.Userlist) fetchFn {
		return func(ev *evalCtx, _ *int) (sample, bool) {
			scheme, user, pass, _ := httpAuth(ev)
			if scheme != authBasic {
				return sample{}, false
			}
			return boolSample(ul.Check(user, pass)), true
		}
	}))
	// http_auth_group returns the user when the credentials are valid;
	// an ACL on it matches the user's groups (aclExpr.groups).
	fetches["http_auth_group"] = authFetch(tStr, 1, 1, withList(func(ul *auth.Userlist) fetchFn {
		return func(ev *evalCtx, _ *int) (sample, bool) {
			scheme, user, pass, _ := httpAuth(ev)
			if scheme != authBasic || !ul.Check(user, pass) {
				return sample{}, false
			}
			return strSample(user), true
		}
	}))
	plain := func(fn fetchFn) func(*compiler, []string) (fetchFn, error) {
		return func(*compiler, []string) (fetchFn, error) { return fn, nil }
	}
	fetches["http_auth_user"] = authFetch(tStr, 0, 0, plain(func(ev *evalCtx, _ *int) (sample, bool) {
		scheme, user, _, _ := httpAuth(ev)
		return strSample(user), scheme == authBasic
	}))
	fetches["http_auth_pass"] = authFetch(tStr, 0, 0, plain(func(ev *evalCtx, _ *int) (sample, bool) {
		scheme, _, pass, _ := httpAuth(ev)
		return strSample(pass), scheme == authBasic
	}))
	fetches["http_auth_type"] = authFetch(tStr, 0, 0, plain(func(ev *evalCtx, _ *int) (sample, bool) {
		switch scheme, _, _, _ := httpAuth(ev); scheme {
		case authBasic:
			return strSample(strBasic), true
		case authBearer:
			return strSample(strBearer), true
		}
		return sample{}, false
	}))
	fetches["http_auth_bearer"] = authFetch(tStr, 0, 1, func(c *compiler, args []string) (fetchFn, error) {
		if len(args) == 0 || args[0] == "" {
			return func(ev *evalCtx, _ *int) (sample, bool) {
				scheme, _, _, data := httpAuth(ev)
				return strSample(data), scheme == authBearer && len(data) > 0
			}, nil
		}
		name := args[0]
		return func(ev *evalCtx, _ *int) (sample, bool) {
			// Another field: its first value, "Bearer" in full.
			m := ev.msg(false)
			if m == nil {
				return sample{}, false
			}
			v, ok := firstHdr(m.Header.Fields, name)
			if !ok {
				return sample{}, false
			}
			typ, rest, _ := bytes.Cut(v, []byte(" "))
			rest = bytes.TrimLeft(rest, " ")
			return strSample(rest), bytes.EqualFold(typ, strBearer) && len(rest) > 0
		}, nil
	})
}

// authGroups is the match of an http_auth_group ACL: the user the fetch
// returned belongs to one of the groups (pat_match_auth).
type authGroups struct {
	ul     *auth.Userlist
	groups []string
}

// compileAuthGroups checks the groups of an http_auth_group ACL.
func (c *compiler) compileAuthGroups(e *expr, args, groups []string) (*authGroups, error) {
	ul := c.userlist(args[0])
	cu := c.cfg.Userlists[args[0]]
	for _, g := range groups {
		if cu == nil || cu.Group(g) == nil {
			return nil, fmt.Errorf("proxy %s: acl %s %s(): invalid group '%s'", c.px.Name, "", e.kw, g)
		}
	}
	return &authGroups{ul: ul, groups: groups}, nil
}
