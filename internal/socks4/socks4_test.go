package socks4

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestRequest: the bytes HAProxy 2.6 sends for 192.0.2.7:8443, captured from it.
func TestRequest(t *testing.T) {
	got, err := Request(netip.MustParseAddrPort("192.0.2.7:8443"))
	want := []byte("\x04\x01\x20\xfb\xc0\x00\x02\x07HAProxy\x00")
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("Request = %q, %v; want %q", got, err, want)
	}
	if _, err := Request(netip.MustParseAddrPort("[::1]:80")); !errors.Is(err, ErrNotIPv4) {
		t.Errorf("Request(IPv6) = %v; want ErrNotIPv4", err)
	}
}

func TestConnect(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply []byte
		want  error
	}{
		{"granted", []byte{0, 90, 0, 0, 0, 0, 0, 0}, nil},
		{"rejected", []byte{0, 91, 0, 0, 0, 0, 0, 0}, ErrDeny},
		{"closed", []byte{0, 90}, ErrAbort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			go func() {
				buf := make([]byte, 16)
				io.ReadFull(b, buf)
				b.Write(tc.reply)
				b.Close()
			}()
			err := Connect(a, netip.MustParseAddrPort("192.0.2.7:8443"), time.Now().Add(2*time.Second))
			if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
				t.Errorf("Connect = %v; want %v", err, tc.want)
			}
		})
	}
}
