package stats

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// DefaultURI and DefaultRealm are HAProxy's defaults for "stats uri" and
// "stats realm".
const (
	DefaultURI   = "/haproxy?stats"
	DefaultRealm = "HAProxy Statistics"
)

// Config is a proxy's statistics page configuration.
type Config struct {
	// URI is the page's URI prefix ("" = DefaultURI).
	URI string
	// Realm is the authentication realm ("" = DefaultRealm).
	Realm string
	// Auths are the "user:password" accounts; none means no
	// authentication.
	Auths []string
	// Refresh is "stats refresh" (0: none), sent as a "refresh" header.
	Refresh time.Duration
	// HideVersion hides lb's version; ShowLegends shows addresses and
	// algorithms.
	HideVersion, ShowLegends bool
	// Node and Desc are shown in the page's title ("" = not shown).
	Node, Desc string
	// Scope are the proxies shown (none = all); Self is the name of the
	// proxy serving the page ("stats scope .").
	Scope []string
	Self  string
	// Version is what the page's heading says unless HideVersion.
	Version string
}

// Page answers the requests of one proxy's statistics page.
type Page struct {
	cfg   Config
	realm string
}

// NewPage returns the page of cfg.
func NewPage(cfg Config) *Page {
	if cfg.URI == "" {
		cfg.URI = DefaultURI
	}
	p := &Page{cfg: cfg, realm: cfg.Realm}
	if p.realm == "" {
		p.realm = DefaultRealm
	}
	return p
}

// unauthorizedBody is HAProxy's 401 page.
const unauthorizedBody = "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"

// Serve answers a request for the page: it returns the whole HTTP/1.1
// response, or nil when the request is not the page's (another method than
// GET, HEAD and POST, or a URI outside the page's prefix), as HAProxy's
// stats_check_uri decides. auth is the request's Authorization field (nil:
// none); closing adds "connection: close". snap is called only when the
// page is rendered.
func (p *Page) Serve(method, uri string, auth []byte, closing bool, snap func() *Snapshot) []byte {
	return p.ServeAdmin(method, uri, auth, closing, snap, nil)
}

// ServeAdmin is Serve with "stats admin": admin returns what the request
// may do, called once the request is known to be the page's (nil: nothing,
// as without "stats admin").
func (p *Page) ServeAdmin(method, uri string, auth []byte, closing bool, snap func() *Snapshot, adminOf func() *Admin) []byte {
	if method != "GET" && method != "HEAD" && method != "POST" {
		return nil
	}
	path := uri
	if strings.HasPrefix(p.cfg.URI, "/") {
		path = uriPath(uri)
	}
	if !strings.HasPrefix(path, p.cfg.URI) {
		return nil
	}
	if len(p.cfg.Auths) > 0 && !p.authorized(auth) {
		return p.response("401 Unauthorized", []string{
			"content-length: " + strconv.Itoa(len(unauthorizedBody)),
			"cache-control: no-cache",
			"content-type: text/html",
			`www-authenticate: Basic realm="` + p.realm + `"`,
		}, unauthorizedBody, method, closing)
	}
	rest := path[len(p.cfg.URI):]
	o := Options{ShowLegends: p.cfg.ShowLegends, Scope: p.cfg.Scope, Self: p.cfg.Self,
		HideDown: strings.Contains(rest, ";up"), HideMaint: strings.Contains(rest, ";no-maint")}
	// ";norefresh" counts only on a page that refreshes, as in HAProxy.
	noRefresh := p.cfg.Refresh >= time.Second && strings.Contains(rest, ";norefresh")
	refresh := p.cfg.Refresh >= time.Second && !noRefresh
	var admin *Admin
	if adminOf != nil {
		admin = adminOf()
	}
	allowed := admin != nil && admin.Allowed
	if method == "POST" {
		// HAProxy's stats_process_http_post, then a redirect to the page
		// with the verdict, so that reloading it does not post again;
		// without "stats admin" (or when its condition fails) every
		// action is denied.
		code := "DENY"
		if allowed {
			var gone bool
			if code, gone = admin.Post(); gone {
				return nil
			}
		}
		loc := p.cfg.URI + ";st=" + code
		if o.HideDown {
			loc += ";up"
		}
		if noRefresh {
			loc += ";norefresh"
		}
		return p.response("303 See Other", []string{
			"cache-control: no-cache",
			"content-type: text/plain",
			"content-length: 0",
			"location: " + loc,
		}, "", method, closing)
	}
	if strings.Contains(rest, ";typed") {
		body := "The typed statistics export is not supported by lb yet.\n"
		return p.response("501 Not Implemented", []string{
			"cache-control: no-cache",
			"content-type: text/plain",
			"content-length: " + strconv.Itoa(len(body)),
		}, body, method, closing)
	}
	var body []byte
	ctype := "text/plain"
	s := snap()
	switch {
	case strings.Contains(rest, ";json-schema"):
		ctype = "application/json"
		body = []byte(JSONSchema)
	case strings.Contains(rest, ";json"):
		ctype = "application/json"
		body = JSON(s, &o)
	case strings.Contains(rest, ";csv"):
		body = CSV(s, &o)
	default:
		ctype = "text/html"
		st := ""
		if i := strings.Index(rest, ";st="); i >= 0 {
			// HAProxy compares the 4 characters after "st=" with its
			// codes; any other is "UNKN".
			st = "UNKN"
			for _, c := range statusCodes {
				if strings.HasPrefix(rest[i+4:], c) {
					st = c
					break
				}
			}
		}
		pi := &PageInfo{URI: p.cfg.URI, Refresh: refresh, HideVersion: p.cfg.HideVersion,
			Version: p.cfg.Version, Node: p.cfg.Node, Desc: p.cfg.Desc, Status: st, Down: o.HideDown,
			NoRefresh: noRefresh}
		if allowed {
			pi.Actions = admin.Actions
		}
		body = HTML(s, &o, pi)
	}
	h := []string{"cache-control: no-cache", "content-type: " + ctype}
	if refresh {
		h = append(h, "refresh: "+strconv.Itoa(int(p.cfg.Refresh/time.Second)))
	}
	if closing {
		h = append(h, "connection: close")
		closing = false
	}
	h = append(h, "content-length: "+strconv.Itoa(len(body)))
	return p.response("200 OK", h, string(body), method, closing)
}

// response assembles a response; HEAD gets the head only.
func (p *Page) response(status string, header []string, body, method string, closing bool) []byte {
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + status + "\r\n")
	for _, h := range header {
		b.WriteString(h + "\r\n")
	}
	if closing {
		b.WriteString("connection: close\r\n")
	}
	b.WriteString("\r\n")
	if method != "HEAD" {
		b.WriteString(body)
	}
	return b.Bytes()
}

// authorized checks a Basic Authorization field against the accounts.
func (p *Page) authorized(auth []byte) bool {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(string(auth)), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return false
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return false
	}
	user, pass, ok := strings.Cut(string(dec), ":")
	if !ok {
		return false
	}
	for _, a := range p.cfg.Auths {
		u, pw, _ := strings.Cut(a, ":")
		if u == user && subtle.ConstantTimeCompare([]byte(pw), []byte(pass)) == 1 {
			return true
		}
	}
	return false
}

// uriPath returns the path (with the query) of a request target: an
// absolute-form target loses its scheme and authority, as HAProxy's
// http_parse_path does.
func uriPath(uri string) string {
	if strings.HasPrefix(uri, "/") {
		return uri
	}
	i := strings.Index(uri, "://")
	if i <= 0 {
		return ""
	}
	rest := uri[i+3:]
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		return rest[j:]
	}
	return ""
}
