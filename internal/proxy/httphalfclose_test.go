package proxy

import (
	"io"
	"strings"
	"testing"
	"time"
)

// TestHTTPHalfClosedRequest: a client that half-closes before a complete request head (an
// empty first request, half a head, half a head after a first request) gets HAProxy's 400
// and is logged 400 CR; one that half-closes between requests gets nothing and no log.
// Issue 16 (found by the slow-client soak: lb closed without the 400 HAProxy sends).
func TestHTTPHalfClosedRequest(t *testing.T) {
	const first = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
	cases := []struct {
		name, before, partial string
		want400               bool
	}{
		{"empty first", "", "", true},
		{"half a head", "", "GET /b HTTP/1.1\r\nHo", true},
		{"one byte", "", "G", true},
		{"half a second head", first, "GET /b HTTP/1.1\r\nHo", true},
		{"nothing after a request", first, "", false},
	}
	w := httpWorld(t, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := w.dial()
			defer c.Close()
			io.WriteString(c, tc.before+tc.partial)
			if err := c.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			got := string(b)
			if tc.before != "" {
				if !strings.HasPrefix(got, "HTTP/1.1 200") {
					t.Fatalf("first answer %q; want a 200", got)
				}
				if r := w.nextLog(); r.HTTP.Status != 200 {
					t.Errorf("first request logged %d; want 200", r.HTTP.Status)
				}
				_, got, _ = strings.Cut(got[1:], "HTTP/1.1 ")
				if got != "" {
					got = "HTTP/1.1 " + got
				}
			}
			if has := strings.HasPrefix(got, "HTTP/1.1 400 Bad request\r\n"); has != tc.want400 {
				t.Errorf("answer %q; want a 400: %v", got, tc.want400)
			}
			if tc.want400 {
				if r := w.nextLog(); r.HTTP.Status != 400 || r.Termination != "CR" {
					t.Errorf("logged %d %s; want 400 CR", r.HTTP.Status, r.Termination)
				}
			}
		})
	}
}
