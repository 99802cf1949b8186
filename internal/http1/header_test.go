package http1

import "testing"

func TestHeaderTable(t *testing.T) {
	var h Header
	buf := []byte("one")
	h.Add("Host", buf)
	h.Add("X-A", []byte("1"))
	h.Add("x-a", []byte("2"))
	copy(buf, "XXX") // Add copied the value: reusing the buffer is safe
	for _, c := range []struct {
		name  string
		want  string
		found bool
	}{
		{"host", "one", true}, {"HOST", "one", true}, {"x-a", "1", true}, {"X-B", "", false},
	} {
		v, ok := h.Get(c.name)
		if string(v) != c.want || ok != c.found {
			t.Errorf("Get(%q) = %q, %v, want %q, %v", c.name, v, ok, c.want, c.found)
		}
	}
	if h.Index("X-a", 2) != 2 || h.Index("X-a", 3) != -1 || h.Count("x-A") != 2 || h.Len() != 3 {
		t.Errorf("Index/Count/Len wrong: %s", fieldsString(&h))
	}
	h.Set("X-A", []byte("3"))
	if got := fieldsString(&h); got != "Host: one|X-A: 3" {
		t.Errorf("after Set: %q", got)
	}
	h.SetValue(0, []byte("two"))
	h.Add("Y", nil)
	if got := fieldsString(&h); got != "Host: two|X-A: 3|Y: " {
		t.Errorf("after SetValue: %q", got)
	}
	h.DelAt(1)
	if got := fieldsString(&h); got != "Host: two|Y: " {
		t.Errorf("after DelAt: %q", got)
	}
	if n := h.Del("y"); n != 1 || fieldsString(&h) != "Host: two" {
		t.Errorf("Del = %d, %q", n, fieldsString(&h))
	}
	h.Reset()
	if h.Len() != 0 {
		t.Errorf("Reset left %d fields", h.Len())
	}
}

// Fields keep their bytes while the arena grows and is appended to, and
// an append through a field cannot write into the arena.
func TestHeaderArenaAliasing(t *testing.T) {
	var h Header
	for i := 0; i < 200; i++ {
		h.Add("N", []byte{byte(i)})
	}
	first := h.Fields[0].Value
	_ = append(first, 'z') // capacity capped: must not touch the arena
	h.Add("M", []byte("next"))
	for i := 0; i < 200; i++ {
		if v := h.Fields[i].Value; len(v) != 1 || v[0] != byte(i) {
			t.Fatalf("field %d = %q", i, v)
		}
	}
	// Set with a value that points into the field it replaces.
	h.Set("N", h.Fields[5].Value)
	if v, _ := h.Get("n"); len(v) != 1 || v[0] != 5 {
		t.Errorf("Set from own value: %q", v)
	}
}

func TestHeaderNoAllocs(t *testing.T) {
	var h Header
	h.Add("Host", []byte("a"))
	h.Add("Content-Type", []byte("text/plain"))
	allocs := testing.AllocsPerRun(100, func() {
		h.Get("content-type")
		h.Index("x", 0)
		h.Del("x-missing")
		h.Count("host")
	})
	if allocs != 0 {
		t.Errorf("%v allocations", allocs)
	}
	// Once grown, Reset and Add reuse the storage.
	allocs = testing.AllocsPerRun(100, func() {
		h.Reset()
		h.Add("Host", []byte("a"))
		h.Set("Content-Type", []byte("text/plain"))
	})
	if allocs != 0 {
		t.Errorf("Reset/Add/Set: %v allocations", allocs)
	}
}

func TestTokens(t *testing.T) {
	for _, c := range []struct {
		v, tok string
		want   bool
	}{
		{"close", "close", true},
		{"Keep-Alive, Upgrade", "upgrade", true},
		{" foo ,\tCLOSE ", "close", true},
		{"\"a,close\", b", "close", false}, // a quoted comma splits nothing
		{"closed", "close", false},
		{"", "close", false},
		{",,", "close", false},
	} {
		if got := HasToken([]byte(c.v), c.tok); got != c.want {
			t.Errorf("HasToken(%q, %q) = %v", c.v, c.tok, got)
		}
	}
	if !EqualFold([]byte("Content-Length"), "content-length") || EqualFold([]byte("a"), "b") || EqualFold([]byte("ab"), "a") {
		t.Error("EqualFold")
	}
}

func TestValueEnd(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{"", 0}, {"a", 1}, {"a,b", 1}, {`"a,b",c`, 5}, {`"a\",b",c`, 7}, {`"unterminated,x`, 15}, {",", 0},
	} {
		if got := ValueEnd([]byte(c.in)); got != c.want {
			t.Errorf("ValueEnd(%q) = %d; want %d", c.in, got, c.want)
		}
	}
}
