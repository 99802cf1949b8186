package plane

import (
	"fmt"
	"strconv"

	"lb/internal/config"
	"lb/internal/proxy"
)

// cookieBackend sets the persistence cookie of backend bc from px: the
// backend's "cookie" line and its servers' "cookie" values (bc.Servers
// are px.Servers, in order). A backend without a cookie line has none:
// its servers' values are then unused, as in HAProxy.
func cookieBackend(px *config.Proxy, bc *proxy.BackendConfig) {
	if px.Mode != config.ModeHTTP || px.Cookie == nil {
		return
	}
	c := &proxy.CookieConfig{Name: px.Cookie.Name}
	opts := px.Cookie.Options
	for i := 0; i < len(opts); i++ {
		arg := ""
		if i+1 < len(opts) {
			arg = opts[i+1]
		}
		switch opts[i] {
		case "rewrite":
			c.Rewrite = true
		case "insert":
			c.Insert = true
		case "prefix":
			c.Prefix = true
		case "indirect":
			c.Indirect = true
		case "nocache":
			c.NoCache = true
		case "postonly":
			c.PostOnly = true
		case "preserve":
			c.Preserve = true
		case "httponly":
			c.HTTPOnly = true
		case "secure":
			c.Secure = true
		case "domain":
			c.Domains = append(c.Domains, arg)
			i++
		case "attr":
			c.Attrs = append(c.Attrs, arg)
			i++
		case "maxidle", "maxlife":
			n, _ := strconv.ParseInt(arg, 10, 64)
			if opts[i] == "maxidle" {
				c.MaxIdle = n
			} else {
				c.MaxLife = n
			}
			i++
		}
	}
	bc.HTTP.Cookie = c
	if len(bc.Servers) == len(px.Servers) {
		for i, s := range px.Servers {
			bc.Servers[i].Cookie = s.Cookie
		}
	}
}

// cookieUnsupported are the options of "cookie" lb does not carry out
// yet: "dynamic" (cookie values from a key), and those the HTTP handler
// does not give the cookie code what it needs for yet (the request's
// method and the dates of the client's cookie at response time).
var cookieUnsupported = map[string]bool{"dynamic": true, "postonly": true, "maxidle": true, "maxlife": true}

// checkCookie returns the refusals for the cookie persistence of mode
// http proxy px, as "file:line: 'KEYWORD' is not supported by lb yet".
// force-persist and ignore-persist rules are refused in a backend with a
// cookie: the HTTP handler does not pass their verdict to the cookie code
// yet.
func checkCookie(px *config.Proxy) []error {
	if px.Cookie == nil {
		return nil
	}
	var errs []error
	refuse := func(pos config.Pos, what string) {
		errs = append(errs, fmt.Errorf("%s: '%s' is not supported by lb yet", pos, what))
	}
	opts := px.Cookie.Options
	for i := 0; i < len(opts); i++ {
		switch opts[i] {
		case "domain", "attr":
			i++
		case "maxidle", "maxlife":
			refuse(px.Cookie.Pos, "cookie "+opts[i])
			i++
		default:
			if cookieUnsupported[opts[i]] {
				refuse(px.Cookie.Pos, "cookie "+opts[i])
			}
		}
	}
	for _, r := range px.PersistRules {
		if r.Ignore {
			refuse(r.Pos, "ignore-persist")
		} else {
			refuse(r.Pos, "force-persist")
		}
	}
	return errs
}
