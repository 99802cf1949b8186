package rules

import (
	"testing"
)

// TestURLAddr: url_ip and url_port read the address of an absolute URL as HAProxy 2.6's
// url2sa: http or https, a dotted IPv4 host, the port or the scheme's.
func TestURLAddr(t *testing.T) {
	for _, tc := range []struct {
		uri  string
		want string // "" = no sample
	}{
		{"http://192.0.2.7/x", "192.0.2.7:80"},
		{"HTTP://192.0.2.7:8080/x?y", "192.0.2.7:8080"},
		{"https://192.0.2.7/", "192.0.2.7:443"},
		{"http://192.0.2.7:81", "192.0.2.7:81"},
		{"http://example.com/", ""},
		{"http://[::1]:80/", ""},
		{"ftp://192.0.2.7/", ""},
		{"/192.0.2.7/", ""},
		{"http://300.0.0.1/", ""},
	} {
		a, ok := urlAddr([]byte(tc.uri))
		got := ""
		if ok {
			got = a.String()
		}
		if got != tc.want {
			t.Errorf("urlAddr(%q) = %q; want %q", tc.uri, got, tc.want)
		}
	}
}
