package wordfp

import "testing"

func TestDistance(t *testing.T) {
	a, b := Of("timeout"), Of("tiemout")
	if d := a.Distance(&a); d != 0 {
		t.Errorf("distance of a word to itself: %d", d)
	}
	// A swap of two letters is nearer than another word.
	o := Of("bind")
	if d, far := a.Distance(&b), a.Distance(&o); d == 0 || d >= far {
		t.Errorf("timeout ~ tiemout: %d, timeout ~ bind: %d", d, far)
	}
	c, e := Of("maxconn"), Of("max-conn")
	if d := c.Distance(&e); d == 0 {
		t.Error("maxconn ~ max-conn: 0, want more")
	}
	var two Fingerprint
	two.Update("show")
	two.Update("stat")
	one := Of("show")
	if two.Distance(&one) == 0 {
		t.Error("two words fingerprint as one")
	}
}
