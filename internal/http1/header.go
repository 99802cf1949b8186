package http1

// Reset empties h, keeping its storage: the Fields array and the arena
// are reused by the next message, so a Header reused from message to
// message stops allocating once it has grown to the largest message.
func (h *Header) Reset() {
	clear(h.Fields) // drop the references to the previous buffer
	h.Fields = h.Fields[:0]
	h.arena = h.arena[:0]
}

// Len returns the number of fields.
func (h *Header) Len() int { return len(h.Fields) }

// Get returns the value of the first field called name (any case).
func (h *Header) Get(name string) ([]byte, bool) {
	if i := h.Index(name, 0); i >= 0 {
		return h.Fields[i].Value, true
	}
	return nil, false
}

// Index returns the index of the first field called name (any case) at or
// after from, or -1.
func (h *Header) Index(name string, from int) int {
	if from < 0 {
		from = 0
	}
	for i := from; i < len(h.Fields); i++ {
		if EqualFold(h.Fields[i].Name, name) {
			return i
		}
	}
	return -1
}

// Count returns the number of fields called name (any case).
func (h *Header) Count(name string) int {
	n := 0
	for i := range h.Fields {
		if EqualFold(h.Fields[i].Name, name) {
			n++
		}
	}
	return n
}

// Add appends the field name: value, both copied into h's arena so that
// the caller may reuse value's buffer at once.
func (h *Header) Add(name string, value []byte) {
	n := h.storeString(name)
	v := h.store(value)
	h.Fields = append(h.Fields, Field{Name: n, Value: v})
}

// store copies p to the end of the arena and returns the copy. The copy's
// capacity is capped at its length: an append through a Field can never
// write into the arena, and a later store only writes past every copy
// made so far. When the arena grows, earlier copies keep pointing into the
// old array, which stays alive (and unchanged) as long as they do.
func (h *Header) store(p []byte) []byte {
	start := len(h.arena)
	h.arena = append(h.arena, p...)
	return h.arena[start:len(h.arena):len(h.arena)]
}

func (h *Header) storeString(s string) []byte {
	start := len(h.arena)
	h.arena = append(h.arena, s...)
	return h.arena[start:len(h.arena):len(h.arena)]
}

// Set removes every field called name and appends name: value.
func (h *Header) Set(name string, value []byte) {
	// value may point into a field that Del removes: copy it first.
	v := h.store(value)
	h.Del(name)
	n := h.storeString(name)
	h.Fields = append(h.Fields, Field{Name: n, Value: v})
}

// Del removes every field called name (any case), keeping the order of
// the others, and returns how many there were.
func (h *Header) Del(name string) int {
	j := 0
	for i := range h.Fields {
		if !EqualFold(h.Fields[i].Name, name) {
			h.Fields[j] = h.Fields[i]
			j++
		}
	}
	n := len(h.Fields) - j
	clear(h.Fields[j:])
	h.Fields = h.Fields[:j]
	return n
}

// SetValue replaces the value of field i (copied into h's arena).
func (h *Header) SetValue(i int, value []byte) {
	h.Fields[i].Value = h.store(value)
}

// DelAt removes field i, keeping the order of the others.
func (h *Header) DelAt(i int) {
	copy(h.Fields[i:], h.Fields[i+1:])
	h.Fields[len(h.Fields)-1] = Field{}
	h.Fields = h.Fields[:len(h.Fields)-1]
}
