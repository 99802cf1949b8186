package http1

// Stubs: replaced by the parser's implementation.

func parseRequest(b []byte, m *Message, opt *Options) (int, error) { panic("todo") }
func parseResponse(b []byte, m *Message, method []byte, opt *Options) (int, error) {
	panic("todo")
}
func tooLarge(b []byte, request bool) *Error                  { panic("todo") }
func appendRequest(dst []byte, m *Message, conn string) []byte  { panic("todo") }
func appendResponse(dst []byte, m *Message, conn string) []byte { panic("todo") }
func (s *ChunkScanner) scan(p []byte) (int, bool, error)       { panic("todo") }

// Reset empties h, keeping its storage.
func (h *Header) Reset() { panic("todo") }

// Len returns the number of fields.
func (h *Header) Len() int { panic("todo") }

// Get returns the value of the first field called name (any case).
func (h *Header) Get(name string) ([]byte, bool) { panic("todo") }

// Index returns the index of the first field called name at or after
// from, or -1.
func (h *Header) Index(name string, from int) int { panic("todo") }

// Add appends the field name: value, copied into h's arena.
func (h *Header) Add(name string, value []byte) { panic("todo") }

// Set removes every field called name and appends name: value.
func (h *Header) Set(name string, value []byte) { panic("todo") }

// Del removes every field called name and returns how many there were.
func (h *Header) Del(name string) int { panic("todo") }

// SetValue replaces the value of field i (copied into h's arena).
func (h *Header) SetValue(i int, value []byte) { panic("todo") }

// DelAt removes field i, keeping the order of the others.
func (h *Header) DelAt(i int) { panic("todo") }
