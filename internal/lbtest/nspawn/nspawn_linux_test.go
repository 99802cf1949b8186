package nspawn

import "testing"

func TestParseNSpidIsOne(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status string
		want   bool
	}{
		{"nested init", "Name:\tsystemd\nNSpid:\t10181\t1\n", true},
		{"nested other", "NSpid:\t10190\t7\n", false},
		{"host process", "NSpid:\t4242\n", false},
		{"host init", "NSpid:\t1\n", false},
		{"no field", "Name:\tx\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseNSpidIsOne(tc.status); got != tc.want {
				t.Errorf("parseNSpidIsOne(%q) = %v; want %v", tc.status, got, tc.want)
			}
		})
	}
}

func TestPath(t *testing.T) {
	c := &Container{Root: "/tmp/x/root"}
	for _, tc := range []struct{ in, want string }{
		{"/etc/lb/lb.cfg", "/tmp/x/root/etc/lb/lb.cfg"},
		{"etc/lb", "/tmp/x/root/etc/lb"},
		{"/../../etc/passwd", "/tmp/x/root/etc/passwd"},
	} {
		if got := c.Path(tc.in); got != tc.want {
			t.Errorf("Path(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}
