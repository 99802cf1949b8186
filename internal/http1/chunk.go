package http1

// ChunkScanner states: where the next byte falls.
const (
	csSize    = iota // chunk-size digits (none yet when digits == 0)
	csSizeSP         // blanks after the digits
	csExt            // a chunk extension, up to CR or LF
	csSizeLF         // after the size line's CR: LF expected
	csData           // chunk data: size bytes left
	csDataCR         // after the data: CR or LF expected
	csDataLF         // after the data's CR: LF expected
	csTrFirst        // start of the first trailer line, or the empty line
	csTrNext         // start of a later trailer line (a blank folds it)
	csTrName         // a trailer's name
	csTrValue        // a trailer's value
	csTrLF           // after a trailer line's CR: LF expected
	csEndLF          // after the final empty line's CR: LF expected
	csDone
	csFailed
)

// Limits. HAProxy 2.6's h1_parse_chunk_size refuses a size of 2^52 or
// more ("never feed possibly bogus values from languages that use floats
// for their integers"), leading zeros being free; measured: 13 f's pass,
// "10000000000000" is a 400, 23 zeros and a 3 pass. The size line and the
// trailers must fit in HAProxy's buffer (a 20 kB extension or trailer is a
// 400, 10 kB pass); lb bounds each at 16384 bytes.
const (
	maxChunkSize = 1 << 52
	maxChunkLine = 16384
	maxTrailers  = 16384
)

// scan is the state machine of Scan. The rules are HAProxy 2.6's
// (h1_parse_chunk_size, h1_skip_chunk_crlf, and the field parser for the
// trailers), measured with 2.6.12: bare LF ends any line; blanks may
// follow the size, not precede it; an extension runs from ';' to the line
// end and may hold anything but CR not followed by LF; the data must be
// followed by CRLF or LF; trailers are field lines (a tchar name, a colon;
// an empty name or a first line starting with a blank is an error, a
// later one folds). Unlike 2.6.12, a NUL in a trailer is refused, as in
// header fields. Errors have Status 400, Pos relative to p: the proxy
// answers 502 when the body is a response's.
func (s *ChunkScanner) scan(p []byte) (int, bool, error) {
	i := 0
	for i < len(p) {
		c := p[i]
		switch s.state {
		case csSize:
			if class[c]&cHex != 0 {
				s.size = s.size<<4 | int64(unhex(c))
				if s.size >= maxChunkSize {
					return s.fail(i, "chunk size too large")
				}
				s.digits++
				break
			}
			if s.digits == 0 {
				return s.fail(i, "invalid chunk size")
			}
			switch {
			case isSPHT(c):
				s.state = csSizeSP
			case c == ';':
				s.state = csExt
			case c == '\r':
				s.state = csSizeLF
			case c == '\n':
				s.sizeDone()
			default:
				return s.fail(i, "invalid chunk size")
			}
		case csSizeSP:
			switch {
			case isSPHT(c):
			case c == ';':
				s.state = csExt
			case c == '\r':
				s.state = csSizeLF
			case c == '\n':
				s.sizeDone()
			default:
				return s.fail(i, "invalid character after the chunk size")
			}
		case csExt:
			switch c {
			case '\r':
				s.state = csSizeLF
			case '\n':
				s.sizeDone()
			}
		case csSizeLF:
			if c != '\n' {
				return s.fail(i, "CR not followed by LF")
			}
			s.sizeDone()
		case csData:
			k := int64(len(p) - i)
			if k > s.size {
				k = s.size
			}
			s.size -= k
			s.Data += k
			i += int(k)
			if s.size == 0 {
				s.state = csDataCR
			}
			continue
		case csDataCR:
			switch c {
			case '\r':
				s.state = csDataLF
			case '\n':
				s.nextChunk()
			default:
				return s.fail(i, "no CRLF after the chunk data")
			}
		case csDataLF:
			if c != '\n' {
				return s.fail(i, "CR not followed by LF")
			}
			s.nextChunk()
		case csTrFirst, csTrNext:
			switch {
			case c == '\r':
				s.state = csEndLF
			case c == '\n':
				s.state = csDone
			case s.state == csTrNext && isSPHT(c):
				s.state = csTrValue
			case class[c]&cToken != 0:
				s.state = csTrName
			default:
				return s.fail(i, "invalid trailer")
			}
		case csTrName:
			switch {
			case c == ':':
				s.state = csTrValue
			case class[c]&cToken == 0:
				return s.fail(i, "invalid character in a trailer name")
			}
		case csTrValue:
			switch c {
			case '\r':
				s.state = csTrLF
			case '\n':
				s.state = csTrNext
			case 0:
				return s.fail(i, "NUL in a trailer")
			}
		case csTrLF, csEndLF:
			if c != '\n' {
				return s.fail(i, "CR not followed by LF")
			}
			if s.state == csTrLF {
				s.state = csTrNext
			} else {
				s.state = csDone
			}
		case csDone:
			return i, true, nil
		default:
			return s.fail(i, "invalid chunked body")
		}
		i++
		if s.state == csDone {
			return i, true, nil
		}
		if s.state >= csTrFirst {
			if s.trailer++; s.trailer > maxTrailers {
				return s.fail(i-1, "trailers too large")
			}
		} else if s.state < csData {
			if s.line++; s.line > maxChunkLine {
				return s.fail(i-1, "chunk size line too long")
			}
		}
	}
	return i, s.state == csDone, nil
}

// sizeDone ends a chunk-size line: data follows, or the trailers after the
// last chunk.
func (s *ChunkScanner) sizeDone() {
	if s.size == 0 {
		s.state = csTrFirst
		return
	}
	s.state = csData
}

func (s *ChunkScanner) nextChunk() {
	s.state, s.digits, s.line = csSize, 0, 0
}

func (s *ChunkScanner) fail(i int, msg string) (int, bool, error) {
	s.state = csFailed
	return i, false, &Error{Status: 400, Pos: i, Msg: msg}
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
