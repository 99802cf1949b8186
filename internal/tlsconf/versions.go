package tlsconf

import (
	"crypto/tls"
	"fmt"
)

// Protocol versions as HAProxy numbers them (CONF_SSLV3 … CONF_TLSV13).
const (
	SSLv3 = iota + 1
	TLSv10
	TLSv11
	TLSv12
	TLSv13
)

var versionWords = [...]string{"", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"}
var versionFlags = [...]string{"", "sslv3", "tlsv10", "tlsv11", "tlsv12", "tlsv13"}
var versionIDs = [...]uint16{0, 0x0300, tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13}

// ParseVersion reads an ssl-min-ver/ssl-max-ver argument ("TLSv1.2").
func ParseVersion(s string) (int, bool) {
	for v := SSLv3; v <= TLSv13; v++ {
		if versionWords[v] == s {
			return v, true
		}
	}
	return 0, false
}

// Versions are the version keywords of a bind line (or of the global
// ssl-default-bind-options): the "no-*" words, and the bounds set by
// ssl-min-ver, ssl-max-ver and force-* (0 = unset).
type Versions struct {
	No       [TLSv13 + 1]bool
	Min, Max int
}

// Word applies a no-sslv3 … no-tlsv13 or force-sslv3 … force-tlsv13
// word; false when w is neither.
func (v *Versions) Word(w string) bool {
	for x := SSLv3; x <= TLSv13; x++ {
		switch w {
		case "no-" + versionFlags[x]:
			v.No[x] = true
			return true
		case "force-" + versionFlags[x]:
			v.Min, v.Max = x, x
			return true
		}
	}
	return false
}

// Inherit completes v with the global defaults: the "no-*" words add up,
// the bounds apply where the bind line sets none (HAProxy's
// ssl-default-bind-options).
func (v *Versions) Inherit(def Versions) {
	for x := range v.No {
		v.No[x] = v.No[x] || def.No[x]
	}
	if v.Min == 0 {
		v.Min = def.Min
	}
	if v.Max == 0 {
		v.Max = def.Max
	}
}

// VersionRange is what Resolve computes.
type VersionRange struct {
	// Min and Max are crypto/tls's bounds.
	Min, Max uint16
	// IgnoredNo is set when "no-*" words were ignored because bounds are
	// set (HAProxy warns).
	IgnoredNo bool
	// AmbiguousMin is set (to the minimum taken) when only a maximum
	// below the default minimum TLSv1.2 was given (HAProxy warns).
	AmbiguousMin string
}

// Resolve computes the range as HAProxy 2.6 does (ssl_sock_prepare_ctx):
// the "no-*" words count only without ssl-min-ver/ssl-max-ver/force-*;
// the default minimum is TLSv1.2. SSLv3 is never available (OpenSSL 3 is
// built without it, and crypto/tls does not implement it): a minimum of
// SSLv3 starts at TLSv1.0, and a range of SSLv3 only is empty. An empty
// range is an error, HAProxy's "all SSL/TLS versions are disabled".
func (v Versions) Resolve() (VersionRange, error) {
	var r VersionRange
	var off [TLSv13 + 1]bool
	anyNo := false
	for _, n := range v.No {
		anyNo = anyNo || n
	}
	if anyNo && (v.Min != 0 || v.Max != 0) {
		r.IgnoredNo = true
	} else {
		off = v.No
	}
	lo, hi := v.Min, v.Max
	if lo == 0 {
		if hi == 0 || hi >= TLSv12 {
			lo = TLSv12
		} else {
			lo = hi
			r.AmbiguousMin = versionWords[hi]
		}
	}
	min, max := 0, 0
	for x := SSLv3; x <= TLSv13; x++ {
		if x == SSLv3 || off[x] || x < lo || (hi != 0 && x > hi) {
			continue
		}
		if min == 0 {
			min = x
		}
		max = x
	}
	if min == 0 {
		return r, fmt.Errorf("all SSL/TLS versions are disabled")
	}
	r.Min, r.Max = versionIDs[min], versionIDs[max]
	return r, nil
}
