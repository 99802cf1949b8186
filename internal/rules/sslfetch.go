package rules

import (
	"crypto/sha1"
	"crypto/x509"
	"fmt"
	"strconv"

	"lb/internal/tlsconf"
)

// This file holds the fetches of the client connection's TLS layer
// (HAProxy's ssl_fc* and ssl_c_*), read from Stream.TLS. As in HAProxy,
// ssl_fc is false on a connection without TLS, and the others find
// nothing there; the ssl_c_* fetches find nothing without a client
// certificate.

func addSSLFetches(m map[string]*fetchDef) {
	tlsFetch := func(out smpType, fn func(ev *evalCtx) (sample, bool)) *fetchDef {
		return &fetchDef{out: out, use: placeAll, build: func(*compiler, []string) (fetchFn, smpType, error) {
			return func(ev *evalCtx, _ *int) (sample, bool) {
				if ev.s.TLS == nil {
					return sample{}, false
				}
				return fn(ev)
			}, out, nil
		}}
	}
	cert := func(out smpType, fn func(ev *evalCtx, c *x509.Certificate) (sample, bool)) *fetchDef {
		return tlsFetch(out, func(ev *evalCtx) (sample, bool) {
			if len(ev.s.TLS.PeerCertificates) == 0 {
				return sample{}, false
			}
			return fn(ev, ev.s.TLS.PeerCertificates[0])
		})
	}
	strOK := func(ev *evalCtx, s string, ok bool) (sample, bool) {
		if !ok || s == "" {
			return sample{}, false
		}
		return ev.str(s), true
	}
	keysize := func(alg bool) *fetchDef {
		return tlsFetch(tInt, func(ev *evalCtx) (sample, bool) {
			use, algBits, ok := tlsconf.CipherBits(ev.s.TLS.CipherSuite)
			if alg {
				use = algBits
			}
			return intSample(int64(use)), ok
		})
	}
	date := func(after bool) *fetchDef {
		return cert(tStr, func(ev *evalCtx, c *x509.Certificate) (sample, bool) {
			t := c.NotBefore
			if after {
				t = c.NotAfter
			}
			s, ok := tlsconf.ASN1Time(t)
			return strOK(ev, s, ok)
		})
	}
	for k, d := range map[string]*fetchDef{
		"ssl_fc": {out: tBool, use: placeAll, build: func(*compiler, []string) (fetchFn, smpType, error) {
			return func(ev *evalCtx, _ *int) (sample, bool) { return boolSample(ev.s.TLS != nil), true }, tBool, nil
		}},
		"ssl_fc_sni": tlsFetch(tStr, func(ev *evalCtx) (sample, bool) { return strOK(ev, ev.s.TLS.ServerName, true) }),
		"ssl_fc_has_sni": tlsFetch(tBool, func(ev *evalCtx) (sample, bool) {
			return boolSample(ev.s.TLS.ServerName != ""), true
		}),
		"ssl_fc_protocol": tlsFetch(tStr, func(ev *evalCtx) (sample, bool) {
			return strOK(ev, tlsconf.VersionName(ev.s.TLS.Version), true)
		}),
		"ssl_fc_cipher": tlsFetch(tStr, func(ev *evalCtx) (sample, bool) {
			return strOK(ev, tlsconf.CipherName(ev.s.TLS.CipherSuite), true)
		}),
		"ssl_fc_alpn": tlsFetch(tStr, func(ev *evalCtx) (sample, bool) {
			return strOK(ev, ev.s.TLS.NegotiatedProtocol, true)
		}),
		// The connection's error codes (HAProxy's conn->err_code and
		// OpenSSL's first error of the handshake) are those of a
		// connection that failed before it became a session: a session
		// has none, "Success" and no string. Nor does its client
		// certificate, verified or not: lb refuses crt-ignore-err and
		// ca-ignore-err, so a certificate OpenSSL would fail fails the
		// handshake, and a session's ssl_c_err, ssl_c_ca_err and
		// ssl_c_ca_err_depth are 0, as HAProxy's are then.
		"fc_err": {out: tInt, use: placeAll, build: func(*compiler, []string) (fetchFn, smpType, error) {
			return func(*evalCtx, *int) (sample, bool) { return intSample(0), true }, tInt, nil
		}},
		"fc_err_str": {out: tStr, use: placeAll, build: func(*compiler, []string) (fetchFn, smpType, error) {
			return func(ev *evalCtx, _ *int) (sample, bool) { return ev.str("Success"), true }, tStr, nil
		}},
		"ssl_fc_err":         tlsFetch(tInt, func(*evalCtx) (sample, bool) { return intSample(0), true }),
		"ssl_fc_err_str":     tlsFetch(tStr, func(*evalCtx) (sample, bool) { return sample{}, false }),
		"ssl_c_err":          tlsFetch(tInt, func(*evalCtx) (sample, bool) { return intSample(0), true }),
		"ssl_c_ca_err":       tlsFetch(tInt, func(*evalCtx) (sample, bool) { return intSample(0), true }),
		"ssl_c_ca_err_depth": tlsFetch(tInt, func(*evalCtx) (sample, bool) { return intSample(0), true }),
		// HAProxy answers false on a connection without TLS, as ssl_fc.
		"ssl_fc_is_resumed": {out: tBool, use: placeAll, build: func(*compiler, []string) (fetchFn, smpType, error) {
			return func(ev *evalCtx, _ *int) (sample, bool) {
				return boolSample(ev.s.TLS != nil && ev.s.TLS.DidResume), true
			}, tBool, nil
		}},
		"ssl_fc_use_keysize": keysize(false),
		"ssl_fc_alg_keysize": keysize(true),
		// HAProxy: the certificate is not part of a resumed session's
		// connection, unlike ssl_c_used.
		"ssl_fc_has_crt": tlsFetch(tBool, func(ev *evalCtx) (sample, bool) {
			return boolSample(len(ev.s.TLS.PeerCertificates) > 0 && !ev.s.TLS.DidResume), true
		}),
		"ssl_c_used": tlsFetch(tBool, func(ev *evalCtx) (sample, bool) {
			return boolSample(len(ev.s.TLS.PeerCertificates) > 0), true
		}),
		// OpenSSL's X509_V_OK (0) for no certificate and for a verified
		// one; an unverified certificate (verify none) has no result lb
		// knows, where OpenSSL would give its error code: nothing.
		"ssl_c_verify": tlsFetch(tInt, func(ev *evalCtx) (sample, bool) {
			st := ev.s.TLS
			return intSample(0), len(st.PeerCertificates) == 0 || len(st.VerifiedChains) > 0
		}),
		"ssl_c_s_dn": dnFetch(false),
		"ssl_c_i_dn": dnFetch(true),
		"ssl_c_serial": cert(tBin, func(ev *evalCtx, c *x509.Certificate) (sample, bool) {
			p := ev.next()
			*p = c.SerialNumber.FillBytes(append(*p, make([]byte, (c.SerialNumber.BitLen()+7)/8)...))
			return binSample(*p), true
		}),
		"ssl_c_sha1": cert(tBin, func(ev *evalCtx, c *x509.Certificate) (sample, bool) {
			sum := sha1.Sum(c.Raw)
			p := ev.next()
			*p = append(*p, sum[:]...)
			return binSample(*p), true
		}),
		"ssl_c_der": cert(tBin, func(ev *evalCtx, c *x509.Certificate) (sample, bool) {
			return binSample(c.Raw), true
		}),
		"ssl_c_notbefore": date(false),
		"ssl_c_notafter":  date(true),
		"ssl_c_version": cert(tInt, func(ev *evalCtx, c *x509.Certificate) (sample, bool) {
			return intSample(int64(c.Version)), true
		}),
		"ssl_c_sig_alg": cert(tStr, func(ev *evalCtx, c *x509.Certificate) (sample, bool) {
			s, ok := tlsconf.SigAlgName(c.SignatureAlgorithm)
			return strOK(ev, s, ok)
		}),
		"ssl_c_key_alg": cert(tStr, func(ev *evalCtx, c *x509.Certificate) (sample, bool) {
			s, ok := tlsconf.KeyAlgName(c.PublicKeyAlgorithm)
			return strOK(ev, s, ok)
		}),
	} {
		m[k] = d
	}
}

// dnFetch is ssl_c_s_dn or ssl_c_i_dn([<entry>[,<occ>[,<format>]]]): the
// whole DN in HAProxy's default one-line form or in "rfc2253", or the
// value of one entry.
func dnFetch(issuer bool) *fetchDef {
	return &fetchDef{out: tStr, use: placeAll, max: 3, build: func(c *compiler, args []string) (fetchFn, smpType, error) {
		entry, occ, format := "", 1, ""
		if len(args) > 0 {
			entry = args[0]
		}
		if len(args) > 1 {
			n, err := strconv.Atoi(args[1])
			if err != nil {
				return nil, 0, fmt.Errorf("invalid occurrence '%s'", args[1])
			}
			occ = n
		}
		if len(args) > 2 {
			format = args[2]
			if format != "rfc2253" && format != "" {
				return nil, 0, fmt.Errorf("unsupported format '%s', only 'rfc2253' is", format)
			}
		}
		return func(ev *evalCtx, _ *int) (sample, bool) {
			st := ev.s.TLS
			if st == nil || len(st.PeerCertificates) == 0 {
				return sample{}, false
			}
			raw := st.PeerCertificates[0].RawSubject
			if issuer {
				raw = st.PeerCertificates[0].RawIssuer
			}
			var s string
			var ok bool
			switch {
			case entry != "":
				s, ok = tlsconf.DNEntry(raw, entry, occ)
			case format == "rfc2253":
				s, ok = tlsconf.DNRFC2253(raw)
			default:
				s, ok = tlsconf.DNOneLine(raw)
			}
			if !ok || s == "" {
				return sample{}, false
			}
			return ev.str(s), true
		}, tStr, nil
	}}
}
