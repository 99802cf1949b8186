package plane

import (
	"fmt"
	"lb/internal/cache"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"lb/internal/config"
	"lb/internal/http1"
	"lb/internal/proxy"
)

// connMode is the HTTP connection mode a proxy's options set.
func connMode(px *config.Proxy) proxy.HTTPConnMode {
	switch {
	case px.Options["httpclose"]:
		return proxy.Close
	case px.Options["http-server-close"]:
		return proxy.ServerClose
	}
	return proxy.KeepAlive
}

// forwardfor converts "option forwardfor"; the except network was checked
// by CheckHTTP.
func forwardfor(px *config.Proxy) *proxy.Forwardfor { return convertFF(px.Forwardfor) }

// originalto converts "option originalto" (checked by the parser).
func originalto(px *config.Proxy) *proxy.Forwardfor { return convertFF(px.Originalto) }

func convertFF(ff *config.Forwardfor) *proxy.Forwardfor {
	if ff == nil {
		return nil
	}
	out := &proxy.Forwardfor{Header: ff.Header, IfNone: ff.IfNone}
	if ff.Except != "" {
		out.Except, _ = parseNet(ff.Except)
	}
	return out
}

// parseNet reads an address or a network as HAProxy writes them ("10.0.0.0/8",
// "127.0.0.1", "10.0.0.0/255.0.0.0").
func parseNet(s string) (netip.Prefix, error) {
	if a, m, ok := strings.Cut(s, "/"); ok {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return netip.Prefix{}, err
		}
		if bits, err := strconv.Atoi(m); err == nil {
			return ip.Prefix(bits)
		}
		mask, err := netip.ParseAddr(m)
		if err != nil || !mask.Is4() {
			return netip.Prefix{}, fmt.Errorf("invalid mask %q", m)
		}
		b := mask.As4()
		ones := 0
		for _, x := range b {
			for i := 7; i >= 0; i-- {
				if x&(1<<i) != 0 {
					ones++
				}
			}
		}
		return ip.Prefix(ones)
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

// maxHeaders is tune.http.maxhdr: HAProxy's default, 101, as lb refuses the
// keyword yet.
func maxHeaders(*config.Config) int { return 101 }

// httpFrontend is the HTTP configuration of a mode http frontend.
func httpFrontend(cfg *config.Config, fe *config.Proxy) *proxy.HTTPFrontendConfig {
	h := &proxy.HTTPFrontendConfig{
		TimeoutRequest:   fe.Timeouts.HTTPRequest,
		TimeoutKeepAlive: fe.Timeouts.HTTPKeepAlive,
		Mode:             connMode(fe),
		Forwardfor:       forwardfor(fe),
		Originalto:       originalto(fe),
		TimeoutTarpit:    tarpitTimeout(fe),
		Parse:            http1.Options{AcceptInvalid: fe.Options["accept-invalid-http-request"], MaxHeaders: maxHeaders(cfg)},
		MonitorURI:       fe.MonitorURI,
		UniqueIDHeader:   fe.UniqueIDHeader,
		BufferRequest:    fe.Options["http-buffer-request"],
		Compression:      compression(cfg, fe),
	}
	h.ErrorFiles, _ = loadErrorFiles(fe) // checked by CheckHTTP
	h.ErrorLocs = errorLocs(fe)
	if cc := fe.CaptureCookie; cc != nil {
		h.CaptureCookie, h.CaptureCookieLen = cc.Name, cc.Len
	}
	for _, c := range fe.Captures {
		// The slots of "declare capture" and "http-request capture … len"
		// have no header name: the rules fill them.
		n, _ := strconv.Atoi(c.Args[1])
		cp := proxy.Capture{Name: c.Args[0], Len: n}
		if strings.HasPrefix(c.Action, "request ") {
			h.CaptureRequest = append(h.CaptureRequest, cp)
		} else {
			h.CaptureResponse = append(h.CaptureResponse, cp)
		}
	}
	return h
}

// httpBackend is the HTTP configuration of a backend (Enabled only in mode
// http).
func httpBackend(cfg *config.Config, px *config.Proxy) proxy.HTTPBackendConfig {
	if px.Mode != config.ModeHTTP {
		return proxy.HTTPBackendConfig{}
	}
	ef, _ := loadErrorFiles(px) // checked by CheckHTTP
	return proxy.HTTPBackendConfig{
		Enabled:           true,
		PreferLastServer:  px.Options["prefer-last-server"],
		MaxKeepAliveQueue: px.MaxKeepAliveQueue,
		SendNameHeader:    px.SendNameHeader,
		BufferRequest:     px.Options["http-buffer-request"],
		Mode:              connMode(px),
		Forwardfor:        forwardfor(px),
		Originalto:        originalto(px),
		TimeoutTarpit:     tarpitTimeout(px),
		Reuse:             httpReuse(px.HTTPReuse),
		Parse:             http1.Options{AcceptInvalid: px.Options["accept-invalid-http-response"], MaxHeaders: maxHeaders(cfg)},
		ErrorFiles:        ef,
		ErrorLocs:         errorLocs(px),
		Compression:       compression(cfg, px),
	}
}

// compression is the proxy's "compression" lines, nil when it has none.
func compression(cfg *config.Config, px *config.Proxy) *proxy.CompressionConfig {
	c := px.Compression
	if len(c.Algos) == 0 && len(c.Types) == 0 && !c.Offload {
		return nil
	}
	cc := &proxy.CompressionConfig{Types: c.Types, Offload: c.Offload, Level: cfg.Global.CompMaxLevel}
	for _, a := range c.Algos {
		switch a {
		case "identity":
			cc.Algos = append(cc.Algos, proxy.CompIdentity)
		case "gzip":
			cc.Algos = append(cc.Algos, proxy.CompGzip)
		case "deflate":
			cc.Algos = append(cc.Algos, proxy.CompDeflate)
		case "raw-deflate":
			cc.Algos = append(cc.Algos, proxy.CompRawDeflate)
		}
	}
	return cc
}

// tarpitTimeout is how long the proxy's tarpit rules hold a request:
// "timeout tarpit", else "timeout connect", as HAProxy 2.6 defaults it.
func tarpitTimeout(px *config.Proxy) time.Duration {
	if t := px.Timeouts.Tarpit; t > 0 {
		return t
	}
	return px.Timeouts.Connect
}

// httpReuse converts "http-reuse" (checked by the parser).
func httpReuse(mode string) proxy.HTTPReuse {
	switch mode {
	case "never":
		return proxy.ReuseNever
	case "aggressive":
		return proxy.ReuseAggressive
	case "always":
		return proxy.ReuseAlways
	}
	return proxy.ReuseSafe
}

// errorLocs converts the proxy's errorloc lines.
func errorLocs(px *config.Proxy) map[int]proxy.ErrorLoc {
	if len(px.ErrorLocs) == 0 {
		return nil
	}
	out := make(map[int]proxy.ErrorLoc, len(px.ErrorLocs))
	for code, el := range px.ErrorLocs {
		out[code] = proxy.ErrorLoc{Code: el.Code, URL: []byte(el.URL)}
	}
	return out
}

// loadErrorFiles reads the proxy's errorfiles, each of which must be a
// complete HTTP response.
func loadErrorFiles(px *config.Proxy) (map[int][]byte, error) {
	if len(px.ErrorFiles) == 0 {
		return nil, nil
	}
	out := make(map[int][]byte, len(px.ErrorFiles))
	for code, path := range px.ErrorFiles {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: errorfile : error opening file '%s'.", px.Pos, path)
		}
		if err := proxy.ParseErrorFile(b); err != nil {
			return nil, fmt.Errorf("%s: errorfile : '%s' is not a valid HTTP response: %v", px.Pos, path, err)
		}
		out[code] = b
	}
	return out, nil
}

// httpUnsupported are the options that take effect in mode http which lb's
// HTTP plane does not carry out yet: a mode http proxy that sets one is
// refused, by name, rather than run without it.
var httpUnsupported = []string{"checkcache", "http-ignore-probes",
	"http-no-delay", "http-pretend-keepalive", "http-use-proxy-header", "disable-h2-upgrade",
	"h1-case-adjust-bogus-client", "h1-case-adjust-bogus-server", "idle-close-on-response",
	"persist", "abortonclose"}

// CheckHTTP returns an error for every HTTP keyword of a mode http proxy that
// lb accepts in the configuration but does not carry out yet, each as
// "file:line: 'KEYWORD' is not supported by lb yet".
func CheckHTTP(cfg *config.Config) []error {
	var errs []error
	refuse := func(pos config.Pos, what string) {
		errs = append(errs, fmt.Errorf("%s: '%s' is not supported by lb yet", pos, what))
	}
	// close-spread-time spreads the closing of HTTP connections over a
	// window on soft stop; lb closes them all at once. The line is the
	// global section's: the keyword's own is not kept.
	if cfg.Global.CloseSpreadTime > 0 {
		for _, px := range cfg.Proxies {
			if !px.Disabled && px.Mode == config.ModeHTTP {
				refuse(cfg.Global.Pos, "close-spread-time")
				break
			}
		}
	}
	for _, px := range cfg.Proxies {
		if px.Disabled || px.Mode != config.ModeHTTP {
			continue
		}
		for _, o := range httpUnsupported {
			if px.Options[o] {
				refuse(px.Pos, "option "+o)
			}
		}
		// The HTTP handler does not inspect the raw response before its
		// HTTP processing, as HAProxy's tcp-response rules do there.
		for _, r := range px.TCPResponse {
			refuse(r.Pos, "tcp-response "+r.Action)
		}
		errs = append(errs, checkCookie(px)...)
		if px.Stats.Enabled {
			// The page is carried out (stats.go, statsadmin.go) but for its
			// own rules.
			for _, r := range px.Stats.HTTPRequest {
				refuse(r.Pos, "stats http-request")
			}
		}
		if _, err := loadErrorFiles(px); err != nil {
			errs = append(errs, err)
		}
		if px.Balance.Algorithm == "url_param" && len(px.Balance.Args) > 1 && px.Balance.Args[1] != "check_post" {
			refuse(px.Balance.Pos, "balance url_param "+px.Balance.Args[1])
		}
		if ff := px.Forwardfor; ff != nil && ff.Except != "" {
			if _, err := parseNet(ff.Except); err != nil {
				errs = append(errs, fmt.Errorf("%s: 'option forwardfor' : invalid network '%s'", px.Pos, ff.Except))
			}
		}
	}
	return errs
}

// caches returns the generation's caches, one per "cache" section of
// cfg, made empty the first time (nil when cfg has none): a new
// generation starts with empty caches.
func (g *Generation) caches(cfg *config.Config) map[string]*cache.Cache {
	if len(cfg.Caches) == 0 {
		return nil
	}
	g.cacheOnce.Do(func() {
		g.cacheSet = map[string]*cache.Cache{}
		for name, c := range cfg.Caches {
			g.cacheSet[name] = cache.New(cache.Config{Name: name, TotalMaxSize: c.TotalMaxSize,
				MaxObjectSize: c.MaxObjectSize, MaxAge: time.Duration(c.MaxAge) * time.Second,
				ProcessVary: c.ProcessVary, MaxSecondaryEntries: c.MaxSecondaryEntries})
		}
	})
	return g.cacheSet
}
